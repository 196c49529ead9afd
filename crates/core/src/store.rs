//! The storage traits, one per use-case area, each in its own file below. Each method is
//! a whole use case and one transaction; every method that touches school data takes the
//! school (directly or inside a capability) and never returns another school's rows.
//! Evidence methods append their ledger entry in the same transaction as the fact they
//! record.
//!
//! Every trait a store implements lives here, and nothing here imports a module that
//! drives a store (those are [`crate::use_cases`] and [`crate::verification`]), so the domain
//! modules stay pure and the storage contract reads in one place. Implemented by
//! `undersign-store-sqlite` and `undersign-store-postgres`; the contract tests in
//! `undersign-store-contract` run the same bodies against both.

mod block_reports;
mod chasing;
mod compliance;
mod consent;
mod disclosures;
mod kiosks;
mod ledger;
mod login_links;
mod logs;
mod outbox;
mod people;
mod policies;
mod requests;
mod roster;
mod safeguarding;
mod schools;
mod sessions;
mod signing;
mod visits;

pub use block_reports::BlockReports;
pub use chasing::Chasing;
pub use compliance::Compliance;
pub use consent::{ConsentRegister, PupilApply, PupilOutcome};
pub use disclosures::{Disclosures, Reading};
pub use kiosks::Kiosks;
pub use ledger::Ledger;
pub use login_links::{LinkUse, LoginLinks};
pub use logs::{DeviceRecord, Holder, Lease, LogPartition, Logs};
pub use outbox::Outbox;
pub use people::{LoginAccount, People};
pub use policies::{Policies, PolicySummary};
pub use requests::Requests;
pub use roster::{RosterImport, RosterOutcome};
pub use safeguarding::Safeguarding;
pub use schools::Schools;
pub use sessions::{SESSION_IDLE, SessionRecord, Sessions, SignedIn};
pub use signing::Signing;
pub use visits::Visits;

/// What can go wrong in a store. `Conflict` and `NotFound` carry messages fit for users;
/// `Backend` is logged and shown as a generic failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the application needs from a database.
pub trait Store:
    Schools
    + People
    + Sessions
    + Policies
    + Signing
    + Ledger
    + BlockReports
    + Compliance
    + RosterImport
    + Kiosks
    + Visits
    + Chasing
    + Outbox
    + LoginLinks
    + Logs
    + Disclosures
    + Requests
    + ConsentRegister
    + Safeguarding
    + Send
    + Sync
{
    /// `sqlite` or `postgres`, for logs and test output.
    fn backend(&self) -> &'static str;
}
