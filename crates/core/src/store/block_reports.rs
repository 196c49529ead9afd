//! Reports from the block page that a site was blocked wrongly.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::WebRulesOwner;
use crate::block_reports::{BlockReport, BlockReportPage, NewBlockReport};
use crate::ids::*;

/// Reports from the block page that something was blocked wrongly.
#[async_trait]
pub trait BlockReports: Send + Sync {
    /// Records a report, unless its sender's address has sent
    /// [`crate::block_reports::PER_ADDRESS_PER_HOUR`] in the last hour or the school has
    /// had [`crate::block_reports::PER_SCHOOL_PER_DAY`] today (`Refused`, saying which);
    /// the count and the insert are one transaction. Reports older than
    /// [`crate::block_reports::KEEP_DAYS`] are deleted on the way.
    async fn record_block_report(
        &self,
        school: SchoolId,
        report: NewBlockReport,
        at: DateTime<Utc>,
    ) -> StoreResult<BlockReport>;
    /// `limit` of the school's reports after skipping `offset`, newest first, with the
    /// reporter's name where known.
    async fn block_reports(
        &self,
        owner: &WebRulesOwner,
        offset: u64,
        limit: u32,
    ) -> StoreResult<BlockReportPage>;
}
