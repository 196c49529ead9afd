//! The image consent register: pupils brought in from the MIS all or nothing, and consent
//! records, each with its ledger entry in the transaction that writes it. Consent rows are
//! never updated: a change of mind is a new record.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use undersign_core::access::{Actor, PeopleAdmin};
use undersign_core::consent::{Channel, ConsentRecord, ConsentState, NewConsent, Source, Subject};
use undersign_core::ledger::Event;
use undersign_core::pupils::{self, Contact, Pupil, PupilFile, PupilRow};
use undersign_core::roster::MisId;
use undersign_core::store::{ConsentRegister, PupilOutcome, StoreError, StoreResult};
use undersign_core::{PersonId, PupilId, SchoolId};

use crate::BackendStore;
use crate::codec::{from_json, micros, to_json, trusted};
use crate::db::{Conn, ts};
use crate::errors::db;
use crate::ledger::append;

#[derive(sqlx::FromRow)]
pub(crate) struct PupilRecord {
    pub(crate) id: i64,
    pub(crate) mis_id: String,
    pub(crate) full_name: String,
    pub(crate) year_group: String,
    pub(crate) class_name: Option<String>,
    pub(crate) contacts: String,
    pub(crate) on_roll: bool,
    pub(crate) salt: String,
}

impl PupilRecord {
    fn into_pupil(self) -> StoreResult<Pupil> {
        Ok(Pupil {
            id: PupilId(self.id),
            mis_id: MisId::trusted(self.mis_id),
            full_name: trusted("pupils.full_name", self.full_name)?,
            year_group: self.year_group,
            class: self.class_name,
            contacts: from_json("pupils.contacts", &self.contacts)?,
            on_roll: self.on_roll,
        })
    }

    /// The fingerprint of the details as the row holds them now (for `verify`).
    pub(crate) fn details_sha256(&self) -> String {
        let contacts: Vec<Contact> = serde_json::from_str(&self.contacts).unwrap_or_default();
        let name = serde_json::from_value(serde_json::Value::String(self.full_name.clone()));
        match name {
            Ok(name) => pupils::details_sha256(
                &self.salt,
                &MisId::trusted(self.mis_id.clone()),
                &name,
                &self.year_group,
                self.class_name.as_deref(),
                &contacts,
            ),
            Err(_) => "unreadable".into(),
        }
    }
}

pub(crate) const PUPIL_COLUMNS: &str =
    "id, mis_id, full_name, year_group, class_name, contacts, on_roll, salt";

async fn pupils_of(conn: &mut Conn, school: SchoolId) -> StoreResult<Vec<Pupil>> {
    let rows: Vec<PupilRecord> = sqlx::query_as(&format!(
        "SELECT {PUPIL_COLUMNS} FROM pupils WHERE school_id = $1 ORDER BY full_name, id"
    ))
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.into_iter().map(PupilRecord::into_pupil).collect()
}

/// Writes a pupil's row (`id`: an existing pupil) and appends its entry.
async fn write_pupil(
    conn: &mut Conn,
    school: SchoolId,
    id: Option<PupilId>,
    row: &PupilRow,
    salt: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let contacts = to_json(&row.contacts)?;
    let id: i64 = match id {
        Some(id) => sqlx::query_scalar(
            "UPDATE pupils SET full_name = $1, year_group = $2, class_name = $3, contacts = $4,
                 on_roll = TRUE, salt = $5
             WHERE school_id = $6 AND id = $7 RETURNING id",
        )
        .bind(row.full_name.as_str())
        .bind(&row.year_group)
        .bind(&row.class)
        .bind(&contacts)
        .bind(salt)
        .bind(school.0)
        .bind(id.0),
        None => sqlx::query_scalar(
            "INSERT INTO pupils (full_name, year_group, class_name, contacts, salt, school_id,
                 mis_id, on_roll)
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE) RETURNING id",
        )
        .bind(row.full_name.as_str())
        .bind(&row.year_group)
        .bind(&row.class)
        .bind(&contacts)
        .bind(salt)
        .bind(school.0)
        .bind(row.mis_id.as_str()),
    }
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let event = Event::PupilRecorded {
        pupil: PupilId(id),
        on_roll: true,
        details_sha256: pupils::details_sha256(
            salt,
            &row.mis_id,
            &row.full_name,
            &row.year_group,
            row.class.as_deref(),
            &row.contacts,
        ),
    };
    append(conn, school, &event, at).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ConsentRow {
    channel: String,
    state: String,
    source: String,
    at: DateTime<Utc>,
    expires: Option<NaiveDate>,
}

fn bad(column: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("consents.{column} holds {value:?}"))
}

/// Checks that the subject is this school's, and for a pupil that they are on roll.
async fn check_subject(conn: &mut Conn, school: SchoolId, subject: Subject) -> StoreResult<()> {
    let found: Option<bool> = match subject {
        Subject::Pupil(p) => {
            sqlx::query_scalar("SELECT on_roll FROM pupils WHERE school_id = $1 AND id = $2")
                .bind(school.0)
                .bind(p.0)
                .fetch_optional(&mut *conn)
                .await
        }
        Subject::Person(p) => {
            sqlx::query_scalar(
                "SELECT status = 'active' FROM people WHERE school_id = $1 AND id = $2",
            )
            .bind(school.0)
            .bind(p.0)
            .fetch_optional(&mut *conn)
            .await
        }
    }
    .map_err(db)?;
    match found {
        None => Err(StoreError::NotFound),
        Some(false) => Err(StoreError::Refused(
            "they are no longer at the school: their record is kept, not changed".into(),
        )),
        Some(true) => Ok(()),
    }
}

impl BackendStore {
    async fn insert_consent(
        &self,
        school: SchoolId,
        new: NewConsent,
        source: Source,
        by: Option<PersonId>,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let at = micros(at);
        if new.state == ConsentState::Withdrawn && new.expires.is_some() {
            return Err(StoreError::Refused(
                "a withdrawal has no expiry: it holds until consent is given again".into(),
            ));
        }
        if let Some(day) = new.expires
            && day < at.date_naive()
        {
            return Err(StoreError::Refused("the expiry is in the past".into()));
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        check_subject(&mut tx, school, new.subject).await?;
        let (pupil, person) = match new.subject {
            Subject::Pupil(p) => (Some(p.0), None),
            Subject::Person(p) => (None, Some(p.0)),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO consents (school_id, pupil_id, person_id, channel, state, source,
                 recorded_by, at, expires)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(school.0)
        .bind(pupil)
        .bind(person)
        .bind(new.channel.as_str())
        .bind(new.state.as_str())
        .bind(source.as_str())
        .bind(by.map(|p| p.0))
        .bind(ts(at))
        .bind(new.expires)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::ConsentRecorded {
            consent: id,
            subject: new.subject,
            channel: new.channel,
            state: new.state,
            source,
            by,
            expires: new.expires,
        };
        append(&mut tx, school, &event, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }
}

#[async_trait]
impl ConsentRegister for BackendStore {
    async fn pupils(&self, school: SchoolId) -> StoreResult<Vec<Pupil>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        pupils_of(&mut conn, school).await
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn apply_pupils(
        &self,
        admin: &PeopleAdmin,
        file: &PupilFile,
        seed: [u8; 32],
        dry_run: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<PupilOutcome> {
        let at = micros(at);
        let school = admin.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        let existing = pupils_of(&mut tx, school).await?;
        let plan = pupils::plan(file, &existing);
        if dry_run {
            return Ok(PupilOutcome::Applied(plan));
        }
        for row in &plan.joiners {
            let salt = pupils::salt(&seed, &row.mis_id);
            write_pupil(&mut tx, school, None, row, &salt, at).await?;
        }
        for (id, row) in &plan.changes {
            let salt = pupils::salt(&seed, &row.mis_id);
            write_pupil(&mut tx, school, Some(*id), row, &salt, at).await?;
        }
        for id in &plan.leavers {
            let row: PupilRecord = sqlx::query_as(&format!(
                "UPDATE pupils SET on_roll = FALSE WHERE school_id = $1 AND id = $2
                 RETURNING {PUPIL_COLUMNS}"
            ))
            .bind(school.0)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let event = Event::PupilRecorded {
                pupil: *id,
                on_roll: false,
                details_sha256: row.details_sha256(),
            };
            append(&mut tx, school, &event, at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(PupilOutcome::Applied(plan))
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn record_consent(
        &self,
        admin: &PeopleAdmin,
        new: NewConsent,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        self.insert_consent(admin.school(), new, Source::PaperForm, admin.by(), at)
            .await
    }

    #[tracing::instrument(skip_all, fields(school = %by.school))]
    async fn record_own_consent(
        &self,
        by: &Actor,
        new: NewConsent,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        if new.subject != Subject::Person(by.person) {
            return Err(StoreError::Refused(
                "you can record consent only for your own image".into(),
            ));
        }
        self.insert_consent(by.school, new, Source::InPerson, Some(by.person), at)
            .await
    }

    async fn consent_records(
        &self,
        school: SchoolId,
        subject: Subject,
    ) -> StoreResult<Vec<ConsentRecord>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let (column, id) = match subject {
            Subject::Pupil(p) => ("pupil_id", p.0),
            Subject::Person(p) => ("person_id", p.0),
        };
        let rows: Vec<ConsentRow> = sqlx::query_as(&format!(
            "SELECT channel, state, source, at, expires FROM consents
             WHERE school_id = $1 AND {column} = $2 ORDER BY at, id"
        ))
        .bind(school.0)
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok(ConsentRecord {
                    channel: Channel::parse(&r.channel)
                        .ok_or_else(|| bad("channel", &r.channel))?,
                    state: ConsentState::parse(&r.state).ok_or_else(|| bad("state", &r.state))?,
                    source: Source::parse(&r.source).ok_or_else(|| bad("source", &r.source))?,
                    at: r.at,
                    expires: r.expires,
                })
            })
            .collect()
    }
}
