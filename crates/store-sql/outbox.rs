//! The email outbox and sign-in links. Queuing is `INSERT … ON CONFLICT DO NOTHING` on
//! (school, dedupe key), so a message is queued once however often it is asked for. A
//! worker claims due messages with a lease in one write transaction: on PostgreSQL the
//! candidate rows are taken `FOR UPDATE SKIP LOCKED` (`db::SKIP_LOCKED`), so servers
//! claiming at once get disjoint rows without waiting; on SQLite every write transaction
//! runs alone, which gives the same. Only the lease holder can record the outcome.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use undersign_core::SchoolId;
use undersign_core::access::PeopleAdmin;
use undersign_core::outbox::{
    Attachment, MailId, MailState, MailSummary, NewMail, OutboxPage, OutgoingMail,
};
use undersign_core::store::{Outbox, StoreError, StoreResult};

use crate::BackendStore;
use crate::codec::{from_json, to_json, trusted};
use crate::db::{Conn, Db, SKIP_LOCKED, ts};
use crate::errors::db;

/// The longest error text kept with a message.
const MAX_ERROR_CHARS: usize = 1000;

/// Queues one message on `conn`; its id, or `None` if the dedupe key was already used.
pub(crate) async fn insert_mail(
    conn: &mut Conn,
    mail: &NewMail,
    at: DateTime<Utc>,
) -> StoreResult<Option<MailId>> {
    mail.check()
        .map_err(|e| StoreError::Refused(e.to_string()))?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO outbox (school_id, dedupe_key, to_email, to_name, subject, text_body,
                             not_before, unless_person_id, unless_version_id, next_attempt_at,
                             created_at, deferred)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $10, $11)
         ON CONFLICT (school_id, dedupe_key) DO NOTHING
         RETURNING id",
    )
    .bind(mail.school.0)
    .bind(&mail.dedupe_key)
    .bind(mail.to_email.as_str())
    .bind(&mail.to_name)
    .bind(&mail.subject)
    .bind(&mail.text_body)
    .bind(ts(mail.not_before))
    .bind(mail.unless_signed.map(|(p, _)| p.0))
    .bind(mail.unless_signed.map(|(_, v)| v.0))
    .bind(ts(at))
    .bind(mail.deferred.as_ref().map(to_json).transpose()?)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(id) = id else {
        return Ok(None);
    };
    for (position, a) in mail.attachments.iter().enumerate() {
        sqlx::query(
            "INSERT INTO outbox_attachments (outbox_id, position, filename, content_type, bytes)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(&a.bytes)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(Some(MailId(id)))
}

/// Queues messages without attachments in one statement, each unless one with its
/// dedupe key is queued already (see [`insert_mail`]).
pub(crate) async fn insert_mails(
    conn: &mut Conn,
    mails: &[(NewMail, DateTime<Utc>)],
) -> StoreResult<()> {
    if mails.is_empty() {
        return Ok(());
    }
    let mut deferred = Vec::with_capacity(mails.len());
    for (mail, _) in mails {
        mail.check()
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        if !mail.attachments.is_empty() {
            return Err(StoreError::Backend(format!(
                "mail {} has attachments and must be queued on its own",
                mail.dedupe_key
            )));
        }
        deferred.push(mail.deferred.as_ref().map(to_json).transpose()?);
    }
    let mut insert = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO outbox (school_id, dedupe_key, to_email, to_name, subject, text_body,
                             not_before, unless_person_id, unless_version_id, next_attempt_at,
                             created_at, deferred) ",
    );
    insert.push_values(
        mails.iter().zip(deferred),
        |mut row, ((mail, at), deferred)| {
            row.push_bind(mail.school.0)
                .push_bind(&mail.dedupe_key)
                .push_bind(mail.to_email.as_str())
                .push_bind(&mail.to_name)
                .push_bind(&mail.subject)
                .push_bind(&mail.text_body)
                .push_bind(ts(mail.not_before))
                .push_bind(mail.unless_signed.map(|(p, _)| p.0))
                .push_bind(mail.unless_signed.map(|(_, v)| v.0))
                .push_bind(ts(mail.not_before))
                .push_bind(ts(*at))
                .push_bind(deferred);
        },
    );
    insert.push(" ON CONFLICT (school_id, dedupe_key) DO NOTHING");
    insert
        .build()
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

async fn attachments(conn: &mut Conn, id: i64) -> StoreResult<Vec<Attachment>> {
    let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT filename, content_type, bytes FROM outbox_attachments
         WHERE outbox_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|(filename, content_type, bytes)| Attachment {
            filename,
            content_type,
            bytes,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    school_id: i64,
    dedupe_key: String,
    to_email: String,
    to_name: String,
    subject: String,
    text_body: String,
    deferred: Option<String>,
    attempts: i32,
    not_before: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    claimed_until: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    to_email: String,
    to_name: String,
    subject: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
}

impl SummaryRow {
    fn into_summary(self) -> StoreResult<MailSummary> {
        let (state, finished_at) = match (self.sent_at, self.failed_at, self.cancelled_at) {
            (Some(at), _, _) => (MailState::Sent, Some(at)),
            (_, Some(at), _) => (MailState::Failed, Some(at)),
            (_, _, Some(at)) => (MailState::Cancelled, Some(at)),
            _ => (MailState::Queued, None),
        };
        Ok(MailSummary {
            id: MailId(self.id),
            to_email: trusted("outbox.to_email", self.to_email)?,
            to_name: self.to_name,
            subject: self.subject,
            state,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_error: self.last_error,
            created_at: self.created_at,
            next_attempt_at: self.next_attempt_at,
            finished_at,
        })
    }
}

/// A message still to be sent: not sent, given up or cancelled.
const QUEUED: &str = "sent_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL";

fn error_text(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

#[async_trait]
impl Outbox for BackendStore {
    async fn enqueue_mail(&self, mail: NewMail, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let id = insert_mail(&mut tx, &mail, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(id.is_some())
    }

    async fn enqueue_mails(&self, mails: Vec<NewMail>, at: DateTime<Utc>) -> StoreResult<usize> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut new = 0;
        for mail in &mails {
            if insert_mail(&mut tx, mail, at).await?.is_some() {
                new += 1;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(new)
    }

    #[tracing::instrument(skip_all, fields(worker))]
    async fn claim_mail(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: u32,
    ) -> StoreResult<Vec<OutgoingMail>> {
        let mut tx = self.write.begin().await.map_err(db)?;
        // Reminders stop the moment someone signs: cancel, rather than claim, every due
        // message whose person has signed its version or a later one of the same policy. A message under a live lease is
        // being sent right now and is left to its worker. Rows another server has locked
        // are passed over here too, so two claims never wait on (or deadlock over) each
        // other; the server holding them deals with them.
        sqlx::query(&format!(
            "UPDATE outbox SET cancelled_at = $1
             WHERE id IN (SELECT id FROM outbox
                          WHERE {QUEUED} AND next_attempt_at <= $1
                            AND (claimed_until IS NULL OR claimed_until <= $1)
                            AND unless_person_id IS NOT NULL
                            AND EXISTS (SELECT 1 FROM signatures s
                                        JOIN policy_versions sv
                                          ON sv.school_id = s.school_id AND sv.id = s.version_id
                                        JOIN policy_versions uv
                                          ON uv.school_id = outbox.school_id
                                         AND uv.id = outbox.unless_version_id
                                        WHERE s.school_id = outbox.school_id
                                          AND s.person_id = outbox.unless_person_id
                                          AND sv.policy_id = uv.policy_id
                                          AND sv.number >= uv.number){SKIP_LOCKED})"
        ))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let mut rows: Vec<ClaimedRow> = sqlx::query_as(&format!(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE {QUEUED} AND next_attempt_at <= $3
                            AND (claimed_until IS NULL OR claimed_until <= $3)
                          ORDER BY next_attempt_at, id
                          LIMIT $4{SKIP_LOCKED})
             RETURNING id, school_id, dedupe_key, to_email, to_name, subject, text_body,
                       deferred, attempts, not_before, next_attempt_at, created_at, claimed_until"
        ))
        .bind(worker)
        .bind(ts(now + lease))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        rows.sort_by_key(|r| (r.next_attempt_at, r.id));
        let mut school_names: HashMap<i64, String> = HashMap::new();
        let mut claimed = Vec::with_capacity(rows.len());
        for r in rows {
            let school_name = match school_names.get(&r.school_id) {
                Some(name) => name.clone(),
                None => {
                    let name: String = sqlx::query_scalar("SELECT name FROM schools WHERE id = $1")
                        .bind(r.school_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                    school_names.insert(r.school_id, name.clone());
                    name
                }
            };
            claimed.push(OutgoingMail {
                id: MailId(r.id),
                school: SchoolId(r.school_id),
                school_name,
                dedupe_key: r.dedupe_key,
                to_email: trusted("outbox.to_email", r.to_email)?,
                to_name: r.to_name,
                subject: r.subject,
                text_body: r.text_body,
                attachments: attachments(&mut tx, r.id).await?,
                deferred: r
                    .deferred
                    .as_deref()
                    .map(|d| from_json("outbox.deferred", d))
                    .transpose()?,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                due_since: r.not_before,
                created_at: r.created_at,
                claimed_until: r.claimed_until,
            });
        }
        tx.commit().await.map_err(db)?;
        Ok(claimed)
    }

    async fn mark_mail_sent(
        &self,
        id: MailId,
        worker: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // claimed_by stays: which server sent it is worth knowing.
        let done = sqlx::query(&format!(
            "UPDATE outbox SET sent_at = $3, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND {QUEUED}"
        ))
        .bind(id.0)
        .bind(worker)
        .bind(ts(at))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_mail_later(
        &self,
        id: MailId,
        worker: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "UPDATE outbox SET last_error = $3, next_attempt_at = $4,
                               claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND {QUEUED}"
        ))
        .bind(id.0)
        .bind(worker)
        .bind(error_text(error))
        .bind(ts(next_attempt_at))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn give_up_mail(
        &self,
        id: MailId,
        worker: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(&format!(
            "UPDATE outbox SET last_error = $3, failed_at = $4, claimed_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND {QUEUED}"
        ))
        .bind(id.0)
        .bind(worker)
        .bind(error_text(error))
        .bind(ts(at))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn next_mail_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // A message under a lease is due again when the lease runs out (if its worker
        // died); otherwise at its next attempt.
        let unclaimed: Option<DateTime<Utc>> = sqlx::query_scalar(&format!(
            "SELECT next_attempt_at FROM outbox WHERE {QUEUED} AND claimed_until IS NULL
             ORDER BY next_attempt_at LIMIT 1"
        ))
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        let leased: Option<DateTime<Utc>> = sqlx::query_scalar(&format!(
            "SELECT claimed_until FROM outbox WHERE {QUEUED} AND claimed_until IS NOT NULL
             ORDER BY claimed_until LIMIT 1"
        ))
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(match (unclaimed, leased) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    async fn outbox_page(
        &self,
        admin: &PeopleAdmin,
        offset: u64,
        limit: u32,
    ) -> StoreResult<OutboxPage> {
        let school = admin.school();
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT id, to_email, to_name, subject, attempts, last_error, created_at,
                    next_attempt_at, sent_at, cancelled_at, failed_at
             FROM outbox WHERE school_id = $1
             ORDER BY created_at DESC, id DESC
             LIMIT $2 OFFSET $3",
        )
        .bind(school.0)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE school_id = $1")
            .bind(school.0)
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        Ok(OutboxPage {
            mails: rows
                .into_iter()
                .map(SummaryRow::into_summary)
                .collect::<StoreResult<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}
