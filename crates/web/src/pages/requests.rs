//! Asking permission, advice or a ruling where the policy says to
//! (`undersign_core::requests`): a form per kind, the requester's own requests with their
//! history, the deciders' queue, the approved-software register and the published
//! rulings that all staff can read, and the headteacher's choice of who decides each kind.
//!
//! Who may see or decide a request is the store's call: anyone else gets 404, as for
//! another school's id.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use chrono::NaiveDate;
use serde::Deserialize;
use undersign_core::RequestId;
use undersign_core::person::Role;
use undersign_core::requests::{
    Answers, Decision, FieldKind, Needed, NewRuling, Outcome, Request, RequestKind, RequestState,
    check_answers, check_decision, may_decide,
};

use super::FieldError;
use crate::AppState;
use crate::csrf::CsrfOnly;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::CurrentUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list))
        .route("/requests/new/{kind}", get(new_form).post(submit))
        .route("/requests/deciders", get(deciders).post(set_decider))
        .route("/requests/{id}", get(show))
        .route("/requests/{id}/decision", post(decide))
        .route("/requests/{id}/answer", post(answer))
        .route("/requests/{id}/withdraw", post(withdraw))
        .route("/software", get(software))
        .route("/rulings", get(rulings))
}

/// A request in a list.
struct Row {
    id: i64,
    reference: String,
    kind: &'static str,
    title: String,
    requester: String,
    submitted: String,
    state: &'static str,
}

fn row(r: &Request, user: &CurrentUser) -> Row {
    Row {
        id: r.id.0,
        reference: r.reference(),
        kind: r.kind.label(),
        title: r.title(),
        requester: r.requester_name.clone(),
        submitted: when(r.submitted_at, &user.school.timezone),
        state: r.state_label(),
    }
}

struct KindLink {
    slug: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct ListView {
    nav: Nav,
    kinds: Vec<KindLink>,
    mine: Vec<Row>,
    queue: Vec<Row>,
    may_route: bool,
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let mine = state.store.my_requests(&user.actor).await?;
    let queue = state.store.request_queue(&user.actor).await?;
    let view = ListView {
        nav: Nav::for_user(&user),
        kinds: RequestKind::ALL
            .into_iter()
            .map(|k| KindLink {
                slug: k.as_str(),
                label: k.label(),
            })
            .collect(),
        mine: mine.iter().map(|r| row(r, &user)).collect(),
        queue: queue.iter().map(|r| row(r, &user)).collect(),
        may_route: user.actor.has(Role::Headteacher),
    };
    Ok(page(&view)?.into_response())
}

/// One question of a form, as shown.
struct Question {
    name: &'static str,
    label: &'static str,
    hint: String,
    /// `text`, `date`, `number` or `textarea`.
    input: &'static str,
    value: String,
    error: Option<String>,
}

fn questions(kind: RequestKind, values: &Answers, errors: &[FieldError]) -> Vec<Question> {
    kind.fields()
        .iter()
        .map(|f| {
            let optional = match f.needed {
                Needed::ToSubmit => "",
                Needed::ToApprove => "",
                Needed::Optional => " (optional)",
            };
            Question {
                name: f.name,
                label: f.label,
                hint: format!("{}{optional}", f.hint).trim().to_owned(),
                input: match f.kind {
                    FieldKind::Line => "text",
                    FieldKind::Text => "textarea",
                    FieldKind::Date => "date",
                    FieldKind::Statement => "number",
                },
                value: values.get(f.name).cloned().unwrap_or_default(),
                error: errors
                    .iter()
                    .find(|e| e.field == f.name)
                    .map(|e| e.message.clone()),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "request_new.html")]
struct NewView {
    nav: Nav,
    slug: &'static str,
    label: &'static str,
    words: &'static str,
    decider: String,
    questions: Vec<Question>,
    errors: Vec<FieldError>,
}

fn kind_of(slug: &str) -> AppResult<RequestKind> {
    RequestKind::parse(slug).ok_or(AppError::NotFound)
}

async fn new_view(
    state: &AppState,
    user: &CurrentUser,
    kind: RequestKind,
    values: &Answers,
    errors: Vec<FieldError>,
) -> AppResult<NewView> {
    let routes = state.store.request_routes(user.school.id).await?;
    let decider = routes
        .iter()
        .find(|r| r.kind == kind)
        .map_or(kind.default_decider(), |r| r.decider);
    Ok(NewView {
        nav: Nav::for_user(user),
        slug: kind.as_str(),
        label: kind.label(),
        words: kind.policy_words(),
        decider: decider.label().to_lowercase(),
        questions: questions(kind, values, &errors),
        errors,
    })
}

async fn new_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let kind = kind_of(&slug)?;
    let view = new_view(&state, &user, kind, &Answers::new(), Vec::new()).await?;
    Ok(page(&view)?.into_response())
}

/// A form's answers without its CSRF token (and the fields `skip` names).
fn split(mut form: BTreeMap<String, String>, skip: &[&str]) -> (String, Answers) {
    let token = form.remove("csrf_token").unwrap_or_default();
    for s in skip {
        form.remove(*s);
    }
    (token, form)
}

fn field_errors(errors: Vec<undersign_core::requests::FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError::new(e.field, super::capitalise(&e.message)))
        .collect()
}

async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(slug): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let kind = kind_of(&slug)?;
    let (token, raw) = split(form, &[]);
    user.check_csrf(&token)?;
    match check_answers(kind, &raw) {
        Ok(answers) => {
            let r = state
                .store
                .submit_request(&user.actor, kind, answers, undersign_core::time::now())
                .await?;
            Ok(Redirect::to(&format!("/requests/{}", r.id)).into_response())
        }
        Err(errors) => {
            let view = new_view(&state, &user, kind, &raw, field_errors(errors)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}

struct StepView {
    what: &'static str,
    by: String,
    at: String,
    note: String,
}

struct AnswerView {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct ShowView {
    nav: Nav,
    r: Request,
    reference: String,
    title: String,
    kind: &'static str,
    words: &'static str,
    state: &'static str,
    answers: Vec<AnswerView>,
    missing: Vec<&'static str>,
    steps: Vec<StepView>,
    decided: Option<String>,
    may_decide: bool,
    may_answer: bool,
    may_withdraw: bool,
    /// What the decision form offers: approval (with conditions and expiry), advice,
    /// acknowledgement, ruling.
    outcome: &'static str,
    questions: Vec<Question>,
    errors: Vec<FieldError>,
    form: DecisionForm,
}

async fn show_view(
    state: &AppState,
    user: &CurrentUser,
    id: RequestId,
    errors: Vec<FieldError>,
    form: DecisionForm,
    answer_values: Option<&Answers>,
) -> AppResult<ShowView> {
    let r = state.store.request(&user.actor, id).await?;
    let tz = &user.school.timezone;
    let may_decide = r.state == RequestState::Submitted && may_decide_it(state, user, &r).await?;
    let mine = r.requested_by == user.person.id;
    Ok(ShowView {
        nav: Nav::for_user(user),
        reference: r.reference(),
        title: r.title(),
        kind: r.kind.label(),
        words: r.kind.policy_words(),
        state: r.state_label(),
        answers: r
            .kind
            .fields()
            .iter()
            .filter_map(|f| {
                r.answers.get(f.name).map(|v| AnswerView {
                    label: f.label,
                    value: v.clone(),
                })
            })
            .collect(),
        missing: undersign_core::requests::missing_for_approval(r.kind, &r.answers)
            .into_iter()
            .map(|f| f.label)
            .collect(),
        steps: r
            .steps
            .iter()
            .map(|s| StepView {
                what: s.kind.label(r.kind),
                by: s.by_name.clone().unwrap_or_else(|| "Undersign".into()),
                at: when(s.at, tz),
                note: s.note.clone(),
            })
            .collect(),
        decided: r.decided_at.map(|t| when(t, tz)),
        may_decide,
        may_answer: mine && r.state == RequestState::MoreInfo,
        may_withdraw: mine && r.state.is_open(),
        outcome: match r.kind.outcome() {
            Outcome::Approval => "approval",
            Outcome::Advice => "advice",
            Outcome::Acknowledgement => "acknowledgement",
            Outcome::Ruling => "ruling",
        },
        questions: questions(r.kind, answer_values.unwrap_or(&r.answers), &errors),
        errors,
        form,
        r,
    })
}

/// Whether `user` may decide `r` (in whatever state it is), by the requester's roles now.
async fn may_decide_it(state: &AppState, user: &CurrentUser, r: &Request) -> AppResult<bool> {
    let requester_roles = state
        .store
        .person(user.school.id, r.requested_by)
        .await?
        .map(|p| p.roles)
        .unwrap_or_default();
    Ok(may_decide(
        r.route,
        r.requested_by,
        &requester_roles,
        user.person.id,
        &user.actor.roles,
    )
    .is_ok())
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    let view = show_view(&state, &user, id, Vec::new(), DecisionForm::default(), None).await?;
    Ok(page(&view)?.into_response())
}

#[derive(Deserialize, Default)]
struct DecisionForm {
    #[serde(default)]
    csrf_token: String,
    /// `approve`, `decline` or `more_info`.
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    expires: String,
    /// `yes` to publish a ruling.
    #[serde(default)]
    publish: String,
    #[serde(default)]
    statement: String,
    #[serde(default)]
    ruling: String,
}

async fn decide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let r = state.store.request(&user.actor, id).await?;
    if !may_decide_it(&state, &user, &r).await? {
        return Err(AppError::Forbidden);
    }
    let now = undersign_core::time::now();
    let today = user.today();
    let mut errors = Vec::new();
    if form.decision == "more_info" {
        if form.note.trim().is_empty() {
            errors.push(FieldError::new("note", "Write what you need to know"));
        } else {
            state
                .store
                .ask_more_info(&user.actor, id, &form.note, now)
                .await?;
            return Ok(Redirect::to(&format!("/requests/{id}")).into_response());
        }
    }
    let approve = match form.decision.as_str() {
        "approve" => Some(true),
        "decline" => Some(false),
        "more_info" => None,
        _ => {
            errors.push(FieldError::new("decision-approve", "Choose a decision"));
            None
        }
    };
    let expires = match form.expires.trim() {
        "" => None,
        d => {
            let day = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
            if day.is_none() {
                errors.push(FieldError::new(
                    "expires",
                    "Enter the last day it holds, for example 2027-07-31",
                ));
            }
            day
        }
    };
    let ruling = if form.publish == "yes" {
        match form.statement.trim().parse::<u32>() {
            Ok(statement) if statement > 0 => Some(NewRuling {
                statement,
                text: form.ruling.trim().to_owned(),
            }),
            _ => {
                errors.push(FieldError::new(
                    "statement",
                    "Enter the number of the statement the ruling interprets",
                ));
                None
            }
        }
    } else {
        None
    };
    if let Some(approve) = approve.filter(|_| errors.is_empty()) {
        let decision = Decision {
            approve,
            note: form.note.clone(),
            conditions: form.conditions.clone(),
            expires,
            ruling,
        };
        match check_decision(r.kind, &r.answers, &decision, today) {
            Ok(()) => {
                state
                    .store
                    .decide_request(&user.actor, id, decision, now)
                    .await?;
                return Ok(Redirect::to(&format!("/requests/{id}")).into_response());
            }
            Err(e) => errors.push(FieldError::new(
                if e.field == "decision" {
                    "decision-approve".to_owned()
                } else {
                    e.field
                },
                super::capitalise(&e.message),
            )),
        }
    }
    let view = show_view(&state, &user, id, errors, form, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
}

async fn answer(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
    Form(form): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let reply = form.get("reply").cloned().unwrap_or_default();
    let (token, raw) = split(form, &["reply"]);
    user.check_csrf(&token)?;
    let r = state.store.request(&user.actor, id).await?;
    if r.requested_by != user.person.id {
        return Err(AppError::Forbidden);
    }
    let mut errors = Vec::new();
    if reply.trim().is_empty() {
        errors.push(FieldError::new("reply", "Write your answer"));
    }
    match check_answers(r.kind, &raw) {
        Ok(answers) if errors.is_empty() => {
            state
                .store
                .answer_request(
                    &user.actor,
                    id,
                    &reply,
                    answers,
                    undersign_core::time::now(),
                )
                .await?;
            return Ok(Redirect::to(&format!("/requests/{id}")).into_response());
        }
        Ok(_) => {}
        Err(e) => errors.extend(field_errors(e)),
    }
    let view = show_view(
        &state,
        &user,
        id,
        errors,
        DecisionForm::default(),
        Some(&raw),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
}

async fn withdraw(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<RequestId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    if state.store.request(&user.actor, id).await?.requested_by != user.person.id {
        return Err(AppError::Forbidden);
    }
    state
        .store
        .withdraw_request(&user.actor, id, undersign_core::time::now())
        .await?;
    Ok(Redirect::to(&format!("/requests/{id}")).into_response())
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

struct ItemView {
    item: String,
    purpose: String,
    place: String,
    conditions: String,
    expires: String,
    approved: String,
}

#[derive(Template)]
#[template(path = "software.html")]
struct SoftwareView {
    nav: Nav,
    q: String,
    items: Vec<ItemView>,
}

async fn software(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<SearchQuery>,
) -> AppResult<Response> {
    let q: String = query.q.chars().take(200).collect();
    let today = user.today();
    let tz = &user.school.timezone;
    let items = state
        .store
        .approved_items(user.school.id, &q, today)
        .await?
        .into_iter()
        .map(|i| ItemView {
            approved: format!("{}, {}", i.approved_by, when(i.approved_at, tz)),
            item: i.item,
            purpose: i.purpose,
            place: i.place.unwrap_or_default(),
            conditions: i.conditions.unwrap_or_default(),
            expires: i
                .expires
                .map(|d| d.format("%-d %B %Y").to_string())
                .unwrap_or_default(),
        })
        .collect();
    Ok(page(&SoftwareView {
        nav: Nav::for_user(&user),
        q,
        items,
    })?
    .into_response())
}

struct RulingView {
    number: i64,
    statement: u32,
    verdict: &'static str,
    text: String,
    by: String,
}

#[derive(Template)]
#[template(path = "rulings.html")]
struct RulingsView {
    nav: Nav,
    rulings: Vec<RulingView>,
}

async fn rulings(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let tz = &user.school.timezone;
    let rulings = state
        .store
        .rulings(user.school.id)
        .await?
        .into_iter()
        .map(|r| RulingView {
            number: r.number,
            statement: r.statement,
            verdict: if r.reasonable {
                "reasonable"
            } else {
                "not reasonable"
            },
            text: r.text,
            by: format!("{}, {}", r.publisher_name, when(r.published_at, tz)),
        })
        .collect();
    Ok(page(&RulingsView {
        nav: Nav::for_user(&user),
        rulings,
    })?
    .into_response())
}

struct RouteView {
    slug: &'static str,
    label: &'static str,
    choices: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "request_deciders.html")]
struct DecidersView {
    nav: Nav,
    routes: Vec<RouteView>,
}

/// Only the headteacher says who decides; anyone else gets 403.
fn headteacher(user: &CurrentUser) -> AppResult<()> {
    if user.actor.has(Role::Headteacher) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

async fn deciders(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    headteacher(&user)?;
    let routes = state
        .store
        .request_routes(user.school.id)
        .await?
        .into_iter()
        .map(|r| RouteView {
            slug: r.kind.as_str(),
            label: r.kind.label(),
            choices: r
                .kind
                .decider_choices()
                .iter()
                .map(|c| (c.as_str(), c.label(), *c == r.decider))
                .collect(),
        })
        .collect();
    Ok(page(&DecidersView {
        nav: Nav::for_user(&user),
        routes,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct RouteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    decider: String,
}

async fn set_decider(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<RouteForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    headteacher(&user)?;
    let kind = RequestKind::parse(&form.kind)
        .ok_or_else(|| AppError::BadRequest("no such kind of request".into()))?;
    let decider = Role::ALL
        .into_iter()
        .find(|r| r.as_str() == form.decider)
        .ok_or_else(|| AppError::BadRequest("no such role".into()))?;
    state
        .store
        .set_request_route(&user.actor, kind, decider, undersign_core::time::now())
        .await?;
    Ok(Redirect::to("/requests/deciders").into_response())
}
