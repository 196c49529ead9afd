//! Undersign's domain: schools, people, roles, policy versions, signatures and the
//! per-school evidence ledger, plus the storage traits the database crates implement.
//!
//! Nothing here does I/O. Values are parsed once at the edge into the types below
//! (`FullName`, `Email`, `SignatureMark` …) and carried as such down to the store.

pub mod access;
pub mod block_reports;
pub mod chasing;
pub mod compliance;
pub mod ids;
pub mod ledger;
pub mod login_link;
pub mod markdown;
pub mod outbox;
pub mod person;
pub mod policy;
pub mod receipt;
pub mod redline;
pub mod roster;
pub mod school;
pub mod signing;
pub mod store;
pub mod time;
pub mod use_cases;
pub mod verification;
pub mod visits;

pub use ids::*;
