//! The storage of chasing: each school's reminder schedule and holidays, and the facts
//! the chase is planned from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::PeopleAdmin;
use crate::chasing::{ChaseFacts, ChaseSettings, Holiday};
use crate::ids::SchoolId;

/// The storage of chasing: each school's schedule and holidays, and the facts the plan
/// is made from. Settings and holidays are changed by a [`PeopleAdmin`] (the school
/// administrator or the headteacher): the administrator keeps the roster and chases
/// signatures, and knows the school's term dates.
#[async_trait]
pub trait Chasing: Send + Sync {
    /// The school's schedule: [`ChaseSettings::DEFAULT`] until it is set.
    async fn chase_settings(&self, school: SchoolId) -> StoreResult<ChaseSettings>;
    async fn set_chase_settings(
        &self,
        admin: &PeopleAdmin,
        settings: ChaseSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The school's holidays in date order.
    async fn holidays(&self, school: SchoolId) -> StoreResult<Vec<Holiday>>;
    /// Replaces the school's whole holiday list (in one transaction).
    async fn replace_holidays(
        &self,
        admin: &PeopleAdmin,
        holidays: &[Holiday],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The school's compliance facts (active people only) and who line-manages whom.
    async fn chase_facts(&self, school: SchoolId) -> StoreResult<ChaseFacts>;
}
