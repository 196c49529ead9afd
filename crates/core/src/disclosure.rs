//! Governed disclosure of a person's Internet log, as the AUP promises: "made available,
//! on request, to my Line Manager or Headteacher".
//!
//! ```text
//! requested ──▶ approved (read-only for N days, every view on the record) ──▶ expired
//!     │    └──▶ declined
//!     └──────▶ withdrawn (by the requester, before a decision)
//! ```
//!
//! - Who may ask: the person's line manager, or the headteacher; never about themselves.
//! - Who decides: the headteacher; a request the headteacher made is decided by the
//!   person the school names for that (the chair of governors, say). Nobody decides their
//!   own request.
//! - The person sees on their own page that it was requested, decided, by whom, and every
//!   view — unless the decider delays that notice, with a reason, for at most
//!   [`MAX_NOTICE_DELAY_DAYS`].
//! - Every step is a ledger event.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DisclosureId, PersonId};
use crate::person::{Person, Role};

/// How long an approved disclosure can be read, unless the decider says otherwise.
pub const DEFAULT_OPEN_DAYS: u32 = 7;
/// The longest an approval can stay open.
pub const MAX_OPEN_DAYS: u32 = 28;
/// The longest the person's notice can be held back while an investigation runs.
pub const MAX_NOTICE_DELAY_DAYS: u32 = 28;
/// The longest date range one request can cover.
pub const MAX_RANGE_DAYS: i64 = 366;
/// A reason must say something.
pub const MIN_REASON_CHARS: usize = 10;
pub const MAX_REASON_CHARS: usize = 2000;

/// Where a disclosure is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisclosureState {
    Requested,
    Approved,
    Declined,
    Withdrawn,
    Expired,
}

impl DisclosureState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Requested,
            Self::Approved,
            Self::Declined,
            Self::Withdrawn,
            Self::Expired,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A request for a person's log, as checked at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDisclosure {
    pub subject: PersonId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub reason: String,
}

impl NewDisclosure {
    /// Checks the range and the reason; each problem names its field.
    pub fn parse(
        subject: PersonId,
        from: NaiveDate,
        to: NaiveDate,
        reason: &str,
        today: NaiveDate,
    ) -> Result<Self, (&'static str, String)> {
        if to < from {
            return Err(("to", "the end of the range is before its start".into()));
        }
        if to > today {
            return Err(("to", "the range cannot end after today".into()));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err((
                "to",
                format!("one request covers at most {MAX_RANGE_DAYS} days"),
            ));
        }
        let reason = reason.trim();
        let chars = reason.chars().count();
        if chars < MIN_REASON_CHARS {
            return Err((
                "reason",
                "say why the log is needed (what is being looked into)".into(),
            ));
        }
        if chars > MAX_REASON_CHARS {
            return Err(("reason", format!("at most {MAX_REASON_CHARS} characters")));
        }
        Ok(Self {
            subject,
            from,
            to,
            reason: reason.to_owned(),
        })
    }
}

/// Why someone may not ask for a person's log.
pub fn may_request(requester: &Person, subject: &Person) -> Result<(), String> {
    if requester.id == subject.id {
        return Err(
            "nobody can ask for their own log through a disclosure: it is on your own page".into(),
        );
    }
    if requester.roles.contains(&Role::Headteacher) || subject.line_manager == Some(requester.id) {
        return Ok(());
    }
    Err(format!(
        "only {}'s line manager or the headteacher can ask for their log",
        subject.full_name
    ))
}

/// Who decides a request made by `requester`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// Any headteacher other than the requester.
    Headteacher,
    /// The person the school named to decide the headteacher's requests (`None`: nobody
    /// is named yet, so the request cannot be decided until someone is).
    Named(Option<PersonId>),
}

pub fn decider_for(requester_is_head: bool, named: Option<PersonId>) -> Decider {
    if requester_is_head {
        Decider::Named(named)
    } else {
        Decider::Headteacher
    }
}

/// Whether `decider` may decide a request made by `requester` under `rule`.
pub fn may_decide(rule: Decider, requester: PersonId, decider: &Person) -> Result<(), String> {
    if decider.id == requester {
        return Err("nobody decides their own request".into());
    }
    match rule {
        Decider::Headteacher if decider.roles.contains(&Role::Headteacher) => Ok(()),
        Decider::Headteacher => Err("the headteacher decides this request".into()),
        Decider::Named(Some(p)) if p == decider.id => Ok(()),
        Decider::Named(Some(_)) => Err(
            "the headteacher made this request, so the person the school named for that decides it"
                .into(),
        ),
        Decider::Named(None) => Err(
            "the headteacher made this request, and the school has named nobody to decide the headteacher's requests"
                .into(),
        ),
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve {
        open_days: u32,
        /// Hold back the person's notice until this day, for this reason.
        notice_delay: Option<(NaiveDate, String)>,
        note: String,
    },
    Decline {
        note: String,
    },
}

/// A disclosure as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    pub id: DisclosureId,
    pub subject: PersonId,
    pub subject_name: String,
    pub requested_by: PersonId,
    pub requester_name: String,
    pub requested_at: DateTime<Utc>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub reason: String,
    pub state: DisclosureState,
    pub decided_by: Option<PersonId>,
    pub decider_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub open_until: Option<DateTime<Utc>>,
    pub notice_from: Option<NaiveDate>,
    pub notice_reason: Option<String>,
    /// Every view, oldest first: when, and by whom.
    pub views: Vec<(DateTime<Utc>, String)>,
}

impl Disclosure {
    /// The reference printed on exports: `D-<id>`.
    pub fn reference(&self) -> String {
        format!("D-{}", self.id)
    }

    /// Whether it can be read at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.state == DisclosureState::Approved && self.open_until.is_some_and(|u| now < u)
    }

    /// Whether the person may see it on their own page on `today`.
    pub fn noticed(&self, today: NaiveDate) -> bool {
        self.notice_from.is_none_or(|d| today >= d)
    }
}

/// What a disclosure shows: the person's log over the range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonLog {
    /// Per day and category, in day order.
    pub days: Vec<DayCount>,
    /// Sites, most requested first.
    pub sites: Vec<SiteCount>,
    /// Every denied request, oldest first.
    pub blocked: Vec<BlockedRequest>,
    /// What was searched for, oldest first (only where the school keeps search terms).
    pub searches: Vec<(DateTime<Utc>, String)>,
}

/// Requests on one day in one category (empty: none), of which denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub category: String,
    pub requests: u64,
    pub denied: u64,
}

/// Requests to one host, of which denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteCount {
    pub host: String,
    pub requests: u64,
    pub denied: u64,
}

/// One denied request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedRequest {
    pub at: DateTime<Utc>,
    pub url: String,
    pub rule: Option<String>,
    pub category: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SchoolId;
    use crate::person::{Email, FullName, PersonStatus};

    fn person(id: i64, roles: &[Role], line_manager: Option<i64>) -> Person {
        Person {
            id: PersonId(id),
            school: SchoolId(1),
            full_name: FullName::parse(
                ["Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy"][(id as usize) % 9],
            )
            .unwrap(),
            email: Email::parse(&format!("p{id}@school.test")).unwrap(),
            roles: roles.iter().copied().collect(),
            line_manager: line_manager.map(PersonId),
            status: PersonStatus::Active,
        }
    }

    #[test]
    fn only_the_line_manager_or_the_head_may_ask_and_never_about_themselves() {
        let head = person(1, &[Role::Headteacher], None);
        let manager = person(2, &[Role::Staff], Some(1));
        let teacher = person(3, &[Role::Staff], Some(2));
        let colleague = person(4, &[Role::Staff, Role::NetworkManager], Some(2));
        assert!(may_request(&manager, &teacher).is_ok());
        assert!(may_request(&head, &teacher).is_ok());
        assert!(may_request(&colleague, &teacher).is_err());
        assert!(may_request(&teacher, &teacher).is_err());
        assert!(may_request(&head, &head).is_err());
    }

    #[test]
    fn nobody_decides_their_own_request_and_the_heads_go_to_the_named_person() {
        let head = person(1, &[Role::Headteacher], None);
        let chair = person(9, &[Role::Governor], None);
        let rule = decider_for(false, None);
        assert!(may_decide(rule, PersonId(2), &head).is_ok());
        assert!(may_decide(rule, PersonId(2), &chair).is_err());
        let heads = decider_for(true, Some(chair.id));
        assert!(may_decide(heads, head.id, &head).is_err());
        assert!(may_decide(heads, head.id, &chair).is_ok());
        assert!(may_decide(decider_for(true, None), head.id, &chair).is_err());
        assert!(may_decide(decider_for(true, Some(head.id)), head.id, &head).is_err());
    }

    #[test]
    fn a_request_names_the_field_that_is_wrong() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-11-30");
        let ok = NewDisclosure::parse(
            PersonId(3),
            d("2026-11-01"),
            d("2026-11-30"),
            "  Concern raised by IT on 28 Nov ",
            today,
        )
        .unwrap();
        assert_eq!(ok.reason, "Concern raised by IT on 28 Nov");
        let field = |from, to, reason| {
            NewDisclosure::parse(PersonId(3), d(from), d(to), reason, today)
                .unwrap_err()
                .0
        };
        assert_eq!(
            field("2026-11-02", "2026-11-01", "a good reason here"),
            "to"
        );
        assert_eq!(
            field("2026-11-02", "2026-12-01", "a good reason here"),
            "to"
        );
        assert_eq!(
            field("2025-01-01", "2026-11-01", "a good reason here"),
            "to"
        );
        assert_eq!(field("2026-11-01", "2026-11-02", "because"), "reason");
    }
}
