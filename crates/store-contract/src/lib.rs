//! Test support: fresh databases of each backend for the contract tests.
