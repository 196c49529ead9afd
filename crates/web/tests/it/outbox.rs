//! The school's outbox page and asking for a sign-in link, in process.

use chrono::TimeDelta;
use undersign_core::access::PeopleAdmin;
use undersign_core::outbox::NewMail;
use undersign_core::person::{Person, Role};
use undersign_core::{SchoolId, time};

use crate::support::TestApp;

fn mail(school: SchoolId, to: &Person, key: &str) -> NewMail {
    NewMail {
        school,
        dedupe_key: key.to_string(),
        to_email: to.email.clone(),
        to_name: to.full_name.to_string(),
        subject: format!("Subject {key}"),
        text_body: "Hello".into(),
        attachments: Vec::new(),
        not_before: time::now() - TimeDelta::minutes(10),
        unless_signed: None,
        deferred: None,
    }
}

#[tokio::test]
async fn the_outbox_shows_the_schools_mail_newest_first_with_status_attempts_and_errors() {
    let app = TestApp::new().await;
    let staff = &app.a.people[&Role::Staff];
    let now = time::now();
    for (i, key) in ["first", "second", "third"].iter().enumerate() {
        let at = now - TimeDelta::minutes(3 - i as i64);
        app.store
            .enqueue_mail(mail(app.a.school, staff, key), at)
            .await
            .unwrap();
    }
    app.store
        .enqueue_mail(
            mail(app.b.school, &app.b.people[&Role::Staff], "theirs"),
            now,
        )
        .await
        .unwrap();
    // "first" is sent; "second" failed once and waits for its retry; "third" is queued.
    let claimed = app
        .store
        .claim_mail("w1", now, TimeDelta::minutes(5), 10)
        .await
        .unwrap();
    for m in &claimed {
        match m.subject.as_str() {
            "Subject first" => assert!(app.store.mark_mail_sent(m.id, "w1", now).await.unwrap()),
            "Subject second" => assert!(
                app.store
                    .retry_mail_later(
                        m.id,
                        "w1",
                        "Connection error: Connection refused (os error 111)",
                        now + TimeDelta::minutes(1),
                    )
                    .await
                    .unwrap()
            ),
            _ => {}
        }
    }

    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let page = app.get("/outbox", &admin).await;
    assert_eq!(page.status, 200);
    // Newest first, the receipt of the signature the test school starts with at the top.
    assert_eq!(
        page.select_text("tbody td:nth-child(3)"),
        [
            "Your receipt: ICT Acceptable Use Policy version 1",
            "Subject third",
            "Subject second",
            "Subject first"
        ]
    );
    assert_eq!(
        page.select_text("td.state"),
        ["queued", "queued", "queued", "sent"]
    );
    assert_eq!(page.select_text("td.attempts"), ["1", "1", "1", "1"]);
    assert_eq!(
        page.select_text("td.last-error"),
        [
            "",
            "",
            "Connection error: Connection refused (os error 111)",
            ""
        ]
    );
    assert!(!page.body.contains("Subject theirs"));

    // The nav offers it to those who may see it, and staff are refused.
    assert_eq!(page.select_text(r#"nav a[href="/outbox"]"#), ["Outbox"]);
    let staff_session = app.login(staff).await;
    assert_eq!(app.get("/outbox", &staff_session).await.status, 403);
}

#[tokio::test]
async fn the_outbox_is_paged_fifty_at_a_time() {
    let app = TestApp::new().await;
    let staff = &app.a.people[&Role::Staff];
    let mails = (0..60)
        .map(|i| mail(app.a.school, staff, &format!("m{i:02}")))
        .collect();
    app.store.enqueue_mails(mails, time::now()).await.unwrap();
    let admin = app.login(&app.a.people[&Role::Headteacher]).await;
    let first = app.get("/outbox", &admin).await;
    assert_eq!(first.select_text("tbody tr").len(), 50);
    assert_eq!(first.select_text(".pager span"), ["Page 1 of 2"]);
    // 60 and the receipt of the signature the test school starts with.
    let second = app.get("/outbox?page=2", &admin).await;
    assert_eq!(second.select_text("tbody tr").len(), 11);
    assert_eq!(second.select_text(r#".pager a[rel="prev"]"#), ["Newer"]);
}

async fn ask(app: &TestApp, email: &str) -> crate::support::Reply {
    app.send(
        axum::http::Method::POST,
        "/login/link",
        None,
        Some(&[("email", email.to_string())]),
    )
    .await
}

#[tokio::test]
async fn asking_for_a_link_answers_the_same_for_every_address_and_is_throttled() {
    let app = TestApp::new().await;
    let governor = &app.a.people[&Role::Governor];
    let known = ask(&app, governor.email.as_str()).await;
    let unknown = ask(&app, "nobody@nowhere.example").await;
    assert_eq!(known.status, 200);
    assert_eq!(unknown.status, 200);
    assert_eq!(known.select_text("p.lead"), unknown.select_text("p.lead"));
    assert_eq!(
        known.select_text("p.lead"),
        ["If that address belongs to someone here, a link is on its way."]
    );

    // The known address got one link, in its own school's outbox, and nothing else did
    // (beside the receipt of the signature the test school starts with).
    let a = app
        .store
        .outbox_page(&PeopleAdmin::for_operator(app.a.school), 0, 10)
        .await
        .unwrap();
    let links: Vec<_> = a
        .mails
        .iter()
        .filter(|m| !m.subject.starts_with("Your receipt:"))
        .collect();
    assert_eq!((a.total, links.len()), (2, 1));
    assert_eq!(links[0].to_email, governor.email);
    assert!(links[0].subject.starts_with("Sign in to Undersign – "));
    let b = app
        .store
        .outbox_page(&PeopleAdmin::for_operator(app.b.school), 0, 10)
        .await
        .unwrap();
    assert!(
        b.mails
            .iter()
            .all(|m| m.subject.starts_with("Your receipt:")),
        "{:?}",
        b.mails
    );

    // Not an address at all: the form again, saying what is wrong.
    let bad = ask(&app, "not an address").await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.select_text("#email").len(), 1);

    // Five requests per address in 15 minutes, then a pause.
    for _ in 0..4 {
        assert_eq!(ask(&app, governor.email.as_str()).await.status, 200);
    }
    assert_eq!(ask(&app, governor.email.as_str()).await.status, 429);
}
