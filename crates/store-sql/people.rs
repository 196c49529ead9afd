//! People, passwords, sessions and login throttling. Adding or editing a person is
//! recorded in the ledger; an email is unique within a school, and a line manager must be
//! someone in the same school.

use async_trait::async_trait;
use undersign_core::access::PeopleAdmin;
use undersign_core::ledger::Event;
use undersign_core::person::{Email, NewPerson, Person, PersonStatus, PersonUpdate, Role, Roles};
use undersign_core::store::{LoginAccount, People, StoreError, StoreResult};
use undersign_core::time;
use undersign_core::{PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::{from_json, to_json, trusted};
use crate::db::{Conn, lock_school, ts};
use crate::errors::{OnConstraint, db};
use crate::ledger::append;

#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    id: i64,
    school_id: i64,
    full_name: String,
    email: String,
    roles: String,
    line_manager_id: Option<i64>,
    status: String,
}

pub(crate) const PERSON_COLUMNS: &str =
    "id, school_id, full_name, email, roles, line_manager_id, status";

impl PersonRow {
    pub(crate) fn id(&self) -> PersonId {
        PersonId(self.id)
    }

    pub(crate) fn into_person(self) -> StoreResult<Person> {
        let roles: Vec<Role> = from_json("people.roles", &self.roles)?;
        Ok(Person {
            id: PersonId(self.id),
            school: SchoolId(self.school_id),
            full_name: trusted("people.full_name", self.full_name)?,
            email: trusted("people.email", self.email)?,
            roles: roles.into_iter().collect(),
            line_manager: self.line_manager_id.map(PersonId),
            status: PersonStatus::parse(&self.status)
                .map_err(|e| StoreError::Backend(format!("people.status: {e}")))?,
        })
    }
}

pub(crate) async fn load_person(
    conn: &mut Conn,
    school: SchoolId,
    id: PersonId,
) -> StoreResult<Option<Person>> {
    let row: Option<PersonRow> = sqlx::query_as(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE school_id = $1 AND id = $2"
    ))
    .bind(school.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(PersonRow::into_person).transpose()
}

/// Refuses a line manager who is not a person of this school (or is the person).
async fn check_line_manager(
    conn: &mut Conn,
    school: SchoolId,
    person: Option<PersonId>,
    line_manager: Option<PersonId>,
) -> StoreResult<()> {
    let Some(manager) = line_manager else {
        return Ok(());
    };
    if Some(manager) == person {
        return Err(StoreError::Refused(
            "a person cannot be their own line manager".to_string(),
        ));
    }
    if load_person(conn, school, manager).await?.is_none() {
        return Err(StoreError::Refused(
            "the line manager must be someone in this school".to_string(),
        ));
    }
    Ok(())
}

/// Refuses a change that would leave the school with no active headteacher (`person`
/// being the one losing the role or leaving).
async fn refuse_last_headteacher(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
) -> StoreResult<()> {
    let others: Vec<(String, String)> = sqlx::query_as(
        "SELECT roles, status FROM people WHERE school_id = $1 AND id <> $2 AND status = 'active'",
    )
    .bind(school.0)
    .bind(person.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let any = others.iter().any(|(roles, _)| {
        from_json::<Vec<Role>>("people.roles", roles).is_ok_and(|r| r.contains(&Role::Headteacher))
    });
    if any {
        Ok(())
    } else {
        Err(StoreError::Refused(
            "the school would be left without a headteacher: give the role to the new headteacher first".into(),
        ))
    }
}

/// Stores a password hash (the caller records the change in the ledger).
pub(crate) async fn store_password(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
    password_hash: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE people SET password_hash = $3, updated_at = $4 WHERE school_id = $1 AND id = $2",
    )
    .bind(school.0)
    .bind(person.0)
    .bind(password_hash)
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// When and by whom the person's email was last changed by an administrator or an
/// import (`None` inside: the command line), if ever.
pub(crate) async fn email_changed(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
) -> StoreResult<Option<(Option<PersonId>, chrono::DateTime<chrono::Utc>)>> {
    let row: Option<(Option<chrono::DateTime<chrono::Utc>>, Option<i64>)> = sqlx::query_as(
        "SELECT email_changed_at, email_changed_by FROM people WHERE school_id = $1 AND id = $2",
    )
    .bind(school.0)
    .bind(person.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.and_then(|(at, by)| Some((by.map(PersonId), at?))))
}

/// Notes who changed the person's email and when, if `old` differs from `new`.
pub(crate) async fn note_email_change(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
    old: &Email,
    new: &Email,
    by: Option<PersonId>,
    at: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    if old == new {
        return Ok(());
    }
    sqlx::query(
        "UPDATE people SET email_changed_at = $3, email_changed_by = $4
         WHERE school_id = $1 AND id = $2",
    )
    .bind(school.0)
    .bind(person.0)
    .bind(ts(at))
    .bind(by.map(|p| p.0))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

fn roles_json(roles: &Roles) -> StoreResult<String> {
    to_json(&roles.iter().collect::<Vec<_>>())
}

fn email_taken(email: &Email) -> impl FnOnce() -> StoreError + '_ {
    move || {
        StoreError::Conflict(format!(
            "someone in this school already has the email {email}"
        ))
    }
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

#[async_trait]
impl People for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn add_person(&self, admin: &PeopleAdmin, person: NewPerson) -> StoreResult<Person> {
        let school = admin.school();
        let at = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        // The school's lock before anything else, as every transaction that appends does.
        lock_school(&mut tx, school).await?;
        admin
            .check_grant(None, &person.roles, &person.email)
            .map_err(StoreError::Refused)?;
        check_line_manager(&mut tx, school, None, person.line_manager).await?;
        let row: PersonRow = sqlx::query_as(&format!(
            "INSERT INTO people (school_id, full_name, email, roles, line_manager_id, status,
                                 password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $7)
             RETURNING {PERSON_COLUMNS}"
        ))
        .bind(school.0)
        .bind(person.full_name.as_str())
        .bind(person.email.as_str())
        .bind(roles_json(&person.roles)?)
        .bind(person.line_manager.map(|p| p.0))
        .bind(&person.password_hash)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .on_constraint("people_school_id_email_key", email_taken(&person.email))?;
        let added = row.into_person()?;
        append(&mut tx, school, &recorded(&added, admin.by()), at).await?;
        tx.commit().await.map_err(db)?;
        Ok(added)
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school(), person = %id))]
    async fn update_person(
        &self,
        admin: &PeopleAdmin,
        id: PersonId,
        update: PersonUpdate,
    ) -> StoreResult<Person> {
        let school = admin.school();
        let at = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let Some(before) = load_person(&mut tx, school, id).await? else {
            return Err(StoreError::NotFound);
        };
        admin
            .check_grant(
                Some((&before.roles, &before.email)),
                &update.roles,
                &update.email,
            )
            .map_err(StoreError::Refused)?;
        if before.roles.contains(&Role::Headteacher) && !update.roles.contains(&Role::Headteacher)
            || before.roles.contains(&Role::Headteacher) && update.status == PersonStatus::Left
        {
            refuse_last_headteacher(&mut tx, school, id).await?;
        }
        check_line_manager(&mut tx, school, Some(id), update.line_manager).await?;
        let row: PersonRow = sqlx::query_as(&format!(
            "UPDATE people SET full_name = $3, email = $4, roles = $5, line_manager_id = $6,
                               status = $7, updated_at = $8
             WHERE school_id = $1 AND id = $2
             RETURNING {PERSON_COLUMNS}"
        ))
        .bind(school.0)
        .bind(id.0)
        .bind(update.full_name.as_str())
        .bind(update.email.as_str())
        .bind(roles_json(&update.roles)?)
        .bind(update.line_manager.map(|p| p.0))
        .bind(update.status.as_str())
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .on_constraint("people_school_id_email_key", email_taken(&update.email))?;
        let updated = row.into_person()?;
        note_email_change(
            &mut tx,
            school,
            id,
            &before.email,
            &updated.email,
            admin.by(),
            at,
        )
        .await?;
        if updated.status == PersonStatus::Left {
            // A leaver cannot log in: end their sessions with the change.
            sqlx::query("DELETE FROM sessions WHERE school_id = $1 AND person_id = $2")
                .bind(school.0)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        append(&mut tx, school, &recorded(&updated, admin.by()), at).await?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn person(&self, school: SchoolId, id: PersonId) -> StoreResult<Option<Person>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_person(&mut conn, school, id).await
    }

    async fn people(&self, school: SchoolId) -> StoreResult<Vec<Person>> {
        let rows: Vec<PersonRow> = sqlx::query_as(&format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE school_id = $1 ORDER BY full_name, id"
        ))
        .bind(school.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter().map(PersonRow::into_person).collect()
    }

    async fn login_accounts(&self, email: &Email) -> StoreResult<Vec<LoginAccount>> {
        #[derive(sqlx::FromRow)]
        struct AccountRow {
            #[sqlx(flatten)]
            person: PersonRow,
            school_name: String,
            password_hash: String,
        }
        let rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT p.id, p.school_id, p.full_name, p.email, p.roles, p.line_manager_id,
                    p.status, s.name AS school_name, p.password_hash
             FROM people p JOIN schools s ON s.id = p.school_id
             WHERE p.email = $1 AND p.status = 'active' AND p.password_hash IS NOT NULL
             ORDER BY s.name, p.id",
        )
        .bind(email.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok(LoginAccount {
                    person: r.person.into_person()?,
                    school_name: r.school_name,
                    password_hash: r.password_hash,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %school, person = %person))]
    async fn set_password(
        &self,
        school: SchoolId,
        person: PersonId,
        password_hash: &str,
    ) -> StoreResult<()> {
        let at = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        store_password(&mut tx, school, person, password_hash, at).await?;
        let event = Event::PasswordChanged {
            person,
            reset_sent_by: None,
        };
        append(&mut tx, school, &event, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn password_hash(
        &self,
        school: SchoolId,
        person: PersonId,
    ) -> StoreResult<Option<String>> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM people WHERE school_id = $1 AND id = $2")
                .bind(school.0)
                .bind(person.0)
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        Ok(hash.flatten())
    }
}
