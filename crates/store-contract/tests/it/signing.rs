//! Signing and declining: the evidence recorded, its ledger entry, double submits and
//! concurrent signers, and refusals.

use std::sync::Arc;
use tokio::task::JoinSet;
use undersign_core::ledger::verify_chain;
use undersign_core::outbox::Deferred;
use undersign_core::person::{Audience, Role};
use undersign_core::policy::{ChangeKind, Title};
use undersign_core::signing::{DeclineInput, SignOutcome, SignatureMark};
use undersign_core::store::StoreError;
use undersign_core::time;
use undersign_test_kit::{TestDb, context, db_test, draft, png_mark, seed_school, signature_input};

use crate::helpers::{add, at, payload};

#[db_test]
async fn signing_records_the_evidence_and_its_ledger_entry(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    let (school, aup) = (seed.school.id, &seed.aup);
    let viewed = s
        .record_view(
            school,
            seed.staff.id,
            aup.id,
            &aup.text_sha256,
            &context(),
            at(0, 1),
        )
        .await
        .unwrap();
    let view_entry = s.ledger_entries(school).await.unwrap().pop().unwrap();
    assert_eq!(
        (view_entry.seq, view_entry.kind.as_str()),
        (viewed, "viewed")
    );

    let mut input = signature_input(&seed.staff, aup);
    input.mark = png_mark();
    let SignOutcome::Recorded(sig) = s
        .record_signature(input.clone(), at(3, 250_001))
        .await
        .unwrap()
    else {
        panic!("expected a new signature");
    };
    assert_eq!(sig.school, school);
    assert_eq!(sig.person, seed.staff.id);
    assert_eq!(sig.version, aup.id);
    assert_eq!(sig.policy, seed.policy.id);
    assert_eq!(sig.policy_title, "ICT Acceptable Use Policy");
    assert_eq!(sig.version_number, 1);
    assert_eq!(sig.typed_name, "Sam Staff");
    assert_eq!(sig.mark_kind, "drawn");
    assert_eq!(sig.mark_sha256, input.mark.sha256());
    assert_eq!(sig.text_sha256, aup.text_sha256);
    assert_eq!(sig.declaration, aup.declaration);
    assert_eq!(sig.references, input.references);
    assert_eq!(sig.references.len(), 1);
    assert_eq!(sig.context, context());
    assert_eq!(sig.signed_at, at(3, 250_001));

    let entries = s.ledger_entries(school).await.unwrap();
    let entry = entries.last().unwrap();
    assert_eq!(
        (sig.ledger_seq, sig.ledger_hash.as_str()),
        (entry.seq, entry.hash.as_str())
    );
    assert_eq!(entry.seq, viewed + 1);
    let p = payload(entry);
    assert_eq!(p["at"], "2026-11-23T09:03:00.250001Z");
    let event = &p["event"];
    assert_eq!(event["kind"], "signed");
    assert_eq!(event["signature"], sig.id.0);
    assert_eq!(event["viewed_seq"], viewed);
    assert_eq!(event["mark_sha256"], sig.mark_sha256.as_str());
    assert_eq!(event["text_sha256"], aup.text_sha256.as_str());
    assert_eq!(event["ip"], "192.0.2.10");
    assert_eq!(event["auth"]["method"], "password");
    assert_eq!(event["references"][0]["id"], aup.references[0].id.0);
    verify_chain(school, &entries).unwrap();

    assert_eq!(
        s.signature(school, sig.id).await.unwrap(),
        Some(sig.clone())
    );
    assert_eq!(
        s.signatures_of(school, seed.staff.id).await.unwrap(),
        vec![sig.clone()]
    );
    assert_eq!(
        s.signature_mark(school, sig.id).await.unwrap(),
        Some(input.mark)
    );
}

#[db_test]
async fn signing_without_viewing_records_no_viewed_seq(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    // A view of another person does not count.
    s.record_view(
        seed.school.id,
        seed.teacher.id,
        seed.aup.id,
        &seed.aup.text_sha256,
        &context(),
        time::now(),
    )
    .await
    .unwrap();
    let sig = s
        .record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    let entries = s.ledger_entries(seed.school.id).await.unwrap();
    let entry = entries
        .iter()
        .find(|e| e.seq == sig.signature().ledger_seq)
        .unwrap();
    assert_eq!(
        payload(entry)["event"]["viewed_seq"],
        serde_json::Value::Null
    );
    let mark = s
        .signature_mark(seed.school.id, sig.signature().id)
        .await
        .unwrap();
    assert_eq!(
        mark,
        Some(SignatureMark::Typed {
            text: "Sam Staff".into()
        })
    );
}

#[db_test]
async fn signing_twice_returns_the_first_signature_and_records_nothing(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    let first = s
        .record_signature(signature_input(&seed.staff, &seed.aup), at(0, 0))
        .await
        .unwrap();
    assert!(matches!(first, SignOutcome::Recorded(_)));
    let entries = s.ledger_entries(seed.school.id).await.unwrap();
    let again = s
        .record_signature(signature_input(&seed.staff, &seed.aup), at(1, 0))
        .await
        .unwrap();
    assert_eq!(again, SignOutcome::AlreadySigned(first.signature().clone()));
    assert_eq!(s.ledger_entries(seed.school.id).await.unwrap(), entries);
    assert_eq!(
        s.signatures_of(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[db_test]
async fn ten_concurrent_signatures_of_one_version_record_exactly_one(db: TestDb) {
    let store = db.store.clone();
    let seed = seed_school(&*store, "signing").await;
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let store = Arc::clone(&store);
        let input = signature_input(&seed.staff, &seed.aup);
        tasks.spawn(async move { store.record_signature(input, time::now()).await });
    }
    let outcomes: Vec<SignOutcome> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let recorded: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, SignOutcome::Recorded(_)))
        .collect();
    assert_eq!(recorded.len(), 1, "{outcomes:#?}");
    let id = recorded[0].signature().id;
    assert!(outcomes.iter().all(|o| o.signature().id == id));
    let signed: Vec<_> = store
        .ledger_entries(seed.school.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "signed")
        .collect();
    assert_eq!(signed.len(), 1);
    assert_eq!(
        store
            .signatures_of(seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[db_test]
async fn concurrent_signings_by_different_people_all_land_and_the_chain_verifies(db: TestDb) {
    let store = db.store.clone();
    let seed = seed_school(&*store, "signing").await;
    let mut people = Vec::new();
    for i in 0..16 {
        let name = format!("Person {}", char::from(b'A' + i));
        people.push(
            add(
                &*store,
                seed.school.id,
                &name,
                &format!("p{i}@signing.sch.uk"),
                &[Role::Staff],
            )
            .await,
        );
    }
    let before = store.ledger_entries(seed.school.id).await.unwrap().len();
    let mut tasks = JoinSet::new();
    for person in &people {
        let store = Arc::clone(&store);
        let (input, aup, school) = (
            signature_input(person, &seed.aup),
            seed.aup.clone(),
            seed.school.id,
        );
        let pid = person.id;
        tasks.spawn(async move {
            store
                .record_view(
                    school,
                    pid,
                    aup.id,
                    &aup.text_sha256,
                    &context(),
                    time::now(),
                )
                .await?;
            store.record_signature(input, time::now()).await
        });
    }
    for outcome in tasks.join_all().await {
        assert!(matches!(outcome.unwrap(), SignOutcome::Recorded(_)));
    }
    let entries = store.ledger_entries(seed.school.id).await.unwrap();
    assert_eq!(entries.len(), before + 2 * people.len());
    let summary = verify_chain(seed.school.id, &entries).unwrap();
    assert_eq!(summary.entries as usize, entries.len());
    undersign_test_kit::assert_evidence_agrees(store.as_ref(), seed.school.id).await;
    // Each signature points at its own person's view.
    for person in &people {
        let sig = store
            .signatures_of(seed.school.id, person.id)
            .await
            .unwrap()
            .pop()
            .unwrap();
        let entry = entries.iter().find(|e| e.seq == sig.ledger_seq).unwrap();
        let viewed = payload(entry)["event"]["viewed_seq"].as_i64().unwrap();
        let view = entries.iter().find(|e| e.seq == viewed).unwrap();
        assert_eq!(payload(view)["event"]["person"], person.id.0);
    }
}

#[db_test]
async fn signings_committed_together_fail_alone_and_each_queues_its_receipt(db: TestDb) {
    let store = db.store.clone();
    let first = seed_school(&*store, "batch-a").await;
    let second = seed_school(&*store, "batch-b").await;
    let mut staff = Vec::new();
    for (seed, domain) in [(&first, "a"), (&second, "b")] {
        for i in 0..12 {
            let name = format!("Person {}", char::from(b'A' + i));
            let email = format!("p{i}@{domain}.sch.uk");
            let person = add(&*store, seed.school.id, &name, &email, &[Role::Staff]).await;
            staff.push((seed.aup.clone(), person));
        }
    }
    // All at once, so that they are committed in batches that mix good and bad signings
    // and both schools: every third one shows the wrong text.
    let mut tasks = JoinSet::new();
    for (i, (aup, person)) in staff.iter().enumerate() {
        let store = Arc::clone(&store);
        let mut input = signature_input(person, aup);
        let bad = i % 3 == 0;
        if bad {
            input.text_sha256 = "0".repeat(64);
        }
        let id = person.id;
        tasks.spawn(async move { (id, bad, store.record_signature(input, time::now()).await) });
    }
    let mut recorded = Vec::new();
    for (person, bad, outcome) in tasks.join_all().await {
        match (bad, outcome) {
            (true, Err(StoreError::Refused(m))) => assert!(m.contains("not this version's text")),
            (false, Ok(SignOutcome::Recorded(sig))) => {
                assert_eq!(sig.person, person);
                recorded.push(sig);
            }
            (bad, other) => panic!("person {person} (bad text: {bad}): {other:?}"),
        }
    }
    assert_eq!(recorded.len(), 16);
    for seed in [&first, &second] {
        let entries = store.ledger_entries(seed.school.id).await.unwrap();
        verify_chain(seed.school.id, &entries).unwrap();
        let signed = entries.iter().filter(|e| e.kind == "signed").count();
        assert_eq!(signed, 8, "school {}", seed.school.slug);
        undersign_test_kit::assert_evidence_agrees(store.as_ref(), seed.school.id).await;
    }
    // Each recorded signature's receipt was queued with it, and only theirs.
    let queued = store
        .claim_mail("test", time::now(), chrono::TimeDelta::hours(1), 1000)
        .await
        .unwrap();
    let receipts: Vec<_> = queued
        .iter()
        .filter(|m| m.dedupe_key.starts_with("receipt:"))
        .collect();
    assert_eq!(receipts.len(), recorded.len());
    for sig in &recorded {
        let mail = receipts
            .iter()
            .find(|m| m.deferred == Some(Deferred::Receipt { signature: sig.id }))
            .unwrap_or_else(|| panic!("no receipt queued for signature {}", sig.id));
        let (_, person) = staff.iter().find(|(_, p)| p.id == sig.person).unwrap();
        assert_eq!(mail.to_email, person.email);
        assert_eq!(mail.school, sig.school);
        assert_eq!(
            mail.subject,
            "Your receipt: ICT Acceptable Use Policy version 1"
        );
        assert!(
            mail.attachments.is_empty(),
            "the PDF is made when it is sent"
        );
    }
}

#[db_test]
async fn a_draft_or_a_version_for_another_audience_cannot_be_signed(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    let p = seed.publisher();
    let d = s
        .create_draft(
            &p,
            seed.policy.id,
            draft("- draft", ChangeKind::Major, &[Audience::Staff]),
        )
        .await
        .unwrap();
    let err = s
        .record_signature(signature_input(&seed.staff, &d), time::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m == "this version is not published"),
        "{err:?}"
    );

    let staff_only = s
        .create_policy(&p, &Title::parse("title", "Staff laptops").unwrap())
        .await
        .unwrap();
    let d = s
        .create_draft(
            &p,
            staff_only.id,
            draft("- laptops", ChangeKind::Major, &[Audience::Staff]),
        )
        .await
        .unwrap();
    let laptops = s.publish(&p, d.id, time::now()).await.unwrap();
    let err = s
        .record_signature(signature_input(&seed.governor, &laptops), time::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("not for you")),
        "{err:?}"
    );
    assert!(
        s.signatures_of(seed.school.id, seed.governor.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn a_signature_of_different_text_is_refused(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    let mut input = signature_input(&seed.staff, &seed.aup);
    input.text_sha256 = "0".repeat(64);
    let err = s.record_signature(input, time::now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    let err = s
        .record_view(
            seed.school.id,
            seed.staff.id,
            seed.aup.id,
            "bogus",
            &context(),
            time::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
}

#[db_test]
async fn declines_are_listed_newest_first_with_the_persons_name(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    let decline = |person: &undersign_core::person::Person, reason: &str| DeclineInput {
        school: seed.school.id,
        person: person.id,
        version: seed.aup.id,
        reason: reason.to_string(),
        context: context(),
    };
    let first = s
        .record_decline(decline(&seed.staff, "Statement 2 is unclear"), at(1, 5))
        .await
        .unwrap();
    assert_eq!(first.person_name, "Sam Staff");
    assert_eq!(first.policy_title, "ICT Acceptable Use Policy");
    assert_eq!(first.version_number, 1);
    assert_eq!(first.declined_at, at(1, 5));
    let entry = s
        .ledger_entries(seed.school.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.kind, "declined");
    let event = &payload(&entry)["event"];
    assert_eq!(event["decline"], first.id.0);
    assert_eq!(event["reason"], "Statement 2 is unclear");
    assert_eq!(event["text_sha256"], seed.aup.text_sha256.as_str());
    undersign_test_kit::assert_evidence_agrees(s, seed.school.id).await;

    let second = s
        .record_decline(decline(&seed.teacher, "I use my phone for work"), at(2, 0))
        .await
        .unwrap();
    let viewer = seed.actor(&seed.head).compliance_viewer().unwrap();
    let list = s.declines(&viewer).await.unwrap();
    assert_eq!(list, vec![second, first]);
}

#[db_test]
async fn evidence_rows_cannot_be_changed_in_the_database(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "signing").await;
    let school = seed.school.id;
    s.record_view(
        school,
        seed.staff.id,
        seed.aup.id,
        &seed.aup.text_sha256,
        &context(),
        time::now(),
    )
    .await
    .unwrap();
    let sig = s
        .record_signature(signature_input(&seed.staff, &seed.aup), time::now())
        .await
        .unwrap();
    s.record_decline(
        DeclineInput {
            school,
            person: seed.teacher.id,
            version: seed.aup.id,
            reason: "no".into(),
            context: context(),
        },
        time::now(),
    )
    .await
    .unwrap();
    let head = s.ledger_head(school).await.unwrap().unwrap();
    s.record_checkpoint(&undersign_core::ledger::Checkpoint::sign(
        school,
        &head,
        time::now(),
        &seed.key,
    ))
    .await
    .unwrap();
    let sig_id = sig.signature().id;
    for sql in [
        format!(
            "UPDATE ledger_entries SET payload = '{{}}' WHERE school_id = {school} AND seq = 2"
        ),
        format!("DELETE FROM ledger_entries WHERE school_id = {school} AND seq = 2"),
        format!("UPDATE signatures SET typed_name = 'Someone Else' WHERE id = {sig_id}"),
        format!("DELETE FROM signatures WHERE id = {sig_id}"),
        format!("UPDATE declines SET reason = 'changed' WHERE school_id = {school}"),
        format!("DELETE FROM declines WHERE school_id = {school}"),
        format!("UPDATE views SET ledger_seq = 1 WHERE school_id = {school}"),
        format!("DELETE FROM views WHERE school_id = {school}"),
        format!("UPDATE checkpoints SET hash = 'x' WHERE school_id = {school}"),
        format!("DELETE FROM checkpoints WHERE school_id = {school}"),
    ] {
        let err = db.try_exec(&sql).await.expect_err(&sql);
        assert!(
            err.contains("cannot be changed") || err.contains("append-only"),
            "{sql}: {err}"
        );
    }
    assert_eq!(
        s.signature(school, sig_id).await.unwrap().as_ref(),
        Some(sig.signature())
    );
    verify_chain(school, &s.ledger_entries(school).await.unwrap()).unwrap();
}
