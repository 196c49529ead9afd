//! The school's outbox, for the headteacher and the school administrator: every message
//! Undersign has queued for the school, newest first, with whether it was sent, how many
//! attempts it took and the mail server's last error — where to look first when someone
//! says "I never got the email".

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use undersign_core::access::PeopleAdmin;
use undersign_core::time::TimeZone;

use crate::AppState;
use crate::error::AppResult;
use crate::render::{Nav, page, when};
use crate::session::Can;

/// Messages per page.
const PER_PAGE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/outbox", get(outbox))
}

struct Row {
    created: String,
    to_name: String,
    to_email: String,
    subject: String,
    state: &'static str,
    attempts: u32,
    last_error: Option<String>,
    /// When it was sent, given up or cancelled; for a queued message, its next attempt.
    when: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxView {
    nav: Nav,
    rows: Vec<Row>,
    total: u64,
    page: u64,
    pages: u64,
    timezone: TimeZone,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

async fn outbox(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let page_no = q.page.unwrap_or(1).max(1);
    let offset = (page_no - 1).saturating_mul(u64::from(PER_PAGE));
    let listed = state.store.outbox_page(&admin, offset, PER_PAGE).await?;
    let zone = user.school.timezone;
    let rows = listed
        .mails
        .into_iter()
        .map(|m| Row {
            created: when(m.created_at, &zone),
            to_name: m.to_name,
            to_email: m.to_email.to_string(),
            subject: m.subject,
            state: m.state.label(),
            attempts: m.attempts,
            last_error: m.last_error,
            when: when(m.finished_at.unwrap_or(m.next_attempt_at), &zone),
        })
        .collect();
    let pages = listed.total.div_ceil(u64::from(PER_PAGE)).max(1);
    Ok(page(&OutboxView {
        nav: Nav::for_user(&user),
        rows,
        total: listed.total,
        page: page_no,
        pages,
        timezone: zone,
    })?
    .into_response())
}
