//! Policies for the headteacher: create a policy, write a version in markdown, preview it,
//! attach referenced documents, publish it to audiences. A published version never
//! changes; a change is a new version, major (everyone signs again) or minor.
//! Also the list of declines, for those who see compliance.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use std::collections::BTreeSet;
use undersign_core::access::{ComplianceViewer, PolicyPublisher};
use undersign_core::markdown::render_policy;
use undersign_core::person::Audience;
use undersign_core::policy::{
    ChangeKind, DEFAULT_DECLARATION, DraftError, DraftInput, NewReference, PolicyVersion,
    ReferenceSource, Title, VersionStatus,
};
use undersign_core::redline::{Part, Redline, RunChange, redline};
use undersign_core::{PolicyId, ReferenceId, VersionId};

use super::FieldError;
use crate::AppState;
use crate::csrf::CsrfOnly;
use crate::error::{AppError, AppResult};
use crate::pages::FieldErrors as _;
use crate::render::{Nav, page, when};
use crate::session::{Can, CurrentUser};

mod declines;
mod publish;

use declines::declines;
use publish::{asked_text, publish, publish_page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/policies", get(list).post(create_policy))
        .route("/policies/{id}", get(policy_page))
        .route(
            "/policies/{id}/versions/new",
            get(new_version_page).post(create_version),
        )
        .route("/versions/{id}", get(version_page).post(update_version))
        .route("/versions/{id}/references", post(add_reference))
        .route(
            "/versions/{id}/references/{reference}/delete",
            post(remove_reference),
        )
        .route("/versions/{id}/publish", get(publish_page).post(publish))
        .route("/declines", get(declines))
}

struct PolicyRow {
    id: i64,
    title: String,
    current: Option<(i64, i32, String)>,
    draft: Option<i64>,
}

#[derive(Template)]
#[template(path = "policies.html")]
struct PoliciesView {
    nav: Nav,
    rows: Vec<PolicyRow>,
    errors: Vec<FieldError>,
    title: String,
}

async fn render_list(
    state: &AppState,
    user: &CurrentUser,
    errors: Vec<FieldError>,
    title: String,
) -> AppResult<PoliciesView> {
    let rows = state
        .store
        .policies(user.school.id)
        .await?
        .into_iter()
        .map(|p| PolicyRow {
            id: p.policy.id.0,
            title: p.policy.title,
            current: p.current.map(|v| {
                (
                    v.id.0,
                    v.number,
                    v.published_at
                        .map(|t| when(t, &user.school.timezone))
                        .unwrap_or_default(),
                )
            }),
            draft: p.draft.map(|d| d.0),
        })
        .collect();
    Ok(PoliciesView {
        nav: Nav::for_user(user),
        rows,
        errors,
        title,
    })
}

async fn list(
    State(state): State<AppState>,
    Can { user, .. }: Can<PolicyPublisher>,
) -> AppResult<Response> {
    Ok(page(&render_list(&state, &user, Vec::new(), String::new()).await?)?.into_response())
}

#[derive(Deserialize)]
struct NewPolicyForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    title: String,
}

async fn create_policy(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Form(form): Form<NewPolicyForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let title = match Title::parse("title", &form.title) {
        Ok(t) => t,
        Err(e) => {
            let view = render_list(
                &state,
                &user,
                vec![FieldError::new("title", e.to_string())],
                form.title,
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response());
        }
    };
    let policy = state.store.create_policy(&by, &title).await?;
    Ok(Redirect::to(&format!("/policies/{}/versions/new", policy.id)).into_response())
}

struct VersionRow {
    id: i64,
    number: i32,
    status: &'static str,
    kind: &'static str,
    published: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyView {
    nav: Nav,
    id: i64,
    title: String,
    versions: Vec<VersionRow>,
    has_draft: bool,
    published: Option<Published>,
}

/// "draft", "published" for the version people sign now, or "superseded" for a published
/// version a later one has replaced.
fn status_of(v: &PolicyVersion, current: Option<i32>) -> &'static str {
    match v.status {
        VersionStatus::Draft => "draft",
        VersionStatus::Published if current.is_some_and(|c| c > v.number) => "superseded",
        VersionStatus::Published => "published",
    }
}

/// The number of the newest published version.
fn current_number(versions: &[PolicyVersion]) -> Option<i32> {
    versions
        .iter()
        .filter(|v| v.status == VersionStatus::Published)
        .map(|v| v.number)
        .max()
}

#[derive(Deserialize)]
struct PolicyQuery {
    /// Set after publishing: the number of the version just published.
    published: Option<i32>,
}

/// The message after publishing: which version, and who it asks to sign.
struct Published {
    number: i32,
    major: bool,
    asked: String,
    visitors: bool,
}

async fn policy_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PolicyPublisher>,
    Path(id): Path<PolicyId>,
    Query(q): Query<PolicyQuery>,
) -> AppResult<Response> {
    let policy = state
        .store
        .policy(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let all = state.store.versions(user.school.id, id).await?;
    let current = current_number(&all);
    let mut published = None;
    if let Some(v) = all
        .iter()
        .find(|v| Some(v.number) == q.published && q.published == current)
    {
        let report = state
            .store
            .compliance_facts(&user.can::<ComplianceViewer>()?)
            .await?
            .report(undersign_core::time::now());
        if let Some(r) = report.iter().find(|r| r.policy == id) {
            published = Some(Published {
                number: v.number,
                major: v.change_kind == ChangeKind::Major,
                asked: asked_text(&r.asked(&v.audiences)),
                visitors: v.audiences.contains(&Audience::Visitors),
            });
        }
    }
    let versions: Vec<VersionRow> = all
        .into_iter()
        .rev()
        .map(|v| VersionRow {
            id: v.id.0,
            number: v.number,
            status: status_of(&v, current),
            kind: v.change_kind.as_str(),
            published: v
                .published_at
                .map(|t| when(t, &user.school.timezone))
                .unwrap_or_default(),
            summary: v.summary,
        })
        .collect();
    let has_draft = versions.iter().any(|v| v.status == "draft");
    Ok(page(&PolicyView {
        nav: Nav::for_user(&user),
        id: policy.id.0,
        title: policy.title,
        versions,
        has_draft,
        published,
    })?
    .into_response())
}

/// The editable fields of a version, as entered.
struct DraftFields {
    body: String,
    declaration: String,
    change_kind: String,
    summary: String,
    audiences: BTreeSet<String>,
}

impl DraftFields {
    fn from_version(v: &PolicyVersion) -> Self {
        Self {
            body: v.body_md.clone(),
            declaration: v.declaration.clone(),
            change_kind: v.change_kind.as_str().into(),
            summary: v.summary.clone(),
            audiences: v.audiences.iter().map(|a| a.as_str().to_string()).collect(),
        }
    }

    fn has(&self, audience: &str) -> bool {
        self.audiences.contains(audience)
    }
}

#[derive(Template)]
#[template(path = "version_new.html")]
struct NewVersionView {
    nav: Nav,
    policy: i64,
    title: String,
    fields: DraftFields,
    errors: Vec<FieldError>,
    first: bool,
}

async fn new_version_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PolicyPublisher>,
    Path(id): Path<PolicyId>,
) -> AppResult<Response> {
    let policy = state
        .store
        .policy(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let versions = state.store.versions(user.school.id, id).await?;
    if let Some(draft) = versions.iter().find(|v| v.status == VersionStatus::Draft) {
        return Ok(Redirect::to(&format!("/versions/{}", draft.id)).into_response());
    }
    let fields = match versions.last() {
        Some(v) => DraftFields {
            summary: String::new(),
            change_kind: "major".into(),
            ..DraftFields::from_version(v)
        },
        None => DraftFields {
            body: String::new(),
            declaration: DEFAULT_DECLARATION.into(),
            change_kind: "major".into(),
            summary: String::new(),
            audiences: ["staff", "governors", "visitors"].map(String::from).into(),
        },
    };
    Ok(page(&NewVersionView {
        nav: Nav::for_user(&user),
        policy: policy.id.0,
        title: policy.title,
        first: versions.is_empty(),
        fields,
        errors: Vec::new(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct DraftForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    declaration: String,
    #[serde(default)]
    change_kind: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    audience: Vec<String>,
}

impl DraftForm {
    fn fields(&self) -> DraftFields {
        DraftFields {
            body: self.body.clone(),
            declaration: self.declaration.clone(),
            change_kind: self.change_kind.clone(),
            summary: self.summary.clone(),
            audiences: self.audience.iter().cloned().collect(),
        }
    }

    fn parse(&self) -> Result<DraftInput, Vec<FieldError>> {
        let kind = ChangeKind::parse(&self.change_kind)
            .map_err(|e| vec![FieldError::new("change_kind-major", e.to_string())])?;
        let audiences = self
            .audience
            .iter()
            .map(|a| Audience::parse(a))
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(|e| vec![FieldError::new("audience-staff", e.to_string())])?;
        DraftInput::parse(
            &self.body,
            &self.declaration,
            kind,
            &self.summary,
            audiences,
        )
        .map_err(|e| {
            let field = match &e {
                DraftError::Markdown(_) => "body",
                DraftError::Input(i) => match i.field() {
                    "audience" => "audience-staff",
                    "what changed" => "summary",
                    other => other,
                },
            };
            vec![FieldError::new(field, e.to_string())]
        })
    }
}

async fn create_version(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Path(id): Path<PolicyId>,
    Form(form): Form<DraftForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let policy = state
        .store
        .policy(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    match form.parse() {
        Ok(draft) => {
            let version = state.store.create_draft(&by, id, draft).await?;
            Ok(Redirect::to(&format!("/versions/{}", version.id)).into_response())
        }
        Err(errors) => {
            let first = state.store.versions(user.school.id, id).await?.is_empty();
            let view = NewVersionView {
                nav: Nav::for_user(&user),
                policy: policy.id.0,
                title: policy.title,
                fields: form.fields(),
                errors,
                first,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}

struct ReferenceRow {
    id: i64,
    title: String,
    url: Option<String>,
}

#[derive(Template)]
#[template(path = "version.html")]
struct VersionView {
    nav: Nav,
    id: i64,
    policy: i64,
    title: String,
    number: i32,
    draft: bool,
    status: &'static str,
    published: String,
    kind: &'static str,
    summary: String,
    audiences: String,
    text_sha256: String,
    preview_html: String,
    statements: usize,
    declaration: String,
    references: Vec<ReferenceRow>,
    previous: Option<i32>,
    redline: Option<Redline>,
    fields: DraftFields,
    errors: Vec<FieldError>,
}

async fn version_view(
    state: &AppState,
    user: &CurrentUser,
    id: VersionId,
    edited: Option<DraftFields>,
    errors: Vec<FieldError>,
) -> AppResult<VersionView> {
    let v = state
        .store
        .version(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let rendered = render_policy(&v.body_md)
        .map_err(|e| AppError::Internal(format!("stored policy text no longer renders: {e}")))?;
    let versions = state.store.versions(user.school.id, v.policy).await?;
    let status = status_of(&v, current_number(&versions));
    let previous = versions
        .into_iter()
        .filter(|p| p.status == VersionStatus::Published && p.number < v.number)
        .max_by_key(|p| p.number);
    let text_changes = previous
        .as_ref()
        .map(|p| redline(&p.body_md, &v.body_md))
        .transpose()
        .map_err(|e| AppError::Internal(format!("stored policy text no longer renders: {e}")))?;
    Ok(VersionView {
        nav: Nav::for_user(user),
        id: v.id.0,
        policy: v.policy.0,
        title: v.policy_title.clone(),
        number: v.number,
        draft: v.status == VersionStatus::Draft,
        status,
        published: v
            .published_at
            .map(|t| when(t, &user.school.timezone))
            .unwrap_or_default(),
        kind: v.change_kind.as_str(),
        summary: v.summary.clone(),
        audiences: v
            .audiences
            .iter()
            .map(|a| a.label())
            .collect::<Vec<_>>()
            .join(", "),
        text_sha256: v.text_sha256.clone(),
        preview_html: rendered.html,
        statements: rendered.statements.len(),
        declaration: v.declaration.clone(),
        references: v
            .references
            .iter()
            .map(|r| ReferenceRow {
                id: r.id.0,
                title: r.title.clone(),
                url: match &r.source {
                    ReferenceSource::Link { url } => Some(url.clone()),
                    ReferenceSource::Text { .. } => None,
                },
            })
            .collect(),
        previous: previous.map(|p| p.number),
        redline: text_changes,
        fields: edited.unwrap_or_else(|| DraftFields::from_version(&v)),
        errors,
    })
}

async fn version_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PolicyPublisher>,
    Path(id): Path<VersionId>,
) -> AppResult<Response> {
    Ok(page(&version_view(&state, &user, id, None, Vec::new()).await?)?.into_response())
}

async fn update_version(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Path(id): Path<VersionId>,
    Form(form): Form<DraftForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    match form.parse() {
        Ok(draft) => {
            state.store.update_draft(&by, id, draft).await?;
            Ok(Redirect::to(&format!("/versions/{id}")).into_response())
        }
        Err(errors) => {
            let view = version_view(&state, &user, id, Some(form.fields()), errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}

#[derive(Deserialize)]
struct ReferenceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    text: String,
}

async fn add_reference(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Path(id): Path<VersionId>,
    Form(form): Form<ReferenceForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let parsed = match form.kind.as_str() {
        "text" => NewReference::text(&form.title, &form.text),
        _ => NewReference::link(&form.title, &form.url),
    };
    match parsed {
        Ok(reference) => {
            state.store.add_reference(&by, id, reference).await?;
            Ok(Redirect::to(&format!("/versions/{id}#references")).into_response())
        }
        Err(e) => {
            let field = match e.field() {
                "document title" => "reference-title",
                "document link" => "reference-url",
                _ => "reference-text",
            };
            let view = version_view(
                &state,
                &user,
                id,
                None,
                vec![FieldError::new(field, e.to_string())],
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&view)?).into_response())
        }
    }
}

async fn remove_reference(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Path((id, reference)): Path<(VersionId, ReferenceId)>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state.store.remove_reference(&by, id, reference).await?;
    Ok(Redirect::to(&format!("/versions/{id}#references")).into_response())
}
