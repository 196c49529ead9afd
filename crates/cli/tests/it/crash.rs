//! The crash test: many people sign at once against a running `undersign serve`, which is
//! killed with SIGKILL part-way, while batches of signings are being committed together.
//! After a restart every signing that got a success response must be there with its
//! receipt email in the outbox, nothing may be doubled, and `undersign verify` must pass.

use crate::support::{Browser, PASSWORD, Server, TestDb, free_port, seed, stderr, stdout, verify};
use chrono::TimeDelta;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use undersign_core::outbox::Deferred;
use undersign_core::{PersonId, SignatureId, time};
use undersign_test_kit::db_test;

const PEOPLE: usize = 48;
/// SIGKILL once this many signings have been acknowledged.
const KILL_AFTER: usize = 16;

#[db_test(worker_threads = 4)]
async fn every_acknowledged_signing_survives_a_sigkill(db: TestDb) {
    let seeded = seed(&db, PEOPLE).await;
    let port = free_port();
    let mut server = Server::start(&db, port, "serve-1.log").await;

    // Everyone logs in and opens the sign page first (a few at a time: argon2 is slow).
    let mut sessions = Vec::new();
    for chunk in seeded.staff.chunks(8) {
        let mut logins = Vec::new();
        for (id, name, email) in chunk.iter().cloned() {
            let origin = server.origin.clone();
            let version = seeded.version;
            logins.push(tokio::spawn(async move {
                let b = Browser::new(&origin);
                let r = b.login(&email, PASSWORD).await.unwrap();
                assert_eq!(r.status(), 303, "login of {email}");
                let csrf = b.csrf_token(&format!("/sign/{version}")).await.unwrap();
                (id, name, b, csrf)
            }));
        }
        for l in logins {
            sessions.push(l.await.unwrap());
        }
    }

    // Then all of them sign at once; the server dies after KILL_AFTER acknowledgements.
    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for (i, (id, name, browser, csrf)) in sessions.into_iter().enumerate() {
        let (acked, enough) = (acked.clone(), enough.clone());
        let refs = seeded.references.clone();
        let version = seeded.version;
        tasks.push(tokio::spawn(async move {
            // Arrivals in bursts, so that signings are committed in batches and the kill
            // lands in the middle of some.
            tokio::time::sleep(Duration::from_millis(40 * (i / 8) as u64)).await;
            let r = browser.sign(version, &csrf, &name, &refs).await;
            let outcome: Option<SignatureId> = match r {
                Ok(r) if r.status() == 303 => {
                    let loc = r.headers()["location"].to_str().unwrap().to_string();
                    let sig = loc
                        .strip_prefix("/me/signatures/")
                        .unwrap_or_else(|| panic!("unexpected redirect {loc}"))
                        .parse()
                        .unwrap();
                    if acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                        enough.notify_one();
                    }
                    Some(sig)
                }
                Ok(r) => {
                    let status = r.status();
                    panic!(
                        "signing answered {status}: {}",
                        r.text().await.unwrap_or_default()
                    )
                }
                // The server died under us: no acknowledgement, no claim.
                Err(_) => None,
            };
            (id, name, browser, csrf, outcome)
        }));
    }
    tokio::time::timeout(Duration::from_secs(120), enough.notified())
        .await
        .expect("too few signings were acknowledged before the kill");
    server.kill();

    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let acknowledged: Vec<(PersonId, SignatureId)> = results
        .iter()
        .filter_map(|(id, _, _, _, sig)| sig.map(|s| (*id, s)))
        .collect();
    assert!(acknowledged.len() >= KILL_AFTER);
    eprintln!(
        "crash test ({:?}): {} of {PEOPLE} signings acknowledged before SIGKILL",
        db.backend,
        acknowledged.len()
    );

    // Restart on the same database.
    let server = Server::start(&db, port, "serve-2.log").await;
    let store = undersign_cli::store::open_store(&db.url).await.unwrap();
    for (person, sig) in &acknowledged {
        let stored = store
            .signatures_of(seeded.school.id, *person)
            .await
            .unwrap();
        assert!(
            stored
                .iter()
                .any(|s| s.id == *sig && s.version == seeded.version),
            "acknowledged signature {sig} of person {person} is missing after the crash"
        );
    }

    // Each acknowledged signature's receipt was queued with it.
    let queued = store
        .claim_mail("crash-test", time::now(), TimeDelta::hours(1), 10_000)
        .await
        .unwrap();
    for (person, sig) in &acknowledged {
        let mail = queued
            .iter()
            .find(|m| m.dedupe_key == format!("receipt:{sig}"))
            .unwrap_or_else(|| panic!("the receipt of acknowledged signature {sig} is not queued"));
        assert_eq!(mail.deferred, Some(Deferred::Receipt { signature: *sig }));
        let to = store
            .person(seeded.school.id, *person)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mail.to_email, to.email, "receipt of {sig}");
    }

    // Everyone (sessions survive the restart) signs again: the acknowledged get their
    // first signature back, the rest sign now; nobody ends up with two.
    for (id, name, browser, csrf, sig) in &results {
        let browser = Browser {
            client: browser.client.clone(),
            origin: server.origin.clone(),
        };
        let r = browser
            .sign(seeded.version, csrf, name, &seeded.references)
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        if let Some(first) = sig {
            assert_eq!(loc, format!("/me/signatures/{first}"));
        }
        let page = browser
            .client
            .get(format!("{}{loc}", server.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{loc}");
        let n = store
            .signatures_of(seeded.school.id, *id)
            .await
            .unwrap()
            .len();
        assert_eq!(n, 1, "person {id} has {n} signatures");
    }
    drop(server);

    let out = verify(&db);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
