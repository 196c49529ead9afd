//! The email outbox (queued once per dedupe key, claimed with a lease, retried, cancelled
//! once its person signs) and sign-in links (used once, in time, creating a session).

use chrono::TimeDelta;
use std::collections::BTreeSet;
use std::sync::Arc;
use undersign_core::login_link::{LinkState, NewLinkSession, NewLoginLink};
use undersign_core::outbox::{Attachment, MailState, NewMail, OutgoingMail};
use undersign_core::person::{Email, Person};
use undersign_core::policy::sha256_hex;
use undersign_core::store::LinkUse;
use undersign_core::store::Store;
use undersign_test_kit::{Seed, TestDb, db_test, seed_school, signature_input};

use crate::helpers::at;

const LEASE: TimeDelta = TimeDelta::minutes(5);

fn mail(seed: &Seed, to: &Person, key: &str) -> NewMail {
    NewMail {
        school: seed.school.id,
        dedupe_key: key.to_string(),
        to_email: to.email.clone(),
        to_name: to.full_name.to_string(),
        subject: format!("About {key}"),
        text_body: format!("Dear {},\n\nThis is {key}.\n", to.full_name),
        attachments: Vec::new(),
        not_before: at(0, 0),
        unless_signed: None,
        deferred: None,
    }
}

async fn claim(s: &dyn Store, worker: &str, minutes: i64, limit: u32) -> Vec<OutgoingMail> {
    s.claim_mail(worker, at(minutes, 0), LEASE, limit)
        .await
        .unwrap()
}

fn keys(claimed: &[OutgoingMail]) -> Vec<String> {
    claimed.iter().map(|m| m.dedupe_key.clone()).collect()
}

#[db_test]
async fn a_dedupe_key_queues_a_message_once_per_school(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    let other = seed_school(s, "elsewhere").await;
    assert!(
        s.enqueue_mail(mail(&seed, &seed.staff, "invite:v1:p1"), at(0, 0))
            .await
            .unwrap()
    );
    let mut again = mail(&seed, &seed.staff, "invite:v1:p1");
    again.subject = "A different subject".into();
    assert!(!s.enqueue_mail(again, at(1, 0)).await.unwrap());
    // The same key in another school is another message.
    assert!(
        s.enqueue_mail(mail(&other, &other.staff, "invite:v1:p1"), at(0, 0))
            .await
            .unwrap()
    );
    // A batch counts only what is new, and is all-or-nothing.
    let batch = vec![
        mail(&seed, &seed.staff, "invite:v1:p1"),
        mail(&seed, &seed.teacher, "invite:v1:p2"),
        mail(&seed, &seed.governor, "invite:v1:p3"),
    ];
    assert_eq!(s.enqueue_mails(batch, at(2, 0)).await.unwrap(), 2);
    let mut bad = mail(&seed, &seed.head, "invite:v1:p4");
    bad.subject = "line\r\nBcc: x@example.com".into();
    let refused = s
        .enqueue_mails(
            vec![mail(&seed, &seed.admin, "invite:v1:p5"), bad],
            at(2, 0),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("invite:v1:p4"), "{refused}");

    let page = s.outbox_page(&seed.people_admin(), 0, 50).await.unwrap();
    assert_eq!(page.total, 3, "p5 was rolled back with the bad message");
    let claimed = claim(s, "w1", 3, 50).await;
    assert_eq!(claimed.len(), 4, "three here and one in the other school");
    let first = claimed
        .iter()
        .find(|m| m.school == seed.school.id && m.dedupe_key == "invite:v1:p1")
        .unwrap();
    assert_eq!(
        first.subject, "About invite:v1:p1",
        "the first enqueue wins"
    );
    assert_eq!(first.school_name, seed.school.name);
}

#[db_test]
async fn a_message_is_not_claimed_before_its_time(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    let mut later = mail(&seed, &seed.staff, "remind:v1:p1:1");
    later.not_before = at(60, 0);
    s.enqueue_mail(later, at(0, 0)).await.unwrap();
    s.enqueue_mail(mail(&seed, &seed.teacher, "now"), at(0, 0))
        .await
        .unwrap();
    assert_eq!(s.next_mail_due().await.unwrap(), Some(at(0, 0)));
    let now = claim(s, "w1", 0, 10).await;
    assert_eq!(keys(&now), ["now"]);
    assert!(s.mark_mail_sent(now[0].id, "w1", at(0, 1)).await.unwrap());
    assert!(claim(s, "w1", 59, 10).await.is_empty());
    let due = claim(s, "w1", 60, 10).await;
    assert_eq!(keys(&due), ["remind:v1:p1:1"]);
    assert_eq!(due[0].due_since, at(60, 0));
    assert_eq!(due[0].attempts, 1);
}

#[db_test]
async fn two_claimers_never_get_the_same_message(db: TestDb) {
    let seed = seed_school(&*db.store, "outbox").await;
    let mails: Vec<NewMail> = (0..60)
        .map(|i| mail(&seed, &seed.staff, &format!("bulk:{i}")))
        .collect();
    db.store.enqueue_mails(mails, at(0, 0)).await.unwrap();
    let claimer = |store: Arc<dyn Store>, worker: &'static str| async move {
        let mut got = Vec::new();
        loop {
            let batch = store.claim_mail(worker, at(1, 0), LEASE, 3).await.unwrap();
            if batch.is_empty() {
                return got;
            }
            got.extend(batch.into_iter().map(|m| m.id));
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(claimer(db.store.clone(), "server-a")),
        tokio::spawn(claimer(db.store.clone(), "server-b")),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let all: BTreeSet<_> = a.iter().chain(&b).copied().collect();
    assert_eq!(a.len() + b.len(), 60, "every message claimed exactly once");
    assert_eq!(all.len(), 60);
    // Under their leases, nobody can claim them again.
    assert!(claim(&*db.store, "server-c", 5, 100).await.is_empty());
}

#[db_test]
async fn an_expired_lease_is_claimed_again_and_only_its_holder_records(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    s.enqueue_mail(mail(&seed, &seed.staff, "invite:v1:p1"), at(0, 0))
        .await
        .unwrap();
    let first = claim(s, "dead-server", 0, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].claimed_until, at(5, 0));
    assert!(claim(s, "live-server", 4, 1).await.is_empty(), "lease held");
    assert_eq!(s.next_mail_due().await.unwrap(), Some(at(5, 0)));
    let second = claim(s, "live-server", 5, 1).await;
    assert_eq!(second.len(), 1, "the lease ran out");
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempts, 2);
    // The first holder wakes up: it no longer holds the message.
    assert!(
        !s.mark_mail_sent(first[0].id, "dead-server", at(6, 0))
            .await
            .unwrap()
    );
    assert!(
        !s.retry_mail_later(first[0].id, "dead-server", "late", at(9, 0))
            .await
            .unwrap()
    );
    assert!(
        s.mark_mail_sent(second[0].id, "live-server", at(6, 0))
            .await
            .unwrap()
    );
    // Sent is final.
    assert!(
        !s.mark_mail_sent(second[0].id, "live-server", at(7, 0))
            .await
            .unwrap()
    );
    assert!(claim(s, "live-server", 60, 1).await.is_empty());
    assert_eq!(s.next_mail_due().await.unwrap(), None);
    let page = s.outbox_page(&seed.people_admin(), 0, 10).await.unwrap();
    assert_eq!(page.mails[0].state, MailState::Sent);
    assert_eq!(page.mails[0].finished_at, Some(at(6, 0)));
    assert_eq!(page.mails[0].attempts, 2);
}

#[db_test]
async fn a_failed_attempt_is_retried_at_its_time_then_given_up(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    s.enqueue_mail(mail(&seed, &seed.staff, "invite:v1:p1"), at(0, 0))
        .await
        .unwrap();
    let m = claim(s, "w1", 0, 1).await.remove(0);
    assert!(
        s.retry_mail_later(m.id, "w1", "Connection refused (os error 111)", at(1, 0))
            .await
            .unwrap()
    );
    // Retried, not before its time, and the error is kept for the outbox page.
    let page = s.outbox_page(&seed.people_admin(), 0, 10).await.unwrap();
    let listed = &page.mails[0];
    assert_eq!(listed.state, MailState::Queued);
    assert_eq!(listed.attempts, 1);
    assert_eq!(
        listed.last_error.as_deref(),
        Some("Connection refused (os error 111)")
    );
    assert_eq!(listed.next_attempt_at, at(1, 0));
    assert!(claim(s, "w2", 0, 1).await.is_empty());
    let again = claim(s, "w2", 1, 1).await.remove(0);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.due_since, at(0, 0), "due since its not_before");
    assert!(
        s.give_up_mail(again.id, "w2", "550 5.1.1 no such user", at(2, 0))
            .await
            .unwrap()
    );
    assert!(claim(s, "w2", 600, 1).await.is_empty(), "given up for good");
    let page = s.outbox_page(&seed.people_admin(), 0, 10).await.unwrap();
    assert_eq!(page.mails[0].state, MailState::Failed);
    assert_eq!(page.mails[0].finished_at, Some(at(2, 0)));
    assert_eq!(
        page.mails[0].last_error.as_deref(),
        Some("550 5.1.1 no such user")
    );
}

#[db_test]
async fn a_reminder_is_cancelled_once_its_person_signs_that_version(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    let mut staff_reminder = mail(&seed, &seed.staff, "remind:staff");
    staff_reminder.unless_signed = Some((seed.staff.id, seed.aup.id));
    let mut teacher_reminder = mail(&seed, &seed.teacher, "remind:teacher");
    teacher_reminder.unless_signed = Some((seed.teacher.id, seed.aup.id));
    s.enqueue_mails(vec![staff_reminder, teacher_reminder], at(0, 0))
        .await
        .unwrap();
    let signed = s
        .record_signature(signature_input(&seed.staff, &seed.aup), at(0, 30))
        .await
        .unwrap();
    // Only the teacher, who has not signed, is reminded; the staff member gets a receipt.
    let receipt = format!("receipt:{}", signed.signature().id);
    assert_eq!(
        keys(&claim(s, "w1", 1, 10).await),
        ["remind:teacher".to_string(), receipt]
    );
    let page = s.outbox_page(&seed.people_admin(), 0, 10).await.unwrap();
    let staff = page
        .mails
        .iter()
        .find(|m| {
            m.to_email == seed.staff.email
                && m.subject != "Your receipt: ICT Acceptable Use Policy version 1"
        })
        .unwrap();
    assert_eq!(staff.state, MailState::Cancelled);
    assert_eq!(staff.attempts, 0);
    // A reminder naming a person of another school is refused.
    let other = seed_school(s, "elsewhere").await;
    let mut foreign = mail(&seed, &seed.staff, "remind:foreign");
    foreign.unless_signed = Some((other.staff.id, seed.aup.id));
    assert!(s.enqueue_mail(foreign, at(0, 0)).await.is_err());
}

#[db_test]
async fn a_reminder_is_cancelled_when_its_person_signs_a_later_version(db: TestDb) {
    use undersign_core::person::Audience;
    use undersign_core::policy::ChangeKind;
    let s = &*db.store;
    let seed = seed_school(s, "outbox-later").await;
    // Queued for version 1; a minor version 2 is published before it goes out, and the
    // person signs version 2.
    let mut reminder = mail(&seed, &seed.staff, "remind:v1");
    reminder.unless_signed = Some((seed.staff.id, seed.aup.id));
    let mut teacher = mail(&seed, &seed.teacher, "remind:v1:teacher");
    teacher.unless_signed = Some((seed.teacher.id, seed.aup.id));
    s.enqueue_mails(vec![reminder, teacher], at(0, 0))
        .await
        .unwrap();
    let v2 = crate::helpers::publish_version(
        s,
        &seed,
        "# AUP\n\n- I will not share passwords, ever.\n",
        ChangeKind::Minor,
        &[Audience::Staff, Audience::Governors],
    )
    .await;
    let signed = s
        .record_signature(signature_input(&seed.staff, &v2), at(0, 30))
        .await
        .unwrap();
    assert_eq!(
        keys(&claim(s, "w1", 1, 10).await),
        [
            "remind:v1:teacher".to_string(),
            format!("receipt:{}", signed.signature().id)
        ]
    );
}

#[db_test]
async fn attachments_round_trip_byte_for_byte(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut m = mail(&seed, &seed.staff, "receipt:s1");
    m.text_body = "Your receipt is attached. Ünïcödé stays as it is: “quotes” — dashes.\n".into();
    m.attachments = vec![
        Attachment {
            filename: "receipt-1.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf.clone(),
        },
        Attachment {
            filename: "empty.txt".into(),
            content_type: "text/plain".into(),
            bytes: Vec::new(),
        },
    ];
    s.enqueue_mail(m.clone(), at(0, 0)).await.unwrap();
    let got = claim(s, "w1", 0, 1).await.remove(0);
    assert_eq!(got.attachments, m.attachments);
    assert_eq!(got.text_body, m.text_body);
    assert_eq!(got.to_email, seed.staff.email);
    assert_eq!(got.to_name, "Sam Staff");
}

#[db_test]
async fn the_outbox_page_is_newest_first_in_pages_and_only_the_schools_own(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    let other = seed_school(s, "elsewhere").await;
    for i in 0..5 {
        s.enqueue_mail(mail(&seed, &seed.staff, &format!("m{i}")), at(i, 0))
            .await
            .unwrap();
    }
    s.enqueue_mail(mail(&other, &other.staff, "theirs"), at(9, 0))
        .await
        .unwrap();
    let admin = seed.people_admin();
    let first = s.outbox_page(&admin, 0, 2).await.unwrap();
    assert_eq!(first.total, 5);
    let subjects = |p: &undersign_core::outbox::OutboxPage| {
        p.mails
            .iter()
            .map(|m| m.subject.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(subjects(&first), ["About m4", "About m3"]);
    let last = s.outbox_page(&admin, 4, 2).await.unwrap();
    assert_eq!(subjects(&last), ["About m0"]);
}

fn link(seed: &Seed, person: &Person, token: &str, minutes: i64) -> NewLoginLink {
    NewLoginLink {
        purpose: undersign_core::login_link::LinkPurpose::SignIn,
        school: seed.school.id,
        person: person.id,
        token_sha256: sha256_hex(token.as_bytes()),
        created_at: at(minutes, 0),
        expires_at: at(minutes + 15, 0),
    }
}

fn link_session(n: u32) -> NewLinkSession {
    NewLinkSession {
        token_sha256: sha256_hex(format!("session-{n}").as_bytes()),
        csrf_token: format!("csrf-{n}"),
        expires_at: at(12 * 60, 0),
    }
}

#[db_test]
async fn a_sign_in_link_is_mailed_once_and_signs_in_once(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    let id = s
        .issue_login_link(
            link(&seed, &seed.governor, "token-1", 0),
            mail(&seed, &seed.governor, "placeholder"),
        )
        .await
        .unwrap();
    let queued = claim(s, "w1", 0, 10).await;
    assert_eq!(keys(&queued), [format!("login:{id}")]);
    let hash = sha256_hex(b"token-1");
    assert!(matches!(
        s.login_link_state(&hash, at(14, 0)).await.unwrap(),
        LinkState::Valid { person, .. } if person == seed.governor.id
    ));
    // Looking does not use it; using it starts a session of that person.
    let LinkUse::SignedIn(session) = s
        .use_login_link(&hash, link_session(1), at(14, 0))
        .await
        .unwrap()
    else {
        panic!("the link should sign in");
    };
    assert_eq!(session.person, seed.governor.id);
    assert_eq!(session.auth_method, "email_link");
    let live = s
        .session(&session.token_sha256, at(15, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live, session);
    // Never twice, and never by the token itself.
    assert_eq!(
        s.use_login_link(&hash, link_session(2), at(14, 30))
            .await
            .unwrap(),
        LinkUse::Refused(LinkState::Used)
    );
    assert_eq!(
        s.login_link_state("token-1", at(1, 0)).await.unwrap(),
        LinkState::Unknown
    );
    assert_eq!(
        s.session(&link_session(2).token_sha256, at(15, 0))
            .await
            .unwrap(),
        None
    );
}

#[db_test]
async fn an_expired_or_unknown_link_or_a_leavers_link_is_refused(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "outbox").await;
    s.issue_login_link(
        link(&seed, &seed.governor, "late", 0),
        mail(&seed, &seed.governor, "x"),
    )
    .await
    .unwrap();
    let late = sha256_hex(b"late");
    assert_eq!(
        s.use_login_link(&late, link_session(1), at(15, 0))
            .await
            .unwrap(),
        LinkUse::Refused(LinkState::Expired)
    );
    assert_eq!(
        s.use_login_link(&sha256_hex(b"never"), link_session(2), at(1, 0))
            .await
            .unwrap(),
        LinkUse::Refused(LinkState::Unknown)
    );
    s.issue_login_link(
        link(&seed, &seed.staff, "leaver", 0),
        mail(&seed, &seed.staff, "x"),
    )
    .await
    .unwrap();
    let mut leaving = crate::helpers::unchanged(&seed.staff);
    leaving.status = undersign_core::person::PersonStatus::Left;
    s.update_person(&seed.people_admin(), seed.staff.id, leaving)
        .await
        .unwrap();
    assert_eq!(
        s.use_login_link(&sha256_hex(b"leaver"), link_session(3), at(1, 0))
            .await
            .unwrap(),
        LinkUse::Refused(LinkState::Unknown)
    );
}

#[db_test]
async fn two_uses_of_one_link_at_once_sign_in_once(db: TestDb) {
    let seed = seed_school(&*db.store, "outbox").await;
    db.store
        .issue_login_link(
            link(&seed, &seed.governor, "race", 0),
            mail(&seed, &seed.governor, "x"),
        )
        .await
        .unwrap();
    let hash = sha256_hex(b"race");
    let uses: Vec<_> = (0..8)
        .map(|n| {
            let store = db.store.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                store
                    .use_login_link(&hash, link_session(n), at(1, 0))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut signed_in = 0;
    for u in uses {
        match u.await.unwrap() {
            LinkUse::SignedIn(_) => signed_in += 1,
            LinkUse::Refused(state) => assert_eq!(state, LinkState::Used),
        }
    }
    assert_eq!(signed_in, 1);
}

#[db_test]
async fn links_go_to_active_people_with_the_email_in_every_school(db: TestDb) {
    let s = &*db.store;
    let one = seed_school(s, "one").await;
    let two = seed_school(s, "two").await;
    let shared = Email::parse("shared.governor@example.org").unwrap();
    for seed in [&one, &two] {
        let mut update = crate::helpers::unchanged(&seed.governor);
        update.email = shared.clone();
        s.update_person(&seed.people_admin(), seed.governor.id, update)
            .await
            .unwrap();
    }
    let accounts = s.link_accounts(&shared).await.unwrap();
    let schools: Vec<_> = accounts.iter().map(|a| a.school_name.as_str()).collect();
    assert_eq!(schools, ["School one", "School two"]);
    assert!(accounts.iter().all(|a| a.person.email == shared));
    // No password is needed for a link, but a leaver gets none.
    let mut leaving = crate::helpers::unchanged(&two.governor);
    leaving.email = shared.clone();
    leaving.status = undersign_core::person::PersonStatus::Left;
    s.update_person(&two.people_admin(), two.governor.id, leaving)
        .await
        .unwrap();
    assert_eq!(s.link_accounts(&shared).await.unwrap().len(), 1);
    assert!(
        s.link_accounts(&Email::parse("nobody@example.org").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}
