//! Checkpoints: a school's chain head signed with the school's Ed25519 key, recorded in
//! the database and appended to the school's witness file beside the key, so that even
//! someone who rewrites the whole chain and its checkpoints in the database is caught by
//! `verify`. A head is signed only when its chain verifies and extends the last witnessed
//! head; otherwise checkpointing refuses, logs an error and emails the headteacher.

use anyhow::{Context, bail};
use std::path::Path;
use undersign_core::ledger::{
    ChainHead, Checkpoint, check_extends, verify_chain, verify_checkpoints,
};
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
    /// The chain does not verify or does not extend what was witnessed: nothing was
    /// signed, and the headteacher was alerted.
    Refused { reason: String },
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
    let witness = crate::witness::read(keys_dir, school.id)?.unwrap_or_default();
    let checkpoints = store.checkpoints(school.id).await?;
    let entries = store.ledger_entries(school.id).await?;
    let refusal = match verify_chain(school.id, &entries) {
        Err(e) => Some(format!("the chain does not verify: entry {}: {e}", e.seq())),
        Ok(_) => verify_checkpoints(&entries, &checkpoints, &key.verifying_key())
            .err()
            .map(|e| format!("its checkpoints do not verify: entry {}: {e}", e.seq()))
            .or_else(|| {
                let last = witness.last()?;
                check_extends(school.id, &entries, last, &key.verifying_key())
                    .err()
                    .map(|e| {
                        format!(
                            "the chain does not extend the head witnessed at entry {}: {e}",
                            last.checkpoint.seq
                        )
                    })
            }),
    };
    if let Some(reason) = refusal {
        tracing::error!(
            "REFUSING to checkpoint {}: {reason}. Run `undersign verify` and see the operator guide, \"When verify fails\"",
            school.slug
        );
        alert_headteacher(store, school, &reason).await;
        return Ok(Outcome::Refused { reason });
    }
    let Some(head) = entries.last().map(|e| ChainHead {
        seq: e.seq,
        hash: e.hash.clone(),
    }) else {
        return Ok(Outcome::Empty);
    };
    let witnessed_head = witness
        .last()
        .is_some_and(|w| w.checkpoint.seq == head.seq && w.checkpoint.hash == head.hash);
    // Already checkpointed (the checkpoints were verified with the key above): make sure
    // the witness holds it too, as after an upgrade or a checkpoint by another server.
    if let Some(last) = checkpoints.iter().max_by_key(|c| c.seq)
        && last.seq == head.seq
        && last.hash == head.hash
    {
        if !witnessed_head {
            witness_append(keys_dir, school, last)?;
        }
        return Ok(Outcome::Unchanged { seq: head.seq });
    }
    let checkpoint = Checkpoint::sign(school.id, &head, undersign_core::time::now(), &key);
    match store.record_checkpoint(&checkpoint).await {
        Ok(()) => {}
        // Another server checkpointed the same head a moment ago: witness theirs.
        Err(StoreError::Conflict(_)) => {
            let theirs = store.checkpoints(school.id).await?;
            if let Some(cp) = theirs
                .iter()
                .find(|c| c.seq == head.seq && c.hash == head.hash)
                && verify_checkpoints(&entries, std::slice::from_ref(cp), &key.verifying_key())
                    .is_ok()
            {
                witness_append(keys_dir, school, cp)?;
            }
            return Ok(Outcome::Unchanged { seq: head.seq });
        }
        Err(e) => return Err(e.into()),
    }
    witness_append(keys_dir, school, &checkpoint)?;
    tracing::info!(seq = head.seq, "checkpointed chain head");
    Ok(Outcome::Signed { seq: head.seq })
}

fn witness_append(keys_dir: &Path, school: &School, cp: &Checkpoint) -> anyhow::Result<()> {
    crate::witness::append(keys_dir, cp).with_context(|| {
        format!(
            "the checkpoint of {} at entry {} is in the database but not in the witness file",
            school.slug, cp.seq
        )
    })
}

/// Emails the school's headteachers that checkpointing was refused.
async fn alert_headteacher(store: &dyn Store, school: &School, reason: &str) {
    let what = format!(
        "Undersign refused to sign a checkpoint of {}'s evidence ledger",
        school.name
    );
    match undersign_core::use_cases::raise_evidence_alarm(
        store,
        school,
        &what,
        reason,
        undersign_core::time::now(),
    )
    .await
    {
        Ok(0) => tracing::error!("the school has no active headteacher to alert"),
        Ok(_) => {}
        Err(e) => tracing::error!("cannot queue the alert to the headteacher: {e}"),
    }
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

/// Logs what a run did not manage (refusals are logged where they happen).
pub fn log_failures(results: &[(School, anyhow::Result<Outcome>)]) {
    for (school, result) in results {
        if let Err(e) = result {
            tracing::error!(school = %school.slug, "checkpoint failed: {e:#}");
        }
    }
}

/// Queues, once a week per school, the newest checkpoint to the headteacher
/// (`use_cases::mail_weekly_witness`), for the schools whose chain verified just now.
async fn mail_witnesses(store: &dyn Store, results: &[(School, anyhow::Result<Outcome>)]) {
    let now = undersign_core::time::now();
    for (school, result) in results {
        if !matches!(
            result,
            Ok(Outcome::Signed { .. } | Outcome::Unchanged { .. })
        ) {
            continue;
        }
        let newest = match store.checkpoints(school.id).await {
            Ok(cps) => cps.into_iter().max_by_key(|c| c.seq),
            Err(e) => {
                tracing::error!(school = %school.slug, "cannot read checkpoints: {e}");
                continue;
            }
        };
        if let Some(cp) = newest
            && let Err(e) =
                undersign_core::use_cases::mail_weekly_witness(store, school, &cp, now).await
        {
            tracing::error!(school = %school.slug, "cannot queue the weekly witness: {e}");
        }
    }
}

/// The background job inside `serve`: checkpoint every school every `every`, and mail
/// the weekly witness, until the returned future is dropped.
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
                log_failures(&results);
                mail_witnesses(store.as_ref(), &results).await;
            }
            Err(e) => tracing::error!("checkpoint run failed: {e:#}"),
        }
    }
}
