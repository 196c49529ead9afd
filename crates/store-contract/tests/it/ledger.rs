//! The chain's head and signed checkpoints.

use undersign_core::ledger::{Checkpoint, verify_chain, verify_checkpoints};
use undersign_core::store::StoreError;
use undersign_core::time;
use undersign_test_kit::{TestDb, context, db_test, seed_school, signature_input};

use crate::helpers::at;

#[db_test]
async fn the_head_is_the_last_entry(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "ledger").await;
    s.record_view(
        seed.school.id,
        seed.staff.id,
        seed.aup.id,
        &seed.aup.text_sha256,
        &context(),
        time::now(),
    )
    .await
    .unwrap();
    let entries = s.ledger_entries(seed.school.id).await.unwrap();
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=entries.len() as i64).collect::<Vec<_>>());
    let head = s.ledger_head(seed.school.id).await.unwrap().unwrap();
    let last = entries.last().unwrap();
    assert_eq!(
        (head.seq, head.hash.as_str()),
        (last.seq, last.hash.as_str())
    );
    assert_eq!(
        verify_chain(seed.school.id, &entries).unwrap().head,
        Some(head)
    );
    assert_eq!(
        s.ledger_head(undersign_core::SchoolId(9999)).await.unwrap(),
        None
    );
}

#[db_test]
async fn checkpoints_round_trip_in_seq_order(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "ledger").await;
    let school = seed.school.id;
    let first = Checkpoint::sign(
        school,
        &s.ledger_head(school).await.unwrap().unwrap(),
        at(0, 17),
        &seed.key,
    );
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let second = Checkpoint::sign(
        school,
        &s.ledger_head(school).await.unwrap().unwrap(),
        at(9, 999_999),
        &seed.key,
    );
    // Recorded out of order, returned in seq order, exactly as signed.
    s.record_checkpoint(&second).await.unwrap();
    s.record_checkpoint(&first).await.unwrap();
    let stored = s.checkpoints(school).await.unwrap();
    assert_eq!(stored, vec![first, second]);
    let entries = s.ledger_entries(school).await.unwrap();
    verify_checkpoints(&entries, &stored, &seed.key.verifying_key()).unwrap();
    let other = seed_school(s, "other").await;
    assert!(s.checkpoints(other.school.id).await.unwrap().is_empty());
}

#[db_test]
async fn a_checkpoint_is_recorded_once(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "ledger").await;
    let school = seed.school.id;
    let head = s.ledger_head(school).await.unwrap().unwrap();
    let cp = Checkpoint::sign(school, &head, at(0, 0), &seed.key);
    s.record_checkpoint(&cp).await.unwrap();
    let again = Checkpoint::sign(school, &head, at(1, 0), &seed.key);
    let err = s.record_checkpoint(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.checkpoints(school).await.unwrap(), vec![cp]);
}

#[db_test]
async fn an_entry_is_found_by_the_start_of_its_hash(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "by-code").await;
    let other = seed_school(s, "by-code-other").await;
    let signed = s
        .record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    s.record_signature(signature_input(&other.staff, &other.aup), time::now())
        .await
        .unwrap();
    let sig = signed.signature();
    let found = s
        .entries_with_hash_prefix(&sig.ledger_hash[..20])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].school, found[0].seq, found[0].hash.as_str()),
        (seed.school.id, sig.ledger_seq, sig.ledger_hash.as_str())
    );
    assert_eq!(found[0].kind, "signed");
    let unknown = if sig.ledger_hash.starts_with('0') {
        "1"
    } else {
        "0"
    }
    .repeat(20);
    assert!(
        s.entries_with_hash_prefix(&unknown)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn the_headteacher_is_mailed_the_signed_head_once_a_week(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "witness-mail").await;
    let head = s.ledger_head(seed.school.id).await.unwrap().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let cp = Checkpoint::sign(seed.school.id, &head, at(0, 0), &key);
    let monday = at(0, 0);
    let mail = |now| undersign_core::use_cases::mail_weekly_witness(s, &seed.school, &cp, now);
    assert_eq!(mail(monday).await.unwrap(), 1);
    // Again the same week (serve checkpoints every few minutes): nothing new.
    assert_eq!(mail(monday + chrono::TimeDelta::days(2)).await.unwrap(), 0);
    // The next week: one more.
    assert_eq!(mail(monday + chrono::TimeDelta::days(7)).await.unwrap(), 1);
    let page = s.outbox_page(&seed.people_admin(), 0, 10).await.unwrap();
    assert_eq!(page.total, 2);
    assert!(
        page.mails
            .iter()
            .all(|m| m.to_email == seed.head.email && m.subject.contains("evidence ledger"))
    );
}
