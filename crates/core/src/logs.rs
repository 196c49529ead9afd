//! Squid's access log as the school keeps it: each request attributed to a person (by
//! proxy user, else by address → device → who held the device then), classified by the
//! web rules, and filed under a retention class.
//!
//! Detail is stored in partitions that retention drops whole: routine browsing by day,
//! blocked attempts and safeguarding hits (far fewer rows, kept far longer) by calendar
//! month. A partition belongs to one school and one class, so each school's retention
//! applies to its own rows only.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, PersonId};

mod batch;
mod block;
mod evidence;
mod import;
mod register;
mod search;

pub use batch::{BatchBuilder, DailyTotal, LogBatch, LogTotals, NewRequest, SiteTotal};
pub use block::{BlockError, LogBlock};
pub use evidence::{
    LoadedPart, LoadedRange, PartDigest, StoredPart, check_log_evidence, loaded_ranges, parts_of,
};
pub use import::{DeviceCsvError, DeviceRow, parse_device_csv, parse_isc_leases};
pub use register::{Register, Span};
pub use search::{MAX_SEARCH_CHARS, search_term};

/// How long a class of requests is kept, and so which partition it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogClass {
    /// Allowed requests in no safeguarding category.
    Routine,
    /// Requests the web rules denied.
    Blocked,
    /// Requests in a category the school marks as safeguarding, allowed or not.
    Safeguarding,
}

impl LogClass {
    pub const ALL: [LogClass; 3] = [Self::Routine, Self::Blocked, Self::Safeguarding];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::Blocked => "blocked",
            Self::Safeguarding => "safeguarding",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The partition a request of this class made on `day` is stored in.
    pub fn period(self, day: NaiveDate) -> Period {
        match self {
            Self::Routine => Period {
                start: day,
                end: day.succ_opt().unwrap_or(day),
            },
            Self::Blocked | Self::Safeguarding => {
                let start = day.with_day(1).unwrap_or(day);
                let end = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                };
                Period {
                    start,
                    end: end.unwrap_or(start),
                }
            }
        }
    }

    /// The school's retention for this class, in days, when it has set none.
    pub fn default_retention_days(self) -> u32 {
        match self {
            Self::Routine => 90,
            Self::Blocked => 365,
            // Keeping safeguarding records is the school's safeguarding policy's call;
            // six years is a common schedule for records that may be needed later.
            Self::Safeguarding => 6 * 365,
        }
    }
}

/// The days one partition holds: `start` inclusive, `end` exclusive (UTC days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// A name part for the partition's table: `20261130`.
    pub fn tag(&self) -> String {
        self.start.format("%Y%m%d").to_string()
    }
}

/// Allowed or denied at the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allowed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// How a request was tied to a person or device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The proxy user name is a person's account.
    ProxyUser,
    /// The address was a registered device's, held by this person at the time.
    DeviceHolder,
    /// The address was a registered device's, held by nobody at the time.
    DeviceOnly,
    /// Neither the user nor the address is known.
    Unattributed,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProxyUser => "proxy-user",
            Self::DeviceHolder => "device-holder",
            Self::DeviceOnly => "device-only",
            Self::Unattributed => "unattributed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ProxyUser,
            Self::DeviceHolder,
            Self::DeviceOnly,
            Self::Unattributed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// Who a request is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribution {
    pub person: Option<PersonId>,
    pub device: Option<DeviceId>,
    pub via: Via,
}

/// One request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The line it came from in its source (1-based).
    pub line: u64,
    pub at: DateTime<Utc>,
    pub client: IpAddr,
    pub proxy_user: Option<String>,
    pub method: String,
    pub url: String,
    /// The host, lower-cased, for reports by site.
    pub host: String,
    /// Squid's result code, e.g. `TCP_MISS`.
    pub squid_code: String,
    pub status: u16,
    pub bytes: u64,
    pub elapsed_ms: u32,
    pub content_type: Option<String>,
    pub outcome: Outcome,
    /// The rule that decided, as the helper names it (`default`, `illegal-content` …).
    pub rule: Option<String>,
    /// The category that made the rule match.
    pub category: Option<String>,
    /// The AUP statement the decision cites.
    pub statement: Option<i32>,
    pub class: LogClass,
    pub person: Option<PersonId>,
    pub device: Option<DeviceId>,
    pub via: Via,
    /// What was searched for, when the school logs search terms and the URL is a search
    /// engine's results page ([`search_term`]).
    pub search: Option<String>,
}

impl LoggedRequest {
    /// The UTC day it was made on.
    pub fn day(&self) -> NaiveDate {
        self.at.date_naive()
    }
}

/// A school's rules for its access log: retention per class, and the categories it counts
/// as safeguarding (besides the web rules' illegal-content categories, which always do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSettings {
    pub routine_days: u32,
    pub blocked_days: u32,
    pub safeguarding_days: u32,
    pub safeguarding_categories: Vec<String>,
    /// Who decides the headteacher's own requests for someone's log (the chair of
    /// governors, say); until someone is named, such requests cannot be decided.
    #[serde(default)]
    pub head_requests_decider: Option<crate::ids::PersonId>,
    /// Whether search terms on the main search engines are kept (off unless the school
    /// turns it on; see [`search_term`]).
    #[serde(default)]
    pub search_terms: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            routine_days: LogClass::Routine.default_retention_days(),
            blocked_days: LogClass::Blocked.default_retention_days(),
            safeguarding_days: LogClass::Safeguarding.default_retention_days(),
            safeguarding_categories: Vec::new(),
            head_requests_decider: None,
            search_terms: false,
        }
    }
}

impl LogSettings {
    /// Days a class is kept.
    pub fn retention_days(&self, class: LogClass) -> u32 {
        match class {
            LogClass::Routine => self.routine_days,
            LogClass::Blocked => self.blocked_days,
            LogClass::Safeguarding => self.safeguarding_days,
        }
    }

    /// Checks the bounds the database also enforces.
    pub fn check(&self) -> Result<(), String> {
        for (name, days, max) in [
            ("routine browsing", self.routine_days, 3650),
            ("blocked attempts", self.blocked_days, 3650),
            ("safeguarding hits", self.safeguarding_days, 36500),
        ] {
            if !(1..=max).contains(&days) {
                return Err(format!("{name} must be kept between 1 and {max} days"));
            }
        }
        if self.safeguarding_days < self.blocked_days || self.blocked_days < self.routine_days {
            return Err(
                "safeguarding hits must be kept at least as long as blocked attempts, and blocked attempts at least as long as routine browsing"
                    .into(),
            );
        }
        Ok(())
    }

    /// The first day whose requests of `class` are still kept on `today`: partitions that
    /// end on or before it are dropped.
    pub fn keep_from(&self, class: LogClass, today: NaiveDate) -> NaiveDate {
        today - chrono::Days::new(u64::from(self.retention_days(class)))
    }
}

/// The pseudonymous report of a school's access log over some days: counts by day and
/// category, blocked sites, the rules that denied, and devices. It names nobody.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogReport {
    /// Per day and category (empty: none): requests, of which denied.
    pub days: Vec<(NaiveDate, String, u64, u64)>,
    /// The most blocked sites: host, denied requests.
    pub blocked_sites: Vec<(String, u64)>,
    /// The filtering decisions register: rule, category, denied requests.
    pub rules: Vec<(String, String, u64)>,
    /// Devices by requests: device name, requests, denied.
    pub devices: Vec<(String, u64, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap()
    }

    #[test]
    fn a_device_changing_hands_is_attributed_to_whoever_held_it_then() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let laptop = DeviceId(1);
        let mut r = Register::default();
        r.add_address(
            ip,
            Span {
                from: t(0),
                until: None,
                value: laptop,
            },
        );
        r.add_holder(
            laptop,
            Span {
                from: t(8),
                until: Some(t(12)),
                value: PersonId(10),
            },
        );
        r.add_holder(
            laptop,
            Span {
                from: t(12),
                until: None,
                value: PersonId(11),
            },
        );
        assert_eq!(r.attribute(ip, None, t(7)).via, Via::DeviceOnly);
        assert_eq!(r.attribute(ip, None, t(9)).person, Some(PersonId(10)));
        assert_eq!(r.attribute(ip, None, t(12)).person, Some(PersonId(11)));
        let other: IpAddr = "10.0.0.6".parse().unwrap();
        assert_eq!(r.attribute(other, None, t(9)).via, Via::Unattributed);
    }

    #[test]
    fn the_proxy_user_wins_and_a_shared_local_part_names_nobody() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let mut r = Register::default();
        r.add_emails([
            (PersonId(1), "J.Smith@school.test"),
            (PersonId(2), "j.smith@other.test"),
            (PersonId(3), "ann@school.test"),
        ]);
        let a = r.attribute(ip, Some("ANN"), t(9));
        assert_eq!((a.person, a.via), (Some(PersonId(3)), Via::ProxyUser));
        assert_eq!(
            r.attribute(ip, Some("j.smith@school.test"), t(9)).person,
            Some(PersonId(1))
        );
        assert_eq!(r.attribute(ip, Some("j.smith"), t(9)).person, None);
    }

    #[test]
    fn routine_partitions_are_days_and_the_rest_calendar_months() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 14).unwrap();
        let p = LogClass::Routine.period(d);
        assert_eq!((p.start, p.end.to_string()), (d, "2026-12-15".into()));
        let m = LogClass::Blocked.period(d);
        assert_eq!(
            (m.start.to_string(), m.end.to_string()),
            ("2026-12-01".into(), "2027-01-01".into())
        );
    }
}
