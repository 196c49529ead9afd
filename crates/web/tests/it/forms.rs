//! Forms end to end in process: signing and its refusals, declines, re-signing after a
//! major version, login throttling and session rotation, and the admin forms' refusals.
//! Every refusal is checked for its message and for having stored nothing.

use axum::http::{Method, StatusCode};
use base64::Engine;
use undersign_core::person::Role;
use undersign_core::policy::VersionStatus;

use crate::support::{PASSWORD, Session, TestApp, png};

fn sign_fields(app: &TestApp, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("declaration", "yes".into()),
        ("typed_name", name.into()),
        ("signature_kind", "typed".into()),
        ("typed_signature", name.into()),
        ("ack", app.a.reference.to_string()),
    ]
}

fn with(
    mut fields: Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    fields.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        fields.push((key, v.to_string()));
    }
    fields
}

async fn signed_entries(app: &TestApp) -> usize {
    app.store
        .ledger_entries(app.a.school)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "signed")
        .count()
}

async fn governor(app: &TestApp) -> (Session, String) {
    let g = &app.a.people[&Role::Governor];
    (app.login(g).await, g.full_name.to_string())
}

#[tokio::test]
async fn a_governor_signs_with_a_typed_name_and_finds_it_under_signed() {
    let app = TestApp::new().await;
    let (s, name) = governor(&app).await;
    let me = app.get("/me", &s).await;
    assert_eq!(
        me.select_text(".card h3"),
        vec!["ICT Acceptable Use Policy, version 1"]
    );

    // Opening the page (even twice) writes nothing to the ledger; what it served is
    // sealed into its form.
    let before = app.store.ledger_entries(app.a.school).await.unwrap().len();
    app.get(&format!("/sign/{}", app.a.published), &s).await;
    let page = app.get(&format!("/sign/{}", app.a.published), &s).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        app.store.ledger_entries(app.a.school).await.unwrap().len(),
        before
    );
    let served = page.select_attr("#sign-form input[name=served]", "value");
    assert!(!served.is_empty());

    // A token altered in the browser is refused, and nothing is recorded.
    let mut tampered = served.clone().into_bytes();
    tampered[3] = if tampered[3] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let mut fields = sign_fields(&app, &name);
    fields.push(("served", tampered));
    let refused = app
        .post(&format!("/sign/{}", app.a.published), &s, &fields)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("reload it"), "{}", refused.body);
    assert_eq!(
        app.store.ledger_entries(app.a.school).await.unwrap().len(),
        before
    );

    let mut fields = sign_fields(&app, &format!("  {}  ", name.to_uppercase()));
    fields.push(("served", served));
    let reply = app
        .post(&format!("/sign/{}", app.a.published), &s, &fields)
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(reply.location().starts_with("/me/signatures/"));

    let sig = app
        .store
        .signatures_of(app.a.school, app.a.people[&Role::Governor].id)
        .await
        .unwrap();
    assert_eq!(sig.len(), 1);
    assert_eq!(sig[0].context.user_agent, "undersign-tests");
    assert_eq!(sig[0].references.len(), 1);
    let entry = app
        .store
        .ledger_entries(app.a.school)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.kind, "signed");
    assert!(
        entry.payload.contains("\"viewed_seq\":null"),
        "{}",
        entry.payload
    );
    assert!(
        entry.payload.contains("\"served_at\":\"20"),
        "{}",
        entry.payload
    );
    assert!(sig[0].context.served_at.is_some());

    let me = app.get("/me", &s).await;
    assert!(me.select_text(".card h3").is_empty());
    assert_eq!(
        me.select_text("table tbody td:first-child a"),
        vec!["ICT Acceptable Use Policy"]
    );
    let page = app.get(reply.location(), &s).await;
    assert_eq!(
        page.select_text("dl.evidence dt + dd")[0],
        sig[0].typed_name,
        "the signature page shows the name as typed"
    );

    // The receipt email was queued with the signature (its PDF is made when it is sent).
    let admin = undersign_core::access::PeopleAdmin::for_operator(app.a.school);
    let queued: Vec<_> = app
        .store
        .outbox_page(&admin, 0, 10)
        .await
        .unwrap()
        .mails
        .into_iter()
        .filter(|m| m.to_email == app.a.people[&Role::Governor].email)
        .collect();
    assert_eq!(queued.len(), 1, "one receipt email");
    assert_eq!(queued[0].to_name, name);
    assert_eq!(
        queued[0].subject,
        "Your receipt: ICT Acceptable Use Policy version 1"
    );
}

#[tokio::test]
async fn submitting_twice_makes_one_signature() {
    let app = TestApp::new().await;
    let (s, name) = governor(&app).await;
    let path = format!("/sign/{}", app.a.published);
    let first = app.post(&path, &s, &sign_fields(&app, &name)).await;
    let second = app.post(&path, &s, &sign_fields(&app, &name)).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    assert_eq!(first.location(), second.location());
    // The staff member's seeded signature and the governor's: two, not three.
    assert_eq!(signed_entries(&app).await, 2);
}

async fn refused(app: &TestApp, fields: Vec<(&'static str, String)>, message: &str) {
    let (s, _) = governor(app).await;
    let before = signed_entries(app).await;
    let reply = app
        .post(&format!("/sign/{}", app.a.published), &s, &fields)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let summary = reply.select_text(".error-summary li").join(" | ");
    assert!(
        summary.contains(message),
        "expected {message:?} in {summary:?}"
    );
    assert_eq!(signed_entries(app).await, before, "something was stored");
    assert!(
        app.store
            .signatures_of(app.a.school, app.a.people[&Role::Governor].id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_wrong_name_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    refused(
        &app,
        sign_fields(&app, "Somebody Else"),
        "does not match the name on your record",
    )
    .await;
}

#[tokio::test]
async fn an_unticked_declaration_is_refused() {
    let app = TestApp::new().await;
    let name = app.a.people[&Role::Governor].full_name.to_string();
    refused(
        &app,
        with(sign_fields(&app, &name), "declaration", None),
        "Tick the declaration",
    )
    .await;
}

#[tokio::test]
async fn an_unacknowledged_reference_is_refused() {
    let app = TestApp::new().await;
    let name = app.a.people[&Role::Governor].full_name.to_string();
    refused(
        &app,
        with(sign_fields(&app, &name), "ack", None),
        "Confirm that you have read Council social media policy",
    )
    .await;
}

fn drawn(app: &TestApp, data_url: String) -> Vec<(&'static str, String)> {
    let name = app.a.people[&Role::Governor].full_name.to_string();
    let f = with(sign_fields(app, &name), "signature_kind", Some("drawn"));
    with(f, "signature_png", Some(&data_url))
}

#[tokio::test]
async fn a_signature_that_is_not_a_png_is_refused() {
    let app = TestApp::new().await;
    let gif = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(b"GIF89a0000000000000000000000")
    );
    refused(&app, drawn(&app, gif), "is not a PNG image").await;
    refused(
        &app,
        drawn(&app, "data:image/svg+xml;base64,PHN2Zz4=".into()),
        "must be a PNG image",
    )
    .await;
}

#[tokio::test]
async fn a_signature_image_too_large_is_refused() {
    let app = TestApp::new().await;
    let wide = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(9000, 100))
    );
    refused(&app, drawn(&app, wide), "9000×100 pixels").await;
    let mut heavy = png(600, 200);
    heavy.resize(200 * 1024, 0);
    let heavy = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(heavy)
    );
    refused(&app, drawn(&app, heavy), "too large").await;
}

#[tokio::test]
async fn a_drawn_signature_is_kept_and_shown_back() {
    let app = TestApp::new().await;
    let (s, _) = governor(&app).await;
    let image = png(600, 200);
    let url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&image)
    );
    let reply = app
        .post(&format!("/sign/{}", app.a.published), &s, &drawn(&app, url))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let mark = app.get(&format!("{}/mark.png", reply.location()), &s).await;
    assert_eq!(mark.status, StatusCode::OK);
    assert_eq!(mark.headers["content-type"], "image/png");
}

#[tokio::test]
async fn a_decline_is_recorded_and_shown_to_the_headteacher() {
    let app = TestApp::new().await;
    let (s, _) = governor(&app).await;
    let empty = app
        .post(
            &format!("/sign/{}/decline", app.a.published),
            &s,
            &[("reason", "  ".into())],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .post(
            &format!("/sign/{}/decline", app.a.published),
            &s,
            &[("reason", "Statement 2 <b>is unclear</b>".into())],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let list = app.get("/declines", &head).await;
    let cells = list.select_text("tbody td");
    assert!(
        cells.iter().any(|c| c == "Statement 2 <b>is unclear</b>"),
        "{cells:?}"
    );
    assert!(
        !list.body.contains("<b>is unclear"),
        "reason must be escaped"
    );
    assert_eq!(
        app.store
            .ledger_entries(app.a.school)
            .await
            .unwrap()
            .last()
            .unwrap()
            .kind,
        "declined"
    );
}

#[tokio::test]
async fn a_major_version_asks_again_with_a_redline_and_a_minor_one_asks_nobody() {
    let app = TestApp::new().await;
    let staff = app.login(&app.a.people[&Role::Staff]).await;
    assert!(
        app.get("/me", &staff)
            .await
            .select_text(".card h3")
            .is_empty()
    );

    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let publish = app
        .post(&format!("/versions/{}/publish", app.a.draft), &head, &[])
        .await;
    assert_eq!(publish.status, StatusCode::SEE_OTHER, "{}", publish.body);

    let me = app.get("/me", &staff).await;
    assert_eq!(
        me.select_text(".card h3"),
        vec!["ICT Acceptable Use Policy, version 2"]
    );
    let sign = app.get(&format!("/sign/{}", app.a.draft), &staff).await;
    assert_eq!(
        sign.select_text("#what-changed"),
        vec!["What changed since you signed version 1"]
    );
    assert_eq!(
        sign.select_text(".redline ins"),
        vec!["added: A new statement."]
    );

    // Version 2 refers to the document version 1 did (carried over) and one of its own.
    let v2 = app
        .store
        .version(app.a.school, app.a.draft)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.references.len(), 2);
    let name = app.a.people[&Role::Staff].full_name.to_string();
    let mut fields = with(sign_fields(&app, &name), "ack", None);
    fields.extend(v2.references.iter().map(|r| ("ack", r.id.to_string())));
    let signed = app
        .post(&format!("/sign/{}", app.a.draft), &staff, &fields)
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);

    // A minor version: write, publish, and the staff member is not asked.
    let new = app
        .post(
            &format!("/policies/{}/versions/new", app.a.policy),
            &head,
            &[
                (
                    "body",
                    format!(
                        "{}- A new statement, reworded.\n",
                        crate::support::POLICY_TEXT
                    ),
                ),
                ("change_kind", "minor".into()),
                ("audience", "staff".into()),
                ("audience", "governors".into()),
                ("summary", "Typo".into()),
                ("declaration", "".into()),
            ],
        )
        .await;
    assert_eq!(new.status, StatusCode::SEE_OTHER, "{}", new.body);
    let published = app
        .post(&format!("{}/publish", new.location()), &head, &[])
        .await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.body
    );
    assert!(
        app.get("/me", &staff)
            .await
            .select_text(".card h3")
            .is_empty()
    );
}

#[tokio::test]
async fn script_in_policy_markdown_is_refused_with_its_line_and_nothing_changes() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let before = app
        .store
        .version(app.a.school, app.a.draft)
        .await
        .unwrap()
        .unwrap();
    let reply = app
        .post(
            &format!("/versions/{}", app.a.draft),
            &head,
            &[
                ("body", "- One\n- Two\n<script>alert(1)</script>\n".into()),
                ("change_kind", "major".into()),
                ("audience", "staff".into()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = reply.select_text(".error-summary li").join(" ");
    assert!(summary.contains("line 3: HTML is not allowed"), "{summary}");
    assert_eq!(
        app.store
            .version(app.a.school, app.a.draft)
            .await
            .unwrap()
            .unwrap(),
        before
    );
}

#[tokio::test]
async fn a_published_version_cannot_be_edited_through_the_form() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app
        .post(
            &format!("/versions/{}", app.a.published),
            &head,
            &[
                ("body", "- Changed\n".into()),
                ("change_kind", "major".into()),
                ("audience", "staff".into()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    let v = app
        .store
        .version(app.a.school, app.a.published)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.status, VersionStatus::Published);
    assert_eq!(v.body_md, crate::support::POLICY_TEXT);
}

#[tokio::test]
async fn script_in_a_name_is_refused_and_nobody_is_added() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let before = app.store.people(app.a.school).await.unwrap().len();
    let reply = app
        .post(
            "/people/new",
            &head,
            &[
                ("full_name", "<script>alert(1)</script>".into()),
                ("email", "x@school-a.sch.uk".into()),
                ("role", "staff".into()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .select_text(".error-summary li")
            .join(" ")
            .contains("full name: a name may contain letters")
    );
    assert_eq!(app.store.people(app.a.school).await.unwrap().len(), before);
}

#[tokio::test]
async fn a_duplicate_email_is_refused_with_a_message() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let taken = app.a.people[&Role::Staff].email.to_string();
    let reply = app
        .post(
            "/people/new",
            &head,
            &[
                ("full_name", "Dup Licate".into()),
                ("email", taken),
                ("role", "staff".into()),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert!(!reply.select_text(".error-summary li").is_empty());
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_even_with_the_right_password() {
    let app = TestApp::new().await;
    let email = app.a.people[&Role::Staff].email.to_string();
    for _ in 0..undersign_web::auth::MAX_FAILURES_PER_EMAIL {
        let r = app
            .send(
                Method::POST,
                "/login",
                None,
                Some(&[("email", email.clone()), ("password", "wrong".into())]),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(
            r.body
                .contains("The email address or password is not right")
        );
    }
    let r = app
        .send(
            Method::POST,
            "/login",
            None,
            Some(&[("email", email), ("password", PASSWORD.into())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn logging_in_gives_a_new_session_id_and_ends_the_old_one() {
    let app = TestApp::new().await;
    let person = &app.a.people[&Role::Staff];
    let first = app.login(person).await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header("host", crate::support::HOST)
        .header("origin", crate::support::ORIGIN)
        .header("cookie", &first.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!(
            "email={}&password={}",
            person.email,
            PASSWORD.replace(' ', "+")
        )))
        .unwrap();
    let reply = app.raw(req).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let new_cookie = reply.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(new_cookie, first.cookie);
    let old = app.get("/me", &first).await;
    assert!(
        old.location().starts_with("/login"),
        "the old session still works"
    );
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let app = TestApp::new().await;
    let person = &app.a.people[&Role::Staff];
    let laptop = app.login(person).await;
    let phone = app.login(person).await;
    let bad = app
        .post(
            "/account/password",
            &laptop,
            &[
                ("current", "nope".into()),
                ("new", "x".into()),
                ("confirm", "x".into()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = app
        .post(
            "/account/password",
            &laptop,
            &[
                ("current", PASSWORD.into()),
                ("new", "a much longer pass".into()),
                ("confirm", "a much longer pass".into()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.headers.contains_key("set-cookie"),
        "this browser gets a new session"
    );
    assert!(
        app.get("/me", &phone)
            .await
            .location()
            .starts_with("/login")
    );
    assert!(
        app.get("/me", &laptop)
            .await
            .location()
            .starts_with("/login")
    );
}

/// The ids of the fields a page marks invalid, and the errors shown beside fields, in
/// page order.
fn invalid_fields_and_errors_beside(reply: &crate::support::Reply) -> (Vec<String>, Vec<String>) {
    let doc = scraper::Html::parse_document(&reply.body);
    let invalid = scraper::Selector::parse("form [aria-invalid=true]").unwrap();
    let ids = doc
        .select(&invalid)
        .filter_map(|e| e.value().attr("id"))
        .map(str::to_string)
        .collect();
    (ids, reply.select_text(".field-error"))
}

#[tokio::test]
async fn the_person_form_shows_each_error_beside_its_field_in_order() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app
        .post(
            "/people/new",
            &head,
            &[
                ("full_name", "<b>x</b>".into()),
                ("email", "not-an-email".into()),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let (invalid, beside) = invalid_fields_and_errors_beside(&reply);
    assert_eq!(invalid, vec!["full_name", "email"], "{}", reply.body);
    assert_eq!(beside.len(), 3, "name, email and roles: {beside:?}");
    assert!(
        beside[0].contains("a name may contain letters"),
        "{beside:?}"
    );
    let summary = reply.select_text(".error-summary li");
    assert_eq!(
        summary, beside,
        "the summary and the fields say the same, in the same order"
    );
}

#[tokio::test]
async fn a_new_policy_without_a_title_is_refused_beside_the_title() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app
        .post("/policies", &head, &[("title", "   ".into())])
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let (invalid, beside) = invalid_fields_and_errors_beside(&reply);
    assert_eq!(invalid, vec!["title"]);
    assert_eq!(beside.len(), 1);
}

#[tokio::test]
async fn after_login_next_is_only_ever_a_path_on_this_site() {
    let app = TestApp::new().await;
    let person = &app.a.people[&Role::Staff];
    // As typed into the query string: each is decoded once by the server.
    let corpus = [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0ASet-Cookie:%20x=1",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "//evil.example",
        "///evil.example",
        "/.//evil.example",
        "https://evil.example/",
        "https:evil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
    ];
    for raw in corpus {
        let page = app
            .send(Method::GET, &format!("/login?next={raw}"), None, None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "GET /login?next={raw}");
        let next: String = url::form_urlencoded::parse(format!("next={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let reply = app
            .send(
                Method::POST,
                "/login",
                None,
                Some(&[
                    ("email", person.email.to_string()),
                    ("password", PASSWORD.into()),
                    ("next", next.clone()),
                ]),
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "next={next:?}");
        assert_eq!(reply.location(), "/me", "next={next:?}");
    }
    // A path on this site survives, re-encoded.
    let reply = app
        .send(
            Method::POST,
            "/login",
            None,
            Some(&[
                ("email", person.email.to_string()),
                ("password", PASSWORD.into()),
                ("next", "/%2F%2Fevil.example".into()),
            ]),
        )
        .await;
    assert_eq!(reply.location(), "/%2F%2Fevil.example");
}

#[tokio::test]
async fn a_school_administrator_cannot_grant_herself_power_nor_take_over_the_head() {
    let app = TestApp::new().await;
    let admin_person = app.a.people[&Role::SchoolAdministrator].clone();
    let head_person = app.a.people[&Role::Headteacher].clone();
    let admin = app.login(&admin_person).await;
    let edit = |p: &undersign_core::person::Person, email: String, roles: &[&str]| {
        let mut f = vec![
            ("full_name", p.full_name.to_string()),
            ("email", email),
            ("line_manager", String::new()),
            ("status", "active".into()),
        ];
        for r in roles {
            f.push(("role", r.to_string()));
        }
        f
    };
    let attempts = [
        (
            admin_person.id,
            edit(
                &admin_person,
                admin_person.email.to_string(),
                &["school_administrator", "trust_administrator"],
            ),
            "Trust administrator",
        ),
        (
            admin_person.id,
            edit(
                &admin_person,
                admin_person.email.to_string(),
                &["school_administrator", "headteacher"],
            ),
            "Headteacher",
        ),
        (
            head_person.id,
            edit(&head_person, head_person.email.to_string(), &["staff"]),
            "take away",
        ),
        (
            head_person.id,
            edit(
                &head_person,
                "admin-reads-this@school-a.sch.uk".into(),
                &["headteacher"],
            ),
            "change the email",
        ),
    ];
    for (id, fields, says) in attempts {
        let reply = app.post(&format!("/people/{id}"), &admin, &fields).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{says}: {}",
            reply.body
        );
        assert!(reply.body.contains(says), "{says}: {}", reply.body);
    }
    // A new school administrator cannot be made by one either.
    let reply = app
        .post(
            "/people/new",
            &admin,
            &[
                ("full_name", "New Admin".into()),
                ("email", "new-admin@school-a.sch.uk".into()),
                ("role", "school_administrator".into()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing changed.
    let now = |id| {
        let store = app.store.clone();
        let school = app.a.school;
        async move { store.person(school, id).await.unwrap().unwrap() }
    };
    assert_eq!(now(admin_person.id).await, admin_person);
    assert_eq!(now(head_person.id).await, head_person);
    // She still does her job: making someone the DSL.
    let staff = app.a.people[&Role::Staff].clone();
    let reply = app
        .post(
            &format!("/people/{}", staff.id),
            &admin,
            &edit(&staff, staff.email.to_string(), &["staff", "dsl"]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
}

#[tokio::test]
async fn guessing_the_current_password_from_an_open_session_is_throttled() {
    let app = TestApp::new().await;
    let staff = app.login(&app.a.people[&Role::Staff]).await;
    let guess = |n: u32| {
        vec![
            ("current", format!("guess number {n}")),
            ("new", "a brand new password".to_string()),
            ("confirm", "a brand new password".to_string()),
        ]
    };
    for n in 0..undersign_web::auth::MAX_FAILURES_PER_EMAIL {
        let reply = app.post("/account/password", &staff, &guess(n)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Even the right password now waits.
    let right = vec![
        ("current", PASSWORD.to_string()),
        ("new", "a brand new password".to_string()),
        ("confirm", "a brand new password".to_string()),
    ];
    let reply = app.post("/account/password", &staff, &right).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_sign_or_decline_form_that_did_not_come_from_the_page_is_refused() {
    let app = TestApp::new().await;
    let (s, name) = governor(&app).await;
    let before = app.store.ledger_entries(app.a.school).await.unwrap().len();
    let mut fields = sign_fields(&app, &name);
    fields.push(("served", String::new()));
    let reply = app
        .post(&format!("/sign/{}", app.a.published), &s, &fields)
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(
        reply.body.contains("did not come from the policy"),
        "{}",
        reply.body
    );
    let reply = app
        .post(
            &format!("/sign/{}/decline", app.a.published),
            &s,
            &[("reason", "No".to_string()), ("served", String::new())],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(
        app.store.ledger_entries(app.a.school).await.unwrap().len(),
        before
    );
}
