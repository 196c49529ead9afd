//! Writing and publishing versions as the headteacher sees it: the redline beside a
//! draft, the confirmation before publishing, and what the policy page says afterwards.

use axum::http::StatusCode;
use undersign_core::person::Role;

use crate::support::{Reply, TestApp};

fn attr(reply: &Reply, selector: &str, name: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(&reply.body);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .filter_map(|e| e.value().attr(name).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_redline_shows_numbered_statements_without_markup_in_a_named_region() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let page = app.get(&format!("/versions/{}", app.a.draft), &head).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    // A section named by its heading is a region screen readers can find.
    assert_eq!(
        attr(&page, "section#redline", "aria-labelledby"),
        vec!["redline-title"]
    );
    assert_eq!(
        page.select_text("#redline-title"),
        vec!["Changes since version 1"]
    );
    // Version 2 adds a third statement; the second is shown beside it for context.
    assert_eq!(
        page.select_text(".redline .redline-label"),
        vec!["Statement 2", "Statement 3, added"]
    );
    assert_eq!(
        page.select_text(".redline ins"),
        vec!["added: A new statement."]
    );
    assert!(page.select_text(".redline del").is_empty());
    let shown = page.select_text(".redline").join(" ");
    assert!(!shown.contains('#') && !shown.contains("- "), "{shown}");
    assert_eq!(
        page.select_text(".redline .redline-skipped"),
        vec!["Unchanged and not shown: statement 1 and 1 heading."]
    );
}

#[tokio::test]
async fn a_text_starting_with_a_blank_line_comes_back_from_the_editor_unchanged() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let body = "\n\n## Rules\n\n- I will lock my screen.\n";
    let saved = app
        .post(
            &format!("/versions/{}", app.a.draft),
            &head,
            &[
                ("body", body.into()),
                ("change_kind", "major".into()),
                ("audience", "staff".into()),
                ("summary", "".into()),
                ("declaration", "".into()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = app.get(&format!("/versions/{}", app.a.draft), &head).await;
    // Parsed as a browser parses it: what the textarea holds is what it will send back.
    assert_eq!(
        page.select_text_raw("textarea#body"),
        vec![body.to_string()]
    );
}

#[tokio::test]
async fn publishing_first_says_who_will_be_asked_then_who_was() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let draft = app.get(&format!("/versions/{}", app.a.draft), &head).await;
    assert_eq!(
        attr(
            &draft,
            &format!("form[action=\"/versions/{}/publish\"]", app.a.draft),
            "method"
        ),
        vec!["get"],
        "the draft's button leads to the confirmation, it publishes nothing"
    );

    let confirm = app
        .get(&format!("/versions/{}/publish", app.a.draft), &head)
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    // Seven people in staff roles and one governor; a major change asks them all.
    let who = confirm.select_text("#who-will-be-asked").join(" ");
    assert!(
        who.contains("Asked to sign version 2: 8 people (7 staff and 1 governor)."),
        "{who}"
    );
    assert!(who.contains("Visitors are asked"), "{who}");
    let publish = format!("/versions/{}/publish", app.a.draft);
    assert_eq!(
        attr(&confirm, "main form[method=post]", "action"),
        vec![publish.clone()]
    );
    assert_eq!(
        attr(
            &confirm,
            "main form[method=post] input[name=csrf_token]",
            "value"
        ),
        vec![head.csrf.clone()]
    );
    let unchanged = app
        .store
        .version(app.a.school, app.a.draft)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        unchanged.status,
        undersign_core::policy::VersionStatus::Draft
    );

    let published = app.post(&publish, &head, &[]).await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.body
    );
    assert_eq!(
        published.location(),
        format!("/policies/{}?published=2", app.a.policy)
    );
    let policy = app.get(published.location(), &head).await;
    assert_eq!(
        policy.select_text("#published"),
        vec![
            "Version 2 is published. Asked to sign it: 8 people (7 staff and 1 governor). Visitors are asked to sign it when they sign in at reception."
        ]
    );
    // The replaced version is superseded, not published beside the new one.
    assert_eq!(
        policy.select_text("tbody tr td:nth-child(2)"),
        vec!["published", "superseded"]
    );
    let old = app
        .get(&format!("/versions/{}", app.a.published), &head)
        .await;
    assert_eq!(old.select_text("h1 .tag"), vec!["superseded"]);

    // A published version has nothing to confirm.
    let again = app.get(&publish, &head).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_minor_version_asks_only_those_who_have_not_signed() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    // Version 2 becomes a minor change: the staff member who signed version 1 is not
    // asked again.
    let saved = app
        .post(
            &format!("/versions/{}", app.a.draft),
            &head,
            &[
                (
                    "body",
                    format!("{}- A new statement.\n", crate::support::POLICY_TEXT),
                ),
                ("change_kind", "minor".into()),
                ("audience", "staff".into()),
                ("audience", "governors".into()),
                ("summary", "".into()),
                ("declaration", "".into()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let confirm = app
        .get(&format!("/versions/{}/publish", app.a.draft), &head)
        .await;
    let who = confirm.select_text("#who-will-be-asked").join(" ");
    assert!(
        who.contains("Asked to sign version 2: 7 people (6 staff and 1 governor)."),
        "{who}"
    );
    assert!(!who.contains("Visitors"), "{who}");
}
