//! Reports from the block page that something was blocked wrongly.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::access::WebRulesOwner;
use undersign_core::block_reports::{BlockReport, NewBlockReport};
use undersign_core::store::{BlockReports, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::ts;
use crate::errors::db;

const COLUMNS: &str = "r.id, r.school_id, r.url, r.message, r.client, r.proxy_user, r.reason, \
     r.reporter_id, p.full_name, r.reported_at";
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
        let mut tx = self.write.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO block_reports (school_id, url, message, client, proxy_user, reason,
                    reporter_id, reported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(school.0)
        .bind(&report.url)
        .bind(&report.message)
        .bind(&report.client)
        .bind(&report.proxy_user)
        .bind(&report.reason)
        .bind(report.reporter.map(|p| p.0))
        .bind(ts(micros(at)))
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

    async fn block_reports(&self, owner: &WebRulesOwner) -> StoreResult<Vec<BlockReport>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.school_id = $1 ORDER BY r.reported_at DESC, r.id DESC"
        ))
        .bind(owner.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(BlockReport::from).collect())
    }
}
