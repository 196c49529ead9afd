//! Squid's access log into Undersign.
//!
//! ```text
//! Squid ──daemon protocol──▶ daemon ──▶ journal (segments, fsync, rotate on R)
//!                                            │
//! access.log[.gz] files ─────────────────────┤
//!                                            ▼
//!        line (parse) → classify (attribute with the register, decide with the rules)
//!                                            ▼
//!                     load: batches stored with their source's cursor
//! ```
//!
//! - [`line`]: the native and `undersign` line formats, errors naming the field;
//! - [`source`]: bounded line reading, gzip, a file's source name;
//! - [`journal`], [`daemon`]: the logfile daemon and the journal it writes;
//! - [`classify`]: a line made into a stored request;
//! - [`load`]: sources into the store, once.

pub mod classify;
pub mod daemon;
pub mod journal;
pub mod line;
pub mod load;
pub mod source;
