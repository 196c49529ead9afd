//! The image consent register: pupils from the MIS all or nothing (joiners, the new
//! year's changes, leavers), consent given and withdrawn, and both checked by `verify`.

use chrono::{NaiveDate, TimeDelta};
use undersign_core::consent::{Answer, Channel, ConsentState, NewConsent, Subject, answer};
use undersign_core::pupils;
use undersign_core::store::{PupilApply, PupilOutcome, Store, StoreError};
use undersign_test_kit::{Seed, TestDb, assert_evidence_agrees, db_test, seed_school};

use crate::helpers::at;

const SEPTEMBER: &str = "UPN,Forename,Surname,Year,Class,Contact 1 Name,Contact 1 Email\n\
A1,Amira,Khan,4,4K,Sara Khan,sara@home.test\n\
B2,Ben,Jones,6,6J,Tom Jones,tom@home.test\n";

const NEXT_SEPTEMBER: &str = "UPN,Forename,Surname,Year,Class,Contact 1 Name,Contact 1 Email\n\
A1,Amira,Khan,5,5K,Sara Khan,sara@home.test\n\
C3,Cara,Lee,R,RL,Dan Lee,dan@home.test\n";

async fn import(s: &dyn Store, seed: &Seed, csv: &str, dry_run: bool) -> pupils::PupilPlan {
    let file = pupils::parse(csv.as_bytes()).unwrap();
    match s
        .apply_pupils(
            &seed.people_admin(),
            &file,
            [9; 32],
            if dry_run {
                PupilApply::DryRun
            } else {
                PupilApply::Apply
            },
            at(0, 0),
        )
        .await
        .unwrap()
    {
        PupilOutcome::Applied(plan) => plan,
        other => panic!("{other:?}"),
    }
}

async fn findings(s: &dyn Store, seed: &Seed) -> Vec<String> {
    let snapshot = s.evidence_snapshot(seed.school.id).await.unwrap();
    undersign_core::evidence::cross_check(&snapshot.entries, &snapshot.rows)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[db_test]
async fn pupils_come_from_the_mis_and_the_new_year_moves_them_up_and_off_the_roll(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "pupils").await;
    let school = seed.school.id;

    let dry = import(s, &seed, SEPTEMBER, true).await;
    assert_eq!(dry.joiners.len(), 2);
    assert!(
        s.pupils(school).await.unwrap().is_empty(),
        "a dry run changes nothing"
    );
    let first = import(s, &seed, SEPTEMBER, false).await;
    assert_eq!(first.joiners.len(), 2);
    let again = import(s, &seed, SEPTEMBER, false).await;
    assert!(again.is_empty());
    assert_eq!(again.unchanged, 2);

    let next = import(s, &seed, NEXT_SEPTEMBER, false).await;
    assert_eq!(
        (next.joiners.len(), next.changes.len(), next.leavers.len()),
        (1, 1, 1)
    );
    let register = s.pupils(school).await.unwrap();
    let names: Vec<(String, String, bool)> = register
        .iter()
        .map(|p| (p.full_name.to_string(), p.year_group.clone(), p.on_roll))
        .collect();
    assert_eq!(
        names,
        [
            ("Amira Khan".to_owned(), "5".to_owned(), true),
            ("Ben Jones".to_owned(), "6".to_owned(), false),
            ("Cara Lee".to_owned(), "R".to_owned(), true),
        ]
    );
    assert_eq!(register[0].contacts[0].email.to_string(), "sara@home.test");
    assert_evidence_agrees(s, school).await;

    // The ledger holds no child's name.
    let payloads: String = s
        .ledger_entries(school)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert!(!payloads.contains("Amira"));
    assert!(!payloads.contains("sara@home.test"));

    // A pupil's details changed behind Undersign's back are named.
    db.exec("UPDATE pupils SET full_name = 'Someone Else' WHERE mis_id = 'A1'")
        .await;
    db.exec("UPDATE pupils SET on_roll = TRUE WHERE mis_id = 'B2'")
        .await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("pupils row") && f.contains("details_sha256")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("pupils row") && f.contains("on_roll")),
        "{found:?}"
    );
}

#[db_test]
async fn consent_is_given_and_withdrawn_on_the_record_and_only_for_this_school(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "consent").await;
    let other = seed_school(s, "elsewhere").await;
    let school = seed.school.id;
    import(s, &seed, SEPTEMBER, false).await;
    let amira = s.pupils(school).await.unwrap()[0].id;
    let t0 = at(0, 0);
    let admin = seed.people_admin();
    let give = |channel| NewConsent {
        subject: Subject::Pupil(amira),
        channel,
        state: ConsentState::Given,
        expires: None,
    };

    s.record_consent(&admin, give(Channel::Website), t0)
        .await
        .unwrap();
    s.record_consent(&admin, give(Channel::LocalPress), t0)
        .await
        .unwrap();
    let withdraw = NewConsent {
        state: ConsentState::Withdrawn,
        ..give(Channel::LocalPress)
    };
    s.record_consent(&admin, withdraw.clone(), t0 + TimeDelta::days(10))
        .await
        .unwrap();
    let records = s
        .consent_records(school, Subject::Pupil(amira))
        .await
        .unwrap();
    assert_eq!(records.len(), 3);
    let today = (t0 + TimeDelta::days(11)).date_naive();
    assert!(answer(&records, Channel::Website, today).is_consent());
    assert!(matches!(
        answer(&records, Channel::LocalPress, today),
        Answer::Withdrawn { .. }
    ));
    assert_eq!(answer(&records, Channel::SocialMedia, today), Answer::None);
    // Given in November 2026: it holds until the end of the school year.
    assert_eq!(
        answer(&records, Channel::Website, today),
        Answer::Consent {
            until: NaiveDate::from_ymd_opt(2027, 8, 31).unwrap()
        }
    );

    // A consent with its own expiry runs out on it: a check after that day finds it
    // expired, and needs the head's permission.
    s.record_consent(
        &admin,
        NewConsent {
            expires: NaiveDate::from_ymd_opt(2026, 12, 31),
            ..give(Channel::SocialMedia)
        },
        t0,
    )
    .await
    .unwrap();
    let records = s
        .consent_records(school, Subject::Pupil(amira))
        .await
        .unwrap();
    assert_eq!(
        answer(
            &records,
            Channel::SocialMedia,
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        ),
        Answer::Expired {
            on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        }
    );
    let late = s
        .check_publication(
            &seed.actor(&seed.teacher),
            Channel::SocialMedia,
            "New year concert",
            &[Subject::Pupil(amira)],
            t0 + TimeDelta::days(60),
        )
        .await
        .unwrap();
    assert_eq!(late.people[0].answer, "expired");
    assert_eq!(
        late.verdict,
        undersign_core::consent::Verdict::NeedsPermission
    );

    // A withdrawal has no expiry; another school's office cannot touch this pupil.
    let refused = s
        .record_consent(
            &admin,
            NewConsent {
                expires: NaiveDate::from_ymd_opt(2027, 1, 1),
                ..withdraw
            },
            t0,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    let elsewhere = s
        .record_consent(&other.people_admin(), give(Channel::Website), t0)
        .await;
    assert!(
        matches!(elsewhere, Err(StoreError::NotFound)),
        "{elsewhere:?}"
    );

    // Staff consent for their own image, and only their own.
    let staff = seed.actor(&seed.staff);
    let own = NewConsent {
        subject: Subject::Person(seed.staff.id),
        channel: Channel::Website,
        state: ConsentState::Given,
        expires: None,
    };
    s.record_own_consent(&staff, own.clone(), t0).await.unwrap();
    let theirs = NewConsent {
        subject: Subject::Person(seed.teacher.id),
        ..own
    };
    assert!(matches!(
        s.record_own_consent(&staff, theirs, t0).await,
        Err(StoreError::Refused(_))
    ));
    assert_evidence_agrees(s, school).await;

    // A leaver's record is kept and not added to.
    import(s, &seed, NEXT_SEPTEMBER, false).await;
    let ben = s
        .pupils(school)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.full_name.to_string() == "Ben Jones")
        .unwrap();
    let left = s
        .record_consent(
            &admin,
            NewConsent {
                subject: Subject::Pupil(ben.id),
                ..give(Channel::Website)
            },
            t0,
        )
        .await;
    assert!(matches!(left, Err(StoreError::Refused(_))), "{left:?}");

    // A withdrawal turned into consent behind Undersign's back is named.
    db.exec("UPDATE consents SET state = 'given' WHERE state = 'withdrawn'")
        .await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("consents row") && f.contains("state is \"given\"")),
        "{found:?}"
    );
}

#[db_test]
async fn images_go_out_only_with_consent_or_the_heads_permission_and_a_withdrawal_means_a_takedown(
    db: TestDb,
) {
    use undersign_core::consent::Verdict;
    use undersign_core::requests::{Decision, RequestKind};

    let s = &*db.store;
    let seed = seed_school(s, "publish").await;
    let school = seed.school.id;
    import(s, &seed, SEPTEMBER, false).await;
    let register = s.pupils(school).await.unwrap();
    let (amira, ben) = (register[0].id, register[1].id);
    let admin = seed.people_admin();
    let t0 = at(0, 0);
    s.record_consent(
        &admin,
        NewConsent {
            subject: Subject::Pupil(amira),
            channel: Channel::Website,
            state: ConsentState::Given,
            expires: None,
        },
        t0,
    )
    .await
    .unwrap();
    let teacher = seed.actor(&seed.teacher);
    let head = seed.actor(&seed.head);
    let class = [Subject::Pupil(amira), Subject::Pupil(ben)];

    // Ben has no consent on file: the head's permission is needed.
    let c = s
        .check_publication(
            &teacher,
            Channel::Website,
            "Class 4K's harvest festival",
            &class,
            t0,
        )
        .await
        .unwrap();
    assert_eq!(c.verdict, Verdict::NeedsPermission);
    let answers: Vec<(&str, &str)> = c
        .people
        .iter()
        .map(|p| (p.name.as_str(), p.answer.as_str()))
        .collect();
    assert_eq!(answers, [("Amira Khan", "consent"), ("Ben Jones", "none")]);
    let why = s.publish_checked(&teacher, c.id, None, t0).await;
    assert!(
        matches!(&why, Err(StoreError::Refused(m)) if m.contains("Ben Jones")),
        "{why:?}"
    );

    // A declined request is no permission; an approved one is.
    let ask = |what: &str| {
        [("what", what), ("where", "The school website")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let declined = s
        .submit_request(
            &teacher,
            RequestKind::ImagePosting,
            ask("Harvest festival"),
            t0,
        )
        .await
        .unwrap();
    let no = Decision {
        approve: false,
        note: "Not without Ben's parents' consent".into(),
        conditions: String::new(),
        expires: None,
        ruling: None,
    };
    s.decide_request(&head, declined.id, no.clone(), t0)
        .await
        .unwrap();
    assert!(matches!(
        s.publish_checked(&teacher, c.id, Some(declined.id), t0)
            .await,
        Err(StoreError::Refused(_))
    ));
    let approved = s
        .submit_request(
            &teacher,
            RequestKind::ImagePosting,
            ask("Harvest festival, again"),
            t0,
        )
        .await
        .unwrap();
    s.decide_request(
        &head,
        approved.id,
        Decision {
            approve: true,
            note: "Ben's parents agreed by phone".into(),
            ..no
        },
        t0,
    )
    .await
    .unwrap();
    // Only the member of staff who checked publishes.
    assert!(matches!(
        s.publish_checked(&head, c.id, Some(approved.id), t0).await,
        Err(StoreError::NotFound)
    ));
    let published = s
        .publish_checked(&teacher, c.id, Some(approved.id), t0)
        .await
        .unwrap();
    assert_eq!(published.permission, Some(approved.id));
    assert!(matches!(
        s.publish_checked(&teacher, c.id, None, t0).await,
        Err(StoreError::Conflict(_))
    ));
    let alone = s
        .check_publication(&teacher, Channel::Website, "Amira's poem", &class[..1], t0)
        .await
        .unwrap();
    assert_eq!(alone.verdict, Verdict::Clear);
    s.publish_checked(&teacher, alone.id, None, t0)
        .await
        .unwrap();

    // A parent withdraws: both published checks give the teacher a take-down task.
    let t1 = t0 + TimeDelta::days(2);
    s.record_consent(
        &admin,
        NewConsent {
            subject: Subject::Pupil(amira),
            channel: Channel::Website,
            state: ConsentState::Withdrawn,
            expires: None,
        },
        t1,
    )
    .await
    .unwrap();
    let tasks = s.takedown_tasks(&teacher).await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|t| t.subject_name == "Amira Khan" && t.done_at.is_none())
    );
    assert!(s.takedown_tasks(&head).await.unwrap().is_empty());
    let mails: Vec<String> = s
        .claim_mail("test", t1, TimeDelta::minutes(5), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.dedupe_key.starts_with("takedown:"))
        .map(|m| m.to_email.to_string())
        .collect();
    assert_eq!(
        mails,
        [
            seed.teacher.email.to_string(),
            seed.teacher.email.to_string()
        ]
    );

    // Nothing overrides a withdrawal, not even the head's permission.
    let again = s
        .check_publication(
            &teacher,
            Channel::Website,
            "Class 4K's nativity",
            &class,
            t1,
        )
        .await
        .unwrap();
    assert_eq!(again.verdict, Verdict::Refused);
    assert!(matches!(
        s.publish_checked(&teacher, again.id, Some(approved.id), t1)
            .await,
        Err(StoreError::Refused(_))
    ));

    // The publisher records the take-down; nobody else can.
    assert!(matches!(
        s.complete_takedown(&head, tasks[0].id, "", t1).await,
        Err(StoreError::NotFound)
    ));
    let done = s
        .complete_takedown(&teacher, tasks[0].id, "Removed from the gallery page", t1)
        .await
        .unwrap();
    assert!(done.done_at.is_some());
    assert!(matches!(
        s.complete_takedown(&teacher, tasks[0].id, "", t1).await,
        Err(StoreError::Conflict(_))
    ));
    // A check is the checker's and the head's to see.
    assert!(s.publication_check(&head, c.id).await.is_ok());
    assert!(matches!(
        s.publication_check(&seed.actor(&seed.staff), c.id).await,
        Err(StoreError::NotFound)
    ));
    assert_evidence_agrees(s, school).await;

    // An answer rewritten or a task erased behind Undersign's back is named.
    db.exec("UPDATE publication_check_people SET answer = 'consent'")
        .await;
    db.exec("DELETE FROM takedown_tasks WHERE done_at IS NULL")
        .await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("publication_check_people row") && f.contains("answer")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("takedown_tasks row") && f.contains("deleted")),
        "{found:?}"
    );
}

#[db_test]
async fn a_parent_link_shows_only_their_own_children_and_works_once(db: TestDb) {
    use undersign_core::consent::{Source, parent_link_mail};
    use undersign_core::person::Email;

    let s = &*db.store;
    let seed = seed_school(s, "parents").await;
    let school = seed.school.id;
    import(s, &seed, SEPTEMBER, false).await;
    let register = s.pupils(school).await.unwrap();
    let (amira, ben) = (register[0].id, register[1].id);
    let sara = register[0].contacts[0].clone();
    let admin = seed.people_admin();
    let t0 = at(0, 0);
    let send = |token: &'static str, to: Email| {
        let mail = parent_link_mail(
            school,
            &seed.school.name,
            &undersign_core::pupils::Contact {
                name: sara.name.clone(),
                email: to.clone(),
            },
            &format!("https://school.test/consent/link/{token}"),
            token,
            t0,
        );
        let admin = admin.clone();
        async move { s.send_parent_link(&admin, &to, token, mail, t0).await }
    };
    send("a1b2c3d4", sara.email.clone()).await.unwrap();
    assert!(matches!(
        send("e5f6a7b8", Email::parse("stranger@home.test").unwrap()).await,
        Err(StoreError::Refused(_))
    ));

    // Only Sara's own child is shown, and only her own child can be answered for.
    let view = s.parent_link("a1b2c3d4", t0).await.unwrap();
    assert_eq!(view.contact_name, "Sara Khan");
    let names: Vec<String> = view
        .children
        .iter()
        .map(|(p, _)| p.full_name.to_string())
        .collect();
    assert_eq!(names, ["Amira Khan"]);
    let choice = |pupil, channel, state| NewConsent {
        subject: Subject::Pupil(pupil),
        channel,
        state,
        expires: None,
    };
    assert!(matches!(
        s.use_parent_link(
            "a1b2c3d4",
            vec![choice(ben, Channel::Website, ConsentState::Given)],
            t0
        )
        .await,
        Err(StoreError::Refused(_))
    ));
    let recorded = s
        .use_parent_link(
            "a1b2c3d4",
            vec![
                choice(amira, Channel::Website, ConsentState::Given),
                choice(amira, Channel::LocalPress, ConsentState::Withdrawn),
            ],
            t0,
        )
        .await
        .unwrap();
    assert_eq!(recorded, 2);
    let records = s
        .consent_records(school, Subject::Pupil(amira))
        .await
        .unwrap();
    assert!(records.iter().all(|r| r.source == Source::ParentLink));

    // Once only; unknown and expired links show nothing.
    assert!(matches!(
        s.use_parent_link("a1b2c3d4", Vec::new(), t0).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.parent_link("a1b2c3d4", t0).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.parent_link("00000000", t0).await,
        Err(StoreError::NotFound)
    ));
    send("c9d8e7f6", sara.email.clone()).await.unwrap();
    assert!(matches!(
        s.parent_link("c9d8e7f6", t0 + TimeDelta::days(15)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_evidence_agrees(s, school).await;

    // Which link (so which address) gave a consent is evidence too, and where the link
    // was sent.
    db.exec("UPDATE consents SET parent_link_id = NULL").await;
    db.exec("UPDATE parent_links SET email = 'someone@else.test'")
        .await;
    let found = findings(s, &seed).await;
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("consents row") && f.contains("parent_link_id")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("parent_links row") && f.contains("address_sha256")),
        "{found:?}"
    );
}
