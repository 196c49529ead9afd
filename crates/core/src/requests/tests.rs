//! The request engine's rules: answers, decisions, deciders, the register's search.
use super::*;

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn fields_of(e: Vec<FieldError>) -> Vec<String> {
    e.into_iter().map(|e| e.field).collect()
}

#[test]
fn answers_are_trimmed_and_each_problem_names_its_field() {
    let ok = check_answers(
        RequestKind::Install,
        &answers(&[
            ("item", "  Audacity 3.4 "),
            ("purpose", "Podcasts"),
            ("where", ""),
        ]),
    )
    .unwrap();
    assert_eq!(ok.get("item").unwrap(), "Audacity 3.4");
    assert!(!ok.contains_key("where"));
    let bad = check_answers(
        RequestKind::Install,
        &answers(&[("item", "a\nb"), ("colour", "red")]),
    )
    .unwrap_err();
    assert_eq!(fields_of(bad), ["colour", "item", "purpose"]);
    let bad = check_answers(
        RequestKind::EmergencyPhone,
        &answers(&[
            ("reason", "Child ill"),
            ("from", "2026-12-03"),
            ("until", "2026-12-01"),
        ]),
    )
    .unwrap_err();
    assert_eq!(fields_of(bad), ["until"]);
    let bad = check_answers(
        RequestKind::ReasonableUse,
        &answers(&[
            ("question", "Online banking at lunch"),
            ("statement", "four"),
        ]),
    )
    .unwrap_err();
    assert_eq!(fields_of(bad), ["statement"]);
}

#[test]
fn a_closed_space_is_submitted_without_its_checklist_but_not_approved_without_it() {
    let partial = check_answers(
        RequestKind::ClosedSpace,
        &answers(&[
            ("platform", "Padlet"),
            ("purpose", "Year 6 science journal"),
        ]),
    )
    .unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let approve = Decision {
        approve: true,
        note: String::new(),
        conditions: String::new(),
        expires: None,
        ruling: None,
    };
    let e = check_decision(RequestKind::ClosedSpace, &partial, &approve, today).unwrap_err();
    assert_eq!(e.field, "who_can_join");
    let decline = Decision {
        approve: false,
        note: "Not this term".into(),
        ..approve.clone()
    };
    assert!(check_decision(RequestKind::ClosedSpace, &partial, &decline, today).is_ok());
    let mut full = partial.clone();
    for (k, v) in [
        ("who_can_join", "Year 6 by invitation"),
        ("moderation", "Class teacher approves every post"),
        ("pupil_ages", "10-11"),
        ("end_date", "2027-07-20"),
    ] {
        full.insert(k.into(), v.into());
    }
    assert!(check_decision(RequestKind::ClosedSpace, &full, &approve, today).is_ok());
    assert_eq!(
        implied_expiry(RequestKind::ClosedSpace, &full),
        NaiveDate::from_ymd_opt(2027, 7, 20)
    );
}

#[test]
fn each_outcome_allows_only_its_own_decisions() {
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let a = Answers::new();
    let yes = Decision {
        approve: true,
        note: String::new(),
        conditions: String::new(),
        expires: None,
        ruling: None,
    };
    let no = Decision {
        approve: false,
        note: "No".into(),
        ..yes.clone()
    };
    assert_eq!(
        check_decision(RequestKind::EmergencyPhone, &a, &no, today)
            .unwrap_err()
            .field,
        "decision"
    );
    assert_eq!(
        check_decision(RequestKind::ParentContact, &a, &yes, today)
            .unwrap_err()
            .field,
        "note"
    );
    let ruling = Decision {
        ruling: Some(NewRuling {
            statement: 4,
            text: "Online banking at lunchtime is reasonable".into(),
        }),
        ..yes.clone()
    };
    let question: Answers = [("question".to_owned(), "Online banking".to_owned())]
        .into_iter()
        .collect();
    assert!(check_decision(RequestKind::ReasonableUse, &question, &ruling, today).is_ok());
    assert_eq!(
        check_decision(
            RequestKind::Install,
            &a,
            &Decision {
                approve: false,
                note: "No".into(),
                ..ruling.clone()
            },
            today
        )
        .map_err(|e| e.field),
        Err("ruling".into())
    );
    let photos: Answers = [("what", "Sports day"), ("where", "Website")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let past = Decision {
        expires: NaiveDate::from_ymd_opt(2026, 11, 1),
        ..yes.clone()
    };
    assert_eq!(
        check_decision(RequestKind::ImagePosting, &photos, &past, today)
            .unwrap_err()
            .field,
        "expires"
    );
    let conditional_no = Decision {
        conditions: "only in ICT suite".into(),
        ..no
    };
    assert_eq!(
        check_decision(RequestKind::Install, &a, &conditional_no, today)
            .unwrap_err()
            .field,
        "conditions"
    );
}

#[test]
fn nobody_decides_their_own_request_and_it_goes_up_a_level() {
    let roles = |r: &[Role]| -> Roles { r.iter().copied().collect() };
    let staff = roles(&[Role::Staff]);
    let nm = roles(&[Role::Staff, Role::NetworkManager]);
    let head = roles(&[Role::Headteacher]);
    let governor = roles(&[Role::Governor]);
    let (p1, p2) = (PersonId(1), PersonId(2));
    assert!(may_decide(Role::NetworkManager, p1, &staff, p2, &nm).is_ok());
    assert!(may_decide(Role::NetworkManager, p1, &staff, p2, &head).is_err());
    assert!(may_decide(Role::NetworkManager, p1, &nm, p1, &nm).is_err());
    // The network manager's own install request: the headteacher decides it too.
    assert!(may_decide(Role::NetworkManager, p1, &nm, p2, &head).is_ok());
    // The headteacher's own photo request: the governors decide it.
    assert!(may_decide(Role::Headteacher, p1, &head, p2, &head).is_err());
    assert!(may_decide(Role::Headteacher, p1, &head, p2, &governor).is_ok());
}

#[test]
fn the_approved_software_register_is_searched_by_every_word() {
    let item = ApprovedItem {
        request: RequestId(1),
        item: "Audacity 3.4".into(),
        purpose: "Recording podcasts".into(),
        place: Some("ICT suite".into()),
        conditions: None,
        expires: None,
        approved_by: "Alistair West".into(),
        approved_at: DateTime::UNIX_EPOCH,
    };
    assert!(item.matches("audacity ict"));
    assert!(item.matches(""));
    assert!(!item.matches("audacity library"));
}
