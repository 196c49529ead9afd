//! The MIS roster import: the people as the import matches them, and applying a file in
//! one transaction — planned again inside it, so what is applied is exactly what the
//! people were at that moment — with every change recorded in the ledger.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use undersign_core::access::PeopleAdmin;
use undersign_core::ledger::Event;
use undersign_core::person::{Person, PersonStatus, Role, Roles};
use undersign_core::roster::{ExistingPerson, MisId, Roster, RosterRow, plan};
use undersign_core::store::{RosterImport, RosterOutcome, StoreError, StoreResult};
use undersign_core::time;
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::{from_json, to_json, trusted};
use crate::db::{Conn, lock_school, ts};
use crate::errors::{OnConstraint, db};
use crate::ledger::append;
use crate::people::{PERSON_COLUMNS, PersonRow};

#[derive(sqlx::FromRow)]
struct RosterRowDb {
    id: i64,
    full_name: String,
    email: String,
    roles: String,
    status: String,
    mis_id: Option<String>,
    start_date: Option<String>,
    on_roster: bool,
}

async fn load(conn: &mut Conn, school: SchoolId) -> StoreResult<Vec<ExistingPerson>> {
    let rows: Vec<RosterRowDb> = sqlx::query_as(
        "SELECT p.id, p.full_name, p.email, p.roles, p.status, r.mis_id, r.start_date,
                (r.person_id IS NOT NULL) AS on_roster
         FROM people p
         LEFT JOIN roster_members r ON r.school_id = p.school_id AND r.person_id = p.id
         WHERE p.school_id = $1
         ORDER BY p.id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|r| {
            let roles: Vec<Role> = from_json("people.roles", &r.roles)?;
            Ok(ExistingPerson {
                id: PersonId(r.id),
                full_name: trusted("people.full_name", r.full_name)?,
                email: trusted("people.email", r.email)?,
                roles: roles.into_iter().collect(),
                status: PersonStatus::parse(&r.status)
                    .map_err(|e| StoreError::Backend(format!("people.status: {e}")))?,
                mis_id: r.mis_id.map(MisId::trusted),
                start_date: r
                    .start_date
                    .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                on_roster: r.on_roster,
            })
        })
        .collect()
}

fn roles_json(roles: &Roles) -> StoreResult<String> {
    to_json(&roles.iter().collect::<Vec<_>>())
}

fn recorded(person: &Person, by: Option<PersonId>) -> Event {
    Event::PersonRecorded {
        person: person.id,
        full_name: person.full_name.to_string(),
        email: person.email.to_string(),
        roles: person.roles.iter().copied().collect(),
        status: person.status.as_str().to_string(),
        line_manager: person.line_manager,
        by,
    }
}

fn email_taken(row: &RosterRow) -> impl FnOnce() -> StoreError + '_ {
    move || {
        StoreError::Conflict(format!(
            "line {}: someone in this school already has the email {}",
            row.line, row.email
        ))
    }
}

/// Keeps the person on the roster with the row's MIS id and start date (a blank one in
/// the file keeps what was known).
async fn keep_on_roster(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
    row: &RosterRow,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO roster_members (school_id, person_id, mis_id, start_date, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (school_id, person_id) DO UPDATE
         SET mis_id = COALESCE(excluded.mis_id, roster_members.mis_id),
             start_date = COALESCE(excluded.start_date, roster_members.start_date),
             updated_at = excluded.updated_at",
    )
    .bind(school.0)
    .bind(person.0)
    .bind(row.mis_id.as_ref().map(MisId::as_str))
    .bind(row.start_date.map(|d| d.to_string()))
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .on_constraint("roster_members_mis_id_key", || {
        StoreError::Conflict(format!(
            "line {}: someone else in this school already has this MIS id",
            row.line
        ))
    })?;
    Ok(())
}

#[async_trait]
impl RosterImport for BackendStore {
    async fn roster_people(&self, admin: &PeopleAdmin) -> StoreResult<Vec<ExistingPerson>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load(&mut conn, admin.school()).await
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school(), rows = roster.rows.len()))]
    async fn apply_roster(
        &self,
        admin: &PeopleAdmin,
        roster: &Roster,
        expected_digest: Option<&str>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StoreResult<RosterOutcome> {
        let school = admin.school();
        let at = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let existing = load(&mut tx, school).await?;
        let plan = match plan(roster, &existing, admin) {
            Ok(p) => p,
            Err(errors) => return Ok(RosterOutcome::Invalid(errors)),
        };
        if expected_digest.is_some_and(|d| d != plan.digest()) {
            return Ok(RosterOutcome::Stale(plan));
        }
        let total = plan.steps();
        let mut done = 0;
        for leaver in &plan.leavers {
            let row: PersonRow = sqlx::query_as(&format!(
                "UPDATE people SET status = 'left', updated_at = $3
                 WHERE school_id = $1 AND id = $2
                 RETURNING {PERSON_COLUMNS}"
            ))
            .bind(school.0)
            .bind(leaver.id.0)
            .bind(ts(at))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            sqlx::query("DELETE FROM sessions WHERE school_id = $1 AND person_id = $2")
                .bind(school.0)
                .bind(leaver.id.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            append(
                &mut tx,
                school,
                &recorded(&row.into_person()?, admin.by()),
                at,
            )
            .await?;
            done += 1;
            progress(done, total);
        }
        for update in &plan.updates {
            let r = &update.row;
            let row: PersonRow = sqlx::query_as(&format!(
                "UPDATE people SET full_name = $3, email = $4, roles = $5, status = 'active',
                                   updated_at = $6
                 WHERE school_id = $1 AND id = $2
                 RETURNING {PERSON_COLUMNS}"
            ))
            .bind(school.0)
            .bind(update.person.0)
            .bind(r.full_name.as_str())
            .bind(r.email.as_str())
            .bind(roles_json(&r.roles)?)
            .bind(ts(at))
            .fetch_one(&mut *tx)
            .await
            .on_constraint("people_school_id_email_key", email_taken(r))?;
            keep_on_roster(&mut tx, school, update.person, r, at).await?;
            if let Some(old) = existing.iter().find(|p| p.id == update.person) {
                crate::people::note_email_change(
                    &mut tx,
                    school,
                    update.person,
                    &old.email,
                    &r.email,
                    admin.by(),
                    at,
                )
                .await?;
            }
            append(
                &mut tx,
                school,
                &recorded(&row.into_person()?, admin.by()),
                at,
            )
            .await?;
            done += 1;
            progress(done, total);
        }
        for r in &plan.joiners {
            let row: PersonRow = sqlx::query_as(&format!(
                "INSERT INTO people (school_id, full_name, email, roles, line_manager_id, status,
                                     password_hash, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, NULL, 'active', NULL, $5, $5)
                 RETURNING {PERSON_COLUMNS}"
            ))
            .bind(school.0)
            .bind(r.full_name.as_str())
            .bind(r.email.as_str())
            .bind(roles_json(&r.roles)?)
            .bind(ts(at))
            .fetch_one(&mut *tx)
            .await
            .on_constraint("people_school_id_email_key", email_taken(r))?;
            let person = row.into_person()?;
            keep_on_roster(&mut tx, school, person.id, r, at).await?;
            append(&mut tx, school, &recorded(&person, admin.by()), at).await?;
            done += 1;
            progress(done, total);
        }
        crate::compliance::forget_summary(&mut tx, school).await?;
        tx.commit().await.map_err(db)?;
        tracing::info!(
            joiners = plan.joiners.len(),
            updates = plan.updates.len(),
            leavers = plan.leavers.len(),
            "roster applied"
        );
        Ok(RosterOutcome::Applied(plan))
    }
}
