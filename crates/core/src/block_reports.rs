//! "This was blocked wrongly": what a person sends from the block page when the web rules
//! stopped something they need, and what the network manager sees. Not evidence (no
//! ledger entry): a request for the network manager to look at the rules.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{PersonId, SchoolId};
use crate::person::InputError;

/// How many reports the public block page accepts, and how long they are kept. The
/// page needs no account, so without these anyone could fill the table.
pub const PER_ADDRESS_PER_HOUR: i64 = 5;
/// Reports a school accepts in a day (since midnight UTC) from all addresses together.
pub const PER_SCHOOL_PER_DAY: i64 = 200;
/// Reports older than this are deleted.
pub const KEEP_DAYS: i64 = 365;
/// Reports shown per page of the network manager's list.
pub const PAGE_SIZE: u32 = 50;

/// A report as sent, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlockReport {
    /// The address that was blocked, as Squid gave it (at most 2000 characters).
    pub url: String,
    /// The filter's reason, usually `AUP statement N: …` (at most 500 characters).
    pub message: String,
    /// The client address the block page's link claims Squid saw (anyone can edit the
    /// link: shown as a claim).
    pub client: String,
    /// The proxy user name, if the proxy authenticates.
    pub proxy_user: String,
    /// Why the person thinks it should be allowed.
    pub reason: String,
    /// The Undersign account of the reporter, if they were logged in.
    pub reporter: Option<PersonId>,
    /// The address the report was sent from, as the server saw the connection (behind a
    /// trusted proxy, its forwarded client): what the throttle counts.
    pub sent_from: String,
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
        sent_from: &str,
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
            sent_from: sent_from.chars().take(64).collect(),
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
    pub sent_from: String,
    pub reported_at: DateTime<Utc>,
}

/// One page of a school's reports, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockReportPage {
    pub reports: Vec<BlockReport>,
    /// Reports the school has in all.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_needs_an_address_and_a_reason() {
        assert_eq!(
            NewBlockReport::parse("", "m", "", "", "why", None, "192.0.2.1")
                .unwrap_err()
                .field(),
            "address"
        );
        assert_eq!(
            NewBlockReport::parse("http://x/", "m", "", "", " ", None, "192.0.2.1")
                .unwrap_err()
                .field(),
            "reason"
        );
        let long = "x".repeat(2001);
        assert_eq!(
            NewBlockReport::parse(&long, "", "", "", "why", None, "192.0.2.1")
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
            "192.0.2.1",
        )
        .unwrap();
        assert_eq!(ok.url, "http://x/");
        assert_eq!(ok.reason, "lesson");
    }
}
