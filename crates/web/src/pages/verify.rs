//! The public `/verify` page: anyone holding a receipt (the signer, an inspector, a
//! disciplinary panel) can check it, by its code or by uploading the PDF, without an
//! account. Checking changes nothing; the POSTs only keep codes and files out of URLs
//! and logs. See `undersign_core::verification`.

use askama::Template;
use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use undersign_core::receipt::{ReceiptFacts, VisitReceiptFacts, key_fingerprint};
use undersign_core::time;
use undersign_core::verification::{self, Verdict, VisitOnRecord};

use super::FieldError;
use crate::AppState;
use crate::auth::{THROTTLE_MINUTES, VERIFY_CHECKS_PER_ADDRESS};
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::{Client, CurrentUser};

/// The largest receipt accepted for checking; real receipts are far smaller.
const MAX_RECEIPT_BYTES: usize = 512 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/verify", get(form))
        .route("/verify/code", post(check_code))
        .route("/verify/file", post(check_file))
}

/// What the page shows of a valid receipt.
struct Proven {
    from_file: bool,
    facts: ReceiptFacts,
    fingerprint: String,
}

/// What the page shows of a visitor's receipt checked from its file.
struct ProvenVisit {
    facts: VisitReceiptFacts,
    fingerprint: String,
}

/// The outcome of a check, as shown.
enum Checked {
    Signature(Proven),
    Visit(ProvenVisit),
    VisitCode(VisitOnRecord),
    Invalid(String),
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyView {
    nav: Nav,
    code: String,
    errors: Vec<FieldError>,
    /// `Some` once something was checked.
    checked: Option<Checked>,
}

fn view(user: Option<&CurrentUser>, code: String) -> VerifyView {
    VerifyView {
        nav: user.map_or_else(Nav::anonymous, Nav::for_user),
        code,
        errors: Vec::new(),
        checked: None,
    }
}

fn with_verdict(mut v: VerifyView, verdict: Verdict) -> VerifyView {
    v.checked = Some(match verdict {
        Verdict::Valid { facts, from_file } => Checked::Signature(Proven {
            from_file,
            fingerprint: key_fingerprint(&facts.school.public_key).unwrap_or_default(),
            facts: *facts,
        }),
        Verdict::ValidVisit { facts } => Checked::Visit(ProvenVisit {
            fingerprint: key_fingerprint(&facts.school.public_key).unwrap_or_default(),
            facts: *facts,
        }),
        Verdict::VisitOnRecord(on_record) => Checked::VisitCode(on_record),
        Verdict::Invalid { reason } => Checked::Invalid(reason),
    });
    v
}

async fn form(user: Option<CurrentUser>) -> AppResult<Response> {
    Ok(page(&view(user.as_ref(), String::new()))?.into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Counts a check from `client`; refuses once the address has made
/// [`VERIFY_CHECKS_PER_ADDRESS`] in the last [`THROTTLE_MINUTES`].
async fn throttle(state: &AppState, client: &Client) -> AppResult<()> {
    let now = time::now();
    let taken = state
        .store
        .take_attempt(
            &[(
                format!("verify:{}", client.throttle_key),
                VERIFY_CHECKS_PER_ADDRESS,
            )],
            now - chrono::Duration::minutes(THROTTLE_MINUTES),
            now,
        )
        .await?;
    match taken {
        Some(_) => Ok(()),
        None => Err(AppError::TooManyAttempts {
            minutes: THROTTLE_MINUTES,
        }),
    }
}

async fn check_code(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    client: Client,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    throttle(&state, &client).await?;
    let code: String = f.code.chars().take(64).collect();
    let mut v = view(user.as_ref(), code.clone());
    if code.trim().is_empty() {
        v.errors.push(FieldError::new(
            "code",
            "Enter the receipt code, printed at the top of the receipt",
        ));
        return Ok(page(&v)?.into_response());
    }
    let verdict = verification::by_code(state.store.as_ref(), &code, time::now()).await?;
    Ok(page(&with_verdict(v, verdict))?.into_response())
}

async fn check_file(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    client: Client,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    throttle(&state, &client).await?;
    let mut v = view(user.as_ref(), String::new());
    let mut file: Option<Vec<u8>> = None;
    if let Ok(mut multipart) = multipart {
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| AppError::BadRequest(format!("the upload could not be read: {e}")))?
        {
            if field.name() == Some("receipt") {
                let bytes = field.bytes().await.map_err(|e| {
                    AppError::BadRequest(format!("the file could not be read: {e}"))
                })?;
                file = Some(bytes.to_vec());
            }
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        v.errors.push(FieldError::new(
            "receipt",
            "Choose the receipt's PDF file to check",
        ));
        return Ok(page(&v)?.into_response());
    };
    if bytes.len() > MAX_RECEIPT_BYTES {
        v.errors.push(FieldError::new(
            "receipt",
            format!(
                "This file is {} KB; a receipt is under {} KB. Choose the receipt's PDF",
                bytes.len() / 1024,
                MAX_RECEIPT_BYTES / 1024
            ),
        ));
        return Ok(page(&v)?.into_response());
    }
    let verdict = verification::by_file(state.store.as_ref(), &bytes).await?;
    Ok(page(&with_verdict(v, verdict))?.into_response())
}
