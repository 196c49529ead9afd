//! The DSL's safeguarding alerts from the access log (`undersign_core::safeguarding`):
//! who, what and when for each, and a form to record what was done and the outcome,
//! which closes it. Only the DSL sees this page; the alert names the person.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use undersign_core::SafeguardingAlertId;
use undersign_core::access::SafeguardingLead;
use undersign_core::safeguarding::check_record;

use super::FieldError;
use crate::AppState;
use crate::error::AppResult;
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/safeguarding", get(alerts))
        .route("/safeguarding/{id}/close", post(close))
}

struct Alert {
    id: i64,
    when: String,
    who: String,
    category: String,
    url: String,
    closed: Option<String>,
    /// Its close form came back with errors.
    failed: bool,
}

#[derive(Template)]
#[template(path = "safeguarding.html")]
struct AlertsView {
    nav: Nav,
    open: Vec<Alert>,
    closed: Vec<Alert>,
    /// The errors of the one close form that came back.
    errors: Vec<FieldError>,
}

async fn view(
    state: &AppState,
    user: &CurrentUser,
    lead: &SafeguardingLead,
    failed: Option<i64>,
    errors: Vec<FieldError>,
) -> AppResult<AlertsView> {
    let tz = &user.school.timezone;
    let (mut open, mut closed) = (Vec::new(), Vec::new());
    for a in state.store.safeguarding_alerts(lead).await? {
        let who = match (&a.person_name, &a.device_name) {
            (Some(p), Some(d)) => format!("{p} (on {d}, {})", a.client),
            (Some(p), None) => format!("{p} ({})", a.client),
            (None, Some(d)) => format!("Device {d} ({}), nobody held it", a.client),
            (None, None) => format!("Address {} (no registered device)", a.client),
        };
        let row = Alert {
            id: a.id.0,
            failed: failed == Some(a.id.0),
            when: when(a.request_at, tz),
            who,
            category: a.category.clone(),
            url: a.url.clone(),
            closed: a.closed.as_ref().map(|c| {
                format!(
                    "Closed by {} on {}. Done: {} Outcome: {}",
                    c.by_name,
                    when(c.at, tz),
                    c.action,
                    c.outcome
                )
            }),
        };
        if a.closed.is_some() {
            closed.push(row);
        } else {
            open.push(row);
        }
    }
    Ok(AlertsView {
        nav: Nav::for_user(user),
        open,
        closed,
        errors,
    })
}

async fn alerts(
    State(state): State<AppState>,
    Can { user, cap }: Can<SafeguardingLead>,
) -> AppResult<Response> {
    Ok(page(&view(&state, &user, &cap, None, Vec::new()).await?)?.into_response())
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
}

async fn close(
    State(state): State<AppState>,
    Can { user, cap }: Can<SafeguardingLead>,
    Path(id): Path<SafeguardingAlertId>,
    Form(form): Form<CloseForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let mut errors = Vec::new();
    for (field, text) in [("action", &form.action), ("outcome", &form.outcome)] {
        if let Err((field, message)) = check_record(field, text) {
            errors.push(FieldError::new(
                format!("{field}-{id}"),
                format!(
                    "{}: {message}",
                    if field == "action" {
                        "What was done"
                    } else {
                        "Outcome"
                    }
                ),
            ));
        }
    }
    if !errors.is_empty() {
        let view = view(&state, &user, &cap, Some(id.0), errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
    }
    state
        .store
        .close_safeguarding_alert(
            &cap,
            id,
            &form.action,
            &form.outcome,
            undersign_core::time::now(),
        )
        .await?;
    Ok(Redirect::to("/safeguarding").into_response())
}
