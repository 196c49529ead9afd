//! The access log as evidence: each stored batch's blocks, per partition, counted and
//! hashed into its `logs_loaded` entry, and the check `verify` makes of the stored blocks.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{LogBlock, LogClass};
use crate::ids::{DeviceId, PersonId};

/// One partition's share of a [`super::LogBatch`], as its `logs_loaded` ledger entry records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedPart {
    pub class: LogClass,
    pub period_start: NaiveDate,
    /// Requests stored.
    pub rows: u64,
    /// SHA-256 of its blocks' digests ([`LogBlock::digest`]) in key order ([`PartDigest`]).
    pub sha256: String,
}

/// Digests the blocks of one partition: their digests in key order (day, person, device,
/// first line), whatever order they are given in.
#[derive(Default, Clone)]
pub struct PartDigest {
    blocks: Vec<(BlockKey, [u8; 32])>,
    rows: u64,
}

type BlockKey = (NaiveDate, Option<PersonId>, Option<DeviceId>, u64);

impl PartDigest {
    pub fn add(&mut self, block: &LogBlock) {
        self.rows += block.rows;
        self.blocks.push((
            (block.day, block.person, block.device, block.first_line),
            block.digest(),
        ));
    }

    /// The request count and the hex SHA-256.
    pub fn finish(mut self) -> (u64, String) {
        use sha2::Digest;
        self.blocks.sort_unstable();
        let mut hasher = sha2::Sha256::new();
        for (_, digest) in &self.blocks {
            hasher.update(digest);
        }
        (self.rows, hex::encode(hasher.finalize()))
    }
}

/// The parts of a batch, one per partition it touches.
pub fn parts_of(blocks: &[LogBlock]) -> Vec<LoadedPart> {
    let mut parts: std::collections::BTreeMap<(LogClass, NaiveDate), PartDigest> =
        std::collections::BTreeMap::new();
    for b in blocks {
        parts.entry((b.class, b.period().start)).or_default().add(b);
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
