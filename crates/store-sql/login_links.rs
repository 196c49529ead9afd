//! Sign-in links: stored as the SHA-256 of their token, mailed once (the link and its
//! mail are written in one transaction), and spent in the same transaction that starts
//! the session, so of two simultaneous uses exactly one signs in.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use undersign_core::ledger::Event;
use undersign_core::login_link::{
    EMAIL_LINK_METHOD, LinkAccount, LinkPurpose, LinkState, LoginLinkId, NewLinkSession,
    NewLoginLink, reset_session_method,
};
use undersign_core::outbox::NewMail;
use undersign_core::person::Email;
use undersign_core::store::{LinkUse, LoginLinks, SessionRecord, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::db::{Conn, lock_school, ts};
use crate::errors::db;
use crate::ledger::append;
use crate::outbox::insert_mail;
use crate::people::PersonRow;
use crate::sessions::insert_session;

/// Used and expired sign-in links are deleted this long after they expire.
const LINKS_KEPT: TimeDelta = TimeDelta::days(1);

#[derive(sqlx::FromRow)]
struct LinkRow {
    school_id: i64,
    person_id: i64,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    status: String,
    purpose: String,
    sent_by: Option<i64>,
}

async fn link_state(
    conn: &mut Conn,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> StoreResult<LinkState> {
    let row: Option<LinkRow> = sqlx::query_as(
        "SELECT l.school_id, l.person_id, l.expires_at, l.used_at, p.status, l.purpose,
                l.sent_by
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
            purpose: match (r.purpose.as_str(), r.sent_by) {
                ("password_reset", Some(by)) => LinkPurpose::PasswordReset {
                    sent_by: PersonId(by),
                },
                _ => LinkPurpose::SignIn,
            },
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
        let sent_by = match link.purpose {
            LinkPurpose::SignIn => None,
            LinkPurpose::PasswordReset { sent_by } => Some(sent_by),
        };
        if sent_by.is_some() {
            lock_school(&mut tx, link.school).await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO login_links (token_sha256, school_id, person_id, created_at, expires_at,
                                      purpose, sent_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id",
        )
        .bind(&link.token_sha256)
        .bind(link.school.0)
        .bind(link.person.0)
        .bind(ts(link.created_at))
        .bind(ts(link.expires_at))
        .bind(link.purpose.code())
        .bind(sent_by.map(|p| p.0))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(by) = sent_by {
            let event = Event::PasswordResetSent {
                person: link.person,
                by,
            };
            append(&mut tx, link.school, &event, link.created_at).await?;
        }
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
               AND purpose = 'sign_in'
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
            let state = refusal(&mut tx, token_sha256, now).await?;
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
        insert_session(&mut tx, &record).await?;
        tx.commit().await.map_err(db)?;
        Ok(LinkUse::SignedIn(record))
    }

    #[tracing::instrument(skip_all)]
    async fn use_reset_link(
        &self,
        token_sha256: &str,
        password_hash: &str,
        session: NewLinkSession,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkUse> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let spent: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
            "UPDATE login_links SET used_at = $2
             WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2
               AND purpose = 'password_reset'
               AND EXISTS (SELECT 1 FROM people p
                           WHERE p.school_id = login_links.school_id
                             AND p.id = login_links.person_id AND p.status = 'active')
             RETURNING school_id, person_id, sent_by",
        )
        .bind(token_sha256)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some((school, person, Some(sent_by))) = spent else {
            let state = refusal(&mut tx, token_sha256, now).await?;
            tx.rollback().await.map_err(db)?;
            return Ok(LinkUse::Refused(state));
        };
        let (school, person, sent_by) = (SchoolId(school), PersonId(person), PersonId(sent_by));
        lock_school(&mut tx, school).await?;
        crate::people::store_password(&mut tx, school, person, password_hash, now).await?;
        sqlx::query("DELETE FROM sessions WHERE school_id = $1 AND person_id = $2")
            .bind(school.0)
            .bind(person.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let event = Event::PasswordChanged {
            person,
            reset_sent_by: Some(sent_by),
        };
        append(&mut tx, school, &event, now).await?;
        let record = SessionRecord {
            token_sha256: session.token_sha256,
            school,
            person,
            csrf_token: session.csrf_token,
            auth_method: reset_session_method(sent_by),
            created_at: now,
            expires_at: session.expires_at,
        };
        insert_session(&mut tx, &record).await?;
        tx.commit().await.map_err(db)?;
        Ok(LinkUse::SignedIn(record))
    }
}

/// Why a link could not be spent (never `Valid`: if it became valid under us, or is for
/// the other purpose, it is refused all the same).
async fn refusal(
    conn: &mut Conn,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> StoreResult<LinkState> {
    Ok(match link_state(conn, token_sha256, now).await? {
        LinkState::Valid { .. } => LinkState::Used,
        other => other,
    })
}
