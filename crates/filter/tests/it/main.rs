//! Integration tests of the filter crate, in one binary: the shipped example rules against
//! the published policy, fuzzing of the parsers, and the differential test against squidGuard.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod differential;
mod examples;
mod fuzz;
