//! The witness: every checkpoint is also appended, as one signed line, to a file beside
//! the school's key, outside the database. Whoever can rewrite the database (and its
//! checkpoints table) cannot rewrite that file without the key, so a chain shorter than
//! or different from a witnessed head, or a checkpoint removed from the database, is
//! caught by comparing the two.
//!
//! A line reads `undersign-witness-1 school=3 seq=6 hash=<hex> at=<RFC 3339> signature=<hex>`,
//! where the signature is the checkpoint's own (over [`Checkpoint::message`]).

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;

use super::{ChainError, Checkpoint, LedgerEntry};
use crate::ids::SchoolId;

const TAG: &str = "undersign-witness-1";

impl Checkpoint {
    /// The checkpoint as one witness-file line (without the newline).
    pub fn witness_line(&self) -> String {
        format!(
            "{TAG} school={} seq={} hash={} at={} signature={}",
            self.school,
            self.seq,
            self.hash,
            crate::time::rfc3339(self.signed_at),
            self.signature
        )
    }

    /// Reads a witness-file line back; the error says which part is wrong.
    pub fn parse_witness_line(line: &str) -> Result<Checkpoint, String> {
        let mut parts = line.split(' ');
        if parts.next() != Some(TAG) {
            return Err(format!("it does not begin with {TAG}"));
        }
        let mut field = |name: &str| -> Result<&str, String> {
            parts
                .next()
                .and_then(|p| p.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(|| format!("its {name}= field is missing or out of place"))
        };
        let school = field("school")?
            .parse()
            .map_err(|_| "its school is not a number".to_string())?;
        let seq = field("seq")?
            .parse()
            .map_err(|_| "its seq is not a number".to_string())?;
        let hash = field("hash")?.to_string();
        let signed_at = DateTime::parse_from_rfc3339(field("at")?)
            .map_err(|_| "its at= is not an RFC 3339 time".to_string())?
            .with_timezone(&Utc);
        let signature = field("signature")?.to_string();
        if parts.next().is_some() {
            return Err("it has more fields than a witness line".into());
        }
        Ok(Checkpoint {
            school: SchoolId(school),
            seq,
            hash,
            signed_at,
            signature,
        })
    }
}

/// A checkpoint read from the witness file, with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    pub line: usize,
    pub checkpoint: Checkpoint,
}

/// Checks the chain and the database's checkpoints against every witnessed checkpoint:
/// each line must be signed by the school's key, its entry must still be in the chain
/// with the witnessed hash, and the database must still hold the checkpoint. Returns
/// every problem, in the file's order.
pub fn check_witness(
    school: SchoolId,
    entries: &[LedgerEntry],
    checkpoints: &[Checkpoint],
    witnessed: &[Witnessed],
    key: &VerifyingKey,
) -> Vec<ChainError> {
    let mut problems = Vec::new();
    for w in witnessed {
        let cp = &w.checkpoint;
        if let Err(e) = check_line(school, w, key) {
            problems.push(e);
            continue;
        }
        if let Err(e) = check_entry(entries, w) {
            problems.push(e);
        }
        if !checkpoints
            .iter()
            .any(|c| c.seq == cp.seq && c.hash == cp.hash && c.signature == cp.signature)
        {
            problems.push(ChainError::Checkpoint {
                seq: cp.seq,
                reason: format!(
                    "the checkpoint signed {} (witness line {}) is missing from the database: checkpoints were deleted",
                    crate::time::rfc3339(cp.signed_at),
                    w.line
                ),
            });
        }
    }
    problems
}

/// Whether the chain extends the last witnessed head: what `checkpoint` requires before
/// it signs anything.
pub fn check_extends(
    school: SchoolId,
    entries: &[LedgerEntry],
    last: &Witnessed,
    key: &VerifyingKey,
) -> Result<(), ChainError> {
    check_line(school, last, key)?;
    check_entry(entries, last)
}

fn check_line(school: SchoolId, w: &Witnessed, key: &VerifyingKey) -> Result<(), ChainError> {
    let cp = &w.checkpoint;
    if cp.school != school {
        return Err(ChainError::Checkpoint {
            seq: cp.seq,
            reason: format!(
                "witness line {} belongs to school {}, not this school",
                w.line, cp.school
            ),
        });
    }
    if !cp.verify_signature(key) {
        return Err(ChainError::Checkpoint {
            seq: cp.seq,
            reason: format!(
                "witness line {} is not signed by the school's key: the witness file was edited",
                w.line
            ),
        });
    }
    Ok(())
}

fn check_entry(entries: &[LedgerEntry], w: &Witnessed) -> Result<(), ChainError> {
    let cp = &w.checkpoint;
    let signed = crate::time::rfc3339(cp.signed_at);
    let entry = usize::try_from(cp.seq - 1)
        .ok()
        .and_then(|i| entries.get(i));
    match entry {
        None => Err(ChainError::Checkpoint {
            seq: cp.seq,
            reason: format!(
                "the chain has {} entries but entry {} was witnessed on {signed} (witness line {}): entries were removed",
                entries.len(),
                cp.seq,
                w.line
            ),
        }),
        Some(e) if e.hash != cp.hash => Err(ChainError::Checkpoint {
            seq: cp.seq,
            reason: format!(
                "the entry differs from the one witnessed on {signed} (witness line {}): the chain was rewritten",
                w.line
            ),
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{ChainHead, Event, next_entry};
    use chrono::TimeZone;
    use ed25519_dalek::SigningKey;

    fn chain(names: &[&str]) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let head = out.last().map(|e| ChainHead {
                seq: e.seq,
                hash: e.hash.clone(),
            });
            let ev = Event::SchoolCreated {
                name: name.to_string(),
                public_key: "00".into(),
            };
            let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, i as u32).unwrap();
            out.push(next_entry(SchoolId(3), head.as_ref(), &ev, at).unwrap());
        }
        out
    }

    fn witness(entries: &[LedgerEntry], seq: usize, key: &SigningKey) -> Witnessed {
        let head = ChainHead {
            seq: seq as i64,
            hash: entries[seq - 1].hash.clone(),
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        Witnessed {
            line: 1,
            checkpoint: Checkpoint::sign(SchoolId(3), &head, at, key),
        }
    }

    #[test]
    fn a_line_reads_back_as_written() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let w = witness(&chain(&["a", "b"]), 2, &key);
        let line = w.checkpoint.witness_line();
        assert!(line.starts_with("undersign-witness-1 school=3 seq=2 hash="));
        assert_eq!(Checkpoint::parse_witness_line(&line).unwrap(), w.checkpoint);
        let err = Checkpoint::parse_witness_line(&line.replace(" seq=", " sq=")).unwrap_err();
        assert!(err.contains("seq="), "{err}");
        assert!(Checkpoint::parse_witness_line("").is_err());
    }

    #[test]
    fn the_chain_must_still_hold_every_witnessed_head() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let good = chain(&["a", "b", "c"]);
        let w = witness(&good, 2, &key);
        let cps = vec![w.checkpoint.clone()];
        let public = key.verifying_key();
        assert!(
            check_witness(SchoolId(3), &good, &cps, std::slice::from_ref(&w), &public).is_empty()
        );
        assert!(check_extends(SchoolId(3), &good, &w, &public).is_ok());

        // Rewritten consistently, checkpoints and all, without the key: still caught.
        let forged = chain(&["a", "B", "c"]);
        let err = check_extends(SchoolId(3), &forged, &w, &public).unwrap_err();
        assert!(err.to_string().contains("rewritten"), "{err}");
        // Truncated.
        let err = check_extends(SchoolId(3), &good[..1], &w, &public).unwrap_err();
        assert!(err.to_string().contains("removed"), "{err}");
        // The database's checkpoint deleted.
        let problems = check_witness(SchoolId(3), &forged, &[], std::slice::from_ref(&w), &public);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].to_string().contains("rewritten"),
            "{problems:?}"
        );
        assert!(
            problems[1]
                .to_string()
                .contains("missing from the database"),
            "{problems:?}"
        );
        // A line edited in the file (or signed by another key).
        let mut edited = w.clone();
        edited.checkpoint.seq = 3;
        edited.checkpoint.hash = good[2].hash.clone();
        let err = check_extends(SchoolId(3), &good, &edited, &public).unwrap_err();
        assert!(err.to_string().contains("edited"), "{err}");
    }
}
