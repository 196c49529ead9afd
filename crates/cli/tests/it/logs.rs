//! `undersign logs ingest`, `logs devices` and `logs leases` as an operator runs them.

use undersign_test_kit::db_test;

use std::path::Path;
use std::process::Output;

use crate::support::{TestDb, run, seed, stderr};

/// `undersign logs COMMAND --database-url … FILE`.
fn logs(db: &TestDb, command: &str, file: &Path) -> Output {
    run(&[
        "logs",
        command,
        "--database-url",
        &db.url,
        file.to_str().unwrap(),
    ])
}

#[db_test]
async fn ingest_reports_malformed_lines_by_file_and_line_and_stores_each_line_once(db: TestDb) {
    seed(&db, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        "1795419000.100     12 10.0.0.5 TCP_MISS/200 1500 GET http://www.bbc.co.uk/ - HIER_DIRECT/192.0.2.1 text/html\n\
         1795419001.100     12 not-an-address TCP_MISS/200 1500 GET http://www.bbc.co.uk/ - HIER_DIRECT/192.0.2.1 text/html\n\
         1795419002.100     12 10.0.0.5 TCP_DENIED/403 3900 GET http://www.facebook.com/ - HIER_NONE/- text/html\n",
    )
    .unwrap();
    let path = log.to_str().unwrap();
    let first = run(&["logs", "ingest", "--quiet", "--database-url", &db.url, path]);
    assert!(first.status.success(), "{}", stderr(&first));
    let said = stderr(&first);
    assert!(
        said.contains("3 lines read, 2 stored now, 0 stored before, 1 malformed"),
        "{said}"
    );
    assert!(
        said.contains(&format!("{path}:2: field `client`: not an IP address")),
        "{said}"
    );
    let again = run(&["logs", "ingest", "--quiet", "--database-url", &db.url, path]);
    assert!(
        stderr(&again).contains("0 stored now, 3 stored before"),
        "{}",
        stderr(&again)
    );
    let missing = run(&[
        "logs",
        "ingest",
        "--database-url",
        &db.url,
        "/nonexistent/access.log",
    ]);
    assert_eq!(missing.status.code(), Some(2));
}

#[db_test]
async fn the_device_register_and_dhcp_leases_are_read_whole_or_not_at_all(db: TestDb) {
    let seeded = seed(&db, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("devices.csv");
    std::fs::write(
        &csv,
        "device,address,holder\nLT-01,10.0.0.999,\nLT-02,10.0.0.2,nobody@nowhere.test\n",
    )
    .unwrap();
    let refused = logs(&db, "devices", &csv);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("line 2, address: not an IP address"),
        "{}",
        stderr(&refused)
    );
    std::fs::write(
        &csv,
        "device,address,holder\nLT-02,10.0.0.2,nobody@nowhere.test\n",
    )
    .unwrap();
    let unknown = logs(&db, "devices", &csv);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("line 2, holder: nobody in the school"),
        "{}",
        stderr(&unknown)
    );
    let email = &seeded.staff[0].2;
    std::fs::write(
        &csv,
        format!("device,address,holder\nLT-02,10.0.0.2,{email}\n"),
    )
    .unwrap();
    let ok = logs(&db, "devices", &csv);
    assert!(ok.status.success(), "{}", stderr(&ok));

    let leases = dir.path().join("dhcpd.leases");
    std::fs::write(
        &leases,
        "lease 10.0.0.40 {\n  starts 1 2026/11/23 07:30:00;\n  ends 1 2026/11/23 19:30:00;\n  hardware ethernet aa:bb:cc:00:11:22;\n  client-hostname \"LT-02\";\n}\n",
    )
    .unwrap();
    let first = logs(&db, "leases", &leases);
    assert!(
        stderr(&first).contains("1 leases read, 1 new"),
        "{}",
        stderr(&first)
    );
    let again = logs(&db, "leases", &leases);
    assert!(
        stderr(&again).contains("1 leases read, 0 new"),
        "{}",
        stderr(&again)
    );
    std::fs::write(
        &leases,
        "lease 10.0.0.41 {\n  starts 1 2026/11/23 07:30:00;\n",
    )
    .unwrap();
    let broken = logs(&db, "leases", &leases);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("line 1, lease"),
        "{}",
        stderr(&broken)
    );
    // Everything recorded is on the record.
    let verify = run(&["verify", "--database-url", &db.url]);
    assert!(!String::from_utf8_lossy(&verify.stdout).contains("BROKEN"));
}

#[db_test]
async fn migrating_refuses_a_database_holding_logs_stored_a_row_per_request(db: TestDb) {
    let seeded = seed(&db, 1).await;
    // A database as migration 0014 left it, with a log source loaded then.
    let mut raw = crate::support::Raw::plain(&db).await;
    raw.try_exec("DELETE FROM _sqlx_migrations WHERE version = 15")
        .await
        .unwrap();
    raw.try_exec(&format!(
        "INSERT INTO log_sources (school_id, source, lines, updated_at) \
         VALUES ({}, 'file:old', 10, '2026-11-23T09:00:00Z')",
        seeded.school.id.0
    ))
    .await
    .unwrap();
    let refused = run(&["migrate", "--database-url", &db.url]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("access logs stored before migration 0015")
            && stderr(&refused).contains("docs/logs.md"),
        "{}",
        stderr(&refused)
    );
    // Without such logs it goes ahead.
    raw.try_exec("DELETE FROM log_sources").await.unwrap();
    let done = run(&["migrate", "--database-url", &db.url]);
    assert!(done.status.success(), "{}", stderr(&done));
}
