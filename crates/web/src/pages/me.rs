//! "My page": what I still have to sign, and what I signed — each signature opens on the
//! text exactly as I saw it, with the evidence recorded.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use undersign_core::SignatureId;
use undersign_core::markdown::render_policy;
use undersign_core::signing::SignatureMark;

use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page, when};
use crate::session::CurrentUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/me") }))
        .route("/me", get(my_page))
        .route("/me/signatures/{id}", get(signature_page))
        .route("/me/signatures/{id}/mark.png", get(signature_mark))
}

struct ToSign {
    version: i64,
    title: String,
    number: i32,
    published: String,
    resign: bool,
    declined: bool,
}

struct Signed {
    id: i64,
    title: String,
    number: i32,
    signed: String,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MeView {
    nav: Nav,
    name: String,
    to_sign: Vec<ToSign>,
    signed: Vec<Signed>,
    disclosures: Vec<MyDisclosure>,
}

/// A disclosure of my Internet log, as I am told of it.
struct MyDisclosure {
    reference: String,
    requester: String,
    requested: String,
    range: String,
    reason: String,
    state: &'static str,
    decision: Option<String>,
    views: Vec<String>,
}

async fn my_page(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let tz = &user.school.timezone;
    let to_sign = state
        .store
        .obligations(user.school.id, user.person.id)
        .await?
        .into_iter()
        .map(|o| ToSign {
            version: o.version.0,
            title: o.policy_title,
            number: o.version_number,
            published: o.published_at.map(|t| when(t, tz)).unwrap_or_default(),
            resign: o.last_signed.is_some(),
            declined: o.declined,
        })
        .collect();
    let signed = state
        .store
        .signatures_of(user.school.id, user.person.id)
        .await?
        .into_iter()
        .map(|s| Signed {
            id: s.id.0,
            title: s.policy_title,
            number: s.version_number,
            signed: when(s.signed_at, tz),
        })
        .collect();
    let today = undersign_core::time::now()
        .with_timezone(&tz.tz())
        .date_naive();
    let disclosures = state
        .store
        .disclosures_about_me(&user.actor, today)
        .await?
        .into_iter()
        .map(|d| MyDisclosure {
            reference: d.reference(),
            requester: d.requester_name.clone(),
            requested: when(d.requested_at, tz),
            range: if d.from == d.to {
                d.from.to_string()
            } else {
                format!("{} to {}", d.from, d.to)
            },
            reason: d.reason.clone(),
            state: d.state.as_str(),
            decision: d.decider_name.clone().map(|name| {
                format!(
                    "{} by {name}{}",
                    if d.open_until.is_some() {
                        "Approved"
                    } else {
                        "Declined"
                    },
                    d.decided_at
                        .map(|t| format!(", {}", when(t, tz)))
                        .unwrap_or_default()
                )
            }),
            views: d
                .views
                .iter()
                .map(|(t, who)| format!("{}: {who}", when(*t, tz)))
                .collect(),
        })
        .collect();
    Ok(page(&MeView {
        nav: Nav::for_user(&user),
        name: user.person.full_name.to_string(),
        to_sign,
        signed,
        disclosures,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "signature.html")]
struct SignatureView {
    nav: Nav,
    id: i64,
    title: String,
    number: i32,
    signed: String,
    typed_name: String,
    mark_typed: Option<String>,
    text_html: String,
    declaration: String,
    references: Vec<String>,
    ledger_seq: i64,
}

/// One of the logged-in person's own signatures; anyone else's is not found.
pub(crate) async fn own_signature(
    state: &AppState,
    user: &CurrentUser,
    id: SignatureId,
) -> AppResult<undersign_core::signing::Signature> {
    state
        .store
        .signature(user.school.id, id)
        .await?
        .filter(|s| s.person == user.person.id)
        .ok_or(AppError::NotFound)
}

async fn signature_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<SignatureId>,
) -> AppResult<Response> {
    let sig = own_signature(&state, &user, id).await?;
    let version = state
        .store
        .version(user.school.id, sig.version)
        .await?
        .ok_or(AppError::NotFound)?;
    let text_html = render_policy(&version.body_md)
        .map(|r| r.html)
        .map_err(|e| AppError::Internal(format!("stored policy text no longer renders: {e}")))?;
    let mark_typed = match state.store.signature_mark(user.school.id, id).await? {
        Some(SignatureMark::Typed { text }) => Some(text),
        _ => None,
    };
    Ok(page(&SignatureView {
        nav: Nav::for_user(&user),
        id: sig.id.0,
        title: sig.policy_title,
        number: sig.version_number,
        signed: when(sig.signed_at, &user.school.timezone),
        typed_name: sig.typed_name,
        mark_typed,
        text_html,
        declaration: sig.declaration,
        references: sig.references.into_iter().map(|r| r.title).collect(),
        ledger_seq: sig.ledger_seq,
    })?
    .into_response())
}

async fn signature_mark(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<SignatureId>,
) -> AppResult<Response> {
    let owned = state
        .store
        .signature(user.school.id, id)
        .await?
        .is_some_and(|s| s.person == user.person.id);
    if !owned {
        return Err(AppError::NotFound);
    }
    match state.store.signature_mark(user.school.id, id).await? {
        Some(SignatureMark::Drawn { png }) => {
            Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
        }
        _ => Err(AppError::NotFound),
    }
}
