//! A disclosed Internet log as a PDF: every page stamped with the disclosure's reference,
//! who asked, who approved, and when it was produced.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use undersign_core::disclosure::{Disclosure, PersonLog};
use undersign_core::receipt::local_time;
use undersign_core::time::TimeZone;

use crate::{Meta, PdfError, world};

const TEMPLATE: &str = concat!(
    include_str!("../templates/common.typ"),
    include_str!("../templates/disclosure.typ")
);

#[derive(Serialize)]
struct Data<'a> {
    meta: Meta,
    school_name: &'a str,
    reference: String,
    subject: &'a str,
    requester: &'a str,
    decider: &'a str,
    range: String,
    reason: &'a str,
    produced: String,
    time_zone: String,
    days: Vec<(String, String, u64, u64)>,
    sites: Vec<(&'a str, u64, u64)>,
    searches: Vec<(String, &'a str)>,
    blocked: Vec<(String, &'a str, &'a str, &'a str)>,
}

/// The log `log` of disclosure `d`, as the requester downloads it at `now`.
pub fn disclosure_log(
    school_name: &str,
    zone: TimeZone,
    d: &Disclosure,
    log: &PersonLog,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, PdfError> {
    let tz: Tz = zone.tz();
    let data = Data {
        meta: Meta {
            title: format!(
                "Disclosure {}: Internet log of {}",
                d.reference(),
                d.subject_name
            ),
            author: school_name.to_owned(),
        },
        school_name,
        reference: d.reference(),
        subject: &d.subject_name,
        requester: &d.requester_name,
        decider: d.decider_name.as_deref().unwrap_or(""),
        range: format!("{} to {}", d.from, d.to),
        reason: &d.reason,
        produced: local_time(now, tz),
        time_zone: tz.name().to_string(),
        days: log
            .days
            .iter()
            .map(|r| {
                (
                    r.day.to_string(),
                    if r.category.is_empty() {
                        "(none)".to_owned()
                    } else {
                        r.category.clone()
                    },
                    r.requests,
                    r.denied,
                )
            })
            .collect(),
        sites: log
            .sites
            .iter()
            .map(|s| (s.host.as_str(), s.requests, s.denied))
            .collect(),
        searches: log
            .searches
            .iter()
            .map(|(t, term)| (local_time(*t, tz), term.as_str()))
            .collect(),
        blocked: log
            .blocked
            .iter()
            .map(|b| {
                (
                    local_time(b.at, tz),
                    b.url.as_str(),
                    b.rule.as_deref().unwrap_or(""),
                    b.category.as_deref().unwrap_or(""),
                )
            })
            .collect(),
    };
    world::render("disclosure", TEMPLATE, &data, now, &[])
}
