//! The DSL's safeguarding alerts (raised by [`super::Logs::load_logs`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::SafeguardingLead;
use crate::ids::SafeguardingAlertId;
use crate::safeguarding::SafeguardingAlert;

#[async_trait]
pub trait Safeguarding: Send + Sync {
    /// The school's alerts: open ones first, then closed, newest first in each.
    async fn safeguarding_alerts(
        &self,
        lead: &SafeguardingLead,
    ) -> StoreResult<Vec<SafeguardingAlert>>;

    /// Records what was done and the outcome, and closes the alert, with its ledger
    /// entry. `Conflict` if it is closed already; `Refused` if a record is too short.
    async fn close_safeguarding_alert(
        &self,
        lead: &SafeguardingLead,
        id: SafeguardingAlertId,
        action: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SafeguardingAlert>;
}
