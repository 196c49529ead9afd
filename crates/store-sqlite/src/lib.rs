//! Undersign storage on SQLite.
