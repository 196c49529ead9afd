#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of the `undersign` binary: tamper detection by `verify`, a crash
//! test of `serve` under concurrent signings, and the operator commands — each on SQLite
//! and on PostgreSQL — and the web rules enforced through a real Squid.

mod chasing;
mod commands;
mod crash;
mod import;
mod logs;
mod mail;
mod receipt;
mod squid;
mod squid_logs;
mod support;
mod tamper;
