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
    let listed = s.block_reports(&owner_of(&seed)).await.unwrap();
    assert_eq!(listed, vec![second, first]);
}

#[db_test]
async fn reports_are_seen_only_by_their_own_school(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "report-a").await;
    let b = seed_school(s, "report-b").await;
    let report = NewBlockReport::parse("http://example.org/", "", "", "", "needed", None).unwrap();
    s.record_block_report(a.school.id, report, at(1, 7))
        .await
        .unwrap();
    assert_eq!(s.block_reports(&owner_of(&a)).await.unwrap().len(), 1);
    assert!(s.block_reports(&owner_of(&b)).await.unwrap().is_empty());
    // A reporter from another school cannot be attached to this school's report.
    let foreign = NewBlockReport::parse(
        "http://example.org/",
        "",
        "",
        "",
        "needed",
        Some(b.teacher.id),
    )
    .unwrap();
    assert!(
        s.record_block_report(a.school.id, foreign, at(2, 7))
            .await
            .is_err()
    );
}
