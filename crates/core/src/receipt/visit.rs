//! A visitor's receipt. The ledger holds only a salted hash of a visitor's details
//! (`SHA-256(salt ‖ canonical JSON of the personal fields)`), so that the entry outlives
//! the purge of the details and cannot be matched to a name by guessing. The receipt
//! therefore carries, besides what the entry states in the clear (the visit, the host,
//! the time, the visitor AUP signed or the earlier visit that covered it, where from),
//! the visitor's own details exactly as hashed **and the salt**: with them anyone holding
//! the receipt can recompute the entry's hash, so the visitor can prove what they signed
//! in as even after the school has purged its copy. The salt goes only to the visitor's
//! own address, inside the sealed PDF; the public check by code shows nothing personal.
//!
//! The facts are built from the visit's ledger entry ([`VisitReceiptFacts::from_entry`]),
//! never from the visits table alone, and checked against it again before a receipt is
//! sealed or accepted ([`check_visit_against_entry`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{PersonId, VisitId};
use crate::ledger::{Event, LedgerEntry};
use crate::signing::AcknowledgedReference;
use crate::time::TimeZone;
use crate::visits::PersonalData;

use super::*;

/// The format tag of [`VisitReceiptFacts`]; also the first line of the signed message.
pub const VISIT_RECEIPT_FORMAT: &str = "undersign-visit-receipt/1";

/// What starts the seal line of a visitor's receipt.
pub const VISIT_SEAL_MARKER: &[u8] = b"%UNDERSIGN-VISIT-RECEIPT-1 ";

/// Everything a visitor's receipt states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitReceiptFacts {
    /// Always [`VISIT_RECEIPT_FORMAT`].
    pub format: String,
    /// `XXXX-XXXX-XXXX-XXXX`, derived from the visit's ledger entry hash.
    pub code: String,
    pub school: ReceiptSchool,
    pub visit: VisitId,
    pub host: VisitHost,
    /// When they signed in, in UTC (the time in the ledger entry).
    #[serde(with = "micros")]
    pub arrived_at: DateTime<Utc>,
    pub time_zone: TimeZone,
    /// `arrived_at` as people in the school read it, zone named.
    pub local_time: String,
    /// The visitor AUP signed at this visit; `None` when `covered_by` names the earlier
    /// visit whose signature still covered them.
    pub signed: Option<VisitSigned>,
    pub covered_by: Option<VisitId>,
    /// The visitor's details exactly as hashed into the entry.
    pub personal: PersonalData,
    /// The salt of that hash, hex: with it the details above give the entry's hash.
    pub salt: String,
    #[serde(rename = "where")]
    pub place: ReceiptPlace,
    pub chain: ReceiptChain,
    /// When this receipt was produced.
    #[serde(with = "micros")]
    pub issued_at: DateTime<Utc>,
}

/// Who the visitor came to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitHost {
    pub person: PersonId,
    pub full_name: String,
}

/// The visitor AUP as signed at the visit (the typed name and the signature's hash are
/// among the personal details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitSigned {
    pub policy_title: String,
    pub version: ReceiptVersion,
    pub text_sha256: String,
    pub declaration: String,
    pub mark_kind: String,
    pub references: Vec<AcknowledgedReference>,
}

/// The names the entry refers to by id, as the school has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitNames {
    pub host: String,
    /// The visitor policy's title and the version's number, if one was signed.
    pub policy: Option<(String, i32)>,
}

impl VisitReceiptFacts {
    /// The facts of the visit recorded by `entry`, with the visitor's `personal` details
    /// and the `salt` of their hash, which must give the entry's hash.
    pub fn from_entry(
        school: ReceiptSchool,
        time_zone: TimeZone,
        entry: &LedgerEntry,
        personal: PersonalData,
        salt: &[u8],
        names: &VisitNames,
        issued_at: DateTime<Utc>,
    ) -> Result<Self, ReceiptError> {
        let seq = entry.seq;
        let payload: Value =
            serde_json::from_str(&entry.payload).map_err(|_| ReceiptError::NotAVisit {
                seq,
                kind: "an unreadable payload".into(),
            })?;
        let event: Option<Event> = payload
            .get("event")
            .and_then(|e| serde_json::from_value(e.clone()).ok());
        let Some(Event::VisitorSignedIn {
            visit,
            host,
            personal_sha256,
            signature,
            covered_by,
            ip,
            user_agent,
            auth,
        }) = event
        else {
            return Err(ReceiptError::NotAVisit {
                seq,
                kind: entry.kind.replace('_', " "),
            });
        };
        if personal.salted_sha256(salt) != personal_sha256 {
            return Err(ReceiptError::DifferentVisit {
                seq,
                fields: "personal details".into(),
            });
        }
        let arrived_at =
            crate::ledger::payload_time(&payload).ok_or_else(|| ReceiptError::NotAVisit {
                seq,
                kind: "an entry without a time".into(),
            })?;
        let code = ReceiptCode::from_entry_hash(&entry.hash)
            .map_err(|_| ReceiptError::EntryAltered { seq })?;
        let signed = match (signature, &names.policy) {
            (None, _) => None,
            (Some(s), Some((title, number))) => Some(VisitSigned {
                policy_title: title.clone(),
                version: ReceiptVersion {
                    id: s.version,
                    number: *number,
                },
                text_sha256: s.text_sha256,
                declaration: s.declaration,
                mark_kind: s.mark_kind,
                references: s.references,
            }),
            (Some(_), None) => {
                return Err(ReceiptError::DifferentVisit {
                    seq,
                    fields: "visitor policy".into(),
                });
            }
        };
        Ok(Self {
            format: VISIT_RECEIPT_FORMAT.to_string(),
            code: code.to_string(),
            school,
            visit,
            host: VisitHost {
                person: host,
                full_name: names.host.clone(),
            },
            arrived_at,
            time_zone,
            local_time: local_time(arrived_at, time_zone.tz()),
            signed,
            covered_by,
            personal,
            salt: hex::encode(salt),
            place: ReceiptPlace {
                ip,
                user_agent,
                how: auth.label(),
            },
            chain: ReceiptChain {
                seq,
                entry_hash: entry.hash.clone(),
            },
            issued_at,
        })
    }

    /// The canonical JSON that is sealed.
    pub fn canonical_json(&self) -> Result<String, ReceiptError> {
        serde_json::to_value(self)
            .map(|v| crate::ledger::canonical_json(&v))
            .map_err(|e| ReceiptError::damaged(SealPart::Facts, e.to_string()))
    }

    /// `issued_at` as shown on the receipt, in the receipt's zone.
    pub fn issued_local_time(&self) -> String {
        local_time(self.issued_at, self.time_zone.tz())
    }
}

/// Checks a visitor's receipt against its own entry: the entry must have the receipt's
/// hash, its contents must still give that hash, and the facts rebuilt from it (with the
/// receipt's own details and salt, and its names) must be the receipt's.
pub fn check_visit_against_entry(
    facts: &VisitReceiptFacts,
    entry: &LedgerEntry,
) -> Result<(), ReceiptError> {
    chain::entry_intact(facts.chain.seq, &facts.chain.entry_hash, entry)?;
    let salt = hex::decode(&facts.salt).map_err(|_| {
        ReceiptError::damaged(
            SealPart::Facts,
            "the salt of the personal details is not hex",
        )
    })?;
    let names = VisitNames {
        host: facts.host.full_name.clone(),
        policy: facts
            .signed
            .as_ref()
            .map(|s| (s.policy_title.clone(), s.version.number)),
    };
    let rebuilt = VisitReceiptFacts::from_entry(
        facts.school.clone(),
        facts.time_zone,
        entry,
        facts.personal.clone(),
        &salt,
        &names,
        facts.issued_at,
    )?;
    let checks = [
        ("visit", rebuilt.visit == facts.visit),
        ("host", rebuilt.host == facts.host),
        ("time", rebuilt.arrived_at == facts.arrived_at),
        ("local time", rebuilt.local_time == facts.local_time),
        ("visitor policy", rebuilt.signed == facts.signed),
        ("earlier visit", rebuilt.covered_by == facts.covered_by),
        ("IP address", rebuilt.place.ip == facts.place.ip),
        ("device", rebuilt.place.user_agent == facts.place.user_agent),
        ("way of signing in", rebuilt.place.how == facts.place.how),
        ("code", rebuilt.code == facts.code),
    ];
    let differing: Vec<&str> = checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect();
    if !differing.is_empty() {
        return Err(ReceiptError::DifferentVisit {
            seq: facts.chain.seq,
            fields: differing.join(", "),
        });
    }
    Ok(())
}

/// [`check_visit_against_entry`] after the chain from a trusted head (or its start) up to
/// the receipt's entry recomputes, as for signers' receipts.
pub fn check_visit_against_segment(
    facts: &VisitReceiptFacts,
    start: Option<&crate::ledger::ChainHead>,
    entries: &[LedgerEntry],
) -> Result<(), ReceiptError> {
    let entry = chain::entry_in_segment(facts.school.id, facts.chain.seq, start, entries)?;
    check_visit_against_entry(facts, entry)
}
