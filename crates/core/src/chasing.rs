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

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::compliance::{PersonFacts, PersonStanding, PolicyCompliance, SchoolFacts, Standing};
use crate::ids::{PersonId, PolicyId, SchoolId, VersionId};
use crate::outbox::NewMail;
use crate::person::Email;
use crate::person::{InputError, Role, collapse_spaces};

/// Reminders and digests are sent on school days from this time, school time.
pub const SEND_FROM: NaiveTime = match NaiveTime::from_hms_opt(8, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// … and until this time: a server that was down all day does not send them at night.
pub const SEND_UNTIL: NaiveTime = match NaiveTime::from_hms_opt(18, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// A school's reminder and escalation schedule, in calendar days counted from the day a
/// person was asked to sign. Always valid: build it with [`ChaseSettings::new`] or
/// [`ChaseSettings::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChaseSettings {
    first_reminder_days: u16,
    reminder_every_days: u16,
    escalate_to_manager_days: u16,
    escalate_to_head_days: u16,
}

impl ChaseSettings {
    /// The longest period any setting may have.
    pub const MAX_DAYS: i64 = 365;

    /// First reminder after 3 days, then weekly; line manager after 10 days, headteacher
    /// after 20.
    pub const DEFAULT: ChaseSettings = ChaseSettings {
        first_reminder_days: 3,
        reminder_every_days: 7,
        escalate_to_manager_days: 10,
        escalate_to_head_days: 20,
    };

    /// The field names used in errors, in form order.
    pub const FIRST_REMINDER: &'static str = "first reminder";
    pub const REMINDER_EVERY: &'static str = "then remind every";
    pub const TO_MANAGER: &'static str = "tell the line manager after";
    pub const TO_HEAD: &'static str = "tell the headteacher after";

    /// Checks the four periods; every problem is reported, each naming its field.
    pub fn new(
        first_reminder_days: i64,
        reminder_every_days: i64,
        escalate_to_manager_days: i64,
        escalate_to_head_days: i64,
    ) -> Result<Self, Vec<InputError>> {
        let days = |field: &'static str, n: i64| -> Result<u16, InputError> {
            u16::try_from(n)
                .ok()
                .filter(|d| (1..=Self::MAX_DAYS).contains(&i64::from(*d)))
                .ok_or_else(|| {
                    InputError::new(
                        field,
                        format!("enter a whole number of days from 1 to {}", Self::MAX_DAYS),
                    )
                })
        };
        let first = days(Self::FIRST_REMINDER, first_reminder_days);
        let every = days(Self::REMINDER_EVERY, reminder_every_days);
        let manager = days(Self::TO_MANAGER, escalate_to_manager_days);
        let mut head = days(Self::TO_HEAD, escalate_to_head_days);
        if let (Ok(m), Ok(h)) = (&manager, &head)
            && h <= m
        {
            head = Err(InputError::new(
                Self::TO_HEAD,
                format!("the headteacher is told after the line manager: enter more than {m} days"),
            ));
        }
        match (first, every, manager, head) {
            (Ok(f), Ok(e), Ok(m), Ok(h)) => Ok(Self {
                first_reminder_days: f,
                reminder_every_days: e,
                escalate_to_manager_days: m,
                escalate_to_head_days: h,
            }),
            (f, e, m, h) => Err([f.err(), e.err(), m.err(), h.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// From the settings form; a blank or non-numeric entry is an error on its field.
    pub fn parse(
        first_reminder_days: &str,
        reminder_every_days: &str,
        escalate_to_manager_days: &str,
        escalate_to_head_days: &str,
    ) -> Result<Self, Vec<InputError>> {
        // Out of range stands for "not a number", so `new` reports it on the right field.
        let n = |raw: &str| raw.trim().parse::<i64>().unwrap_or(-1);
        Self::new(
            n(first_reminder_days),
            n(reminder_every_days),
            n(escalate_to_manager_days),
            n(escalate_to_head_days),
        )
    }

    pub fn first_reminder_days(&self) -> u16 {
        self.first_reminder_days
    }
    pub fn reminder_every_days(&self) -> u16 {
        self.reminder_every_days
    }
    pub fn escalate_to_manager_days(&self) -> u16 {
        self.escalate_to_manager_days
    }
    pub fn escalate_to_head_days(&self) -> u16 {
        self.escalate_to_head_days
    }

    /// The nominal day of reminder `n` (1, 2, …) for someone asked on `asked`.
    pub fn reminder_day(&self, asked: NaiveDate, n: u32) -> NaiveDate {
        let after = i64::from(self.first_reminder_days)
            + i64::from(n.saturating_sub(1)) * i64::from(self.reminder_every_days);
        asked + Duration::days(after)
    }

    /// The number of the latest reminder whose nominal day is `today` or earlier; 0 if
    /// none is due yet.
    pub fn latest_reminder(&self, asked: NaiveDate, today: NaiveDate) -> u32 {
        let since = (today - asked).num_days() - i64::from(self.first_reminder_days);
        if since < 0 {
            return 0;
        }
        u32::try_from(since / i64::from(self.reminder_every_days) + 1).unwrap_or(u32::MAX)
    }
}

/// When the mails of a schedule would go for someone asked on one day, for the settings
/// page to show what the numbers mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulePreview {
    pub asked: NaiveDate,
    /// The days of the first reminders actually sent (reminders that a holiday pushes onto
    /// the same school day go as one).
    pub reminders: Vec<NaiveDate>,
    /// The first day the line manager's digest could name them.
    pub manager: Option<NaiveDate>,
    /// The first day the headteacher's digest could name them.
    pub head: Option<NaiveDate>,
}

impl ChaseSettings {
    /// The first `count` reminder days and the first digest days for someone asked on
    /// `asked`, in `calendar`.
    pub fn preview(
        &self,
        calendar: &SchoolCalendar,
        asked: NaiveDate,
        count: usize,
    ) -> SchedulePreview {
        let mut reminders: Vec<NaiveDate> = Vec::new();
        let mut n = 1;
        while reminders.len() < count && n <= 1000 {
            if let Some(day) = calendar.next_school_day(self.reminder_day(asked, n))
                && reminders.last() != Some(&day)
            {
                reminders.push(day);
            }
            n += 1;
        }
        let after = |days: u16| calendar.next_school_day(asked + Duration::days(i64::from(days)));
        SchedulePreview {
            asked,
            reminders,
            manager: after(self.escalate_to_manager_days),
            head: after(self.escalate_to_head_days),
        }
    }
}

impl Default for ChaseSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A holiday's name: plain text, 1–100 characters, spaces collapsed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HolidayName(String);

impl HolidayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let value = collapse_spaces(raw);
        if value.is_empty() {
            return Err(InputError::new(
                Holiday::NAME,
                "enter a name, such as Christmas holidays",
            ));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(InputError::new(
                Holiday::NAME,
                format!("a name is at most {} characters", Self::MAX_CHARS),
            ));
        }
        if let Some(bad) = value.chars().find(|c| c.is_control() || *c == '<') {
            return Err(InputError::new(
                Holiday::NAME,
                format!("a name cannot contain {bad:?}"),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HolidayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Days the school is closed (besides weekends): a named range of dates, both included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub name: HolidayName,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Holiday {
    pub const NAME: &'static str = "name";
    pub const FIRST_DAY: &'static str = "first day";
    pub const LAST_DAY: &'static str = "last day";
    /// The longest holiday accepted, in days (a closure for a whole year fits).
    pub const MAX_DAYS: i64 = 366;
    /// The most holidays a school may list.
    pub const MAX_COUNT: usize = 200;

    /// From the form's three fields; a blank last day means a single day. Every problem is
    /// reported, each naming its field.
    pub fn parse(name: &str, first_day: &str, last_day: &str) -> Result<Self, Vec<InputError>> {
        let name = HolidayName::parse(name);
        let first = parse_date(Self::FIRST_DAY, first_day);
        let last = if last_day.trim().is_empty() {
            first.clone()
        } else {
            parse_date(Self::LAST_DAY, last_day)
        };
        match (name, first, last) {
            (Ok(name), Ok(first_day), Ok(last_day)) => {
                Self::new(name, first_day, last_day).map_err(|e| vec![e])
            }
            (n, f, l) => {
                let mut errors: Vec<InputError> =
                    [n.err(), f.err()].into_iter().flatten().collect();
                if !last_day.trim().is_empty()
                    && let Err(e) = l
                {
                    errors.push(e);
                }
                Err(errors)
            }
        }
    }

    /// Checks that the range runs forwards and is not longer than [`Holiday::MAX_DAYS`].
    pub fn new(
        name: HolidayName,
        first_day: NaiveDate,
        last_day: NaiveDate,
    ) -> Result<Self, InputError> {
        if last_day < first_day {
            return Err(InputError::new(
                Self::LAST_DAY,
                format!(
                    "the last day ({}) is before the first day ({})",
                    long_date(last_day),
                    long_date(first_day)
                ),
            ));
        }
        if (last_day - first_day).num_days() >= Self::MAX_DAYS {
            return Err(InputError::new(
                Self::LAST_DAY,
                format!("a holiday is at most {} days long", Self::MAX_DAYS),
            ));
        }
        Ok(Self {
            name,
            first_day,
            last_day,
        })
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        (self.first_day..=self.last_day).contains(&date)
    }

    /// The number of days it covers, weekends included.
    pub fn days(&self) -> i64 {
        (self.last_day - self.first_day).num_days() + 1
    }
}

/// A date as a school types it: `2026-12-21`, or `21/12/2026` as UK spreadsheets write it.
fn parse_date(field: &'static str, raw: &str) -> Result<NaiveDate, InputError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(InputError::new(
            field,
            "enter a date such as 2026-12-21 or 21/12/2026",
        ));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d/%m/%Y"))
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
        .ok_or_else(|| {
            InputError::new(
                field,
                format!(
                    "{raw:?} is not a date from 2000 to 2100 written like 2026-12-21 or 21/12/2026"
                ),
            )
        })
}

/// A problem on one line of a holiday list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, {}", .error)]
pub struct HolidayLineError {
    pub line: u64,
    pub error: InputError,
}

/// Reads a holiday list, one holiday a line: `first day,last day,name`, e.g.
/// `2026-12-21,2027-01-01,Christmas holidays`. The last day may be empty for a single
/// day; the name may be quoted if it contains a comma. Blank lines, lines starting with
/// `#` and a heading line (`first day,last day,name`) are skipped. Every bad line is
/// reported with its number and field; nothing is returned unless all lines are good.
pub fn parse_holidays(text: &str) -> Result<Vec<Holiday>, Vec<HolidayLineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        // Fields are trimmed below, so that a name's unquoted comma keeps its space.
        .trim(csv::Trim::None)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut first_record = true;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(HolidayLineError {
                    line,
                    error: InputError::new("line", format!("cannot be read: {e}")),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let is_heading = first_record
            && fields.first().is_some_and(|f| {
                matches!(
                    f.trim().to_lowercase().as_str(),
                    "first day" | "first" | "start" | "from" | "start date"
                )
            });
        first_record = false;
        if is_heading {
            continue;
        }
        if fields.len() < 3 {
            errors.push(HolidayLineError {
                line,
                error: InputError::new(
                    Holiday::NAME,
                    "write first day, last day and name separated by commas, e.g. \
                     2026-12-21,2027-01-01,Christmas holidays",
                ),
            });
            continue;
        }
        // A name with an unquoted comma arrives as several fields: put it back together.
        let name = fields[2..].join(",");
        match Holiday::parse(&name, fields[0], fields[1]) {
            Ok(h) => out.push(h),
            Err(list) => errors.extend(
                list.into_iter()
                    .map(|error| HolidayLineError { line, error }),
            ),
        }
    }
    if out.len() > Holiday::MAX_COUNT {
        errors.push(HolidayLineError {
            line: 0,
            error: InputError::new(
                "list",
                format!("at most {} holidays may be listed", Holiday::MAX_COUNT),
            ),
        });
    }
    if errors.is_empty() {
        out.sort_by_key(|h| (h.first_day, h.last_day));
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The holiday list in the text form [`parse_holidays`] reads, one line each.
pub fn holidays_text(holidays: &[Holiday]) -> String {
    let mut out = String::new();
    for h in holidays {
        let name = if h.name.as_str().contains([',', '"']) {
            format!("\"{}\"", h.name.as_str().replace('"', "\"\""))
        } else {
            h.name.as_str().to_string()
        };
        out.push_str(&format!("{},{},{}\n", h.first_day, h.last_day, name));
    }
    out
}

/// When the school is open: Monday to Friday, except its holidays, in its time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolCalendar {
    zone: Tz,
    holidays: Vec<Holiday>,
}

impl SchoolCalendar {
    /// How far ahead [`SchoolCalendar::next_school_day`] looks before giving up.
    const LOOK_AHEAD_DAYS: i64 = 3 * 366;

    pub fn new(zone: Tz, mut holidays: Vec<Holiday>) -> Self {
        holidays.sort_by_key(|h| (h.first_day, h.last_day));
        Self { zone, holidays }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// The school's date at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.zone).date_naive()
    }

    /// The holiday covering `date`, if any.
    pub fn holiday_on(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays.iter().find(|h| h.contains(date))
    }

    /// Not a Saturday, a Sunday or a day of a holiday.
    pub fn is_school_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.holiday_on(date).is_none()
    }

    /// `from` if it is a school day, else the first school day after it; `None` if the
    /// school is closed for the next three years.
    pub fn next_school_day(&self, from: NaiveDate) -> Option<NaiveDate> {
        let mut date = from;
        for _ in 0..Self::LOOK_AHEAD_DAYS {
            if self.is_school_day(date) {
                return Some(date);
            }
            // Jump over a holiday in one step rather than day by day.
            date = match self.holiday_on(date) {
                Some(h) => h.last_day.succ_opt()?,
                None => date.succ_opt()?,
            };
            if (date - from).num_days() > Self::LOOK_AHEAD_DAYS {
                return None;
            }
        }
        None
    }

    /// Whether reminders and digests may go at `now`: a school day, between [`SEND_FROM`]
    /// and [`SEND_UNTIL`] school time.
    pub fn sending_hours(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.zone);
        let time = local.time();
        self.is_school_day(local.date_naive()) && time >= SEND_FROM && time < SEND_UNTIL
    }
}

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

/// The wording of every mail: plain, friendly, British English.
struct Texts<'a> {
    school: &'a str,
    base: &'a url::Url,
}

/// "Monday 7 December 2026".
fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// A link on this installation: `base` with `path` appended (whether or not `base` ends
/// with a slash).
pub fn link(base: &url::Url, path: &str) -> String {
    let base = base.as_str();
    let base = base.strip_suffix('/').unwrap_or(base);
    format!("{base}/{path}")
}

impl Texts<'_> {
    fn sign_link(&self, o: &Outstanding<'_>) -> String {
        link(self.base, &format!("sign/{}", o.policy.version))
    }

    fn footer(&self) -> String {
        format!(
            "You can see everything you have been asked to sign at {me}.\n\n\
             No password? Governors, and anyone else who does not have one, can ask for a \
             sign-in link by email at {login}.\n\n\
             Thank you,\n{school}\n",
            me = link(self.base, "me"),
            login = link(self.base, "login/link"),
            school = self.school,
        )
    }

    fn due_sentence(&self, o: &Outstanding<'_>) -> String {
        if o.standing.standing == Standing::Overdue {
            format!(
                "It was due by {}, so it is now overdue: please sign it as soon as you can.",
                long_date(o.standing.due)
            )
        } else {
            format!("Please sign it by {}.", long_date(o.standing.due))
        }
    }

    fn mail(
        &self,
        o: &Outstanding<'_>,
        kind: MailKind,
        key: String,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        PlannedMail {
            kind,
            dedupe_key: key,
            to: o.person.id,
            to_email: o.person.email.clone(),
            to_name: o.person.full_name.clone(),
            subject,
            text_body: body,
            not_before: now,
            unless_signed: Some((o.person.id, o.policy.version)),
        }
    }

    fn invitation(&self, o: &Outstanding<'_>, now: DateTime<Utc>) -> PlannedMail {
        let p = o.policy;
        let what = if o.asked_at > o.standing_published_at() {
            format!(
                "Welcome to {school}. Everyone here is asked to read and sign {title} \
                 (version {n}), and now it is your turn.",
                school = self.school,
                title = p.title,
                n = p.number
            )
        } else {
            format!(
                "{school} has published version {n} of {title}, and everyone it applies to \
                 is asked to read and sign it.",
                school = self.school,
                title = p.title,
                n = p.number
            )
        };
        let body = format!(
            "Dear {name},\n\n{what}\n\n{due}\n\nRead and sign it here:\n{link}\n\n{footer}",
            name = o.person.full_name,
            due = self.due_sentence(o),
            link = self.sign_link(o),
            footer = self.footer(),
        );
        self.mail(
            o,
            MailKind::Invitation,
            format!("invite:v{}:p{}", o.asking, o.person.id),
            format!(
                "Please read and sign {} (version {}) - {}",
                p.title, p.number, self.school
            ),
            body,
            now,
        )
    }

    fn reminder(&self, o: &Outstanding<'_>, n: u32, now: DateTime<Utc>) -> PlannedMail {
        let p = o.policy;
        let body = format!(
            "Dear {name},\n\nThis is a friendly reminder from {school}: you were asked on \
             {asked} to read and sign {title} (version {n}), and we have not yet had your \
             signature.\n\n{due}\n\nRead and sign it here:\n{link}\n\nIf you have signed it \
             in the last few minutes, thank you, and please ignore this message.\n\n{footer}",
            name = o.person.full_name,
            school = self.school,
            asked = long_date(o.asked),
            title = p.title,
            n = p.number,
            due = self.due_sentence(o),
            link = self.sign_link(o),
            footer = self.footer(),
        );
        self.mail(
            o,
            MailKind::Reminder(n),
            format!("remind:v{}:p{}:{n}", o.asking, o.person.id),
            format!(
                "Reminder: please sign {} (version {}) - {}",
                p.title, p.number, self.school
            ),
            body,
            now,
        )
    }

    fn chase(&self, o: &Outstanding<'_>, today: NaiveDate, now: DateTime<Utc>) -> PlannedMail {
        let p = o.policy;
        let body = format!(
            "Dear {name},\n\n{school} has asked us to remind you that {title} (version {n}) \
             is still waiting for your signature. You were asked to sign it on {asked}.\n\n\
             {due}\n\nRead and sign it here:\n{link}\n\n{footer}",
            name = o.person.full_name,
            school = self.school,
            title = p.title,
            n = p.number,
            asked = long_date(o.asked),
            due = self.due_sentence(o),
            link = self.sign_link(o),
            footer = self.footer(),
        );
        self.mail(
            o,
            MailKind::Chase,
            format!("chase:v{}:p{}:{today}", o.asking, o.person.id),
            format!(
                "Reminder: please sign {} (version {}) - {}",
                p.title, p.number, self.school
            ),
            body,
            now,
        )
    }

    /// One line per person and policy, most outstanding first.
    fn list(&self, list: &[&Outstanding<'_>], today: NaiveDate) -> String {
        let mut sorted: Vec<&&Outstanding<'_>> = list.iter().collect();
        sorted.sort_by(|a, b| {
            b.days_outstanding(today)
                .cmp(&a.days_outstanding(today))
                .then(a.person.full_name.cmp(&b.person.full_name))
                .then(a.policy.title.cmp(&b.policy.title))
        });
        let mut out = String::new();
        for o in sorted {
            let late = if o.standing.days_overdue > 0 {
                format!(
                    ", {} day{} overdue",
                    o.standing.days_overdue,
                    if o.standing.days_overdue == 1 {
                        ""
                    } else {
                        "s"
                    }
                )
            } else {
                String::new()
            };
            out.push_str(&format!(
                "- {name} ({email}): {title}, version {n}. Asked on {asked}, due by {due}{late}.\n",
                name = o.person.full_name,
                email = o.person.email,
                title = o.policy.title,
                n = o.policy.number,
                asked = long_date(o.asked),
                due = long_date(o.standing.due),
            ));
        }
        out
    }

    fn digest(
        &self,
        to: &PersonFacts,
        kind: MailKind,
        key: String,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        PlannedMail {
            kind,
            dedupe_key: key,
            to: to.id,
            to_email: to.email.clone(),
            to_name: to.full_name.clone(),
            subject,
            text_body: body,
            not_before: now,
            unless_signed: None,
        }
    }

    fn manager_digest(
        &self,
        manager: &PersonFacts,
        list: &[&Outstanding<'_>],
        days: i64,
        week: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        let people: BTreeSet<PersonId> = list.iter().map(|o| o.person.id).collect();
        let body = format!(
            "Dear {name},\n\nThese people you line manage at {school} have not yet signed \
             what they were asked to sign {days} or more days ago:\n\n{list}\n\
             They are being reminded by email. A word from you would help: they can read and \
             sign at {me}.\n\nYou will get this summary at most once a week while anyone \
             you manage is on it.\n\n{school}\n",
            name = manager.full_name,
            school = self.school,
            list = self.list(list, today),
            me = link(self.base, "me"),
        );
        self.digest(
            manager,
            MailKind::ManagerDigest,
            format!("escalate:manager:p{}:{week}", manager.id),
            format!(
                "{} of your team {} not yet signed - {}",
                people.len(),
                if people.len() == 1 { "has" } else { "have" },
                self.school
            ),
            body,
            now,
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one digest, its list and where it stands in time"
    )]
    fn head_digest(
        &self,
        head: &PersonFacts,
        late: &[&Outstanding<'_>],
        declined: usize,
        days: i64,
        week: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        let people: BTreeSet<PersonId> = late.iter().map(|o| o.person.id).collect();
        let declines = match declined {
            0 => String::new(),
            1 => format!(
                "1 person has declined to sign; their reason is at {}.\n\n",
                link(self.base, "declines")
            ),
            n => format!(
                "{n} people have declined to sign; their reasons are at {}.\n\n",
                link(self.base, "declines")
            ),
        };
        let body = format!(
            "Dear {name},\n\nThese people at {school} have not yet signed what they were \
             asked to sign {days} or more days ago, despite reminders (and their line \
             managers have been told):\n\n{list}\n{declines}\
             The full picture, with filters and a Chase button, is at {compliance}.\n\n\
             You will get this summary at most once a week while anyone is on it.\n\n{school}\n",
            name = head.full_name,
            school = self.school,
            list = self.list(late, today),
            compliance = link(self.base, "compliance"),
        );
        self.digest(
            head,
            MailKind::HeadDigest,
            format!("escalate:head:p{}:{week}", head.id),
            format!(
                "{} {} not yet signed after {days} days - {}",
                people.len(),
                if people.len() == 1 {
                    "person has"
                } else {
                    "people have"
                },
                self.school
            ),
            body,
            now,
        )
    }
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
