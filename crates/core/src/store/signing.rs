//! Signing and declining, and what each person still has to sign.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::ComplianceViewer;
use crate::ids::*;
use crate::signing::{
    Decline, DeclineInput, Obligation, RequestContext, SignOutcome, Signature, SignatureInput,
    SignatureMark,
};

/// Signing and declining, and what a person still has to do.
#[async_trait]
pub trait Signing: Send + Sync {
    /// What the person must sign: for each policy whose newest published version is for
    /// one of their audiences, that version, unless they signed it or any version since
    /// the newest major one.
    async fn obligations(&self, school: SchoolId, person: PersonId)
    -> StoreResult<Vec<Obligation>>;
    /// Records a `viewed` entry for the version; returns the entry's seq. The sign page no
    /// longer calls it (opening a page writes nothing: what it served is sealed into its
    /// form and recorded with the signature or decline, see `signing::Served`); older
    /// chains hold such entries and a signature's `viewed_seq` may name one.
    async fn record_view(
        &self,
        school: SchoolId,
        person: PersonId,
        version: VersionId,
        text_sha256: &str,
        ctx: &RequestContext,
        at: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Records a signature with its ledger entry. Signing the same version twice returns
    /// the first signature as `AlreadySigned` and records nothing.
    async fn record_signature(
        &self,
        input: SignatureInput,
        at: DateTime<Utc>,
    ) -> StoreResult<SignOutcome>;
    async fn record_decline(&self, input: DeclineInput, at: DateTime<Utc>) -> StoreResult<Decline>;
    /// The person's signatures, newest first.
    async fn signatures_of(
        &self,
        school: SchoolId,
        person: PersonId,
    ) -> StoreResult<Vec<Signature>>;
    async fn signature(&self, school: SchoolId, id: SignatureId) -> StoreResult<Option<Signature>>;
    /// The drawn PNG or typed text of a signature.
    async fn signature_mark(
        &self,
        school: SchoolId,
        id: SignatureId,
    ) -> StoreResult<Option<SignatureMark>>;
    async fn declines(&self, viewer: &ComplianceViewer) -> StoreResult<Vec<Decline>>;
}
