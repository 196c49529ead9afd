//! Sessions and login throttling. A session is stored only as the SHA-256 of its token;
//! failed logins are counted per key and forgotten after a week.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::person::PersonStatus;
use undersign_core::school::School;
use undersign_core::store::{SESSION_IDLE, SessionRecord, Sessions, SignedIn, StoreResult};
use undersign_core::{OrganisationId, PersonId, SchoolId};

use crate::BackendStore;
use crate::db::{Conn, ts};
use crate::errors::db;
use crate::people::PersonRow;
use crate::schools::school_zone;

/// The person `id` of `school`, read on `conn` (so inside a transaction if there is one).
/// Stores a new login session (password login, or a sign-in link inside its transaction).
pub(crate) async fn insert_session(conn: &mut Conn, session: &SessionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_sha256, school_id, person_id, csrf_token, auth_method,
                               created_at, expires_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
    )
    .bind(&session.token_sha256)
    .bind(session.school.0)
    .bind(session.person.0)
    .bind(&session.csrf_token)
    .bind(&session.auth_method)
    .bind(ts(session.created_at))
    .bind(ts(session.expires_at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// How stale a session's last use may be before a request writes it again.
const SEEN_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// How long a failed login is remembered for throttling.
const LOGIN_FAILURES_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(7);

#[derive(sqlx::FromRow)]
struct SignedInRow {
    token_sha256: String,
    csrf_token: String,
    auth_method: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    person: PersonRow,
    organisation_id: i64,
    school_name: String,
    school_slug: String,
    school_timezone: String,
    school_public_key: String,
}

impl SignedInRow {
    fn into_signed_in(self) -> StoreResult<SignedIn> {
        let person = self.person.into_person()?;
        let school = School {
            id: person.school,
            organisation: OrganisationId(self.organisation_id),
            timezone: school_zone(person.school.0, &self.school_timezone)?,
            name: self.school_name,
            slug: self.school_slug,
            public_key: self.school_public_key,
        };
        Ok(SignedIn {
            session: SessionRecord {
                token_sha256: self.token_sha256,
                school: person.school,
                person: person.id,
                csrf_token: self.csrf_token,
                auth_method: self.auth_method,
                created_at: self.created_at,
                expires_at: self.expires_at,
            },
            person,
            school,
        })
    }
}

#[async_trait]
impl Sessions for BackendStore {
    async fn create_session(&self, session: SessionRecord) -> StoreResult<()> {
        let mut conn = self.write.acquire().await.map_err(db)?;
        insert_session(&mut conn, &session).await
    }

    async fn session(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        Ok(self.signed_in(token_sha256, now).await?.map(|s| s.session))
    }

    async fn signed_in(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SignedIn>> {
        let row: Option<SignedInRow> = sqlx::query_as(
            "SELECT s.token_sha256, s.csrf_token, s.auth_method, s.created_at, s.expires_at,
                    s.last_seen_at,
                    p.id, p.school_id, p.full_name, p.email, p.roles, p.line_manager_id,
                    p.status,
                    c.organisation_id, c.name AS school_name, c.slug AS school_slug,
                    c.timezone AS school_timezone, c.public_key AS school_public_key
             FROM sessions s
             JOIN people p ON p.school_id = s.school_id AND p.id = s.person_id
             JOIN schools c ON c.id = s.school_id
             WHERE s.token_sha256 = $1 AND s.expires_at > $2
               AND COALESCE(s.last_seen_at, s.created_at) > $3",
        )
        .bind(token_sha256)
        .bind(ts(now))
        .bind(ts(now - SESSION_IDLE))
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        // Whether the person is still active is asked here, not in the query: on a
        // freshly loaded table a planner without statistics would otherwise walk the
        // school's active people instead of looking the one person up.
        let Some(row) = row else {
            return Ok(None);
        };
        let last_seen = row.last_seen_at.unwrap_or(row.created_at);
        let signed_in = row.into_signed_in()?;
        if signed_in.person.status != PersonStatus::Active {
            return Ok(None);
        }
        if last_seen < now - SEEN_EVERY {
            // Keeps the session alive; written only when the last note is a few minutes
            // old, so that a request does not wait for the writer (which is busy
            // committing signings) just to say it was here.
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $2
                 WHERE token_sha256 = $1 AND COALESCE(last_seen_at, created_at) < $3",
            )
            .bind(token_sha256)
            .bind(ts(now))
            .bind(ts(now - SEEN_EVERY))
            .execute(&self.write)
            .await
            .map_err(db)?;
        }
        Ok(Some(signed_in))
    }

    async fn delete_session(&self, token_sha256: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions
             WHERE expires_at <= $1 OR COALESCE(last_seen_at, created_at) <= $2",
        )
        .bind(ts(now))
        .bind(ts(now - SESSION_IDLE))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn delete_sessions_of(&self, school: SchoolId, person: PersonId) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE school_id = $1 AND person_id = $2")
            .bind(school.0)
            .bind(person.0)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(ts(at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Failures only matter for throttling: forget old ones so the table stays small.
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(ts(at - LOGIN_FAILURES_KEPT))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn login_failures_since(&self, key: &str, since: DateTime<Utc>) -> StoreResult<u32> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
                .bind(key)
                .bind(ts(since))
                .fetch_one(&self.read)
                .await
                .map_err(db)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn take_attempt(
        &self,
        limits: &[(String, u32)],
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<i64>>> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut keys: Vec<&str> = limits.iter().map(|(k, _)| k.as_str()).collect();
        // Always in the same order, so two transactions never wait on each other's locks.
        keys.sort_unstable();
        for key in keys {
            crate::db::lock_key(&mut tx, key).await?;
        }
        for (key, limit) in limits {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2",
            )
            .bind(key)
            .bind(ts(since))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if count >= i64::from(*limit) {
                tx.rollback().await.map_err(db)?;
                return Ok(None);
            }
        }
        let mut ids = Vec::with_capacity(limits.len());
        for (key, _) in limits {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id",
            )
            .bind(key)
            .bind(ts(at))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            ids.push(id);
        }
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(ts(at - LOGIN_FAILURES_KEPT))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(ids))
    }

    async fn forget_attempts(&self, ids: &[i64]) -> StoreResult<()> {
        for id in ids {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(id)
                .execute(&self.write)
                .await
                .map_err(db)?;
        }
        Ok(())
    }
}
