//! The email outbox and sign-in links. Queuing is `INSERT … ON CONFLICT DO NOTHING` on
//! (school, dedupe key), so a message is queued once however often it is asked for. A
//! worker claims due messages with a lease in one write transaction: on PostgreSQL the
//! candidate rows are taken `FOR UPDATE SKIP LOCKED` (`db::SKIP_LOCKED`), so servers
//! claiming at once get disjoint rows without waiting; on SQLite every write transaction
//! runs alone, which gives the same. Only the lease holder can record the outcome.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use undersign_core::access::PeopleAdmin;
use undersign_core::login_link::{
    EMAIL_LINK_METHOD, LinkAccount, LinkState, LinkUse, LoginLinkId, LoginLinks, NewLinkSession,
    NewLoginLink,
};
use undersign_core::mail::{
    Attachment, MailId, MailState, MailSummary, NewMail, Outbox, OutboxPage, OutgoingMail,
};
use undersign_core::person::Email;
use undersign_core::store::{SessionRecord, StoreError, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::db::{Conn, SKIP_LOCKED, trusted, ts};
use crate::errors::db;
use crate::people::PersonRow;

/// The longest error text kept with a message.
const MAX_ERROR_CHARS: usize = 1000;
/// Used and expired sign-in links are deleted this long after they expire.
const LINKS_KEPT: TimeDelta = TimeDelta::days(1);

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
                             created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $10)
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
                       attempts, not_before, next_attempt_at, created_at, claimed_until"
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

#[derive(sqlx::FromRow)]
struct LinkRow {
    school_id: i64,
    person_id: i64,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    status: String,
}

async fn link_state(
    conn: &mut Conn,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> StoreResult<LinkState> {
    let row: Option<LinkRow> = sqlx::query_as(
        "SELECT l.school_id, l.person_id, l.expires_at, l.used_at, p.status
         FROM login_links l JOIN people p ON p.school_id = l.school_id AND p.id = l.person_id
         WHERE l.token_sha256 = $1",
    )
    .bind(token_sha256)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(match row {
        None => LinkState::Unknown,
        Some(r) if r.status != "active" => LinkState::Unknown,
        Some(r) if r.used_at.is_some() => LinkState::Used,
        Some(r) if r.expires_at <= now => LinkState::Expired,
        Some(r) => LinkState::Valid {
            school: SchoolId(r.school_id),
            person: PersonId(r.person_id),
            expires_at: r.expires_at,
        },
    })
}

#[async_trait]
impl LoginLinks for BackendStore {
    async fn link_accounts(&self, email: &Email) -> StoreResult<Vec<LinkAccount>> {
        #[derive(sqlx::FromRow)]
        struct AccountRow {
            #[sqlx(flatten)]
            person: PersonRow,
            school_name: String,
        }
        let rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT p.id, p.school_id, p.full_name, p.email, p.roles, p.line_manager_id,
                    p.status, s.name AS school_name
             FROM people p JOIN schools s ON s.id = p.school_id
             WHERE p.email = $1 AND p.status = 'active'
             ORDER BY s.name, p.id",
        )
        .bind(email.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok(LinkAccount {
                    person: r.person.into_person()?,
                    school_name: r.school_name,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %link.school, person = %link.person))]
    async fn issue_login_link(
        &self,
        link: NewLoginLink,
        mut mail: NewMail,
    ) -> StoreResult<LoginLinkId> {
        let mut tx = self.write.begin().await.map_err(db)?;
        // Spent links are of no use to anyone: keep the table small.
        sqlx::query("DELETE FROM login_links WHERE expires_at < $1")
            .bind(ts(link.created_at - LINKS_KEPT))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO login_links (token_sha256, school_id, person_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
        )
        .bind(&link.token_sha256)
        .bind(link.school.0)
        .bind(link.person.0)
        .bind(ts(link.created_at))
        .bind(ts(link.expires_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        mail.school = link.school;
        mail.dedupe_key = format!("login:{id}");
        insert_mail(&mut tx, &mail, link.created_at).await?;
        tx.commit().await.map_err(db)?;
        Ok(LoginLinkId(id))
    }

    async fn login_link_state(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkState> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        link_state(&mut conn, token_sha256, now).await
    }

    async fn use_login_link(
        &self,
        token_sha256: &str,
        session: NewLinkSession,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkUse> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let spent: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE login_links SET used_at = $2
             WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2
               AND EXISTS (SELECT 1 FROM people p
                           WHERE p.school_id = login_links.school_id
                             AND p.id = login_links.person_id AND p.status = 'active')
             RETURNING school_id, person_id",
        )
        .bind(token_sha256)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some((school, person)) = spent else {
            let state = match link_state(&mut tx, token_sha256, now).await? {
                // Valid only if it changed under us; refuse all the same.
                LinkState::Valid { .. } => LinkState::Used,
                other => other,
            };
            tx.rollback().await.map_err(db)?;
            return Ok(LinkUse::Refused(state));
        };
        let record = SessionRecord {
            token_sha256: session.token_sha256,
            school: SchoolId(school),
            person: PersonId(person),
            csrf_token: session.csrf_token,
            auth_method: EMAIL_LINK_METHOD.to_string(),
            created_at: now,
            expires_at: session.expires_at,
        };
        crate::people::insert_session(&mut tx, &record).await?;
        tx.commit().await.map_err(db)?;
        Ok(LinkUse::SignedIn(record))
    }
}
