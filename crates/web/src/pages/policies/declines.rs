//! The declines page: who declined which version and why, for the headteacher to act on.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use undersign_core::access::ComplianceViewer;

use crate::AppState;
use crate::error::AppResult;
use crate::render::{Nav, page, when};
use crate::session::Can;

pub(super) struct DeclineRow {
    person: String,
    policy: String,
    number: i32,
    reason: String,
    at: String,
}

#[derive(Template)]
#[template(path = "declines.html")]
pub(super) struct DeclinesView {
    nav: Nav,
    rows: Vec<DeclineRow>,
}

pub(super) async fn declines(
    State(state): State<AppState>,
    Can { user, cap: viewer }: Can<ComplianceViewer>,
) -> AppResult<Response> {
    let rows = state
        .store
        .declines(&viewer)
        .await?
        .into_iter()
        .map(|d| DeclineRow {
            person: d.person_name,
            policy: d.policy_title,
            number: d.version_number,
            reason: d.reason,
            at: when(d.declined_at, &user.school.timezone),
        })
        .collect();
    Ok(page(&DeclinesView {
        nav: Nav::for_user(&user),
        rows,
    })?
    .into_response())
}
