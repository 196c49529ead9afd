//! The sign page. Opening it records a `viewed` event; signing needs the declaration
//! ticked, the full name typed as on the person's record, a signature drawn or typed, and
//! every referenced document acknowledged. A decline with a reason is recorded too.
//! Before re-signing, the person sees what changed and a redline against the version they
//! last signed.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use std::collections::BTreeSet;
use undersign_core::markdown::render_policy;
use undersign_core::policy::{PolicyVersion, ReferenceSource, VersionStatus};
use undersign_core::redline::{Part, Redline, RunChange, redline};
use undersign_core::signing::{DeclineInput, Served, SignOutcome, SignatureInput};
use undersign_core::{ReferenceId, VersionId};

use super::signature_form::{SignatureFields, SignatureFieldsView, field_errors};
use super::{FieldError, capitalise};
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page, when};
use crate::session::{Client, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign/{version}", get(sign_page).post(sign))
        .route("/sign/{version}/decline", post(decline))
        .route(
            "/sign/{version}/references/{reference}",
            get(reference_text),
        )
}

struct ReferenceRow {
    id: i64,
    title: String,
    url: Option<String>,
    checked: bool,
}

struct ChangeRow {
    number: i32,
    kind: &'static str,
    summary: String,
}

#[derive(Template)]
#[template(path = "sign.html")]
struct SignView {
    nav: Nav,
    version: i64,
    title: String,
    number: i32,
    published: String,
    body_html: String,
    references: Vec<ReferenceRow>,
    last_signed_number: Option<i32>,
    changes: Vec<ChangeRow>,
    redline: Option<Redline>,
    errors: Vec<FieldError>,
    sig: SignatureFieldsView,
    already_signed: Option<(i64, String)>,
    declined: bool,
    decline_error: Option<String>,
    /// The sealed token of what this page serves (see `Served`), for both forms.
    served: String,
}

/// A token sealing that this page served `version`'s text to the signed-in person now,
/// with the school's key; empty if the key file cannot be read (signing then waits until
/// it can, like receipts).
fn served_token(state: &AppState, user: &CurrentUser, version: &PolicyVersion) -> String {
    match crate::keys::read_matching(
        &state.config.keys_dir,
        user.school.id,
        &user.school.public_key,
    ) {
        Ok(Some(key)) => Served {
            person: user.person.id,
            version: version.id,
            text_sha256: version.text_sha256.clone(),
            at: undersign_core::time::now(),
        }
        .seal(&key),
        Ok(None) | Err(_) => String::new(),
    }
}

/// When the posted form's text was served, from its token; an error if there is none
/// (the form did not come from this page), or it was altered, is stale, or was served to
/// someone else or for another text.
fn served_at(
    user: &CurrentUser,
    version: &PolicyVersion,
    token: &str,
) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
    let refused = |m: &str| AppError::Conflict(capitalise(m));
    if token.trim().is_empty() {
        return Err(refused(
            "this form did not come from the policy's page; open the policy, read it and sign there",
        ));
    }
    let key = undersign_core::ledger::verifying_key_from_hex(&user.school.public_key)
        .ok_or_else(|| AppError::Internal("the school's public key is unreadable".into()))?;
    let served = Served::open(token, &key, undersign_core::time::now()).map_err(refused)?;
    if served.person != user.person.id
        || served.version != version.id
        || served.text_sha256 != version.text_sha256
    {
        return Err(refused(
            "this page was served for someone else or another text; reload it and read the policy again",
        ));
    }
    Ok(Some(served.at))
}

/// The published version, if it is for one of the person's audiences.
async fn version_for(
    state: &AppState,
    user: &CurrentUser,
    id: VersionId,
) -> AppResult<PolicyVersion> {
    let version = state
        .store
        .version(user.school.id, id)
        .await?
        .filter(|v| v.status == VersionStatus::Published)
        .ok_or(AppError::NotFound)?;
    if version.audiences.is_disjoint(&user.person.audiences()) {
        return Err(AppError::NotFound);
    }
    Ok(version)
}

/// What the record says the typed name must match, in words.
const NAME_HINT: &str = "As it appears on your school record.";

/// What the form held, to show it again after an error.
#[derive(Default)]
struct Entered {
    fields: SignatureFields,
    acknowledged: BTreeSet<ReferenceId>,
}

async fn build_view(
    state: &AppState,
    user: &CurrentUser,
    version: &PolicyVersion,
    entered: Entered,
    errors: Vec<FieldError>,
    decline_error: Option<String>,
) -> AppResult<SignView> {
    let tz = &user.school.timezone;
    let rendered = render_policy(&version.body_md)
        .map_err(|e| AppError::Internal(format!("stored policy text no longer renders: {e}")))?;
    let already_signed = state
        .store
        .signatures_of(user.school.id, user.person.id)
        .await?
        .into_iter()
        .find(|s| s.version == version.id)
        .map(|s| (s.id.0, when(s.signed_at, tz)));
    let obligation = state
        .store
        .obligations(user.school.id, user.person.id)
        .await?
        .into_iter()
        .find(|o| o.policy == version.policy);
    let declined = obligation
        .as_ref()
        .is_some_and(|o| o.declined && o.version == version.id);

    // What changed since the version this person last signed, and the redline against it.
    let mut changes = Vec::new();
    let mut text_changes = None;
    let mut last_signed_number = None;
    if let Some(last) = obligation
        .and_then(|o| o.last_signed)
        .filter(|l| *l != version.id)
        && let Some(old) = state.store.version(user.school.id, last).await?
    {
        last_signed_number = Some(old.number);
        text_changes = Some(redline(&old.body_md, &version.body_md).map_err(|e| {
            AppError::Internal(format!("stored policy text no longer renders: {e}"))
        })?);
        changes = state
            .store
            .versions(user.school.id, version.policy)
            .await?
            .into_iter()
            .filter(|v| {
                v.status == VersionStatus::Published
                    && v.number > old.number
                    && v.number <= version.number
            })
            .map(|v| ChangeRow {
                number: v.number,
                kind: v.change_kind.as_str(),
                summary: v.summary,
            })
            .collect();
    }

    Ok(SignView {
        nav: Nav::for_user(user),
        version: version.id.0,
        title: version.policy_title.clone(),
        number: version.number,
        published: version
            .published_at
            .map(|t| when(t, tz))
            .unwrap_or_default(),
        body_html: rendered.html,
        references: version
            .references
            .iter()
            .map(|r| ReferenceRow {
                id: r.id.0,
                title: r.title.clone(),
                url: match &r.source {
                    ReferenceSource::Link { url } => Some(url.clone()),
                    ReferenceSource::Text { .. } => None,
                },
                checked: entered.acknowledged.contains(&r.id),
            })
            .collect(),
        last_signed_number,
        changes,
        redline: text_changes,
        sig: entered
            .fields
            .view(&version.declaration, NAME_HINT.into(), &errors),
        errors,
        already_signed,
        declined,
        decline_error,
        served: served_token(state, user, version),
    })
}

async fn sign_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<VersionId>,
) -> AppResult<Response> {
    // Opening the page records nothing: what it served travels sealed in its forms.
    let version = version_for(&state, &user, id).await?;
    let view = build_view(
        &state,
        &user,
        &version,
        Entered::default(),
        Vec::new(),
        None,
    )
    .await?;
    Ok(page(&view)?.into_response())
}

#[derive(Deserialize)]
struct SignPost {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    served: String,
    #[serde(flatten)]
    fields: SignatureFields,
}

async fn sign(
    State(state): State<AppState>,
    user: CurrentUser,
    client: Client,
    Path(id): Path<VersionId>,
    Form(form): Form<SignPost>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let version = version_for(&state, &user, id).await?;
    // Whether the version is still the current one, and whether the person signed it
    // already, is checked by the store inside the signing's own transaction; here only
    // what the form carries. A form that fails its checks from someone who has signed
    // (a second tab, a double submit) gets their signature, whatever it carries.
    let served = match served_at(&user, &version, &form.served) {
        Ok(served) => served,
        Err(e) => return already_signed(&state, &user, &version).await?.ok_or(e),
    };
    let acknowledged = form.fields.acknowledged();
    let checked = SignatureInput::check(
        form.fields.form(&acknowledged),
        &user.person.full_name,
        user.person.id,
        &version,
        client.context(user.auth.clone()).served(served),
    );
    let input = match checked {
        Ok(input) => input,
        Err(errors) => {
            if let Some(signed) = already_signed(&state, &user, &version).await? {
                return Ok(signed);
            }
            let entered = Entered {
                fields: form.fields,
                acknowledged,
            };
            let errors = field_errors(errors);
            let view = build_view(&state, &user, &version, entered, errors, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
        }
    };
    let outcome = state
        .store
        .record_signature(input, undersign_core::time::now())
        .await?;
    if let SignOutcome::Recorded(sig) = &outcome {
        tracing::info!(school = %user.school.id, person = %user.person.id, version = %version.id, seq = sig.ledger_seq, "signed");
        // Its receipt was queued with it.
        state.mail_wake.notify_one();
    }
    Ok(Redirect::to(&format!("/me/signatures/{}", outcome.signature().id)).into_response())
}

/// A redirect to the person's signature of `version`, if they have signed it.
async fn already_signed(
    state: &AppState,
    user: &CurrentUser,
    version: &PolicyVersion,
) -> AppResult<Option<Response>> {
    Ok(state
        .store
        .signatures_of(user.school.id, user.person.id)
        .await?
        .into_iter()
        .find(|s| s.version == version.id)
        .map(|s| Redirect::to(&format!("/me/signatures/{}", s.id)).into_response()))
}

#[derive(Deserialize)]
struct DeclineForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    served: String,
    #[serde(default)]
    reason: String,
}

async fn decline(
    State(state): State<AppState>,
    user: CurrentUser,
    client: Client,
    Path(id): Path<VersionId>,
    Form(form): Form<DeclineForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let version = version_for(&state, &user, id).await?;
    let served = served_at(&user, &version, &form.served)?;
    let reason = match DeclineInput::parse_reason(&form.reason) {
        Ok(r) => r,
        Err(e) => {
            let message = capitalise(&e.to_string().replace("reason: ", ""));
            let view = build_view(
                &state,
                &user,
                &version,
                Entered::default(),
                vec![FieldError::new("reason", message.clone())],
                Some(message),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
        }
    };
    state
        .store
        .record_decline(
            DeclineInput {
                school: user.school.id,
                person: user.person.id,
                version: version.id,
                reason,
                context: client.context(user.auth.clone()).served(served),
            },
            undersign_core::time::now(),
        )
        .await?;
    Ok(Redirect::to("/me").into_response())
}

#[derive(Template)]
#[template(path = "reference.html")]
struct ReferenceView {
    nav: Nav,
    version: i64,
    title: String,
    body: String,
}

async fn reference_text(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, reference)): Path<(VersionId, ReferenceId)>,
) -> AppResult<Response> {
    let version = version_for(&state, &user, id).await?;
    let r = version
        .references
        .iter()
        .find(|r| r.id == reference)
        .ok_or(AppError::NotFound)?;
    let ReferenceSource::Text { body } = &r.source else {
        return Err(AppError::NotFound);
    };
    Ok(page(&ReferenceView {
        nav: Nav::for_user(&user),
        version: version.id.0,
        title: r.title.clone(),
        body: body.clone(),
    })?
    .into_response())
}
