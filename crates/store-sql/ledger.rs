//! The evidence ledger: appending an entry inside the caller's transaction, reading a
//! school's chain, and signed checkpoints. Entries are built only by
//! `undersign_core::ledger::next_entry`; the payload is stored as the exact text hashed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use undersign_core::SchoolId;
use undersign_core::evidence::EvidenceSnapshot;
use undersign_core::ledger::{ChainHead, Checkpoint, Event, LedgerEntry, next_entry};
use undersign_core::store::{Ledger, StoreError, StoreResult};

use crate::BackendStore;
use crate::codec::micros;
use crate::db::{Conn, Db, SNAPSHOT, lock_school, ts};
use crate::errors::db;

/// Appends `event` to the school's chain, in the caller's transaction: the entry commits
/// or rolls back with the fact it records.
pub(crate) async fn append(
    conn: &mut Conn,
    school: SchoolId,
    event: &Event,
    at: DateTime<Utc>,
) -> StoreResult<LedgerEntry> {
    lock_school(conn, school).await?;
    let head = head(conn, school).await?;
    insert_after(conn, school, head.as_ref(), event, at).await
}

/// Writes the entry for `event` after `head`, which the caller read under the school's
/// lock (or carried from its own last append under it).
pub(crate) async fn insert_after(
    conn: &mut Conn,
    school: SchoolId,
    head: Option<&ChainHead>,
    event: &Event,
    at: DateTime<Utc>,
) -> StoreResult<LedgerEntry> {
    let entry = next_entry(school, head, event, micros(at))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    sqlx::query(
        "INSERT INTO ledger_entries (school_id, seq, kind, payload, prev_hash, hash, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(school.0)
    .bind(entry.seq)
    .bind(&entry.kind)
    .bind(&entry.payload)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(entry)
}

/// Writes entries already chained (by [`insert_after`]'s rule, in memory), in one
/// statement.
pub(crate) async fn insert_entries(
    conn: &mut Conn,
    entries: &[(LedgerEntry, DateTime<Utc>)],
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO ledger_entries (school_id, seq, kind, payload, prev_hash, hash, recorded_at) ",
    );
    insert.push_values(entries, |mut row, (entry, at)| {
        row.push_bind(entry.school.0)
            .push_bind(entry.seq)
            .push_bind(&entry.kind)
            .push_bind(&entry.payload)
            .push_bind(&entry.prev_hash)
            .push_bind(&entry.hash)
            .push_bind(ts(*at));
    });
    insert
        .build()
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// The last entry of the school's chain.
pub(crate) async fn head(conn: &mut Conn, school: SchoolId) -> StoreResult<Option<ChainHead>> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, hash FROM ledger_entries WHERE school_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(school.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|(seq, hash)| ChainHead { seq, hash }))
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    school_id: i64,
    seq: i64,
    kind: String,
    payload: String,
    prev_hash: String,
    hash: String,
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    school_id: i64,
    seq: i64,
    hash: String,
    signed_at: DateTime<Utc>,
    signature: String,
}

impl EntryRow {
    fn into_entry(self) -> LedgerEntry {
        LedgerEntry {
            school: SchoolId(self.school_id),
            seq: self.seq,
            kind: self.kind,
            payload: self.payload,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

#[async_trait]
impl Ledger for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %school))]
    async fn ledger_entries(&self, school: SchoolId) -> StoreResult<Vec<LedgerEntry>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        entries_in(&mut conn, school).await
    }

    async fn entries_with_hash_prefix(&self, prefix: &str) -> StoreResult<Vec<LedgerEntry>> {
        // Matched on `substr(hash, 1, 20)`, the expression the code index is built on.
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT school_id, seq, kind, payload, prev_hash, hash
             FROM ledger_entries WHERE substr(hash, 1, 20) = $1
             ORDER BY school_id, seq LIMIT 10",
        )
        .bind(prefix)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(EntryRow::into_entry).collect())
    }

    async fn evidence_snapshot(&self, school: SchoolId) -> StoreResult<EvidenceSnapshot> {
        let mut tx = self.read.begin().await.map_err(db)?;
        sqlx::query(SNAPSHOT).execute(&mut *tx).await.map_err(db)?;
        let entries = entries_in(&mut tx, school).await?;
        let checkpoints = checkpoints_in(&mut tx, school).await?;
        let rows = crate::evidence::evidence_rows(&mut tx, school).await?;
        let log_parts = crate::logs::stored_parts(&mut tx, school, &entries).await?;
        tx.commit().await.map_err(db)?;
        Ok(EvidenceSnapshot {
            entries,
            checkpoints,
            rows,
            log_parts,
        })
    }

    async fn ledger_entries_between(
        &self,
        school: SchoolId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT school_id, seq, kind, payload, prev_hash, hash
             FROM ledger_entries WHERE school_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(school.0)
        .bind(from)
        .bind(to)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(EntryRow::into_entry).collect())
    }

    async fn ledger_entry(&self, school: SchoolId, seq: i64) -> StoreResult<Option<LedgerEntry>> {
        let row: Option<EntryRow> = sqlx::query_as(
            "SELECT school_id, seq, kind, payload, prev_hash, hash
             FROM ledger_entries WHERE school_id = $1 AND seq = $2",
        )
        .bind(school.0)
        .bind(seq)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        Ok(row.map(EntryRow::into_entry))
    }

    async fn ledger_head(&self, school: SchoolId) -> StoreResult<Option<ChainHead>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        head(&mut conn, school).await
    }

    #[tracing::instrument(skip_all, fields(school = %checkpoint.school, seq = checkpoint.seq))]
    async fn record_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO checkpoints (school_id, seq, hash, signed_at, signature)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(checkpoint.school.0)
        .bind(checkpoint.seq)
        .bind(&checkpoint.hash)
        .bind(ts(checkpoint.signed_at))
        .bind(&checkpoint.signature)
        .execute(&self.write)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn checkpoints(&self, school: SchoolId) -> StoreResult<Vec<Checkpoint>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        checkpoints_in(&mut conn, school).await
    }
}

async fn entries_in(conn: &mut Conn, school: SchoolId) -> StoreResult<Vec<LedgerEntry>> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT school_id, seq, kind, payload, prev_hash, hash
         FROM ledger_entries WHERE school_id = $1 ORDER BY seq",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

async fn checkpoints_in(conn: &mut Conn, school: SchoolId) -> StoreResult<Vec<Checkpoint>> {
    let rows: Vec<CheckpointRow> = sqlx::query_as(
        "SELECT school_id, seq, hash, signed_at, signature
         FROM checkpoints WHERE school_id = $1 ORDER BY seq",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|r| Checkpoint {
            school: SchoolId(r.school_id),
            seq: r.seq,
            hash: r.hash,
            signed_at: r.signed_at,
            signature: r.signature,
        })
        .collect())
}
