//! The MIS roster import: all or nothing, joiners asked to sign, leavers keep evidence.

use std::sync::atomic::{AtomicU64, Ordering};
use undersign_core::person::{PersonStatus, Role};
use undersign_core::roster::{self, Roster};
use undersign_core::store::{RosterOutcome, SessionRecord, Store};
use undersign_core::time;
use undersign_test_kit::{Seed, TestDb, db_test, seed_school, signature_input};

fn file(seed: &Seed, rows: &[&str]) -> Roster {
    let domain = format!("{}.sch.uk", seed.school.slug);
    let mut text =
        String::from("Staff Code,Forename,Surname,Email Address,Staff Role,Start Date\r\n");
    for r in rows {
        text.push_str(&r.replace("@d", &format!("@{domain}")));
        text.push_str("\r\n");
    }
    roster::parse(text.as_bytes()).unwrap()
}

async fn apply(s: &dyn Store, seed: &Seed, roster: &Roster) -> RosterOutcome {
    s.apply_roster(&seed.people_admin(), roster, None, &|_, _| {})
        .await
        .unwrap()
}

async fn snapshot(s: &dyn Store, seed: &Seed) -> (Vec<undersign_core::person::Person>, usize) {
    (
        s.people(seed.school.id).await.unwrap(),
        s.ledger_entries(seed.school.id).await.unwrap().len(),
    )
}

#[db_test]
async fn an_import_adds_joiners_changes_people_and_marks_leavers(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "roster").await;
    let first = file(
        &seed,
        &[
            "T1,Tina,Teacher,teacher@d,Teacher,2020-09-01",
            "N1,Nia,Newcomer,nia@d,Teacher;DSL,",
            "N2,Lee,Leaving,lee@d,Support Staff,",
        ],
    );
    let calls = AtomicU64::new(0);
    let outcome = s
        .apply_roster(&seed.people_admin(), &first, None, &|done, total| {
            assert!(done <= total);
            calls.fetch_add(1, Ordering::SeqCst);
        })
        .await
        .unwrap();
    let RosterOutcome::Applied(plan) = outcome else {
        panic!("not applied: {outcome:?}");
    };
    assert_eq!(plan.joiners.len(), 2);
    assert_eq!(plan.updates.len(), 1, "Tina is taken onto the roster");
    assert!(plan.leavers.is_empty(), "nobody was on the roster before");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let nia = s
        .people(seed.school.id)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.full_name.as_str() == "Nia Newcomer")
        .unwrap();
    assert_eq!(nia.roles, [Role::Staff, Role::Dsl].into());
    // A joiner is asked to sign the current AUP.
    let asked = s.obligations(seed.school.id, nia.id).await.unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].version, seed.aup.id);
    // Lee signs, then leaves: the second file no longer lists him, and Tina changed name.
    let lee = s
        .people(seed.school.id)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.full_name.as_str() == "Lee Leaving")
        .unwrap();
    s.record_signature(signature_input(&lee, &seed.aup), time::now())
        .await
        .unwrap();
    s.create_session(SessionRecord {
        token_sha256: "lee-session".into(),
        school: seed.school.id,
        person: lee.id,
        csrf_token: "x".into(),
        auth_method: "password".into(),
        created_at: time::now(),
        expires_at: time::now() + chrono::Duration::hours(1),
    })
    .await
    .unwrap();
    let second = file(
        &seed,
        &[
            "T1,Tina,Teacher-Jones,teacher@d,Teacher,2020-09-01",
            "N1,Nia,Newcomer,nia@d,Teacher;DSL,",
        ],
    );
    let before = s.ledger_entries(seed.school.id).await.unwrap().len();
    let RosterOutcome::Applied(plan) = apply(s, &seed, &second).await else {
        panic!("not applied");
    };
    assert_eq!(plan.updates.len(), 1);
    assert_eq!(plan.updates[0].changes[0].field, "full name");
    assert_eq!(plan.leavers.len(), 1);
    assert_eq!(plan.unchanged, 1);
    let lee_now = s.person(seed.school.id, lee.id).await.unwrap().unwrap();
    assert_eq!(lee_now.status, PersonStatus::Left);
    assert_eq!(
        s.signatures_of(seed.school.id, lee.id).await.unwrap().len(),
        1
    );
    assert!(
        s.session("lee-session", time::now())
            .await
            .unwrap()
            .is_none()
    );
    undersign_test_kit::assert_evidence_agrees(s, seed.school.id).await;
    let after = s.ledger_entries(seed.school.id).await.unwrap().len();
    assert_eq!(after - before, 2, "one entry per change");
    // People added by hand and never imported are not leavers.
    let head = s
        .person(seed.school.id, seed.head.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.status, PersonStatus::Active);
    // The same file again changes nothing.
    let RosterOutcome::Applied(plan) = apply(s, &seed, &second).await else {
        panic!("not applied");
    };
    assert!(plan.is_empty());
}

#[db_test]
async fn a_file_that_cannot_be_applied_changes_nothing(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "roster-bad").await;
    apply(
        s,
        &seed,
        &file(&seed, &["T1,Tina,Teacher,teacher@d,Teacher,"]),
    )
    .await;
    let before = snapshot(s, &seed).await;
    // A joiner is fine, but T1's new email is Sam's: the whole file is refused.
    let bad = file(
        &seed,
        &[
            "N1,Nia,Newcomer,nia@d,Teacher,",
            "T1,Tina,Teacher,staff@d,Teacher,",
        ],
    );
    let RosterOutcome::Invalid(errors) = apply(s, &seed, &bad).await else {
        panic!("applied");
    };
    assert_eq!((errors[0].line, errors[0].field.as_str()), (3, "email"));
    assert_eq!(snapshot(s, &seed).await, before);
}

#[db_test]
async fn a_preview_that_is_out_of_date_is_not_applied(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "roster-stale").await;
    let roster = file(&seed, &["N1,Nia,Newcomer,nia@d,Teacher,"]);
    let existing = s.roster_people(&seed.people_admin()).await.unwrap();
    let preview = roster::plan(
        &roster,
        &existing,
        &undersign_core::access::PeopleAdmin::for_operator(seed.school.id),
    )
    .unwrap();
    // Someone else adds Nia by hand in the meantime.
    crate::helpers::add(
        s,
        seed.school.id,
        "Nia Newcomer",
        &format!("nia@{}.sch.uk", seed.school.slug),
        &[Role::Staff],
    )
    .await;
    let before = snapshot(s, &seed).await;
    let outcome = s
        .apply_roster(
            &seed.people_admin(),
            &roster,
            Some(&preview.digest()),
            &|_, _| {},
        )
        .await
        .unwrap();
    let RosterOutcome::Stale(now) = outcome else {
        panic!("applied a stale preview: {outcome:?}");
    };
    assert!(now.joiners.is_empty());
    assert_eq!(snapshot(s, &seed).await, before);
}

#[db_test]
async fn a_joiners_due_date_counts_from_their_start_date(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "roster-due").await;
    apply(
        s,
        &seed,
        &file(&seed, &["N1,Nia,Newcomer,nia@d,Teacher,2099-01-04"]),
    )
    .await;
    let viewer = seed.actor(&seed.head).compliance_viewer().unwrap();
    let report = s
        .compliance_facts(&viewer)
        .await
        .unwrap()
        .report(time::now());
    let nia = report[0]
        .people
        .iter()
        .find(|p| p.full_name == "Nia Newcomer")
        .unwrap();
    assert_eq!(nia.due.to_string(), "2099-01-18");
}

#[db_test]
async fn an_import_cannot_remove_the_last_headteacher_nor_grant_beyond_the_importer(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "roster-head").await;
    let before = snapshot(s, &seed).await;
    // The head is in the file as a teacher only: the school would have no headteacher.
    let demoted = file(&seed, &["H1,Helen,Head,head@d,Teacher,"]);
    let existing = s.roster_people(&seed.people_admin()).await.unwrap();
    let errors = roster::plan(&demoted, &existing, &seed.people_admin()).unwrap_err();
    assert!(
        errors[0].message.contains("without a headteacher"),
        "{errors:?}"
    );
    let RosterOutcome::Invalid(_) = apply(s, &seed, &demoted).await else {
        panic!("applied");
    };
    // A school administrator's file cannot make anyone headteacher (line and field named).
    let admin = seed.actor(&seed.admin).people_admin().unwrap();
    let promoted = file(
        &seed,
        &[
            "H1,Helen,Head,head@d,Head Teacher,",
            "N1,Nia,Newcomer,nia@d,Head Teacher,",
        ],
    );
    let outcome = s
        .apply_roster(&admin, &promoted, None, &|_, _| {})
        .await
        .unwrap();
    let RosterOutcome::Invalid(errors) = outcome else {
        panic!("applied: {outcome:?}");
    };
    assert_eq!((errors[0].line, errors[0].field.as_str()), (3, "roles"));
    assert!(errors[0].message.contains("Headteacher"), "{errors:?}");
    assert_eq!(snapshot(s, &seed).await, before);
}
