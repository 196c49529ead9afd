//! Governed disclosure of a person's Internet log: requests, decisions, readings and
//! expiry, each with its ledger entry in the transaction that records it. Who may do what
//! is decided by `undersign_core::disclosure` from the people as stored now.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use undersign_core::access::Actor;
use undersign_core::disclosure::{
    Decision, Disclosure, DisclosureState, MAX_NOTICE_DELAY_DAYS, MAX_OPEN_DAYS, NewDisclosure,
    PersonLog, decider_for, may_decide, may_request,
};
use undersign_core::ledger::Event;
use undersign_core::person::{Person, Role};
use undersign_core::store::{Disclosures, Logs, People, Reading, StoreError, StoreResult};
use undersign_core::time::rfc3339;
use undersign_core::{DisclosureId, PersonId, SchoolId};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{Conn, ts};
use crate::errors::db;
use crate::ledger::append;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    subject_id: i64,
    subject_name: String,
    requested_by: i64,
    requester_name: String,
    requested_at: DateTime<Utc>,
    from_day: NaiveDate,
    to_day: NaiveDate,
    reason: String,
    state: String,
    decided_by: Option<i64>,
    decider_name: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    decision_note: Option<String>,
    open_until: Option<DateTime<Utc>>,
    notice_from: Option<NaiveDate>,
    notice_reason: Option<String>,
}

const SELECT: &str = "SELECT d.id, d.subject_id, s.full_name AS subject_name, d.requested_by,
        r.full_name AS requester_name, d.requested_at, d.from_day, d.to_day, d.reason, d.state,
        d.decided_by, k.full_name AS decider_name, d.decided_at, d.decision_note, d.open_until,
        d.notice_from, d.notice_reason
     FROM disclosures d
     JOIN people s ON s.school_id = d.school_id AND s.id = d.subject_id
     JOIN people r ON r.school_id = d.school_id AND r.id = d.requested_by
     LEFT JOIN people k ON k.school_id = d.school_id AND k.id = d.decided_by";

async fn load(conn: &mut Conn, school: SchoolId, id: DisclosureId) -> StoreResult<Disclosure> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE d.school_id = $1 AND d.id = $2"))
            .bind(school.0)
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    let row = row.ok_or(StoreError::NotFound)?;
    with_views(conn, school, vec![row])
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

async fn with_views(
    conn: &mut Conn,
    school: SchoolId,
    rows: Vec<Row>,
) -> StoreResult<Vec<Disclosure>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let views: Vec<(DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT v.viewed_at, p.full_name FROM disclosure_views v
             JOIN people p ON p.school_id = v.school_id AND p.id = v.viewed_by
             WHERE v.school_id = $1 AND v.disclosure_id = $2 ORDER BY v.id",
        )
        .bind(school.0)
        .bind(row.id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        out.push(Disclosure {
            id: DisclosureId(row.id),
            subject: PersonId(row.subject_id),
            subject_name: row.subject_name,
            requested_by: PersonId(row.requested_by),
            requester_name: row.requester_name,
            requested_at: row.requested_at,
            from: row.from_day,
            to: row.to_day,
            reason: row.reason,
            state: DisclosureState::parse(&row.state)
                .ok_or_else(|| StoreError::Backend(format!("disclosure state {:?}", row.state)))?,
            decided_by: row.decided_by.map(PersonId),
            decider_name: row.decider_name,
            decided_at: row.decided_at,
            decision_note: row.decision_note,
            open_until: row.open_until,
            notice_from: row.notice_from,
            notice_reason: row.notice_reason,
            views,
        });
    }
    Ok(out)
}

impl BackendStore {
    async fn person_of(&self, school: SchoolId, id: PersonId) -> StoreResult<Person> {
        People::person(self, school, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Whether `by` is the person the school named to decide the headteacher's requests.
    async fn is_named_decider(&self, by: &Actor) -> StoreResult<bool> {
        let named = Logs::log_settings(self, by.school)
            .await?
            .head_requests_decider;
        Ok(named == Some(by.person))
    }
}

/// Whether `by` may see the record of `d` (not the log): its requester, a headteacher, or
/// (`named_decider`) the person named to decide the headteacher's requests.
fn may_see(by: &Actor, d: &Disclosure, named_decider: bool) -> bool {
    d.requested_by == by.person || by.has(Role::Headteacher) || named_decider
}

#[async_trait]
impl Disclosures for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %by.school))]
    async fn request_disclosure(
        &self,
        by: &Actor,
        new: NewDisclosure,
        at: DateTime<Utc>,
    ) -> StoreResult<Disclosure> {
        let at = micros(at);
        let requester = self.person_of(by.school, by.person).await?;
        let subject = self.person_of(by.school, new.subject).await?;
        may_request(&requester, &subject).map_err(StoreError::Refused)?;
        let mut tx = self.write.begin().await.map_err(db)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO disclosures (school_id, subject_id, requested_by, requested_at,
                 from_day, to_day, reason, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested') RETURNING id",
        )
        .bind(by.school.0)
        .bind(new.subject.0)
        .bind(by.person.0)
        .bind(ts(at))
        .bind(new.from)
        .bind(new.to)
        .bind(&new.reason)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::DisclosureRequested {
            disclosure: DisclosureId(id),
            subject: new.subject,
            requested_by: by.person,
            from: new.from,
            to: new.to,
            reason: new.reason,
        };
        append(&mut tx, by.school, &event, at).await?;
        let d = load(&mut tx, by.school, DisclosureId(id)).await?;
        tx.commit().await.map_err(db)?;
        Ok(d)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, disclosure = %id))]
    async fn withdraw_disclosure(
        &self,
        by: &Actor,
        id: DisclosureId,
        at: DateTime<Utc>,
    ) -> StoreResult<Disclosure> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let d = load(&mut tx, by.school, id).await?;
        if d.requested_by != by.person {
            return Err(StoreError::Refused(
                "only the requester can withdraw a request".into(),
            ));
        }
        if d.state != DisclosureState::Requested {
            return Err(StoreError::Conflict(format!(
                "the request is {} and can no longer be withdrawn",
                d.state.as_str()
            )));
        }
        sqlx::query("UPDATE disclosures SET state = 'withdrawn' WHERE school_id = $1 AND id = $2")
            .bind(by.school.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let event = Event::DisclosureWithdrawn {
            disclosure: id,
            by: by.person,
        };
        append(&mut tx, by.school, &event, at).await?;
        let d = load(&mut tx, by.school, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(d)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, disclosure = %id))]
    async fn decide_disclosure(
        &self,
        by: &Actor,
        id: DisclosureId,
        decision: Decision,
        at: DateTime<Utc>,
    ) -> StoreResult<Disclosure> {
        let at = micros(at);
        let decider = self.person_of(by.school, by.person).await?;
        let named = Logs::log_settings(self, by.school)
            .await?
            .head_requests_decider;
        let mut tx = self.write.begin().await.map_err(db)?;
        let d = load(&mut tx, by.school, id).await?;
        if d.state != DisclosureState::Requested {
            return Err(StoreError::Conflict(format!(
                "the request is already {}",
                d.state.as_str()
            )));
        }
        let requester = self.person_of(by.school, d.requested_by).await?;
        let rule = decider_for(requester.roles.contains(&Role::Headteacher), named);
        may_decide(rule, d.requested_by, &decider).map_err(StoreError::Refused)?;
        if decider.id == d.subject {
            return Err(StoreError::Refused(
                "nobody decides a request for their own log".into(),
            ));
        }
        let (approved, note, open_until, notice) = match decision {
            Decision::Approve {
                open_days,
                notice_delay,
                note,
            } => {
                if !(1..=MAX_OPEN_DAYS).contains(&open_days) {
                    return Err(StoreError::Refused(format!(
                        "an approval stays open between 1 and {MAX_OPEN_DAYS} days"
                    )));
                }
                if let Some((until, reason)) = &notice_delay {
                    let latest = at.date_naive() + chrono::Days::new(MAX_NOTICE_DELAY_DAYS.into());
                    if *until > latest || *until <= at.date_naive() {
                        return Err(StoreError::Refused(format!(
                            "the person's notice can be held back for at most {MAX_NOTICE_DELAY_DAYS} days"
                        )));
                    }
                    if reason.trim().chars().count() < 10 {
                        return Err(StoreError::Refused(
                            "say why the person's notice is held back".into(),
                        ));
                    }
                }
                (
                    true,
                    note,
                    Some(at + TimeDelta::days(i64::from(open_days))),
                    notice_delay,
                )
            }
            Decision::Decline { note } => (false, note, None, None),
        };
        let note = note.trim().to_owned();
        sqlx::query(
            "UPDATE disclosures SET state = $1, decided_by = $2, decided_at = $3,
                 decision_note = $4, open_until = $5, notice_from = $6, notice_reason = $7
             WHERE school_id = $8 AND id = $9",
        )
        .bind(if approved { "approved" } else { "declined" })
        .bind(by.person.0)
        .bind(ts(at))
        .bind(&note)
        .bind(open_until.map(ts))
        .bind(notice.as_ref().map(|(d, _)| *d))
        .bind(notice.as_ref().map(|(_, r)| r.trim().to_owned()))
        .bind(by.school.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::DisclosureDecided {
            disclosure: id,
            by: by.person,
            approved,
            note,
            open_until: open_until.map(rfc3339),
            notice_from: notice.as_ref().map(|(d, _)| *d),
            notice_reason: notice.map(|(_, r)| r.trim().to_owned()),
        };
        append(&mut tx, by.school, &event, at).await?;
        let d = load(&mut tx, by.school, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(d)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school, disclosure = %id))]
    async fn read_disclosure(
        &self,
        by: &Actor,
        id: DisclosureId,
        reading: Reading,
        at: DateTime<Utc>,
    ) -> StoreResult<(Disclosure, PersonLog)> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        let d = load(&mut tx, by.school, id).await?;
        if d.requested_by != by.person {
            return Err(StoreError::Refused(
                "only the person who asked for this log can read it".into(),
            ));
        }
        if !d.is_open(at) {
            return Err(StoreError::Refused(match d.state {
                DisclosureState::Approved | DisclosureState::Expired => {
                    "this disclosure has expired: ask again if the log is still needed".into()
                }
                other => format!("this request is {}, not approved", other.as_str()),
            }));
        }
        let view: i64 = sqlx::query_scalar(
            "INSERT INTO disclosure_views (school_id, disclosure_id, viewed_by, viewed_at, what)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(by.school.0)
        .bind(id.0)
        .bind(by.person.0)
        .bind(ts(at))
        .bind(reading.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let event = Event::DisclosureViewed {
            disclosure: id,
            view,
            by: by.person,
            what: reading.as_str().into(),
        };
        append(&mut tx, by.school, &event, at).await?;
        let d = load(&mut tx, by.school, id).await?;
        tx.commit().await.map_err(db)?;
        let mut conn = self.read.acquire().await.map_err(db)?;
        let log = crate::logs::person_log(&mut conn, by.school, d.subject, d.from, d.to).await?;
        Ok((d, log))
    }

    async fn disclosure(&self, by: &Actor, id: DisclosureId) -> StoreResult<Disclosure> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let d = load(&mut conn, by.school, id).await?;
        if may_see(by, &d, self.is_named_decider(by).await?) {
            Ok(d)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn disclosures_for(&self, by: &Actor) -> StoreResult<Vec<Disclosure>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "{SELECT} WHERE d.school_id = $1 ORDER BY d.id DESC"
        ))
        .bind(by.school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let named = self.is_named_decider(by).await?;
        Ok(with_views(&mut conn, by.school, rows)
            .await?
            .into_iter()
            .filter(|d| may_see(by, d, named))
            .collect())
    }

    async fn disclosures_about_me(
        &self,
        by: &Actor,
        today: NaiveDate,
    ) -> StoreResult<Vec<Disclosure>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "{SELECT} WHERE d.school_id = $1 AND d.subject_id = $2 ORDER BY d.id DESC"
        ))
        .bind(by.school.0)
        .bind(by.person.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        Ok(with_views(&mut conn, by.school, rows)
            .await?
            .into_iter()
            .filter(|d| d.noticed(today))
            .collect())
    }

    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn expire_disclosures(&self, school: SchoolId, now: DateTime<Utc>) -> StoreResult<usize> {
        let now = micros(now);
        let mut tx = self.write.begin().await.map_err(db)?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE disclosures SET state = 'expired'
             WHERE school_id = $1 AND state = 'approved' AND open_until <= $2 RETURNING id",
        )
        .bind(school.0)
        .bind(ts(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut ids = ids;
        ids.sort_unstable();
        for id in &ids {
            let event = Event::DisclosureExpired {
                disclosure: DisclosureId(*id),
            };
            append(&mut tx, school, &event, now).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(ids.len())
    }
}
