//! People: adding and editing is recorded, emails are unique per school, line managers
//! belong to the same school, and only active people with a password can log in.

use undersign_core::person::{Email, FullName, NewPerson, PersonStatus, Role};
use undersign_core::store::StoreError;
use undersign_test_kit::{TestDb, db_test, seed_school};

use crate::helpers::{add, last_entry, payload, unchanged};

#[db_test]
async fn adding_a_person_records_them_in_the_ledger(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "people").await;
    let admin = seed.actor(&seed.admin).people_admin().unwrap();
    let added = s
        .add_person(
            &admin,
            NewPerson {
                full_name: FullName::parse("Zoë  O'Neill").unwrap(),
                email: Email::parse("Zoe.ONeill@People.sch.uk").unwrap(),
                roles: [Role::Staff, Role::Dsl].into(),
                line_manager: Some(seed.head.id),
                password_hash: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(added.full_name.as_str(), "Zoë O'Neill");
    assert_eq!(added.email.as_str(), "zoe.oneill@people.sch.uk");
    assert_eq!(added.status, PersonStatus::Active);
    assert_eq!(added.line_manager, Some(seed.head.id));
    assert_eq!(
        s.person(seed.school.id, added.id).await.unwrap(),
        Some(added.clone())
    );
    assert!(s.people(seed.school.id).await.unwrap().contains(&added));

    let entry = last_entry(s, seed.school.id).await;
    assert_eq!(entry.kind, "person_recorded");
    let event = &payload(&entry)["event"];
    assert_eq!(event["person"], added.id.0);
    assert_eq!(event["email"], "zoe.oneill@people.sch.uk");
    assert_eq!(event["roles"], serde_json::json!(["staff", "dsl"]));
    assert_eq!(event["status"], "active");
    assert_eq!(event["line_manager"], seed.head.id.0);
    assert_eq!(event["by"], seed.admin.id.0);
}

#[db_test]
async fn updating_a_person_changes_the_record_and_is_recorded(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "people").await;
    let mut update = unchanged(&seed.teacher);
    update.full_name = FullName::parse("Tina Teacher-Smith").unwrap();
    update.roles = [Role::Staff, Role::LeadershipTeam].into();
    update.line_manager = Some(seed.head.id);
    let updated = s
        .update_person(&seed.people_admin(), seed.teacher.id, update)
        .await
        .unwrap();
    assert_eq!(updated.full_name.as_str(), "Tina Teacher-Smith");
    assert_eq!(updated.line_manager, Some(seed.head.id));
    assert_eq!(
        s.person(seed.school.id, seed.teacher.id).await.unwrap(),
        Some(updated)
    );
    let event = &payload(&last_entry(s, seed.school.id).await)["event"];
    assert_eq!(event["kind"], "person_recorded");
    assert_eq!(event["full_name"], "Tina Teacher-Smith");
    assert_eq!(event["by"], serde_json::Value::Null);
}

#[db_test]
async fn an_email_already_used_in_the_school_is_a_conflict_naming_it(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "people").await;
    let entries = s.ledger_entries(seed.school.id).await.unwrap().len();
    let err = s
        .add_person(
            &seed.people_admin(),
            NewPerson {
                full_name: FullName::parse("Another Sam").unwrap(),
                email: Email::parse("STAFF@people.sch.uk").unwrap(),
                roles: [Role::Staff].into(),
                line_manager: None,
                password_hash: None,
            },
        )
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict(m) => assert_eq!(
            m,
            "someone in this school already has the email staff@people.sch.uk"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut update = unchanged(&seed.teacher);
    update.email = seed.staff.email.clone();
    let err = s
        .update_person(&seed.people_admin(), seed.teacher.id, update)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("staff@people.sch.uk")),
        "{err:?}"
    );
    // Nothing was recorded for either attempt.
    assert_eq!(
        s.ledger_entries(seed.school.id).await.unwrap().len(),
        entries
    );
}

#[db_test]
async fn the_same_email_may_be_used_in_another_school(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "school-a").await;
    let b = seed_school(s, "school-b").await;
    let email = "supply@example.org";
    let in_a = add(s, a.school.id, "Sue Supply", email, &[Role::Staff]).await;
    let in_b = add(s, b.school.id, "Sue Supply", email, &[Role::Staff]).await;
    s.set_password(a.school.id, in_a.id, "$argon2id$a")
        .await
        .unwrap();
    s.set_password(b.school.id, in_b.id, "$argon2id$b")
        .await
        .unwrap();
    let accounts = s
        .login_accounts(&Email::parse(email).unwrap())
        .await
        .unwrap();
    let mut found: Vec<_> = accounts
        .iter()
        .map(|a| (a.person.id, a.school_name.clone(), a.password_hash.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                in_a.id,
                "School school-a".to_string(),
                "$argon2id$a".to_string()
            ),
            (
                in_b.id,
                "School school-b".to_string(),
                "$argon2id$b".to_string()
            ),
        ]
    );
}

#[db_test]
async fn a_line_manager_from_another_school_is_refused(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "school-a").await;
    let b = seed_school(s, "school-b").await;
    let err = s
        .add_person(
            &a.people_admin(),
            NewPerson {
                full_name: FullName::parse("New Starter").unwrap(),
                email: Email::parse("new@school-a.sch.uk").unwrap(),
                roles: [Role::Staff].into(),
                line_manager: Some(b.head.id),
                password_hash: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("line manager must be someone in this school")),
        "{err:?}"
    );
    let mut update = unchanged(&a.teacher);
    update.line_manager = Some(b.head.id);
    let err = s
        .update_person(&a.people_admin(), a.teacher.id, update)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    assert_eq!(
        s.person(a.school.id, a.teacher.id)
            .await
            .unwrap()
            .unwrap()
            .line_manager,
        None
    );
}

#[db_test]
async fn a_person_cannot_be_their_own_line_manager(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "people").await;
    let mut update = unchanged(&seed.teacher);
    update.line_manager = Some(seed.teacher.id);
    let err = s
        .update_person(&seed.people_admin(), seed.teacher.id, update)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
}

#[db_test]
async fn only_active_people_with_a_password_can_log_in(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "people").await;
    // No password yet: not a login candidate.
    assert!(
        s.login_accounts(&seed.staff.email)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.password_hash(seed.school.id, seed.staff.id)
            .await
            .unwrap(),
        None
    );

    s.set_password(seed.school.id, seed.staff.id, "$argon2id$v=19$x")
        .await
        .unwrap();
    assert_eq!(
        s.password_hash(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .as_deref(),
        Some("$argon2id$v=19$x")
    );
    let accounts = s.login_accounts(&seed.staff.email).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].person, seed.staff);
    assert_eq!(accounts[0].school_name, "School people");

    let mut leaving = unchanged(&seed.staff);
    leaving.status = PersonStatus::Left;
    s.update_person(&seed.people_admin(), seed.staff.id, leaving)
        .await
        .unwrap();
    assert!(
        s.login_accounts(&seed.staff.email)
            .await
            .unwrap()
            .is_empty()
    );
    // A leaver is kept, with their evidence.
    assert_eq!(
        s.person(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        PersonStatus::Left
    );
}

#[db_test]
async fn roles_are_granted_only_by_those_above_them_and_a_school_keeps_its_headteacher(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "grants").await;
    let admin = seed.actor(&seed.admin).people_admin().unwrap();
    let before = s.ledger_entries(seed.school.id).await.unwrap().len();
    let mut raised = undersign_core::person::PersonUpdate {
        full_name: seed.admin.full_name.clone(),
        email: seed.admin.email.clone(),
        roles: [Role::SchoolAdministrator, Role::TrustAdministrator].into(),
        line_manager: None,
        status: PersonStatus::Active,
    };
    let err = s.update_person(&admin, seed.admin.id, raised.clone()).await;
    assert!(matches!(err, Err(StoreError::Refused(_))), "{err:?}");
    raised.roles = [Role::Headteacher].into();
    assert!(matches!(
        s.update_person(&admin, seed.admin.id, raised).await,
        Err(StoreError::Refused(_))
    ));
    // The headteacher may hand the role on, but not leave the school without one.
    let head = seed.actor(&seed.head).people_admin().unwrap();
    let stepping_down = undersign_core::person::PersonUpdate {
        full_name: seed.head.full_name.clone(),
        email: seed.head.email.clone(),
        roles: [Role::Staff].into(),
        line_manager: None,
        status: PersonStatus::Active,
    };
    let err = s
        .update_person(&head, seed.head.id, stepping_down.clone())
        .await;
    assert!(
        matches!(&err, Err(StoreError::Refused(m)) if m.contains("without a headteacher")),
        "{err:?}"
    );
    assert_eq!(
        s.ledger_entries(seed.school.id).await.unwrap().len(),
        before
    );
    let successor = undersign_core::person::PersonUpdate {
        full_name: seed.staff.full_name.clone(),
        email: seed.staff.email.clone(),
        roles: [Role::Staff, Role::Headteacher].into(),
        line_manager: None,
        status: PersonStatus::Active,
    };
    s.update_person(&head, seed.staff.id, successor)
        .await
        .unwrap();
    s.update_person(&head, seed.head.id, stepping_down)
        .await
        .unwrap();
    undersign_test_kit::assert_evidence_agrees(s, seed.school.id).await;
}
