//! The request pages: a form per kind (errors named by field), the decider's queue and
//! decision (with the safety checklist enforced on the form), the requester's answer,
//! the approved-software register, published rulings, and who decides each kind.

use axum::http::StatusCode;
use undersign_core::person::Role;

use crate::support::TestApp;

#[tokio::test]
async fn a_request_is_asked_questioned_answered_approved_and_found_in_the_register() {
    let app = TestApp::new().await;
    let staff = app.a.people[&Role::Staff].clone();
    let nm = app.a.people[&Role::NetworkManager].clone();
    let s = app.login(&staff).await;

    // Every missing answer is named, and what was typed is kept.
    let bad = app
        .post(
            "/requests/new/install",
            &s,
            &[("item", "Audacity 3.4".into()), ("when", "x".into())],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let named = bad.select_text(".error-summary a");
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(bad.body.contains("value=\"Audacity 3.4\""));
    let sent = app
        .post(
            "/requests/new/install",
            &s,
            &[
                ("item", "Audacity 3.4".into()),
                ("purpose", "Podcasts in English".into()),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let page = sent.location().to_owned();

    // The network manager finds it in their queue and asks a question.
    let n = app.login(&nm).await;
    let list = app.get("/requests", &n).await;
    assert!(list.body.contains("Waiting for you"), "{}", list.body);
    assert!(list.body.contains("Audacity 3.4"));
    // No decision chosen: named.
    let none = app
        .post(&format!("{page}/decision"), &n, &[("note", "".into())])
        .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    let asked = app
        .post(
            &format!("{page}/decision"),
            &n,
            &[
                ("decision", "more_info".into()),
                ("note", "Which rooms?".into()),
            ],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);

    // The requester answers and revises the request.
    let shown = app.get(&page, &s).await;
    assert!(shown.body.contains("Answer the question"));
    assert!(shown.body.contains("Which rooms?"));
    let answered = app
        .post(
            &format!("{page}/answer"),
            &s,
            &[
                ("reply", "The English block only".into()),
                ("item", "Audacity 3.4".into()),
                ("purpose", "Podcasts in English".into()),
                ("where", "English block".into()),
            ],
        )
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER);

    // Approved with conditions; the requester may not decide their own.
    let own = app
        .post(
            &format!("{page}/decision"),
            &s,
            &[("decision", "approve".into())],
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let approved = app
        .post(
            &format!("{page}/decision"),
            &n,
            &[
                ("decision", "approve".into()),
                ("conditions", "Installed by IT".into()),
                ("expires", "2099-07-31".into()),
            ],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    let shown = app.get(&page, &s).await;
    assert_eq!(shown.select_text("dd")[2], "approved");
    let history = shown.select_text("ol li");
    assert_eq!(history.len(), 4, "{history:?}");

    // Everyone can find it in the register.
    let t = app.login(&app.a.people[&Role::Governor]).await;
    let found = app.get("/software?q=audacity+english", &t).await;
    assert!(found.body.contains("Installed by IT"), "{}", found.body);
    let missed = app.get("/software?q=photoshop", &t).await;
    assert!(missed.body.contains("Nothing approved matches"));
}

#[tokio::test]
async fn a_closed_space_needs_its_checklist_and_a_ruling_is_published_to_all_staff() {
    let app = TestApp::new().await;
    let staff = app.a.people[&Role::Staff].clone();
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let s = app.login(&staff).await;
    let sent = app
        .post(
            "/requests/new/closed_space",
            &s,
            &[
                ("platform", "Padlet".into()),
                ("purpose", "Year 6 science journal".into()),
            ],
        )
        .await;
    let page = sent.location().to_owned();
    let shown = app.get(&page, &head).await;
    assert!(shown.body.contains("safety checklist is not complete"));
    let refused = app
        .post(
            &format!("{page}/decision"),
            &head,
            &[("decision", "approve".into())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("href=\"#who_can_join\""));

    let sent = app
        .post(
            "/requests/new/reasonable_use",
            &s,
            &[("question", "Online banking at lunchtime".into())],
        )
        .await;
    let page = sent.location().to_owned();
    let ruled = app
        .post(
            &format!("{page}/decision"),
            &head,
            &[
                ("decision", "approve".into()),
                ("publish", "yes".into()),
                ("statement", "4".into()),
                (
                    "ruling",
                    "Personal online banking during breaks is reasonable.".into(),
                ),
            ],
        )
        .await;
    assert_eq!(ruled.status, StatusCode::SEE_OTHER);
    let r = app.login(&app.a.people[&Role::Receptionist]).await;
    let rulings = app.get("/rulings", &r).await;
    assert_eq!(
        rulings.select_text("h2"),
        ["Ruling 1: reasonable (statement 4)"]
    );

    // The headteacher routes reasonable-use questions to the governors.
    let routed = app
        .post(
            "/requests/deciders",
            &head,
            &[
                ("kind", "reasonable_use".into()),
                ("decider", "governor".into()),
            ],
        )
        .await;
    assert_eq!(routed.status, StatusCode::SEE_OTHER);
    let form = app.get("/requests/new/reasonable_use", &s).await;
    assert!(
        form.body.contains("Decided by: the governor"),
        "{}",
        form.body
    );
}
