//! How both stores write values that are not plain columns: JSON columns, validated values
//! read back without validating again, and times cut to the microsecond. The same in both
//! databases, so written once here rather than in each store's `db` module.

use chrono::{DateTime, SubsecRound, Utc};
use serde::de::DeserializeOwned;
use undersign_core::store::{StoreError, StoreResult};

/// Times are hashed into ledger payloads at microsecond precision, which is what
/// PostgreSQL's `TIMESTAMPTZ` keeps; everything stored is cut to it first so that what is
/// read back is exactly what was hashed.
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Reads a JSON column written by this store.
pub(crate) fn from_json<T: DeserializeOwned>(column: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("column {column} holds unreadable JSON: {e}")))
}

/// Writes a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

/// Rebuilds a validated value (a name, an email) from what this store wrote after
/// validating it, without validating again: a record stays readable even if the rules for
/// new input become stricter later.
pub(crate) fn trusted<T: DeserializeOwned>(column: &str, text: String) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| StoreError::Backend(format!("column {column} is unreadable: {e}")))
}
