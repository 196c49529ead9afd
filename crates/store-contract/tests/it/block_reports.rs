//! Reports that something was blocked wrongly.

use undersign_core::access::Actor;
use undersign_core::block_reports::NewBlockReport;
use undersign_core::person::Role;
use undersign_test_kit::{TestDb, db_test, seed_school};

use crate::helpers::at;

fn owner_of(seed: &undersign_test_kit::Seed) -> undersign_core::access::WebRulesOwner {
    Actor {
        school: seed.school.id,
        person: seed.staff.id,
        roles: [Role::NetworkManager].into(),
    }
    .web_rules_owner()
    .unwrap()
}

#[db_test]
async fn a_report_is_kept_with_its_reporter_and_listed_newest_first(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "reports").await;
    let anonymous = NewBlockReport::parse(
        "http://www.bbc.co.uk/bitesize",
        "AUP statement 11: I will not browse offensive material.",
        "10.0.0.7",
        "",
        "Year 6 revision",
        None,
        "192.0.2.7",
    )
    .unwrap();
    let named = NewBlockReport {
        reporter: Some(seed.teacher.id),
        ..anonymous.clone()
    };
    let first = s
        .record_block_report(seed.school.id, anonymous, at(1, 7))
        .await
        .unwrap();
    let second = s
        .record_block_report(seed.school.id, named, at(2, 7))
        .await
        .unwrap();
    assert_eq!(first.reporter_name, None);
    assert_eq!(
        second.reporter_name.as_deref(),
        Some(seed.teacher.full_name.as_str())
    );
    assert_eq!(second.reported_at, at(2, 7));
    let listed = s.block_reports(&owner_of(&seed), 0, 50).await.unwrap();
    assert_eq!(listed.reports, vec![second, first]);
    assert_eq!(listed.total, 2);
}

#[db_test]
async fn reports_are_seen_only_by_their_own_school(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "report-a").await;
    let b = seed_school(s, "report-b").await;
    let report = NewBlockReport::parse(
        "http://example.org/",
        "",
        "",
        "",
        "needed",
        None,
        "192.0.2.7",
    )
    .unwrap();
    s.record_block_report(a.school.id, report, at(1, 7))
        .await
        .unwrap();
    assert_eq!(
        s.block_reports(&owner_of(&a), 0, 50).await.unwrap().total,
        1
    );
    assert!(
        s.block_reports(&owner_of(&b), 0, 50)
            .await
            .unwrap()
            .reports
            .is_empty()
    );
    // A reporter from another school cannot be attached to this school's report.
    let foreign = NewBlockReport::parse(
        "http://example.org/",
        "",
        "",
        "",
        "needed",
        Some(b.teacher.id),
        "192.0.2.7",
    )
    .unwrap();
    assert!(
        s.record_block_report(a.school.id, foreign, at(2, 7))
            .await
            .is_err()
    );
}

#[db_test]
async fn reports_are_throttled_per_address_and_per_school_and_kept_a_year(db: TestDb) {
    use undersign_core::block_reports::{KEEP_DAYS, PER_ADDRESS_PER_HOUR, PER_SCHOOL_PER_DAY};
    let s = &*db.store;
    let seed = seed_school(s, "report-limits").await;
    let from = |addr: &str| {
        NewBlockReport::parse(
            "http://example.org/",
            "",
            "10.0.0.1",
            "",
            "needed",
            None,
            addr,
        )
        .unwrap()
    };
    let t0 = at(1, 9);
    // An old report, past the retention period, goes when the next one comes in.
    s.record_block_report(
        seed.school.id,
        from("192.0.2.1"),
        t0 - chrono::TimeDelta::days(KEEP_DAYS + 1),
    )
    .await
    .unwrap();
    for i in 0..PER_ADDRESS_PER_HOUR {
        s.record_block_report(
            seed.school.id,
            from("192.0.2.9"),
            t0 + chrono::TimeDelta::seconds(i),
        )
        .await
        .unwrap();
    }
    // The claimed client is the same each time; the throttle counts the sender's address.
    let refused = s
        .record_block_report(
            seed.school.id,
            from("192.0.2.9"),
            t0 + chrono::TimeDelta::minutes(5),
        )
        .await;
    assert!(
        matches!(&refused, Err(undersign_core::store::StoreError::Refused(m)) if m.contains("this device")),
        "{refused:?}"
    );
    let page = s.block_reports(&owner_of(&seed), 0, 50).await.unwrap();
    assert_eq!(page.total, PER_ADDRESS_PER_HOUR as u64);
    // Another address still can, until the school's daily cap.
    let mut sent = PER_ADDRESS_PER_HOUR;
    let mut n = 0u32;
    let result = loop {
        let addr = format!("198.51.100.{}", n % 250);
        let r = s
            .record_block_report(
                seed.school.id,
                from(&addr),
                t0 + chrono::TimeDelta::minutes(10 + i64::from(n / 250)),
            )
            .await;
        n += 1;
        match r {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent <= PER_SCHOOL_PER_DAY, "the daily cap did not hold");
    };
    assert_eq!(sent, PER_SCHOOL_PER_DAY);
    assert!(result.to_string().contains("today"), "{result}");
    // Paged newest first.
    let second = s.block_reports(&owner_of(&seed), 50, 50).await.unwrap();
    assert_eq!(second.reports.len(), 50);
    assert_eq!(second.total, PER_SCHOOL_PER_DAY as u64);
}
