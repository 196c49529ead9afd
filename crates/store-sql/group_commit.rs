//! Group commit: ledger appends that arrive together share one write transaction and one
//! durable commit, instead of one commit (one fsync, one turn of the school's lock) each.
//!
//! A caller hands its work to a *lane* and waits. The lane's task takes every job waiting
//! (up to [`MAX_BATCH`]), opens one transaction, takes the lock of each school in the
//! batch in ascending order (so two servers' batches never deadlock), and runs the jobs
//! one after another. Only after the commit does each caller get its answer, so nothing is
//! acknowledged before it is durable. If the commit itself fails, every job of the batch
//! gets the error and none was acknowledged. No job waits for a batch to fill: whatever
//! arrives while one batch commits forms the next.
//!
//! The jobs of a batch share a [`Batch`]: each school's chain head as the batch's own
//! appends leave it (read once, after the lock), what a job reads once for the batch (the
//! version being signed), and the rows the jobs write, which are sent together at the end
//! (all the ledger entries in one statement, then all the signatures, then all the
//! receipts). Under the school's lock nothing they read can change behind them. So a
//! signing costs the lane one statement of its own (reading the signer), however large the
//! batch.
//!
//! A job that fails fails alone. The jobs first run without savepoints; if one of them
//! fails, or the batch's rows are refused, the transaction is rolled back and the batch
//! runs again with each job in its own savepoint, sending its rows before the savepoint is
//! released: a failing job is rolled back to it and the others go on. A job is therefore
//! work that can run twice, and whatever it reads or writes is read again on the second
//! run.
//!
//! Jobs for one school always go to the same lane, in arrival order. SQLite has one lane
//! (it has one writer); PostgreSQL has several, so schools append side by side, and the
//! school's advisory lock still orders appends made by other servers.

use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use undersign_core::ledger::{ChainHead, Event, LedgerEntry, next_entry};
use undersign_core::outbox::NewMail;
use undersign_core::store::{StoreError, StoreResult};
use undersign_core::{PersonId, SchoolId, VersionId};

use crate::codec::micros;
use crate::db::{Conn, Pool, lock_school};
use crate::errors::db;
use crate::signing::{Signable, SignatureValues, SignerRow};

/// The most jobs committed together: enough to carry a burst of hundreds of signings in a
/// few commits, small enough that one batch's transaction stays short.
pub(crate) const MAX_BATCH: usize = 128;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work run inside a batch's transaction on the lane's connection, perhaps twice (see the
/// module's notes).
pub(crate) type Work<T> =
    Box<dyn for<'c> Fn(&'c mut Conn, &'c mut Batch) -> BoxFuture<'c, StoreResult<T>> + Send>;

/// What the jobs of one batch share, under the locks of its schools.
#[derive(Default)]
pub(crate) struct Batch {
    /// Each school's chain head, once read: `None` inside for an empty chain.
    heads: HashMap<SchoolId, Option<ChainHead>>,
    /// The versions signed or declined in this batch, read once each.
    versions: HashMap<(SchoolId, VersionId), Arc<Signable>>,
    /// Rows written by the batch's jobs and not yet sent to the database: they go in a
    /// few statements for the whole batch (see [`Batch::send`]).
    entries: Vec<(LedgerEntry, DateTime<Utc>)>,
    signatures: Vec<SignatureValues>,
    mails: Vec<(NewMail, DateTime<Utc>)>,
    /// The ids of the signatures made in this batch.
    signature_ids: BTreeSet<i64>,
    /// The batch's signers, read together before its jobs run; each taken once.
    signers: HashMap<(SchoolId, PersonId, VersionId), SignerRow>,
}

impl Batch {
    /// Appends `event` to the school's chain, whose lock the batch holds. The head is read
    /// from the database once per batch and carried from entry to entry after that; the
    /// entry is sent with the batch's other rows.
    pub(crate) async fn append(
        &mut self,
        conn: &mut Conn,
        school: SchoolId,
        event: &Event,
        at: DateTime<Utc>,
    ) -> StoreResult<LedgerEntry> {
        let head = match self.heads.get(&school) {
            Some(head) => head.clone(),
            None => crate::ledger::head(conn, school).await?,
        };
        let entry = next_entry(school, head.as_ref(), event, micros(at))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.heads.insert(
            school,
            Some(ChainHead {
                seq: entry.seq,
                hash: entry.hash.clone(),
            }),
        );
        self.entries.push((entry.clone(), at));
        Ok(entry)
    }

    /// A signature row, sent after the ledger entries.
    pub(crate) fn insert_signature(&mut self, row: SignatureValues) {
        self.signatures.push(row);
    }

    /// The id for a new signature, given the one the database reserved for it. A
    /// sequence (PostgreSQL) never hands out an id twice, so it is used as it is. SQLite
    /// reserves `MAX(id) + 1`, which cannot see the batch's unsent rows and is the same for
    /// every signer read together: an id the batch has used already is replaced by the
    /// next one past every id the batch has used.
    pub(crate) fn signature_id(&mut self, reserved: i64) -> i64 {
        let id = if self.signature_ids.contains(&reserved) {
            self.signature_ids.last().map_or(reserved, |last| last + 1)
        } else {
            reserved
        };
        self.signature_ids.insert(id);
        id
    }

    /// A message to queue (without attachments), sent last.
    pub(crate) fn queue_mail(&mut self, mail: NewMail, at: DateTime<Utc>) {
        self.mails.push((mail, at));
    }

    /// Sends the rows written so far: the ledger entries, then the signatures that name
    /// them, then the mail. A job that writes a row of its own naming its entry sends
    /// first.
    pub(crate) async fn send(&mut self, conn: &mut Conn) -> StoreResult<()> {
        for chunk in self.entries.chunks(MAX_BATCH) {
            crate::ledger::insert_entries(conn, chunk).await?;
        }
        self.entries.clear();
        for chunk in self.signatures.chunks(MAX_BATCH) {
            crate::signing::insert_signatures(conn, chunk).await?;
        }
        self.signatures.clear();
        for chunk in self.mails.chunks(MAX_BATCH) {
            crate::outbox::insert_mails(conn, chunk).await?;
        }
        self.mails.clear();
        Ok(())
    }

    /// Forgets rows not yet sent (their job failed).
    fn discard(&mut self) {
        self.entries.clear();
        self.signatures.clear();
        self.mails.clear();
    }

    /// Reads the signers of every signing in the batch, one statement per school and
    /// version, before the jobs run.
    async fn read_signers(
        &mut self,
        conn: &mut Conn,
        wanted: HashMap<(SchoolId, VersionId), Vec<PersonId>>,
    ) -> StoreResult<()> {
        for ((school, version), people) in wanted {
            for row in crate::signing::signers(conn, school, version, &people).await? {
                self.signers.insert((school, row.person_id(), version), row);
            }
        }
        Ok(())
    }

    /// What signing reads of `person` about `version`: as read for the batch when the
    /// batch began (under the school's lock, so still true unless the batch itself signed
    /// for them, which the database refuses as a second signature), or read now.
    pub(crate) async fn signer(
        &mut self,
        conn: &mut Conn,
        school: SchoolId,
        person: PersonId,
        version: VersionId,
    ) -> StoreResult<Option<SignerRow>> {
        if let Some(row) = self.signers.remove(&(school, person, version)) {
            return Ok(Some(row));
        }
        Ok(crate::signing::signers(conn, school, version, &[person])
            .await?
            .pop())
    }

    /// The version as signing needs it, read once per batch.
    pub(crate) async fn version(
        &mut self,
        conn: &mut Conn,
        school: SchoolId,
        version: VersionId,
    ) -> StoreResult<Arc<Signable>> {
        if let Some(found) = self.versions.get(&(school, version)) {
            return Ok(found.clone());
        }
        let read = Arc::new(crate::signing::signable(conn, school, version).await?);
        self.versions.insert((school, version), read.clone());
        Ok(read)
    }
}

/// A job as the lane sees it, whatever it returns.
trait Job: Send {
    fn school(&self) -> SchoolId;
    /// Who signs what, for a signing.
    fn signer(&self) -> Option<(PersonId, VersionId)>;
    /// Runs the work (again, if it ran before); whether it succeeded.
    fn run<'a>(&'a mut self, conn: &'a mut Conn, batch: &'a mut Batch) -> BoxFuture<'a, bool>;
    /// The work ran, but writing its rows failed.
    fn failed(&mut self, error: StoreError);
    /// Answers the caller once the batch has committed, or failed to.
    fn answer(self: Box<Self>, committed: Result<(), StoreError>);
}

struct Pending<T> {
    school: SchoolId,
    signer: Option<(PersonId, VersionId)>,
    work: Work<T>,
    outcome: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T: Send> Job for Pending<T> {
    fn school(&self) -> SchoolId {
        self.school
    }

    fn signer(&self) -> Option<(PersonId, VersionId)> {
        self.signer
    }

    fn run<'a>(&'a mut self, conn: &'a mut Conn, batch: &'a mut Batch) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let outcome = (self.work)(conn, batch).await;
            let ok = outcome.is_ok();
            self.outcome = Some(outcome);
            ok
        })
    }

    fn failed(&mut self, error: StoreError) {
        self.outcome = Some(Err(error));
    }

    fn answer(self: Box<Self>, committed: Result<(), StoreError>) {
        let this = *self;
        let outcome = match (this.outcome, committed) {
            // A job that failed is answered with its own error, whatever the commit did.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(e)) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Backend(
                "a batched write was never run".to_string(),
            )),
        };
        // The caller may have gone (its request was dropped): the write stands anyway.
        let _ = this.reply.send(outcome);
    }
}

type Sender = mpsc::UnboundedSender<Box<dyn Job>>;

/// The lanes of one store's writer.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    pool: Pool,
    /// One sender per lane, started on first use (on the runtime of that use) and again if
    /// its task has stopped.
    lanes: Arc<Mutex<Vec<Option<Sender>>>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Group commit on `pool`'s connections with `lanes` lanes (at least one).
    pub(crate) fn new(pool: Pool, lanes: usize) -> Self {
        Self {
            pool,
            lanes: Arc::new(Mutex::new(vec![None; lanes.max(1)])),
        }
    }

    /// Closes the lanes' connections (the pool's), waiting for a batch under way.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `work` for `school` in the next batch of its lane; its outcome once the batch
    /// is durable (or has failed).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        school: SchoolId,
        work: Work<T>,
    ) -> StoreResult<T> {
        self.run_for(school, None, work).await
    }

    /// [`GroupCommit::run`] for a signing by `signer` of `version`: the batch reads its
    /// signers together (see [`Batch::signer`]).
    pub(crate) async fn run_signing<T: Send + 'static>(
        &self,
        school: SchoolId,
        signer: (PersonId, VersionId),
        work: Work<T>,
    ) -> StoreResult<T> {
        self.run_for(school, Some(signer), work).await
    }

    async fn run_for<T: Send + 'static>(
        &self,
        school: SchoolId,
        signer: Option<(PersonId, VersionId)>,
        work: Work<T>,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending {
            school,
            signer,
            work,
            outcome: None,
            reply,
        });
        self.lane(school)?
            .send(job)
            .map_err(|_| StoreError::Backend("the database writer has stopped".to_string()))?;
        answer.await.map_err(|_| {
            StoreError::Backend("the database writer stopped before answering".to_string())
        })?
    }

    fn lane(&self, school: SchoolId) -> StoreResult<Sender> {
        let mut lanes = self
            .lanes
            .lock()
            .map_err(|_| StoreError::Backend("the database writer is poisoned".to_string()))?;
        let count = i64::try_from(lanes.len()).unwrap_or(1);
        let index = usize::try_from(school.0.rem_euclid(count)).unwrap_or(0);
        let slot = &mut lanes[index];
        match slot {
            Some(sender) if !sender.is_closed() => Ok(sender.clone()),
            _ => {
                let (sender, jobs) = mpsc::unbounded_channel();
                tokio::spawn(run_lane(self.pool.clone(), jobs));
                *slot = Some(sender.clone());
                Ok(sender)
            }
        }
    }
}

/// A lane's task: batch after batch until every sender is gone.
async fn run_lane(pool: Pool, mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(&pool, &mut batch).await;
        if let Err(e) = &committed {
            tracing::error!(jobs = batch.len(), "a batch of writes failed: {e}");
        }
        for job in batch {
            job.answer(committed.clone());
        }
    }
}

async fn run_batch(pool: &Pool, jobs: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    if attempt(pool, jobs, Savepoints::No).await? {
        return Ok(());
    }
    tracing::debug!(
        jobs = jobs.len(),
        "a job of the batch failed: running the batch again, one savepoint per job"
    );
    attempt(pool, jobs, Savepoints::EachJob).await.map(|_| ())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoints {
    /// None: the first job to fail ends the attempt, rolled back.
    No,
    /// One per job, rolled back if it fails.
    EachJob,
}

/// Runs the jobs in one transaction: whether it was committed (`false` when a job failed
/// without savepoints, and the transaction was rolled back).
async fn attempt(
    pool: &Pool,
    jobs: &mut [Box<dyn Job>],
    savepoints: Savepoints,
) -> Result<bool, StoreError> {
    use sqlx::Connection as _;
    let mut tx = pool.begin().await.map_err(db)?;
    let mut schools: Vec<SchoolId> = jobs.iter().map(|j| j.school()).collect();
    schools.sort_unstable();
    schools.dedup();
    for school in schools {
        lock_school(&mut tx, school).await?;
    }
    let mut batch = Batch::default();
    let mut signers: HashMap<(SchoolId, VersionId), Vec<PersonId>> = HashMap::new();
    for job in jobs.iter() {
        if let Some((person, version)) = job.signer() {
            signers
                .entry((job.school(), version))
                .or_default()
                .push(person);
        }
    }
    if savepoints == Savepoints::No && batch.read_signers(&mut tx, signers).await.is_err() {
        tx.rollback().await.map_err(db)?;
        return Ok(false);
    }
    for job in jobs.iter_mut() {
        if savepoints == Savepoints::No {
            if !job.run(&mut tx, &mut batch).await {
                tx.rollback().await.map_err(db)?;
                return Ok(false);
            }
            continue;
        }
        // The head as it was, should the job's appends be rolled back.
        let head = batch.heads.get(&job.school()).cloned();
        let mut savepoint = (*tx).begin().await.map_err(db)?;
        let written = if job.run(&mut savepoint, &mut batch).await {
            match batch.send(&mut savepoint).await {
                Ok(()) => true,
                Err(e) => {
                    job.failed(e);
                    false
                }
            }
        } else {
            false
        };
        if written {
            savepoint.commit().await.map_err(db)?;
        } else {
            savepoint.rollback().await.map_err(db)?;
            batch.discard();
            match head {
                Some(head) => batch.heads.insert(job.school(), head),
                None => batch.heads.remove(&job.school()),
            };
        }
    }
    if savepoints == Savepoints::No && batch.send(&mut tx).await.is_err() {
        // Which job's row was refused is found by running them one savepoint each.
        tx.rollback().await.map_err(db)?;
        return Ok(false);
    }
    tx.commit().await.map_err(db)?;
    Ok(true)
}
