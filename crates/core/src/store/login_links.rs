//! Sign-in links: stored as the SHA-256 of their token, mailed once, spent once, and
//! spent in the same transaction that starts the session.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SessionRecord, StoreResult};
use crate::login_link::{LinkAccount, LinkState, LoginLinkId, NewLinkSession, NewLoginLink};
use crate::outbox::NewMail;
use crate::person::Email;

/// What using a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUse {
    /// The link is spent and this session started.
    SignedIn(SessionRecord),
    /// Nothing was done, for this reason (never `LinkState::Valid`).
    Refused(LinkState),
}

/// Sign-in links.
#[async_trait]
pub trait LoginLinks: Send + Sync {
    /// Active people with this email in any school, password or not, by school name.
    async fn link_accounts(&self, email: &Email) -> StoreResult<Vec<LinkAccount>>;
    /// Stores the link and queues its email in one transaction. The mail's dedupe key is
    /// replaced by `login:<link id>`, so each link is mailed once. A password reset link
    /// is recorded in the ledger (`password_reset_sent`, naming who sent it).
    async fn issue_login_link(&self, link: NewLoginLink, mail: NewMail)
    -> StoreResult<LoginLinkId>;
    /// What the link with this token hash is worth at `now`, without using it.
    async fn login_link_state(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkState>;
    /// Spends a password reset link, sets the new password, ends the person's other
    /// sessions, records `password_changed` in the ledger and starts the session, in one
    /// transaction, if the link is a valid reset link at `now`.
    async fn use_reset_link(
        &self,
        token_sha256: &str,
        password_hash: &str,
        session: NewLinkSession,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkUse>;
    /// Spends a sign-in link and starts the session in one transaction, if the link is a
    /// valid sign-in link at `now`; of two simultaneous uses exactly one signs in.
    async fn use_login_link(
        &self,
        token_sha256: &str,
        session: NewLinkSession,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkUse>;
}
