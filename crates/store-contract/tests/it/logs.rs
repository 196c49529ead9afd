//! Squid's access log: attribution over time, loading a source once, partitions.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use undersign_core::access::WebRulesOwner;
use undersign_core::logs::{LogBatch, LogClass, Outcome, Via};
use undersign_core::store::{DeviceRecord, Holder, Lease, StoreError};
use undersign_logs::classify::Classifier;
use undersign_logs::load::Loader;
use undersign_logs::source::{LineReader, file_source, open_file};
use undersign_test_kit::{TestDb, db_test, seed_school};

use crate::helpers::at;

fn owner(seed: &undersign_test_kit::Seed) -> WebRulesOwner {
    WebRulesOwner::for_operator(seed.school.id)
}

/// A native Squid line at `t`.
fn native(t: DateTime<Utc>, client: &str, user: &str, result: &str, url: &str) -> String {
    format!(
        "{}.{:03}     12 {client} {result} 1500 GET {url} {user} HIER_DIRECT/192.0.2.1 text/html\n",
        t.timestamp(),
        t.timestamp_subsec_millis()
    )
}

async fn load_file(
    s: &dyn undersign_core::store::Store,
    owner: WebRulesOwner,
    path: &std::path::Path,
) -> undersign_logs::load::Report {
    let source = file_source(path).unwrap().unwrap();
    let mut loader = Loader::new(s, owner, Classifier::new(None, &["selfharm".into()]))
        .await
        .unwrap();
    let lines = LineReader::new(open_file(path, Arc::default()).unwrap(), true);
    loader
        .load(&source, &path.display().to_string(), lines, |_| {})
        .await
        .unwrap()
}

#[db_test]
async fn a_device_changing_hands_is_attributed_to_whoever_held_it_at_the_time(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "devices").await;
    let o = owner(&seed);
    let laptop = DeviceRecord {
        name: "LT-07".into(),
        address: Some("10.0.0.7".parse().unwrap()),
        holder: Some(Holder::Person(seed.staff.id)),
    };
    s.record_devices(&o, std::slice::from_ref(&laptop), at(0, 0))
        .await
        .unwrap();
    // Recording the same again changes nothing; handing it over closes the first span.
    s.record_devices(&o, std::slice::from_ref(&laptop), at(30, 0))
        .await
        .unwrap();
    let handed = DeviceRecord {
        holder: Some(Holder::Person(seed.teacher.id)),
        address: None,
        ..laptop.clone()
    };
    s.record_devices(&o, &[handed], at(60, 0)).await.unwrap();
    let returned = DeviceRecord {
        holder: Some(Holder::Nobody),
        address: None,
        ..laptop
    };
    s.record_devices(&o, &[returned], at(120, 0)).await.unwrap();
    // A DHCP lease puts a second device on another address for an hour.
    let leases = [Lease {
        device: "PC-LIB-1".into(),
        address: "10.0.0.8".parse().unwrap(),
        from: at(0, 0),
        until: at(60, 0),
    }];
    assert_eq!(s.record_leases(&o, &leases).await.unwrap(), 1);
    assert_eq!(
        s.record_leases(&o, &leases).await.unwrap(),
        0,
        "a lease once"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let staff_user = seed.staff.email.as_str().to_owned();
    let lines = [
        native(
            at(10, 0),
            "10.0.0.7",
            "-",
            "TCP_MISS/200",
            "http://a.test/1",
        ),
        native(
            at(70, 0),
            "10.0.0.7",
            "-",
            "TCP_MISS/200",
            "http://a.test/2",
        ),
        native(
            at(130, 0),
            "10.0.0.7",
            "-",
            "TCP_MISS/200",
            "http://a.test/3",
        ),
        native(
            at(10, 0),
            "10.0.0.9",
            "-",
            "TCP_MISS/200",
            "http://a.test/4",
        ),
        native(
            at(10, 0),
            "10.0.0.8",
            &staff_user,
            "TCP_MISS/200",
            "http://a.test/5",
        ),
        native(
            at(70, 0),
            "10.0.0.8",
            "-",
            "TCP_MISS/200",
            "http://a.test/6",
        ),
    ];
    std::fs::write(&path, lines.concat()).unwrap();
    let report = load_file(s, o, &path).await;
    assert_eq!((report.stored, report.malformed), (6, 0));

    let stored = s
        .logged_requests(&o, at(0, 0).date_naive(), at(0, 0).date_naive())
        .await
        .unwrap();
    let who: Vec<(String, Option<i64>, Via)> = {
        let mut v: Vec<_> = stored
            .iter()
            .map(|r| (r.url.clone(), r.person.map(|p| p.0), r.via))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(
        who,
        [
            (
                "http://a.test/1".into(),
                Some(seed.staff.id.0),
                Via::DeviceHolder
            ),
            (
                "http://a.test/2".into(),
                Some(seed.teacher.id.0),
                Via::DeviceHolder
            ),
            ("http://a.test/3".into(), None, Via::DeviceOnly),
            ("http://a.test/4".into(), None, Via::Unattributed),
            (
                "http://a.test/5".into(),
                Some(seed.staff.id.0),
                Via::ProxyUser
            ),
            ("http://a.test/6".into(), None, Via::Unattributed),
        ]
    );
    let with_device = stored.iter().find(|r| r.url.ends_with("/5")).unwrap();
    assert!(with_device.device.is_some(), "the lease names the device");
}

#[db_test]
async fn a_file_is_stored_once_whatever_its_name_or_compression(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "ingest").await;
    let o = owner(&seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut text = String::new();
    text.push_str(&native(
        at(1, 0),
        "10.0.0.1",
        "-",
        "TCP_MISS/200",
        "http://www.example.org/",
    ));
    text.push_str(&native(
        at(2, 0),
        "10.0.0.1",
        "-",
        "TCP_DENIED/403",
        "http://blocked.test/",
    ));
    text.push_str("this is not a squid line\n");
    text.push_str(&native(
        at(3, 0),
        "10.0.0.1",
        "-",
        "TCP_MISS/200",
        "http://cutting.test/selfharm",
    ));
    std::fs::write(&path, &text).unwrap();

    let first = load_file(s, o, &path).await;
    assert_eq!((first.lines, first.stored, first.malformed), (4, 3, 1));
    assert_eq!(first.examples[0].line, 3, "the malformed line is named");
    assert_eq!(first.examples[0].error.field, "line");
    let again = load_file(s, o, &path).await;
    assert_eq!((again.already, again.stored), (4, 0));

    // The log grows, is rotated and compressed: only the new lines are stored.
    text.push_str(&native(
        at(4, 0),
        "10.0.0.2",
        "-",
        "TCP_MISS/200",
        "http://www.example.org/b",
    ));
    let gz = dir.path().join("access.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let rotated = load_file(s, o, &gz).await;
    assert_eq!((rotated.already, rotated.stored), (4, 1));

    let day = at(0, 0).date_naive();
    let stored = s.logged_requests(&o, day, day).await.unwrap();
    assert_eq!(stored.len(), 4);
    let blocked = stored.iter().find(|r| r.host == "blocked.test").unwrap();
    assert_eq!(
        (blocked.outcome, blocked.class),
        (Outcome::Denied, LogClass::Blocked)
    );
    let selfharm = stored.iter().find(|r| r.host == "cutting.test").unwrap();
    assert_eq!(
        selfharm.class,
        LogClass::Routine,
        "no rules, so no category"
    );

    let partitions = s.log_partitions(&o).await.unwrap();
    let mut shape: Vec<(LogClass, String, u64)> = partitions
        .iter()
        .map(|p| (p.class, p.period.start.to_string(), p.rows))
        .collect();
    shape.sort();
    assert_eq!(
        shape,
        [
            (LogClass::Routine, "2026-11-23".into(), 3),
            (LogClass::Blocked, "2026-11-01".into(), 1),
        ]
    );
}

#[db_test]
async fn a_file_of_many_batches_is_stored_in_line_order_one_entry_per_batch(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "batches").await;
    let o = owner(&seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    // 23 lines: two people, a malformed line and a line too long among them.
    let mut text = String::new();
    for i in 0..23u32 {
        text.push_str(&match i {
            5 => "not a squid line\n".to_owned(),
            11 => format!("{}\n", "x".repeat(undersign_logs::source::MAX_LINE + 1)),
            _ => native(
                at(i64::from(i), 0),
                if i.is_multiple_of(2) {
                    "10.0.0.1"
                } else {
                    "10.0.0.2"
                },
                if i.is_multiple_of(3) { "-" } else { "staff" },
                if i.is_multiple_of(4) {
                    "TCP_DENIED/403"
                } else {
                    "TCP_MISS/200"
                },
                &format!("http://site{}.test/{i}", i % 5),
            ),
        });
    }
    std::fs::write(&path, &text).unwrap();
    let source = file_source(&path).unwrap().unwrap();
    let mut loader = Loader::new(s, o, Classifier::new(None, &[]))
        .await
        .unwrap()
        .with_batch_lines(4);
    let mut seen = Vec::new();
    let lines = LineReader::new(open_file(&path, Arc::default()).unwrap(), true);
    let report = loader
        .load(&source, "access.log", lines, |r| seen.push(r.lines))
        .await
        .unwrap();
    assert_eq!((report.lines, report.stored, report.malformed), (23, 21, 2));
    assert_eq!(
        report.examples.iter().map(|m| m.line).collect::<Vec<_>>(),
        [6, 12]
    );
    assert_eq!(
        seen,
        [4, 8, 12, 16, 20, 23],
        "progress after each batch, in order"
    );

    let day = at(0, 0).date_naive();
    let stored = s.logged_requests(&o, day, day).await.unwrap();
    let lines: Vec<u64> = stored.iter().map(|r| r.line).collect();
    let expected: Vec<u64> = (1..=23).filter(|l| *l != 6 && *l != 12).collect();
    assert_eq!(lines, expected);
    for r in &stored {
        let i = u32::try_from(r.line - 1).unwrap();
        assert_eq!(r.url, format!("http://site{}.test/{i}", i % 5));
        assert_eq!(r.at, at(i64::from(i), 0));
        assert_eq!(r.outcome == Outcome::Denied, i.is_multiple_of(4));
    }
    // Each batch is its own ledger entry, and their lines follow on.
    let entries = s.ledger_entries(seed.school.id).await.unwrap();
    let ranges: Vec<(u64, u64)> = undersign_core::logs::loaded_ranges(&entries)
        .iter()
        .map(|r| (r.from_line, r.to_line))
        .collect();
    assert_eq!(
        ranges,
        [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 23)]
    );
    assert_eq!(findings(s, seed.school.id).await, Vec::<String>::new());
}

#[db_test]
async fn a_batch_is_refused_whole_when_its_source_has_moved_on(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "batches").await;
    let other = seed_school(s, "batches-other").await;
    let o = owner(&seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(
        &path,
        native(at(1, 0), "10.0.0.1", "-", "TCP_MISS/200", "http://a.test/"),
    )
    .unwrap();
    load_file(s, o, &path).await;
    let source = file_source(&path).unwrap().unwrap();
    assert_eq!(s.log_cursor(&o, &source).await.unwrap(), 1);
    let stale = LogBatch::of(
        &source,
        0,
        1,
        s.logged_requests(&o, at(0, 0).date_naive(), at(0, 0).date_naive())
            .await
            .unwrap(),
    );
    let refused = s.load_logs(&o, &stale).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    let day = at(0, 0).date_naive();
    assert_eq!(s.logged_requests(&o, day, day).await.unwrap().len(), 1);
    // Another school's cursor and rows are its own.
    let theirs = owner(&other);
    assert_eq!(s.log_cursor(&theirs, &source).await.unwrap(), 0);
    assert!(
        s.logged_requests(&theirs, day, day)
            .await
            .unwrap()
            .is_empty()
    );
    s.load_logs(&theirs, &stale).await.unwrap();
    assert_eq!(s.logged_requests(&theirs, day, day).await.unwrap().len(), 1);
    assert_eq!(s.logged_requests(&o, day, day).await.unwrap().len(), 1);
}

/// What `verify` would say of the school's evidence (rows and access log), as text.
async fn findings(
    s: &dyn undersign_core::store::Store,
    school: undersign_core::SchoolId,
) -> Vec<String> {
    let snapshot = s.evidence_snapshot(school).await.unwrap();
    undersign_core::evidence::cross_check(&snapshot.entries, &snapshot.rows)
        .iter()
        .chain(&undersign_core::logs::check_log_evidence(
            &snapshot.entries,
            &snapshot.log_parts,
        ))
        .map(ToString::to_string)
        .collect()
}

/// A school with a device register and a day of three requests loaded.
async fn school_with_a_log(
    db: &TestDb,
    slug: &str,
) -> (undersign_test_kit::Seed, std::path::PathBuf) {
    let s = &*db.store;
    let seed = seed_school(s, slug).await;
    let o = owner(&seed);
    s.record_devices(
        &o,
        &[DeviceRecord {
            name: "LT-07".into(),
            address: Some("10.0.0.7".parse().unwrap()),
            holder: Some(Holder::Person(seed.staff.id)),
        }],
        at(0, 0),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("access.log");
    std::fs::write(
        &path,
        [
            native(at(1, 0), "10.0.0.7", "-", "TCP_MISS/200", "http://a.test/1"),
            native(
                at(2, 0),
                "10.0.0.7",
                "-",
                "TCP_DENIED/403",
                "http://b.test/2",
            ),
            native(at(3, 0), "10.0.0.7", "-", "TCP_MISS/200", "http://a.test/3"),
        ]
        .concat(),
    )
    .unwrap();
    load_file(s, o, &path).await;
    (seed, path)
}

#[db_test]
async fn the_log_and_the_device_register_are_evidence_that_verify_checks(db: TestDb) {
    let s = &*db.store;
    let (seed, _) = school_with_a_log(&db, "log-evidence").await;
    let school = seed.school.id;
    assert_eq!(findings(s, school).await, Vec::<String>::new());
    let table = format!("log_routine_s{school}_20261123");

    // The morning's two routine requests are one block; an administrator moves it onto
    // someone else…
    db.exec(&format!(
        "UPDATE {table} SET person_id = {}",
        seed.teacher.id
    ))
    .await;
    let found = findings(s, school).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("the routine log of 2026-11-23")
            && found[0].contains("changed")
            && found[0].contains("content differs"),
        "{found:?}"
    );
    db.exec(&format!("UPDATE {table} SET person_id = {}", seed.staff.id))
        .await;
    assert_eq!(findings(s, school).await, Vec::<String>::new());
    // … or edits the requests in it (here: one more byte), or what it says it holds…
    let edit = match db.backend {
        undersign_test_kit::Backend::Sqlite => {
            format!("UPDATE {table} SET data = CAST(data || X'00' AS BLOB)")
        }
        undersign_test_kit::Backend::Postgres => {
            format!("UPDATE {table} SET data = data || '\\x00'::bytea")
        }
    };
    db.exec(&edit).await;
    assert!(findings(s, school).await[0].contains("content differs"));
    db.exec(&format!("UPDATE {table} SET requests = 1")).await;
    assert!(findings(s, school).await[0].contains("1 rows now, 2 recorded"));
    // … or adds a block, or deletes them.
    db.exec(&format!(
        "INSERT INTO {table} SELECT school_id, source_id, day, person_id, device_id, 99, 99, \
         requests, data FROM {table}"
    ))
    .await;
    assert!(
        findings(s, school)
            .await
            .iter()
            .any(|f| f.contains("no ledger entry records")),
    );
    db.exec(&format!("DELETE FROM {table}")).await;
    assert!(
        findings(s, school)
            .await
            .iter()
            .any(|f| f.contains("the routine log of 2026-11-23") && f.contains("are gone")),
    );
    // Dropping a partition outside retention is named too.
    db.exec(&format!("DROP TABLE log_blocked_s{school}_20261101"))
        .await;
    assert!(
        findings(s, school)
            .await
            .iter()
            .any(|f| f.contains("the blocked log of 2026-11-01") && f.contains("are gone")),
    );

    // Reassigning the laptop in the register behind Undersign's back is named.
    db.drop_immutability_triggers("device_holders").await;
    db.exec(&format!(
        "UPDATE device_holders SET person_id = {} WHERE school_id = {school}",
        seed.teacher.id
    ))
    .await;
    assert!(
        findings(s, school)
            .await
            .iter()
            .any(|f| f.starts_with("device_holders row") && f.contains("person_id")),
    );
    // So is renaming it, which reports would show.
    db.exec(&format!(
        "UPDATE devices SET name = 'LT-99' WHERE school_id = {school}"
    ))
    .await;
    assert!(
        findings(s, school)
            .await
            .iter()
            .any(|f| f.starts_with("devices row") && f.contains("name")),
    );
}

#[db_test]
async fn retention_drops_whole_partitions_on_the_record_and_verify_still_holds(db: TestDb) {
    let s = &*db.store;
    let (seed, _) = school_with_a_log(&db, "log-retention").await;
    let school = seed.school.id;
    let head = seed.publisher();
    let too_short = undersign_core::logs::LogSettings {
        routine_days: 30,
        blocked_days: 10,
        ..Default::default()
    };
    assert!(matches!(
        s.set_log_settings(&head, &too_short, at(0, 0)).await,
        Err(StoreError::Refused(_))
    ));
    let settings = undersign_core::logs::LogSettings {
        routine_days: 7,
        blocked_days: 60,
        safeguarding_days: 365,
        safeguarding_categories: vec!["selfharm".into()],
        head_requests_decider: Some(seed.governor.id),
        search_terms: true,
    };
    s.set_log_settings(&head, &settings, at(0, 0))
        .await
        .unwrap();
    assert_eq!(s.log_settings(school).await.unwrap(), settings);

    // A week later the routine day is still kept; eight days later it goes, whole.
    let day = at(0, 0).date_naive();
    let keep = |days: u64| settings.keep_from(LogClass::Routine, day + chrono::Days::new(days));
    assert!(
        s.drop_log_partitions(school, LogClass::Routine, keep(7), 7, at(0, 0))
            .await
            .unwrap()
            .is_empty()
    );
    let dropped = s
        .drop_log_partitions(school, LogClass::Routine, keep(8), 7, at(0, 0))
        .await
        .unwrap();
    assert_eq!(dropped.len(), 1);
    assert_eq!((dropped[0].period.start, dropped[0].rows), (day, 2));
    let o = owner(&seed);
    let left: Vec<LogClass> = s
        .log_partitions(&o)
        .await
        .unwrap()
        .iter()
        .map(|p| p.class)
        .collect();
    assert_eq!(
        left,
        [LogClass::Blocked],
        "the blocked month is kept longer"
    );
    let stored = s.logged_requests(&o, day, day).await.unwrap();
    assert_eq!(stored.len(), 1);
    let entries = s.ledger_entries(school).await.unwrap();
    assert_eq!(entries.last().unwrap().kind, "log_partition_dropped");
    assert_eq!(
        findings(s, school).await,
        Vec::<String>::new(),
        "a recorded purge is no finding"
    );
}

#[db_test]
async fn a_safeguarding_hit_alerts_the_dsl_once_and_closing_it_is_on_the_record(db: TestDb) {
    use undersign_core::access::Actor;
    use undersign_core::person::Role;
    let s = &*db.store;
    let seed = seed_school(s, "safeguarding").await;
    let school = seed.school.id;
    let dsl = crate::helpers::add(
        s,
        school,
        "Dana Lead",
        "dsl@safeguarding.test",
        &[Role::Staff, Role::Dsl],
    )
    .await;
    let o = owner(&seed);
    s.record_devices(
        &o,
        &[DeviceRecord {
            name: "LT-07".into(),
            address: Some("10.0.0.7".parse().unwrap()),
            holder: Some(Holder::Person(seed.staff.id)),
        }],
        at(0, 0),
    )
    .await
    .unwrap();
    // Three requests of one page in a safeguarding category, as the helper noted them,
    // and one routine request.
    let line = |min: i64, category: &str| {
        let t = at(min, 0);
        format!(
            "{}.000 3 10.0.0.7 - TCP_DENIED/403 900 GET http://harm.test/{min} text/html rule=illegal-content category={category} statement=11\n",
            t.timestamp()
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(
        &path,
        [
            line(1, "selfharm"),
            line(1, "selfharm"),
            line(2, "selfharm"),
            native(at(3, 0), "10.0.0.7", "-", "TCP_MISS/200", "http://a.test/"),
        ]
        .concat(),
    )
    .unwrap();
    load_file(s, o, &path).await;

    let lead = Actor {
        school,
        person: dsl.id,
        roles: dsl.roles.clone(),
    }
    .safeguarding_lead()
    .unwrap();
    let alerts = s.safeguarding_alerts(&lead).await.unwrap();
    assert_eq!(alerts.len(), 1, "one page, one alert: {alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(
        (
            alert.category.as_str(),
            alert.person,
            alert.closed.is_none()
        ),
        ("selfharm", Some(seed.staff.id), true)
    );
    // The DSL is emailed, without a name or an address in the message.
    let mails = s
        .outbox_page(
            &undersign_core::access::PeopleAdmin::for_operator(school),
            0,
            50,
        )
        .await
        .unwrap();
    let to_dsl: Vec<_> = mails
        .mails
        .iter()
        .filter(|m| m.to_email.as_str() == "dsl@safeguarding.test")
        .collect();
    assert_eq!(to_dsl.len(), 1, "{mails:#?}");
    assert!(to_dsl[0].subject.contains("selfharm"));

    assert!(matches!(
        s.close_safeguarding_alert(&lead, alert.id, "spoke", "ok", at(10, 0))
            .await,
        Err(StoreError::Refused(_))
    ));
    let closed = s
        .close_safeguarding_alert(
            &lead,
            alert.id,
            "Spoke with the member of staff and their line manager",
            "Pastoral support arranged; no further action",
            at(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(closed.closed.as_ref().unwrap().by, dsl.id);
    assert!(matches!(
        s.close_safeguarding_alert(
            &lead,
            alert.id,
            "again and again",
            "again and again",
            at(11, 0)
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(findings(s, school).await, Vec::<String>::new());
    db.exec("UPDATE safeguarding_alerts SET outcome = 'nothing happened here'")
        .await;
    assert!(
        findings(s, school)
            .await
            .iter()
            .any(|f| f.starts_with("safeguarding_alerts row") && f.contains("outcome")),
    );
}

#[db_test]
async fn the_pseudonymous_report_counts_by_day_site_rule_and_device(db: TestDb) {
    use undersign_core::access::Actor;
    use undersign_core::person::Role;
    let s = &*db.store;
    let (seed, _) = school_with_a_log(&db, "log-report").await;
    let viewer = Actor {
        school: seed.school.id,
        person: seed.staff.id,
        roles: [Role::NetworkManager].into(),
    }
    .log_report_viewer()
    .unwrap();
    let day = at(0, 0).date_naive();
    let report = s.log_report(&viewer, day, day, 10).await.unwrap();
    let total: u64 = report.days.iter().map(|d| d.2).sum();
    let denied: u64 = report.days.iter().map(|d| d.3).sum();
    assert_eq!((total, denied), (3, 1));
    assert_eq!(report.blocked_sites, [("b.test".to_owned(), 1)]);
    assert_eq!(
        report.rules,
        [(String::new(), String::new(), 1)],
        "no rules file, no rule"
    );
    assert_eq!(report.devices, [("LT-07".to_owned(), 3, 1)]);
    let other_day = day.pred_opt().unwrap();
    assert_eq!(
        s.log_report(&viewer, other_day, other_day, 10)
            .await
            .unwrap(),
        Default::default()
    );
}

#[db_test]
async fn search_terms_are_kept_only_where_the_school_turned_them_on(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "searches").await;
    let o = owner(&seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    std::fs::write(
        &path,
        [
            native(
                at(1, 0),
                "10.0.0.1",
                "-",
                "TCP_MISS/200",
                "http://www.google.co.uk/search?q=fractions+year+5",
            ),
            native(
                at(2, 0),
                "10.0.0.1",
                "-",
                "TCP_MISS/200",
                "http://www.bbc.co.uk/search?q=not+an+engine",
            ),
        ]
        .concat(),
    )
    .unwrap();
    let source = file_source(&path).unwrap().unwrap();
    for on in [false, true] {
        let school_owner = if on {
            let other = seed_school(s, "searches-on").await;
            owner(&other)
        } else {
            o
        };
        let mut loader = Loader::new(
            s,
            school_owner,
            Classifier::new(None, &[]).with_search_terms(on),
        )
        .await
        .unwrap();
        let lines = LineReader::new(open_file(&path, Arc::default()).unwrap(), true);
        loader
            .load(&source, "access.log", lines, |_| {})
            .await
            .unwrap();
        let day = at(0, 0).date_naive();
        let stored = s.logged_requests(&school_owner, day, day).await.unwrap();
        let terms: Vec<Option<String>> = stored.iter().map(|r| r.search.clone()).collect();
        if on {
            assert_eq!(terms, [Some("fractions year 5".into()), None]);
        } else {
            assert_eq!(terms, [None, None]);
        }
    }
}
