//! What each person must sign: the newest published version for their audience, unless
//! they signed it or any version since the newest major one.

use undersign_core::person::{Audience, PersonStatus};
use undersign_core::policy::{ChangeKind, Title};
use undersign_core::signing::{DeclineInput, Obligation};
use undersign_core::store::{Store, StoreError};
use undersign_core::time;
use undersign_core::{PersonId, SchoolId, VersionId};
use undersign_test_kit::{TestDb, context, db_test, draft, seed_school, signature_input};

use crate::helpers::{publish_version, unchanged};

async fn due(
    s: &dyn Store,
    school: SchoolId,
    person: PersonId,
) -> Vec<(VersionId, Option<VersionId>)> {
    s.obligations(school, person)
        .await
        .unwrap()
        .iter()
        .map(|o| (o.version, o.last_signed))
        .collect()
}

#[db_test]
async fn everyone_in_the_audience_must_sign_the_first_version(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    for person in [
        &seed.head,
        &seed.admin,
        &seed.staff,
        &seed.teacher,
        &seed.governor,
    ] {
        let list = s.obligations(seed.school.id, person.id).await.unwrap();
        assert_eq!(
            list,
            vec![Obligation {
                policy: seed.policy.id,
                policy_title: "ICT Acceptable Use Policy".into(),
                version: seed.aup.id,
                version_number: 1,
                published_at: seed.aup.published_at,
                last_signed: None,
                declined: false,
            }],
            "{}",
            person.full_name
        );
    }
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    assert!(
        s.obligations(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        due(s, seed.school.id, seed.teacher.id).await,
        vec![(seed.aup.id, None)]
    );
}

#[db_test]
async fn a_minor_version_does_not_ask_anyone_to_sign_again(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let v2 = publish_version(
        s,
        &seed,
        "- typo fixed",
        ChangeKind::Minor,
        &[Audience::Staff, Audience::Governors],
    )
    .await;
    assert!(
        s.obligations(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Someone who never signed is asked for the newest version.
    assert_eq!(
        due(s, seed.school.id, seed.teacher.id).await,
        vec![(v2.id, None)]
    );
}

#[db_test]
async fn a_major_version_asks_everyone_again_and_names_what_they_last_signed(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let v2 = publish_version(
        s,
        &seed,
        "- new rules",
        ChangeKind::Major,
        &[Audience::Staff, Audience::Governors],
    )
    .await;
    assert_eq!(
        due(s, seed.school.id, seed.staff.id).await,
        vec![(v2.id, Some(seed.aup.id))]
    );
    assert_eq!(
        due(s, seed.school.id, seed.teacher.id).await,
        vec![(v2.id, None)]
    );
    s.record_signature(signature_input(&seed.staff, &v2), time::now())
        .await
        .unwrap();
    assert!(
        s.obligations(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn a_minor_version_after_a_major_one_is_what_is_signed(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    let both = [Audience::Staff, Audience::Governors];
    // staff signed v1; teacher will sign v2 (major); v3 is minor.
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let v2 = publish_version(s, &seed, "- v2", ChangeKind::Major, &both).await;
    s.record_signature(signature_input(&seed.teacher, &v2), time::now())
        .await
        .unwrap();
    let v3 = publish_version(s, &seed, "- v3", ChangeKind::Minor, &both).await;
    // Signed before the newest major: sign the newest version, redlined against v1.
    assert_eq!(
        due(s, seed.school.id, seed.staff.id).await,
        vec![(v3.id, Some(seed.aup.id))]
    );
    // Signed the newest major: a later minor version asks nothing.
    assert!(
        s.obligations(seed.school.id, seed.teacher.id)
            .await
            .unwrap()
            .is_empty()
    );
    s.record_signature(signature_input(&seed.staff, &v3), time::now())
        .await
        .unwrap();
    assert!(
        s.obligations(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn governors_are_asked_only_for_versions_published_to_governors(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    let p = seed.publisher();
    let staff_only = s
        .create_policy(&p, &Title::parse("title", "Staff laptops").unwrap())
        .await
        .unwrap();
    let d = s
        .create_draft(
            &p,
            staff_only.id,
            draft("- laptops", ChangeKind::Major, &[Audience::Staff]),
        )
        .await
        .unwrap();
    let laptops = s.publish(&p, d.id, time::now()).await.unwrap();
    let governor: Vec<_> = due(s, seed.school.id, seed.governor.id).await;
    assert_eq!(governor, vec![(seed.aup.id, None)]);
    let staff: Vec<VersionId> = due(s, seed.school.id, seed.staff.id)
        .await
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(staff, vec![seed.aup.id, laptops.id]);

    // When the newest version of the AUP drops governors, governors are asked nothing more.
    publish_version(
        s,
        &seed,
        "- staff only now",
        ChangeKind::Major,
        &[Audience::Staff],
    )
    .await;
    assert!(
        s.obligations(seed.school.id, seed.governor.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn leavers_are_asked_nothing_and_cannot_sign(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    let mut leaving = unchanged(&seed.teacher);
    leaving.status = PersonStatus::Left;
    s.update_person(&seed.people_admin(), seed.teacher.id, leaving)
        .await
        .unwrap();
    assert!(
        s.obligations(seed.school.id, seed.teacher.id)
            .await
            .unwrap()
            .is_empty()
    );
    let err = s
        .record_signature(signature_input(&seed.teacher, &seed.aup), time::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("has left")),
        "{err:?}"
    );
    assert!(
        s.signatures_of(seed.school.id, seed.teacher.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn a_decline_is_shown_on_the_obligation(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "obligations").await;
    s.record_decline(
        DeclineInput {
            school: seed.school.id,
            person: seed.staff.id,
            version: seed.aup.id,
            reason: "I need to ask about statement 2".into(),
            context: context(),
        },
        time::now(),
    )
    .await
    .unwrap();
    let staff = s.obligations(seed.school.id, seed.staff.id).await.unwrap();
    assert_eq!(staff.len(), 1);
    assert!(staff[0].declined);
    assert!(
        !s.obligations(seed.school.id, seed.teacher.id)
            .await
            .unwrap()[0]
            .declined
    );
    // A new version is a new question: the old decline does not carry over.
    let v2 = publish_version(s, &seed, "- v2", ChangeKind::Major, &[Audience::Staff]).await;
    let staff = s.obligations(seed.school.id, seed.staff.id).await.unwrap();
    assert_eq!((staff[0].version, staff[0].declined), (v2.id, false));
}
