//! What the shared queries need from PostgreSQL: the dialect items that
//! `crates/store-sql/README.md` lists, in the same names as SQLite's `db` module, so the
//! query modules read the same in both.

use chrono::{DateTime, Utc};
use sqlx::error::ErrorKind;
use undersign_core::SchoolId;
use undersign_core::store::StoreResult;

use crate::errors::db;

/// A pool of connections (the writer's, for group commit).
pub(crate) type Pool = sqlx::PgPool;

/// The database, for statements built at run time (`sqlx::QueryBuilder`).
pub(crate) type Db = sqlx::Postgres;

/// One connection, inside a transaction or not.
pub(crate) type Conn = sqlx::PgConnection;

/// A time as bound to a query: `TIMESTAMPTZ`.
pub(crate) fn ts(at: DateTime<Utc>) -> DateTime<Utc> {
    crate::codec::micros(at)
}

/// What a claim query adds to its candidate rows: lock them, and pass over rows another
/// transaction has locked, so servers claiming at once get disjoint rows without waiting.
pub(crate) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// Run first in a read transaction that must see one moment.
pub(crate) const SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

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

/// Serialises the transactions that count and record attempts under one throttle key:
/// a transaction-scoped advisory lock in the two-key space (apart from the schools'),
/// keyed on a hash of the key.
pub(crate) async fn lock_key(conn: &mut Conn, key: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
        .bind(key)
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

impl Reserved {
    /// An expression whose value is the next id, to select alone or beside other columns.
    pub(crate) fn next(self) -> &'static str {
        match self {
            Reserved::Signatures => "nextval(pg_get_serial_sequence('signatures', 'id'))",
            Reserved::Declines => "nextval(pg_get_serial_sequence('declines', 'id'))",
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

/// The name of the constraint `e` broke, if it is one of ours.
pub(crate) fn constraint(e: &sqlx::Error) -> Option<&str> {
    let d = e.as_database_error()?;
    match d.kind() {
        ErrorKind::UniqueViolation => d.constraint(),
        ErrorKind::ForeignKeyViolation => Some("foreign_key"),
        _ => None,
    }
}

/// Creates a detail partition of the access log (see `store-sql/logs.rs`): a partition of
/// `log_<class>` for the school (created when the school's first one is), itself
/// partitioned by time, and the period's partition of that.
pub(crate) async fn create_log_partition(
    conn: &mut Conn,
    table: &str,
    school: SchoolId,
    class: &str,
    (start, end): (chrono::NaiveDate, chrono::NaiveDate),
) -> StoreResult<()> {
    let parent = format!("log_{class}_s{}", school.0);
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {parent} PARTITION OF log_{class}
         FOR VALUES IN ({}) PARTITION BY RANGE (day)",
        school.0
    ))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {table} PARTITION OF {parent}
         FOR VALUES FROM ('{start}') TO ('{end}')"
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
    let found: Option<String> = sqlx::query_scalar("SELECT CAST(to_regclass($1) AS TEXT)")
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    Ok(found.is_some())
}
