//! The web application in process: every request goes through the real router, the real
//! middleware and a real SQLite store in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod block_reports;
mod chasing;
mod compliance;
mod consent;
mod disclosures;
mod documents;
mod errors;
mod forms;
mod kiosk;
mod outbox;
mod password_resets;
mod policies;
mod requests;
mod roster;
mod safeguarding;
mod staff_pages;
mod support;
