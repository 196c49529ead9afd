//! The storage traits, one per use-case area. Each method is a whole use case and one
//! transaction; every method that touches school data takes the school (directly or inside
//! a capability) and never returns another school's rows. Evidence methods append their
//! ledger entry in the same transaction as the fact they record.
//!
//! Implemented by `undersign-store-sqlite` and `undersign-store-postgres`; the contract
//! tests in `undersign-store-contract` run the same bodies against both.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::access::OrganisationViewer;
use crate::access::{
    ComplianceViewer, KioskAdmin, PeopleAdmin, PolicyPublisher, Reception, WebRulesOwner,
};
use crate::blocking::{BlockReport, NewBlockReport};
use crate::compliance::{
    DaysToSign, SchoolFacts, SchoolSummaryState, SignatureExportRow, StoredSummary,
};
use crate::ids::*;
use crate::ledger::{ChainHead, Checkpoint, LedgerEntry};
use crate::person::{Email, NewPerson, Person, PersonUpdate};
use crate::policy::{DraftInput, NewReference, Policy, PolicyVersion, Title};
use crate::roster::{ExistingPerson, Roster, RosterError, RosterPlan};
use crate::school::{NewSchool, Organisation, School};
use crate::signing::{
    Decline, DeclineInput, Obligation, RequestContext, SignOutcome, Signature, SignatureInput,
};
use crate::visits::{
    Coverage, Kiosk, KioskName, NewVisit, SignOutBy, Visit, VisitorDetails, VisitorSettings,
};

/// What can go wrong in a store. `Conflict` and `NotFound` carry messages fit for users;
/// `Backend` is logged and shown as a generic failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Refused(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

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

/// A login candidate: an active person with a password.
#[derive(Debug, Clone)]
pub struct LoginAccount {
    pub person: Person,
    pub school_name: String,
    pub password_hash: String,
}

/// A stored session. The token itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_sha256: String,
    pub school: SchoolId,
    pub person: PersonId,
    pub csrf_token: String,
    pub auth_method: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// People, accounts, sessions and login throttling.
#[async_trait]
pub trait People: Send + Sync {
    /// Adds a person; their email must be new in the school. Recorded in the ledger.
    async fn add_person(&self, admin: &PeopleAdmin, person: NewPerson) -> StoreResult<Person>;
    /// Edits a person. Recorded in the ledger.
    async fn update_person(
        &self,
        admin: &PeopleAdmin,
        id: PersonId,
        update: PersonUpdate,
    ) -> StoreResult<Person>;
    async fn person(&self, school: SchoolId, id: PersonId) -> StoreResult<Option<Person>>;
    /// Everyone in the school, leavers included, by name.
    async fn people(&self, school: SchoolId) -> StoreResult<Vec<Person>>;
    /// Active people with a password and this email, in any school.
    async fn login_accounts(&self, email: &Email) -> StoreResult<Vec<LoginAccount>>;
    async fn set_password(
        &self,
        school: SchoolId,
        person: PersonId,
        password_hash: &str,
    ) -> StoreResult<()>;
    async fn password_hash(
        &self,
        school: SchoolId,
        person: PersonId,
    ) -> StoreResult<Option<String>>;

    async fn create_session(&self, session: SessionRecord) -> StoreResult<()>;
    /// A live session (not expired, person still active).
    async fn session(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, token_sha256: &str) -> StoreResult<()>;
    /// Ends every session of a person (on password change, on leaving).
    async fn delete_sessions_of(&self, school: SchoolId, person: PersonId) -> StoreResult<()>;

    /// Records a failed login for a throttle key (e.g. the email, or the client address).
    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()>;
    async fn login_failures_since(&self, key: &str, since: DateTime<Utc>) -> StoreResult<u32>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}

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

/// Signing and declining, and what a person still has to do.
#[async_trait]
pub trait Signing: Send + Sync {
    /// What the person must sign: for each policy whose newest published version is for
    /// one of their audiences, that version, unless they signed it or any version since
    /// the newest major one.
    async fn obligations(&self, school: SchoolId, person: PersonId)
    -> StoreResult<Vec<Obligation>>;
    /// Records that the person opened the version; returns the ledger entry's seq.
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
    ) -> StoreResult<Option<crate::signing::SignatureMark>>;
    async fn declines(&self, viewer: &ComplianceViewer) -> StoreResult<Vec<Decline>>;
}

/// The evidence chain and its checkpoints.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Every entry of the school's chain in `seq` order.
    async fn ledger_entries(&self, school: SchoolId) -> StoreResult<Vec<LedgerEntry>>;
    async fn ledger_head(&self, school: SchoolId) -> StoreResult<Option<ChainHead>>;
    async fn record_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()>;
    async fn checkpoints(&self, school: SchoolId) -> StoreResult<Vec<Checkpoint>>;
    /// The entries, in any school, whose hash starts with `prefix` (20 lower-case hex
    /// characters: what a receipt code stands for). Normally one; none for a wrong code.
    async fn entries_with_hash_prefix(&self, prefix: &str) -> StoreResult<Vec<LedgerEntry>>;
}

/// Reports from the block page that something was blocked wrongly.
#[async_trait]
pub trait BlockReports: Send + Sync {
    async fn record_block_report(
        &self,
        school: SchoolId,
        report: NewBlockReport,
        at: DateTime<Utc>,
    ) -> StoreResult<BlockReport>;
    /// The school's reports, newest first, with the reporter's name where known.
    async fn block_reports(&self, owner: &WebRulesOwner) -> StoreResult<Vec<BlockReport>>;
}

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

/// What applying a roster file did, or why nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterOutcome {
    Applied(RosterPlan),
    /// Rows that cannot be applied to the people as they are now; nothing was changed.
    Invalid(Vec<RosterError>),
    /// The people changed since the preview (whose digest was given), so the plan is not
    /// the one that was shown; nothing was changed. Carries the plan as it is now.
    Stale(RosterPlan),
}

/// The roster kept in step with the school's MIS.
#[async_trait]
pub trait RosterImport: Send + Sync {
    /// Everyone in the school as the import matches them, leavers included.
    async fn roster_people(&self, admin: &PeopleAdmin) -> StoreResult<Vec<ExistingPerson>>;
    /// Plans the file against the people as they are inside the transaction and applies
    /// all of it or none of it: joiners added (active, no password yet), changes made,
    /// leavers marked as left with their sessions ended and their evidence kept; each
    /// recorded in the ledger. `progress(done, total)` is called after each write.
    async fn apply_roster(
        &self,
        admin: &PeopleAdmin,
        roster: &Roster,
        expected_digest: Option<&str>,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StoreResult<RosterOutcome>;
}

/// Reception: kiosks, visitor sign-in and sign-out, the visitor rules and the purge of
/// visitor personal data.
#[async_trait]
pub trait Visits: Send + Sync {
    /// Registers a kiosk waiting for enrolment with the one-time code whose hash is
    /// `enrolment_sha256`, valid until `expires`. Recorded in the ledger.
    async fn register_kiosk(
        &self,
        admin: &KioskAdmin,
        name: &KioskName,
        enrolment_sha256: &str,
        expires: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Kiosk>;
    /// Exchanges an unexpired, unused enrolment code for the device token (hash): the
    /// code is spent. `None` if no kiosk waits for that code.
    async fn enrol_kiosk(
        &self,
        enrolment_sha256: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Kiosk>>;
    /// The enrolled, unrevoked kiosk holding this token.
    async fn kiosk_by_token(&self, token_sha256: &str) -> StoreResult<Option<Kiosk>>;
    async fn kiosks(&self, admin: &KioskAdmin) -> StoreResult<Vec<Kiosk>>;
    /// Revokes a kiosk: its token is refused from now on. Recorded in the ledger.
    async fn revoke_kiosk(
        &self,
        admin: &KioskAdmin,
        kiosk: KioskId,
        at: DateTime<Utc>,
    ) -> StoreResult<Kiosk>;

    /// The school's visitor rules (defaults until set).
    async fn visitor_settings(&self, school: SchoolId) -> StoreResult<VisitorSettings>;
    async fn set_visitor_settings(
        &self,
        admin: &KioskAdmin,
        settings: VisitorSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The version visitors sign now: the newest published version, for visitors, of the
    /// first such policy by title.
    async fn visitor_policy(&self, school: SchoolId) -> StoreResult<Option<PolicyVersion>>;
    /// Whether this visitor (recognised by email or visitor code, and the same name) must
    /// sign the visitor AUP now.
    async fn coverage(
        &self,
        school: SchoolId,
        details: &VisitorDetails,
        now: DateTime<Utc>,
    ) -> StoreResult<Coverage>;
    /// Signs a visitor in, with their signature or under an earlier one that still covers
    /// them, and records it in the ledger. Refused if a signature is needed and missing,
    /// or is of another version than the current visitor AUP.
    async fn sign_in_visitor(&self, visit: NewVisit, at: DateTime<Utc>) -> StoreResult<Visit>;
    async fn visit(&self, school: SchoolId, id: VisitId) -> StoreResult<Option<Visit>>;
    /// Everyone on site now, by arrival.
    async fn on_site(&self, reception: &Reception) -> StoreResult<Vec<Visit>>;
    /// Visits that arrived since `since`, newest first (on site or not).
    async fn visits_since(
        &self,
        reception: &Reception,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Visit>>;
    /// On-site visits whose visitor code, email or name is `who` (for signing out at a kiosk).
    async fn find_on_site(&self, school: SchoolId, who: &str) -> StoreResult<Vec<Visit>>;
    /// Signs a visitor out. Recorded in the ledger.
    async fn sign_out_visitor(
        &self,
        school: SchoolId,
        visit: VisitId,
        by: SignOutBy,
        at: DateTime<Utc>,
    ) -> StoreResult<Visit>;
    /// Signs out (and flags) everyone still on site who arrived before `cutoff`.
    async fn sign_out_overdue(
        &self,
        school: SchoolId,
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitId>>;
    /// Removes the personal data and salts of visits that arrived before `before` and
    /// are no longer on site; records one `visitor_data_purged` entry naming them.
    async fn purge_visitor_data(
        &self,
        school: SchoolId,
        before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<VisitId>>;
}

/// Everything the application needs from a database.
pub trait Store:
    Schools
    + People
    + Policies
    + Signing
    + Ledger
    + BlockReports
    + Compliance
    + RosterImport
    + Visits
    + crate::chasing::Chasing
    + crate::mail::Outbox
    + crate::login_link::LoginLinks
    + Send
    + Sync
{
    /// `sqlite` or `postgres`, for logs and test output.
    fn backend(&self) -> &'static str;
}
