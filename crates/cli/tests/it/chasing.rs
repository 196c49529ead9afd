//! Chasing signatures through a real SMTP server (Postfix's smtp-sink on 127.0.0.1): the
//! invitation after publication, reminders on school days only, the digests to the line
//! manager and then the headteacher, and nothing once someone has signed. The schedule
//! runs on chosen times ("now" is passed in), delivery by the real worker; then the same
//! through a running `undersign serve`.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Notify;
use undersign_core::access::PolicyPublisher;
use undersign_core::chasing::{chase_now, parse_holidays, to_outbox};
use undersign_core::outbox::MailState;
use undersign_core::person::{Audience, Person, PersonUpdate};
use undersign_core::policy::{ChangeKind, PolicyVersion, Title};
use undersign_core::store::Store;
use undersign_core::use_cases::chase_school;
use undersign_mail::{DeliveryWorker, SmtpSettings, TlsMode, WorkerOptions};
use undersign_test_kit::smtp::{ReceivedMail, SmtpListener};
use undersign_test_kit::{Seed, TestDb, db_test, draft, seed_school, signature_input};
use undersign_web::{AppState, ReceiptFinisher, WebConfig};

use crate::support;

const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

fn public_url() -> url::Url {
    url::Url::parse("https://aup.test.example/").unwrap()
}

/// `hh:mm` on `day`, London time (GMT in November).
fn london(day: NaiveDate, hm: &str) -> DateTime<Utc> {
    let zone = undersign_core::time::TimeZone::parse("Europe/London")
        .unwrap()
        .tz();
    zone.from_local_datetime(&day.and_time(NaiveTime::parse_from_str(hm, "%H:%M").unwrap()))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A worker that also writes receipts, sealed with the school's key kept in `keys_dir`.
fn worker(store: Arc<dyn Store>, port: u16, keys_dir: &std::path::Path) -> DeliveryWorker {
    let state = AppState::new(
        store.clone(),
        WebConfig {
            keys_dir: keys_dir.to_path_buf(),
            public_url: public_url(),
            ..WebConfig::default()
        },
    );
    DeliveryWorker::new(
        store,
        &SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            credentials: None,
            from: SmtpSettings::sender("undersign@school.example", "Undersign").unwrap(),
            timeout: std::time::Duration::from_secs(10),
        },
        Arc::new(Notify::new()),
        WorkerOptions {
            worker_id: "chasing-test".into(),
            batch: 100,
            lease: TimeDelta::minutes(10),
            poll: std::time::Duration::from_secs(3600),
        },
    )
    .unwrap()
    .with_finisher(Arc::new(ReceiptFinisher::new(state)))
}

/// The update that leaves a person as they are.
fn unchanged(p: &Person) -> PersonUpdate {
    PersonUpdate {
        full_name: p.full_name.clone(),
        email: p.email.clone(),
        roles: p.roles.clone(),
        line_manager: p.line_manager,
        status: p.status,
    }
}

/// What a received mail is, from its subject.
fn kind(m: &ReceivedMail) -> &'static str {
    if m.subject.starts_with("Please read and sign") {
        "invitation"
    } else if m.subject.starts_with("Reminder:") {
        "reminder"
    } else if m.subject.contains("of your team") {
        "team summary"
    } else if m.subject.contains("not yet signed after") {
        "school summary"
    } else if m.subject.starts_with("Your receipt:") {
        "receipt"
    } else {
        panic!("unexpected mail {:?}", m.subject)
    }
}

/// The school's "Staff code of conduct", published at `at` to staff and governors.
async fn publish_policy(s: &dyn Store, seed: &Seed, at: DateTime<Utc>) -> PolicyVersion {
    let publisher = PolicyPublisher::for_operator(seed.school.id, seed.head.id);
    let policy = s
        .create_policy(
            &publisher,
            &Title::parse("title", "Staff Code of Conduct").unwrap(),
        )
        .await
        .unwrap();
    let v = s
        .create_draft(
            &publisher,
            policy.id,
            draft(
                "- I will treat everyone with respect.\n",
                ChangeKind::Major,
                &[Audience::Staff, Audience::Governors],
            ),
        )
        .await
        .unwrap();
    s.publish(&publisher, v.id, at).await.unwrap()
}

/// Runs the chase at `now`, delivers what is due, and gives the mails that arrived.
async fn step(
    s: &dyn Store,
    seed: &Seed,
    w: &DeliveryWorker,
    smtp: &SmtpListener,
    now: DateTime<Utc>,
) -> Vec<ReceivedMail> {
    let before = smtp.received().len();
    chase_school(s, seed.school.id, now, &public_url())
        .await
        .unwrap();
    let report = w.deliver_due().await.unwrap();
    assert_eq!(report.failed + report.retried, 0, "{report:?}");
    let got = smtp.wait_for(before + report.sent, WAIT).await;
    got[before..].to_vec()
}

#[db_test]
async fn invitations_reminders_and_digests_arrive_on_school_days_and_stop_after_signing(
    db: TestDb,
) {
    let s = &*db.store;
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, port) = SmtpListener::start().await;
    let seed = seed_school(s, "chase-smtp").await;
    // Everyone joined in September; Tina reports to Adam, Sam to Helen (the seed).
    db.exec(&format!(
        "UPDATE people SET created_at = '2025-09-01T08:00:00.000000Z' WHERE school_id = {}",
        seed.school.id
    ))
    .await;
    let mut tina = unchanged(&seed.teacher);
    tina.line_manager = Some(seed.admin.id);
    s.update_person(&seed.people_admin(), seed.teacher.id, tina)
        .await
        .unwrap();
    // Thursday 6 November is an INSET day.
    s.replace_holidays(
        &seed.people_admin(),
        &parse_holidays("2025-11-06,,INSET day\n").unwrap(),
        london(date("2025-10-01"), "09:00"),
    )
    .await
    .unwrap();
    let keys = tempfile::tempdir().unwrap();
    undersign_web::keys::write(keys.path(), seed.school.id, &seed.key).unwrap();
    let w = worker(db.store.clone(), port, keys.path());

    // Published on Monday 3 November at 10:00; the chase after publication.
    let published = london(date("2025-11-03"), "10:00");
    let version = publish_policy(s, &seed, published).await;
    let mut by_day: BTreeMap<NaiveDate, BTreeSet<(String, &'static str)>> = BTreeMap::new();
    let mut all: Vec<ReceivedMail> = Vec::new();
    let mut record = |day: NaiveDate, got: Vec<ReceivedMail>| {
        for m in got {
            by_day
                .entry(day)
                .or_default()
                .insert((m.envelope_to.join(","), kind(&m)));
            all.push(m);
        }
    };
    record(
        date("2025-11-03"),
        step(s, &seed, &w, &smtp, published + Duration::minutes(1)).await,
    );

    let sam = &seed.staff;
    for d in 1..23 {
        let day = date("2025-11-03") + Duration::days(d);
        record(day, step(s, &seed, &w, &smtp, london(day, "09:00")).await);
        if day == date("2025-11-12") {
            // The administrator chases Sam at 11:00; he signs at 12:00, before the
            // reminder goes: it is dropped.
            let facts = s.chase_facts(seed.school.id).await.unwrap();
            let chased = chase_now(
                &facts,
                version.policy,
                &[sam.id].into(),
                london(day, "11:00"),
                &public_url(),
            );
            assert_eq!(chased.len(), 1);
            let (mails, _) = to_outbox(seed.school.id, chased);
            s.enqueue_mails(mails, london(day, "11:00")).await.unwrap();
            s.record_signature(signature_input(sam, &version), london(day, "12:00"))
                .await
                .unwrap();
            record(day, step(s, &seed, &w, &smtp, london(day, "12:05")).await);
        }
    }

    let (helen, adam, tina, gary, sam) = (
        seed.head.email.to_string(),
        seed.admin.email.to_string(),
        seed.teacher.email.to_string(),
        seed.governor.email.to_string(),
        sam.email.to_string(),
    );
    let five = [&helen, &adam, &sam, &tina, &gary];
    let four = [&helen, &adam, &tina, &gary];
    let of = |people: &[&String], kind: &'static str| -> Vec<(String, &'static str)> {
        people.iter().map(|p| ((*p).clone(), kind)).collect()
    };
    let mut expected: BTreeMap<NaiveDate, BTreeSet<(String, &'static str)>> = BTreeMap::new();
    expected.insert(
        date("2025-11-03"),
        of(&five, "invitation").into_iter().collect(),
    );
    // Reminder 1 falls on the INSET day and goes on the Friday.
    expected.insert(
        date("2025-11-07"),
        of(&five, "reminder").into_iter().collect(),
    );
    // Sam signs on the 12th, and his receipt goes at once.
    expected.insert(
        date("2025-11-12"),
        [(sam.clone(), "receipt")].into_iter().collect(),
    );
    // Day 10: reminder 2, and Adam hears about Tina; Helen's only report (Sam) signed.
    let mut thirteenth: BTreeSet<_> = of(&four, "reminder").into_iter().collect();
    thirteenth.insert((adam.clone(), "team summary"));
    expected.insert(date("2025-11-13"), thirteenth);
    // A new week: Adam's summary again.
    expected.insert(
        date("2025-11-17"),
        [(adam.clone(), "team summary")].into_iter().collect(),
    );
    expected.insert(
        date("2025-11-20"),
        of(&four, "reminder").into_iter().collect(),
    );
    // Day 20 is Sunday 23rd: the headteacher's summary goes on Monday with Adam's.
    expected.insert(
        date("2025-11-24"),
        [
            (adam.clone(), "team summary"),
            (helen.clone(), "school summary"),
        ]
        .into_iter()
        .collect(),
    );
    assert_eq!(by_day, expected);

    // Never at a weekend or on the INSET day (the map above has no such day), and the
    // chase queued for Sam before he signed was cancelled, not sent.
    let page = s.outbox_page(&seed.people_admin(), 0, 200).await.unwrap();
    let cancelled: Vec<String> = page
        .mails
        .iter()
        .filter(|m| m.state == MailState::Cancelled)
        .map(|m| m.to_email.to_string())
        .collect();
    assert_eq!(cancelled, vec![sam.clone()]);

    // Sam's receipt was written when it was sent: a letter, and a PDF sealed with the
    // school's key stating his signature.
    let receipt = all.iter().find(|m| kind(m) == "receipt").unwrap();
    assert!(
        receipt
            .text_body
            .contains("Thank you for signing Staff Code of Conduct, version 1"),
        "{}",
        receipt.text_body
    );
    let [pdf] = receipt.attachments.as_slice() else {
        panic!("the receipt has {} attachments", receipt.attachments.len());
    };
    let facts = undersign_core::receipt::verify(&pdf.bytes, &seed.key.verifying_key()).unwrap();
    assert_eq!(facts.signer.email, sam.as_str());
    assert_eq!(facts.version.id, version.id);
    assert!(receipt.text_body.contains(&facts.code));

    // What the mails say.
    let invite = all
        .iter()
        .find(|m| m.envelope_to == [gary.clone()] && kind(m) == "invitation")
        .unwrap();
    assert_eq!(
        invite.subject,
        "Please read and sign Staff Code of Conduct (version 1) - School chase-smtp"
    );
    for needle in [
        "Dear Gary Governor,",
        "School chase-smtp has published version 1 of Staff Code of Conduct",
        "Please sign it by Monday 17 November 2025.",
        &format!("https://aup.test.example/sign/{}\n", version.id),
        "sign-in link by email at https://aup.test.example/login/link.",
    ] {
        assert!(
            invite.text_body.contains(needle),
            "{needle:?} not in\n{}",
            invite.text_body
        );
    }
    let summary = all.iter().find(|m| kind(m) == "school summary").unwrap();
    assert_eq!(summary.envelope_to, std::slice::from_ref(&helen));
    assert!(
        summary.text_body.contains("Tina Teacher"),
        "{}",
        summary.text_body
    );
    assert!(
        !summary.text_body.contains("Sam Staff"),
        "{}",
        summary.text_body
    );
    let team = all
        .iter()
        .rev()
        .find(|m| kind(m) == "team summary")
        .unwrap();
    assert!(team.text_body.contains("- Tina Teacher (teacher@chase-smtp.sch.uk): Staff Code of Conduct, version 1. Asked on Monday 3 November 2025, due by Monday 17 November 2025, 7 days overdue."), "{}", team.text_body);
}

/// `undersign serve` with an SMTP server: the chase that runs as it starts sends the
/// invitations of the version just published, with links on the public address.
#[db_test(worker_threads = 4)]
async fn serve_sends_the_invitations_of_a_version_just_published(db: support::TestDb) {
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, smtp_port) = SmtpListener::start().await;
    let seeded = support::seed(&db, 2).await;
    let port = support::free_port();
    let log = db.dir.path().join("serve-chasing.log");
    let mut child = support::undersign()
        .env("RUST_LOG", "info")
        .env("UNDERSIGN_SMTP_HOST", "127.0.0.1")
        .env("UNDERSIGN_SMTP_PORT", smtp_port.to_string())
        .env("UNDERSIGN_SMTP_TLS", "none")
        .env("UNDERSIGN_SMTP_FROM_ADDRESS", "undersign@test.example")
        .env("UNDERSIGN_PUBLIC_URL", "https://aup.test.example/")
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &db.url,
            "--keys-dir",
            db.keys_dir().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The headteacher and the two members of staff are invited; the headteacher also
    // gets the week's witness of the ledger head, from the checkpoint made at start.
    let all = smtp.wait_for(4, WAIT).await;
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(all.len(), 4, "{log}");
    let (witness, got): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|m| m.subject.contains("this week's record"));
    assert_eq!(witness.len(), 1, "{log}");
    assert_eq!(
        witness[0].envelope_to,
        vec!["head@test.example".to_string()]
    );
    assert!(
        witness[0]
            .text_body
            .contains("undersign-witness-1 school=1"),
        "{}",
        witness[0].text_body
    );
    assert_eq!(got.len(), 3, "{log}");
    let mut to: Vec<String> = got.iter().map(|m| m.envelope_to.join(",")).collect();
    to.sort();
    let mut expected = vec!["head@test.example".to_string()];
    expected.extend(seeded.staff.iter().map(|(_, _, email)| email.clone()));
    expected.sort();
    assert_eq!(to, expected);
    for m in &got {
        assert!(
            m.subject.starts_with("Please read and sign"),
            "{}",
            m.subject
        );
        assert!(
            m.text_body.contains(&format!(
                "https://aup.test.example/sign/{}\n",
                seeded.version
            )),
            "{}",
            m.text_body
        );
        assert!(
            m.text_body.contains("Test Primary School"),
            "{}",
            m.text_body
        );
    }
    assert!(log.contains("chasing signatures"), "{log}");
}
