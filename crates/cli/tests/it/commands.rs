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
