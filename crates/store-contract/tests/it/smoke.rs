//! Smoke.
use undersign_core::ledger::verify_chain;
use undersign_core::signing::SignOutcome;
use undersign_store_contract::{TestDb, seed_school, signature_input};

pub async fn a_seeded_school_has_a_valid_chain(db: TestDb) {
    let seed = seed_school(&*db.store, "smoke").await;
    let out = db
        .store
        .record_signature(
            signature_input(&seed.staff, &seed.aup),
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    assert!(matches!(out, SignOutcome::Recorded(_)));
    let out = db
        .store
        .record_signature(
            signature_input(&seed.staff, &seed.aup),
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    assert!(matches!(out, SignOutcome::AlreadySigned(_)));
    let entries = db.store.ledger_entries(seed.school.id).await.unwrap();
    let s = verify_chain(seed.school.id, &entries).unwrap();
    assert_eq!(s.entries, 8);
    assert!(
        db.store
            .obligations(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.store
            .obligations(seed.school.id, seed.teacher.id)
            .await
            .unwrap()
            .len(),
        1
    );
}
