//! The roster from the school's MIS (e.g. SIMS): a CSV of staff and governors parsed into
//! checked rows, and the plan that brings the school's people in line with it (joiners,
//! changes, leavers). Pure: bytes in, a plan or errors naming the line and field out.
//!
//! Columns (header names are matched ignoring case, spaces and punctuation; other columns
//! are ignored, so a SIMS staff export can be used as it is):
//!
//! | field | required | accepted headers |
//! |---|---|---|
//! | MIS id | no | `MIS ID`, `External ID`, `Staff Code`, `Staff ID`, `Person ID`, `Employee Number`, `Payroll Number`, `ID` |
//! | name | yes | `Full Name`, `Name`, `Staff Name`, or a forename column (`Preferred Forename`, `Forename`, `First Name`, `Legal Forename`, `Given Name`) with a surname column (`Preferred Surname`, `Surname`, `Last Name`, `Legal Surname`, `Family Name`) |
//! | email | yes | `Email`, `Email Address`, `Work Email`, `School Email`, `Email (Work)` |
//! | roles | yes | `Roles`, `Role`, `Staff Role`, `Staff Type` — one or more of Undersign's roles (or `teacher`, `teaching assistant`, `support staff`, `head teacher`), separated by `;`, `|`, `/` or `,` |
//! | start date | no | `Start Date`, `Employment Start Date`, `Contract Start Date`, `Date of Arrival` — `YYYY-MM-DD` or `DD/MM/YYYY` |
//!
//! Matching: a row is the existing person with the same MIS id, else with the same email.
//! Leavers are the active people the roster keeps (those added or matched by an earlier
//! import) who are missing from the file; people added by hand and never imported are left
//! alone. The file lists each person's roles in full: what it says replaces what is stored.

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::access::PeopleAdmin;
use crate::ids::PersonId;
use crate::person::{Email, FullName, PersonStatus, Role, Roles};

pub(crate) mod file;

pub use file::{check_size, parse};

/// The most rows one file may have.
pub const MAX_ROWS: usize = 20_000;
/// The largest file accepted, refused before anything is read from it: 20,000 rows of
/// about 400 bytes each, far beyond any real staff export.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Parsing stops collecting errors after this many.
pub const MAX_ERRORS: usize = 100;

/// One problem with the file: the line (1 is the header) and the column it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}, {field}: {message}")]
pub struct RosterError {
    pub line: u64,
    /// The column as headed in the file, or the field's name when the column is missing.
    pub field: String,
    pub message: String,
}

impl RosterError {
    pub(crate) fn new(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A person's identifier in the MIS (e.g. a SIMS staff code): 1–64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MisId(String);

impl MisId {
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if value.chars().count() > 64 || value.chars().any(char::is_control) {
            return Err("an MIS id is at most 64 characters, without control characters".into());
        }
        Ok(Some(Self(value.to_string())))
    }

    /// Rebuilds an id this system stored after parsing it.
    pub fn trusted(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MisId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One checked row of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterRow {
    pub line: u64,
    pub mis_id: Option<MisId>,
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub start_date: Option<NaiveDate>,
}

/// A whole file, every row checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub rows: Vec<RosterRow>,
    /// SHA-256 of the file's bytes, for the record.
    pub sha256: String,
}

/// A person as the roster import sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingPerson {
    pub id: PersonId,
    pub full_name: FullName,
    pub email: Email,
    pub roles: Roles,
    pub status: PersonStatus,
    pub mis_id: Option<MisId>,
    pub start_date: Option<NaiveDate>,
    /// Added or matched by an import: the roster decides whether they have left.
    pub on_roster: bool,
}

/// One field that an import changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// An existing person the file changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterUpdate {
    pub person: PersonId,
    pub row: RosterRow,
    pub changes: Vec<FieldChange>,
}

/// What applying a file does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterPlan {
    pub joiners: Vec<RosterRow>,
    pub updates: Vec<RosterUpdate>,
    pub leavers: Vec<ExistingPerson>,
    /// Rows that match a person exactly.
    pub unchanged: usize,
}

impl RosterPlan {
    pub fn is_empty(&self) -> bool {
        self.joiners.is_empty() && self.updates.is_empty() && self.leavers.is_empty()
    }

    /// How many writes applying it takes (for progress).
    pub fn steps(&self) -> u64 {
        (self.joiners.len() + self.updates.len() + self.leavers.len()) as u64
    }

    /// A digest of what the plan does: a preview and its apply must agree on it, so that
    /// nothing is applied that was not shown.
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }
}

fn roles_text(roles: &Roles) -> String {
    roles
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn changes_for(row: &RosterRow, p: &ExistingPerson) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field, before: String, after: String| {
        if before != after {
            out.push(FieldChange {
                field,
                before,
                after,
            });
        }
    };
    push(
        "full name",
        p.full_name.to_string(),
        row.full_name.to_string(),
    );
    push("email", p.email.to_string(), row.email.to_string());
    push("roles", roles_text(&p.roles), roles_text(&row.roles));
    push(
        "status",
        p.status.as_str().to_string(),
        PersonStatus::Active.as_str().to_string(),
    );
    if row.mis_id.is_some() {
        push(
            "MIS id",
            p.mis_id.as_ref().map(MisId::to_string).unwrap_or_default(),
            row.mis_id
                .as_ref()
                .map(MisId::to_string)
                .unwrap_or_default(),
        );
    }
    if row.start_date.is_some() {
        push(
            "start date",
            date_text(p.start_date),
            date_text(row.start_date),
        );
    }
    if !p.on_roster {
        push(
            "roster",
            "added by hand".into(),
            "kept by the MIS roster".into(),
        );
    }
    out
}

/// Works out what applying `roster` to the school's `existing` people does. `importer` is
/// the person importing, who may not make themselves a leaver. Errors name the line and
/// field of the row that cannot be applied (an email that belongs to someone else).
pub fn plan(
    roster: &Roster,
    existing: &[ExistingPerson],
    admin: &PeopleAdmin,
) -> Result<RosterPlan, Vec<RosterError>> {
    let importer = admin.by();
    let by_id: HashMap<&MisId, usize> = existing
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.mis_id.as_ref().map(|m| (m, i)))
        .collect();
    let by_email: HashMap<&Email, usize> = existing
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.email, i))
        .collect();
    let mut matched: BTreeSet<usize> = BTreeSet::new();
    let mut errors = Vec::new();
    let mut plan = RosterPlan {
        joiners: Vec::new(),
        updates: Vec::new(),
        leavers: Vec::new(),
        unchanged: 0,
    };
    for row in &roster.rows {
        let by_mis = row.mis_id.as_ref().and_then(|m| by_id.get(m).copied());
        let by_mail = by_email.get(&row.email).copied();
        let found = match (by_mis, by_mail) {
            (Some(i), Some(j)) if i != j => {
                errors.push(RosterError::new(
                    row.line,
                    "email",
                    format!(
                        "{} already belongs to {}, who is not the person with MIS id {}",
                        row.email,
                        existing[j].full_name,
                        row.mis_id.as_ref().map(MisId::as_str).unwrap_or_default()
                    ),
                ));
                continue;
            }
            (Some(i), _) => Some(i),
            (None, Some(j)) => {
                if let (Some(theirs), Some(ours)) = (&existing[j].mis_id, &row.mis_id)
                    && theirs != ours
                {
                    errors.push(RosterError::new(
                        row.line,
                        "email",
                        format!(
                            "{} belongs to {}, whose MIS id is {theirs}, not {ours}",
                            row.email, existing[j].full_name
                        ),
                    ));
                    continue;
                }
                Some(j)
            }
            (None, None) => None,
        };
        let before = found.map(|i| (&existing[i].roles, &existing[i].email));
        if let Err(e) = admin.check_grant(before, &row.roles, &row.email) {
            errors.push(RosterError::new(row.line, "roles", e));
            continue;
        }
        match found {
            Some(i) => {
                matched.insert(i);
                let changes = changes_for(row, &existing[i]);
                if changes.is_empty() {
                    plan.unchanged += 1;
                } else {
                    plan.updates.push(RosterUpdate {
                        person: existing[i].id,
                        row: row.clone(),
                        changes,
                    });
                }
            }
            None => plan.joiners.push(row.clone()),
        }
    }
    for (i, p) in existing.iter().enumerate() {
        if p.on_roster && p.status == PersonStatus::Active && !matched.contains(&i) {
            if Some(p.id) == importer {
                errors.push(RosterError::new(
                    1,
                    "rows",
                    format!(
                        "you ({}) are not in the file: importing it would mark you as left",
                        p.full_name
                    ),
                ));
                continue;
            }
            if let Err(e) = admin.check_grant(Some((&p.roles, &p.email)), &Roles::new(), &p.email) {
                errors.push(RosterError::new(
                    1,
                    "rows",
                    format!(
                        "{} is not in the file, so importing it would mark them as left, and {e}",
                        p.full_name
                    ),
                ));
                continue;
            }
            plan.leavers.push(p.clone());
        }
    }
    if errors.is_empty() && leaves_no_headteacher(existing, &plan) {
        errors.push(RosterError::new(
            1,
            "roles",
            "importing this file would leave the school without a headteacher: give someone in the file the headteacher role",
        ));
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors)
    }
}

/// Whether the school has an active headteacher now but would have none after `plan`.
fn leaves_no_headteacher(existing: &[ExistingPerson], plan: &RosterPlan) -> bool {
    let is_head = |roles: &Roles| roles.contains(&Role::Headteacher);
    let active_heads = existing
        .iter()
        .filter(|p| p.status == PersonStatus::Active && is_head(&p.roles));
    if active_heads.clone().count() == 0 {
        return false;
    }
    let leaving: BTreeSet<PersonId> = plan.leavers.iter().map(|p| p.id).collect();
    let updated: HashMap<PersonId, &Roles> = plan
        .updates
        .iter()
        .map(|u| (u.person, &u.row.roles))
        .collect();
    let stay = active_heads
        .filter(|p| !leaving.contains(&p.id))
        .any(|p| updated.get(&p.id).is_none_or(|roles| is_head(roles)));
    let join = plan.joiners.iter().any(|r| is_head(&r.roles));
    let promoted = plan.updates.iter().any(|u| is_head(&u.row.roles));
    !(stay || join || promoted)
}

#[cfg(test)]
mod tests;
