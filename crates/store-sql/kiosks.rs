//! Reception's kiosks: registered by the school with a one-time enrolment code, enrolled
//! once by the tablet (which then holds a device token, stored only as its hash), and
//! revoked when lost. Registering and revoking are recorded in the ledger.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::access::KioskAdmin;
use undersign_core::ledger::Event;
use undersign_core::store::{Kiosks, StoreError, StoreResult};
use undersign_core::visits::{Kiosk, KioskName};
use undersign_core::{KioskId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{lock_school, ts};
use crate::errors::db;
use crate::ledger::append;

const KIOSK_COLUMNS: &str =
    "id, school_id, name, created_at, enrolment_expires_at, enrolled_at, revoked_at";

#[derive(sqlx::FromRow)]
struct KioskRow {
    id: i64,
    school_id: i64,
    name: String,
    created_at: DateTime<Utc>,
    enrolment_expires_at: Option<DateTime<Utc>>,
    enrolled_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KioskRow> for Kiosk {
    fn from(r: KioskRow) -> Self {
        Kiosk {
            id: KioskId(r.id),
            school: SchoolId(r.school_id),
            name: r.name,
            created_at: r.created_at,
            enrolment_expires_at: r.enrolment_expires_at,
            enrolled_at: r.enrolled_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[async_trait]
impl Kiosks for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn register_kiosk(
        &self,
        admin: &KioskAdmin,
        name: &KioskName,
        enrolment_sha256: &str,
        expires: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Kiosk> {
        let (school, at) = (admin.school(), micros(at));
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let row: KioskRow = sqlx::query_as(&format!(
            "INSERT INTO kiosks (school_id, name, enrolment_sha256, enrolment_expires_at,
                    created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KIOSK_COLUMNS}"
        ))
        .bind(school.0)
        .bind(name.as_str())
        .bind(enrolment_sha256)
        .bind(ts(micros(expires)))
        .bind(admin.by().0)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let kiosk = Kiosk::from(row);
        append(
            &mut tx,
            school,
            &Event::KioskRegistered {
                kiosk: kiosk.id,
                name: kiosk.name.clone(),
                by: admin.by(),
            },
            at,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(kiosk)
    }

    #[tracing::instrument(skip_all)]
    async fn enrol_kiosk(
        &self,
        enrolment_sha256: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Kiosk>> {
        let at = micros(at);
        let row: Option<KioskRow> = sqlx::query_as(&format!(
            "UPDATE kiosks SET token_sha256 = $2, enrolled_at = $3, enrolment_sha256 = NULL,
                    enrolment_expires_at = NULL
             WHERE enrolment_sha256 = $1 AND enrolment_expires_at > $3 AND revoked_at IS NULL
                   AND token_sha256 IS NULL
             RETURNING {KIOSK_COLUMNS}"
        ))
        .bind(enrolment_sha256)
        .bind(token_sha256)
        .bind(ts(at))
        .fetch_optional(&self.write)
        .await
        .map_err(db)?;
        Ok(row.map(Kiosk::from))
    }

    async fn kiosk_by_token(&self, token_sha256: &str) -> StoreResult<Option<Kiosk>> {
        let row: Option<KioskRow> = sqlx::query_as(&format!(
            "SELECT {KIOSK_COLUMNS} FROM kiosks WHERE token_sha256 = $1 AND revoked_at IS NULL"
        ))
        .bind(token_sha256)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(row.map(Kiosk::from))
    }

    async fn kiosks(&self, admin: &KioskAdmin) -> StoreResult<Vec<Kiosk>> {
        let rows: Vec<KioskRow> = sqlx::query_as(&format!(
            "SELECT {KIOSK_COLUMNS} FROM kiosks WHERE school_id = $1 ORDER BY created_at, id"
        ))
        .bind(admin.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(Kiosk::from).collect())
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school(), kiosk = %kiosk))]
    async fn revoke_kiosk(
        &self,
        admin: &KioskAdmin,
        kiosk: KioskId,
        at: DateTime<Utc>,
    ) -> StoreResult<Kiosk> {
        let (school, at) = (admin.school(), micros(at));
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let row: Option<KioskRow> = sqlx::query_as(&format!(
            "UPDATE kiosks SET revoked_at = $3, revoked_by = $4, token_sha256 = NULL,
                    enrolment_sha256 = NULL, enrolment_expires_at = NULL
             WHERE school_id = $1 AND id = $2 AND revoked_at IS NULL
             RETURNING {KIOSK_COLUMNS}"
        ))
        .bind(school.0)
        .bind(kiosk.0)
        .bind(ts(at))
        .bind(admin.by().0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM kiosks WHERE school_id = $1 AND id = $2")
                    .bind(school.0)
                    .bind(kiosk.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("this kiosk is already revoked".into()),
                None => StoreError::NotFound,
            });
        };
        append(
            &mut tx,
            school,
            &Event::KioskRevoked {
                kiosk,
                by: admin.by(),
            },
            at,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(row.into())
    }
}
