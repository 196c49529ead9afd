//! Undersign storage on SQLite, the embedded default: one file, WAL, foreign keys on,
//! durable commits, and every write through a single connection.
//!
//! Writes go through a pool of exactly one connection, so transactions never race for
//! SQLite's write lock (no "database is locked" upgrade failures under load) and appends to
//! a school's ledger are serialised for free. Reads use a separate pool and, in WAL mode,
//! never wait for the writer.

mod db;
#[path = "../../store-sql/errors.rs"]
mod errors;

// The use-case queries are one source shared by both stores (`crates/store-sql/`): each
// store supplies its own `db` (pool types, time encoding), `errors` (constraint names →
// messages) and migrations, and names itself `BackendStore` for the shared modules.
#[path = "../../store-sql/block_reports.rs"]
mod block_reports;
#[path = "../../store-sql/chasing.rs"]
mod chasing;
#[path = "../../store-sql/codec.rs"]
mod codec;
#[path = "../../store-sql/compliance.rs"]
mod compliance;
#[path = "../../store-sql/consent.rs"]
mod consent;
#[path = "../../store-sql/disclosures.rs"]
mod disclosures;
#[path = "../../store-sql/evidence.rs"]
mod evidence;
#[path = "../../store-sql/group_commit.rs"]
mod group_commit;
#[path = "../../store-sql/kiosks.rs"]
mod kiosks;
#[path = "../../store-sql/ledger.rs"]
mod ledger;
#[path = "../../store-sql/login_links.rs"]
mod login_links;
#[path = "../../store-sql/logs.rs"]
mod logs;
#[path = "../../store-sql/outbox.rs"]
mod outbox;
#[path = "../../store-sql/people.rs"]
mod people;
#[path = "../../store-sql/policies.rs"]
mod policies;
#[path = "../../store-sql/requests.rs"]
mod requests;
#[path = "../../store-sql/roster.rs"]
mod roster;
#[path = "../../store-sql/safeguarding.rs"]
mod safeguarding;
#[path = "../../store-sql/schools.rs"]
mod schools;
#[path = "../../store-sql/sessions.rs"]
mod sessions;
#[path = "../../store-sql/signing.rs"]
mod signing;
#[path = "../../store-sql/visitor_coverage.rs"]
mod visitor_coverage;
#[path = "../../store-sql/visits.rs"]
mod visits;

/// The store the shared query modules implement the traits for.
type BackendStore = SqliteStore;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;
use undersign_core::store::{Store, StoreError};

/// How long a connection waits for a lock held by another process before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers: WAL lets them run beside the writer.
const READ_CONNECTIONS: u32 = 8;

/// The storage traits on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write transaction, one after another.
    write: SqlitePool,
    /// Everything that only reads.
    read: SqlitePool,
    /// Ledger appends on the hot path (signing, declining), committed in groups on the
    /// writer connection.
    commits: group_commit::GroupCommit,
    /// Published versions once read (they never change).
    published: policies::PublishedVersions,
}

impl SqliteStore {
    /// Opens (and creates if missing) the database at `url`, e.g.
    /// `sqlite:///var/lib/undersign/undersign.sqlite3` or `sqlite://undersign.sqlite3`
    /// (relative to the working directory). Does not migrate: call [`SqliteStore::migrate`].
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad SQLite address {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // A signature acknowledged to the user is on disk.
            .synchronous(SqliteSynchronous::Full);
        let in_memory = options
            .get_filename()
            .to_string_lossy()
            .contains(":memory:")
            || url.contains("mode=memory");
        // The writer is never closed for idleness or age: an in-memory database lives
        // only as long as its connection.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(errors::db)?;
        // An in-memory database lives and dies with its connection: share the writer.
        let read = if in_memory {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options)
                .await
                .map_err(errors::db)?
        };
        let commits = group_commit::GroupCommit::new(write.clone(), 1);
        Ok(SqliteStore {
            write,
            read,
            commits,
            published: Default::default(),
        })
    }

    /// Brings the schema up to date with the migrations embedded in this crate.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!()
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the SQLite database: {e}")))
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.commits.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
