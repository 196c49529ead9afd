//! Checkpoints: a school's chain head signed with the school's Ed25519 key, so that even
//! someone who rewrites the whole chain in the database is caught by `verify`. A head is
//! only signed after its chain verifies, so a checkpoint never blesses a tampered chain.

use anyhow::{Context, bail};
use std::path::Path;
use undersign_core::ledger::{Checkpoint, verify_chain, verify_checkpoints};
use undersign_core::school::School;
use undersign_core::store::{Store, StoreError};

/// What checkpointing one school did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new checkpoint at this entry.
    Signed { seq: i64 },
    /// The newest checkpoint is already at the head.
    Unchanged { seq: i64 },
    /// The chain has no entries.
    Empty,
}

/// Checkpoints one school's head if it moved since the last checkpoint.
#[tracing::instrument(skip_all, fields(school = %school.slug))]
pub async fn checkpoint_school(
    store: &dyn Store,
    school: &School,
    keys_dir: &Path,
) -> anyhow::Result<Outcome> {
    let Some(key) = crate::keys::read_matching(keys_dir, school.id, &school.public_key)? else {
        bail!(
            "no key file {} for school {}",
            crate::keys::key_path(keys_dir, school.id).display(),
            school.slug
        );
    };
    let checkpoints = store.checkpoints(school.id).await?;
    let entries = store.ledger_entries(school.id).await?;
    let summary = verify_chain(school.id, &entries).with_context(|| {
        format!(
            "the chain of {} does not verify; not signing it (run `undersign verify`)",
            school.slug
        )
    })?;
    verify_checkpoints(&entries, &checkpoints, &key.verifying_key()).with_context(|| {
        format!(
            "the checkpoints of {} do not verify; not signing (run `undersign verify`)",
            school.slug
        )
    })?;
    let Some(head) = summary.head else {
        return Ok(Outcome::Empty);
    };
    if let Some(last) = checkpoints.iter().max_by_key(|c| c.seq)
        && last.seq == head.seq
        && last.hash == head.hash
    {
        return Ok(Outcome::Unchanged { seq: head.seq });
    }
    let checkpoint = Checkpoint::sign(school.id, &head, undersign_core::time::now(), &key);
    match store.record_checkpoint(&checkpoint).await {
        Ok(()) => {}
        // Another server checkpointed the same head a moment ago.
        Err(StoreError::Conflict(_)) => return Ok(Outcome::Unchanged { seq: head.seq }),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(seq = head.seq, "checkpointed chain head");
    Ok(Outcome::Signed { seq: head.seq })
}

/// Checkpoints every school; returns each school's outcome (an error for one school does
/// not stop the others).
pub async fn checkpoint_all(
    store: &dyn Store,
    keys_dir: &Path,
) -> anyhow::Result<Vec<(School, anyhow::Result<Outcome>)>> {
    let schools = store.schools().await.context("cannot list the schools")?;
    let mut out = Vec::with_capacity(schools.len());
    for school in schools {
        let result = checkpoint_school(store, &school, keys_dir).await;
        out.push((school, result));
    }
    Ok(out)
}

/// The background job inside `serve`: checkpoint every school every `every`, until the
/// returned future is dropped.
pub async fn run_periodically(
    store: std::sync::Arc<dyn Store>,
    keys_dir: std::path::PathBuf,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: a restarted server checkpoints what happened before.
    loop {
        tick.tick().await;
        match checkpoint_all(store.as_ref(), &keys_dir).await {
            Ok(results) => {
                for (school, result) in results {
                    if let Err(e) = result {
                        tracing::error!(school = %school.slug, "checkpoint failed: {e:#}");
                    }
                }
            }
            Err(e) => tracing::error!("checkpoint run failed: {e:#}"),
        }
    }
}
