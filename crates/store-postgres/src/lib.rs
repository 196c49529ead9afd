//! Undersign storage on PostgreSQL, for a trust or council running many schools from one
//! or more application servers.
//!
//! Appends to a school's ledger are serialised across connections and servers with a
//! transaction-scoped advisory lock keyed on the school, taken before the chain's head is
//! read. Commits keep PostgreSQL's default `synchronous_commit`, so an acknowledged
//! signature is durable.

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
type BackendStore = PostgresStore;

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;
use undersign_core::store::{Store, StoreError};

/// Connections per application server.
const MAX_CONNECTIONS: u32 = 10;
/// Lanes of group commit (see `group_commit`), each with its own connection, so that
/// appends for different schools run side by side and never queue behind reads.
const GROUP_COMMIT_LANES: usize = 4;
/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The storage traits on one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    /// Writes and reads share one pool; the fields mirror the SQLite store so the query
    /// modules read the same in both.
    write: PgPool,
    read: PgPool,
    /// Ledger appends on the hot path (signing, declining), committed in groups.
    commits: group_commit::GroupCommit,
    /// Published versions once read (they never change).
    published: policies::PublishedVersions,
}

impl PostgresStore {
    /// Connects to `url`, e.g. `postgres://undersign@db.example/undersign`. Does not
    /// migrate: call [`PostgresStore::migrate`].
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(|e| StoreError::Backend(format!("connecting to PostgreSQL: {e}")))?;
        let lanes = PgPoolOptions::new()
            .max_connections(u32::try_from(GROUP_COMMIT_LANES).unwrap_or(4))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(|e| StoreError::Backend(format!("connecting to PostgreSQL: {e}")))?;
        Ok(PostgresStore {
            write: pool.clone(),
            read: pool,
            commits: group_commit::GroupCommit::new(lanes, GROUP_COMMIT_LANES),
            published: Default::default(),
        })
    }

    /// Brings the schema up to date with the migrations embedded in this crate.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!()
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the PostgreSQL database: {e}")))
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.write.close().await;
        self.commits.close().await;
    }
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}
