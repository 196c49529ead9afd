//! Compliance: who has signed the current version of each policy, who has not and by when
//! they should have, shares by audience and role, progress over time, and CSV exports safe
//! to open in a spreadsheet. Built from a few set-based facts per school (see
//! [`SchoolFacts`]) that the stores read in a handful of queries.
//!
//! The due date: a person must sign within the school's *days to sign* (14 unless the
//! school sets it) counted from the later of the publication of the version that asks
//! them (the newest major version, or the first version if none is major) and the day
//! they joined (their MIS start date, or the day they were added).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ids::{PersonId, PolicyId, SchoolId, VersionId};
use crate::person::{Audience, InputError, Role, Roles, audiences_of};
use crate::policy::ChangeKind;
use crate::time::TimeZone as SchoolZone;

mod export;
mod filter;
mod summary;

pub use export::*;
pub use filter::*;
pub use summary::*;

/// Days a person has to sign, counted from publication or from joining: 1–365.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DaysToSign(u16);

impl DaysToSign {
    pub const DEFAULT: DaysToSign = DaysToSign(14);

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        match raw.trim().parse::<u16>() {
            Ok(n) if (1..=365).contains(&n) => Ok(Self(n)),
            _ => Err(InputError::new(
                "days to sign",
                "enter a number of days from 1 to 365",
            )),
        }
    }

    /// Rebuilds a value this system stored; out-of-range values fall back to the default.
    pub fn trusted(days: i64) -> Self {
        u16::try_from(days)
            .ok()
            .filter(|d| (1..=365).contains(d))
            .map_or(Self::DEFAULT, Self)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for DaysToSign {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A published version, as compliance needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFacts {
    pub id: VersionId,
    pub number: i32,
    pub change_kind: ChangeKind,
    pub audiences: BTreeSet<Audience>,
    pub published_at: DateTime<Utc>,
}

/// A policy and its published versions in number order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFacts {
    pub id: PolicyId,
    pub title: String,
    pub versions: Vec<VersionFacts>,
}

impl PolicyFacts {
    pub fn newest(&self) -> Option<&VersionFacts> {
        self.versions.last()
    }

    /// The version whose publication asks everyone to sign: the newest major one, or the
    /// first if none is major. A signature of it or any later version stands.
    pub fn asking(&self) -> Option<&VersionFacts> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.change_kind == ChangeKind::Major)
            .or_else(|| self.versions.first())
    }
}

/// An active person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFacts {
    pub id: PersonId,
    pub full_name: String,
    pub email: String,
    pub roles: Roles,
    /// Their MIS start date (midnight UTC), or when they were added.
    pub joined_at: DateTime<Utc>,
}

/// What a person signed of one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFacts {
    pub person: PersonId,
    pub policy: PolicyId,
    /// The highest version number they signed.
    pub last_number: i32,
    /// When they first signed a version that still stands (the asking one or later).
    pub valid_since: Option<DateTime<Utc>>,
}

/// Everything the dashboard of one school is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolFacts {
    pub school: SchoolId,
    pub name: String,
    pub slug: String,
    pub timezone: SchoolZone,
    pub days_to_sign: DaysToSign,
    pub policies: Vec<PolicyFacts>,
    pub people: Vec<PersonFacts>,
    pub signed: Vec<SignedFacts>,
    /// (person, version) of every decline.
    pub declined: Vec<(PersonId, VersionId)>,
}

/// Where a person stands with the current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Overdue,
    Declined,
    Due,
    Signed,
}

impl Standing {
    pub fn label(self) -> &'static str {
        match self {
            Standing::Overdue => "Overdue",
            Standing::Declined => "Declined",
            Standing::Due => "Not yet signed",
            Standing::Signed => "Signed",
        }
    }

    pub fn outstanding(self) -> bool {
        self != Standing::Signed
    }
}

/// One person in the audience of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonStanding {
    pub person: PersonId,
    pub full_name: String,
    pub email: String,
    pub roles: Roles,
    pub standing: Standing,
    pub last_signed: Option<i32>,
    pub signed_at: Option<DateTime<Utc>>,
    pub due: NaiveDate,
    /// Whole days past the due date; 0 when not overdue.
    pub days_overdue: i64,
}

/// How many of a group signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Share {
    pub label: String,
    pub signed: usize,
    pub total: usize,
}

impl Share {
    /// See [`percent`].
    pub fn percent(&self) -> usize {
        percent(self.signed, self.total)
    }
}

/// `part` of `whole` in whole per cent, rounded to the nearest (half up), except that
/// 100 means everyone and 0 nobody: 1 of 6 is 17%, 199 of 200 is 99%, 1 of 300 is 1%.
/// Nobody out of nobody is 100%: nothing is missing.
pub fn percent(part: usize, whole: usize) -> usize {
    if whole == 0 {
        return 100;
    }
    let rounded = (part * 200 + whole) / (whole * 2);
    if part == whole {
        100
    } else if part == 0 {
        0
    } else {
        rounded.clamp(1, 99)
    }
}

/// The signed share at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressPoint {
    pub date: NaiveDate,
    pub signed: usize,
    pub total: usize,
}

/// Compliance with one policy's current version in one school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyCompliance {
    pub policy: PolicyId,
    pub title: String,
    pub version: VersionId,
    pub number: i32,
    /// The number of the version that asked everyone to sign.
    pub asking_number: i32,
    pub asked_at: DateTime<Utc>,
    /// Everyone in the audience: overdue first (most overdue first), then by name.
    pub people: Vec<PersonStanding>,
    pub overall: Share,
    pub by_audience: Vec<Share>,
    pub by_role: Vec<Share>,
    pub progress: Vec<ProgressPoint>,
}

impl PolicyCompliance {
    pub fn count(&self, standing: Standing) -> usize {
        self.people
            .iter()
            .filter(|p| p.standing == standing)
            .count()
    }

    /// Who the current version asks to sign: everyone in `audiences` who has not signed a
    /// version that still stands, counted once in all and once in each audience.
    pub fn asked(&self, audiences: &BTreeSet<Audience>) -> AskedToSign {
        let asked: Vec<BTreeSet<Audience>> = self
            .people
            .iter()
            .filter(|p| p.standing.outstanding())
            .map(|p| &audiences_of(&p.roles) & audiences)
            .filter(|a| !a.is_empty())
            .collect();
        AskedToSign {
            people: asked.len(),
            by_audience: audiences
                .iter()
                .map(|a| (*a, asked.iter().filter(|p| p.contains(a)).count()))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// How many people a version asks to sign, in all and in each audience (an audience
/// nobody is asked in is left out; visitors sign at reception and are never counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedToSign {
    pub people: usize,
    pub by_audience: Vec<(Audience, usize)>,
}

/// The most points a progress chart gets; longer periods are sampled evenly.
pub const MAX_PROGRESS_POINTS: i64 = 60;

impl SchoolFacts {
    /// The facts as they would be once `version` of `policy` is published: what the
    /// confirmation before publishing reads who will be asked from.
    pub fn with_published(mut self, policy: PolicyId, title: &str, version: VersionFacts) -> Self {
        if version.change_kind == ChangeKind::Major {
            // Nobody has signed it yet, and it is the one that now asks everyone.
            for s in self.signed.iter_mut().filter(|s| s.policy == policy) {
                s.valid_since = None;
            }
        }
        match self.policies.iter_mut().find(|p| p.id == policy) {
            Some(p) => p.versions.push(version),
            None => self.policies.push(PolicyFacts {
                id: policy,
                title: title.to_string(),
                versions: vec![version],
            }),
        }
        self
    }

    fn zone(&self) -> Tz {
        self.timezone.tz()
    }

    /// Compliance with every policy that has a published version, in title order.
    pub fn report(&self, now: DateTime<Utc>) -> Vec<PolicyCompliance> {
        let mut signed: HashMap<(PersonId, PolicyId), &SignedFacts> = HashMap::new();
        for s in &self.signed {
            signed.insert((s.person, s.policy), s);
        }
        let declined: BTreeSet<(PersonId, VersionId)> = self.declined.iter().copied().collect();
        let mut out: Vec<PolicyCompliance> = self
            .policies
            .iter()
            .filter_map(|p| self.policy_report(p, &signed, &declined, now))
            .collect();
        out.sort_by(|a, b| a.title.cmp(&b.title).then(a.policy.cmp(&b.policy)));
        out
    }

    fn policy_report(
        &self,
        policy: &PolicyFacts,
        signed: &HashMap<(PersonId, PolicyId), &SignedFacts>,
        declined: &BTreeSet<(PersonId, VersionId)>,
        now: DateTime<Utc>,
    ) -> Option<PolicyCompliance> {
        let zone = self.zone();
        let newest = policy.newest()?;
        let asking = policy.asking()?;
        let today = now.with_timezone(&zone).date_naive();
        let days = Duration::days(i64::from(self.days_to_sign.get()));
        let standing_versions: BTreeSet<VersionId> = policy
            .versions
            .iter()
            .filter(|v| v.number >= asking.number)
            .map(|v| v.id)
            .collect();
        let mut people = Vec::new();
        for person in &self.people {
            if audiences_of(&person.roles).is_disjoint(&newest.audiences) {
                continue;
            }
            let facts = signed.get(&(person.id, policy.id));
            let valid_since = facts.and_then(|f| f.valid_since);
            let start = asking.published_at.max(person.joined_at);
            let due = start.with_timezone(&zone).date_naive() + days;
            let days_overdue = (today - due).num_days().max(0);
            let standing = if valid_since.is_some() {
                Standing::Signed
            } else if standing_versions
                .iter()
                .any(|v| declined.contains(&(person.id, *v)))
            {
                Standing::Declined
            } else if days_overdue > 0 {
                Standing::Overdue
            } else {
                Standing::Due
            };
            people.push(PersonStanding {
                person: person.id,
                full_name: person.full_name.clone(),
                email: person.email.clone(),
                roles: person.roles.clone(),
                standing,
                last_signed: facts.map(|f| f.last_number),
                signed_at: valid_since,
                due,
                days_overdue: if standing == Standing::Signed {
                    0
                } else {
                    days_overdue
                },
            });
        }
        people.sort_by(|a, b| {
            b.days_overdue
                .cmp(&a.days_overdue)
                .then(a.full_name.cmp(&b.full_name))
                .then(a.person.cmp(&b.person))
        });
        let share = |label: String, group: &mut dyn Iterator<Item = &PersonStanding>| {
            let (mut signed, mut total) = (0, 0);
            for p in group {
                total += 1;
                if p.standing == Standing::Signed {
                    signed += 1;
                }
            }
            Share {
                label,
                signed,
                total,
            }
        };
        let overall = share("Everyone".into(), &mut people.iter());
        let by_audience = newest
            .audiences
            .iter()
            .filter(|a| **a != Audience::Visitors)
            .map(|a| {
                share(
                    a.label().into(),
                    &mut people.iter().filter(|p| audiences_of(&p.roles).contains(a)),
                )
            })
            .filter(|s| s.total > 0)
            .collect();
        // A role whose people are exactly an audience's (Staff, Governor in most schools)
        // would only repeat that audience's line.
        let members = |keep: &dyn Fn(&PersonStanding) -> bool| -> BTreeSet<PersonId> {
            people
                .iter()
                .filter(|p| keep(p))
                .map(|p| p.person)
                .collect()
        };
        let audience_groups: Vec<BTreeSet<PersonId>> = newest
            .audiences
            .iter()
            .map(|a| members(&|p| audiences_of(&p.roles).contains(a)))
            .collect();
        let by_role = Role::ALL
            .iter()
            .filter(|r| !audience_groups.contains(&members(&|p| p.roles.contains(r))))
            .map(|r| {
                share(
                    r.label().into(),
                    &mut people.iter().filter(|p| p.roles.contains(r)),
                )
            })
            .filter(|s| s.total > 0)
            .collect();
        let progress = progress(
            &people,
            asking.published_at.with_timezone(&zone).date_naive(),
            today,
            zone,
        );
        Some(PolicyCompliance {
            policy: policy.id,
            title: policy.title.clone(),
            version: newest.id,
            number: newest.number,
            asking_number: asking.number,
            asked_at: asking.published_at,
            people,
            overall,
            by_audience,
            by_role,
            progress,
        })
    }
}

/// The signed count at the end of each sampled day from `from` to `to` (both included),
/// out of today's audience.
fn progress(
    people: &[PersonStanding],
    from: NaiveDate,
    to: NaiveDate,
    zone: Tz,
) -> Vec<ProgressPoint> {
    let mut signed_on: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for p in people {
        if let Some(at) = p.signed_at {
            *signed_on
                .entry(at.with_timezone(&zone).date_naive())
                .or_default() += 1;
        }
    }
    let span = (to - from).num_days().max(0);
    let step = (span / MAX_PROGRESS_POINTS + 1).max(1);
    let mut dates: Vec<NaiveDate> = (0..=span)
        .step_by(usize::try_from(step).unwrap_or(1))
        .map(|d| from + Duration::days(d))
        .collect();
    if dates.last() != Some(&to) && to >= from {
        dates.push(to);
    }
    let total = people.len();
    dates
        .into_iter()
        .map(|date| ProgressPoint {
            date,
            signed: signed_on.range(..=date).map(|(_, n)| n).sum(),
            total,
        })
        .collect()
}

/// A policy a joiner will be asked to sign, and by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinerAsk {
    pub title: String,
    pub number: i32,
    pub due: NaiveDate,
}

impl SchoolFacts {
    /// What a person joining with `roles` on `start` (or now) will be asked to sign: the
    /// current version of each policy published to one of their audiences, with its due
    /// date by the rule in the module header.
    pub fn joiner_asks(
        &self,
        roles: &Roles,
        start: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Vec<JoinerAsk> {
        let zone = self.zone();
        let joined = start
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
            .unwrap_or(now);
        let audiences = audiences_of(roles);
        let mut out: Vec<JoinerAsk> = self
            .policies
            .iter()
            .filter_map(|p| {
                let newest = p.newest()?;
                let asking = p.asking()?;
                if newest.audiences.is_disjoint(&audiences) {
                    return None;
                }
                let start = asking.published_at.max(joined);
                Some(JoinerAsk {
                    title: p.title.clone(),
                    number: newest.number,
                    due: start.with_timezone(&zone).date_naive()
                        + Duration::days(i64::from(self.days_to_sign.get())),
                })
            })
            .collect();
        out.sort_by(|a, b| a.title.cmp(&b.title));
        out
    }
}

#[cfg(test)]
mod tests;
