//! Reading the MIS export: which column is which (the headers in the table of the
//! module above), and every row checked, with each problem named by line and column.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use crate::person::{Email, FullName, Role, Roles};

use super::*;

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

pub(crate) fn normalise(header: &str) -> String {
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

pub(crate) fn parse_date(raw: &str) -> Result<Option<NaiveDate>, String> {
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
    check_size(bytes.len() as u64).map_err(|e| vec![e])?;
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
    let mut lines = LineCounter::default();
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
        let line = record
            .position()
            .map_or(0, |p| lines.line_at(body, p.byte()));
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

/// Refuses a file of `len` bytes over [`MAX_FILE_BYTES`], before anything is read from it.
pub fn check_size(len: u64) -> Result<(), RosterError> {
    if len <= MAX_FILE_BYTES as u64 {
        return Ok(());
    }
    Err(RosterError::new(
        1,
        "file",
        format!(
            "the file is {} MB; a roster file may be at most {} MB ({MAX_ROWS} people)",
            len.div_ceil(1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    ))
}

/// The line a record starting at `byte` is on. (The CSV reader's own line count is one
/// short on files with CRLF line ends, as SIMS and Excel write them.)
fn line_at(body: &[u8], byte: u64) -> u64 {
    LineCounter::default().line_at(body, byte)
}

/// Line numbers of records met in order, counting each byte of the file once (counting
/// from the start for every record made a 20,000-row file take seconds).
#[derive(Default)]
pub(crate) struct LineCounter {
    /// Bytes counted so far, and the newlines among them.
    counted: usize,
    newlines: u64,
}

impl LineCounter {
    /// The line of the record starting at `byte`, which is not before the last asked.
    pub(crate) fn line_at(&mut self, body: &[u8], byte: u64) -> u64 {
        let mut at = usize::try_from(byte).unwrap_or(usize::MAX).min(body.len());
        while at < body.len() && matches!(body[at], b'\r' | b'\n') {
            at += 1;
        }
        if at < self.counted {
            // Out of order: count afresh.
            *self = Self::default();
        }
        self.newlines += body[self.counted..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.counted = at;
        1 + self.newlines
    }
}

/// The text of one cell, or an error naming its line and column if it is not UTF-8.
pub(crate) fn cell(
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

pub(crate) fn message_of(e: &crate::person::InputError) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((_, m)) => m.to_string(),
        None => text,
    }
}

pub(crate) fn not_utf8(line: u64, field: &str) -> RosterError {
    RosterError::new(
        line,
        field,
        "this is not UTF-8 text; save the file as \"CSV UTF-8\" and try again",
    )
}

pub(crate) fn csv_error(body: &[u8], e: &csv::Error) -> RosterError {
    let line = e.position().map_or(0, |p| line_at(body, p.byte()));
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => not_utf8(line, "row"),
        _ => RosterError::new(line, "row", format!("this line cannot be read as CSV: {e}")),
    }
}
