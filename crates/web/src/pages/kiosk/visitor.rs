//! The visitor's screens at the kiosk: their details, the visitor AUP to read and sign
//! (unless an earlier signature still covers them), the welcome, and signing out.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::Duration;
use serde::Deserialize;
use std::collections::BTreeSet;
use undersign_core::VisitId;
use undersign_core::store::StoreError;
use undersign_core::visits::{Coverage, NewVisit, SignOutBy, VisitSignature, VisitorDetails};

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::Client;

use super::*;

#[derive(Template)]
#[template(path = "kiosk_start.html")]
pub(super) struct KioskStartView {
    nav: Nav,
    school_name: String,
}

pub(super) async fn start(device: KioskDevice) -> AppResult<Response> {
    Ok(page(&KioskStartView {
        nav: Nav::anonymous(),
        school_name: device.school.name,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "kiosk_details.html")]
pub(super) struct KioskDetailsView {
    nav: Nav,
    school_name: String,
    form_token: String,
    hosts: Vec<HostOption>,
    entered: DetailsForm,
    errors: Vec<FieldError>,
}

pub(super) async fn details_page(
    State(state): State<AppState>,
    device: KioskDevice,
) -> AppResult<Response> {
    let hosts = hosts(&state, device.school.id).await?;
    Ok(page(&KioskDetailsView {
        nav: Nav::anonymous(),
        school_name: device.school.name.clone(),
        form_token: device.form_token(),
        hosts,
        entered: DetailsForm::default(),
        errors: Vec::new(),
    })?
    .into_response())
}

fn details_refused(
    device: &KioskDevice,
    hosts: Vec<HostOption>,
    entered: DetailsForm,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(&KioskDetailsView {
            nav: Nav::anonymous(),
            school_name: device.school.name.clone(),
            form_token: device.form_token(),
            hosts,
            entered,
            errors,
        })?,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "kiosk_sign.html")]
pub(super) struct KioskSignView {
    nav: Nav,
    form_token: String,
    entered: DetailsForm,
    host_name: String,
    policy: PolicyShown,
    errors: Vec<FieldError>,
    sig: SignatureFieldsView,
    returning: bool,
}

fn host_name(hosts: &[HostOption], details: &VisitorDetails) -> String {
    hosts
        .iter()
        .find(|h| h.id == details.host.0)
        .map(|h| h.name.clone())
        .unwrap_or_default()
}

pub(super) async fn new_visit(
    state: &AppState,
    device: &KioskDevice,
    client: &Client,
    details: VisitorDetails,
    signature: Option<VisitSignature>,
) -> Result<VisitId, StoreError> {
    let (new_code, salt) = fresh_code_and_salt();
    let visit = state
        .store
        .sign_in_visitor(
            NewVisit {
                school: device.school.id,
                details,
                signature,
                kiosk: Some(device.kiosk.id),
                context: client.context(device.kiosk.auth()),
                new_code,
                salt,
            },
            undersign_core::time::now(),
        )
        .await?;
    tracing::info!(school = %device.school.id, kiosk = %device.kiosk.id, visit = %visit.id, seq = visit.ledger_seq, "visitor signed in");
    // A visitor who gave an address has a receipt queued with the visit.
    state.mail_wake.notify_one();
    Ok(visit.id)
}

pub(super) async fn details(
    State(state): State<AppState>,
    device: KioskDevice,
    client: Client,
    Form(form): Form<DetailsForm>,
) -> AppResult<Response> {
    device.check_form(&form.kiosk_token)?;
    let hosts = hosts(&state, device.school.id).await?;
    let details = match form.check(&hosts) {
        Ok(d) => d,
        Err(errors) => return details_refused(&device, hosts, form, errors),
    };
    let now = undersign_core::time::now();
    match state
        .store
        .coverage(device.school.id, &details, now)
        .await?
    {
        Coverage::NoPolicy => Err(AppError::Conflict(
            "no visitor policy is published yet; please ask at reception".into(),
        )),
        Coverage::Covered { .. } => {
            match new_visit(&state, &device, &client, details, None).await {
                Ok(id) => Ok(Redirect::to(&format!("/kiosk/welcome/{id}")).into_response()),
                Err(e) => {
                    let error = refusal_to_field(e)?;
                    details_refused(&device, hosts, form, vec![error])
                }
            }
        }
        Coverage::MustSign { version } => {
            let version = state
                .store
                .version(device.school.id, version)
                .await?
                .ok_or(AppError::NotFound)?;
            let returning = details.code.is_some() || details.email.is_some();
            let sig =
                SignatureFieldsView::new(&version.declaration, name_hint(details.name.as_str()));
            Ok(page(&KioskSignView {
                nav: Nav::anonymous(),
                form_token: device.form_token(),
                host_name: host_name(&hosts, &details),
                entered: form,
                policy: policy_shown(&version, &BTreeSet::new())?,
                errors: Vec::new(),
                sig,
                returning,
            })?
            .into_response())
        }
    }
}

/// A visitor's details with their signature, as posted by the kiosk's sign step and by
/// reception's assisted sign-in (which adds `csrf_token` and `reason`; the kiosk sends
/// `kiosk_token`). Each handler reads the fields of its own form and ignores the others.
#[derive(Deserialize)]
pub(crate) struct VisitorSignPost {
    #[serde(default)]
    pub(crate) kiosk_token: String,
    #[serde(default)]
    pub(crate) csrf_token: String,
    #[serde(default)]
    pub(crate) reason: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    car_registration: String,
    #[serde(default)]
    visitor_code: String,
    #[serde(default)]
    version: String,
    #[serde(flatten)]
    signature: SignatureFields,
}

impl VisitorSignPost {
    /// The visitor's details and the signing step, checked separately.
    pub(crate) fn split(self) -> (DetailsForm, SigningForm) {
        (
            DetailsForm {
                kiosk_token: String::new(),
                name: self.name,
                organisation: self.organisation,
                host: self.host,
                email: self.email,
                car_registration: self.car_registration,
                visitor_code: self.visitor_code,
            },
            SigningForm {
                version: self.version,
                fields: self.signature,
            },
        )
    }
}

pub(super) async fn sign(
    State(state): State<AppState>,
    device: KioskDevice,
    client: Client,
    Form(form): Form<VisitorSignPost>,
) -> AppResult<Response> {
    device.check_form(&form.kiosk_token)?;
    let (entered, signing) = form.split();
    let hosts = hosts(&state, device.school.id).await?;
    let details = match entered.check(&hosts) {
        Ok(d) => d,
        Err(errors) => return details_refused(&device, hosts, entered, errors),
    };
    let current = state
        .store
        .visitor_policy(device.school.id)
        .await?
        .ok_or_else(|| {
            AppError::Conflict("no visitor policy is published yet; please ask at reception".into())
        })?;
    let shown_current = signing.version.trim() == current.id.to_string();
    let checked = if shown_current {
        signing.check(&details, &current)
    } else {
        Err(vec![FieldError::new(
            "declaration",
            "The visitor policy has just been replaced: read the new version below, then sign",
        )])
    };
    let errors = match checked {
        Ok(signature) => {
            match new_visit(&state, &device, &client, details.clone(), Some(signature)).await {
                Ok(id) => return Ok(Redirect::to(&format!("/kiosk/welcome/{id}")).into_response()),
                Err(e) => vec![refusal_to_field(e)?],
            }
        }
        Err(errors) => errors,
    };
    let acknowledged = signing.fields.acknowledged();
    let mut sig = signing.view(&current.declaration, details.name.as_str(), &errors);
    // A declaration ticked under a version that has since been replaced is not carried over.
    sig.declaration_ticked &= shown_current;
    let view = KioskSignView {
        nav: Nav::anonymous(),
        form_token: device.form_token(),
        host_name: host_name(&hosts, &details),
        entered,
        policy: policy_shown(&current, &acknowledged)?,
        errors,
        sig,
        returning: false,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
}

#[derive(Template)]
#[template(path = "kiosk_welcome.html")]
pub(super) struct KioskWelcomeView {
    nav: Nav,
    name: String,
    host_name: String,
    code: String,
    arrived: String,
    signed_now: bool,
    return_after: u32,
}

pub(super) async fn welcome(
    State(state): State<AppState>,
    device: KioskDevice,
    Path(id): Path<VisitId>,
) -> AppResult<Response> {
    let visit = state
        .store
        .visit(device.school.id, id)
        .await?
        .filter(|v| v.kiosk == Some(device.kiosk.id))
        .filter(|v| undersign_core::time::now() - v.arrived_at < Duration::minutes(WELCOME_MINUTES))
        .ok_or(AppError::NotFound)?;
    let Some(personal) = visit.personal.as_ref() else {
        return Err(AppError::NotFound);
    };
    Ok(page(&KioskWelcomeView {
        nav: Nav::anonymous(),
        name: personal.full_name.clone(),
        host_name: visit.host_name.clone(),
        code: personal.visitor_code.clone(),
        arrived: when(visit.arrived_at, &device.school.timezone),
        signed_now: visit.signed_version.is_some(),
        return_after: WELCOME_RETURN_SECONDS,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "kiosk_sign_out.html")]
pub(super) struct KioskSignOutView {
    nav: Nav,
    form_token: String,
    who: String,
    errors: Vec<FieldError>,
    signed_out: Option<String>,
    return_after: u32,
}

pub(super) async fn sign_out_page(device: KioskDevice) -> AppResult<Response> {
    Ok(page(&KioskSignOutView {
        nav: Nav::anonymous(),
        form_token: device.form_token(),
        who: String::new(),
        errors: Vec::new(),
        signed_out: None,
        return_after: GOODBYE_RETURN_SECONDS,
    })?
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct SignOutPost {
    #[serde(default)]
    kiosk_token: String,
    #[serde(default)]
    who: String,
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    device: KioskDevice,
    Form(form): Form<SignOutPost>,
) -> AppResult<Response> {
    device.check_form(&form.kiosk_token)?;
    let who = form.who.trim();
    let refuse = |message: &str| -> AppResult<Response> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&KioskSignOutView {
                nav: Nav::anonymous(),
                form_token: device.form_token(),
                who: form.who.chars().take(254).collect(),
                errors: vec![FieldError::new("who", message)],
                signed_out: None,
                return_after: GOODBYE_RETURN_SECONDS,
            })?,
        )
            .into_response())
    };
    if who.is_empty() {
        return refuse("Type your visitor code, email address or full name");
    }
    if who.chars().count() > 254 {
        return refuse("That is too long to be a visitor code, email address or name");
    }
    let found = state.store.find_on_site(device.school.id, who).await?;
    let visit = match found.as_slice() {
        [] => {
            return refuse(
                "We could not find anyone signed in with that visitor code, email or name. Check it, or ask at reception",
            );
        }
        [one] => one,
        _ => {
            return refuse(
                "More than one visitor has that name: type your visitor code or email address instead, or ask at reception",
            );
        }
    };
    let done = state
        .store
        .sign_out_visitor(
            device.school.id,
            visit.id,
            SignOutBy::Kiosk {
                kiosk: device.kiosk.id,
            },
            undersign_core::time::now(),
        )
        .await?;
    Ok(page(&KioskSignOutView {
        nav: Nav::anonymous(),
        form_token: device.form_token(),
        who: String::new(),
        errors: Vec::new(),
        signed_out: Some(done.name().to_string()),
        return_after: GOODBYE_RETURN_SECONDS,
    })?
    .into_response())
}
