//! Chasing signatures: the invitation when a version asks people to sign, reminders on the
//! school's schedule, and weekly digests to line managers and headteachers about who is
//! still outstanding, all planned from the compliance facts without any I/O.
//!
//! The schedule has one clock: the day a person was *asked*, which is the later of the
//! publication of the version that asks everyone to sign and the day they joined (the same
//! start as their due date, see [`crate::compliance`]). Counting from it, in calendar days:
//!
//! - the **invitation** goes as soon as they are asked, any day and any hour;
//! - **reminder 1** is due `first_reminder_days` later and **reminder n** every
//!   `reminder_every_days` after that; a reminder whose day is a weekend or a school
//!   holiday is sent on the next school day, between [`SEND_FROM`] and [`SEND_UNTIL`]
//!   school time; only the latest reminder due is sent, so a person coming back from a
//!   three-week holiday gets one reminder, not three;
//! - on a school day, each **line manager** gets at most one digest per ISO week naming
//!   those of their reports outstanding for `escalate_to_manager_days` or more, and each
//!   **headteacher** one naming everyone outstanding for `escalate_to_head_days` or more.
//!
//! Nobody who has signed is sent anything, and every invitation and reminder carries
//! "unless signed", so one already queued is dropped if the person signs before it goes.
//! A person who **declined** is sent no reminders either: a decline is a decision for the
//! headteacher (who sees it on the declines page, and is told of it in their digest), not
//! something a reminder should argue with. Leavers are not in the facts and get nothing.
//!
//! Running the plan again plans the same mails under the same dedupe keys, so the outbox
//! (which ignores a key it has seen) sends each once however often the plan runs.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::compliance::{PersonFacts, PersonStanding, PolicyCompliance, SchoolFacts, Standing};
use crate::ids::{PersonId, PolicyId, SchoolId, VersionId};
use crate::outbox::NewMail;
use crate::person::Email;
use crate::person::Role;

mod calendar;
mod schedule;
mod texts;

pub use calendar::{
    Holiday, HolidayLineError, HolidayName, SchoolCalendar, holidays_text, parse_holidays,
};
pub use schedule::{ChaseSettings, SEND_FROM, SEND_UNTIL, SchedulePreview};
use texts::Texts;
pub use texts::link;

/// What a school's chasing is planned from: its compliance facts (active people only)
/// and who line-manages whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaseFacts {
    pub school: SchoolFacts,
    /// Active person → their line manager.
    pub line_managers: BTreeMap<PersonId, PersonId>,
}

/// What a planned mail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    Invitation,
    Reminder(u32),
    /// Sent at once by the Chase button on the dashboard.
    Chase,
    ManagerDigest,
    HeadDigest,
}

/// A mail to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedMail {
    pub kind: MailKind,
    /// The outbox sends a key once per school; see the module header.
    pub dedupe_key: String,
    pub to: PersonId,
    pub to_email: String,
    pub to_name: String,
    pub subject: String,
    pub text_body: String,
    pub not_before: DateTime<Utc>,
    /// Dropped by the outbox if this person has signed this version by the time it would
    /// be sent.
    pub unless_signed: Option<(PersonId, VersionId)>,
}

/// One person outstanding on one policy, as the plan sees them.
struct Outstanding<'a> {
    person: &'a PersonFacts,
    standing: &'a PersonStanding,
    policy: &'a PolicyCompliance,
    asking: VersionId,
    asked: NaiveDate,
    asked_at: DateTime<Utc>,
}

impl Outstanding<'_> {
    fn days_outstanding(&self, today: NaiveDate) -> i64 {
        (today - self.asked).num_days()
    }
}

/// Everyone who still has to sign something and has been asked, with how they stand. A
/// person who signed, declined, or is not asked yet (a joiner before their start date) is
/// not in it.
fn outstanding<'a>(
    facts: &'a SchoolFacts,
    report: &'a [PolicyCompliance],
    zone: Tz,
    now: DateTime<Utc>,
) -> Vec<Outstanding<'a>> {
    let people: HashMap<PersonId, &PersonFacts> = facts.people.iter().map(|p| (p.id, p)).collect();
    let mut out = Vec::new();
    for policy in report {
        let Some(asking) = facts
            .policies
            .iter()
            .find(|p| p.id == policy.policy)
            .and_then(|p| p.asking())
        else {
            continue;
        };
        for standing in &policy.people {
            if !matches!(standing.standing, Standing::Due | Standing::Overdue) {
                continue;
            }
            let Some(person) = people.get(&standing.person) else {
                continue;
            };
            let asked_at = asking.published_at.max(person.joined_at);
            if asked_at > now {
                continue;
            }
            out.push(Outstanding {
                person,
                standing,
                policy,
                asking: asking.id,
                asked: asked_at.with_timezone(&zone).date_naive(),
                asked_at,
            });
        }
    }
    out
}

/// Plans every mail due at `now` in one school: invitations, the latest reminder due,
/// and this week's digests (see the module header for the rules). Mails already sent
/// come back under the same keys, so the outbox ignores them.
pub fn plan(
    facts: &ChaseFacts,
    settings: &ChaseSettings,
    calendar: &SchoolCalendar,
    now: DateTime<Utc>,
    public_url: &url::Url,
) -> Vec<PlannedMail> {
    let school = &facts.school;
    let zone = calendar.zone();
    let today = calendar.today(now);
    let sending = calendar.sending_hours(now);
    let report = school.report(now);
    let texts = Texts {
        school: &school.name,
        base: public_url,
    };
    let outstanding = outstanding(school, &report, zone, now);
    let mut mails = Vec::new();
    for o in &outstanding {
        let first_reminder = calendar.next_school_day(settings.reminder_day(o.asked, 1));
        if first_reminder.is_none_or(|d| today < d) {
            mails.push(texts.invitation(o, now));
        }
        let n = settings.latest_reminder(o.asked, today);
        if sending && n > 0 {
            mails.push(texts.reminder(o, n, now));
        }
    }
    if sending {
        mails.extend(digests(
            facts,
            settings,
            &texts,
            &outstanding,
            &report,
            today,
            now,
        ));
    }
    mails.sort_by(|a, b| a.dedupe_key.cmp(&b.dedupe_key));
    mails
}

/// This week's digests to line managers and headteachers, if any is due.
fn digests(
    facts: &ChaseFacts,
    settings: &ChaseSettings,
    texts: &Texts<'_>,
    outstanding: &[Outstanding<'_>],
    report: &[PolicyCompliance],
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<PlannedMail> {
    let people: HashMap<PersonId, &PersonFacts> =
        facts.school.people.iter().map(|p| (p.id, p)).collect();
    let week = today.iso_week();
    let week = format!("{}-W{:02}", week.year(), week.week());
    let mut out = Vec::new();

    let manager_days = i64::from(settings.escalate_to_manager_days());
    let mut by_manager: BTreeMap<PersonId, Vec<&Outstanding<'_>>> = BTreeMap::new();
    for o in outstanding {
        if o.days_outstanding(today) < manager_days {
            continue;
        }
        if let Some(manager) = facts.line_managers.get(&o.person.id)
            && people.contains_key(manager)
        {
            by_manager.entry(*manager).or_default().push(o);
        }
    }
    for (manager, list) in by_manager {
        if let Some(manager) = people.get(&manager) {
            out.push(texts.manager_digest(manager, &list, manager_days, &week, today, now));
        }
    }

    let head_days = i64::from(settings.escalate_to_head_days());
    let late: Vec<&Outstanding<'_>> = outstanding
        .iter()
        .filter(|o| o.days_outstanding(today) >= head_days)
        .collect();
    if !late.is_empty() {
        let declined: BTreeSet<PersonId> = report
            .iter()
            .flat_map(|p| &p.people)
            .filter(|s| s.standing == Standing::Declined)
            .map(|s| s.person)
            .collect();
        let mut heads: Vec<&PersonFacts> = facts
            .school
            .people
            .iter()
            .filter(|p| p.roles.contains(&Role::Headteacher))
            .collect();
        heads.sort_by_key(|p| p.id);
        for head in heads {
            out.push(texts.head_digest(head, &late, declined.len(), head_days, &week, today, now));
        }
    }
    out
}

/// Mails sent at once by the Chase button: one to each of `people` who still has to sign
/// `policy` and has been asked (those who signed or declined are left out), keyed by the
/// school's date so that a second press the same day sends nothing more.
pub fn chase_now(
    facts: &ChaseFacts,
    policy: PolicyId,
    people: &BTreeSet<PersonId>,
    now: DateTime<Utc>,
    public_url: &url::Url,
) -> Vec<PlannedMail> {
    let school = &facts.school;
    let zone = school.timezone.tz();
    let report: Vec<PolicyCompliance> = school
        .report(now)
        .into_iter()
        .filter(|p| p.policy == policy)
        .collect();
    let texts = Texts {
        school: &school.name,
        base: public_url,
    };
    let today = now.with_timezone(&zone).date_naive();
    outstanding(school, &report, zone, now)
        .iter()
        .filter(|o| people.contains(&o.person.id))
        .map(|o| texts.chase(o, today, now))
        .collect()
}

impl Outstanding<'_> {
    /// When the version that asks them was published.
    fn standing_published_at(&self) -> DateTime<Utc> {
        self.policy.asked_at
    }
}

/// What one run of the chase did in one school.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChaseReport {
    /// Mails the plan gave (most were queued by an earlier run and are ignored).
    pub planned: usize,
    /// Mails new to the outbox.
    pub queued: usize,
    /// Planned mails left out because the person's stored email is not a valid address.
    pub bad_addresses: usize,
}

impl ChaseReport {
    pub(crate) fn add(&mut self, other: &ChaseReport) {
        self.planned += other.planned;
        self.queued += other.queued;
        self.bad_addresses += other.bad_addresses;
    }
}

/// Turns planned mails into outbox messages of `school`, leaving out (and counting) any
/// whose address is not valid.
pub fn to_outbox(school: SchoolId, planned: Vec<PlannedMail>) -> (Vec<NewMail>, usize) {
    let mut bad = 0;
    let mails = planned
        .into_iter()
        .filter_map(|m| match Email::parse(&m.to_email) {
            Ok(to_email) => Some(NewMail {
                school,
                dedupe_key: m.dedupe_key,
                to_email,
                to_name: m.to_name,
                subject: m.subject,
                text_body: m.text_body,
                attachments: Vec::new(),
                not_before: m.not_before,
                unless_signed: m.unless_signed,
                deferred: None,
            }),
            Err(_) => {
                bad += 1;
                None
            }
        })
        .collect();
    (mails, bad)
}

#[cfg(test)]
mod tests;
