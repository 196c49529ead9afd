//! For bench/logs: requests and bytes per proxy user, read back from the stored detail
//! (every block decoded), as JSON `{"user": [requests, bytes], …}` on stdout, to compare
//! with GoAccess's totals of the same file.
//!
//!     log_totals --database-url sqlite://… --from 2026-11-23 --to 2026-11-27

use std::collections::BTreeMap;

use anyhow::anyhow;
use undersign_core::access::WebRulesOwner;

mod common;
use common::{bench_school, day};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (store, school) = bench_school().await?;
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
