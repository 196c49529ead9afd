//! The image consent register: pupils from the MIS and consent per person and channel
//! (see [`crate::consent`] and [`crate::pupils`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::{Actor, PeopleAdmin};
use crate::consent::{ConsentRecord, NewConsent, Subject};
use crate::ids::SchoolId;
use crate::pupils::{Pupil, PupilFile, PupilPlan};
use crate::roster::RosterError;

/// What applying a pupil file did, or why nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PupilOutcome {
    Applied(PupilPlan),
    /// Nothing was changed.
    Invalid(Vec<RosterError>),
}

/// Pupils and consent, each change with its ledger entry in the same transaction.
#[async_trait]
pub trait ConsentRegister: Send + Sync {
    /// Every pupil of the register, leavers included, by name.
    async fn pupils(&self, school: SchoolId) -> StoreResult<Vec<Pupil>>;

    /// Plans `file` against the register inside the transaction and applies all of it or
    /// none of it: joiners added, changes made, leavers taken off the roll (their consent
    /// history kept). `seed` (random, fresh for each import) salts the fingerprints of the
    /// pupils' details that the ledger keeps. With `dry_run`, only the plan.
    async fn apply_pupils(
        &self,
        admin: &PeopleAdmin,
        file: &PupilFile,
        seed: [u8; 32],
        dry_run: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<PupilOutcome>;

    /// The office records consent given or withdrawn for a pupil or a member of staff
    /// (a paper form).
    async fn record_consent(
        &self,
        admin: &PeopleAdmin,
        new: NewConsent,
        at: DateTime<Utc>,
    ) -> StoreResult<i64>;

    /// A member of staff gives or withdraws consent for their own image.
    async fn record_own_consent(
        &self,
        by: &Actor,
        new: NewConsent,
        at: DateTime<Utc>,
    ) -> StoreResult<i64>;

    /// Every record about one pupil or person, oldest first.
    async fn consent_records(
        &self,
        school: SchoolId,
        subject: Subject,
    ) -> StoreResult<Vec<ConsentRecord>>;
}
