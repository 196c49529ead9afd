//! Squid's access log through `undersign logs daemon`, with a real Squid on loopback:
//! requests from a school laptop (127.0.0.2, registered to a member of staff) and a
//! personal device (127.0.0.3, registered to nobody) arrive in the store attributed and
//! classified; `squid -k rotate` starts a new journal segment and nothing is lost; and on
//! PostgreSQL, with the database out of reach for a while (a loopback relay the test
//! stops), the lines wait in the journal and are stored when it is back.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use undersign_core::access::WebRulesOwner;
use undersign_core::logs::{LogClass, LoggedRequest, Outcome, Via};
use undersign_test_kit::db_test;

use crate::squid::{
    Origin, PERSONAL_DEVICE, SCHOOL_DEVICE, Squid, get, is_root, open_up, prepare, squid_binary,
};
use crate::support::{Backend, TestDb, free_port, run, seed};

/// The deploy/squid/undersign.conf line format, under a name of its own here.
const LOGFORMAT: &str = "logformat undersign_full %ts.%03tu %6tr %>a %un %Ss/%03>Hs %<st %rm %ru %mt rule=%note{rule_} category=%note{category_} statement=%note{statement_}";

/// A TCP relay to PostgreSQL that can be cut and restored, so the daemon sees the
/// database go away and come back.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: u16) -> Relay {
        let port = free_port();
        let up = Arc::new(AtomicBool::new(true));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (flag, held) = (Arc::clone(&up), Arc::clone(&streams));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused as far as the client can tell
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                held.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, up, streams }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn wait_for<T>(what: &str, squid: &Squid, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; Squid's cache.log:\n{}",
            squid.cache_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stored(db_url: &str, owner: &WebRulesOwner) -> Vec<LoggedRequest> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = undersign_cli::store::open_store(db_url).await.unwrap();
        let today = chrono::Utc::now().date_naive();
        let rows = store
            .logged_requests(owner, today.pred_opt().unwrap(), today.succ_opt().unwrap())
            .await
            .unwrap();
        // Squid logs the test's own readiness probes (from 127.0.0.1) too.
        rows.into_iter()
            .filter(|r| r.client.to_string() != "127.0.0.1")
            .collect()
    })
}

/// Squid's user must write the SQLite database, its directory and its WAL files.
fn writable_by_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("journal"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("segment-"))
            })
            .count()
        })
        .unwrap_or(0)
}

#[db_test(worker_threads = 2)]
async fn squid_logs_through_the_daemon_attributed_classified_and_never_lost(db: TestDb) {
    let Some(squid_bin) = squid_binary() else {
        if std::env::var_os("CI").is_some() {
            panic!("squid is not installed but CI is set: apt-get install -y squid");
        }
        eprintln!("\n*** SKIPPED: squid is not installed; the Squid log test did not run ***\n");
        return;
    };
    let seeded = seed(&db, 2).await;
    let owner = WebRulesOwner::for_operator(seeded.school.id);
    let (laptop_holder, _, holder_email) = seeded.staff[0].clone();
    let (url, backend) = (db.url.clone(), db.backend);
    // Squid is driven from a thread of its own: the helpers run their own runtimes.
    let outcome = std::thread::spawn(move || {
        exercise(
            &squid_bin,
            &url,
            backend,
            owner,
            laptop_holder,
            &holder_email,
        )
    })
    .join();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn exercise(
    squid_bin: &Path,
    db_url: &str,
    backend: Backend,
    owner: WebRulesOwner,
    laptop_holder: undersign_core::PersonId,
    holder_email: &str,
) {
    let tmp = tempfile::Builder::new()
        .prefix("undersign-squid-logs-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_owned();
    prepare(&dir);
    let devices = dir.join("devices.csv");
    std::fs::write(
        &devices,
        format!("device,address,holder\nLT-07,{SCHOOL_DEVICE},{holder_email}\nGUEST-1,{PERSONAL_DEVICE},\n"),
    )
    .unwrap();
    let out = run(&[
        "logs",
        "devices",
        "--database-url",
        db_url,
        devices.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The daemon reaches PostgreSQL through a relay the test can cut; SQLite is a file
    // Squid's user must be able to write.
    let relay = (backend == Backend::Postgres).then(|| Relay::start(5432));
    let daemon_url = match &relay {
        Some(r) => db_url.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", r.port)),
        None => {
            if is_root() {
                let file = db_url.trim_start_matches("sqlite://");
                let file = Path::new(file.split('?').next().unwrap());
                writable_by_all(file.parent().unwrap());
            }
            db_url.to_owned()
        }
    };
    assert!(
        relay.is_none() || daemon_url != db_url,
        "the test database is not on 127.0.0.1:5432: {db_url}"
    );
    let wrapper = dir.join("log-daemon");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {d}/undersign logs daemon --database-url '{daemon_url}' --rules {d}/filter.toml \"$@\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
    open_up(&dir);
    let extra = format!(
        "{LOGFORMAT}\nlogfile_daemon {}\naccess_log daemon:{}/journal undersign_full\n",
        wrapper.display(),
        dir.display()
    );
    let origin = Origin::start();
    // Monday 23 November 2026, 09:30: a lesson.
    let squid = Squid::start_with(squid_bin, &dir, "2026-11-23 09:30", &extra);

    assert_eq!(
        get(&squid, &origin, SCHOOL_DEVICE, "www.example.org").status,
        200
    );
    assert_eq!(
        get(&squid, &origin, SCHOOL_DEVICE, "www.facebook.com").status,
        302
    );
    assert_eq!(
        get(&squid, &origin, PERSONAL_DEVICE, "www.example.org").status,
        200
    );

    let rows = wait_for("the first three requests in the store", &squid, || {
        let rows = stored(db_url, &owner);
        (rows.len() >= 3).then_some(rows)
    });
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let facebook = rows.iter().find(|r| r.host == "www.facebook.com").unwrap();
    assert_eq!(
        (facebook.outcome, facebook.class, facebook.statement),
        (Outcome::Denied, LogClass::Blocked, Some(3)),
        "{facebook:#?}"
    );
    assert!(
        facebook.rule.is_some() && facebook.category.is_some(),
        "{facebook:#?}"
    );
    assert_eq!(
        (facebook.person, facebook.via),
        (Some(laptop_holder), Via::DeviceHolder)
    );
    let personal = rows
        .iter()
        .find(|r| r.client.to_string() == PERSONAL_DEVICE)
        .unwrap();
    assert_eq!((personal.person, personal.via), (None, Via::DeviceOnly));
    assert_eq!(personal.class, LogClass::Routine);

    // Rotation: the open segment is closed (and deleted once stored), the next started.
    let status = std::process::Command::new(squid_bin)
        .arg("-f")
        .arg(&squid.conf)
        .args(["-k", "rotate"])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        get(&squid, &origin, PERSONAL_DEVICE, "www.example.org").status,
        200
    );
    wait_for("the request after the rotation", &squid, || {
        (stored(db_url, &owner).len() == 4).then_some(())
    });
    wait_for("the closed segment to be deleted", &squid, || {
        (segments(&dir) == 1).then_some(())
    });

    if let Some(relay) = &relay {
        relay.cut();
        for _ in 0..3 {
            assert_eq!(
                get(&squid, &origin, SCHOOL_DEVICE, "www.example.org").status,
                200
            );
        }
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            stored(db_url, &owner).len(),
            4,
            "nothing can be stored while the database is away"
        );
        let journalled = std::fs::read_dir(dir.join("journal"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("segment-"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect::<String>();
        assert!(
            journalled.lines().count() >= 4,
            "the journal holds the lines meanwhile:\n{journalled}"
        );
        relay.restore();
        let rows = wait_for("the catch-up after the outage", &squid, || {
            let rows = stored(db_url, &owner);
            (rows.len() >= 7).then_some(rows)
        });
        assert_eq!(rows.len(), 7, "each line once");
        let from_laptop = rows
            .iter()
            .filter(|r| r.client.to_string() == SCHOOL_DEVICE && r.host == "www.example.org")
            .count();
        assert_eq!(from_laptop, 4, "{rows:#?}");
    }
    // Everything stored is on the record: verify finds nothing wrong.
    let out = run(&["verify", "--database-url", db_url]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        !said.contains("BROKEN") && out.status.code() == Some(3),
        "verify: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cache_log = String::new();
    let _ = std::fs::File::open(dir.join("logs/cache.log"))
        .and_then(|mut f| f.read_to_string(&mut cache_log));
    assert!(
        !cache_log.contains("malformed line skipped"),
        "Squid's lines must all parse:\n{cache_log}"
    );
}
