//! The delivery worker against smtp-sink: what arrives, how often, and what the outbox
//! records when the server is down or refuses.

use chrono::TimeDelta;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use undersign_core::outbox::{Attachment, MailState, NewMail};
use undersign_core::person::Person;
use undersign_core::store::Store;
use undersign_mail::{DeliveryWorker, SmtpSettings, TlsMode, WorkerOptions};
use undersign_test_kit::smtp::SmtpListener;
use undersign_test_kit::{Backend, Seed, TestDb, db_test, seed_school, signature_input};

const WAIT: Duration = Duration::from_secs(20);

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        credentials: None,
        from: SmtpSettings::sender("undersign@school.example", "Undersign").unwrap(),
        timeout: Duration::from_secs(10),
    }
}

fn worker(store: Arc<dyn Store>, port: u16, name: &str) -> DeliveryWorker {
    DeliveryWorker::new(
        store,
        &settings(port),
        Arc::new(Notify::new()),
        WorkerOptions {
            worker_id: name.into(),
            batch: 7,
            lease: TimeDelta::minutes(10),
            poll: Duration::from_secs(3600),
        },
    )
    .unwrap()
}

fn mail(seed: &Seed, to: &Person, key: &str) -> NewMail {
    NewMail {
        school: seed.school.id,
        dedupe_key: key.to_string(),
        to_email: to.email.clone(),
        to_name: to.full_name.to_string(),
        subject: format!("Please sign the policy ({key})"),
        text_body: format!(
            "Dear {},\n\nPlease read and sign the ICT Acceptable Use Policy — it takes two minutes.\n",
            to.full_name
        ),
        attachments: Vec::new(),
        not_before: undersign_core::time::now() - TimeDelta::seconds(1),
        unless_signed: None,
        deferred: None,
    }
}

async fn only_mail(store: &dyn Store, seed: &Seed) -> undersign_core::outbox::MailSummary {
    let page = store
        .outbox_page(&seed.people_admin(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    page.mails.into_iter().next().unwrap()
}

#[db_test]
async fn a_queued_message_arrives_once_with_its_recipient_body_attachment_and_id(db: TestDb) {
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, port) = SmtpListener::start().await;
    let seed = seed_school(&*db.store, "mail").await;
    let pdf: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
    let mut m = mail(&seed, &seed.governor, "receipt:1");
    m.attachments = vec![Attachment {
        filename: "receipt-1.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: pdf.clone(),
    }];
    db.store
        .enqueue_mail(m, undersign_core::time::now())
        .await
        .unwrap();
    let w = worker(db.store.clone(), port, "w1");
    let report = w.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1));
    // Nothing more to send: a second pass sends nothing.
    assert_eq!(w.deliver_due().await.unwrap().claimed, 0);

    let got = smtp.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let got = &got[0];
    assert_eq!(got.envelope_to, ["governor@mail.sch.uk"]);
    assert_eq!(got.to, ["governor@mail.sch.uk"]);
    assert_eq!(got.subject, "Please sign the policy (receipt:1)");
    assert!(
        got.text_body.contains("Dear Gary Governor,\n\nPlease read and sign the ICT Acceptable Use Policy — it takes two minutes."),
        "{:?}",
        got.text_body
    );
    let id = only_mail(&*db.store, &seed).await.id;
    assert_eq!(
        got.message_id,
        format!("undersign.{}.{id}@school.example", seed.school.id)
    );
    assert_eq!(got.attachments.len(), 1);
    assert_eq!(got.attachments[0].filename, "receipt-1.pdf");
    assert_eq!(got.attachments[0].content_type, "application/pdf");
    assert_eq!(got.attachments[0].bytes, pdf);
    let listed = only_mail(&*db.store, &seed).await;
    assert_eq!(listed.state, MailState::Sent);
    assert_eq!(listed.attempts, 1);
}

#[db_test]
async fn two_workers_on_one_database_send_two_hundred_messages_each_exactly_once(db: TestDb) {
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, port) = SmtpListener::start().await;
    let seed = seed_school(&*db.store, "mail").await;
    let mails: Vec<NewMail> = (0..200)
        .map(|i| mail(&seed, &seed.staff, &format!("bulk:{i}")))
        .collect();
    let queued = db
        .store
        .enqueue_mails(mails, undersign_core::time::now())
        .await
        .unwrap();
    assert_eq!(queued, 200);
    // Two servers: two store handles on the same database, each with its own worker.
    let second = db.open_again().await;
    let drain = |w: DeliveryWorker| async move {
        let mut sent = 0;
        loop {
            let r = w.deliver_due().await.unwrap();
            assert_eq!(r.lease_lost, 0);
            sent += r.sent;
            if r.claimed == 0 {
                return sent;
            }
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(drain(worker(db.store.clone(), port, "server-a"))),
        tokio::spawn(drain(worker(second, port, "server-b"))),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 200);
    assert!(a > 0 && b > 0, "both servers took part: {a} and {b}");

    let got = smtp.wait_for(200, Duration::from_secs(60)).await;
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for m in &got {
        *per_id.entry(m.message_id.clone()).or_default() += 1;
    }
    assert_eq!(got.len(), 200, "no message twice");
    assert_eq!(per_id.len(), 200);
    assert!(per_id.values().all(|n| *n == 1));
    let page = db
        .store
        .outbox_page(&seed.people_admin(), 0, 500)
        .await
        .unwrap();
    assert!(
        page.mails
            .iter()
            .all(|m| m.state == MailState::Sent && m.attempts == 1)
    );
}

#[db_test]
async fn a_refused_connection_is_retried_later_with_the_error_recorded(db: TestDb) {
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (mut smtp, port) = SmtpListener::start().await;
    smtp.stop().await;
    let seed = seed_school(&*db.store, "mail").await;
    db.store
        .enqueue_mail(
            mail(&seed, &seed.staff, "invite:1"),
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    let w = worker(db.store.clone(), port, "w1");
    let before = undersign_core::time::now();
    let report = w.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.retried), (1, 1));
    let listed = only_mail(&*db.store, &seed).await;
    assert_eq!(listed.state, MailState::Queued);
    assert_eq!(listed.attempts, 1);
    let error = listed.last_error.unwrap();
    assert!(error.contains("Connection refused"), "{error}");
    // The first retry is a minute later; not before.
    let wait = listed.next_attempt_at - before;
    assert!(
        wait >= TimeDelta::seconds(59) && wait <= TimeDelta::seconds(70),
        "{wait:?}"
    );
    assert_eq!(w.deliver_due().await.unwrap().claimed, 0);

    // The server is back and the minute has passed (moved back in the database).
    smtp.restart().await;
    db.exec(&format!(
        "UPDATE outbox SET next_attempt_at = {} WHERE id = {}",
        past(&db),
        listed.id
    ))
    .await;
    let report = w.deliver_due().await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(smtp.wait_for(1, WAIT).await.len(), 1);
    let listed = only_mail(&*db.store, &seed).await;
    assert_eq!(listed.state, MailState::Sent);
    assert_eq!(listed.attempts, 2);
}

/// An SQL literal for a time a minute ago, in the backend's encoding.
fn past(db: &TestDb) -> String {
    let t = undersign_core::time::now() - TimeDelta::minutes(1);
    match db.backend {
        Backend::Sqlite => format!("'{}'", undersign_core::time::rfc3339(t)),
        Backend::Postgres => format!("TIMESTAMPTZ '{}'", undersign_core::time::rfc3339(t)),
    }
}

#[db_test]
async fn a_permanent_refusal_is_given_up_at_once(db: TestDb) {
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, port) = SmtpListener::start_rejecting().await;
    let seed = seed_school(&*db.store, "mail").await;
    db.store
        .enqueue_mail(
            mail(&seed, &seed.staff, "invite:1"),
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    let w = worker(db.store.clone(), port, "w1");
    let report = w.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.failed), (1, 1));
    let listed = only_mail(&*db.store, &seed).await;
    assert_eq!(listed.state, MailState::Failed);
    assert_eq!(listed.attempts, 1);
    let error = listed.last_error.unwrap();
    assert!(
        error.contains("permanent") && error.contains("5"),
        "{error}"
    );
    assert!(smtp.received().is_empty());
    // Never tried again.
    db.exec(&format!(
        "UPDATE outbox SET next_attempt_at = {}",
        past(&db)
    ))
    .await;
    assert_eq!(w.deliver_due().await.unwrap().claimed, 0);
}

#[db_test]
async fn a_woken_worker_sends_at_once_and_a_signed_reminder_is_never_sent(db: TestDb) {
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, port) = SmtpListener::start().await;
    let seed = seed_school(&*db.store, "mail").await;
    let wake = Arc::new(Notify::new());
    let w = DeliveryWorker::new(
        db.store.clone(),
        &settings(port),
        wake.clone(),
        WorkerOptions {
            worker_id: "w1".into(),
            poll: Duration::from_secs(3600),
            ..WorkerOptions::default()
        },
    )
    .unwrap();
    let running = tokio::spawn(w.run());
    // Let the worker's first pass find nothing and go to sleep for an hour.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut signed = mail(&seed, &seed.staff, "remind:staff");
    signed.unless_signed = Some((seed.staff.id, seed.aup.id));
    let mut unsigned = mail(&seed, &seed.teacher, "remind:teacher");
    unsigned.unless_signed = Some((seed.teacher.id, seed.aup.id));
    db.store
        .record_signature(
            signature_input(&seed.staff, &seed.aup),
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    db.store
        .enqueue_mails(vec![signed, unsigned], undersign_core::time::now())
        .await
        .unwrap();
    wake.notify_one();
    let got = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].envelope_to, ["teacher@mail.sch.uk"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        smtp.received().len(),
        1,
        "the signed reminder is never sent"
    );
    running.abort();
}
