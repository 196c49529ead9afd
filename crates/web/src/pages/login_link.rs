//! Sign-in by email link, for people who rarely log in (governors) or have no password.
//! Asking for a link always gets the same answer, so the form does not tell anyone which
//! addresses have accounts; requests are throttled per address and per client. The link
//! works once, for 15 minutes; opening it only shows a "Sign in" button (mail scanners
//! that fetch links must not use it up), and pressing it spends the link and starts the
//! session in one transaction. Signatures made in that session record "email link".

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
    LINK_VALID_FOR, LinkPurpose, LinkState, NewLinkSession, NewLoginLink,
};
use undersign_core::outbox::NewMail;
use undersign_core::person::Email;
use undersign_core::policy::sha256_hex;
use undersign_core::store::LinkUse;

use crate::AppState;
use crate::auth::{MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_EMAIL, THROTTLE_MINUTES};
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::{Client, SESSION_HOURS, random_token, replace_browser_session};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/link", get(request_page).post(request_link))
        .route("/login/link/{token}", get(link_page).post(use_link))
}

#[derive(Template)]
#[template(path = "login_link.html")]
struct LoginLinkView {
    nav: Nav,
    error: Option<String>,
    email: String,
    sent: bool,
    minutes: i64,
}

async fn request_page() -> AppResult<Response> {
    Ok(page(&LoginLinkView {
        nav: Nav::anonymous(),
        error: None,
        email: String::new(),
        sent: false,
        minutes: LINK_VALID_FOR.num_minutes(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct RequestForm {
    email: String,
}

async fn request_link(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    let view = |error: Option<String>, sent: bool| LoginLinkView {
        nav: Nav::anonymous(),
        error,
        email: form.email.trim().to_string(),
        sent,
        minutes: LINK_VALID_FOR.num_minutes(),
    };
    let Ok(email) = Email::parse(&form.email) else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&view(
                Some("Enter the email address your school has for you.".into()),
                false,
            ))?,
        )
            .into_response());
    };
    // Every request counts, known address or not, so the throttle reveals nothing.
    let now = undersign_core::time::now();
    let taken = state
        .store
        .take_attempt(
            &[
                (format!("link-email:{email}"), MAX_FAILURES_PER_EMAIL),
                (
                    format!("link-ip:{}", client.throttle_key),
                    MAX_FAILURES_PER_ADDRESS,
                ),
            ],
            now - Duration::minutes(THROTTLE_MINUTES),
            now,
        )
        .await?;
    if taken.is_none() {
        return Err(AppError::TooManyAttempts {
            minutes: THROTTLE_MINUTES,
        });
    }

    // One link per school the address belongs to, each mailed in that school's outbox.
    let accounts = state.store.link_accounts(&email).await?;
    for account in &accounts {
        let token = random_token();
        let url = state
            .config
            .public_url
            .join(&format!("login/link/{token}"))
            .map_err(|e| AppError::Internal(format!("building a sign-in link: {e}")))?;
        let person = &account.person;
        let mail = NewMail {
            school: person.school,
            // Replaced by the store with `login:<link id>`.
            dedupe_key: "login".into(),
            to_email: person.email.clone(),
            to_name: person.full_name.to_string(),
            subject: format!("Sign in to Undersign – {}", account.school_name),
            text_body: link_mail_text(
                &person.full_name.to_string(),
                &account.school_name,
                url.as_str(),
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
                    purpose: LinkPurpose::SignIn,
                    school: person.school,
                    person: person.id,
                    token_sha256: sha256_hex(token.as_bytes()),
                    created_at: now,
                    expires_at: now + LINK_VALID_FOR,
                },
                mail,
            )
            .await?;
        tracing::info!(school = %person.school, person = %person.id, link = %id, "sign-in link queued");
    }
    if !accounts.is_empty() {
        state.mail_wake.notify_one();
    }
    Ok(page(&view(None, true))?.into_response())
}

/// The email with the link. Plain words: it may be read by someone who has never used
/// Undersign.
fn link_mail_text(name: &str, school: &str, url: &str) -> String {
    let minutes = LINK_VALID_FOR.num_minutes();
    format!(
        "Hello {name},\n\n\
         Someone, we hope you, asked to sign in to Undersign at {school} with this email address.\n\n\
         To sign in, open this link and press \"Sign in\". It works once, for {minutes} minutes:\n\n\
         {url}\n\n\
         If you did not ask for this, you can ignore this message: nobody can sign in without the link.\n\n\
         Undersign, for {school}\n"
    )
}

#[derive(Template)]
#[template(path = "login_link_use.html")]
struct LinkUseView {
    nav: Nav,
    /// The button, when the link can be used.
    usable: bool,
    title: &'static str,
    message: &'static str,
}

/// The page for a link that cannot be used. It is a normal page (200): the person did
/// nothing wrong, and it says what to do next.
fn refusal(state: &LinkState) -> LinkUseView {
    let (title, message) = match state {
        LinkState::Used => (
            "This sign-in link has been used",
            "Each link works once. Ask for a new link to sign in again.",
        ),
        LinkState::Expired => (
            "This sign-in link has expired",
            "A link works for 15 minutes after it is sent. Ask for a new one.",
        ),
        LinkState::Unknown | LinkState::Valid { .. } => (
            "This sign-in link is not valid",
            "Check that you opened the whole link from the email, or ask for a new one.",
        ),
    };
    LinkUseView {
        nav: Nav::anonymous(),
        usable: false,
        title,
        message,
    }
}

async fn link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let hash = sha256_hex(token.as_bytes());
    match state
        .store
        .login_link_state(&hash, undersign_core::time::now())
        .await?
    {
        LinkState::Valid {
            purpose: LinkPurpose::SignIn,
            ..
        } => Ok(page(&LinkUseView {
            nav: Nav::anonymous(),
            usable: true,
            title: "Sign in to Undersign",
            message: "Press the button to sign in. The link then stops working.",
        })?
        .into_response()),
        other => Ok(page(&refusal(&other))?.into_response()),
    }
}

async fn use_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> AppResult<Response> {
    let now = undersign_core::time::now();
    let session_token = random_token();
    let used = state
        .store
        .use_login_link(
            &sha256_hex(token.as_bytes()),
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
            tracing::info!(school = %session.school, person = %session.person, "signed in by email link");
            replace_browser_session(&state, jar, session_token).await
        }
        LinkUse::Refused(link) => Ok(page(&refusal(&link))?.into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_names_the_school_the_link_and_how_long_it_works() {
        let text = link_mail_text(
            "Gary Governor",
            "Demo Primary",
            "https://u.example/login/link/abc",
        );
        assert!(text.starts_with("Hello Gary Governor,"));
        assert!(text.contains("Undersign at Demo Primary"));
        assert!(text.contains("\n\nhttps://u.example/login/link/abc\n\n"));
        assert!(text.contains("once, for 15 minutes"));
    }
}
