//! Policies and their versions: drafts, references, publishing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::PolicyPublisher;
use crate::ids::*;
use crate::policy::{DraftInput, NewReference, Policy, PolicyVersion, Title};

/// A policy with its newest published and draft versions, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySummary {
    pub policy: Policy,
    pub current: Option<PolicyVersion>,
    pub draft: Option<VersionId>,
}

/// Policies and versions.
#[async_trait]
pub trait Policies: Send + Sync {
    async fn create_policy(&self, by: &PolicyPublisher, title: &Title) -> StoreResult<Policy>;
    /// A new draft; its number is one more than the policy's highest, and it refers to
    /// the same documents as the policy's newest version (the draft may remove them).
    async fn create_draft(
        &self,
        by: &PolicyPublisher,
        policy: PolicyId,
        draft: DraftInput,
    ) -> StoreResult<PolicyVersion>;
    /// Replaces a draft's fields. A published version is refused with `Refused`.
    async fn update_draft(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        draft: DraftInput,
    ) -> StoreResult<PolicyVersion>;
    async fn add_reference(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        reference: NewReference,
    ) -> StoreResult<PolicyVersion>;
    async fn remove_reference(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        reference: ReferenceId,
    ) -> StoreResult<PolicyVersion>;
    /// Freezes a draft and records `version_published` in the ledger.
    async fn publish(
        &self,
        by: &PolicyPublisher,
        version: VersionId,
        at: DateTime<Utc>,
    ) -> StoreResult<PolicyVersion>;
    async fn policies(&self, school: SchoolId) -> StoreResult<Vec<PolicySummary>>;
    async fn policy(&self, school: SchoolId, id: PolicyId) -> StoreResult<Option<Policy>>;
    async fn versions(&self, school: SchoolId, policy: PolicyId)
    -> StoreResult<Vec<PolicyVersion>>;
    async fn version(&self, school: SchoolId, id: VersionId) -> StoreResult<Option<PolicyVersion>>;
}
