//! Safeguarding alerts from the access log: a request in a category the school counts as
//! safeguarding (the web rules' illegal-content categories, and those the school adds)
//! raises an alert for the designated safeguarding lead, who records what was done and
//! the outcome. An alert names the person, so it is shown only to the DSL; the email
//! that tells the DSL says only that there is one.
//!
//! One alert is raised per person (or device, or address), category and day while it is
//! open: the many requests of one page load are one concern, not hundreds. Every request
//! stays in the log itself.

use chrono::{DateTime, Utc};

use crate::ids::{DeviceId, PersonId, SafeguardingAlertId};
use crate::logs::LoggedRequest;
use crate::outbox::NewMail;
use crate::person::Person;

/// A record of what was done needs at least this much.
pub const MIN_RECORD_CHARS: usize = 10;
pub const MAX_RECORD_CHARS: usize = 4000;

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeguardingAlert {
    pub id: SafeguardingAlertId,
    pub raised_at: DateTime<Utc>,
    /// When the request that raised it was made.
    pub request_at: DateTime<Utc>,
    pub category: String,
    pub url: String,
    pub client: String,
    pub person: Option<PersonId>,
    pub person_name: Option<String>,
    pub device: Option<DeviceId>,
    pub device_name: Option<String>,
    pub closed: Option<Closed>,
}

/// What the DSL recorded when closing an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub by: PersonId,
    pub by_name: String,
    pub at: DateTime<Utc>,
    pub action: String,
    pub outcome: String,
}

/// Who an alert is about, for one open alert per subject, category and day.
pub fn subject_key(r: &LoggedRequest) -> String {
    match (r.person, r.device) {
        (Some(p), _) => format!("person:{p}"),
        (None, Some(d)) => format!("device:{d}"),
        (None, None) => format!("address:{}", r.client),
    }
}

/// Checks a record of what was done (`field` names it in the error).
pub fn check_record(field: &'static str, text: &str) -> Result<String, (&'static str, String)> {
    let text = text.trim();
    let n = text.chars().count();
    if n < MIN_RECORD_CHARS {
        return Err((
            field,
            format!("write at least {MIN_RECORD_CHARS} characters"),
        ));
    }
    if n > MAX_RECORD_CHARS {
        return Err((field, format!("at most {MAX_RECORD_CHARS} characters")));
    }
    Ok(text.to_owned())
}

/// The email telling a DSL there is a new alert. It names nobody and quotes no address:
/// the alert itself is read in Undersign.
pub fn alert_mail(
    dsl: &Person,
    alert: SafeguardingAlertId,
    category: &str,
    at: DateTime<Utc>,
) -> NewMail {
    NewMail {
        school: dsl.school,
        dedupe_key: format!("safeguarding:{alert}:{}", dsl.id),
        to_email: dsl.email.clone(),
        to_name: dsl.full_name.to_string(),
        subject: format!("Safeguarding alert S-{alert}: {category}"),
        text_body: format!(
            "Dear {name},\n\nThe school's web filter logged a request in the safeguarding category \"{category}\". Sign in to Undersign and open Safeguarding alerts (alert S-{alert}) to see who and what, and to record what was done.\n\nThis email names nobody on purpose.\n",
            name = dsl.full_name
        ),
        attachments: Vec::new(),
        not_before: at,
        unless_signed: None,
        deferred: None,
    }
}
