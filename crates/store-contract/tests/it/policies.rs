//! Policies and versions: drafts are editable, publishing freezes a version (in the store
//! and in the database), numbers run 1, 2, 3 …, and times come back exactly.

use undersign_core::person::Audience;
use undersign_core::policy::{ChangeKind, NewReference, Title, VersionStatus, sha256_hex};
use undersign_core::store::StoreError;
use undersign_test_kit::{TestDb, db_test, draft, seed_school};

use crate::helpers::{at, last_entry, payload, publish_version};

const FROZEN: &str = "a published version cannot be changed; write a new version";

#[db_test]
async fn a_draft_can_be_edited_until_it_is_published(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let p = seed.publisher();
    let v = s
        .create_draft(
            &p,
            seed.policy.id,
            draft("- first", ChangeKind::Minor, &[Audience::Staff]),
        )
        .await
        .unwrap();
    assert_eq!(v.status, VersionStatus::Draft);
    assert_eq!(v.published_at, None);

    // The draft refers to the same documents as the version before it, as copies that the
    // draft may drop without touching the published version.
    let inherited: Vec<_> = v
        .references
        .iter()
        .map(|r| (&r.title, &r.source, &r.sha256))
        .collect();
    let published: Vec<_> = seed
        .aup
        .references
        .iter()
        .map(|r| (&r.title, &r.source, &r.sha256))
        .collect();
    assert_eq!(inherited, published);
    assert_ne!(v.references[0].id, seed.aup.references[0].id);
    let v = s
        .remove_reference(&p, v.id, v.references[0].id)
        .await
        .unwrap();
    assert!(v.references.is_empty());
    let aup = s
        .version(seed.school.id, seed.aup.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(aup.references, seed.aup.references);
    let edited = s
        .update_draft(
            &p,
            v.id,
            draft(
                "- second",
                ChangeKind::Major,
                &[Audience::Staff, Audience::Visitors],
            ),
        )
        .await
        .unwrap();
    assert_eq!(edited.body_md, "- second");
    assert_eq!(edited.text_sha256, sha256_hex(b"- second"));
    assert_eq!(edited.change_kind, ChangeKind::Major);
    assert_eq!(
        edited.audiences,
        [Audience::Staff, Audience::Visitors].into()
    );
    assert_eq!(edited.number, v.number);

    let with_two = s
        .add_reference(
            &p,
            v.id,
            NewReference::link("Council policy", "https://example.org/smp").unwrap(),
        )
        .await
        .unwrap();
    let with_two = s
        .add_reference(
            &p,
            with_two.id,
            NewReference::text("Code of conduct", "Be kind.").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(with_two.references.len(), 2);
    assert_eq!(with_two.references[0].title, "Council policy");
    assert_eq!(with_two.references[1].sha256, sha256_hex(b"Be kind."));
    let with_one = s
        .remove_reference(&p, v.id, with_two.references[0].id)
        .await
        .unwrap();
    assert_eq!(with_one.references, vec![with_two.references[1].clone()]);
    assert!(matches!(
        s.remove_reference(&p, v.id, with_two.references[0].id)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.version(seed.school.id, v.id).await.unwrap(),
        Some(with_one)
    );
}

#[db_test]
async fn versions_are_numbered_one_after_another(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let p = seed.publisher();
    assert_eq!(seed.aup.number, 1);
    let v2 = s
        .create_draft(
            &p,
            seed.policy.id,
            draft("- two", ChangeKind::Minor, &[Audience::Staff]),
        )
        .await
        .unwrap();
    let v3 = s
        .create_draft(
            &p,
            seed.policy.id,
            draft("- three", ChangeKind::Minor, &[Audience::Staff]),
        )
        .await
        .unwrap();
    assert_eq!((v2.number, v3.number), (2, 3));
    // Another policy starts again at 1.
    let other = s
        .create_policy(&p, &Title::parse("title", "Mobile phones").unwrap())
        .await
        .unwrap();
    let o1 = s
        .create_draft(
            &p,
            other.id,
            draft("- one", ChangeKind::Major, &[Audience::Staff]),
        )
        .await
        .unwrap();
    assert_eq!(o1.number, 1);
    let numbers: Vec<i32> = s
        .versions(seed.school.id, seed.policy.id)
        .await
        .unwrap()
        .iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}

#[db_test]
async fn publishing_freezes_the_text_and_records_it_in_the_ledger(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let aup = &seed.aup;
    assert_eq!(aup.status, VersionStatus::Published);
    assert_eq!(aup.published_by, Some(seed.head.id));
    assert_eq!(aup.text_sha256, sha256_hex(aup.body_md.as_bytes()));
    assert_eq!(aup.references.len(), 1);

    let entry = last_entry(s, seed.school.id).await;
    assert_eq!(entry.kind, "version_published");
    let p = payload(&entry);
    let event = &p["event"];
    assert_eq!(event["version"], aup.id.0);
    assert_eq!(event["policy"], seed.policy.id.0);
    assert_eq!(event["number"], 1);
    assert_eq!(event["text_sha256"], aup.text_sha256.as_str());
    assert_eq!(event["change_kind"], "major");
    assert_eq!(
        event["audiences"],
        serde_json::json!(["staff", "governors"])
    );
    assert_eq!(
        event["references"][0]["sha256"],
        aup.references[0].sha256.as_str()
    );
    assert_eq!(event["by"], seed.head.id.0);
    assert_eq!(
        p["at"],
        undersign_core::time::rfc3339(aup.published_at.unwrap()).as_str()
    );
}

#[db_test]
async fn a_published_version_refuses_every_change_through_the_store(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let p = seed.publisher();
    let v = seed.aup.id;
    let entries = s.ledger_entries(seed.school.id).await.unwrap().len();
    let refused = |r: Result<_, StoreError>, what: &str| match r {
        Err(StoreError::Refused(m)) => assert_eq!(m, FROZEN, "{what}"),
        other => panic!("{what}: expected Refused, got {other:?}"),
    };
    refused(
        s.update_draft(
            &p,
            v,
            draft("- changed", ChangeKind::Major, &[Audience::Staff]),
        )
        .await
        .map(|_| ()),
        "update_draft",
    );
    refused(
        s.add_reference(
            &p,
            v,
            NewReference::link("Another", "https://example.org/x").unwrap(),
        )
        .await
        .map(|_| ()),
        "add_reference",
    );
    refused(
        s.remove_reference(&p, v, seed.aup.references[0].id)
            .await
            .map(|_| ()),
        "remove_reference",
    );
    match s.publish(&p, v, undersign_core::time::now()).await {
        Err(StoreError::Refused(m)) => assert!(m.contains("already published"), "{m}"),
        other => panic!("publishing twice: expected Refused, got {other:?}"),
    }
    assert_eq!(
        s.version(seed.school.id, v).await.unwrap(),
        Some(seed.aup.clone())
    );
    assert_eq!(
        s.ledger_entries(seed.school.id).await.unwrap().len(),
        entries
    );
}

#[db_test]
async fn the_database_refuses_a_raw_change_to_a_published_version(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let (school, v) = (seed.school.id, seed.aup.id);
    let reference = seed.aup.references[0].id;
    for sql in [
        format!("UPDATE policy_versions SET body_md = 'rewritten' WHERE school_id = {school} AND id = {v}"),
        format!("DELETE FROM policy_versions WHERE school_id = {school} AND id = {v}"),
        format!("UPDATE policy_references SET title = 'other' WHERE school_id = {school} AND id = {reference}"),
        format!("DELETE FROM policy_references WHERE school_id = {school} AND id = {reference}"),
        format!(
            "INSERT INTO policy_references (school_id, version_id, position, title, source_kind, content, sha256)
             VALUES ({school}, {v}, 9, 'smuggled', 'text', 'x', 'x')"
        ),
    ] {
        let err = db.try_exec(&sql).await.expect_err(&sql);
        assert!(err.contains("a published version cannot be changed"), "{sql}: {err}");
    }
    assert_eq!(s.version(school, v).await.unwrap(), Some(seed.aup.clone()));

    // A draft is not protected: the triggers aim at published versions only.
    let d = s
        .create_draft(
            &seed.publisher(),
            seed.policy.id,
            draft("- d", ChangeKind::Minor, &[Audience::Staff]),
        )
        .await
        .unwrap();
    db.exec(&format!(
        "UPDATE policy_versions SET summary = 'raw' WHERE school_id = {school} AND id = {}",
        d.id
    ))
    .await;
    assert_eq!(
        s.version(school, d.id).await.unwrap().unwrap().summary,
        "raw"
    );
}

#[db_test]
async fn the_policy_list_shows_the_current_version_and_the_draft(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let p = seed.publisher();
    let v2 = publish_version(s, &seed, "- v2", ChangeKind::Minor, &[Audience::Staff]).await;
    let v3 = s
        .create_draft(
            &p,
            seed.policy.id,
            draft("- v3", ChangeKind::Major, &[Audience::Staff]),
        )
        .await
        .unwrap();
    let empty = s
        .create_policy(
            &p,
            &Title::parse("title", "A policy with nothing yet").unwrap(),
        )
        .await
        .unwrap();
    let list = s.policies(seed.school.id).await.unwrap();
    assert_eq!(list.len(), 2);
    let aup = list.iter().find(|x| x.policy.id == seed.policy.id).unwrap();
    assert_eq!(aup.current.as_ref().map(|v| v.id), Some(v2.id));
    assert_eq!(aup.draft, Some(v3.id));
    let nothing = list.iter().find(|x| x.policy.id == empty.id).unwrap();
    assert_eq!(nothing.current, None);
    assert_eq!(nothing.draft, None);
    assert_eq!(
        s.policy(seed.school.id, empty.id).await.unwrap(),
        Some(empty)
    );
}

#[db_test]
async fn times_round_trip_exactly_to_the_microsecond(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "policies").await;
    let p = seed.publisher();
    let d = s
        .create_draft(
            &p,
            seed.policy.id,
            draft("- timed", ChangeKind::Minor, &[Audience::Staff]),
        )
        .await
        .unwrap();
    // Nanoseconds are cut to microseconds, the precision hashed into the ledger.
    let when = at(5, 999_999) + chrono::TimeDelta::nanoseconds(789);
    let published = s.publish(&p, d.id, when).await.unwrap();
    assert_eq!(published.published_at, Some(at(5, 999_999)));
    let stored = s.version(seed.school.id, d.id).await.unwrap().unwrap();
    assert_eq!(stored.published_at, Some(at(5, 999_999)));
    let entry = last_entry(s, seed.school.id).await;
    assert_eq!(payload(&entry)["at"], "2026-11-23T09:05:00.999999Z");
}
