//! Pupils from the school's MIS, for the image consent register: a CSV of pupils parsed
//! into checked rows, and the plan that brings the register in line with it (joiners,
//! changes such as the new school year's year groups, leavers). Pure: bytes in, a plan or
//! errors naming the line and column out. Read like the staff roster ([`crate::roster`]),
//! with the same limits on size and errors.
//!
//! Columns (header names matched ignoring case, spaces and punctuation; other columns are
//! ignored, so a SIMS pupil export can be used as it is):
//!
//! | field | required | accepted headers |
//! |---|---|---|
//! | pupil id | yes | `UPN`, `Unique Pupil Number`, `Admission Number`, `Adno`, `MIS ID`, `Pupil ID`, `ID` |
//! | forename | yes | `Preferred Forename`, `Forename`, `First Name`, `Legal Forename`, `Given Name` |
//! | surname | yes | `Preferred Surname`, `Surname`, `Last Name`, `Legal Surname`, `Family Name` |
//! | year group | yes | `Year`, `Year Group`, `NC Year`, `Curriculum Year` — `N`/`Nursery`, `R`/`Reception`, `1`–`13`, or `Year 5` |
//! | class | no | `Class`, `Form`, `Reg Group`, `Registration Group`, `Tutor Group` |
//! | contacts | no | `Contact 1 Name` and `Contact 1 Email` (also `Parent 1 …`, `Primary Contact …`), and the same for contact 2 |
//!
//! The file lists every pupil on roll: a pupil of the register missing from it is a
//! leaver, kept (with their consent history) but no longer offered to a publication check.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

use crate::ids::PupilId;
use crate::person::{Email, FullName};
use crate::roster::file::{LineCounter, cell, csv_error, message_of, normalise, not_utf8};
use crate::roster::{MAX_ERRORS, MAX_FILE_BYTES, MisId, RosterError};

/// The most pupils one file may list (the largest schools have about 3,000).
pub const MAX_PUPILS: usize = 20_000;
/// A parent or carer who may be asked for consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Contact {
    pub name: FullName,
    pub email: Email,
}

/// One checked row of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PupilRow {
    pub line: u64,
    pub mis_id: MisId,
    pub full_name: FullName,
    /// `N`, `R`, or `1` to `13`.
    pub year_group: String,
    pub class: Option<String>,
    pub contacts: Vec<Contact>,
}

/// A whole file, every row checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilFile {
    pub rows: Vec<PupilRow>,
    /// SHA-256 of the file's bytes, for the record.
    pub sha256: String,
}

/// A pupil as the register holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pupil {
    pub id: PupilId,
    pub mis_id: MisId,
    pub full_name: FullName,
    pub year_group: String,
    pub class: Option<String>,
    pub contacts: Vec<Contact>,
    pub on_roll: bool,
}

/// The fingerprint of a pupil's details that the ledger keeps instead of the details
/// themselves: SHA-256 of the pupil's salt and their details as canonical JSON. The
/// ledger is kept for ever; a child's name and their parents' addresses are not put in it,
/// yet a change to them behind Undersign's back is still caught.
pub fn details_sha256(
    salt: &str,
    mis_id: &MisId,
    full_name: &FullName,
    year_group: &str,
    class: Option<&str>,
    contacts: &[Contact],
) -> String {
    #[derive(Serialize)]
    struct Details<'a> {
        mis_id: &'a MisId,
        full_name: &'a FullName,
        year_group: &'a str,
        class: Option<&'a str>,
        contacts: &'a [Contact],
    }
    let details = serde_json::to_string(&Details {
        mis_id,
        full_name,
        year_group,
        class,
        contacts,
    })
    .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b"\n");
    h.update(details.as_bytes());
    hex::encode(h.finalize())
}

/// The salt of a pupil's fingerprint, derived from a random `seed` given once per import
/// and the pupil's id in the MIS, as hex.
pub fn salt(seed: &[u8; 32], mis_id: &MisId) -> String {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(mis_id.as_str().as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A year group as written in an MIS: `N`, `R`, or `1`–`13`.
pub fn parse_year_group(raw: &str) -> Result<String, String> {
    let n = normalise(raw);
    let n = n.strip_prefix("year").unwrap_or(&n);
    let n = n.strip_prefix("yr").unwrap_or(n);
    let n = n.strip_prefix('y').unwrap_or(n);
    match n {
        "n" | "nursery" | "n1" | "n2" => Ok("N".into()),
        "r" | "reception" | "rec" => Ok("R".into()),
        _ => match n.parse::<u8>() {
            Ok(y @ 1..=13) => Ok(y.to_string()),
            _ => Err(format!(
                "{:?} is not a year group; write N, R or 1 to 13",
                raw.trim()
            )),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    MisId,
    Forename,
    Surname,
    Year,
    Class,
    ContactName(u8),
    ContactEmail(u8),
}

const ALIASES: &[(Column, &[&str])] = &[
    (
        Column::MisId,
        &[
            "upn",
            "uniquepupilnumber",
            "admissionnumber",
            "adno",
            "misid",
            "pupilid",
            "id",
        ],
    ),
    (
        Column::Forename,
        &[
            "preferredforename",
            "forename",
            "firstname",
            "legalforename",
            "givenname",
        ],
    ),
    (
        Column::Surname,
        &[
            "preferredsurname",
            "surname",
            "lastname",
            "legalsurname",
            "familyname",
        ],
    ),
    (
        Column::Year,
        &["year", "yeargroup", "ncyear", "curriculumyear", "yr"],
    ),
    (
        Column::Class,
        &[
            "class",
            "form",
            "reggroup",
            "registrationgroup",
            "tutorgroup",
        ],
    ),
    (
        Column::ContactName(1),
        &["contact1name", "parent1name", "primarycontactname"],
    ),
    (
        Column::ContactEmail(1),
        &["contact1email", "parent1email", "primarycontactemail"],
    ),
    (
        Column::ContactName(2),
        &["contact2name", "parent2name", "secondarycontactname"],
    ),
    (
        Column::ContactEmail(2),
        &["contact2email", "parent2email", "secondarycontactemail"],
    ),
];

fn layout(headers: &[String]) -> HashMap<Column, (usize, String)> {
    let normalised: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
    let mut columns = HashMap::new();
    for (column, aliases) in ALIASES {
        if let Some(i) = aliases
            .iter()
            .find_map(|a| normalised.iter().position(|h| h == a))
        {
            columns.insert(*column, (i, headers[i].trim().to_string()));
        }
    }
    columns
}

/// Parses and checks a pupil file. Every problem found is returned (up to
/// [`MAX_ERRORS`]), each naming its line and column; a file with any problem gives no rows.
pub fn parse(bytes: &[u8]) -> Result<PupilFile, Vec<RosterError>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(vec![RosterError::new(
            1,
            "file",
            format!(
                "the file is {} MB; a pupil file may be at most {} MB",
                bytes.len().div_ceil(1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )]);
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(vec![csv_error(body, &e)]),
        None => {
            return Err(vec![RosterError::new(
                1,
                "header",
                "the file is empty; the first line must name the columns (e.g. UPN, Forename, Surname, Year)",
            )]);
        }
    };
    let mut headers = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        match std::str::from_utf8(cell) {
            Ok(h) => headers.push(h.to_string()),
            Err(_) => return Err(vec![not_utf8(1, &format!("column {}", i + 1))]),
        }
    }
    let columns = layout(&headers);
    let mut errors = Vec::new();
    for (column, field, hint) in [
        (Column::MisId, "pupil id", "UPN or Admission Number"),
        (Column::Forename, "forename", "Forename"),
        (Column::Surname, "surname", "Surname"),
        (Column::Year, "year group", "Year"),
    ] {
        if !columns.contains_key(&column) {
            errors.push(RosterError::new(
                1,
                field,
                format!("the header has no {field} column (name it {hint})"),
            ));
        }
    }
    for n in 1..=2 {
        if columns.contains_key(&Column::ContactName(n))
            != columns.contains_key(&Column::ContactEmail(n))
        {
            errors.push(RosterError::new(
                1,
                format!("contact {n}"),
                format!("contact {n} needs both a name column and an email column"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut rows: Vec<PupilRow> = Vec::new();
    let mut lines = LineCounter::default();
    let mut lines_by_id: HashMap<MisId, u64> = HashMap::new();
    for record in records {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(csv_error(body, &e));
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |p| lines.line_at(body, p.byte()));
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if rows.len() + errors.len() >= MAX_PUPILS {
            errors.push(RosterError::new(
                line,
                "file",
                format!("a file may list at most {MAX_PUPILS} pupils"),
            ));
            break;
        }
        let mut row_errors = Vec::new();
        let text = |column: Column, errs: &mut Vec<RosterError>| {
            columns
                .get(&column)
                .and_then(|c| cell(&record, c, line, errs).map(|v| (v, c.1.clone())))
        };
        let mis =
            text(Column::MisId, &mut row_errors).and_then(|(raw, header)| {
                match MisId::parse(&raw) {
                    Ok(Some(id)) => Some(id),
                    Ok(None) => {
                        row_errors.push(RosterError::new(line, header, "the pupil id is empty"));
                        None
                    }
                    Err(m) => {
                        row_errors.push(RosterError::new(line, header, m));
                        None
                    }
                }
            });
        let first = text(Column::Forename, &mut row_errors);
        let last = text(Column::Surname, &mut row_errors);
        let full_name = match (first, last) {
            (Some((f, fh)), Some((l, lh))) => {
                FullName::parse(&format!("{} {}", f.trim(), l.trim()))
                    .map_err(|e| {
                        row_errors.push(RosterError::new(
                            line,
                            format!("{fh} and {lh}"),
                            message_of(&e),
                        ))
                    })
                    .ok()
            }
            _ => None,
        };
        let year_group = text(Column::Year, &mut row_errors).and_then(|(raw, header)| {
            parse_year_group(&raw)
                .map_err(|m| row_errors.push(RosterError::new(line, header, m)))
                .ok()
        });
        let class = text(Column::Class, &mut row_errors).and_then(|(raw, header)| {
            let v = raw.trim();
            if v.chars().count() > 64 || v.chars().any(char::is_control) {
                row_errors.push(RosterError::new(
                    line,
                    header,
                    "a class is at most 64 characters",
                ));
                None
            } else {
                Some(v.to_owned()).filter(|v| !v.is_empty())
            }
        });
        let mut contacts: Vec<Contact> = Vec::new();
        for n in 1..=2u8 {
            let name = text(Column::ContactName(n), &mut row_errors);
            let email = text(Column::ContactEmail(n), &mut row_errors);
            let (Some((name, nh)), Some((email, eh))) = (name, email) else {
                continue;
            };
            match (name.trim().is_empty(), email.trim().is_empty()) {
                (true, true) => continue,
                (false, true) => {
                    row_errors.push(RosterError::new(
                        line,
                        eh,
                        "a contact needs an email address to be asked for consent",
                    ));
                    continue;
                }
                _ => {}
            }
            let name = FullName::parse(if name.trim().is_empty() {
                email.trim()
            } else {
                name.trim()
            })
            .map_err(|e| row_errors.push(RosterError::new(line, &nh, message_of(&e))))
            .ok();
            let email = Email::parse(&email)
                .map_err(|e| row_errors.push(RosterError::new(line, &eh, message_of(&e))))
                .ok();
            if let (Some(name), Some(email)) = (name, email)
                && !contacts.iter().any(|c| c.email == email)
            {
                contacts.push(Contact { name, email });
            }
        }
        if let Some(id) = &mis
            && let Some(first) = lines_by_id.get(id)
            && let Some(c) = columns.get(&Column::MisId)
        {
            row_errors.push(RosterError::new(
                line,
                &c.1,
                format!("{id} is already on line {first}: each pupil once"),
            ));
        }
        // Recorded even when this row has other problems, so that a later row with the
        // same id is named too.
        if let Some(id) = &mis {
            lines_by_id.entry(id.clone()).or_insert(line);
        }
        match (mis, full_name, year_group, row_errors.is_empty()) {
            (Some(mis_id), Some(full_name), Some(year_group), true) => {
                rows.push(PupilRow {
                    line,
                    mis_id,
                    full_name,
                    year_group,
                    class,
                    contacts,
                });
            }
            _ => errors.extend(row_errors),
        }
    }
    errors.truncate(MAX_ERRORS);
    if !errors.is_empty() {
        return Err(errors);
    }
    if rows.is_empty() {
        return Err(vec![RosterError::new(
            2,
            "rows",
            "the file lists no pupils after its header; an empty file would mark every pupil as left",
        )]);
    }
    Ok(PupilFile { rows, sha256 })
}

/// What applying a file does to the register.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PupilPlan {
    pub joiners: Vec<PupilRow>,
    /// Pupils whose name, year group, class or contacts change (a returning leaver too).
    pub changes: Vec<(PupilId, PupilRow)>,
    pub leavers: Vec<PupilId>,
    pub unchanged: usize,
}

impl PupilPlan {
    /// A digest of the plan, to check that the plan applied is the one shown.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(
            serde_json::to_string(self).unwrap_or_default().as_bytes(),
        ))
    }

    pub fn is_empty(&self) -> bool {
        self.joiners.is_empty() && self.changes.is_empty() && self.leavers.is_empty()
    }
}

/// Works out what applying `file` to the register (`existing`, leavers included) does.
/// A pupil is matched by their id in the MIS.
pub fn plan(file: &PupilFile, existing: &[Pupil]) -> PupilPlan {
    let by_id: HashMap<&MisId, &Pupil> = existing.iter().map(|p| (&p.mis_id, p)).collect();
    let mut seen = BTreeSet::new();
    let mut plan = PupilPlan::default();
    for row in &file.rows {
        match by_id.get(&row.mis_id) {
            None => plan.joiners.push(row.clone()),
            Some(p) => {
                seen.insert(p.id);
                if p.on_roll
                    && p.full_name == row.full_name
                    && p.year_group == row.year_group
                    && p.class == row.class
                    && p.contacts == row.contacts
                {
                    plan.unchanged += 1;
                } else {
                    plan.changes.push((p.id, row.clone()));
                }
            }
        }
    }
    plan.leavers = existing
        .iter()
        .filter(|p| p.on_roll && !seen.contains(&p.id))
        .map(|p| p.id)
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(csv: &str) -> Vec<String> {
        parse(csv.as_bytes())
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    const GOOD: &str = "UPN,Forename,Surname,Year,Reg Group,Contact 1 Name,Contact 1 Email,Contact 2 Name,Contact 2 Email\r\n\
A123456789012,Amira,Khan,Year 5,5K,Sara Khan,sara@home.test,,\r\n\
B123456789012,Ben,Jones,R,RJ,Tom Jones,tom@home.test,Ann Jones,ann@home.test\r\n";

    #[test]
    fn a_sims_style_export_is_read_with_year_groups_and_contacts() {
        let file = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 2);
        let amira = &file.rows[0];
        assert_eq!(
            (
                amira.line,
                amira.year_group.as_str(),
                amira.class.as_deref()
            ),
            (2, "5", Some("5K"))
        );
        assert_eq!(amira.contacts.len(), 1);
        assert_eq!(file.rows[1].year_group, "R");
        assert_eq!(file.rows[1].contacts.len(), 2);
    }

    #[test]
    fn every_problem_names_its_line_and_column() {
        assert_eq!(
            errors("Forename,Surname\n"),
            [
                "line 1, pupil id: the header has no pupil id column (name it UPN or Admission Number)",
                "line 1, year group: the header has no year group column (name it Year)"
            ]
        );
        let found = errors(
            "UPN,Forename,Surname,Year,Contact 1 Name,Contact 1 Email\n\
             A1,Amira,Khan,Year 15,,\n\
             ,Ben,Jones,R,,\n\
             A1,Cara,Lee,3,Dan Lee,not-an-email\n",
        );
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("line 2, Year: "), "{found:?}");
        assert!(found[1].starts_with("line 3, UPN: "), "{found:?}");
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("line 4, Contact 1 Email: ")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|e| e.contains("A1 is already on line 2")),
            "{found:?}"
        );
        assert_eq!(
            errors("UPN,Forename,Surname,Year\n"),
            [
                "line 2, rows: the file lists no pupils after its header; an empty file would mark every pupil as left"
            ]
        );
        assert_eq!(
            errors("UPN,Forename,Surname,Year,Contact 1 Name\nA1,A,B,1,C\n"),
            ["line 1, contact 1: contact 1 needs both a name column and an email column"]
        );
    }

    #[test]
    fn the_new_school_year_moves_pupils_up_and_marks_leavers() {
        let file = parse(GOOD.as_bytes()).unwrap();
        let existing = vec![
            Pupil {
                id: PupilId(1),
                mis_id: MisId::trusted("A123456789012".into()),
                full_name: FullName::parse("Amira Khan").unwrap(),
                year_group: "4".into(),
                class: Some("4K".into()),
                contacts: file.rows[0].contacts.clone(),
                on_roll: true,
            },
            Pupil {
                id: PupilId(2),
                mis_id: MisId::trusted("C1".into()),
                full_name: FullName::parse("Cara Lee").unwrap(),
                year_group: "6".into(),
                class: None,
                contacts: Vec::new(),
                on_roll: true,
            },
        ];
        let p = plan(&file, &existing);
        assert_eq!(p.joiners.len(), 1);
        assert_eq!(p.joiners[0].full_name.to_string(), "Ben Jones");
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].1.year_group, "5");
        assert_eq!(p.leavers, [PupilId(2)]);
        assert_eq!(p.unchanged, 0);
    }

    #[test]
    fn year_groups_are_read_as_mis_exports_write_them() {
        for (raw, want) in [
            ("Year 5", "5"),
            ("Y5", "5"),
            ("05", "5"),
            ("Reception", "R"),
            ("N2", "N"),
            ("13", "13"),
        ] {
            assert_eq!(parse_year_group(raw).unwrap(), want, "{raw}");
        }
        assert!(parse_year_group("14").is_err());
        assert!(parse_year_group("Year").is_err());
    }
}
