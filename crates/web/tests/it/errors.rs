//! The error page: the site's navigation for a signed-in person, a message written as a
//! sentence, and advice worded for the reader's role.

use axum::http::StatusCode;
use undersign_core::person::Role;

use crate::support::TestApp;

#[tokio::test]
async fn a_signed_in_person_keeps_the_navigation_and_gets_advice_for_their_role() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let refused = app.get("/policies", &admin).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let nav = refused.select_text("nav[aria-label=Main] a");
    assert!(nav.contains(&"People".to_string()), "{nav:?}");
    assert_eq!(
        refused.select_text(".lead"),
        vec!["You do not have access to this page."]
    );
    let advice = refused.select_text("main p").join(" ");
    assert!(!advice.contains("school administrator"), "{advice}");
    assert!(advice.contains("People page"), "{advice}");

    let staff = app.login(&app.a.people[&Role::Staff]).await;
    let refused = app.get("/policies", &staff).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.select_text("nav[aria-label=Main] a")[0],
        "My page".to_string()
    );
    let advice = refused.select_text("main p").join(" ");
    assert!(
        advice.contains("ask your headteacher or school administrator"),
        "{advice}"
    );

    let missing = app.get("/me/signatures/999999", &staff).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.select_text(".lead"), vec!["Page not found."]);
    assert!(!missing.select_text("nav[aria-label=Main]").is_empty());
}
