//! The `undersign` command's logic, kept out of `main.rs` so that it can be tested: the
//! command line ([`commands`]), opening a store by URL ([`store`]), configuration
//! ([`config`]), school keys ([`keys`], from the web crate), checkpoints, verification and
//! the demo.

pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod demo;
pub mod import;
pub mod logs;
pub mod password;
pub mod provision;
pub mod receipt;
pub mod serve;
pub mod store;
pub mod verify;
pub mod witness;

/// The schools' key files, shared with the web application (which signs receipts).
pub use undersign_web::keys;
