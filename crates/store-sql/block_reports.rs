//! Reports from the block page that something was blocked wrongly.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::access::WebRulesOwner;
use undersign_core::block_reports::{
    BlockReport, BlockReportPage, KEEP_DAYS, NewBlockReport, PER_ADDRESS_PER_HOUR,
    PER_SCHOOL_PER_DAY,
};
use undersign_core::store::{BlockReports, StoreError, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{lock_school, ts};
use crate::errors::db;

const COLUMNS: &str = "r.id, r.school_id, r.url, r.message, r.client, r.proxy_user, r.reason, \
     r.reporter_id, p.full_name, r.sent_from, r.reported_at";
const FROM: &str =
    "block_reports r LEFT JOIN people p ON p.school_id = r.school_id AND p.id = r.reporter_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    school_id: i64,
    url: String,
    message: String,
    client: String,
    proxy_user: String,
    reason: String,
    reporter_id: Option<i64>,
    full_name: Option<String>,
    sent_from: String,
    reported_at: DateTime<Utc>,
}

impl From<Row> for BlockReport {
    fn from(r: Row) -> Self {
        BlockReport {
            id: r.id,
            school: SchoolId(r.school_id),
            url: r.url,
            message: r.message,
            client: r.client,
            proxy_user: r.proxy_user,
            reason: r.reason,
            reporter: r.reporter_id.map(PersonId),
            reporter_name: r.full_name,
            sent_from: r.sent_from,
            reported_at: r.reported_at,
        }
    }
}

#[async_trait]
impl BlockReports for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn record_block_report(
        &self,
        school: SchoolId,
        report: NewBlockReport,
        at: DateTime<Utc>,
    ) -> StoreResult<BlockReport> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        // Serialises the school's reports, so that the counts below cannot be raced.
        lock_school(&mut tx, school).await?;
        sqlx::query("DELETE FROM block_reports WHERE school_id = $1 AND reported_at < $2")
            .bind(school.0)
            .bind(ts(at - chrono::TimeDelta::days(KEEP_DAYS)))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let from_address: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM block_reports
             WHERE school_id = $1 AND sent_from = $2 AND reported_at > $3",
        )
        .bind(school.0)
        .bind(&report.sent_from)
        .bind(ts(at - chrono::TimeDelta::hours(1)))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if from_address >= PER_ADDRESS_PER_HOUR {
            return Err(StoreError::Refused(format!(
                "{PER_ADDRESS_PER_HOUR} requests have been sent from this device in the last hour; try again later, or ask the network manager directly"
            )));
        }
        let midnight = at
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(at);
        let today: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM block_reports WHERE school_id = $1 AND reported_at >= $2",
        )
        .bind(school.0)
        .bind(ts(midnight))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if today >= PER_SCHOOL_PER_DAY {
            return Err(StoreError::Refused(format!(
                "the school has had {PER_SCHOOL_PER_DAY} requests today; try again tomorrow, or ask the network manager directly"
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO block_reports (school_id, url, message, client, proxy_user, reason,
                    reporter_id, sent_from, reported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(school.0)
        .bind(&report.url)
        .bind(&report.message)
        .bind(&report.client)
        .bind(&report.proxy_user)
        .bind(&report.reason)
        .bind(report.reporter.map(|p| p.0))
        .bind(&report.sent_from)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let row: Row = sqlx::query_as(&format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(row.into())
    }

    async fn block_reports(
        &self,
        owner: &WebRulesOwner,
        offset: u64,
        limit: u32,
    ) -> StoreResult<BlockReportPage> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.school_id = $1
             ORDER BY r.reported_at DESC, r.id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(owner.school().0)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM block_reports WHERE school_id = $1")
                .bind(owner.school().0)
                .fetch_one(&self.read)
                .await
                .map_err(db)?;
        Ok(BlockReportPage {
            reports: rows.into_iter().map(BlockReport::from).collect(),
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}
