//! Compliance facts read set-wise: for a school (or every school of an organisation) five
//! statements in all — schools, published versions, active people, what each person signed
//! of each policy (aggregated in SQL), declines — whatever the number of people. The
//! standing of each person is worked out in `undersign_core::compliance`.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::collections::BTreeMap;
use undersign_core::access::{ComplianceViewer, OrganisationViewer, PolicyPublisher};
use undersign_core::compliance::{
    DaysToSign, PersonFacts, PolicyFacts, SchoolFacts, SchoolSummaryState, SignatureExportRow,
    SignedFacts, StoredSummary, SummaryLine, VersionFacts,
};
use undersign_core::person::Role;
use undersign_core::signing::AuthMethod;
use undersign_core::store::{Compliance, StoreError, StoreResult};
use undersign_core::time;
use undersign_core::{PersonId, PolicyId, SchoolId, VersionId};

use crate::BackendStore;
use crate::codec::from_json;
use crate::db::{Conn, ts};
use crate::errors::db;
use crate::policies::{parse_audiences, parse_change_kind};

/// Which schools a read covers: `$1` is a school id in both.
#[derive(Debug, Clone, Copy)]
enum Scope {
    School,
    /// Every school of the organisation of school `$1`.
    Organisation,
}

impl Scope {
    /// The condition on a `school_id` column.
    fn on(self, column: &str) -> String {
        match self {
            Scope::School => format!("{column} = $1"),
            Scope::Organisation => format!(
                "{column} IN (SELECT id FROM schools WHERE organisation_id = \
                 (SELECT organisation_id FROM schools WHERE id = $1))"
            ),
        }
    }
}

#[derive(sqlx::FromRow)]
struct SchoolRow {
    id: i64,
    name: String,
    slug: String,
    timezone: String,
    days_to_sign: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    school_id: i64,
    policy_id: i64,
    title: String,
    id: i64,
    number: i32,
    change_kind: String,
    audiences: String,
    published_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    school_id: i64,
    id: i64,
    full_name: String,
    email: String,
    roles: String,
    created_at: DateTime<Utc>,
    start_date: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SignedRow {
    school_id: i64,
    person_id: i64,
    policy_id: i64,
    last_number: i32,
    valid_since: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct DeclinedRow {
    school_id: i64,
    person_id: i64,
    version_id: i64,
}

impl BackendStore {
    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn facts(&self, school: SchoolId, scope: Scope) -> StoreResult<Vec<SchoolFacts>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let schools: Vec<SchoolRow> = sqlx::query_as(&format!(
            "SELECT s.id, s.name, s.slug, s.timezone, CAST(c.days_to_sign AS BIGINT) AS days_to_sign
             FROM schools s LEFT JOIN compliance_settings c ON c.school_id = s.id
             WHERE {} ORDER BY s.name, s.id",
            scope.on("s.id")
        ))
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let versions: Vec<VersionRow> = sqlx::query_as(&format!(
            "SELECT v.school_id, v.policy_id, p.title, v.id, v.number, v.change_kind,
                    v.audiences, v.published_at
             FROM policy_versions v
             JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id
             WHERE v.status = 'published' AND {}
             ORDER BY v.school_id, v.policy_id, v.number",
            scope.on("v.school_id")
        ))
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let people: Vec<PersonRow> = sqlx::query_as(&format!(
            "SELECT p.school_id, p.id, p.full_name, p.email, p.roles, p.created_at, r.start_date
             FROM people p
             LEFT JOIN roster_members r ON r.school_id = p.school_id AND r.person_id = p.id
             WHERE p.status = 'active' AND {}",
            scope.on("p.school_id")
        ))
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        // Per person and policy: the highest version signed, and the first signature that
        // still stands (of the newest major version or later; of any if none is major).
        let signed: Vec<SignedRow> = sqlx::query_as(&format!(
            "WITH asking AS (
                 SELECT school_id, policy_id, MAX(number) AS number
                 FROM policy_versions
                 WHERE status = 'published' AND change_kind = 'major' AND {}
                 GROUP BY school_id, policy_id
             )
             SELECT s.school_id, s.person_id, v.policy_id, MAX(v.number) AS last_number,
                    MIN(CASE WHEN v.number >= COALESCE(a.number, 0) THEN s.signed_at END)
                        AS valid_since
             FROM signatures s
             JOIN policy_versions v ON v.school_id = s.school_id AND v.id = s.version_id
             LEFT JOIN asking a ON a.school_id = v.school_id AND a.policy_id = v.policy_id
             WHERE {}
             GROUP BY s.school_id, s.person_id, v.policy_id",
            scope.on("school_id"),
            scope.on("s.school_id")
        ))
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let declined: Vec<DeclinedRow> = sqlx::query_as(&format!(
            "SELECT DISTINCT school_id, person_id, version_id FROM declines WHERE {}",
            scope.on("school_id")
        ))
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;

        let mut out: BTreeMap<i64, SchoolFacts> = BTreeMap::new();
        let mut order = Vec::new();
        for s in schools {
            order.push(s.id);
            out.insert(
                s.id,
                SchoolFacts {
                    school: SchoolId(s.id),
                    name: s.name,
                    slug: s.slug,
                    timezone: crate::schools::school_zone(s.id, &s.timezone)?,
                    days_to_sign: s
                        .days_to_sign
                        .map_or(DaysToSign::DEFAULT, DaysToSign::trusted),
                    policies: Vec::new(),
                    people: Vec::new(),
                    signed: Vec::new(),
                    declined: Vec::new(),
                },
            );
        }
        for v in versions {
            let Some(facts) = out.get_mut(&v.school_id) else {
                continue;
            };
            let Some(published_at) = v.published_at else {
                continue;
            };
            let version = VersionFacts {
                id: VersionId(v.id),
                number: v.number,
                change_kind: parse_change_kind(&v.change_kind)?,
                audiences: parse_audiences(&v.audiences)?,
                published_at,
            };
            match facts.policies.last_mut() {
                Some(p) if p.id.0 == v.policy_id => p.versions.push(version),
                _ => facts.policies.push(PolicyFacts {
                    id: PolicyId(v.policy_id),
                    title: v.title,
                    versions: vec![version],
                }),
            }
        }
        for p in people {
            let Some(facts) = out.get_mut(&p.school_id) else {
                continue;
            };
            let roles: Vec<Role> = from_json("people.roles", &p.roles)?;
            let joined_at = p
                .start_date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map(|d| d.and_time(NaiveTime::MIN).and_utc())
                .unwrap_or(p.created_at);
            facts.people.push(PersonFacts {
                id: PersonId(p.id),
                full_name: p.full_name,
                email: p.email,
                roles: roles.into_iter().collect(),
                joined_at,
            });
        }
        for s in signed {
            if let Some(facts) = out.get_mut(&s.school_id) {
                facts.signed.push(SignedFacts {
                    person: PersonId(s.person_id),
                    policy: PolicyId(s.policy_id),
                    last_number: s.last_number,
                    valid_since: s.valid_since,
                });
            }
        }
        for d in declined {
            if let Some(facts) = out.get_mut(&d.school_id) {
                facts
                    .declined
                    .push((PersonId(d.person_id), VersionId(d.version_id)));
            }
        }
        Ok(order.into_iter().filter_map(|id| out.remove(&id)).collect())
    }
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    person_id: i64,
    full_name: String,
    email: String,
    status: String,
    title: String,
    number: i32,
    text_sha256: String,
    typed_name: String,
    mark_kind: String,
    signed_at: DateTime<Utc>,
    ip: String,
    user_agent: String,
    auth_json: String,
    ledger_seq: i64,
    ledger_hash: String,
}

#[derive(sqlx::FromRow)]
struct SummaryStateRow {
    id: i64,
    name: String,
    head_seq: i64,
    ledger_seq: Option<i64>,
    valid_until: Option<DateTime<Utc>>,
    lines: Option<String>,
}

/// Fails with `NotFound` unless `school` belongs to the organisation of `from`.
async fn same_organisation(conn: &mut Conn, from: SchoolId, school: SchoolId) -> StoreResult<()> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT b.id FROM schools a JOIN schools b ON b.organisation_id = a.organisation_id
         WHERE a.id = $1 AND b.id = $2",
    )
    .bind(from.0)
    .bind(school.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Drops the organisation-view summary of a school after a change the chain head does
/// not show (its days to sign, its roster's start dates).
pub(crate) async fn forget_summary(conn: &mut Conn, school: SchoolId) -> StoreResult<()> {
    sqlx::query("DELETE FROM compliance_summaries WHERE school_id = $1")
        .bind(school.0)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

#[async_trait]
impl Compliance for BackendStore {
    async fn compliance_facts(&self, viewer: &ComplianceViewer) -> StoreResult<SchoolFacts> {
        self.facts(viewer.school(), Scope::School)
            .await?
            .into_iter()
            .next()
            .ok_or(undersign_core::store::StoreError::NotFound)
    }

    async fn organisation_compliance_facts(
        &self,
        viewer: &OrganisationViewer,
    ) -> StoreResult<Vec<SchoolFacts>> {
        self.facts(viewer.school(), Scope::Organisation).await
    }

    async fn organisation_summary_states(
        &self,
        viewer: &OrganisationViewer,
    ) -> StoreResult<Vec<SchoolSummaryState>> {
        // The head through the (school_id, seq) index, one school at a time: a grouped
        // MAX(seq) would read every entry of the organisation.
        let rows: Vec<SummaryStateRow> = sqlx::query_as(
            "SELECT s.id, s.name,
                    COALESCE((SELECT l.seq FROM ledger_entries l WHERE l.school_id = s.id
                              ORDER BY l.seq DESC LIMIT 1), 0) AS head_seq,
                    c.ledger_seq, c.valid_until, c.lines
             FROM schools s LEFT JOIN compliance_summaries c ON c.school_id = s.id
             WHERE s.organisation_id = (SELECT organisation_id FROM schools WHERE id = $1)
             ORDER BY s.name, s.id",
        )
        .bind(viewer.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let stored = match (r.ledger_seq, r.valid_until, r.lines) {
                    (Some(ledger_seq), Some(valid_until), Some(lines)) => Some(StoredSummary {
                        ledger_seq,
                        valid_until,
                        lines: from_json::<Vec<SummaryLine>>("compliance_summaries.lines", &lines)?,
                    }),
                    _ => None,
                };
                Ok(SchoolSummaryState {
                    school: SchoolId(r.id),
                    name: r.name,
                    head_seq: r.head_seq,
                    stored,
                })
            })
            .collect()
    }

    async fn organisation_school_facts(
        &self,
        viewer: &OrganisationViewer,
        school: SchoolId,
    ) -> StoreResult<SchoolFacts> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        same_organisation(&mut conn, viewer.school(), school).await?;
        drop(conn);
        self.facts(school, Scope::School)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    async fn keep_compliance_summary(
        &self,
        viewer: &OrganisationViewer,
        school: SchoolId,
        summary: &StoredSummary,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let lines = serde_json::to_string(&summary.lines)
            .map_err(|e| StoreError::Backend(format!("cannot encode a summary: {e}")))?;
        let mut conn = self.write.acquire().await.map_err(db)?;
        same_organisation(&mut conn, viewer.school(), school).await?;
        sqlx::query(
            "INSERT INTO compliance_summaries (school_id, ledger_seq, valid_until, lines, computed_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (school_id) DO UPDATE
             SET ledger_seq = excluded.ledger_seq, valid_until = excluded.valid_until,
                 lines = excluded.lines, computed_at = excluded.computed_at",
        )
        .bind(school.0)
        .bind(summary.ledger_seq)
        .bind(ts(summary.valid_until))
        .bind(lines)
        .bind(ts(at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn signature_export(
        &self,
        viewer: &ComplianceViewer,
    ) -> StoreResult<Vec<SignatureExportRow>> {
        let rows: Vec<ExportRow> = sqlx::query_as(
            "SELECT s.person_id, pe.full_name, pe.email, pe.status, p.title, v.number,
                    s.text_sha256, s.typed_name, s.mark_kind, s.signed_at, s.ip, s.user_agent,
                    s.auth_json, s.ledger_seq, s.ledger_hash
             FROM signatures s
             JOIN people pe ON pe.school_id = s.school_id AND pe.id = s.person_id
             JOIN policy_versions v ON v.school_id = s.school_id AND v.id = s.version_id
             JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id
             WHERE s.school_id = $1
             ORDER BY s.signed_at, s.id",
        )
        .bind(viewer.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let auth: AuthMethod = from_json("signatures.auth_json", &r.auth_json)?;
                Ok(SignatureExportRow {
                    person: PersonId(r.person_id),
                    full_name: r.full_name,
                    email: r.email,
                    person_status: r.status,
                    policy_title: r.title,
                    version_number: r.number,
                    text_sha256: r.text_sha256,
                    typed_name: r.typed_name,
                    mark_kind: r.mark_kind,
                    signed_at: r.signed_at,
                    ip: r.ip,
                    user_agent: r.user_agent,
                    auth: auth.label(),
                    ledger_seq: r.ledger_seq,
                    ledger_hash: r.ledger_hash,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(school = %by.school()))]
    async fn set_days_to_sign(&self, by: &PolicyPublisher, days: DaysToSign) -> StoreResult<()> {
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO compliance_settings (school_id, days_to_sign, updated_at)
             VALUES ($1, $2, $3)
             ON CONFLICT (school_id) DO UPDATE
             SET days_to_sign = excluded.days_to_sign, updated_at = excluded.updated_at",
        )
        .bind(by.school().0)
        .bind(i32::from(days.get()))
        .bind(ts(time::now()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        forget_summary(&mut tx, by.school()).await?;
        tx.commit().await.map_err(db)
    }
}
