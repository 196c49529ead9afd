use super::*;

#[test]
fn visitor_details_report_every_problem_at_once() {
    let errors =
        VisitorDetails::parse("", "<b>Acme</b>", "", "not-an-email", "!!", "zz").unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field()).collect();
    assert_eq!(
        fields,
        vec![
            "name",
            "organisation",
            "host",
            "email",
            "car registration",
            "visitor code"
        ]
    );
}

#[test]
fn optional_fields_may_be_empty_and_are_normalised() {
    let d =
        VisitorDetails::parse(" Vera  Visitor ", "", "7", "", " ab12  cde ", "abcd ef23").unwrap();
    assert_eq!(d.name.as_str(), "Vera Visitor");
    assert_eq!(d.organisation, None);
    assert_eq!(d.email, None);
    assert_eq!(d.car_registration.unwrap().as_str(), "AB12 CDE");
    assert_eq!(d.code.unwrap().as_str(), "ABCD-EF23");
}

#[test]
fn a_name_thousands_of_characters_long_or_with_markup_is_refused() {
    assert!(VisitorName::parse(&"a".repeat(5000)).is_err());
    let err = VisitorName::parse("<script>alert(1)</script>").unwrap_err();
    assert_eq!(err.field(), "name");
}

#[test]
fn codes_use_an_unambiguous_alphabet() {
    let code = VisitorCode::from_random([0, 1, 2, 3, 250, 251, 252, 253]);
    assert_eq!(code.as_str().len(), 9);
    assert!(!code.as_str().contains(['0', 'O', '1', 'I', 'L']));
    assert_eq!(VisitorCode::parse(code.as_str()).unwrap(), Some(code));
    assert!(VisitorCode::parse("ABCD-EF2O").is_err());
    let enrol = EnrolmentCode::from_random([9; 10]);
    assert_eq!(
        EnrolmentCode::parse(&enrol.display().to_lowercase()).unwrap(),
        enrol
    );
}

#[test]
fn a_kiosk_token_must_look_like_one() {
    assert!(KioskToken::parse(&"a".repeat(43)).is_ok());
    assert!(KioskToken::parse("forged").is_err());
    assert!(KioskToken::parse(&format!("{}<", "a".repeat(42))).is_err());
}

#[test]
fn the_salted_hash_changes_with_the_salt_and_the_data() {
    let data = PersonalData {
        full_name: "Vera Visitor".into(),
        organisation: None,
        email: None,
        car_registration: None,
        visitor_code: "ABCD-EF23".into(),
        typed_name: Some("Vera Visitor".into()),
        mark_sha256: None,
    };
    let a = data.salted_sha256(&[1; 16]);
    assert_eq!(a.len(), 64);
    assert_ne!(a, data.salted_sha256(&[2; 16]));
    let other = PersonalData {
        full_name: "Victor Visitor".into(),
        ..data.clone()
    };
    assert_ne!(a, other.salted_sha256(&[1; 16]));
}

#[test]
fn a_visit_signs_out_once_and_only_after_it_began() {
    let t = |h| Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap();
    let on = VisitState::OnSite;
    let out = on
        .sign_out(
            t(9),
            t(10),
            SignOutBy::Receptionist {
                person: PersonId(1),
            },
        )
        .unwrap();
    assert!(!out.flagged());
    assert_eq!(
        out.sign_out(t(9), t(11), SignOutBy::Automatic),
        Err(VisitError::AlreadySignedOut)
    );
    assert_eq!(
        on.sign_out(t(9), t(8), SignOutBy::Automatic),
        Err(VisitError::BeforeArrival)
    );
    assert!(
        on.sign_out(t(9), t(23), SignOutBy::Automatic)
            .unwrap()
            .flagged()
    );
}

#[test]
fn a_signature_covers_until_a_major_version_or_the_day_limit() {
    let settings = VisitorSettings {
        resign_after_days: 30,
        retention_days: 60,
    };
    let signed = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let soon = signed + Duration::days(10);
    assert!(signature_still_covers(2, Some(2), signed, soon, &settings));
    assert!(signature_still_covers(3, Some(2), signed, soon, &settings));
    assert!(!signature_still_covers(2, Some(3), signed, soon, &settings));
    assert!(!signature_still_covers(
        2,
        Some(2),
        signed,
        signed + Duration::days(30),
        &settings
    ));
}

#[test]
fn the_day_starts_at_local_midnight() {
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    // London is on BST in July: midnight is 23:00 UTC the day before.
    assert_eq!(
        start_of_day(now, chrono_tz::Europe::London),
        Utc.with_ymd_and_hms(2026, 6, 30, 23, 0, 0).unwrap()
    );
}

#[test]
fn settings_are_whole_days_in_range() {
    assert_eq!(
        VisitorSettings::parse("30", "90").unwrap(),
        VisitorSettings {
            resign_after_days: 30,
            retention_days: 90
        }
    );
    assert_eq!(VisitorSettings::parse("0", "x").unwrap_err().len(), 2);
}
