//! Image consent (`undersign_core::consent`): the office's register of pupils' consent per
//! channel (recording paper forms), each member of staff's consent for their own image,
//! the check before images leave the school with its publication, and the publisher's
//! take-down tasks.
//!
//! A check is its maker's and the headteacher's to see; a task is its publisher's. Anyone
//! else gets 404, as for another school's id.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use chrono::NaiveDate;
use serde::Deserialize;
use undersign_core::access::PeopleAdmin;
use undersign_core::consent::{
    Answer, Channel, ConsentRecord, ConsentState, NewConsent, PublicationCheck, Subject, Verdict,
    answer,
};
use undersign_core::person::PersonStatus;
use undersign_core::requests::{RequestKind, RequestState};
use undersign_core::{PupilId, RequestId};

mod parent;

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page, when};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/consent", get(register).post(record))
        .route("/me/consent", get(own).post(record_own))
        .route("/publish", get(new_check).post(check))
        .route("/publish/{check}", get(show_check))
        .route("/publish/{check}/published", post(published))
        .route("/takedowns", get(takedowns))
        .route("/takedowns/{task}/done", post(takedown_done))
        .merge(parent::router())
}

fn answer_label(a: Answer) -> String {
    match a {
        Answer::Consent { until } => format!("consent until {}", until.format("%-d %b %Y")),
        Answer::None => "none".into(),
        Answer::Withdrawn { .. } => "withdrawn".into(),
        Answer::Expired { on } => format!("expired {}", on.format("%-d %b %Y")),
    }
}

fn channel_of(raw: &str) -> Option<Channel> {
    Channel::parse(raw.trim())
}

struct ChannelView {
    slug: &'static str,
    label: &'static str,
}

fn channels() -> Vec<ChannelView> {
    Channel::ALL
        .into_iter()
        .map(|c| ChannelView {
            slug: c.as_str(),
            label: c.label(),
        })
        .collect()
}

struct PupilLine {
    id: i64,
    name: String,
    year: String,
    class: String,
    answers: Vec<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct RegisterView {
    nav: Nav,
    channels: Vec<ChannelView>,
    pupils: Vec<PupilLine>,
    errors: Vec<FieldError>,
}

async fn register_view(
    state: &AppState,
    user: &CurrentUser,
    errors: Vec<FieldError>,
) -> AppResult<RegisterView> {
    let day = user.today();
    let mut records: BTreeMap<Subject, Vec<ConsentRecord>> = BTreeMap::new();
    for (subject, r) in state.store.school_consents(user.school.id).await? {
        records.entry(subject).or_default().push(r);
    }
    let pupils = state
        .store
        .pupils(user.school.id)
        .await?
        .into_iter()
        .filter(|p| p.on_roll)
        .map(|p| {
            let mine = records
                .get(&Subject::Pupil(p.id))
                .map(Vec::as_slice)
                .unwrap_or_default();
            PupilLine {
                id: p.id.0,
                name: p.full_name.to_string(),
                year: p.year_group.clone(),
                class: p.class.clone().unwrap_or_default(),
                answers: Channel::ALL
                    .into_iter()
                    .map(|c| answer_label(answer(mine, c, day)))
                    .collect(),
            }
        })
        .collect();
    Ok(RegisterView {
        nav: Nav::for_user(user),
        channels: channels(),
        pupils,
        errors,
    })
}

async fn register(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
) -> AppResult<Response> {
    Ok(page(&register_view(&state, &user, Vec::new()).await?)?.into_response())
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    pupil: String,
    #[serde(default)]
    channel: String,
    /// `given` or `withdrawn`.
    #[serde(default)]
    state: String,
    #[serde(default)]
    expires: String,
}

/// The consent a form states, or the fields that are wrong.
fn consent_of(form: &ConsentForm, subject: Subject) -> Result<NewConsent, Vec<FieldError>> {
    let mut errors = Vec::new();
    let channel = channel_of(&form.channel);
    if channel.is_none() {
        errors.push(FieldError::new("channel", "Choose where the images may go"));
    }
    let state = ConsentState::parse(form.state.trim());
    if state.is_none() {
        errors.push(FieldError::new("state", "Choose given or withdrawn"));
    }
    let expires = match form.expires.trim() {
        "" => None,
        d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    "expires",
                    "Enter the last day it holds, for example 2027-08-31",
                ));
                None
            }
        },
    };
    match (channel, state) {
        (Some(channel), Some(state)) if errors.is_empty() => Ok(NewConsent {
            subject,
            channel,
            state,
            expires,
        }),
        _ => Err(errors),
    }
}

async fn record(
    State(state): State<AppState>,
    Can { user, cap }: Can<PeopleAdmin>,
    Form(form): Form<ConsentForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let Ok(pupil) = form.pupil.trim().parse::<i64>() else {
        let errors = vec![FieldError::new("pupil", "Choose a pupil")];
        let view = register_view(&state, &user, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
    };
    match consent_of(&form, Subject::Pupil(PupilId(pupil))) {
        Ok(new) => {
            state
                .store
                .record_consent(&cap, new, undersign_core::time::now())
                .await?;
            Ok(Redirect::to("/consent").into_response())
        }
        Err(errors) => {
            let view = register_view(&state, &user, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "consent_own.html")]
struct OwnView {
    nav: Nav,
    channels: Vec<ChannelView>,
    answers: Vec<(&'static str, String)>,
    errors: Vec<FieldError>,
}

async fn own_view(
    state: &AppState,
    user: &CurrentUser,
    errors: Vec<FieldError>,
) -> AppResult<OwnView> {
    let records = state
        .store
        .consent_records(user.school.id, Subject::Person(user.person.id))
        .await?;
    let day = user.today();
    Ok(OwnView {
        nav: Nav::for_user(user),
        channels: channels(),
        answers: Channel::ALL
            .into_iter()
            .map(|c| (c.label(), answer_label(answer(&records, c, day))))
            .collect(),
        errors,
    })
}

async fn own(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    Ok(page(&own_view(&state, &user, Vec::new()).await?)?.into_response())
}

async fn record_own(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ConsentForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    match consent_of(&form, Subject::Person(user.person.id)) {
        Ok(new) => {
            state
                .store
                .record_own_consent(&user.actor, new, undersign_core::time::now())
                .await?;
            Ok(Redirect::to("/me/consent").into_response())
        }
        Err(errors) => {
            let view = own_view(&state, &user, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}

struct Choice {
    value: String,
    label: String,
    group: String,
}

#[derive(Template)]
#[template(path = "publish_images.html")]
struct NewCheckView {
    nav: Nav,
    channels: Vec<ChannelView>,
    pupils: Vec<Choice>,
    staff: Vec<Choice>,
    errors: Vec<FieldError>,
}

async fn new_check_view(
    state: &AppState,
    user: &CurrentUser,
    errors: Vec<FieldError>,
) -> AppResult<NewCheckView> {
    let mut pupils: Vec<Choice> = state
        .store
        .pupils(user.school.id)
        .await?
        .into_iter()
        .filter(|p| p.on_roll)
        .map(|p| Choice {
            value: format!("pupil:{}", p.id),
            label: p.full_name.to_string(),
            group: p
                .class
                .clone()
                .unwrap_or_else(|| format!("Year {}", p.year_group)),
        })
        .collect();
    pupils.sort_by(|a, b| a.group.cmp(&b.group).then(a.label.cmp(&b.label)));
    let staff = state
        .store
        .people(user.school.id)
        .await?
        .into_iter()
        .filter(|p| p.status == PersonStatus::Active)
        .map(|p| Choice {
            value: format!("person:{}", p.id),
            label: p.full_name.to_string(),
            group: "Staff".into(),
        })
        .collect();
    Ok(NewCheckView {
        nav: Nav::for_user(user),
        channels: channels(),
        pupils,
        staff,
        errors,
    })
}

async fn new_check(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    Ok(page(&new_check_view(&state, &user, Vec::new()).await?)?.into_response())
}

#[derive(Deserialize)]
struct CheckForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    who: Vec<String>,
}

fn subject_of(raw: &str) -> Option<Subject> {
    let (kind, id) = raw.split_once(':')?;
    let id: i64 = id.parse().ok()?;
    match kind {
        "pupil" => Some(Subject::Pupil(PupilId(id))),
        "person" => Some(Subject::Person(undersign_core::PersonId(id))),
        _ => None,
    }
}

async fn check(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CheckForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let mut errors = Vec::new();
    let channel = channel_of(&form.channel);
    if channel.is_none() {
        errors.push(FieldError::new(
            "channel",
            "Choose where the images will go",
        ));
    }
    if form.description.trim().is_empty() {
        errors.push(FieldError::new("description", "Say what the images show"));
    }
    let who: Option<Vec<Subject>> = form.who.iter().map(|w| subject_of(w)).collect();
    let who = who.unwrap_or_default();
    if who.is_empty() {
        errors.push(FieldError::new(
            "who",
            "Choose everyone who is in the images",
        ));
    }
    let Some(channel) = channel.filter(|_| errors.is_empty()) else {
        let view = new_check_view(&state, &user, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
    };
    let c = state
        .store
        .check_publication(
            &user.actor,
            channel,
            &form.description,
            &who,
            undersign_core::time::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/publish/{}", c.id)).into_response())
}

struct Permission {
    id: i64,
    label: String,
}

#[derive(Template)]
#[template(path = "publish_check.html")]
struct CheckView {
    nav: Nav,
    c: PublicationCheck,
    channel: &'static str,
    checked: String,
    published: Option<String>,
    verdict: &'static str,
    may_publish: bool,
    permissions: Vec<Permission>,
}

async fn show_check(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let c = state.store.publication_check(&user.actor, id).await?;
    let tz = &user.school.timezone;
    let permissions = if c.verdict == Verdict::NeedsPermission && c.published_at.is_none() {
        state
            .store
            .my_requests(&user.actor)
            .await?
            .into_iter()
            .filter(|r| r.kind == RequestKind::ImagePosting && r.state == RequestState::Approved)
            .map(|r| Permission {
                id: r.id.0,
                label: format!("{}: {}", r.reference(), r.title()),
            })
            .collect()
    } else {
        Vec::new()
    };
    let view = CheckView {
        nav: Nav::for_user(&user),
        channel: c.channel.label(),
        checked: when(c.at, tz),
        published: c.published_at.map(|t| when(t, tz)),
        verdict: match c.verdict {
            Verdict::Clear => "Everyone has consent: the images can be published.",
            Verdict::NeedsPermission => {
                "Someone has no consent on file, or it expired: the headteacher's permission is needed first."
            }
            Verdict::Refused => {
                "Someone has withdrawn consent: these images cannot be published with them in."
            }
        },
        may_publish: c.checked_by == user.person.id
            && c.published_at.is_none()
            && c.verdict != Verdict::Refused,
        permissions,
        c,
    };
    Ok(page(&view)?.into_response())
}

#[derive(Deserialize)]
struct PublishForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    permission: String,
}

async fn published(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<PublishForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    if state
        .store
        .publication_check(&user.actor, id)
        .await?
        .checked_by
        != user.person.id
    {
        return Err(AppError::Forbidden);
    }
    let permission = form.permission.trim().parse().ok().map(RequestId);
    state
        .store
        .publish_checked(&user.actor, id, permission, undersign_core::time::now())
        .await?;
    Ok(Redirect::to(&format!("/publish/{id}")).into_response())
}

struct TaskView {
    id: i64,
    what: String,
    channel: &'static str,
    who: String,
    raised: String,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "takedowns.html")]
struct TasksView {
    nav: Nav,
    tasks: Vec<TaskView>,
}

async fn takedowns(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let tz = &user.school.timezone;
    let tasks = state
        .store
        .takedown_tasks(&user.actor)
        .await?
        .into_iter()
        .map(|t| TaskView {
            id: t.id,
            what: t.description,
            channel: t.channel.label(),
            who: t.subject_name,
            raised: when(t.raised_at, tz),
            done: t.done_at.map(|d| {
                format!(
                    "{}{}",
                    when(d, tz),
                    t.note.map(|n| format!(": {n}")).unwrap_or_default()
                )
            }),
        })
        .collect();
    Ok(page(&TasksView {
        nav: Nav::for_user(&user),
        tasks,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct DoneForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    note: String,
}

async fn takedown_done(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(task): Path<i64>,
    Form(form): Form<DoneForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state
        .store
        .complete_takedown(&user.actor, task, &form.note, undersign_core::time::now())
        .await?;
    Ok(Redirect::to("/takedowns").into_response())
}
