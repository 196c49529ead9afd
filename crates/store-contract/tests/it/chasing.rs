//! Chasing: each school's reminder schedule and holidays, and the facts the plan is made
//! from.

use chrono::{DateTime, Datelike, Duration, TimeDelta, TimeZone, Utc, Weekday};
use undersign_core::chasing::{ChaseSettings, Holiday, parse_holidays};
use undersign_core::outbox::MailState;
use undersign_core::person::PersonStatus;
use undersign_core::store::Store;
use undersign_core::time;
use undersign_core::use_cases::{chase_all, chase_school};
use undersign_test_kit::{TestDb, db_test, seed_school, signature_input};

use crate::helpers::unchanged;

#[db_test]
async fn the_schedule_is_the_default_until_set_and_kept_per_school(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "chase-a").await;
    let b = seed_school(s, "chase-b").await;
    assert_eq!(
        s.chase_settings(a.school.id).await.unwrap(),
        ChaseSettings::DEFAULT
    );
    let admin = a.actor(&a.admin).people_admin().unwrap();
    let weekly = ChaseSettings::new(5, 7, 12, 30).unwrap();
    s.set_chase_settings(&admin, weekly, time::now())
        .await
        .unwrap();
    assert_eq!(s.chase_settings(a.school.id).await.unwrap(), weekly);
    assert_eq!(
        s.chase_settings(b.school.id).await.unwrap(),
        ChaseSettings::DEFAULT
    );
    // Set again (by the operator this time): replaced, not added.
    let daily = ChaseSettings::new(1, 1, 2, 3).unwrap();
    s.set_chase_settings(&a.people_admin(), daily, time::now())
        .await
        .unwrap();
    assert_eq!(s.chase_settings(a.school.id).await.unwrap(), daily);
}

#[db_test]
async fn the_database_refuses_a_schedule_out_of_range_or_out_of_order(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "chase-check").await;
    let id = seed.school.id.0;
    let insert = |first: i64, manager: i64, head: i64| {
        format!(
            "INSERT INTO chase_settings (school_id, first_reminder_days, reminder_every_days,
                escalate_to_manager_days, escalate_to_head_days, updated_at)
             VALUES ({id}, {first}, 7, {manager}, {head}, '2026-11-23T09:00:00.000000Z')"
        )
    };
    let err = db.try_exec(&insert(3, 10, 10)).await.unwrap_err();
    assert!(
        err.contains("chase_settings_head_after_manager_check") || err.contains("CHECK"),
        "{err}"
    );
    assert!(db.try_exec(&insert(0, 10, 20)).await.is_err());
    assert!(db.try_exec(&insert(3, 10, 366)).await.is_err());
    db.exec(&insert(3, 10, 11)).await;
    assert_eq!(
        s.chase_settings(seed.school.id).await.unwrap(),
        ChaseSettings::new(3, 7, 10, 11).unwrap()
    );
}

fn list(text: &str) -> Vec<Holiday> {
    parse_holidays(text).unwrap()
}

#[db_test]
async fn holidays_are_replaced_whole_and_read_in_date_order(db: TestDb) {
    let s = &*db.store;
    let a = seed_school(s, "holidays-a").await;
    let b = seed_school(s, "holidays-b").await;
    assert!(s.holidays(a.school.id).await.unwrap().is_empty());
    let admin = a.actor(&a.head).people_admin().unwrap();
    let year = list(
        "2027-02-15,2027-02-19,February half term\n\
         2026-12-21,2027-01-01,\"Christmas, and New Year\"\n\
         2026-11-20,,INSET day\n",
    );
    s.replace_holidays(&admin, &year, time::now())
        .await
        .unwrap();
    let got = s.holidays(a.school.id).await.unwrap();
    let names: Vec<&str> = got.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["INSET day", "Christmas, and New Year", "February half term"]
    );
    assert_eq!(got[1].first_day.to_string(), "2026-12-21");
    assert_eq!(got[1].last_day.to_string(), "2027-01-01");
    assert_eq!(got[0].first_day, got[0].last_day);
    assert!(s.holidays(b.school.id).await.unwrap().is_empty());

    s.replace_holidays(&admin, &year[..1], time::now())
        .await
        .unwrap();
    assert_eq!(s.holidays(a.school.id).await.unwrap(), year[..1].to_vec());
    s.replace_holidays(&admin, &[], time::now()).await.unwrap();
    assert!(s.holidays(a.school.id).await.unwrap().is_empty());
}

#[db_test]
async fn two_lists_saved_at_once_leave_one_of_them_whole(db: TestDb) {
    let s = db.store.clone();
    let seed = seed_school(&*s, "holidays-race").await;
    let admin = seed.people_admin();
    let first = list("2026-10-26,2026-10-30,Half term\n2026-12-21,2027-01-01,Christmas\n");
    let second = list(
        "2027-02-15,2027-02-19,February\n2027-04-05,2027-04-16,Easter\n2027-05-31,2027-06-04,May\n",
    );
    for _ in 0..5 {
        let (x, y) = (s.clone(), s.clone());
        let (f, g) = (first.clone(), second.clone());
        let (a1, a2) = (admin.clone(), admin.clone());
        let (one, two) = tokio::join!(
            tokio::spawn(async move { x.replace_holidays(&a1, &f, time::now()).await }),
            tokio::spawn(async move { y.replace_holidays(&a2, &g, time::now()).await }),
        );
        one.unwrap().unwrap();
        two.unwrap().unwrap();
        let got = s.holidays(seed.school.id).await.unwrap();
        assert!(got == first || got == second, "a mix: {got:?}");
    }
}

#[db_test]
async fn the_chase_facts_name_line_managers_of_active_people_only(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "chase-facts").await;
    let other = seed_school(s, "chase-facts-other").await;
    let facts = s.chase_facts(seed.school.id).await.unwrap();
    assert_eq!(facts.school.school, seed.school.id);
    assert_eq!(facts.school.name, "School chase-facts");
    assert_eq!(
        facts.line_managers,
        [(seed.staff.id, seed.head.id)].into(),
        "Sam Staff reports to the headteacher; nobody else has a line manager"
    );
    assert_eq!(facts.school.policies.len(), 1);
    assert_eq!(facts.school.people.len(), 5);
    // Sam leaves: no longer among the people, nor among those line-managed.
    let admin = seed.people_admin();
    let mut left = unchanged(&seed.staff);
    left.status = PersonStatus::Left;
    s.update_person(&admin, seed.staff.id, left).await.unwrap();
    let facts = s.chase_facts(seed.school.id).await.unwrap();
    assert!(facts.line_managers.is_empty());
    assert!(facts.school.people.iter().all(|p| p.id != seed.staff.id));
    // The other school's facts are its own.
    let theirs = s.chase_facts(other.school.id).await.unwrap();
    assert!(
        theirs
            .school
            .people
            .iter()
            .all(|p| p.email.ends_with("chase-facts-other.sch.uk"))
    );
}

/// 09:00 school time on the first Monday at least `days` days after the seed's AUP was
/// published (the schedule counts from that day).
fn monday_after(seed: &undersign_test_kit::Seed, days: i64) -> DateTime<Utc> {
    let london = time::TimeZone::parse("Europe/London").unwrap().tz();
    let published = seed.aup.published_at.unwrap();
    let mut day = published.with_timezone(&london).date_naive() + Duration::days(days);
    while day.weekday() != Weekday::Mon {
        day = day.succ_opt().unwrap();
    }
    london
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn base_url() -> url::Url {
    url::Url::parse("https://aup.example.sch.uk/").unwrap()
}

async fn keys(s: &dyn Store, seed: &undersign_test_kit::Seed) -> Vec<(String, MailState)> {
    let page = s.outbox_page(&seed.people_admin(), 0, 500).await.unwrap();
    let mut out: Vec<(String, MailState)> = page
        .mails
        .into_iter()
        .map(|m| (format!("{} {}", m.to_email, m.subject), m.state))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[db_test]
async fn chasing_twice_queues_nothing_new_and_a_signature_cancels_the_reminder(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "chase-run").await;
    let other = seed_school(s, "chase-run-other").await;
    // Three weeks on: a reminder each (nobody has signed), the headteacher's digest as
    // Sam's line manager and as headteacher.
    let now = monday_after(&seed, 21);
    let first = chase_school(s, seed.school.id, now, &base_url())
        .await
        .unwrap();
    assert_eq!(first.planned, 7, "5 reminders and 2 digests");
    assert_eq!(first.queued, 7);
    assert_eq!(first.bad_addresses, 0);
    let again = chase_school(s, seed.school.id, now + Duration::minutes(10), &base_url())
        .await
        .unwrap();
    assert_eq!((again.planned, again.queued), (7, 0));
    // The other school's outbox is untouched.
    assert_eq!(
        s.outbox_page(&other.people_admin(), 0, 10)
            .await
            .unwrap()
            .total,
        0
    );

    // Sam signs (the version the reminder links to) before it is sent: it is cancelled,
    // and his receipt is queued instead.
    let signed = s
        .record_signature(signature_input(&seed.staff, &seed.aup), now)
        .await
        .unwrap();
    let (receipts, claimed): (Vec<_>, Vec<_>) = s
        .claim_mail(
            "test",
            now + Duration::minutes(11),
            TimeDelta::minutes(5),
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .partition(|m| m.dedupe_key.starts_with("receipt:"));
    let receipt_keys: Vec<&str> = receipts.iter().map(|m| m.dedupe_key.as_str()).collect();
    assert_eq!(receipt_keys, [format!("receipt:{}", signed.signature().id)]);
    let to: Vec<String> = claimed.iter().map(|m| m.to_email.to_string()).collect();
    assert_eq!(claimed.len(), 6, "{to:?}");
    assert!(
        !claimed
            .iter()
            .any(|m| m.dedupe_key.contains(&format!(":p{}:", seed.staff.id)))
    );
    for m in &claimed {
        assert!(
            s.mark_mail_sent(m.id, "test", now + Duration::minutes(12))
                .await
                .unwrap()
        );
    }
    let states = keys(s, &seed).await;
    let sam: Vec<&(String, MailState)> = states
        .iter()
        .filter(|(k, _)| k.starts_with("staff@") && !k.contains("Your receipt"))
        .collect();
    assert_eq!(sam.len(), 1);
    assert_eq!(sam[0].1, MailState::Cancelled);
    // Next week, nothing more for Sam, and the headteacher's digest no longer names him.
    let later = monday_after(&seed, 28);
    chase_school(s, seed.school.id, later, &base_url())
        .await
        .unwrap();
    let claimed = s
        .claim_mail(
            "test",
            later + Duration::minutes(1),
            TimeDelta::minutes(5),
            100,
        )
        .await
        .unwrap()
        .into_iter()
        // Sam's receipt, claimed above and never marked sent, is due again.
        .filter(|m| !m.dedupe_key.starts_with("receipt:"))
        .collect::<Vec<_>>();
    // Adam, Gary, Helen and Tina's reminders and the headteacher's digest; no digest
    // to Sam's line manager, whose only report has signed.
    assert_eq!(claimed.len(), 5);
    for m in &claimed {
        assert_ne!(m.to_email, seed.staff.email, "{}", m.dedupe_key);
        assert!(!m.text_body.contains("Sam Staff"), "{}", m.text_body);
    }
}

#[db_test]
async fn nothing_is_sent_in_a_holiday_or_at_a_weekend(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "chase-holiday").await;
    let monday = monday_after(&seed, 21);
    let day = monday
        .with_timezone(&time::TimeZone::parse("Europe/London").unwrap().tz())
        .date_naive();
    let week = parse_holidays(&format!("{},{},Half term\n", day, day + Duration::days(4))).unwrap();
    s.replace_holidays(&seed.people_admin(), &week, monday)
        .await
        .unwrap();
    for d in 0..7 {
        let r = chase_school(s, seed.school.id, monday + Duration::days(d), &base_url())
            .await
            .unwrap();
        assert_eq!((r.planned, r.queued), (0, 0), "day {d}");
    }
    let back = chase_school(s, seed.school.id, monday + Duration::days(7), &base_url())
        .await
        .unwrap();
    assert_eq!(back.queued, 7);
}

#[db_test]
async fn a_leaver_is_not_chased_and_their_team_is_reported_to_no_one(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "chase-leaver").await;
    let admin = seed.people_admin();
    let mut left = unchanged(&seed.teacher);
    left.status = PersonStatus::Left;
    s.update_person(&admin, seed.teacher.id, left)
        .await
        .unwrap();
    let r = chase_all(s, monday_after(&seed, 21), &base_url())
        .await
        .unwrap();
    assert!(r.failed.is_empty());
    assert_eq!(r.total.queued, 6, "4 reminders and 2 digests");
    let states = keys(s, &seed).await;
    assert!(
        states.iter().all(|(k, _)| !k.starts_with("teacher@")),
        "{states:?}"
    );
}
