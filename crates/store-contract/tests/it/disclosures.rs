//! Governed disclosure of a person's Internet log: who may ask, who decides, reading while
//! open, the person's own view, and every step on the record.

use chrono::TimeDelta;
use undersign_core::access::{Actor, PeopleAdmin, WebRulesOwner};
use undersign_core::disclosure::{Decision, DisclosureState, NewDisclosure};
use undersign_core::logs::LogSettings;
use undersign_core::person::{Person, Role};
use undersign_core::store::{DeviceRecord, Holder, Reading, Store, StoreError};
use undersign_logs::classify::Classifier;
use undersign_logs::load::Loader;
use undersign_logs::source::{LineReader, file_source, open_file};
use undersign_test_kit::{Seed, TestDb, db_test, seed_school};

use crate::helpers::{add, at, unchanged};

fn actor(p: &Person) -> Actor {
    Actor {
        school: p.school,
        person: p.id,
        roles: p.roles.clone(),
    }
}

struct Cast {
    seed: Seed,
    manager: Person,
    subject: Person,
    colleague: Person,
}

/// A subject line-managed by a manager, with a laptop and a morning of requests on
/// 23 November 2026 (one of them blocked).
async fn cast(db: &TestDb, slug: &str) -> Cast {
    let s = &*db.store;
    let seed = seed_school(s, slug).await;
    let school = seed.school.id;
    let manager = add(
        s,
        school,
        "Morgan Manager",
        &format!("morgan@{slug}.test"),
        &[Role::Staff],
    )
    .await;
    let subject = add(
        s,
        school,
        "Sasha Subject",
        &format!("sasha@{slug}.test"),
        &[Role::Staff],
    )
    .await;
    let colleague = add(
        s,
        school,
        "Cory Colleague",
        &format!("cory@{slug}.test"),
        &[Role::Staff, Role::NetworkManager],
    )
    .await;
    let subject = s
        .update_person(
            &PeopleAdmin::for_operator(school),
            subject.id,
            undersign_core::person::PersonUpdate {
                line_manager: Some(manager.id),
                ..unchanged(&subject)
            },
        )
        .await
        .unwrap();
    let owner = WebRulesOwner::for_operator(school);
    s.record_devices(
        &owner,
        &[DeviceRecord {
            name: "LT-12".into(),
            address: Some("10.0.0.12".parse().unwrap()),
            holder: Some(Holder::Person(subject.id)),
        }],
        at(0, 0),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let line = |min: i64, result: &str, url: &str| {
        let t = at(min, 0);
        format!(
            "{}.000 5 10.0.0.12 {result} 900 GET {url} - HIER_DIRECT/192.0.2.1 text/html\n",
            t.timestamp()
        )
    };
    std::fs::write(
        &path,
        [
            line(5, "TCP_MISS/200", "http://www.bbc.co.uk/news"),
            line(6, "TCP_MISS/200", "http://www.bbc.co.uk/sport"),
            line(7, "TCP_DENIED/403", "http://www.facebook.com/"),
        ]
        .concat(),
    )
    .unwrap();
    let mut loader = Loader::new(s, owner, Classifier::new(None, &[]))
        .await
        .unwrap();
    let reader = LineReader::new(open_file(&path, Default::default()).unwrap(), true);
    loader
        .load(
            &file_source(&path).unwrap().unwrap(),
            "access.log",
            reader,
            |_| {},
        )
        .await
        .unwrap();
    Cast {
        seed,
        manager,
        subject,
        colleague,
    }
}

fn request(c: &Cast) -> NewDisclosure {
    let day = at(0, 0).date_naive();
    NewDisclosure::parse(
        c.subject.id,
        day,
        day,
        "Concern raised about use of social media in lessons",
        day + chrono::Days::new(1),
    )
    .unwrap()
}

async fn findings(s: &dyn Store, c: &Cast) -> Vec<String> {
    let snapshot = s.evidence_snapshot(c.seed.school.id).await.unwrap();
    undersign_core::evidence::cross_check(&snapshot.entries, &snapshot.rows)
        .iter()
        .chain(&undersign_core::logs::check_log_evidence(
            &snapshot.entries,
            &snapshot.log_parts,
        ))
        .map(ToString::to_string)
        .collect()
}

fn refused<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[db_test]
async fn a_disclosure_lives_from_request_to_expiry_with_every_step_on_the_record(db: TestDb) {
    let s = &*db.store;
    let c = cast(&db, "disclose").await;
    let (head, manager) = (actor(&c.seed.head), actor(&c.manager));
    let t0 = at(60 * 24, 0);

    // Only the line manager or the headteacher may ask; nobody about themselves.
    refused(
        s.request_disclosure(&actor(&c.colleague), request(&c), t0)
            .await,
    );
    let own = NewDisclosure {
        subject: c.manager.id,
        ..request(&c)
    };
    refused(s.request_disclosure(&manager, own, t0).await);
    let d = s
        .request_disclosure(&manager, request(&c), t0)
        .await
        .unwrap();
    assert_eq!(d.state, DisclosureState::Requested);

    // Nothing can be read before a decision, and the requester cannot decide.
    refused(s.read_disclosure(&manager, d.id, Reading::Page, t0).await);
    let approve = Decision::Approve {
        open_days: 7,
        notice_delay: None,
        note: "Proportionate: one day, one concern".into(),
    };
    refused(
        s.decide_disclosure(&manager, d.id, approve.clone(), t0)
            .await,
    );
    refused(
        s.decide_disclosure(&actor(&c.colleague), d.id, approve.clone(), t0)
            .await,
    );
    let d = s
        .decide_disclosure(&head, d.id, approve.clone(), t0)
        .await
        .unwrap();
    assert_eq!(d.state, DisclosureState::Approved);
    assert!(matches!(
        s.decide_disclosure(&head, d.id, approve, t0).await,
        Err(StoreError::Conflict(_))
    ));

    // Only the requester reads it; each reading is recorded.
    refused(s.read_disclosure(&head, d.id, Reading::Page, t0).await);
    let (read, log) = s
        .read_disclosure(&manager, d.id, Reading::Page, t0 + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(read.views.len(), 1);
    assert_eq!(
        (
            log.sites[0].host.as_str(),
            log.sites[0].requests,
            log.sites[0].denied
        ),
        ("www.bbc.co.uk", 2, 0)
    );
    assert_eq!(log.blocked.len(), 1);
    assert_eq!(log.blocked[0].url, "http://www.facebook.com/");
    let total: u64 = log.days.iter().map(|d| d.requests).sum();
    assert_eq!(total, 3);
    s.read_disclosure(&manager, d.id, Reading::Csv, t0 + TimeDelta::hours(2))
        .await
        .unwrap();

    // The person sees who asked, who decided, and each reading.
    let mine = s
        .disclosures_about_me(&actor(&c.subject), t0.date_naive())
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].requester_name, "Morgan Manager");
    assert_eq!(mine[0].decided_by, Some(c.seed.head.id));
    assert_eq!(mine[0].views.len(), 2);
    // A colleague can see nothing of it.
    assert!(
        s.disclosures_for(&actor(&c.colleague))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        s.disclosure(&actor(&c.colleague), d.id).await,
        Err(StoreError::NotFound)
    ));

    // After seven days it closes, on the record.
    assert_eq!(
        s.expire_disclosures(c.seed.school.id, t0 + TimeDelta::days(6))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.expire_disclosures(c.seed.school.id, t0 + TimeDelta::days(7))
            .await
            .unwrap(),
        1
    );
    let why = refused(
        s.read_disclosure(&manager, d.id, Reading::Page, t0 + TimeDelta::days(8))
            .await,
    );
    assert!(why.contains("expired"), "{why}");
    let kinds: Vec<String> = s
        .ledger_entries(c.seed.school.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("disclosure"))
        .collect();
    assert_eq!(
        kinds,
        [
            "disclosure_requested",
            "disclosure_decided",
            "disclosure_viewed",
            "disclosure_viewed",
            "disclosure_expired"
        ]
    );
    assert_eq!(findings(s, &c).await, Vec::<String>::new());

    // A reading erased behind Undersign's back is named by verify.
    db.exec("DELETE FROM disclosure_views WHERE what = 'csv'")
        .await;
    let found = findings(s, &c).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("disclosure_views row") && f.contains("deleted")),
        "{found:?}"
    );
}

#[db_test]
async fn the_heads_own_request_goes_to_the_named_person_and_a_notice_can_wait(db: TestDb) {
    let s = &*db.store;
    let c = cast(&db, "disclose-head").await;
    let head = actor(&c.seed.head);
    let governor = actor(&c.seed.governor);
    let t0 = at(60 * 24, 0);
    let d = s.request_disclosure(&head, request(&c), t0).await.unwrap();
    let decline = Decision::Decline {
        note: "Not proportionate".into(),
    };
    let why = refused(s.decide_disclosure(&head, d.id, decline.clone(), t0).await);
    assert!(why.contains("own"), "{why}");
    let why = refused(
        s.decide_disclosure(&governor, d.id, decline.clone(), t0)
            .await,
    );
    assert!(why.contains("named nobody"), "{why}");
    // The headteacher cannot name a headteacher, and names the chair of governors.
    let mut settings = LogSettings {
        head_requests_decider: Some(c.seed.head.id),
        ..LogSettings::default()
    };
    refused(s.set_log_settings(&c.seed.publisher(), &settings, t0).await);
    settings.head_requests_decider = Some(c.seed.governor.id);
    s.set_log_settings(&c.seed.publisher(), &settings, t0)
        .await
        .unwrap();
    let d = s
        .decide_disclosure(&governor, d.id, decline, t0)
        .await
        .unwrap();
    assert_eq!(d.state, DisclosureState::Declined);
    // The named person sees the headteacher's requests; the log itself stays closed.
    assert_eq!(s.disclosures_for(&governor).await.unwrap().len(), 1);
    refused(s.read_disclosure(&head, d.id, Reading::Page, t0).await);

    // The manager's request, approved with the person's notice held back for a fortnight.
    let manager = actor(&c.manager);
    let d2 = s
        .request_disclosure(&manager, request(&c), t0)
        .await
        .unwrap();
    let too_long = Decision::Approve {
        open_days: 7,
        notice_delay: Some((
            t0.date_naive() + chrono::Days::new(60),
            "Investigation under way".into(),
        )),
        note: String::new(),
    };
    refused(s.decide_disclosure(&head, d2.id, too_long, t0).await);
    let held = Decision::Approve {
        open_days: 7,
        notice_delay: Some((
            t0.date_naive() + chrono::Days::new(14),
            "Investigation under way".into(),
        )),
        note: String::new(),
    };
    s.decide_disclosure(&head, d2.id, held, t0).await.unwrap();
    let subject = actor(&c.subject);
    let today = t0.date_naive();
    let now: Vec<_> = s
        .disclosures_about_me(&subject, today)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        now,
        [d.id],
        "only the declined one is shown while the notice waits"
    );
    let later = s
        .disclosures_about_me(&subject, today + chrono::Days::new(14))
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
    assert_eq!(findings(s, &c).await, Vec::<String>::new());
}
