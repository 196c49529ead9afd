//! The store contract: every test body here runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod smoke;

undersign_store_contract::db_tests! {
    smoke: [a_seeded_school_has_a_valid_chain],
}
