//! Importing the roster from the MIS through the browser: upload a CSV, see the joiners,
//! changes and leavers (or every error with its line and column), then apply it all at
//! once. The preview carries the file back with the digest of the plan shown, and the
//! apply is refused if the plan has changed since, so nothing is applied that was not seen.

use askama::Template;
use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use base64::Engine;
use serde::Deserialize;
use undersign_core::access::PeopleAdmin;
use undersign_core::roster::{self, Roster, RosterError, RosterPlan};
use undersign_core::store::RosterOutcome;
use undersign_core::time;

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people/import", get(upload_page).post(preview))
        .route("/people/import/apply", post(apply))
        // A roster file may be larger than other forms; the apply step sends it back as
        // base64 (a third larger).
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT))
}

/// The largest upload or apply form: the largest roster file in base64, with room for
/// the rest of the form. A larger file is refused by `roster::parse` with its size.
const UPLOAD_LIMIT: usize = roster::MAX_FILE_BYTES / 3 * 4 + 64 * 1024;

#[derive(Template)]
#[template(path = "roster_upload.html")]
struct RosterUploadView {
    nav: Nav,
    errors: Vec<FieldError>,
}

fn upload_view(user: &CurrentUser, errors: &[RosterError]) -> RosterUploadView {
    RosterUploadView {
        nav: Nav::for_user(user),
        errors: errors
            .iter()
            .map(|e| {
                FieldError::new(
                    "file",
                    format!("Line {}, {}: {}", e.line, e.field, e.message),
                )
            })
            .collect(),
    }
}

fn refused(user: &CurrentUser, errors: &[RosterError]) -> AppResult<Response> {
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(&upload_view(user, errors))?,
    )
        .into_response())
}

async fn upload_page(Can { user, .. }: Can<PeopleAdmin>) -> AppResult<Response> {
    Ok(page(&upload_view(&user, &[]))?.into_response())
}

struct Joiner {
    line: u64,
    name: String,
    email: String,
    roles: String,
    start: String,
    asks: String,
}

struct Change {
    line: u64,
    name: String,
    what: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "roster_preview.html")]
struct RosterPreviewView {
    nav: Nav,
    stale: bool,
    joiners: Vec<Joiner>,
    changes: Vec<Change>,
    leavers: Vec<(String, String)>,
    unchanged: usize,
    empty: bool,
    csv: String,
    digest: String,
}

async fn preview_view(
    state: &AppState,
    user: &CurrentUser,
    bytes: &[u8],
    plan: &RosterPlan,
    stale: bool,
) -> AppResult<RosterPreviewView> {
    let viewer = undersign_core::access::ComplianceViewer::for_operator(user.school.id);
    let facts = state.store.compliance_facts(&viewer).await?;
    let now = time::now();
    let roles = |r: &undersign_core::person::Roles| {
        r.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
    };
    Ok(RosterPreviewView {
        nav: Nav::for_user(user),
        stale,
        joiners: plan
            .joiners
            .iter()
            .map(|j| Joiner {
                line: j.line,
                name: j.full_name.to_string(),
                email: j.email.to_string(),
                roles: roles(&j.roles),
                start: j.start_date.map(|d| d.to_string()).unwrap_or_default(),
                asks: facts
                    .joiner_asks(&j.roles, j.start_date, now)
                    .into_iter()
                    .map(|a| {
                        format!(
                            "{} version {} by {}",
                            a.title,
                            a.number,
                            a.due.format("%-d %B %Y")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect(),
        changes: plan
            .updates
            .iter()
            .map(|u| Change {
                line: u.row.line,
                name: u.row.full_name.to_string(),
                what: u
                    .changes
                    .iter()
                    .map(|c| (c.field.to_string(), c.before.clone(), c.after.clone()))
                    .collect(),
            })
            .collect(),
        leavers: plan
            .leavers
            .iter()
            .map(|l| (l.full_name.to_string(), l.email.to_string()))
            .collect(),
        unchanged: plan.unchanged,
        empty: plan.is_empty(),
        csv: base64::engine::general_purpose::STANDARD.encode(bytes),
        digest: plan.digest(),
    })
}

fn no_file() -> RosterError {
    RosterError {
        line: 1,
        field: "header".into(),
        message: "the file is empty, or no file was chosen".into(),
    }
}

/// Parses the file and plans it against the people as they are now.
async fn check(
    state: &AppState,
    admin: &PeopleAdmin,
    bytes: &[u8],
) -> AppResult<Result<(Roster, RosterPlan), Vec<RosterError>>> {
    let roster = match roster::parse(bytes) {
        Ok(r) => r,
        Err(errors) => return Ok(Err(errors)),
    };
    let existing = state.store.roster_people(admin).await?;
    Ok(roster::plan(&roster, &existing, admin).map(|plan| (roster, plan)))
}

async fn preview(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    // Checking a file changes nothing; a form that is not an upload just gets the form back.
    let Ok(multipart) = multipart else {
        return refused(&user, &[no_file()]);
    };
    let (csrf, file) = super::read_upload(multipart).await?;
    user.check_csrf(&csrf)?;
    let Some(bytes) = file else {
        return refused(&user, &[no_file()]);
    };
    match check(&state, &admin, &bytes).await? {
        Ok((_, plan)) => {
            Ok(page(&preview_view(&state, &user, &bytes, &plan, false).await?)?.into_response())
        }
        Err(errors) => refused(&user, &errors),
    }
}

#[derive(Deserialize)]
struct ApplyForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    csv: String,
    #[serde(default)]
    digest: String,
}

#[derive(Template)]
#[template(path = "roster_done.html")]
struct RosterDoneView {
    nav: Nav,
    joined: usize,
    changed: usize,
    left: usize,
}

async fn apply(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    Form(form): Form<ApplyForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(form.csv.trim())
        .map_err(|_| {
            AppError::BadRequest("the file sent back is damaged; upload it again".into())
        })?;
    let roster = match roster::parse(&bytes) {
        Ok(r) => r,
        Err(errors) => return refused(&user, &errors),
    };
    let outcome = state
        .store
        .apply_roster(&admin, &roster, Some(form.digest.trim()), &|_, _| {})
        .await?;
    match outcome {
        RosterOutcome::Applied(plan) => {
            tracing::info!(school = %user.school.id, "roster imported from an upload");
            Ok(page(&RosterDoneView {
                nav: Nav::for_user(&user),
                joined: plan.joiners.len(),
                changed: plan.updates.len(),
                left: plan.leavers.len(),
            })?
            .into_response())
        }
        RosterOutcome::Invalid(errors) => refused(&user, &errors),
        RosterOutcome::Stale(plan) => Ok((
            StatusCode::CONFLICT,
            page(&preview_view(&state, &user, &bytes, &plan, true).await?)?,
        )
            .into_response()),
    }
}
