//! The roster from the school's MIS (e.g. SIMS): a CSV of staff and governors parsed into
//! checked rows, and the plan that brings the school's people in line with it (joiners,
//! changes, leavers). Pure: bytes in, a plan or errors naming the line and field out.
//!
//! Columns (header names are matched ignoring case, spaces and punctuation; other columns
//! are ignored, so a SIMS staff export can be used as it is):
//!
//! | field | required | accepted headers |
//! |---|---|---|
//! | MIS id | no | `MIS ID`, `External ID`, `Staff Code`, `Staff ID`, `Person ID`, `Employee Number`, `Payroll Number`, `ID` |
//! | name | yes | `Full Name`, `Name`, `Staff Name`, or a forename column (`Preferred Forename`, `Forename`, `First Name`, `Legal Forename`, `Given Name`) with a surname column (`Preferred Surname`, `Surname`, `Last Name`, `Legal Surname`, `Family Name`) |
//! | email | yes | `Email`, `Email Address`, `Work Email`, `School Email`, `Email (Work)` |
//! | roles | yes | `Roles`, `Role`, `Staff Role`, `Staff Type` — one or more of Undersign's roles (or `teacher`, `teaching assistant`, `support staff`, `head teacher`), separated by `;`, `|`, `/` or `,` |
//! | start date | no | `Start Date`, `Employment Start Date`, `Contract Start Date`, `Date of Arrival` — `YYYY-MM-DD` or `DD/MM/YYYY` |
//!
//! Matching: a row is the existing person with the same MIS id, else with the same email.
//! Leavers are the active people the roster keeps (those added or matched by an earlier
//! import) who are missing from the file; people added by hand and never imported are left
//! alone. The file lists each person's roles in full: what it says replaces what is stored.

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::ids::PersonId;
use crate::person::{Email, FullName, PersonStatus, Role, Roles};

/// The most rows one file may have.
pub const MAX_ROWS: usize = 20_000;
/// Parsing stops collecting errors after this many.
pub const MAX_ERRORS: usize = 100;

/// One problem with the file: the line (1 is the header) and the column it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}, {field}: {message}")]
pub struct RosterError {
    pub line: u64,
    /// The column as headed in the file, or the field's name when the column is missing.
    pub field: String,
    pub message: String,
}

impl RosterError {
    fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A person's identifier in the MIS (e.g. a SIMS staff code): 1–64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MisId(String);

impl MisId {
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if value.chars().count() > 64 || value.chars().any(char::is_control) {
            return Err("an MIS id is at most 64 characters, without control characters".into());
        }
        Ok(Some(Self(value.to_string())))
    }

    /// Rebuilds an id this system stored after parsing it.
    pub fn trusted(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MisId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One checked row of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterRow {
    pub line: u64,
    pub mis_id: Option<MisId>,
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub start_date: Option<NaiveDate>,
}

/// A whole file, every row checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub rows: Vec<RosterRow>,
    /// SHA-256 of the file's bytes, for the record.
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    MisId,
    FullName,
    Forename,
    Surname,
    Email,
    Roles,
    StartDate,
}

/// Accepted headers, normalised (lower case, letters and digits only), in order of
/// preference within each column.
const ALIASES: &[(Column, &[&str])] = &[
    (
        Column::MisId,
        &[
            "misid",
            "externalid",
            "staffcode",
            "staffid",
            "personid",
            "employeenumber",
            "payrollnumber",
            "id",
        ],
    ),
    (Column::FullName, &["fullname", "name", "staffname"]),
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
        Column::Email,
        &[
            "email",
            "emailaddress",
            "workemail",
            "schoolemail",
            "emailwork",
        ],
    ),
    (Column::Roles, &["roles", "role", "staffrole", "stafftype"]),
    (
        Column::StartDate,
        &[
            "startdate",
            "employmentstartdate",
            "contractstartdate",
            "dateofarrival",
        ],
    ),
];

fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Where each known column is, with its header as written.
struct Layout {
    columns: HashMap<ColumnKey, (usize, String)>,
}

type ColumnKey = u8;

fn key(c: Column) -> ColumnKey {
    c as u8
}

impl Layout {
    fn find(headers: &[String]) -> Self {
        let normalised: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
        let mut columns = HashMap::new();
        for (column, aliases) in ALIASES {
            'aliases: for alias in *aliases {
                if let Some(i) = normalised.iter().position(|h| h == alias) {
                    columns.insert(key(*column), (i, headers[i].trim().to_string()));
                    break 'aliases;
                }
            }
        }
        Self { columns }
    }

    fn get(&self, c: Column) -> Option<&(usize, String)> {
        self.columns.get(&key(c))
    }
}

/// Role names a MIS export uses for people who sign as staff, besides Undersign's own.
fn parse_role(raw: &str) -> Option<Role> {
    if let Ok(role) = Role::parse(raw) {
        return Some(role);
    }
    match normalise(raw).as_str() {
        "teacher" | "teachingstaff" | "teachingassistant" | "ta" | "supportstaff" | "support"
        | "nonteachingstaff" | "coversupervisor" | "staffmember" => Some(Role::Staff),
        "headteacher" | "head" | "principal" => Some(Role::Headteacher),
        "schooladministrator" | "admin" => Some(Role::SchoolAdministrator),
        "leadershipteam" | "slt" | "seniorleadershipteam" => Some(Role::LeadershipTeam),
        "governor" | "governors" => Some(Role::Governor),
        _ => None,
    }
}

fn parse_roles(raw: &str) -> Result<Roles, String> {
    let mut roles = Roles::new();
    for part in raw
        .split([';', '|', '/', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match parse_role(part) {
            Some(Role::TrustAdministrator) => {
                return Err(
                    "trust administrator is not a school role and cannot be imported".into(),
                );
            }
            Some(role) => {
                roles.insert(role);
            }
            None => {
                return Err(format!(
                    "unknown role {part:?}; use one of: {}",
                    Role::ALL
                        .iter()
                        .filter(|r| **r != Role::TrustAdministrator)
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    if roles.is_empty() {
        return Err("give at least one role, e.g. staff or governor".into());
    }
    Ok(roles)
}

fn parse_date(raw: &str) -> Result<Option<NaiveDate>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%d/%m/%Y"))
        .map(Some)
        .map_err(|_| format!("{value:?} is not a date; write YYYY-MM-DD or DD/MM/YYYY"))
}

/// Parses and checks a roster file. Every problem found is returned (up to
/// [`MAX_ERRORS`]), each naming its line and column; a file with any problem gives no rows.
pub fn parse(bytes: &[u8]) -> Result<Roster, Vec<RosterError>> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![RosterError::new(
            1,
            "header",
            "the file is empty; the first line must name the columns (e.g. Staff Code, Forename, Surname, Email, Role)",
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(vec![csv_error(body, &e)]),
        None => {
            return Err(vec![RosterError::new(1, "header", "the file is empty")]);
        }
    };
    let mut headers = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        match std::str::from_utf8(cell) {
            Ok(h) => headers.push(h.to_string()),
            Err(_) => {
                return Err(vec![not_utf8(1, &format!("column {}", i + 1))]);
            }
        }
    }
    let layout = Layout::find(&headers);
    let mut errors = Vec::new();
    if layout.get(Column::Email).is_none() {
        errors.push(RosterError::new(
            1,
            "email",
            "the header has no email column (name it Email or Email Address)",
        ));
    }
    if layout.get(Column::Roles).is_none() {
        errors.push(RosterError::new(
            1,
            "roles",
            "the header has no roles column (name it Role or Roles)",
        ));
    }
    let name_columns = match (
        layout.get(Column::FullName),
        layout.get(Column::Forename),
        layout.get(Column::Surname),
    ) {
        (_, Some(f), Some(s)) => Some(NameColumns::Split(f.clone(), s.clone())),
        (Some(n), _, _) => Some(NameColumns::Full(n.clone())),
        _ => {
            errors.push(RosterError::new(
                1,
                "name",
                "the header has no name columns (Full Name, or Forename and Surname)",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut rows: Vec<RosterRow> = Vec::new();
    let mut lines_by_email: HashMap<Email, u64> = HashMap::new();
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
        let line = record.position().map_or(0, |p| line_at(body, p.byte()));
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if rows.len() + errors.len() >= MAX_ROWS {
            errors.push(RosterError::new(
                line,
                "file",
                format!("a file may list at most {MAX_ROWS} people"),
            ));
            break;
        }
        let mut row_errors = Vec::new();
        let mis = layout.get(Column::MisId).and_then(|c| {
            let raw = cell(&record, c, line, &mut row_errors)?;
            MisId::parse(&raw)
                .map_err(|m| row_errors.push(RosterError::new(line, &c.1, m)))
                .ok()
        });
        let name = name_columns.as_ref().and_then(|columns| {
            let (raw, header) = match columns {
                NameColumns::Full(c) => (cell(&record, c, line, &mut row_errors)?, c.1.clone()),
                NameColumns::Split(f, s) => {
                    let first = cell(&record, f, line, &mut row_errors)?;
                    let last = cell(&record, s, line, &mut row_errors)?;
                    (format!("{first} {last}"), format!("{} and {}", f.1, s.1))
                }
            };
            FullName::parse(&raw)
                .map_err(|e| row_errors.push(RosterError::new(line, header, message_of(&e))))
                .ok()
        });
        let email = layout.get(Column::Email).and_then(|c| {
            let raw = cell(&record, c, line, &mut row_errors)?;
            Email::parse(&raw)
                .map_err(|e| row_errors.push(RosterError::new(line, &c.1, message_of(&e))))
                .ok()
        });
        let roles = layout.get(Column::Roles).and_then(|c| {
            let raw = cell(&record, c, line, &mut row_errors)?;
            parse_roles(&raw)
                .map_err(|m| row_errors.push(RosterError::new(line, &c.1, m)))
                .ok()
        });
        let start_date = layout.get(Column::StartDate).and_then(|c| {
            let raw = cell(&record, c, line, &mut row_errors)?;
            parse_date(&raw)
                .map_err(|m| row_errors.push(RosterError::new(line, &c.1, m)))
                .ok()
                .flatten()
        });
        if let Some(email) = &email
            && let Some(first) = lines_by_email.get(email)
            && let Some(c) = layout.get(Column::Email)
        {
            row_errors.push(RosterError::new(
                line,
                &c.1,
                format!("{email} is already on line {first}: each person once"),
            ));
        }
        if let Some(Some(id)) = &mis
            && let Some(first) = lines_by_id.get(id)
            && let Some(c) = layout.get(Column::MisId)
        {
            row_errors.push(RosterError::new(
                line,
                &c.1,
                format!("{id} is already on line {first}: each person once"),
            ));
        }
        match (name, email, roles, row_errors.is_empty()) {
            (Some(full_name), Some(email), Some(roles), true) => {
                let mis_id = mis.flatten();
                lines_by_email.insert(email.clone(), line);
                if let Some(id) = &mis_id {
                    lines_by_id.insert(id.clone(), line);
                }
                rows.push(RosterRow {
                    line,
                    mis_id,
                    full_name,
                    email,
                    roles,
                    start_date,
                });
            }
            _ => {
                // Keep later duplicates detectable even when this row had other problems.
                errors.extend(row_errors);
            }
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
            "the file lists nobody after its header; an empty roster would mark everyone as left",
        )]);
    }
    Ok(Roster { rows, sha256 })
}

/// The line a record starting at `byte` is on. (The CSV reader's own line count is one
/// short on files with CRLF line ends, as SIMS and Excel write them.)
fn line_at(body: &[u8], byte: u64) -> u64 {
    let mut at = usize::try_from(byte).unwrap_or(usize::MAX).min(body.len());
    while at < body.len() && matches!(body[at], b'\r' | b'\n') {
        at += 1;
    }
    1 + body[..at].iter().filter(|b| **b == b'\n').count() as u64
}

/// The text of one cell, or an error naming its line and column if it is not UTF-8.
fn cell(
    record: &csv::ByteRecord,
    (index, header): &(usize, String),
    line: u64,
    errors: &mut Vec<RosterError>,
) -> Option<String> {
    match std::str::from_utf8(record.get(*index).unwrap_or_default()) {
        Ok(s) => Some(s.to_string()),
        Err(_) => {
            errors.push(not_utf8(line, header));
            None
        }
    }
}

enum NameColumns {
    Full((usize, String)),
    Split((usize, String), (usize, String)),
}

fn message_of(e: &crate::person::InputError) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((_, m)) => m.to_string(),
        None => text,
    }
}

fn not_utf8(line: u64, field: &str) -> RosterError {
    RosterError::new(
        line,
        field,
        "this is not UTF-8 text; save the file as \"CSV UTF-8\" and try again",
    )
}

fn csv_error(body: &[u8], e: &csv::Error) -> RosterError {
    let line = e.position().map_or(0, |p| line_at(body, p.byte()));
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => not_utf8(line, "row"),
        _ => RosterError::new(line, "row", format!("this line cannot be read as CSV: {e}")),
    }
}

/// A person as the roster import sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingPerson {
    pub id: PersonId,
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub status: PersonStatus,
    pub mis_id: Option<MisId>,
    pub start_date: Option<NaiveDate>,
    /// Added or matched by an import: the roster decides whether they have left.
    pub on_roster: bool,
}

/// One field that an import changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// An existing person the file changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterUpdate {
    pub person: PersonId,
    pub row: RosterRow,
    pub changes: Vec<FieldChange>,
}

/// What applying a file does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterPlan {
    pub joiners: Vec<RosterRow>,
    pub updates: Vec<RosterUpdate>,
    pub leavers: Vec<ExistingPerson>,
    /// Rows that match a person exactly.
    pub unchanged: usize,
}

impl RosterPlan {
    pub fn is_empty(&self) -> bool {
        self.joiners.is_empty() && self.updates.is_empty() && self.leavers.is_empty()
    }

    /// How many writes applying it takes (for progress).
    pub fn steps(&self) -> u64 {
        (self.joiners.len() + self.updates.len() + self.leavers.len()) as u64
    }

    /// A digest of what the plan does: a preview and its apply must agree on it, so that
    /// nothing is applied that was not shown.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

fn roles_text(roles: &Roles) -> String {
    roles
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn changes_for(row: &RosterRow, p: &ExistingPerson) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field, before: String, after: String| {
        if before != after {
            out.push(FieldChange {
                field,
                before,
                after,
            });
        }
    };
    push(
        "full name",
        p.full_name.to_string(),
        row.full_name.to_string(),
    );
    push("email", p.email.to_string(), row.email.to_string());
    push("roles", roles_text(&p.roles), roles_text(&row.roles));
    push(
        "status",
        p.status.as_str().to_string(),
        PersonStatus::Active.as_str().to_string(),
    );
    if row.mis_id.is_some() {
        push(
            "MIS id",
            p.mis_id.as_ref().map(MisId::to_string).unwrap_or_default(),
            row.mis_id
                .as_ref()
                .map(MisId::to_string)
                .unwrap_or_default(),
        );
    }
    if row.start_date.is_some() {
        push(
            "start date",
            date_text(p.start_date),
            date_text(row.start_date),
        );
    }
    if !p.on_roster {
        push(
            "roster",
            "added by hand".into(),
            "kept by the MIS roster".into(),
        );
    }
    out
}

/// Works out what applying `roster` to the school's `existing` people does. `importer` is
/// the person importing, who may not make themselves a leaver. Errors name the line and
/// field of the row that cannot be applied (an email that belongs to someone else).
pub fn plan(
    roster: &Roster,
    existing: &[ExistingPerson],
    importer: Option<PersonId>,
) -> Result<RosterPlan, Vec<RosterError>> {
    let by_id: HashMap<&MisId, usize> = existing
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.mis_id.as_ref().map(|m| (m, i)))
        .collect();
    let by_email: HashMap<&Email, usize> = existing
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.email, i))
        .collect();
    let mut matched: BTreeSet<usize> = BTreeSet::new();
    let mut errors = Vec::new();
    let mut plan = RosterPlan {
        joiners: Vec::new(),
        updates: Vec::new(),
        leavers: Vec::new(),
        unchanged: 0,
    };
    for row in &roster.rows {
        let by_mis = row.mis_id.as_ref().and_then(|m| by_id.get(m).copied());
        let by_mail = by_email.get(&row.email).copied();
        let found = match (by_mis, by_mail) {
            (Some(i), Some(j)) if i != j => {
                errors.push(RosterError::new(
                    row.line,
                    "email",
                    format!(
                        "{} already belongs to {}, who is not the person with MIS id {}",
                        row.email,
                        existing[j].full_name,
                        row.mis_id.as_ref().map(MisId::as_str).unwrap_or_default()
                    ),
                ));
                continue;
            }
            (Some(i), _) => Some(i),
            (None, Some(j)) => {
                if let (Some(theirs), Some(ours)) = (&existing[j].mis_id, &row.mis_id)
                    && theirs != ours
                {
                    errors.push(RosterError::new(
                        row.line,
                        "email",
                        format!(
                            "{} belongs to {}, whose MIS id is {theirs}, not {ours}",
                            row.email, existing[j].full_name
                        ),
                    ));
                    continue;
                }
                Some(j)
            }
            (None, None) => None,
        };
        match found {
            Some(i) => {
                matched.insert(i);
                let changes = changes_for(row, &existing[i]);
                if changes.is_empty() {
                    plan.unchanged += 1;
                } else {
                    plan.updates.push(RosterUpdate {
                        person: existing[i].id,
                        row: row.clone(),
                        changes,
                    });
                }
            }
            None => plan.joiners.push(row.clone()),
        }
    }
    for (i, p) in existing.iter().enumerate() {
        if p.on_roster && p.status == PersonStatus::Active && !matched.contains(&i) {
            if Some(p.id) == importer {
                errors.push(RosterError::new(
                    1,
                    "rows",
                    format!(
                        "you ({}) are not in the file: importing it would mark you as left",
                        p.full_name
                    ),
                ));
                continue;
            }
            plan.leavers.push(p.clone());
        }
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = one_error(
            b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\nSam Taylor,SAM@x.uk,staff\n",
        );
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
        let r = parse(b"Forename,Surname,Email,Roles\nZo\xC3\xAB,Brown,zoe@x.uk,staff | dsl\n")
            .unwrap();
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
        let plan = plan(&roster, &people, None).unwrap();
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
        let roster =
            parse(b"Staff Code,Full Name,Email,Role\nA1,Sam Taylor,jo@x.uk,staff\n").unwrap();
        let people = vec![
            existing(1, "Sam Taylor", "sam@x.uk", Some("A1"), true),
            existing(2, "Jo Brown", "jo@x.uk", None, false),
        ];
        let errors = plan(&roster, &people, None).unwrap_err();
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "email"));
    }

    #[test]
    fn the_importer_cannot_make_themselves_a_leaver() {
        let roster = parse(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\n").unwrap();
        let people = vec![existing(9, "Dana Wright", "dana@x.uk", None, true)];
        assert!(plan(&roster, &people, Some(PersonId(9))).is_err());
        assert_eq!(plan(&roster, &people, None).unwrap().leavers.len(), 1);
    }

    #[test]
    fn a_returning_leaver_is_made_active_again() {
        let roster = parse(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\n").unwrap();
        let mut sam = existing(1, "Sam Taylor", "sam@x.uk", None, true);
        sam.status = PersonStatus::Left;
        let plan = plan(&roster, &[sam], None).unwrap();
        assert_eq!(plan.updates[0].changes[0].field, "status");
        assert_eq!(plan.updates[0].changes[0].after, "active");
    }

    #[test]
    fn the_digest_changes_when_the_plan_does() {
        let roster = parse(b"Full Name,Email,Role\nSam Taylor,sam@x.uk,staff\n").unwrap();
        let a = plan(&roster, &[], None).unwrap();
        let b = plan(
            &roster,
            &[existing(1, "Sam Taylor", "sam@x.uk", None, true)],
            None,
        )
        .unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), plan(&roster, &[], None).unwrap().digest());
    }
}
