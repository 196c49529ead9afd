//! Undersign storage on PostgreSQL.
