//! A seeded application: two schools, each with one person per role, a published policy
//! with a referenced document, a draft version and one signature.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;
use undersign_core::access::{PeopleAdmin, PolicyPublisher};
use undersign_core::person::{Audience, Email, FullName, NewPerson, Person, Role};
use undersign_core::policy::{ChangeKind, DraftInput, NewReference, Title};
use undersign_core::school::{NewSchool, SchoolSlug};
use undersign_core::signing::{AuthMethod, RequestContext, SignatureInput, SignatureMark};
use undersign_core::store::Store;
use undersign_core::*;
use undersign_store_sqlite::SqliteStore;
use undersign_web::{AppState, WebConfig};

pub const PASSWORD: &str = "correct horse battery staple";
pub const ORIGIN: &str = "http://undersign.test";
pub const HOST: &str = "undersign.test";

/// The roles the matrix logs in as, one person each.
pub const ROLES: [Role; 9] = [
    Role::Staff,
    Role::Governor,
    Role::Receptionist,
    Role::Headteacher,
    Role::LeadershipTeam,
    Role::Dsl,
    Role::NetworkManager,
    Role::SchoolAdministrator,
    Role::TrustAdministrator,
];

pub struct SchoolSeed {
    pub school: SchoolId,
    pub people: BTreeMap<Role, Person>,
    pub policy: PolicyId,
    pub published: VersionId,
    pub reference: ReferenceId,
    pub draft: VersionId,
    pub draft_reference: ReferenceId,
    pub signature: SignatureId,
    /// A registered kiosk (not enrolled), once [`TestApp::with_reception`] made it.
    pub kiosk: KioskId,
    /// A visitor on site, signed in with help at reception, likewise.
    pub visit: VisitId,
    /// The headteacher's request for the staff member's Internet log, likewise.
    pub disclosure: undersign_core::DisclosureId,
    /// A safeguarding alert about the staff member, likewise.
    pub alert: undersign_core::SafeguardingAlertId,
    /// The staff member's request to install software (decided by the network manager),
    /// likewise.
    pub request: undersign_core::RequestId,
    /// A pupil on roll, likewise.
    pub pupil: undersign_core::PupilId,
    /// The staff member's check of images of the pupil, published, likewise.
    pub check: i64,
    /// The staff member's take-down task for it after a withdrawal, likewise.
    pub takedown: i64,
}

pub struct TestApp {
    pub app: Router,
    /// The application's state, as the mail worker's receipt finisher gets it.
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub a: SchoolSeed,
    pub b: SchoolSeed,
    _dir: tempfile::TempDir,
}

/// A logged-in browser: its cookie and the session's form token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as sent (for PDFs and other files).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn select_text(&self, selector: &str) -> Vec<String> {
        let doc = scraper::Html::parse_document(&self.body);
        let sel = scraper::Selector::parse(selector).unwrap();
        doc.select(&sel)
            .map(|e| {
                e.text()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

impl Reply {
    /// The `attr` attribute of the first element matched ("" if none).
    pub fn select_attr(&self, selector: &str, attr: &str) -> String {
        let doc = scraper::Html::parse_document(&self.body);
        let sel = scraper::Selector::parse(selector).unwrap();
        doc.select(&sel)
            .next()
            .and_then(|e| e.value().attr(attr))
            .unwrap_or_default()
            .to_string()
    }

    /// The text of each element matched, exactly as parsed (spaces and newlines kept).
    pub fn select_text_raw(&self, selector: &str) -> Vec<String> {
        let doc = scraper::Html::parse_document(&self.body);
        let sel = scraper::Selector::parse(selector).unwrap();
        doc.select(&sel).map(|e| e.text().collect()).collect()
    }
}

/// `/sign/<id>` for a post to `/sign/<id>` or `/sign/<id>/decline`.
fn sign_page_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/sign/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    (matches!(tail, "" | "decline") && id.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("/sign/{id}"))
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend(width.to_be_bytes());
    v.extend(height.to_be_bytes());
    v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v
}

pub const POLICY_TEXT: &str = "# ICT Acceptable Use Policy\n\n- I will not share passwords.\n- I will not install software without permission.\n";

async fn seed_school(
    store: &dyn Store,
    keys_dir: &std::path::Path,
    slug: &str,
    hash: &str,
) -> SchoolSeed {
    let key = undersign_web::keys::generate();
    let org = store
        .create_organisation(&format!("Trust of {slug}"))
        .await
        .unwrap();
    let school = store
        .create_school(
            org.id,
            NewSchool {
                name: format!("School {slug}"),
                slug: SchoolSlug::parse(slug).unwrap(),
                timezone: undersign_core::time::TimeZone::parse("Europe/London").unwrap(),
                public_key: undersign_web::keys::public_hex(&key),
            },
        )
        .await
        .unwrap();
    undersign_web::keys::write(keys_dir, school.id, &key).unwrap();
    let admin = PeopleAdmin::for_operator(school.id);
    let mut people = BTreeMap::new();
    for role in ROLES {
        let name = format!(
            "{} {}",
            role.label().replace(' ', ""),
            slug.replace('-', "")
        );
        let person = store
            .add_person(
                &admin,
                NewPerson {
                    full_name: FullName::parse(&name).unwrap(),
                    email: Email::parse(&format!("{}@{slug}.sch.uk", role.as_str())).unwrap(),
                    roles: [role].into(),
                    line_manager: None,
                    password_hash: Some(hash.to_string()),
                },
            )
            .await
            .unwrap();
        people.insert(role, person);
    }
    let head = people[&Role::Headteacher].id;
    let publisher = PolicyPublisher::for_operator(school.id, head);
    let policy = store
        .create_policy(
            &publisher,
            &Title::parse("title", "ICT Acceptable Use Policy").unwrap(),
        )
        .await
        .unwrap();
    let draft_input = |body: &str| {
        DraftInput::parse(
            body,
            "",
            ChangeKind::Major,
            "",
            [Audience::Staff, Audience::Governors, Audience::Visitors].into(),
        )
        .unwrap()
    };
    let v1 = store
        .create_draft(&publisher, policy.id, draft_input(POLICY_TEXT))
        .await
        .unwrap();
    let v1 = store
        .add_reference(
            &publisher,
            v1.id,
            NewReference::text(
                "Council social media policy",
                "Follow the council's social media policy.",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let reference = v1.references[0].id;
    let v1 = store.publish(&publisher, v1.id, time::now()).await.unwrap();
    let v2 = store
        .create_draft(
            &publisher,
            policy.id,
            draft_input(&format!("{POLICY_TEXT}- A new statement.\n")),
        )
        .await
        .unwrap();
    let v2 = store
        .add_reference(
            &publisher,
            v2.id,
            NewReference::link("Council social media policy", "https://council.example/smp")
                .unwrap(),
        )
        .await
        .unwrap();
    let staff = &people[&Role::Staff];
    let signature = store
        .record_signature(
            SignatureInput {
                school: school.id,
                person: staff.id,
                version: v1.id,
                typed_name: staff.full_name.to_string(),
                mark: SignatureMark::drawn(png(300, 100)).unwrap(),
                text_sha256: v1.text_sha256.clone(),
                declaration: v1.declaration.clone(),
                references: v1
                    .references
                    .iter()
                    .map(|r| undersign_core::signing::AcknowledgedReference {
                        id: r.id,
                        title: r.title.clone(),
                        sha256: r.sha256.clone(),
                    })
                    .collect(),
                context: RequestContext::new("127.0.0.1".into(), "seed", AuthMethod::Password),
            },
            time::now(),
        )
        .await
        .unwrap()
        .signature()
        .id;
    SchoolSeed {
        kiosk: KioskId(0),
        visit: VisitId(0),
        disclosure: undersign_core::DisclosureId(0),
        alert: undersign_core::SafeguardingAlertId(0),
        request: undersign_core::RequestId(0),
        pupil: undersign_core::PupilId(0),
        check: 0,
        takedown: 0,
        school: school.id,
        people,
        policy: policy.id,
        published: v1.id,
        reference,
        draft: v2.id,
        draft_reference: v2.references[0].id,
        signature,
    }
}

/// Registers a kiosk and signs a visitor in (with help, under the published AUP) in
/// `seed`'s school.
async fn seed_reception(store: &dyn Store, seed: &mut SchoolSeed) {
    let head = seed.people[&Role::Headteacher].id;
    let v1 = store
        .version(seed.school, seed.published)
        .await
        .unwrap()
        .unwrap();
    let slug = format!("school-{}", seed.school);
    let head_actor = undersign_core::access::Actor {
        school: seed.school,
        person: head,
        roles: [Role::Headteacher].into(),
    };
    seed.kiosk = store
        .register_kiosk(
            &head_actor.kiosk_admin().unwrap(),
            &undersign_core::visits::KioskName::parse("Front desk").unwrap(),
            &undersign_core::policy::sha256_hex(slug.as_bytes()),
            time::now() + chrono::Duration::days(1),
            time::now(),
        )
        .await
        .unwrap()
        .id;
    seed.visit = store
        .sign_in_visitor(
            undersign_core::visits::NewVisit {
                school: seed.school,
                details: undersign_core::visits::VisitorDetails::parse(
                    "Vera Visitor",
                    "",
                    &head.to_string(),
                    "",
                    "",
                    "",
                )
                .unwrap(),
                signature: Some(undersign_core::visits::VisitSignature {
                    version: v1.id,
                    text_sha256: v1.text_sha256.clone(),
                    declaration: v1.declaration.clone(),
                    typed_name: "Vera Visitor".into(),
                    mark: SignatureMark::typed("Vera Visitor").unwrap(),
                    references: v1
                        .references
                        .iter()
                        .map(|r| undersign_core::signing::AcknowledgedReference {
                            id: r.id,
                            title: r.title.clone(),
                            sha256: r.sha256.clone(),
                        })
                        .collect(),
                }),
                kiosk: None,
                context: RequestContext::new(
                    "127.0.0.1".into(),
                    "seed",
                    AuthMethod::Assisted {
                        by: head,
                        reason: "seed".into(),
                    },
                ),
                new_code: undersign_core::visits::VisitorCode::from_random([7; 8]),
                salt: [7; 16],
            },
            time::now(),
        )
        .await
        .unwrap()
        .id;
    let today = time::now().date_naive();
    seed.disclosure = store
        .request_disclosure(
            &head_actor,
            undersign_core::disclosure::NewDisclosure::parse(
                seed.people[&Role::Staff].id,
                today,
                today,
                "A concern raised by the network manager",
                today,
            )
            .unwrap(),
            time::now(),
        )
        .await
        .unwrap()
        .id;
    seed.alert = seed_alert(store, seed).await;
    let staff = &seed.people[&Role::Staff];
    let staff_actor = undersign_core::access::Actor {
        school: seed.school,
        person: staff.id,
        roles: staff.roles.clone(),
    };
    seed.request = store
        .submit_request(
            &staff_actor,
            undersign_core::requests::RequestKind::Install,
            [("item", "Audacity 3.4"), ("purpose", "Podcasts in English")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            time::now(),
        )
        .await
        .unwrap()
        .id;
    seed_consent(store, seed, &staff_actor).await;
}

/// A pupil with website consent, the staff member's published check of images of them,
/// and the take-down task a withdrawal then gave them.
async fn seed_consent(
    store: &dyn Store,
    seed: &mut SchoolSeed,
    staff: &undersign_core::access::Actor,
) {
    use undersign_core::consent::{Channel, ConsentState, NewConsent, Subject};
    let admin = undersign_core::access::PeopleAdmin::for_operator(seed.school);
    let file =
        undersign_core::pupils::parse(b"UPN,Forename,Surname,Year,Class\nA1,Amira,Khan,4,4K\n")
            .unwrap();
    store
        .apply_pupils(
            &admin,
            &file,
            [1; 32],
            undersign_core::store::PupilApply::Apply,
            time::now(),
        )
        .await
        .unwrap();
    seed.pupil = store.pupils(seed.school).await.unwrap()[0].id;
    let consent = |state| NewConsent {
        subject: Subject::Pupil(seed.pupil),
        channel: Channel::Website,
        state,
        expires: None,
    };
    store
        .record_consent(&admin, consent(ConsentState::Given), time::now())
        .await
        .unwrap();
    seed.check = store
        .check_publication(
            staff,
            Channel::Website,
            "Sports day",
            &[Subject::Pupil(seed.pupil)],
            time::now(),
        )
        .await
        .unwrap()
        .id;
    store
        .publish_checked(staff, seed.check, None, time::now())
        .await
        .unwrap();
    store
        .record_consent(&admin, consent(ConsentState::Withdrawn), time::now())
        .await
        .unwrap();
    seed.takedown = store.takedown_tasks(staff).await.unwrap()[0].id;
}

/// Stores one request of the staff member in a safeguarding category, which raises an
/// alert for the DSL.
async fn seed_alert(store: &dyn Store, seed: &SchoolSeed) -> undersign_core::SafeguardingAlertId {
    use undersign_core::logs::{LogBatch, LogClass, LoggedRequest, Outcome, Via};
    let request = LoggedRequest {
        line: 1,
        at: time::now(),
        client: "10.0.0.9".parse().unwrap(),
        proxy_user: None,
        method: "GET".into(),
        url: "http://harm.test/".into(),
        host: "harm.test".into(),
        squid_code: "TCP_DENIED".into(),
        status: 403,
        bytes: 100,
        elapsed_ms: 1,
        content_type: None,
        outcome: Outcome::Denied,
        rule: Some("illegal-content".into()),
        category: Some("selfharm".into()),
        statement: Some(11),
        class: LogClass::Safeguarding,
        person: Some(seed.people[&Role::Staff].id),
        device: None,
        via: Via::ProxyUser,
        search: None,
    };
    store
        .load_logs(
            &undersign_core::access::WebRulesOwner::for_operator(seed.school),
            &LogBatch::of("file:seed", 0, 1, vec![request]),
        )
        .await
        .unwrap();
    let dsl = &seed.people[&Role::Dsl];
    let lead = undersign_core::access::Actor {
        school: seed.school,
        person: dsl.id,
        roles: dsl.roles.clone(),
    }
    .safeguarding_lead()
    .unwrap();
    store.safeguarding_alerts(&lead).await.unwrap()[0].id
}

impl TestApp {
    /// With a kiosk and a visitor on site in both schools, for the access matrix.
    pub async fn with_reception() -> TestApp {
        let mut app = TestApp::new().await;
        seed_reception(app.store.as_ref(), &mut app.a).await;
        seed_reception(app.store.as_ref(), &mut app.b).await;
        app
    }

    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("web.sqlite3").display());
        let store = SqliteStore::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let hash = undersign_web::auth::hash_password(PASSWORD).unwrap();
        let keys_dir = dir.path().join("keys");
        let a = seed_school(store.as_ref(), &keys_dir, "school-a", &hash).await;
        let b = seed_school(store.as_ref(), &keys_dir, "school-b", &hash).await;
        let config = WebConfig {
            keys_dir,
            ..WebConfig::default()
        };
        let state = AppState::new(store.clone(), config);
        let app = undersign_web::app(state.clone());
        TestApp {
            app,
            state,
            store,
            a,
            b,
            _dir: dir,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        session: Option<&Session>,
        form: Option<&[(&str, String)]>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::USER_AGENT, "undersign-tests");
        if let Some(s) = session {
            req = req.header(header::COOKIE, &s.cookie);
        }
        let body = match form {
            Some(fields) => {
                req = req
                    .header(header::ORIGIN, ORIGIN)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    ser.append_pair(k, v);
                }
                Body::from(ser.finish())
            }
            None => Body::empty(),
        };
        self.raw(req.body(body).unwrap()).await
    }

    pub async fn raw(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    /// Sends one file as a `multipart/form-data` POST, as a browser's upload form does.
    pub async fn upload(
        &self,
        path: &str,
        session: Option<&Session>,
        field: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Reply {
        let boundary = "undersign-test-boundary-7d1f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            );
        if let Some(s) = session {
            req = req.header(header::COOKIE, &s.cookie);
        }
        self.raw(req.body(Body::from(body)).unwrap()).await
    }

    pub async fn get(&self, path: &str, session: &Session) -> Reply {
        self.send(Method::GET, path, Some(session), None).await
    }

    /// Posts a form as a browser would submit it: with the session's form token, and for
    /// the sign and decline forms with the `served` token of the sign page they are on
    /// (fetched here) unless the test gives its own.
    pub async fn post(&self, path: &str, session: &Session, fields: &[(&str, String)]) -> Reply {
        let mut all = vec![("csrf_token", session.csrf.clone())];
        if let Some(page) = sign_page_of(path)
            && !fields.iter().any(|(k, _)| *k == "served")
        {
            let served = self
                .get(&page, session)
                .await
                .select_attr("input[name=served]", "value");
            all.push(("served", served));
        }
        all.extend(fields.iter().cloned());
        self.send(Method::POST, path, Some(session), Some(&all))
            .await
    }

    pub async fn login(&self, person: &Person) -> Session {
        let reply = self
            .send(
                Method::POST,
                "/login",
                None,
                Some(&[
                    ("email", person.email.to_string()),
                    ("password", PASSWORD.into()),
                ]),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "login of {} failed: {}",
            person.email,
            reply.body
        );
        self.session_from(&reply).await
    }

    /// The session a reply's `Set-Cookie` started, with the form token of `/me`.
    pub async fn session_from(&self, reply: &Reply) -> Session {
        let cookie = reply
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("undersign_session="))
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut session = Session {
            cookie,
            csrf: String::new(),
        };
        let me = self.get("/me", &session).await;
        let doc = scraper::Html::parse_document(&me.body);
        let sel = scraper::Selector::parse("input[name=csrf_token]").unwrap();
        session.csrf = doc
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .expect("a form token on my page")
            .to_string();
        session
    }
}
