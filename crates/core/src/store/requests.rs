//! Requests for permission, advice or a ruling (see [`crate::requests`]).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreResult;
use crate::access::Actor;
use crate::ids::{RequestId, SchoolId};
use crate::person::Role;
use crate::requests::{Answers, ApprovedItem, Decision, Request, RequestKind, Route, Ruling};

/// Every step of a request's life, each with its ledger entry (and its emails in the
/// outbox) in the transaction that records it. Each method takes the acting person and
/// checks them against the rules of [`crate::requests`]: `Refused` (saying why) when they
/// may not, `Conflict` when the request is no longer in a state that allows the step,
/// `NotFound` for another school's request or one they may not see.
#[async_trait]
pub trait Requests: Send + Sync {
    /// Who decides each kind in `school`: the school's choice, or the policy's default.
    async fn request_routes(&self, school: SchoolId) -> StoreResult<Vec<Route>>;

    /// The headteacher names the role that decides one kind (one of
    /// [`RequestKind::decider_choices`]).
    async fn set_request_route(
        &self,
        by: &Actor,
        kind: RequestKind,
        decider: Role,
        at: DateTime<Utc>,
    ) -> StoreResult<Route>;

    /// A member of staff submits a request with answers already checked by
    /// [`crate::requests::check_answers`]; everyone who may decide it is told by email.
    async fn submit_request(
        &self,
        by: &Actor,
        kind: RequestKind,
        answers: Answers,
        at: DateTime<Utc>,
    ) -> StoreResult<Request>;

    /// A decider asks the requester for more information.
    async fn ask_more_info(
        &self,
        by: &Actor,
        id: RequestId,
        question: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Request>;

    /// The requester answers, possibly revising the request's answers (checked again);
    /// the request goes back to its deciders.
    async fn answer_request(
        &self,
        by: &Actor,
        id: RequestId,
        reply: &str,
        answers: Answers,
        at: DateTime<Utc>,
    ) -> StoreResult<Request>;

    /// A decider decides a submitted request (checked by
    /// [`crate::requests::check_decision`]); a ruling is published with its number.
    async fn decide_request(
        &self,
        by: &Actor,
        id: RequestId,
        decision: Decision,
        at: DateTime<Utc>,
    ) -> StoreResult<Request>;

    /// The requester withdraws a request not yet decided.
    async fn withdraw_request(
        &self,
        by: &Actor,
        id: RequestId,
        at: DateTime<Utc>,
    ) -> StoreResult<Request>;

    /// One request with its history, for its requester or anyone who may decide it.
    async fn request(&self, by: &Actor, id: RequestId) -> StoreResult<Request>;

    /// `by`'s own requests, newest first.
    async fn my_requests(&self, by: &Actor) -> StoreResult<Vec<Request>>;

    /// The requests `by` may decide that are waiting (for them or for the requester's
    /// answer), oldest first.
    async fn request_queue(&self, by: &Actor) -> StoreResult<Vec<Request>>;

    /// The approved-software register: approved install requests not expired on `today`,
    /// matching every word of `query`, by item.
    async fn approved_items(
        &self,
        school: SchoolId,
        query: &str,
        today: NaiveDate,
    ) -> StoreResult<Vec<ApprovedItem>>;

    /// The published reasonable-use rulings, newest first.
    async fn rulings(&self, school: SchoolId) -> StoreResult<Vec<Ruling>>;

    /// Marks approvals whose expiry day is before `today` expired, each with its entry.
    async fn expire_requests(
        &self,
        school: SchoolId,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<usize>;

    /// Queues a reminder to the deciders of every request waiting for a decision for a
    /// multiple of [`crate::requests::REMIND_AFTER_DAYS`] days (once per multiple);
    /// returns how many were queued.
    async fn remind_request_deciders(
        &self,
        school: SchoolId,
        now: DateTime<Utc>,
    ) -> StoreResult<usize>;
}
