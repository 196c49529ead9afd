//! Logging in with an email and password (throttled per address and per client, a fresh
//! session at every login, only same-site `next` addresses) and logging out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use chrono::{Duration, Utc};
use serde::Deserialize;
use undersign_core::person::Email;
use undersign_core::policy::sha256_hex;

use crate::AppState;
use crate::auth::*;
use crate::csrf::CsrfOnly;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::*;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginView {
    nav: Nav,
    error: Option<String>,
    email: String,
    next: String,
    schools: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Where to go after login: only ever a path on this site, re-encoded. Anything else —
/// an absolute URL, `//host`, a backslash, a control character or white space (which
/// browsers strip, so `/\t/evil.example` would become `//evil.example`), or a path that
/// normalises to `//…` — goes to `/me` instead.
fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/me";
    const BASE: &str = "http://undersign.invalid/";
    let Some(n) = next else {
        return HOME.into();
    };
    if !n.starts_with('/')
        || n.starts_with("//")
        || n.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return HOME.into();
    }
    let Ok(resolved) = url::Url::parse(BASE).and_then(|base| base.join(n)) else {
        return HOME.into();
    };
    if resolved.host_str() != Some("undersign.invalid") || resolved.path().starts_with("//") {
        return HOME.into();
    }
    match resolved.query() {
        Some(q) => format!("{}?{q}", resolved.path()),
        None => resolved.path().to_string(),
    }
}

async fn login_page(Query(q): Query<NextQuery>) -> AppResult<Response> {
    Ok(page(&LoginView {
        nav: Nav::anonymous(),
        error: None,
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        schools: Vec::new(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
    school: Option<String>,
}

// A valid hash to verify against when the email is unknown, so that an unknown address
// takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Qm0dJ3uVb3xw3Cw0aDgM9cFF0cQbq5yCw1oqb1n3e0";

async fn login(
    State(state): State<AppState>,
    client: Client,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    let retry =
        |error: &str, status: StatusCode, schools: Vec<(String, String)>| -> AppResult<Response> {
            Ok((
                status,
                page(&LoginView {
                    nav: Nav::anonymous(),
                    error: Some(error.to_string()),
                    email: form.email.trim().to_string(),
                    next: next.clone(),
                    schools,
                })?,
            )
                .into_response())
        };
    let Ok(email) = Email::parse(&form.email) else {
        return retry(
            "Enter the email address and password of your school account.",
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
        );
    };
    // The attempt is counted before the password is checked, in the same step as the
    // check of the limits, so a burst of guesses cannot slip through; it is forgotten
    // if the password is right.
    let now = Utc::now();
    let email_key = format!("email:{email}");
    let ip_key = format!("ip:{}", client.throttle_key);
    let Some(attempt) = state
        .store
        .take_attempt(
            &[
                (email_key.clone(), MAX_FAILURES_PER_EMAIL),
                (ip_key, MAX_FAILURES_PER_ADDRESS),
            ],
            now - Duration::minutes(THROTTLE_MINUTES),
            now,
        )
        .await?
    else {
        return Err(AppError::TooManyAttempts {
            minutes: THROTTLE_MINUTES,
        });
    };

    let accounts = state.store.login_accounts(&email).await?;
    let mut matched = Vec::new();
    if accounts.is_empty() {
        verify_blocking(DUMMY_HASH.into(), form.password.clone()).await;
    }
    for account in accounts {
        if verify_blocking(account.password_hash.clone(), form.password.clone()).await {
            matched.push(account);
        }
    }
    if matched.is_empty() {
        return retry(
            "The email address or password is not right.",
            StatusCode::UNAUTHORIZED,
            Vec::new(),
        );
    }
    let chosen = match (matched.len(), form.school.as_deref()) {
        (1, _) => matched.swap_remove(0),
        (_, Some(id)) if matched.iter().any(|a| a.person.school.to_string() == id) => {
            let pos = matched
                .iter()
                .position(|a| a.person.school.to_string() == id)
                .unwrap_or(0);
            matched.swap_remove(pos)
        }
        _ => {
            let schools = matched
                .iter()
                .map(|a| (a.person.school.to_string(), a.school_name.clone()))
                .collect();
            return retry(
                "You have accounts in more than one school: choose one and enter your password again.",
                StatusCode::OK,
                schools,
            );
        }
    };
    state.store.forget_attempts(&attempt).await?;
    state.store.clear_login_failures(&email_key).await?;

    // A new session id at every login; any session the browser had is ended.
    if let Some(old) = jar.get(session_cookie_name(&state)) {
        state
            .store
            .delete_session(&sha256_hex(old.value().as_bytes()))
            .await?;
    }
    let jar = start_session(&state, jar, &chosen.person, "password").await?;
    tracing::info!(school = %chosen.person.school, person = %chosen.person.id, "logged in");
    Ok((jar, Redirect::to(&next)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state.store.delete_session(&user.session_sha256).await?;
    let jar = jar.remove(
        Cookie::build(session_cookie_name(&state))
            .path("/")
            .secure(state.config.secure_cookies)
            .build(),
    );
    Ok((jar, Redirect::to("/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHash;

    #[test]
    fn the_dummy_hash_parses_so_unknown_emails_cost_the_same() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(safe_next(Some("/sign/3")), "/sign/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/me");
        assert_eq!(safe_next(Some("https://evil.example/")), "/me");
        assert_eq!(safe_next(None), "/me");
        assert_eq!(safe_next(Some("/sign/3?from=mail")), "/sign/3?from=mail");
        for hostile in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/\\evil.example",
            "\\\\evil.example",
            "/ /evil.example",
            "/./evil.example/..//evil.example",
            "/.//evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/me", "{hostile:?}");
        }
        // An encoded slash is not a separator: it stays a path on this site.
        assert_eq!(
            safe_next(Some("/%2F%2Fevil.example")),
            "/%2F%2Fevil.example"
        );
    }
}
