//! Sign-in by email link, for people who rarely log in (governors): a random token sent
//! by email, stored only as its SHA-256, valid for [`LINK_VALID_FOR`] and usable once.
//! Using it creates a session in the same transaction that spends it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids::{PersonId, SchoolId};
use crate::person::Person;

/// How long a sign-in link works after it is sent.
pub const LINK_VALID_FOR: TimeDelta = TimeDelta::minutes(15);

/// The `auth_method` of a session started from an email link (see
/// [`crate::signing::AuthMethod::EmailLink`]).
pub const EMAIL_LINK_METHOD: &str = "email_link";

/// A sign-in link's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoginLinkId(pub i64);

impl std::fmt::Display for LoginLinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Someone a link may be sent to: an active person with this email, in one school.
#[derive(Debug, Clone)]
pub struct LinkAccount {
    pub person: Person,
    pub school_name: String,
}

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Signs the person in (asked for by themselves on the login page).
    SignIn,
    /// Lets the person choose a new password; sent by an administrator, who never learns
    /// or sets the password. Valid for [`RESET_VALID_FOR`].
    PasswordReset { sent_by: PersonId },
}

/// How long a password reset link works after it is sent.
pub const RESET_VALID_FOR: TimeDelta = TimeDelta::hours(24);

impl LinkPurpose {
    pub fn code(self) -> &'static str {
        match self {
            LinkPurpose::SignIn => "sign_in",
            LinkPurpose::PasswordReset { .. } => "password_reset",
        }
    }
}

/// The session `auth_method` of a session begun from a reset link sent by `sent_by`.
pub fn reset_session_method(sent_by: PersonId) -> String {
    format!("reset_link:{sent_by}")
}

/// A link to store: the token's hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginLink {
    pub purpose: LinkPurpose,
    pub school: SchoolId,
    pub person: PersonId,
    pub token_sha256: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The session to start when a link is used; its school and person come from the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLinkSession {
    pub token_sha256: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// What a link is worth now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Unused and in time, for an active person.
    Valid {
        school: SchoolId,
        person: PersonId,
        expires_at: DateTime<Utc>,
        purpose: LinkPurpose,
    },
    Used,
    Expired,
    /// No such link, or its person has left.
    Unknown,
}
