//! Organisations (a trust, a council, or a single-school install) and their schools.

use serde::Serialize;

use crate::ids::{OrganisationId, SchoolId};
use crate::person::InputError;
use crate::time::TimeZone;

/// A short name for URLs and the command line: `a-z`, `0-9` and `-`, 2–50 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SchoolSlug(String);

impl SchoolSlug {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let s = raw.trim();
        let ok = (2..=50).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(InputError::new(
                "slug",
                "a school's short name is 2–50 lower-case letters, digits and hyphens",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: OrganisationId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct School {
    pub id: SchoolId,
    pub organisation: OrganisationId,
    pub name: String,
    pub slug: String,
    /// The zone the school's times are shown in, e.g. `Europe/London`.
    pub timezone: TimeZone,
    /// Ed25519 public key (hex) that checks the school's checkpoints and receipts. The
    /// private key is kept outside the database.
    pub public_key: String,
}

#[derive(Debug, Clone)]
pub struct NewSchool {
    pub name: String,
    pub slug: SchoolSlug,
    pub timezone: TimeZone,
    pub public_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert!(SchoolSlug::parse("st-marys-2").is_ok());
        for bad in ["", "a", "St Marys", "-x", "x-", "a/b"] {
            assert!(SchoolSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
