//! The image consent register: pupils from the MIS and consent per person and channel
//! (see [`crate::consent`] and [`crate::pupils`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::{Actor, PeopleAdmin};
use crate::consent::{
    Channel, ConsentRecord, NewConsent, ParentView, PublicationCheck, Subject, TakedownTask,
};
use crate::ids::{RequestId, SchoolId};
use crate::outbox::NewMail;
use crate::person::Email;
use crate::pupils::{Pupil, PupilFile, PupilPlan};
use crate::roster::RosterError;

/// What applying a pupil file did, or why nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PupilOutcome {
    Applied(PupilPlan),
    /// Nothing was changed.
    Invalid(Vec<RosterError>),
    /// The register changed since the plan (whose digest was given) was shown; nothing was
    /// changed. Carries the plan as it is now.
    Stale(PupilPlan),
}

/// How far to go with a pupil file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PupilApply {
    /// Only the plan.
    DryRun,
    /// Plan and apply.
    Apply,
    /// Apply only if the plan is still the one shown, whose [`PupilPlan::digest`] this is.
    ApplyShown(String),
}

/// Pupils and consent, each change with its ledger entry in the same transaction.
#[async_trait]
pub trait ConsentRegister: Send + Sync {
    /// Every pupil of the register, leavers included, by name.
    async fn pupils(&self, school: SchoolId) -> StoreResult<Vec<Pupil>>;

    /// Plans `file` against the register inside the transaction and applies all of it or
    /// none of it: joiners added, changes made, leavers taken off the roll (their consent
    /// history kept). `seed` (random, fresh for each import) salts the fingerprints of the
    /// pupils' details that the ledger keeps.
    async fn apply_pupils(
        &self,
        admin: &PeopleAdmin,
        file: &PupilFile,
        seed: [u8; 32],
        how: PupilApply,
        at: DateTime<Utc>,
    ) -> StoreResult<PupilOutcome>;

    /// The office records consent given or withdrawn for a pupil or a member of staff
    /// (a paper form). A withdrawal gives the publisher of every published check that
    /// included the person on that channel a take-down task.
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

    /// Every consent record of the school, by subject, oldest first (for the register's
    /// page).
    async fn school_consents(&self, school: SchoolId)
    -> StoreResult<Vec<(Subject, ConsentRecord)>>;

    /// A member of staff names who is in the images and where they will go; each
    /// person's answer and the verdict are recorded. `NotFound` for someone not of this
    /// school; `Refused` for a pupil no longer on roll or an empty list.
    async fn check_publication(
        &self,
        by: &Actor,
        channel: Channel,
        description: &str,
        people: &[Subject],
        at: DateTime<Utc>,
    ) -> StoreResult<PublicationCheck>;

    /// The member of staff who made the check records that the images were published:
    /// with everyone's consent (answers taken again now), or, where consent is missing or
    /// expired, on the headteacher's approval of their photo-posting `permission`
    /// request. Never while anyone has withdrawn consent.
    async fn publish_checked(
        &self,
        by: &Actor,
        check: i64,
        permission: Option<RequestId>,
        at: DateTime<Utc>,
    ) -> StoreResult<PublicationCheck>;

    /// One check, for the member of staff who made it or a headteacher.
    async fn publication_check(&self, by: &Actor, check: i64) -> StoreResult<PublicationCheck>;

    /// `by`'s take-down tasks, open ones first.
    async fn takedown_tasks(&self, by: &Actor) -> StoreResult<Vec<TakedownTask>>;

    /// The publisher records that the images are down.
    async fn complete_takedown(
        &self,
        by: &Actor,
        task: i64,
        note: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<TakedownTask>;

    /// The office sends a parent or carer (`to`, a contact of a pupil on roll) a
    /// single-use link, stored only as `token_sha256`, with `mail` queued in the same
    /// transaction. `Refused` for an address that is no contact of a pupil on roll.
    async fn send_parent_link(
        &self,
        admin: &PeopleAdmin,
        to: &Email,
        token_sha256: &str,
        mail: NewMail,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// What a parent's link shows: `NotFound` for an unknown link, `Conflict` for one
    /// used or expired.
    async fn parent_link(&self, token_sha256: &str, now: DateTime<Utc>) -> StoreResult<ParentView>;

    /// Spends a parent's link: records each choice (only for their own children) as
    /// consent from the parent's link, and the link can never be used again. Returns how
    /// many were recorded.
    async fn use_parent_link(
        &self,
        token_sha256: &str,
        choices: Vec<NewConsent>,
        at: DateTime<Utc>,
    ) -> StoreResult<usize>;

    /// Every record about one pupil or person, oldest first.
    async fn consent_records(
        &self,
        school: SchoolId,
        subject: Subject,
    ) -> StoreResult<Vec<ConsentRecord>>;
}
