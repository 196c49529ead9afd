//! The organisation view: each school's compliance across a trust or council, from the
//! summaries kept per school.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use undersign_core::time::{self};

use undersign_core::access::OrganisationViewer;

use crate::AppState;
use crate::error::AppResult;
use crate::render::{Nav, page};
use crate::session::Can;

pub(super) struct OrgRow {
    school: String,
    policy: String,
    number: i32,
    signed: usize,
    total: usize,
    percent: usize,
    overdue: usize,
}

#[derive(Template)]
#[template(path = "compliance_organisation.html")]
pub(super) struct OrganisationComplianceView {
    nav: Nav,
    rows: Vec<OrgRow>,
    schools: usize,
    signed: usize,
    total: usize,
    overdue: usize,
}

pub(super) async fn organisation(
    State(state): State<AppState>,
    Can { user, cap: viewer }: Can<OrganisationViewer>,
) -> AppResult<Response> {
    let schools =
        undersign_core::use_cases::organisation_summary(state.store.as_ref(), &viewer, time::now())
            .await?;
    let mut rows = Vec::new();
    for school in &schools {
        for line in &school.lines {
            rows.push(OrgRow {
                school: school.name.clone(),
                policy: line.policy.clone(),
                number: line.number,
                signed: line.signed,
                total: line.total,
                percent: line.percent(),
                overdue: line.overdue,
            });
        }
    }
    let view = OrganisationComplianceView {
        nav: Nav::for_user(&user),
        schools: schools.len(),
        signed: rows.iter().map(|r| r.signed).sum(),
        total: rows.iter().map(|r| r.total).sum(),
        overdue: rows.iter().map(|r| r.overdue).sum(),
        rows,
    };
    Ok(page(&view)?.into_response())
}
