//! Running the web application: bind, serve until SIGTERM or ctrl-c, checkpoint every
//! school's chain head in the background (and once more on the way out), queue the
//! reminders that chase signatures, and deliver the email outbox when a mail server is
//! configured.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use undersign_core::store::Store;
use undersign_mail::{DeliveryWorker, SmtpSettings, WorkerOptions};
use undersign_web::{AppState, ReceiptFinisher, WebConfig};

/// What the server needs once the store is open.
#[derive(Debug, Clone)]
pub struct Server {
    pub keys_dir: PathBuf,
    pub secure_cookies: bool,
    pub trusted_proxies: undersign_web::proxies::TrustedProxies,
    pub checkpoint_every: Duration,
    /// The base of links in emails.
    pub public_url: url::Url,
    /// The mail server; `None` leaves mail queued in the outbox.
    pub smtp: Option<SmtpSettings>,
}

/// Binds the address, so that a port in use fails before anything is printed.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

impl Server {
    /// Serves until a shutdown signal, then finishes in-flight requests.
    pub async fn run(self, store: Arc<dyn Store>, listener: TcpListener) -> anyhow::Result<()> {
        let addr = listener.local_addr()?;
        let reached_from_elsewhere = !matches!(
            self.public_url.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]")
        );
        if addr.ip().is_loopback() && self.trusted_proxies.is_empty() && reached_from_elsewhere {
            tracing::warn!(
                "listening on {addr} with no trusted_proxies: if a reverse proxy on this machine forwards to Undersign, every client looks like {} (one login throttle and one audit address for everyone); set trusted_proxies to the proxy's address",
                addr.ip()
            );
        }
        let job = tokio::spawn(crate::checkpoint::run_periodically(
            store.clone(),
            self.keys_dir.clone(),
            self.checkpoint_every,
        ));
        let visitors = tokio::spawn(visitor_housekeeping(store.clone()));
        let mail_wake = Arc::new(Notify::new());
        let state = AppState::new(
            store.clone(),
            WebConfig {
                secure_cookies: self.secure_cookies,
                keys_dir: self.keys_dir.clone(),
                trusted_proxies: self.trusted_proxies.clone(),
                public_url: self.public_url.clone(),
            },
        )
        .with_mail_wake(mail_wake.clone());
        let delivery = match &self.smtp {
            Some(smtp) => {
                let worker = DeliveryWorker::new(
                    store.clone(),
                    smtp,
                    mail_wake.clone(),
                    WorkerOptions::default(),
                )
                .context("the SMTP settings cannot be used")?
                .with_finisher(Arc::new(ReceiptFinisher::new(state.clone())));
                tracing::info!(
                    worker = worker.id(),
                    "sending mail through {}:{} ({:?})",
                    smtp.host,
                    smtp.port,
                    smtp.tls
                );
                Some(tokio::spawn(worker.run()))
            }
            None => {
                tracing::warn!(
                    "no SMTP settings: mail (sign-in links, reminders) stays queued in the outbox until [smtp] is configured"
                );
                None
            }
        };
        let chasing = tokio::spawn(chase_signatures(
            store.clone(),
            self.public_url.clone(),
            mail_wake.clone(),
        ));

        tracing::info!(
            backend = store.backend(),
            "listening on http://{addr}/ (checkpoints every {} min)",
            self.checkpoint_every.as_secs() / 60
        );
        let served = undersign_web::serve(listener, state, shutdown_signal()).await;
        job.abort();
        visitors.abort();
        chasing.abort();
        if let Some(delivery) = delivery {
            // A message being sent now keeps its lease and is sent again by the next
            // server once the lease runs out (see undersign-mail).
            delivery.abort();
        }
        tracing::info!("stopped serving; checkpointing before exit");
        match crate::checkpoint::checkpoint_all(store.as_ref(), &self.keys_dir).await {
            Ok(results) => crate::checkpoint::log_failures(&results),
            Err(e) => tracing::error!("checkpoint on exit failed: {e:#}"),
        }
        served.context("the server stopped with an error")
    }
}

/// How often visitors left on site from an earlier day are signed out (and flagged), and
/// visitor personal data past the school's retention period is removed.
const VISITOR_HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10 * 60);

/// Runs the visitor housekeeping now and then every [`VISITOR_HOUSEKEEPING_EVERY`]. Each
/// step only touches rows that still need it, so several servers may run it at once.
async fn visitor_housekeeping(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(VISITOR_HOUSEKEEPING_EVERY);
    loop {
        tick.tick().await;
        match undersign_core::use_cases::housekeeping(store.as_ref(), undersign_core::time::now())
            .await
        {
            Ok(r) if r.auto_signed_out + r.purged + r.log_partitions_dropped > 0 => tracing::info!(
                auto_signed_out = r.auto_signed_out,
                purged = r.purged,
                log_partitions_dropped = r.log_partitions_dropped,
                "housekeeping"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("visitor housekeeping failed: {e}"),
        }
    }
}

/// How often every school's invitations, reminders and digests due are planned and queued.
const CHASE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Plans and queues every school's chasing mail now and then every [`CHASE_EVERY`], and
/// wakes the delivery worker when something new was queued. The outbox ignores a mail
/// already queued (same school and dedupe key), so several servers may run it at once.
async fn chase_signatures(store: Arc<dyn Store>, public_url: url::Url, wake: Arc<Notify>) {
    let mut tick = tokio::time::interval(CHASE_EVERY);
    loop {
        tick.tick().await;
        let now = undersign_core::time::now();
        match undersign_core::use_cases::chase_all(store.as_ref(), now, &public_url).await {
            Ok(report) => {
                for (school, e) in &report.failed {
                    tracing::error!(school = %school, "chasing signatures failed: {e}");
                }
                if report.total.bad_addresses > 0 {
                    tracing::warn!(
                        people = report.total.bad_addresses,
                        "people with an unusable email address were not emailed"
                    );
                }
                if report.total.queued > 0 {
                    tracing::info!(queued = report.total.queued, "chasing signatures");
                    wake.notify_one();
                }
            }
            Err(e) => tracing::error!("chasing signatures failed: {e}"),
        }
    }
}

/// Completes on SIGTERM (systemd stop) or ctrl-c.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for ctrl-c: {e}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
