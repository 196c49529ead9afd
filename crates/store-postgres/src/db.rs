//! The few things that differ between the PostgreSQL and SQLite stores, kept here so the
//! query modules read the same in both: how a time is bound, how an id is reserved before
//! its row is written, and how appends to one school's ledger are serialised.

use chrono::{DateTime, SubsecRound, Utc};
use serde::de::DeserializeOwned;
use sqlx::error::ErrorKind;
use undersign_core::SchoolId;
use undersign_core::store::{StoreError, StoreResult};

use crate::errors::db;

/// One connection, inside a transaction or not.
pub(crate) type Conn = sqlx::PgConnection;

/// Times are hashed into ledger payloads at microsecond precision, which is what
/// `TIMESTAMPTZ` keeps; everything stored is cut to it first so that what is read back is
/// exactly what was hashed.
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// A time as bound to a query: `TIMESTAMPTZ`.
pub(crate) fn ts(at: DateTime<Utc>) -> DateTime<Utc> {
    micros(at)
}

/// What a claim query adds to its candidate rows: lock them, and pass over rows another
/// transaction has locked, so servers claiming at once get disjoint rows without waiting.
pub(crate) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// Serialises appends to one school's ledger across every connection and server: a
/// transaction-scoped advisory lock keyed on the school, released at commit or rollback.
/// Taken before the chain's head (or anything the append depends on) is read.
pub(crate) async fn lock_school(conn: &mut Conn, school: SchoolId) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(school.0)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Tables whose id is reserved before the row is written, because the row's ledger entry
/// (written first) names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reserved {
    Signatures,
    Declines,
}

/// Reserves the next id of `table` from its identity sequence.
pub(crate) async fn next_id(conn: &mut Conn, table: Reserved) -> StoreResult<i64> {
    let sql = match table {
        Reserved::Signatures => "SELECT nextval(pg_get_serial_sequence('signatures', 'id'))",
        Reserved::Declines => "SELECT nextval(pg_get_serial_sequence('declines', 'id'))",
    };
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
}

/// Reads a JSON column written by this store.
pub(crate) fn from_json<T: DeserializeOwned>(column: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("column {column} holds unreadable JSON: {e}")))
}

/// Writes a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

/// Rebuilds a validated value (a name, an email) from what this store wrote after
/// validating it, without validating again: a record stays readable even if the rules for
/// new input become stricter later.
pub(crate) fn trusted<T: DeserializeOwned>(column: &str, text: String) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| StoreError::Backend(format!("column {column} is unreadable: {e}")))
}

/// The name of the constraint `e` broke, if it is one of ours.
pub(crate) fn constraint(e: &sqlx::Error) -> Option<&str> {
    let d = e.as_database_error()?;
    match d.kind() {
        ErrorKind::UniqueViolation => d.constraint(),
        ErrorKind::ForeignKeyViolation => Some("foreign_key"),
        _ => None,
    }
}
