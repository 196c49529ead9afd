//! Passwords and the rules of logging in: argon2id hashing (run off the async threads),
//! the minimum length of a new password, and how many failed logins are allowed before an
//! address or a client is made to wait. The pages that use them are `pages::login` and
//! `pages::password`; sessions are [`crate::session`].

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::error::{AppError, AppResult};

/// Failed logins allowed per email address in [`THROTTLE_MINUTES`].
pub const MAX_FAILURES_PER_EMAIL: u32 = 5;
/// Failed logins allowed per client address in [`THROTTLE_MINUTES`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 30;
pub const THROTTLE_MINUTES: i64 = 15;
/// Receipt checks on the public `/verify` page allowed per client address in
/// [`THROTTLE_MINUTES`]: enough for a school office going through a pile of receipts, not
/// for trying codes at random.
pub const VERIFY_CHECKS_PER_ADDRESS: u32 = 60;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password hash could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash password: {0}")]
pub struct HashError(String);

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password against the rules, with a message to show.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > 256 {
        return Err("a password is at most 256 characters".into());
    }
    if password != confirm {
        return Err("the two new passwords are not the same".into());
    }
    Ok(())
}

/// At most one argon2 computation per CPU at a time: each takes about 19 MiB and tens of
/// milliseconds, so a burst of logins waits its turn instead of exhausting memory and the
/// blocking thread pool.
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

pub(crate) async fn hash_blocking(password: String) -> AppResult<String> {
    let _permit = argon2_permits()
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

pub(crate) async fn verify_blocking(hash: String, password: String) -> bool {
    let Ok(_permit) = argon2_permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "x"));
    }
}
