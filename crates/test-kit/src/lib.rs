//! Support for the tests of every crate that needs a real database or mail server: a
//! fresh, migrated store of each backend ([`TestDb`]), a seeded school ([`seed_school`]),
//! [`db_test`], which runs one async test body as a `sqlite` and a `postgres` test, and
//! [`smtp::SmtpListener`], a real SMTP server (Postfix's `smtp-sink`). A dev-dependency only.
//!
//! PostgreSQL comes from `TEST_POSTGRES_URL` when set (a fresh database is created on that
//! server for every test and dropped after it), else from a throw-away cluster started
//! with the system's `initdb`/`pg_ctl`, else the test is skipped with a loud line on
//! stderr, unless `UNDERSIGN_REQUIRE_POSTGRES=1`, which makes a missing PostgreSQL fail.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a database that cannot be set up is a failed test"
)]

mod postgres;
mod seed;
pub mod smtp;

pub use seed::{
    AUP_BODY, Seed, assert_evidence_agrees, context, draft, png_mark, seed_school, signature_input,
};
pub use undersign_test_kit_macros::db_test;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::future::Future;
use std::sync::Arc;
use tempfile::TempDir;
use undersign_core::store::Store;
use undersign_store_sqlite::SqliteStore;

/// What the code [`db_test`] writes refers to, so a test crate needs no tokio of its own.
#[doc(hidden)]
pub mod __private {
    pub use tokio;
}

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a [`db_test`] receives: a fresh database of one backend, or `None` (after saying
/// so on stderr) when PostgreSQL is not available and not required.
pub trait Fixture: Sized {
    fn open(backend: Backend) -> impl Future<Output = Option<Self>>;
}

/// Runs `test` on a fresh fixture of `backend`; passes without running it when the
/// backend is unavailable (see [`TestDb::postgres`]). What [`db_test`] expands to.
pub async fn run<T, F>(backend: Backend, test: impl FnOnce(T) -> F)
where
    T: Fixture,
    F: Future<Output = ()>,
{
    if let Some(fixture) = T::open(backend).await {
        test(fixture).await;
    }
}

/// A fresh, migrated store for one test, with a separate raw connection for the test to
/// act as a database administrator would (e.g. to tamper with the ledger).
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// The address the store was opened with.
    pub url: String,
    pub backend: Backend,
    raw: Raw,
    /// Keeps the SQLite file's directory alive as long as the test.
    _dir: Option<TempDir>,
    /// Drops the PostgreSQL database when the test is over.
    _cleanup: Option<postgres::DropDatabase>,
}

enum Raw {
    Sqlite(SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Fixture for TestDb {
    async fn open(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite().await),
            Backend::Postgres => TestDb::postgres().await,
        }
    }
}

impl TestDb {
    /// A new SQLite file in a temporary directory, migrated.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("undersign-test-")
            .tempdir()
            .expect("create a temporary directory");
        let path = dir.path().join("undersign.sqlite3");
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::open(&url).await.expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        // Like the sqlite3 shell: no foreign-key enforcement, but the triggers still apply.
        let raw = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .foreign_keys(false),
            )
            .await
            .expect("open a raw SQLite connection");
        TestDb {
            store: Arc::new(store),
            url,
            backend: Backend::Sqlite,
            raw: Raw::Sqlite(raw),
            _dir: Some(dir),
            _cleanup: None,
        }
    }

    /// A new PostgreSQL database, migrated; `None` (after saying so on stderr) if no
    /// PostgreSQL is available and `UNDERSIGN_REQUIRE_POSTGRES` is not `1`.
    pub async fn postgres() -> Option<TestDb> {
        postgres::fresh().await
    }

    /// A second, independent store on the same database, as another server would open
    /// it (on SQLite: the same file, with its own writer connection).
    pub async fn open_again(&self) -> Arc<dyn Store> {
        match self.raw {
            Raw::Sqlite(_) => Arc::new(
                SqliteStore::open(&self.url)
                    .await
                    .expect("open the SQLite file again"),
            ),
            Raw::Postgres(_) => Arc::new(
                undersign_store_postgres::PostgresStore::connect(&self.url)
                    .await
                    .expect("connect to PostgreSQL again"),
            ),
        }
    }

    /// Runs raw SQL (several statements allowed) outside the store; panics on error.
    pub async fn exec(&self, sql: &str) {
        if let Err(e) = self.try_exec(sql).await {
            panic!("{sql}: {e}");
        }
    }

    /// Runs raw SQL outside the store and returns the database's error message, if any.
    pub async fn try_exec(&self, sql: &str) -> Result<(), String> {
        let done = match &self.raw {
            Raw::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Raw::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        };
        done.map_err(|e| match e.as_database_error() {
            Some(d) => d.message().to_string(),
            None => e.to_string(),
        })
    }

    /// Removes the protection that refuses UPDATE and DELETE on `table`, as an
    /// administrator set on rewriting evidence would.
    pub async fn drop_immutability_triggers(&self, table: &str) {
        let sql = match self.raw {
            Raw::Sqlite(_) => format!(
                "DROP TRIGGER IF EXISTS {table}_no_update; DROP TRIGGER IF EXISTS {table}_no_delete;"
            ),
            Raw::Postgres(_) => format!("ALTER TABLE {table} DISABLE TRIGGER USER;"),
        };
        self.exec(&sql).await;
    }
}
