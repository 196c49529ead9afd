//! Organisations and schools; creating a school starts its ledger.

use async_trait::async_trait;

use super::StoreResult;
use crate::ids::*;
use crate::school::{NewSchool, Organisation, School};

/// Organisations and schools.
#[async_trait]
pub trait Schools: Send + Sync {
    async fn create_organisation(&self, name: &str) -> StoreResult<Organisation>;
    /// Creates the school and starts its ledger with a `school_created` entry.
    async fn create_school(&self, org: OrganisationId, school: NewSchool) -> StoreResult<School>;
    async fn school(&self, id: SchoolId) -> StoreResult<Option<School>>;
    async fn school_by_slug(&self, slug: &str) -> StoreResult<Option<School>>;
    async fn schools(&self) -> StoreResult<Vec<School>>;
}
