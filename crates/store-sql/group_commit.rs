//! Group commit: ledger appends that arrive together share one write transaction and one
//! durable commit, instead of one commit (one fsync, one turn of the school's lock) each.
//!
//! A caller hands its work to a *lane* and waits. The lane's task takes every job waiting
//! (up to [`MAX_BATCH`]), opens one transaction, takes the lock of each school in the
//! batch in ascending order (so two servers' batches never deadlock), and runs each job
//! in its own savepoint: a job that fails is rolled back to its savepoint and fails alone,
//! the others go on. Then one commit, and only after it each caller gets its answer, so
//! nothing is acknowledged before it is durable. If the commit itself fails, every job of
//! the batch gets the error and none was acknowledged. No job waits for a batch to fill:
//! whatever arrives while one batch commits forms the next.
//!
//! Jobs for one school always go to the same lane, in arrival order. SQLite has one lane
//! (it has one writer); PostgreSQL has several, so schools append side by side, and the
//! school's advisory lock still orders appends made by other servers.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use undersign_core::SchoolId;
use undersign_core::store::{StoreError, StoreResult};

use crate::db::{Conn, Pool, lock_school};
use crate::errors::db;

/// The most jobs committed together: enough to carry a burst of hundreds of signings in a
/// few commits, small enough that one batch's transaction stays short.
pub(crate) const MAX_BATCH: usize = 128;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work run inside a batch's transaction (in its own savepoint) on the lane's connection.
pub(crate) type Work<T> =
    Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, StoreResult<T>> + Send>;

/// A job as the lane sees it, whatever it returns.
trait Job: Send {
    fn school(&self) -> SchoolId;
    /// Runs the work; whether it succeeded (and its savepoint is kept).
    fn run<'a>(&'a mut self, conn: &'a mut Conn) -> BoxFuture<'a, bool>;
    /// Answers the caller once the batch has committed, or failed to.
    fn answer(self: Box<Self>, committed: Result<(), StoreError>);
}

struct Pending<T> {
    school: SchoolId,
    work: Option<Work<T>>,
    outcome: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T: Send> Job for Pending<T> {
    fn school(&self) -> SchoolId {
        self.school
    }

    fn run<'a>(&'a mut self, conn: &'a mut Conn) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Some(work) = self.work.take() else {
                return false;
            };
            let outcome = work(conn).await;
            let ok = outcome.is_ok();
            self.outcome = Some(outcome);
            ok
        })
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
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending {
            school,
            work: Some(work),
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

async fn run_batch(pool: &Pool, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let mut tx = pool.begin().await.map_err(db)?;
    let mut schools: Vec<SchoolId> = batch.iter().map(|j| j.school()).collect();
    schools.sort_unstable();
    schools.dedup();
    for school in schools {
        lock_school(&mut tx, school).await?;
    }
    for job in batch.iter_mut() {
        let mut savepoint = (*tx).begin().await.map_err(db)?;
        if job.run(&mut savepoint).await {
            savepoint.commit().await.map_err(db)?;
        } else {
            savepoint.rollback().await.map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)
}
