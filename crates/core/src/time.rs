//! Time handling: evidence is stored in UTC at microsecond precision (what PostgreSQL
//! keeps), and shown in the school's zone with the zone named.

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::person::InputError;

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

/// A school's time zone: an IANA name such as `Europe/London`, parsed once where it
/// enters (provisioning, a row read from the store, a receipt's facts) and carried typed
/// from there, so no caller has to decide what an unknown name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Tz);

impl TimeZone {
    /// Coordinated Universal Time.
    pub const UTC: TimeZone = TimeZone(chrono_tz::UTC);

    /// Parses an IANA zone name.
    pub fn parse(name: &str) -> Result<Self, InputError> {
        name.trim().parse::<Tz>().map(Self).map_err(|_| {
            InputError::new(
                "time zone",
                format!("{name:?} is not a time zone name such as Europe/London"),
            )
        })
    }

    /// The zone for chrono's conversions.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The IANA name, e.g. `Europe/London`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl From<Tz> for TimeZone {
    fn from(zone: Tz) -> Self {
        Self(zone)
    }
}

impl TryFrom<String> for TimeZone {
    type Error = InputError;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

impl From<TimeZone> for String {
    fn from(zone: TimeZone) -> Self {
        zone.name().to_string()
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_parsed_once_and_an_unknown_name_is_refused() {
        let zone = TimeZone::parse(" Europe/London ").unwrap();
        assert_eq!(zone.name(), "Europe/London");
        assert_eq!(zone.tz(), chrono_tz::Europe::London);
        let err = TimeZone::parse("Europe/Atlantis").unwrap_err();
        assert_eq!(err.field(), "time zone");
        assert!(err.to_string().contains("Europe/Atlantis"), "{err}");
    }

    #[test]
    fn a_zone_travels_as_its_name_in_json() {
        let zone = TimeZone::parse("Europe/Paris").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), "\"Europe/Paris\"");
        let back: TimeZone = serde_json::from_str("\"Europe/Paris\"").unwrap();
        assert_eq!(back, zone);
        assert!(serde_json::from_str::<TimeZone>("\"Mars/Olympus\"").is_err());
    }
}
