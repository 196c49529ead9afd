//! The disclosure pages: asking (errors named by field), deciding, reading and exporting
//! (each recorded), and the person's own page.

use axum::http::StatusCode;
use undersign_core::access::WebRulesOwner;
use undersign_core::logs::{LogBatch, LogClass, LoggedRequest, Outcome, Via};
use undersign_core::person::{PersonUpdate, Role};

use crate::support::TestApp;

/// One stored request of `person` today, denied.
async fn a_blocked_request(app: &TestApp, person: undersign_core::PersonId) {
    let now = undersign_core::time::now();
    let owner = WebRulesOwner::for_operator(app.a.school);
    let request = LoggedRequest {
        line: 1,
        at: now,
        client: "10.0.0.9".parse().unwrap(),
        proxy_user: None,
        method: "GET".into(),
        url: "http://www.facebook.com/".into(),
        host: "www.facebook.com".into(),
        squid_code: "TCP_DENIED".into(),
        status: 403,
        bytes: 3900,
        elapsed_ms: 1,
        content_type: None,
        outcome: Outcome::Denied,
        rule: Some("social-in-lessons".into()),
        category: Some("socialnetworking".into()),
        statement: Some(3),
        class: LogClass::Blocked,
        person: Some(person),
        device: None,
        via: Via::DeviceHolder,
        search: Some("how to get round the school filter".into()),
    };
    app.store
        .load_logs(&owner, &LogBatch::of("file:test", 0, 1, vec![request]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_line_manager_asks_the_head_approves_the_manager_reads_and_the_person_sees_each_look() {
    let app = TestApp::new().await;
    let staff = app.a.people[&Role::Staff].clone();
    let manager = app.a.people[&Role::LeadershipTeam].clone();
    let head = app.a.people[&Role::Headteacher].clone();
    app.store
        .update_person(
            &undersign_core::access::PeopleAdmin::for_operator(app.a.school),
            staff.id,
            PersonUpdate {
                full_name: staff.full_name.clone(),
                email: staff.email.clone(),
                roles: staff.roles.clone(),
                line_manager: Some(manager.id),
                status: staff.status,
            },
        )
        .await
        .unwrap();
    a_blocked_request(&app, staff.id).await;
    let today = undersign_core::time::now().date_naive().to_string();

    let m = app.login(&manager).await;
    // Every missing field is named.
    let bad = app.post("/disclosures", &m, &[("reason", "".into())]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let named: Vec<String> = bad.select_text(".error-summary a");
    assert_eq!(named.len(), 4, "{named:?}");
    let asked = app
        .post(
            "/disclosures",
            &m,
            &[
                ("subject", staff.id.to_string()),
                ("from", today.clone()),
                ("to", today.clone()),
                ("reason", "Use of social media in lessons reported".into()),
            ],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    let at = asked.location().to_owned();
    // Not readable before a decision: the page offers no reading, and a forced one is refused.
    let record = app.get(&at, &m).await;
    assert!(!record.body.contains("Read the log"));
    assert_eq!(
        app.post(&format!("{at}/read"), &m, &[]).await.status,
        StatusCode::CONFLICT
    );

    // The staff member, another colleague, and the manager's own decision: no.
    let s = app.login(&staff).await;
    assert_eq!(app.get(&at, &s).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(
            &format!("{at}/decision"),
            &m,
            &[("decision", "approve".into())]
        )
        .await
        .status,
        StatusCode::CONFLICT,
        "the requester never decides"
    );

    let h = app.login(&head).await;
    let decided = app
        .post(
            &format!("{at}/decision"),
            &h,
            &[("decision", "approve".into()), ("open_days", "3".into())],
        )
        .await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
    // The head cannot read it: only the requester.
    assert_eq!(
        app.post(&format!("{at}/read"), &h, &[]).await.status,
        StatusCode::CONFLICT
    );

    let read = app.post(&format!("{at}/read"), &m, &[]).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(
        read.body.contains("http://www.facebook.com/"),
        "{}",
        read.body
    );
    assert!(read.body.contains("how to get round the school filter"));
    assert_eq!(read.headers["cache-control"], "no-store");
    let csv = app.post(&format!("{at}/log.csv"), &m, &[]).await;
    assert_eq!(csv.status, StatusCode::OK);
    let reference = at.rsplit('/').next().map(|id| format!("D-{id}")).unwrap();
    assert!(
        csv.body.lines().skip(1).all(|l| l.starts_with(&reference)),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("blocked,"), "{}", csv.body);
    assert!(csv.body.contains(",search,"), "{}", csv.body);
    let pdf = app.post(&format!("{at}/log.pdf"), &m, &[]).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    if let Some(text) = crate::documents::text_of(&pdf.bytes) {
        assert!(text.contains(&format!("Disclosure {reference}")), "{text}");
        assert!(text.contains("www.facebook.com"), "{text}");
        assert!(
            text.contains("how to get round the school filter"),
            "{text}"
        );
    }

    // The person's own page lists the request, the decision and both looks.
    let me = app.get("/me", &s).await;
    assert!(me.body.contains(&reference), "{}", me.body);
    let looks = me.select_text("section[aria-labelledby=my-log] li li");
    assert_eq!(looks.len(), 3, "the page, the CSV and the PDF: {looks:?}");
    assert!(looks.iter().all(|l| l.contains(manager.full_name.as_str())));
}
