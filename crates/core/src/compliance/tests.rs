use super::*;
use chrono::TimeZone;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, day, 9, 0, 0).unwrap()
}

fn person(id: i64, name: &str, roles: &[Role], joined: DateTime<Utc>) -> PersonFacts {
    PersonFacts {
        id: PersonId(id),
        full_name: name.into(),
        email: format!("p{id}@x.uk"),
        roles: roles.iter().copied().collect(),
        joined_at: joined,
    }
}

fn version(id: i64, number: i32, kind: ChangeKind, day: u32) -> VersionFacts {
    VersionFacts {
        id: VersionId(id),
        number,
        change_kind: kind,
        audiences: [Audience::Staff, Audience::Governors].into(),
        published_at: at(day),
    }
}

fn facts() -> SchoolFacts {
    SchoolFacts {
        school: SchoolId(1),
        name: "School".into(),
        slug: "school".into(),
        timezone: chrono_tz::Europe::London.into(),
        days_to_sign: DaysToSign::parse("7").unwrap(),
        policies: vec![PolicyFacts {
            id: PolicyId(1),
            title: "AUP".into(),
            versions: vec![
                version(10, 1, ChangeKind::Major, 1),
                version(11, 2, ChangeKind::Major, 2),
                version(12, 3, ChangeKind::Minor, 5),
            ],
        }],
        people: vec![
            person(1, "Ann Signed", &[Role::Staff], at(1)),
            person(2, "Bob Stale", &[Role::Staff, Role::Dsl], at(1)),
            person(3, "Cat Joiner", &[Role::Staff], at(20)),
            person(4, "Dan Governor", &[Role::Governor], at(1)),
            person(5, "Eve Trust", &[Role::TrustAdministrator], at(1)),
        ],
        signed: vec![
            SignedFacts {
                person: PersonId(1),
                policy: PolicyId(1),
                last_number: 3,
                valid_since: Some(at(3)),
            },
            SignedFacts {
                person: PersonId(2),
                policy: PolicyId(1),
                last_number: 1,
                valid_since: None,
            },
        ],
        declined: vec![(PersonId(4), VersionId(12))],
    }
}

#[test]
fn a_signature_of_the_newest_major_version_or_later_counts_and_an_older_one_does_not() {
    let report = facts().report(at(25));
    let aup = &report[0];
    assert_eq!((aup.number, aup.asking_number), (3, 2));
    let standing: BTreeMap<&str, Standing> = aup
        .people
        .iter()
        .map(|p| (p.full_name.as_str(), p.standing))
        .collect();
    assert_eq!(standing["Ann Signed"], Standing::Signed);
    assert_eq!(standing["Bob Stale"], Standing::Overdue);
    assert_eq!(standing["Cat Joiner"], Standing::Due);
    assert_eq!(standing["Dan Governor"], Standing::Declined);
    assert!(!standing.contains_key("Eve Trust"), "not in any audience");
    assert_eq!(aup.overall.signed, 1);
    assert_eq!(aup.overall.total, 4);
}

#[test]
fn the_due_date_counts_from_publication_or_from_joining_whichever_is_later() {
    let report = facts().report(at(25));
    let by_name = |n: &str| report[0].people.iter().find(|p| p.full_name == n).unwrap();
    // Version 2 published on the 2nd, seven days to sign.
    assert_eq!(
        by_name("Bob Stale").due,
        NaiveDate::from_ymd_opt(2026, 9, 9).unwrap()
    );
    assert_eq!(by_name("Bob Stale").days_overdue, 16);
    // Joined on the 20th.
    assert_eq!(
        by_name("Cat Joiner").due,
        NaiveDate::from_ymd_opt(2026, 9, 27).unwrap()
    );
    assert_eq!(by_name("Cat Joiner").days_overdue, 0);
    // The most overdue come first.
    assert_eq!(report[0].people[0].full_name, "Bob Stale");
}

#[test]
fn shares_are_rounded_to_the_nearest_whole_per_cent_but_never_to_all_or_none() {
    assert_eq!(percent(1, 6), 17);
    assert_eq!(percent(1, 8), 13);
    assert_eq!(percent(1, 3), 33);
    assert_eq!(percent(2, 3), 67);
    assert_eq!(percent(199, 200), 99);
    assert_eq!(percent(1, 300), 1);
    assert_eq!((percent(0, 5), percent(5, 5), percent(0, 0)), (0, 100, 100));
}

#[test]
fn a_role_with_exactly_an_audiences_people_is_not_listed_again() {
    let aup = &facts().report(at(25))[0];
    let roles: Vec<&str> = aup.by_role.iter().map(|s| s.label.as_str()).collect();
    // Staff are the staff audience and the governor the governors: only the DSL adds
    // anything.
    assert_eq!(roles, vec!["Designated safeguarding lead"]);
    let audiences: Vec<&str> = aup.by_audience.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(audiences, vec!["Staff", "Governors"]);
}

#[test]
fn publishing_asks_everyone_for_a_major_version_and_only_those_still_to_sign_for_a_minor_one() {
    let audiences: BTreeSet<Audience> = [Audience::Staff, Audience::Governors].into();
    let if_published = |kind| {
        facts()
            .with_published(PolicyId(1), "AUP", version(13, 4, kind, 25))
            .report(at(25))
            .remove(0)
            .asked(&audiences)
    };
    assert_eq!(
        if_published(ChangeKind::Major),
        AskedToSign {
            people: 4,
            by_audience: vec![(Audience::Staff, 3), (Audience::Governors, 1)],
        }
    );
    // Ann signed version 3, which a minor version 4 leaves standing.
    assert_eq!(
        if_published(ChangeKind::Minor),
        AskedToSign {
            people: 3,
            by_audience: vec![(Audience::Staff, 2), (Audience::Governors, 1)],
        }
    );
}

#[test]
fn shares_are_given_per_audience_and_per_role() {
    let aup = &facts().report(at(25))[0];
    let staff = aup.by_audience.iter().find(|s| s.label == "Staff").unwrap();
    assert_eq!((staff.signed, staff.total, staff.percent()), (1, 3, 33));
    let dsl = aup
        .by_role
        .iter()
        .find(|s| s.label == "Designated safeguarding lead")
        .unwrap();
    assert_eq!((dsl.signed, dsl.total), (0, 1));
}

#[test]
fn progress_counts_signatures_by_the_end_of_each_day() {
    let aup = &facts().report(at(25))[0];
    let first = &aup.progress[0];
    assert_eq!(first.date, NaiveDate::from_ymd_opt(2026, 9, 2).unwrap());
    assert_eq!(first.signed, 0);
    let third = aup
        .progress
        .iter()
        .find(|p| p.date == NaiveDate::from_ymd_opt(2026, 9, 3).unwrap())
        .unwrap();
    assert_eq!(third.signed, 1);
    assert_eq!(
        aup.progress.last().unwrap().date,
        NaiveDate::from_ymd_opt(2026, 9, 25).unwrap()
    );
    let long = progress(
        &aup.people,
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        chrono_tz::Europe::London,
    );
    assert!(
        long.len() <= MAX_PROGRESS_POINTS as usize + 1,
        "{}",
        long.len()
    );
}

#[test]
fn filters_select_by_role_status_and_last_signed_version() {
    let aup = &facts().report(at(25))[0];
    let names = |f: &Filter| -> Vec<&str> {
        aup.people
            .iter()
            .filter(|p| f.matches(p))
            .map(|p| p.full_name.as_str())
            .collect()
    };
    assert_eq!(
        names(&Filter::parse("dsl", "", "").unwrap()),
        vec!["Bob Stale"]
    );
    assert_eq!(
        names(&Filter::parse("", "outstanding", "").unwrap()).len(),
        3
    );
    assert_eq!(
        names(&Filter::parse("staff", "outstanding", "never").unwrap()),
        vec!["Cat Joiner"]
    );
    assert_eq!(
        names(&Filter::parse("", "", "1").unwrap()),
        vec!["Bob Stale"]
    );
    assert!(Filter::parse("caretaker", "", "").is_err());
    assert!(Filter::parse("", "maybe", "").is_err());
}

#[test]
fn a_joiner_is_asked_for_the_current_version_due_from_their_start() {
    let f = facts();
    let asks = f.joiner_asks(
        &[Role::Staff].into(),
        NaiveDate::from_ymd_opt(2026, 10, 1),
        at(25),
    );
    assert_eq!(asks.len(), 1);
    assert_eq!(asks[0].number, 3);
    assert_eq!(asks[0].due, NaiveDate::from_ymd_opt(2026, 10, 8).unwrap());
    assert!(
        f.joiner_asks(&[Role::TrustAdministrator].into(), None, at(25))
            .is_empty()
    );
}

#[test]
fn a_cell_that_a_spreadsheet_would_run_as_a_formula_is_made_text() {
    for evil in [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
    ] {
        assert!(spreadsheet_safe(evil).starts_with('\''), "{evil:?}");
    }
    assert_eq!(spreadsheet_safe("Sam O'Neill"), "Sam O'Neill");
    let doc = csv_document(&["name", "note"], [["=cmd|' /C calc'!A0", "say \"hi\""]]);
    assert_eq!(
        doc,
        "\u{feff}\"name\",\"note\"\r\n\"'=cmd|' /C calc'!A0\",\"say \"\"hi\"\"\"\r\n"
    );
}
