//! Policies, their versions and referenced documents. A draft may be edited; publishing
//! freezes it (the database refuses any later change too) and records `version_published`
//! in the ledger with the text's SHA-256 and the documents it refers to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use undersign_core::access::PolicyPublisher;
use undersign_core::ledger::Event;
use undersign_core::person::Audience;
use undersign_core::policy::{
    ChangeKind, DraftInput, NewReference, Policy, PolicyVersion, ReferenceSource,
    ReferencedDocument, Title, VersionStatus, sha256_hex,
};
use undersign_core::signing::AcknowledgedReference;
use undersign_core::store::{Policies, PolicySummary, StoreError, StoreResult};
use undersign_core::time;
use undersign_core::{PersonId, PolicyId, ReferenceId, SchoolId, VersionId};

use crate::BackendStore;
use crate::codec::{from_json, micros, to_json};
use crate::db::{Conn, lock_school, ts};
use crate::errors::db;
use crate::ledger::append;

/// Why a published version cannot be edited, as the user is told.
const FROZEN: &str = "a published version cannot be changed; write a new version";

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    school_id: i64,
    title: String,
    created_at: DateTime<Utc>,
}

impl From<PolicyRow> for Policy {
    fn from(r: PolicyRow) -> Self {
        Policy {
            id: PolicyId(r.id),
            school: SchoolId(r.school_id),
            title: r.title,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    school_id: i64,
    policy_id: i64,
    policy_title: String,
    number: i32,
    body_md: String,
    text_sha256: String,
    declaration: String,
    change_kind: String,
    summary: String,
    audiences: String,
    status: String,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
    published_by: Option<i64>,
}

const VERSION_SELECT: &str = "SELECT v.id, v.school_id, v.policy_id, p.title AS policy_title,
        v.number, v.body_md, v.text_sha256, v.declaration, v.change_kind, v.summary,
        v.audiences, v.status, v.created_at, v.published_at, v.published_by
    FROM policy_versions v
    JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id";

#[derive(sqlx::FromRow)]
struct ReferenceRow {
    id: i64,
    title: String,
    source_kind: String,
    content: String,
    sha256: String,
}

impl ReferenceRow {
    fn into_document(self) -> StoreResult<ReferencedDocument> {
        let source = match self.source_kind.as_str() {
            "link" => ReferenceSource::Link { url: self.content },
            "text" => ReferenceSource::Text { body: self.content },
            other => {
                return Err(StoreError::Backend(format!(
                    "policy_references.source_kind {other:?} is unknown"
                )));
            }
        };
        Ok(ReferencedDocument {
            id: ReferenceId(self.id),
            title: self.title,
            source,
            sha256: self.sha256,
        })
    }
}

pub(crate) fn parse_audiences(text: &str) -> StoreResult<BTreeSet<Audience>> {
    let list: Vec<Audience> = from_json("policy_versions.audiences", text)?;
    Ok(list.into_iter().collect())
}

pub(crate) fn parse_change_kind(text: &str) -> StoreResult<ChangeKind> {
    ChangeKind::parse(text)
        .map_err(|e| StoreError::Backend(format!("policy_versions.change_kind: {e}")))
}

async fn version_from_row(conn: &mut Conn, r: VersionRow) -> StoreResult<PolicyVersion> {
    let references: Vec<ReferenceRow> = sqlx::query_as(
        "SELECT id, title, source_kind, content, sha256 FROM policy_references
         WHERE school_id = $1 AND version_id = $2 ORDER BY position, id",
    )
    .bind(r.school_id)
    .bind(r.id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let status = match r.status.as_str() {
        "draft" => VersionStatus::Draft,
        "published" => VersionStatus::Published,
        other => {
            return Err(StoreError::Backend(format!(
                "policy_versions.status {other:?} is unknown"
            )));
        }
    };
    Ok(PolicyVersion {
        id: VersionId(r.id),
        school: SchoolId(r.school_id),
        policy: PolicyId(r.policy_id),
        policy_title: r.policy_title,
        number: r.number,
        body_md: r.body_md,
        text_sha256: r.text_sha256,
        declaration: r.declaration,
        change_kind: parse_change_kind(&r.change_kind)?,
        summary: r.summary,
        audiences: parse_audiences(&r.audiences)?,
        references: references
            .into_iter()
            .map(ReferenceRow::into_document)
            .collect::<StoreResult<_>>()?,
        status,
        created_at: r.created_at,
        published_at: r.published_at,
        published_by: r.published_by.map(PersonId),
    })
}

/// The version `id` of `school` with its references, read on `conn`.
pub(crate) async fn load_version(
    conn: &mut Conn,
    school: SchoolId,
    id: VersionId,
) -> StoreResult<Option<PolicyVersion>> {
    let row: Option<VersionRow> = sqlx::query_as(&format!(
        "{VERSION_SELECT} WHERE v.school_id = $1 AND v.id = $2"
    ))
    .bind(school.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    match row {
        Some(r) => Ok(Some(version_from_row(conn, r).await?)),
        None => Ok(None),
    }
}

/// The version, which must exist in the school and still be a draft.
async fn load_draft(
    conn: &mut Conn,
    school: SchoolId,
    id: VersionId,
) -> StoreResult<PolicyVersion> {
    let version = load_version(conn, school, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if version.status != VersionStatus::Draft {
        return Err(StoreError::Refused(FROZEN.to_string()));
    }
    Ok(version)
}

async fn load_versions(
    conn: &mut Conn,
    school: SchoolId,
    policy: PolicyId,
) -> StoreResult<Vec<PolicyVersion>> {
    let rows: Vec<VersionRow> = sqlx::query_as(&format!(
        "{VERSION_SELECT} WHERE v.school_id = $1 AND v.policy_id = $2 ORDER BY v.number"
    ))
    .bind(school.0)
    .bind(policy.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(version_from_row(conn, r).await?);
    }
    Ok(out)
}

fn audiences_json(audiences: &BTreeSet<Audience>) -> StoreResult<String> {
    to_json(&audiences.iter().collect::<Vec<_>>())
}

#[async_trait]
impl Policies for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %by.school()))]
    async fn create_policy(&self, by: &PolicyPublisher, title: &Title) -> StoreResult<Policy> {
        let row: PolicyRow = sqlx::query_as(
            "INSERT INTO policies (school_id, title, created_at) VALUES ($1, $2, $3)
             RETURNING id, school_id, title, created_at",
        )
        .bind(by.school().0)
        .bind(title.as_str())
        .bind(ts(time::now()))
        .fetch_one(&self.write)
        .await
        .map_err(db)?;
        Ok(row.into())
    }

    #[tracing::instrument(skip_all, fields(school = %by.school(), policy = %policy))]
    async fn create_draft(
        &self,
        by: &PolicyPublisher,
        policy: PolicyId,
        draft: DraftInput,
    ) -> StoreResult<PolicyVersion> {
        let school = by.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        // Numbering is max + 1: keep two drafts of the same school from racing for it.
        lock_school(&mut tx, school).await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM policies WHERE school_id = $1 AND id = $2")
                .bind(school.0)
                .bind(policy.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO policy_versions (school_id, policy_id, number, body_md, text_sha256,
                    declaration, change_kind, summary, audiences, status, created_at)
             VALUES ($1, $2,
                     (SELECT COALESCE(MAX(number), 0) + 1 FROM policy_versions
                      WHERE school_id = $1 AND policy_id = $2),
                     $3, $4, $5, $6, $7, $8, 'draft', $9)
             RETURNING id",
        )
        .bind(school.0)
        .bind(policy.0)
        .bind(&draft.body_md)
        .bind(draft.text_sha256())
        .bind(&draft.declaration)
        .bind(draft.change_kind.as_str())
        .bind(&draft.summary)
        .bind(audiences_json(&draft.audiences)?)
        .bind(ts(time::now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        // The new version refers to the same documents as the one before it, unless the
        // headteacher removes them from the draft.
        sqlx::query(
            "INSERT INTO policy_references (school_id, version_id, position, title, source_kind,
                    content, sha256)
             SELECT school_id, $3, position, title, source_kind, content, sha256
             FROM policy_references
             WHERE school_id = $1 AND version_id = (
                 SELECT id FROM policy_versions
                 WHERE school_id = $1 AND policy_id = $2 AND id <> $3
                 ORDER BY number DESC LIMIT 1)
             ORDER BY position",
        )
        .bind(school.0)
        .bind(policy.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let version = load_version(&mut tx, school, VersionId(id))
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(version)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school(), version = %version))]
    async fn update_draft(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        draft: DraftInput,
    ) -> StoreResult<PolicyVersion> {
        let school = by.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        load_draft(&mut tx, school, version).await?;
        sqlx::query(
            "UPDATE policy_versions SET body_md = $3, text_sha256 = $4, declaration = $5,
                    change_kind = $6, summary = $7, audiences = $8
             WHERE school_id = $1 AND id = $2 AND status = 'draft'",
        )
        .bind(school.0)
        .bind(version.0)
        .bind(&draft.body_md)
        .bind(draft.text_sha256())
        .bind(&draft.declaration)
        .bind(draft.change_kind.as_str())
        .bind(&draft.summary)
        .bind(audiences_json(&draft.audiences)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let updated = load_version(&mut tx, school, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school(), version = %version))]
    async fn add_reference(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        reference: NewReference,
    ) -> StoreResult<PolicyVersion> {
        let school = by.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        load_draft(&mut tx, school, version).await?;
        let (kind, content) = match &reference.source {
            ReferenceSource::Link { url } => ("link", url.as_str()),
            ReferenceSource::Text { body } => ("text", body.as_str()),
        };
        sqlx::query(
            "INSERT INTO policy_references (school_id, version_id, position, title, source_kind,
                    content, sha256)
             VALUES ($1, $2,
                     (SELECT COALESCE(MAX(position), 0) + 1 FROM policy_references
                      WHERE school_id = $1 AND version_id = $2),
                     $3, $4, $5, $6)",
        )
        .bind(school.0)
        .bind(version.0)
        .bind(reference.title.as_str())
        .bind(kind)
        .bind(content)
        .bind(reference.sha256())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let updated = load_version(&mut tx, school, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school(), version = %version))]
    async fn remove_reference(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        reference: ReferenceId,
    ) -> StoreResult<PolicyVersion> {
        let school = by.school();
        let mut tx = self.write.begin().await.map_err(db)?;
        load_draft(&mut tx, school, version).await?;
        let done = sqlx::query(
            "DELETE FROM policy_references WHERE school_id = $1 AND version_id = $2 AND id = $3",
        )
        .bind(school.0)
        .bind(version.0)
        .bind(reference.0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let updated = load_version(&mut tx, school, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(school = %by.school(), version = %version))]
    async fn publish(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        at: DateTime<Utc>,
    ) -> StoreResult<PolicyVersion> {
        let school = by.school();
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        let draft = load_version(&mut tx, school, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        if draft.status == VersionStatus::Published {
            return Err(StoreError::Refused(
                "this version is already published; write a new version to change it".to_string(),
            ));
        }
        // The hash is taken of the text as stored, the text every signer will be shown.
        let text_sha256 = sha256_hex(draft.body_md.as_bytes());
        sqlx::query(
            "UPDATE policy_versions
             SET status = 'published', text_sha256 = $3, published_at = $4, published_by = $5
             WHERE school_id = $1 AND id = $2 AND status = 'draft'",
        )
        .bind(school.0)
        .bind(version.0)
        .bind(&text_sha256)
        .bind(ts(at))
        .bind(by.by().0)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let published = load_version(&mut tx, school, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        let event = Event::VersionPublished {
            policy: published.policy,
            version: published.id,
            title: published.policy_title.clone(),
            number: published.number,
            text_sha256,
            change_kind: published.change_kind,
            audiences: published.audiences.iter().copied().collect(),
            references: published
                .references
                .iter()
                .map(|r| AcknowledgedReference {
                    id: r.id,
                    title: r.title.clone(),
                    sha256: r.sha256.clone(),
                })
                .collect(),
            by: by.by(),
        };
        append(&mut tx, school, &event, at).await?;
        tx.commit().await.map_err(db)?;
        Ok(published)
    }

    async fn policies(&self, school: SchoolId) -> StoreResult<Vec<PolicySummary>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let rows: Vec<PolicyRow> = sqlx::query_as(
            "SELECT id, school_id, title, created_at FROM policies
             WHERE school_id = $1 ORDER BY title, id",
        )
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let policy = Policy::from(r);
            let current: Option<VersionRow> = sqlx::query_as(&format!(
                "{VERSION_SELECT} WHERE v.school_id = $1 AND v.policy_id = $2
                   AND v.status = 'published' ORDER BY v.number DESC LIMIT 1"
            ))
            .bind(school.0)
            .bind(policy.id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            let current = match current {
                Some(r) => Some(version_from_row(&mut conn, r).await?),
                None => None,
            };
            let draft: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM policy_versions
                 WHERE school_id = $1 AND policy_id = $2 AND status = 'draft'
                 ORDER BY number DESC LIMIT 1",
            )
            .bind(school.0)
            .bind(policy.id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            out.push(PolicySummary {
                policy,
                current,
                draft: draft.map(VersionId),
            });
        }
        Ok(out)
    }

    async fn policy(&self, school: SchoolId, id: PolicyId) -> StoreResult<Option<Policy>> {
        let row: Option<PolicyRow> = sqlx::query_as(
            "SELECT id, school_id, title, created_at FROM policies
             WHERE school_id = $1 AND id = $2",
        )
        .bind(school.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(row.map(Policy::from))
    }

    /// Every version of the policy, oldest (number 1) first.
    async fn versions(
        &self,
        school: SchoolId,
        policy: PolicyId,
    ) -> StoreResult<Vec<PolicyVersion>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_versions(&mut conn, school, policy).await
    }

    async fn version(&self, school: SchoolId, id: VersionId) -> StoreResult<Option<PolicyVersion>> {
        if let Some(kept) = self.published.get(school, id) {
            return Ok(Some(kept));
        }
        let mut conn = self.read.acquire().await.map_err(db)?;
        let version = load_version(&mut conn, school, id).await?;
        if let Some(v) = &version {
            self.published.keep(v);
        }
        Ok(version)
    }
}

/// Published versions kept in memory once read, so that the pages every signer opens and
/// posts do not read the text and its documents again each time. A published version, its
/// text, its documents and its policy's title never change (the migrations' triggers
/// refuse it), so a kept copy is as good as a read. Signing itself still reads the
/// version's status and text hash from the database, under the school's lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct PublishedVersions {
    kept: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(SchoolId, VersionId), PolicyVersion>>,
    >,
}

impl PublishedVersions {
    /// The most versions kept; past it the copies are dropped and read again as needed.
    const MAX: usize = 256;

    fn get(&self, school: SchoolId, id: VersionId) -> Option<PolicyVersion> {
        self.kept.lock().ok()?.get(&(school, id)).cloned()
    }

    fn keep(&self, version: &PolicyVersion) {
        if version.status != VersionStatus::Published {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if kept.len() >= Self::MAX {
            kept.clear();
        }
        kept.insert((version.school, version.id), version.clone());
    }
}
