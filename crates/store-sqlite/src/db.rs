//! What the shared queries need from SQLite: the dialect items that `crates/store-sql/README.md`
//! lists, in the same names as PostgreSQL's `db` module, so the query modules read the same
//! in both.

use chrono::{DateTime, Utc};
use sqlx::error::ErrorKind;
use undersign_core::SchoolId;
use undersign_core::store::StoreResult;

use crate::errors::db;

/// A pool of connections (the writer's, for group commit).
pub(crate) type Pool = sqlx::SqlitePool;

/// The database, for statements built at run time (`sqlx::QueryBuilder`).
pub(crate) type Db = sqlx::Sqlite;

/// One connection, inside a transaction or not.
pub(crate) type Conn = sqlx::SqliteConnection;

/// A time as bound to a query: fixed-width RFC 3339 text (`2026-11-23T09:00:00.000000Z`),
/// so that times compare and sort correctly as text. SQLx's own encoding drops trailing
/// zeros and would not.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    undersign_core::time::rfc3339(at)
}

/// What a claim query adds to its candidate rows. Nothing on SQLite: every write
/// transaction runs alone, so two claims never see the same free row.
pub(crate) const SKIP_LOCKED: &str = "";

/// Run first in a read transaction that must see one moment: in WAL mode the first read
/// fixes the snapshot for the rest of the transaction.
pub(crate) const SNAPSHOT: &str = "SELECT 1";

/// Serialises appends to one school's ledger. On SQLite every write already goes through
/// the one writer connection, so there is nothing more to do.
pub(crate) async fn lock_school(_conn: &mut Conn, _school: SchoolId) -> StoreResult<()> {
    Ok(())
}

/// Serialises the transactions that count and record attempts under one throttle key.
/// On SQLite the single writer connection already does.
pub(crate) async fn lock_key(_conn: &mut Conn, _key: &str) -> StoreResult<()> {
    Ok(())
}

/// Tables whose id is reserved before the row is written, because the row's ledger entry
/// (written first) names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reserved {
    Signatures,
    Declines,
}

impl Reserved {
    /// An expression whose value is the next id, to select alone or beside other columns.
    pub(crate) fn next(self) -> &'static str {
        match self {
            Reserved::Signatures => "(SELECT COALESCE(MAX(id), 0) + 1 FROM signatures)",
            Reserved::Declines => "(SELECT COALESCE(MAX(id), 0) + 1 FROM declines)",
        }
    }
}

/// Reserves the next id of `table`.
pub(crate) async fn next_id(conn: &mut Conn, table: Reserved) -> StoreResult<i64> {
    sqlx::query_scalar::<_, i64>(&format!("SELECT {}", table.next()))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)
}

/// SQLite names the columns of a broken UNIQUE constraint, not the constraint: this maps
/// them back to the names in the migration (and in the PostgreSQL schema).
const UNIQUE_COLUMNS: &[(&str, &str)] = &[
    ("schools.slug", "schools_slug_key"),
    (
        "people.school_id, people.email",
        "people_school_id_email_key",
    ),
    (
        "policy_versions.school_id, policy_versions.policy_id, policy_versions.number",
        "policy_versions_policy_id_number_key",
    ),
    (
        "signatures.school_id, signatures.person_id, signatures.version_id",
        "signatures_person_version_key",
    ),
    (
        "ledger_entries.school_id, ledger_entries.seq",
        "ledger_entries_school_id_seq_key",
    ),
    (
        "roster_members.school_id, roster_members.mis_id",
        "roster_members_mis_id_key",
    ),
    (
        "checkpoints.school_id, checkpoints.seq",
        "checkpoints_school_id_seq_key",
    ),
];

/// The name of the constraint `e` broke, if it is one of ours.
pub(crate) fn constraint(e: &sqlx::Error) -> Option<&'static str> {
    let d = e.as_database_error()?;
    let message = d.message();
    match d.kind() {
        ErrorKind::UniqueViolation => {
            let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
            UNIQUE_COLUMNS
                .iter()
                .find(|(cols, _)| *cols == columns)
                .map(|(_, name)| *name)
        }
        ErrorKind::ForeignKeyViolation => Some("foreign_key"),
        // The no-replace triggers of migration 0008 raise the name of the key they guard.
        _ => UNIQUE_COLUMNS
            .iter()
            .find(|(_, name)| *name == message)
            .map(|(_, name)| *name),
    }
}

/// Creates a detail partition of the access log (see `store-sql/logs.rs`): on SQLite a
/// plain table with its columns, listed only in `log_partitions`.
pub(crate) async fn create_log_partition(
    conn: &mut Conn,
    table: &str,
    _school: SchoolId,
    _class: &str,
    _period: (chrono::NaiveDate, chrono::NaiveDate),
) -> StoreResult<()> {
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             school_id   INTEGER NOT NULL,
             source_id   INTEGER NOT NULL,
             day         TEXT NOT NULL,
             person_id   INTEGER,
             device_id   INTEGER,
             first_line  INTEGER NOT NULL,
             last_line   INTEGER NOT NULL,
             requests    INTEGER NOT NULL,
             data        BLOB NOT NULL
         )"
    ))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(&format!(
        "CREATE INDEX IF NOT EXISTS {table}_person_idx ON {table} (person_id, day)"
    ))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Whether a table exists (a log partition may have been dropped behind Undersign's back).
pub(crate) async fn table_exists(conn: &mut Conn, table: &str) -> StoreResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1")
            .bind(table)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    Ok(found.is_some())
}
