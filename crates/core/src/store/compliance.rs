//! The facts the compliance dashboards are built from, the organisation view's kept
//! summaries, and the signatures export.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::{ComplianceViewer, OrganisationViewer, PolicyPublisher};
use crate::compliance::{
    DaysToSign, SchoolFacts, SchoolSummaryState, SignatureExportRow, StoredSummary,
};
use crate::ids::*;

/// Who has signed: the facts the compliance dashboards are built from, read set-wise (a
/// few statements per school, whatever its size), and the signatures export.
#[async_trait]
pub trait Compliance: Send + Sync {
    /// The viewer's school: its active people, published versions, what each person
    /// signed of each policy, and declines.
    async fn compliance_facts(&self, viewer: &ComplianceViewer) -> StoreResult<SchoolFacts>;
    /// The same for every school of the viewer's organisation, in name order.
    async fn organisation_compliance_facts(
        &self,
        viewer: &OrganisationViewer,
    ) -> StoreResult<Vec<SchoolFacts>>;
    /// Every school of the viewer's organisation, by name, with its chain head and the
    /// organisation-view summary kept for it (if any).
    async fn organisation_summary_states(
        &self,
        viewer: &OrganisationViewer,
    ) -> StoreResult<Vec<SchoolSummaryState>>;
    /// The facts of one school of the viewer's organisation (`NotFound` for any other).
    async fn organisation_school_facts(
        &self,
        viewer: &OrganisationViewer,
        school: SchoolId,
    ) -> StoreResult<SchoolFacts>;
    /// Keeps (replaces) the organisation-view summary of one school of the organisation.
    async fn keep_compliance_summary(
        &self,
        viewer: &OrganisationViewer,
        school: SchoolId,
        summary: &StoredSummary,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Every signature of the school (leavers' too), oldest first.
    async fn signature_export(
        &self,
        viewer: &ComplianceViewer,
    ) -> StoreResult<Vec<SignatureExportRow>>;
    /// How many days people have to sign, counted from publication or joining.
    async fn set_days_to_sign(&self, by: &PolicyPublisher, days: DaysToSign) -> StoreResult<()>;
}
