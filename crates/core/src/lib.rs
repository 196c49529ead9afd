//! Undersign's domain: schools, people, roles, policy versions, signatures and the
//! per-school evidence ledger, plus the storage traits the database crates implement.
//!
//! Nothing here does I/O. Values are parsed once at the edge into the types below
//! (`FullName`, `Email`, `SignatureMark`, `TimeZone` …) and carried as such down to the
//! store.
//!
//! The pieces, from the bottom up:
//! - [`ids`], [`time`]: typed row ids, and UTC instants at the microsecond with the
//!   school's [`time::TimeZone`];
//! - [`person`], [`school`]: validated names and emails, roles per school, organisations;
//! - [`access`]: capabilities (`PeopleAdmin`, `PolicyPublisher` …) handed out only after a
//!   role check, and taken by the privileged store methods;
//! - [`markdown`], [`policy`], [`redline`]: policy text with numbered statements, versions
//!   (major or minor), referenced documents, and what changed between two versions;
//! - [`ledger`]: the per-school hash chain every evidence event is appended to, and its
//!   signed checkpoints;
//! - [`evidence`]: every evidence row checked against the entry that recorded it;
//! - [`signing`]: what a signer supplies, how it is checked, the evidence kept;
//! - [`receipt`], [`verification`]: sealed receipts, their codes, and `/verify`;
//! - [`compliance`], [`chasing`], [`outbox`], [`login_link`]: who has signed, reminders
//!   and digests planned from that, the email outbox, sign-in links;
//! - [`roster`]: the MIS export read and planned against the school's people;
//! - [`visits`]: kiosks, visitors, the visitor AUP and the purge of visitor data;
//! - [`block_reports`]: reports from the block page that a site was blocked wrongly;
//! - [`consent`]: image consent per person and channel, and the verdict of a check
//!   before images leave the school;
//! - [`pupils`]: pupils from the MIS for the consent register, read and planned like the
//!   staff roster;
//! - [`requests`]: asking permission, advice or a ruling where the policy says to, and
//!   the approved-software register and published rulings that come of it;
//! - [`store`]: every storage trait, one file per area, which the stores implement and
//!   the contract suite tests on SQLite and PostgreSQL;
//! - [`use_cases`]: the few use cases that drive a store across several traits (chasing,
//!   visitor housekeeping, the organisation view's summaries).

pub mod access;
pub mod block_reports;
pub mod chasing;
pub mod compliance;
pub mod consent;
pub mod disclosure;
pub mod evidence;
pub mod ids;
pub mod ledger;
pub mod login_link;
pub mod logs;
pub mod markdown;
pub mod outbox;
pub mod person;
pub mod policy;
pub mod pupils;
pub mod receipt;
pub mod redline;
pub mod requests;
pub mod roster;
pub mod safeguarding;
pub mod school;
pub mod signing;
pub mod store;
pub mod time;
pub mod use_cases;
pub mod verification;
pub mod visits;

pub use ids::*;
