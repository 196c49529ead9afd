//! Checking a receipt against this installation's records, for the public `/verify` page:
//! by its code (the entry is looked up and the receipt's facts rebuilt from the records)
//! or by the sealed PDF itself (the seal is checked with the school's recorded key). In
//! both cases the school's chain must recompute up to the receipt's entry — from the
//! nearest checkpoint before it whose signature verifies, so a check costs the entries
//! since that checkpoint, not the whole chain — and that entry must record the very
//! signature the receipt describes.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ids::VisitId;
use crate::ledger::{ChainHead, LedgerEntry};
use crate::ledger::{Event, verifying_key_from_hex};
use crate::receipt::{
    ReceiptError, ReceiptFacts, VisitReceiptFacts, check_against_segment,
    check_visit_against_segment, entry_in_segment, open, open_visit, parse_code,
};
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
    /// A visitor's receipt PDF: genuine, and its entry intact and recording this visit.
    ValidVisit { facts: Box<VisitReceiptFacts> },
    /// A visitor's receipt code: the visit is on record and its entry intact. A code shows
    /// nothing personal (not even whom they visited); the PDF does.
    VisitOnRecord(VisitOnRecord),
    /// Not valid, and why, worded for whoever is checking.
    Invalid { reason: String },
}

/// What a visitor's receipt code shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitOnRecord {
    pub school: String,
    pub visit: VisitId,
    /// When they signed in, in the school's zone, zone named.
    pub local_time: String,
    /// "Visitor AUP version 2" if they signed it at this visit.
    pub signed: Option<String>,
    pub seq: i64,
    pub entry_hash: String,
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
    if let Some(Event::VisitorSignedIn {
        visit, signature, ..
    }) = &event
    {
        return visit_by_code(store, entry, *visit, signature.as_ref()).await;
    }
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
        Err(ReceiptError::NoSeal) => return visit_by_file(store, bytes).await,
        Err(e) => return Ok(e.into()),
    };
    let (school, key) = match school_and_key(store, sealed.facts.school.id).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
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

/// A visitor's receipt code: the visit's entry, checked as far as the chain goes.
async fn visit_by_code(
    store: &dyn Store,
    entry: &LedgerEntry,
    visit: VisitId,
    signature: Option<&crate::ledger::VisitorSignatureEvidence>,
) -> StoreResult<Verdict> {
    let Some(school) = store.school(entry.school).await? else {
        return Ok(Verdict::invalid(
            "the school this code names is not on record",
        ));
    };
    let (start, entries) = segment_before(store, &school, entry.seq).await?;
    if let Err(e) = entry_in_segment(school.id, entry.seq, start.as_ref(), &entries) {
        return Ok(e.into());
    }
    let at = serde_json::from_str::<Value>(&entry.payload)
        .ok()
        .and_then(|p| crate::ledger::payload_time(&p));
    let signed = match signature {
        None => None,
        Some(s) => Some(store.version(school.id, s.version).await?.map_or_else(
            || format!("version {} of the visitor policy", s.version),
            |v| format!("{} version {}", v.policy_title, v.number),
        )),
    };
    Ok(Verdict::VisitOnRecord(VisitOnRecord {
        school: school.name.clone(),
        visit,
        local_time: at.map_or_else(String::new, |t| {
            crate::receipt::local_time(t, school.timezone.tz())
        }),
        signed,
        seq: entry.seq,
        entry_hash: entry.hash.clone(),
    }))
}

/// A visitor's receipt PDF: its seal with the school's key on record, then its entry.
async fn visit_by_file(store: &dyn Store, bytes: &[u8]) -> StoreResult<Verdict> {
    let sealed = match open_visit(bytes) {
        Ok(s) => s,
        // Neither kind of seal: say so as for any file without one.
        Err(e) => return Ok(e.into()),
    };
    let (school, key) = match school_and_key(store, sealed.facts.school.id).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    if let Err(e) = sealed.verify(&key) {
        return Ok(e.into());
    }
    let (start, entries) = segment_before(store, &school, sealed.facts.chain.seq).await?;
    Ok(
        match check_visit_against_segment(&sealed.facts, start.as_ref(), &entries) {
            Ok(()) => Verdict::ValidVisit {
                facts: Box::new(sealed.facts),
            },
            Err(e) => e.into(),
        },
    )
}

/// The school a receipt names and its public key on record, or why a receipt of it
/// cannot be checked here.
async fn school_and_key(
    store: &dyn Store,
    id: crate::ids::SchoolId,
) -> StoreResult<Result<(School, ed25519_dalek::VerifyingKey), Verdict>> {
    let Some(school) = store.school(id).await? else {
        return Ok(Err(Verdict::invalid(
            "the receipt names a school that is not on this installation",
        )));
    };
    let Some(key) = verifying_key_from_hex(&school.public_key) else {
        return Ok(Err(Verdict::invalid(
            "the school's public key on record is not readable, so no receipt can be checked",
        )));
    };
    Ok(Ok((school, key)))
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
