//! PostgreSQL for tests: a fresh database per test, created on the server named by
//! `TEST_POSTGRES_URL`, or else on one throw-away cluster per test process started with
//! the system's `initdb` and `pg_ctl` (and stopped by a watchdog when the process ends).

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once, OnceLock};
use undersign_store_postgres::PostgresStore;

use crate::{Raw, TestDb};

/// The throw-away cluster of this process: its admin URL, or why there is none.
static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
static SKIP_NOTICE: Once = Once::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

pub(crate) async fn fresh() -> Option<TestDb> {
    let admin_url = match admin_url() {
        Ok(url) => url,
        Err(reason) => {
            skip(&reason);
            return None;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "undersign_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL at {admin_url}: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    admin.close().await.ok();
    let cleanup = DropDatabase {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let store = PostgresStore::connect(&url)
        .await
        .expect("connect the store to PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL");
    let raw = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("open a raw PostgreSQL connection");
    Some(TestDb {
        store: Arc::new(store),
        url,
        backend: crate::Backend::Postgres,
        raw: Raw::Postgres(raw),
        _dir: None,
        _cleanup: Some(cleanup),
    })
}

fn admin_url() -> Result<String, String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => CLUSTER.get_or_init(start_cluster).clone(),
    }
}

/// Says loudly, once per process, that the PostgreSQL half of the suite did not run, or
/// fails if PostgreSQL is required.
fn skip(reason: &str) {
    if std::env::var("UNDERSIGN_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("PostgreSQL is required (UNDERSIGN_REQUIRE_POSTGRES=1) but not available: {reason}");
    }
    SKIP_NOTICE.call_once(|| {
        // Straight to the process's stderr: the test harness captures eprintln!.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: PostgreSQL not available ({reason}). The postgres tests pass \
             without running. Set TEST_POSTGRES_URL=postgres://user@host:port/db or install \
             initdb and pg_ctl; UNDERSIGN_REQUIRE_POSTGRES=1 makes this a failure. ***\n"
        );
    });
}

/// Drops the test database when the test is over (kept, and named, if the test failed).
pub(crate) struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = writeln!(
                std::io::stderr(),
                "kept PostgreSQL database {} for inspection",
                self.name
            );
            return;
        }
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await: do it on a thread with its own small runtime.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            let _ = writeln!(
                std::io::stderr(),
                "could not drop test database {}: {e}",
                self.name
            );
        }
    }
}

/// Starts a cluster in a new temporary directory on a free port and returns its admin URL.
fn start_cluster() -> Result<String, String> {
    let initdb =
        on_path("initdb").ok_or("TEST_POSTGRES_URL is not set and initdb is not on PATH")?;
    let pg_ctl =
        on_path("pg_ctl").ok_or("TEST_POSTGRES_URL is not set and pg_ctl is not on PATH")?;
    let dir = tempfile::Builder::new()
        .prefix("undersign-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    // PostgreSQL refuses to run as root: run it as the postgres user then.
    let as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let prefix: Vec<String> = if as_root {
        let uid = id_of("-u")?;
        let gid = id_of("-g")?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        vec![
            "runuser".into(),
            "-u".into(),
            "postgres".into(),
            "--".into(),
        ]
    } else {
        Vec::new()
    };
    let data = dir.join("data");
    run(
        &prefix,
        &initdb,
        &[
            "-D",
            &data.to_string_lossy(),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        dir.display()
    );
    run(
        &prefix,
        &pg_ctl,
        &[
            "-D",
            &data.to_string_lossy(),
            "-l",
            &dir.join("postgres.log").to_string_lossy(),
            "-w",
            "-t",
            "60",
            "-o",
            &options,
            "start",
        ],
    )?;
    // Stops the cluster and removes it once this test process has gone.
    let watchdog = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; {prefix} '{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        prefix = prefix.join(" "),
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the cluster's watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn run(prefix: &[String], program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    let out = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The postgres user's uid (`-u`) or gid (`-g`).
fn id_of(flag: &str) -> Result<u32, String> {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| "running as root and there is no postgres user to run PostgreSQL as".into())
}
