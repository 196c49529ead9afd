//! Organisations and schools, and the first entry of every school's chain.

use undersign_core::OrganisationId;
use undersign_core::ledger::verify_chain;
use undersign_core::school::{NewSchool, SchoolSlug};
use undersign_core::store::StoreError;
use undersign_test_kit::{TestDb, db_test, seed_school};

use crate::helpers::payload;

fn new_school(slug: &str) -> NewSchool {
    NewSchool {
        name: "St Mary's Primary".to_string(),
        slug: SchoolSlug::parse(slug).unwrap(),
        timezone: undersign_core::time::TimeZone::parse("Europe/London").unwrap(),
        public_key: "ab".repeat(32),
    }
}

#[db_test]
async fn creating_a_school_starts_its_chain_with_school_created(db: TestDb) {
    let org = db
        .store
        .create_organisation("Sefton Council")
        .await
        .unwrap();
    let school = db
        .store
        .create_school(org.id, new_school("st-marys"))
        .await
        .unwrap();
    assert_eq!(school.organisation, org.id);
    assert_eq!(school.slug, "st-marys");

    let entries = db.store.ledger_entries(school.id).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].seq, 1);
    assert_eq!(entries[0].kind, "school_created");
    assert_eq!(entries[0].prev_hash, "0".repeat(64));
    let p = payload(&entries[0]);
    assert_eq!(p["event"]["name"], "St Mary's Primary");
    assert_eq!(p["event"]["public_key"], "ab".repeat(32));
    assert_eq!(verify_chain(school.id, &entries).unwrap().entries, 1);

    assert_eq!(
        db.store.school(school.id).await.unwrap(),
        Some(school.clone())
    );
    assert_eq!(
        db.store.school_by_slug("st-marys").await.unwrap(),
        Some(school.clone())
    );
    assert_eq!(db.store.school_by_slug("nowhere").await.unwrap(), None);
    assert_eq!(db.store.schools().await.unwrap(), vec![school]);
}

#[db_test]
async fn a_short_name_belongs_to_one_school_only(db: TestDb) {
    let seed = seed_school(&*db.store, "taken").await;
    let err = db
        .store
        .create_school(seed.organisation.id, new_school("taken"))
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict(m) => assert!(m.contains("taken"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(db.store.schools().await.unwrap().len(), 1);
}

#[db_test]
async fn a_school_cannot_be_created_in_an_unknown_organisation(db: TestDb) {
    let err = db
        .store
        .create_school(OrganisationId(4242), new_school("orphan"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(db.store.schools().await.unwrap().is_empty());
}
