//! The evidence pack for one person: their record, each version they signed with its full
//! text as they saw it and its receipt, and the ledger events that concern them. Made for
//! a disciplinary hearing or a subject access request.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use undersign_core::PersonId;
use undersign_core::VersionId;
use undersign_core::ledger::{Event, LedgerEntry};
use undersign_core::person::Person;
use undersign_core::policy::sha256_hex;
use undersign_core::receipt::{ReceiptFacts, local_time};
use undersign_core::school::School;

use crate::blocks::{Block, policy_blocks};
use crate::{Meta, PdfError, world};

const TEMPLATE: &str = concat!(
    include_str!("../templates/common.typ"),
    include_str!("../templates/evidence_pack.typ")
);

/// Everything an evidence pack shows.
#[derive(Debug, Clone, Serialize)]
pub struct EvidencePack {
    pub school: School,
    pub person: Person,
    /// When the pack was produced (its only date that is not evidence).
    pub produced_at: DateTime<Utc>,
    /// Each version they signed, oldest first.
    pub signed: Vec<SignedVersion>,
    /// The ledger events concerning them, in ledger order (see [`PersonEvent::concerning`]).
    pub events: Vec<PersonEvent>,
}

/// A version the person signed.
#[derive(Debug, Clone, Serialize)]
pub struct SignedVersion {
    /// When the version was published.
    pub published_at: Option<DateTime<Utc>>,
    /// The policy text exactly as shown to them; its SHA-256 must be the receipt's
    /// `text_sha256`, or the pack is refused.
    pub body_md: String,
    /// The receipt of their signature (policy, version, code, entry hash …).
    pub receipt: ReceiptFacts,
}

/// One ledger event in the pack's event table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonEvent {
    pub at: DateTime<Utc>,
    /// The event's kind, e.g. `signed`.
    pub kind: String,
    /// What happened, in a sentence.
    pub summary: String,
    pub seq: i64,
    pub hash: String,
}

impl PersonEvent {
    /// The entries of a school's ledger that are about `person`: their record being
    /// created or changed, and each version they viewed, signed or declined. `version_name`
    /// names a version ("Acceptable Use Policy version 3"); versions it does not know are
    /// named by id.
    pub fn concerning(
        entries: &[LedgerEntry],
        person: PersonId,
        version_name: impl Fn(VersionId) -> Option<String>,
    ) -> Vec<PersonEvent> {
        let name = |v: VersionId| version_name(v).unwrap_or_else(|| format!("version id {v}"));
        entries
            .iter()
            .filter_map(|entry| {
                let payload: Value = serde_json::from_str(&entry.payload).ok()?;
                let event: Event = serde_json::from_value(payload.get("event")?.clone()).ok()?;
                let at = payload
                    .get("at")
                    .and_then(Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())?
                    .with_timezone(&Utc);
                let summary = match event {
                    Event::PersonRecorded {
                        person: p,
                        full_name,
                        email,
                        roles,
                        status,
                        ..
                    } if p == person => {
                        let roles: Vec<&str> = roles.iter().map(|r| r.label()).collect();
                        format!(
                            "Record: {full_name} <{email}>, {}; {status}",
                            roles.join(", ")
                        )
                    }
                    Event::Viewed {
                        person: p,
                        version,
                        ip,
                        auth,
                        ..
                    } if p == person => {
                        format!("Opened {} from {ip} ({})", name(version), auth.label())
                    }
                    Event::Signed {
                        person: p,
                        version,
                        typed_name,
                        mark_kind,
                        ip,
                        auth,
                        ..
                    } if p == person => format!(
                        "Signed {} as \u{201c}{typed_name}\u{201d} ({mark_kind} signature) from {ip} ({})",
                        name(version),
                        auth.label()
                    ),
                    Event::Declined {
                        person: p,
                        version,
                        reason,
                        ip,
                        ..
                    } if p == person => format!(
                        "Declined {} from {ip}: \u{201c}{reason}\u{201d}",
                        name(version)
                    ),
                    _ => return None,
                };
                Some(PersonEvent {
                    at,
                    kind: entry.kind.clone(),
                    summary,
                    seq: entry.seq,
                    hash: entry.hash.clone(),
                })
            })
            .collect()
    }
}

#[derive(Serialize)]
struct PackData<'a> {
    meta: Meta,
    school: &'a School,
    time_zone: String,
    produced: String,
    person: PersonView,
    versions: Vec<VersionView<'a>>,
    events: Vec<EventView<'a>>,
}

#[derive(Serialize)]
struct PersonView {
    id: String,
    full_name: String,
    email: String,
    roles: String,
    status: String,
}

#[derive(Serialize)]
struct VersionView<'a> {
    receipt: &'a ReceiptFacts,
    published: String,
    blocks: Vec<Block>,
}

#[derive(Serialize)]
struct EventView<'a> {
    at: String,
    kind: &'a str,
    summary: &'a str,
    seq: i64,
    hash: &'a str,
}

/// The evidence pack as a PDF. Fails if a version's text does not hash to what was signed.
pub fn evidence_pack(pack: &EvidencePack) -> Result<Vec<u8>, PdfError> {
    let zone: Tz = pack.school.timezone.tz();
    let mut versions = Vec::with_capacity(pack.signed.len());
    for v in &pack.signed {
        let actual = sha256_hex(v.body_md.as_bytes());
        if actual != v.receipt.text_sha256 {
            return Err(PdfError::TextMismatch {
                title: v.receipt.policy.title.clone(),
                number: v.receipt.version.number,
                expected: v.receipt.text_sha256.clone(),
                actual,
            });
        }
        versions.push(VersionView {
            receipt: &v.receipt,
            published: v
                .published_at
                .map_or_else(|| "not recorded".into(), |at| local_time(at, zone)),
            blocks: policy_blocks(&v.body_md),
        });
    }
    let person = &pack.person;
    let data = PackData {
        meta: Meta {
            title: format!("Evidence pack: {}", person.full_name.as_str()),
            author: pack.school.name.clone(),
        },
        school: &pack.school,
        time_zone: zone.name().to_string(),
        produced: local_time(pack.produced_at, zone),
        person: PersonView {
            id: person.id.to_string(),
            full_name: person.full_name.as_str().to_string(),
            email: person.email.as_str().to_string(),
            roles: person
                .roles
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join(", "),
            status: person.status.as_str().to_string(),
        },
        versions,
        events: pack
            .events
            .iter()
            .map(|e| EventView {
                at: e
                    .at
                    .with_timezone(&zone)
                    .format("%-d %b %Y %H:%M:%S %Z")
                    .to_string(),
                kind: &e.kind,
                summary: &e.summary,
                seq: e.seq,
                hash: e.hash.get(..16).unwrap_or(&e.hash),
            })
            .collect(),
    };
    world::render("evidence_pack", TEMPLATE, &data, pack.produced_at, &[])
}
