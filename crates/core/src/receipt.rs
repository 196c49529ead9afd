//! Signed receipts: what a receipt states about one signature ([`ReceiptFacts`]), its short
//! code, and the seal that makes a receipt PDF checkable offline with the school's key.
//!
//! A sealed receipt is the PDF followed by one comment line,
//! `%UNDERSIGN-RECEIPT-1 <facts> <signature>\n`, where `<facts>` is the canonical JSON of
//! the facts and `<signature>` the school's Ed25519 signature of [`seal_message`], both in
//! unpadded URL-safe base64. PDF readers ignore the line; the signature covers the facts
//! and the SHA-256 of every byte before the line, so changing any byte of the file breaks
//! it. [`check_against_chain`] then ties a receipt to the school's evidence ledger.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ids::{PersonId, PolicyId, SchoolId, SignatureId, VersionId};
use crate::ledger::{ChainError, Event, LedgerEntry, canonical_json, verify_chain};
use crate::school::School;
use crate::signing::Signature;
use crate::time::TimeZone;

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
            school: ReceiptSchool {
                id: school.id,
                name: school.name.clone(),
                slug: school.slug.clone(),
                public_key: school.public_key.trim().to_ascii_lowercase(),
            },
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

// ---------------------------------------------------------------------------------------
// Receipt codes

/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand
/// survives.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How many bytes of the entry hash a code carries: 80 bits, 16 characters.
pub const CODE_BYTES: usize = 10;

/// A receipt code: the first 10 bytes of the ledger entry's hash in Crockford base32,
/// shown as `XXXX-XXXX-XXXX-XXXX`. 80 bits cannot be guessed, and the code leads straight
/// to the entry (see [`ReceiptCode::hash_prefix`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptCode([u8; CODE_BYTES]);

/// Why a receipt code (or the hash it comes from) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(String);

impl ReceiptCode {
    /// The code of the ledger entry whose hash (hex) is `entry_hash`.
    pub fn from_entry_hash(entry_hash: &str) -> Result<Self, CodeError> {
        let bytes = hex::decode(entry_hash.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                CodeError(format!(
                    "the entry hash {entry_hash:?} is not a SHA-256 in hex"
                ))
            })?;
        let mut out = [0u8; CODE_BYTES];
        out.copy_from_slice(&bytes[..CODE_BYTES]);
        Ok(Self(out))
    }

    /// Reads a code as people type it: any case, with or without dashes or spaces, and
    /// with Crockford's look-alikes (O for 0, I or L for 1).
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let mut values = Vec::with_capacity(16);
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let upper = c.to_ascii_uppercase();
            let normal = match upper {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            let value = CROCKFORD
                .iter()
                .position(|&a| char::from(a) == normal)
                .ok_or_else(|| {
                    CodeError(format!(
                        "{c:?} is not used in receipt codes (they use the digits 0–9 and the letters A–Z except I, L, O and U)"
                    ))
                })?;
            values.push(value as u8);
        }
        if values.is_empty() {
            return Err(CodeError("enter the receipt code".into()));
        }
        if values.len() != 16 {
            return Err(CodeError(format!(
                "a receipt code has 16 characters (XXXX-XXXX-XXXX-XXXX); this one has {}",
                values.len()
            )));
        }
        let mut bits: u128 = 0;
        for v in values {
            bits = (bits << 5) | u128::from(v);
        }
        let bytes = bits.to_be_bytes();
        let mut out = [0u8; CODE_BYTES];
        out.copy_from_slice(&bytes[16 - CODE_BYTES..]);
        Ok(Self(out))
    }

    /// The first 20 hex characters of the entry hash: what to look the entry up by
    /// (`substr(hash, 1, 20)`).
    pub fn hash_prefix(&self) -> String {
        hex::encode(self.0)
    }

    /// Whether `entry_hash` (hex) is the hash this code was made from.
    pub fn matches(&self, entry_hash: &str) -> bool {
        entry_hash
            .trim()
            .to_ascii_lowercase()
            .starts_with(&self.hash_prefix())
    }
}

impl std::fmt::Display for ReceiptCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bits = 0u128;
        for b in self.0 {
            bits = (bits << 8) | u128::from(b);
        }
        for i in 0..16 {
            if i > 0 && i % 4 == 0 {
                f.write_str("-")?;
            }
            let v = (bits >> (5 * (15 - i))) & 0x1f;
            let c = CROCKFORD.get(v as usize).copied().unwrap_or(b'0');
            write!(f, "{}", char::from(c))?;
        }
        Ok(())
    }
}

/// Reads a code as typed and returns the 20-hex-character prefix of the entry hash it
/// names, or what is wrong with it.
pub fn parse_code(text: &str) -> Result<String, CodeError> {
    ReceiptCode::parse(text).map(|c| c.hash_prefix())
}

// ---------------------------------------------------------------------------------------
// The seal

/// The part of a seal that is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealPart {
    /// The seal line as a whole (its layout).
    Line,
    /// The receipt's facts.
    Facts,
    /// The signature.
    Signature,
}

impl std::fmt::Display for SealPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SealPart::Line => "the seal line",
            SealPart::Facts => "the receipt's facts",
            SealPart::Signature => "the signature",
        })
    }
}

/// Why a receipt is not valid, worded for a school administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error(
        "this file is not an Undersign receipt: it carries no Undersign seal (was it saved or printed again from another program?)"
    )]
    NoSeal,
    #[error("the receipt's seal is damaged ({part}): {detail}")]
    SealDamaged { part: SealPart, detail: String },
    #[error("the file was changed after it was issued: its seal no longer matches its contents")]
    Altered,
    #[error(
        "the receipt was sealed with a different key ({sealed_by}) than the school's key ({expected}): it was not issued by this school, or the key was replaced"
    )]
    WrongKey { sealed_by: String, expected: String },
    #[error("the file is not a PDF, so it cannot be sealed")]
    NotPdf,
    #[error("the file already carries an Undersign seal")]
    AlreadySealed,
    #[error("entry {seq} is missing from the school's evidence ledger{detail}")]
    EntryMissing { seq: i64, detail: String },
    #[error("ledger entry {seq} has been altered: its hash no longer matches its contents")]
    EntryAltered { seq: i64 },
    #[error(
        "ledger entry {seq} has a different hash from the one on the receipt: the ledger was rewritten after the receipt was issued"
    )]
    EntryReplaced { seq: i64 },
    #[error("the school's evidence ledger is broken before the receipt's entry: {0}")]
    ChainBroken(ChainError),
    #[error("the receipt names entry {seq} but that entry records {kind}, not a signature")]
    NotASignature { seq: i64, kind: String },
    #[error(
        "the receipt names entry {seq} but that entry records a different signature (it differs in: {fields})"
    )]
    DifferentSignature { seq: i64, fields: String },
    #[error(
        "the receipt belongs to another school ({receipt_school}), not to school {ledger_school}"
    )]
    OtherSchool {
        receipt_school: SchoolId,
        ledger_school: SchoolId,
    },
}

impl ReceiptError {
    fn damaged(part: SealPart, detail: impl Into<String>) -> Self {
        ReceiptError::SealDamaged {
            part,
            detail: detail.into(),
        }
    }
}

/// The exact bytes the school signs: the format tag, the facts' canonical JSON (which
/// never contains a raw newline) and the SHA-256 of the PDF before the seal line.
pub fn seal_message(facts_json: &str, pdf_sha256: &[u8; 32]) -> Vec<u8> {
    format!(
        "{RECEIPT_FORMAT}\nfacts:{facts_json}\npdf-sha256:{}\n",
        hex::encode(pdf_sha256)
    )
    .into_bytes()
}

/// Seals a receipt PDF: returns the PDF followed by the seal line. A PDF that does not
/// end with a newline gets one first; that newline is covered by the seal.
pub fn seal(pdf: &[u8], facts: &ReceiptFacts, key: &SigningKey) -> Result<Vec<u8>, ReceiptError> {
    if !pdf.starts_with(b"%PDF-") {
        return Err(ReceiptError::NotPdf);
    }
    if find(pdf, SEAL_MARKER).is_some() {
        return Err(ReceiptError::AlreadySealed);
    }
    let json = facts.canonical_json()?;
    let mut out = Vec::with_capacity(pdf.len() + json.len() * 4 / 3 + 128);
    out.extend_from_slice(pdf);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let digest: [u8; 32] = Sha256::digest(&out).into();
    let signature = key.sign(&seal_message(&json, &digest));
    out.extend_from_slice(SEAL_MARKER);
    out.extend_from_slice(URL_SAFE_NO_PAD.encode(json.as_bytes()).as_bytes());
    out.push(b' ');
    out.extend_from_slice(URL_SAFE_NO_PAD.encode(signature.to_bytes()).as_bytes());
    out.push(b'\n');
    Ok(out)
}

/// A seal read from a file but not yet checked against a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedReceipt {
    /// What the receipt states (unverified until [`SealedReceipt::verify`] passes).
    pub facts: ReceiptFacts,
    /// The facts exactly as sealed.
    pub facts_json: String,
    /// SHA-256 of the file before the seal line.
    pub pdf_sha256: [u8; 32],
    signature: ed25519_dalek::Signature,
}

impl SealedReceipt {
    /// Checks the seal with the school's public key. A signature that verifies with the
    /// key named in the facts but not with `key` is reported as a different key; one that
    /// verifies with neither, as a changed file.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ReceiptError> {
        let message = seal_message(&self.facts_json, &self.pdf_sha256);
        let expected = hex::encode(key.to_bytes());
        if key.verify(&message, &self.signature).is_ok() {
            if self.facts.school.public_key != expected {
                return Err(ReceiptError::damaged(
                    SealPart::Facts,
                    format!(
                        "it names the public key {} but was sealed with {expected}",
                        self.facts.school.public_key
                    ),
                ));
            }
            return Ok(());
        }
        let named = crate::ledger::verifying_key_from_hex(&self.facts.school.public_key);
        if self.facts.school.public_key != expected
            && let Some(named) = named
            && named.verify(&message, &self.signature).is_ok()
        {
            return Err(ReceiptError::WrongKey {
                sealed_by: self.facts.school.public_key.clone(),
                expected,
            });
        }
        Err(ReceiptError::Altered)
    }
}

/// Reads the seal of a receipt without a key, so that the school (and so the key to check
/// it with) can be found from the facts. Nothing here is trusted until verified.
pub fn open(bytes: &[u8]) -> Result<SealedReceipt, ReceiptError> {
    let Some(marker) = rfind(bytes, SEAL_MARKER) else {
        return Err(ReceiptError::NoSeal);
    };
    // The seal line starts a line and ends the file.
    if marker == 0 || bytes.get(marker - 1) != Some(&b'\n') {
        return Err(ReceiptError::damaged(
            SealPart::Line,
            "it does not start on a line of its own",
        ));
    }
    let line = &bytes[marker + SEAL_MARKER.len()..];
    let Some(line) = line.strip_suffix(b"\n") else {
        return Err(ReceiptError::damaged(
            SealPart::Line,
            "it does not end with a line break, or something was added after it",
        ));
    };
    if line.contains(&b'\n') {
        return Err(ReceiptError::damaged(
            SealPart::Line,
            "something was added after it",
        ));
    }
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [facts_b64, sig_b64] = parts.as_slice() else {
        return Err(ReceiptError::damaged(
            SealPart::Line,
            format!(
                "it should hold two parts separated by one space, not {}",
                parts.len()
            ),
        ));
    };
    let facts_bytes = URL_SAFE_NO_PAD
        .decode(facts_b64)
        .map_err(|e| ReceiptError::damaged(SealPart::Facts, format!("not valid base64 ({e})")))?;
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|e| {
        ReceiptError::damaged(SealPart::Signature, format!("not valid base64 ({e})"))
    })?;
    let sig_bytes: [u8; 64] = sig_bytes.try_into().map_err(|b: Vec<u8>| {
        ReceiptError::damaged(
            SealPart::Signature,
            format!("it is {} bytes long, not 64", b.len()),
        )
    })?;
    let facts_json = String::from_utf8(facts_bytes)
        .map_err(|_| ReceiptError::damaged(SealPart::Facts, "not UTF-8 text"))?;
    let facts: ReceiptFacts = serde_json::from_str(&facts_json)
        .map_err(|e| ReceiptError::damaged(SealPart::Facts, format!("not readable ({e})")))?;
    if facts.format != RECEIPT_FORMAT {
        return Err(ReceiptError::damaged(
            SealPart::Facts,
            format!(
                "unknown receipt format {:?} (this version reads {RECEIPT_FORMAT})",
                facts.format
            ),
        ));
    }
    if facts.canonical_json()? != facts_json {
        return Err(ReceiptError::damaged(
            SealPart::Facts,
            "they are not in the canonical form a receipt is sealed in",
        ));
    }
    let code_fits = ReceiptCode::from_entry_hash(&facts.chain.entry_hash)
        .is_ok_and(|c| c.to_string() == facts.code);
    if !code_fits {
        return Err(ReceiptError::damaged(
            SealPart::Facts,
            "the receipt code does not belong to the entry hash",
        ));
    }
    Ok(SealedReceipt {
        facts,
        facts_json,
        pdf_sha256: Sha256::digest(&bytes[..marker]).into(),
        signature: ed25519_dalek::Signature::from_bytes(&sig_bytes),
    })
}

/// Opens and checks a sealed receipt with the school's public key; returns what it states.
pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<ReceiptFacts, ReceiptError> {
    let sealed = open(bytes)?;
    sealed.verify(key)?;
    Ok(sealed.facts)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Against the ledger

/// Checks a (verified) receipt against the school's ledger, given in `seq` order: the
/// chain up to and including the receipt's entry must recompute, that entry must have the
/// receipt's hash, and it must record this signature (same signature id, person, version,
/// text hash, typed name, declaration, time, address, device and way of signing).
/// Entries after the receipt's are not looked at: a later break does not undo a signature.
pub fn check_against_chain(
    facts: &ReceiptFacts,
    entries: &[LedgerEntry],
) -> Result<(), ReceiptError> {
    let seq = facts.chain.seq;
    if let Some(other) = entries.iter().find(|e| e.school != facts.school.id) {
        return Err(ReceiptError::OtherSchool {
            receipt_school: facts.school.id,
            ledger_school: other.school,
        });
    }
    let upto: Vec<&LedgerEntry> = entries.iter().take_while(|e| e.seq <= seq).collect();
    match verify_chain(facts.school.id, upto.iter().copied()) {
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
    let Some(entry) = upto.last().filter(|e| e.seq == seq) else {
        return Err(ReceiptError::EntryMissing {
            seq,
            detail: String::new(),
        });
    };
    if entry.hash != facts.chain.entry_hash {
        return Err(ReceiptError::EntryReplaced { seq });
    }
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
    let at = payload
        .get("at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::OrganisationId;
    use crate::ledger::{ChainHead, next_entry};
    use crate::signing::{AuthMethod, RequestContext};
    use chrono::TimeZone;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn school(key: &SigningKey) -> School {
        School {
            id: SchoolId(3),
            organisation: OrganisationId(1),
            name: "St Mary's Primary".into(),
            slug: "st-marys".into(),
            timezone: chrono_tz::Europe::London.into(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
        }
    }

    fn signed_event() -> Event {
        Event::Signed {
            signature: SignatureId(9),
            person: PersonId(4),
            version: VersionId(2),
            typed_name: "Sam Staff".into(),
            text_sha256: "ab".repeat(32),
            declaration: "I agree.".into(),
            mark_kind: "typed".into(),
            mark_sha256: "cd".repeat(32),
            references: vec![],
            ip: "10.0.0.8".into(),
            user_agent: "Firefox".into(),
            auth: AuthMethod::Password,
            viewed_seq: Some(2),
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 15, 0).unwrap()
    }

    /// A chain of four entries whose third records the signature.
    fn chain() -> Vec<LedgerEntry> {
        let events = [
            Event::SchoolCreated {
                name: "St Mary's Primary".into(),
                public_key: "00".into(),
            },
            Event::KioskRevoked {
                kiosk: crate::KioskId(1),
                by: PersonId(1),
            },
            signed_event(),
            Event::KioskRevoked {
                kiosk: crate::KioskId(2),
                by: PersonId(1),
            },
        ];
        let mut out: Vec<LedgerEntry> = Vec::new();
        for ev in events {
            let head = out.last().map(|e| ChainHead {
                seq: e.seq,
                hash: e.hash.clone(),
            });
            out.push(next_entry(SchoolId(3), head.as_ref(), &ev, at()).unwrap());
        }
        out
    }

    fn facts(key: &SigningKey) -> ReceiptFacts {
        let entry = &chain()[2];
        let signature = Signature {
            id: SignatureId(9),
            school: SchoolId(3),
            person: PersonId(4),
            version: VersionId(2),
            policy: PolicyId(1),
            policy_title: "Acceptable Use Policy".into(),
            version_number: 2,
            typed_name: "Sam Staff".into(),
            mark_kind: "typed".into(),
            mark_sha256: "cd".repeat(32),
            text_sha256: "ab".repeat(32),
            declaration: "I agree.".into(),
            references: vec![],
            context: RequestContext::new("10.0.0.8".into(), "Firefox", AuthMethod::Password),
            signed_at: at(),
            ledger_seq: entry.seq,
            ledger_hash: entry.hash.clone(),
        };
        ReceiptFacts::new(
            &school(key),
            "Sam Staff",
            "sam@stmarys.example",
            &signature,
            at() + chrono::Duration::minutes(1),
        )
        .unwrap()
    }

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF";

    #[test]
    fn facts_name_the_time_zone_and_derive_the_code_from_the_entry_hash() {
        let f = facts(&key(1));
        assert_eq!(f.local_time, "Tuesday 24 November 2026, 09:15 GMT");
        assert_eq!(f.time_zone.name(), "Europe/London");
        assert_eq!(f.place.how, "password");
        let code = ReceiptCode::parse(&f.code).unwrap();
        assert!(f.chain.entry_hash.starts_with(&code.hash_prefix()));
        assert_eq!(code.hash_prefix().len(), 20);
        // Summer time is named too.
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
        assert_eq!(
            local_time(summer, chrono_tz::Europe::London),
            "Wednesday 1 July 2026, 09:00 BST"
        );
    }

    #[test]
    fn a_sealed_receipt_verifies_and_gives_back_its_facts() {
        let k = key(1);
        let f = facts(&k);
        let sealed = seal(PDF, &f, &k).unwrap();
        assert!(sealed.starts_with(PDF));
        assert!(sealed.ends_with(b"\n"));
        assert_eq!(verify(&sealed, &k.verifying_key()).unwrap(), f);
        // Opening needs no key and names the school.
        assert_eq!(open(&sealed).unwrap().facts.school.id, SchoolId(3));
    }

    #[test]
    fn changing_any_byte_of_a_sealed_file_fails_verification() {
        let k = key(1);
        let sealed = seal(PDF, &facts(&k), &k).unwrap();
        for i in 0..sealed.len() {
            for mask in [0x01u8, 0x20, 0x80, 0xff] {
                let mut changed = sealed.clone();
                changed[i] ^= mask;
                assert!(
                    verify(&changed, &k.verifying_key()).is_err(),
                    "byte {i} ^ {mask:#x} went unnoticed"
                );
            }
        }
        // Nor can a byte be added or removed anywhere.
        for i in 0..sealed.len() {
            let mut shorter = sealed.clone();
            shorter.remove(i);
            assert!(
                verify(&shorter, &k.verifying_key()).is_err(),
                "removing {i}"
            );
            let mut longer = sealed.clone();
            longer.insert(i, b'A');
            assert!(
                verify(&longer, &k.verifying_key()).is_err(),
                "adding at {i}"
            );
        }
    }

    #[test]
    fn a_change_to_the_pdf_is_reported_as_a_changed_file() {
        let k = key(1);
        let mut sealed = seal(PDF, &facts(&k), &k).unwrap();
        sealed[12] = b'X';
        assert_eq!(
            verify(&sealed, &k.verifying_key()).unwrap_err(),
            ReceiptError::Altered
        );
    }

    #[test]
    fn a_receipt_sealed_with_another_key_names_the_different_key() {
        let (ours, theirs) = (key(1), key(2));
        let sealed = seal(PDF, &facts(&theirs), &theirs).unwrap();
        let err = verify(&sealed, &ours.verifying_key()).unwrap_err();
        assert!(matches!(err, ReceiptError::WrongKey { .. }), "{err}");
        assert!(err.to_string().contains("different key"), "{err}");
    }

    #[test]
    fn a_file_without_its_seal_line_has_no_seal() {
        let k = key(1);
        let sealed = seal(PDF, &facts(&k), &k).unwrap();
        let cut = rfind(&sealed, SEAL_MARKER).unwrap();
        assert_eq!(
            verify(&sealed[..cut], &k.verifying_key()).unwrap_err(),
            ReceiptError::NoSeal
        );
        assert_eq!(open(b"hello").unwrap_err(), ReceiptError::NoSeal);
    }

    #[test]
    fn a_damaged_seal_says_which_part() {
        let k = key(1);
        let sealed = seal(PDF, &facts(&k), &k).unwrap();
        let text = String::from_utf8(sealed.clone()).unwrap();
        let (head, line) = text.rsplit_once("%UNDERSIGN-RECEIPT-1 ").unwrap();
        let (facts_b64, sig_b64) = line.trim_end().split_once(' ').unwrap();
        let bad_sig = format!(
            "{head}%UNDERSIGN-RECEIPT-1 {facts_b64} {}\n",
            &sig_b64[..20]
        );
        match open(bad_sig.as_bytes()).unwrap_err() {
            ReceiptError::SealDamaged { part, .. } => assert_eq!(part, SealPart::Signature),
            other => panic!("{other}"),
        }
        let bad_facts = format!("{head}%UNDERSIGN-RECEIPT-1 !{facts_b64} {sig_b64}\n");
        match open(bad_facts.as_bytes()).unwrap_err() {
            ReceiptError::SealDamaged { part, .. } => assert_eq!(part, SealPart::Facts),
            other => panic!("{other}"),
        }
        // An unknown field cannot ride along, even though it would be sealed.
        let mut value = serde_json::to_value(facts(&k)).unwrap();
        value["note"] = "extra".into();
        let json = canonical_json(&value);
        let digest: [u8; 32] = Sha256::digest(head.as_bytes()).into();
        let sig = k.sign(&seal_message(&json, &digest));
        let extra = format!(
            "{head}%UNDERSIGN-RECEIPT-1 {} {}\n",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        );
        let err = open(extra.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        // Something appended after the seal is noticed.
        let mut appended = sealed;
        appended.extend_from_slice(b"more\n");
        assert!(matches!(
            open(&appended).unwrap_err(),
            ReceiptError::SealDamaged {
                part: SealPart::Line,
                ..
            }
        ));
    }

    #[test]
    fn base64_with_non_canonical_trailing_bits_is_refused() {
        // 64 signature bytes take 86 characters whose last one carries 4 unused bits:
        // a character that differs only in those bits decodes to the same bytes with a
        // lax decoder. Ours refuses it, so no byte of the seal can change unnoticed.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let k = key(1);
        let sealed = seal(PDF, &facts(&k), &k).unwrap();
        let last = sealed.len() - 2;
        let index = ALPHABET.iter().position(|&c| c == sealed[last]).unwrap();
        let twin = ALPHABET[(index & !0x0f) | ((index + 1) & 0x0f)];
        let mut changed = sealed.clone();
        changed[last] = twin;
        let err = verify(&changed, &k.verifying_key()).unwrap_err();
        assert!(
            matches!(
                err,
                ReceiptError::SealDamaged {
                    part: SealPart::Signature,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn only_pdfs_are_sealed_and_only_once() {
        let k = key(1);
        assert_eq!(
            seal(b"GIF89a", &facts(&k), &k).unwrap_err(),
            ReceiptError::NotPdf
        );
        let sealed = seal(PDF, &facts(&k), &k).unwrap();
        assert_eq!(
            seal(&sealed, &facts(&k), &k).unwrap_err(),
            ReceiptError::AlreadySealed
        );
    }

    #[test]
    fn codes_are_grouped_and_read_back_forgivingly() {
        let hash = "0123456789abcdef0123".to_string() + &"ff".repeat(22);
        let code = ReceiptCode::from_entry_hash(&hash).unwrap();
        let shown = code.to_string();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.chars().filter(|c| *c == '-').count(), 3, "{shown}");
        assert_eq!(shown, "04HM-ASW9-NF6Y-Y093");
        assert_eq!(parse_code(&shown).unwrap(), "0123456789abcdef0123");
        for typed in [
            "04hm-asw9-nf6y-y093",
            "04HMASW9NF6YY093",
            " 04HM ASW9 NF6Y Y093 ",
            "O4HM-ASW9-NF6Y-YO93",
        ] {
            assert_eq!(
                parse_code(typed).unwrap(),
                "0123456789abcdef0123",
                "{typed}"
            );
        }
        // I and L read as 1.
        let ones = ReceiptCode::parse("1111-1111-1111-1111").unwrap();
        assert_eq!(ReceiptCode::parse("IiLl-1111-1111-1111").unwrap(), ones);
        assert!(code.matches(&hash));
        let short = parse_code("04HM-ASW9").unwrap_err();
        assert!(short.to_string().contains("16 characters"), "{short}");
        let bad = parse_code("04HM-ASW9-NF6Y-Y09U").unwrap_err();
        assert!(bad.to_string().contains("'U'"), "{bad}");
        assert!(parse_code("").unwrap_err().to_string().contains("enter"));
        assert!(ReceiptCode::from_entry_hash("xyz").is_err());
    }

    #[test]
    fn every_code_round_trips() {
        for n in 0..=255u8 {
            let hash = hex::encode([n.wrapping_mul(37); 32]);
            let code = ReceiptCode::from_entry_hash(&hash).unwrap();
            assert_eq!(ReceiptCode::parse(&code.to_string()).unwrap(), code);
        }
    }

    #[test]
    fn an_untouched_chain_confirms_the_receipt() {
        let f = facts(&key(1));
        check_against_chain(&f, &chain()).unwrap();
        // A break after the receipt's entry does not matter to it.
        let mut later = chain();
        later[3].payload = later[3].payload.replace("2", "3");
        check_against_chain(&f, &later).unwrap();
    }

    #[test]
    fn an_edited_entry_is_named() {
        let f = facts(&key(1));
        let mut c = chain();
        c[2].payload = c[2].payload.replace("10.0.0.8", "10.0.0.9");
        let err = check_against_chain(&f, &c).unwrap_err();
        assert_eq!(err, ReceiptError::EntryAltered { seq: 3 });
        assert_eq!(
            err.to_string(),
            "ledger entry 3 has been altered: its hash no longer matches its contents"
        );
        // An earlier edit breaks the chain before the entry.
        let mut c = chain();
        c[0].payload = c[0].payload.replace("Mary", "Mark");
        let err = check_against_chain(&f, &c).unwrap_err();
        assert!(matches!(err, ReceiptError::ChainBroken(_)), "{err}");
    }

    #[test]
    fn a_receipt_naming_the_wrong_entry_fails() {
        let mut f = facts(&key(1));
        f.chain.seq = 2;
        let err = check_against_chain(&f, &chain()).unwrap_err();
        assert!(
            matches!(err, ReceiptError::EntryReplaced { seq: 2 }),
            "{err}"
        );
        // The right hash at the wrong place is still not a signature.
        let c = chain();
        f.chain.entry_hash = c[1].hash.clone();
        let err = check_against_chain(&f, &c).unwrap_err();
        assert!(err.to_string().contains("not a signature"), "{err}");
        f.chain.seq = 7;
        let err = check_against_chain(&f, &c).unwrap_err();
        assert!(
            err.to_string()
                .contains("entry 7 is missing from the school's evidence ledger: the ledger has only 4 entries"),
            "{err}"
        );
    }

    #[test]
    fn a_rewritten_chain_or_different_signature_is_named() {
        let f = facts(&key(1));
        // The whole chain recomputed with another address: consistent, but not the
        // receipt's entry any more.
        let mut rewritten: Vec<LedgerEntry> = Vec::new();
        for (i, e) in chain().iter().enumerate() {
            let head = rewritten.last().map(|e| ChainHead {
                seq: e.seq,
                hash: e.hash.clone(),
            });
            let mut value: Value = serde_json::from_str(&e.payload).unwrap();
            if i == 2 {
                value["event"]["ip"] = "10.9.9.9".into();
            }
            let ev: Event = serde_json::from_value(value["event"].clone()).unwrap();
            rewritten.push(next_entry(SchoolId(3), head.as_ref(), &ev, at()).unwrap());
        }
        assert_eq!(
            check_against_chain(&f, &rewritten).unwrap_err(),
            ReceiptError::EntryReplaced { seq: 3 }
        );
        // A receipt whose facts differ from its (intact) entry names the fields.
        let mut other = f.clone();
        other.place.ip = "192.168.1.1".into();
        other.signer.person = PersonId(5);
        let err = check_against_chain(&other, &chain()).unwrap_err();
        assert_eq!(
            err,
            ReceiptError::DifferentSignature {
                seq: 3,
                fields: "person, IP address".into()
            }
        );
        // Another school's ledger is refused outright.
        let mut elsewhere = f;
        elsewhere.school.id = SchoolId(4);
        assert!(matches!(
            check_against_chain(&elsewhere, &chain()).unwrap_err(),
            ReceiptError::OtherSchool { .. }
        ));
    }
}
