//! Chasing: each school's reminder schedule and holidays, and the facts the plan in
//! `undersign_core::chasing` is made from (the compliance facts and the line managers of
//! active people).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use undersign_core::access::{ComplianceViewer, PeopleAdmin};
use undersign_core::chasing::{ChaseFacts, ChaseSettings, Holiday, HolidayName};
use undersign_core::store::{Chasing, Compliance, StoreError, StoreResult};
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::{micros, trusted};
use crate::db::{lock_school, ts};
use crate::errors::db;

#[derive(sqlx::FromRow)]
struct SettingsRow {
    first_reminder_days: i32,
    reminder_every_days: i32,
    escalate_to_manager_days: i32,
    escalate_to_head_days: i32,
}

#[derive(sqlx::FromRow)]
struct HolidayRow {
    name: String,
    first_day: NaiveDate,
    last_day: NaiveDate,
}

#[async_trait]
impl Chasing for BackendStore {
    async fn chase_settings(&self, school: SchoolId) -> StoreResult<ChaseSettings> {
        let row: Option<SettingsRow> = sqlx::query_as(
            "SELECT first_reminder_days, reminder_every_days, escalate_to_manager_days,
                    escalate_to_head_days
             FROM chase_settings WHERE school_id = $1",
        )
        .bind(school.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        let Some(r) = row else {
            return Ok(ChaseSettings::DEFAULT);
        };
        ChaseSettings::new(
            i64::from(r.first_reminder_days),
            i64::from(r.reminder_every_days),
            i64::from(r.escalate_to_manager_days),
            i64::from(r.escalate_to_head_days),
        )
        .map_err(|e| {
            StoreError::Backend(format!(
                "chase_settings of school {school} are out of range: {e:?}"
            ))
        })
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn set_chase_settings(
        &self,
        admin: &PeopleAdmin,
        settings: ChaseSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chase_settings (school_id, first_reminder_days, reminder_every_days,
                    escalate_to_manager_days, escalate_to_head_days, updated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (school_id) DO UPDATE SET
                    first_reminder_days = excluded.first_reminder_days,
                    reminder_every_days = excluded.reminder_every_days,
                    escalate_to_manager_days = excluded.escalate_to_manager_days,
                    escalate_to_head_days = excluded.escalate_to_head_days,
                    updated_by = excluded.updated_by,
                    updated_at = excluded.updated_at",
        )
        .bind(admin.school().0)
        .bind(i32::from(settings.first_reminder_days()))
        .bind(i32::from(settings.reminder_every_days()))
        .bind(i32::from(settings.escalate_to_manager_days()))
        .bind(i32::from(settings.escalate_to_head_days()))
        .bind(admin.by().map(|p| p.0))
        .bind(ts(micros(at)))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn holidays(&self, school: SchoolId) -> StoreResult<Vec<Holiday>> {
        let rows: Vec<HolidayRow> = sqlx::query_as(
            "SELECT name, first_day, last_day FROM school_holidays
             WHERE school_id = $1 ORDER BY first_day, last_day, id",
        )
        .bind(school.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let name: HolidayName = trusted("school_holidays.name", r.name)?;
                Holiday::new(name, r.first_day, r.last_day).map_err(|e| {
                    StoreError::Backend(format!("a holiday of school {school} is unreadable: {e}"))
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school(), holidays = holidays.len()))]
    async fn replace_holidays(
        &self,
        admin: &PeopleAdmin,
        holidays: &[Holiday],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let school = admin.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        // Two administrators saving at once: one list wins whole, never a mix of both.
        lock_school(&mut tx, school).await?;
        sqlx::query("DELETE FROM school_holidays WHERE school_id = $1")
            .bind(school.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for h in holidays {
            sqlx::query(
                "INSERT INTO school_holidays (school_id, name, first_day, last_day,
                        updated_by, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(school.0)
            .bind(h.name.as_str())
            .bind(h.first_day)
            .bind(h.last_day)
            .bind(admin.by().map(|p| p.0))
            .bind(ts(micros(at)))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn chase_facts(&self, school: SchoolId) -> StoreResult<ChaseFacts> {
        // The background job reads what the dashboard shows, for the school it chases.
        let facts = self
            .compliance_facts(&ComplianceViewer::for_operator(school))
            .await?;
        let managers: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, line_manager_id FROM people
             WHERE school_id = $1 AND status = 'active' AND line_manager_id IS NOT NULL",
        )
        .bind(school.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(ChaseFacts {
            school: facts,
            line_managers: managers
                .into_iter()
                .map(|(p, m)| (PersonId(p), PersonId(m)))
                .collect(),
        })
    }
}
