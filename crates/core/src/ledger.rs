//! The evidence ledger: one append-only hash chain per school.
//!
//! `hash = SHA-256(prev_hash ‖ seq as 8 bytes big-endian ‖ payload)`, where `payload` is
//! the canonical JSON (keys sorted, no spaces) of `{at, event, school}` and the first
//! entry's `prev_hash` is 32 zero bytes. Stores keep `payload` as the exact text hashed.
//! [`verify_chain`] recomputes a chain and names the first entry that does not fit;
//! checkpoints sign a chain head with the school's Ed25519 key so that rewriting the whole
//! chain is caught too.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::consent::{Channel, ConsentState, Source, Subject};
use crate::ids::{
    DeclineId, DeviceId, DisclosureId, KioskId, PersonId, PolicyId, PupilId, RequestId,
    SafeguardingAlertId, SchoolId, SignatureId, VersionId, VisitId,
};
use crate::logs::{LoadedPart, LogClass, LogSettings};
use crate::person::{Audience, Role};
use crate::policy::ChangeKind;
use crate::requests::{Answers, RequestKind};
use crate::signing::{AcknowledgedReference, AuthMethod};
use crate::visits::SignOutBy;

mod witness;
pub use witness::{Witnessed, check_extends, check_witness};

/// The hash before the first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// An evidence event. Never updated: a correction is a new event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    SchoolCreated {
        name: String,
        public_key: String,
    },
    PersonRecorded {
        person: PersonId,
        full_name: String,
        email: String,
        roles: Vec<Role>,
        status: String,
        line_manager: Option<PersonId>,
        by: Option<PersonId>,
    },
    VersionPublished {
        policy: PolicyId,
        version: VersionId,
        title: String,
        number: i32,
        text_sha256: String,
        change_kind: ChangeKind,
        audiences: Vec<Audience>,
        references: Vec<AcknowledgedReference>,
        by: PersonId,
    },
    Viewed {
        person: PersonId,
        version: VersionId,
        text_sha256: String,
        ip: String,
        user_agent: String,
        auth: AuthMethod,
    },
    Signed {
        signature: SignatureId,
        person: PersonId,
        version: VersionId,
        typed_name: String,
        text_sha256: String,
        declaration: String,
        mark_kind: String,
        mark_sha256: String,
        references: Vec<AcknowledgedReference>,
        ip: String,
        user_agent: String,
        auth: AuthMethod,
        /// The `viewed` entry of the page load (older signatures; no longer written).
        viewed_seq: Option<i64>,
        /// When the text was served to the signer (RFC 3339), from the form's sealed token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        served_at: Option<String>,
    },
    Declined {
        decline: DeclineId,
        person: PersonId,
        version: VersionId,
        text_sha256: String,
        reason: String,
        ip: String,
        user_agent: String,
        auth: AuthMethod,
        /// When the text was served (RFC 3339), from the form's sealed token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        served_at: Option<String>,
    },
    /// A reception kiosk was registered (its device token is never recorded).
    KioskRegistered {
        kiosk: KioskId,
        name: String,
        by: PersonId,
    },
    /// A kiosk's token was revoked: it can sign nobody in from now on.
    KioskRevoked {
        kiosk: KioskId,
        by: PersonId,
    },
    /// A visitor signed in. Their personal data is only present as a salted hash, so the
    /// entry survives the purge of the data; `signature` is the visitor AUP signed now,
    /// or `None` when the earlier visit `covered_by` still covers them.
    VisitorSignedIn {
        visit: VisitId,
        host: PersonId,
        personal_sha256: String,
        signature: Option<VisitorSignatureEvidence>,
        covered_by: Option<VisitId>,
        ip: String,
        user_agent: String,
        auth: AuthMethod,
    },
    /// A visitor signed out, or was signed out at the end of the day (`flagged`).
    VisitorSignedOut {
        visit: VisitId,
        by: SignOutBy,
        flagged: bool,
    },
    /// An administrator sent a password reset link to the person's own address.
    PasswordResetSent {
        person: PersonId,
        by: PersonId,
    },
    /// The person's password was set: by themselves (`reset_sent_by` is `None`) or
    /// through a reset link someone else sent.
    PasswordChanged {
        person: PersonId,
        reset_sent_by: Option<PersonId>,
    },
    /// The personal data of these visits (and the salts of their hashes) was removed at
    /// the end of the school's retention period.
    VisitorDataPurged {
        visits: Vec<VisitId>,
        retention_days: i64,
    },
    /// A device was added to the school's register under `name` (reports show the name;
    /// attribution and the log's digests use the id).
    DeviceNamed {
        device: DeviceId,
        name: String,
        by: Option<PersonId>,
    },
    /// A device had an address from `from` (until `until`, for a DHCP lease; otherwise
    /// until a [`Event::DeviceAddressEnded`]). Attribution of the access log reads these.
    DeviceAddressed {
        span: i64,
        device: DeviceId,
        device_name: String,
        address: String,
        source: String,
        from: String,
        until: Option<String>,
        by: Option<PersonId>,
    },
    /// A device's open address span ended.
    DeviceAddressEnded {
        span: i64,
        until: String,
        by: Option<PersonId>,
    },
    /// A device was held by `person` (nobody when `None`) from `from`.
    DeviceHeld {
        span: i64,
        device: DeviceId,
        device_name: String,
        person: Option<PersonId>,
        from: String,
        by: Option<PersonId>,
    },
    /// A device's open holder span ended.
    DeviceHolderEnded {
        span: i64,
        until: String,
        by: Option<PersonId>,
    },
    /// Lines `from_line + 1 ..= to_line` of a log source were stored: per partition, how
    /// many requests and the digest of the blocks that hold them
    /// ([`crate::logs::PartDigest`]).
    LogsLoaded {
        source: String,
        from_line: u64,
        to_line: u64,
        parts: Vec<LoadedPart>,
    },
    /// Someone asked to see a person's Internet log.
    DisclosureRequested {
        disclosure: DisclosureId,
        subject: PersonId,
        requested_by: PersonId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        reason: String,
    },
    /// The requester withdrew the request before it was decided.
    DisclosureWithdrawn {
        disclosure: DisclosureId,
        by: PersonId,
    },
    /// The request was approved (read-only until `open_until`) or declined.
    DisclosureDecided {
        disclosure: DisclosureId,
        by: PersonId,
        approved: bool,
        note: String,
        open_until: Option<String>,
        notice_from: Option<chrono::NaiveDate>,
        notice_reason: Option<String>,
    },
    /// The requester read an approved disclosure (`what`: `page` or `csv`).
    DisclosureViewed {
        disclosure: DisclosureId,
        view: i64,
        by: PersonId,
        what: String,
    },
    /// An approved disclosure can no longer be read.
    DisclosureExpired {
        disclosure: DisclosureId,
    },
    /// A request in a safeguarding category raised an alert for the DSL.
    SafeguardingAlertRaised {
        alert: SafeguardingAlertId,
        category: String,
        request_at: String,
        url: String,
        client: String,
        person: Option<PersonId>,
        device: Option<DeviceId>,
    },
    /// The DSL recorded what was done and the outcome, and closed the alert.
    SafeguardingAlertClosed {
        alert: SafeguardingAlertId,
        by: PersonId,
        action: String,
        outcome: String,
    },
    /// The school's access-log settings were changed.
    LogSettingsChanged {
        settings: LogSettings,
        by: PersonId,
    },
    /// A log partition was dropped whole at the end of its class's retention.
    LogPartitionDropped {
        class: LogClass,
        period_start: chrono::NaiveDate,
        period_end: chrono::NaiveDate,
        rows: u64,
        retention_days: u32,
    },
    /// The headteacher named the role that decides one kind of request.
    RequestRouteSet {
        route: i64,
        request_kind: RequestKind,
        decider: Role,
        by: PersonId,
    },
    /// A member of staff asked for permission, advice or a ruling (`route`: the role it
    /// went to; `step`: the history row).
    RequestSubmitted {
        request: RequestId,
        step: i64,
        request_kind: RequestKind,
        by: PersonId,
        route: Role,
        answers: Answers,
    },
    /// The decider asked the requester for more information.
    RequestInfoAsked {
        request: RequestId,
        step: i64,
        by: PersonId,
        question: String,
    },
    /// The requester answered, with the request's answers as they now stand.
    RequestAnswered {
        request: RequestId,
        step: i64,
        by: PersonId,
        reply: String,
        answers: Answers,
    },
    /// The request was approved, advised, acknowledged or ruled on (`approved`), or
    /// declined; a ruling published with it is in `ruling`.
    RequestDecided {
        request: RequestId,
        step: i64,
        by: PersonId,
        approved: bool,
        note: String,
        conditions: Option<String>,
        expires: Option<chrono::NaiveDate>,
        ruling: Option<RulingEvidence>,
    },
    /// The requester withdrew the request before a decision.
    RequestWithdrawn {
        request: RequestId,
        step: i64,
        by: PersonId,
    },
    /// An approval passed its expiry.
    RequestExpired {
        request: RequestId,
        step: i64,
    },
    /// A pupil joined the register, changed, or left the roll; the ledger keeps only a
    /// salted fingerprint of their details ([`crate::pupils::details_sha256`]).
    PupilRecorded {
        pupil: PupilId,
        on_roll: bool,
        details_sha256: String,
    },
    /// Consent given or withdrawn for one person's image on one channel.
    ConsentRecorded {
        consent: i64,
        subject: Subject,
        channel: Channel,
        state: ConsentState,
        source: Source,
        by: Option<PersonId>,
        expires: Option<chrono::NaiveDate>,
        /// The parent's link it was given through (whose address is on the link's row).
        #[serde(default)]
        parent_link: Option<i64>,
    },
    /// The office sent a parent or carer a single-use consent link. The address is kept
    /// only as [`crate::consent::link_address_sha256`], so the entry binds the link to the
    /// address it went to without naming it.
    ParentLinkSent {
        link: i64,
        by: Option<PersonId>,
        address_sha256: String,
        expires_at: String,
    },
    /// A member of staff checked the register before images leave the school: each
    /// person named (`people`: the row, whom, the answer) and the verdict.
    PublicationChecked {
        check: i64,
        by: PersonId,
        channel: Channel,
        description: String,
        people: Vec<(i64, Subject, String)>,
        verdict: String,
    },
    /// The images of a check were published (on the headteacher's `permission` where
    /// consent was missing).
    PublicationPublished {
        check: i64,
        by: PersonId,
        permission: Option<RequestId>,
    },
    /// Consent withdrawn after publication: the publisher must take the images down.
    TakedownRaised {
        task: i64,
        check: i64,
        consent: i64,
        subject: Subject,
        publisher: PersonId,
    },
    /// The publisher took the images down.
    TakedownDone {
        task: i64,
        by: PersonId,
        note: String,
    },
}

/// A reasonable-use ruling as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulingEvidence {
    /// The `rulings` row.
    pub id: i64,
    pub number: i64,
    pub statement: u32,
    pub text: String,
}

/// The visitor AUP as signed at a visit, without anything personal (the typed name and
/// the signature's hash are inside the visit's salted personal hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorSignatureEvidence {
    pub version: VersionId,
    pub text_sha256: String,
    pub declaration: String,
    pub mark_kind: String,
    pub references: Vec<AcknowledgedReference>,
}

impl Event {
    /// The `kind` tag, also kept in its own column for queries.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SchoolCreated { .. } => "school_created",
            Event::PersonRecorded { .. } => "person_recorded",
            Event::VersionPublished { .. } => "version_published",
            Event::Viewed { .. } => "viewed",
            Event::Signed { .. } => "signed",
            Event::Declined { .. } => "declined",
            Event::KioskRegistered { .. } => "kiosk_registered",
            Event::KioskRevoked { .. } => "kiosk_revoked",
            Event::VisitorSignedIn { .. } => "visitor_signed_in",
            Event::VisitorSignedOut { .. } => "visitor_signed_out",
            Event::VisitorDataPurged { .. } => "visitor_data_purged",
            Event::PasswordResetSent { .. } => "password_reset_sent",
            Event::PasswordChanged { .. } => "password_changed",
            Event::DeviceNamed { .. } => "device_named",
            Event::DeviceAddressed { .. } => "device_addressed",
            Event::DeviceAddressEnded { .. } => "device_address_ended",
            Event::DeviceHeld { .. } => "device_held",
            Event::DeviceHolderEnded { .. } => "device_holder_ended",
            Event::LogsLoaded { .. } => "logs_loaded",
            Event::LogPartitionDropped { .. } => "log_partition_dropped",
            Event::LogSettingsChanged { .. } => "log_settings_changed",
            Event::SafeguardingAlertRaised { .. } => "safeguarding_alert_raised",
            Event::SafeguardingAlertClosed { .. } => "safeguarding_alert_closed",
            Event::RequestRouteSet { .. } => "request_route_set",
            Event::RequestSubmitted { .. } => "request_submitted",
            Event::RequestInfoAsked { .. } => "request_info_asked",
            Event::RequestAnswered { .. } => "request_answered",
            Event::RequestDecided { .. } => "request_decided",
            Event::RequestWithdrawn { .. } => "request_withdrawn",
            Event::RequestExpired { .. } => "request_expired",
            Event::PupilRecorded { .. } => "pupil_recorded",
            Event::ConsentRecorded { .. } => "consent_recorded",
            Event::ParentLinkSent { .. } => "parent_link_sent",
            Event::PublicationChecked { .. } => "publication_checked",
            Event::PublicationPublished { .. } => "publication_published",
            Event::TakedownRaised { .. } => "takedown_raised",
            Event::TakedownDone { .. } => "takedown_done",
            Event::DisclosureRequested { .. } => "disclosure_requested",
            Event::DisclosureWithdrawn { .. } => "disclosure_withdrawn",
            Event::DisclosureDecided { .. } => "disclosure_decided",
            Event::DisclosureViewed { .. } => "disclosure_viewed",
            Event::DisclosureExpired { .. } => "disclosure_expired",
        }
    }
}

/// One stored entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub school: SchoolId,
    pub seq: i64,
    pub kind: String,
    /// Canonical JSON exactly as hashed.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The last entry of a chain: what the next entry links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Serialize)]
struct Payload<'a> {
    at: String,
    event: &'a Event,
    school: SchoolId,
}

/// Why an entry could not be built (only if the event cannot be encoded, which would be a
/// programming error, or the previous hash in the store is not hex).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build ledger entry: {0}")]
pub struct EntryError(String);

/// The entry that follows `head` (or starts the chain) and records `event` at `at`.
pub fn next_entry(
    school: SchoolId,
    head: Option<&ChainHead>,
    event: &Event,
    at: DateTime<Utc>,
) -> Result<LedgerEntry, EntryError> {
    let payload = canonical_json(
        &serde_json::to_value(Payload {
            at: crate::time::rfc3339(at),
            event,
            school,
        })
        .map_err(|e| EntryError(e.to_string()))?,
    );
    let (seq, prev) = match head {
        Some(h) => (
            h.seq + 1,
            decode_hash(&h.hash)
                .ok_or_else(|| EntryError(format!("head hash {:?} is not hex", h.hash)))?,
        ),
        None => (1, GENESIS_HASH),
    };
    let hash = entry_hash(&prev, seq, payload.as_bytes());
    Ok(LedgerEntry {
        school,
        seq,
        kind: event.kind().to_string(),
        payload,
        prev_hash: hex::encode(prev),
        hash: hex::encode(hash),
    })
}

/// The time an entry's payload records (its `at`), if it has a readable one.
pub fn payload_time(payload: &Value) -> Option<DateTime<Utc>> {
    payload
        .get("at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `SHA-256(prev ‖ seq ‖ payload)`.
pub fn entry_hash(prev: &[u8; 32], seq: i64, payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(payload);
    h.finalize().into()
}

fn decode_hash(hex_str: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hex_str).ok()?;
    bytes.try_into().ok()
}

/// JSON with object keys sorted and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(
        "entry {expected} is missing (the next entry found is {found}): an entry was deleted or the order changed"
    )]
    Missing { expected: i64, found: i64 },
    #[error(
        "entry {seq} does not link to entry {prev}: its previous-hash is not that entry's hash (an entry was inserted, deleted or moved)"
    )]
    BrokenLink { seq: i64, prev: i64 },
    #[error("entry {seq} has been altered: its contents no longer give its hash")]
    Altered { seq: i64 },
    #[error("entry {seq} is malformed: {reason}")]
    Malformed { seq: i64, reason: String },
    #[error("checkpoint at entry {seq}: {reason}")]
    Checkpoint { seq: i64, reason: String },
}

impl ChainError {
    /// The sequence number of the entry named.
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::Missing { expected, .. } => *expected,
            ChainError::BrokenLink { seq, .. }
            | ChainError::Altered { seq }
            | ChainError::Malformed { seq, .. }
            | ChainError::Checkpoint { seq, .. } => *seq,
        }
    }
}

/// What a good chain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub entries: i64,
    pub head: Option<ChainHead>,
}

/// Recomputes a chain given in `seq` order and returns the first broken entry.
pub fn verify_chain<'a>(
    school: SchoolId,
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
) -> Result<ChainSummary, ChainError> {
    verify_chain_from(school, None, entries)
}

/// Like [`verify_chain`], for the entries that follow `start`, a head already trusted
/// (a verified checkpoint): they must link to it and on from each other. `None` is the
/// beginning of the chain.
pub fn verify_chain_from<'a>(
    school: SchoolId,
    start: Option<&ChainHead>,
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
) -> Result<ChainSummary, ChainError> {
    let (mut prev, mut expected) = match start {
        None => (GENESIS_HASH, 1i64),
        Some(head) => (
            decode_hash(&head.hash).ok_or(ChainError::Malformed {
                seq: head.seq,
                reason: "the trusted head's hash is not a SHA-256 in hex".into(),
            })?,
            head.seq + 1,
        ),
    };
    for e in entries {
        if e.seq != expected {
            if e.seq > expected {
                return Err(ChainError::Missing {
                    expected,
                    found: e.seq,
                });
            }
            return Err(ChainError::Malformed {
                seq: e.seq,
                reason: format!("it appears out of order, after entry {}", expected - 1),
            });
        }
        let stored_prev = decode_hash(&e.prev_hash).ok_or_else(|| ChainError::Malformed {
            seq: e.seq,
            reason: "its previous-hash is not a SHA-256 in hex".into(),
        })?;
        if stored_prev != prev {
            return Err(ChainError::BrokenLink {
                seq: e.seq,
                prev: e.seq - 1,
            });
        }
        if hex::encode(entry_hash(&prev, e.seq, e.payload.as_bytes())) != e.hash {
            return Err(ChainError::Altered { seq: e.seq });
        }
        // The hash covers the payload; the columns beside it must agree with it.
        let value: Value =
            serde_json::from_str(&e.payload).map_err(|err| ChainError::Malformed {
                seq: e.seq,
                reason: format!("its payload is not JSON: {err}"),
            })?;
        if value.get("school").and_then(Value::as_i64) != Some(school.0) || e.school != school {
            return Err(ChainError::Malformed {
                seq: e.seq,
                reason: "it belongs to another school's chain".into(),
            });
        }
        let kind = value.pointer("/event/kind").and_then(Value::as_str);
        if kind != Some(e.kind.as_str()) {
            return Err(ChainError::Altered { seq: e.seq });
        }
        prev = decode_hash(&e.hash).ok_or(ChainError::Altered { seq: e.seq })?;
        expected += 1;
    }
    let count = expected - 1;
    Ok(ChainSummary {
        entries: count,
        head: (count > 0).then(|| ChainHead {
            seq: count,
            hash: hex::encode(prev),
        }),
    })
}

/// A chain head signed with the school's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub school: SchoolId,
    pub seq: i64,
    pub hash: String,
    pub signed_at: DateTime<Utc>,
    /// Ed25519 signature (hex) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed.
    pub fn message(school: SchoolId, seq: i64, hash: &str, at: DateTime<Utc>) -> String {
        format!(
            "undersign-checkpoint\nschool:{school}\nseq:{seq}\nhash:{hash}\nat:{}\n",
            crate::time::rfc3339(at)
        )
    }

    /// Signs `head` now.
    pub fn sign(school: SchoolId, head: &ChainHead, at: DateTime<Utc>, key: &SigningKey) -> Self {
        let sig = key.sign(Self::message(school, head.seq, &head.hash, at).as_bytes());
        Self {
            school,
            seq: head.seq,
            hash: head.hash.clone(),
            signed_at: at,
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Whether the signature is the school key's over this checkpoint.
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        let Some(bytes) = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify(
            Self::message(self.school, self.seq, &self.hash, self.signed_at).as_bytes(),
            &sig,
        )
        .is_ok()
    }
}

/// Checks every checkpoint against the (already verified) chain and the school's key.
pub fn verify_checkpoints(
    entries: &[LedgerEntry],
    checkpoints: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<(), ChainError> {
    for cp in checkpoints {
        if !cp.verify_signature(key) {
            return Err(ChainError::Checkpoint {
                seq: cp.seq,
                reason: "its signature does not verify with the school's public key".into(),
            });
        }
        let entry = usize::try_from(cp.seq - 1)
            .ok()
            .and_then(|i| entries.get(i));
        match entry {
            None => {
                return Err(ChainError::Checkpoint {
                    seq: cp.seq,
                    reason: format!(
                        "the signed chain reached entry {} but only {} entries are left: entries were deleted",
                        cp.seq,
                        entries.len()
                    ),
                });
            }
            Some(e) if e.hash != cp.hash => {
                return Err(ChainError::Checkpoint {
                    seq: cp.seq,
                    reason: "the entry's hash differs from the signed one: the chain was rewritten"
                        .into(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Reads a school key file: 32 bytes of seed as 64 hex characters.
pub fn signing_key_from_hex(text: &str) -> Option<SigningKey> {
    let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
    Some(SigningKey::from_bytes(&bytes))
}

/// Reads a public key: 32 bytes as 64 hex characters.
pub fn verifying_key_from_hex(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, s).unwrap()
    }

    fn chain(n: usize) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = Vec::new();
        for i in 0..n {
            let head = out.last().map(|e| ChainHead {
                seq: e.seq,
                hash: e.hash.clone(),
            });
            let ev = Event::SchoolCreated {
                name: format!("School {i}"),
                public_key: "00".into(),
            };
            out.push(next_entry(SchoolId(3), head.as_ref(), &ev, at(i as u32)).unwrap());
        }
        out
    }

    #[test]
    fn payloads_are_canonical_json() {
        let e = &chain(1)[0];
        assert_eq!(
            e.payload,
            r#"{"at":"2026-11-23T09:00:00.000000Z","event":{"kind":"school_created","name":"School 0","public_key":"00"},"school":3}"#
        );
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(5);
        let summary = verify_chain(SchoolId(3), &c).unwrap();
        assert_eq!(summary.entries, 5);
        assert_eq!(summary.head.unwrap().hash, c[4].hash);
    }

    #[test]
    fn a_segment_verifies_from_a_trusted_head() {
        let c = chain(5);
        let head = ChainHead {
            seq: 2,
            hash: c[1].hash.clone(),
        };
        let summary = verify_chain_from(SchoolId(3), Some(&head), &c[2..]).unwrap();
        assert_eq!(summary.head.unwrap().hash, c[4].hash);
        // The segment must link to the head it starts from …
        let other = ChainHead {
            seq: 2,
            hash: c[0].hash.clone(),
        };
        assert_eq!(
            verify_chain_from(SchoolId(3), Some(&other), &c[2..]).unwrap_err(),
            ChainError::BrokenLink { seq: 3, prev: 2 }
        );
        // … and recompute from there.
        let mut edited = c.clone();
        edited[3].payload = edited[3].payload.replace("School 3", "School X");
        assert_eq!(
            verify_chain_from(SchoolId(3), Some(&head), &edited[2..]).unwrap_err(),
            ChainError::Altered { seq: 4 }
        );
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut c = chain(5);
        c[2].payload = c[2].payload.replace("School 2", "School X");
        assert_eq!(
            verify_chain(SchoolId(3), &c).unwrap_err(),
            ChainError::Altered { seq: 3 }
        );
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify_chain(SchoolId(3), &c).unwrap_err(),
            ChainError::Missing {
                expected: 2,
                found: 3
            }
        );
    }

    #[test]
    fn swapped_entries_are_named() {
        let mut c = chain(5);
        // Swap the contents of entries 2 and 3 but keep the sequence numbers in place.
        let (a, b) = (c[1].clone(), c[2].clone());
        c[1] = LedgerEntry { seq: 2, ..b };
        c[2] = LedgerEntry { seq: 3, ..a };
        assert_eq!(verify_chain(SchoolId(3), &c).unwrap_err().seq(), 2);
    }

    #[test]
    fn an_inserted_entry_is_named() {
        let mut c = chain(3);
        let mut forged = c[1].clone();
        forged.seq = 3;
        c.insert(2, forged);
        for (i, e) in c.iter_mut().enumerate().skip(3) {
            e.seq = i as i64 + 1;
        }
        assert_eq!(verify_chain(SchoolId(3), &c).unwrap_err().seq(), 3);
    }

    #[test]
    fn a_rewritten_chain_fails_its_signed_checkpoint() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let good = chain(3);
        let head = ChainHead {
            seq: 3,
            hash: good[2].hash.clone(),
        };
        let cp = Checkpoint::sign(SchoolId(3), &head, at(9), &key);
        assert!(verify_checkpoints(&good, std::slice::from_ref(&cp), &key.verifying_key()).is_ok());

        // Recompute a consistent chain with different contents: the chain alone verifies…
        let mut forged: Vec<LedgerEntry> = Vec::new();
        for i in 0..3 {
            let head = forged.last().map(|e| ChainHead {
                seq: e.seq,
                hash: e.hash.clone(),
            });
            let ev = Event::SchoolCreated {
                name: format!("Forged {i}"),
                public_key: "00".into(),
            };
            forged.push(next_entry(SchoolId(3), head.as_ref(), &ev, at(i)).unwrap());
        }
        assert!(verify_chain(SchoolId(3), &forged).is_ok());
        // … but not against the checkpoint.
        let err = verify_checkpoints(&forged, std::slice::from_ref(&cp), &key.verifying_key())
            .unwrap_err();
        assert!(err.to_string().contains("rewritten"), "{err}");
        // A truncated chain is caught too, and so is a checkpoint signed by another key.
        assert!(
            verify_checkpoints(&good[..2], std::slice::from_ref(&cp), &key.verifying_key())
                .is_err()
        );
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(verify_checkpoints(&good, &[cp], &other).is_err());
    }
}
