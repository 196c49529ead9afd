//! The use cases that drive a store across several of its traits: chasing signatures and
//! the visitor housekeeping (the background jobs `serve` runs), and the organisation
//! view's kept summaries. The domain modules they build on stay free of storage, so that
//! [`crate::store`] can name their types without importing anything that imports it back.

use chrono::{DateTime, Duration, Utc};

use crate::access::OrganisationViewer;
use crate::chasing::{ChaseReport, SchoolCalendar, plan, to_outbox};
use crate::compliance::{SchoolSummary, StoredSummary};
use crate::ids::SchoolId;
use crate::store::{Store, StoreError, StoreResult};
use crate::visits::start_of_day;

/// Plans the school's mails due at `now` and queues them in one transaction. Running it
/// again queues nothing new (the outbox ignores dedupe keys it has seen), so it is safe
/// to run often and from several servers at once.
pub async fn chase_school(
    store: &dyn Store,
    school: SchoolId,
    now: DateTime<Utc>,
    public_url: &url::Url,
) -> StoreResult<ChaseReport> {
    let settings = store.chase_settings(school).await?;
    let holidays = store.holidays(school).await?;
    let facts = store.chase_facts(school).await?;
    let zone = facts.school.timezone.tz();
    let calendar = SchoolCalendar::new(zone, holidays);
    let planned = plan(&facts, &settings, &calendar, now, public_url);
    let count = planned.len();
    let (mails, bad_addresses) = to_outbox(school, planned);
    let queued = if mails.is_empty() {
        0
    } else {
        store.enqueue_mails(mails, now).await?
    };
    Ok(ChaseReport {
        planned: count,
        queued,
        bad_addresses,
    })
}

/// What one run of the chase did across every school.
#[derive(Debug, Default)]
pub struct ChaseAllReport {
    pub total: ChaseReport,
    /// Schools whose chase failed, with why; the others were chased all the same.
    pub failed: Vec<(SchoolId, StoreError)>,
}

/// [`chase_school`] for every school; one school's failure does not stop the others.
pub async fn chase_all(
    store: &dyn Store,
    now: DateTime<Utc>,
    public_url: &url::Url,
) -> StoreResult<ChaseAllReport> {
    let mut report = ChaseAllReport::default();
    for school in store.schools().await? {
        match chase_school(store, school.id, now, public_url).await {
            Ok(r) => report.total.add(&r),
            Err(e) => report.failed.push((school.id, e)),
        }
    }
    Ok(report)
}

/// What one run of the visitor housekeeping did in one school.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub auto_signed_out: usize,
    pub purged: usize,
}

/// The periodic job: in every school, signs out (and flags) visitors still on site from
/// an earlier day, then removes visitor personal data older than the school's retention
/// period. Safe to run often and from several servers (each step is one transaction that
/// only touches rows still needing it).
pub async fn housekeeping(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> StoreResult<HousekeepingReport> {
    let mut report = HousekeepingReport::default();
    for school in store.schools().await? {
        let zone = school.timezone.tz();
        let cutoff = start_of_day(now, zone);
        report.auto_signed_out += store.sign_out_overdue(school.id, cutoff, now).await?.len();
        let settings = store.visitor_settings(school.id).await?;
        let purge_before = now - Duration::days(settings.retention_days);
        report.purged += store
            .purge_visitor_data(school.id, purge_before, now)
            .await?
            .len();
    }
    Ok(report)
}

/// The organisation view: every school's lines, recomputing (and keeping) only the
/// schools whose kept summary is missing or out of date. A school whose chain moves
/// while it is being recomputed keeps a summary under the older head, so the next view
/// recomputes it again: a summary is never kept as fresher than the facts it was made of.
pub async fn organisation_summary(
    store: &dyn Store,
    viewer: &OrganisationViewer,
    now: DateTime<Utc>,
) -> StoreResult<Vec<SchoolSummary>> {
    let mut out = Vec::new();
    for state in store.organisation_summary_states(viewer).await? {
        let lines = match state.fresh(now) {
            Some(kept) => kept.lines.clone(),
            None => {
                let facts = store
                    .organisation_school_facts(viewer, state.school)
                    .await?;
                let (lines, valid_until) = facts.summary(now);
                let kept = StoredSummary {
                    ledger_seq: state.head_seq,
                    valid_until,
                    lines,
                };
                store
                    .keep_compliance_summary(viewer, state.school, &kept, now)
                    .await?;
                kept.lines
            }
        };
        out.push(SchoolSummary {
            school: state.school,
            name: state.name,
            lines,
        });
    }
    Ok(out)
}
