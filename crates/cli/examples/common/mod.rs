//! What the bench examples share: their arguments (`--name value`) and the bench's one
//! school.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use undersign_core::school::School;
use undersign_core::store::Store;

/// The value after `name`, if given.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The value after `name`, which must be given.
pub fn required(name: &str) -> anyhow::Result<String> {
    arg(name).ok_or_else(|| anyhow!("{name} is needed"))
}

/// The date (`2026-11-23`) after `name`, which must be given.
pub fn day(name: &str) -> anyhow::Result<NaiveDate> {
    let text = required(name)?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").with_context(|| format!("{name} {text}"))
}

/// The store at `--database-url`, and its school (the bench makes one).
pub async fn bench_school() -> anyhow::Result<(Arc<dyn Store>, School)> {
    let store = undersign_cli::store::open_store(&required("--database-url")?).await?;
    let school = store
        .schools()
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no school"))?;
    Ok((store, school))
}
