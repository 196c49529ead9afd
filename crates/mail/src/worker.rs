//! The delivery worker: claims due messages from the outbox with a lease, sends each
//! through SMTP and records the outcome — sent; a retry at the time the schedule gives
//! (`undersign_core::outbox::next_attempt`) for a transient failure (4xx, connection
//! refused, timeout); given up at once for a permanent refusal (5xx) or a message that
//! cannot be built. It sleeps until the next message is due, at most
//! [`WorkerOptions::poll`], and wakes early when its [`Notify`] is told (`notify_one`).

use chrono::TimeDelta;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rand::RngCore;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use undersign_core::outbox::{FinishError, Finisher, OutgoingMail, Retry, next_attempt};
use undersign_core::store::Outbox;
use undersign_core::store::StoreError;
use undersign_core::time;

use crate::message::build_message;
use crate::settings::{SettingsError, SmtpSettings};

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This worker's name in `claimed_by`: unique per process (host, process id and a
    /// random part by default).
    pub worker_id: String,
    /// Messages claimed at once.
    pub batch: u32,
    /// How long a claim lasts. Must comfortably exceed the time to send a whole batch
    /// (at worst `batch` × the SMTP timeout × the few commands of one message), or
    /// another server may take a message over while it is still being sent.
    pub lease: TimeDelta,
    /// The longest sleep between looks at the outbox.
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        let mut random = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let host = if host.is_empty() {
            "undersign".into()
        } else {
            host
        };
        Self {
            worker_id: format!(
                "{host}:{}:{:02x}{:02x}{:02x}{:02x}",
                std::process::id(),
                random[0],
                random[1],
                random[2],
                random[3]
            ),
            batch: 10,
            lease: TimeDelta::minutes(30),
            poll: Duration::from_secs(30),
        }
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Sent, but the claim had already passed to another worker (which may send it
    /// again): the lease is too short for this server's pace.
    pub lease_lost: usize,
}

/// Drains the outbox through one SMTP server.
pub struct DeliveryWorker {
    outbox: Arc<dyn Outbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    wake: Arc<Notify>,
    options: WorkerOptions,
    /// Writes the deferred part of a message (a receipt) just before it is sent.
    finisher: Option<Arc<dyn Finisher>>,
}

/// How a send failed, for the retry decision.
enum Failure {
    Permanent(String),
    Transient(String),
}

impl DeliveryWorker {
    /// A worker for `settings`, woken early by `wake`.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        settings: &SmtpSettings,
        wake: Arc<Notify>,
        options: WorkerOptions,
    ) -> Result<Self, SettingsError> {
        Ok(Self {
            outbox,
            transport: settings.transport()?,
            from: settings.from.clone(),
            wake,
            options,
            finisher: None,
        })
    }

    /// Lets this worker send messages queued with a deferred part (receipts): `finisher`
    /// writes it. Without one, such messages are given up with a reason.
    pub fn with_finisher(mut self, finisher: Arc<dyn Finisher>) -> Self {
        self.finisher = Some(finisher);
        self
    }

    /// This worker's name in `claimed_by`.
    pub fn id(&self) -> &str {
        &self.options.worker_id
    }

    /// Claims what is due now and tries each message once.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, StoreError> {
        let claimed = self
            .outbox
            .claim_mail(
                &self.options.worker_id,
                time::now(),
                self.options.lease,
                self.options.batch,
            )
            .await?;
        let mut report = DeliveryReport {
            claimed: claimed.len(),
            ..DeliveryReport::default()
        };
        for mail in claimed {
            self.deliver(&mail, &mut report).await?;
        }
        Ok(report)
    }

    async fn deliver(
        &self,
        mail: &OutgoingMail,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let worker = self.options.worker_id.as_str();
        let outcome = match self.finish(mail).await {
            Err(failure) => Err(failure),
            Ok(mail) => match build_message(&mail, &self.from) {
                Err(e) => Err(Failure::Permanent(e.to_string())),
                Ok(message) => self.transport.send(message).await.map_err(|e| {
                    let text = error_chain(&e);
                    if e.is_permanent() {
                        Failure::Permanent(text)
                    } else {
                        Failure::Transient(text)
                    }
                }),
            },
        };
        let now = time::now();
        match outcome {
            Ok(_) => {
                if self.record_sent(mail).await? {
                    report.sent += 1;
                    tracing::info!(mail = %mail.id, school = %mail.school, attempts = mail.attempts, "mail sent");
                } else {
                    report.lease_lost += 1;
                    tracing::warn!(
                        mail = %mail.id,
                        school = %mail.school,
                        "mail sent after this server's claim ran out; another server may send it again"
                    );
                }
            }
            Err(Failure::Permanent(error)) => {
                self.outbox
                    .give_up_mail(mail.id, worker, &error, now)
                    .await?;
                report.failed += 1;
                tracing::warn!(mail = %mail.id, school = %mail.school, %error, "mail refused; not retried");
            }
            Err(Failure::Transient(error)) => {
                match next_attempt(mail.attempts, mail.due_since, now) {
                    Retry::At(at) => {
                        self.outbox
                            .retry_mail_later(mail.id, worker, &error, at)
                            .await?;
                        report.retried += 1;
                        tracing::warn!(mail = %mail.id, school = %mail.school, %error, next_attempt = %at, "mail not sent; will retry");
                    }
                    Retry::GiveUp => {
                        self.outbox
                            .give_up_mail(mail.id, worker, &error, now)
                            .await?;
                        report.failed += 1;
                        tracing::error!(mail = %mail.id, school = %mail.school, %error, attempts = mail.attempts, "mail not sent; retries used up");
                    }
                }
            }
        }
        Ok(())
    }

    /// The message as sent: with its deferred part written, if it has one.
    async fn finish(&self, mail: &OutgoingMail) -> Result<OutgoingMail, Failure> {
        let mut mail = mail.clone();
        let Some(what) = mail.deferred else {
            return Ok(mail);
        };
        let Some(finisher) = &self.finisher else {
            return Err(Failure::Permanent(
                "this server cannot write the message's deferred part (a receipt)".to_string(),
            ));
        };
        match finisher.finish(&mut mail, what).await {
            Ok(()) => {
                mail.deferred = None;
                Ok(mail)
            }
            Err(FinishError::Retry(e)) => Err(Failure::Transient(e)),
            Err(FinishError::GiveUp(e)) => Err(Failure::Permanent(e)),
        }
    }

    /// Records a message the server accepted. A failed write is tried again a few times:
    /// every failure here is a message that may be sent twice.
    async fn record_sent(&self, mail: &OutgoingMail) -> Result<bool, StoreError> {
        let mut tries = 0;
        loop {
            match self
                .outbox
                .mark_mail_sent(mail.id, &self.options.worker_id, time::now())
                .await
            {
                Ok(held) => return Ok(held),
                Err(e) if tries < 3 => {
                    tries += 1;
                    tracing::warn!(mail = %mail.id, "recording a sent mail failed ({e}); trying again");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Delivers until the task is dropped: a pass, then a sleep until the next message
    /// is due (at most `poll`) or until woken.
    pub async fn run(self) {
        tracing::info!(worker = %self.options.worker_id, "mail delivery started");
        loop {
            let report = match self.deliver_due().await {
                Ok(report) => report,
                Err(e) => {
                    tracing::error!("mail delivery pass failed: {e}");
                    DeliveryReport::default()
                }
            };
            if report.claimed > 0 && report.claimed == self.options.batch as usize {
                continue; // more may be waiting
            }
            let wait = match self.outbox.next_mail_due().await {
                Ok(Some(due)) => (due - time::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(self.options.poll),
                Ok(None) => self.options.poll,
                Err(e) => {
                    tracing::error!("reading when the next mail is due failed: {e}");
                    self.options.poll
                }
            };
            // Never spin: a message due now but held by another server is its business.
            let wait = wait.max(Duration::from_millis(250));
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// An error with its causes, e.g. "Connection error: Connection refused (os error 111)".
fn error_chain(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
