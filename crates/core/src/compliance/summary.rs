//! The organisation view's per-school summary lines, and how long a kept summary stays
//! true.

use crate::ids::SchoolId;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::*;

/// One policy of one school, as the organisation view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryLine {
    pub policy: String,
    pub number: i32,
    pub signed: usize,
    pub total: usize,
    pub overdue: usize,
}

impl SummaryLine {
    /// See [`percent`].
    pub fn percent(&self) -> usize {
        percent(self.signed, self.total)
    }
}

/// A school's summary as kept by the store: right while the school's chain head is still
/// `ledger_seq` (every signature, decline, publication and change to a person moves it)
/// and the time is before `valid_until` (the next local midnight, when people who were
/// due become overdue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSummary {
    pub ledger_seq: i64,
    pub valid_until: DateTime<Utc>,
    pub lines: Vec<SummaryLine>,
}

/// One school of an organisation: its chain head now and the summary kept for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolSummaryState {
    pub school: SchoolId,
    pub name: String,
    /// The newest entry of the school's chain (0 for an empty chain).
    pub head_seq: i64,
    pub stored: Option<StoredSummary>,
}

impl SchoolSummaryState {
    /// The kept summary, if nothing has happened since that could change it.
    pub fn fresh(&self, now: DateTime<Utc>) -> Option<&StoredSummary> {
        self.stored
            .as_ref()
            .filter(|s| s.ledger_seq == self.head_seq && now < s.valid_until)
    }
}

/// One school in the organisation view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolSummary {
    pub school: SchoolId,
    pub name: String,
    pub lines: Vec<SummaryLine>,
}

impl SchoolFacts {
    /// The organisation view's lines for this school, and until when they hold if nothing
    /// is recorded meanwhile: the school's next local midnight, when overdue counts move.
    pub fn summary(&self, now: DateTime<Utc>) -> (Vec<SummaryLine>, DateTime<Utc>) {
        let lines = self
            .report(now)
            .iter()
            .map(|p| SummaryLine {
                policy: p.title.clone(),
                number: p.number,
                signed: p.overall.signed,
                total: p.overall.total,
                overdue: p.count(Standing::Overdue),
            })
            .collect();
        let zone = self.zone();
        let tomorrow = now.with_timezone(&zone).date_naive() + Duration::days(1);
        let valid_until = zone
            .from_local_datetime(&tomorrow.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now + Duration::hours(1));
        (lines, valid_until)
    }
}
