//! Undersign's web application: routes by feature, merged in [`app`].

use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;
use undersign_core::store::Store;

/// Settings the web layer needs.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served behind TLS).
    pub secure_cookies: bool,
    /// Where the schools' Ed25519 keys are kept (for signing receipts).
    pub keys_dir: PathBuf,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<WebConfig>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
        }
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(state)
}
