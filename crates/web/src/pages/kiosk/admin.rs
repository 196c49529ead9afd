//! The school's kiosk administration: registering a kiosk (its enrolment address and QR
//! code), revoking one, and the visitor rules.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::Duration;
use serde::Deserialize;
use undersign_core::KioskId;
use undersign_core::access::KioskAdmin;
use undersign_core::person::InputError;
use undersign_core::visits::{ENROLMENT_HOURS, EnrolmentCode, KioskName, VisitorSettings};

use super::FieldError;
use crate::AppState;
use crate::csrf::CsrfOnly;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::{Can, CurrentUser};

use super::*;

pub(super) struct KioskRow {
    id: i64,
    name: String,
    status: &'static str,
    created: String,
    enrolled: String,
    revoked: bool,
}

/// A kiosk just registered: its name, its one-time code, the address that enrols a
/// tablet with it, and that address as a QR code to scan with the tablet's camera.
pub(super) struct NewKiosk {
    name: String,
    code: String,
    enrol_url: String,
    /// `data:image/svg+xml;base64,…`, for an `<img>` (the CSP allows `data:` images).
    qr_svg: String,
}

impl NewKiosk {
    fn new(state: &AppState, name: String, code: &EnrolmentCode) -> AppResult<Self> {
        let display = code.display();
        let mut url = state
            .config
            .public_url
            .join("kiosk/enrol")
            .map_err(|e| AppError::Internal(format!("the enrolment address: {e}")))?;
        url.query_pairs_mut().append_pair("code", &display);
        let enrol_url = url.to_string();
        Ok(Self {
            name,
            code: display,
            qr_svg: qr_data_url(&enrol_url)?,
            enrol_url,
        })
    }
}

/// `text` as a QR code in an SVG data URL, black on white with the quiet zone around it.
fn qr_data_url(text: &str) -> AppResult<String> {
    use base64::Engine;
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| AppError::Internal(format!("cannot make a QR code of {text}: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(image)
    ))
}

#[derive(Template)]
#[template(path = "kiosk_admin.html")]
pub(super) struct KioskAdminView {
    nav: Nav,
    kiosks: Vec<KioskRow>,
    new_kiosk: Option<NewKiosk>,
    name: String,
    resign_after_days: String,
    retention_days: String,
    errors: Vec<FieldError>,
}

pub(super) async fn admin_view(
    state: &AppState,
    user: &CurrentUser,
    admin: &KioskAdmin,
    new_kiosk: Option<NewKiosk>,
    errors: Vec<FieldError>,
    settings: Option<(String, String)>,
) -> AppResult<KioskAdminView> {
    let tz = &user.school.timezone;
    let kiosks = state
        .store
        .kiosks(admin)
        .await?
        .into_iter()
        .map(|k| KioskRow {
            id: k.id.0,
            name: k.name.clone(),
            status: k.status(),
            created: when(k.created_at, tz),
            enrolled: k.enrolled_at.map(|t| when(t, tz)).unwrap_or_default(),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    let current = state.store.visitor_settings(user.school.id).await?;
    let (resign_after_days, retention_days) = settings.unwrap_or_else(|| {
        (
            current.resign_after_days.to_string(),
            current.retention_days.to_string(),
        )
    });
    Ok(KioskAdminView {
        nav: Nav::for_user(user),
        kiosks,
        new_kiosk,
        name: String::new(),
        resign_after_days,
        retention_days,
        errors,
    })
}

pub(super) async fn admin_page(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<KioskAdmin>,
) -> AppResult<Response> {
    let view = admin_view(&state, &user, &admin, None, Vec::new(), None).await?;
    Ok(page(&view)?.into_response())
}

#[derive(Deserialize)]
pub(super) struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn register(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<KioskAdmin>,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let name = match KioskName::parse(&form.name) {
        Ok(n) => n,
        Err(e) => {
            let mut error = field_error(&e);
            error.field = "kiosk_name".into();
            let mut view = admin_view(&state, &user, &admin, None, vec![error], None).await?;
            view.name = form.name.chars().take(100).collect();
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
        }
    };
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code = EnrolmentCode::from_random(bytes);
    let now = undersign_core::time::now();
    let kiosk = state
        .store
        .register_kiosk(
            &admin,
            &name,
            &code.sha256(),
            now + Duration::hours(ENROLMENT_HOURS),
            now,
        )
        .await?;
    let new_kiosk = NewKiosk::new(&state, kiosk.name, &code)?;
    let view = admin_view(&state, &user, &admin, Some(new_kiosk), Vec::new(), None).await?;
    Ok(page(&view)?.into_response())
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<KioskAdmin>,
    Path(id): Path<KioskId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state
        .store
        .revoke_kiosk(&admin, id, undersign_core::time::now())
        .await?;
    Ok(Redirect::to("/kiosks").into_response())
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    resign_after_days: String,
    #[serde(default)]
    retention_days: String,
}

pub(super) async fn settings(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<KioskAdmin>,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    match VisitorSettings::parse(&form.resign_after_days, &form.retention_days) {
        Ok(settings) => {
            state
                .store
                .set_visitor_settings(&admin, settings, undersign_core::time::now())
                .await?;
            Ok(Redirect::to("/kiosks").into_response())
        }
        Err(list) => {
            let errors = list
                .iter()
                .map(|e| {
                    let InputError::Invalid { field, message } = e;
                    let id = if *field == "re-sign after" {
                        "resign_after_days"
                    } else {
                        "retention_days"
                    };
                    FieldError::new(id, format!("{}: {message}", capitalise(field)))
                })
                .collect();
            let keep = (
                form.resign_after_days.chars().take(10).collect(),
                form.retention_days.chars().take(10).collect(),
            );
            let view = admin_view(&state, &user, &admin, None, errors, Some(keep)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}
