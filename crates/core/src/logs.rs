//! Squid's access log as the school keeps it: each request attributed to a person (by
//! proxy user, else by address → device → who held the device then), classified by the
//! web rules, and filed under a retention class.
//!
//! Detail is stored in partitions that retention drops whole: routine browsing by day,
//! blocked attempts and safeguarding hits (far fewer rows, kept far longer) by calendar
//! month. A partition belongs to one school and one class, so each school's retention
//! applies to its own rows only.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, PersonId};

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

/// Lines read from one source, to be stored together: the store checks that its cursor
/// for `source` is `from_line`, stores the requests and moves the cursor to `to_line`, in
/// one transaction, so that a batch is stored once or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBatch {
    /// The source's name: `file:<SHA-256 of its first line>` for a log file, whatever its
    /// name or compression, or `journal:<journal id>/<segment>` for the daemon's journal.
    pub source: String,
    /// Lines of the source already stored before this batch.
    pub from_line: u64,
    /// Lines of the source stored after it (malformed lines are counted, not stored).
    pub to_line: u64,
    pub requests: Vec<LoggedRequest>,
}

/// A span of time in which something held (`until` exclusive, open when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span<T> {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub value: T,
}

impl<T: Copy> Span<T> {
    fn at(&self, t: DateTime<Utc>) -> Option<T> {
        (self.from <= t && self.until.is_none_or(|u| t < u)).then_some(self.value)
    }
}

/// Everything attribution needs, read once per batch: proxy user names, who had which
/// address, and who held which device, over time.
#[derive(Debug, Clone, Default)]
pub struct Register {
    accounts: HashMap<String, PersonId>,
    addresses: HashMap<IpAddr, Vec<Span<DeviceId>>>,
    holders: HashMap<DeviceId, Vec<Span<PersonId>>>,
}

impl Register {
    /// A proxy user name (compared without case) that names `person`.
    pub fn add_account(&mut self, name: &str, person: PersonId) {
        self.accounts.insert(name.to_lowercase(), person);
    }

    /// Builds the user names of people from their sign-in emails: the whole address,
    /// and the part before `@` where no two people share it.
    pub fn add_emails<'a>(&mut self, people: impl IntoIterator<Item = (PersonId, &'a str)>) {
        let mut local: HashMap<String, Option<PersonId>> = HashMap::new();
        for (person, email) in people {
            let email = email.to_lowercase();
            if let Some((name, _)) = email.split_once('@') {
                local
                    .entry(name.to_owned())
                    .and_modify(|p| {
                        if *p != Some(person) {
                            *p = None
                        }
                    })
                    .or_insert(Some(person));
            }
            self.accounts.entry(email).or_insert(person);
        }
        for (name, person) in local {
            if let Some(person) = person {
                self.accounts.entry(name).or_insert(person);
            }
        }
    }

    /// `device` had `ip` over `span`.
    pub fn add_address(&mut self, ip: IpAddr, span: Span<DeviceId>) {
        self.addresses.entry(ip).or_default().push(span);
    }

    /// `device` was held by a person over `span`.
    pub fn add_holder(&mut self, device: DeviceId, span: Span<PersonId>) {
        self.holders.entry(device).or_default().push(span);
    }

    /// Who made a request from `ip` as `user` at `at`. The proxy user wins (it is who
    /// signed in to the proxy); otherwise the device the address belonged to then, and
    /// whoever held that device then. Where two spans overlap the newer one wins.
    pub fn attribute(&self, ip: IpAddr, user: Option<&str>, at: DateTime<Utc>) -> Attribution {
        let device = self
            .addresses
            .get(&ip)
            .and_then(|spans| newest_at(spans, at));
        let by_user = user.and_then(|u| {
            self.accounts
                .get(u)
                .or_else(|| self.accounts.get(&u.to_lowercase()))
                .copied()
        });
        if let Some(person) = by_user {
            return Attribution {
                person: Some(person),
                device,
                via: Via::ProxyUser,
            };
        }
        let Some(device) = device else {
            return Attribution {
                person: None,
                device: None,
                via: Via::Unattributed,
            };
        };
        match self.holders.get(&device).and_then(|s| newest_at(s, at)) {
            Some(person) => Attribution {
                person: Some(person),
                device: Some(device),
                via: Via::DeviceHolder,
            },
            None => Attribution {
                person: None,
                device: Some(device),
                via: Via::DeviceOnly,
            },
        }
    }
}

fn newest_at<T: Copy>(spans: &[Span<T>], at: DateTime<Utc>) -> Option<T> {
    spans
        .iter()
        .filter(|s| s.at(at).is_some())
        .max_by_key(|s| s.from)
        .map(|s| s.value)
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

/// One row of a device register CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub line: usize,
    pub device: String,
    pub address: Option<IpAddr>,
    /// The holder's sign-in email; `None` for a device nobody holds.
    pub holder: Option<String>,
}

/// What is wrong with a device register CSV: the line, the column, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, {field}: {message}")]
pub struct DeviceCsvError {
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// Reads a device register CSV with a header row naming the columns `device` (required),
/// `address` and `holder` (an email, empty for nobody), in any order. Every error is
/// returned, each with its line and column; nothing is returned from a file with any.
pub fn parse_device_csv(text: &str) -> Result<Vec<DeviceRow>, Vec<DeviceCsvError>> {
    let err = |line: usize, field: &str, message: String| DeviceCsvError {
        line,
        field: field.to_owned(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![err(1, "header", e.to_string())]),
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let Some(device_col) = column("device") else {
        return Err(vec![err(1, "header", "no `device` column".into())]);
    };
    let (address_col, holder_col) = (column("address"), column("holder"));
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(err(line, "row", e.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("");
        let device = get(Some(device_col)).to_owned();
        if device.is_empty() {
            errors.push(err(line, "device", "empty".into()));
            continue;
        }
        if let Some(first) = seen.insert(device.to_lowercase(), line) {
            errors.push(err(
                line,
                "device",
                format!("{device:?} is also on line {first}"),
            ));
        }
        let address = match get(address_col) {
            "" => None,
            a => match a.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    errors.push(err(line, "address", format!("not an IP address: {a:?}")));
                    continue;
                }
            },
        };
        let holder = match get(holder_col) {
            "" => None,
            h if h.contains('@') => Some(h.to_lowercase()),
            h => {
                errors.push(err(line, "holder", format!("not an email address: {h:?}")));
                continue;
            }
        };
        rows.push(DeviceRow {
            line,
            device,
            address,
            holder,
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn a_device_csv_is_read_whole_or_refused_with_every_error_named() {
        let ok =
            parse_device_csv("Device,Address,Holder\nLT-01,10.0.0.5,Ann@School.test\nPC-02,,\n")
                .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].holder.as_deref(), Some("ann@school.test"));
        assert_eq!((ok[1].address, ok[1].holder.as_deref()), (None, None));
        let errors =
            parse_device_csv("device,address,holder\nLT-01,10.0.0.999,\n,10.0.0.1,\nlt-01,,bob\n")
                .unwrap_err();
        let named: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            named,
            [(2, "address"), (3, "device"), (4, "device"), (4, "holder")]
        );
    }
}

/// One partition's share of a [`LogBatch`], as its `logs_loaded` ledger entry records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedPart {
    pub class: LogClass,
    pub period_start: NaiveDate,
    pub rows: u64,
    /// SHA-256 of the rows' [`LoggedRequest::canonical`] forms in line order.
    pub sha256: String,
}

impl LoggedRequest {
    /// The form hashed into the ledger: every stored field, in a fixed order, as JSON.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!([
            self.line,
            crate::time::rfc3339(self.at),
            self.client.to_string(),
            self.proxy_user,
            self.method,
            self.url,
            self.host,
            self.squid_code,
            self.status,
            self.bytes,
            self.elapsed_ms,
            self.content_type,
            self.outcome.as_str(),
            self.rule,
            self.category,
            self.statement,
            self.class.as_str(),
            self.person,
            self.device,
            self.via.as_str(),
            self.search,
        ]))
        .unwrap_or_default()
    }
}

/// Digests rows of one partition in line order.
#[derive(Default, Clone)]
pub struct PartDigest {
    rows: u64,
    hasher: sha2::Sha256,
}

impl PartDigest {
    pub fn add(&mut self, r: &LoggedRequest) {
        use sha2::Digest;
        self.rows += 1;
        self.hasher.update(r.canonical());
        self.hasher.update(b"\n");
    }

    /// The row count and the hex SHA-256.
    pub fn finish(self) -> (u64, String) {
        use sha2::Digest;
        (self.rows, hex::encode(self.hasher.finalize()))
    }
}

/// The parts of a batch, one per partition it touches.
pub fn parts_of(requests: &[LoggedRequest]) -> Vec<LoadedPart> {
    let mut parts: std::collections::BTreeMap<(LogClass, NaiveDate), PartDigest> =
        std::collections::BTreeMap::new();
    for r in requests {
        parts
            .entry((r.class, r.class.period(r.day()).start))
            .or_default()
            .add(r);
    }
    parts
        .into_iter()
        .map(|((class, period_start), d)| {
            let (rows, sha256) = d.finish();
            LoadedPart {
                class,
                period_start,
                rows,
                sha256,
            }
        })
        .collect()
}

/// Lines of a source that one `logs_loaded` entry recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRange {
    pub seq: i64,
    pub source: String,
    pub from_line: u64,
    pub to_line: u64,
}

/// The stored rows of one partition that fall in one entry's range (`entry` `None`: in
/// no entry's range), digested as [`PartDigest`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    pub entry: Option<i64>,
    pub class: LogClass,
    pub period_start: NaiveDate,
    pub rows: u64,
    pub sha256: String,
}

fn events(
    entries: &[crate::ledger::LedgerEntry],
) -> impl Iterator<Item = (i64, crate::ledger::Event)> + '_ {
    entries.iter().filter_map(|e| {
        let payload: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
        let event = serde_json::from_value(payload.get("event")?.clone()).ok()?;
        Some((e.seq, event))
    })
}

/// The line ranges the `logs_loaded` entries recorded, in chain order.
pub fn loaded_ranges(entries: &[crate::ledger::LedgerEntry]) -> Vec<LoadedRange> {
    events(entries)
        .filter_map(|(seq, event)| match event {
            crate::ledger::Event::LogsLoaded {
                source,
                from_line,
                to_line,
                ..
            } => Some(LoadedRange {
                seq,
                source,
                from_line,
                to_line,
            }),
            _ => None,
        })
        .collect()
}

/// Compares the stored access-log detail with what the entries recorded: every part an
/// entry recorded must be stored with the same rows (count and digest) unless a
/// `log_partition_dropped` entry records its partition's purge; every stored row must
/// belong to an entry's part; a purged partition must hold nothing.
pub fn check_log_evidence(
    entries: &[crate::ledger::LedgerEntry],
    stored: &[StoredPart],
) -> Vec<crate::evidence::Finding> {
    use crate::evidence::Finding;
    use crate::ledger::Event;
    use std::collections::{BTreeMap, BTreeSet};
    let mut expected: BTreeMap<(i64, LogClass, NaiveDate), LoadedPart> = BTreeMap::new();
    let mut dropped: BTreeMap<(LogClass, NaiveDate), i64> = BTreeMap::new();
    for (seq, event) in events(entries) {
        match event {
            Event::LogsLoaded { parts, .. } => {
                for p in parts {
                    expected.insert((seq, p.class, p.period_start), p);
                }
            }
            Event::LogPartitionDropped {
                class,
                period_start,
                ..
            } => {
                dropped.insert((class, period_start), seq);
            }
            _ => {}
        }
    }
    let name = |class: LogClass, start: NaiveDate| format!("the {} log of {start}", class.as_str());
    let mut findings = Vec::new();
    let mut seen = BTreeSet::new();
    for part in stored {
        let key = (part.class, part.period_start);
        if let Some(seq) = dropped.get(&key) {
            findings.push(Finding {
                table: "access_log",
                id: *seq,
                entry: Some(*seq),
                problem: format!(
                    "{} was recorded as dropped but still holds {} rows",
                    name(part.class, part.period_start),
                    part.rows
                ),
            });
            continue;
        }
        let Some(entry) = part.entry else {
            findings.push(Finding {
                table: "access_log",
                id: 0,
                entry: None,
                problem: format!(
                    "{} holds {} rows that no ledger entry records: they were written outside Undersign",
                    name(part.class, part.period_start),
                    part.rows
                ),
            });
            continue;
        };
        seen.insert((entry, part.class, part.period_start));
        match expected.get(&(entry, part.class, part.period_start)) {
            None => findings.push(Finding {
                table: "access_log",
                id: entry,
                entry: Some(entry),
                problem: format!(
                    "{} holds {} rows in the lines entry {entry} loaded, which stored none there",
                    name(part.class, part.period_start),
                    part.rows
                ),
            }),
            Some(want) if want.rows != part.rows || want.sha256 != part.sha256 => {
                findings.push(Finding {
                    table: "access_log",
                    id: entry,
                    entry: Some(entry),
                    problem: format!(
                        "{}: the rows entry {entry} stored were changed ({} rows now, {} recorded{})",
                        name(part.class, part.period_start),
                        part.rows,
                        want.rows,
                        if want.rows == part.rows { ", their content differs" } else { "" }
                    ),
                })
            }
            Some(_) => {}
        }
    }
    for ((entry, class, start), want) in expected {
        if !seen.contains(&(entry, class, start)) && !dropped.contains_key(&(class, start)) {
            findings.push(Finding {
                table: "access_log",
                id: entry,
                entry: Some(entry),
                problem: format!(
                    "{}: the {} rows entry {entry} stored are gone, and no entry records their purge",
                    name(class, start),
                    want.rows
                ),
            });
        }
    }
    findings
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

/// Reads ISC dhcpd's lease file (`/var/lib/dhcp/dhcpd.leases`): every `lease ADDRESS { … }`
/// block with its `starts` and `ends` (UTC, as dhcpd writes them) becomes a lease of the
/// device named by its `client-hostname`, else its `hardware ethernet` address. Blocks
/// without both times are skipped (`abandoned`, `free` with `ends never` …); a block that
/// cannot be read is an error naming its line.
pub fn parse_isc_leases(text: &str) -> Result<Vec<crate::store::Lease>, Vec<DeviceCsvError>> {
    let err = |line: usize, field: &str, message: String| DeviceCsvError {
        line,
        field: field.to_owned(),
        message,
    };
    let time = |words: &[&str]| -> Option<DateTime<chrono::Utc>> {
        // `starts 1 2026/11/23 07:30:00;`
        let date = words.get(2)?;
        let clock = words.get(3)?.trim_end_matches(';');
        chrono::NaiveDateTime::parse_from_str(&format!("{date} {clock}"), "%Y/%m/%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    };
    let mut leases = Vec::new();
    let mut errors = Vec::new();
    let mut open: Option<(usize, IpAddr)> = None;
    let (mut starts, mut ends, mut host, mut mac) = (None, None, None, None);
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match (open, words.first().copied()) {
            (None, Some("lease")) => {
                match words.get(1).and_then(|a| a.parse::<IpAddr>().ok()) {
                    Some(ip) if words.get(2) == Some(&"{") => open = Some((number, ip)),
                    _ => errors.push(err(
                        number,
                        "lease",
                        format!("expected `lease ADDRESS {{`, found {line:?}"),
                    )),
                }
                (starts, ends, host, mac) = (None, None, None, None);
            }
            (None, _) => {}
            (Some(_), Some("starts")) => starts = time(&words),
            (Some(_), Some("ends")) => ends = time(&words),
            (Some(_), Some("client-hostname")) => {
                host = words
                    .get(1)
                    .map(|h| h.trim_end_matches(';').trim_matches('"').to_owned())
            }
            (Some(_), Some("hardware")) => {
                mac = words.get(2).map(|m| m.trim_end_matches(';').to_lowercase())
            }
            (Some((start_line, ip)), Some("}")) => {
                open = None;
                let device = host.take().filter(|h| !h.is_empty()).or(mac.take());
                match (starts, ends, device) {
                    (Some(from), Some(until), Some(device)) if from < until => {
                        leases.push(crate::store::Lease {
                            device,
                            address: ip,
                            from,
                            until,
                        })
                    }
                    (Some(_), Some(_), None) => errors.push(err(
                        start_line,
                        "lease",
                        "the lease names no host name and no hardware address".into(),
                    )),
                    _ => {}
                }
            }
            (Some(_), _) => {}
        }
    }
    if let Some((line, _)) = open {
        errors.push(err(
            line,
            "lease",
            "the lease block is never closed with `}`".into(),
        ));
    }
    if errors.is_empty() {
        Ok(leases)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod lease_tests {
    use super::*;

    #[test]
    fn isc_leases_name_the_device_by_host_name_else_hardware_address() {
        let text = "# dhcpd.leases\nlease 10.0.0.5 {\n  starts 1 2026/11/23 07:30:00;\n  ends 1 2026/11/23 19:30:00;\n  hardware ethernet AA:BB:CC:00:11:22;\n  client-hostname \"LT-07\";\n}\nlease 10.0.0.6 {\n  starts 1 2026/11/23 08:00:00;\n  ends 1 2026/11/23 20:00:00;\n  hardware ethernet aa:bb:cc:00:11:33;\n}\nlease 10.0.0.7 {\n  starts 1 2026/11/23 08:00:00;\n  ends never;\n  binding state free;\n}\n";
        let leases = parse_isc_leases(text).unwrap();
        let names: Vec<(&str, String)> = leases
            .iter()
            .map(|l| (l.device.as_str(), l.address.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("LT-07", "10.0.0.5".into()),
                ("aa:bb:cc:00:11:33", "10.0.0.6".into())
            ]
        );
        assert_eq!(leases[0].from.to_rfc3339(), "2026-11-23T07:30:00+00:00");
        let bad = parse_isc_leases(
            "lease 10.0.0.999 {\n}\nlease 10.0.0.8 {\n starts 1 2026/11/23 08:00:00;\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = bad.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3]);
    }
}

/// Longest search term kept.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The search term in a search engine's results URL (Google, Bing, DuckDuckGo, Yahoo,
/// Ecosia, YouTube), decoded (`+` and `%xx`), or `None`. Squid logs the whole URL only for
/// plain HTTP, or HTTPS that it decrypts (SSL bump); for other HTTPS it logs the host
/// alone and no term can be read.
pub fn search_term(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_at(rest.find('/')?);
    let host = host
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let (path, query) = path.split_once('?')?;
    let results = path == "/search";
    let key = if (host.starts_with("google.") || host == "bing.com" || host == "ecosia.org")
        && results
        || host == "duckduckgo.com" && (path == "/" || path == "/html/")
    {
        "q"
    } else if host == "search.yahoo.com" && results {
        "p"
    } else if (host == "youtube.com" || host == "m.youtube.com") && path == "/results" {
        "search_query"
    } else {
        return None;
    };
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    let mut bytes = Vec::with_capacity(value.len());
    let raw = value.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        bytes.push(b);
                        i += 2;
                    }
                    None => bytes.push(b'%'),
                }
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    let term: String = String::from_utf8_lossy(&bytes)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_SEARCH_CHARS)
        .collect();
    (!term.is_empty()).then_some(term)
}

#[cfg(test)]
mod search_tests {
    use super::search_term;

    #[test]
    fn the_term_is_read_from_the_main_engines_results_pages_only() {
        assert_eq!(
            search_term("https://www.google.co.uk/search?client=x&q=how+to+make%20a+bomb")
                .as_deref(),
            Some("how to make a bomb")
        );
        assert_eq!(
            search_term("http://www.bing.com/search?q=caf%C3%A9").as_deref(),
            Some("café")
        );
        assert_eq!(
            search_term("https://duckduckgo.com/?q=self+harm&ia=web").as_deref(),
            Some("self harm")
        );
        assert_eq!(
            search_term("https://search.yahoo.com/search?p=fractions").as_deref(),
            Some("fractions")
        );
        assert_eq!(
            search_term("https://www.youtube.com/results?search_query=volcano").as_deref(),
            Some("volcano")
        );
        assert_eq!(search_term("https://www.google.com/maps?q=school"), None);
        assert_eq!(search_term("www.google.com:443"), None);
        assert_eq!(search_term("https://www.google.com/search?q=+++"), None);
        assert_eq!(
            search_term("https://www.google.com/search?q=%"),
            Some("%".into())
        );
        let long = format!("https://www.google.com/search?q={}", "a".repeat(500));
        assert_eq!(search_term(&long).map(|t| t.len()), Some(200));
    }
}
