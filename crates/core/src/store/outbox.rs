//! The email outbox's storage: queuing once per dedupe key, and delivery by lease so that
//! several servers never send one message twice.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::StoreResult;
use crate::access::PeopleAdmin;
use crate::outbox::{MailId, NewMail, OutboxPage, OutgoingMail};

/// The email outbox. Queuing is idempotent per (school, dedupe key); delivery is by
/// claim: [`Outbox::claim_mail`] hands each due message to one worker with a lease, and
/// only the lease holder can record how the attempt went.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Queues one message; `Ok(false)` if its dedupe key was already used.
    async fn enqueue_mail(&self, mail: NewMail, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Queues several in one transaction; returns how many were new.
    async fn enqueue_mails(&self, mails: Vec<NewMail>, at: DateTime<Utc>) -> StoreResult<usize>;
    /// Claims up to `limit` messages that are due at `now` (queued, past `not_before` and
    /// their next attempt, under no live lease) for `worker` until `now + lease`, and
    /// counts an attempt on each. Messages whose `unless_signed` person has signed that
    /// version (or a later one of its policy) are cancelled instead, never returned. Safe with several workers on
    /// several servers: a message is held by one lease at a time.
    async fn claim_mail(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: u32,
    ) -> StoreResult<Vec<OutgoingMail>>;
    /// Records that the server accepted the message. `Ok(false)` if `worker` no longer
    /// holds it (its lease ran out and another worker claimed it).
    async fn mark_mail_sent(
        &self,
        id: MailId,
        worker: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failed attempt and when to try again; releases the lease.
    async fn retry_mail_later(
        &self,
        id: MailId,
        worker: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failed attempt and that no more will be made.
    async fn give_up_mail(
        &self,
        id: MailId,
        worker: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The soonest time a queued message of any school becomes due (for the worker to
    /// sleep until), or `None` if nothing is queued.
    async fn next_mail_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// The school's messages, newest first: `limit` of them after skipping `offset`.
    async fn outbox_page(
        &self,
        admin: &PeopleAdmin,
        offset: u64,
        limit: u32,
    ) -> StoreResult<OutboxPage>;
}
