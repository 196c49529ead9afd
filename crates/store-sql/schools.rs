//! Organisations and schools. Creating a school starts its ledger: the `school_created`
//! entry is seq 1 and is written in the same transaction as the school.

use async_trait::async_trait;
use undersign_core::ledger::Event;
use undersign_core::school::{NewSchool, Organisation, School};
use undersign_core::store::{Schools, StoreError, StoreResult};
use undersign_core::time::{self, TimeZone};
use undersign_core::{OrganisationId, SchoolId};

use crate::BackendStore;
use crate::db::ts;
use crate::errors::{OnConstraint, db};
use crate::ledger::append;

#[derive(sqlx::FromRow)]
struct SchoolRow {
    id: i64,
    organisation_id: i64,
    name: String,
    slug: String,
    timezone: String,
    public_key: String,
}

impl TryFrom<SchoolRow> for School {
    type Error = StoreError;
    fn try_from(r: SchoolRow) -> StoreResult<Self> {
        Ok(School {
            id: SchoolId(r.id),
            organisation: OrganisationId(r.organisation_id),
            timezone: school_zone(r.id, &r.timezone)?,
            name: r.name,
            slug: r.slug,
            public_key: r.public_key,
        })
    }
}

/// A school's zone as stored: a name that does not parse is a damaged row, reported
/// with the school, never replaced by a guess.
pub(crate) fn school_zone(school: i64, name: &str) -> StoreResult<TimeZone> {
    TimeZone::parse(name).map_err(|e| StoreError::Backend(format!("school {school}: stored {e}")))
}

const SCHOOL_COLUMNS: &str = "id, organisation_id, name, slug, timezone, public_key";

#[async_trait]
impl Schools for BackendStore {
    async fn create_organisation(&self, name: &str) -> StoreResult<Organisation> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Refused(
                "an organisation needs a name".to_string(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO organisations (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(ts(time::now()))
        .fetch_one(&self.write)
        .await
        .map_err(db)?;
        Ok(Organisation {
            id: OrganisationId(id),
            name: name.to_string(),
        })
    }

    #[tracing::instrument(skip_all, fields(slug = school.slug.as_str()))]
    async fn create_school(&self, org: OrganisationId, school: NewSchool) -> StoreResult<School> {
        let at = time::now();
        let mut tx = self.write.begin().await.map_err(db)?;
        let org_exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM organisations WHERE id = $1")
                .bind(org.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if org_exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let row: SchoolRow = sqlx::query_as(&format!(
            "INSERT INTO schools (organisation_id, name, slug, timezone, public_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SCHOOL_COLUMNS}"
        ))
        .bind(org.0)
        .bind(&school.name)
        .bind(school.slug.as_str())
        .bind(school.timezone.name())
        .bind(&school.public_key)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .on_constraint("schools_slug_key", || {
            StoreError::Conflict(format!(
                "another school already has the short name {}",
                school.slug.as_str()
            ))
        })?;
        let created = School::try_from(row)?;
        append(
            &mut tx,
            created.id,
            &Event::SchoolCreated {
                name: created.name.clone(),
                public_key: created.public_key.clone(),
            },
            at,
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn school(&self, id: SchoolId) -> StoreResult<Option<School>> {
        let row: Option<SchoolRow> = sqlx::query_as(&format!(
            "SELECT {SCHOOL_COLUMNS} FROM schools WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(School::try_from).transpose()
    }

    async fn school_by_slug(&self, slug: &str) -> StoreResult<Option<School>> {
        let row: Option<SchoolRow> = sqlx::query_as(&format!(
            "SELECT {SCHOOL_COLUMNS} FROM schools WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(School::try_from).transpose()
    }

    async fn schools(&self) -> StoreResult<Vec<School>> {
        let rows: Vec<SchoolRow> = sqlx::query_as(&format!(
            "SELECT {SCHOOL_COLUMNS} FROM schools ORDER BY name, id"
        ))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter().map(School::try_from).collect()
    }
}
