//! Importing pupils from the MIS through the browser, like the staff roster: upload a CSV,
//! see the joiners, changes and leavers (or every error with its line and column), then
//! apply it all at once. The preview carries the file back with the digest of the plan
//! shown, and the apply is refused if the register changed since.

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
use undersign_core::pupils::{self, PupilPlan};
use undersign_core::roster::{MAX_FILE_BYTES, RosterError};
use undersign_core::store::{PupilApply, PupilOutcome};
use undersign_core::time;

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/consent/import", get(upload_page).post(preview))
        .route("/consent/import/apply", post(apply))
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_FILE_BYTES / 3 * 4 + 64 * 1024,
        ))
}

#[derive(Template)]
#[template(path = "pupils_upload.html")]
struct UploadView {
    nav: Nav,
    errors: Vec<FieldError>,
}

fn refused(user: &CurrentUser, errors: &[RosterError]) -> AppResult<Response> {
    let view = UploadView {
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
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
}

async fn upload_page(Can { user, .. }: Can<PeopleAdmin>) -> AppResult<Response> {
    Ok(page(&UploadView {
        nav: Nav::for_user(&user),
        errors: Vec::new(),
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "pupils_preview.html")]
struct PreviewView {
    nav: Nav,
    stale: bool,
    joiners: Vec<(u64, String, String, String)>,
    changes: Vec<(u64, String, String, String)>,
    leavers: usize,
    unchanged: usize,
    empty: bool,
    csv: String,
    digest: String,
}

fn preview_view(user: &CurrentUser, bytes: &[u8], plan: &PupilPlan, stale: bool) -> PreviewView {
    let row = |r: &pupils::PupilRow| {
        (
            r.line,
            r.full_name.to_string(),
            r.year_group.clone(),
            r.class.clone().unwrap_or_default(),
        )
    };
    PreviewView {
        nav: Nav::for_user(user),
        stale,
        joiners: plan.joiners.iter().map(row).collect(),
        changes: plan.changes.iter().map(|(_, r)| row(r)).collect(),
        leavers: plan.leavers.len(),
        unchanged: plan.unchanged,
        empty: plan.is_empty(),
        csv: base64::engine::general_purpose::STANDARD.encode(bytes),
        digest: plan.digest(),
    }
}

fn no_file() -> RosterError {
    RosterError {
        line: 1,
        field: "header".into(),
        message: "the file is empty, or no file was chosen".into(),
    }
}

async fn preview(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let Ok(multipart) = multipart else {
        return refused(&user, &[no_file()]);
    };
    let (csrf, file) = super::read_upload(multipart).await?;
    user.check_csrf(&csrf)?;
    let Some(bytes) = file else {
        return refused(&user, &[no_file()]);
    };
    let parsed = match pupils::parse(&bytes) {
        Ok(f) => f,
        Err(errors) => return refused(&user, &errors),
    };
    match state
        .store
        .apply_pupils(&admin, &parsed, [0; 32], PupilApply::DryRun, time::now())
        .await?
    {
        PupilOutcome::Applied(plan) | PupilOutcome::Stale(plan) => {
            Ok(page(&preview_view(&user, &bytes, &plan, false))?.into_response())
        }
        PupilOutcome::Invalid(errors) => refused(&user, &errors),
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
#[template(path = "pupils_done.html")]
struct DoneView {
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
    let parsed = match pupils::parse(&bytes) {
        Ok(f) => f,
        Err(errors) => return refused(&user, &errors),
    };
    let seed: [u8; 32] = rand::random();
    let how = PupilApply::ApplyShown(form.digest.trim().to_owned());
    match state
        .store
        .apply_pupils(&admin, &parsed, seed, how, time::now())
        .await?
    {
        PupilOutcome::Applied(plan) => Ok(page(&DoneView {
            nav: Nav::for_user(&user),
            joined: plan.joiners.len(),
            changed: plan.changes.len(),
            left: plan.leavers.len(),
        })?
        .into_response()),
        PupilOutcome::Invalid(errors) => refused(&user, &errors),
        PupilOutcome::Stale(plan) => Ok((
            StatusCode::CONFLICT,
            page(&preview_view(&user, &bytes, &plan, true))?,
        )
            .into_response()),
    }
}
