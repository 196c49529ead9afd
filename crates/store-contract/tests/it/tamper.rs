//! Tampering, as a database administrator would: remove the immutability triggers, then
//! edit, delete or swap ledger rows. `verify_chain` must name the first broken entry.

use undersign_core::SchoolId;
use undersign_core::ledger::{
    ChainError, Checkpoint, Event, next_entry, verify_chain, verify_checkpoints,
};
use undersign_core::time;
use undersign_test_kit::{Seed, TestDb, context, db_test, seed_school, signature_input};

/// A school with a chain of 10 entries: the seed's 7, a view, a signature and a view.
async fn school_with_history(db: &TestDb) -> Seed {
    let s = &*db.store;
    let seed = seed_school(s, "tamper").await;
    let (school, aup) = (seed.school.id, &seed.aup);
    s.record_view(
        school,
        seed.staff.id,
        aup.id,
        &aup.text_sha256,
        &context(),
        time::now(),
    )
    .await
    .unwrap();
    s.record_signature(signature_input(&seed.staff, aup), time::now())
        .await
        .unwrap();
    s.record_view(
        school,
        seed.teacher.id,
        aup.id,
        &aup.text_sha256,
        &context(),
        time::now(),
    )
    .await
    .unwrap();
    assert_eq!(s.ledger_entries(school).await.unwrap().len(), 10);
    seed
}

async fn verify(db: &TestDb, school: SchoolId) -> Result<i64, ChainError> {
    let entries = db.store.ledger_entries(school).await.unwrap();
    verify_chain(school, &entries).map(|s| s.entries)
}

#[db_test]
async fn an_untouched_chain_verifies(db: TestDb) {
    let seed = school_with_history(&db).await;
    assert_eq!(verify(&db, seed.school.id).await, Ok(10));
}

#[db_test]
async fn an_edited_payload_is_named_by_its_seq(db: TestDb) {
    let seed = school_with_history(&db).await;
    let school = seed.school.id;
    // Entry 4 records Sam Staff being added.
    let sql = format!(
        "UPDATE ledger_entries SET payload = REPLACE(payload, 'Sam Staff', 'Sam Stuff')
         WHERE school_id = {school} AND seq = 4"
    );
    assert!(
        db.try_exec(&sql).await.is_err(),
        "the triggers must refuse first"
    );
    db.drop_immutability_triggers("ledger_entries").await;
    db.exec(&sql).await;
    let entries = db.store.ledger_entries(school).await.unwrap();
    assert!(
        entries[3].payload.contains("Sam Stuff"),
        "the edit took effect"
    );
    assert_eq!(
        verify_chain(school, &entries),
        Err(ChainError::Altered { seq: 4 })
    );
}

#[db_test]
async fn a_deleted_entry_is_named_as_missing(db: TestDb) {
    let seed = school_with_history(&db).await;
    let school = seed.school.id;
    db.drop_immutability_triggers("ledger_entries").await;
    db.exec(&format!(
        "DELETE FROM ledger_entries WHERE school_id = {school} AND seq = 3"
    ))
    .await;
    assert_eq!(
        verify(&db, school).await,
        Err(ChainError::Missing {
            expected: 3,
            found: 4
        })
    );
}

#[db_test]
async fn swapped_entries_are_named_by_the_first_of_them(db: TestDb) {
    let seed = school_with_history(&db).await;
    let school = seed.school.id;
    db.drop_immutability_triggers("ledger_entries").await;
    // Swap everything but the sequence numbers of entries 5 and 6 (two people added).
    db.exec(&format!(
        "CREATE TEMPORARY TABLE swap AS
             SELECT seq, kind, payload, prev_hash, hash FROM ledger_entries
             WHERE school_id = {school} AND seq IN (5, 6);
         UPDATE ledger_entries SET
             kind = (SELECT kind FROM swap WHERE swap.seq = 11 - ledger_entries.seq),
             payload = (SELECT payload FROM swap WHERE swap.seq = 11 - ledger_entries.seq),
             prev_hash = (SELECT prev_hash FROM swap WHERE swap.seq = 11 - ledger_entries.seq),
             hash = (SELECT hash FROM swap WHERE swap.seq = 11 - ledger_entries.seq)
         WHERE school_id = {school} AND seq IN (5, 6);
         DROP TABLE swap;"
    ))
    .await;
    let entries = db.store.ledger_entries(school).await.unwrap();
    assert!(
        entries[4].payload.contains("Gary Governor") || entries[4].payload.contains("Tina Teacher")
    );
    let err = verify_chain(school, &entries).unwrap_err();
    assert_eq!(err.seq(), 5, "{err}");
}

#[db_test]
async fn a_rewritten_chain_is_caught_by_its_signed_checkpoint(db: TestDb) {
    let seed = school_with_history(&db).await;
    let school = seed.school.id;
    let s = &*db.store;
    let head = s.ledger_head(school).await.unwrap().unwrap();
    s.record_checkpoint(&Checkpoint::sign(school, &head, time::now(), &seed.key))
        .await
        .unwrap();

    // Rewrite entry 10 and recompute its hash, so the chain alone still verifies.
    db.drop_immutability_triggers("ledger_entries").await;
    let entries = s.ledger_entries(school).await.unwrap();
    let prev = undersign_core::ledger::ChainHead {
        seq: 9,
        hash: entries[8].hash.clone(),
    };
    let forged = next_entry(
        school,
        Some(&prev),
        &Event::SchoolCreated {
            name: "forged".into(),
            public_key: "00".into(),
        },
        time::now(),
    )
    .unwrap();
    db.exec(&format!(
        "UPDATE ledger_entries SET kind = '{}', payload = '{}', hash = '{}'
         WHERE school_id = {school} AND seq = 10",
        forged.kind, forged.payload, forged.hash
    ))
    .await;
    let entries = s.ledger_entries(school).await.unwrap();
    assert_eq!(verify_chain(school, &entries).unwrap().entries, 10);
    let err = verify_checkpoints(
        &entries,
        &s.checkpoints(school).await.unwrap(),
        &seed.key.verifying_key(),
    )
    .unwrap_err();
    assert_eq!(err.seq(), 10);
    assert!(err.to_string().contains("rewritten"), "{err}");
}
