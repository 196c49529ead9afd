//! Publishing a draft: a confirmation that says who will be asked to sign (how many, which
//! audiences), then the version frozen and recorded in the ledger.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use undersign_core::VersionId;
use undersign_core::compliance::{AskedToSign, VersionFacts};
use undersign_core::person::Audience;
use undersign_core::policy::{ChangeKind, VersionStatus};

use crate::AppState;
use crate::csrf::CsrfOnly;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};
use crate::session::Can;

use super::*;

/// "7 people (6 staff and 1 governor)", or "nobody".
pub(super) fn asked_text(asked: &AskedToSign) -> String {
    if asked.people == 0 {
        return "nobody".into();
    }
    let groups: Vec<String> = asked
        .by_audience
        .iter()
        .map(|(audience, n)| match (audience, n) {
            (Audience::Governors, 1) => "1 governor".to_string(),
            (Audience::Governors, n) => format!("{n} governors"),
            (Audience::Visitors, n) => format!("{n} visitors"),
            (Audience::Staff, n) => format!("{n} staff"),
        })
        .collect();
    let people = if asked.people == 1 {
        "1 person".to_string()
    } else {
        format!("{} people", asked.people)
    };
    match groups.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{people} ({} and {last})", rest.join(", "))
        }
        Some((only, _)) => format!("{people} ({only})"),
        None => people,
    }
}

#[derive(Template)]
#[template(path = "publish.html")]
pub(super) struct PublishView {
    nav: Nav,
    id: i64,
    title: String,
    number: i32,
    major: bool,
    audiences: String,
    asked: String,
    visitors: bool,
}

pub(super) async fn publish_page(
    State(state): State<AppState>,
    Can { user, .. }: Can<PolicyPublisher>,
    Path(id): Path<VersionId>,
) -> AppResult<Response> {
    let v = state
        .store
        .version(user.school.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if v.status != VersionStatus::Draft {
        return Ok(Redirect::to(&format!("/versions/{id}")).into_response());
    }
    let now = undersign_core::time::now();
    let draft = VersionFacts {
        id: v.id,
        number: v.number,
        change_kind: v.change_kind,
        audiences: v.audiences.clone(),
        published_at: now,
    };
    let asked = state
        .store
        .compliance_facts(&user.can::<ComplianceViewer>()?)
        .await?
        .with_published(v.policy, &v.policy_title, draft)
        .report(now)
        .into_iter()
        .find(|r| r.policy == v.policy)
        .map(|r| r.asked(&v.audiences))
        .unwrap_or(AskedToSign {
            people: 0,
            by_audience: Vec::new(),
        });
    Ok(page(&PublishView {
        nav: Nav::for_user(&user),
        id: v.id.0,
        title: v.policy_title.clone(),
        number: v.number,
        major: v.change_kind == ChangeKind::Major,
        audiences: v
            .audiences
            .iter()
            .map(|a| a.label())
            .collect::<Vec<_>>()
            .join(", "),
        asked: asked_text(&asked),
        visitors: v.audiences.contains(&Audience::Visitors),
    })?
    .into_response())
}

pub(super) async fn publish(
    State(state): State<AppState>,
    Can { user, cap: by }: Can<PolicyPublisher>,
    Path(id): Path<VersionId>,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let v = state
        .store
        .publish(&by, id, undersign_core::time::now())
        .await?;
    tracing::info!(school = %user.school.id, version = %v.id, number = v.number, "published");
    crate::pages::chasing::chase_in_background(&state, user.school.id);
    Ok(Redirect::to(&format!("/policies/{}?published={}", v.policy, v.number)).into_response())
}
