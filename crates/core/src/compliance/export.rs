//! The CSV exports: the signatures export and outstanding lists, with every cell made
//! safe to open in a spreadsheet.

use crate::ids::PersonId;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A signature as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureExportRow {
    pub person: PersonId,
    pub full_name: String,
    pub email: String,
    pub person_status: String,
    pub policy_title: String,
    pub version_number: i32,
    pub text_sha256: String,
    pub typed_name: String,
    pub mark_kind: String,
    pub signed_at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    pub auth: String,
    pub ledger_seq: i64,
    pub ledger_hash: String,
}

/// A cell that a spreadsheet will show as text, never run as a formula: a value that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's
/// advice for CSV injection).
pub fn spreadsheet_safe(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{value}"),
        _ => value.to_string(),
    }
}

/// A CSV document (RFC 4180, CRLF, every cell quoted and [`spreadsheet_safe`]), with a
/// UTF-8 byte-order mark so that Excel reads names in any script correctly.
pub fn csv_document<I, R, C>(header: &[&str], rows: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    fn line<C: AsRef<str>>(out: &mut String, cells: impl IntoIterator<Item = C>) {
        let mut first = true;
        for cell in cells {
            if !first {
                out.push(',');
            }
            first = false;
            out.push('"');
            out.push_str(&spreadsheet_safe(cell.as_ref()).replace('"', "\"\""));
            out.push('"');
        }
        out.push_str("\r\n");
    }
    let mut out = String::from("\u{feff}");
    line(&mut out, header.iter());
    for row in rows {
        line(&mut out, row);
    }
    out
}
