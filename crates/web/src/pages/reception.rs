//! Reception: who is on site now (for the receptionist, the leadership team and the
//! headteacher), the fire roll to print, signing a visitor out, and signing in for a
//! visitor who cannot use the kiosk (recorded as assisted, by whom and why).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use chrono::Duration;
use std::collections::BTreeSet;
use undersign_core::VisitId;
use undersign_core::access::Reception;
use undersign_core::signing::AuthMethod;
use undersign_core::time::TimeZone;
use undersign_core::visits::{AssistReason, NewVisit, SignOutBy, Visit, VisitState};

use super::FieldError;
use super::kiosk::{
    DetailsForm, HostOption, PolicyShown, VisitorSignPost, field_error, fresh_code_and_salt, hosts,
    name_hint, policy_shown, refusal_to_field,
};
use super::signature_form::SignatureFieldsView;
use crate::AppState;
use crate::csrf::CsrfOnly;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::{Can, Client};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reception", get(on_site))
        .route("/reception/fire-roll", get(fire_roll))
        .route("/reception/visits/{visit}/sign-out", post(sign_out))
        .route("/reception/assist", get(assist_page).post(assist))
}

/// One visitor as listed at reception.
struct VisitRow {
    id: i64,
    name: String,
    organisation: String,
    host: String,
    car: String,
    arrived: String,
    left: String,
    how: String,
    flagged: bool,
}

fn row(v: &Visit, tz: &TimeZone) -> VisitRow {
    let personal = v.personal.as_ref();
    let how = match (&v.auth, v.signed_version.is_some()) {
        (AuthMethod::Assisted { reason, .. }, _) => format!("Signed with help: {reason}"),
        (_, true) => "Signed at the kiosk".to_string(),
        (_, false) => "Earlier signature".to_string(),
    };
    let left = match &v.state {
        VisitState::OnSite => String::new(),
        VisitState::SignedOut { at, .. } | VisitState::AutoSignedOut { at } => when(*at, tz),
    };
    VisitRow {
        id: v.id.0,
        name: v.name().to_string(),
        organisation: personal
            .and_then(|p| p.organisation.clone())
            .unwrap_or_default(),
        host: v.host_name.clone(),
        car: personal
            .and_then(|p| p.car_registration.clone())
            .unwrap_or_default(),
        arrived: when(v.arrived_at, tz),
        left,
        how,
        flagged: v.state.flagged(),
    }
}

#[derive(Template)]
#[template(path = "reception.html")]
struct ReceptionView {
    nav: Nav,
    on_site: Vec<VisitRow>,
    recent: Vec<VisitRow>,
}

async fn on_site(
    State(state): State<AppState>,
    Can { user, cap: desk }: Can<Reception>,
) -> AppResult<Response> {
    let tz = &user.school.timezone;
    let on_site = state
        .store
        .on_site(&desk)
        .await?
        .iter()
        .map(|v| row(v, tz))
        .collect();
    let since = undersign_core::time::now() - Duration::days(7);
    let recent = state
        .store
        .visits_since(&desk, since)
        .await?
        .iter()
        .filter(|v| v.state != VisitState::OnSite)
        .map(|v| row(v, tz))
        .collect();
    Ok(page(&ReceptionView {
        nav: Nav::for_user(&user),
        on_site,
        recent,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "reception_fire_roll.html")]
struct FireRollView {
    nav: Nav,
    school_name: String,
    generated: String,
    rows: Vec<VisitRow>,
}

async fn fire_roll(
    State(state): State<AppState>,
    Can { user, cap: desk }: Can<Reception>,
) -> AppResult<Response> {
    let tz = &user.school.timezone;
    let rows = state
        .store
        .on_site(&desk)
        .await?
        .iter()
        .map(|v| row(v, tz))
        .collect();
    Ok(page(&FireRollView {
        nav: Nav::for_user(&user),
        school_name: user.school.name.clone(),
        generated: when(undersign_core::time::now(), tz),
        rows,
    })?
    .into_response())
}

async fn sign_out(
    State(state): State<AppState>,
    Can { user, cap: desk }: Can<Reception>,
    Path(id): Path<VisitId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state
        .store
        .sign_out_visitor(
            desk.school(),
            id,
            SignOutBy::Receptionist { person: desk.by() },
            undersign_core::time::now(),
        )
        .await?;
    Ok(Redirect::to("/reception").into_response())
}

#[derive(Template)]
#[template(path = "reception_assist.html")]
struct AssistView {
    nav: Nav,
    hosts: Vec<HostOption>,
    entered: DetailsForm,
    reason: String,
    policy: PolicyShown,
    errors: Vec<FieldError>,
    sig: SignatureFieldsView,
}

async fn assist_page(
    State(state): State<AppState>,
    Can { user, cap: desk }: Can<Reception>,
) -> AppResult<Response> {
    let version = state
        .store
        .visitor_policy(desk.school())
        .await?
        .ok_or_else(|| AppError::Conflict("no visitor policy is published yet".into()))?;
    Ok(page(&AssistView {
        nav: Nav::for_user(&user),
        hosts: hosts(&state, desk.school()).await?,
        entered: DetailsForm::default(),
        reason: String::new(),
        policy: policy_shown(&version, &BTreeSet::new())?,
        errors: Vec::new(),
        sig: SignatureFieldsView::new(&version.declaration, name_hint("")),
    })?
    .into_response())
}

async fn assist(
    State(state): State<AppState>,
    Can { user, cap: desk }: Can<Reception>,
    client: Client,
    Form(form): Form<VisitorSignPost>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let hosts = hosts(&state, desk.school()).await?;
    let reason_text = form.reason.clone();
    let (entered, signing) = form.split();
    let current = state
        .store
        .visitor_policy(desk.school())
        .await?
        .ok_or_else(|| AppError::Conflict("no visitor policy is published yet".into()))?;
    let mut errors = Vec::new();
    let reason = AssistReason::parse(&reason_text)
        .map_err(|e| errors.push(field_error(&e)))
        .ok();
    let details = entered.check(&hosts).map_err(|e| errors.extend(e)).ok();
    let shown_current = signing.version.trim() == current.id.to_string();
    if !shown_current {
        errors.push(FieldError::new(
            "declaration",
            "The visitor policy has just been replaced: read the new version below with the visitor, then sign",
        ));
    }
    let signature = match &details {
        Some(d) if shown_current => signing
            .check(d, &current)
            .map_err(|e| errors.extend(e))
            .ok(),
        _ => None,
    };
    if let (Some(details), Some(signature), Some(reason), true) =
        (details, signature, reason, errors.is_empty())
    {
        let (new_code, salt) = fresh_code_and_salt();
        let auth = AuthMethod::Assisted {
            by: desk.by(),
            reason: reason.as_str().to_string(),
        };
        match state
            .store
            .sign_in_visitor(
                NewVisit {
                    school: desk.school(),
                    details,
                    signature: Some(signature),
                    kiosk: None,
                    context: client.context(auth),
                    new_code,
                    salt,
                },
                undersign_core::time::now(),
            )
            .await
        {
            Ok(visit) => {
                tracing::info!(school = %desk.school(), visit = %visit.id, by = %desk.by(), "visitor signed in with help");
                // A visitor who gave an address has a receipt queued with the visit.
                state.mail_wake.notify_one();
                return Ok(Redirect::to("/reception").into_response());
            }
            Err(e) => errors.push(refusal_to_field(e)?),
        }
    }
    let acknowledged = signing.fields.acknowledged();
    let mut sig = signing.view(&current.declaration, &entered.name, &errors);
    sig.declaration_ticked &= shown_current;
    let view = AssistView {
        nav: Nav::for_user(&user),
        hosts,
        entered,
        reason: reason_text.chars().take(600).collect(),
        policy: policy_shown(&current, &acknowledged)?,
        errors,
        sig,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
}
