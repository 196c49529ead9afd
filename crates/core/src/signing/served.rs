//! The token a sign page seals into its forms instead of writing a `viewed` entry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PersonId, VersionId};

/// What the sign page served: the version and the SHA-256 of its text, to whom and when.
/// Opening the page writes nothing; this travels with the form, sealed with the school's
/// key, and is recorded with the signature or decline it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub person: PersonId,
    pub version: VersionId,
    pub text_sha256: String,
    pub at: DateTime<Utc>,
}

/// How long a served page's token is accepted.
pub const SERVED_VALID_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);

impl Served {
    fn message(json: &str) -> Vec<u8> {
        format!("undersign-served\n{json}").into_bytes()
    }

    /// `<hex of the JSON>.<hex of the Ed25519 signature>`.
    pub fn seal(&self, key: &ed25519_dalek::SigningKey) -> String {
        use ed25519_dalek::Signer;
        let json = serde_json::to_string(self).unwrap_or_default();
        let signature = key.sign(&Self::message(&json));
        format!(
            "{}.{}",
            hex::encode(&json),
            hex::encode(signature.to_bytes())
        )
    }

    /// The token's contents, if the school's key sealed it and it is still in time; the
    /// error says why not, for the person to reload the page.
    pub fn open(
        token: &str,
        key: &ed25519_dalek::VerifyingKey,
        now: DateTime<Utc>,
    ) -> Result<Served, &'static str> {
        use ed25519_dalek::Verifier;
        const CHANGED: &str =
            "this page was changed after it was served; reload it and read the policy again";
        let (json_hex, sig_hex) = token.trim().split_once('.').ok_or(CHANGED)?;
        let json = hex::decode(json_hex)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(CHANGED)?;
        let sig: [u8; 64] = hex::decode(sig_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CHANGED)?;
        key.verify(
            &Self::message(&json),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| CHANGED)?;
        let served: Served = serde_json::from_str(&json).map_err(|_| CHANGED)?;
        if served.at > now + chrono::TimeDelta::minutes(5) || now - served.at > SERVED_VALID_FOR {
            return Err(
                "this page was opened more than a day ago; reload it and read the policy again",
            );
        }
        Ok(served)
    }
}
