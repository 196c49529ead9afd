//! The stylesheet and the one script (signature drawing), served from the binary so a
//! deployment is a single file. No inline script anywhere: the CSP forbids it.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const CSS: &str = include_str!("../../static/app.css");
const SIGNATURE_JS: &str = include_str!("../../static/signature.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(css))
        .route("/static/signature.js", get(signature_js))
        .route("/healthz", get(|| async { "ok" }))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

async fn signature_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SIGNATURE_JS,
    )
}
