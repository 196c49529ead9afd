use super::*;
use crate::person::Role;

const SIMS: &str = "\u{feff}Staff Code,Title,Preferred Forename,Legal Surname,Email Address,Staff Role,Employment Start Date\r\n\
    HCA,Mrs,Helen,Carter,headteacher@demo.example,Headteacher;Staff,01/09/2015\r\n\
    STA,Mr,Sam,Taylor,staff1@demo.example,Teacher,2020-09-01\r\n\
    GEV,Mr,Gareth,Evans,governor@demo.example,Governor,\r\n";

fn one_error(bytes: &[u8]) -> RosterError {
    let errors = parse(bytes).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn a_sims_export_is_read_with_its_own_headers() {
    let roster = parse(SIMS.as_bytes()).unwrap();
    assert_eq!(roster.rows.len(), 3);
    let head = &roster.rows[0];
    assert_eq!(head.line, 2);
    assert_eq!(head.mis_id.as_ref().unwrap().as_str(), "HCA");
    assert_eq!(head.full_name.as_str(), "Helen Carter");
    assert_eq!(head.roles, [Role::Headteacher, Role::Staff].into());
    assert_eq!(head.start_date, NaiveDate::from_ymd_opt(2015, 9, 1));
    assert_eq!(roster.rows[1].roles, [Role::Staff].into());
    assert_eq!(roster.rows[2].start_date, None);
}

#[test]
fn a_bad_email_names_its_line_and_column() {
    let e = one_error(
        b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\nJo Brown,not-an-email,staff\n",
    );
    assert_eq!((e.line, e.field.as_str()), (3, "Email"));
    assert!(e.message.contains("@"), "{e}");
}

#[test]
fn a_person_listed_twice_names_the_second_line_and_the_first() {
    let e =
        one_error(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\nSam Taylor,SAM@x.uk,staff\n");
    assert_eq!((e.line, e.field.as_str()), (3, "Email"));
    assert!(e.message.contains("line 2"), "{e}");
    let e = one_error(b"Staff Code,Full Name,Email,Role\nA1,Sam Taylor,sam@x.uk,staff\nA1,Jo Brown,jo@x.uk,staff\n");
    assert_eq!((e.line, e.field.as_str()), (3, "Staff Code"));
}

#[test]
fn an_unknown_role_names_its_line_and_column() {
    let e = one_error(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,caretaker\n");
    assert_eq!((e.line, e.field.as_str()), (2, "Role"));
    assert!(e.message.contains("\"caretaker\""), "{e}");
    let e = one_error(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,trust administrator\n");
    assert_eq!(e.field, "Role");
}

#[test]
fn a_missing_column_is_named_on_the_header_line() {
    let e = one_error(b"Full Name,Role\nSam Taylor,staff\n");
    assert_eq!((e.line, e.field.as_str()), (1, "email"));
    let e = one_error(b"Forename,Email,Role\nSam,sam@x.uk,staff\n");
    assert_eq!((e.line, e.field.as_str()), (1, "name"));
}

#[test]
fn a_file_that_is_not_utf8_names_the_line_and_column() {
    // "Zoë" in Windows-1252.
    let e = one_error(
        b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\nZo\xEB Brown,zoe@x.uk,staff\n",
    );
    assert_eq!((e.line, e.field.as_str()), (3, "Full Name"));
    assert!(e.message.contains("UTF-8"), "{e}");
    let e = one_error(b"Full Name,E\xE9mail,Role\n");
    assert_eq!(e.line, 1);
}

#[test]
fn an_empty_file_or_a_header_alone_is_refused() {
    let e = one_error(b"");
    assert_eq!((e.line, e.field.as_str()), (1, "header"));
    let e = one_error(b"\xEF\xBB\xBF  \r\n");
    assert_eq!((e.line, e.field.as_str()), (1, "header"));
    let e = one_error(b"Full Name,Email,Role\n");
    assert_eq!((e.line, e.field.as_str()), (2, "rows"));
}

#[test]
fn every_problem_in_a_file_is_reported_not_just_the_first() {
    let errors = parse(
        b"Full Name,Email,Role,Start Date\nSam,bad,staff,\nJo Brown,jo@x.uk,cook,31/02/2024\n",
    )
    .unwrap_err();
    let at: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        at,
        vec![(2, "Email"), (3, "Role"), (3, "Start Date")],
        "{errors:?}"
    );
}

#[test]
fn a_name_split_over_forename_and_surname_is_joined() {
    let r =
        parse(b"Forename,Surname,Email,Roles\nZo\xC3\xAB,Brown,zoe@x.uk,staff | dsl\n").unwrap();
    assert_eq!(r.rows[0].full_name.as_str(), "Zoë Brown");
    assert_eq!(r.rows[0].roles, [Role::Staff, Role::Dsl].into());
}

fn existing(
    id: i64,
    name: &str,
    email: &str,
    mis: Option<&str>,
    on_roster: bool,
) -> ExistingPerson {
    ExistingPerson {
        id: PersonId(id),
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        roles: [Role::Staff].into(),
        status: PersonStatus::Active,
        mis_id: mis.map(|m| MisId::trusted(m.into())),
        start_date: None,
        on_roster,
    }
}

#[test]
fn the_plan_lists_joiners_changes_and_leavers() {
    let roster = parse(
        b"Staff Code,Full Name,Email,Role\nA1,Sam Taylor,sam.t@x.uk,staff\nA2,Jo Brown,jo@x.uk,staff\nA4,New Person,new@x.uk,governor\n",
    )
    .unwrap();
    let people = vec![
        // Matched by MIS id; the email changed.
        existing(1, "Sam Taylor", "sam@x.uk", Some("A1"), true),
        // Matched by email, unchanged but for being taken onto the roster.
        existing(2, "Jo Brown", "jo@x.uk", Some("A2"), true),
        // On the roster and missing from the file: a leaver.
        existing(3, "Old Timer", "old@x.uk", Some("A3"), true),
        // Added by hand and never imported: left alone.
        existing(5, "Hand Added", "hand@x.uk", None, false),
    ];
    let plan = plan(&roster, &people, &operator()).unwrap();
    assert_eq!(plan.joiners.len(), 1);
    assert_eq!(plan.joiners[0].email.as_str(), "new@x.uk");
    assert_eq!(plan.updates.len(), 1);
    assert_eq!(plan.updates[0].person, PersonId(1));
    assert_eq!(plan.updates[0].changes[0].field, "email");
    assert_eq!(plan.unchanged, 1);
    assert_eq!(plan.leavers.len(), 1);
    assert_eq!(plan.leavers[0].id, PersonId(3));
}

#[test]
fn an_email_belonging_to_someone_else_is_an_error_on_its_line() {
    let roster = parse(b"Staff Code,Full Name,Email,Role\nA1,Sam Taylor,jo@x.uk,staff\n").unwrap();
    let people = vec![
        existing(1, "Sam Taylor", "sam@x.uk", Some("A1"), true),
        existing(2, "Jo Brown", "jo@x.uk", None, false),
    ];
    let errors = plan(&roster, &people, &operator()).unwrap_err();
    assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "email"));
}

#[test]
fn the_importer_cannot_make_themselves_a_leaver() {
    let roster = parse(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\n").unwrap();
    let people = vec![existing(9, "Dana Wright", "dana@x.uk", None, true)];
    assert!(plan(&roster, &people, &administrator(9)).is_err());
    assert_eq!(
        plan(&roster, &people, &operator()).unwrap().leavers.len(),
        1
    );
}

#[test]
fn a_returning_leaver_is_made_active_again() {
    let roster = parse(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\n").unwrap();
    let mut sam = existing(1, "Sam Taylor", "sam@x.uk", None, true);
    sam.status = PersonStatus::Left;
    let plan = plan(&roster, &[sam], &operator()).unwrap();
    assert_eq!(plan.updates[0].changes[0].field, "status");
    assert_eq!(plan.updates[0].changes[0].after, "active");
}

#[test]
fn the_digest_changes_when_the_plan_does() {
    let roster = parse(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\n").unwrap();
    let a = plan(&roster, &[], &operator()).unwrap();
    let b = plan(
        &roster,
        &[existing(1, "Sam Taylor", "sam@x.uk", None, true)],
        &operator(),
    )
    .unwrap();
    assert_ne!(a.digest(), b.digest());
    assert_eq!(
        a.digest(),
        plan(&roster, &[], &operator()).unwrap().digest()
    );
}

fn operator() -> crate::access::PeopleAdmin {
    crate::access::PeopleAdmin::for_operator(crate::ids::SchoolId(1))
}

/// The school administrator with this id, importing.
fn administrator(id: i64) -> crate::access::PeopleAdmin {
    crate::access::Actor {
        school: crate::ids::SchoolId(1),
        person: PersonId(id),
        roles: [crate::person::Role::SchoolAdministrator]
            .into_iter()
            .collect(),
    }
    .people_admin()
    .unwrap()
}
