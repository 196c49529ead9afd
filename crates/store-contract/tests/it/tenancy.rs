//! Tenancy: another school's ids find nothing, and a capability granted in one school
//! cannot reach another school's rows.

use std::collections::BTreeSet;
use undersign_core::ledger::verify_chain;
use undersign_core::person::Role;
use undersign_core::policy::{ChangeKind, NewReference};
use undersign_core::signing::{DeclineInput, SignatureInput};
use undersign_core::store::StoreError;
use undersign_core::time;
use undersign_test_kit::{TestDb, context, db_test, draft, seed_school, signature_input};

use crate::helpers::unchanged;

#[db_test]
async fn another_schools_ids_find_nothing(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "school-a").await;
    let b = seed_school(s, "school-b").await;
    let signed = s
        .record_signature(signature_input(&a.staff, &a.aup), time::now())
        .await
        .unwrap();
    let sig = signed.signature().clone();
    s.set_password(a.school.id, a.staff.id, "$argon2id$fake")
        .await
        .unwrap();

    // Every getter, with school B and school A's ids.
    assert_eq!(s.person(b.school.id, a.staff.id).await.unwrap(), None);
    assert!(
        s.people(b.school.id)
            .await
            .unwrap()
            .iter()
            .all(|p| p.school == b.school.id)
    );
    assert_eq!(
        s.password_hash(b.school.id, a.staff.id).await.unwrap(),
        None
    );
    assert_eq!(s.policy(b.school.id, a.policy.id).await.unwrap(), None);
    assert!(
        s.versions(b.school.id, a.policy.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.version(b.school.id, a.aup.id).await.unwrap(), None);
    assert!(
        s.policies(b.school.id)
            .await
            .unwrap()
            .iter()
            .all(|p| p.policy.school == b.school.id)
    );
    assert_eq!(s.signature(b.school.id, sig.id).await.unwrap(), None);
    assert_eq!(s.signature_mark(b.school.id, sig.id).await.unwrap(), None);
    assert!(
        s.signatures_of(b.school.id, a.staff.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.obligations(b.school.id, a.staff.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_password(b.school.id, a.staff.id, "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.record_view(
            b.school.id,
            a.staff.id,
            a.aup.id,
            &a.aup.text_sha256,
            &context(),
            time::now()
        )
        .await,
        Err(StoreError::NotFound)
    ));
    // School A's own lookups still work, so the Nones above are about tenancy.
    assert!(s.person(a.school.id, a.staff.id).await.unwrap().is_some());
    assert_eq!(s.signature(a.school.id, sig.id).await.unwrap(), Some(sig));
}

#[db_test]
async fn a_capability_of_one_school_cannot_touch_another_schools_rows(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "school-a").await;
    let b = seed_school(s, "school-b").await;
    let b_draft = s
        .create_draft(
            &b.publisher(),
            b.policy.id,
            draft(
                "- B's text",
                ChangeKind::Major,
                &[undersign_core::person::Audience::Staff],
            ),
        )
        .await
        .unwrap();
    let before = s.ledger_entries(b.school.id).await.unwrap();

    let a_pub = a.publisher();
    let a_admin = a.people_admin();
    let not_found = |r: Result<_, StoreError>, what: &str| match r {
        Err(StoreError::NotFound) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    };
    not_found(
        s.update_person(&a_admin, b.staff.id, unchanged(&b.staff))
            .await
            .map(|_| ()),
        "update_person",
    );
    not_found(
        s.create_draft(
            &a_pub,
            b.policy.id,
            draft(
                "- x",
                ChangeKind::Major,
                &[undersign_core::person::Audience::Staff],
            ),
        )
        .await
        .map(|_| ()),
        "create_draft",
    );
    not_found(
        s.update_draft(
            &a_pub,
            b_draft.id,
            draft(
                "- x",
                ChangeKind::Major,
                &[undersign_core::person::Audience::Staff],
            ),
        )
        .await
        .map(|_| ()),
        "update_draft",
    );
    not_found(
        s.add_reference(
            &a_pub,
            b_draft.id,
            NewReference::link("Doc", "https://example.org/").unwrap(),
        )
        .await
        .map(|_| ()),
        "add_reference",
    );
    not_found(
        s.publish(&a_pub, b_draft.id, time::now()).await.map(|_| ()),
        "publish",
    );

    // A signature claiming school A for B's person and version finds neither.
    let mut forged: SignatureInput = signature_input(&b.staff, &b.aup);
    forged.school = a.school.id;
    not_found(
        s.record_signature(forged, time::now()).await.map(|_| ()),
        "record_signature",
    );
    not_found(
        s.record_decline(
            DeclineInput {
                school: a.school.id,
                person: b.staff.id,
                version: b.aup.id,
                reason: "no".into(),
                context: context(),
            },
            time::now(),
        )
        .await
        .map(|_| ()),
        "record_decline",
    );

    // B's declines are not in A's list.
    s.record_decline(
        DeclineInput {
            school: b.school.id,
            person: b.staff.id,
            version: b.aup.id,
            reason: "I do not agree".into(),
            context: context(),
        },
        time::now(),
    )
    .await
    .unwrap();
    let a_viewer = a.actor(&a.head).compliance_viewer().unwrap();
    assert!(s.declines(&a_viewer).await.unwrap().is_empty());

    // Nothing of B's changed, and B's chain only grew by B's own decline.
    assert_eq!(
        s.person(b.school.id, b.staff.id).await.unwrap(),
        Some(b.staff.clone())
    );
    assert_eq!(
        s.version(b.school.id, b_draft.id).await.unwrap(),
        Some(b_draft)
    );
    let after = s.ledger_entries(b.school.id).await.unwrap();
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.last().unwrap().kind, "declined");
    let roles: BTreeSet<Role> = a.head.roles.clone();
    assert!(roles.contains(&Role::Headteacher));
}

#[db_test]
async fn each_school_has_its_own_chain(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "school-a").await;
    let b = seed_school(s, "school-b").await;
    s.record_signature(signature_input(&a.staff, &a.aup), time::now())
        .await
        .unwrap();
    let ea = s.ledger_entries(a.school.id).await.unwrap();
    let eb = s.ledger_entries(b.school.id).await.unwrap();
    assert!(ea.iter().all(|e| e.school == a.school.id));
    assert!(eb.iter().all(|e| e.school == b.school.id));
    assert_eq!(ea.len(), eb.len() + 1);
    verify_chain(a.school.id, &ea).unwrap();
    verify_chain(b.school.id, &eb).unwrap();
    // One school's entries do not verify as another's chain.
    assert!(verify_chain(b.school.id, &ea).is_err());
}
