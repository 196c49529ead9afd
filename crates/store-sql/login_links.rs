//! Sign-in links: stored as the SHA-256 of their token, mailed once (the link and its
//! mail are written in one transaction), and spent in the same transaction that starts
//! the session, so of two simultaneous uses exactly one signs in.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use undersign_core::login_link::{
    EMAIL_LINK_METHOD, LinkAccount, LinkState, LoginLinkId, NewLinkSession, NewLoginLink,
};
use undersign_core::outbox::NewMail;
use undersign_core::person::Email;
use undersign_core::store::{LinkUse, LoginLinks, SessionRecord, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::db::{Conn, ts};
use crate::errors::db;
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
        insert_session(&mut tx, &record).await?;
        tx.commit().await.map_err(db)?;
        Ok(LinkUse::SignedIn(record))
    }
}
