//! `undersign verify`: for every school, recompute the evidence chain, check that it
//! begins with its genesis entry, check its checkpoints with the school's key file and
//! against the witness file beside it, and compare every evidence row with the entry that
//! recorded it. Everything wrong is named (row, entry, field); what could not be checked
//! (no key file, no witness) is said, and never reported as a plain "ok".

use anyhow::Context;
use ed25519_dalek::VerifyingKey;
use std::io::Write;
use std::path::Path;
use undersign_core::evidence::cross_check;
use undersign_core::ledger::{
    check_witness, verify_chain, verify_checkpoints, verifying_key_from_hex,
};
use undersign_core::logs::check_log_evidence;
use undersign_core::school::School;
use undersign_core::store::Store;

/// What `verify` found for one school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything checked, and nothing wrong.
    Ok {
        entries: i64,
        checkpoints: usize,
        /// Entries appended after the newest witnessed checkpoint.
        unwitnessed: i64,
    },
    /// Nothing wrong was found, but these things could not be checked.
    Unconfirmed {
        entries: i64,
        unchecked: Vec<String>,
    },
    /// Evidence was changed, removed or added: every finding, first one first.
    Broken { findings: Vec<String> },
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub schools: Vec<(String, Verdict)>,
}

impl Report {
    pub fn any_broken(&self) -> bool {
        self.schools
            .iter()
            .any(|(_, v)| matches!(v, Verdict::Broken { .. }))
    }

    pub fn all_ok(&self) -> bool {
        self.schools
            .iter()
            .all(|(_, v)| matches!(v, Verdict::Ok { .. }))
    }
}

/// How many findings are printed per school before "… and N more".
const SHOWN_FINDINGS: usize = 50;

/// Verifies every school, writing its verdict to `out` as it goes. An `Err` is an
/// operational failure (the database or a file could not be read), not a finding.
pub async fn verify_all(
    store: &dyn Store,
    keys_dir: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<Report> {
    let schools = store.schools().await.context("cannot list the schools")?;
    let mut report = Report {
        schools: Vec::new(),
    };
    if keys_dir.is_none() {
        writeln!(
            out,
            "note: no --keys-dir, so no school's key file or witness file can be checked"
        )?;
    }
    for school in schools {
        let verdict = verify_school(store, &school, keys_dir).await?;
        write_verdict(out, &school.slug, &verdict)?;
        report.schools.push((school.slug.clone(), verdict));
    }
    if report.schools.is_empty() {
        writeln!(out, "no schools in this database")?;
    }
    Ok(report)
}

fn write_verdict(out: &mut dyn Write, slug: &str, verdict: &Verdict) -> std::io::Result<()> {
    match verdict {
        Verdict::Ok {
            entries,
            checkpoints,
            unwitnessed,
        } => writeln!(
            out,
            "ok  {slug}: {entries} entries, {checkpoints} checkpoints, witnessed up to {} ({unwitnessed} newer than the last checkpoint)",
            if *unwitnessed == 0 {
                "the head".to_string()
            } else {
                format!("entry {}", entries - unwitnessed)
            }
        ),
        Verdict::Unconfirmed { entries, unchecked } => {
            writeln!(
                out,
                "UNCONFIRMED {slug}: the {entries} entries and the rows agree, but not everything could be checked:"
            )?;
            for reason in unchecked {
                writeln!(out, "    - {reason}")?;
            }
            Ok(())
        }
        Verdict::Broken { findings } => {
            let mut shown = findings.iter();
            if let Some(first) = shown.next() {
                writeln!(out, "BROKEN {slug}: {first}")?;
            }
            for f in shown.by_ref().take(SHOWN_FINDINGS - 1) {
                writeln!(out, "    also: {f}")?;
            }
            let rest = findings.len().saturating_sub(SHOWN_FINDINGS);
            if rest > 0 {
                writeln!(out, "    … and {rest} more")?;
            }
            Ok(())
        }
    }
}

/// Verifies one school.
pub async fn verify_school(
    store: &dyn Store,
    school: &School,
    keys_dir: Option<&Path>,
) -> anyhow::Result<Verdict> {
    let mut unchecked = Vec::new();
    let key = match school_key(school, keys_dir, &mut unchecked)? {
        Ok(key) => key,
        Err(reason) => {
            return Ok(Verdict::Broken {
                findings: vec![reason],
            });
        }
    };
    let snapshot = store
        .evidence_snapshot(school.id)
        .await
        .with_context(|| format!("cannot read the evidence of {}", school.slug))?;
    let entries = &snapshot.entries;
    let summary = match verify_chain(school.id, entries) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Verdict::Broken {
                findings: vec![format!("entry {}: {e}", e.seq())],
            });
        }
    };
    let mut findings = Vec::new();
    if entries.is_empty() {
        findings.push(
            "entry 1: the chain is empty: even the school's genesis entry is missing".to_string(),
        );
    }
    if let Err(e) = verify_checkpoints(entries, &snapshot.checkpoints, &key) {
        findings.push(format!("entry {}: {e}", e.seq()));
    }
    let mut witnessed_to = 0;
    if let Some(dir) = keys_dir.filter(|_| unchecked.is_empty()) {
        match crate::witness::read(dir, school.id)? {
            None => unchecked.push(format!(
                "no witness file {}: a chain rewritten together with its checkpoints would not be seen (run `undersign checkpoint` to start one)",
                crate::witness::path(dir, school.id).display()
            )),
            Some(file) => {
                for (line, problem) in &file.unreadable {
                    findings.push(format!(
                        "witness file {} line {line} cannot be read: {problem}",
                        crate::witness::path(dir, school.id).display()
                    ));
                }
                findings.extend(
                    check_witness(
                        school.id,
                        entries,
                        &snapshot.checkpoints,
                        &file.lines,
                        &key,
                    )
                    .iter()
                    .map(|e| format!("entry {}: {e}", e.seq())),
                );
                witnessed_to = file
                    .lines
                    .iter()
                    .map(|w| w.checkpoint.seq)
                    .max()
                    .unwrap_or(0);
                if file.lines.is_empty() {
                    unchecked.push("the witness file holds no checkpoint yet".into());
                }
            }
        }
    }
    findings.extend(
        cross_check(entries, &snapshot.rows)
            .iter()
            .chain(&check_log_evidence(entries, &snapshot.log_parts))
            .map(ToString::to_string),
    );
    if !findings.is_empty() {
        return Ok(Verdict::Broken { findings });
    }
    if !unchecked.is_empty() {
        return Ok(Verdict::Unconfirmed {
            entries: summary.entries,
            unchecked,
        });
    }
    Ok(Verdict::Ok {
        entries: summary.entries,
        checkpoints: snapshot.checkpoints.len(),
        unwitnessed: summary.entries - witnessed_to,
    })
}

/// The key to check checkpoints with. From the key file when there is one (it must match
/// the database); otherwise the database's own public key, noting in `unchecked` that it
/// could have been replaced. An inner `Err` is a finding, an outer one an operational
/// failure.
fn school_key(
    school: &School,
    keys_dir: Option<&Path>,
    unchecked: &mut Vec<String>,
) -> anyhow::Result<Result<VerifyingKey, String>> {
    let file_key = match keys_dir {
        Some(dir) => crate::keys::read(dir, school.id)?,
        None => None,
    };
    match file_key {
        Some(key) => {
            let public = key.verifying_key();
            if let Err(e) = crate::keys::check_matches(&public, &school.public_key) {
                return Ok(Err(format!(
                    "the school's key file does not match the database: {e}"
                )));
            }
            Ok(Ok(public))
        }
        None => {
            unchecked.push(match keys_dir {
                Some(dir) => format!(
                    "no key file {}: checkpoints were checked against the public key in the database, which the database's administrator could have replaced",
                    crate::keys::key_path(dir, school.id).display()
                ),
                None => "no key file (no --keys-dir): checkpoints were checked against the public key in the database, which the database's administrator could have replaced".into(),
            });
            unchecked.push("no witness file was read".into());
            match verifying_key_from_hex(&school.public_key) {
                Some(k) => Ok(Ok(k)),
                None => Ok(Err(
                    "the school's public key in the database is not a valid Ed25519 key".into(),
                )),
            }
        }
    }
}
