//! Database errors to store errors. A broken constraint is named (by the name given in the
//! migration) and turned into a message fit for users in [`db`], the one place that does
//! it; a refusal by an immutability trigger becomes `Refused`; anything else is `Backend`.
//! Shared by both stores; each names a broken constraint its own way in `db::constraint`.

use undersign_core::store::{StoreError, StoreResult};

use crate::db::constraint;

/// Whether `e` is a refusal raised by one of the immutability triggers.
fn trigger_refusal(e: &sqlx::Error) -> Option<String> {
    let message = e.as_database_error()?.message();
    (message.contains("cannot be changed") || message.contains("append-only"))
        .then(|| message.to_string())
}

/// The store error for a database error, with a user-facing message for every constraint
/// a user can break.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    let message = match constraint(&e) {
        Some("schools_slug_key") => "another school already has that short name",
        Some("people_school_id_email_key") => "someone in this school already has that email",
        Some("policy_versions_policy_id_number_key") => {
            "another version of this policy was created at the same time; try again"
        }
        Some("signatures_person_version_key") => "this version has already been signed",
        Some("ledger_entries_school_id_seq_key") => {
            "another change was recorded at the same moment; try again"
        }
        Some("checkpoints_school_id_seq_key") => "a checkpoint at that entry is already recorded",
        Some("foreign_key") => {
            return StoreError::Refused(
                "that refers to something that does not exist in this school".into(),
            );
        }
        _ => {
            if let Some(refusal) = trigger_refusal(&e) {
                return StoreError::Refused(refusal);
            }
            return StoreError::Backend(e.to_string());
        }
    };
    StoreError::Conflict(message.to_string())
}

/// `result.on_constraint(name, f)`: a more specific error for one constraint in one place
/// (e.g. naming the email that is taken); everything else goes through [`db`].
pub(crate) trait OnConstraint<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> StoreError) -> StoreResult<T>;
}

impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> StoreError) -> StoreResult<T> {
        self.map_err(|e| {
            if constraint(&e) == Some(name) {
                f()
            } else {
                db(e)
            }
        })
    }
}
