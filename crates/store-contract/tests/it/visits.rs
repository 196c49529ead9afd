//! Reception: kiosks, visitor sign-in and sign-out, repeat visitors, the end-of-day
//! sign-out and the purge of visitor personal data.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use undersign_core::access::{KioskAdmin, Reception};
use undersign_core::person::Audience;
use undersign_core::policy::{ChangeKind, PolicyVersion};
use undersign_core::signing::{AuthMethod, RequestContext, SignatureMark};
use undersign_core::store::{Store, StoreError};
use undersign_core::visits::{
    Coverage, EnrolmentCode, Kiosk, KioskName, NewVisit, SignOutBy, VisitSignature, VisitState,
    VisitorCode, VisitorDetails, VisitorSettings,
};
use undersign_test_kit::{AUP_BODY, Seed, TestDb, db_test, seed_school};

use crate::helpers::{at, payload, publish_version};

fn admin(seed: &Seed) -> KioskAdmin {
    seed.actor(&seed.admin).kiosk_admin().unwrap()
}

fn reception(seed: &Seed) -> Reception {
    seed.actor(&seed.head).reception().unwrap()
}

/// Publishes a version of the AUP for visitors too.
async fn visitor_version(
    store: &dyn Store,
    seed: &Seed,
    body: &str,
    kind: ChangeKind,
) -> PolicyVersion {
    publish_version(
        store,
        seed,
        body,
        kind,
        &[Audience::Staff, Audience::Governors, Audience::Visitors],
    )
    .await
}

async fn enrolled_kiosk(store: &dyn Store, seed: &Seed, name: &str, n: u8) -> (Kiosk, String) {
    let code = EnrolmentCode::from_random([n; 10]);
    store
        .register_kiosk(
            &admin(seed),
            &KioskName::parse(name).unwrap(),
            &code.sha256(),
            at(60 * 24, 0),
            at(0, 0),
        )
        .await
        .unwrap();
    let token = format!("token-{n}");
    let kiosk = store
        .enrol_kiosk(&code.sha256(), &token, at(1, 0))
        .await
        .unwrap()
        .unwrap();
    (kiosk, token)
}

fn details(seed: &Seed, name: &str, email: &str, code: &str) -> VisitorDetails {
    VisitorDetails::parse(
        name,
        "Acme Ltd",
        &seed.teacher.id.to_string(),
        email,
        "AB12 CDE",
        code,
    )
    .unwrap()
}

fn signature(version: &PolicyVersion, name: &str) -> VisitSignature {
    VisitSignature {
        version: version.id,
        text_sha256: version.text_sha256.clone(),
        declaration: version.declaration.clone(),
        typed_name: name.to_string(),
        mark: SignatureMark::typed(name).unwrap(),
        references: Vec::new(),
    }
}

fn new_visit(
    seed: &Seed,
    kiosk: Option<&Kiosk>,
    details: VisitorDetails,
    signature: Option<VisitSignature>,
    n: u8,
) -> NewVisit {
    NewVisit {
        school: seed.school.id,
        details,
        signature,
        kiosk: kiosk.map(|k| k.id),
        context: RequestContext::new(
            "10.0.0.9".into(),
            "Tablet",
            kiosk.map_or(AuthMethod::Password, Kiosk::auth),
        ),
        new_code: VisitorCode::from_random([n, 1, 2, 3, 4, 5, 6, 7]),
        salt: [n; 16],
    }
}

/// The chain verifies and every kiosk, visit and person row agrees with its entries.
async fn verify(store: &dyn Store, seed: &Seed) {
    undersign_test_kit::assert_evidence_agrees(store, seed.school.id).await;
}

#[db_test]
async fn a_kiosk_enrols_once_and_a_revoked_kiosk_is_refused(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "kiosk-enrol").await;
    let code = EnrolmentCode::from_random([3; 10]);
    let kiosk = s
        .register_kiosk(
            &admin(&seed),
            &KioskName::parse("Main reception").unwrap(),
            &code.sha256(),
            at(60, 0),
            at(0, 0),
        )
        .await
        .unwrap();
    assert_eq!(kiosk.status(), "waiting for enrolment");
    // An expired code does nothing.
    assert!(
        s.enrol_kiosk(&code.sha256(), "t1", at(61, 0))
            .await
            .unwrap()
            .is_none()
    );
    let enrolled = s
        .enrol_kiosk(&code.sha256(), "t1", at(30, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(enrolled.id, kiosk.id);
    // The code is spent: a second device cannot use it.
    assert!(
        s.enrol_kiosk(&code.sha256(), "t2", at(31, 0))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.kiosk_by_token("t1").await.unwrap().unwrap().id, kiosk.id);
    assert!(s.kiosk_by_token("t2").await.unwrap().is_none());

    let revoked = s
        .revoke_kiosk(&admin(&seed), kiosk.id, at(40, 0))
        .await
        .unwrap();
    assert_eq!(revoked.status(), "revoked");
    assert!(s.kiosk_by_token("t1").await.unwrap().is_none());
    assert!(matches!(
        s.revoke_kiosk(&admin(&seed), kiosk.id, at(41, 0)).await,
        Err(StoreError::Conflict(_))
    ));
    // Another school's administrator cannot see or revoke it.
    let other = seed_school(s, "kiosk-other").await;
    assert!(s.kiosks(&admin(&other)).await.unwrap().is_empty());
    assert!(matches!(
        s.revoke_kiosk(&admin(&other), kiosk.id, at(42, 0)).await,
        Err(StoreError::NotFound)
    ));
    let kinds: Vec<String> = s
        .ledger_entries(seed.school.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"kiosk_registered".to_string()));
    assert!(kinds.contains(&"kiosk_revoked".to_string()));
    verify(s, &seed).await;
}

#[db_test]
async fn a_visitor_signs_in_at_a_kiosk_and_out_again(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "visit-in-out").await;
    assert!(s.visitor_policy(seed.school.id).await.unwrap().is_none());
    let v2 = visitor_version(s, &seed, AUP_BODY, ChangeKind::Major).await;
    let (kiosk, _) = enrolled_kiosk(s, &seed, "Front desk", 1).await;
    let d = details(&seed, "Vera Visitor", "vera@acme.example", "");
    assert_eq!(
        s.coverage(seed.school.id, &d, at(5, 0)).await.unwrap(),
        Coverage::MustSign { version: v2.id }
    );
    // Without a signature, a new visitor is refused and nothing is stored.
    let before = s.ledger_entries(seed.school.id).await.unwrap().len();
    let refused = s
        .sign_in_visitor(new_visit(&seed, Some(&kiosk), d.clone(), None, 1), at(5, 0))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(
        s.ledger_entries(seed.school.id).await.unwrap().len(),
        before
    );

    let visit = s
        .sign_in_visitor(
            new_visit(
                &seed,
                Some(&kiosk),
                d,
                Some(signature(&v2, "vera visitor")),
                1,
            ),
            at(5, 0),
        )
        .await
        .unwrap();
    assert_eq!(visit.state, VisitState::OnSite);
    assert_eq!(visit.signed_version, Some(v2.id));
    assert_eq!(visit.kiosk, Some(kiosk.id));
    assert_eq!(visit.host_name, "Tina Teacher");
    assert_eq!(visit.name(), "Vera Visitor");
    assert_eq!(visit.auth, kiosk.auth());
    let entry = s
        .ledger_entries(seed.school.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.kind, "visitor_signed_in");
    assert_eq!(entry.seq, visit.ledger_seq);
    let p = payload(&entry);
    assert_eq!(p["event"]["auth"]["method"], "kiosk");
    assert_eq!(p["event"]["signature"]["version"], v2.id.0);
    // The chain holds only the salted hash of the personal data.
    assert!(!entry.payload.contains("Vera"), "{}", entry.payload);
    assert!(!entry.payload.contains("vera@acme.example"));
    assert_eq!(
        p["event"]["personal_sha256"],
        visit.personal_sha256.as_str()
    );

    let listed = s.on_site(&reception(&seed)).await.unwrap();
    assert_eq!(
        listed.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![visit.id]
    );
    let found = s
        .find_on_site(seed.school.id, "VERA@acme.example")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let code = visit.personal.as_ref().unwrap().visitor_code.clone();
    assert_eq!(
        s.find_on_site(seed.school.id, &code.to_lowercase())
            .await
            .unwrap()
            .len(),
        1
    );
    let out = s
        .sign_out_visitor(
            seed.school.id,
            visit.id,
            SignOutBy::Kiosk { kiosk: kiosk.id },
            at(65, 0),
        )
        .await
        .unwrap();
    assert_eq!(
        out.state,
        VisitState::SignedOut {
            at: at(65, 0),
            by: SignOutBy::Kiosk { kiosk: kiosk.id }
        }
    );
    assert!(s.on_site(&reception(&seed)).await.unwrap().is_empty());
    // A second sign-out is a conflict, not a second entry.
    assert!(matches!(
        s.sign_out_visitor(seed.school.id, visit.id, SignOutBy::Automatic, at(66, 0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.ledger_entries(seed.school.id)
            .await
            .unwrap()
            .pop()
            .unwrap()
            .kind,
        "visitor_signed_out"
    );
    verify(s, &seed).await;
}

#[db_test]
async fn a_repeat_visitor_signs_again_only_after_a_major_version_or_n_days(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "visit-repeat").await;
    let v2 = visitor_version(s, &seed, AUP_BODY, ChangeKind::Major).await;
    s.set_visitor_settings(
        &admin(&seed),
        VisitorSettings {
            resign_after_days: 30,
            retention_days: 90,
        },
        at(0, 0),
    )
    .await
    .unwrap();
    let first = s
        .sign_in_visitor(
            new_visit(
                &seed,
                None,
                details(&seed, "Rita Repeat", "rita@acme.example", ""),
                Some(signature(&v2, "Rita Repeat")),
                2,
            ),
            at(0, 0),
        )
        .await
        .unwrap();
    let code = first.personal.as_ref().unwrap().visitor_code.clone();
    s.sign_out_visitor(seed.school.id, first.id, SignOutBy::Automatic, at(60, 0))
        .await
        .unwrap();

    // By email, and by code alone, within the 30 days: covered.
    let by_email = details(&seed, "Rita Repeat", "rita@acme.example", "");
    let by_code = details(&seed, "rita  repeat", "", &code);
    let later = at(60 * 24 * 10, 0);
    for d in [&by_email, &by_code] {
        assert_eq!(
            s.coverage(seed.school.id, d, later).await.unwrap(),
            Coverage::Covered {
                by: first.id,
                version: v2.id
            }
        );
    }
    // Someone else typing her email is not recognised.
    let impostor = details(&seed, "Ivan Impostor", "rita@acme.example", "");
    assert!(matches!(
        s.coverage(seed.school.id, &impostor, later).await.unwrap(),
        Coverage::MustSign { .. }
    ));
    let second = s
        .sign_in_visitor(new_visit(&seed, None, by_code.clone(), None, 3), later)
        .await
        .unwrap();
    assert_eq!(second.covered_by, Some(first.id));
    assert_eq!(second.signed_version, None);
    assert_eq!(second.personal.as_ref().unwrap().visitor_code, code);
    let p = payload(
        &s.ledger_entries(seed.school.id)
            .await
            .unwrap()
            .pop()
            .unwrap(),
    );
    assert_eq!(p["event"]["covered_by"], first.id.0);
    assert!(p["event"]["signature"].is_null());

    // After 30 days: must sign again.
    assert!(matches!(
        s.coverage(seed.school.id, &by_email, at(60 * 24 * 31, 0))
            .await
            .unwrap(),
        Coverage::MustSign { .. }
    ));
    // A minor version does not ask again; a major one does.
    let v3 = visitor_version(
        s,
        &seed,
        &format!("{AUP_BODY}\nTypo fixed.\n"),
        ChangeKind::Minor,
    )
    .await;
    assert_eq!(
        s.coverage(seed.school.id, &by_email, later).await.unwrap(),
        Coverage::Covered {
            by: first.id,
            version: v3.id
        }
    );
    let v4 = visitor_version(
        s,
        &seed,
        &format!("{AUP_BODY}\n- A new rule.\n"),
        ChangeKind::Major,
    )
    .await;
    assert_eq!(
        s.coverage(seed.school.id, &by_email, later).await.unwrap(),
        Coverage::MustSign { version: v4.id }
    );
    // Signing the superseded version is refused.
    let stale = s
        .sign_in_visitor(
            new_visit(
                &seed,
                None,
                by_email.clone(),
                Some(signature(&v2, "Rita Repeat")),
                4,
            ),
            later,
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Refused(_))), "{stale:?}");
    verify(s, &seed).await;
}

#[db_test]
async fn two_kiosks_sign_visitors_in_at_the_same_time(db: TestDb) {
    let store: Arc<dyn Store> = db.store.clone();
    let seed = seed_school(&*store, "visit-concurrent").await;
    let v2 = visitor_version(&*store, &seed, AUP_BODY, ChangeKind::Major).await;
    let (k1, _) = enrolled_kiosk(&*store, &seed, "North door", 4).await;
    let (k2, _) = enrolled_kiosk(&*store, &seed, "South door", 5).await;
    let mut tasks = Vec::new();
    for i in 0..10u8 {
        let store = store.clone();
        let kiosk = if i % 2 == 0 { k1.clone() } else { k2.clone() };
        let name = format!("Visitor {}", char::from(b'A' + i));
        let input = new_visit(
            &seed,
            Some(&kiosk),
            details(&seed, &name, &format!("v{i}@example.org"), ""),
            Some(signature(&v2, &name)),
            10 + i,
        );
        tasks.push(tokio::spawn(async move {
            store
                .sign_in_visitor(input, undersign_core::time::now())
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let on_site = store.on_site(&reception(&seed)).await.unwrap();
    assert_eq!(on_site.len(), 10);
    assert_eq!(on_site.iter().filter(|v| v.kiosk == Some(k1.id)).count(), 5);
    let mut seqs: Vec<i64> = on_site.iter().map(|v| v.ledger_seq).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 10, "every visit has its own ledger entry");
    verify(&*store, &seed).await;
}

#[db_test]
async fn visitors_left_on_site_are_signed_out_at_the_end_of_the_day_and_flagged(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "visit-overdue").await;
    let v2 = visitor_version(s, &seed, AUP_BODY, ChangeKind::Major).await;
    let sign_in = |name: &'static str, when: DateTime<Utc>, n: u8| {
        let input = new_visit(
            &seed,
            None,
            details(&seed, name, "", ""),
            Some(signature(&v2, name)),
            n,
        );
        async move { s.sign_in_visitor(input, when).await.unwrap() }
    };
    let yesterday = sign_in("Olive Overdue", at(0, 0), 20).await;
    let today = sign_in("Tom Today", at(60 * 24, 0), 21).await;
    let cutoff = at(60 * 24 - 30, 0);
    let done = s
        .sign_out_overdue(seed.school.id, cutoff, at(60 * 24 + 5, 0))
        .await
        .unwrap();
    assert_eq!(done, vec![yesterday.id]);
    let v = s
        .visit(seed.school.id, yesterday.id)
        .await
        .unwrap()
        .unwrap();
    assert!(v.state.flagged());
    let p = payload(
        &s.ledger_entries(seed.school.id)
            .await
            .unwrap()
            .pop()
            .unwrap(),
    );
    assert_eq!(p["event"]["flagged"], true);
    assert_eq!(p["event"]["by"]["by"], "automatic");
    assert_eq!(
        s.on_site(&reception(&seed))
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect::<Vec<_>>(),
        vec![today.id]
    );
    // Running it again does nothing more.
    assert!(
        s.sign_out_overdue(seed.school.id, cutoff, at(60 * 24 + 6, 0))
            .await
            .unwrap()
            .is_empty()
    );
    verify(s, &seed).await;
}

/// Whether any personal column of `visits` still holds `needle`, asked with raw SQL as a
/// database administrator would: the count goes into a table that accepts only zero.
async fn visits_mention(db: &TestDb, needle: &str) -> bool {
    db.exec(
        "CREATE TABLE IF NOT EXISTS probe_visits (n BIGINT CHECK (n = 0)); DELETE FROM probe_visits;",
    )
    .await;
    let sql = format!(
        "INSERT INTO probe_visits (n) SELECT COUNT(*) FROM visits
         WHERE full_name LIKE '%{needle}%' OR email LIKE '%{needle}%'
            OR typed_name LIKE '%{needle}%' OR mark_text LIKE '%{needle}%'
            OR organisation LIKE '%{needle}%' OR visitor_code LIKE '%{needle}%'"
    );
    db.try_exec(&sql).await.is_err()
}

#[db_test]
async fn the_purge_removes_visitor_names_and_the_chain_still_verifies(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "visit-purge").await;
    let v2 = visitor_version(s, &seed, AUP_BODY, ChangeKind::Major).await;
    let old = s
        .sign_in_visitor(
            new_visit(
                &seed,
                None,
                details(&seed, "Percy Purged", "percy@acme.example", ""),
                Some(signature(&v2, "Percy Purged")),
                30,
            ),
            at(0, 0),
        )
        .await
        .unwrap();
    s.sign_out_visitor(
        seed.school.id,
        old.id,
        SignOutBy::Receptionist {
            person: seed.head.id,
        },
        at(30, 0),
    )
    .await
    .unwrap();
    let recent = s
        .sign_in_visitor(
            new_visit(
                &seed,
                None,
                details(&seed, "Kept Recent", "", ""),
                Some(signature(&v2, "Kept Recent")),
                31,
            ),
            at(60 * 24 * 100, 0),
        )
        .await
        .unwrap();
    assert!(
        visits_mention(&db, "Percy").await,
        "the check must be able to fail"
    );

    let now = at(60 * 24 * 100 + 10, 0);
    let purged = s
        .purge_visitor_data(seed.school.id, now - Duration::days(90), now)
        .await
        .unwrap();
    assert_eq!(purged, vec![old.id]);
    assert!(!visits_mention(&db, "Percy").await);
    assert!(!visits_mention(&db, "percy@acme").await);
    assert!(visits_mention(&db, "Kept Recent").await);
    let after = s.visit(seed.school.id, old.id).await.unwrap().unwrap();
    assert_eq!(after.personal, None);
    assert_eq!(after.name(), "(personal data removed)");
    assert_eq!(after.personal_sha256, old.personal_sha256);
    assert!(after.purged_at.is_some());
    assert!(
        s.visit(seed.school.id, recent.id)
            .await
            .unwrap()
            .unwrap()
            .personal
            .is_some()
    );
    let last = s
        .ledger_entries(seed.school.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.kind, "visitor_data_purged");
    assert_eq!(payload(&last)["event"]["visits"][0], old.id.0);
    // Nothing in the ledger names the visitor either.
    let all = s.ledger_entries(seed.school.id).await.unwrap();
    assert!(all.iter().all(|e| !e.payload.contains("Percy")));
    verify(s, &seed).await;
    // A purged visitor is not recognised again, and a second purge finds nothing.
    let d = details(&seed, "Percy Purged", "percy@acme.example", "");
    assert!(matches!(
        s.coverage(seed.school.id, &d, now).await.unwrap(),
        Coverage::MustSign { .. }
    ));
    assert!(
        s.purge_visitor_data(seed.school.id, now - Duration::days(90), now)
            .await
            .unwrap()
            .is_empty()
    );
    // Someone on site is never purged, however old the visit.
    assert!(
        s.purge_visitor_data(seed.school.id, now + Duration::days(1), now)
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn a_host_from_another_school_is_refused_and_reception_sees_only_its_own(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "visit-host").await;
    let other = seed_school(s, "visit-host-b").await;
    let v2 = visitor_version(s, &seed, AUP_BODY, ChangeKind::Major).await;
    let foreign =
        VisitorDetails::parse("Hugo Host", "", &other.teacher.id.to_string(), "", "", "").unwrap();
    let refused = s
        .sign_in_visitor(
            new_visit(&seed, None, foreign, Some(signature(&v2, "Hugo Host")), 40),
            at(0, 0),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert!(!visits_mention(&db, "Hugo").await);
    // The other school's reception does not see this school's visitors.
    s.sign_in_visitor(
        new_visit(
            &seed,
            None,
            details(&seed, "Hugo Host", "", ""),
            Some(signature(&v2, "Hugo Host")),
            41,
        ),
        at(1, 0),
    )
    .await
    .unwrap();
    assert!(
        s.on_site(&other.actor(&other.head).reception().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.find_on_site(other.school.id, "Hugo Host")
            .await
            .unwrap()
            .is_empty()
    );
}

#[db_test]
async fn a_visitor_who_gives_an_email_gets_a_receipt_built_from_the_visits_entry(db: TestDb) {
    use undersign_core::outbox::Deferred;
    use undersign_core::receipt::{
        ReceiptError, ReceiptSchool, VisitNames, VisitReceiptFacts, seal_visit,
    };
    use undersign_core::verification::{Verdict, by_code, by_file};
    const PDF: &[u8] = b"%PDF-1.7\n% a visitor's receipt\n%%EOF\n";

    let s = &*db.store;
    let seed = seed_school(s, "visit-receipt").await;
    let v2 = visitor_version(s, &seed, AUP_BODY, ChangeKind::Major).await;
    let (kiosk, _) = enrolled_kiosk(s, &seed, "Front desk", 1).await;
    let d = details(&seed, "Vera Visitor", "vera@acme.example", "");
    let visit = s
        .sign_in_visitor(
            new_visit(
                &seed,
                Some(&kiosk),
                d,
                Some(signature(&v2, "vera visitor")),
                1,
            ),
            at(5, 0),
        )
        .await
        .unwrap();
    // Without an address, no receipt.
    let quiet = details(&seed, "Nora Noemail", "", "");
    s.sign_in_visitor(
        new_visit(
            &seed,
            Some(&kiosk),
            quiet,
            Some(signature(&v2, "Nora Noemail")),
            2,
        ),
        at(6, 0),
    )
    .await
    .unwrap();
    let queued = s
        .claim_mail("test", at(7, 0), chrono::TimeDelta::hours(1), 100)
        .await
        .unwrap();
    let keys: Vec<&str> = queued.iter().map(|m| m.dedupe_key.as_str()).collect();
    assert_eq!(keys, [format!("visit-receipt:{}", visit.id)]);
    assert_eq!(
        queued[0].deferred,
        Some(Deferred::VisitReceipt { visit: visit.id })
    );
    assert_eq!(queued[0].to_email.as_str(), "vera@acme.example");
    assert_eq!(queued[0].to_name, "Vera Visitor");

    // The facts come from the visit's entry, with the details and salt kept for it.
    let (personal, salt) = s
        .visit_personal(seed.school.id, visit.id)
        .await
        .unwrap()
        .unwrap();
    let entry = s
        .ledger_entry(seed.school.id, visit.ledger_seq)
        .await
        .unwrap()
        .unwrap();
    let names = VisitNames {
        host: visit.host_name.clone(),
        policy: Some((v2.policy_title.clone(), v2.number)),
    };
    let from_entry = |personal, salt: &[u8]| {
        VisitReceiptFacts::from_entry(
            ReceiptSchool::of(&seed.school),
            seed.school.timezone,
            &entry,
            personal,
            salt,
            &names,
            at(8, 0),
        )
    };
    let facts = from_entry(personal.clone(), &salt).unwrap();
    assert_eq!(facts.visit, visit.id);
    assert_eq!(facts.host.full_name, "Tina Teacher");
    assert_eq!(facts.arrived_at, at(5, 0));
    assert_eq!(facts.personal.full_name, "Vera Visitor");
    assert_eq!(facts.personal.typed_name.as_deref(), Some("vera visitor"));
    assert_eq!(facts.signed.as_ref().unwrap().version.id, v2.id);
    assert_eq!(facts.place.how, kiosk.auth().label());
    assert_eq!(facts.code.len(), 19);
    // Anyone else's details, or another salt, do not give the entry's hash.
    let mut forged = personal.clone();
    forged.full_name = "Someone Else".into();
    assert!(matches!(
        from_entry(forged, &salt),
        Err(ReceiptError::DifferentVisit { .. })
    ));
    assert!(matches!(
        from_entry(personal.clone(), &[0u8; 16]),
        Err(ReceiptError::DifferentVisit { .. })
    ));

    // Sealed, the file shows everything; the code confirms the visit and nothing personal.
    let sealed = seal_visit(PDF, &facts, &seed.key).unwrap();
    match by_file(s, &sealed).await.unwrap() {
        Verdict::ValidVisit { facts: found } => assert_eq!(*found, facts),
        other => panic!("{other:?}"),
    }
    match by_code(s, &facts.code, at(9, 0)).await.unwrap() {
        Verdict::VisitOnRecord(found) => {
            assert_eq!(found.visit, visit.id);
            assert_eq!(found.seq, entry.seq);
            assert_eq!(
                found.signed.as_deref(),
                Some(format!("{} version {}", v2.policy_title, v2.number).as_str())
            );
            assert!(!format!("{found:?}").contains("Vera"));
        }
        other => panic!("{other:?}"),
    }
    let mut changed = sealed.clone();
    changed[10] ^= 0x01;
    assert!(matches!(
        by_file(s, &changed).await.unwrap(),
        Verdict::Invalid { .. }
    ));

    // The purge takes the details, and the receipt email with them.
    s.sign_out_visitor(
        seed.school.id,
        visit.id,
        SignOutBy::Kiosk { kiosk: kiosk.id },
        at(30, 0),
    )
    .await
    .unwrap();
    let now = at(60 * 24 * 100, 0);
    s.purge_visitor_data(seed.school.id, now - Duration::days(90), now)
        .await
        .unwrap();
    assert_eq!(
        s.visit_personal(seed.school.id, visit.id).await.unwrap(),
        None
    );
    let left = s
        .outbox_page(&seed.people_admin(), 0, 100)
        .await
        .unwrap()
        .mails;
    assert!(
        left.iter()
            .all(|m| m.to_email.as_str() != "vera@acme.example"),
        "{left:?}"
    );
    // A receipt already issued still checks against the entry, which the purge keeps.
    assert!(matches!(
        by_file(s, &sealed).await.unwrap(),
        Verdict::ValidVisit { .. }
    ));
    verify(s, &seed).await;
}
