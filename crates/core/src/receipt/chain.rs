//! A receipt against the school's ledger: its entry must be in a chain that recomputes,
//! and must record exactly the signature the receipt states.

use serde_json::Value;

use crate::ledger::{ChainError, Event, LedgerEntry};

use super::*;

/// Checks a (verified) receipt against the school's ledger, given in `seq` order: the
/// chain up to and including the receipt's entry must recompute, that entry must have the
/// receipt's hash, and it must record this signature (same signature id, person, version,
/// text hash, typed name, declaration, time, address, device and way of signing).
/// Entries after the receipt's are not looked at: a later break does not undo a signature.
pub fn check_against_chain(
    facts: &ReceiptFacts,
    entries: &[LedgerEntry],
) -> Result<(), ReceiptError> {
    check_against_segment(facts, None, entries)
}

/// [`check_against_chain`] from a trusted head before the receipt's entry (the nearest
/// checkpoint whose signature verifies) instead of from the genesis entry: `entries` are
/// those after `start`, in `seq` order.
pub fn check_against_segment(
    facts: &ReceiptFacts,
    start: Option<&crate::ledger::ChainHead>,
    entries: &[LedgerEntry],
) -> Result<(), ReceiptError> {
    let entry = entry_in_segment(facts.school.id, facts.chain.seq, start, entries)?;
    check_against_entry(facts, entry)
}

/// Entry `seq` of `school`, once the chain from `start` (or its beginning) up to it
/// recomputes: `entries` are those after `start`, in `seq` order.
pub fn entry_in_segment<'e>(
    school: crate::ids::SchoolId,
    seq: i64,
    start: Option<&crate::ledger::ChainHead>,
    entries: &'e [LedgerEntry],
) -> Result<&'e LedgerEntry, ReceiptError> {
    if let Some(other) = entries.iter().find(|e| e.school != school) {
        return Err(ReceiptError::OtherSchool {
            receipt_school: school,
            ledger_school: other.school,
        });
    }
    let upto: Vec<&LedgerEntry> = entries.iter().take_while(|e| e.seq <= seq).collect();
    match crate::ledger::verify_chain_from(school, start, upto.iter().copied()) {
        Ok(summary) if summary.entries < seq => {
            return Err(ReceiptError::EntryMissing {
                seq,
                detail: format!(": the ledger has only {} entries", summary.entries),
            });
        }
        Ok(_) => {}
        Err(ChainError::Altered { seq: s }) if s == seq => {
            return Err(ReceiptError::EntryAltered { seq });
        }
        Err(ChainError::Missing { expected, found }) if expected == seq => {
            return Err(ReceiptError::EntryMissing {
                seq,
                detail: format!(" (the next entry found is {found})"),
            });
        }
        Err(e) => return Err(ReceiptError::ChainBroken(e)),
    }
    upto.last()
        .copied()
        .filter(|e| e.seq == seq)
        .ok_or(ReceiptError::EntryMissing {
            seq,
            detail: String::new(),
        })
}

/// Whether `entry` is entry `seq` with hash `hash`, and its contents still give that hash.
pub(super) fn entry_intact(seq: i64, hash: &str, entry: &LedgerEntry) -> Result<(), ReceiptError> {
    if entry.seq != seq || entry.hash != hash {
        return Err(ReceiptError::EntryReplaced { seq });
    }
    let recomputed = hex::decode(&entry.prev_hash)
        .ok()
        .and_then(|p| <[u8; 32]>::try_from(p).ok())
        .map(|prev| {
            hex::encode(crate::ledger::entry_hash(
                &prev,
                seq,
                entry.payload.as_bytes(),
            ))
        });
    if recomputed.as_deref() != Some(entry.hash.as_str()) {
        return Err(ReceiptError::EntryAltered { seq });
    }
    Ok(())
}

/// Checks a receipt's facts against its own entry only: the entry must have the
/// receipt's hash, its contents must still give that hash, and it must record this
/// signature. What a receipt is sealed against before it is issued; the rest of the chain
/// is for `verify` and [`check_against_chain`].
pub fn check_against_entry(facts: &ReceiptFacts, entry: &LedgerEntry) -> Result<(), ReceiptError> {
    let seq = facts.chain.seq;
    entry_intact(seq, &facts.chain.entry_hash, entry)?;
    let payload: Value = serde_json::from_str(&entry.payload).map_err(|_| {
        ReceiptError::ChainBroken(ChainError::Malformed {
            seq,
            reason: "its payload is not JSON".into(),
        })
    })?;
    let event: Option<Event> = payload
        .get("event")
        .and_then(|e| serde_json::from_value(e.clone()).ok());
    let Some(Event::Signed {
        signature,
        person,
        version,
        typed_name,
        text_sha256,
        declaration,
        ip,
        user_agent,
        auth,
        ..
    }) = event
    else {
        return Err(ReceiptError::NotASignature {
            seq,
            kind: describe_kind(&entry.kind),
        });
    };
    let at = crate::ledger::payload_time(&payload);
    let checks = [
        ("signature id", signature == facts.signature),
        ("person", person == facts.signer.person),
        ("version", version == facts.version.id),
        ("text hash", text_sha256 == facts.text_sha256),
        ("typed name", typed_name == facts.typed_name),
        ("declaration", declaration == facts.declaration),
        ("time", at == Some(facts.signed_at)),
        ("IP address", ip == facts.place.ip),
        ("device", user_agent == facts.place.user_agent),
        ("way of signing", auth.label() == facts.place.how),
    ];
    let differing: Vec<&str> = checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect();
    if !differing.is_empty() {
        return Err(ReceiptError::DifferentSignature {
            seq,
            fields: differing.join(", "),
        });
    }
    Ok(())
}

fn describe_kind(kind: &str) -> String {
    match kind {
        "signed" => "a signature it cannot read".into(),
        "viewed" => "a viewing".into(),
        "declined" => "a decline".into(),
        other => format!("a {} event", other.replace('_', " ")),
    }
}
