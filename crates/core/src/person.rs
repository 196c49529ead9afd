//! People and what they may be: validated names and emails, roles per school, the
//! audiences a policy is published to, and the line-manager relation.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

use crate::ids::{PersonId, SchoolId};

/// Why a piece of personal input was refused; the message is fit to show the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl InputError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } => field,
        }
    }
}

/// A person's full name as on their record: letters (any script), spaces, hyphens,
/// apostrophes and full stops, 1–100 characters, with runs of spaces collapsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FullName(String);

impl FullName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let collapsed = collapse_spaces(raw);
        if collapsed.is_empty() {
            return Err(InputError::new("full name", "enter a full name"));
        }
        if collapsed.chars().count() > Self::MAX_CHARS {
            return Err(InputError::new(
                "full name",
                format!("a full name is at most {} characters", Self::MAX_CHARS),
            ));
        }
        if let Some(bad) = collapsed
            .chars()
            .find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.')))
        {
            return Err(InputError::new(
                "full name",
                format!(
                    "a name may contain letters, spaces, hyphens, apostrophes and full stops, not {bad:?}"
                ),
            ));
        }
        Ok(Self(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `typed` is this name, ignoring case and extra spaces.
    pub fn matches_typed(&self, typed: &str) -> bool {
        let typed = collapse_spaces(typed);
        typed.to_lowercase() == self.0.to_lowercase()
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Trims and collapses every run of whitespace into one space.
pub fn collapse_spaces(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An email address, lower-cased: one `@`, a non-empty local part, a domain with a dot,
/// no spaces or angle brackets, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let value = raw.trim().to_lowercase();
        let err = |m: &str| Err(InputError::new("email", m.to_string()));
        if value.is_empty() {
            return err("enter an email address");
        }
        if value.len() > 254 {
            return err("an email address is at most 254 characters");
        }
        if value.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        }) {
            return err("an email address cannot contain spaces, quotes, commas or angle brackets");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return err("an email address needs an @");
        };
        if local.is_empty() || domain.contains('@') {
            return err("an email address needs exactly one @ with a name before it");
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return err("the part after @ must be a domain such as school.sch.uk");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person does in one school (DESIGN.md §1). A person may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Staff,
    Governor,
    Receptionist,
    Headteacher,
    LeadershipTeam,
    Dsl,
    NetworkManager,
    SchoolAdministrator,
    TrustAdministrator,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Staff,
        Role::Governor,
        Role::Receptionist,
        Role::Headteacher,
        Role::LeadershipTeam,
        Role::Dsl,
        Role::NetworkManager,
        Role::SchoolAdministrator,
        Role::TrustAdministrator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Governor => "governor",
            Role::Receptionist => "receptionist",
            Role::Headteacher => "headteacher",
            Role::LeadershipTeam => "leadership_team",
            Role::Dsl => "dsl",
            Role::NetworkManager => "network_manager",
            Role::SchoolAdministrator => "school_administrator",
            Role::TrustAdministrator => "trust_administrator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Staff => "Staff",
            Role::Governor => "Governor",
            Role::Receptionist => "Receptionist",
            Role::Headteacher => "Headteacher",
            Role::LeadershipTeam => "Leadership team",
            Role::Dsl => "Designated safeguarding lead",
            Role::NetworkManager => "Network manager",
            Role::SchoolAdministrator => "School administrator",
            Role::TrustAdministrator => "Trust administrator",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let wanted = raw.trim().to_lowercase().replace([' ', '-'], "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| InputError::new("role", format!("unknown role {raw:?}")))
    }

    /// The audience a holder of this role signs as. Everyone employed by the school is
    /// "staff" for the AUP; governors are their own audience.
    pub fn audience(self) -> Option<Audience> {
        match self {
            Role::Governor => Some(Audience::Governors),
            Role::TrustAdministrator => None,
            _ => Some(Audience::Staff),
        }
    }
}

/// A set of roles, kept sorted so it prints and compares stably.
pub type Roles = BTreeSet<Role>;

/// Who a policy version is published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Staff,
    Governors,
    Visitors,
}

impl Audience {
    pub const ALL: [Audience; 3] = [Audience::Staff, Audience::Governors, Audience::Visitors];

    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Staff => "staff",
            Audience::Governors => "governors",
            Audience::Visitors => "visitors",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Audience::Staff => "Staff",
            Audience::Governors => "Governors",
            Audience::Visitors => "Visitors",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        Audience::ALL
            .into_iter()
            .find(|a| a.as_str() == raw.trim())
            .ok_or_else(|| InputError::new("audience", format!("unknown audience {raw:?}")))
    }
}

/// The audiences a person with these roles belongs to.
pub fn audiences_of(roles: &Roles) -> BTreeSet<Audience> {
    roles.iter().filter_map(|r| r.audience()).collect()
}

/// Whether the person can log in and is asked to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    Active,
    /// A leaver: cannot log in, is asked for nothing, keeps their evidence.
    Left,
}

impl PersonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonStatus::Active => "active",
            PersonStatus::Left => "left",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        match raw.trim() {
            "active" => Ok(PersonStatus::Active),
            "left" => Ok(PersonStatus::Left),
            other => Err(InputError::new(
                "status",
                format!("unknown status {other:?}"),
            )),
        }
    }
}

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: PersonId,
    pub school: SchoolId,
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub line_manager: Option<PersonId>,
    pub status: PersonStatus,
}

impl Person {
    pub fn audiences(&self) -> BTreeSet<Audience> {
        audiences_of(&self.roles)
    }
}

/// What is needed to add a person by hand.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub line_manager: Option<PersonId>,
    /// An argon2id PHC string, or `None` for a person who cannot log in yet.
    pub password_hash: Option<String>,
}

/// An edit to a person's record.
#[derive(Debug, Clone)]
pub struct PersonUpdate {
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub line_manager: Option<PersonId>,
    pub status: PersonStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_name_matches_ignoring_case_and_extra_spaces() {
        let name = FullName::parse("Sam  O'Neill-Jones").unwrap();
        assert_eq!(name.as_str(), "Sam O'Neill-Jones");
        assert!(name.matches_typed("  sam o'neill-jones "));
        assert!(name.matches_typed("SAM   O'NEILL-JONES"));
        assert!(!name.matches_typed("Sam ONeill-Jones"));
    }

    #[test]
    fn a_name_with_markup_is_refused() {
        let err = FullName::parse("<script>alert(1)</script>").unwrap_err();
        assert_eq!(err.field(), "full name");
        assert!(err.to_string().contains("'<'"), "{err}");
    }

    #[test]
    fn an_overlong_name_is_refused() {
        assert!(FullName::parse(&"a".repeat(101)).is_err());
        assert!(FullName::parse(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn names_in_other_scripts_are_accepted() {
        assert!(FullName::parse("Zoë Łukasiewicz").is_ok());
        assert!(FullName::parse("محمد علي").is_ok());
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse(" A.B@School.sch.uk ").unwrap().as_str(),
            "a.b@school.sch.uk"
        );
        for bad in [
            "", "no-at", "@x.uk", "a@b", "a b@c.uk", "a@b@c.uk", "<a@b.uk>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn roles_parse_from_labels_and_codes() {
        assert_eq!(
            Role::parse("Network manager").unwrap(),
            Role::NetworkManager
        );
        assert_eq!(
            Role::parse("school_administrator").unwrap(),
            Role::SchoolAdministrator
        );
        assert!(Role::parse("caretaker").is_err());
    }

    #[test]
    fn governors_sign_as_governors_and_staff_roles_as_staff() {
        let roles: Roles = [Role::Governor, Role::Headteacher].into();
        assert_eq!(
            audiences_of(&roles),
            [Audience::Governors, Audience::Staff].into()
        );
    }
}
