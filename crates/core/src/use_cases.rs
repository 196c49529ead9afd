//! The use cases that drive a store across several of its traits: chasing signatures and
//! the visitor housekeeping (the background jobs `serve` runs), the organisation view's
//! kept summaries, the alarm raised when evidence no longer agrees with its ledger, and
//! the weekly email of each school's signed ledger head (a witness off the server). The domain modules they build on stay free of storage, so that
//! [`crate::store`] can name their types without importing anything that imports it back.

use chrono::{DateTime, Datelike, Duration, Utc};

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
    /// Login sessions deleted because they expired or sat idle.
    pub sessions_purged: u64,
    /// Access-log partitions dropped at the end of their retention.
    pub log_partitions_dropped: usize,
    /// Approved disclosures of a person's log that reached the end of their time.
    pub disclosures_expired: usize,
    /// Approved requests past their expiry.
    pub requests_expired: usize,
    /// Reminders queued to the deciders of requests still waiting.
    pub request_reminders: usize,
}

/// The periodic job: deletes expired and idle login sessions; then in every school,
/// signs out (and flags) visitors still on site from an earlier day, removes visitor
/// personal data older than the school's retention period, and drops the access log's
/// partitions past their class's retention; expires approvals of requests and
/// reminds the deciders of requests still waiting. Safe to run often and from several servers (each step is one transaction that
/// only touches rows still needing it).
pub async fn housekeeping(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> StoreResult<HousekeepingReport> {
    let mut report = HousekeepingReport {
        sessions_purged: store.purge_sessions(now).await?,
        ..HousekeepingReport::default()
    };
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
        report.disclosures_expired += store.expire_disclosures(school.id, now).await?;
        let today = now.with_timezone(&zone).date_naive();
        report.requests_expired += store.expire_requests(school.id, today, now).await?;
        report.request_reminders += store.remind_request_deciders(school.id, now).await?;
        // The access log, by whole partitions (UTC days, as they are stored).
        let logs = store.log_settings(school.id).await?;
        for class in crate::logs::LogClass::ALL {
            report.log_partitions_dropped += store
                .drop_log_partitions(
                    school.id,
                    class,
                    logs.keep_from(class, now.date_naive()),
                    logs.retention_days(class),
                    now,
                )
                .await?
                .len();
        }
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

/// Emails every active headteacher of the school that its evidence needs checking: sent
/// when `checkpoint` refuses a chain, or when a receipt's record no longer agrees with
/// its ledger entry. Queued once per (reason, headteacher); returns how many were queued.
pub async fn raise_evidence_alarm(
    store: &dyn Store,
    school: &crate::school::School,
    what_happened: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    use crate::outbox::NewMail;
    let digest = crate::policy::sha256_hex(reason.as_bytes());
    let mails: Vec<NewMail> = store
        .people(school.id)
        .await?
        .into_iter()
        .filter(is_active_headteacher)
        .map(|head| NewMail {
            school: school.id,
            dedupe_key: format!("evidence-alarm:{}:{}", &digest[..24], head.id),
            to_email: head.email.clone(),
            to_name: head.full_name.to_string(),
            subject: format!(
                "Undersign: the evidence ledger of {} needs checking",
                school.name
            ),
            text_body: format!(
                "Dear {},\n\n{what_happened}, because:\n\n  {reason}\n\nThis can mean that someone with access to the database changed or removed evidence. Nothing has been signed or issued over it. Please ask your network manager to run `undersign verify` and follow \"When verify fails\" in the operator guide, and keep the server's key directory and its backups as they are.\n\nUndersign\n",
                head.full_name
            ),
            attachments: Vec::new(),
            not_before: now,
            unless_signed: None,
            deferred: None,
        })
        .collect();
    if mails.is_empty() {
        return Ok(0);
    }
    store.enqueue_mails(mails, now).await
}

/// Emails every active headteacher of the school, once per ISO week, the newest signed
/// checkpoint of its evidence ledger: a witness kept outside the server. If the database
/// and the server's files were ever rewritten together, the head in the headteacher's
/// mailbox would still show what the chain held. Returns how many messages were new.
pub async fn mail_weekly_witness(
    store: &dyn Store,
    school: &crate::school::School,
    checkpoint: &crate::ledger::Checkpoint,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    use crate::outbox::NewMail;
    let week = now.date_naive().iso_week();
    let mails: Vec<NewMail> = store
        .people(school.id)
        .await?
        .into_iter()
        .filter(is_active_headteacher)
        .map(|head| NewMail {
            school: school.id,
            dedupe_key: format!("witness:{}-W{:02}:{}", week.year(), week.week(), head.id),
            to_email: head.email.clone(),
            to_name: head.full_name.to_string(),
            subject: format!(
                "Undersign: this week's record of {}'s evidence ledger",
                school.name
            ),
            text_body: format!(
                "Dear {},\n\nThis is the weekly record of {}'s evidence ledger: its state on {}, signed with the school's key. Please keep this email (a mail folder is enough). Nothing needs doing.\n\nIf `undersign verify` is ever run against a copy of the records that does not contain this entry with this hash, the records were changed after this email was sent, and this email is the proof.\n\n  Entry:      {}\n  Hash:       {}\n  Public key: {}\n  Witness:    {}\n\nUndersign\n",
                head.full_name,
                school.name,
                crate::time::display_in(checkpoint.signed_at, school.timezone.tz()),
                checkpoint.seq,
                checkpoint.hash,
                school.public_key,
                checkpoint.witness_line(),
            ),
            attachments: Vec::new(),
            not_before: now,
            unless_signed: None,
            deferred: None,
        })
        .collect();
    if mails.is_empty() {
        return Ok(0);
    }
    store.enqueue_mails(mails, now).await
}

/// Who is mailed about a school's evidence: its active headteachers.
fn is_active_headteacher(p: &crate::person::Person) -> bool {
    p.status == crate::person::PersonStatus::Active
        && p.roles.contains(&crate::person::Role::Headteacher)
}
