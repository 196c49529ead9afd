#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::compliance::{DaysToSign, PolicyFacts, SignedFacts, VersionFacts};
use crate::ids::SchoolId;
use crate::person::Audience;
use crate::policy::ChangeKind;
use chrono::{Duration, NaiveTime, TimeZone, Weekday};

const LONDON: Tz = chrono_tz::Europe::London;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// `HH:MM` school time on a date.
fn local(day: &str, hm: &str) -> DateTime<Utc> {
    let t = NaiveTime::parse_from_str(hm, "%H:%M").unwrap();
    LONDON
        .from_local_datetime(&date(day).and_time(t))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn url() -> url::Url {
    url::Url::parse("https://aup.example.sch.uk/").unwrap()
}

fn person(id: i64, name: &str, roles: &[Role], joined: DateTime<Utc>) -> PersonFacts {
    PersonFacts {
        id: PersonId(id),
        full_name: name.into(),
        email: format!(
            "{}@example.sch.uk",
            name.split(' ').next().unwrap().to_lowercase()
        ),
        roles: roles.iter().copied().collect(),
        joined_at: joined,
    }
}

fn version(id: i64, number: i32, kind: ChangeKind, at: DateTime<Utc>) -> VersionFacts {
    VersionFacts {
        id: VersionId(id),
        number,
        change_kind: kind,
        audiences: [Audience::Staff, Audience::Governors].into(),
        published_at: at,
    }
}

const ANN: PersonId = PersonId(1);
const BOB: PersonId = PersonId(2);
const CAT: PersonId = PersonId(3);
const DAN: PersonId = PersonId(4);
const MEG: PersonId = PersonId(5);
const HAL: PersonId = PersonId(6);
const JO: PersonId = PersonId(7);
const LEFT: PersonId = PersonId(9);

/// St Anne's: the AUP's version 1 published at `published`; Ann and Jo (a joiner on
/// 20 November) report to Meg, Cat reports to a leaver, Bob signed, Dan declined, Hal is
/// the headteacher.
fn facts(published: DateTime<Utc>) -> ChaseFacts {
    let long_ago = Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap();
    ChaseFacts {
        school: SchoolFacts {
            school: SchoolId(1),
            name: "St Anne's Primary".into(),
            slug: "st-annes".into(),
            timezone: LONDON.into(),
            days_to_sign: DaysToSign::parse("14").unwrap(),
            policies: vec![PolicyFacts {
                id: PolicyId(1),
                title: "Acceptable Use Policy".into(),
                versions: vec![version(10, 1, ChangeKind::Major, published)],
            }],
            people: vec![
                person(1, "Ann Able", &[Role::Staff], long_ago),
                person(2, "Bob Brown", &[Role::Staff], long_ago),
                person(3, "Cat Cole", &[Role::Governor], long_ago),
                person(4, "Dan Dale", &[Role::Staff], long_ago),
                person(
                    5,
                    "Meg Mann",
                    &[Role::Staff, Role::LeadershipTeam],
                    long_ago,
                ),
                person(6, "Hal Head", &[Role::Headteacher], long_ago),
                person(7, "Jo Joiner", &[Role::Staff], local("2026-11-20", "00:00")),
            ],
            signed: vec![SignedFacts {
                person: BOB,
                policy: PolicyId(1),
                last_number: 1,
                valid_since: Some(published + Duration::hours(1)),
            }],
            declined: vec![(DAN, VersionId(10))],
        },
        line_managers: [(ANN, MEG), (JO, MEG), (CAT, LEFT)].into(),
    }
}

fn christmas() -> Vec<Holiday> {
    parse_holidays("2026-12-21,2027-01-01,Christmas holidays\n").unwrap()
}

fn calendar(holidays: Vec<Holiday>) -> SchoolCalendar {
    SchoolCalendar::new(LONDON, holidays)
}

/// Runs the plan at 07:00, 09:00, 13:00 and 20:00 school time every day from `from` for
/// `days` days, as the server's job would, and gives the school date on which each
/// dedupe key was first planned (the outbox keeps only the first).
fn simulate(
    facts: &ChaseFacts,
    settings: &ChaseSettings,
    cal: &SchoolCalendar,
    from: &str,
    days: i64,
) -> BTreeMap<String, (NaiveDate, PlannedMail)> {
    let mut sent: BTreeMap<String, (NaiveDate, PlannedMail)> = BTreeMap::new();
    for d in 0..days {
        let day = date(from) + Duration::days(d);
        for hm in ["07:00", "09:00", "13:00", "20:00"] {
            let now = local(&day.to_string(), hm);
            for mail in plan(facts, settings, cal, now, &url()) {
                sent.entry(mail.dedupe_key.clone()).or_insert((day, mail));
            }
        }
    }
    sent
}

fn days_of(sent: &BTreeMap<String, (NaiveDate, PlannedMail)>, prefix: &str) -> Vec<String> {
    sent.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, (d, _))| format!("{k} {d}"))
        .collect()
}

#[test]
fn settings_are_checked_and_each_error_names_its_field() {
    assert_eq!(
        ChaseSettings::parse("3", "7", "10", "20").unwrap(),
        ChaseSettings::DEFAULT
    );
    let errors = ChaseSettings::parse("0", "seven", "", "400").unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field()).collect();
    assert_eq!(
        fields,
        vec![
            ChaseSettings::FIRST_REMINDER,
            ChaseSettings::REMINDER_EVERY,
            ChaseSettings::TO_MANAGER,
            ChaseSettings::TO_HEAD
        ]
    );
    assert!(
        errors[0].to_string().contains("from 1 to 365"),
        "{}",
        errors[0]
    );
    let errors = ChaseSettings::new(3, 7, 10, 10).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field(), ChaseSettings::TO_HEAD);
    assert!(
        errors[0].to_string().contains("more than 10 days"),
        "{}",
        errors[0]
    );
    assert!(ChaseSettings::new(1, 1, 1, 2).is_ok());
    assert!(ChaseSettings::new(365, 365, 364, 365).is_ok());
}

#[test]
fn reminder_days_count_from_the_day_asked() {
    let s = ChaseSettings::DEFAULT;
    let asked = date("2026-11-02");
    assert_eq!(s.reminder_day(asked, 1), date("2026-11-05"));
    assert_eq!(s.reminder_day(asked, 3), date("2026-11-19"));
    assert_eq!(s.latest_reminder(asked, date("2026-11-04")), 0);
    assert_eq!(s.latest_reminder(asked, date("2026-11-05")), 1);
    assert_eq!(s.latest_reminder(asked, date("2026-11-11")), 1);
    assert_eq!(s.latest_reminder(asked, date("2026-11-12")), 2);
}

#[test]
fn holidays_are_read_from_a_list_with_comments_headings_quotes_and_uk_dates() {
    let text = "first day,last day,name\n\
                # autumn term\n\
                2026-10-26,2026-10-30,Half term\n\
                \n\
                20/11/2026,,INSET day\n\
                2026-12-21,2027-01-01,\"Christmas, and New Year\"\n\
                2027-02-15,2027-02-19,Half term, February\n";
    let list = parse_holidays(text).unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(list[1].name.as_str(), "INSET day");
    assert_eq!(list[1].first_day, date("2026-11-20"));
    assert_eq!(list[1].last_day, date("2026-11-20"));
    assert_eq!(list[2].name.as_str(), "Christmas, and New Year");
    assert_eq!(list[3].name.as_str(), "Half term, February");
    // Written out and read back, the list is the same.
    assert_eq!(parse_holidays(&holidays_text(&list)).unwrap(), list);
}

#[test]
fn a_bad_holiday_list_names_each_line_and_field() {
    let text = "2026-10-26,2026-10-30,Half term\n\
                2026-13-01,2026-12-02,Bad month\n\
                2026-12-21,2026-12-01,Backwards\n\
                2026-12-21,2027-01-01,\n\
                just some words\n";
    let errors = parse_holidays(text).unwrap_err();
    let got: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.error.field())).collect();
    assert_eq!(
        got,
        vec![
            (2, Holiday::FIRST_DAY),
            (3, Holiday::LAST_DAY),
            (4, Holiday::NAME),
            (5, Holiday::NAME),
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "line 2, first day: \"2026-13-01\" is not a date from 2000 to 2100 written like \
         2026-12-21 or 21/12/2026"
    );
    assert!(
        errors[1].to_string().contains("before the first day"),
        "{}",
        errors[1]
    );
}

#[test]
fn the_holiday_form_reports_every_field_and_a_blank_last_day_means_one_day() {
    let errors = Holiday::parse("", "tomorrow", "32/01/2027").unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field()).collect();
    assert_eq!(
        fields,
        vec![Holiday::NAME, Holiday::FIRST_DAY, Holiday::LAST_DAY]
    );
    let one = Holiday::parse(" Polling  day ", "2027-05-06", "").unwrap();
    assert_eq!(one.name.as_str(), "Polling day");
    assert_eq!(one.days(), 1);
    assert!(Holiday::parse("Long", "2026-01-01", "2027-01-02").is_err());
    assert!(Holiday::parse("<b>x</b>", "2026-01-01", "").is_err());
}

#[test]
fn weekends_and_holidays_are_not_school_days_and_holidays_include_both_ends() {
    let cal = calendar(christmas());
    assert!(cal.is_school_day(date("2026-12-18")), "Friday");
    assert!(!cal.is_school_day(date("2026-12-19")), "Saturday");
    assert!(!cal.is_school_day(date("2026-12-20")), "Sunday");
    assert!(!cal.is_school_day(date("2026-12-21")), "first day");
    assert!(!cal.is_school_day(date("2027-01-01")), "last day");
    assert!(cal.is_school_day(date("2027-01-04")));
    assert_eq!(
        cal.holiday_on(date("2026-12-25")).map(|h| h.name.as_str()),
        Some("Christmas holidays")
    );
    assert_eq!(
        cal.next_school_day(date("2026-12-19")),
        Some(date("2027-01-04"))
    );
    assert_eq!(
        cal.next_school_day(date("2026-12-18")),
        Some(date("2026-12-18"))
    );
}

#[test]
fn the_school_day_is_the_schools_own_date_and_hours() {
    let cal = calendar(vec![]);
    // 23:30 UTC on Friday 3 July is already Saturday in London (BST).
    let late = Utc.with_ymd_and_hms(2026, 7, 3, 23, 30, 0).unwrap();
    assert_eq!(cal.today(late), date("2026-07-04"));
    assert!(!cal.sending_hours(late));
    assert!(!cal.sending_hours(local("2026-07-03", "07:59")));
    assert!(cal.sending_hours(local("2026-07-03", "08:00")));
    assert!(cal.sending_hours(local("2026-07-03", "17:59")));
    assert!(!cal.sending_hours(local("2026-07-03", "18:00")));
    let far_east = SchoolCalendar::new(chrono_tz::Asia::Tokyo, vec![]);
    assert_eq!(far_east.today(late), date("2026-07-04"));
    assert!(far_east.sending_hours(Utc.with_ymd_and_hms(2026, 7, 3, 0, 30, 0).unwrap()));
}

#[test]
fn an_invitation_goes_right_after_publication_even_at_a_weekend() {
    // Saturday evening.
    let published = local("2026-11-07", "19:30");
    let f = facts(published);
    let mails = plan(
        &f,
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        published + Duration::minutes(1),
        &url(),
    );
    let keys: Vec<&str> = mails.iter().map(|m| m.dedupe_key.as_str()).collect();
    // Ann, Cat, Meg and Hal; not Bob (signed), Dan (declined) or Jo (not started).
    assert_eq!(
        keys,
        vec![
            "invite:v10:p1",
            "invite:v10:p3",
            "invite:v10:p5",
            "invite:v10:p6"
        ]
    );
    let ann = &mails[0];
    assert_eq!(ann.kind, MailKind::Invitation);
    assert_eq!(ann.to_email, "ann@example.sch.uk");
    assert_eq!(ann.unless_signed, Some((ANN, VersionId(10))));
    assert_eq!(ann.not_before, published + Duration::minutes(1));
}

#[test]
fn mail_texts_name_the_school_policy_version_due_date_and_links() {
    let published = local("2026-11-02", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-02",
        30,
    );
    for key in ["invite:v10:p1", "remind:v10:p1:1", "remind:v10:p1:3"] {
        let (_, m) = &sent[key];
        assert!(
            m.subject.contains("Acceptable Use Policy (version 1)"),
            "{}",
            m.subject
        );
        assert!(m.subject.contains("St Anne's Primary"), "{}", m.subject);
        for needle in [
            "Dear Ann Able,",
            "St Anne's Primary",
            "Acceptable Use Policy",
            "version 1",
            "Monday 16 November 2026",
            "https://aup.example.sch.uk/sign/10\n",
            "https://aup.example.sch.uk/me.",
            "sign-in link by email at https://aup.example.sch.uk/login/link.",
        ] {
            assert!(
                m.text_body.contains(needle),
                "{key}: no {needle:?} in\n{}",
                m.text_body
            );
        }
    }
    assert!(
        sent["remind:v10:p1:1"]
            .1
            .text_body
            .contains("Please sign it by Monday 16")
    );
    assert!(
        sent["remind:v10:p1:3"]
            .1
            .text_body
            .contains("It was due by Monday 16 November 2026, so it is now overdue")
    );
    let (_, jo) = &sent["invite:v10:p7"];
    assert!(
        jo.text_body.contains("Welcome to St Anne's Primary."),
        "{}",
        jo.text_body
    );
}

#[test]
fn reminders_follow_the_schedule_on_school_days_only() {
    // Published Wednesday 4 November: reminder 1 falls on Saturday 7th and goes on
    // Monday 9th; then Saturdays 14th, 21st … go on the Mondays after.
    let published = local("2026-11-04", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-04",
        25,
    );
    assert_eq!(
        days_of(&sent, "invite:v10:p1"),
        vec!["invite:v10:p1 2026-11-04"]
    );
    assert_eq!(
        days_of(&sent, "remind:v10:p1:"),
        vec![
            "remind:v10:p1:1 2026-11-09",
            "remind:v10:p1:2 2026-11-16",
            "remind:v10:p1:3 2026-11-23",
        ]
    );
    for (key, (day, m)) in &sent {
        if key.starts_with("remind:") || key.starts_with("escalate:") {
            assert!(
                !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
                "{key} on {day}"
            );
            let hour = m.not_before.with_timezone(&LONDON).time();
            assert!(hour >= SEND_FROM && hour < SEND_UNTIL, "{key} at {hour}");
        }
    }
}

#[test]
fn a_reminder_due_in_a_holiday_goes_on_the_first_school_day_after_it() {
    // Published Monday 2 November; reminder 1 on Thursday 5th is an INSET day, and the
    // Friday too.
    let published = local("2026-11-02", "10:00");
    let inset = parse_holidays("2026-11-05,2026-11-06,INSET days").unwrap();
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(inset),
        "2026-11-02",
        14,
    );
    assert_eq!(
        days_of(&sent, "remind:v10:p1:"),
        vec!["remind:v10:p1:1 2026-11-09", "remind:v10:p1:2 2026-11-12"]
    );
}

#[test]
fn after_a_long_holiday_only_the_latest_reminder_due_is_sent() {
    // Asked Monday 30 November, weekly reminders on Thursdays: 3, 10, 17 December, then
    // 24 and 31 December fall in the Christmas holidays. On Monday 4 January only
    // reminder 5 (due 31 December) goes; reminder 4 is never sent.
    let published = local("2026-11-30", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(christmas()),
        "2026-11-30",
        40,
    );
    assert_eq!(
        days_of(&sent, "remind:v10:p1:"),
        vec![
            "remind:v10:p1:1 2026-12-03",
            "remind:v10:p1:2 2026-12-10",
            "remind:v10:p1:3 2026-12-17",
            "remind:v10:p1:5 2027-01-04",
            "remind:v10:p1:6 2027-01-07",
        ]
    );
    // Nothing at all during the holiday but nothing is lost either.
    assert!(
        sent.values()
            .all(|(d, _)| !(date("2026-12-19")..=date("2027-01-03")).contains(d))
    );
}

#[test]
fn nobody_who_signed_or_declined_is_sent_anything_and_reminders_carry_unless_signed() {
    let published = local("2026-11-02", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-02",
        60,
    );
    for (key, (_, m)) in &sent {
        assert!(m.to != BOB && m.to != DAN, "{key} went to {}", m.to_name);
        if key.starts_with("invite:") || key.starts_with("remind:") {
            assert_eq!(m.unless_signed, Some((m.to, VersionId(10))), "{key}");
        } else {
            assert_eq!(m.unless_signed, None, "{key}");
        }
    }
    // Ann signs on 10 November: her reminders stop; nobody's digest names her.
    let mut f = facts(published);
    f.school.signed.push(SignedFacts {
        person: ANN,
        policy: PolicyId(1),
        last_number: 1,
        valid_since: Some(local("2026-11-10", "12:00")),
    });
    let after = simulate(
        &f,
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-10",
        50,
    );
    assert!(after.values().all(|(_, m)| m.to != ANN));
    assert!(
        after
            .values()
            .all(|(_, m)| !m.text_body.contains("Ann Able"))
    );
}

#[test]
fn running_the_plan_again_gives_the_same_keys_and_a_minor_version_changes_none() {
    let published = local("2026-11-02", "10:00");
    let f = facts(published);
    let now = local("2026-11-24", "09:00");
    let cal = calendar(vec![]);
    let first = plan(&f, &ChaseSettings::DEFAULT, &cal, now, &url());
    let again = plan(
        &f,
        &ChaseSettings::DEFAULT,
        &cal,
        now + Duration::minutes(10),
        &url(),
    );
    let keys = |m: &[PlannedMail]| m.iter().map(|m| m.dedupe_key.clone()).collect::<Vec<_>>();
    assert!(!first.is_empty());
    assert_eq!(keys(&first), keys(&again));
    // A minor version asks nobody to sign again: same keys, but the link and "unless
    // signed" point at the version people now sign.
    let mut minor = f.clone();
    minor.school.policies[0].versions.push(version(
        11,
        2,
        ChangeKind::Minor,
        local("2026-11-20", "10:00"),
    ));
    let with_minor = plan(&minor, &ChaseSettings::DEFAULT, &cal, now, &url());
    assert_eq!(keys(&first), keys(&with_minor));
    let ann = with_minor
        .iter()
        .find(|m| m.dedupe_key == "remind:v10:p1:3")
        .unwrap();
    assert_eq!(ann.unless_signed, Some((ANN, VersionId(11))));
    assert!(ann.text_body.contains("/sign/11\n"));
    // A major version asks everyone again, under new keys.
    let mut major = f.clone();
    major.school.signed[0].valid_since = None;
    major.school.policies[0].versions.push(version(
        12,
        2,
        ChangeKind::Major,
        local("2026-11-20", "10:00"),
    ));
    let with_major = plan(&major, &ChaseSettings::DEFAULT, &cal, now, &url());
    assert!(with_major.iter().any(|m| m.dedupe_key == "remind:v12:p1:1"));
    assert!(
        with_major.iter().any(|m| m.dedupe_key == "remind:v12:p2:1"),
        "Bob too"
    );
}

#[test]
fn a_joiner_is_asked_from_their_start_date() {
    let published = local("2026-11-02", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-02",
        30,
    );
    // Jo starts on Friday 20 November: invited that day, first reminder on Monday 23rd.
    assert_eq!(
        days_of(&sent, "invite:v10:p7"),
        vec!["invite:v10:p7 2026-11-20"]
    );
    assert_eq!(
        days_of(&sent, "remind:v10:p7:"),
        vec!["remind:v10:p7:1 2026-11-23", "remind:v10:p7:2 2026-11-30"]
    );
}

#[test]
fn line_managers_then_headteachers_get_weekly_digests_past_their_thresholds() {
    // Asked Monday 2 November. Line manager after 10 days (Thursday 12th), headteacher
    // after 20 (Sunday 22nd, so Monday 23rd); then once a week each.
    let published = local("2026-11-02", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-02",
        28,
    );
    assert_eq!(
        days_of(&sent, "escalate:manager:"),
        vec![
            "escalate:manager:p5:2026-W46 2026-11-12",
            "escalate:manager:p5:2026-W47 2026-11-16",
            "escalate:manager:p5:2026-W48 2026-11-23",
        ]
    );
    assert_eq!(
        days_of(&sent, "escalate:head:"),
        vec!["escalate:head:p6:2026-W48 2026-11-23",]
    );
    let (_, meg) = &sent["escalate:manager:p5:2026-W46"];
    assert_eq!(meg.to, MEG);
    assert_eq!(meg.kind, MailKind::ManagerDigest);
    assert!(
        meg.subject.starts_with("1 of your team has not yet signed"),
        "{}",
        meg.subject
    );
    assert!(meg.text_body.contains("- Ann Able (ann@example.sch.uk): Acceptable Use Policy, version 1. Asked on Monday 2 November 2026, due by Monday 16 November 2026."), "{}", meg.text_body);
    // Jo joined on the 20th: too recent to be on any digest by the 23rd.
    assert!(!meg.text_body.contains("Jo Joiner"));
    // Cat's line manager has left: nobody gets a manager digest for her, but the
    // headteacher's names everyone outstanding, and the decline.
    let (_, hal) = &sent["escalate:head:p6:2026-W48"];
    assert_eq!(hal.to, HAL);
    for name in ["Ann Able", "Cat Cole", "Meg Mann", "Hal Head"] {
        assert!(
            hal.text_body.contains(name),
            "{name} missing:\n{}",
            hal.text_body
        );
    }
    assert!(!hal.text_body.contains("Bob Brown"));
    assert!(!hal.text_body.contains("Dan Dale"));
    assert!(hal.text_body.contains("1 person has declined to sign"));
    assert!(
        hal.text_body
            .contains("https://aup.example.sch.uk/declines")
    );
    assert!(
        hal.text_body.contains("7 days overdue"),
        "{}",
        hal.text_body
    );
    assert!(sent.values().all(|(_, m)| m.to != LEFT));
}

#[test]
fn digests_wait_for_a_school_day() {
    // The headteacher's threshold (20 days) is reached in the Christmas holidays: the
    // digest goes on the first day back.
    let published = local("2026-12-07", "10:00");
    let sent = simulate(
        &facts(published),
        &ChaseSettings::DEFAULT,
        &calendar(christmas()),
        "2026-12-07",
        36,
    );
    assert_eq!(
        days_of(&sent, "escalate:head:"),
        vec![
            "escalate:head:p6:2027-W01 2027-01-04",
            "escalate:head:p6:2027-W02 2027-01-11"
        ]
    );
    assert_eq!(
        days_of(&sent, "escalate:manager:"),
        vec![
            "escalate:manager:p5:2026-W51 2026-12-17",
            "escalate:manager:p5:2027-W01 2027-01-04",
            "escalate:manager:p5:2027-W02 2027-01-11"
        ]
    );
}

#[test]
fn leavers_and_people_not_in_the_facts_get_nothing() {
    let published = local("2026-11-02", "10:00");
    let mut f = facts(published);
    // Meg leaves: the store no longer lists her among the active people.
    f.school.people.retain(|p| p.id != MEG);
    let sent = simulate(
        &f,
        &ChaseSettings::DEFAULT,
        &calendar(vec![]),
        "2026-11-02",
        30,
    );
    assert!(sent.values().all(|(_, m)| m.to != MEG));
    assert!(days_of(&sent, "escalate:manager:").is_empty());
    assert!(!days_of(&sent, "escalate:head:").is_empty());
}

#[test]
fn the_chase_button_reminds_the_chosen_people_once_a_day_and_skips_signers_and_decliners() {
    let published = local("2026-11-02", "10:00");
    let f = facts(published);
    let chosen: BTreeSet<PersonId> = [ANN, BOB, DAN, CAT].into();
    // On a Saturday evening: the administrator asked, so it goes at once.
    let now = local("2026-11-14", "19:00");
    let mails = chase_now(&f, PolicyId(1), &chosen, now, &url());
    let keys: Vec<&str> = mails.iter().map(|m| m.dedupe_key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["chase:v10:p1:2026-11-14", "chase:v10:p3:2026-11-14"]
    );
    assert!(
        mails
            .iter()
            .all(|m| m.kind == MailKind::Chase && m.not_before == now)
    );
    assert!(
        mails[0]
            .text_body
            .contains("St Anne's Primary has asked us to remind you")
    );
    // Later the same day: the same keys; the next day: new ones.
    let later = chase_now(&f, PolicyId(1), &chosen, now + Duration::hours(4), &url());
    assert_eq!(later[0].dedupe_key, "chase:v10:p1:2026-11-14");
    let next = chase_now(&f, PolicyId(1), &chosen, now + Duration::hours(6), &url());
    assert_eq!(next[0].dedupe_key, "chase:v10:p1:2026-11-15");
    assert!(chase_now(&f, PolicyId(2), &chosen, now, &url()).is_empty());
}

#[test]
fn links_work_with_or_without_a_trailing_slash() {
    let bare = url::Url::parse("https://example.org/undersign").unwrap();
    assert_eq!(link(&bare, "me"), "https://example.org/undersign/me");
    let slash = url::Url::parse("https://example.org/undersign/").unwrap();
    assert_eq!(
        link(&slash, "login/link"),
        "https://example.org/undersign/login/link"
    );
}

#[test]
fn the_preview_shows_the_days_the_schedule_gives() {
    let cal = calendar(christmas());
    // Asked on Monday 7 December: reminders on Thursday 10th and 17th; the 24th and 31st
    // fall in the holidays and go as one on Monday 4 January; the line manager from
    // Thursday 17 December, the headteacher from Monday 4 January.
    let p = ChaseSettings::DEFAULT.preview(&cal, date("2026-12-07"), 4);
    assert_eq!(
        p.reminders,
        vec![
            date("2026-12-10"),
            date("2026-12-17"),
            date("2027-01-04"),
            date("2027-01-07")
        ]
    );
    assert_eq!(p.manager, Some(date("2026-12-17")));
    assert_eq!(p.head, Some(date("2027-01-04")));
}
