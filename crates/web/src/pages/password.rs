//! Changing one's own password: the current one is checked, every other session ends and
//! this browser gets a new one.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::AppState;
use crate::auth::*;
use crate::error::AppResult;
use crate::render::{Nav, page};
use crate::session::*;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/account/password",
        get(password_page).post(change_password),
    )
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordView {
    nav: Nav,
    error: Option<String>,
    done: bool,
    min_chars: usize,
}

async fn password_page(user: CurrentUser) -> AppResult<Response> {
    Ok(page(&PasswordView {
        nav: Nav::for_user(&user),
        error: None,
        done: false,
        min_chars: MIN_PASSWORD_CHARS,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf_token: String,
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let fail = |error: String| -> AppResult<Response> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&PasswordView {
                nav: Nav::for_user(&user),
                error: Some(error),
                done: false,
                min_chars: MIN_PASSWORD_CHARS,
            })?,
        )
            .into_response())
    };
    // Guessing the current password from a session left open is throttled like login.
    let now = chrono::Utc::now();
    let Some(attempt) = state
        .store
        .take_attempt(
            &[(
                format!("password:{}:{}", user.school.id, user.person.id),
                MAX_FAILURES_PER_EMAIL,
            )],
            now - chrono::Duration::minutes(THROTTLE_MINUTES),
            now,
        )
        .await?
    else {
        return Err(crate::error::AppError::TooManyAttempts {
            minutes: THROTTLE_MINUTES,
        });
    };
    let current_hash = state
        .store
        .password_hash(user.school.id, user.person.id)
        .await?
        .unwrap_or_default();
    if !verify_blocking(current_hash, form.current.clone()).await {
        return fail("Your current password is not right.".into());
    }
    state.store.forget_attempts(&attempt).await?;
    if let Err(message) = check_new_password(&form.new, &form.confirm) {
        return fail(format!("New password: {message}."));
    }
    let hash = hash_blocking(form.new.clone()).await?;
    state
        .store
        .set_password(user.school.id, user.person.id, &hash)
        .await?;
    // Every other session of this person ends; this browser gets a new one.
    state
        .store
        .delete_sessions_of(user.school.id, user.person.id)
        .await?;
    let jar = start_session(&state, jar, &user.person, "password").await?;
    Ok((
        jar,
        page(&PasswordView {
            nav: Nav::for_user(&user),
            error: None,
            done: true,
            min_chars: MIN_PASSWORD_CHARS,
        })?,
    )
        .into_response())
}
