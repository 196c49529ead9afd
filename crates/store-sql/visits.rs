//! Reception: kiosks, the visitor rules, visitor sign-in under the visitor AUP (signed now
//! or covered by an earlier signature), sign-out, the end-of-day sign-out and the purge
//! of visitor personal data. Every change that is evidence appends its ledger entry in
//! the same transaction, after taking the school's lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use undersign_core::access::{KioskAdmin, Reception};
use undersign_core::ledger::{Event, VisitorSignatureEvidence};
use undersign_core::outbox::{Deferred, NewMail};
use undersign_core::person::{Email, PersonStatus, collapse_spaces};
use undersign_core::policy::{PolicyVersion, sha256_hex};
use undersign_core::signing::SignatureMark;
use undersign_core::store::{StoreError, StoreResult, Visits};
use undersign_core::visits::{
    Coverage, NewVisit, PersonalData, SignOutBy, Visit, VisitState, VisitorCode, VisitorDetails,
    VisitorPersonal, VisitorSettings,
};
use undersign_core::{KioskId, PersonId, SchoolId, VersionId, VisitId};

use crate::BackendStore;
use crate::codec::{from_json, micros, to_json};
use crate::db::{Conn, lock_school, ts};
use crate::errors::db;
use crate::ledger::append;
use crate::outbox::insert_mail;
use crate::people::load_person;
use crate::policies::load_version;
use crate::visitor_coverage::{coverage_in, current_visitor_version, same_name};

const VISIT_SELECT: &str = "SELECT v.id, v.school_id, v.kiosk_id, v.host_id,
        p.full_name AS host_name, v.state, v.arrived_at, v.departed_at, v.signed_out_json,
        v.full_name, v.organisation, v.email, v.car_registration, v.visitor_code,
        v.personal_sha256, v.purged_at, v.version_id, v.mark_kind, v.covered_by,
        v.auth_json, v.ledger_seq, v.ledger_hash
    FROM visits v
    JOIN people p ON p.school_id = v.school_id AND p.id = v.host_id";

#[derive(sqlx::FromRow)]
struct VisitRow {
    id: i64,
    school_id: i64,
    kiosk_id: Option<i64>,
    host_id: i64,
    host_name: String,
    state: String,
    arrived_at: DateTime<Utc>,
    departed_at: Option<DateTime<Utc>>,
    signed_out_json: Option<String>,
    full_name: Option<String>,
    organisation: Option<String>,
    email: Option<String>,
    car_registration: Option<String>,
    visitor_code: Option<String>,
    personal_sha256: String,
    purged_at: Option<DateTime<Utc>>,
    version_id: Option<i64>,
    mark_kind: Option<String>,
    covered_by: Option<i64>,
    auth_json: String,
    ledger_seq: Option<i64>,
    ledger_hash: Option<String>,
}

impl VisitRow {
    fn into_visit(self) -> StoreResult<Visit> {
        let state = match (self.state.as_str(), self.departed_at, self.signed_out_json) {
            ("on_site", _, _) => VisitState::OnSite,
            ("auto_signed_out", Some(at), _) => VisitState::AutoSignedOut { at },
            ("signed_out", Some(at), Some(by)) => VisitState::SignedOut {
                at,
                by: from_json("visits.signed_out_json", &by)?,
            },
            (other, _, _) => {
                return Err(StoreError::Backend(format!(
                    "visit {} has an inconsistent state {other:?}",
                    self.id
                )));
            }
        };
        let personal = match (self.full_name, self.visitor_code) {
            (Some(full_name), Some(visitor_code)) => Some(VisitorPersonal {
                full_name,
                organisation: self.organisation,
                email: self.email,
                car_registration: self.car_registration,
                visitor_code,
            }),
            _ => None,
        };
        Ok(Visit {
            id: VisitId(self.id),
            school: SchoolId(self.school_id),
            kiosk: self.kiosk_id.map(KioskId),
            host: PersonId(self.host_id),
            host_name: self.host_name,
            state,
            arrived_at: self.arrived_at,
            personal,
            personal_sha256: self.personal_sha256,
            purged_at: self.purged_at,
            signed_version: self.version_id.map(VersionId),
            mark_kind: self.mark_kind,
            covered_by: self.covered_by.map(VisitId),
            auth: from_json("visits.auth_json", &self.auth_json)?,
            ledger_seq: self.ledger_seq.unwrap_or_default(),
            ledger_hash: self.ledger_hash.unwrap_or_default(),
        })
    }
}

async fn load_visit(conn: &mut Conn, school: SchoolId, id: VisitId) -> StoreResult<Option<Visit>> {
    let row: Option<VisitRow> = sqlx::query_as(&format!(
        "{VISIT_SELECT} WHERE v.school_id = $1 AND v.id = $2"
    ))
    .bind(school.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(VisitRow::into_visit).transpose()
}

pub(crate) async fn load_settings(
    conn: &mut Conn,
    school: SchoolId,
) -> StoreResult<VisitorSettings> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT resign_after_days, retention_days FROM visitor_settings WHERE school_id = $1",
    )
    .bind(school.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map_or_else(
        VisitorSettings::default,
        |(resign_after_days, retention_days)| VisitorSettings {
            resign_after_days,
            retention_days,
        },
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends the sign-out of a visit that is on site and records it on the row.
async fn sign_out_in(
    conn: &mut Conn,
    school: SchoolId,
    id: VisitId,
    by: SignOutBy,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let visit = load_visit(conn, school, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let state = visit
        .state
        .sign_out(visit.arrived_at, at, by.clone())
        .map_err(|e| StoreError::Conflict(e.to_string()))?;
    let flagged = state.flagged();
    sqlx::query(
        "UPDATE visits SET state = $3, departed_at = $4, signed_out_json = $5, flagged = $6
         WHERE school_id = $1 AND id = $2 AND state = 'on_site'",
    )
    .bind(school.0)
    .bind(id.0)
    .bind(state.code())
    .bind(ts(at))
    .bind(to_json(&by)?)
    .bind(flagged)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    append(
        conn,
        school,
        &Event::VisitorSignedOut {
            visit: id,
            by,
            flagged,
        },
        at,
    )
    .await?;
    Ok(())
}

/// A visit's personal columns: what its ledger entry hashes, with their salt.
#[derive(sqlx::FromRow)]
pub(crate) struct PersonalColumns {
    pub(crate) full_name: Option<String>,
    organisation: Option<String>,
    email: Option<String>,
    car_registration: Option<String>,
    pub(crate) visitor_code: Option<String>,
    typed_name: Option<String>,
    mark_png: Option<Vec<u8>>,
    mark_text: Option<String>,
    pub(crate) salt: Option<String>,
}

/// The columns of [`PersonalColumns`], for a `SELECT` on `visits`.
pub(crate) const PERSONAL_COLUMNS: &str = "full_name, organisation, email, car_registration, \
     visitor_code, typed_name, mark_png, mark_text, salt";

impl PersonalColumns {
    /// The fields exactly as hashed at sign-in, and the salt; `None` once the name, the
    /// visitor code or the salt is gone (purged), an error for a salt that is not hex.
    pub(crate) fn personal(&self) -> Result<Option<(PersonalData, Vec<u8>)>, String> {
        let (Some(full_name), Some(visitor_code), Some(salt)) =
            (&self.full_name, &self.visitor_code, &self.salt)
        else {
            return Ok(None);
        };
        let salt = ::hex::decode(salt).map_err(|_| "its salt is not hex".to_string())?;
        let mark_sha256 = match (&self.mark_png, &self.mark_text) {
            (Some(png), _) => Some(sha256_hex(png)),
            (None, Some(text)) => Some(sha256_hex(text.as_bytes())),
            (None, None) => None,
        };
        Ok(Some((
            PersonalData {
                full_name: full_name.clone(),
                organisation: self.organisation.clone(),
                email: self.email.clone(),
                car_registration: self.car_registration.clone(),
                visitor_code: visitor_code.clone(),
                typed_name: self.typed_name.clone(),
                mark_sha256,
            },
            salt,
        )))
    }
}

#[async_trait]
impl Visits for BackendStore {
    async fn visitor_settings(&self, school: SchoolId) -> StoreResult<VisitorSettings> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_settings(&mut conn, school).await
    }

    #[tracing::instrument(skip_all, fields(school = %admin.school()))]
    async fn set_visitor_settings(
        &self,
        admin: &KioskAdmin,
        settings: VisitorSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO visitor_settings (school_id, resign_after_days, retention_days,
                    updated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (school_id) DO UPDATE SET resign_after_days = $2,
                    retention_days = $3, updated_by = $4, updated_at = $5",
        )
        .bind(admin.school().0)
        .bind(settings.resign_after_days)
        .bind(settings.retention_days)
        .bind(admin.by().0)
        .bind(ts(micros(at)))
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn visitor_policy(&self, school: SchoolId) -> StoreResult<Option<PolicyVersion>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        Ok(current_visitor_version(&mut conn, school)
            .await?
            .map(|(v, _)| v))
    }

    async fn coverage(
        &self,
        school: SchoolId,
        details: &VisitorDetails,
        now: DateTime<Utc>,
    ) -> StoreResult<Coverage> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        Ok(coverage_in(&mut conn, school, details, now).await?.0)
    }

    #[tracing::instrument(skip_all, fields(school = %input.school))]
    async fn sign_in_visitor(&self, input: NewVisit, at: DateTime<Utc>) -> StoreResult<Visit> {
        let (school, at) = (input.school, micros(at));
        let details = &input.details;
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let host = load_person(&mut tx, school, details.host)
            .await?
            .filter(|p| p.status == PersonStatus::Active)
            .ok_or_else(|| {
                StoreError::Refused("choose someone who works at the school as your host".into())
            })?;
        let (coverage, known) = coverage_in(&mut tx, school, details, at).await?;
        let (signature, covered_by) = match (&coverage, &input.signature) {
            (Coverage::NoPolicy, _) => {
                return Err(StoreError::Refused(
                    "no visitor policy is published yet; please ask at reception".into(),
                ));
            }
            (Coverage::MustSign { version } | Coverage::Covered { version, .. }, Some(sig)) => {
                if sig.version != *version {
                    return Err(StoreError::Refused(
                        "the visitor policy has just been replaced; start again to read the new one"
                            .into(),
                    ));
                }
                let shown = load_version(&mut tx, school, sig.version)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                if shown.text_sha256 != sig.text_sha256 {
                    return Err(StoreError::Refused(
                        "the text shown is not the visitor policy's text; start again".into(),
                    ));
                }
                if !details.name.matches_typed(&sig.typed_name) {
                    return Err(StoreError::Refused(
                        "the name typed does not match the visitor's name".into(),
                    ));
                }
                (Some(sig), None)
            }
            (Coverage::Covered { by, .. }, None) => (None, Some(*by)),
            (Coverage::MustSign { .. }, None) => {
                return Err(StoreError::Refused(
                    "the visitor must read and sign the visitor policy".into(),
                ));
            }
        };
        let code = known.map_or_else(|| input.new_code.clone(), |k| k.code);
        let personal = PersonalData {
            full_name: details.name.as_str().to_string(),
            organisation: details
                .organisation
                .as_ref()
                .map(|o| o.as_str().to_string()),
            email: details.email.as_ref().map(|e| e.as_str().to_string()),
            car_registration: details
                .car_registration
                .as_ref()
                .map(|c| c.as_str().to_string()),
            visitor_code: code.as_str().to_string(),
            typed_name: signature.map(|s| collapse_spaces(&s.typed_name)),
            mark_sha256: signature.map(|s| s.mark.sha256()),
        };
        let personal_sha256 = personal.salted_sha256(&input.salt);
        let (png, text) = match signature.map(|s| &s.mark) {
            Some(SignatureMark::Drawn { png }) => (Some(png.as_slice()), None),
            Some(SignatureMark::Typed { text }) => (None, Some(text.as_str())),
            None => (None, None),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO visits (school_id, kiosk_id, host_id, state, arrived_at, full_name,
                    organisation, email, car_registration, visitor_code, typed_name, mark_png,
                    mark_text, salt, personal_sha256, version_id, text_sha256, declaration,
                    mark_kind, references_json, covered_by, ip, user_agent, auth_json)
             VALUES ($1, $2, $3, 'on_site', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                     $15, $16, $17, $18, $19, $20, $21, $22, $23)
             RETURNING id",
        )
        .bind(school.0)
        .bind(input.kiosk.map(|k| k.0))
        .bind(host.id.0)
        .bind(ts(at))
        .bind(&personal.full_name)
        .bind(&personal.organisation)
        .bind(&personal.email)
        .bind(&personal.car_registration)
        .bind(&personal.visitor_code)
        .bind(&personal.typed_name)
        .bind(png)
        .bind(text)
        .bind(hex(&input.salt))
        .bind(&personal_sha256)
        .bind(signature.map(|s| s.version.0))
        .bind(signature.map(|s| s.text_sha256.as_str()))
        .bind(signature.map(|s| s.declaration.as_str()))
        .bind(signature.map(|s| s.mark.kind()))
        .bind(signature.map(|s| to_json(&s.references)).transpose()?)
        .bind(covered_by.map(|v| v.0))
        .bind(&input.context.ip)
        .bind(&input.context.user_agent)
        .bind(to_json(&input.context.auth)?)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let visit = VisitId(id);
        let event = Event::VisitorSignedIn {
            visit,
            host: host.id,
            personal_sha256,
            signature: signature.map(|s| VisitorSignatureEvidence {
                version: s.version,
                text_sha256: s.text_sha256.clone(),
                declaration: s.declaration.clone(),
                mark_kind: s.mark.kind().to_string(),
                references: s.references.clone(),
            }),
            covered_by,
            ip: input.context.ip.clone(),
            user_agent: input.context.user_agent.clone(),
            auth: input.context.auth.clone(),
        };
        let entry = append(&mut tx, school, &event, at).await?;
        sqlx::query(
            "UPDATE visits SET ledger_seq = $3, ledger_hash = $4 WHERE school_id = $1 AND id = $2",
        )
        .bind(school.0)
        .bind(id)
        .bind(entry.seq)
        .bind(&entry.hash)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(email) = &details.email {
            // Their receipt is queued with the visit; it is written when it is sent.
            let school_name: String = sqlx::query_scalar("SELECT name FROM schools WHERE id = $1")
                .bind(school.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            let mail = NewMail {
                school,
                dedupe_key: format!("visit-receipt:{visit}"),
                to_email: email.clone(),
                to_name: personal.full_name.clone(),
                subject: format!("Your visit to {school_name}: receipt"),
                text_body: String::new(),
                attachments: Vec::new(),
                not_before: at,
                unless_signed: None,
                deferred: Some(Deferred::VisitReceipt { visit }),
            };
            insert_mail(&mut tx, &mail, at).await?;
        }
        let stored = load_visit(&mut tx, school, visit)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    async fn visit_personal(
        &self,
        school: SchoolId,
        id: VisitId,
    ) -> StoreResult<Option<(PersonalData, Vec<u8>)>> {
        let row: Option<PersonalColumns> = sqlx::query_as(&format!(
            "SELECT {PERSONAL_COLUMNS} FROM visits WHERE school_id = $1 AND id = $2"
        ))
        .bind(school.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        // Purged (or never stored): nothing personal is left to put on a receipt.
        row.map_or(Ok(None), |r| r.personal())
            .map_err(|e| StoreError::Backend(format!("visit {id}: {e}")))
    }

    async fn visit(&self, school: SchoolId, id: VisitId) -> StoreResult<Option<Visit>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_visit(&mut conn, school, id).await
    }

    async fn on_site(&self, reception: &Reception) -> StoreResult<Vec<Visit>> {
        let rows: Vec<VisitRow> = sqlx::query_as(&format!(
            "{VISIT_SELECT} WHERE v.school_id = $1 AND v.state = 'on_site'
             ORDER BY v.arrived_at, v.id"
        ))
        .bind(reception.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter().map(VisitRow::into_visit).collect()
    }

    async fn visits_since(
        &self,
        reception: &Reception,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Visit>> {
        let rows: Vec<VisitRow> = sqlx::query_as(&format!(
            "{VISIT_SELECT} WHERE v.school_id = $1 AND v.arrived_at >= $2
             ORDER BY v.arrived_at DESC, v.id DESC"
        ))
        .bind(reception.school().0)
        .bind(ts(micros(since)))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter().map(VisitRow::into_visit).collect()
    }

    async fn find_on_site(&self, school: SchoolId, who: &str) -> StoreResult<Vec<Visit>> {
        let rows: Vec<VisitRow> = sqlx::query_as(&format!(
            "{VISIT_SELECT} WHERE v.school_id = $1 AND v.state = 'on_site'
             ORDER BY v.arrived_at, v.id"
        ))
        .bind(school.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let visits: Vec<Visit> = rows
            .into_iter()
            .map(VisitRow::into_visit)
            .collect::<StoreResult<_>>()?;
        let code = VisitorCode::parse(who).ok().flatten();
        let email = Email::parse(who).ok();
        // The strongest match wins: a code, then an email, then the name.
        let mut by_strength: BTreeMap<u8, Vec<Visit>> = BTreeMap::new();
        for v in visits {
            let Some(p) = &v.personal else { continue };
            let strength = if code.as_ref().is_some_and(|c| c.as_str() == p.visitor_code) {
                0
            } else if email
                .as_ref()
                .is_some_and(|e| p.email.as_deref() == Some(e.as_str()))
            {
                1
            } else if !who.trim().is_empty() && same_name(&p.full_name, who) {
                2
            } else {
                continue;
            };
            by_strength.entry(strength).or_default().push(v);
        }
        Ok(by_strength.into_values().next().unwrap_or_default())
    }

    #[tracing::instrument(skip_all, fields(school = %school, visit = %visit))]
    async fn sign_out_visitor(
        &self,
        school: SchoolId,
        visit: VisitId,
        by: SignOutBy,
        at: DateTime<Utc>,
    ) -> StoreResult<Visit> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        sign_out_in(&mut tx, school, visit, by, at).await?;
        let stored = load_visit(&mut tx, school, visit)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn sign_out_overdue(
        &self,
        school: SchoolId,
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitId>> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM visits WHERE school_id = $1 AND state = 'on_site' AND arrived_at < $2
             ORDER BY arrived_at, id",
        )
        .bind(school.0)
        .bind(ts(micros(cutoff)))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for id in &ids {
            sign_out_in(&mut tx, school, VisitId(*id), SignOutBy::Automatic, at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(ids.into_iter().map(VisitId).collect())
    }

    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn purge_visitor_data(
        &self,
        school: SchoolId,
        before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitId>> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM visits WHERE school_id = $1 AND purged_at IS NULL
                 AND state <> 'on_site' AND arrived_at < $2
             ORDER BY id",
        )
        .bind(school.0)
        .bind(ts(micros(before)))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Visits not yet purged that were covered by a purged signature keep their own
        // `covered_by` link: the link holds no personal data.
        sqlx::query(
            "UPDATE visits SET full_name = NULL, organisation = NULL, email = NULL,
                    car_registration = NULL, visitor_code = NULL, typed_name = NULL,
                    mark_png = NULL, mark_text = NULL, salt = NULL, purged_at = $3
             WHERE school_id = $1 AND purged_at IS NULL AND state <> 'on_site'
                   AND arrived_at < $2",
        )
        .bind(school.0)
        .bind(ts(micros(before)))
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // Their receipt emails held their name and address too: gone with the rest
        // (an unsent one could not be written any more).
        for id in &ids {
            sqlx::query(
                "DELETE FROM outbox_attachments WHERE outbox_id IN
                     (SELECT id FROM outbox WHERE school_id = $1 AND dedupe_key = $2)",
            )
            .bind(school.0)
            .bind(format!("visit-receipt:{id}"))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            sqlx::query("DELETE FROM outbox WHERE school_id = $1 AND dedupe_key = $2")
                .bind(school.0)
                .bind(format!("visit-receipt:{id}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let visits: Vec<VisitId> = ids.into_iter().map(VisitId).collect();
        append(
            &mut tx,
            school,
            &Event::VisitorDataPurged {
                visits: visits.clone(),
                retention_days: (at - before).num_days(),
            },
            at,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(visits)
    }
}
