//! The compliance dashboard: who has signed the current version of each policy, who has
//! not (with days overdue), filters by role, status and last version signed, progress over
//! time as a server-drawn SVG chart with a table beside it, CSV exports safe to open in a
//! spreadsheet, and the organisation view across a trust's or council's schools.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use undersign_core::access::{ComplianceViewer, PolicyPublisher};
use undersign_core::compliance::{
    DaysToSign, Filter, PersonStanding, PolicyCompliance, Share, Standing, StandingFilter,
    csv_document,
};
use undersign_core::person::Role;
use undersign_core::time::{self, TimeZone};

use super::FieldError;
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, url_encode, when};
use crate::session::Can;

mod chart;
mod organisation;

use chart::{Chart, chart};
use organisation::organisation;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compliance", get(dashboard))
        .route("/compliance/outstanding.csv", get(outstanding_csv))
        .route("/compliance/signatures.csv", get(signatures_csv))
        .route("/compliance/settings", post(settings))
        .route("/organisation/compliance", get(organisation))
}

/// The dashboard's query string. A missing `status` means "not signed"; `all` means any.
#[derive(Debug, Deserialize, Default)]
struct DashboardQuery {
    #[serde(default)]
    policy: String,
    #[serde(default)]
    role: String,
    status: Option<String>,
    #[serde(default)]
    version: String,
    /// Set after a Chase button: how many people a reminder was queued for.
    chased: Option<usize>,
}

impl DashboardQuery {
    fn status(&self) -> &str {
        match self.status.as_deref() {
            None => StandingFilter::Outstanding.as_str(),
            Some("all") => "",
            Some(s) => s,
        }
    }

    fn filter(&self) -> AppResult<Filter> {
        Filter::parse(&self.role, self.status(), &self.version)
            .map_err(|e| AppError::BadRequest(e.to_string()))
    }

    /// The same filters as a query string, for the CSV links.
    fn query_string(&self, policy: i64) -> String {
        format!(
            "policy={policy}&role={}&status={}&version={}",
            url_encode(&self.role),
            url_encode(self.status.as_deref().unwrap_or("outstanding")),
            url_encode(&self.version)
        )
    }
}

/// Picks the policy asked for, or the first (the AUP in a school with one policy).
fn choose(report: Vec<PolicyCompliance>, policy: &str) -> AppResult<Option<PolicyCompliance>> {
    if policy.trim().is_empty() {
        return Ok(report.into_iter().next());
    }
    let id: i64 = policy
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("unknown policy".into()))?;
    report
        .into_iter()
        .find(|p| p.policy.0 == id)
        .map(Some)
        .ok_or(AppError::NotFound)
}

struct Option_ {
    value: String,
    label: String,
    selected: bool,
}

struct Row {
    person: i64,
    /// Still has to sign and has not declined: a Chase button is shown.
    chaseable: bool,
    name: String,
    email: String,
    roles: String,
    standing: &'static str,
    standing_class: &'static str,
    last_signed: String,
    due: String,
    days_overdue: i64,
}

impl Row {
    fn of(p: &PersonStanding) -> Self {
        Self {
            person: p.person.0,
            chaseable: matches!(p.standing, Standing::Due | Standing::Overdue),
            name: p.full_name.clone(),
            email: p.email.clone(),
            roles: roles_text(p),
            standing: p.standing.label(),
            standing_class: match p.standing {
                Standing::Signed => "tag-signed",
                Standing::Due => "tag-due",
                Standing::Overdue => "tag-overdue",
                Standing::Declined => "tag-declined",
            },
            last_signed: p
                .last_signed
                .map(|n| format!("Version {n}"))
                .unwrap_or_else(|| "Never".into()),
            due: p.due.format("%-d %B %Y").to_string(),
            days_overdue: p.days_overdue,
        }
    }
}

fn roles_text(p: &PersonStanding) -> String {
    p.roles
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct ComplianceView {
    nav: Nav,
    school_name: String,
    policy: Option<PolicySection>,
    policies: Vec<Option_>,
    can_set_days: bool,
    days_to_sign: u16,
    errors: Vec<FieldError>,
    /// May set reminders and holidays, and chase.
    can_chase: bool,
    chased: Option<usize>,
}

struct PolicySection {
    id: i64,
    title: String,
    number: i32,
    asking_number: i32,
    asked_at: String,
    overall: Share,
    overdue: usize,
    due: usize,
    declined: usize,
    shares: Vec<(&'static str, Vec<Share>)>,
    chart: Chart,
    roles: Vec<Option_>,
    statuses: Vec<Option_>,
    versions: Vec<Option_>,
    rows: Vec<Row>,
    heading: String,
    query: String,
    /// The filters as chosen, sent back by the Chase buttons.
    role: String,
    status: String,
    version: String,
    chaseable: usize,
}

fn options(values: Vec<(String, String)>, chosen: &str, any: &str) -> Vec<Option_> {
    let mut out = vec![Option_ {
        value: String::new(),
        label: any.to_string(),
        selected: chosen.is_empty(),
    }];
    out.extend(values.into_iter().map(|(value, label)| Option_ {
        selected: value == chosen,
        value,
        label,
    }));
    out
}

fn section(
    report: &PolicyCompliance,
    q: &DashboardQuery,
    filter: &Filter,
    timezone: &TimeZone,
) -> PolicySection {
    let roles: Vec<(String, String)> = Role::ALL
        .iter()
        .filter(|r| report.people.iter().any(|p| p.roles.contains(r)))
        .map(|r| (r.as_str().to_string(), r.label().to_string()))
        .collect();
    let mut statuses = vec![Option_ {
        value: "all".into(),
        label: "Everyone".into(),
        selected: q.status.as_deref() == Some("all"),
    }];
    statuses.extend(StandingFilter::ALL.into_iter().map(|s| Option_ {
        value: s.as_str().into(),
        label: s.label().into(),
        selected: q.status() == s.as_str(),
    }));
    let mut versions = vec![("never".to_string(), "Never signed".to_string())];
    versions.extend(
        (1..=report.number)
            .rev()
            .map(|n| (n.to_string(), format!("Version {n}"))),
    );
    let rows: Vec<Row> = report
        .people
        .iter()
        .filter(|p| filter.matches(p))
        .map(Row::of)
        .collect();
    let heading = match filter.standing {
        Some(StandingFilter::Outstanding) => "Who has not signed",
        Some(StandingFilter::Overdue) => "Who is overdue",
        Some(StandingFilter::Declined) => "Who declined",
        Some(StandingFilter::Signed) => "Who has signed",
        None => "Everyone asked to sign",
    };
    PolicySection {
        id: report.policy.0,
        title: report.title.clone(),
        number: report.number,
        asking_number: report.asking_number,
        asked_at: when(report.asked_at, timezone),
        overall: report.overall.clone(),
        overdue: report.count(Standing::Overdue),
        due: report.count(Standing::Due),
        declined: report.count(Standing::Declined),
        shares: vec![
            ("Audience", report.by_audience.clone()),
            ("Role", report.by_role.clone()),
        ],
        chart: chart(&report.progress, &report.title),
        roles: options(roles, q.role.trim(), "Any role"),
        statuses,
        versions: options(versions, q.version.trim(), "Any version"),
        heading: format!("{heading} ({})", rows.len()),
        chaseable: rows.iter().filter(|r| r.chaseable).count(),
        rows,
        query: q.query_string(report.policy.0),
        role: q.role.trim().to_string(),
        status: q.status.as_deref().unwrap_or("outstanding").to_string(),
        version: q.version.trim().to_string(),
    }
}

async fn load(
    state: &AppState,
    viewer: &ComplianceViewer,
    q: &DashboardQuery,
) -> AppResult<(Option<PolicyCompliance>, Vec<Option_>, u16, Filter)> {
    let filter = q.filter()?;
    let facts = state.store.compliance_facts(viewer).await?;
    let days = facts.days_to_sign.get();
    let report = facts.report(time::now());
    let chosen = q.policy.trim().to_string();
    let policies: Vec<Option_> = report
        .iter()
        .map(|p| Option_ {
            value: p.policy.0.to_string(),
            label: format!("{} (version {})", p.title, p.number),
            selected: chosen == p.policy.0.to_string(),
        })
        .collect();
    Ok((choose(report, &q.policy)?, policies, days, filter))
}

async fn dashboard(
    State(state): State<AppState>,
    Can { user, cap: viewer }: Can<ComplianceViewer>,
    Query(q): Query<DashboardQuery>,
) -> AppResult<Response> {
    let (report, policies, days, filter) = load(&state, &viewer, &q).await?;
    let view = ComplianceView {
        nav: Nav::for_user(&user),
        school_name: user.school.name.clone(),
        policy: report
            .as_ref()
            .map(|r| section(r, &q, &filter, &user.school.timezone)),
        policies,
        can_set_days: user.actor.policy_publisher().is_some(),
        days_to_sign: days,
        errors: Vec::new(),
        can_chase: user.actor.people_admin().is_some(),
        chased: q.chased,
    };
    Ok(page(&view)?.into_response())
}

fn csv_response(filename: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

fn date_in(at: DateTime<Utc>, zone: &TimeZone) -> String {
    at.with_timezone(&zone.tz()).format("%Y-%m-%d").to_string()
}

async fn outstanding_csv(
    State(state): State<AppState>,
    Can { user, cap: viewer }: Can<ComplianceViewer>,
    Query(q): Query<DashboardQuery>,
) -> AppResult<Response> {
    let (report, _, _, filter) = load(&state, &viewer, &q).await?;
    let Some(report) = report else {
        return Err(AppError::NotFound);
    };
    let rows = report
        .people
        .iter()
        .filter(|p| p.standing.outstanding() && filter.matches(p))
        .map(|p| {
            vec![
                p.full_name.clone(),
                p.email.clone(),
                roles_text(p),
                format!("{} version {}", report.title, report.number),
                p.standing.label().to_string(),
                p.last_signed.map(|n| n.to_string()).unwrap_or_default(),
                p.due.to_string(),
                p.days_overdue.to_string(),
            ]
        });
    let body = csv_document(
        &[
            "Name",
            "Email",
            "Roles",
            "Policy",
            "Status",
            "Last version signed",
            "Due",
            "Days overdue",
        ],
        rows,
    );
    let today = date_in(time::now(), &user.school.timezone);
    Ok(csv_response(
        &format!("outstanding-{}-{today}.csv", user.school.slug),
        body,
    ))
}

async fn signatures_csv(
    State(state): State<AppState>,
    Can { user, cap: viewer }: Can<ComplianceViewer>,
) -> AppResult<Response> {
    let rows = state.store.signature_export(&viewer).await?;
    let tz = user.school.timezone;
    let body = csv_document(
        &[
            "Name",
            "Email",
            "Person status",
            "Policy",
            "Version",
            "Signed (school time)",
            "Signed (UTC)",
            "Typed name",
            "Signature",
            "Text SHA-256",
            "IP address",
            "Browser",
            "Authenticated by",
            "Ledger entry",
            "Entry hash",
        ],
        rows.into_iter().map(|r| {
            vec![
                r.full_name,
                r.email,
                r.person_status,
                r.policy_title,
                r.version_number.to_string(),
                when(r.signed_at, &tz),
                time::rfc3339(r.signed_at),
                r.typed_name,
                r.mark_kind,
                r.text_sha256,
                r.ip,
                r.user_agent,
                r.auth,
                r.ledger_seq.to_string(),
                r.ledger_hash,
            ]
        }),
    );
    let today = date_in(time::now(), &user.school.timezone);
    Ok(csv_response(
        &format!("signatures-{}-{today}.csv", user.school.slug),
        body,
    ))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    days_to_sign: String,
}

async fn settings(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    match DaysToSign::parse(&form.days_to_sign) {
        Ok(days) => {
            state.store.set_days_to_sign(&by, days).await?;
            Ok(Redirect::to("/compliance").into_response())
        }
        Err(e) => {
            let q = DashboardQuery::default();
            // The days are set by the publisher; the page they see again is the dashboard.
            let viewer = user.can::<ComplianceViewer>()?;
            let (report, policies, days, filter) = load(&state, &viewer, &q).await?;
            let view = ComplianceView {
                nav: Nav::for_user(&user),
                school_name: user.school.name.clone(),
                policy: report
                    .as_ref()
                    .map(|r| section(r, &q, &filter, &user.school.timezone)),
                policies,
                can_set_days: true,
                days_to_sign: days,
                errors: vec![FieldError::new("days_to_sign", e.to_string())],
                can_chase: user.actor.people_admin().is_some(),
                chased: None,
            };
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}
