//! Passwords for accounts the command line creates: generated from the operating system's
//! random source and hashed exactly as the web login checks them
//! (`undersign_web::auth::hash_password`, argon2id).

use anyhow::anyhow;
use rand::Rng;
use rand::rngs::OsRng;

/// Letters and digits that cannot be mistaken for one another when read off a screen.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A new password of 16 characters (about 92 bits).
pub fn generate() -> String {
    let mut rng = OsRng;
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The argon2id PHC string the web login verifies.
pub fn hash(password: &str) -> anyhow::Result<String> {
    undersign_web::auth::hash_password(password).map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_password_is_accepted_by_the_login_rules_and_checks_out() {
        let pw = generate();
        assert_eq!(pw.chars().count(), 16);
        assert!(undersign_web::auth::check_new_password(&pw, &pw).is_ok());
        let hash = hash(&pw).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(undersign_web::auth::verify_password(&hash, &pw));
        assert!(!undersign_web::auth::verify_password(&hash, "not it"));
        assert_ne!(generate(), pw);
    }
}
