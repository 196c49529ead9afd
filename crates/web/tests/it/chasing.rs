//! Reminders and holidays, and the dashboard's Chase buttons.

use axum::http::StatusCode;
use undersign_core::chasing::ChaseSettings;
use undersign_core::outbox::MailState;
use undersign_core::person::Role;

use crate::support::{Reply, Session, TestApp};

fn field_error(reply: &Reply, id: &str) -> String {
    reply
        .select_text(&format!("#{id}-error"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no error beside {id}:\n{}", reply.body))
}

/// The school's outbox but for receipts (the test school starts with one signature,
/// whose receipt is queued).
async fn outbox(app: &TestApp) -> Vec<(String, String, MailState)> {
    let admin = undersign_core::access::PeopleAdmin::for_operator(app.a.school);
    app.store
        .outbox_page(&admin, 0, 100)
        .await
        .unwrap()
        .mails
        .into_iter()
        .filter(|m| !m.subject.starts_with("Your receipt:"))
        .map(|m| (m.to_email.to_string(), m.subject, m.state))
        .collect()
}

async fn admin(app: &TestApp) -> Session {
    app.login(&app.a.people[&Role::SchoolAdministrator]).await
}

#[tokio::test]
async fn the_schedule_is_saved_and_each_mistake_is_shown_beside_its_field() {
    let app = TestApp::new().await;
    let admin = admin(&app).await;
    let page = app.get("/compliance/reminders", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.select_text("h1"), vec!["Reminders and holidays"]);
    let doc = scraper::Html::parse_document(&page.body);
    let first = scraper::Selector::parse("input#first_reminder_days").unwrap();
    assert_eq!(
        doc.select(&first).next().unwrap().value().attr("value"),
        Some("3")
    );
    assert!(
        page.select_text(".notice")[0].contains("would be reminded on"),
        "{:?}",
        page.select_text(".notice")
    );

    let bad = app
        .post(
            "/compliance/reminders",
            &admin,
            &[
                ("first_reminder_days", "0".into()),
                ("reminder_every_days", "7".into()),
                ("escalate_to_manager_days", "12".into()),
                ("escalate_to_head_days", "12".into()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_error(&bad, "first_reminder_days"),
        "First reminder: enter a whole number of days from 1 to 365"
    );
    assert!(field_error(&bad, "escalate_to_head_days").contains("more than 12 days"));
    assert!(bad.select_text("#reminder_every_days-error").is_empty());
    assert_eq!(bad.select_text(".error-summary li").len(), 2);
    // What was typed is kept.
    let doc = scraper::Html::parse_document(&bad.body);
    let head = scraper::Selector::parse("input#escalate_to_head_days[aria-invalid=true]").unwrap();
    assert_eq!(
        doc.select(&head).next().unwrap().value().attr("value"),
        Some("12")
    );
    assert_eq!(
        app.store.chase_settings(app.a.school).await.unwrap(),
        ChaseSettings::DEFAULT
    );

    let good = app
        .post(
            "/compliance/reminders",
            &admin,
            &[
                ("first_reminder_days", "2".into()),
                ("reminder_every_days", "5".into()),
                ("escalate_to_manager_days", "12".into()),
                ("escalate_to_head_days", "25".into()),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    assert_eq!(good.location(), "/compliance/reminders?saved=schedule");
    assert_eq!(
        app.store.chase_settings(app.a.school).await.unwrap(),
        ChaseSettings::new(2, 5, 12, 25).unwrap()
    );
    assert_eq!(
        app.store.chase_settings(app.b.school).await.unwrap(),
        ChaseSettings::DEFAULT
    );
    let saved = app.get(good.location(), &admin).await;
    assert_eq!(
        saved.select_text("div.notice[role=status]"),
        vec!["The reminder schedule is saved."]
    );
}

#[tokio::test]
async fn holidays_are_added_removed_and_replaced_from_a_list_with_errors_by_line() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let added = app
        .post(
            "/compliance/reminders/holidays",
            &head,
            &[
                ("name", "INSET day".into()),
                ("first_day", "2026-11-20".into()),
                ("last_day", "".into()),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = app.get("/compliance/reminders", &head).await;
    let cells = page.select_text("table tbody tr td");
    assert_eq!(
        cells[..4],
        [
            "INSET day",
            "Friday 20 November 2026",
            "Friday 20 November 2026",
            "1"
        ]
    );
    assert_eq!(cells.len(), 5, "one row: {cells:?}");

    let wrong = app
        .post(
            "/compliance/reminders/holidays",
            &head,
            &[
                ("name", "".into()),
                ("first_day", "2026-12-21".into()),
                ("last_day", "2026-12-01".into()),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&wrong, "holiday_name").contains("enter a name"));
    // The range is checked once the name is right.
    let backwards = app
        .post(
            "/compliance/reminders/holidays",
            &head,
            &[
                ("name", "Christmas".into()),
                ("first_day", "2026-12-21".into()),
                ("last_day", "2026-12-01".into()),
            ],
        )
        .await;
    assert!(field_error(&backwards, "holiday_last_day").contains("before the first day"));

    let list = "first day,last day,name\n\
                2026-10-26,2026-10-30,Half term\n\
                2026-13-01,2026-12-02,Typo\n\
                2026-12-21,2027-01-01\n";
    let refused = app
        .post(
            "/compliance/reminders/holidays/import",
            &head,
            &[("holidays", list.into())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = refused.select_text("#holidays-error li");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("Line 3, first day:"), "{errors:?}");
    assert!(errors[1].starts_with("Line 4, name:"), "{errors:?}");
    // Nothing was changed, and the list as typed is shown again to be corrected.
    assert_eq!(app.store.holidays(app.a.school).await.unwrap().len(), 1);
    assert!(refused.body.contains("2026-13-01,2026-12-02,Typo"));

    let replaced = app
        .post(
            "/compliance/reminders/holidays/import",
            &head,
            &[(
                "holidays",
                "2026-10-26,2026-10-30,Half term\n21/12/2026,01/01/2027,Christmas holidays\n"
                    .into(),
            )],
        )
        .await;
    assert_eq!(replaced.status, StatusCode::SEE_OTHER);
    let names: Vec<String> = app
        .store
        .holidays(app.a.school)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.name.to_string())
        .collect();
    assert_eq!(names, vec!["Half term", "Christmas holidays"]);

    let removed = app
        .post(
            "/compliance/reminders/holidays/remove",
            &head,
            &[("holiday", "2026-10-26,2026-10-30,Half term".into())],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let left = app.store.holidays(app.a.school).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name.as_str(), "Christmas holidays");
    assert!(app.store.holidays(app.b.school).await.unwrap().is_empty());
}

#[tokio::test]
async fn chase_all_shown_reminds_the_filtered_people_once_a_day() {
    let app = TestApp::new().await;
    let admin = admin(&app).await;
    let dashboard = app.get("/compliance?role=governor", &admin).await;
    assert_eq!(
        dashboard.select_text("form[action='/compliance/chase'] button"),
        vec!["Chase all shown who have not signed (1)"]
    );
    let policy = app.a.policy.to_string();
    let form = [
        ("policy", policy.clone()),
        ("role", "governor".to_string()),
        ("status", "outstanding".to_string()),
        ("version", String::new()),
    ];
    let chased = app.post("/compliance/chase", &admin, &form).await;
    assert_eq!(chased.status, StatusCode::SEE_OTHER, "{}", chased.body);
    let back = chased.location().to_string();
    assert!(back.starts_with(&format!(
        "/compliance?policy={policy}&role=governor&status=outstanding&version=&chased=1"
    )));
    let shown = app.get(&back, &admin).await;
    assert_eq!(
        shown.select_text("#chased"),
        vec!["Reminder queued for 1 person."]
    );
    // Still filtered as before.
    assert_eq!(shown.select_text("table.people tbody tr").len(), 1);

    let mails = outbox(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "governor@school-a.sch.uk");
    assert!(
        mails[0]
            .1
            .starts_with("Reminder: please sign ICT Acceptable Use Policy")
    );
    assert_eq!(mails[0].2, MailState::Queued);

    // A double click (or a second press today) sends nothing more.
    let again = app.post("/compliance/chase", &admin, &form).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(outbox(&app).await.len(), 1);

    // Everyone not signed: the seven others, of whom the governor already has one today.
    let all = app
        .post(
            "/compliance/chase",
            &admin,
            &[("policy", policy.clone()), ("status", "outstanding".into())],
        )
        .await;
    assert!(all.location().contains("&chased=7"), "{}", all.location());
    let mails = outbox(&app).await;
    assert_eq!(mails.len(), 7);
    let signer = app.a.people[&Role::Staff].email.to_string();
    assert!(mails.iter().all(|(to, _, _)| *to != signer));
    // The other school's outbox holds only the receipt of its own starting signature.
    let other = undersign_core::access::PeopleAdmin::for_operator(app.b.school);
    let theirs = app.store.outbox_page(&other, 0, 10).await.unwrap().mails;
    assert!(
        theirs
            .iter()
            .all(|m| m.subject.starts_with("Your receipt:")),
        "{theirs:?}"
    );
}

#[tokio::test]
async fn chase_reminds_one_person_and_not_someone_who_signed_or_another_schools() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let dashboard = app.get("/compliance", &head).await;
    let receptionist = &app.a.people[&Role::Receptionist];
    let button = format!(
        "form[action='/compliance/chase/{}'] button",
        receptionist.id
    );
    assert_eq!(
        dashboard.select_text(&button),
        vec![format!("Chase {}", receptionist.full_name)]
    );
    let form = [("policy", app.a.policy.to_string())];
    let one = app
        .post(
            &format!("/compliance/chase/{}", receptionist.id),
            &head,
            &form,
        )
        .await;
    assert!(one.location().contains("&chased=1"), "{}", one.location());
    let mails = outbox(&app).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, receptionist.email.to_string());

    let signer = &app.a.people[&Role::Staff];
    let signed = app
        .post(&format!("/compliance/chase/{}", signer.id), &head, &form)
        .await;
    assert!(
        signed.location().contains("&chased=0"),
        "{}",
        signed.location()
    );
    let shown = app.get(signed.location(), &head).await;
    assert!(shown.select_text("#chased")[0].starts_with("Nobody shown still needs a reminder"));

    let theirs = &app.b.people[&Role::Governor];
    let refused = app
        .post(&format!("/compliance/chase/{}", theirs.id), &head, &form)
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(outbox(&app).await.len(), 1);
}

#[tokio::test]
async fn the_leadership_team_sees_the_dashboard_without_chase_buttons() {
    let app = TestApp::new().await;
    let slt = app.login(&app.a.people[&Role::LeadershipTeam]).await;
    let page = app.get("/compliance", &slt).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.select_text("form[action^='/compliance/chase'] button")
            .is_empty()
    );
    assert!(
        page.select_text("a[href='/compliance/reminders']")
            .is_empty()
    );
    let admin = admin(&app).await;
    let page = app.get("/compliance", &admin).await;
    assert_eq!(
        page.select_text("a[href='/compliance/reminders']"),
        vec!["Reminders and holidays"]
    );
}

#[tokio::test]
async fn publishing_a_version_queues_the_invitations_without_waiting_for_them() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let published = app
        .post(&format!("/versions/{}/publish", app.a.draft), &head, &[])
        .await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.body
    );
    // Version 2 is major: all eight are asked again, the signer of version 1 too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut mails = outbox(&app).await;
    while mails.len() < 8 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        mails = outbox(&app).await;
    }
    assert_eq!(mails.len(), 8, "{mails:?}");
    assert!(
        mails.iter().all(|(_, subject, _)| subject
            .starts_with("Please read and sign ICT Acceptable Use Policy (version 2)")),
        "{mails:?}"
    );
    // The other school's outbox holds only the receipt of its own starting signature.
    let other = undersign_core::access::PeopleAdmin::for_operator(app.b.school);
    let theirs = app.store.outbox_page(&other, 0, 10).await.unwrap().mails;
    assert!(
        theirs
            .iter()
            .all(|m| m.subject.starts_with("Your receipt:")),
        "{theirs:?}"
    );
}
