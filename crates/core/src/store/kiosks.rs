//! Reception's kiosks: a tablet is registered by the school, enrolled once with a
//! one-time code, and holds a device token until it is revoked.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::access::KioskAdmin;
use crate::ids::*;
use crate::visits::{Kiosk, KioskName};

/// Reception's kiosks: registering one, enrolling the tablet, revoking it.
#[async_trait]
pub trait Kiosks: Send + Sync {
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
}
