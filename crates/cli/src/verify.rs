//! `undersign verify`: recompute every school's evidence chain, check its signed
//! checkpoints against the school's key, and name the first broken entry.

use anyhow::Context;
use ed25519_dalek::VerifyingKey;
use std::io::Write;
use std::path::Path;
use undersign_core::ledger::{
    LedgerEntry, verify_chain, verify_checkpoints, verifying_key_from_hex,
};
use undersign_core::school::School;
use undersign_core::store::Store;

/// What `verify` found for one school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok { entries: i64, checkpoints: usize },
    Broken { reason: String },
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub schools: Vec<(String, Verdict)>,
}

impl Report {
    pub fn all_ok(&self) -> bool {
        self.schools
            .iter()
            .all(|(_, v)| matches!(v, Verdict::Ok { .. }))
    }
}

/// Verifies every school, writing one line per school to `out` as it goes (and warnings
/// to the log). An `Err` is an operational failure (the database or a key file could not
/// be read), not a broken chain.
pub async fn verify_all(
    store: &dyn Store,
    keys_dir: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<Report> {
    let schools = store.schools().await.context("cannot list the schools")?;
    let mut report = Report {
        schools: Vec::new(),
    };
    for school in schools {
        let verdict = verify_school(store, &school, keys_dir).await?;
        match &verdict {
            Verdict::Ok {
                entries,
                checkpoints,
            } => writeln!(
                out,
                "ok  {}: {entries} entries, {checkpoints} checkpoints",
                school.slug
            )?,
            Verdict::Broken { reason } => writeln!(out, "BROKEN {}: {reason}", school.slug)?,
        }
        report.schools.push((school.slug.clone(), verdict));
    }
    if report.schools.is_empty() {
        writeln!(out, "no schools in this database")?;
    }
    Ok(report)
}

/// Verifies one school's chain and checkpoints.
pub async fn verify_school(
    store: &dyn Store,
    school: &School,
    keys_dir: Option<&Path>,
) -> anyhow::Result<Verdict> {
    let broken = |reason: String| Ok(Verdict::Broken { reason });
    let key = match school_key(school, keys_dir)? {
        Ok(key) => key,
        Err(reason) => return broken(reason),
    };
    let entries = store
        .ledger_entries(school.id)
        .await
        .with_context(|| format!("cannot read the ledger of {}", school.slug))?;
    let checkpoints = store
        .checkpoints(school.id)
        .await
        .with_context(|| format!("cannot read the checkpoints of {}", school.slug))?;
    let summary = match verify_chain(school.id, &entries) {
        Ok(s) => s,
        Err(e) => return broken(format!("entry {}: {e}", e.seq())),
    };
    if let Err(e) = verify_checkpoints(&entries, &checkpoints, &key) {
        return broken(format!("entry {}: {e}", e.seq()));
    }
    if let Some(reason) = first_entry_disagrees(&entries, school) {
        return broken(reason);
    }
    Ok(Verdict::Ok {
        entries: summary.entries,
        checkpoints: checkpoints.len(),
    })
}

/// The key to check checkpoints with: from the key file when there is one (and it must
/// match the database), else the database's public key with a warning. An inner `Err` is
/// a finding (the keys disagree), an outer one an operational failure.
fn school_key(
    school: &School,
    keys_dir: Option<&Path>,
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
            tracing::warn!(
                school = %school.slug,
                "no key file for this school; checking checkpoints against the public key in the database, which someone with write access to the database could have replaced"
            );
            match verifying_key_from_hex(&school.public_key) {
                Some(k) => Ok(Ok(k)),
                None => Ok(Err(
                    "the school's public key in the database is not a valid Ed25519 key".into(),
                )),
            }
        }
    }
}

/// The chain starts with `school_created` naming the school's public key; a database
/// whose key was swapped afterwards no longer agrees with it.
fn first_entry_disagrees(entries: &[LedgerEntry], school: &School) -> Option<String> {
    let first = entries.first()?;
    let value: serde_json::Value = serde_json::from_str(&first.payload).ok()?;
    if value.pointer("/event/kind")?.as_str()? != "school_created" {
        return None;
    }
    let recorded = value.pointer("/event/public_key")?.as_str()?;
    (recorded != school.public_key).then(|| {
        format!(
            "entry 1: the public key recorded when the school was created ({recorded}) differs from the one in the database ({})",
            school.public_key
        )
    })
}
