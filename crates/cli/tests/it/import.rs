//! `undersign import people`: the dry run changes nothing, applying changes everything,
//! and a malformed file is refused with its line and column, changing nothing.

use std::path::Path;

use crate::support::{run, stderr, stdout};

const GOOD: &str = "Staff Code,Title,Preferred Forename,Legal Surname,Email Address,Staff Role,Employment Start Date\r\n\
    A1,Ms,Nia,Newcomer,nia@stmarys.example,Teacher,01/09/2026\r\n\
    G1,Mr,Gwyn,Jones,gwyn@stmarys.example,Governor,\r\n";

fn bootstrap(dir: &Path) -> String {
    let url = format!("sqlite://{}/u.sqlite3", dir.display());
    let out = run(&[
        "bootstrap",
        "--database-url",
        &url,
        "--keys-dir",
        dir.join("keys").to_str().unwrap(),
        "--organisation",
        "Sefton Council",
        "--school",
        "St Mary's Primary",
        "--slug",
        "st-marys",
        "--headteacher-name",
        "Ann Head",
        "--headteacher-email",
        "ann@stmarys.example",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    url
}

fn import(url: &str, file: &Path, dry_run: bool) -> std::process::Output {
    let mut args = vec![
        "import",
        "people",
        "--database-url",
        url,
        file.to_str().unwrap(),
    ];
    if dry_run {
        args.push("--dry-run");
    }
    run(&args)
}

#[test]
fn a_dry_run_lists_the_joiners_and_changes_nothing_and_applying_adds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let url = bootstrap(tmp.path());
    let file = tmp.path().join("staff.csv");
    std::fs::write(&file, GOOD).unwrap();
    for _ in 0..2 {
        let out = import(&url, &file, true);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
        assert!(text.contains("2 joining, 0 changing, 0 leaving"), "{text}");
        assert!(
            text.contains("+ Nia Newcomer <nia@stmarys.example>"),
            "{text}"
        );
        assert!(text.contains("Dry run: nothing was changed"), "{text}");
    }
    let out = import(&url, &file, false);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("Applied: 2 joined, 0 changed, 0 left"),
        "{text}"
    );
    let again = stdout(&import(&url, &file, true));
    assert!(
        again.contains("0 joining, 0 changing, 0 leaving, 2 unchanged"),
        "{again}"
    );
}

#[test]
fn each_malformed_file_is_refused_with_its_line_and_column_and_nothing_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let url = bootstrap(tmp.path());
    let header = "Staff Code,Forename,Surname,Email Address,Staff Role\n";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a bad email",
            format!("{header}A1,Nia,Newcomer,nia@stmarys.example,Teacher\nA2,Jo,Brown,jo.stmarys.example,Teacher\n").into_bytes(),
            "line 3, Email Address:",
        ),
        (
            "a duplicate person",
            format!("{header}A1,Nia,Newcomer,nia@stmarys.example,Teacher\nA2,Nia,Newcomer,NIA@stmarys.example,Teacher\n").into_bytes(),
            "line 3, Email Address: nia@stmarys.example is already on line 2",
        ),
        (
            "an unknown role",
            format!("{header}A1,Nia,Newcomer,nia@stmarys.example,Caretaker\n").into_bytes(),
            "line 2, Staff Role: unknown role \"Caretaker\"",
        ),
        (
            "a missing column",
            b"Staff Code,Forename,Surname,Staff Role\nA1,Nia,Newcomer,Teacher\n".to_vec(),
            "line 1, email:",
        ),
        (
            "a file that is not UTF-8",
            [header.as_bytes(), b"A1,Zo\xEB,Newcomer,zoe@stmarys.example,Teacher\n"].concat(),
            "line 2, Forename: this is not UTF-8",
        ),
        ("an empty file", Vec::new(), "line 1, header: the file is empty"),
    ];
    for (what, bytes, expected) in cases {
        let file = tmp.path().join("bad.csv");
        std::fs::write(&file, bytes).unwrap();
        let out = import(&url, &file, false);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains("nothing was changed"), "{what}");
    }
    // Nothing was applied: the good file still has everyone to add.
    let good = tmp.path().join("good.csv");
    std::fs::write(&good, GOOD).unwrap();
    let text = stdout(&import(&url, &good, true));
    assert!(text.contains("2 joining"), "{text}");
}

fn import_pupils(url: &str, file: &Path, dry_run: bool) -> std::process::Output {
    let mut args = vec![
        "import",
        "pupils",
        "--database-url",
        url,
        file.to_str().unwrap(),
    ];
    if dry_run {
        args.push("--dry-run");
    }
    run(&args)
}

const PUPILS: &str = "UPN,Legal Forename,Legal Surname,NC Year,Reg Group,Contact 1 Name,Contact 1 Email\r\n\
    A123,Amira,Khan,Year 4,4K,Sara Khan,sara@home.example\r\n\
    B456,Ben,Jones,Reception,RJ,Tom Jones,tom@home.example\r\n";

#[test]
fn pupils_are_imported_for_the_consent_register_and_verify_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let url = bootstrap(tmp.path());
    let file = tmp.path().join("pupils.csv");
    std::fs::write(&file, PUPILS).unwrap();
    let dry = import_pupils(&url, &file, true);
    let text = stdout(&dry);
    assert_eq!(dry.status.code(), Some(0), "{text}{}", stderr(&dry));
    assert!(
        text.contains("2 joining, 0 changing, 0 leaving the roll"),
        "{text}"
    );
    assert!(text.contains("+ Amira Khan (year 4, line 2)"), "{text}");
    assert!(text.contains("Dry run: nothing was changed"), "{text}");
    let out = import_pupils(&url, &file, false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Applied: 2 joined"),
        "{}",
        stdout(&out)
    );
    let again = stdout(&import_pupils(&url, &file, true));
    assert!(
        again.contains("0 joining, 0 changing, 0 leaving the roll, 2 unchanged"),
        "{again}"
    );
    let verify = run(&[
        "verify",
        "--database-url",
        &url,
        "--keys-dir",
        tmp.path().join("keys").to_str().unwrap(),
    ]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
}

#[test]
fn each_malformed_pupil_file_is_refused_with_its_line_and_column_and_nothing_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let url = bootstrap(tmp.path());
    let header = "UPN,Forename,Surname,Year,Contact 1 Name,Contact 1 Email\n";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a year group out of range",
            format!("{header}A1,Amira,Khan,Year 14,,\n").into_bytes(),
            "line 2, Year: \"Year 14\" is not a year group",
        ),
        (
            "a contact's bad email",
            format!("{header}A1,Amira,Khan,4,Sara Khan,sara.home.example\n").into_bytes(),
            "line 2, Contact 1 Email:",
        ),
        (
            "a contact without an email",
            format!("{header}A1,Amira,Khan,4,Sara Khan,\n").into_bytes(),
            "line 2, Contact 1 Email: a contact needs an email address",
        ),
        (
            "the same pupil twice",
            format!("{header}A1,Amira,Khan,4,,\nA1,Amira,Khan,4,,\n").into_bytes(),
            "line 3, UPN: A1 is already on line 2",
        ),
        (
            "an empty pupil id",
            format!("{header},Amira,Khan,4,,\n").into_bytes(),
            "line 2, UPN: the pupil id is empty",
        ),
        (
            "a missing year column",
            b"UPN,Forename,Surname\nA1,Amira,Khan\n".to_vec(),
            "line 1, year group: the header has no year group column",
        ),
        (
            "half a contact's columns",
            b"UPN,Forename,Surname,Year,Contact 1 Name\nA1,Amira,Khan,4,Sara\n".to_vec(),
            "line 1, contact 1: contact 1 needs both a name column and an email column",
        ),
        (
            "a file that is not UTF-8",
            [header.as_bytes(), b"A1,Zo\xEB,Khan,4,,\n"].concat(),
            "line 2, Forename: this is not UTF-8",
        ),
        (
            "an unclosed quote",
            format!("{header}A1,\"Amira,Khan,4,,\n").into_bytes(),
            "line 2",
        ),
        (
            "a header and no pupils",
            header.as_bytes().to_vec(),
            "line 2, rows: the file lists no pupils",
        ),
        (
            "an empty file",
            Vec::new(),
            "line 1, header: the file is empty",
        ),
    ];
    for (what, bytes, expected) in cases {
        let file = tmp.path().join("bad.csv");
        std::fs::write(&file, bytes).unwrap();
        let out = import_pupils(&url, &file, false);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains("nothing was changed"), "{what}");
    }
    let good = tmp.path().join("good.csv");
    std::fs::write(&good, PUPILS).unwrap();
    let text = stdout(&import_pupils(&url, &good, true));
    assert!(text.contains("2 joining"), "{text}");
}
