//! The school's calendar: its holidays (read from and written as the text a school
//! types), and which days and hours reminders may be sent on.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::person::{InputError, collapse_spaces};

use super::texts::long_date;
use super::*;

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
