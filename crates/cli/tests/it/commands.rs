//! The operator commands end to end: bootstrap, migrate, verify's exit codes.

use crate::support::{run, stderr, stdout};

#[test]
fn verify_exits_2_when_it_cannot_open_the_database() {
    let out = run(&[
        "verify",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));

    let out = run(&["verify", "--database-url", "mysql://x@y/z"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("sqlite://"), "{}", stderr(&out));

    let tmp = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/nothing.sqlite3", tmp.path().display());
    let out = run(&["verify", "--database-url", &missing]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        !tmp.path().join("nothing.sqlite3").exists(),
        "verify created a database"
    );
}

#[test]
fn bootstrap_creates_a_school_its_key_and_a_headteacher_who_can_log_in() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/u.sqlite3", tmp.path().display());
    let keys = tmp.path().join("keys");
    let out = run(&[
        "bootstrap",
        "--database-url",
        &url,
        "--keys-dir",
        keys.to_str().unwrap(),
        "--organisation",
        "Sefton Council",
        "--school",
        "St Mary's Primary",
        "--slug",
        "st-marys",
        "--headteacher-name",
        "Ann Head",
        "--headteacher-email",
        "ann@stmarys.example",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown once, ask them to change it): "))
        .unwrap_or_else(|| panic!("no password printed:\n{text}"))
        .trim()
        .to_string();
    use std::os::unix::fs::PermissionsExt;
    let key = keys.join("school-1.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap().trim().len(), 64);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = undersign_cli::store::open_store(&url).await.unwrap();
        let email = undersign_core::person::Email::parse("ann@stmarys.example").unwrap();
        let accounts = store.login_accounts(&email).await.unwrap();
        assert_eq!(accounts.len(), 1);
        assert!(undersign_web::auth::verify_password(
            &accounts[0].password_hash,
            &password
        ));
        let roles = &accounts[0].person.roles;
        assert!(roles.contains(&undersign_core::person::Role::Headteacher));
    });

    // The same slug again is refused and creates nothing.
    let again = run(&[
        "bootstrap",
        "--database-url",
        &url,
        "--keys-dir",
        keys.to_str().unwrap(),
        "--organisation",
        "X",
        "--school",
        "Y",
        "--slug",
        "st-marys",
        "--headteacher-name",
        "Z Z",
        "--headteacher-email",
        "z@z.example",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let out = run(&[
        "verify",
        "--database-url",
        &url,
        "--keys-dir",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("ok  st-marys: 2 entries"),
        "{}",
        stdout(&out)
    );
}

/// Starts `undersign demo`, reads its banner up to "Stop with ctrl-c", then stops it with
/// SIGTERM and returns (banner, exit code).
fn demo_run(data_dir: &std::path::Path, password: Option<&str>) -> (String, Option<i32>) {
    use std::io::{BufRead, BufReader};
    let mut args = vec![
        "demo".to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir.to_str().unwrap().into(),
    ];
    if let Some(pw) = password {
        args.extend(["--demo-password".into(), pw.to_string()]);
    }
    let mut child = crate::support::undersign()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Stop with ctrl-c") {
            break;
        }
    }
    // Keep reading, as a terminal would, until the demo exits.
    let drain = std::thread::spawn(move || lines.count());
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in the banner:\n{banner}"))
        .to_string();
    let health = reqwest::blocking_get_ok(&format!("{url}healthz"));
    assert!(health, "the demo does not answer at {url}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    drain.join().unwrap();
    (banner, code)
}

mod reqwest {
    /// A GET on a fresh runtime, for the synchronous tests.
    pub fn blocking_get_ok(url: &str) -> bool {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                if let Ok(r) = ::reqwest::get(url).await
                    && r.status().is_success()
                {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            false
        })
    }
}

#[test]
fn the_demo_prints_its_accounts_once_reuses_its_data_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let (first, code) = demo_run(&data, None);
    assert_eq!(code, Some(0), "SIGTERM should stop the demo cleanly");
    for role in [
        "Headteacher",
        "Network manager",
        "Line manager",
        "Staff",
        "Governor",
        "Receptionist",
        "School administrator",
    ] {
        assert!(
            first.contains(&format!("  {role} ")),
            "{role} missing:\n{first}"
        );
    }
    assert!(first.contains("shown once"), "{first}");
    assert!(data.join("keys/school-1.key").exists());

    let (second, _) = demo_run(&data, None);
    assert!(second.contains("Reusing the demo data"), "{second}");
    assert!(!second.contains("shown once"), "{second}");

    let (third, _) = demo_run(&data, Some("a demo password"));
    assert_eq!(
        third.matches("a demo password").count(),
        8,
        "every account should show the reset password:\n{third}"
    );

    // The chain verifies with the key file, and the shutdowns left a checkpoint.
    let url = format!("sqlite://{}", data.join("undersign.sqlite3").display());
    let keys = data.join("keys");
    let out = run(&[
        "verify",
        "--database-url",
        &url,
        "--keys-dir",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("ok  demo:"), "{}", stdout(&out));
    assert!(!stdout(&out).contains(" 0 checkpoints"), "{}", stdout(&out));
}

#[test]
fn serve_refuses_a_config_file_with_an_unknown_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("undersign.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\ndatabse_url = \"sqlite://x\"\n",
    )
    .unwrap();
    let out = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("databse_url"), "{}", stderr(&out));
}
