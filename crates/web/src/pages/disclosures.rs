//! Disclosure of a person's Internet log (`undersign_core::disclosure`): the line manager
//! or the headteacher asks, with a reason and a date range; the headteacher (or, for the
//! headteacher's own request, the person the school named) decides; the requester reads
//! the log while the approval is open. Reading is a POST, so that no prefetch or reload
//! records a look nobody took, and every reading is recorded before the log is shown.
//!
//! Who may see a disclosure's record is the store's call: anyone else gets 404, as for
//! another school's id.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use chrono::NaiveDate;
use serde::Deserialize;
use undersign_core::DisclosureId;
use undersign_core::disclosure::{
    DEFAULT_OPEN_DAYS, Decision, Disclosure, DisclosureState, MAX_NOTICE_DELAY_DAYS, MAX_OPEN_DAYS,
    NewDisclosure, PersonLog, decider_for, may_decide,
};
use undersign_core::person::{PersonStatus, Role};
use undersign_core::store::Reading;

use super::FieldError;
use crate::AppState;
use crate::csrf::CsrfOnly;
use crate::error::AppResult;
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::CurrentUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/disclosures", get(list).post(request))
        .route("/disclosures/{id}", get(show))
        .route("/disclosures/{id}/decision", post(decide))
        .route("/disclosures/{id}/withdraw", post(withdraw))
        .route("/disclosures/{id}/read", post(read))
        .route("/disclosures/{id}/log.csv", post(export_csv))
        .route("/disclosures/{id}/log.pdf", post(export_pdf))
}

struct Row {
    id: i64,
    reference: String,
    subject: String,
    requester: String,
    range: String,
    state: &'static str,
}

struct Choice {
    id: i64,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "disclosures.html")]
struct ListView {
    nav: Nav,
    may_ask: bool,
    people: Vec<Choice>,
    from: String,
    to: String,
    reason: String,
    errors: Vec<FieldError>,
    rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
struct RequestForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
}

fn range(d: &Disclosure) -> String {
    if d.from == d.to {
        d.from.format("%-d %B %Y").to_string()
    } else {
        format!(
            "{} to {}",
            d.from.format("%-d %B %Y"),
            d.to.format("%-d %B %Y")
        )
    }
}

async fn list_view(
    state: &AppState,
    user: &CurrentUser,
    form: &RequestForm,
    errors: Vec<FieldError>,
) -> AppResult<ListView> {
    let head = user.actor.has(Role::Headteacher);
    let people: Vec<Choice> = state
        .store
        .people(user.school.id)
        .await?
        .into_iter()
        .filter(|p| {
            p.id != user.person.id
                && p.status == PersonStatus::Active
                && (head || p.line_manager == Some(user.person.id))
        })
        .map(|p| Choice {
            id: p.id.0,
            selected: form.subject == p.id.to_string(),
            name: p.full_name.to_string(),
        })
        .collect();
    let rows = state
        .store
        .disclosures_for(&user.actor)
        .await?
        .iter()
        .map(|d| Row {
            id: d.id.0,
            reference: d.reference(),
            subject: d.subject_name.clone(),
            requester: d.requester_name.clone(),
            range: range(d),
            state: d.state.as_str(),
        })
        .collect();
    Ok(ListView {
        nav: Nav::for_user(user),
        may_ask: !people.is_empty(),
        people,
        from: form.from.chars().take(10).collect(),
        to: form.to.chars().take(10).collect(),
        reason: form.reason.chars().take(2000).collect(),
        errors,
        rows,
    })
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let view = list_view(&state, &user, &RequestForm::default(), Vec::new()).await?;
    Ok(page(&view)?.into_response())
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

async fn request(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let today = user.today();
    let mut errors = Vec::new();
    let subject = form.subject.trim().parse().ok();
    if subject.is_none() {
        errors.push(FieldError::new("subject", "Choose whose log you need"));
    }
    let (from, to) = (date(&form.from), date(&form.to));
    if from.is_none() {
        errors.push(FieldError::new(
            "from",
            "Enter the first day, for example 2026-11-23",
        ));
    }
    if to.is_none() {
        errors.push(FieldError::new(
            "to",
            "Enter the last day, for example 2026-11-27",
        ));
    }
    let parsed = match (subject, from, to) {
        (Some(subject), Some(from), Some(to)) if errors.is_empty() => {
            match NewDisclosure::parse(subject, from, to, &form.reason, today) {
                Ok(n) => Some(n),
                Err((field, message)) => {
                    errors.push(FieldError::new(field, super::capitalise(&message)));
                    None
                }
            }
        }
        _ => None,
    };
    if form.reason.trim().is_empty() && !errors.iter().any(|e| e.field == "reason") {
        errors.push(FieldError::new("reason", "Say why the log is needed"));
    }
    let Some(new) = parsed.filter(|_| errors.is_empty()) else {
        let view = list_view(&state, &user, &form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
    };
    let d = state
        .store
        .request_disclosure(&user.actor, new, undersign_core::time::now())
        .await?;
    Ok(Redirect::to(&format!("/disclosures/{}", d.id)).into_response())
}

#[derive(Template)]
#[template(path = "disclosure.html")]
struct ShowView {
    nav: Nav,
    d: Disclosure,
    reference: String,
    range: String,
    requested: String,
    decided: Option<String>,
    open_until: Option<String>,
    views: Vec<(String, String)>,
    may_decide: bool,
    may_withdraw: bool,
    may_read: bool,
    default_days: u32,
    max_days: u32,
    max_notice_days: u32,
    errors: Vec<FieldError>,
}

async fn show_view(
    state: &AppState,
    user: &CurrentUser,
    id: DisclosureId,
    errors: Vec<FieldError>,
) -> AppResult<ShowView> {
    let d = state.store.disclosure(&user.actor, id).await?;
    let tz = &user.school.timezone;
    let now = undersign_core::time::now();
    let may_decide = d.state == DisclosureState::Requested && {
        let requester = state.store.person(user.school.id, d.requested_by).await?;
        let named = state
            .store
            .log_settings(user.school.id)
            .await?
            .head_requests_decider;
        let rule = decider_for(
            requester.is_some_and(|r| r.roles.contains(&Role::Headteacher)),
            named,
        );
        may_decide(rule, d.requested_by, &user.person).is_ok() && d.subject != user.person.id
    };
    Ok(ShowView {
        nav: Nav::for_user(user),
        reference: d.reference(),
        range: range(&d),
        requested: when(d.requested_at, tz),
        decided: d.decided_at.map(|t| when(t, tz)),
        open_until: d.open_until.map(|t| when(t, tz)),
        views: d
            .views
            .iter()
            .map(|(t, who)| (when(*t, tz), who.clone()))
            .collect(),
        may_decide,
        may_withdraw: d.state == DisclosureState::Requested && d.requested_by == user.person.id,
        may_read: d.requested_by == user.person.id && d.is_open(now),
        default_days: DEFAULT_OPEN_DAYS,
        max_days: MAX_OPEN_DAYS,
        max_notice_days: MAX_NOTICE_DELAY_DAYS,
        errors,
        d,
    })
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<DisclosureId>,
) -> AppResult<Response> {
    Ok(page(&show_view(&state, &user, id, Vec::new()).await?)?.into_response())
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    open_days: String,
    #[serde(default)]
    notice_until: String,
    #[serde(default)]
    notice_reason: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<DisclosureId>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    // Not visible to this person: as if it did not exist.
    state.store.disclosure(&user.actor, id).await?;
    let mut errors = Vec::new();
    let decision = match form.decision.as_str() {
        "approve" => {
            let open_days = match form.open_days.trim() {
                "" => Some(DEFAULT_OPEN_DAYS),
                d => d.parse().ok().filter(|d| (1..=MAX_OPEN_DAYS).contains(d)),
            };
            if open_days.is_none() {
                errors.push(FieldError::new(
                    "open_days",
                    format!("Enter a number of days from 1 to {MAX_OPEN_DAYS}"),
                ));
            }
            let notice_delay = match form.notice_until.trim() {
                "" => None,
                d => match date(d) {
                    Some(d) => Some((d, form.notice_reason.trim().to_owned())),
                    None => {
                        errors.push(FieldError::new(
                            "notice_until",
                            "Enter the day the person may be told, for example 2026-12-14",
                        ));
                        None
                    }
                },
            };
            open_days.map(|open_days| Decision::Approve {
                open_days,
                notice_delay,
                note: form.note.clone(),
            })
        }
        "decline" => Some(Decision::Decline {
            note: form.note.clone(),
        }),
        _ => {
            errors.push(FieldError::new(
                "decision-approve",
                "Choose approve or decline",
            ));
            None
        }
    };
    let Some(decision) = decision.filter(|_| errors.is_empty()) else {
        let view = show_view(&state, &user, id, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
    };
    state
        .store
        .decide_disclosure(&user.actor, id, decision, undersign_core::time::now())
        .await?;
    Ok(Redirect::to(&format!("/disclosures/{id}")).into_response())
}

async fn withdraw(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<DisclosureId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state.store.disclosure(&user.actor, id).await?;
    state
        .store
        .withdraw_disclosure(&user.actor, id, undersign_core::time::now())
        .await?;
    Ok(Redirect::to(&format!("/disclosures/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "disclosure_log.html")]
struct LogView {
    nav: Nav,
    reference: String,
    subject: String,
    range: String,
    open_until: String,
    log: PersonLog,
    blocked: Vec<(String, String, String, String)>,
    searches: Vec<(String, String)>,
}

/// The log of disclosure `id`, read (and recorded) by `user` as `reading`; 404 for
/// someone who may not see the disclosure at all.
async fn read_log(
    state: &AppState,
    user: &CurrentUser,
    id: DisclosureId,
    csrf_token: &str,
    reading: Reading,
) -> AppResult<(Disclosure, PersonLog)> {
    user.check_csrf(csrf_token)?;
    state.store.disclosure(&user.actor, id).await?;
    Ok(state
        .store
        .read_disclosure(&user.actor, id, reading, undersign_core::time::now())
        .await?)
}

async fn read(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<DisclosureId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    let (d, log) = read_log(&state, &user, id, &form.csrf_token, Reading::Page).await?;
    let tz = &user.school.timezone;
    let view = LogView {
        nav: Nav::for_user(&user),
        reference: d.reference(),
        subject: d.subject_name.clone(),
        range: range(&d),
        open_until: d.open_until.map(|t| when(t, tz)).unwrap_or_default(),
        blocked: log
            .blocked
            .iter()
            .map(|b| {
                (
                    when(b.at, tz),
                    b.url.clone(),
                    b.rule.clone().unwrap_or_default(),
                    b.category.clone().unwrap_or_default(),
                )
            })
            .collect(),
        searches: log
            .searches
            .iter()
            .map(|(t, term)| (when(*t, tz), term.clone()))
            .collect(),
        log,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], page(&view)?).into_response())
}

/// A CSV field, quoted when it must be, and never read as a formula by a spreadsheet.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

async fn export_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<DisclosureId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    let (d, log) = read_log(&state, &user, id, &form.csrf_token, Reading::Csv).await?;
    let reference = d.reference();
    let mut out =
        String::from("reference,section,day_or_time,category,site_or_url,rule,requests,denied\n");
    for r in &log.days {
        out.push_str(&format!(
            "{reference},day,{},{},,,{},{}\n",
            r.day,
            field(&r.category),
            r.requests,
            r.denied
        ));
    }
    for s in &log.sites {
        out.push_str(&format!(
            "{reference},site,,,{},,{},{}\n",
            field(&s.host),
            s.requests,
            s.denied
        ));
    }
    for (at, term) in &log.searches {
        out.push_str(&format!(
            "{reference},search,{},,{},,1,0\n",
            undersign_core::time::rfc3339(*at),
            field(term)
        ));
    }
    for b in &log.blocked {
        out.push_str(&format!(
            "{reference},blocked,{},{},{},{},1,1\n",
            undersign_core::time::rfc3339(b.at),
            field(b.category.as_deref().unwrap_or("")),
            field(&b.url),
            field(b.rule.as_deref().unwrap_or(""))
        ));
    }
    let name = format!("attachment; filename=\"{reference}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        out,
    )
        .into_response())
}

async fn export_pdf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<DisclosureId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    let (d, log) = read_log(&state, &user, id, &form.csrf_token, Reading::Pdf).await?;
    let (school, zone) = (user.school.name.clone(), user.school.timezone);
    let reference = d.reference();
    let now = undersign_core::time::now();
    let bytes = super::documents::typeset(move || {
        undersign_pdf::disclosure_log(&school, zone, &d, &log, now)
    })
    .await?;
    let mut response = super::documents::pdf(bytes, &format!("{reference}.pdf"));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
