//! The block page Squid redirects to, and the "blocked wrongly" reports it sends to the
//! network manager.

use axum::http::{Method, StatusCode};
use undersign_core::person::Role;

use crate::support::TestApp;

const PAGE: &str = "/blocked?url=http%3A%2F%2Fwww.facebook.com%2F&src=10.1.2.3&user=&msg=AUP+statement+3%3A+I+will+not+access+facebook+%3Cscript%3Ealert(1)%3C%2Fscript%3E&school=school-a";

#[tokio::test]
async fn the_block_page_quotes_the_statement_as_text() {
    let app = TestApp::new().await;
    let reply = app.send(Method::GET, PAGE, None, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.select_text("blockquote.statement"),
        vec!["AUP statement 3: I will not access facebook <script>alert(1)</script>"]
    );
    assert!(
        !reply.body.contains("<script>alert"),
        "the message must be escaped"
    );
    assert!(reply.body.contains("statement 3 of the school"));
    assert_eq!(
        reply.select_text(".lead"),
        vec!["School school-a's web rules stopped this page."]
    );
}

#[tokio::test]
async fn a_report_from_the_block_page_reaches_only_that_schools_network_manager() {
    let app = TestApp::new().await;
    let form = [
        ("url", "http://www.facebook.com/".to_string()),
        ("msg", "AUP statement 3: I will not access facebook".into()),
        ("src", "10.1.2.3".into()),
        ("user", "".into()),
        ("school", "school-a".into()),
        ("reason", "The school's own page for parents".into()),
    ];
    let empty = app
        .send(Method::POST, "/blocked", None, Some(&form[..5]))
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty
            .select_text(".error-summary li")
            .join(" ")
            .contains("say why")
    );

    let sent = app.send(Method::POST, "/blocked", None, Some(&form)).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.body.contains("The network manager has your request"));

    let nm = app.login(&app.a.people[&Role::NetworkManager]).await;
    let list = app.get("/web-rules/reports", &nm).await;
    let cells = list.select_text("tbody td");
    assert!(
        cells.contains(&"someone at 10.1.2.3".to_string()),
        "{cells:?}"
    );
    assert!(cells.contains(&"The school's own page for parents".to_string()));

    let other = app.login(&app.b.people[&Role::NetworkManager]).await;
    assert!(
        app.get("/web-rules/reports", &other)
            .await
            .select_text("tbody td")
            .is_empty()
    );
    let staff = app.login(&app.a.people[&Role::Staff]).await;
    assert_eq!(
        app.get("/web-rules/reports", &staff).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_report_without_a_school_on_a_many_school_installation_is_refused_clearly() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Method::POST,
            "/blocked",
            None,
            Some(&[
                ("url", "http://x.example/".into()),
                ("reason", "why".into()),
            ]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .select_text("p.lead")
            .join(" ")
            .contains("must add &school=<short name>"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_signed_in_persons_report_carries_their_name() {
    let app = TestApp::new().await;
    let staff = app.login(&app.a.people[&Role::Staff]).await;
    let sent = app
        .post(
            "/blocked",
            &staff,
            &[
                ("url", "http://example.org/".into()),
                ("reason", "Homework site".into()),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let nm = app.login(&app.a.people[&Role::NetworkManager]).await;
    let cells = app
        .get("/web-rules/reports", &nm)
        .await
        .select_text("tbody td");
    assert!(
        cells.contains(&app.a.people[&Role::Staff].full_name.to_string()),
        "{cells:?}"
    );
}
