//! "This was blocked wrongly": what a person sends from the block page when the web rules
//! stopped something they need, and what the network manager sees. Not evidence (no
//! ledger entry): a request for the network manager to look at the rules.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{PersonId, SchoolId};
use crate::person::InputError;

/// A report as sent, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlockReport {
    /// The address that was blocked, as Squid gave it (at most 2000 characters).
    pub url: String,
    /// The filter's reason, usually `AUP statement N: …` (at most 500 characters).
    pub message: String,
    /// The client address Squid saw.
    pub client: String,
    /// The proxy user name, if the proxy authenticates.
    pub proxy_user: String,
    /// Why the person thinks it should be allowed.
    pub reason: String,
    /// The Undersign account of the reporter, if they were logged in.
    pub reporter: Option<PersonId>,
}

fn bounded(field: &'static str, raw: &str, max: usize) -> Result<String, InputError> {
    let value: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    if value.chars().count() > max {
        return Err(InputError::new(field, format!("at most {max} characters")));
    }
    Ok(value)
}

impl NewBlockReport {
    pub fn parse(
        url: &str,
        message: &str,
        client: &str,
        proxy_user: &str,
        reason: &str,
        reporter: Option<PersonId>,
    ) -> Result<Self, InputError> {
        let url = bounded("address", url, 2000)?;
        if url.is_empty() {
            return Err(InputError::new("address", "the blocked address is missing"));
        }
        let reason = bounded("reason", reason, 2000)?;
        if reason.is_empty() {
            return Err(InputError::new(
                "reason",
                "say why this should not be blocked",
            ));
        }
        Ok(Self {
            url,
            message: bounded("message", message, 500)?,
            client: bounded("client", client, 64)?,
            proxy_user: bounded("user", proxy_user, 100)?,
            reason,
            reporter,
        })
    }
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockReport {
    pub id: i64,
    pub school: SchoolId,
    pub url: String,
    pub message: String,
    pub client: String,
    pub proxy_user: String,
    pub reason: String,
    pub reporter: Option<PersonId>,
    pub reporter_name: Option<String>,
    pub reported_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_needs_an_address_and_a_reason() {
        assert_eq!(
            NewBlockReport::parse("", "m", "", "", "why", None)
                .unwrap_err()
                .field(),
            "address"
        );
        assert_eq!(
            NewBlockReport::parse("http://x/", "m", "", "", " ", None)
                .unwrap_err()
                .field(),
            "reason"
        );
        let long = "x".repeat(2001);
        assert_eq!(
            NewBlockReport::parse(&long, "", "", "", "why", None)
                .unwrap_err()
                .field(),
            "address"
        );
        let ok = NewBlockReport::parse(
            " http://x/ ",
            "AUP statement 3",
            "10.0.0.1",
            "",
            "lesson\u{7}",
            None,
        )
        .unwrap();
        assert_eq!(ok.url, "http://x/");
        assert_eq!(ok.reason, "lesson");
    }
}
