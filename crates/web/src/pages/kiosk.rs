//! The reception kiosk: a tablet enrolled by the school administrator with a one-time
//! code, after which it holds a device token in an `HttpOnly` cookie (only the token's
//! SHA-256 is stored) and no one logs in. Visitors give their details, read and sign the
//! visitor AUP (unless an earlier signature still covers them) and sign out. Also the
//! administrator's page to register and revoke kiosks and set the visitor rules.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use axum_extra::extract::cookie::CookieJar;
use chrono::Duration;
use rand::RngCore;
use serde::Deserialize;
use std::collections::BTreeSet;
use undersign_core::access::KioskAdmin;
use undersign_core::markdown::render_policy;
use undersign_core::person::{InputError, PersonStatus};
use undersign_core::policy::{PolicyVersion, ReferenceSource};
use undersign_core::school::School;
use undersign_core::signing::{AcknowledgedReference, SignatureMark};
use undersign_core::store::StoreError;
use undersign_core::visits::{
    Coverage, ENROLMENT_HOURS, EnrolmentCode, Kiosk, KioskName, KioskToken, NewVisit, SignOutBy,
    VisitSignature, VisitorCode, VisitorDetails, VisitorSettings,
};
use undersign_core::{KioskId, ReferenceId, SchoolId, VisitId};

use super::FieldError;
use crate::AppState;
use crate::auth::{Client, CurrentUser, random_token};
use crate::csrf::check_token;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page, when};

/// The cookie that holds a kiosk's device token.
pub const KIOSK_COOKIE: &str = "undersign_kiosk";
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
            .get(KIOSK_COOKIE)
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

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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
    pub declaration: String,
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
        declaration: version.declaration.clone(),
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
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct SigningForm {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub declaration: Option<String>,
    #[serde(default)]
    pub typed_name: String,
    #[serde(default)]
    pub signature_kind: String,
    #[serde(default)]
    pub typed_signature: String,
    #[serde(default)]
    pub signature_png: String,
    #[serde(default)]
    pub ack: Vec<ReferenceId>,
}

impl SigningForm {
    fn mark(&self) -> Result<SignatureMark, FieldError> {
        match self.signature_kind.as_str() {
            "drawn" if self.signature_png.trim().is_empty() => Err(FieldError::new(
                "signature-canvas",
                "Draw your signature in the box, or choose to type it instead",
            )),
            "drawn" => {
                SignatureMark::drawn_from_data_url(&self.signature_png).map_err(|e| field_error(&e))
            }
            "typed" | "" => SignatureMark::typed(&self.typed_signature).map_err(|e| {
                let InputError::Invalid { message, .. } = e;
                FieldError::new("typed_signature", format!("Signature: {message}"))
            }),
            _ => Err(FieldError::new(
                "signature_kind-typed",
                "Choose to draw or type your signature",
            )),
        }
    }

    /// Checks the signature against the visitor's name and the version shown; every
    /// problem at once.
    pub(super) fn check(
        &self,
        details: &VisitorDetails,
        version: &PolicyVersion,
    ) -> Result<VisitSignature, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.declaration.is_none() {
            errors.push(FieldError::new(
                "declaration",
                "Tick the declaration to confirm you agree",
            ));
        }
        if self.typed_name.trim().is_empty() {
            errors.push(FieldError::new("typed_name", "Type your full name"));
        } else if self.typed_name.chars().count() > 200
            || !details.name.matches_typed(&self.typed_name)
        {
            errors.push(FieldError::new(
                "typed_name",
                format!(
                    "The name you typed does not match the name you gave ({}); type it the same way",
                    details.name.as_str()
                ),
            ));
        }
        let mark = self.mark().map_err(|e| errors.push(e)).ok();
        let mut references = Vec::new();
        for r in &version.references {
            if self.ack.contains(&r.id) {
                references.push(AcknowledgedReference {
                    id: r.id,
                    title: r.title.clone(),
                    sha256: r.sha256.clone(),
                });
            } else {
                errors.push(FieldError::new(
                    format!("ack-{}", r.id),
                    format!("Confirm that you have read {}", r.title),
                ));
            }
        }
        match mark {
            Some(mark) if errors.is_empty() => Ok(VisitSignature {
                version: version.id,
                text_sha256: version.text_sha256.clone(),
                declaration: version.declaration.clone(),
                typed_name: undersign_core::person::collapse_spaces(&self.typed_name),
                mark,
                references,
            }),
            _ => Err(errors),
        }
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

#[derive(Template)]
#[template(path = "kiosk_start.html")]
struct KioskStartView {
    nav: Nav,
    school_name: String,
}

async fn start(device: KioskDevice) -> AppResult<Response> {
    Ok(page(&KioskStartView {
        nav: Nav::anonymous(),
        school_name: device.school.name,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "kiosk_details.html")]
struct KioskDetailsView {
    nav: Nav,
    school_name: String,
    form_token: String,
    hosts: Vec<HostOption>,
    entered: DetailsForm,
    errors: Vec<FieldError>,
}

async fn details_page(State(state): State<AppState>, device: KioskDevice) -> AppResult<Response> {
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
struct KioskSignView {
    nav: Nav,
    form_token: String,
    entered: DetailsForm,
    host_name: String,
    policy: PolicyShown,
    errors: Vec<FieldError>,
    declaration_ticked: bool,
    typed_name: String,
    signature_kind: String,
    typed_signature: String,
    returning: bool,
}

fn host_name(hosts: &[HostOption], details: &VisitorDetails) -> String {
    hosts
        .iter()
        .find(|h| h.id == details.host.0)
        .map(|h| h.name.clone())
        .unwrap_or_default()
}

async fn new_visit(
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
    Ok(visit.id)
}

async fn details(
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
            Ok(page(&KioskSignView {
                nav: Nav::anonymous(),
                form_token: device.form_token(),
                host_name: host_name(&hosts, &details),
                entered: form,
                policy: policy_shown(&version, &BTreeSet::new())?,
                errors: Vec::new(),
                declaration_ticked: false,
                typed_name: String::new(),
                signature_kind: "typed".into(),
                typed_signature: String::new(),
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
pub(super) struct VisitorSignPost {
    #[serde(default)]
    pub(super) kiosk_token: String,
    #[serde(default)]
    pub(super) csrf_token: String,
    #[serde(default)]
    pub(super) reason: String,
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
    #[serde(default)]
    declaration: Option<String>,
    #[serde(default)]
    typed_name: String,
    #[serde(default)]
    signature_kind: String,
    #[serde(default)]
    typed_signature: String,
    #[serde(default)]
    signature_png: String,
    #[serde(default)]
    ack: Vec<ReferenceId>,
}

impl VisitorSignPost {
    /// The visitor's details and the signing step, checked separately.
    pub(super) fn split(self) -> (DetailsForm, SigningForm) {
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
                declaration: self.declaration,
                typed_name: self.typed_name,
                signature_kind: self.signature_kind,
                typed_signature: self.typed_signature,
                signature_png: self.signature_png,
                ack: self.ack,
            },
        )
    }
}

async fn sign(
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
    let acknowledged: BTreeSet<ReferenceId> = signing.ack.iter().copied().collect();
    let view = KioskSignView {
        nav: Nav::anonymous(),
        form_token: device.form_token(),
        host_name: host_name(&hosts, &details),
        entered,
        policy: policy_shown(&current, &acknowledged)?,
        errors,
        declaration_ticked: signing.declaration.is_some() && shown_current,
        typed_name: signing.typed_name,
        signature_kind: if signing.signature_kind == "drawn" {
            "drawn".into()
        } else {
            "typed".into()
        },
        typed_signature: signing.typed_signature,
        returning: false,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
}

#[derive(Template)]
#[template(path = "kiosk_welcome.html")]
struct KioskWelcomeView {
    nav: Nav,
    name: String,
    host_name: String,
    code: String,
    arrived: String,
    signed_now: bool,
    return_after: u32,
}

async fn welcome(
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
struct KioskSignOutView {
    nav: Nav,
    form_token: String,
    who: String,
    errors: Vec<FieldError>,
    signed_out: Option<String>,
    return_after: u32,
}

async fn sign_out_page(device: KioskDevice) -> AppResult<Response> {
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
struct SignOutPost {
    #[serde(default)]
    kiosk_token: String,
    #[serde(default)]
    who: String,
}

async fn sign_out(
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

#[derive(Template)]
#[template(path = "kiosk_enrol.html")]
struct KioskEnrolView {
    nav: Nav,
    code: String,
    errors: Vec<FieldError>,
}

#[derive(Deserialize)]
struct EnrolQuery {
    #[serde(default)]
    code: String,
}

async fn enrol_page(Query(q): Query<EnrolQuery>) -> AppResult<Response> {
    Ok(page(&KioskEnrolView {
        nav: Nav::anonymous(),
        code: q.code.chars().take(20).collect(),
        errors: Vec::new(),
    })?
    .into_response())
}

async fn enrol(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<EnrolQuery>,
) -> AppResult<Response> {
    let now = undersign_core::time::now();
    let key = format!("kiosk-enrol:{}", client.ip);
    let failures = state
        .store
        .login_failures_since(&key, now - Duration::minutes(ENROL_THROTTLE_MINUTES))
        .await?;
    if failures >= MAX_ENROL_FAILURES {
        return Err(AppError::TooManyAttempts {
            minutes: ENROL_THROTTLE_MINUTES,
        });
    }
    let refuse = |message: String| -> AppResult<Response> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&KioskEnrolView {
                nav: Nav::anonymous(),
                code: form.code.chars().take(20).collect(),
                errors: vec![FieldError::new("code", message)],
            })?,
        )
            .into_response())
    };
    let code = match EnrolmentCode::parse(&form.code) {
        Ok(c) => c,
        Err(e) => return refuse(field_error(&e).message),
    };
    let raw = random_token();
    let token = KioskToken::parse(&raw)
        .map_err(|e| AppError::Internal(format!("a fresh kiosk token does not parse: {e}")))?;
    let Some(kiosk) = state
        .store
        .enrol_kiosk(&code.sha256(), &token.sha256(), now)
        .await?
    else {
        state.store.record_login_failure(&key, now).await?;
        return refuse(
            "This code is not valid: it may have been used already, be more than 24 hours old, or belong to a revoked kiosk. Ask the school administrator for a new one".into(),
        );
    };
    tracing::info!(school = %kiosk.school, kiosk = %kiosk.id, "kiosk enrolled");
    let cookie = format!(
        "{KIOSK_COOKIE}={raw}; Path=/kiosk; Max-Age={KIOSK_COOKIE_SECONDS}; HttpOnly; SameSite=Strict{}",
        if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut res = Redirect::to("/kiosk").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie)
            .map_err(|e| AppError::Internal(format!("kiosk cookie: {e}")))?,
    );
    Ok(res)
}

struct KioskRow {
    id: i64,
    name: String,
    status: &'static str,
    created: String,
    enrolled: String,
    revoked: bool,
}

/// A kiosk just registered: its name, its one-time code, the address that enrols a
/// tablet with it, and that address as a QR code to scan with the tablet's camera.
struct NewKiosk {
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
struct KioskAdminView {
    nav: Nav,
    kiosks: Vec<KioskRow>,
    new_kiosk: Option<NewKiosk>,
    name: String,
    resign_after_days: String,
    retention_days: String,
    errors: Vec<FieldError>,
}

fn kiosk_admin(user: &CurrentUser) -> AppResult<KioskAdmin> {
    user.actor.kiosk_admin().ok_or(AppError::Forbidden)
}

async fn admin_view(
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

async fn admin_page(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let admin = kiosk_admin(&user)?;
    let view = admin_view(&state, &user, &admin, None, Vec::new(), None).await?;
    Ok(page(&view)?.into_response())
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

async fn register(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let admin = kiosk_admin(&user)?;
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

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<KioskId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let admin = kiosk_admin(&user)?;
    state
        .store
        .revoke_kiosk(&admin, id, undersign_core::time::now())
        .await?;
    Ok(Redirect::to("/kiosks").into_response())
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    resign_after_days: String,
    #[serde(default)]
    retention_days: String,
}

async fn settings(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let admin = kiosk_admin(&user)?;
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
