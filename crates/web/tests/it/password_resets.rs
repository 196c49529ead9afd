//! Administrators never set or learn a password: they send a reset link to the person's
//! own address. The sending, the change and the session it starts are all on the record,
//! and so is a signature made soon after someone else changed the person's email.

use axum::http::{Method, StatusCode};
use undersign_core::person::{PersonUpdate, Role};
use undersign_core::signing::AuthMethod;

use crate::support::{PASSWORD, TestApp};

/// The reset link in the newest mail to `to`, as a path.
async fn reset_path(app: &TestApp, to: &str) -> String {
    let mails = app
        .store
        .claim_mail(
            "test",
            undersign_core::time::now(),
            chrono::TimeDelta::minutes(5),
            50,
        )
        .await
        .unwrap();
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.to_email.as_str() == to)
        .unwrap_or_else(|| panic!("no mail to {to}"));
    let start = mail.text_body.find("/reset/").expect("a reset link");
    mail.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn sign_fields(app: &TestApp, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("declaration", "yes".into()),
        ("typed_name", name.into()),
        ("signature_kind", "typed".into()),
        ("typed_signature", name.into()),
        ("ack", app.a.reference.to_string()),
    ]
}

#[tokio::test]
async fn an_administrator_sends_a_reset_link_and_never_sees_the_password() {
    let app = TestApp::new().await;
    let admin_person = app.a.people[&Role::SchoolAdministrator].clone();
    let staff = app.a.people[&Role::Receptionist].clone();
    let admin = app.login(&admin_person).await;

    // The form no longer offers a password, and one posted anyway is ignored.
    let edit = app.get(&format!("/people/{}", staff.id), &admin).await;
    assert!(!edit.body.contains("name=\"password\""), "{}", edit.body);
    let before = app
        .store
        .password_hash(app.a.school, staff.id)
        .await
        .unwrap();
    let reply = app
        .post(
            &format!("/people/{}", staff.id),
            &admin,
            &[
                ("full_name", staff.full_name.to_string()),
                ("email", staff.email.to_string()),
                ("role", "receptionist".into()),
                ("line_manager", String::new()),
                ("status", "active".into()),
                ("password", "admin knows this one".into()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        app.store
            .password_hash(app.a.school, staff.id)
            .await
            .unwrap(),
        before
    );

    let sent = app
        .post(&format!("/people/{}/reset-link", staff.id), &admin, &[])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("A link to choose a password was sent"));
    let entries = app.store.ledger_entries(app.a.school).await.unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.kind, "password_reset_sent");
    assert!(
        last.payload
            .contains(&format!("\"by\":{}", admin_person.id))
    );

    let path = reset_path(&app, staff.email.as_str()).await;
    let page = app.send(Method::GET, &path, None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Choose your password"));
    let short = app
        .send(
            Method::POST,
            &path,
            None,
            Some(&[("new", "short".into()), ("confirm", "short".into())]),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let chosen = "my own secret words";
    let done = app
        .send(
            Method::POST,
            &path,
            None,
            Some(&[("new", chosen.into()), ("confirm", chosen.into())]),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/me");
    let session = app.session_from(&done).await;
    let changed = app.store.ledger_entries(app.a.school).await.unwrap();
    let last = changed.last().unwrap();
    assert_eq!(last.kind, "password_changed");
    assert!(
        last.payload
            .contains(&format!("\"reset_sent_by\":{}", admin_person.id))
    );
    // Used once only.
    let again = app
        .send(
            Method::POST,
            &path,
            None,
            Some(&[("new", chosen.into()), ("confirm", chosen.into())]),
        )
        .await;
    assert!(
        again.body.contains("This link has been used"),
        "{}",
        again.body
    );

    // A signature in that session says how it began, in the evidence and on the receipt.
    let reply = app
        .post(
            &format!("/sign/{}", app.a.published),
            &session,
            &sign_fields(&app, staff.full_name.as_str()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let sig = &app
        .store
        .signatures_of(app.a.school, staff.id)
        .await
        .unwrap()[0];
    assert_eq!(
        sig.context.auth,
        AuthMethod::ResetLink {
            sent_by: admin_person.id
        }
    );
    assert!(
        sig.context
            .auth
            .label()
            .contains("reset link sent by person")
    );
    // The old password no longer works; the chosen one does.
    let old = app
        .send(
            Method::POST,
            "/login",
            None,
            Some(&[
                ("email", staff.email.to_string()),
                ("password", PASSWORD.into()),
            ]),
        )
        .await;
    assert_ne!(old.status, StatusCode::SEE_OTHER);
    undersign_test_kit::assert_evidence_agrees(app.store.as_ref(), app.a.school).await;
}

#[tokio::test]
async fn a_signature_soon_after_someone_else_changed_the_email_says_so() {
    let app = TestApp::new().await;
    let head = app.a.people[&Role::Headteacher].clone();
    let governor = app.a.people[&Role::Governor].clone();
    let by = app
        .store
        .person(app.a.school, head.id)
        .await
        .unwrap()
        .map(|p| undersign_core::access::Actor {
            school: app.a.school,
            person: p.id,
            roles: p.roles,
        })
        .unwrap()
        .people_admin()
        .unwrap();
    let moved = app
        .store
        .update_person(
            &by,
            governor.id,
            PersonUpdate {
                full_name: governor.full_name.clone(),
                email: undersign_core::person::Email::parse("new-address@school-a.sch.uk").unwrap(),
                roles: governor.roles.clone(),
                line_manager: None,
                status: governor.status,
            },
        )
        .await
        .unwrap();
    let session = app.login(&moved).await;
    let reply = app
        .post(
            &format!("/sign/{}", app.a.published),
            &session,
            &sign_fields(&app, governor.full_name.as_str()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let sig = &app
        .store
        .signatures_of(app.a.school, governor.id)
        .await
        .unwrap()[0];
    let AuthMethod::AfterEmailChange {
        via, changed_by, ..
    } = &sig.context.auth
    else {
        panic!("not marked: {:?}", sig.context.auth);
    };
    assert_eq!(**via, AuthMethod::Password);
    assert_eq!(*changed_by, Some(head.id));
    assert!(
        sig.context
            .auth
            .label()
            .contains(&format!("email was changed by person {}", head.id))
    );
    undersign_test_kit::assert_evidence_agrees(app.store.as_ref(), app.a.school).await;
}
