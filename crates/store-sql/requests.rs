//! Requests for permission, advice or a ruling: each step updates the request, adds a
//! row to its history and appends its ledger entry in one transaction, with the emails
//! it causes queued in the outbox in that same transaction. Who may take a step is
//! decided by `undersign_core::requests` from the people as stored now.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use undersign_core::access::Actor;
use undersign_core::ledger::{Event, RulingEvidence};
use undersign_core::person::{Person, Role, Roles};
use undersign_core::requests::{
    Answers, ApprovedItem, Decision, MAX_TEXT_CHARS, Notice, Outcome, REMIND_AFTER_DAYS, Request,
    RequestKind, RequestState, Route, Ruling, Step, StepKind, check_answers, check_decision,
    deciding_roles, implied_expiry, may_decide, request_mail,
};
use undersign_core::store::{Requests, StoreError, StoreResult};
use undersign_core::{PersonId, RequestId, SchoolId};

use crate::BackendStore;
use crate::codec::{from_json, micros, to_json};
use crate::db::{Conn, lock_school, ts};
use crate::errors::db;
use crate::ledger::append;
use crate::outbox::insert_mail;
use crate::people::{PERSON_COLUMNS, PersonRow, load_person};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    requested_by: i64,
    requester_name: String,
    requester_roles: String,
    submitted_at: DateTime<Utc>,
    answers: String,
    state: String,
    route: String,
    decided_by: Option<i64>,
    decider_name: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    decision_note: Option<String>,
    conditions: Option<String>,
    expires: Option<NaiveDate>,
    ruling_number: Option<i64>,
}

const SELECT: &str = "SELECT r.id, r.kind, r.requested_by, p.full_name AS requester_name,
        p.roles AS requester_roles, r.submitted_at, r.answers, r.state, r.route, r.decided_by,
        d.full_name AS decider_name, r.decided_at, r.decision_note, r.conditions, r.expires,
        u.number AS ruling_number
     FROM requests r
     JOIN people p ON p.school_id = r.school_id AND p.id = r.requested_by
     LEFT JOIN people d ON d.school_id = r.school_id AND d.id = r.decided_by
     LEFT JOIN rulings u ON u.school_id = r.school_id AND u.id = r.ruling_id";

fn bad(column: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("requests.{column} holds {value:?}"))
}

/// A request as read, with its requester's roles now (who may decide it depends on them).
struct Loaded {
    request: Request,
    requester_roles: Roles,
}

impl Row {
    fn into_loaded(self) -> StoreResult<Loaded> {
        let kind = RequestKind::parse(&self.kind).ok_or_else(|| bad("kind", &self.kind))?;
        let roles: Vec<Role> = from_json("people.roles", &self.requester_roles)?;
        Ok(Loaded {
            request: Request {
                id: RequestId(self.id),
                kind,
                requested_by: PersonId(self.requested_by),
                requester_name: self.requester_name,
                submitted_at: self.submitted_at,
                answers: from_json("requests.answers", &self.answers)?,
                state: RequestState::parse(&self.state).ok_or_else(|| bad("state", &self.state))?,
                route: role(&self.route)?,
                decided_by: self.decided_by.map(PersonId),
                decider_name: self.decider_name,
                decided_at: self.decided_at,
                decision_note: self.decision_note,
                conditions: self.conditions,
                expires: self.expires,
                ruling: self.ruling_number,
                steps: Vec::new(),
            },
            requester_roles: roles.into_iter().collect(),
        })
    }
}

fn role(text: &str) -> StoreResult<Role> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| bad("route", text))
}

impl Loaded {
    /// Whether `by` may decide it (and so see it).
    fn decidable_by(&self, by: &Actor) -> bool {
        may_decide(
            self.request.route,
            self.request.requested_by,
            &self.requester_roles,
            by.person,
            &by.roles,
        )
        .is_ok()
    }
}

async fn load(conn: &mut Conn, school: SchoolId, id: RequestId) -> StoreResult<Loaded> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE r.school_id = $1 AND r.id = $2"))
            .bind(school.0)
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    let mut loaded = row.ok_or(StoreError::NotFound)?.into_loaded()?;
    loaded.request.steps = steps(conn, school, id).await?;
    Ok(loaded)
}

#[derive(sqlx::FromRow)]
struct RulingRow {
    number: i64,
    request_id: i64,
    statement: i64,
    reasonable: bool,
    text: String,
    published_by: i64,
    publisher_name: String,
    published_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct StepRow {
    id: i64,
    step: String,
    by_id: Option<i64>,
    by_name: Option<String>,
    at: DateTime<Utc>,
    note: String,
}

async fn steps(conn: &mut Conn, school: SchoolId, id: RequestId) -> StoreResult<Vec<Step>> {
    let rows: Vec<StepRow> = sqlx::query_as(
        "SELECT s.id, s.step, s.by_id, p.full_name AS by_name, s.at, s.note FROM request_steps s
         LEFT JOIN people p ON p.school_id = s.school_id AND p.id = s.by_id
         WHERE s.school_id = $1 AND s.request_id = $2 ORDER BY s.id",
    )
    .bind(school.0)
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|r| {
            Ok(Step {
                id: r.id,
                kind: StepKind::parse(&r.step).ok_or_else(|| bad("step", &r.step))?,
                by: r.by_id.map(PersonId),
                by_name: r.by_name,
                at: r.at,
                note: r.note,
            })
        })
        .collect()
}

/// The requests of `school` matching `filter` (SQL after the school's condition, which
/// may use `$2` for `extra`), without their history.
async fn list(
    conn: &mut Conn,
    filter: &str,
    school: SchoolId,
    extra: Option<i64>,
) -> StoreResult<Vec<Loaded>> {
    let sql = format!("{SELECT} WHERE r.school_id = $1 {filter}");
    let mut q = sqlx::query_as::<_, Row>(&sql).bind(school.0);
    if let Some(v) = extra {
        q = q.bind(v);
    }
    q.fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .into_iter()
        .map(Row::into_loaded)
        .collect()
}

/// The role deciding `kind` in `school`: the school's route, or the policy's default.
async fn route_of(conn: &mut Conn, school: SchoolId, kind: RequestKind) -> StoreResult<Role> {
    let set: Option<String> =
        sqlx::query_scalar("SELECT decider FROM request_routes WHERE school_id = $1 AND kind = $2")
            .bind(school.0)
            .bind(kind.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    set.map_or(Ok(kind.default_decider()), |r| role(&r))
}

/// The active people who may decide `r` (never its requester).
async fn deciders(conn: &mut Conn, school: SchoolId, r: &Loaded) -> StoreResult<Vec<Person>> {
    let roles = deciding_roles(r.request.route, &r.requester_roles);
    let rows: Vec<PersonRow> = sqlx::query_as(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE school_id = $1 AND status = 'active'
         AND id <> $2 ORDER BY id"
    ))
    .bind(school.0)
    .bind(r.request.requested_by.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let p = row.into_person()?;
        if roles.iter().any(|role| p.roles.contains(role)) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Adds a step to the history; its id.
async fn add_step(
    conn: &mut Conn,
    school: SchoolId,
    id: RequestId,
    kind: StepKind,
    by: Option<PersonId>,
    at: DateTime<Utc>,
    note: &str,
) -> StoreResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO request_steps (school_id, request_id, step, by_id, at, note)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(school.0)
    .bind(id.0)
    .bind(kind.as_str())
    .bind(by.map(|p| p.0))
    .bind(ts(at))
    .bind(note)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}

async fn set_state(
    conn: &mut Conn,
    school: SchoolId,
    id: RequestId,
    state: RequestState,
) -> StoreResult<()> {
    sqlx::query("UPDATE requests SET state = $1 WHERE school_id = $2 AND id = $3")
        .bind(state.as_str())
        .bind(school.0)
        .bind(id.0)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Who is told of a step.
enum Tell {
    /// Everyone who may decide the request.
    Deciders,
    /// The person who asked.
    Requester,
}

/// Appends `event`, which records step `step` of request `id`, and queues its email to
/// `tell`; the request as it now stands.
async fn record(
    conn: &mut Conn,
    school: SchoolId,
    id: RequestId,
    step: i64,
    event: &Event,
    tell: Tell,
    at: DateTime<Utc>,
) -> StoreResult<Request> {
    append(conn, school, event, at).await?;
    let now = load(conn, school, id).await?;
    let (to, notice) = match tell {
        Tell::Deciders => (
            deciders(conn, school, &now).await?,
            Notice::Waiting { step },
        ),
        Tell::Requester => (
            load_person(conn, school, now.request.requested_by)
                .await?
                .into_iter()
                .collect(),
            Notice::Update { step },
        ),
    };
    for person in &to {
        insert_mail(conn, &request_mail(person, &now.request, notice, at), at).await?;
    }
    Ok(now.request)
}

/// A note, question or reply: trimmed, bounded, and (`needed`) not empty.
fn text(field: &str, raw: &str, needed: bool) -> StoreResult<String> {
    let t = raw.trim();
    if needed && t.is_empty() {
        return Err(StoreError::Refused(format!("{field}: this is needed")));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(StoreError::Refused(format!(
            "{field}: at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(t.to_owned())
}

fn checked(kind: RequestKind, answers: &Answers) -> StoreResult<Answers> {
    check_answers(kind, answers).map_err(|errors| {
        StoreError::Refused(
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

#[async_trait]
impl Requests for BackendStore {
    async fn request_routes(&self, school: SchoolId) -> StoreResult<Vec<Route>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let set: Vec<(String, String)> =
            sqlx::query_as("SELECT kind, decider FROM request_routes WHERE school_id = $1")
                .bind(school.0)
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
        RequestKind::ALL
            .into_iter()
            .map(|kind| {
                let decider = match set.iter().find(|(k, _)| k == kind.as_str()) {
                    Some((_, d)) => role(d)?,
                    None => kind.default_decider(),
                };
                Ok(Route { kind, decider })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %by.school))]
    async fn set_request_route(
        &self,
        by: &Actor,
        kind: RequestKind,
        decider: Role,
        at: DateTime<Utc>,
    ) -> StoreResult<Route> {
        let at = micros(at);
        if !by.has(Role::Headteacher) {
            return Err(StoreError::Refused(
                "only the headteacher says who decides requests".into(),
            ));
        }
        if !kind.decider_choices().contains(&decider) {
            return Err(StoreError::Refused(format!(
                "a {} request cannot be decided by the {}",
                kind.as_str(),
                decider.label()
            )));
        }
        let mut tx = self.write.begin().await.map_err(db)?;
        let route: i64 = sqlx::query_scalar(
            "INSERT INTO request_routes (school_id, kind, decider, set_by, set_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (school_id, kind) DO UPDATE
                 SET decider = excluded.decider, set_by = excluded.set_by, set_at = excluded.set_at
             RETURNING id",
        )
        .bind(by.school.0)
        .bind(kind.as_str())
        .bind(decider.as_str())
        .bind(by.person.0)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::RequestRouteSet {
            route,
            request_kind: kind,
            decider,
            by: by.person,
        };
        append(&mut tx, by.school, &event, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(Route { kind, decider })
    }

    #[tracing::instrument(skip_all, fields(school = %by.school))]
    async fn submit_request(
        &self,
        by: &Actor,
        kind: RequestKind,
        answers: Answers,
        at: DateTime<Utc>,
    ) -> StoreResult<Request> {
        let at = micros(at);
        let answers = checked(kind, &answers)?;
        let mut tx = self.write.begin().await.map_err(db)?;
        let route = route_of(&mut tx, by.school, kind).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO requests (school_id, kind, requested_by, submitted_at, answers, state, route)
             VALUES ($1, $2, $3, $4, $5, 'submitted', $6) RETURNING id",
        )
        .bind(by.school.0)
        .bind(kind.as_str())
        .bind(by.person.0)
        .bind(ts(at))
        .bind(to_json(&answers)?)
        .bind(route.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let id = RequestId(id);
        let step = add_step(
            &mut tx,
            by.school,
            id,
            StepKind::Submitted,
            Some(by.person),
            at,
            "",
        )
        .await?;
        let event = Event::RequestSubmitted {
            request: id,
            step,
            request_kind: kind,
            by: by.person,
            route,
            answers,
        };
        let r = record(&mut tx, by.school, id, step, &event, Tell::Deciders, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, request = %id))]
    async fn ask_more_info(
        &self,
        by: &Actor,
        id: RequestId,
        question: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Request> {
        let at = micros(at);
        let question = text("question", question, true)?;
        let mut tx = self.write.begin().await.map_err(db)?;
        let r = load(&mut tx, by.school, id).await?;
        if !r.decidable_by(by) {
            return Err(refusal(&r, by));
        }
        if r.request.state != RequestState::Submitted {
            return Err(not_waiting(&r.request));
        }
        set_state(&mut tx, by.school, id, RequestState::MoreInfo).await?;
        let step = add_step(
            &mut tx,
            by.school,
            id,
            StepKind::MoreInfoAsked,
            Some(by.person),
            at,
            &question,
        )
        .await?;
        let event = Event::RequestInfoAsked {
            request: id,
            step,
            by: by.person,
            question,
        };
        let r = record(&mut tx, by.school, id, step, &event, Tell::Requester, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, request = %id))]
    async fn answer_request(
        &self,
        by: &Actor,
        id: RequestId,
        reply: &str,
        answers: Answers,
        at: DateTime<Utc>,
    ) -> StoreResult<Request> {
        let at = micros(at);
        let reply = text("reply", reply, true)?;
        let mut tx = self.write.begin().await.map_err(db)?;
        let r = load(&mut tx, by.school, id).await?;
        if r.request.requested_by != by.person {
            return Err(StoreError::NotFound);
        }
        if r.request.state != RequestState::MoreInfo {
            return Err(StoreError::Conflict(format!(
                "the request is {}: nothing was asked",
                r.request.state_label()
            )));
        }
        let answers = checked(r.request.kind, &answers)?;
        sqlx::query(
            "UPDATE requests SET state = 'submitted', answers = $1 WHERE school_id = $2 AND id = $3",
        )
        .bind(to_json(&answers)?)
        .bind(by.school.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let step = add_step(
            &mut tx,
            by.school,
            id,
            StepKind::Answered,
            Some(by.person),
            at,
            &reply,
        )
        .await?;
        let event = Event::RequestAnswered {
            request: id,
            step,
            by: by.person,
            reply,
            answers,
        };
        let r = record(&mut tx, by.school, id, step, &event, Tell::Deciders, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, request = %id))]
    async fn decide_request(
        &self,
        by: &Actor,
        id: RequestId,
        decision: Decision,
        at: DateTime<Utc>,
    ) -> StoreResult<Request> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        // Rulings are numbered under the school's lock, so two published at once on
        // several servers cannot take the same number.
        lock_school(&mut tx, by.school).await?;
        let r = load(&mut tx, by.school, id).await?;
        if !r.decidable_by(by) {
            return Err(refusal(&r, by));
        }
        if r.request.state != RequestState::Submitted {
            return Err(not_waiting(&r.request));
        }
        let kind = r.request.kind;
        check_decision(kind, &r.request.answers, &decision, at.date_naive())
            .map_err(|e| StoreError::Refused(format!("{}: {}", e.field, e.message)))?;
        let note = decision.note.trim().to_owned();
        let approval = decision.approve && kind.outcome() == Outcome::Approval;
        let conditions =
            Some(decision.conditions.trim().to_owned()).filter(|c| approval && !c.is_empty());
        let expires = if decision.approve
            && matches!(kind.outcome(), Outcome::Approval | Outcome::Acknowledgement)
        {
            decision
                .expires
                .or_else(|| implied_expiry(kind, &r.request.answers))
        } else {
            None
        };
        let ruling = match &decision.ruling {
            Some(new) => {
                let number: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(number), 0) + 1 FROM rulings WHERE school_id = $1",
                )
                .bind(by.school.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                let text = new.text.trim().to_owned();
                let rid: i64 = sqlx::query_scalar(
                    "INSERT INTO rulings (school_id, number, request_id, statement, reasonable,
                         text, published_by, published_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(by.school.0)
                .bind(number)
                .bind(id.0)
                .bind(i64::from(new.statement))
                .bind(decision.approve)
                .bind(&text)
                .bind(by.person.0)
                .bind(ts(at))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                Some(RulingEvidence {
                    id: rid,
                    number,
                    statement: new.statement,
                    text,
                })
            }
            None => None,
        };
        let state = if decision.approve {
            RequestState::Approved
        } else {
            RequestState::Declined
        };
        sqlx::query(
            "UPDATE requests SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4,
                 conditions = $5, expires = $6, ruling_id = $7
             WHERE school_id = $8 AND id = $9",
        )
        .bind(state.as_str())
        .bind(by.person.0)
        .bind(ts(at))
        .bind(&note)
        .bind(&conditions)
        .bind(expires)
        .bind(ruling.as_ref().map(|r| r.id))
        .bind(by.school.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let step_kind = if decision.approve {
            StepKind::Approved
        } else {
            StepKind::Declined
        };
        let step = add_step(
            &mut tx,
            by.school,
            id,
            step_kind,
            Some(by.person),
            at,
            &note,
        )
        .await?;
        let event = Event::RequestDecided {
            request: id,
            step,
            by: by.person,
            approved: decision.approve,
            note,
            conditions,
            expires,
            ruling,
        };
        let r = record(&mut tx, by.school, id, step, &event, Tell::Requester, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, request = %id))]
    async fn withdraw_request(
        &self,
        by: &Actor,
        id: RequestId,
        at: DateTime<Utc>,
    ) -> StoreResult<Request> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let r = load(&mut tx, by.school, id).await?;
        if r.request.requested_by != by.person {
            return Err(if r.decidable_by(by) {
                StoreError::Refused("only the requester can withdraw a request".into())
            } else {
                StoreError::NotFound
            });
        }
        if !r.request.state.is_open() {
            return Err(StoreError::Conflict(format!(
                "the request is {} and can no longer be withdrawn",
                r.request.state_label()
            )));
        }
        set_state(&mut tx, by.school, id, RequestState::Withdrawn).await?;
        let step = add_step(
            &mut tx,
            by.school,
            id,
            StepKind::Withdrawn,
            Some(by.person),
            at,
            "",
        )
        .await?;
        let event = Event::RequestWithdrawn {
            request: id,
            step,
            by: by.person,
        };
        append(&mut tx, by.school, &event, at).await?;
        let r = load(&mut tx, by.school, id).await?.request;
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    async fn request(&self, by: &Actor, id: RequestId) -> StoreResult<Request> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let r = load(&mut conn, by.school, id).await?;
        if r.request.requested_by == by.person || r.decidable_by(by) {
            Ok(r.request)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn my_requests(&self, by: &Actor) -> StoreResult<Vec<Request>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        Ok(list(
            &mut conn,
            "AND r.requested_by = $2 ORDER BY r.id DESC",
            by.school,
            Some(by.person.0),
        )
        .await?
        .into_iter()
        .map(|l| l.request)
        .collect())
    }

    async fn request_queue(&self, by: &Actor) -> StoreResult<Vec<Request>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        Ok(list(
            &mut conn,
            "AND r.state IN ('submitted', 'more_info') ORDER BY r.id",
            by.school,
            None,
        )
        .await?
        .into_iter()
        .filter(|l| l.decidable_by(by))
        .map(|l| l.request)
        .collect())
    }

    async fn approved_items(
        &self,
        school: SchoolId,
        query: &str,
        today: NaiveDate,
    ) -> StoreResult<Vec<ApprovedItem>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows = list(
            &mut conn,
            "AND r.kind = 'install' AND r.state = 'approved' ORDER BY r.id",
            school,
            None,
        )
        .await?;
        let mut items: Vec<ApprovedItem> = rows
            .into_iter()
            .map(|l| l.request)
            .filter(|r| r.expires.is_none_or(|d| d >= today))
            .map(|r| ApprovedItem {
                request: r.id,
                item: r.answers.get("item").cloned().unwrap_or_default(),
                purpose: r.answers.get("purpose").cloned().unwrap_or_default(),
                place: r.answers.get("where").cloned(),
                conditions: r.conditions,
                expires: r.expires,
                approved_by: r.decider_name.unwrap_or_default(),
                approved_at: r.decided_at.unwrap_or(r.submitted_at),
            })
            .filter(|i| i.matches(query))
            .collect();
        items.sort_by_key(|i| (i.item.to_lowercase(), i.request));
        Ok(items)
    }

    async fn rulings(&self, school: SchoolId) -> StoreResult<Vec<Ruling>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<RulingRow> = sqlx::query_as(
            "SELECT u.number, u.request_id, u.statement, u.reasonable, u.text,
                    u.published_by, p.full_name AS publisher_name, u.published_at
             FROM rulings u JOIN people p ON p.school_id = u.school_id AND p.id = u.published_by
             WHERE u.school_id = $1 ORDER BY u.number DESC",
        )
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok(Ruling {
                    number: r.number,
                    request: RequestId(r.request_id),
                    statement: u32::try_from(r.statement)
                        .map_err(|_| bad("statement", &r.statement.to_string()))?,
                    reasonable: r.reasonable,
                    text: r.text,
                    published_by: PersonId(r.published_by),
                    publisher_name: r.publisher_name,
                    published_at: r.published_at,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn expire_requests(
        &self,
        school: SchoolId,
        today: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE requests SET state = 'expired'
             WHERE school_id = $1 AND state = 'approved' AND expires < $2 RETURNING id",
        )
        .bind(school.0)
        .bind(today)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        ids.sort_unstable();
        for id in &ids {
            let id = RequestId(*id);
            let step = add_step(&mut tx, school, id, StepKind::Expired, None, at, "").await?;
            append(
                &mut tx,
                school,
                &Event::RequestExpired { request: id, step },
                at,
            )
            .await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(ids.len())
    }

    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn remind_request_deciders(
        &self,
        school: SchoolId,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let now = micros(now);
        let mut tx = self.write.begin().await.map_err(db)?;
        let waiting = list(
            &mut tx,
            "AND r.state = 'submitted' ORDER BY r.id",
            school,
            None,
        )
        .await?;
        let mut queued = 0;
        for mut r in waiting {
            r.request.steps = steps(&mut tx, school, r.request.id).await?;
            let Some(since) = r
                .request
                .steps
                .iter()
                .rev()
                .find(|s| matches!(s.kind, StepKind::Submitted | StepKind::Answered))
            else {
                continue;
            };
            let (since, days) = (since.id, (now - since.at).num_days());
            if days < REMIND_AFTER_DAYS {
                continue;
            }
            // Once per multiple: the key names the days waited, rounded down to one.
            let days = days - days % REMIND_AFTER_DAYS;
            for person in deciders(&mut tx, school, &r).await? {
                let mail = request_mail(&person, &r.request, Notice::Reminder { since, days }, now);
                if insert_mail(&mut tx, &mail, now).await?.is_some() {
                    queued += 1;
                }
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(queued)
    }
}

/// Why `by` may not decide `r`: a refusal to its requester, a plain "not found" to anyone
/// else (they may not know it exists).
fn refusal(r: &Loaded, by: &Actor) -> StoreError {
    if r.request.requested_by == by.person {
        StoreError::Refused("nobody decides their own request".into())
    } else {
        StoreError::NotFound
    }
}

fn not_waiting(r: &Request) -> StoreError {
    StoreError::Conflict(format!(
        "the request is {} and is not waiting for a decision",
        r.state_label()
    ))
}
