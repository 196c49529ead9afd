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
