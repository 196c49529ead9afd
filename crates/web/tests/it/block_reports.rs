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
    // The address in the link is only what the block page claimed; the sender is the
    // connection (here the test's, which has none).
    assert!(cells.contains(&"client 10.1.2.3".to_string()), "{cells:?}");
    assert!(
        cells.contains(&"someone at unknown".to_string()),
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
        cells.contains(&format!(
            "{} (signed in)",
            app.a.people[&Role::Staff].full_name
        )),
        "{cells:?}"
    );
}

#[tokio::test]
async fn the_block_page_takes_a_few_reports_from_one_address_then_asks_to_wait() {
    let app = TestApp::new().await;
    let form = |n: usize| {
        vec![
            ("url", format!("http://example.org/{n}")),
            ("src", format!("10.9.9.{n}")),
            ("school", "school-a".into()),
            ("reason", "Lesson".into()),
        ]
    };
    let limit = usize::try_from(undersign_core::block_reports::PER_ADDRESS_PER_HOUR).unwrap();
    for n in 0..limit {
        let sent = app
            .send(Method::POST, "/blocked", None, Some(&form(n)))
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    }
    // A different claimed client in the link changes nothing: the sender is the same.
    let refused = app
        .send(Method::POST, "/blocked", None, Some(&form(99)))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused
            .select_text(".error-summary li")
            .join(" ")
            .contains("in the last hour"),
        "{}",
        refused.body
    );
}
