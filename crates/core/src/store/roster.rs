//! The roster kept in step with the school's MIS, all or nothing.

use async_trait::async_trait;

use super::StoreResult;
use crate::access::PeopleAdmin;
use crate::roster::{ExistingPerson, Roster, RosterError, RosterPlan};

/// What applying a roster file did, or why nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterOutcome {
    Applied(RosterPlan),
    /// Rows that cannot be applied to the people as they are now; nothing was changed.
    Invalid(Vec<RosterError>),
    /// The people changed since the preview (whose digest was given), so the plan is not
    /// the one that was shown; nothing was changed. Carries the plan as it is now.
    Stale(RosterPlan),
}

/// The roster kept in step with the school's MIS.
#[async_trait]
pub trait RosterImport: Send + Sync {
    /// Everyone in the school as the import matches them, leavers included.
    async fn roster_people(&self, admin: &PeopleAdmin) -> StoreResult<Vec<ExistingPerson>>;
    /// Plans the file against the people as they are inside the transaction and applies
    /// all of it or none of it: joiners added (active, no password yet), changes made,
    /// leavers marked as left with their sessions ended and their evidence kept; each
    /// recorded in the ledger. `progress(done, total)` is called after each write.
    async fn apply_roster(
        &self,
        admin: &PeopleAdmin,
        roster: &Roster,
        expected_digest: Option<&str>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StoreResult<RosterOutcome>;
}
