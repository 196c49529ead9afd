//! The reception kiosk and the reception desk in process: enrolment, visitor sign-in and
//! sign-out, repeat visitors, refusals that store nothing, revoked and forged kiosk keys,
//! assisted signing, the fire roll and the end-of-day job.

use axum::http::{Method, StatusCode, header};
use undersign_core::access::KioskAdmin;
use undersign_core::access::PolicyPublisher;
use undersign_core::person::Role;
use undersign_core::visits::{EnrolmentCode, KioskName};

use crate::support::{Reply, SchoolSeed, Session, TestApp};

/// A browser that is an enrolled kiosk: its cookie (no person session).
async fn enrol(app: &TestApp, school: &SchoolSeed, n: u8) -> Session {
    let admin =
        KioskAdmin::for_operator(school.school, school.people[&Role::SchoolAdministrator].id);
    let code = EnrolmentCode::from_random([n; 10]);
    let now = undersign_core::time::now();
    app.store
        .register_kiosk(
            &admin,
            &KioskName::parse(&format!("Kiosk {n}")).unwrap(),
            &code.sha256(),
            now + chrono::Duration::hours(1),
            now,
        )
        .await
        .unwrap();
    let reply = app
        .send(
            Method::POST,
            "/kiosk/enrol",
            None,
            Some(&[("code", code.display().to_lowercase())]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let set = reply
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    Session {
        cookie: set.split(';').next().unwrap().to_string(),
        csrf: String::new(),
    }
}

fn value_of(reply: &Reply, selector: &str) -> String {
    let doc = scraper::Html::parse_document(&reply.body);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_else(|| panic!("no {selector} in {}", reply.body))
        .to_string()
}

async fn kiosk_token(app: &TestApp, kiosk: &Session) -> String {
    let page = app.get("/kiosk/sign-in", kiosk).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    value_of(&page, "input[name=kiosk_token]")
}

fn details(school: &SchoolSeed, name: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("organisation", "Acme Ltd".into()),
        ("host", school.people[&Role::Staff].id.to_string()),
        ("email", email.to_string()),
        ("car_registration", "ab12 cde".into()),
        ("visitor_code", String::new()),
    ]
}

async fn kiosk_post(
    app: &TestApp,
    kiosk: &Session,
    path: &str,
    fields: &[(&'static str, String)],
) -> Reply {
    let mut all = vec![("kiosk_token", kiosk_token(app, kiosk).await)];
    all.extend(fields.iter().cloned());
    app.send(Method::POST, path, Some(kiosk), Some(&all)).await
}

/// Gives the details, and signs if asked to; returns the final reply.
async fn sign_in(
    app: &TestApp,
    kiosk: &Session,
    school: &SchoolSeed,
    name: &str,
    email: &str,
) -> Reply {
    let fields = details(school, name, email);
    let first = kiosk_post(app, kiosk, "/kiosk/sign-in", &fields).await;
    if first.status != StatusCode::OK {
        return first;
    }
    let mut signing = fields.clone();
    signing.extend([
        ("version", value_of(&first, "input[name=version]")),
        ("declaration", "yes".into()),
        ("typed_name", name.to_lowercase()),
        ("signature_kind", "typed".into()),
        ("typed_signature", name.to_string()),
        ("ack", school.reference.to_string()),
    ]);
    kiosk_post(app, kiosk, "/kiosk/sign", &signing).await
}

async fn visits_in_ledger(app: &TestApp, school: &SchoolSeed) -> usize {
    app.store
        .ledger_entries(school.school)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "visitor_signed_in")
        .count()
}

#[tokio::test]
async fn a_visitor_signs_in_at_the_kiosk_reads_the_policy_and_signs_out_with_their_code() {
    let app = TestApp::new().await;
    let kiosk = enrol(&app, &app.a, 1).await;
    let start = app.get("/kiosk", &kiosk).await;
    assert_eq!(start.status, StatusCode::OK);
    assert_eq!(start.select_text("h1"), vec!["Welcome to School school-a"]);

    let fields = details(&app.a, "Vera Visitor", "vera@acme.example");
    let sign_page = kiosk_post(&app, &kiosk, "/kiosk/sign-in", &fields).await;
    assert_eq!(sign_page.status, StatusCode::OK, "{}", sign_page.body);
    assert!(
        sign_page
            .select_text("article.policy-text")
            .join(" ")
            .contains("I will not share passwords")
    );
    assert_eq!(value_of(&sign_page, "input[name=name]"), "Vera Visitor");

    let done = sign_in(&app, &kiosk, &app.a, "Vera Visitor", "vera@acme.example").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let welcome = app.get(done.location(), &kiosk).await;
    assert_eq!(welcome.status, StatusCode::OK);
    let code = welcome.select_text("#visitor-code").join("");
    assert_eq!(code.len(), 9, "{code}");

    let entry = app
        .store
        .ledger_entries(app.a.school)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.kind, "visitor_signed_in");
    let payload: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
    assert_eq!(payload["event"]["auth"]["method"], "kiosk");
    assert!(!entry.payload.contains("Vera"));

    let desk = app.login(&app.a.people[&Role::Receptionist]).await;
    let list = app.get("/reception", &desk).await;
    assert_eq!(list.status, StatusCode::OK);
    let cells = list.select_text("#on-site tbody td");
    assert_eq!(cells[0], "Vera Visitor");
    assert_eq!(cells[1], "Acme Ltd");
    assert_eq!(cells[4], "AB12 CDE");
    assert_eq!(cells[5], "Signed at the kiosk");

    let out = kiosk_post(
        &app,
        &kiosk,
        "/kiosk/sign-out",
        &[("who", code.to_lowercase())],
    )
    .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(out.select_text("h1"), vec!["Goodbye, Vera Visitor"]);
    let list = app.get("/reception", &desk).await;
    assert_eq!(list.select_text("#no-visitors").len(), 1);
    // The welcome page of a visit is not shown on another kiosk.
    let other = enrol(&app, &app.a, 2).await;
    assert_eq!(
        app.get(done.location(), &other).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_returning_visitor_signs_again_only_after_a_major_version() {
    let app = TestApp::new().await;
    let kiosk = enrol(&app, &app.a, 3).await;
    let first = sign_in(&app, &kiosk, &app.a, "Rita Repeat", "rita@acme.example").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    // Straight to the welcome page: no policy to read, no signature.
    let again = kiosk_post(
        &app,
        &kiosk,
        "/kiosk/sign-in",
        &details(&app.a, "Rita Repeat", "RITA@acme.example"),
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let welcome = app.get(again.location(), &kiosk).await;
    assert!(
        welcome
            .select_text(".notice")
            .join(" ")
            .contains("earlier signature")
    );
    assert_eq!(visits_in_ledger(&app, &app.a).await, 2);

    let head = app.a.people[&Role::Headteacher].id;
    app.store
        .publish(
            &PolicyPublisher::for_operator(app.a.school, head),
            app.a.draft,
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    let after_major = kiosk_post(
        &app,
        &kiosk,
        "/kiosk/sign-in",
        &details(&app.a, "Rita Repeat", "rita@acme.example"),
    )
    .await;
    assert_eq!(after_major.status, StatusCode::OK, "{}", after_major.body);
    assert!(after_major.select_text("#sign-form").len() == 1);
    assert!(
        after_major
            .select_text(".lead")
            .join(" ")
            .contains("sign it again")
    );
    assert_eq!(
        visits_in_ledger(&app, &app.a).await,
        2,
        "nothing stored before signing"
    );
}

#[tokio::test]
async fn bad_visitor_input_is_refused_with_a_clear_message_and_nothing_stored() {
    let app = TestApp::new().await;
    let kiosk = enrol(&app, &app.a, 4).await;
    let entries = app.store.ledger_entries(app.a.school).await.unwrap().len();
    let cases: Vec<(String, &str, &str)> = vec![
        (String::new(), "Acme", "Enter your full name"),
        ("x".repeat(5000), "Acme", "at most 100 characters"),
        ("<script>alert(1)</script>".into(), "Acme", "not '<'"),
        (
            "Vera Visitor".into(),
            "<img src=x onerror=alert(1)>",
            "Organisation may contain only",
        ),
    ];
    for (name, organisation, message) in cases {
        let mut fields = details(&app.a, &name, "");
        fields[1].1 = organisation.to_string();
        let reply = kiosk_post(&app, &kiosk, "/kiosk/sign-in", &fields).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:.40}");
        let summary = reply.select_text(".error-summary li").join(" ");
        assert!(summary.contains(message), "{summary}");
        assert!(
            !reply.body.contains("<script>alert"),
            "input must be escaped"
        );
        assert!(!reply.body.contains("<img src=x"), "input must be escaped");
    }
    // Skipping the details step with a script in the hidden fields is refused as well.
    let mut forged = details(&app.a, "<script>x</script>", "");
    forged.extend([("declaration", "yes".into()), ("typed_name", "x".into())]);
    let reply = kiosk_post(&app, &kiosk, "/kiosk/sign", &forged).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A typed name that is not the visitor's.
    let fields = details(&app.a, "Vera Visitor", "");
    let page = kiosk_post(&app, &kiosk, "/kiosk/sign-in", &fields).await;
    let mut wrong = fields.clone();
    wrong.extend([
        ("version", value_of(&page, "input[name=version]")),
        ("declaration", "yes".into()),
        ("typed_name", "Someone Else".into()),
        ("typed_signature", "Someone Else".into()),
        ("ack", app.a.reference.to_string()),
    ]);
    let reply = kiosk_post(&app, &kiosk, "/kiosk/sign", &wrong).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .select_text(".error-summary li")
            .join(" ")
            .contains("does not match the name you gave")
    );
    // A form without the kiosk's form token.
    let bare = app
        .send(
            Method::POST,
            "/kiosk/sign-in",
            Some(&kiosk),
            Some(&details(&app.a, "Vera Visitor", "")),
        )
        .await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.store.ledger_entries(app.a.school).await.unwrap().len(),
        entries
    );
}

#[tokio::test]
async fn a_forged_or_revoked_kiosk_key_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let forged = Session {
        cookie: format!("undersign_kiosk={}", "A".repeat(43)),
        csrf: String::new(),
    };
    let garbage = Session {
        cookie: "undersign_kiosk=<script>".into(),
        csrf: String::new(),
    };
    for who in [&forged, &garbage] {
        let reply = app.get("/kiosk/sign-in", who).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(
            reply
                .select_text("h1")
                .join("")
                .contains("cannot sign visitors in")
        );
        let post = app
            .send(
                Method::POST,
                "/kiosk/sign-in",
                Some(who),
                Some(&details(&app.a, "Vera Visitor", "")),
            )
            .await;
        assert_eq!(post.status, StatusCode::FORBIDDEN);
    }
    let none = app.send(Method::GET, "/kiosk", None, None).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);

    let kiosk = enrol(&app, &app.a, 5).await;
    let token = kiosk_token(&app, &kiosk).await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let list = app.get("/kiosks", &admin).await;
    assert!(list.select_text("tbody td").contains(&"in use".to_string()));
    let kiosk_id = app
        .store
        .kiosks(&KioskAdmin::for_operator(
            app.a.school,
            app.a.people[&Role::SchoolAdministrator].id,
        ))
        .await
        .unwrap()[0]
        .id;
    // Another school's administrator cannot revoke it.
    let admin_b = app.login(&app.b.people[&Role::SchoolAdministrator]).await;
    let foreign = app
        .post(&format!("/kiosks/{kiosk_id}/revoke"), &admin_b, &[])
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/kiosk", &kiosk).await.status, StatusCode::OK);

    let revoked = app
        .post(&format!("/kiosks/{kiosk_id}/revoke"), &admin, &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let refused = app.get("/kiosk", &kiosk).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.select_text(".lead").join("").contains("revoked"));
    let mut fields = vec![("kiosk_token", token)];
    fields.extend(details(&app.a, "Vera Visitor", ""));
    let post = app
        .send(Method::POST, "/kiosk/sign-in", Some(&kiosk), Some(&fields))
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert_eq!(visits_in_ledger(&app, &app.a).await, 0);
    // A spent or unknown enrolment code does not enrol anything.
    let reuse = app
        .send(
            Method::POST,
            "/kiosk/enrol",
            None,
            Some(&[("code", EnrolmentCode::from_random([5; 10]).display())]),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reuse
            .select_text(".error-summary li")
            .join("")
            .contains("not valid")
    );
}

#[tokio::test]
async fn two_kiosks_sign_visitors_in_at_the_same_time() {
    let app = TestApp::new().await;
    let north = enrol(&app, &app.a, 6).await;
    let south = enrol(&app, &app.a, 7).await;
    let (a, b) = tokio::join!(
        sign_in(&app, &north, &app.a, "Nora North", "nora@example.org"),
        sign_in(&app, &south, &app.a, "Sid South", "sid@example.org"),
    );
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(b.status, StatusCode::SEE_OTHER, "{}", b.body);
    let desk = app.login(&app.a.people[&Role::Receptionist]).await;
    let mut names = app
        .get("/reception/fire-roll", &desk)
        .await
        .select_text("#fire-roll tbody td:nth-child(2)");
    names.sort();
    assert_eq!(names, vec!["Nora North", "Sid South"]);
    let entries = app.store.ledger_entries(app.a.school).await.unwrap();
    undersign_core::ledger::verify_chain(app.a.school, &entries).unwrap();
}

#[tokio::test]
async fn a_receptionist_signs_for_a_visitor_and_it_is_recorded_as_assisted() {
    let app = TestApp::new().await;
    let receptionist = &app.a.people[&Role::Receptionist];
    let desk = app.login(receptionist).await;
    let page = app.get("/reception/assist", &desk).await;
    assert_eq!(page.status, StatusCode::OK);
    let mut fields = details(&app.a, "Ada Assisted", "");
    fields.extend([
        ("version", value_of(&page, "input[name=version]")),
        ("declaration", "yes".into()),
        ("typed_name", "Ada Assisted".into()),
        ("signature_kind", "typed".into()),
        ("typed_signature", "Ada Assisted".into()),
        ("ack", app.a.reference.to_string()),
    ]);
    let no_reason = app.post("/reception/assist", &desk, &fields).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_reason
            .select_text(".error-summary li")
            .join(" ")
            .contains("Say why")
    );
    assert_eq!(visits_in_ledger(&app, &app.a).await, 0);

    fields.push(("reason", "Cannot use the touch screen".into()));
    let done = app.post("/reception/assist", &desk, &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let entry = app
        .store
        .ledger_entries(app.a.school)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
    assert_eq!(payload["event"]["auth"]["method"], "assisted");
    assert_eq!(payload["event"]["auth"]["by"], receptionist.id.0);
    assert_eq!(
        payload["event"]["auth"]["reason"],
        "Cannot use the touch screen"
    );
    let list = app.get("/reception", &desk).await;
    assert!(
        list.select_text("#on-site td")
            .contains(&"Signed with help: Cannot use the touch screen".to_string())
    );
}

#[tokio::test]
async fn reception_signs_visitors_out_the_end_of_day_job_flags_the_rest_and_other_schools_cannot() {
    let app = TestApp::new().await;
    let kiosk = enrol(&app, &app.a, 8).await;
    sign_in(&app, &kiosk, &app.a, "Olga One", "").await;
    sign_in(&app, &kiosk, &app.a, "Tim Two", "").await;
    let desk = app.login(&app.a.people[&Role::Receptionist]).await;
    let roll = app.get("/reception/fire-roll", &desk).await;
    assert_eq!(roll.select_text("#fire-roll tbody tr").len(), 2);
    let visits = app.store.on_site(&KioskReception::of(&app)).await.unwrap();
    let olga = visits.iter().find(|v| v.name() == "Olga One").unwrap().id;

    let desk_b = app.login(&app.b.people[&Role::Receptionist]).await;
    let foreign = app
        .post(&format!("/reception/visits/{olga}/sign-out"), &desk_b, &[])
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let out = app
        .post(&format!("/reception/visits/{olga}/sign-out"), &desk, &[])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let twice = app
        .post(&format!("/reception/visits/{olga}/sign-out"), &desk, &[])
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // Tim never signs out: the job run the next day signs him out and flags him.
    let tomorrow = undersign_core::time::now() + chrono::Duration::days(1);
    let report = undersign_core::use_cases::housekeeping(app.store.as_ref(), tomorrow)
        .await
        .unwrap();
    assert_eq!(report.auto_signed_out, 1);
    // Run as if a day later, the job also ended the receptionist's (idle) session.
    assert!(report.sessions_purged >= 1);
    let desk = app.login(&app.a.people[&Role::Receptionist]).await;
    let list = app.get("/reception", &desk).await;
    assert_eq!(list.select_text("#no-visitors").len(), 1);
    assert_eq!(list.select_text("#recent .tag"), vec!["Did not sign out"]);
    // Print CSS leaves the navigation off the fire roll.
    let css = app.send(Method::GET, "/static/app.css", None, None).await;
    assert!(css.body.contains("@media print"));
}

/// The reception capability of school A's headteacher, for reading the store directly.
struct KioskReception;

impl KioskReception {
    fn of(app: &TestApp) -> undersign_core::access::Reception {
        undersign_core::access::Actor {
            school: app.a.school,
            person: app.a.people[&Role::Headteacher].id,
            roles: [Role::Headteacher].into(),
        }
        .reception()
        .unwrap()
    }
}

/// The links of a page that lead to staff pages or the staff login.
fn staff_links(reply: &Reply) -> Vec<String> {
    let doc = scraper::Html::parse_document(&reply.body);
    let sel = scraper::Selector::parse("a[href]").unwrap();
    doc.select(&sel)
        .filter_map(|a| a.value().attr("href"))
        .filter(|href| !href.starts_with("/kiosk") && !href.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The `(seconds, target)` after which a page goes back by itself: its "Done" link's
/// `data-return-after`, which the page's script follows.
fn refresh_of(reply: &Reply) -> Option<(u32, String)> {
    let doc = scraper::Html::parse_document(&reply.body);
    let sel = scraper::Selector::parse("a[data-return-after]").unwrap();
    let link = doc.select(&sel).next()?;
    let seconds = link.value().attr("data-return-after")?.parse().ok()?;
    let script = scraper::Selector::parse("script[src='/static/signature.js']").unwrap();
    doc.select(&script).next()?;
    Some((seconds, link.value().attr("href")?.to_string()))
}

#[tokio::test]
async fn no_kiosk_screen_links_to_the_staff_pages_or_their_login() {
    let app = TestApp::new().await;
    let not_enrolled = app.send(Method::GET, "/kiosk", None, None).await;
    assert_eq!(not_enrolled.status, StatusCode::FORBIDDEN);
    let enrol_page = app.send(Method::GET, "/kiosk/enrol", None, None).await;
    let kiosk = enrol(&app, &app.a, 11).await;
    let start = app.get("/kiosk", &kiosk).await;
    let details_page = app.get("/kiosk/sign-in", &kiosk).await;
    let fields = details(&app.a, "Lena Links", "lena@acme.example");
    let sign_page = kiosk_post(&app, &kiosk, "/kiosk/sign-in", &fields).await;
    let done = sign_in(&app, &kiosk, &app.a, "Lena Links", "lena@acme.example").await;
    let welcome = app.get(done.location(), &kiosk).await;
    let sign_out_page = app.get("/kiosk/sign-out", &kiosk).await;
    let goodbye = kiosk_post(
        &app,
        &kiosk,
        "/kiosk/sign-out",
        &[("who", "lena@acme.example".into())],
    )
    .await;
    for (what, reply) in [
        ("the refusal", &not_enrolled),
        ("enrolment", &enrol_page),
        ("the start", &start),
        ("the details", &details_page),
        ("the policy", &sign_page),
        ("the welcome", &welcome),
        ("sign-out", &sign_out_page),
        ("the goodbye", &goodbye),
    ] {
        assert!(
            !reply.select_text("h1").is_empty(),
            "{what}: {}",
            reply.body
        );
        assert_eq!(staff_links(reply), Vec::<String>::new(), "{what}");
        assert_eq!(reply.select_text(".site-header .brand"), vec!["Undersign"]);
    }
    // Staff pages keep their link home.
    let staff = app.login(&app.a.people[&Role::Staff]).await;
    let me = app.get("/me", &staff).await;
    assert_eq!(me.select_text("a.brand[href='/me']"), vec!["Undersign"]);
}

#[tokio::test]
async fn the_kiosk_goes_back_to_its_start_by_itself_after_a_visitor_signs_in_or_out() {
    let app = TestApp::new().await;
    let kiosk = enrol(&app, &app.a, 12).await;
    let done = sign_in(&app, &kiosk, &app.a, "Rory Return", "rory@acme.example").await;
    let welcome = app.get(done.location(), &kiosk).await;
    let (seconds, target) = refresh_of(&welcome).expect("the welcome screen refreshes");
    assert_eq!(target, "/kiosk");
    assert!((10..=60).contains(&seconds), "{seconds} s");
    assert_eq!(
        welcome.select_text("a.button-link[href='/kiosk']"),
        vec!["Done"]
    );
    assert!(
        welcome.select_text("#returns")[0].contains(&format!("{seconds} seconds")),
        "the screen says when it goes back"
    );

    // The sign-out form itself stays until it is used; the goodbye goes back by itself.
    let form = app.get("/kiosk/sign-out", &kiosk).await;
    assert_eq!(refresh_of(&form), None);
    let goodbye = kiosk_post(
        &app,
        &kiosk,
        "/kiosk/sign-out",
        &[("who", "rory@acme.example".into())],
    )
    .await;
    assert_eq!(goodbye.select_text("h1"), vec!["Goodbye, Rory Return"]);
    let (seconds, target) = refresh_of(&goodbye).expect("the goodbye screen refreshes");
    assert_eq!(target, "/kiosk");
    assert!((5..=60).contains(&seconds), "{seconds} s");
    assert_eq!(
        goodbye.select_text("a.button-link[href='/kiosk']"),
        vec!["Done"]
    );
    // A refused sign-out keeps the visitor's typing.
    let refused = kiosk_post(&app, &kiosk, "/kiosk/sign-out", &[("who", "nobody".into())]).await;
    assert_eq!(refresh_of(&refused), None);
}

#[tokio::test]
async fn the_visitor_form_mentions_no_badge_and_the_signature_choices_have_their_own_names() {
    let app = TestApp::new().await;
    let kiosk = enrol(&app, &app.a, 13).await;
    let details_page = app.get("/kiosk/sign-in", &kiosk).await;
    let form_text = details_page.select_text("form").join(" ").to_lowercase();
    assert!(form_text.contains("visitor code"), "{form_text}");
    assert!(!form_text.contains("badge"), "{form_text}");

    let fields = details(&app.a, "Nina Names", "nina@acme.example");
    let sign_page = kiosk_post(&app, &kiosk, "/kiosk/sign-in", &fields).await;
    let label = |id: &str| sign_page.select_text(&format!("label[for={id}]")).join(" ");
    let names = [
        label("signature_kind-typed"),
        label("signature_kind-drawn"),
        label("typed_signature"),
        label("typed_name"),
    ];
    for (i, a) in names.iter().enumerate() {
        assert!(!a.is_empty(), "{names:?}");
        for b in &names[i + 1..] {
            assert_ne!(a, b, "two controls are both called {a:?}");
        }
    }
    // No fingerprint of the text for a visitor to puzzle over.
    assert!(!sign_page.body.contains("SHA-256"));
}

#[tokio::test]
async fn registering_a_kiosk_shows_the_full_enrolment_address_and_its_qr_code() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let reply = app
        .post("/kiosks", &admin, &[("name", "Main reception".into())])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let code = reply.select_text("#enrolment-code").join("");
    assert_eq!(code.len(), 11, "{code}");
    // The test app's public_url is the default, http://localhost/.
    assert_eq!(
        reply.select_text("#enrolment-address"),
        vec![format!("http://localhost/kiosk/enrol?code={code}")]
    );
    let doc = scraper::Html::parse_document(&reply.body);
    let sel = scraper::Selector::parse("img#enrolment-qr").unwrap();
    let img = doc.select(&sel).next().expect("a QR code image");
    assert!(!img.value().attr("alt").unwrap_or("").is_empty());
    let src = img.value().attr("src").unwrap();
    let svg = src
        .strip_prefix("data:image/svg+xml;base64,")
        .expect("an SVG data URL");
    use base64::Engine;
    let svg = base64::engine::general_purpose::STANDARD
        .decode(svg)
        .unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("<path"), "{svg}");

    // The address works: opened on a tablet, it enrols it.
    let tablet = app
        .send(
            Method::POST,
            "/kiosk/enrol",
            None,
            Some(&[("code", code.clone())]),
        )
        .await;
    assert_eq!(tablet.status, StatusCode::SEE_OTHER, "{}", tablet.body);
}

/// The ids the error summary links to, and the ids of the fields marked invalid, in page
/// order.
fn error_links_and_invalid_fields(reply: &Reply) -> (Vec<String>, Vec<String>) {
    let doc = scraper::Html::parse_document(&reply.body);
    let links = scraper::Selector::parse(".error-summary a").unwrap();
    let invalid = scraper::Selector::parse("form [aria-invalid=true]").unwrap();
    (
        doc.select(&links)
            .filter_map(|a| a.value().attr("href"))
            .map(|h| h.trim_start_matches('#').to_string())
            .collect(),
        doc.select(&invalid)
            .filter_map(|e| e.value().attr("id"))
            .map(str::to_string)
            .collect(),
    )
}

#[tokio::test]
async fn the_staff_sign_page_and_the_kiosk_refuse_an_empty_form_alike_beside_each_field() {
    let app = TestApp::new().await;
    let empty = |version: Option<String>| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("typed_name", String::new()),
            ("signature_kind", "typed".into()),
            ("typed_signature", String::new()),
        ];
        if let Some(v) = version {
            f.push(("version", v));
        }
        f
    };

    let governor = app.login(&app.a.people[&Role::Governor]).await;
    // Posted as the page's form would be (its form and served tokens added by `post`).
    let staff = app
        .post(
            &format!("/sign/{}", app.a.published),
            &governor,
            &empty(None),
        )
        .await;
    assert_eq!(
        staff.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        staff.body
    );

    let kiosk = enrol(&app, &app.a, 1).await;
    let fields = details(&app.a, "Vera Visitor", "vera@acme.example");
    let first = kiosk_post(&app, &kiosk, "/kiosk/sign-in", &fields).await;
    let mut signing = fields.clone();
    signing.extend(empty(Some(value_of(&first, "input[name=version]"))));
    let visitor = kiosk_post(&app, &kiosk, "/kiosk/sign", &signing).await;
    assert_eq!(
        visitor.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        visitor.body
    );

    let reference = format!("ack-{}", app.a.reference);
    let expected: Vec<String> = [
        reference.as_str(),
        "declaration",
        "typed_name",
        "typed_signature",
    ]
    .map(String::from)
    .to_vec();
    for (who, reply) in [("staff", &staff), ("kiosk", &visitor)] {
        let (links, invalid) = error_links_and_invalid_fields(reply);
        assert_eq!(
            links, expected,
            "{who}: the summary, in the order of the fields"
        );
        assert_eq!(invalid, expected, "{who}: each field is marked invalid");
        let beside = reply.select_text(".field-error");
        assert_eq!(
            beside.len(),
            4,
            "{who}: an error beside each field: {beside:?}"
        );
        assert_eq!(beside[2], "Type your full name", "{who}");
    }
    assert_eq!(
        staff.select_text(".field-error"),
        visitor.select_text(".field-error"),
        "the same words on both forms"
    );
}

#[tokio::test]
async fn a_kiosk_of_another_school_can_neither_sign_in_for_this_school_nor_see_its_visits() {
    let app = TestApp::new().await;
    let kiosk_a = enrol(&app, &app.a, 21).await;
    let kiosk_b = enrol(&app, &app.b, 22).await;
    let done = sign_in(&app, &kiosk_a, &app.a, "Olga One", "").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let welcome = done.location().to_string();
    assert!(welcome.starts_with("/kiosk/welcome/"), "{welcome}");

    // School B's kiosk names a host of school A, and tries to sign the visitor in with
    // school A's policy version.
    let refused = sign_in(&app, &kiosk_b, &app.a, "Vera Visitor", "").await;
    assert_ne!(refused.status, StatusCode::SEE_OTHER, "{}", refused.body);
    assert_eq!(visits_in_ledger(&app, &app.b).await, 0);
    assert_eq!(visits_in_ledger(&app, &app.a).await, 1);
    // Nor does school A's visit show on school B's kiosk.
    let seen = app.get(&welcome, &kiosk_b).await;
    assert_eq!(seen.status, StatusCode::NOT_FOUND, "{}", seen.body);
    assert!(!seen.body.contains("Olga"));
}
