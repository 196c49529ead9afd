//! The consent pages: the office records a paper form, a member of staff checks and
//! publishes, a withdrawal gives them a take-down task, which they record as done; each
//! form's problems named by field.

use axum::http::StatusCode;
use undersign_core::person::Role;

use crate::support::TestApp;

#[tokio::test]
async fn the_office_records_consent_staff_check_and_publish_and_a_withdrawal_means_a_takedown() {
    let app = TestApp::new().await;
    let admin = undersign_core::access::PeopleAdmin::for_operator(app.a.school);
    let file = undersign_core::pupils::parse(
        b"UPN,Forename,Surname,Year,Class\nA1,Amira,Khan,4,4K\nB2,Ben,Jones,4,4K\n",
    )
    .unwrap();
    app.store
        .apply_pupils(
            &admin,
            &file,
            [3; 32],
            undersign_core::store::PupilApply::Apply,
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    let pupils = app.store.pupils(app.a.school).await.unwrap();
    let (amira, ben) = (pupils[0].id, pupils[1].id);

    let office = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let bad = app
        .post("/consent", &office, &[("pupil", amira.to_string())])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.select_text(".error-summary a").len(), 2);
    let given = app
        .post(
            "/consent",
            &office,
            &[
                ("pupil", amira.to_string()),
                ("channel", "website".into()),
                ("state", "given".into()),
            ],
        )
        .await;
    assert_eq!(given.status, StatusCode::SEE_OTHER);
    let register = app.get("/consent", &office).await;
    assert!(register.body.contains("consent until"), "{}", register.body);

    // Ben has no consent: the check says the head's permission is needed.
    let teacher = app.login(&app.a.people[&Role::Staff]).await;
    let checked = app
        .post(
            "/publish",
            &teacher,
            &[
                ("channel", "website".into()),
                ("description", "Class 4K harvest festival".into()),
                ("who", format!("pupil:{amira}")),
                ("who", format!("pupil:{ben}")),
            ],
        )
        .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER);
    let page = app.get(checked.location(), &teacher).await;
    assert!(page.body.contains("permission is needed"), "{}", page.body);
    assert_eq!(
        page.select_text("tbody td"),
        ["consent", "none"],
        "{}",
        page.body
    );
    let refused = app
        .post(&format!("{}/published", checked.location()), &teacher, &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    // Amira alone: clear, published; then her parent withdraws through the office.
    let alone = app
        .post(
            "/publish",
            &teacher,
            &[
                ("channel", "website".into()),
                ("description", "Amira's poem".into()),
                ("who", format!("pupil:{amira}")),
            ],
        )
        .await;
    let out = app
        .post(&format!("{}/published", alone.location()), &teacher, &[])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    app.post(
        "/consent",
        &office,
        &[
            ("pupil", amira.to_string()),
            ("channel", "website".into()),
            ("state", "withdrawn".into()),
        ],
    )
    .await;
    let tasks = app.get("/takedowns", &teacher).await;
    assert_eq!(
        tasks.select_text("li strong"),
        ["Amira's poem"],
        "{}",
        tasks.body
    );
    let form = tasks.select_attr("form[action^='/takedowns/']", "action");
    assert!(form.ends_with("/done"), "{form}");
    let done = app
        .post(
            &form,
            &teacher,
            &[("note", "Removed from the website".into())],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let tasks = app.get("/takedowns", &teacher).await;
    assert!(tasks.body.contains("Removed from the website"));
}

#[tokio::test]
async fn a_parent_answers_for_their_own_child_through_a_link_that_works_once() {
    let app = TestApp::new().await;
    let admin = undersign_core::access::PeopleAdmin::for_operator(app.a.school);
    let file = undersign_core::pupils::parse(
        b"UPN,Forename,Surname,Year,Contact 1 Name,Contact 1 Email\nA1,Amira,Khan,4,Sara Khan,sara@home.test\nB2,Ben,Jones,4,Tom Jones,tom@home.test\n",
    )
    .unwrap();
    app.store
        .apply_pupils(
            &admin,
            &file,
            [3; 32],
            undersign_core::store::PupilApply::Apply,
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    let amira = app.store.pupils(app.a.school).await.unwrap()[0].id;
    let office = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let sent = app
        .post("/consent/links", &office, &[("pupil", amira.to_string())])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let mail = app
        .store
        .claim_mail(
            "test",
            undersign_core::time::now() + chrono::TimeDelta::minutes(1),
            chrono::TimeDelta::minutes(5),
            10,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.dedupe_key.starts_with("parent-link:"))
        .unwrap();
    assert_eq!(mail.to_email.to_string(), "sara@home.test");
    assert!(
        !mail.text_body.contains("Amira"),
        "the email names no child"
    );
    let url = mail
        .text_body
        .lines()
        .find(|l| l.starts_with("http"))
        .unwrap()
        .to_owned();
    let path = url.trim_start_matches("http://localhost");

    // The page shows only Sara's own child, without a login.
    let page = app.send(axum::http::Method::GET, path, None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.select_text("h2"), ["Amira Khan"]);
    let fields = [
        (format!("c{amira}-website"), "given"),
        (format!("c{amira}-local_press"), "withdrawn"),
        (format!("c{amira}-social_media"), ""),
    ];
    let form: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), (*v).to_owned()))
        .collect();
    let answer = app
        .send(axum::http::Method::POST, path, None, Some(&form))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.contains("2 choices were recorded"),
        "{}",
        answer.body
    );
    let again = app.send(axum::http::Method::GET, path, None, None).await;
    assert_eq!(again.status, StatusCode::GONE);
    let register = app.get("/consent", &office).await;
    assert!(register.body.contains("withdrawn"), "{}", register.body);
}

#[tokio::test]
async fn pupils_are_uploaded_previewed_and_applied_and_a_bad_file_names_its_lines() {
    use crate::roster::{hidden, upload_to};
    let app = TestApp::new().await;
    let office = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let bad = upload_to(
        &app,
        &office,
        "/consent/import",
        b"UPN,Forename,Surname,Year\nA1,Amira,Khan,Year 15\nA1,Ben,Jones,R\n",
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let named = bad.select_text(".error-summary li");
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(named[0].starts_with("Line 2, Year:"), "{named:?}");
    assert!(named[1].starts_with("Line 3, UPN:"), "{named:?}");

    let preview = upload_to(
        &app,
        &office,
        "/consent/import",
        b"UPN,Forename,Surname,Year,Class\nA1,Amira,Khan,4,4K\nB2,Ben,Jones,R,RJ\n",
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("2 joining, 0 changing, 0 leaving the roll")
    );
    assert!(
        app.store.pupils(app.a.school).await.unwrap().is_empty(),
        "a preview changes nothing"
    );
    let form = [
        ("csv", hidden(&preview, "csv")),
        ("digest", hidden(&preview, "digest")),
    ];
    let done = app.post("/consent/import/apply", &office, &form).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("2 joined, 0 changed, 0 left the roll"));
    // The same preview applied again: the register changed since, so nothing is applied.
    let stale = app.post("/consent/import/apply", &office, &form).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(app.store.pupils(app.a.school).await.unwrap().len(), 2);
}
