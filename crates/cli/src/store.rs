//! Opening the database named by a URL: `sqlite://…` for the embedded store,
//! `postgres://…` (or `postgresql://…`) for PostgreSQL.

use anyhow::{Context, bail};
use std::sync::Arc;
use undersign_core::store::Store;
use undersign_store_postgres::PostgresStore;
use undersign_store_sqlite::SqliteStore;

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> anyhow::Result<Self> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => bail!(
                "the database URL must start with sqlite:// or postgres:// (got {:?})",
                redact(url)
            ),
        }
    }
}

/// The URL with any password replaced, fit for messages and logs.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Opens the database and brings its schema up to date.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    open(url, true).await
}

/// Opens the database as it is, changing nothing (for `verify`). A SQLite file that does
/// not exist is an error rather than a new empty database.
pub async fn open_store_as_is(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if Backend::of(url)? == Backend::Sqlite
        && let Some(path) = sqlite_path(url)
        && !path.exists()
    {
        bail!("there is no SQLite database at {}", path.display());
    }
    open(url, false).await
}

/// The file a `sqlite:` URL names, if it names one.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

async fn open(url: &str, migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
    let shown = redact(url);
    match Backend::of(url)? {
        Backend::Sqlite => {
            let store = SqliteStore::open(url)
                .await
                .with_context(|| format!("cannot open the SQLite database {shown}"))?;
            if migrate {
                store
                    .migrate()
                    .await
                    .with_context(|| format!("cannot migrate the SQLite database {shown}"))?;
            }
            Ok(Arc::new(store))
        }
        Backend::Postgres => {
            let store = PostgresStore::connect(url)
                .await
                .with_context(|| format!("cannot connect to the PostgreSQL database {shown}"))?;
            if migrate {
                store
                    .migrate()
                    .await
                    .with_context(|| format!("cannot migrate the PostgreSQL database {shown}"))?;
            }
            Ok(Arc::new(store))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(Backend::of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(Backend::of("mysql://h/db").is_err());
    }

    #[test]
    fn a_sqlite_url_names_its_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/u.db?mode=rwc"),
            Some("/var/lib/u.db".into())
        );
        assert_eq!(sqlite_path("sqlite://demo/u.db"), Some("demo/u.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/undersign"),
            "postgres://app:***@db:5432/undersign"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        let err = Backend::of("mysql://u:pw@h/db").unwrap_err().to_string();
        assert!(!err.contains("pw@"), "{err}");
    }
}
