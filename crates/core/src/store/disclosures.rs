//! Governed disclosure of a person's Internet log (see [`crate::disclosure`]).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreResult;
use crate::access::Actor;
use crate::disclosure::{Decision, Disclosure, NewDisclosure, PersonLog};
use crate::ids::{DisclosureId, SchoolId};

/// How a disclosure was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// On its page.
    Page,
    /// Exported as CSV.
    Csv,
    /// Exported as PDF.
    Pdf,
}

impl Reading {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Csv => "csv",
            Self::Pdf => "pdf",
        }
    }
}

/// Requests for a person's log, their decisions, and every reading, each with its ledger
/// entry in the same transaction. Every method takes the acting person and checks who
/// they are against the rules of [`crate::disclosure`]: `Refused` (saying why) when they
/// may not, `NotFound` for another school's or an unknown disclosure.
#[async_trait]
pub trait Disclosures: Send + Sync {
    /// The person's line manager or the headteacher asks for their log.
    async fn request_disclosure(
        &self,
        by: &Actor,
        new: NewDisclosure,
        at: DateTime<Utc>,
    ) -> StoreResult<Disclosure>;

    /// The requester withdraws a request not yet decided.
    async fn withdraw_disclosure(
        &self,
        by: &Actor,
        id: DisclosureId,
        at: DateTime<Utc>,
    ) -> StoreResult<Disclosure>;

    /// The headteacher (or, for the headteacher's own request, the person the school
    /// named) approves or declines a request; never their own.
    async fn decide_disclosure(
        &self,
        by: &Actor,
        id: DisclosureId,
        decision: Decision,
        at: DateTime<Utc>,
    ) -> StoreResult<Disclosure>;

    /// The requester reads an approved disclosure while it is open: the reading is
    /// recorded (and committed) first, then the log over the range is returned.
    async fn read_disclosure(
        &self,
        by: &Actor,
        id: DisclosureId,
        reading: Reading,
        at: DateTime<Utc>,
    ) -> StoreResult<(Disclosure, PersonLog)>;

    /// One disclosure's record (not the log), for its requester, a headteacher, or the
    /// person named to decide the headteacher's requests.
    async fn disclosure(&self, by: &Actor, id: DisclosureId) -> StoreResult<Disclosure>;

    /// The disclosures `by` asked for or may decide (a headteacher sees every one of the
    /// school's), newest first.
    async fn disclosures_for(&self, by: &Actor) -> StoreResult<Vec<Disclosure>>;

    /// The disclosures of `by`'s own log whose notice is due on `today`, newest first.
    async fn disclosures_about_me(
        &self,
        by: &Actor,
        today: NaiveDate,
    ) -> StoreResult<Vec<Disclosure>>;

    /// Marks approved disclosures past their `open_until` expired, each with its entry.
    async fn expire_disclosures(&self, school: SchoolId, now: DateTime<Utc>) -> StoreResult<usize>;
}
