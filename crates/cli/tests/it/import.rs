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
