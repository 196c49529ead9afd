//! Compliance facts read set-wise, and what the dashboard makes of them.

use chrono::{Duration, NaiveDate};
use undersign_core::access::Actor;
use undersign_core::compliance::{DaysToSign, PolicyCompliance, Standing};
use undersign_core::person::{Audience, Role};
use undersign_core::policy::ChangeKind;
use undersign_core::school::{NewSchool, SchoolSlug};
use undersign_core::signing::DeclineInput;
use undersign_core::store::Store;
use undersign_core::time;
use undersign_test_kit::{Seed, TestDb, context, db_test, seed_school, signature_input};

use crate::helpers::{publish_version, unchanged};

fn viewer(seed: &Seed) -> undersign_core::access::ComplianceViewer {
    seed.actor(&seed.head).compliance_viewer().unwrap()
}

async fn aup(s: &dyn Store, seed: &Seed, days_later: i64) -> PolicyCompliance {
    let facts = s.compliance_facts(&viewer(seed)).await.unwrap();
    facts
        .report(time::now() + Duration::days(days_later))
        .into_iter()
        .find(|p| p.policy == seed.policy.id)
        .unwrap()
}

fn standing(report: &PolicyCompliance, name: &str) -> Standing {
    report
        .people
        .iter()
        .find(|p| p.full_name == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
        .standing
}

#[db_test]
async fn the_dashboard_shows_who_signed_and_who_is_overdue(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "dashboard").await;
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let report = aup(s, &seed, 30).await;
    assert_eq!(report.number, 1);
    assert_eq!((report.overall.signed, report.overall.total), (1, 5));
    assert_eq!(standing(&report, "Sam Staff"), Standing::Signed);
    assert_eq!(standing(&report, "Tina Teacher"), Standing::Overdue);
    let tina = report
        .people
        .iter()
        .find(|p| p.full_name == "Tina Teacher")
        .unwrap();
    assert_eq!(tina.days_overdue, 16, "14 days to sign by default");
    assert_eq!(tina.last_signed, None);
    let governors = report
        .by_audience
        .iter()
        .find(|a| a.label == Audience::Governors.label())
        .unwrap();
    assert_eq!((governors.signed, governors.total), (0, 1));
    // Today nobody is overdue yet.
    let today = aup(s, &seed, 0).await;
    assert_eq!(today.count(Standing::Overdue), 0);
    assert_eq!(today.count(Standing::Due), 4);
}

#[db_test]
async fn a_major_version_makes_earlier_signatures_stale_and_a_minor_one_does_not(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "versions").await;
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let both = [Audience::Staff, Audience::Governors];
    publish_version(s, &seed, "- Minor wording.\n", ChangeKind::Minor, &both).await;
    let report = aup(s, &seed, 0).await;
    assert_eq!(report.number, 2);
    assert_eq!(standing(&report, "Sam Staff"), Standing::Signed);
    let v3 = publish_version(s, &seed, "- A new rule.\n", ChangeKind::Major, &both).await;
    let report = aup(s, &seed, 0).await;
    assert_eq!((report.number, report.asking_number), (3, 3));
    assert_eq!(standing(&report, "Sam Staff"), Standing::Due);
    let sam = report
        .people
        .iter()
        .find(|p| p.full_name == "Sam Staff")
        .unwrap();
    assert_eq!(sam.last_signed, Some(1));
    s.record_signature(signature_input(&seed.staff, &v3), time::now())
        .await
        .unwrap();
    assert_eq!(
        standing(&aup(s, &seed, 0).await, "Sam Staff"),
        Standing::Signed
    );
}

#[db_test]
async fn declines_are_shown_and_leavers_are_not_counted(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "declines").await;
    s.record_decline(
        DeclineInput {
            school: seed.school.id,
            person: seed.teacher.id,
            version: seed.aup.id,
            reason: "I need to ask about statement 2".into(),
            context: context(),
        },
        time::now(),
    )
    .await
    .unwrap();
    let mut gone = unchanged(&seed.staff);
    gone.status = undersign_core::person::PersonStatus::Left;
    s.update_person(&seed.people_admin(), seed.staff.id, gone)
        .await
        .unwrap();
    let report = aup(s, &seed, 30).await;
    assert_eq!(standing(&report, "Tina Teacher"), Standing::Declined);
    assert!(report.people.iter().all(|p| p.full_name != "Sam Staff"));
    assert_eq!(report.overall.total, 4);
}

#[db_test]
async fn the_organisation_view_covers_its_schools_and_no_other(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "trust-first").await;
    let second = s
        .create_school(
            seed.organisation.id,
            NewSchool {
                name: "A Second School".into(),
                slug: SchoolSlug::parse("trust-second").unwrap(),
                timezone: undersign_core::time::TimeZone::parse("Europe/London").unwrap(),
                public_key: "00".repeat(32),
            },
        )
        .await
        .unwrap();
    seed_school(s, "elsewhere").await;
    let trust_admin = Actor {
        school: seed.school.id,
        person: seed.head.id,
        roles: [Role::TrustAdministrator].into(),
    };
    let facts = s
        .organisation_compliance_facts(&trust_admin.organisation_viewer().unwrap())
        .await
        .unwrap();
    let names: Vec<&str> = facts.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["A Second School", "School trust-first"]);
    assert_eq!(facts[0].school, second.id);
    assert!(facts[0].people.is_empty());
    assert_eq!(facts[1].people.len(), 5);
    assert!(seed.actor(&seed.head).organisation_viewer().is_none());
}

#[db_test]
async fn the_signature_export_lists_every_signature_of_the_school_only(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "export-a").await;
    let b = seed_school(s, "export-b").await;
    for (seed, who) in [(&a, &a.staff), (&a, &a.governor), (&b, &b.staff)] {
        s.record_signature(signature_input(who, &seed.aup), time::now())
            .await
            .unwrap();
    }
    let rows = s.signature_export(&viewer(&a)).await.unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.full_name.as_str()).collect();
    assert_eq!(names, vec!["Sam Staff", "Gary Governor"]);
    let first = &rows[0];
    assert_eq!(first.version_number, 1);
    assert_eq!(first.text_sha256, a.aup.text_sha256);
    assert_eq!(first.auth, "password");
    assert_eq!(first.ledger_hash.len(), 64);
}

#[db_test]
async fn days_to_sign_is_kept_per_school_and_moves_due_dates(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "days-a").await;
    let b = seed_school(s, "days-b").await;
    let publisher = a.actor(&a.head).policy_publisher().unwrap();
    s.set_days_to_sign(&publisher, DaysToSign::parse("30").unwrap())
        .await
        .unwrap();
    s.set_days_to_sign(&publisher, DaysToSign::parse("3").unwrap())
        .await
        .unwrap();
    let fa = s.compliance_facts(&viewer(&a)).await.unwrap();
    let fb = s.compliance_facts(&viewer(&b)).await.unwrap();
    assert_eq!(fa.days_to_sign.get(), 3);
    assert_eq!(fb.days_to_sign, DaysToSign::DEFAULT);
    let report = aup(s, &a, 0).await;
    let published: NaiveDate = a
        .aup
        .published_at
        .unwrap()
        .with_timezone(&time::TimeZone::parse("Europe/London").unwrap().tz())
        .date_naive();
    assert!(
        report
            .people
            .iter()
            .all(|p| p.due == published + Duration::days(3))
    );
}

#[db_test]
async fn the_organisation_summary_is_kept_until_the_school_changes(db: TestDb) {
    use undersign_core::use_cases::organisation_summary;
    let s = &*db.store;
    let seed = seed_school(s, "kept-first").await;
    let other = seed_school(s, "kept-elsewhere").await;
    let trust_admin = Actor {
        school: seed.school.id,
        person: seed.head.id,
        roles: [Role::TrustAdministrator].into(),
    };
    let viewer = trust_admin.organisation_viewer().unwrap();
    let now = time::now();
    let first = organisation_summary(s, &viewer, now).await.unwrap();
    assert_eq!(first.len(), 1, "only the viewer's organisation");
    assert_eq!((first[0].lines[0].signed, first[0].lines[0].total), (0, 5));
    let states = s.organisation_summary_states(&viewer).await.unwrap();
    let kept = states[0]
        .fresh(now)
        .expect("kept after the first view")
        .clone();
    assert_eq!(kept.ledger_seq, states[0].head_seq);
    assert!(kept.valid_until > now && kept.valid_until <= now + Duration::hours(25));

    // A signature moves the chain head, so the next view counts it.
    s.record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    assert!(
        s.organisation_summary_states(&viewer).await.unwrap()[0]
            .fresh(now)
            .is_none()
    );
    let second = organisation_summary(s, &viewer, now).await.unwrap();
    assert_eq!(second[0].lines[0].signed, 1);

    // Past the school's next midnight, people due become overdue: recomputed.
    let later = organisation_summary(s, &viewer, now + Duration::days(20))
        .await
        .unwrap();
    assert_eq!(later[0].lines[0].overdue, 4);

    // A change the chain does not show (days to sign) forgets the kept summary.
    let publisher = seed.actor(&seed.head).policy_publisher().unwrap();
    s.set_days_to_sign(&publisher, DaysToSign::parse("60").unwrap())
        .await
        .unwrap();
    assert!(
        s.organisation_summary_states(&viewer).await.unwrap()[0]
            .stored
            .is_none()
    );
    let relaxed = organisation_summary(s, &viewer, now + Duration::days(20))
        .await
        .unwrap();
    assert_eq!(relaxed[0].lines[0].overdue, 0);

    // Another organisation's school can neither be read nor kept through this viewer.
    assert!(matches!(
        s.organisation_school_facts(&viewer, other.school.id).await,
        Err(undersign_core::store::StoreError::NotFound)
    ));
    assert!(matches!(
        s.keep_compliance_summary(&viewer, other.school.id, &kept, now)
            .await,
        Err(undersign_core::store::StoreError::NotFound)
    ));
}
