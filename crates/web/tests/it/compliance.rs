//! The compliance dashboard, its CSV exports and the organisation view.

use axum::http::StatusCode;
use undersign_core::access::PeopleAdmin;
use undersign_core::person::{Email, FullName, NewPerson, Role};
use undersign_core::signing::{AuthMethod, RequestContext, SignatureInput, SignatureMark};
use undersign_core::time;

use crate::support::TestApp;

fn names(reply: &crate::support::Reply) -> Vec<String> {
    reply.select_text("table.people tbody tr td:first-child .name")
}

#[tokio::test]
async fn the_administrator_sees_who_has_not_signed_and_filters_by_role() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let reply = app.get("/compliance", &admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let heading = reply.select_text("h2#people-heading");
    assert_eq!(heading, vec!["Who has not signed (7)"]);
    let listed = names(&reply);
    let staff = app.a.people[&Role::Staff].full_name.to_string();
    assert!(
        !listed.contains(&staff),
        "the signer is not listed: {listed:?}"
    );
    let governor = app.a.people[&Role::Governor].full_name.to_string();
    assert!(listed.contains(&governor), "{listed:?}");
    // Nobody from the other school.
    assert!(listed.iter().all(|n| n.ends_with("schoola")), "{listed:?}");
    let lead = reply.select_text("p.lead");
    assert!(
        lead[0].starts_with("1 of 8 people (13%) have signed"),
        "{lead:?}"
    );

    let governors = app.get("/compliance?role=governor", &admin).await;
    assert_eq!(names(&governors), vec![governor.clone()]);
    let signed = app.get("/compliance?status=signed", &admin).await;
    assert_eq!(names(&signed), vec![staff]);
    let everyone = app
        .get("/compliance?status=all&version=never", &admin)
        .await;
    assert_eq!(names(&everyone).len(), 7);
    let bad = app.get("/compliance?role=caretaker", &admin).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_progress_chart_is_an_svg_with_a_table_beside_it_and_no_inline_style() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app.get("/compliance", &head).await;
    let doc = scraper::Html::parse_document(&reply.body);
    let svg = scraper::Selector::parse("figure svg[role=img][aria-labelledby]").unwrap();
    assert_eq!(doc.select(&svg).count(), 1);
    assert_eq!(reply.select_text("svg desc").len(), 1);
    assert!(!reply.select_text("details table tbody tr").is_empty());
    let styled = scraper::Selector::parse("[style]").unwrap();
    assert_eq!(
        doc.select(&styled).count(),
        0,
        "the CSP forbids style attributes"
    );
    assert!(
        !reply.body.contains("<script"),
        "the dashboard needs no script"
    );
}

#[tokio::test]
async fn with_one_day_of_data_the_chart_says_so_and_marks_its_one_point() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app.get("/compliance", &head).await;
    assert_eq!(reply.select_text("details table tbody tr").len(), 1);
    let caption = reply.select_text("figure.chart figcaption").join(" ");
    // 1 of 8 signed, rounded to the nearest whole per cent.
    assert!(caption.contains(": 13% signed on "), "{caption}");
    assert!(caption.contains("(1 of 8), the first day."), "{caption}");
    assert!(
        !caption.contains("%, ") && caption.matches('%').count() == 1,
        "{caption}"
    );
    assert_eq!(reply.select_text("figure.chart svg circle.dot").len(), 1);
}

#[tokio::test]
async fn the_breakdown_lists_a_group_once() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app.get("/compliance", &head).await;
    let groups = reply.select_text("table tbody th[scope=row]");
    assert!(
        groups.contains(&"Audience: Staff".to_string()),
        "{groups:?}"
    );
    assert!(
        groups.contains(&"Audience: Governors".to_string()),
        "{groups:?}"
    );
    // The governor role is exactly the governors audience: not listed twice.
    assert!(
        !groups.contains(&"Role: Governor".to_string()),
        "{groups:?}"
    );
    // Each staff role is one person of seven: those lines say something new.
    assert!(groups.contains(&"Role: Staff".to_string()), "{groups:?}");
    let shares = reply.select_text("table:not(.people) tbody td:last-child");
    assert!(
        shares.contains(&"14%".to_string()),
        "1 of 7 staff: {shares:?}"
    );
}

#[tokio::test]
async fn the_outstanding_csv_has_the_filtered_people_and_defuses_formulas() {
    let app = TestApp::new().await;
    app.store
        .add_person(
            &PeopleAdmin::for_operator(app.a.school),
            NewPerson {
                full_name: FullName::parse("Mallory Formula").unwrap(),
                email: Email::parse("=1+2@evil.example").unwrap(),
                roles: [Role::Governor].into(),
                line_manager: None,
                password_hash: None,
            },
        )
        .await
        .unwrap();
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let reply = app
        .get(
            &format!(
                "/compliance/outstanding.csv?policy={}&role=governor",
                app.a.policy
            ),
            &admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        reply.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"outstanding-school-a-"),
    );
    let lines: Vec<&str> = reply.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 3, "{}", reply.body);
    assert!(lines[0].starts_with("\"Name\",\"Email\""), "{}", lines[0]);
    let mallory = lines.iter().find(|l| l.contains("Mallory")).unwrap();
    assert!(mallory.contains("\"'=1+2@evil.example\""), "{mallory}");
    assert!(!reply.body.contains(",\"=") && !reply.body.contains(",="));
}

#[tokio::test]
async fn the_signatures_csv_lists_the_schools_signatures_with_formulas_defused() {
    let app = TestApp::new().await;
    let governor = &app.a.people[&Role::Governor];
    let version = app
        .store
        .version(app.a.school, app.a.published)
        .await
        .unwrap()
        .unwrap();
    app.store
        .record_signature(
            SignatureInput {
                school: app.a.school,
                person: governor.id,
                version: version.id,
                typed_name: governor.full_name.to_string(),
                mark: SignatureMark::typed(governor.full_name.as_str()).unwrap(),
                text_sha256: version.text_sha256.clone(),
                declaration: version.declaration.clone(),
                references: version
                    .references
                    .iter()
                    .map(|r| undersign_core::signing::AcknowledgedReference {
                        id: r.id,
                        title: r.title.clone(),
                        sha256: r.sha256.clone(),
                    })
                    .collect(),
                context: RequestContext::new(
                    "192.0.2.1".into(),
                    "=HYPERLINK(\"http://evil.example\",\"click\")",
                    AuthMethod::Password,
                ),
            },
            time::now(),
        )
        .await
        .unwrap();
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app.get("/compliance/signatures.csv", &head).await;
    assert_eq!(reply.status, StatusCode::OK);
    let lines: Vec<&str> = reply.body.lines().collect();
    assert_eq!(lines.len(), 3, "two signatures in school a: {}", reply.body);
    assert!(
        reply
            .body
            .contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\""),
        "{}",
        reply.body
    );
    assert!(
        !reply.body.contains("schoolb"),
        "another school's signature leaked"
    );
}

#[tokio::test]
async fn the_headteacher_sets_the_days_to_sign_and_a_bad_value_names_the_field() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let reply = app
        .post(
            "/compliance/settings",
            &head,
            &[("days_to_sign", "400".into())],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.select_text(".error-summary li a"),
        vec!["days to sign: enter a number of days from 1 to 365"]
    );
    let reply = app
        .post(
            "/compliance/settings",
            &head,
            &[("days_to_sign", "21".into())],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let page = app.get("/compliance", &head).await;
    let doc = scraper::Html::parse_document(&page.body);
    let input = scraper::Selector::parse("input#days_to_sign").unwrap();
    assert_eq!(
        doc.select(&input).next().unwrap().value().attr("value"),
        Some("21")
    );
}

#[tokio::test]
async fn the_organisation_view_lists_the_schools_of_the_trust_only() {
    let app = TestApp::new().await;
    let hash = undersign_web::auth::hash_password(crate::support::PASSWORD).unwrap();
    let trust_admin = app
        .store
        .add_person(
            &PeopleAdmin::for_operator(app.a.school),
            NewPerson {
                full_name: FullName::parse("Tara Trust").unwrap(),
                email: Email::parse("tara@trust.example").unwrap(),
                roles: [Role::TrustAdministrator].into(),
                line_manager: None,
                password_hash: Some(hash),
            },
        )
        .await
        .unwrap();
    let trust = app.login(&trust_admin).await;
    let reply = app.get("/organisation/compliance", &trust).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let schools = reply.select_text("tbody th[scope=row]");
    assert_eq!(schools, vec!["School school-a"]);
    let me = app.get("/me", &trust).await;
    assert_eq!(
        me.select_text("nav a[href='/organisation/compliance']"),
        vec!["Organisation"]
    );
}
