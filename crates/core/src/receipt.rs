//! Signed receipts: what a receipt states about one signature ([`ReceiptFacts`]), its short
//! code, and the seal that makes a receipt PDF checkable offline with the school's key.
//!
//! A sealed receipt is the PDF followed by one comment line,
//! `%UNDERSIGN-RECEIPT-1 <facts> <signature>\n`, where `<facts>` is the canonical JSON of
//! the facts and `<signature>` the school's Ed25519 signature of [`seal_message`], both in
//! unpadded URL-safe base64. PDF readers ignore the line; the signature covers the facts
//! and the SHA-256 of every byte before the line, so changing any byte of the file breaks
//! it. [`check_against_chain`] then ties a receipt to the school's evidence ledger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{PersonId, PolicyId, SchoolId, SignatureId, VersionId};
use crate::ledger::canonical_json;
use crate::school::School;
use crate::signing::Signature;
use crate::time::TimeZone;

mod chain;
mod code;
mod seal;
mod visit;

pub use chain::{
    check_against_chain, check_against_entry, check_against_segment, entry_in_segment,
};
pub use code::{CODE_BYTES, CodeError, ReceiptCode, parse_code};
pub use seal::{
    ReceiptError, SealPart, SealedReceipt, SealedVisitReceipt, open, open_visit, seal,
    seal_message, seal_visit, verify,
};
pub use visit::{
    VISIT_RECEIPT_FORMAT, VISIT_SEAL_MARKER, VisitHost, VisitNames, VisitReceiptFacts, VisitSigned,
    check_visit_against_entry, check_visit_against_segment,
};

/// The format tag of [`ReceiptFacts`]; also the first line of the signed message.
pub const RECEIPT_FORMAT: &str = "undersign-receipt/1";

/// What starts the seal line appended to a receipt PDF.
pub const SEAL_MARKER: &[u8] = b"%UNDERSIGN-RECEIPT-1 ";

/// The public page where anyone can check a receipt by its code or by uploading the PDF.
pub const VERIFY_PATH: &str = "/verify";

/// Everything a receipt states. Serialised as canonical JSON inside the seal; unknown
/// fields are refused so that nothing unsigned can ride along.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptFacts {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// `XXXX-XXXX-XXXX-XXXX`, derived from the ledger entry's hash (see [`ReceiptCode`]).
    pub code: String,
    pub school: ReceiptSchool,
    pub signer: ReceiptSigner,
    pub policy: ReceiptPolicy,
    pub version: ReceiptVersion,
    /// The signature's id, as recorded in the ledger entry.
    pub signature: SignatureId,
    /// SHA-256 (hex) of the policy text exactly as shown to the signer.
    pub text_sha256: String,
    /// The full name the signer typed.
    pub typed_name: String,
    /// The declaration they ticked.
    pub declaration: String,
    /// When they signed, in UTC (the time in the ledger entry).
    #[serde(with = "micros")]
    pub signed_at: DateTime<Utc>,
    /// The school's zone, e.g. `Europe/London` (an IANA name in the sealed facts).
    pub time_zone: TimeZone,
    /// `signed_at` as people in the school read it, zone named: "Tuesday 24 November 2026,
    /// 09:15 GMT".
    pub local_time: String,
    #[serde(rename = "where")]
    pub place: ReceiptPlace,
    pub chain: ReceiptChain,
    /// When this receipt was produced.
    #[serde(with = "micros")]
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSchool {
    pub id: SchoolId,
    pub name: String,
    pub slug: String,
    /// The school's Ed25519 public key (hex) that sealed the receipt.
    pub public_key: String,
}

impl ReceiptSchool {
    /// The school as a receipt names it.
    pub fn of(school: &School) -> Self {
        Self {
            id: school.id,
            name: school.name.clone(),
            slug: school.slug.clone(),
            public_key: school.public_key.trim().to_ascii_lowercase(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSigner {
    pub person: PersonId,
    pub full_name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptPolicy {
    pub id: PolicyId,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptVersion {
    pub id: VersionId,
    pub number: i32,
}

/// Where the signature was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptPlace {
    pub ip: String,
    pub user_agent: String,
    /// How the signer proved who they were: [`crate::signing::AuthMethod::label`]
    /// ("password", "email link", "kiosk …", "assisted by person …: …").
    pub how: String,
}

/// The ledger entry that records the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptChain {
    pub seq: i64,
    pub entry_hash: String,
}

impl ReceiptFacts {
    /// The facts of `signature`, signed by the person named, issued at `issued_at`. Times
    /// are shown in the school's zone, which the receipt names.
    pub fn new(
        school: &School,
        signer_full_name: &str,
        signer_email: &str,
        signature: &Signature,
        issued_at: DateTime<Utc>,
    ) -> Result<Self, CodeError> {
        let code = ReceiptCode::from_entry_hash(&signature.ledger_hash)?;
        let time_zone = school.timezone;
        Ok(Self {
            format: RECEIPT_FORMAT.to_string(),
            code: code.to_string(),
            school: ReceiptSchool::of(school),
            signer: ReceiptSigner {
                person: signature.person,
                full_name: signer_full_name.to_string(),
                email: signer_email.to_string(),
            },
            policy: ReceiptPolicy {
                id: signature.policy,
                title: signature.policy_title.clone(),
            },
            version: ReceiptVersion {
                id: signature.version,
                number: signature.version_number,
            },
            signature: signature.id,
            text_sha256: signature.text_sha256.clone(),
            typed_name: signature.typed_name.clone(),
            declaration: signature.declaration.clone(),
            signed_at: signature.signed_at,
            time_zone,
            local_time: local_time(signature.signed_at, time_zone.tz()),
            place: ReceiptPlace {
                ip: signature.context.ip.clone(),
                user_agent: signature.context.user_agent.clone(),
                how: signature.context.auth.label(),
            },
            chain: ReceiptChain {
                seq: signature.ledger_seq,
                entry_hash: signature.ledger_hash.clone(),
            },
            issued_at,
        })
    }

    /// The canonical JSON that is sealed.
    pub fn canonical_json(&self) -> Result<String, ReceiptError> {
        serde_json::to_value(self)
            .map(|v| canonical_json(&v))
            .map_err(|e| ReceiptError::damaged(SealPart::Facts, e.to_string()))
    }

    /// `issued_at` as shown on the receipt, in the receipt's zone.
    pub fn issued_local_time(&self) -> String {
        local_time(self.issued_at, self.time_zone.tz())
    }
}

/// "Tuesday 24 November 2026, 09:15 GMT": the weekday, the date, the time and the zone's
/// abbreviation, so nobody has to guess whether a time is summer time.
pub fn local_time(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    at.with_timezone(&zone)
        .format("%A %-d %B %Y, %H:%M %Z")
        .to_string()
}

/// Short fingerprint of a public key (hex): the first 16 bytes of its SHA-256 in groups of
/// four hex digits, for reading out over the phone. `None` if it is not 32 bytes of hex.
pub fn key_fingerprint(public_key_hex: &str) -> Option<String> {
    let bytes: [u8; 32] = hex::decode(public_key_hex.trim()).ok()?.try_into().ok()?;
    let digest = Sha256::digest(bytes);
    let hex = hex::encode(&digest[..16]);
    Some(
        hex.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

mod micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time::rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time: {e}")))
    }
}

#[cfg(test)]
mod tests;
