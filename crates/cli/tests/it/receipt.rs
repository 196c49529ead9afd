//! `undersign verify-receipt` on real receipts: typeset by the PDF crate, sealed with a
//! school key, then checked by the binary offline.

use crate::support::{run, stderr, stdout};
use chrono::{TimeZone, Utc};
use ed25519_dalek::SigningKey;
use std::path::Path;
use undersign_core::receipt::{ReceiptFacts, seal};
use undersign_core::school::School;
use undersign_core::signing::{AuthMethod, RequestContext, Signature};
use undersign_core::{OrganisationId, PersonId, PolicyId, SchoolId, SignatureId, VersionId};

fn school_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// A sealed receipt for Sam Staff's signature of the AUP, version 3.
fn sealed_receipt(key: &SigningKey) -> (ReceiptFacts, Vec<u8>) {
    let school = School {
        id: SchoolId(1),
        organisation: OrganisationId(1),
        name: "Test Primary School".into(),
        slug: "test-primary".into(),
        timezone: undersign_core::time::TimeZone::parse("Europe/London").unwrap(),
        public_key: public_hex(key),
    };
    let signed_at = Utc.with_ymd_and_hms(2026, 6, 15, 8, 30, 0).unwrap();
    let signature = Signature {
        id: SignatureId(11),
        school: school.id,
        person: PersonId(4),
        version: VersionId(3),
        policy: PolicyId(1),
        policy_title: "Acceptable Use Policy".into(),
        version_number: 3,
        typed_name: "Sam Staff".into(),
        mark_kind: "drawn".into(),
        mark_sha256: "11".repeat(32),
        text_sha256: "7e".repeat(32),
        declaration: "I have read and agree to this policy.".into(),
        references: vec![],
        context: RequestContext::new(
            "192.0.2.10".into(),
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)",
            AuthMethod::EmailLink,
        ),
        signed_at,
        ledger_seq: 42,
        ledger_hash: "c0ffee".repeat(10) + "abcd",
    };
    let facts = ReceiptFacts::new(
        &school,
        "Sam Staff",
        "sam@test-primary.example",
        &signature,
        signed_at + chrono::Duration::minutes(5),
    )
    .unwrap();
    let shows = undersign_pdf::ReceiptShows {
        references: Vec::new(),
        mark: undersign_pdf::ShownMark::Typed("Sam Staff".into()),
    };
    let pdf = undersign_pdf::receipt(&facts, &shows).unwrap();
    let sealed = seal(&pdf, &facts, key).unwrap();
    (facts, sealed)
}

fn verify_receipt(file: &Path, key: &str) -> std::process::Output {
    run(&[
        "verify-receipt",
        file.to_str().unwrap(),
        "--public-key",
        key,
    ])
}

#[test]
fn an_untouched_receipt_is_valid_and_says_what_it_proves() {
    let dir = tempfile::tempdir().unwrap();
    let (facts, sealed) = sealed_receipt(&school_key());
    let file = dir.path().join("receipt.pdf");
    std::fs::write(&file, &sealed).unwrap();
    let out = verify_receipt(&file, &public_hex(&school_key()));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for expected in [
        format!("Receipt {} is valid", facts.code),
        "Test Primary School".to_string(),
        "Sam Staff <sam@test-primary.example> (person 4)".to_string(),
        "Acceptable Use Policy, version 3".to_string(),
        "7e".repeat(32),
        "Monday 15 June 2026, 09:30 BST (2026-06-15T08:30:00.000000Z)".to_string(),
        "192.0.2.10".to_string(),
        "email link".to_string(),
        "42 of test-primary's evidence ledger".to_string(),
        facts.chain.entry_hash.clone(),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(text.lines().last(), Some("valid"));

    // The key may also come from a file.
    let key_file = dir.path().join("school.pub");
    std::fs::write(&key_file, format!("{}\n", public_hex(&school_key()))).unwrap();
    let out = verify_receipt(&file, key_file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_receipt_with_one_byte_changed_is_invalid_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut sealed) = sealed_receipt(&school_key());
    // A byte inside the PDF itself, well before the seal.
    let at = sealed.len() / 3;
    sealed[at] ^= 0x01;
    let file = dir.path().join("receipt.pdf");
    std::fs::write(&file, &sealed).unwrap();
    let out = verify_receipt(&file, &public_hex(&school_key()));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("invalid: the file was changed after it was issued"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_receipt_checked_with_another_schools_key_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sealed) = sealed_receipt(&school_key());
    let file = dir.path().join("receipt.pdf");
    std::fs::write(&file, &sealed).unwrap();
    let other = SigningKey::from_bytes(&[10; 32]);
    let out = verify_receipt(&file, &public_hex(&other));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("sealed with a different key"),
        "{}",
        stderr(&out)
    );
    // Given the private key by mistake, it says so.
    let private = hex::encode(school_key().to_bytes());
    let out = verify_receipt(&file, &private);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("PRIVATE key"), "{}", stderr(&out));
}

#[test]
fn a_file_that_is_not_a_receipt_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "just some notes\n").unwrap();
    let out = verify_receipt(&file, &public_hex(&school_key()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not an Undersign receipt"),
        "{}",
        stderr(&out)
    );
    // An unsealed receipt PDF is not one either.
    let (facts, _) = sealed_receipt(&school_key());
    std::fs::write(
        &file,
        undersign_pdf::receipt(&facts, &undersign_pdf::ReceiptShows::default()).unwrap(),
    )
    .unwrap();
    let out = verify_receipt(&file, &public_hex(&school_key()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no Undersign seal"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_file_or_a_bad_key_is_an_operational_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = verify_receipt(&dir.path().join("absent.pdf"), &public_hex(&school_key()));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));

    let (_, sealed) = sealed_receipt(&school_key());
    let file = dir.path().join("receipt.pdf");
    std::fs::write(&file, &sealed).unwrap();
    for bad in ["abc", "zz".repeat(32).as_str()] {
        let out = verify_receipt(&file, bad);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("neither 64 hex characters nor a file"),
            "{}",
            stderr(&out)
        );
    }
    let key_file = dir.path().join("garbage.key");
    std::fs::write(&key_file, "not a key\n").unwrap();
    let out = verify_receipt(&file, key_file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not hold 64 hex characters"),
        "{}",
        stderr(&out)
    );
}
