//! Email through the real `undersign serve` binary and a real SMTP server (Postfix's
//! smtp-sink): sign-in by email link end to end, and a message queued while the mail
//! server is down that survives a SIGKILL of the server and arrives exactly once.

use crate::support::{Backend, Browser, TestDb, free_port, seed, undersign};
use std::path::PathBuf;
use std::time::Duration;
use undersign_core::access::PeopleAdmin;
use undersign_core::outbox::{MailState, MailSummary};
use undersign_core::signing::AuthMethod;
use undersign_test_kit::db_test;
use undersign_test_kit::smtp::{ReceivedMail, SmtpListener};

const WAIT: Duration = Duration::from_secs(30);
/// The answer to every request for a link, whether or not the address is known.
const SAME_ANSWER: &str = "If that address belongs to someone here, a link is on its way.";

/// `undersign serve` sending mail to the SMTP server on `smtp_port`; killed when dropped.
struct MailServer {
    child: std::process::Child,
    origin: String,
    log: PathBuf,
}

impl MailServer {
    async fn start(db: &TestDb, port: u16, smtp_port: u16, log_name: &str) -> MailServer {
        let log = db.dir.path().join(log_name);
        let origin = format!("http://127.0.0.1:{port}");
        let child = undersign()
            .env("RUST_LOG", "info")
            .env("UNDERSIGN_PUBLIC_URL", format!("{origin}/"))
            .env("UNDERSIGN_SMTP_HOST", "127.0.0.1")
            .env("UNDERSIGN_SMTP_PORT", smtp_port.to_string())
            .env("UNDERSIGN_SMTP_TLS", "none")
            .env("UNDERSIGN_SMTP_FROM_ADDRESS", "undersign@test.example")
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
        let server = MailServer { child, origin, log };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = client
                .get(format!("{}/healthz", server.origin))
                .send()
                .await
                && r.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not come up; log:\n{}", server.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks for a sign-in link through the form; returns the page's answer.
async fn ask_for_link(b: &Browser, email: &str) -> String {
    let r = b
        .client
        .post(format!("{}/login/link", b.origin))
        .header("Origin", &b.origin)
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    lead(&r.text().await.unwrap())
}

fn lead(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("p.lead").unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
        .unwrap_or_else(|| panic!("no lead paragraph in:\n{html}"))
}

const LINK_SUBJECT: &str = "Sign in to Undersign – Test Primary School";

/// The sign-in mails received (the server also sends other mail, such as invitations to
/// sign): waits until there are at least `n`.
async fn link_mails(smtp: &SmtpListener, n: usize) -> Vec<ReceivedMail> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let got: Vec<ReceivedMail> = smtp
            .received()
            .into_iter()
            .filter(|m| m.subject == LINK_SUBJECT)
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {n} sign-in mails, got {}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sign-in link in a received mail.
fn link_in(mail: &ReceivedMail, origin: &str) -> String {
    let start = mail
        .text_body
        .find(&format!("{origin}/login/link/"))
        .unwrap_or_else(|| panic!("no link in:\n{}", mail.text_body));
    mail.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

async fn post_link(b: &Browser, link: &str) -> reqwest::Response {
    b.client
        .post(link)
        .header("Origin", &b.origin)
        .send()
        .await
        .unwrap()
}

async fn exec_sql(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// A time long past, as both databases read a literal.
const LONG_AGO: &str = "'2000-01-01T00:00:00.000000Z'";

#[db_test(worker_threads = 4)]
async fn a_sign_in_link_is_mailed_works_once_and_reveals_nothing(db: TestDb) {
    let seeded = seed(&db, 2).await;
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (smtp, smtp_port) = SmtpListener::start().await;
    let port = free_port();
    let server = MailServer::start(&db, port, smtp_port, "serve.log").await;
    let (id, name, email) = seeded.staff[0].clone();

    // The login page offers the link; asking for one gets the one answer.
    let b = Browser::new(&server.origin);
    let login = b
        .client
        .get(format!("{}/login", server.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains(r#"href="/login/link""#));
    assert_eq!(ask_for_link(&b, &email).await, SAME_ANSWER);
    let got = link_mails(&smtp, 1).await;
    assert_eq!(got[0].envelope_to, [email.as_str()]);
    let link = link_in(&got[0], &server.origin);

    // Opening the link (as a mail scanner would) does not use it: it shows a button.
    for _ in 0..2 {
        let page = b.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let doc = scraper::Html::parse_document(&html);
        let button = scraper::Selector::parse(r#"form[method="post"] button"#).unwrap();
        assert_eq!(
            doc.select(&button)
                .next()
                .map(|e| e.text().collect::<String>()),
            Some("Sign in".to_string()),
            "{html}"
        );
    }
    // Pressing it signs in: my page works.
    let r = post_link(&b, &link).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/me");
    let me = b
        .client
        .get(format!("{}/me", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(me.text().await.unwrap().contains(&name));

    // A signature made in that session says it came from an email link.
    let csrf = b
        .csrf_token(&format!("/sign/{}", seeded.version))
        .await
        .unwrap();
    let signed = b
        .sign(seeded.version, &csrf, &name, &seeded.references)
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let store = undersign_cli::store::open_store(&db.url).await.unwrap();
    let signatures = store.signatures_of(seeded.school.id, id).await.unwrap();
    assert_eq!(signatures.len(), 1);
    assert_eq!(signatures[0].context.auth, AuthMethod::EmailLink);

    // The same link again, in another browser: refused, and no session.
    let other = Browser::new(&server.origin);
    let again = post_link(&other, &link).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        lead(&again.text().await.unwrap()),
        "Each link works once. Ask for a new link to sign in again."
    );
    let me = other
        .client
        .get(format!("{}/me", server.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 303, "not signed in");

    // An expired link is refused.
    let (_, _, email2) = seeded.staff[1].clone();
    assert_eq!(ask_for_link(&other, &email2).await, SAME_ANSWER);
    let got = link_mails(&smtp, 2).await;
    assert_eq!(got[1].envelope_to, [email2.as_str()]);
    let late = link_in(&got[1], &server.origin);
    exec_sql(
        &db,
        &format!("UPDATE login_links SET expires_at = {LONG_AGO} WHERE used_at IS NULL"),
    )
    .await;
    let page = other.client.get(&late).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("This sign-in link has expired")
    );
    let refused = post_link(&other, &late).await;
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("This sign-in link has expired")
    );

    // An address nobody has gets the same answer, and no mail.
    assert_eq!(
        ask_for_link(&other, "nobody.here@test.example").await,
        SAME_ANSWER
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(link_mails(&smtp, 2).await.len(), 2, "{}", server.log_text());
    // The link itself is not in the server's log.
    assert!(!server.log_text().contains(&link[link.len() - 20..]));
}

async fn outbox(db: &TestDb, school: undersign_core::SchoolId) -> Vec<MailSummary> {
    let store = undersign_cli::store::open_store(&db.url).await.unwrap();
    store
        .outbox_page(&PeopleAdmin::for_operator(school), 0, 10)
        .await
        .unwrap()
        .mails
}

#[db_test(worker_threads = 4)]
async fn mail_queued_during_an_outage_survives_a_sigkill_and_arrives_once(db: TestDb) {
    let seeded = seed(&db, 1).await;
    if undersign_test_kit::smtp::skip_without_smtp_sink() {
        return;
    }
    let (mut smtp, smtp_port) = SmtpListener::start().await;
    smtp.stop().await; // the mail server is down
    let port = free_port();
    let mut server = MailServer::start(&db, port, smtp_port, "serve-1.log").await;
    let (_, _, email) = seeded.staff[0].clone();
    assert_eq!(
        ask_for_link(&Browser::new(&server.origin), &email).await,
        SAME_ANSWER
    );

    // The server tries at once, fails, and records why.
    let mut tried = Vec::new();
    for _ in 0..200 {
        tried = outbox(&db, seeded.school.id).await;
        if tried
            .iter()
            .any(|m| m.subject == LINK_SUBJECT && m.last_error.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let queued = tried
        .iter()
        .find(|m| m.subject == LINK_SUBJECT)
        .unwrap_or_else(|| panic!("no sign-in mail in {tried:?}"))
        .clone();
    assert_eq!(queued.state, MailState::Queued);
    assert_eq!(queued.attempts, 1);
    let error = queued.last_error.clone().unwrap();
    assert!(error.contains("Connection refused"), "{error}");

    // The server dies; the mail server comes back; a minute passes (moved back in the
    // database, so the retry is due); the server starts again.
    server.kill();
    smtp.restart().await;
    exec_sql(
        &db,
        &format!(
            "UPDATE outbox SET next_attempt_at = {LONG_AGO} WHERE id = {}",
            queued.id
        ),
    )
    .await;
    let server = MailServer::start(&db, port, smtp_port, "serve-2.log").await;
    let got = link_mails(&smtp, 1).await;
    assert_eq!(got[0].envelope_to, [email]);
    assert_eq!(
        got[0].message_id,
        format!("undersign.{}.{}@test.example", seeded.school.id, queued.id)
    );
    // Exactly once, however long we wait; and so is every other message queued meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = smtp.received();
    assert_eq!(link_mails(&smtp, 1).await.len(), 1, "{}", server.log_text());
    let ids: std::collections::BTreeSet<_> = all.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), all.len(), "a message arrived twice");
    let sent = outbox(&db, seeded.school.id).await;
    let link_mail = sent.iter().find(|m| m.id == queued.id).unwrap();
    assert_eq!(link_mail.state, MailState::Sent);
    assert_eq!(link_mail.attempts, 2);
}
