//! Visits: visitors signing in and out at reception, the visitor rules, and the purge
//! of visitor personal data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::{KioskAdmin, Reception};
use crate::ids::*;
use crate::policy::PolicyVersion;
use crate::visits::{
    Coverage, NewVisit, PersonalData, SignOutBy, Visit, VisitorDetails, VisitorSettings,
};

/// Reception: visitor sign-in and sign-out, the visitor rules and the purge of visitor
/// personal data (the kiosks are [`super::Kiosks`]).
#[async_trait]
pub trait Visits: Send + Sync {
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
    /// or is of another version than the current visitor AUP. A visitor who gave an email
    /// address has their receipt queued in the same transaction (`Deferred::VisitReceipt`).
    async fn sign_in_visitor(&self, visit: NewVisit, at: DateTime<Utc>) -> StoreResult<Visit>;
    /// The personal fields of a visit exactly as hashed into its ledger entry, and the
    /// salt of that hash, for the visitor's own receipt; `None` once purged.
    async fn visit_personal(
        &self,
        school: SchoolId,
        visit: VisitId,
    ) -> StoreResult<Option<(PersonalData, Vec<u8>)>>;
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
