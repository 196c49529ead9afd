//! Chasing signatures from the web: the "Reminders and holidays" page, where the school
//! administrator or headteacher sets the reminder schedule and keeps the school's
//! holidays (one at a time, or a whole list pasted from a spreadsheet), and the dashboard's
//! Chase buttons, which queue a reminder at once for one person or everyone shown.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeSet;
use undersign_core::access::PeopleAdmin;
use undersign_core::chasing::{
    ChaseSettings, Holiday, SchoolCalendar, chase_now, holidays_text, parse_holidays, to_outbox,
};
use undersign_core::compliance::Filter;
use undersign_core::person::InputError;
use undersign_core::use_cases::chase_school;
use undersign_core::{PersonId, SchoolId, time};

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page, url_encode};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compliance/reminders", get(reminders_page).post(schedule))
        .route("/compliance/reminders/holidays", post(add_holiday))
        .route(
            "/compliance/reminders/holidays/remove",
            post(remove_holiday),
        )
        .route(
            "/compliance/reminders/holidays/import",
            post(import_holidays),
        )
        .route("/compliance/chase", post(chase_shown))
        .route("/compliance/chase/{person}", post(chase_one))
}

/// Plans and queues the school's mails now (the invitations after a publication) without
/// making the request wait, then wakes the delivery worker. A failure is logged: the
/// periodic run in `undersign serve` plans the same mails again ten minutes later.
pub(super) fn chase_in_background(state: &AppState, school: SchoolId) {
    let store = state.store.clone();
    let public_url = state.config.public_url.clone();
    let wake = state.mail_wake.clone();
    tokio::spawn(async move {
        match chase_school(store.as_ref(), school, time::now(), &public_url).await {
            Ok(report) => {
                if report.queued > 0 {
                    wake.notify_one();
                }
                tracing::info!(
                    school = %school,
                    queued = report.queued,
                    "invitations and reminders queued"
                );
            }
            Err(e) => tracing::error!(school = %school, "chasing after publication failed: {e}"),
        }
    });
}

fn zone(user: &CurrentUser) -> chrono_tz::Tz {
    user.school.timezone.tz()
}

/// "Thursday 5 November 2026".
fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

/// A form field: what was typed and the error beside it, if any.
#[derive(Debug, Clone, Default)]
struct Field {
    value: String,
    error: Option<String>,
}

impl Field {
    fn of(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            error: None,
        }
    }

    /// What was typed, cut short so a huge entry is not sent back whole.
    fn typed(raw: &str) -> Self {
        Self::of(raw.chars().take(200).collect::<String>())
    }
}

struct HolidayRow {
    name: String,
    first: String,
    last: String,
    days: i64,
    /// Identifies the holiday to the remove button.
    key: String,
}

#[derive(Template)]
#[template(path = "reminders.html")]
struct RemindersView {
    nav: Nav,
    saved: Option<&'static str>,
    errors: Vec<FieldError>,
    first: Field,
    every: Field,
    manager: Field,
    head: Field,
    days_to_sign: u16,
    preview_asked: String,
    preview_reminders: Vec<String>,
    preview_manager: String,
    preview_head: String,
    holidays: Vec<HolidayRow>,
    holiday_name: Field,
    holiday_first: Field,
    holiday_last: Field,
    import_text: String,
    import_errors: Vec<String>,
}

fn holiday_key(h: &Holiday) -> String {
    format!("{},{},{}", h.first_day, h.last_day, h.name)
}

/// The page as stored now; handlers then put back what was typed and the errors.
async fn view(state: &AppState, user: &CurrentUser) -> AppResult<RemindersView> {
    let school = user.school.id;
    let settings = state.store.chase_settings(school).await?;
    let holidays = state.store.holidays(school).await?;
    let days_to_sign = match user.actor.compliance_viewer() {
        Some(viewer) => state
            .store
            .compliance_facts(&viewer)
            .await?
            .days_to_sign
            .get(),
        None => undersign_core::compliance::DaysToSign::DEFAULT.get(),
    };
    let calendar = SchoolCalendar::new(zone(user), holidays.clone());
    let today = calendar.today(time::now());
    let preview = settings.preview(&calendar, today, 3);
    let maybe = |d: Option<NaiveDate>| d.map(long_date).unwrap_or_else(|| "never".into());
    Ok(RemindersView {
        nav: Nav::for_user(user),
        saved: None,
        errors: Vec::new(),
        first: Field::of(settings.first_reminder_days().to_string()),
        every: Field::of(settings.reminder_every_days().to_string()),
        manager: Field::of(settings.escalate_to_manager_days().to_string()),
        head: Field::of(settings.escalate_to_head_days().to_string()),
        days_to_sign,
        preview_asked: long_date(preview.asked),
        preview_reminders: preview.reminders.into_iter().map(long_date).collect(),
        preview_manager: maybe(preview.manager),
        preview_head: maybe(preview.head),
        import_text: holidays_text(&holidays),
        holidays: holidays
            .iter()
            .map(|h| HolidayRow {
                name: h.name.to_string(),
                first: long_date(h.first_day),
                last: long_date(h.last_day),
                days: h.days(),
                key: holiday_key(h),
            })
            .collect(),
        holiday_name: Field::default(),
        holiday_first: Field::default(),
        holiday_last: Field::default(),
        import_errors: Vec::new(),
    })
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn reminders_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> AppResult<Response> {
    let mut v = view(&state, &user).await?;
    v.saved = match q.saved.as_deref() {
        Some("schedule") => Some("The reminder schedule is saved."),
        Some("holidays") => Some("The holidays are saved."),
        _ => None,
    };
    Ok(page(&v)?.into_response())
}

fn invalid(v: &RemindersView) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page(v)?).into_response())
}

/// Capitalises the first letter of an error's field for the summary.
fn summary(e: &InputError) -> String {
    let mut c = e.to_string().chars().collect::<Vec<_>>();
    if let Some(f) = c.first_mut() {
        *f = f.to_ascii_uppercase();
    }
    c.into_iter().collect()
}

#[derive(Deserialize)]
struct ScheduleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    first_reminder_days: String,
    #[serde(default)]
    reminder_every_days: String,
    #[serde(default)]
    escalate_to_manager_days: String,
    #[serde(default)]
    escalate_to_head_days: String,
}

async fn schedule(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    Form(form): Form<ScheduleForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    match ChaseSettings::parse(
        &form.first_reminder_days,
        &form.reminder_every_days,
        &form.escalate_to_manager_days,
        &form.escalate_to_head_days,
    ) {
        Ok(settings) => {
            state
                .store
                .set_chase_settings(&admin, settings, time::now())
                .await?;
            tracing::info!(school = %user.school.id, ?settings, "reminder schedule set");
            Ok(Redirect::to("/compliance/reminders?saved=schedule").into_response())
        }
        Err(list) => {
            let mut v = view(&state, &user).await?;
            v.first = Field::typed(&form.first_reminder_days);
            v.every = Field::typed(&form.reminder_every_days);
            v.manager = Field::typed(&form.escalate_to_manager_days);
            v.head = Field::typed(&form.escalate_to_head_days);
            for e in &list {
                let (id, field) = match e.field() {
                    ChaseSettings::FIRST_REMINDER => ("first_reminder_days", &mut v.first),
                    ChaseSettings::REMINDER_EVERY => ("reminder_every_days", &mut v.every),
                    ChaseSettings::TO_MANAGER => ("escalate_to_manager_days", &mut v.manager),
                    _ => ("escalate_to_head_days", &mut v.head),
                };
                field.error = Some(summary(e));
                v.errors.push(FieldError::new(id, summary(e)));
            }
            invalid(&v)
        }
    }
}

#[derive(Deserialize)]
struct HolidayForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    first_day: String,
    #[serde(default)]
    last_day: String,
}

async fn add_holiday(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    Form(form): Form<HolidayForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let mut holidays = state.store.holidays(user.school.id).await?;
    let problems = match Holiday::parse(&form.name, &form.first_day, &form.last_day) {
        Ok(_) if holidays.len() >= Holiday::MAX_COUNT => vec![InputError::new(
            Holiday::NAME,
            format!(
                "the school already has {} holidays; remove some first",
                Holiday::MAX_COUNT
            ),
        )],
        Ok(h) => {
            holidays.push(h);
            state
                .store
                .replace_holidays(&admin, &holidays, time::now())
                .await?;
            return Ok(Redirect::to("/compliance/reminders?saved=holidays").into_response());
        }
        Err(list) => list,
    };
    let mut v = view(&state, &user).await?;
    v.holiday_name = Field::typed(&form.name);
    v.holiday_first = Field::typed(&form.first_day);
    v.holiday_last = Field::typed(&form.last_day);
    for e in &problems {
        let (id, field) = match e.field() {
            Holiday::FIRST_DAY => ("holiday_first_day", &mut v.holiday_first),
            Holiday::LAST_DAY => ("holiday_last_day", &mut v.holiday_last),
            _ => ("holiday_name", &mut v.holiday_name),
        };
        field.error = Some(summary(e));
        v.errors.push(FieldError::new(id, format!("Holiday {}", e)));
    }
    invalid(&v)
}

#[derive(Deserialize)]
struct RemoveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    holiday: String,
}

async fn remove_holiday(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    Form(form): Form<RemoveForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let holidays = state.store.holidays(user.school.id).await?;
    let kept: Vec<Holiday> = holidays
        .iter()
        .filter(|h| holiday_key(h) != form.holiday)
        .cloned()
        .collect();
    // Already removed (a second click, or another tab): nothing to do.
    if kept.len() != holidays.len() {
        state
            .store
            .replace_holidays(&admin, &kept, time::now())
            .await?;
    }
    Ok(Redirect::to("/compliance/reminders?saved=holidays").into_response())
}

#[derive(Deserialize)]
struct ImportForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    holidays: String,
}

/// The most text the list box takes: 200 lines of 100-character names and dates.
const MAX_IMPORT_BYTES: usize = 64 * 1024;

async fn import_holidays(
    State(state): State<AppState>,
    Can { user, cap: admin }: Can<PeopleAdmin>,
    Form(form): Form<ImportForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let outcome = if form.holidays.len() > MAX_IMPORT_BYTES {
        Err(vec![format!(
            "The list is longer than {} KB; a school year fits easily in less",
            MAX_IMPORT_BYTES / 1024
        )])
    } else {
        parse_holidays(&form.holidays).map_err(|list| {
            list.iter()
                .map(|e| {
                    if e.line == 0 {
                        summary(&e.error)
                    } else {
                        format!("Line {}, {}", e.line, e.error)
                    }
                })
                .collect()
        })
    };
    match outcome {
        Ok(list) => {
            state
                .store
                .replace_holidays(&admin, &list, time::now())
                .await?;
            tracing::info!(school = %user.school.id, holidays = list.len(), "holidays replaced");
            Ok(Redirect::to("/compliance/reminders?saved=holidays").into_response())
        }
        Err(messages) => {
            let mut v = view(&state, &user).await?;
            v.import_text = form.holidays.chars().take(MAX_IMPORT_BYTES).collect();
            v.errors = messages
                .iter()
                .map(|m| FieldError::new("holidays", m.clone()))
                .collect();
            v.import_errors = messages;
            invalid(&v)
        }
    }
}

/// The dashboard's filters, sent back with a Chase button so the page comes back as it
/// was, with the confirmation.
#[derive(Deserialize)]
struct ChaseForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    version: String,
}

impl ChaseForm {
    fn back(&self, policy: i64, chased: usize) -> String {
        format!(
            "/compliance?policy={policy}&role={}&status={}&version={}&chased={chased}#people-heading",
            url_encode(&self.role),
            url_encode(if self.status.is_empty() {
                "outstanding"
            } else {
                &self.status
            }),
            url_encode(&self.version),
        )
    }
}

/// Whom a Chase button reminds.
enum Chase {
    /// Everyone the dashboard shows with these filters who still has to sign.
    Shown(Filter),
    One(PersonId),
}

/// Queues a reminder now for the people of `form.policy` that `target` names who still
/// have to sign and have been asked, and returns to the dashboard saying how many. Only
/// for a [`PeopleAdmin`]: its callers are extracted with `Can<PeopleAdmin>`.
async fn chase(
    state: &AppState,
    user: &CurrentUser,
    form: &ChaseForm,
    target: Chase,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let school = user.school.id;
    let facts = state.store.chase_facts(school).await?;
    let now = time::now();
    let report = facts.school.report(now);
    let policy = match form.policy.trim() {
        "" => report.first(),
        id => {
            let id: i64 = id
                .parse()
                .map_err(|_| AppError::BadRequest("unknown policy".into()))?;
            report.iter().find(|p| p.policy.0 == id)
        }
    }
    .ok_or(AppError::NotFound)?;
    if let Chase::One(person) = target
        && !policy.people.iter().any(|p| p.person == person)
    {
        // Not asked to sign this policy here, or someone of another school.
        return Err(AppError::NotFound);
    }
    let people: BTreeSet<PersonId> = policy
        .people
        .iter()
        .filter(|p| match &target {
            Chase::Shown(filter) => filter.matches(p),
            Chase::One(person) => p.person == *person,
        })
        .map(|p| p.person)
        .collect();
    let planned = chase_now(
        &facts,
        policy.policy,
        &people,
        now,
        &state.config.public_url,
    );
    let (mails, bad) = to_outbox(school, planned);
    if bad > 0 {
        tracing::warn!(school = %school, bad, "people with unusable email addresses not chased");
    }
    let count = mails.len();
    if !mails.is_empty() {
        state.store.enqueue_mails(mails, now).await?;
        state.mail_wake.notify_one();
    }
    tracing::info!(school = %school, policy = %policy.policy, chased = count, "chased");
    Ok(Redirect::to(&form.back(policy.policy.0, count)).into_response())
}

/// "Chase all shown": everyone the dashboard lists with these filters who still has to
/// sign (those who declined are left to the headteacher).
async fn chase_shown(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
    Form(form): Form<ChaseForm>,
) -> AppResult<Response> {
    let status = match form.status.as_str() {
        "" => "outstanding",
        "all" => "",
        s => s,
    };
    let filter = Filter::parse(&form.role, status, &form.version)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    chase(&state, &user, &form, Chase::Shown(filter)).await
}

/// The Chase button of one person.
async fn chase_one(
    State(state): State<AppState>,
    Can { user, .. }: Can<PeopleAdmin>,
    Path(person): Path<PersonId>,
    Form(form): Form<ChaseForm>,
) -> AppResult<Response> {
    chase(&state, &user, &form, Chase::One(person)).await
}
