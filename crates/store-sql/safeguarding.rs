//! Safeguarding alerts: raised while a batch of the access log is stored (in its
//! transaction, with their ledger entries and the DSLs' emails), read and closed by the
//! DSL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::access::SafeguardingLead;
use undersign_core::ledger::Event;
use undersign_core::logs::{LogClass, LoggedRequest};
use undersign_core::person::{PersonStatus, Role};
use undersign_core::safeguarding::{
    Closed, SafeguardingAlert, alert_mail, check_record, subject_key,
};
use undersign_core::store::{Safeguarding, StoreError, StoreResult};
use undersign_core::time::rfc3339;
use undersign_core::{DeviceId, PersonId, SafeguardingAlertId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{Conn, ts};
use crate::errors::db;
use crate::ledger::append;
use crate::outbox::insert_mail;
use crate::people::load_person;

/// Raises the alerts `requests` call for, in the caller's transaction: one per subject,
/// category and day unless one is open already; each with its entry and an email to every
/// active DSL. Returns how many were raised.
pub(crate) async fn raise_alerts(
    conn: &mut Conn,
    school: SchoolId,
    requests: &[LoggedRequest],
    at: DateTime<Utc>,
) -> StoreResult<usize> {
    let mut raised = 0;
    let mut dsls = None;
    for r in requests
        .iter()
        .filter(|r| r.class == LogClass::Safeguarding)
    {
        let category = r.category.clone().unwrap_or_default();
        let key = subject_key(r);
        let day = r.day().to_string();
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM safeguarding_alerts
             WHERE school_id = $1 AND subject_key = $2 AND category = $3 AND day = $4
               AND closed_at IS NULL",
        )
        .bind(school.0)
        .bind(&key)
        .bind(&category)
        .bind(&day)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        if open.is_some() {
            continue;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO safeguarding_alerts (school_id, subject_key, day, raised_at, request_at,
                 category, url, client, person_id, device_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(school.0)
        .bind(&key)
        .bind(&day)
        .bind(ts(at))
        .bind(ts(micros(r.at)))
        .bind(&category)
        .bind(&r.url)
        .bind(r.client.to_string())
        .bind(r.person.map(|p| p.0))
        .bind(r.device.map(|d| d.0))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let alert = SafeguardingAlertId(id);
        let event = Event::SafeguardingAlertRaised {
            alert,
            category: category.clone(),
            request_at: rfc3339(micros(r.at)),
            url: r.url.clone(),
            client: r.client.to_string(),
            person: r.person,
            device: r.device,
        };
        append(conn, school, &event, at).await?;
        if dsls.is_none() {
            dsls = Some(leads(conn, school).await?);
        }
        for dsl in dsls.iter().flatten() {
            insert_mail(conn, &alert_mail(dsl, alert, &category, at), at).await?;
        }
        raised += 1;
    }
    Ok(raised)
}

/// The school's active DSLs.
async fn leads(
    conn: &mut Conn,
    school: SchoolId,
) -> StoreResult<Vec<undersign_core::person::Person>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM people
         WHERE school_id = $1 AND status = 'active' AND roles LIKE '%\"dsl\"%' ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(p) = load_person(conn, school, PersonId(id)).await?
            && p.status == PersonStatus::Active
            && p.roles.contains(&Role::Dsl)
        {
            out.push(p);
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    raised_at: DateTime<Utc>,
    request_at: DateTime<Utc>,
    category: String,
    url: String,
    client: String,
    person_id: Option<i64>,
    person_name: Option<String>,
    device_id: Option<i64>,
    device_name: Option<String>,
    closed_by: Option<i64>,
    closer_name: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    action: Option<String>,
    outcome: Option<String>,
}

impl From<Row> for SafeguardingAlert {
    fn from(r: Row) -> Self {
        let closed = match (r.closed_by, r.closed_at) {
            (Some(by), Some(at)) => Some(Closed {
                by: PersonId(by),
                by_name: r.closer_name.unwrap_or_default(),
                at,
                action: r.action.unwrap_or_default(),
                outcome: r.outcome.unwrap_or_default(),
            }),
            _ => None,
        };
        SafeguardingAlert {
            id: SafeguardingAlertId(r.id),
            raised_at: r.raised_at,
            request_at: r.request_at,
            category: r.category,
            url: r.url,
            client: r.client,
            person: r.person_id.map(PersonId),
            person_name: r.person_name,
            device: r.device_id.map(DeviceId),
            device_name: r.device_name,
            closed,
        }
    }
}

const SELECT: &str = "SELECT a.id, a.raised_at, a.request_at, a.category, a.url, a.client,
        a.person_id, p.full_name AS person_name, a.device_id, d.name AS device_name,
        a.closed_by, c.full_name AS closer_name, a.closed_at, a.action, a.outcome
     FROM safeguarding_alerts a
     LEFT JOIN people p ON p.school_id = a.school_id AND p.id = a.person_id
     LEFT JOIN devices d ON d.school_id = a.school_id AND d.id = a.device_id
     LEFT JOIN people c ON c.school_id = a.school_id AND c.id = a.closed_by";

#[async_trait]
impl Safeguarding for BackendStore {
    async fn safeguarding_alerts(
        &self,
        lead: &SafeguardingLead,
    ) -> StoreResult<Vec<SafeguardingAlert>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "{SELECT} WHERE a.school_id = $1
             ORDER BY CASE WHEN a.closed_at IS NULL THEN 0 ELSE 1 END, a.id DESC"
        ))
        .bind(lead.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    #[tracing::instrument(skip_all, fields(school = %lead.school(), alert = %id))]
    async fn close_safeguarding_alert(
        &self,
        lead: &SafeguardingLead,
        id: SafeguardingAlertId,
        action: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<SafeguardingAlert> {
        let action = check_record("action", action)
            .map_err(|(_, m)| StoreError::Refused(format!("what was done: {m}")))?;
        let outcome = check_record("outcome", outcome)
            .map_err(|(_, m)| StoreError::Refused(format!("the outcome: {m}")))?;
        let school = lead.school();
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let done = sqlx::query(
            "UPDATE safeguarding_alerts SET closed_by = $1, closed_at = $2, action = $3, outcome = $4
             WHERE school_id = $5 AND id = $6 AND closed_at IS NULL",
        )
        .bind(lead.by().0)
        .bind(ts(at))
        .bind(&action)
        .bind(&outcome)
        .bind(school.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM safeguarding_alerts WHERE school_id = $1 AND id = $2",
            )
            .bind(school.0)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("this alert is closed already".into()),
                None => StoreError::NotFound,
            });
        }
        let event = Event::SafeguardingAlertClosed {
            alert: id,
            by: lead.by(),
            action,
            outcome,
        };
        append(&mut tx, school, &event, at).await?;
        let row: Row = sqlx::query_as(&format!("{SELECT} WHERE a.school_id = $1 AND a.id = $2"))
            .bind(school.0)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(row.into())
    }
}
