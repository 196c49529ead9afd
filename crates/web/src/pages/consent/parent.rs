//! Parents and carers without accounts: the office sends each contact of a pupil a
//! single-use link; the link's page shows only that contact's children and records their
//! choices as consent from the link.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use undersign_core::PupilId;
use undersign_core::access::PeopleAdmin;
use undersign_core::consent::{
    Channel, ConsentState, NewConsent, Subject, answer, parent_link_mail,
};
use undersign_core::policy::sha256_hex;

use super::answer_label;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::{Can, random_token};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/consent/links", post(send_links))
        .route(
            "/consent/link/{token}",
            get(parent_page).post(parent_answer),
        )
}

#[derive(Deserialize)]
struct LinksForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    pupil: String,
}

/// The office sends each contact of a pupil a single-use link.
async fn send_links(
    State(state): State<AppState>,
    Can { user, cap }: Can<PeopleAdmin>,
    Form(form): Form<LinksForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let id: i64 = form
        .pupil
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("choose a pupil".into()))?;
    let pupil = state
        .store
        .pupils(user.school.id)
        .await?
        .into_iter()
        .find(|p| p.id.0 == id && p.on_roll)
        .ok_or(AppError::NotFound)?;
    if pupil.contacts.is_empty() {
        return Err(AppError::Conflict(format!(
            "{} has no contact with an email address in the MIS",
            pupil.full_name
        )));
    }
    let now = undersign_core::time::now();
    for contact in &pupil.contacts {
        let token = random_token();
        let hash = sha256_hex(token.as_bytes());
        let url = state
            .config
            .public_url
            .join(&format!("consent/link/{token}"))
            .map_err(|e| AppError::Internal(format!("building a consent link: {e}")))?;
        let mail = parent_link_mail(
            user.school.id,
            &user.school.name,
            contact,
            url.as_str(),
            &hash,
            now,
        );
        state
            .store
            .send_parent_link(&cap, &contact.email, &hash, mail, now)
            .await?;
    }
    state.mail_wake.notify_one();
    Ok(Redirect::to("/consent").into_response())
}

struct ChildView {
    id: i64,
    name: String,
    rows: Vec<(&'static str, &'static str, String)>,
}

#[derive(Template)]
#[template(path = "consent_parent.html")]
struct ParentPage {
    nav: Nav,
    school_name: String,
    contact_name: String,
    children: Vec<ChildView>,
    done: Option<usize>,
    problem: Option<String>,
}

fn refusal_page(message: String) -> AppResult<Response> {
    Ok((
        StatusCode::GONE,
        page(&ParentPage {
            nav: Nav::anonymous(),
            school_name: String::new(),
            contact_name: String::new(),
            children: Vec::new(),
            done: None,
            problem: Some(message),
        })?,
    )
        .into_response())
}

async fn parent_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let now = undersign_core::time::now();
    let view = match state
        .store
        .parent_link(&sha256_hex(token.as_bytes()), now)
        .await
    {
        Ok(v) => v,
        Err(undersign_core::store::StoreError::Conflict(m)) => return refusal_page(m),
        Err(e) => return Err(e.into()),
    };
    let day = now.date_naive();
    Ok(page(&ParentPage {
        nav: Nav::anonymous(),
        school_name: view.school_name,
        contact_name: view.contact_name,
        children: view
            .children
            .into_iter()
            .map(|(p, records)| ChildView {
                id: p.id.0,
                name: p.full_name.to_string(),
                rows: Channel::ALL
                    .into_iter()
                    .map(|c| {
                        (
                            c.as_str(),
                            c.label(),
                            answer_label(answer(&records, c, day)),
                        )
                    })
                    .collect(),
            })
            .collect(),
        done: None,
        problem: None,
    })?
    .into_response())
}

/// A parent's answers: fields `c<pupil>-<channel>` = `given` or `withdrawn` (anything
/// else leaves that channel as it is).
async fn parent_answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let mut choices = Vec::new();
    for (name, value) in &form {
        let Some((pupil, channel)) = name.strip_prefix('c').and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let (Ok(pupil), Some(channel), Some(state)) = (
            pupil.parse::<i64>(),
            Channel::parse(channel),
            ConsentState::parse(value),
        ) else {
            continue;
        };
        choices.push(NewConsent {
            subject: Subject::Pupil(PupilId(pupil)),
            channel,
            state,
            expires: None,
        });
    }
    let done = match state
        .store
        .use_parent_link(
            &sha256_hex(token.as_bytes()),
            choices,
            undersign_core::time::now(),
        )
        .await
    {
        Ok(n) => n,
        Err(undersign_core::store::StoreError::Conflict(m)) => return refusal_page(m),
        Err(e) => return Err(e.into()),
    };
    Ok(page(&ParentPage {
        nav: Nav::anonymous(),
        school_name: String::new(),
        contact_name: String::new(),
        children: Vec::new(),
        done: Some(done),
        problem: None,
    })?
    .into_response())
}
