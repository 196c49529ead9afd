//! Shared pieces of every page: the navigation bar, rendering a template into a response,
//! showing times in the school's zone.

use askama::Template;
use axum::response::Html;
use chrono::{DateTime, Utc};
use undersign_core::time::TimeZone;

use crate::auth::CurrentUser;
use crate::error::AppResult;

/// The navigation shown at the top of each page, with only the links the person may use.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub person_name: Option<String>,
    pub school_name: String,
    pub csrf_token: String,
    pub can_publish: bool,
    pub can_manage_people: bool,
    pub can_see_compliance: bool,
    pub can_own_web_rules: bool,
    pub can_see_organisation: bool,
    pub can_work_reception: bool,
    pub can_manage_kiosks: bool,
}

impl Nav {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn for_user(user: &CurrentUser) -> Self {
        Self {
            person_name: Some(user.person.full_name.to_string()),
            school_name: user.school.name.clone(),
            csrf_token: user.csrf_token.clone(),
            can_publish: user.actor.policy_publisher().is_some(),
            can_manage_people: user.actor.people_admin().is_some(),
            can_see_compliance: user.actor.compliance_viewer().is_some(),
            can_own_web_rules: user.actor.web_rules_owner().is_some(),
            can_see_organisation: user.actor.organisation_viewer().is_some(),
            can_work_reception: user.actor.reception().is_some(),
            can_manage_kiosks: user.actor.kiosk_admin().is_some(),
        }
    }
}

/// Renders a page.
pub fn page(t: &impl Template) -> AppResult<Html<String>> {
    Ok(Html(t.render()?))
}

/// Percent-encodes a value for a query string.
pub fn url_encode(raw: &str) -> String {
    let mut out = String::new();
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A time in the school's zone with the zone named, e.g. "23 November 2026, 14:05 GMT".
pub fn when(at: DateTime<Utc>, zone: &TimeZone) -> String {
    undersign_core::time::display_in(at, zone.tz())
}
