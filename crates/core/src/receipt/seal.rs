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

pub(super) fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
