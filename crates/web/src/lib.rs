//! Undersign's web application: server-rendered pages (askama), sessions, CSRF checks and
//! access control. Each feature is a module exposing `router()`; [`app`] merges them and
//! adds the layers every response gets (security headers, body limit, origin check).
//!
//! Serve it with [`serve`] (or `axum::serve` with `into_make_service_with_connect_info`)
//! so that the client's address can be recorded in evidence.

pub mod auth;
mod csrf;
pub mod error;
pub mod keys;
mod nav;
mod pages;
pub mod proxies;
mod render;
mod security;
pub mod session;

pub use pages::documents::ReceiptFinisher;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use undersign_core::store::Store;

/// The largest request body accepted: a policy text (200 KB) or a drawn signature
/// (100 KB of PNG as base64) with the rest of its form.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Settings the web layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served behind TLS).
    pub secure_cookies: bool,
    /// Where the schools' Ed25519 keys are kept (for signing receipts).
    pub keys_dir: PathBuf,
    /// The reverse proxies whose `X-Forwarded-For` is believed (see [`proxies`]).
    pub trusted_proxies: proxies::TrustedProxies,
    /// The address people use to reach Undersign: the base of links in emails (sign-in
    /// links, invitations). Ends in `/`.
    pub public_url: url::Url,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            keys_dir: PathBuf::new(),
            trusted_proxies: proxies::TrustedProxies::default(),
            public_url: default_public_url(),
        }
    }
}

/// `http://localhost/`, until the operator says otherwise.
fn default_public_url() -> url::Url {
    #[expect(clippy::expect_used, reason = "a constant, valid URL")]
    url::Url::parse("http://localhost/").expect("a valid URL")
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
    /// Wakes the mail delivery worker (`notify_one`) after queuing mail that should go
    /// now, such as a sign-in link. Without a worker nobody listens, and mail waits.
    pub mail_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            mail_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The same state, waking this delivery worker when mail is queued.
    pub fn with_mail_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.mail_wake = wake;
        self
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(pages::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::with_navigation,
        ))
        .layer(axum::middleware::from_fn(csrf::refuse_cross_origin))
        .layer(axum::middleware::from_fn_with_state(
            state.config.secure_cookies,
            security::headers,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes, recording each
/// client's address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
