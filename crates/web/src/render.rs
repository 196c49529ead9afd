//! Shared pieces of every page: rendering a template into a response, showing times in
//! the school's zone, and the navigation bar (kept in [`crate::nav`]).

use askama::Template;
use axum::response::Html;
use chrono::{DateTime, Utc};
use undersign_core::time::TimeZone;

use crate::error::AppResult;
pub use crate::nav::Nav;

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
