//! Cross-site request forgery defence in two layers: every state-changing request must
//! come from our own origin (`Sec-Fetch-Site`, else `Origin` against `Host`), and the forms
//! that matter also carry the session's token, checked by [`check_token`].

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Refuses a POST (or any unsafe method) that does not come from this site.
pub async fn refuse_cross_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || same_origin(&req) {
        return next.run(req).await;
    }
    (
        StatusCode::FORBIDDEN,
        "Refused: this form was sent from another site (cross-origin request). Open the page on this site and submit it again.",
    )
        .into_response()
}

fn same_origin(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Compares a submitted form token with the session's in constant time.
pub fn check_token(expected: &str, submitted: &str) -> Result<(), AppError> {
    let (a, b) = (expected.as_bytes(), submitted.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= usize::from(x ^ y);
    }
    if diff == 0 && !a.is_empty() {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "this form has expired or was not sent from your session; reload the page and try again".into(),
        ))
    }
}

/// The body of a form that carries nothing but the session's token: a button that does
/// one thing (log out, revoke a kiosk, remove a document, sign a visitor out).
/// A missing token is read as empty, so it is refused by [`check_token`] with the same
/// "reload the page" message as a wrong one.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf_token: String,
}
