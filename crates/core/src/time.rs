//! Time handling: evidence is stored in UTC at microsecond precision (what PostgreSQL
//! keeps), and shown in the school's zone with the zone named.

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;

/// A UTC instant truncated to microseconds, so that what is hashed is exactly what both
/// databases store and give back.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// RFC 3339 with microseconds and a `Z`, the one form used in ledger payloads.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// "23 November 2026, 14:05 GMT" in the school's zone.
pub fn display_in(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%-d %B %Y, %H:%M %Z")
        .to_string()
}

/// Parses a zone name such as `Europe/London`.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}
