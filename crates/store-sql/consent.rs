//! The image consent register: pupils brought in from the MIS all or nothing, and consent
//! records, each with its ledger entry in the transaction that writes it. Consent rows are
//! never updated: a change of mind is a new record.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use undersign_core::access::{Actor, PeopleAdmin};
use undersign_core::consent::{
    Answer, Channel, CheckedPerson, ConsentRecord, ConsentState, MAX_DESCRIPTION_CHARS, MAX_PEOPLE,
    NewConsent, PARENT_LINK_VALID_FOR, ParentView, PublicationCheck, Source, Subject, TakedownTask,
    Verdict, answer, link_address_sha256, takedown_mail, verdict,
};
use undersign_core::ledger::Event;
use undersign_core::outbox::NewMail;
use undersign_core::person::{Email, Role};
use undersign_core::pupils::{self, Contact, Pupil, PupilFile, PupilRow};
use undersign_core::requests::{RequestKind, RequestState};
use undersign_core::roster::MisId;
use undersign_core::store::{ConsentRegister, PupilApply, PupilOutcome, StoreError, StoreResult};
use undersign_core::time::rfc3339;
use undersign_core::{PersonId, PupilId, RequestId, SchoolId};

use crate::BackendStore;
use crate::codec::{from_json, micros, to_json, trusted};
use crate::db::{Conn, ts};
use crate::errors::db;
use crate::ledger::append;
use crate::outbox::insert_mail;
use crate::people::load_person;

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
struct SchoolConsentRow {
    pupil_id: Option<i64>,
    person_id: Option<i64>,
    channel: String,
    state: String,
    source: String,
    at: DateTime<Utc>,
    expires: Option<NaiveDate>,
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

/// Records one consent on `conn` with its entry (and, for a withdrawal, the take-down
/// tasks it causes); its id.
async fn write_consent(
    conn: &mut Conn,
    school: SchoolId,
    new: NewConsent,
    source: Source,
    by: Option<PersonId>,
    parent_link: Option<i64>,
    at: DateTime<Utc>,
) -> StoreResult<i64> {
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
    // This school's, and a pupil on roll or a member of staff still here.
    name_of(conn, school, new.subject).await?;
    let (pupil, person) = match new.subject {
        Subject::Pupil(p) => (Some(p.0), None),
        Subject::Person(p) => (None, Some(p.0)),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO consents (school_id, pupil_id, person_id, channel, state, source,
             recorded_by, at, expires, parent_link_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
    .bind(parent_link)
    .fetch_one(&mut *conn)
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
        parent_link,
    };
    append(conn, school, &event, at).await?;
    if new.state == ConsentState::Withdrawn {
        raise_takedowns(conn, school, id, new.subject, new.channel, at).await?;
    }
    Ok(id)
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
        let mut tx = self.write.begin().await.map_err(db)?;
        let id = write_consent(&mut tx, school, new, source, by, None, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }
}

/// The pupils on roll of `school` who list `email` as a contact, with that contact.
async fn children_of(
    conn: &mut Conn,
    school: SchoolId,
    email: &str,
) -> StoreResult<Vec<(Pupil, Contact)>> {
    let mut out = Vec::new();
    for p in pupils_of(conn, school).await? {
        if !p.on_roll {
            continue;
        }
        if let Some(c) = p
            .contacts
            .iter()
            .find(|c| c.email.as_str().eq_ignore_ascii_case(email))
            .cloned()
        {
            out.push((p, c));
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    school_id: i64,
    email: String,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

/// A parent link that may be used at `now`.
async fn usable_link(
    conn: &mut Conn,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> StoreResult<LinkRow> {
    let row: Option<LinkRow> = sqlx::query_as(
        "SELECT id, school_id, email, expires_at, used_at FROM parent_links WHERE token_sha256 = $1",
    )
    .bind(token_sha256)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let row = row.ok_or(StoreError::NotFound)?;
    if row.used_at.is_some() {
        return Err(StoreError::Conflict(
            "this link has been used: ask the school office for a new one".into(),
        ));
    }
    if row.expires_at <= now {
        return Err(StoreError::Conflict(
            "this link has expired: ask the school office for a new one".into(),
        ));
    }
    Ok(row)
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
        how: PupilApply,
        at: DateTime<Utc>,
    ) -> StoreResult<PupilOutcome> {
        let at = micros(at);
        let school = admin.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        let existing = pupils_of(&mut tx, school).await?;
        let plan = pupils::plan(file, &existing);
        match how {
            PupilApply::DryRun => return Ok(PupilOutcome::Applied(plan)),
            PupilApply::ApplyShown(digest) if digest != plan.digest() => {
                return Ok(PupilOutcome::Stale(plan));
            }
            _ => {}
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

    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn send_parent_link(
        &self,
        admin: &PeopleAdmin,
        to: &Email,
        token_sha256: &str,
        mail: NewMail,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let at = micros(at);
        let school = admin.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        if children_of(&mut tx, school, to.as_str()).await?.is_empty() {
            return Err(StoreError::Refused(format!(
                "{to} is not a contact of any pupil on roll"
            )));
        }
        let expires_at = at + PARENT_LINK_VALID_FOR;
        let link: i64 = sqlx::query_scalar(
            "INSERT INTO parent_links (school_id, token_sha256, email, created_by, created_at,
                 expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(school.0)
        .bind(token_sha256)
        .bind(to.as_str())
        .bind(admin.by().map(|p| p.0))
        .bind(ts(at))
        .bind(ts(expires_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::ParentLinkSent {
            link,
            by: admin.by(),
            address_sha256: link_address_sha256(token_sha256, to.as_str()),
            expires_at: rfc3339(expires_at),
        };
        append(&mut tx, school, &event, at).await?;
        insert_mail(&mut tx, &mail, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn parent_link(&self, token_sha256: &str, now: DateTime<Utc>) -> StoreResult<ParentView> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let link = usable_link(&mut conn, token_sha256, now).await?;
        let school = SchoolId(link.school_id);
        let school_name: String = sqlx::query_scalar("SELECT name FROM schools WHERE id = $1")
            .bind(school.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let children = children_of(&mut conn, school, &link.email).await?;
        let contact_name = children
            .first()
            .map(|(_, c)| c.name.to_string())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(children.len());
        for (pupil, _) in children {
            let records = records_of(&mut conn, school, Subject::Pupil(pupil.id)).await?;
            out.push((pupil, records));
        }
        Ok(ParentView {
            school_name,
            contact_name,
            expires_at: link.expires_at,
            children: out,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn use_parent_link(
        &self,
        token_sha256: &str,
        choices: Vec<NewConsent>,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let link = usable_link(&mut tx, token_sha256, at).await?;
        let school = SchoolId(link.school_id);
        let mine: Vec<PupilId> = children_of(&mut tx, school, &link.email)
            .await?
            .into_iter()
            .map(|(p, _)| p.id)
            .collect();
        // Spent first: a second use of the same link waits for this one and then finds
        // it used.
        let spent =
            sqlx::query("UPDATE parent_links SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(ts(at))
                .bind(link.id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        if spent.rows_affected() != 1 {
            return Err(StoreError::Conflict("this link has been used".into()));
        }
        let mut recorded = 0;
        for choice in choices {
            match choice.subject {
                Subject::Pupil(p) if mine.contains(&p) => {}
                _ => {
                    return Err(StoreError::Refused(
                        "a link records consent only for the parent's own children".into(),
                    ));
                }
            }
            write_consent(
                &mut tx,
                school,
                choice,
                Source::ParentLink,
                None,
                Some(link.id),
                at,
            )
            .await?;
            recorded += 1;
        }
        tx.commit().await.map_err(db)?;
        Ok(recorded)
    }

    async fn consent_records(
        &self,
        school: SchoolId,
        subject: Subject,
    ) -> StoreResult<Vec<ConsentRecord>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        records_of(&mut conn, school, subject).await
    }

    async fn school_consents(
        &self,
        school: SchoolId,
    ) -> StoreResult<Vec<(Subject, ConsentRecord)>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<SchoolConsentRow> = sqlx::query_as(
            "SELECT pupil_id, person_id, channel, state, source, at, expires FROM consents
             WHERE school_id = $1 ORDER BY at, id",
        )
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    subject_of(r.pupil_id, r.person_id)?,
                    ConsentRecord {
                        channel: Channel::parse(&r.channel)
                            .ok_or_else(|| bad("channel", &r.channel))?,
                        state: ConsentState::parse(&r.state)
                            .ok_or_else(|| bad("state", &r.state))?,
                        source: Source::parse(&r.source).ok_or_else(|| bad("source", &r.source))?,
                        at: r.at,
                        expires: r.expires,
                    },
                ))
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %by.school))]
    async fn check_publication(
        &self,
        by: &Actor,
        channel: Channel,
        description: &str,
        people: &[Subject],
        at: DateTime<Utc>,
    ) -> StoreResult<PublicationCheck> {
        let at = micros(at);
        let description = description.trim();
        if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(StoreError::Refused(format!(
                "say what the images show, in at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        let mut unique: Vec<Subject> = Vec::new();
        for p in people {
            if !unique.contains(p) {
                unique.push(*p);
            }
        }
        if unique.is_empty() || unique.len() > MAX_PEOPLE {
            return Err(StoreError::Refused(format!(
                "name everyone in the images (between 1 and {MAX_PEOPLE} people)"
            )));
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        let answers = answers_now(&mut tx, by.school, &unique, channel, at.date_naive()).await?;
        let found = verdict(&answers.iter().map(|a| a.2).collect::<Vec<_>>());
        let check: i64 = sqlx::query_scalar(
            "INSERT INTO publication_checks (school_id, checked_by, channel, description, at,
                 verdict)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(by.school.0)
        .bind(by.person.0)
        .bind(channel.as_str())
        .bind(description)
        .bind(ts(at))
        .bind(found.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let mut rows = Vec::with_capacity(answers.len());
        for (subject, _, said) in &answers {
            let (column, id) = subject_column(*subject);
            let row: i64 = sqlx::query_scalar(&format!(
                "INSERT INTO publication_check_people (school_id, check_id, {column}, answer)
                 VALUES ($1, $2, $3, $4) RETURNING id"
            ))
            .bind(by.school.0)
            .bind(check)
            .bind(id)
            .bind(said.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            rows.push((row, *subject, said.as_str().to_owned()));
        }
        let event = Event::PublicationChecked {
            check,
            by: by.person,
            channel,
            description: description.to_owned(),
            people: rows,
            verdict: found.as_str().to_owned(),
        };
        append(&mut tx, by.school, &event, at).await?;
        let out = load_check(&mut tx, by.school, check).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, check = %check))]
    async fn publish_checked(
        &self,
        by: &Actor,
        check: i64,
        permission: Option<RequestId>,
        at: DateTime<Utc>,
    ) -> StoreResult<PublicationCheck> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let c = load_check(&mut tx, by.school, check).await?;
        if c.checked_by != by.person {
            return Err(StoreError::NotFound);
        }
        if c.published_at.is_some() {
            return Err(StoreError::Conflict(
                "these images are already published".into(),
            ));
        }
        // Consent may have changed since the check: the answers are taken again.
        let people: Vec<Subject> = c.people.iter().map(|p| p.subject).collect();
        let now = answers_now(&mut tx, by.school, &people, c.channel, at.date_naive()).await?;
        if let Some((_, name, _)) = now
            .iter()
            .find(|(_, _, a)| matches!(a, Answer::Withdrawn { .. }))
        {
            return Err(StoreError::Refused(format!(
                "consent for {name} has been withdrawn: these images cannot be published with them in"
            )));
        }
        let clear = now.iter().all(|(_, _, a)| a.is_consent());
        let permission = if clear {
            None
        } else {
            let Some(request) = permission else {
                let missing: Vec<&str> = now
                    .iter()
                    .filter(|(_, _, a)| !a.is_consent())
                    .map(|(_, n, _)| n.as_str())
                    .collect();
                return Err(StoreError::Refused(format!(
                    "no consent on file for {}: ask the headteacher's permission first (a photo-posting request)",
                    missing.join(", ")
                )));
            };
            check_permission(&mut tx, by, request, at.date_naive()).await?;
            Some(request)
        };
        sqlx::query(
            "UPDATE publication_checks SET published_at = $1, permission_request = $2
             WHERE school_id = $3 AND id = $4",
        )
        .bind(ts(at))
        .bind(permission.map(|r| r.0))
        .bind(by.school.0)
        .bind(check)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::PublicationPublished {
            check,
            by: by.person,
            permission,
        };
        append(&mut tx, by.school, &event, at).await?;
        let out = load_check(&mut tx, by.school, check).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn publication_check(&self, by: &Actor, check: i64) -> StoreResult<PublicationCheck> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let c = load_check(&mut conn, by.school, check).await?;
        if c.checked_by == by.person || by.has(Role::Headteacher) {
            Ok(c)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn takedown_tasks(&self, by: &Actor) -> StoreResult<Vec<TakedownTask>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<TaskRow> = sqlx::query_as(&format!(
            "{TASK_SELECT} WHERE t.school_id = $1 AND t.publisher = $2
             ORDER BY t.done_at IS NOT NULL, t.id DESC"
        ))
        .bind(by.school.0)
        .bind(by.person.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.into_iter().map(task_of).collect()
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, task = %task))]
    async fn complete_takedown(
        &self,
        by: &Actor,
        task: i64,
        note: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<TakedownTask> {
        let at = micros(at);
        let note = note.trim();
        if note.chars().count() > 2000 {
            return Err(StoreError::Refused(
                "a note is at most 2000 characters".into(),
            ));
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        let done: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "SELECT done_at FROM takedown_tasks WHERE school_id = $1 AND id = $2 AND publisher = $3",
        )
        .bind(by.school.0)
        .bind(task)
        .bind(by.person.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        match done {
            None => return Err(StoreError::NotFound),
            Some(Some(_)) => {
                return Err(StoreError::Conflict("this task is already done".into()));
            }
            Some(None) => {}
        }
        sqlx::query(
            "UPDATE takedown_tasks SET done_by = $1, done_at = $2, note = $3
             WHERE school_id = $4 AND id = $5",
        )
        .bind(by.person.0)
        .bind(ts(at))
        .bind(note)
        .bind(by.school.0)
        .bind(task)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::TakedownDone {
            task,
            by: by.person,
            note: note.to_owned(),
        };
        append(&mut tx, by.school, &event, at).await?;
        let row: TaskRow = sqlx::query_as(&format!(
            "{TASK_SELECT} WHERE t.school_id = $1 AND t.id = $2"
        ))
        .bind(by.school.0)
        .bind(task)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        task_of(row)
    }
}

/// Whose row a subject is: the column of `consents`, `publication_check_people` and
/// `takedown_tasks` that holds it, and the id.
fn subject_column(subject: Subject) -> (&'static str, i64) {
    match subject {
        Subject::Pupil(p) => ("pupil_id", p.0),
        Subject::Person(p) => ("person_id", p.0),
    }
}

fn subject_of(pupil: Option<i64>, person: Option<i64>) -> StoreResult<Subject> {
    match (pupil, person) {
        (Some(p), None) => Ok(Subject::Pupil(PupilId(p))),
        (None, Some(p)) => Ok(Subject::Person(PersonId(p))),
        _ => Err(StoreError::Backend(
            "a row names both or neither of a pupil and a person".into(),
        )),
    }
}

async fn records_of(
    conn: &mut Conn,
    school: SchoolId,
    subject: Subject,
) -> StoreResult<Vec<ConsentRecord>> {
    let (column, id) = subject_column(subject);
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
                channel: Channel::parse(&r.channel).ok_or_else(|| bad("channel", &r.channel))?,
                state: ConsentState::parse(&r.state).ok_or_else(|| bad("state", &r.state))?,
                source: Source::parse(&r.source).ok_or_else(|| bad("source", &r.source))?,
                at: r.at,
                expires: r.expires,
            })
        })
        .collect()
}

/// The name of a subject of this school who may be in new images or have consent recorded:
/// a pupil on roll or an active member of staff (`NotFound` for anyone else's, `Refused`
/// for a leaver).
async fn name_of(conn: &mut Conn, school: SchoolId, subject: Subject) -> StoreResult<String> {
    let found: Option<(String, bool)> = match subject {
        Subject::Pupil(p) => {
            sqlx::query_as("SELECT full_name, on_roll FROM pupils WHERE school_id = $1 AND id = $2")
                .bind(school.0)
                .bind(p.0)
                .fetch_optional(&mut *conn)
                .await
        }
        Subject::Person(p) => {
            sqlx::query_as(
                "SELECT full_name, status = 'active' FROM people WHERE school_id = $1 AND id = $2",
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
        Some((name, false)) => Err(StoreError::Refused(format!(
            "{name} is no longer at the school: their record is kept, not changed"
        ))),
        Some((name, true)) => Ok(name),
    }
}

/// Each subject's name and answer for `channel` on `today`.
async fn answers_now(
    conn: &mut Conn,
    school: SchoolId,
    people: &[Subject],
    channel: Channel,
    today: NaiveDate,
) -> StoreResult<Vec<(Subject, String, Answer)>> {
    let mut out = Vec::with_capacity(people.len());
    for subject in people {
        let name = name_of(conn, school, *subject).await?;
        let records = records_of(conn, school, *subject).await?;
        out.push((*subject, name, answer(&records, channel, today)));
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
pub(crate) struct CheckRow {
    pub(crate) id: i64,
    pub(crate) checked_by: i64,
    pub(crate) channel: String,
    pub(crate) description: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) verdict: String,
    pub(crate) published_at: Option<DateTime<Utc>>,
    pub(crate) permission_request: Option<i64>,
}

pub(crate) const CHECK_COLUMNS: &str =
    "id, checked_by, channel, description, at, verdict, published_at, permission_request";

#[derive(sqlx::FromRow)]
struct CheckPersonRow {
    pupil_id: Option<i64>,
    person_id: Option<i64>,
    name: String,
    answer: String,
}

async fn load_check(conn: &mut Conn, school: SchoolId, id: i64) -> StoreResult<PublicationCheck> {
    let row: Option<CheckRow> = sqlx::query_as(&format!(
        "SELECT {CHECK_COLUMNS} FROM publication_checks WHERE school_id = $1 AND id = $2"
    ))
    .bind(school.0)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let row = row.ok_or(StoreError::NotFound)?;
    let people: Vec<CheckPersonRow> = sqlx::query_as(
        "SELECT c.pupil_id, c.person_id, COALESCE(u.full_name, p.full_name) AS name, c.answer
         FROM publication_check_people c
         LEFT JOIN pupils u ON u.school_id = c.school_id AND u.id = c.pupil_id
         LEFT JOIN people p ON p.school_id = c.school_id AND p.id = c.person_id
         WHERE c.school_id = $1 AND c.check_id = $2 ORDER BY c.id",
    )
    .bind(school.0)
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(PublicationCheck {
        id: row.id,
        checked_by: PersonId(row.checked_by),
        channel: Channel::parse(&row.channel).ok_or_else(|| bad("channel", &row.channel))?,
        description: row.description,
        at: row.at,
        people: people
            .into_iter()
            .map(|p| {
                Ok(CheckedPerson {
                    subject: subject_of(p.pupil_id, p.person_id)?,
                    name: p.name,
                    answer: p.answer,
                })
            })
            .collect::<StoreResult<_>>()?,
        verdict: Verdict::parse(&row.verdict).ok_or_else(|| bad("verdict", &row.verdict))?,
        published_at: row.published_at,
        permission: row.permission_request.map(RequestId),
    })
}

/// Raises a take-down task for the publisher of every published check that included
/// `subject` on `channel`, after consent `consent` withdrew it; each with its entry and an
/// email to the publisher.
async fn raise_takedowns(
    conn: &mut Conn,
    school: SchoolId,
    consent: i64,
    subject: Subject,
    channel: Channel,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let (column, id) = subject_column(subject);
    let published: Vec<(i64, i64, String)> = sqlx::query_as(&format!(
        "SELECT DISTINCT c.id, c.checked_by, c.description FROM publication_checks c
         JOIN publication_check_people p ON p.school_id = c.school_id AND p.check_id = c.id
         WHERE c.school_id = $1 AND c.channel = $2 AND c.published_at IS NOT NULL
           AND p.{column} = $3
         ORDER BY c.id"
    ))
    .bind(school.0)
    .bind(channel.as_str())
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for (check, publisher, description) in published {
        let task: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO takedown_tasks (school_id, check_id, consent_id, {column}, publisher,
                 raised_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
        ))
        .bind(school.0)
        .bind(check)
        .bind(consent)
        .bind(id)
        .bind(publisher)
        .bind(ts(at))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        let event = Event::TakedownRaised {
            task,
            check,
            consent,
            subject,
            publisher: PersonId(publisher),
        };
        append(conn, school, &event, at).await?;
        if let Some(person) = load_person(conn, school, PersonId(publisher)).await? {
            insert_mail(
                conn,
                &takedown_mail(&person, task, &description, channel, at),
                at,
            )
            .await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    check_id: i64,
    channel: String,
    description: String,
    subject_name: String,
    raised_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    note: Option<String>,
}

const TASK_SELECT: &str = "SELECT t.id, t.check_id, c.channel, c.description,
        COALESCE(u.full_name, p.full_name) AS subject_name, t.raised_at, t.done_at, t.note
     FROM takedown_tasks t
     JOIN publication_checks c ON c.school_id = t.school_id AND c.id = t.check_id
     LEFT JOIN pupils u ON u.school_id = t.school_id AND u.id = t.pupil_id
     LEFT JOIN people p ON p.school_id = t.school_id AND p.id = t.person_id";

fn task_of(r: TaskRow) -> StoreResult<TakedownTask> {
    Ok(TakedownTask {
        id: r.id,
        check: r.check_id,
        channel: Channel::parse(&r.channel).ok_or_else(|| bad("channel", &r.channel))?,
        description: r.description,
        subject_name: r.subject_name,
        raised_at: r.raised_at,
        done_at: r.done_at,
        note: r.note,
    })
}

#[derive(sqlx::FromRow)]
struct PermissionRow {
    kind: String,
    state: String,
    requested_by: i64,
    decided_by: Option<i64>,
    expires: Option<NaiveDate>,
}

/// Refuses a `request` that is not `by`'s own approved, unexpired photo-posting request
/// decided by a headteacher (or, for a headteacher's own, by a governor).
async fn check_permission(
    conn: &mut Conn,
    by: &Actor,
    request: RequestId,
    today: NaiveDate,
) -> StoreResult<()> {
    let row: Option<PermissionRow> = sqlx::query_as(
        "SELECT kind, state, requested_by, decided_by, expires FROM requests
         WHERE school_id = $1 AND id = $2",
    )
    .bind(by.school.0)
    .bind(request.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let refuse = |why: &str| Err(StoreError::Refused(format!("request R-{request}: {why}")));
    let Some(PermissionRow {
        kind,
        state,
        requested_by,
        decided_by,
        expires,
    }) = row
    else {
        return refuse("no such request");
    };
    if requested_by != by.person.0 {
        return refuse("it is not your request");
    }
    if kind != RequestKind::ImagePosting.as_str() {
        return refuse("it is not a request to post photos or videos");
    }
    if state != RequestState::Approved.as_str() || expires.is_some_and(|d| d < today) {
        return refuse("it is not approved, or its approval has expired");
    }
    let decider = match decided_by {
        Some(d) => load_person(conn, by.school, PersonId(d)).await?,
        None => None,
    };
    let by_head = decider.is_some_and(|d| {
        d.roles.contains(&Role::Headteacher)
            || (by.has(Role::Headteacher) && d.roles.contains(&Role::Governor))
    });
    if by_head {
        Ok(())
    } else {
        refuse("it was not approved by the headteacher")
    }
}
