//! Importing the roster through the upload page.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use undersign_core::person::Role;

use crate::support::{HOST, ORIGIN, Reply, Session, TestApp};

const BOUNDARY: &str = "----undersign-test-boundary";

async fn upload(app: &TestApp, session: &Session, csv: &[u8]) -> Reply {
    upload_to(app, session, "/people/import", csv).await
}

/// Posts `csv` as the file of the upload form at `path`.
pub async fn upload_to(app: &TestApp, session: &Session, path: &str, csv: &[u8]) -> Reply {
    let mut body = Vec::new();
    body.extend(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{}\r\n",
            session.csrf
        )
        .as_bytes(),
    );
    body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"staff.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
    body.extend(csv);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, &session.cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap();
    app.raw(req).await
}

pub fn hidden(reply: &Reply, name: &str) -> String {
    let doc = scraper::Html::parse_document(&reply.body);
    let sel = scraper::Selector::parse(&format!("input[name={name}]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_else(|| panic!("no {name} in {}", reply.body))
        .to_string()
}

const GOOD: &[u8] = b"Staff Code,Preferred Forename,Legal Surname,Email Address,Staff Role,Employment Start Date\r\n\
    N1,Nia,Newcomer,nia@school-a.sch.uk,Teacher,04/01/2099\r\n\
    N2,Gwyn,Jones,gwyn@school-a.sch.uk,Governor,\r\n";

#[tokio::test]
async fn an_upload_shows_the_joiners_and_applying_it_adds_them() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let before = app.store.people(app.a.school).await.unwrap().len();
    let preview = upload(&app, &admin, GOOD).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(
        preview.select_text("p.lead"),
        vec!["2 joining, 0 changing, 0 leaving, 0 unchanged."]
    );
    let asks = preview.select_text("tbody tr td:last-child");
    assert!(
        asks[0].starts_with("ICT Acceptable Use Policy version 1 by 18 January 2099"),
        "{asks:?}"
    );
    assert_eq!(
        app.store.people(app.a.school).await.unwrap().len(),
        before,
        "a preview changes nothing"
    );
    let done = app
        .post(
            "/people/import/apply",
            &admin,
            &[
                ("csv", hidden(&preview, "csv")),
                ("digest", hidden(&preview, "digest")),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        done.select_text("[role=status] p"),
        vec!["2 joined, 0 changed, 0 left. Every change is recorded in the evidence ledger."]
    );
    assert_eq!(
        app.store.people(app.a.school).await.unwrap().len(),
        before + 2
    );
    assert_eq!(
        app.store.people(app.b.school).await.unwrap().len(),
        before,
        "school b untouched"
    );
}

#[tokio::test]
async fn a_malformed_upload_names_each_line_and_field_and_changes_nothing() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::Headteacher]).await;
    let before = app.store.people(app.a.school).await.unwrap();
    let reply = upload(
        &app,
        &admin,
        b"Full Name,Email,Role\nNia Newcomer,nia@school-a.sch.uk,Teacher\nJo Brown,jo.school-a.sch.uk,Caretaker\n",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = reply.select_text(".error-summary li a");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("Line 3, Email:"), "{errors:?}");
    assert!(
        errors[1].starts_with("Line 3, Role: unknown role \"Caretaker\""),
        "{errors:?}"
    );
    assert_eq!(app.store.people(app.a.school).await.unwrap(), before);
    let empty = upload(&app, &admin, b"").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_apply_after_the_people_changed_shows_the_new_plan_and_changes_nothing() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let preview = upload(&app, &admin, GOOD).await;
    // Someone adds Nia by hand before the preview is applied.
    app.post(
        "/people/new",
        &admin,
        &[
            ("full_name", "Nia Newcomer".into()),
            ("email", "nia@school-a.sch.uk".into()),
            ("role", "staff".into()),
        ],
    )
    .await;
    let before = app.store.people(app.a.school).await.unwrap();
    let reply = app
        .post(
            "/people/import/apply",
            &admin,
            &[
                ("csv", hidden(&preview, "csv")),
                ("digest", hidden(&preview, "digest")),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(
        reply.select_text("p.lead"),
        vec!["1 joining, 1 changing, 0 leaving, 0 unchanged."]
    );
    assert_eq!(app.store.people(app.a.school).await.unwrap(), before);
}
