//! For bench/logs: requests and bytes per proxy user, read back from the stored detail
//! (every block decoded), as JSON `{"user": [requests, bytes], …}` on stdout, to compare
//! with GoAccess's totals of the same file.
//!
//!     log_totals --database-url sqlite://… --from 2026-11-23 --to 2026-11-27

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};
use chrono::NaiveDate;
use undersign_core::access::WebRulesOwner;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = arg("--database-url").ok_or_else(|| anyhow!("--database-url is needed"))?;
    let day = |name: &str| -> anyhow::Result<NaiveDate> {
        let text = arg(name).ok_or_else(|| anyhow!("{name} is needed"))?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").with_context(|| format!("{name} {text}"))
    };
    let store = undersign_cli::store::open_store(&url).await?;
    let school = store
        .schools()
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no school"))?;
    let owner = WebRulesOwner::for_operator(school.id);
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut day_ = day("--from")?;
    let to = day("--to")?;
    // A day at a time, so that memory holds one day's requests.
    while day_ <= to {
        for r in store.logged_requests(&owner, day_, day_).await? {
            let t = totals.entry(r.proxy_user.unwrap_or_default()).or_default();
            t.0 += 1;
            t.1 += r.bytes;
        }
        day_ = day_
            .succ_opt()
            .ok_or_else(|| anyhow!("date out of range"))?;
    }
    println!("{}", serde_json::to_string(&totals)?);
    Ok(())
}
