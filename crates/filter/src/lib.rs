//! Undersign's web rules at the proxy: category lists in the squidGuard/UT1 layout, the
//! school timetable, ordered rules that cite the AUP, and the Squid external ACL helper.
//!
//! No database, no async runtime: the helper is a separate process started by Squid and needs
//! only this crate and a rules file, so a slow database can never stall a school's browsing.
//!
//! The pieces, from the bottom up:
//! - [`category`]: category identifiers and bit sets of them;
//! - [`index`]: the compact domain and URL indexes (squidGuard matching semantics);
//! - [`lists`]: loading `<category>/domains` and `<category>/urls` files;
//! - [`target`]: turning a requested URL into the keys squidGuard would look up;
//! - [`net`], [`timetable`]: who is asking, from where, and when;
//! - [`rules`]: the `filter.toml` file, compiled into a [`rules::RuleSet`];
//! - [`engine`]: one decision, and its explanation;
//! - [`protocol`], [`helper`]: Squid's `external_acl_type` protocol and the helper loop;
//! - [`synth`]: synthetic lists and requests for the squidGuard comparison and benchmarks;
//! - [`cli`]: the clap types and runners the `undersign` binary wires in.

#![deny(clippy::print_stdout)]

pub mod category;
pub mod cli;
pub mod engine;
pub mod error;
pub mod helper;
pub mod index;
pub mod lists;
pub mod net;
pub mod protocol;
pub mod rules;
pub mod synth;
pub mod target;
pub mod timetable;

pub use engine::{Decision, Explanation, Verdict};
pub use rules::RuleSet;
