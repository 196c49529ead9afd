//! The compliance report for an inspection: for each policy's current version, how many of
//! its audience signed (overall, by audience, by role), who has not and how overdue they
//! are, and whether the school's evidence ledger verifies.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use undersign_core::SchoolId;
use undersign_core::compliance::{PolicyCompliance, SchoolFacts, Share};
use undersign_core::ledger::{Checkpoint, LedgerEntry, verify_chain, verify_checkpoints};
use undersign_core::receipt::local_time;
use undersign_core::time::TimeZone;

use crate::{Meta, PdfError, world};

const TEMPLATE: &str = concat!(
    include_str!("../templates/common.typ"),
    include_str!("../templates/compliance_report.typ")
);

/// Everything a compliance report shows.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceReport {
    pub school_name: String,
    pub slug: String,
    /// The zone the dates are shown in.
    pub time_zone: TimeZone,
    pub days_to_sign: u16,
    pub produced_at: DateTime<Utc>,
    /// Each policy's current version, as `SchoolFacts::report` gives them.
    pub policies: Vec<PolicyCompliance>,
    pub chain: ChainStatus,
}

impl ComplianceReport {
    /// The report of a school's facts at `now`, with its ledger's status.
    pub fn from_facts(facts: &SchoolFacts, now: DateTime<Utc>, chain: ChainStatus) -> Self {
        Self {
            school_name: facts.name.clone(),
            slug: facts.slug.clone(),
            time_zone: facts.timezone,
            days_to_sign: facts.days_to_sign.get(),
            produced_at: now,
            policies: facts.report(now),
            chain,
        }
    }
}

/// What verifying the school's evidence ledger found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainStatus {
    /// Entries in the ledger.
    pub entries: i64,
    /// The hash of the last entry, if there is one.
    pub head_hash: Option<String>,
    /// `None` when the chain and its checkpoints verify; otherwise the first problem.
    pub problem: Option<String>,
    /// The most recent checkpoint (a chain head signed with the school's key).
    pub last_checkpoint: Option<CheckpointInfo>,
}

/// A signed chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointInfo {
    pub seq: i64,
    pub hash: String,
    pub signed_at: DateTime<Utc>,
}

impl ChainStatus {
    /// Recomputes the chain (given in `seq` order) and checks its checkpoints with the
    /// school's key, as `undersign verify` does.
    pub fn verify(
        school: SchoolId,
        entries: &[LedgerEntry],
        checkpoints: &[Checkpoint],
        key: &VerifyingKey,
    ) -> Self {
        let last_checkpoint = checkpoints
            .iter()
            .max_by_key(|c| c.seq)
            .map(|c| CheckpointInfo {
                seq: c.seq,
                hash: c.hash.clone(),
                signed_at: c.signed_at,
            });
        let result = verify_chain(school, entries)
            .and_then(|summary| verify_checkpoints(entries, checkpoints, key).map(|()| summary));
        match result {
            Ok(summary) => Self {
                entries: summary.entries,
                head_hash: summary.head.map(|h| h.hash),
                problem: None,
                last_checkpoint,
            },
            Err(e) => Self {
                entries: i64::try_from(entries.len()).unwrap_or(i64::MAX),
                head_hash: entries.last().map(|e| e.hash.clone()),
                problem: Some(format!("entry {}: {e}", e.seq())),
                last_checkpoint,
            },
        }
    }
}

#[derive(Serialize)]
struct ReportData<'a> {
    meta: Meta,
    school_name: &'a str,
    time_zone: String,
    produced: String,
    days_to_sign: u16,
    policies: Vec<PolicyView<'a>>,
    chain: ChainView<'a>,
}

#[derive(Serialize)]
struct PolicyView<'a> {
    title: &'a str,
    number: i32,
    asking_number: i32,
    asked: String,
    overall: ShareView,
    by_audience: Vec<ShareView>,
    by_role: Vec<ShareView>,
    outstanding: Vec<OutstandingView<'a>>,
}

#[derive(Serialize)]
struct ShareView {
    label: String,
    signed: usize,
    total: usize,
    percent: usize,
}

impl From<&Share> for ShareView {
    fn from(s: &Share) -> Self {
        Self {
            label: s.label.clone(),
            signed: s.signed,
            total: s.total,
            percent: s.percent(),
        }
    }
}

#[derive(Serialize)]
struct OutstandingView<'a> {
    full_name: &'a str,
    email: &'a str,
    roles: String,
    standing: &'static str,
    last_signed: String,
    due: String,
    days_overdue: i64,
}

#[derive(Serialize)]
struct ChainView<'a> {
    entries: i64,
    head_hash: Option<&'a str>,
    problem: Option<&'a str>,
    checkpoint: Option<String>,
    checkpoint_hash: Option<&'a str>,
}

/// The compliance report as a PDF.
pub fn compliance_report(report: &ComplianceReport) -> Result<Vec<u8>, PdfError> {
    let zone: Tz = report.time_zone.tz();
    let policies = report
        .policies
        .iter()
        .map(|p| PolicyView {
            title: &p.title,
            number: p.number,
            asking_number: p.asking_number,
            asked: local_time(p.asked_at, zone),
            overall: (&p.overall).into(),
            by_audience: p.by_audience.iter().map(Into::into).collect(),
            by_role: p.by_role.iter().map(Into::into).collect(),
            outstanding: p
                .people
                .iter()
                .filter(|s| s.standing.outstanding())
                .map(|s| OutstandingView {
                    full_name: &s.full_name,
                    email: &s.email,
                    roles: s
                        .roles
                        .iter()
                        .map(|r| r.label())
                        .collect::<Vec<_>>()
                        .join(", "),
                    standing: s.standing.label(),
                    last_signed: s
                        .last_signed
                        .map_or_else(|| "never".into(), |n| format!("version {n}")),
                    due: s.due.format("%-d %b %Y").to_string(),
                    days_overdue: s.days_overdue,
                })
                .collect(),
        })
        .collect();
    let c = &report.chain;
    let data = ReportData {
        meta: Meta {
            title: format!("Compliance report: {}", report.school_name),
            author: report.school_name.clone(),
        },
        school_name: &report.school_name,
        time_zone: zone.name().to_string(),
        produced: local_time(report.produced_at, zone),
        days_to_sign: report.days_to_sign,
        policies,
        chain: ChainView {
            entries: c.entries,
            head_hash: c.head_hash.as_deref(),
            problem: c.problem.as_deref(),
            checkpoint: c.last_checkpoint.as_ref().map(|cp| {
                format!(
                    "entry {}, signed {}",
                    cp.seq,
                    local_time(cp.signed_at, zone)
                )
            }),
            checkpoint_hash: c.last_checkpoint.as_ref().map(|cp| cp.hash.as_str()),
        },
    };
    world::render(
        "compliance_report",
        TEMPLATE,
        &data,
        report.produced_at,
        &[],
    )
}
