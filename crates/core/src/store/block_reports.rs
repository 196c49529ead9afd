//! Reports from the block page that a site was blocked wrongly.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::WebRulesOwner;
use crate::block_reports::{BlockReport, NewBlockReport};
use crate::ids::*;

/// Reports from the block page that something was blocked wrongly.
#[async_trait]
pub trait BlockReports: Send + Sync {
    async fn record_block_report(
        &self,
        school: SchoolId,
        report: NewBlockReport,
        at: DateTime<Utc>,
    ) -> StoreResult<BlockReport>;
    /// The school's reports, newest first, with the reporter's name where known.
    async fn block_reports(&self, owner: &WebRulesOwner) -> StoreResult<Vec<BlockReport>>;
}
