//! Delivery through a real SMTP server (Postfix's smtp-sink on 127.0.0.1), from a real
//! outbox on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod delivery;
