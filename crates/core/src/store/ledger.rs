//! Each school's evidence chain and its signed checkpoints.

use async_trait::async_trait;

use super::StoreResult;
use crate::evidence::EvidenceSnapshot;
use crate::ids::*;
use crate::ledger::{ChainHead, Checkpoint, LedgerEntry};

/// The evidence chain and its checkpoints.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Every entry of the school's chain in `seq` order.
    async fn ledger_entries(&self, school: SchoolId) -> StoreResult<Vec<LedgerEntry>>;
    /// The entries `from..=to` of the school's chain, in `seq` order.
    async fn ledger_entries_between(
        &self,
        school: SchoolId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<LedgerEntry>>;
    /// One entry of the school's chain.
    async fn ledger_entry(&self, school: SchoolId, seq: i64) -> StoreResult<Option<LedgerEntry>>;
    async fn ledger_head(&self, school: SchoolId) -> StoreResult<Option<ChainHead>>;
    async fn record_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()>;
    async fn checkpoints(&self, school: SchoolId) -> StoreResult<Vec<Checkpoint>>;
    /// The entries, in any school, whose hash starts with `prefix` (20 lower-case hex
    /// characters: what a receipt code stands for). Normally one; none for a wrong code.
    async fn entries_with_hash_prefix(&self, prefix: &str) -> StoreResult<Vec<LedgerEntry>>;
    /// The school's chain, its checkpoints and every evidence row (see
    /// [`crate::evidence`]), read in one snapshot so that `verify` compares them as of one
    /// moment even while a server appends.
    async fn evidence_snapshot(&self, school: SchoolId) -> StoreResult<EvidenceSnapshot>;
}
