//! Password reset links. Administrators never set or see anyone's password: from a
//! person's page they send a reset link to that person's own address, which works once,
//! for [`RESET_VALID_FOR`]. Opening it shows a form to choose a password (mail scanners
//! that fetch links do not use it up); submitting it spends the link, sets the password,
//! ends every other session and starts one, in one transaction. The sending and the
//! change are ledger events naming the administrator, and signatures made in that
//! session say they began from a reset link someone else sent.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use serde::Deserialize;
use undersign_core::login_link::{
    LinkPurpose, LinkState, NewLinkSession, NewLoginLink, RESET_VALID_FOR,
};
use undersign_core::outbox::NewMail;
use undersign_core::person::Person;
use undersign_core::policy::sha256_hex;
use undersign_core::store::LinkUse;

use crate::AppState;
use crate::auth::{MIN_PASSWORD_CHARS, check_new_password, hash_blocking};
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::{CurrentUser, SESSION_HOURS, random_token, replace_browser_session};

pub fn router() -> Router<AppState> {
    Router::new().route("/reset/{token}", get(reset_page).post(use_reset))
}

/// Queues a reset link to `person`'s own address, sent by `by` (the signed-in
/// administrator); recorded in the ledger by the store.
pub async fn send_reset_link(state: &AppState, by: &CurrentUser, person: &Person) -> AppResult<()> {
    let now = undersign_core::time::now();
    let token = random_token();
    let url = state
        .config
        .public_url
        .join(&format!("reset/{token}"))
        .map_err(|e| AppError::Internal(format!("building a reset link: {e}")))?;
    let hours = RESET_VALID_FOR.num_hours();
    let mail = NewMail {
        school: person.school,
        // Replaced by the store with `login:<link id>`.
        dedupe_key: "reset".into(),
        to_email: person.email.clone(),
        to_name: person.full_name.to_string(),
        subject: format!("Choose your Undersign password – {}", by.school.name),
        text_body: format!(
            "Hello {name},\n\n\
             {admin} at {school} has sent you this link to choose your password for Undersign. \
             Nobody else knows or can see the password you choose.\n\n\
             Open this link and choose a password. It works once, for {hours} hours:\n\n\
             {url}\n\n\
             If you did not expect this, tell {admin} or your headteacher: do not use the link.\n\n\
             Undersign, for {school}\n",
            name = person.full_name,
            admin = by.person.full_name,
            school = by.school.name,
        ),
        attachments: Vec::new(),
        not_before: now,
        unless_signed: None,
        deferred: None,
    };
    let id = state
        .store
        .issue_login_link(
            NewLoginLink {
                purpose: LinkPurpose::PasswordReset {
                    sent_by: by.person.id,
                },
                school: person.school,
                person: person.id,
                token_sha256: sha256_hex(token.as_bytes()),
                created_at: now,
                expires_at: now + RESET_VALID_FOR,
            },
            mail,
        )
        .await?;
    tracing::info!(school = %person.school, person = %person.id, by = %by.person.id, link = %id, "password reset link queued");
    state.mail_wake.notify_one();
    Ok(())
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetView {
    nav: Nav,
    /// The form, when the link can be used.
    usable: bool,
    title: &'static str,
    message: &'static str,
    error: Option<String>,
    min_chars: usize,
}

fn view(state: &LinkState) -> ResetView {
    let (usable, title, message) = match state {
        LinkState::Valid {
            purpose: LinkPurpose::PasswordReset { .. },
            ..
        } => (
            true,
            "Choose your password",
            "Choose a password for your Undersign account. This link then stops working.",
        ),
        LinkState::Used => (
            false,
            "This link has been used",
            "Each link works once. Ask your school's administrator for a new one, or log in with the password you chose.",
        ),
        LinkState::Expired => (
            false,
            "This link has expired",
            "A password link works for a day after it is sent. Ask your school's administrator for a new one.",
        ),
        LinkState::Unknown | LinkState::Valid { .. } => (
            false,
            "This link is not valid",
            "Check that you opened the whole link from the email, or ask your school's administrator for a new one.",
        ),
    };
    ResetView {
        nav: Nav::anonymous(),
        usable,
        title,
        message,
        error: None,
        min_chars: MIN_PASSWORD_CHARS,
    }
}

async fn reset_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let link = state
        .store
        .login_link_state(&sha256_hex(token.as_bytes()), undersign_core::time::now())
        .await?;
    Ok(page(&view(&link))?.into_response())
}

#[derive(Deserialize)]
struct ResetForm {
    new: String,
    confirm: String,
}

async fn use_reset(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let token_sha256 = sha256_hex(token.as_bytes());
    if let Err(message) = check_new_password(&form.new, &form.confirm) {
        let link = state
            .store
            .login_link_state(&token_sha256, undersign_core::time::now())
            .await?;
        let mut v = view(&link);
        v.error = Some(format!("New password: {message}."));
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&v)?).into_response());
    }
    let hash = hash_blocking(form.new.clone()).await?;
    let now = undersign_core::time::now();
    let session_token = random_token();
    let used = state
        .store
        .use_reset_link(
            &token_sha256,
            &hash,
            NewLinkSession {
                token_sha256: sha256_hex(session_token.as_bytes()),
                csrf_token: random_token(),
                expires_at: now + Duration::hours(SESSION_HOURS),
            },
            now,
        )
        .await?;
    match used {
        LinkUse::SignedIn(session) => {
            tracing::info!(school = %session.school, person = %session.person, "password set from a reset link");
            replace_browser_session(&state, jar, session_token).await
        }
        LinkUse::Refused(link) => Ok(page(&view(&link))?.into_response()),
    }
}
