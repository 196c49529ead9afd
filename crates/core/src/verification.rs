//! Checking a receipt against this installation's records, for the public `/verify` page:
//! by its code (the entry is looked up and the receipt's facts rebuilt from the records)
//! or by the sealed PDF itself (the seal is checked with the school's recorded key). In
//! both cases the school's chain must recompute up to the receipt's entry — from the
//! nearest checkpoint before it whose signature verifies, so a check costs the entries
//! since that checkpoint, not the whole chain — and that entry must record the very
//! signature the receipt describes.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ledger::{ChainHead, LedgerEntry};
use crate::ledger::{Event, verifying_key_from_hex};
use crate::receipt::{ReceiptError, ReceiptFacts, check_against_segment, open, parse_code};
use crate::school::School;
use crate::store::{Store, StoreResult};

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The receipt is genuine and its entry intact. `from_file` says whether the facts
    /// come from a checked PDF (all of them shown) or were rebuilt from a code.
    Valid {
        facts: Box<ReceiptFacts>,
        from_file: bool,
    },
    /// Not valid, and why, worded for whoever is checking.
    Invalid { reason: String },
}

impl Verdict {
    fn invalid(reason: impl Into<String>) -> Self {
        Verdict::Invalid {
            reason: reason.into(),
        }
    }
}

impl From<ReceiptError> for Verdict {
    fn from(e: ReceiptError) -> Self {
        Verdict::invalid(e.to_string())
    }
}

/// Checks a receipt code as typed.
pub async fn by_code(store: &dyn Store, code: &str, now: DateTime<Utc>) -> StoreResult<Verdict> {
    let prefix = match parse_code(code) {
        Ok(p) => p,
        Err(e) => return Ok(Verdict::invalid(e.to_string())),
    };
    let found = store.entries_with_hash_prefix(&prefix).await?;
    let [entry] = found.as_slice() else {
        return Ok(Verdict::invalid(if found.is_empty() {
            "no signature recorded here has this code: check it against the receipt"
        } else {
            "this code names more than one entry here; check the receipt's PDF instead"
        }));
    };
    let event = serde_json::from_str::<Value>(&entry.payload)
        .ok()
        .and_then(|p| p.get("event").cloned())
        .and_then(|e| serde_json::from_value::<Event>(e).ok());
    let Some(Event::Signed { signature, .. }) = event else {
        // A payload that no longer reads as a signature may have been edited: say so if
        // the chain does not recompute; otherwise the code names some other event.
        let entries = store.ledger_entries(entry.school).await?;
        if let Err(e) = crate::ledger::verify_chain(entry.school, entries.iter()) {
            return Ok(Verdict::invalid(format!(
                "the school's evidence ledger is broken: {e}"
            )));
        }
        return Ok(Verdict::invalid(
            "this code belongs to an entry that does not record a signature",
        ));
    };
    let (Some(school), Some(sig)) = (
        store.school(entry.school).await?,
        store.signature(entry.school, signature).await?,
    ) else {
        return Ok(Verdict::invalid(
            "the signature this code names is no longer on record",
        ));
    };
    let Some(person) = store.person(entry.school, sig.person).await? else {
        return Ok(Verdict::invalid(
            "the person who signed is no longer on record",
        ));
    };
    let facts = match ReceiptFacts::new(
        &school,
        person.full_name.as_str(),
        person.email.as_str(),
        &sig,
        now,
    ) {
        Ok(f) => f,
        Err(e) => return Ok(Verdict::invalid(e.to_string())),
    };
    if !facts.chain.entry_hash.starts_with(&prefix) {
        return Ok(Verdict::invalid(
            "the signature on record points to a different entry from the one this code names",
        ));
    }
    let (start, entries) = segment_before(store, &school, facts.chain.seq).await?;
    Ok(
        match check_against_segment(&facts, start.as_ref(), &entries) {
            Ok(()) => Verdict::Valid {
                facts: Box::new(facts),
                from_file: false,
            },
            Err(e) => e.into(),
        },
    )
}

/// Checks an uploaded receipt PDF: its seal with the key the school has on record, then
/// its entry in the school's chain.
pub async fn by_file(store: &dyn Store, bytes: &[u8]) -> StoreResult<Verdict> {
    let sealed = match open(bytes) {
        Ok(s) => s,
        Err(e) => return Ok(e.into()),
    };
    let Some(school) = store.school(sealed.facts.school.id).await? else {
        return Ok(Verdict::invalid(
            "the receipt names a school that is not on this installation",
        ));
    };
    let Some(key) = verifying_key_from_hex(&school.public_key) else {
        return Ok(Verdict::invalid(
            "the school's public key on record is not readable, so no receipt can be checked",
        ));
    };
    if let Err(e) = sealed.verify(&key) {
        return Ok(e.into());
    }
    let (start, entries) = segment_before(store, &school, sealed.facts.chain.seq).await?;
    Ok(
        match check_against_segment(&sealed.facts, start.as_ref(), &entries) {
            Ok(()) => Verdict::Valid {
                facts: Box::new(sealed.facts),
                from_file: true,
            },
            Err(e) => e.into(),
        },
    )
}

/// The nearest checkpoint before entry `seq` whose signature verifies with the school's
/// key (as a trusted head), and the entries after it up to `seq`; without one, the chain
/// from its beginning.
async fn segment_before(
    store: &dyn Store,
    school: &School,
    seq: i64,
) -> StoreResult<(Option<ChainHead>, Vec<LedgerEntry>)> {
    let key = verifying_key_from_hex(&school.public_key);
    let start = store
        .checkpoints(school.id)
        .await?
        .into_iter()
        .filter(|c| c.seq < seq && key.is_some_and(|k| c.verify_signature(&k)))
        .max_by_key(|c| c.seq)
        .map(|c| ChainHead {
            seq: c.seq,
            hash: c.hash,
        });
    let from = start.as_ref().map_or(1, |h| h.seq + 1);
    let entries = store.ledger_entries_between(school.id, from, seq).await?;
    Ok((start, entries))
}
