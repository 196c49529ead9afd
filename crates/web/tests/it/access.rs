//! The access matrix: every route × every role (and no login) × our school's and another
//! school's ids. A request either succeeds or is denied (403, 404, or sent to log in); the
//! test fails on any success that the table does not allow, and on any denial of an
//! allowed request, so the table is the access policy.

use axum::http::{Method, StatusCode};
use undersign_core::person::{Person, Role};

use crate::support::{ROLES, SchoolSeed, Session, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anyone,
    LoggedIn,
    /// Someone the published version asks to sign: any role with an audience (not a
    /// trust administrator, who signs nothing in a school).
    Asked,
    /// Only the person who made the seeded signature (the staff member).
    Signer,
    Roles(&'static [Role]),
    /// No person at all: only an enrolled kiosk device (its own cookie, no login).
    KioskOnly,
}

const PUBLISHER: &[Role] = &[Role::Headteacher];
const PEOPLE_ADMIN: &[Role] = &[Role::Headteacher, Role::SchoolAdministrator];
const KIOSK_ADMIN: &[Role] = &[Role::Headteacher, Role::SchoolAdministrator];
const RECEPTION: &[Role] = &[
    Role::Receptionist,
    Role::LeadershipTeam,
    Role::Headteacher,
    Role::SchoolAdministrator,
];
const COMPLIANCE: &[Role] = &[
    Role::Headteacher,
    Role::LeadershipTeam,
    Role::SchoolAdministrator,
];

struct Route {
    method: Method,
    /// With `{policy}`, `{published}`, `{draft}`, `{reference}`, `{draft_reference}`,
    /// `{signature}`, `{person}` replaced by a school's ids.
    path: &'static str,
    who: Who,
    form: fn(&Person, &SchoolSeed) -> Vec<(&'static str, String)>,
}

fn none(_: &Person, _: &SchoolSeed) -> Vec<(&'static str, String)> {
    Vec::new()
}

fn sign_form(p: &Person, s: &SchoolSeed) -> Vec<(&'static str, String)> {
    vec![
        ("declaration", "yes".into()),
        ("typed_name", p.full_name.to_string()),
        ("signature_kind", "typed".into()),
        ("typed_signature", p.full_name.to_string()),
        ("ack", s.reference.to_string()),
    ]
}

fn visitor_form(_: &Person, s: &SchoolSeed) -> Vec<(&'static str, String)> {
    vec![
        ("name", "Vera Visitor".into()),
        ("host", s.people[&Role::Staff].id.to_string()),
        ("reason", "Cannot use the screen".into()),
    ]
}

fn draft_form(_: &Person, _: &SchoolSeed) -> Vec<(&'static str, String)> {
    vec![
        ("body", "- A statement.\n- Another.\n".into()),
        ("change_kind", "major".into()),
        ("audience", "staff".into()),
        ("summary", "Shorter.".into()),
        ("declaration", "".into()),
    ]
}

fn person_form(p: &Person, _: &SchoolSeed) -> Vec<(&'static str, String)> {
    vec![
        ("full_name", "New Starter".into()),
        ("email", format!("new.{}@example.sch.uk", p.id)),
        ("role", "staff".into()),
    ]
}

fn same_person_form(_: &Person, s: &SchoolSeed) -> Vec<(&'static str, String)> {
    let staff = &s.people[&Role::Staff];
    vec![
        ("full_name", staff.full_name.to_string()),
        ("email", staff.email.to_string()),
        ("role", "staff".into()),
        ("status", "active".into()),
    ]
}

fn disclosure_form(_: &Person, s: &SchoolSeed) -> Vec<(&'static str, String)> {
    let today = undersign_core::time::now().date_naive().to_string();
    vec![
        ("subject", s.people[&Role::Governor].id.to_string()),
        ("from", today.clone()),
        ("to", today),
        ("reason", "A concern raised by a parent".into()),
    ]
}

fn routes() -> Vec<Route> {
    use Who::*;
    let r = |method: Method, path, who, form| Route {
        method,
        path,
        who,
        form,
    };
    vec![
        r(Method::GET, "/healthz", Anyone, none),
        r(Method::GET, "/login", Anyone, none),
        r(Method::GET, "/static/app.css", Anyone, none),
        r(Method::GET, "/static/signature.js", Anyone, none),
        r(
            Method::GET,
            "/blocked?url=http%3A%2F%2Ffacebook.com%2F&msg=AUP+statement+3%3A+x&school=school-a",
            Anyone,
            none,
        ),
        r(
            Method::GET,
            "/me/signatures/{signature}/receipt.pdf",
            Signer,
            none,
        ),
        r(
            Method::GET,
            "/compliance/people/{person}/evidence.pdf",
            Roles(COMPLIANCE),
            none,
        ),
        r(
            Method::GET,
            "/compliance/report.pdf",
            Roles(COMPLIANCE),
            none,
        ),
        r(Method::GET, "/verify", Anyone, none),
        r(Method::GET, "/login/link", Anyone, none),
        r(Method::POST, "/login/link", Anyone, |p, _| {
            vec![("email", p.email.to_string())]
        }),
        r(Method::GET, "/login/link/not-a-real-token", Anyone, none),
        r(Method::POST, "/login/link/not-a-real-token", Anyone, none),
        r(Method::GET, "/outbox", Roles(PEOPLE_ADMIN), none),
        r(Method::GET, "/outbox?page=2", Roles(PEOPLE_ADMIN), none),
        r(Method::POST, "/verify/code", Anyone, |_, _| {
            vec![("code", "ABCD-EFGH-JKMN-PQRS".into())]
        }),
        r(Method::POST, "/verify/file", Anyone, none),
        r(Method::POST, "/blocked", Anyone, |_, _| {
            vec![
                ("url", "http://facebook.com/".into()),
                ("reason", "Lesson".into()),
                ("school", "school-a".into()),
            ]
        }),
        r(
            Method::GET,
            "/web-rules/reports",
            Roles(&[Role::NetworkManager]),
            none,
        ),
        r(Method::GET, "/kiosk", KioskOnly, none),
        r(Method::GET, "/kiosk/sign-in", KioskOnly, none),
        r(Method::POST, "/kiosk/sign-in", KioskOnly, visitor_form),
        r(Method::POST, "/kiosk/sign", KioskOnly, visitor_form),
        r(Method::GET, "/kiosk/welcome/{visit}", KioskOnly, none),
        r(Method::GET, "/kiosk/sign-out", KioskOnly, none),
        r(Method::POST, "/kiosk/sign-out", KioskOnly, |_, _| {
            vec![("who", "ABCD-EF23".into())]
        }),
        r(Method::GET, "/kiosk/enrol", Anyone, none),
        r(Method::POST, "/kiosk/enrol", Anyone, |_, _| {
            vec![("code", "not-a-code".into())]
        }),
        r(Method::GET, "/kiosks", Roles(KIOSK_ADMIN), none),
        r(Method::POST, "/kiosks", Roles(KIOSK_ADMIN), |_, _| {
            vec![("name", "Side door".into())]
        }),
        r(
            Method::POST,
            "/kiosks/settings",
            Roles(KIOSK_ADMIN),
            |_, _| {
                vec![
                    ("resign_after_days", "30".into()),
                    ("retention_days", "90".into()),
                ]
            },
        ),
        r(Method::GET, "/reception", Roles(RECEPTION), none),
        r(Method::GET, "/reception/fire-roll", Roles(RECEPTION), none),
        r(Method::GET, "/reception/assist", Roles(RECEPTION), none),
        r(
            Method::POST,
            "/reception/assist",
            Roles(RECEPTION),
            visitor_form,
        ),
        r(Method::GET, "/me", LoggedIn, none),
        r(Method::GET, "/account/password", LoggedIn, none),
        r(Method::POST, "/account/password", LoggedIn, |_, _| {
            vec![
                ("current", "wrong".into()),
                ("new", "x".into()),
                ("confirm", "x".into()),
            ]
        }),
        r(Method::GET, "/me/signatures/{signature}", Signer, none),
        r(
            Method::GET,
            "/me/signatures/{signature}/mark.png",
            Signer,
            none,
        ),
        r(Method::GET, "/sign/{published}", Asked, none),
        r(
            Method::GET,
            "/sign/{published}/references/{reference}",
            Asked,
            none,
        ),
        r(Method::POST, "/sign/{published}/decline", Asked, |_, _| {
            vec![("reason", "I disagree.".into())]
        }),
        r(Method::POST, "/sign/{published}", Asked, sign_form),
        r(Method::GET, "/declines", Roles(COMPLIANCE), none),
        r(Method::GET, "/compliance", Roles(COMPLIANCE), none),
        r(
            Method::GET,
            "/compliance?policy={policy}&role=staff&status=all&version=never",
            Roles(COMPLIANCE),
            none,
        ),
        r(
            Method::GET,
            "/compliance/outstanding.csv?policy={policy}",
            Roles(COMPLIANCE),
            none,
        ),
        r(
            Method::GET,
            "/compliance/signatures.csv",
            Roles(COMPLIANCE),
            none,
        ),
        r(
            Method::POST,
            "/compliance/settings",
            Roles(PUBLISHER),
            |_, _| vec![("days_to_sign", "21".into())],
        ),
        r(
            Method::GET,
            "/compliance/reminders",
            Roles(PEOPLE_ADMIN),
            none,
        ),
        r(
            Method::POST,
            "/compliance/reminders",
            Roles(PEOPLE_ADMIN),
            |_, _| {
                vec![
                    ("first_reminder_days", "3".into()),
                    ("reminder_every_days", "7".into()),
                    ("escalate_to_manager_days", "10".into()),
                    ("escalate_to_head_days", "20".into()),
                ]
            },
        ),
        r(
            Method::POST,
            "/compliance/reminders/holidays",
            Roles(PEOPLE_ADMIN),
            |_, _| {
                vec![
                    ("name", "INSET day".into()),
                    ("first_day", "2026-11-20".into()),
                ]
            },
        ),
        r(
            Method::POST,
            "/compliance/reminders/holidays/remove",
            Roles(PEOPLE_ADMIN),
            |_, _| vec![("holiday", "2026-11-20,2026-11-20,INSET day".into())],
        ),
        r(
            Method::POST,
            "/compliance/reminders/holidays/import",
            Roles(PEOPLE_ADMIN),
            |_, _| vec![("holidays", "2026-12-21,2027-01-01,Christmas\n".into())],
        ),
        r(
            Method::POST,
            "/compliance/chase",
            Roles(PEOPLE_ADMIN),
            |_, s| vec![("policy", s.policy.to_string())],
        ),
        r(
            Method::POST,
            "/compliance/chase/{person}",
            Roles(PEOPLE_ADMIN),
            |_, s| vec![("policy", s.policy.to_string())],
        ),
        r(
            Method::GET,
            "/organisation/compliance",
            Roles(&[Role::TrustAdministrator]),
            none,
        ),
        r(Method::GET, "/people/import", Roles(PEOPLE_ADMIN), none),
        r(Method::POST, "/people/import", Roles(PEOPLE_ADMIN), none),
        r(
            Method::POST,
            "/people/import/apply",
            Roles(PEOPLE_ADMIN),
            |_, _| vec![("csv", "".into()), ("digest", "".into())],
        ),
        r(Method::GET, "/policies", Roles(PUBLISHER), none),
        r(Method::POST, "/policies", Roles(PUBLISHER), |_, _| {
            vec![("title", "Mobile phones".into())]
        }),
        r(Method::GET, "/policies/{policy}", Roles(PUBLISHER), none),
        r(
            Method::GET,
            "/policies/{policy}/versions/new",
            Roles(PUBLISHER),
            none,
        ),
        r(Method::GET, "/versions/{draft}", Roles(PUBLISHER), none),
        r(Method::GET, "/versions/{published}", Roles(PUBLISHER), none),
        r(
            Method::POST,
            "/versions/{draft}",
            Roles(PUBLISHER),
            draft_form,
        ),
        r(
            Method::POST,
            "/versions/{draft}/references",
            Roles(PUBLISHER),
            |_, _| {
                vec![
                    ("kind", "link".into()),
                    ("title", "Guidance".into()),
                    ("url", "https://example.org/g".into()),
                ]
            },
        ),
        r(
            Method::POST,
            "/versions/{draft}/references/{draft_reference}/delete",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::GET,
            "/versions/{draft}/publish",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::POST,
            "/versions/{draft}/publish",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::POST,
            "/policies/{policy}/versions/new",
            Roles(PUBLISHER),
            draft_form,
        ),
        r(Method::GET, "/people", Roles(PEOPLE_ADMIN), none),
        r(Method::GET, "/people/new", Roles(PEOPLE_ADMIN), none),
        r(
            Method::POST,
            "/people/new",
            Roles(PEOPLE_ADMIN),
            person_form,
        ),
        r(Method::GET, "/people/{person}", Roles(PEOPLE_ADMIN), none),
        r(
            Method::POST,
            "/people/{person}",
            Roles(PEOPLE_ADMIN),
            same_person_form,
        ),
        r(
            Method::POST,
            "/people/{person}/reset-link",
            Roles(PEOPLE_ADMIN),
            none,
        ),
        // A link's token is its only key: an unknown one gets a page saying so.
        r(Method::GET, "/reset/{token}", Anyone, none),
        r(Method::POST, "/reset/{token}", Anyone, |_, _| {
            vec![
                ("new", "a long enough password".into()),
                ("confirm", "a long enough password".into()),
            ]
        }),
        r(Method::GET, "/login/link/{token}", Anyone, none),
        r(Method::POST, "/login/link/{token}", Anyone, none),
        r(Method::GET, "/", Anyone, none),
        r(
            Method::POST,
            "/kiosks/{kiosk}/revoke",
            Roles(KIOSK_ADMIN),
            none,
        ),
        r(
            Method::POST,
            "/reception/visits/{visit}/sign-out",
            Roles(RECEPTION),
            none,
        ),
        // Anyone may open the page and ask; the store refuses (409) whoever is not the
        // person's line manager or the headteacher. A disclosure's record is the
        // requester's and the deciders' (here the headteacher asked, so only they see it).
        r(
            Method::GET,
            "/logs/reports",
            Roles(&[Role::NetworkManager, Role::Dsl]),
            none,
        ),
        r(Method::GET, "/logs/settings", Roles(PUBLISHER), none),
        r(Method::POST, "/logs/settings", Roles(PUBLISHER), |_, _| {
            vec![
                ("routine_days", "90".into()),
                ("blocked_days", "365".into()),
                ("safeguarding_days", "2190".into()),
                ("categories", "selfharm".into()),
                ("decider", "".into()),
            ]
        }),
        r(Method::GET, "/safeguarding", Roles(&[Role::Dsl]), none),
        r(
            Method::POST,
            "/safeguarding/{alert}/close",
            Roles(&[Role::Dsl]),
            |_, _| {
                vec![
                    ("action", "Spoke with the member of staff".into()),
                    ("outcome", "Support arranged, nothing further".into()),
                ]
            },
        ),
        r(Method::GET, "/disclosures", LoggedIn, none),
        r(Method::POST, "/disclosures", LoggedIn, disclosure_form),
        r(
            Method::GET,
            "/disclosures/{disclosure}",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::POST,
            "/disclosures/{disclosure}/decision",
            Roles(PUBLISHER),
            |_, _| vec![("decision", "decline".into()), ("note", "no".into())],
        ),
        r(
            Method::POST,
            "/disclosures/{disclosure}/read",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::POST,
            "/disclosures/{disclosure}/log.csv",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::POST,
            "/disclosures/{disclosure}/log.pdf",
            Roles(PUBLISHER),
            none,
        ),
        r(
            Method::POST,
            "/disclosures/{disclosure}/withdraw",
            Roles(PUBLISHER),
            none,
        ),
        // Anyone signed in may ask and read the register and the rulings. The seeded
        // request is the staff member's install, decided by the network manager: only
        // those two see it; only the decider decides (the requester gets 403), only the
        // requester answers and withdraws (last, as it closes the request).
        r(Method::GET, "/requests", LoggedIn, none),
        r(Method::GET, "/requests/new/{kind}", LoggedIn, none),
        r(Method::POST, "/requests/new/{kind}", LoggedIn, |_, _| {
            vec![
                ("item", "Scratch 3".into()),
                ("purpose", "Year 4 coding".into()),
            ]
        }),
        r(Method::GET, "/software", LoggedIn, none),
        r(Method::GET, "/software?q=audacity", LoggedIn, none),
        r(Method::GET, "/rulings", LoggedIn, none),
        r(Method::GET, "/requests/deciders", Roles(PUBLISHER), none),
        r(
            Method::POST,
            "/requests/deciders",
            Roles(PUBLISHER),
            |_, _| {
                vec![
                    ("kind", "install".into()),
                    ("decider", "network_manager".into()),
                ]
            },
        ),
        r(
            Method::GET,
            "/requests/{request}",
            Roles(&[Role::Staff, Role::NetworkManager]),
            none,
        ),
        r(
            Method::POST,
            "/requests/{request}/decision",
            Roles(&[Role::NetworkManager]),
            |_, _| {
                vec![
                    ("decision", "more_info".into()),
                    ("note", "Which rooms?".into()),
                ]
            },
        ),
        r(
            Method::POST,
            "/requests/{request}/answer",
            Roles(&[Role::Staff]),
            |_, _| {
                vec![
                    ("reply", "The English block".into()),
                    ("item", "Audacity 3.4".into()),
                    ("purpose", "Podcasts in English".into()),
                ]
            },
        ),
        r(
            Method::POST,
            "/requests/{request}/withdraw",
            Roles(&[Role::Staff]),
            none,
        ),
        // Image consent: the office keeps the register; everyone checks before publishing
        // and keeps their own consent. The seeded check and take-down task are the staff
        // member's (the headteacher may see the check, not publish it).
        r(Method::GET, "/consent", Roles(PEOPLE_ADMIN), none),
        r(Method::POST, "/consent", Roles(PEOPLE_ADMIN), |_, s| {
            vec![
                ("pupil", s.pupil.to_string()),
                ("channel", "local_press".into()),
                ("state", "given".into()),
            ]
        }),
        r(
            Method::POST,
            "/consent/links",
            Roles(PEOPLE_ADMIN),
            |_, s| vec![("pupil", s.pupil.to_string())],
        ),
        // A parent's link needs no login; an unknown one is found by nobody.
        r(Method::GET, "/consent/link/{token}", Roles(&[]), none),
        r(Method::POST, "/consent/link/{token}", Roles(&[]), none),
        r(Method::GET, "/consent/import", Roles(PEOPLE_ADMIN), none),
        r(Method::POST, "/consent/import", Roles(PEOPLE_ADMIN), none),
        r(
            Method::POST,
            "/consent/import/apply",
            Roles(PEOPLE_ADMIN),
            |_, _| vec![("csv", "".into()), ("digest", "".into())],
        ),
        r(Method::GET, "/me/consent", LoggedIn, none),
        r(Method::POST, "/me/consent", LoggedIn, |_, _| {
            vec![("channel", "website".into()), ("state", "given".into())]
        }),
        r(Method::GET, "/publish", LoggedIn, none),
        r(Method::POST, "/publish", LoggedIn, |_, s| {
            vec![
                ("channel", "social_media".into()),
                ("description", "Book week".into()),
                ("who", format!("pupil:{}", s.pupil)),
            ]
        }),
        r(
            Method::GET,
            "/publish/{check}",
            Roles(&[Role::Staff, Role::Headteacher]),
            none,
        ),
        r(
            Method::POST,
            "/publish/{check}/published",
            Roles(&[Role::Staff]),
            none,
        ),
        r(Method::GET, "/takedowns", LoggedIn, none),
        r(
            Method::POST,
            "/takedowns/{takedown}/done",
            Roles(&[Role::Staff]),
            |_, _| vec![("note", "Removed".into())],
        ),
        // Last: logging out ends the session the rows above use, and logging in again
        // replaces it.
        r(Method::POST, "/logout", LoggedIn, none),
        r(Method::POST, "/login", Anyone, |p, _| {
            vec![
                ("email", p.email.to_string()),
                ("password", crate::support::PASSWORD.into()),
            ]
        }),
    ]
}

fn fill(path: &str, s: &SchoolSeed) -> String {
    path.replace("{policy}", &s.policy.to_string())
        .replace("{published}", &s.published.to_string())
        .replace("{draft_reference}", &s.draft_reference.to_string())
        .replace("{draft}", &s.draft.to_string())
        .replace("{reference}", &s.reference.to_string())
        .replace("{signature}", &s.signature.to_string())
        .replace("{person}", &s.people[&Role::Staff].id.to_string())
        .replace("{kiosk}", &s.kiosk.to_string())
        .replace("{token}", "not-a-token")
        .replace("{visit}", &s.visit.to_string())
        .replace("{disclosure}", &s.disclosure.to_string())
        .replace("{alert}", &s.alert.to_string())
        .replace("{request}", &s.request.to_string())
        .replace("{kind}", "install")
        .replace("{check}", &s.check.to_string())
        .replace("{takedown}", &s.takedown.to_string())
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Denied,
}

fn classify(status: StatusCode, location: &str) -> Outcome {
    match status.as_u16() {
        403 if location == "blocked" => Outcome::Allowed,
        403 | 404 => Outcome::Denied,
        // Sent to log in (logging out, which also ends at /login, is no denial).
        303 | 302 | 307 if location.starts_with("/login?next=") => Outcome::Denied,
        // Reached the handler, which answered (a form error, or a refusal such as a
        // decline of a version already signed).
        200..=399 | 409 | 422 => Outcome::Allowed,
        other => panic!("unexpected status {other} (location {location:?})"),
    }
}

fn allowed(who: Who, role: Option<Role>) -> bool {
    match (who, role) {
        (Who::Anyone, _) => true,
        (_, None) => false,
        (Who::LoggedIn, Some(_)) => true,
        (Who::Asked, Some(r)) => r.audience().is_some(),
        (Who::Signer, Some(r)) => r == Role::Staff,
        (Who::Roles(roles), Some(r)) => roles.contains(&r),
        (Who::KioskOnly, _) => false,
    }
}

async fn run_matrix(role: Option<Role>) -> Vec<String> {
    let app = TestApp::with_reception().await;
    let session = match role {
        Some(r) => Some(app.login(&app.a.people[&r]).await),
        None => None,
    };
    let me = role.map(|r| app.a.people[&r].clone());
    let mut failures = Vec::new();
    for route in routes() {
        for (school, own) in [(&app.b, false), (&app.a, true)] {
            // A link's token and a kind of request are not a school's ids: tried once.
            let uses_ids = route.path.contains('{')
                && !route.path.contains("{token}")
                && !route.path.contains("{kind}");
            if !own && !uses_ids {
                continue;
            }
            let path = fill(route.path, school);
            let form = match (&me, route.method == Method::POST) {
                (Some(p), true) => Some((route.form)(p, &app.a)),
                (None, true) => Some((route.form)(&app.a.people[&Role::Staff], &app.a)),
                _ => None,
            };
            let reply = match (&session, form) {
                (Some(s), Some(f)) => app.post(&path, s, &f).await,
                (s, Some(f)) => app.send(Method::POST, &path, s.as_ref(), Some(&f)).await,
                (Some(s), None) => app.get(&path, s).await,
                (None, None) => app.send(Method::GET, &path, None, None).await,
            };
            // The block page answers 403 by design: it is a page about a refusal.
            let location = if path.starts_with("/blocked") {
                "blocked"
            } else {
                reply.location()
            };
            let outcome = classify(reply.status, location);
            let expected = if own && allowed(route.who, role) {
                Outcome::Allowed
            } else {
                Outcome::Denied
            };
            if outcome != expected {
                failures.push(format!(
                    "{:?} {} {} ({} school): expected {:?}, got {} {:?}",
                    role,
                    route.method,
                    path,
                    if own { "own" } else { "other" },
                    expected,
                    reply.status,
                    reply.location()
                ));
            }
        }
    }
    failures
}

#[tokio::test]
async fn every_route_for_every_role_allows_only_what_the_table_says() {
    let mut failures = run_matrix(None).await;
    for role in ROLES {
        failures.extend(run_matrix(Some(role)).await);
    }
    assert!(
        failures.is_empty(),
        "{} unexpected outcomes:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_session_of_one_school_never_sees_another_schools_signature() {
    let app = TestApp::new().await;
    let staff_b = app.login(&app.b.people[&Role::Staff]).await;
    let reply = app
        .get(&format!("/me/signatures/{}", app.a.signature), &staff_b)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let own = app
        .get(&format!("/me/signatures/{}", app.b.signature), &staff_b)
        .await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn a_post_from_another_site_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let before = app
        .store
        .versions(app.a.school, app.a.policy)
        .await
        .unwrap();
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/versions/{}/publish", app.a.draft))
        .header("host", crate::support::HOST)
        .header("origin", "https://evil.example")
        .header("cookie", &head.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!("csrf_token={}", head.csrf)))
        .unwrap();
    let reply = app.raw(req).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("cross-origin"), "{}", reply.body);
    let after = app
        .store
        .versions(app.a.school, app.a.policy)
        .await
        .unwrap();
    assert_eq!(before, after);

    // Sec-Fetch-Site from a browser says the same thing.
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/versions/{}/publish", app.a.draft))
        .header("host", crate::support::HOST)
        .header("sec-fetch-site", "cross-site")
        .header("cookie", &head.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!("csrf_token={}", head.csrf)))
        .unwrap();
    assert_eq!(app.raw(req).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_post_without_the_sessions_form_token_is_refused() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let forged = Session {
        csrf: "not-the-token".into(),
        ..head.clone()
    };
    let reply = app
        .post(&format!("/versions/{}/publish", app.a.draft), &forged, &[])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let draft = app
        .store
        .version(app.a.school, app.a.draft)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(draft.status, undersign_core::policy::VersionStatus::Draft);
}

#[tokio::test]
async fn the_school_administrator_who_runs_the_kiosks_sees_who_is_on_site() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let me = app.get("/me", &admin).await;
    let nav = me.select_text("nav[aria-label=Main] a");
    assert!(nav.contains(&"Kiosks".to_string()), "{nav:?}");
    assert!(nav.contains(&"Visitors".to_string()), "{nav:?}");
    let reception = app.get("/reception", &admin).await;
    assert_eq!(reception.status, StatusCode::OK, "{}", reception.body);
    assert_eq!(reception.select_text("h1"), vec!["Visitors on site now"]);
    let fire_roll = app.get("/reception/fire-roll", &admin).await;
    assert_eq!(fire_roll.status, StatusCode::OK);

    // Staff and governors still do not.
    for role in [Role::Staff, Role::Governor] {
        let s = app.login(&app.a.people[&role]).await;
        assert_eq!(
            app.get("/reception", &s).await.status,
            StatusCode::FORBIDDEN,
            "{role:?}"
        );
    }
}

/// Every `(method, path)` the application declares, read from its own route
/// declarations (`.route("/path", get(…).post(…))` in `src/`), with each `{…}` written
/// `{}`. Every one is checked to exist in the built application too, so the list cannot
/// name a route that is not served.
fn declared_routes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut declarations = 0;
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (start, _) in text.match_indices(".route(") {
            declarations += 1;
            // The call's arguments, up to its closing parenthesis.
            let rest = &text[start + ".route(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let args = &rest[..end];
            let path_lit = args.split('"').nth(1).unwrap().to_string();
            let mut found = false;
            for method in ["get", "post", "put", "patch", "delete"] {
                let pattern = format!("{method}(");
                if args.match_indices(&pattern).any(|(i, _)| {
                    i == 0
                        || !args.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && args.as_bytes()[i - 1] != b'_'
                }) {
                    out.push((method.to_uppercase(), normalise(&path_lit)));
                    found = true;
                }
            }
            assert!(found, "no method found in .route({args})");
        }
    }
    assert!(
        declarations > 40,
        "only {declarations} route declarations found"
    );
    out.sort();
    out.dedup();
    out
}

/// A path with every `{…}` (and any query) reduced, for comparing patterns.
fn normalise(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            c => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn the_table_covers_every_route_the_application_declares() {
    let app = TestApp::new().await;
    let declared = declared_routes();
    // Each declared route is served: the method is known at that path (not 404 or 405).
    for (method, path) in &declared {
        let concrete = path.replace("{}", "1");
        let method: Method = method.parse().unwrap();
        let reply = app.send(method.clone(), &concrete, None, None).await;
        assert!(
            reply.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is declared but not served"
        );
    }
    let covered: Vec<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), normalise(r.path)))
        .collect();
    let missing: Vec<String> = declared
        .iter()
        .filter(|d| !covered.contains(d))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the access table does not cover:\n{}",
        missing.join("\n")
    );
}

#[tokio::test]
async fn ids_from_another_school_in_a_form_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let head = app.login(&app.a.people[&Role::Headteacher]).await;
    let staff = app.a.people[&Role::Staff].clone();
    let foreign_person = app.b.people[&Role::Staff].id;
    let entries = app.store.ledger_entries(app.a.school).await.unwrap().len();

    // A line manager from school B.
    let reply = app
        .post(
            &format!("/people/{}", staff.id),
            &head,
            &[
                ("full_name", staff.full_name.to_string()),
                ("email", staff.email.to_string()),
                ("role", "staff".into()),
                ("line_manager", foreign_person.to_string()),
                ("status", "active".into()),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    // A role nobody in a school may grant from its pages.
    let reply = app
        .post(
            "/people/new",
            &head,
            &[
                ("full_name", "Trudy Trust".into()),
                ("email", "trudy@school-a.sch.uk".into()),
                ("role", "trust_administrator".into()),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    // A referenced document of school B acknowledged while signing school A's version.
    let signer = app.login(&app.a.people[&Role::Governor]).await;
    let name = app.a.people[&Role::Governor].full_name.to_string();
    let reply = app
        .post(
            &format!("/sign/{}", app.a.published),
            &signer,
            &[
                ("declaration", "yes".into()),
                ("typed_name", name.clone()),
                ("signature_kind", "typed".into()),
                ("typed_signature", name),
                ("ack", app.b.reference.to_string()),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    // Chasing someone about school B's policy.
    let reply = app
        .post(
            &format!("/compliance/chase/{}", staff.id),
            &head,
            &[("policy", app.b.policy.to_string())],
        )
        .await;
    assert!(
        matches!(reply.status.as_u16(), 404 | 409 | 422),
        "{} {}",
        reply.status,
        reply.body
    );
    assert_eq!(
        app.store
            .person(app.a.school, staff.id)
            .await
            .unwrap()
            .unwrap(),
        staff
    );
    assert_eq!(
        app.store.ledger_entries(app.a.school).await.unwrap().len(),
        entries
    );
}

#[tokio::test]
async fn hsts_is_sent_only_when_served_behind_tls() {
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let plain = app.send(Method::GET, "/login", None, None).await;
    assert!(plain.headers.get("strict-transport-security").is_none());
    let secure = undersign_web::app(undersign_web::AppState::new(
        app.store.clone(),
        undersign_web::WebConfig {
            secure_cookies: true,
            ..undersign_web::WebConfig::default()
        },
    ));
    let reply = secure
        .oneshot(
            axum::http::Request::builder()
                .uri("/login")
                .header("host", crate::support::HOST)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        reply.headers().get("strict-transport-security").unwrap(),
        "max-age=31536000"
    );
}

#[tokio::test]
async fn behind_tls_the_session_cookie_is_a_host_only_secure_cookie() {
    use tower::ServiceExt;
    let app = TestApp::new().await;
    let secure = undersign_web::app(undersign_web::AppState::new(
        app.store.clone(),
        undersign_web::WebConfig {
            secure_cookies: true,
            ..undersign_web::WebConfig::default()
        },
    ));
    let staff = &app.a.people[&Role::Staff];
    let body = format!(
        "email={}&password={}",
        url::form_urlencoded::byte_serialize(staff.email.as_str().as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(crate::support::PASSWORD.as_bytes())
            .collect::<String>()
    );
    let reply = secure
        .oneshot(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri("/login")
                .header("host", crate::support::HOST)
                .header("origin", crate::support::ORIGIN)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    let cookie = reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("undersign_session"))
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-undersign_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
}
