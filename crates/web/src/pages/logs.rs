//! The access log for the people who run it, never naming anyone: the network manager's
//! and the DSL's reports (requests and blocks per day and category, with a chart and the
//! table it is drawn from; the most blocked sites; the filtering decisions register for
//! the annual review; devices), and the headteacher's settings (retention per class, the
//! safeguarding categories, who decides the headteacher's own disclosure requests).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::Form;
use chrono::{Days, NaiveDate};
use serde::Deserialize;
use std::collections::BTreeMap;
use undersign_core::access::{LogReportViewer, PolicyPublisher};
use undersign_core::logs::{LogReport, LogSettings};
use undersign_core::person::{PersonStatus, Role};

use super::FieldError;
use crate::AppState;
use crate::error::AppResult;
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/logs/reports", get(reports))
        .route("/logs/settings", get(settings).post(save_settings))
}

/// Rows of each list but the days.
const LIMIT: u32 = 25;
/// Days a report covers unless asked otherwise.
const DEFAULT_DAYS: u64 = 14;

#[derive(Deserialize, Default)]
struct Range {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// One day's bar in the chart, and its line in the table.
struct Day {
    day: String,
    requests: u64,
    denied: u64,
    /// Bar heights in the chart's units (0..=100).
    height: u64,
    denied_height: u64,
    x: usize,
    categories: Vec<(String, u64, u64)>,
}

#[derive(Template)]
#[template(path = "log_reports.html")]
struct ReportView {
    nav: Nav,
    from: String,
    to: String,
    days: Vec<Day>,
    report: LogReport,
    width: usize,
}

async fn reports(
    State(state): State<AppState>,
    Can { user, cap }: Can<LogReportViewer>,
    Query(q): Query<Range>,
) -> AppResult<Response> {
    let today = undersign_core::time::now().date_naive();
    let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let to = parse(&q.to).unwrap_or(today);
    let from = parse(&q.from)
        .filter(|f| *f <= to && (to - *f).num_days() < 366)
        .unwrap_or(to - Days::new(DEFAULT_DAYS - 1));
    let report = state.store.log_report(&cap, from, to, LIMIT).await?;
    let mut by_day: BTreeMap<NaiveDate, Vec<(String, u64, u64)>> = BTreeMap::new();
    for (day, category, n, d) in &report.days {
        by_day.entry(*day).or_default().push((
            if category.is_empty() {
                "(none)".into()
            } else {
                category.clone()
            },
            *n,
            *d,
        ));
    }
    let most = by_day
        .values()
        .map(|c| c.iter().map(|x| x.1).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let days: Vec<Day> = by_day
        .into_iter()
        .enumerate()
        .map(|(i, (day, categories))| {
            let requests = categories.iter().map(|c| c.1).sum();
            let denied = categories.iter().map(|c| c.2).sum();
            Day {
                day: day.to_string(),
                requests,
                denied,
                height: requests * 100 / most,
                denied_height: denied * 100 / most,
                x: i * 24,
                categories,
            }
        })
        .collect();
    Ok(page(&ReportView {
        nav: Nav::for_user(&user),
        from: from.to_string(),
        to: to.to_string(),
        width: days.len().max(1) * 24,
        days,
        report,
    })?
    .into_response())
}

struct Choice {
    id: i64,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "log_settings.html")]
struct SettingsView {
    nav: Nav,
    routine_days: String,
    blocked_days: String,
    safeguarding_days: String,
    categories: String,
    search_terms: bool,
    people: Vec<Choice>,
    errors: Vec<FieldError>,
}

async fn settings_view(
    state: &AppState,
    user: &CurrentUser,
    shown: &SettingsForm,
    errors: Vec<FieldError>,
) -> AppResult<SettingsView> {
    let people = state
        .store
        .people(user.school.id)
        .await?
        .into_iter()
        .filter(|p| p.status == PersonStatus::Active && !p.roles.contains(&Role::Headteacher))
        .map(|p| Choice {
            selected: shown.decider == p.id.to_string(),
            id: p.id.0,
            name: p.full_name.to_string(),
        })
        .collect();
    Ok(SettingsView {
        nav: Nav::for_user(user),
        routine_days: shown.routine_days.chars().take(6).collect(),
        blocked_days: shown.blocked_days.chars().take(6).collect(),
        safeguarding_days: shown.safeguarding_days.chars().take(6).collect(),
        categories: shown.categories.chars().take(1000).collect(),
        search_terms: shown.search_terms == "on",
        people,
        errors,
    })
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    routine_days: String,
    #[serde(default)]
    blocked_days: String,
    #[serde(default)]
    safeguarding_days: String,
    #[serde(default)]
    categories: String,
    #[serde(default)]
    decider: String,
    /// `on` when the box is ticked.
    #[serde(default)]
    search_terms: String,
}

async fn settings(
    State(state): State<AppState>,
    Can { user, cap: _ }: Can<PolicyPublisher>,
) -> AppResult<Response> {
    let s = state.store.log_settings(user.school.id).await?;
    let shown = SettingsForm {
        routine_days: s.routine_days.to_string(),
        blocked_days: s.blocked_days.to_string(),
        safeguarding_days: s.safeguarding_days.to_string(),
        categories: s.safeguarding_categories.join(", "),
        decider: s
            .head_requests_decider
            .map(|p| p.to_string())
            .unwrap_or_default(),
        search_terms: if s.search_terms {
            "on".into()
        } else {
            String::new()
        },
        ..SettingsForm::default()
    };
    Ok(page(&settings_view(&state, &user, &shown, Vec::new()).await?)?.into_response())
}

async fn save_settings(
    State(state): State<AppState>,
    Can { user, cap }: Can<PolicyPublisher>,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let mut errors = Vec::new();
    let mut days = |field: &str, label: &str, text: &str| -> u32 {
        match text.trim().parse::<u32>() {
            Ok(d) if d >= 1 => d,
            _ => {
                errors.push(FieldError::new(
                    field,
                    format!("{label}: enter a number of days"),
                ));
                0
            }
        }
    };
    let routine_days = days("routine_days", "Routine browsing", &form.routine_days);
    let blocked_days = days("blocked_days", "Blocked attempts", &form.blocked_days);
    let safeguarding_days = days(
        "safeguarding_days",
        "Safeguarding hits",
        &form.safeguarding_days,
    );
    let categories: Vec<String> = form
        .categories
        .split([',', ' ', '\n'])
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    if categories.iter().any(|c| {
        !c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    }) {
        errors.push(FieldError::new(
            "categories",
            "Categories: use the names of the web rules' categories, separated by commas",
        ));
    }
    let decider = match form.decider.trim() {
        "" => None,
        d => match d.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("decider", "Choose a person from the list"));
                None
            }
        },
    };
    let settings = LogSettings {
        routine_days,
        blocked_days,
        safeguarding_days,
        safeguarding_categories: categories,
        head_requests_decider: decider,
        search_terms: form.search_terms == "on",
    };
    if errors.is_empty()
        && let Err(message) = settings.check()
    {
        errors.push(FieldError::new("routine_days", super::capitalise(&message)));
    }
    if !errors.is_empty() {
        let view = settings_view(&state, &user, &form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
    }
    state
        .store
        .set_log_settings(&cap, &settings, undersign_core::time::now())
        .await?;
    Ok(Redirect::to("/logs/settings").into_response())
}
