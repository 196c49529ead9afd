//! Enrolling a tablet as a kiosk: the one-time code is exchanged for a device token held
//! in an `HttpOnly` cookie, with wrong codes throttled per client address.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::Duration;
use serde::Deserialize;
use undersign_core::visits::{EnrolmentCode, KioskToken};

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page};
use crate::session::{Client, random_token};

use super::*;

#[derive(Template)]
#[template(path = "kiosk_enrol.html")]
pub(super) struct KioskEnrolView {
    nav: Nav,
    code: String,
    errors: Vec<FieldError>,
}

#[derive(Deserialize)]
pub(super) struct EnrolQuery {
    #[serde(default)]
    code: String,
}

pub(super) async fn enrol_page(Query(q): Query<EnrolQuery>) -> AppResult<Response> {
    Ok(page(&KioskEnrolView {
        nav: Nav::anonymous(),
        code: q.code.chars().take(20).collect(),
        errors: Vec::new(),
    })?
    .into_response())
}

pub(super) async fn enrol(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<EnrolQuery>,
) -> AppResult<Response> {
    let now = undersign_core::time::now();
    let key = format!("kiosk-enrol:{}", client.ip);
    let failures = state
        .store
        .login_failures_since(&key, now - Duration::minutes(ENROL_THROTTLE_MINUTES))
        .await?;
    if failures >= MAX_ENROL_FAILURES {
        return Err(AppError::TooManyAttempts {
            minutes: ENROL_THROTTLE_MINUTES,
        });
    }
    let refuse = |message: String| -> AppResult<Response> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&KioskEnrolView {
                nav: Nav::anonymous(),
                code: form.code.chars().take(20).collect(),
                errors: vec![FieldError::new("code", message)],
            })?,
        )
            .into_response())
    };
    let code = match EnrolmentCode::parse(&form.code) {
        Ok(c) => c,
        Err(e) => return refuse(field_error(&e).message),
    };
    let raw = random_token();
    let token = KioskToken::parse(&raw)
        .map_err(|e| AppError::Internal(format!("a fresh kiosk token does not parse: {e}")))?;
    let Some(kiosk) = state
        .store
        .enrol_kiosk(&code.sha256(), &token.sha256(), now)
        .await?
    else {
        state.store.record_login_failure(&key, now).await?;
        return refuse(
            "This code is not valid: it may have been used already, be more than 24 hours old, or belong to a revoked kiosk. Ask the school administrator for a new one".into(),
        );
    };
    tracing::info!(school = %kiosk.school, kiosk = %kiosk.id, "kiosk enrolled");
    let cookie = format!(
        "{}={raw}; Path=/kiosk; Max-Age={KIOSK_COOKIE_SECONDS}; HttpOnly; SameSite=Strict{}",
        super::kiosk_cookie_name(&state),
        if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut res = Redirect::to("/kiosk").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie)
            .map_err(|e| AppError::Internal(format!("kiosk cookie: {e}")))?,
    );
    Ok(res)
}
