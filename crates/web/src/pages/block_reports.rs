//! The block page Squid sends people to (`deny_info`, see `deploy/squid/`): it quotes the
//! AUP statement the web rules enforced and lets the person say it was blocked wrongly.
//! The network manager reads those reports. The page is public: a pupil's or a visitor's
//! browser reaches it without an Undersign account.
//!
//! Squid fills the query: `/blocked?url=%U&src=%i&user=%a&msg=%o`, and on an installation
//! with several schools also `&school=<slug>`. Everything in it is shown as text, never
//! as markup, and cut to a bounded length. Anyone can edit such a link, so the client
//! address and proxy user it names are kept and shown as what the page *claimed*; the
//! address a report really came from is the connection's, and that is what the
//! throttle counts (see `undersign_core::block_reports` for the limits and retention).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::Form;
use serde::Deserialize;
use undersign_core::access::WebRulesOwner;
use undersign_core::block_reports::NewBlockReport;
use undersign_core::block_reports::PAGE_SIZE;
use undersign_core::school::School;

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::{Can, Client, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/blocked", get(blocked_page).post(report))
        .route("/web-rules/reports", get(reports))
}

#[derive(Deserialize, Default, Clone)]
struct Blocked {
    #[serde(default)]
    url: String,
    #[serde(default)]
    src: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    school: String,
    #[serde(default)]
    reason: String,
}

fn cut(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

impl Blocked {
    /// What the page shows, bounded, so a crafted link cannot fill it.
    fn bounded(&self) -> Blocked {
        Blocked {
            url: cut(&self.url, 2000),
            src: cut(&self.src, 64),
            user: cut(&self.user, 100),
            msg: cut(&self.msg, 500),
            school: cut(&self.school, 50),
            reason: self.reason.chars().take(2000).collect(),
        }
    }

    /// `N` when the message is `AUP statement N: …`.
    fn statement(&self) -> Option<u32> {
        let rest = self.msg.strip_prefix("AUP statement ")?;
        rest.split(':').next()?.trim().parse().ok()
    }
}

#[derive(Template)]
#[template(path = "blocked.html")]
struct BlockedView {
    nav: Nav,
    b: Blocked,
    statement: Option<u32>,
    school: Option<String>,
    errors: Vec<FieldError>,
    sent: bool,
}

/// The school a report belongs to: the signed-in person's, the one named in the link, or
/// the only school of a single-school installation.
async fn school_for(
    state: &AppState,
    user: Option<&CurrentUser>,
    slug: &str,
) -> AppResult<Option<School>> {
    if let Some(u) = user {
        return Ok(Some(u.school.clone()));
    }
    if !slug.is_empty() {
        return Ok(state.store.school_by_slug(slug).await?);
    }
    let mut schools = state.store.schools().await?;
    Ok(if schools.len() == 1 {
        schools.pop()
    } else {
        None
    })
}

fn nav_for(user: Option<&CurrentUser>) -> Nav {
    user.map(Nav::for_user).unwrap_or_else(Nav::anonymous)
}

async fn blocked_page(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    Query(q): Query<Blocked>,
) -> AppResult<Response> {
    let b = q.bounded();
    let school = school_for(&state, user.as_ref(), &b.school).await?;
    Ok((
        StatusCode::FORBIDDEN,
        page(&BlockedView {
            nav: nav_for(user.as_ref()),
            statement: b.statement(),
            school: school.map(|s| s.name),
            b,
            errors: Vec::new(),
            sent: false,
        })?,
    )
        .into_response())
}

async fn report(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    client: Client,
    Form(form): Form<Blocked>,
) -> AppResult<Response> {
    let b = form.bounded();
    let school = school_for(&state, user.as_ref(), &b.school).await?;
    let Some(school) = school else {
        return Err(AppError::BadRequest(
            "this block page does not say which school it belongs to; the network manager must add &school=<short name> to the deny_info address".into(),
        ));
    };
    let parsed = NewBlockReport::parse(
        &b.url,
        &b.msg,
        &b.src,
        &b.user,
        &b.reason,
        user.as_ref().map(|u| u.person.id),
        &client.throttle_key,
    );
    let (status, errors, sent) = match parsed {
        Ok(report) => match state
            .store
            .record_block_report(school.id, report, undersign_core::time::now())
            .await
        {
            Ok(_) => (StatusCode::OK, Vec::new(), true),
            Err(undersign_core::store::StoreError::Refused(m)) => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![FieldError::new("reason", m)],
                false,
            ),
            Err(e) => return Err(e.into()),
        },
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldError::new(
                if e.field() == "reason" {
                    "reason"
                } else {
                    "blocked-address"
                },
                e.to_string(),
            )],
            false,
        ),
    };
    Ok((
        status,
        page(&BlockedView {
            nav: nav_for(user.as_ref()),
            statement: b.statement(),
            school: Some(school.name),
            b,
            errors,
            sent,
        })?,
    )
        .into_response())
}

struct ReportRow {
    url: String,
    message: String,
    who: String,
    claimed: String,
    reason: String,
    at: String,
}

#[derive(Template)]
#[template(path = "block_reports.html")]
struct ReportsView {
    nav: Nav,
    rows: Vec<ReportRow>,
    total: u64,
    page: u64,
    pages: u64,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

async fn reports(
    State(state): State<AppState>,
    Can { user, cap: owner }: Can<WebRulesOwner>,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let page_no = q.page.unwrap_or(1).max(1);
    let offset = (page_no - 1).saturating_mul(u64::from(PAGE_SIZE));
    let listed = state.store.block_reports(&owner, offset, PAGE_SIZE).await?;
    let rows = listed
        .reports
        .into_iter()
        .map(|r| ReportRow {
            url: r.url,
            message: r.message,
            who: match (r.reporter_name, r.sent_from.is_empty()) {
                (Some(name), _) => format!("{name} (signed in)"),
                (None, false) => format!("someone at {}", r.sent_from),
                (None, true) => "someone (address not recorded)".into(),
            },
            claimed: match (r.proxy_user.is_empty(), r.client.is_empty()) {
                (true, true) => String::new(),
                (true, false) => format!("client {}", r.client),
                (false, true) => format!("proxy user {}", r.proxy_user),
                (false, false) => format!("proxy user {} at {}", r.proxy_user, r.client),
            },
            reason: r.reason,
            at: when(r.reported_at, &user.school.timezone),
        })
        .collect();
    Ok(page(&ReportsView {
        nav: Nav::for_user(&user),
        rows,
        total: listed.total,
        page: page_no,
        pages: listed.total.div_ceil(u64::from(PAGE_SIZE)).max(1),
    })?
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_number_is_read_from_the_filters_message() {
        let b = Blocked {
            msg: "AUP statement 3: I will not access facebook".into(),
            ..Blocked::default()
        };
        assert_eq!(b.statement(), Some(3));
        let other = Blocked {
            msg: "Web filtering is unavailable".into(),
            ..Blocked::default()
        };
        assert_eq!(other.statement(), None);
    }
}
