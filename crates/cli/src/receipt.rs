//! `undersign verify-receipt FILE --public-key KEY`: checks a receipt PDF offline with the
//! school's public key and says what it proves. Exit codes: 0 valid, 1 not valid (the
//! reason on stderr), 2 the file or the key could not be used.

use anyhow::{Context, bail};
use clap::Args;
use ed25519_dalek::VerifyingKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use undersign_core::ledger::{signing_key_from_hex, verifying_key_from_hex};
use undersign_core::receipt::{
    ReceiptError, ReceiptFacts, VisitReceiptFacts, key_fingerprint, open, open_visit,
};

#[derive(Debug, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt PDF.
    pub file: PathBuf,
    /// The school's public key: 64 hex characters, or a file that holds them.
    #[arg(long)]
    pub public_key: String,
}

/// Runs the command, printing to stdout and stderr.
pub fn run(args: &VerifyReceiptArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let code = check(args, &mut stdout, &mut stderr);
    let _ = stdout.flush();
    code
}

fn check(args: &VerifyReceiptArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let inputs = read_key(&args.public_key).and_then(|key| {
        let bytes = std::fs::read(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        Ok((key, bytes))
    });
    let (key, bytes) = match inputs {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match open(&bytes) {
        // Not a signer's receipt: a visitor's, perhaps.
        Err(ReceiptError::NoSeal) => open_visit(&bytes).and_then(|sealed| {
            sealed.verify(&key)?;
            Ok(Proof::Visit(Box::new(sealed.facts)))
        }),
        opened => opened.and_then(|sealed| {
            sealed.verify(&key)?;
            Ok(Proof::Signature(Box::new(sealed.facts)))
        }),
    };
    match result {
        Ok(proof) => {
            let _ = match &proof {
                Proof::Signature(facts) => write_proof(out, facts),
                Proof::Visit(facts) => write_visit_proof(out, facts),
            };
            ExitCode::SUCCESS
        }
        Err(reason) => {
            let _ = writeln!(err, "invalid: {reason}");
            if let Some(hint) = private_key_hint(&args.public_key, &bytes, &reason) {
                let _ = writeln!(err, "{hint}");
            }
            ExitCode::from(1)
        }
    }
}

/// What a valid receipt states.
enum Proof {
    Signature(Box<ReceiptFacts>),
    Visit(Box<VisitReceiptFacts>),
}

/// What a valid visitor's receipt proves, for a person to read.
fn write_visit_proof(out: &mut dyn Write, f: &VisitReceiptFacts) -> std::io::Result<()> {
    let fingerprint = key_fingerprint(&f.school.public_key).unwrap_or_default();
    writeln!(
        out,
        "Visitor's receipt {} is valid: it was sealed with the key of {} (fingerprint {fingerprint}) and the file has not been changed since; its details with its salt give the fingerprint its ledger entry holds.",
        f.code, f.school.name
    )?;
    writeln!(out)?;
    let p = &f.personal;
    let mut rows = vec![
        (
            "Visitor",
            match &p.organisation {
                Some(org) => format!("{}, {org}", p.full_name),
                None => p.full_name.clone(),
            },
        ),
        ("Visiting", f.host.full_name.clone()),
        (
            "Signed in at",
            format!(
                "{} ({})",
                f.local_time,
                undersign_core::time::rfc3339(f.arrived_at)
            ),
        ),
        ("Signed in by", f.place.how.clone()),
    ];
    match &f.signed {
        Some(s) => rows.push((
            "Policy",
            format!(
                "{}, version {}, text SHA-256 {}",
                s.policy_title, s.version.number, s.text_sha256
            ),
        )),
        None => rows.push((
            "Policy",
            format!(
                "not signed at this visit; covered by visit {}",
                f.covered_by
                    .map_or_else(|| "?".to_string(), |v| v.to_string())
            ),
        )),
    }
    rows.push((
        "Ledger entry",
        format!("{} of {}'s evidence ledger", f.chain.seq, f.school.slug),
    ));
    rows.push(("Entry hash", f.chain.entry_hash.clone()));
    rows.push(("Issued", f.issued_local_time()));
    for (label, value) in rows {
        writeln!(out, "{label:<14}{value}")?;
    }
    writeln!(out)?;
    writeln!(out, "valid")
}

/// The key from the argument: 64 hex characters, or else a file holding them.
fn read_key(arg: &str) -> anyhow::Result<VerifyingKey> {
    let text = arg.trim();
    let is_hex = text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit());
    let (text, from) = if is_hex {
        (text.to_string(), "--public-key".to_string())
    } else {
        let path = Path::new(arg);
        if !path.is_file() {
            bail!(
                "--public-key {arg:?} is neither 64 hex characters nor a file (give the school's public key, as shown on the receipt and on the school's settings page)"
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the public key file {}", path.display()))?;
        (text, format!("the public key file {}", path.display()))
    };
    let trimmed = text.trim();
    if trimmed.len() != 64 || !trimmed.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("{from} does not hold 64 hex characters (an Ed25519 public key)");
    }
    verifying_key_from_hex(trimmed)
        .with_context(|| format!("{from} is not a valid Ed25519 public key"))
}

/// When the key given is the school's *private* key, says so: the check fails with it,
/// and the private key should not be passed around.
fn private_key_hint(arg: &str, bytes: &[u8], reason: &ReceiptError) -> Option<String> {
    if !matches!(
        reason,
        ReceiptError::WrongKey { .. } | ReceiptError::Altered
    ) {
        return None;
    }
    let text = std::fs::read_to_string(arg).unwrap_or_else(|_| arg.to_string());
    let public = signing_key_from_hex(&text)?.verifying_key();
    let facts = open(bytes).ok()?.facts;
    (hex::encode(public.to_bytes()) == facts.school.public_key).then(|| {
        format!(
            "note: the key given is the school's PRIVATE key; keep it secret. Check with its public key: {}",
            facts.school.public_key
        )
    })
}

/// What a valid receipt proves, for a person to read.
fn write_proof(out: &mut dyn Write, f: &ReceiptFacts) -> std::io::Result<()> {
    let fingerprint = key_fingerprint(&f.school.public_key).unwrap_or_default();
    writeln!(
        out,
        "Receipt {} is valid: it was sealed with the key of {} (fingerprint {fingerprint}) and the file has not been changed since.",
        f.code, f.school.name
    )?;
    writeln!(out)?;
    let rows = [
        (
            "Signed by",
            format!(
                "{} <{}> (person {}), who typed \u{201c}{}\u{201d}",
                f.signer.full_name, f.signer.email, f.signer.person, f.typed_name
            ),
        ),
        (
            "Policy",
            format!("{}, version {}", f.policy.title, f.version.number),
        ),
        ("Text SHA-256", f.text_sha256.clone()),
        ("Declaration", f.declaration.clone()),
        (
            "Signed at",
            format!(
                "{} ({})",
                f.local_time,
                undersign_core::time::rfc3339(f.signed_at)
            ),
        ),
        ("IP address", f.place.ip.clone()),
        ("Device", f.place.user_agent.clone()),
        ("Signed in by", f.place.how.clone()),
        (
            "Ledger entry",
            format!("{} of {}'s evidence ledger", f.chain.seq, f.school.slug),
        ),
        ("Entry hash", f.chain.entry_hash.clone()),
        ("Issued", f.issued_local_time()),
    ];
    for (label, value) in rows {
        writeln!(out, "{label:<14}{value}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "That the entry is still intact in the school's ledger is checked on the school's {} page, or with `undersign verify` on its server.",
        undersign_core::receipt::VERIFY_PATH
    )?;
    writeln!(out, "valid")
}
