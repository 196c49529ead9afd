//! Requests for permission, advice or a ruling: each kind's life, who decides, the
//! approved-software register, published rulings, reminders, and every step on the
//! record where `verify` checks it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use undersign_core::access::Actor;
use undersign_core::person::{Person, Role};
use undersign_core::requests::{Answers, Decision, NewRuling, RequestKind, RequestState, StepKind};
use undersign_core::store::{Store, StoreError};
use undersign_test_kit::{Seed, TestDb, assert_evidence_agrees, db_test, seed_school};

use crate::helpers::{add, at};

fn actor(p: &Person) -> Actor {
    Actor {
        school: p.school,
        person: p.id,
        roles: p.roles.clone(),
    }
}

fn answers(pairs: &[(&str, &str)]) -> Answers {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<BTreeMap<_, _>>()
}

fn yes(note: &str) -> Decision {
    Decision {
        approve: true,
        note: note.into(),
        conditions: String::new(),
        expires: None,
        ruling: None,
    }
}

fn no(note: &str) -> Decision {
    Decision {
        approve: false,
        ..yes(note)
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn refused<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
}

async fn findings(s: &dyn Store, seed: &Seed) -> Vec<String> {
    let snapshot = s.evidence_snapshot(seed.school.id).await.unwrap();
    undersign_core::evidence::cross_check(&snapshot.entries, &snapshot.rows)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The dedupe keys of the queued messages of every school, sorted.
async fn queued(s: &dyn Store, now: chrono::DateTime<chrono::Utc>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = s
        .claim_mail("test", now, TimeDelta::minutes(5), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.dedupe_key, m.to_email.to_string()))
        .filter(|(k, _)| k.starts_with("request:"))
        .collect();
    out.sort();
    out
}

async fn request_kinds(s: &dyn Store, seed: &Seed) -> Vec<String> {
    s.ledger_entries(seed.school.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("request"))
        .collect()
}

#[db_test]
async fn an_install_request_lives_from_submission_to_the_register_with_every_step_on_the_record(
    db: TestDb,
) {
    let s = &*db.store;
    let seed = seed_school(s, "install").await;
    let school = seed.school.id;
    let nm = add(
        s,
        school,
        "Alistair West",
        "alistair@install.test",
        &[Role::Staff, Role::NetworkManager],
    )
    .await;
    let (staff, head, manager) = (actor(&seed.staff), actor(&seed.head), actor(&nm));
    let t0 = at(0, 0);

    // Answers are checked in the store too, each problem named by its field.
    let why = refused(
        s.submit_request(&staff, RequestKind::Install, answers(&[("item", "x")]), t0)
            .await,
    );
    assert!(why.contains("purpose"), "{why}");
    let r = s
        .submit_request(
            &staff,
            RequestKind::Install,
            answers(&[("item", "Audacity 3.4"), ("purpose", "Recording podcasts")]),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Submitted);
    assert_eq!(r.route, Role::NetworkManager);
    assert_eq!(r.reference(), format!("R-{}", r.id));
    // The network manager is told; nobody else.
    assert_eq!(
        queued(s, t0).await,
        [(
            format!("request:{}:step:{}:p{}", r.id, r.steps[0].id, nm.id),
            "alistair@install.test".to_owned()
        )]
    );

    // The requester cannot decide; the headteacher is not the decider of installs and
    // does not see it.
    refused(s.decide_request(&staff, r.id, yes(""), t0).await);
    not_found(s.decide_request(&head, r.id, yes(""), t0).await);
    not_found(s.request(&head, r.id).await);
    not_found(s.request(&actor(&seed.teacher), r.id).await);
    assert_eq!(s.request_queue(&manager).await.unwrap().len(), 1);
    assert!(s.request_queue(&head).await.unwrap().is_empty());

    // More information, answered with the answers revised.
    let t1 = t0 + TimeDelta::hours(1);
    let r = s
        .ask_more_info(
            &manager,
            r.id,
            "Which rooms? It needs a licence per machine.",
            t1,
        )
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::MoreInfo);
    assert!(matches!(
        s.decide_request(&manager, r.id, yes(""), t1).await,
        Err(StoreError::Conflict(_))
    ));
    not_found(
        s.answer_request(
            &actor(&seed.teacher),
            r.id,
            "ICT suite",
            r.answers.clone(),
            t1,
        )
        .await,
    );
    let mut revised = r.answers.clone();
    revised.insert("where".into(), "ICT suite".into());
    let t2 = t1 + TimeDelta::hours(1);
    let r = s
        .answer_request(&staff, r.id, "Only the ICT suite, 30 machines", revised, t2)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Submitted);
    assert_eq!(
        r.answers.get("where").map(String::as_str),
        Some("ICT suite")
    );

    // Approved with conditions and an expiry.
    let t3 = t2 + TimeDelta::hours(1);
    let approval = Decision {
        conditions: "Installed by IT, not by the requester".into(),
        expires: Some(day("2027-08-31")),
        ..yes("Fine for the podcast club")
    };
    let r = s
        .decide_request(&manager, r.id, approval, t3)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(r.decided_by, Some(nm.id));
    assert_eq!(r.expires, Some(day("2027-08-31")));
    let steps: Vec<StepKind> = r.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        steps,
        [
            StepKind::Submitted,
            StepKind::MoreInfoAsked,
            StepKind::Answered,
            StepKind::Approved
        ]
    );
    assert_eq!(
        r.steps[1].note,
        "Which rooms? It needs a licence per machine."
    );
    assert!(matches!(
        s.withdraw_request(&staff, r.id, t3).await,
        Err(StoreError::Conflict(_))
    ));
    // The requester was told of the question and of the decision.
    let told: Vec<String> = queued(s, t3)
        .await
        .into_iter()
        .filter(|(_, to)| *to == seed.staff.email.to_string())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");

    // The register: staff search it by any words.
    let today = t3.date_naive();
    let found = s
        .approved_items(school, "audacity ict", today)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].approved_by, "Alistair West");
    assert_eq!(
        found[0].conditions.as_deref(),
        Some("Installed by IT, not by the requester")
    );
    assert!(
        s.approved_items(school, "photoshop", today)
            .await
            .unwrap()
            .is_empty()
    );

    // After its expiry it leaves the register, on the record.
    assert_eq!(
        s.expire_requests(school, day("2027-08-31"), t3)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.expire_requests(school, day("2027-09-01"), t3)
            .await
            .unwrap(),
        1
    );
    assert!(
        s.approved_items(school, "", day("2027-09-01"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.request(&staff, r.id).await.unwrap().state,
        RequestState::Expired
    );
    assert_eq!(
        request_kinds(s, &seed).await,
        [
            "request_submitted",
            "request_info_asked",
            "request_answered",
            "request_decided",
            "request_expired"
        ]
    );
    assert_evidence_agrees(s, school).await;

    // Changes behind Undersign's back are named: a condition dropped, a step erased.
    db.exec("UPDATE requests SET conditions = NULL").await;
    db.exec("DELETE FROM request_steps WHERE step = 'more_info_asked'")
        .await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("requests row") && f.contains("conditions is empty")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("request_steps row") && f.contains("deleted")),
        "{found:?}"
    );
}

#[db_test]
async fn each_kind_is_answered_in_its_own_words(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "kinds").await;
    let school = seed.school.id;
    let slt = add(
        s,
        school,
        "Lee Leader",
        "lee@kinds.test",
        &[Role::Staff, Role::LeadershipTeam],
    )
    .await;
    let (staff, head) = (actor(&seed.staff), actor(&seed.head));
    let t0 = at(0, 0);

    // A closed space: submitted without its safety checklist, not approved without it.
    let r = s
        .submit_request(
            &staff,
            RequestKind::ClosedSpace,
            answers(&[
                ("platform", "Padlet"),
                ("purpose", "Year 6 science journal"),
            ]),
            t0,
        )
        .await
        .unwrap();
    let why = refused(s.decide_request(&head, r.id, yes(""), t0).await);
    assert!(why.contains("safety checklist"), "{why}");
    s.ask_more_info(&head, r.id, "Please complete the safety checklist", t0)
        .await
        .unwrap();
    let mut full = r.answers.clone();
    for (k, v) in [
        (
            "who_can_join",
            "Year 6 pupils, by invitation from the class teacher",
        ),
        ("moderation", "The class teacher approves every post"),
        ("pupil_ages", "10 to 11"),
        ("end_date", "2027-07-20"),
    ] {
        full.insert(k.into(), v.into());
    }
    s.answer_request(&staff, r.id, "Done", full, t0)
        .await
        .unwrap();
    let r = s.decide_request(&head, r.id, yes(""), t0).await.unwrap();
    assert_eq!(r.state_label(), "approved");
    assert_eq!(
        r.expires,
        Some(day("2027-07-20")),
        "it closes on its end date"
    );

    // Parent contact: advice, which must be written.
    let r = s
        .submit_request(
            &staff,
            RequestKind::ParentContact,
            answers(&[
                ("parent", "J. Smith on Facebook"),
                ("relationship", "We play in the same netball team"),
            ]),
            t0,
        )
        .await
        .unwrap();
    refused(s.decide_request(&head, r.id, yes(""), t0).await);
    let r = s
        .decide_request(
            &head,
            r.id,
            yes("Better not while their child is in your class"),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(r.state_label(), "advice given");

    // An emergency-phone notice goes to the leadership team and is acknowledged, not
    // declined; it lapses after its last day.
    let r = s
        .submit_request(
            &staff,
            RequestKind::EmergencyPhone,
            answers(&[
                ("reason", "My father is in hospital"),
                ("from", "2026-11-23"),
                ("until", "2026-11-27"),
            ]),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(r.route, Role::LeadershipTeam);
    not_found(s.decide_request(&head, r.id, yes(""), t0).await);
    refused(s.decide_request(&actor(&slt), r.id, no("No"), t0).await);
    let r = s
        .decide_request(&actor(&slt), r.id, yes("Keep it on silent"), t0)
        .await
        .unwrap();
    assert_eq!(r.state_label(), "acknowledged");
    assert_eq!(r.expires, Some(day("2026-11-27")));
    assert_eq!(
        s.expire_requests(school, day("2026-11-28"), t0)
            .await
            .unwrap(),
        1
    );

    // Reasonable use: ruled on, and rulings published to all staff are numbered.
    let mut numbers = Vec::new();
    for (question, reasonable) in [
        ("Online banking at lunchtime", true),
        ("Streaming football during PPA", false),
    ] {
        let r = s
            .submit_request(
                &staff,
                RequestKind::ReasonableUse,
                answers(&[("question", question), ("statement", "4")]),
                t0,
            )
            .await
            .unwrap();
        let decision = Decision {
            approve: reasonable,
            note: "See the ruling".into(),
            conditions: String::new(),
            expires: None,
            ruling: Some(NewRuling {
                statement: 4,
                text: format!(
                    "{question}: {}",
                    if reasonable {
                        "reasonable"
                    } else {
                        "not reasonable"
                    }
                ),
            }),
        };
        let r = s.decide_request(&head, r.id, decision, t0).await.unwrap();
        numbers.push(r.ruling);
    }
    assert_eq!(numbers, [Some(1), Some(2)]);
    let rulings = s.rulings(school).await.unwrap();
    assert_eq!(rulings.len(), 2);
    assert_eq!((rulings[0].number, rulings[0].reasonable), (2, false));
    assert_eq!(rulings[1].text, "Online banking at lunchtime: reasonable");
    assert_eq!(rulings[1].statement, 4);

    // A photo request withdrawn while more information is asked.
    let r = s
        .submit_request(
            &staff,
            RequestKind::ImagePosting,
            answers(&[("what", "Sports day"), ("where", "The school website")]),
            t0,
        )
        .await
        .unwrap();
    s.ask_more_info(&head, r.id, "Which classes?", t0)
        .await
        .unwrap();
    refused(s.withdraw_request(&head, r.id, t0).await);
    let r = s.withdraw_request(&staff, r.id, t0).await.unwrap();
    assert_eq!(r.state, RequestState::Withdrawn);

    let mine = s.my_requests(&staff).await.unwrap();
    assert_eq!(mine.len(), 6);
    assert!(
        s.my_requests(&actor(&seed.teacher))
            .await
            .unwrap()
            .is_empty()
    );
    assert_evidence_agrees(s, school).await;

    // A ruling rewritten behind Undersign's back is named.
    db.exec("UPDATE rulings SET text = 'Anything goes' WHERE number = 2")
        .await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("rulings row") && f.contains("text is")),
        "{found:?}"
    );
}

#[db_test]
async fn who_decides_is_the_schools_choice_and_nobody_decides_their_own(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "routes").await;
    let other = seed_school(s, "elsewhere").await;
    let school = seed.school.id;
    let nm = add(
        s,
        school,
        "Alistair West",
        "alistair@routes.test",
        &[Role::Staff, Role::NetworkManager],
    )
    .await;
    let (head, manager) = (actor(&seed.head), actor(&nm));
    let t0 = at(0, 0);

    // Only the headteacher routes, and only to a role the kind allows.
    refused(
        s.set_request_route(&manager, RequestKind::Install, Role::Staff, t0)
            .await,
    );
    refused(
        s.set_request_route(&head, RequestKind::Install, Role::Governor, t0)
            .await,
    );
    s.set_request_route(&head, RequestKind::ReasonableUse, Role::Governor, t0)
        .await
        .unwrap();
    let routes = s.request_routes(school).await.unwrap();
    let of = |k| routes.iter().find(|r| r.kind == k).unwrap().decider;
    assert_eq!(of(RequestKind::ReasonableUse), Role::Governor);
    assert_eq!(of(RequestKind::Install), Role::NetworkManager);
    let r = s
        .submit_request(
            &actor(&seed.staff),
            RequestKind::ReasonableUse,
            answers(&[("question", "Ordering school trip tickets on my phone")]),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(r.route, Role::Governor);
    not_found(s.decide_request(&head, r.id, yes(""), t0).await);
    s.decide_request(&actor(&seed.governor), r.id, yes("Reasonable"), t0)
        .await
        .unwrap();

    // The network manager's own install goes to the headteacher as well.
    let own = s
        .submit_request(
            &manager,
            RequestKind::Install,
            answers(&[("item", "Wireshark"), ("purpose", "Fault finding")]),
            t0,
        )
        .await
        .unwrap();
    refused(s.decide_request(&manager, own.id, yes(""), t0).await);
    assert_eq!(s.request_queue(&head).await.unwrap().len(), 1);
    s.decide_request(&head, own.id, yes("Fine"), t0)
        .await
        .unwrap();

    // The headteacher's own photo request goes to the governors.
    let heads = s
        .submit_request(
            &head,
            RequestKind::ImagePosting,
            answers(&[("what", "Staff team photo"), ("where", "Local press")]),
            t0,
        )
        .await
        .unwrap();
    refused(s.decide_request(&head, heads.id, yes(""), t0).await);
    let governor = actor(&seed.governor);
    assert_eq!(s.request_queue(&governor).await.unwrap().len(), 1);
    s.decide_request(&governor, heads.id, yes("Agreed"), t0)
        .await
        .unwrap();

    // Another school's people see nothing of this school's requests.
    let outsider = actor(&other.head);
    not_found(s.request(&outsider, heads.id).await);
    not_found(s.withdraw_request(&outsider, heads.id, t0).await);
    assert!(s.request_queue(&outsider).await.unwrap().is_empty());
    assert!(s.rulings(other.school.id).await.unwrap().is_empty());
    assert_evidence_agrees(s, school).await;

    // A route changed behind Undersign's back is named.
    db.exec("UPDATE request_routes SET decider = 'staff'").await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("request_routes row") && f.contains("decider")),
        "{found:?}"
    );
}

#[db_test]
async fn deciders_are_reminded_every_three_days_while_a_request_waits(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "remind").await;
    let school = seed.school.id;
    let t0 = at(0, 0);
    let r = s
        .submit_request(
            &actor(&seed.staff),
            RequestKind::ImagePosting,
            answers(&[
                ("what", "Harvest festival"),
                ("where", "The school website"),
            ]),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(
        s.remind_request_deciders(school, t0 + TimeDelta::days(2))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.remind_request_deciders(school, t0 + TimeDelta::days(3))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.remind_request_deciders(school, t0 + TimeDelta::days(4))
            .await
            .unwrap(),
        0,
        "once per three days"
    );
    assert_eq!(
        s.remind_request_deciders(school, t0 + TimeDelta::days(6))
            .await
            .unwrap(),
        1
    );
    let reminders: Vec<(String, String)> = queued(s, t0 + TimeDelta::days(6))
        .await
        .into_iter()
        .filter(|(k, _)| k.contains(":remind:"))
        .collect();
    assert_eq!(reminders.len(), 2, "{reminders:?}");
    assert!(
        reminders
            .iter()
            .all(|(_, to)| *to == seed.head.email.to_string())
    );
    // Decided: no more reminders.
    s.decide_request(
        &actor(&seed.head),
        r.id,
        no("Not this year"),
        t0 + TimeDelta::days(7),
    )
    .await
    .unwrap();
    assert_eq!(
        s.remind_request_deciders(school, t0 + TimeDelta::days(9))
            .await
            .unwrap(),
        0
    );
}
