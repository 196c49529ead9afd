//! The school timetable: term dates, closures (INSET days, snow days), school weekdays, and
//! named periods such as `break` with several windows a day, all in the school's time zone.
//!
//! An instant is turned into the school's local date and wall-clock time with chrono-tz, and
//! windows are compared in local time, so "10:30–10:45" means 10:30 on the staff-room clock
//! in GMT and in BST alike.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::error::TimetableError;

/// Up to 64 periods; bit `i` is period `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeriodSet(pub u64);

impl PeriodSet {
    /// Whether the sets share a period.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

/// A set of weekdays, bit 0 = Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Monday to Friday.
    pub const WORKING_WEEK: Self = Self(0b001_1111);
    /// Every day.
    pub const ALL: Self = Self(0b111_1111);

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Parses `mon`, `mon-thu`, `mon,wed,fri` (three-letter English names, any case).
    pub fn parse(s: &str) -> Result<Self, TimetableError> {
        let mut bits = 0u8;
        for part in s.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let (a, b) = (a.num_days_from_monday(), b.num_days_from_monday());
                    if a > b {
                        return Err(TimetableError(format!("day range {part:?} runs backwards")));
                    }
                    for d in a..=b {
                        bits |= 1 << d;
                    }
                }
                None => bits |= 1 << day(part)?.num_days_from_monday(),
            }
        }
        Ok(Self(bits))
    }
}

fn day(s: &str) -> Result<Weekday, TimetableError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Ok(Weekday::Mon),
        "tue" => Ok(Weekday::Tue),
        "wed" => Ok(Weekday::Wed),
        "thu" => Ok(Weekday::Thu),
        "fri" => Ok(Weekday::Fri),
        "sat" => Ok(Weekday::Sat),
        "sun" => Ok(Weekday::Sun),
        other => Err(TimetableError(format!(
            "{other:?} is not a day; use mon, tue, wed, thu, fri, sat or sun"
        ))),
    }
}

/// Parses a date written `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, TimetableError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| TimetableError(format!("{s:?} is not a date written YYYY-MM-DD")))
}

/// A wall-clock time of day in minutes since midnight, `00:00` to `24:00`.
fn parse_minutes(s: &str) -> Result<u16, TimetableError> {
    let bad = || TimetableError(format!("{s:?} is not a time written HH:MM"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// One window of a period: on some weekdays, from `start` (inclusive) to `end` (exclusive),
/// local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    days: Weekdays,
    start: u16,
    end: u16,
    text: String,
}

impl Window {
    /// Parses `10:30-10:45`, optionally prefixed by days: `fri 12:00-13:15`,
    /// `mon-thu 12:00-13:00`.
    pub fn parse(s: &str) -> Result<Self, TimetableError> {
        let s = s.trim();
        let (days, times) = match s.rsplit_once(' ') {
            Some((d, t)) => (Weekdays::parse(d)?, t),
            None => (Weekdays::ALL, s),
        };
        let (a, b) = times.split_once('-').ok_or_else(|| {
            TimetableError(format!(
                "{s:?} is not a window written HH:MM-HH:MM (e.g. \"10:30-10:45\")"
            ))
        })?;
        let (start, end) = (parse_minutes(a)?, parse_minutes(b)?);
        if end <= start {
            return Err(TimetableError(format!(
                "window {s:?} ends before it starts; windows cannot cross midnight"
            )));
        }
        Ok(Self {
            days,
            start,
            end,
            text: s.to_owned(),
        })
    }

    fn contains(&self, weekday: Weekday, minute: u16) -> bool {
        self.days.contains(weekday) && self.start <= minute && minute < self.end
    }

    /// The window as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A named period and its windows.
#[derive(Debug, Clone)]
pub struct Period {
    /// The period's name (`break`).
    pub name: String,
    /// Its windows on each school day.
    pub windows: Vec<Window>,
}

/// A span of dates, both ends included.
#[derive(Debug, Clone)]
pub struct DateSpan {
    /// Its name or reason (`Autumn 1`, `INSET day`).
    pub name: String,
    /// First day.
    pub first: NaiveDate,
    /// Last day.
    pub last: NaiveDate,
}

impl DateSpan {
    fn contains(&self, d: NaiveDate) -> bool {
        self.first <= d && d <= self.last
    }
}

/// What kind of day a date is for the school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayKind {
    /// A school day in the named term.
    SchoolDay {
        /// The term's name, or `None` when the timetable lists no terms.
        term: Option<String>,
    },
    /// Not one of the school's weekdays.
    Weekend,
    /// Between terms.
    Holiday,
    /// A closure inside term (INSET day …).
    Closed {
        /// The closure's reason.
        reason: String,
    },
}

impl DayKind {
    /// Whether periods are in force on this day.
    pub fn is_school_day(&self) -> bool {
        matches!(self, Self::SchoolDay { .. })
    }
}

/// The school's calendar and periods.
#[derive(Debug, Clone)]
pub struct Timetable {
    /// The school's zone (Europe/London by default).
    pub zone: Tz,
    /// Which weekdays are school days (Monday to Friday by default).
    pub school_days: Weekdays,
    /// Terms; when empty, every school weekday is in term.
    pub terms: Vec<DateSpan>,
    /// Closures inside terms.
    pub closures: Vec<DateSpan>,
    /// Named periods, in declaration order (their index is their bit in [`PeriodSet`]).
    pub periods: Vec<Period>,
}

impl Default for Timetable {
    fn default() -> Self {
        Self {
            zone: chrono_tz::Europe::London,
            school_days: Weekdays::WORKING_WEEK,
            terms: Vec::new(),
            closures: Vec::new(),
            periods: Vec::new(),
        }
    }
}

/// The timetable's view of one instant.
#[derive(Debug, Clone)]
pub struct Moment {
    /// Local date and time, with the zone's abbreviation (`2026-11-23 10:35 GMT`).
    pub local: String,
    /// What kind of day it is.
    pub day: DayKind,
    /// The periods in force.
    pub active: PeriodSet,
}

impl Timetable {
    /// What kind of day `date` is.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        if !self.school_days.contains(date.weekday()) {
            return DayKind::Weekend;
        }
        let term = if self.terms.is_empty() {
            None
        } else {
            match self.terms.iter().find(|t| t.contains(date)) {
                Some(t) => Some(t.name.clone()),
                None => return DayKind::Holiday,
            }
        };
        if let Some(c) = self.closures.iter().find(|c| c.contains(date)) {
            return DayKind::Closed {
                reason: c.name.clone(),
            };
        }
        DayKind::SchoolDay { term }
    }

    /// The periods in force at `at`: none outside school days.
    pub fn active_periods(&self, at: DateTime<Utc>) -> PeriodSet {
        self.moment(at).active
    }

    /// The local date, kind of day and periods in force at `at`.
    pub fn moment(&self, at: DateTime<Utc>) -> Moment {
        let local = at.with_timezone(&self.zone);
        let date = local.date_naive();
        let day = self.day_kind(date);
        let mut active = 0u64;
        if day.is_school_day() {
            let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(u16::MAX);
            for (i, p) in self.periods.iter().enumerate() {
                if p.windows.iter().any(|w| w.contains(date.weekday(), minute)) {
                    active |= 1 << i;
                }
            }
        }
        Moment {
            local: local.format("%Y-%m-%d %H:%M %Z (%a)").to_string(),
            day,
            active: PeriodSet(active),
        }
    }

    /// The bit of the period called `name`.
    pub fn period(&self, name: &str) -> Option<PeriodSet> {
        self.periods
            .iter()
            .position(|p| p.name == name)
            .map(|i| PeriodSet(1 << i))
    }
}

/// Parses a time given on the command line or to `--clock`: RFC 3339 (`2026-11-23T10:35:00Z`)
/// or the school's local time `YYYY-MM-DD HH:MM[:SS]` (an ambiguous local time at the autumn
/// clock change means its first occurrence).
pub fn parse_instant(s: &str, zone: Tz) -> Result<DateTime<Utc>, TimetableError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(s.trim(), f).ok())
    .ok_or_else(|| {
        TimetableError(format!(
            "{s:?} is not a time: use RFC 3339 (2026-11-23T10:35:00Z) or local \"2026-11-23 10:35\""
        ))
    })?;
    naive
        .and_local_timezone(zone)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            TimetableError(format!(
                "{s:?} does not exist in {zone} (the clocks went forward)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timetable() -> Timetable {
        Timetable {
            terms: vec![
                DateSpan {
                    name: "Spring 2".into(),
                    first: parse_date("2027-02-22").unwrap(),
                    last: parse_date("2027-03-31").unwrap(),
                },
                DateSpan {
                    name: "Autumn 2".into(),
                    first: parse_date("2026-10-19").unwrap(),
                    last: parse_date("2026-12-18").unwrap(),
                },
            ],
            closures: vec![DateSpan {
                name: "INSET day".into(),
                first: parse_date("2026-11-02").unwrap(),
                last: parse_date("2026-11-02").unwrap(),
            }],
            periods: vec![Period {
                name: "break".into(),
                windows: vec![
                    Window::parse("10:30-10:45").unwrap(),
                    Window::parse("12:00-13:00").unwrap(),
                    Window::parse("fri 15:15-16:00").unwrap(),
                ],
            }],
            ..Timetable::default()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn break_windows_are_local_time_in_winter_and_summer() {
        let t = timetable();
        // GMT: local = UTC.
        assert_eq!(t.active_periods(at("2026-11-23T10:35:00Z")), PeriodSet(1));
        assert_eq!(t.active_periods(at("2026-11-23T10:45:00Z")), PeriodSet(0));
        // 29 March 2027 is after the clocks went forward: 10:35 BST is 09:35 UTC.
        assert_eq!(t.active_periods(at("2027-03-29T09:35:00Z")), PeriodSet(1));
        assert_eq!(t.active_periods(at("2027-03-29T10:35:00Z")), PeriodSet(0));
        // The Friday before, still GMT.
        assert_eq!(t.active_periods(at("2027-03-26T10:35:00Z")), PeriodSet(1));
        assert_eq!(t.active_periods(at("2027-03-26T15:20:00Z")), PeriodSet(1));
        assert_eq!(t.active_periods(at("2027-03-25T15:20:00Z")), PeriodSet(0));
    }

    #[test]
    fn there_is_no_break_on_closures_weekends_or_holidays() {
        let t = timetable();
        assert_eq!(
            t.day_kind(parse_date("2026-11-02").unwrap()),
            DayKind::Closed {
                reason: "INSET day".into()
            }
        );
        assert_eq!(t.active_periods(at("2026-11-02T10:35:00Z")), PeriodSet(0));
        assert_eq!(t.active_periods(at("2026-11-21T10:35:00Z")), PeriodSet(0));
        assert_eq!(
            t.day_kind(parse_date("2026-12-24").unwrap()),
            DayKind::Holiday
        );
        assert_eq!(t.active_periods(at("2026-12-24T10:35:00Z")), PeriodSet(0));
    }

    #[test]
    fn windows_and_days_are_checked() {
        assert!(Window::parse("10:45-10:30").is_err());
        assert!(Window::parse("10:30").is_err());
        assert!(Window::parse("25:00-26:00").is_err());
        assert!(Window::parse("mon-thu 12:00-13:00").is_ok());
        assert!(Window::parse("thu-mon 12:00-13:00").is_err());
        assert!(Window::parse("noon 12:00-13:00").is_err());
        assert!(Window::parse("16:00-24:00").is_ok());
    }

    #[test]
    fn local_times_on_the_command_line_follow_the_clock_change() {
        let z = chrono_tz::Europe::London;
        assert_eq!(
            parse_instant("2026-11-23 10:35", z).unwrap(),
            at("2026-11-23T10:35:00Z")
        );
        assert_eq!(
            parse_instant("2027-03-29 10:35", z).unwrap(),
            at("2027-03-29T09:35:00Z")
        );
        assert!(parse_instant("2027-03-28 01:30", z).is_err());
        assert!(parse_instant("tomorrow", z).is_err());
    }
}
