//! The seal: one comment line after the PDF's `%%EOF` carrying the facts and the school's
//! Ed25519 signature of them and of every byte before the line.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::ids::SchoolId;
use crate::ledger::ChainError;

use super::*;

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
        "the receipt names entry {seq} but that entry records {kind}, not a visitor signing in"
    )]
    NotAVisit { seq: i64, kind: String },
    #[error(
        "the receipt names entry {seq} but that entry records a different visit (it differs in: {fields})"
    )]
    DifferentVisit { seq: i64, fields: String },
    #[error(
        "the receipt belongs to another school ({receipt_school}), not to school {ledger_school}"
    )]
    OtherSchool {
        receipt_school: SchoolId,
        ledger_school: SchoolId,
    },
}

impl ReceiptError {
    pub(super) fn damaged(part: SealPart, detail: impl Into<String>) -> Self {
        ReceiptError::SealDamaged {
            part,
            detail: detail.into(),
        }
    }
}

/// The exact bytes the school signs: the format tag, the facts' canonical JSON (which
/// never contains a raw newline) and the SHA-256 of the PDF before the seal line.
pub fn seal_message(facts_json: &str, pdf_sha256: &[u8; 32]) -> Vec<u8> {
    message(RECEIPT_FORMAT, facts_json, pdf_sha256)
}

/// [`seal_message`] for facts of the given format.
fn message(format: &str, facts_json: &str, pdf_sha256: &[u8; 32]) -> Vec<u8> {
    format!(
        "{format}\nfacts:{facts_json}\npdf-sha256:{}\n",
        hex::encode(pdf_sha256)
    )
    .into_bytes()
}

/// Seals a receipt PDF: returns the PDF followed by the seal line. A PDF that does not
/// end with a newline gets one first; that newline is covered by the seal.
pub fn seal(pdf: &[u8], facts: &ReceiptFacts, key: &SigningKey) -> Result<Vec<u8>, ReceiptError> {
    seal_line(
        pdf,
        SEAL_MARKER,
        RECEIPT_FORMAT,
        &facts.canonical_json()?,
        key,
    )
}

/// Seals a visitor's receipt PDF, as [`seal`] does a signer's.
pub fn seal_visit(
    pdf: &[u8],
    facts: &VisitReceiptFacts,
    key: &SigningKey,
) -> Result<Vec<u8>, ReceiptError> {
    seal_line(
        pdf,
        VISIT_SEAL_MARKER,
        VISIT_RECEIPT_FORMAT,
        &facts.canonical_json()?,
        key,
    )
}

fn seal_line(
    pdf: &[u8],
    marker: &[u8],
    format: &str,
    json: &str,
    key: &SigningKey,
) -> Result<Vec<u8>, ReceiptError> {
    if !pdf.starts_with(b"%PDF-") {
        return Err(ReceiptError::NotPdf);
    }
    if find(pdf, SEAL_MARKER).is_some() || find(pdf, VISIT_SEAL_MARKER).is_some() {
        return Err(ReceiptError::AlreadySealed);
    }
    let mut out = Vec::with_capacity(pdf.len() + json.len() * 4 / 3 + 128);
    out.extend_from_slice(pdf);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let digest: [u8; 32] = Sha256::digest(&out).into();
    let signature = key.sign(&message(format, json, &digest));
    out.extend_from_slice(marker);
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
        check_signature(
            &message,
            &self.signature,
            key,
            &self.facts.school.public_key,
        )
    }
}

/// A visitor's receipt seal read from a file but not yet checked against a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedVisitReceipt {
    /// What the receipt states (unverified until [`SealedVisitReceipt::verify`] passes).
    pub facts: VisitReceiptFacts,
    pub facts_json: String,
    pub pdf_sha256: [u8; 32],
    signature: ed25519_dalek::Signature,
}

impl SealedVisitReceipt {
    /// Checks the seal with the school's public key, as [`SealedReceipt::verify`] does.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ReceiptError> {
        let message = message(VISIT_RECEIPT_FORMAT, &self.facts_json, &self.pdf_sha256);
        check_signature(
            &message,
            &self.signature,
            key,
            &self.facts.school.public_key,
        )
    }
}

/// A signature that verifies with the key named in the facts but not with `key` is
/// reported as a different key; one that verifies with neither, as a changed file.
fn check_signature(
    message: &[u8],
    signature: &ed25519_dalek::Signature,
    key: &VerifyingKey,
    named: &str,
) -> Result<(), ReceiptError> {
    let expected = hex::encode(key.to_bytes());
    if key.verify(message, signature).is_ok() {
        if named != expected {
            return Err(ReceiptError::damaged(
                SealPart::Facts,
                format!("it names the public key {named} but was sealed with {expected}"),
            ));
        }
        return Ok(());
    }
    if named != expected
        && let Some(named_key) = crate::ledger::verifying_key_from_hex(named)
        && named_key.verify(message, signature).is_ok()
    {
        return Err(ReceiptError::WrongKey {
            sealed_by: named.to_string(),
            expected,
        });
    }
    Err(ReceiptError::Altered)
}

/// Reads the seal of a receipt without a key, so that the school (and so the key to check
/// it with) can be found from the facts. Nothing here is trusted until verified.
pub fn open(bytes: &[u8]) -> Result<SealedReceipt, ReceiptError> {
    let (facts_json, sig_bytes, pdf_sha256) = read_seal(bytes, SEAL_MARKER)?;
    let facts: ReceiptFacts = read_facts(&facts_json)?;
    Ok(SealedReceipt {
        facts,
        facts_json,
        pdf_sha256,
        signature: ed25519_dalek::Signature::from_bytes(&sig_bytes),
    })
}

/// Reads the seal of a visitor's receipt without a key, as [`open`] does a signer's.
pub fn open_visit(bytes: &[u8]) -> Result<SealedVisitReceipt, ReceiptError> {
    let (facts_json, sig_bytes, pdf_sha256) = read_seal(bytes, VISIT_SEAL_MARKER)?;
    let facts: VisitReceiptFacts = read_facts(&facts_json)?;
    Ok(SealedVisitReceipt {
        facts,
        facts_json,
        pdf_sha256,
        signature: ed25519_dalek::Signature::from_bytes(&sig_bytes),
    })
}

/// What the seal checks of either kind of facts before anything else.
trait Facts: serde::de::DeserializeOwned {
    const FORMAT: &'static str;
    fn format(&self) -> &str;
    fn canonical_json(&self) -> Result<String, ReceiptError>;
    fn code(&self) -> &str;
    fn entry_hash(&self) -> &str;
}

impl Facts for ReceiptFacts {
    const FORMAT: &'static str = RECEIPT_FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
    fn canonical_json(&self) -> Result<String, ReceiptError> {
        ReceiptFacts::canonical_json(self)
    }
    fn code(&self) -> &str {
        &self.code
    }
    fn entry_hash(&self) -> &str {
        &self.chain.entry_hash
    }
}

impl Facts for VisitReceiptFacts {
    const FORMAT: &'static str = VISIT_RECEIPT_FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
    fn canonical_json(&self) -> Result<String, ReceiptError> {
        VisitReceiptFacts::canonical_json(self)
    }
    fn code(&self) -> &str {
        &self.code
    }
    fn entry_hash(&self) -> &str {
        &self.chain.entry_hash
    }
}

/// The facts of a seal: readable, of the format expected, in canonical form, and with the
/// code that belongs to their entry hash.
fn read_facts<F: Facts>(facts_json: &str) -> Result<F, ReceiptError> {
    let facts: F = serde_json::from_str(facts_json)
        .map_err(|e| ReceiptError::damaged(SealPart::Facts, format!("not readable ({e})")))?;
    if facts.format() != F::FORMAT {
        return Err(ReceiptError::damaged(
            SealPart::Facts,
            format!(
                "unknown receipt format {:?} (this version reads {})",
                facts.format(),
                F::FORMAT
            ),
        ));
    }
    if facts.canonical_json()? != facts_json {
        return Err(ReceiptError::damaged(
            SealPart::Facts,
            "they are not in the canonical form a receipt is sealed in",
        ));
    }
    let code_fits = ReceiptCode::from_entry_hash(facts.entry_hash())
        .is_ok_and(|c| c.to_string() == facts.code());
    if !code_fits {
        return Err(ReceiptError::damaged(
            SealPart::Facts,
            "the receipt code does not belong to the entry hash",
        ));
    }
    Ok(facts)
}

/// The facts (as text), the signature and the SHA-256 of what precedes the seal line
/// that starts with `marker`.
fn read_seal(
    bytes: &[u8],
    marker_text: &[u8],
) -> Result<(String, [u8; 64], [u8; 32]), ReceiptError> {
    let Some(marker) = rfind(bytes, marker_text) else {
        return Err(ReceiptError::NoSeal);
    };
    // The seal line starts a line and ends the file.
    if marker == 0 || bytes.get(marker - 1) != Some(&b'\n') {
        return Err(ReceiptError::damaged(
            SealPart::Line,
            "it does not start on a line of its own",
        ));
    }
    let line = &bytes[marker + marker_text.len()..];
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
    Ok((
        facts_json,
        sig_bytes,
        Sha256::digest(&bytes[..marker]).into(),
    ))
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

pub(super) fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
