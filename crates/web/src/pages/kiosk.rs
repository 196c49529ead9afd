//! The reception kiosk: a tablet enrolled by the school administrator with a one-time
//! code, after which it holds a device token in an `HttpOnly` cookie (only the token's
//! SHA-256 is stored) and no one logs in. Visitors give their details, read and sign the
//! visitor AUP (unless an earlier signature still covers them) and sign out. Also the
//! administrator's page to register and revoke kiosks and set the visitor rules.

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use rand::RngCore;
use serde::Deserialize;
use std::collections::BTreeSet;
use undersign_core::markdown::render_policy;
use undersign_core::person::{InputError, PersonStatus};
use undersign_core::policy::{PolicyVersion, ReferenceSource};
use undersign_core::school::School;
use undersign_core::store::StoreError;
use undersign_core::visits::{Kiosk, KioskToken, VisitSignature, VisitorCode, VisitorDetails};
use undersign_core::{ReferenceId, SchoolId};

use super::signature_form::{SignatureFields, SignatureFieldsView, field_errors};
use super::{FieldError, capitalise};
use crate::AppState;
use crate::csrf::check_token;
use crate::error::{AppError, AppResult};
use crate::render::Nav;

mod admin;
mod enrol;
mod visitor;

use admin::{admin_page, register, revoke, settings};
use enrol::{enrol, enrol_page};
pub(super) use visitor::VisitorSignPost;
use visitor::{details, details_page, sign, sign_out, sign_out_page, start, welcome};

/// The cookie that holds a kiosk's device token.
pub const KIOSK_COOKIE: &str = "undersign_kiosk";
/// Its name behind TLS: `__Secure-` makes browsers refuse it unless it is `Secure` (it
/// is scoped to `/kiosk`, so `__Host-` cannot be used).
pub const SECURE_KIOSK_COOKIE: &str = "__Secure-undersign_kiosk";

/// The kiosk cookie's name for this installation.
pub fn kiosk_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        SECURE_KIOSK_COOKIE
    } else {
        KIOSK_COOKIE
    }
}
/// How long a kiosk stays enrolled without being used (the cookie's lifetime).
const KIOSK_COOKIE_SECONDS: i64 = 5 * 365 * 24 * 3600;
/// Wrong enrolment codes allowed per client address in [`ENROL_THROTTLE_MINUTES`].
const MAX_ENROL_FAILURES: u32 = 10;
const ENROL_THROTTLE_MINUTES: i64 = 15;
/// How long the welcome page of a visit can be shown on the kiosk it was made at.
const WELCOME_MINUTES: i64 = 10;
/// How long the welcome screen stays before the kiosk goes back to its start screen by
/// itself (`signature.js` follows the "Done" link; a meta refresh would fail WCAG 2.2.1),
/// long enough to note the visitor code it shows.
const WELCOME_RETURN_SECONDS: u32 = 30;
/// How long the goodbye screen stays before the kiosk goes back to its start screen.
const GOODBYE_RETURN_SECONDS: u32 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/kiosk", get(start))
        .route("/kiosk/enrol", get(enrol_page).post(enrol))
        .route("/kiosk/sign-in", get(details_page).post(details))
        .route("/kiosk/sign", post(sign))
        .route("/kiosk/welcome/{visit}", get(welcome))
        .route("/kiosk/sign-out", get(sign_out_page).post(sign_out))
        .route("/kiosks", get(admin_page).post(register))
        .route("/kiosks/{kiosk}/revoke", post(revoke))
        .route("/kiosks/settings", post(settings))
}

/// A request from an enrolled kiosk: the device, its school and its token.
pub struct KioskDevice {
    pub kiosk: Kiosk,
    pub school: School,
    token: KioskToken,
}

impl KioskDevice {
    /// The token this kiosk's forms carry.
    fn form_token(&self) -> String {
        self.token.form_token()
    }

    fn check_form(&self, submitted: &str) -> AppResult<()> {
        check_token(&self.form_token(), submitted)
    }
}

/// Why a request was refused as not coming from an enrolled kiosk.
pub struct KioskRefused(&'static str);

#[derive(Template)]
#[template(path = "kiosk_refused.html")]
struct KioskRefusedView {
    nav: Nav,
    message: &'static str,
}

impl IntoResponse for KioskRefused {
    fn into_response(self) -> Response {
        let view = KioskRefusedView {
            nav: Nav::anonymous(),
            message: self.0,
        };
        match view.render() {
            Ok(body) => (StatusCode::FORBIDDEN, axum::response::Html(body)).into_response(),
            Err(_) => (StatusCode::FORBIDDEN, self.0).into_response(),
        }
    }
}

impl FromRequestParts<AppState> for KioskDevice {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let raw = jar
            .get(kiosk_cookie_name(state))
            .map(|c| c.value().to_string())
            .ok_or_else(|| {
                KioskRefused("This device is not set up as a visitor kiosk.").into_response()
            })?;
        let token = KioskToken::parse(&raw).map_err(|_| {
            KioskRefused("This device's kiosk key is not valid, so it cannot sign visitors in.")
                .into_response()
        })?;
        let kiosk = state
            .store
            .kiosk_by_token(&token.sha256())
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .ok_or_else(|| {
                KioskRefused("This kiosk is not registered, or its registration has been revoked.")
                    .into_response()
            })?;
        let school = state
            .store
            .school(kiosk.school)
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .ok_or_else(|| AppError::NotFound.into_response())?;
        Ok(KioskDevice {
            kiosk,
            school,
            token,
        })
    }
}

/// The element id of a visitor field, and the message of an input error about it.
pub(super) fn field_error(e: &InputError) -> FieldError {
    let InputError::Invalid { field, message } = e;
    let id = match *field {
        "car registration" => "car_registration",
        "visitor code" => "visitor_code",
        "full name" => "typed_name",
        "typed signature" => "typed_signature",
        "signature" => "signature-canvas",
        other => other,
    };
    FieldError::new(id, capitalise(message))
}

/// The visitor details as entered, to show them again or carry them to the next step.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct DetailsForm {
    /// The kiosk's form token (empty on the receptionist's form).
    #[serde(default)]
    pub kiosk_token: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub car_registration: String,
    #[serde(default)]
    pub visitor_code: String,
}

impl DetailsForm {
    /// Checks the details, including that the host is someone active in the school.
    pub(super) fn check(&self, hosts: &[HostOption]) -> Result<VisitorDetails, Vec<FieldError>> {
        let parsed = VisitorDetails::parse(
            &self.name,
            &self.organisation,
            &self.host,
            &self.email,
            &self.car_registration,
            &self.visitor_code,
        );
        let mut errors: Vec<FieldError> = match &parsed {
            Ok(_) => Vec::new(),
            Err(list) => list.iter().map(field_error).collect(),
        };
        let host_known = hosts.iter().any(|h| h.id.to_string() == self.host.trim());
        if !host_known && !errors.iter().any(|e| e.field == "host") {
            errors.push(FieldError::new(
                "host",
                "Choose who you are visiting from the list",
            ));
        }
        match parsed {
            Ok(details) if errors.is_empty() => Ok(details),
            _ => Err(errors),
        }
    }
}

/// Someone a visitor may be visiting.
#[derive(Debug, Clone)]
pub(super) struct HostOption {
    pub id: i64,
    pub name: String,
}

pub(super) async fn hosts(state: &AppState, school: SchoolId) -> AppResult<Vec<HostOption>> {
    Ok(state
        .store
        .people(school)
        .await?
        .into_iter()
        .filter(|p| p.status == PersonStatus::Active)
        .map(|p| HostOption {
            id: p.id.0,
            name: p.full_name.to_string(),
        })
        .collect())
}

/// A referenced document as shown to a visitor: text documents in full (the kiosk does
/// not leave the page), links as their address.
pub(super) struct VisitorReference {
    pub id: i64,
    pub title: String,
    pub url: Option<String>,
    pub body: Option<String>,
    pub checked: bool,
}

/// The visitor AUP as shown before signing.
pub(super) struct PolicyShown {
    pub version: i64,
    pub title: String,
    pub number: i32,
    pub body_html: String,
    pub references: Vec<VisitorReference>,
}

pub(super) fn policy_shown(
    version: &PolicyVersion,
    acknowledged: &BTreeSet<ReferenceId>,
) -> AppResult<PolicyShown> {
    let rendered = render_policy(&version.body_md)
        .map_err(|e| AppError::Internal(format!("stored policy text no longer renders: {e}")))?;
    Ok(PolicyShown {
        version: version.id.0,
        title: version.policy_title.clone(),
        number: version.number,
        body_html: rendered.html,
        references: version
            .references
            .iter()
            .map(|r| {
                let (url, body) = match &r.source {
                    ReferenceSource::Link { url } => (Some(url.clone()), None),
                    ReferenceSource::Text { body } => (None, Some(body.clone())),
                };
                VisitorReference {
                    id: r.id.0,
                    title: r.title.clone(),
                    url,
                    body,
                    checked: acknowledged.contains(&r.id),
                }
            })
            .collect(),
    })
}

/// The signing fields of a visitor AUP form.
/// The signing step of a visitor's form: the version shown, and the signature fields the
/// staff sign page has too.
#[derive(Debug, Clone, Default)]
pub(super) struct SigningForm {
    pub version: String,
    pub fields: SignatureFields,
}

impl SigningForm {
    /// Checks the signature against the name the visitor gave and the version shown, by
    /// the same rules as a staff signature; every problem at once.
    pub(super) fn check(
        &self,
        details: &VisitorDetails,
        version: &PolicyVersion,
    ) -> Result<VisitSignature, Vec<FieldError>> {
        let acknowledged = self.fields.acknowledged();
        VisitSignature::check(self.fields.form(&acknowledged), &details.name, version)
            .map_err(field_errors)
    }

    /// The fields to show again.
    pub(super) fn view(
        &self,
        declaration: &str,
        name: &str,
        errors: &[FieldError],
    ) -> SignatureFieldsView {
        self.fields.view(declaration, name_hint(name), errors)
    }
}

/// What a visitor's typed name must match, in words.
pub(super) fn name_hint(name: &str) -> String {
    match name.trim() {
        "" => "Type the same name as above.".into(),
        name => format!("Type the name given above: {name}."),
    }
}

/// Random values the store needs for a new visit: a visitor code and a salt.
pub(super) fn fresh_code_and_salt() -> (VisitorCode, [u8; 16]) {
    let mut code = [0u8; 8];
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut code);
    rand::rngs::OsRng.fill_bytes(&mut salt);
    (VisitorCode::from_random(code), salt)
}

/// A store refusal (e.g. the policy replaced meanwhile) shown on the form it came from.
pub(super) fn refusal_to_field(e: StoreError) -> Result<FieldError, AppError> {
    match e {
        StoreError::Refused(m) | StoreError::Conflict(m) => {
            Ok(FieldError::new("name", capitalise(&m)))
        }
        other => Err(other.into()),
    }
}
