//! Squid's access log: the device register that attribution reads, and the requests
//! stored in retention partitions.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::net::IpAddr;

use super::StoreResult;
use crate::access::{LogReportViewer, PolicyPublisher, WebRulesOwner};
use crate::ids::SchoolId;
use crate::ids::{DeviceId, PersonId};
use crate::logs::{LogBatch, LogClass, LogReport, LogSettings, LoggedRequest, Period, Register};

/// One device as the register should hold it from a moment on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The school's name for it (asset tag or host name), unique in the school.
    pub name: String,
    /// Its address from now on; `None` leaves the address as it is.
    pub address: Option<IpAddr>,
    /// Who holds it from now on; `None` leaves the holder as it is.
    pub holder: Option<Holder>,
}

/// Who holds a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Person(PersonId),
    /// Back in the cupboard, a shared machine, or otherwise nobody's.
    Nobody,
}

/// A DHCP lease: `device` had `address` from `from` until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub device: String,
    pub address: IpAddr,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// One stored partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPartition {
    pub class: LogClass,
    pub period: Period,
    pub rows: u64,
}

/// The device register and the stored requests.
#[async_trait]
pub trait Logs: Send + Sync {
    /// Brings the named devices up to date as of `at`, all or none: a new name is added;
    /// a changed address or holder closes the span open until `at` and opens a new one,
    /// so that requests made before `at` stay attributed as they were.
    async fn record_devices(
        &self,
        owner: &WebRulesOwner,
        devices: &[DeviceRecord],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<DeviceId>>;

    /// Records DHCP leases (devices named by the lease, added when new), all or none. A
    /// lease already recorded is not recorded twice.
    async fn record_leases(&self, owner: &WebRulesOwner, leases: &[Lease]) -> StoreResult<usize>;

    /// Everything attribution needs: people's proxy user names (their sign-in emails, and
    /// the part before `@` where it is unique), and every address and holder span.
    async fn attribution_register(&self, owner: &WebRulesOwner) -> StoreResult<Register>;

    /// Lines of `source` already stored: 0 for a source never seen.
    async fn log_cursor(&self, owner: &WebRulesOwner, source: &str) -> StoreResult<u64>;

    /// Stores `batch`: its requests in their partitions (created as needed), the daily
    /// totals, and the source's cursor moved from `from_line` to `to_line`, in one
    /// transaction. `Conflict` if the cursor is no longer `from_line` (the batch was
    /// stored already, or by another loader): nothing is stored then.
    async fn load_logs(&self, owner: &WebRulesOwner, batch: &LogBatch) -> StoreResult<()>;

    /// Every stored request made on the days `from..=to`, in the order loaded.
    async fn logged_requests(
        &self,
        owner: &WebRulesOwner,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<LoggedRequest>>;

    /// The school's partitions, oldest first, with their row counts.
    async fn log_partitions(&self, owner: &WebRulesOwner) -> StoreResult<Vec<LogPartition>>;

    /// The pseudonymous report over the days `from..=to` (at most `limit` rows of each
    /// list but the days).
    async fn log_report(
        &self,
        viewer: &LogReportViewer,
        from: NaiveDate,
        to: NaiveDate,
        limit: u32,
    ) -> StoreResult<LogReport>;

    /// The school's retention and safeguarding categories (the defaults until set).
    async fn log_settings(&self, school: SchoolId) -> StoreResult<LogSettings>;

    /// Sets them (the headteacher), with its ledger entry. `Refused` if out of bounds.
    async fn set_log_settings(
        &self,
        head: &PolicyPublisher,
        settings: &LogSettings,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Drops whole every partition of `class` that ends on or before `keep_from`, each
    /// with its `log_partition_dropped` entry, and the daily totals of that class before
    /// `keep_from`, in one transaction. Returns what was dropped.
    async fn drop_log_partitions(
        &self,
        school: SchoolId,
        class: LogClass,
        keep_from: NaiveDate,
        retention_days: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<LogPartition>>;
}
