//! Sessions (stored only as the SHA-256 of their token) and the throttling of failed
//! logins.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::ids::*;
use crate::person::Person;
use crate::school::School;

/// A session not used for this long ends, whatever its expiry.
pub const SESSION_IDLE: chrono::TimeDelta = chrono::TimeDelta::hours(2);

/// A stored session. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_sha256: String,
    pub school: SchoolId,
    pub person: PersonId,
    pub csrf_token: String,
    pub auth_method: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A live session with the person it is for and their school, read together.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: SessionRecord,
    pub person: Person,
    pub school: School,
}

/// Sessions and login throttling.
#[async_trait]
pub trait Sessions: Send + Sync {
    async fn create_session(&self, session: SessionRecord) -> StoreResult<()>;
    /// A live session: not expired, used within [`SESSION_IDLE`], person still active.
    /// Using it keeps it alive (its last use is written at most every few minutes).
    async fn session(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>>;
    /// [`Sessions::session`] with its person and school, in one read: what every signed-in
    /// request starts with.
    async fn signed_in(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignedIn>>;
    async fn delete_session(&self, token_sha256: &str) -> StoreResult<()>;
    /// Deletes every session expired or idle at `now`; returns how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Ends every session of a person (on password change, on leaving).
    async fn delete_sessions_of(&self, school: SchoolId, person: PersonId) -> StoreResult<()>;

    /// Counts an attempt under each key, in one transaction with checking them: if any
    /// key already has its limit of attempts since `since`, records nothing and returns
    /// `None` (throttled); otherwise records one attempt per key and returns their ids,
    /// which [`Sessions::forget_attempts`] removes if the attempt succeeds. A burst of
    /// simultaneous attempts cannot slip past the limit.
    async fn take_attempt(
        &self,
        limits: &[(String, u32)],
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>>;
    /// Removes attempts recorded by [`Sessions::take_attempt`] (the attempt succeeded).
    async fn forget_attempts(&self, ids: &[i64]) -> StoreResult<()>;
    /// Records a failed login for a throttle key (e.g. the email, or the client address).
    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()>;
    async fn login_failures_since(&self, key: &str, since: DateTime<Utc>) -> StoreResult<u32>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}
