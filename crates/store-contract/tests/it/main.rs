//! The store contract: every `#[db_test]` body here runs on SQLite and on PostgreSQL, as
//! `<module>::<test>::sqlite` and `<module>::<test>::postgres`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backends;
mod block_reports;
mod chasing;
mod compliance;
mod consent;
mod disclosures;
mod helpers;
mod ledger;
mod logs;
mod obligations;
mod outbox;
mod people;
mod policies;
mod receipts;
mod requests;
mod roster;
mod schools;
mod sessions;
mod signing;
mod tamper;
mod tenancy;
mod visits;
