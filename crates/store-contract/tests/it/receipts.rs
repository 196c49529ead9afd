//! Checking receipts against the records, as the public `/verify` page does: by code and
//! by sealed file, untouched and after the school's ledger or the file was tampered with.
//! The PDF here is a minimal one: the seal covers whatever bytes it is given; rendering
//! real receipts is tested in the `pdf` crate and through `undersign verify-receipt`.

use undersign_core::receipt::{ReceiptFacts, seal};
use undersign_core::time;
use undersign_core::verification::{Verdict, by_code, by_file};
use undersign_test_kit::{Seed, TestDb, db_test, seed_school, signature_input};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

async fn signed(db: &TestDb, slug: &str) -> (Seed, ReceiptFacts) {
    let s = &*db.store;
    let seed = seed_school(s, slug).await;
    let outcome = s
        .record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let facts = ReceiptFacts::new(
        &seed.school,
        seed.staff.full_name.as_str(),
        seed.staff.email.as_str(),
        outcome.signature(),
        time::now(),
    )
    .unwrap();
    (seed, facts)
}

fn reason(v: Verdict) -> String {
    match v {
        Verdict::Invalid { reason } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[db_test]
async fn a_receipt_code_verifies_and_names_the_signature(db: TestDb) {
    let (seed, facts) = signed(&db, "code-ok").await;
    let typed = facts.code.to_lowercase().replace('-', " ");
    match by_code(&*db.store, &typed, time::now()).await.unwrap() {
        Verdict::Valid {
            facts: found,
            from_file,
        } => {
            assert!(!from_file);
            assert_eq!(found.signature, facts.signature);
            assert_eq!(found.signer.full_name, seed.staff.full_name.as_str());
            assert_eq!(found.chain, facts.chain);
            assert_eq!(found.text_sha256, seed.aup.text_sha256);
        }
        other => panic!("{other:?}"),
    }
    let unknown = reason(
        by_code(&*db.store, "0000-0000-0000-0000", time::now())
            .await
            .unwrap(),
    );
    assert!(unknown.contains("no signature recorded here"), "{unknown}");
    let garbled = reason(by_code(&*db.store, "ABCD-EFGH", time::now()).await.unwrap());
    assert!(garbled.contains("16"), "{garbled}");
}

#[db_test]
async fn a_sealed_receipt_verifies_and_one_changed_byte_does_not(db: TestDb) {
    let (seed, facts) = signed(&db, "file-ok").await;
    let sealed = seal(PDF, &facts, &seed.key).unwrap();
    match by_file(&*db.store, &sealed).await.unwrap() {
        Verdict::Valid {
            facts: found,
            from_file,
        } => {
            assert!(from_file);
            assert_eq!(*found, facts);
        }
        other => panic!("{other:?}"),
    }
    let mut changed = sealed.clone();
    changed[12] ^= 0x01;
    let why = reason(by_file(&*db.store, &changed).await.unwrap());
    assert!(why.contains("changed after it was issued"), "{why}");
    let why = reason(by_file(&*db.store, PDF).await.unwrap());
    assert!(why.contains("not an Undersign receipt"), "{why}");
    // Sealed by a key that is not the school's.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let forged = seal(PDF, &facts, &other).unwrap();
    let why = reason(by_file(&*db.store, &forged).await.unwrap());
    assert!(why.contains("changed after it was issued"), "{why}");
}

#[db_test]
async fn a_receipt_for_a_tampered_entry_fails_with_the_entry_named(db: TestDb) {
    let (seed, facts) = signed(&db, "tampered").await;
    let sealed = seal(PDF, &facts, &seed.key).unwrap();
    db.drop_immutability_triggers("ledger_entries").await;
    db.exec(&format!(
        "UPDATE ledger_entries SET payload = REPLACE(payload, '192.0.2.10', '192.0.2.99')
         WHERE school_id = {} AND seq = {}",
        seed.school.id, facts.chain.seq
    ))
    .await;
    let expected = format!("ledger entry {} has been altered", facts.chain.seq);
    let why = reason(by_file(&*db.store, &sealed).await.unwrap());
    assert!(why.contains(&expected), "{why}");
    let why = reason(by_code(&*db.store, &facts.code, time::now()).await.unwrap());
    assert!(why.contains(&expected), "{why}");
}
