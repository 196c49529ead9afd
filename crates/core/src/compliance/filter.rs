//! The dashboard's filters: by standing (signed, outstanding, overdue, declined), role,
//! audience and the last version a person signed.

use crate::person::{InputError, Role};
use serde::Serialize;

use super::*;

/// Which standings to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StandingFilter {
    Outstanding,
    Overdue,
    Declined,
    Signed,
}

impl StandingFilter {
    pub const ALL: [StandingFilter; 4] = [
        StandingFilter::Outstanding,
        StandingFilter::Overdue,
        StandingFilter::Declined,
        StandingFilter::Signed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StandingFilter::Outstanding => "outstanding",
            StandingFilter::Overdue => "overdue",
            StandingFilter::Declined => "declined",
            StandingFilter::Signed => "signed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StandingFilter::Outstanding => "Not signed (all)",
            StandingFilter::Overdue => "Overdue",
            StandingFilter::Declined => "Declined",
            StandingFilter::Signed => "Signed",
        }
    }

    fn matches(self, s: Standing) -> bool {
        match self {
            StandingFilter::Outstanding => s.outstanding(),
            StandingFilter::Overdue => s == Standing::Overdue,
            StandingFilter::Declined => s == Standing::Declined,
            StandingFilter::Signed => s == Standing::Signed,
        }
    }
}

/// The last version a person signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VersionFilter {
    Never,
    Number(i32),
}

/// The dashboard's filters; empty means everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub role: Option<Role>,
    pub standing: Option<StandingFilter>,
    pub version: Option<VersionFilter>,
}

impl Filter {
    /// From the query string: `role` (a role code), `status` (outstanding, overdue,
    /// declined, signed), `version` (`never` or a version number); blank means any.
    pub fn parse(role: &str, status: &str, version: &str) -> Result<Self, InputError> {
        let role = match role.trim() {
            "" => None,
            r => Some(Role::parse(r)?),
        };
        let standing = match status.trim() {
            "" => None,
            s => Some(
                StandingFilter::ALL
                    .into_iter()
                    .find(|f| f.as_str() == s)
                    .ok_or_else(|| InputError::new("status", format!("unknown status {s:?}")))?,
            ),
        };
        let version = match version.trim() {
            "" => None,
            "never" => Some(VersionFilter::Never),
            n => Some(VersionFilter::Number(n.parse().map_err(|_| {
                InputError::new("version", format!("unknown version {n:?}"))
            })?)),
        };
        Ok(Self {
            role,
            standing,
            version,
        })
    }

    pub fn matches(&self, p: &PersonStanding) -> bool {
        self.role.is_none_or(|r| p.roles.contains(&r))
            && self.standing.is_none_or(|s| s.matches(p.standing))
            && self.version.is_none_or(|v| match v {
                VersionFilter::Never => p.last_signed.is_none(),
                VersionFilter::Number(n) => p.last_signed == Some(n),
            })
    }
}
