//! The DSL's safeguarding alerts: named to the DSL only, closed with a record.

use axum::http::StatusCode;
use undersign_core::person::Role;

use crate::support::TestApp;

#[tokio::test]
async fn the_dsl_sees_who_and_closes_an_alert_with_what_was_done() {
    let app = TestApp::with_reception().await;
    let staff = app.a.people[&Role::Staff].clone();
    let dsl = app.login(&app.a.people[&Role::Dsl]).await;
    let page = app.get("/safeguarding", &dsl).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(staff.full_name.as_str()),
        "{}",
        page.body
    );
    assert!(page.body.contains("http://harm.test/"));

    let close = format!("/safeguarding/{}/close", app.a.alert);
    let short = app
        .post(
            &close,
            &dsl,
            &[("action", "spoke".into()), ("outcome", "".into())],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.select_text(".error-summary a").len(), 2);
    let done = app
        .post(
            &close,
            &dsl,
            &[
                ("action", "Spoke with the member of staff".into()),
                ("outcome", "Support arranged; nothing further".into()),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let after = app.get("/safeguarding", &dsl).await;
    assert!(after.body.contains("No open alerts."));
    assert!(after.body.contains("Support arranged; nothing further"));

    // Nobody else sees the page; the nav shows it to the DSL only.
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    assert_eq!(
        app.get("/safeguarding", &head).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        !app.get("/me", &head)
            .await
            .body
            .contains("Safeguarding alerts")
    );
}

#[tokio::test]
async fn the_reports_count_without_naming_and_the_head_sets_retention() {
    let app = TestApp::with_reception().await;
    let staff = app.a.people[&Role::Staff].clone();
    let nm = app.login(&app.a.people[&Role::NetworkManager]).await;
    let report = app.get("/logs/reports", &nm).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.contains("harm.test"), "{}", report.body);
    assert!(report.body.contains("illegal-content"));
    assert!(
        !report.body.contains(staff.full_name.as_str()),
        "the report names nobody"
    );
    assert!(!report.body.contains(staff.email.as_str()));

    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let bad = app
        .post(
            "/logs/settings",
            &head,
            &[
                ("routine_days", "400".into()),
                ("blocked_days", "30".into()),
                ("safeguarding_days", "x".into()),
                ("categories", "self harm!".into()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.select_text(".error-summary a").len(), 2, "{}", bad.body);
    let governor = app.a.people[&Role::Governor].id.to_string();
    let saved = app
        .post(
            "/logs/settings",
            &head,
            &[
                ("routine_days", "30".into()),
                ("blocked_days", "180".into()),
                ("safeguarding_days", "2190".into()),
                ("categories", "selfharm, Extremism".into()),
                ("decider", governor.clone()),
                ("search_terms", "on".into()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let s = app.store.log_settings(app.a.school).await.unwrap();
    assert_eq!(
        (s.routine_days, s.blocked_days, s.safeguarding_days),
        (30, 180, 2190)
    );
    assert_eq!(s.safeguarding_categories, ["selfharm", "extremism"]);
    assert_eq!(
        s.head_requests_decider.map(|p| p.to_string()),
        Some(governor)
    );
    assert!(s.search_terms);
    let shown = app.get("/logs/settings", &head).await;
    assert!(
        shown.body.contains(r#"value="on" checked"#),
        "{}",
        shown.body
    );
}
