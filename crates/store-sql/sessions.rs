//! Sessions and login throttling. A session is stored only as the SHA-256 of its token;
//! failed logins are counted per key and forgotten after a week.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::store::{SESSION_IDLE, SessionRecord, Sessions, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::db::{Conn, ts};
use crate::errors::db;

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
struct SessionRow {
    token_sha256: String,
    school_id: i64,
    person_id: i64,
    csrf_token: String,
    auth_method: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
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
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.token_sha256, s.school_id, s.person_id, s.csrf_token, s.auth_method,
                    s.created_at, s.expires_at, s.last_seen_at
             FROM sessions s
             JOIN people p ON p.school_id = s.school_id AND p.id = s.person_id
             WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND p.status = 'active'
               AND COALESCE(s.last_seen_at, s.created_at) > $3",
        )
        .bind(token_sha256)
        .bind(ts(now))
        .bind(ts(now - SESSION_IDLE))
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        let stale = row
            .as_ref()
            .is_some_and(|r| r.last_seen_at.unwrap_or(r.created_at) < now - SEEN_EVERY);
        if stale {
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
        Ok(row.map(|r| SessionRecord {
            token_sha256: r.token_sha256,
            school: SchoolId(r.school_id),
            person: PersonId(r.person_id),
            csrf_token: r.csrf_token,
            auth_method: r.auth_method,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }))
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
