//! A batch of requests on its way to the store: built line by line from borrowed text
//! ([`NewRequest`]), grouped into blocks ([`super::LogBlock`]) with the daily and site
//! totals kept beside each, and handed to the store whole ([`LogBatch`]).

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use foldhash::HashMap;

use super::block::{encode, midnight_micros};
use super::{LogBlock, LogClass, LoggedRequest, Outcome, Via};
use crate::ids::{DeviceId, PersonId};

/// A request about to be stored, borrowing its text from the line it was read from: what
/// the loader builds for each of millions of lines, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRequest<'a> {
    pub line: u64,
    pub at: DateTime<Utc>,
    pub client: IpAddr,
    pub proxy_user: Option<&'a str>,
    pub method: &'a str,
    pub url: &'a str,
    pub host: &'a str,
    pub squid_code: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub elapsed_ms: u32,
    pub content_type: Option<&'a str>,
    pub outcome: Outcome,
    pub rule: Option<&'a str>,
    pub category: Option<&'a str>,
    pub statement: Option<i32>,
    pub class: LogClass,
    pub person: Option<PersonId>,
    pub device: Option<DeviceId>,
    pub via: Via,
    pub search: Option<&'a str>,
}

impl NewRequest<'_> {
    /// The request with its own copy of the text.
    pub fn logged(&self) -> LoggedRequest {
        LoggedRequest {
            line: self.line,
            at: self.at,
            client: self.client,
            proxy_user: self.proxy_user.map(str::to_owned),
            method: self.method.to_owned(),
            url: self.url.to_owned(),
            host: self.host.to_owned(),
            squid_code: self.squid_code.to_owned(),
            status: self.status,
            bytes: self.bytes,
            elapsed_ms: self.elapsed_ms,
            content_type: self.content_type.map(str::to_owned),
            outcome: self.outcome,
            rule: self.rule.map(str::to_owned),
            category: self.category.map(str::to_owned),
            statement: self.statement,
            class: self.class,
            person: self.person,
            device: self.device,
            via: self.via,
            search: self.search.map(str::to_owned),
        }
    }
}

impl LoggedRequest {
    pub fn borrowed(&self) -> NewRequest<'_> {
        NewRequest {
            line: self.line,
            at: self.at,
            client: self.client,
            proxy_user: self.proxy_user.as_deref(),
            method: &self.method,
            url: &self.url,
            host: &self.host,
            squid_code: &self.squid_code,
            status: self.status,
            bytes: self.bytes,
            elapsed_ms: self.elapsed_ms,
            content_type: self.content_type.as_deref(),
            outcome: self.outcome,
            rule: self.rule.as_deref(),
            category: self.category.as_deref(),
            statement: self.statement,
            class: self.class,
            person: self.person,
            device: self.device,
            via: self.via,
            search: self.search.as_deref(),
        }
    }
}

/// Requests, denied requests and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogTotals {
    pub requests: u64,
    pub denied: u64,
    pub bytes: u64,
}

impl LogTotals {
    fn add(&mut self, r: &NewRequest<'_>) {
        self.requests += 1;
        self.denied += u64::from(r.outcome == Outcome::Denied);
        self.bytes = self.bytes.saturating_add(r.bytes);
    }
}

/// A batch's totals for one day, person, device, category and class (the pseudonymous
/// reports' source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyTotal {
    pub day: NaiveDate,
    pub person: Option<PersonId>,
    pub device: Option<DeviceId>,
    /// Empty: none.
    pub category: String,
    pub class: LogClass,
    pub totals: LogTotals,
}

/// A batch's totals for one day and site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTotal {
    pub day: NaiveDate,
    pub host: String,
    pub totals: LogTotals,
}

/// Lines read from one source, to be stored together: the store checks that its cursor
/// for `source` is `from_line`, stores the blocks and totals and moves the cursor to
/// `to_line`, in one transaction, so that a batch is stored once or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBatch {
    /// The source's name: `file:<SHA-256 of its first line>` for a log file, whatever its
    /// name or compression, or `journal:<journal id>/<segment>` for the daemon's journal.
    pub source: String,
    /// Lines of the source already stored before this batch.
    pub from_line: u64,
    /// Lines of the source stored after it (malformed lines are counted, not stored).
    pub to_line: u64,
    /// In key order: class, day, person, device.
    pub blocks: Vec<LogBlock>,
    pub daily: Vec<DailyTotal>,
    pub sites: Vec<SiteTotal>,
    /// The requests in the safeguarding class, for the DSL's alerts.
    pub alerts: Vec<LoggedRequest>,
}

impl LogBatch {
    /// The batch of `requests` (in line order).
    pub fn of(source: &str, from_line: u64, to_line: u64, requests: Vec<LoggedRequest>) -> Self {
        let mut b = BatchBuilder::default();
        for r in &requests {
            b.push(&r.borrowed());
        }
        b.finish(source, from_line, to_line)
    }

    /// Requests it stores.
    pub fn rows(&self) -> u64 {
        self.blocks.iter().map(|b| b.rows).sum()
    }
}

type BlockKey = (LogClass, NaiveDate, Option<PersonId>, Option<DeviceId>);

struct OpenBlock {
    first_line: u64,
    last_line: u64,
    last_at: i64,
    rows: u64,
    raw: Vec<u8>,
    /// The block's totals by category (a block is one day, person, device and class, so
    /// these are the daily totals' rows); few per block, so a list.
    by_category: Vec<(Option<u32>, LogTotals)>,
}

/// Strings seen in a batch, each kept once.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    /// The string's id, and whether it is new.
    fn id(&mut self, s: &str) -> (u32, bool) {
        if let Some(id) = self.ids.get(s) {
            return (*id, false);
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(s.to_owned(), id);
        self.names.push(s.to_owned());
        (id, true)
    }

    fn name(&self, id: u32) -> String {
        self.names.get(id as usize).cloned().unwrap_or_default()
    }
}

/// Builds a [`LogBatch`] from requests given in line order.
#[derive(Default)]
pub struct BatchBuilder {
    blocks: HashMap<BlockKey, OpenBlock>,
    categories: Interner,
    hosts: Interner,
    /// Per host id: its totals by day (a batch spans a day or two, so a list).
    sites: Vec<Vec<(NaiveDate, LogTotals)>>,
    alerts: Vec<LoggedRequest>,
}

impl BatchBuilder {
    /// Adds the next request (in line order).
    pub fn push(&mut self, r: &NewRequest<'_>) {
        let day = r.at.date_naive();
        let (host, new) = self.hosts.id(r.host);
        if new {
            self.sites.push(Vec::new());
        }
        if let Some(days) = self.sites.get_mut(host as usize) {
            match days.iter_mut().find(|(d, _)| *d == day) {
                Some((_, t)) => t.add(r),
                None => {
                    let mut t = LogTotals::default();
                    t.add(r);
                    days.push((day, t));
                }
            }
        }
        let category = r.category.map(|c| self.categories.id(c).0);
        let block = self
            .blocks
            .entry((r.class, day, r.person, r.device))
            .or_insert_with(|| OpenBlock {
                first_line: r.line,
                last_line: r.line,
                last_at: midnight_micros(day),
                rows: 0,
                raw: Vec::with_capacity(16 * 1024),
                by_category: Vec::new(),
            });
        match block.by_category.iter_mut().find(|(c, _)| *c == category) {
            Some((_, t)) => t.add(r),
            None => {
                let mut t = LogTotals::default();
                t.add(r);
                block.by_category.push((category, t));
            }
        }
        encode(&mut block.raw, r, block.last_line, block.last_at);
        block.last_line = r.line;
        block.last_at = r.at.timestamp_micros();
        block.rows += 1;
        if r.class == LogClass::Safeguarding {
            self.alerts.push(r.logged());
        }
    }

    /// The batch, its blocks compressed.
    pub fn finish(self, source: &str, from_line: u64, to_line: u64) -> LogBatch {
        let categories = &self.categories;
        let mut daily = Vec::new();
        let mut blocks: Vec<LogBlock> = self
            .blocks
            .into_iter()
            .map(|((class, day, person, device), b)| {
                for (category, totals) in b.by_category {
                    daily.push(DailyTotal {
                        day,
                        person,
                        device,
                        category: category.map(|c| categories.name(c)).unwrap_or_default(),
                        class,
                        totals,
                    });
                }
                let mut data = Vec::with_capacity(4 + b.raw.len() / 2);
                data.extend_from_slice(&u32::try_from(b.raw.len()).unwrap_or(0).to_le_bytes());
                data.extend_from_slice(&lz4_flex::block::compress(&b.raw));
                LogBlock {
                    class,
                    day,
                    person,
                    device,
                    first_line: b.first_line,
                    last_line: b.last_line,
                    rows: b.rows,
                    data,
                }
            })
            .collect();
        blocks.sort_by_key(|b| (b.class, b.day, b.person, b.device));
        // A category named "" and no category are one row of the totals.
        daily.sort_by(|a, b| {
            (a.day, a.person, a.device, &a.category, a.class).cmp(&(
                b.day,
                b.person,
                b.device,
                &b.category,
                b.class,
            ))
        });
        daily.dedup_by(|later, first| {
            let same = (
                later.day,
                later.person,
                later.device,
                &later.category,
                later.class,
            ) == (
                first.day,
                first.person,
                first.device,
                &first.category,
                first.class,
            );
            if same {
                first.totals.requests += later.totals.requests;
                first.totals.denied += later.totals.denied;
                first.totals.bytes = first.totals.bytes.saturating_add(later.totals.bytes);
            }
            same
        });
        let mut sites: Vec<SiteTotal> = self
            .sites
            .into_iter()
            .enumerate()
            .flat_map(|(host, days)| {
                let host = self.hosts.name(u32::try_from(host).unwrap_or(u32::MAX));
                days.into_iter().map(move |(day, totals)| SiteTotal {
                    day,
                    host: host.clone(),
                    totals,
                })
            })
            .collect();
        sites.sort_by(|a, b| (a.day, &a.host).cmp(&(b.day, &b.host)));
        LogBatch {
            source: source.to_owned(),
            from_line,
            to_line,
            blocks,
            daily,
            sites,
            alerts: self.alerts,
        }
    }
}
