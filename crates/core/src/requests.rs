//! Asking permission as the policy says: one request engine for the six places where the
//! AUP asks a member of staff to get a yes from someone.
//!
//! | kind | the policy | decided by (default) | outcome |
//! |---|---|---|---|
//! | install hardware or software | "without permission of the network manager" | network manager | approved or declined; approved items join the approved-software register |
//! | post photos or videos | "unless agreed by the Headteacher" | headteacher | approved or declined |
//! | closed blog or social-network area | "agreed in advance with the Headteacher" | headteacher | approved (only with the safety checklist complete) or declined |
//! | accept a parent's friend request | "seek advice from your Headteacher" | headteacher | advice, recorded |
//! | emergency phone use | "notify the Leadership Team" | leadership team | acknowledged |
//! | is this use "reasonable"? | "deemed 'reasonable' by the Head or Governing Body" | headteacher | ruled reasonable or not; a ruling can be published to all staff |
//!
//! One life for every request:
//!
//! ```text
//! submitted ──▶ approved (conditions, expiry) ──▶ expired
//!    │  ▲  └──▶ declined
//!    ▼  │ (answered)
//! more information asked
//!    └──────────▶ withdrawn (by the requester, before a decision)
//! ```
//!
//! Who decides each kind is data per school ([`Route`]): a role, held by people in the
//! roster. Nobody decides their own request: when the requester holds the deciding role,
//! the headteacher decides it; when the deciding role is the headteacher's and the
//! requester is a headteacher, the governors decide.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PersonId, RequestId};
use crate::person::{Person, Role, Roles};

mod fields;

use FieldKind::{Date, Line, Statement, Text};
use Needed::{Optional, ToSubmit};
use fields::{
    CLOSED_SPACE, EMERGENCY_PHONE, IMAGE_POSTING, INSTALL, PARENT_CONTACT, REASONABLE_USE,
};
pub use fields::{Field, FieldKind, Needed};

/// The longest one-line answer, in characters.
pub const MAX_LINE_CHARS: usize = 200;
/// The longest free-text answer, note or condition, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// A decider is reminded of a request waiting this many days, and again every as many.
pub const REMIND_AFTER_DAYS: i64 = 3;

/// What is being asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Install,
    ImagePosting,
    ClosedSpace,
    ParentContact,
    EmergencyPhone,
    ReasonableUse,
}

/// How a kind is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Approved (with conditions and an expiry where it fits) or declined.
    Approval,
    /// Advice given; the request is closed as "advised" whatever the advice.
    Advice,
    /// A notice, acknowledged; never declined.
    Acknowledgement,
    /// Ruled reasonable or not; the ruling can be published to all staff.
    Ruling,
}

impl RequestKind {
    pub const ALL: [RequestKind; 6] = [
        RequestKind::Install,
        RequestKind::ImagePosting,
        RequestKind::ClosedSpace,
        RequestKind::ParentContact,
        RequestKind::EmergencyPhone,
        RequestKind::ReasonableUse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::ImagePosting => "image_posting",
            Self::ClosedSpace => "closed_space",
            Self::ParentContact => "parent_contact",
            Self::EmergencyPhone => "emergency_phone",
            Self::ReasonableUse => "reasonable_use",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a member of staff is asking for, as a link or heading says it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Install => "Install hardware or software",
            Self::ImagePosting => "Post photos or videos taken in school or about work",
            Self::ClosedSpace => "A closed blog or social-network area for curriculum use",
            Self::ParentContact => "Accept a friend request from a pupil's parent",
            Self::EmergencyPhone => "Keep my phone with me for emergency use",
            Self::ReasonableUse => "Is this use of email or the Internet reasonable?",
        }
    }

    /// The words of the policy that ask for it.
    pub fn policy_words(self) -> &'static str {
        match self {
            Self::Install => {
                "I will not install any hardware or software without permission of the network manager."
            }
            Self::ImagePosting => {
                "Images will not be distributed outside the school network without the permission of the parent/carer, member of staff or Headteacher; do not post photographs/videos of themselves, colleagues or students taken in school or which is work related unless agreed by the Headteacher."
            }
            Self::ClosedSpace => {
                "Closed 'blogs' and social networking areas for curriculum purposes should be agreed in advance with the Headteacher, with appropriate measures in place to ensure the safety of the staff and pupils."
            }
            Self::ParentContact => {
                "Should you wish to accept a friend request from the parents or guardians of a pupil, you must seek advice from your Headteacher before doing so."
            }
            Self::EmergencyPhone => {
                "If staff need to have their phones for emergency use, they should notify the Leadership Team."
            }
            Self::ReasonableUse => {
                "I will only use the school's email / Internet for professional purposes or for uses deemed 'reasonable' by the Head or Governing Body."
            }
        }
    }

    pub fn outcome(self) -> Outcome {
        match self {
            Self::ParentContact => Outcome::Advice,
            Self::EmergencyPhone => Outcome::Acknowledgement,
            Self::ReasonableUse => Outcome::Ruling,
            _ => Outcome::Approval,
        }
    }

    /// Who decides, as the policy names them, until the school says otherwise.
    pub fn default_decider(self) -> Role {
        match self {
            Self::Install => Role::NetworkManager,
            Self::EmergencyPhone => Role::LeadershipTeam,
            _ => Role::Headteacher,
        }
    }

    /// The roles a school may name to decide this kind.
    pub fn decider_choices(self) -> &'static [Role] {
        match self {
            Self::Install => &[Role::NetworkManager, Role::Headteacher],
            Self::EmergencyPhone => &[Role::LeadershipTeam, Role::Headteacher],
            Self::ReasonableUse => &[Role::Headteacher, Role::Governor],
            _ => &[Role::Headteacher, Role::LeadershipTeam],
        }
    }

    /// The questions the requester answers.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Install => INSTALL,
            Self::ImagePosting => IMAGE_POSTING,
            Self::ClosedSpace => CLOSED_SPACE,
            Self::ParentContact => PARENT_CONTACT,
            Self::EmergencyPhone => EMERGENCY_PHONE,
            Self::ReasonableUse => REASONABLE_USE,
        }
    }

    /// The one-line title of a request of this kind, from its answers.
    pub fn title(self, answers: &Answers) -> String {
        let first = self
            .fields()
            .first()
            .and_then(|f| answers.get(f.name))
            .map(|s| one_line(s, 80))
            .unwrap_or_default();
        if first.is_empty() {
            self.label().to_owned()
        } else {
            first
        }
    }
}

fn one_line(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// A request's answers, by field name: only the kind's fields, each checked.
pub type Answers = BTreeMap<String, String>;

/// A problem with one field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Checks a request's answers for its kind (trimmed; empty answers dropped). Every
/// problem names its field; an answer to a question the kind does not ask is one.
pub fn check_answers(
    kind: RequestKind,
    raw: &BTreeMap<String, String>,
) -> Result<Answers, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = Answers::new();
    let fields = kind.fields();
    for name in raw.keys() {
        if !fields.iter().any(|f| f.name == name) {
            errors.push(FieldError {
                field: name.clone(),
                message: format!("a {} request has no such question", kind.as_str()),
            });
        }
    }
    for f in fields {
        let value = raw.get(f.name).map(|v| v.trim()).unwrap_or("");
        let err = |message: String| FieldError {
            field: f.name.to_owned(),
            message,
        };
        if value.is_empty() {
            if f.needed == ToSubmit {
                errors.push(err("this is needed".into()));
            }
            continue;
        }
        let chars = value.chars().count();
        let problem = match f.kind {
            Line if value.contains(['\n', '\r']) => Some("one line only".to_owned()),
            Line if chars > MAX_LINE_CHARS => Some(format!("at most {MAX_LINE_CHARS} characters")),
            Text if chars > MAX_TEXT_CHARS => Some(format!("at most {MAX_TEXT_CHARS} characters")),
            Date if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() => {
                Some("a date as YYYY-MM-DD".to_owned())
            }
            Statement if !value.parse::<u32>().is_ok_and(|n| (1..=999).contains(&n)) => {
                Some("a statement number such as 4".to_owned())
            }
            _ => None,
        };
        match problem {
            Some(p) => errors.push(err(p)),
            None => {
                out.insert(f.name.to_owned(), value.to_owned());
            }
        }
    }
    if kind == RequestKind::EmergencyPhone
        && let (Some(from), Some(until)) = (date(&out, "from"), date(&out, "until"))
        && until < from
    {
        errors.push(FieldError {
            field: "until".into(),
            message: "before the start".into(),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn date(answers: &Answers, name: &str) -> Option<NaiveDate> {
    answers
        .get(name)
        .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
}

/// The questions still unanswered that approval needs (the safety checklist).
pub fn missing_for_approval(kind: RequestKind, answers: &Answers) -> Vec<&'static Field> {
    kind.fields()
        .iter()
        .filter(|f| f.needed != Optional && !answers.contains_key(f.name))
        .collect()
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Submitted,
    MoreInfo,
    Approved,
    Declined,
    Withdrawn,
    Expired,
}

impl RequestState {
    pub const ALL: [RequestState; 6] = [
        Self::Submitted,
        Self::MoreInfo,
        Self::Approved,
        Self::Declined,
        Self::Withdrawn,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::MoreInfo => "more_info",
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Waiting for someone: the decider (`Submitted`) or the requester (`MoreInfo`).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Submitted | Self::MoreInfo)
    }

    /// The state as the requester reads it, in the words of the kind's outcome.
    pub fn label(self, kind: RequestKind) -> &'static str {
        match (self, kind.outcome()) {
            (Self::Submitted, _) => "waiting for a decision",
            (Self::MoreInfo, _) => "more information asked",
            (Self::Approved, Outcome::Approval) => "approved",
            (Self::Approved, Outcome::Advice) => "advice given",
            (Self::Approved, Outcome::Acknowledgement) => "acknowledged",
            (Self::Approved, Outcome::Ruling) => "ruled reasonable",
            (Self::Declined, Outcome::Ruling) => "ruled not reasonable",
            (Self::Declined, _) => "declined",
            (Self::Withdrawn, _) => "withdrawn",
            (Self::Expired, _) => "expired",
        }
    }
}

/// Who decides one kind in one school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub kind: RequestKind,
    pub decider: Role,
}

/// The roles whose holders may decide a request routed to `route` from someone holding
/// `requester` roles: the route's role, and, when the requester holds it themselves, the
/// one above (the headteacher; for the headteacher's role, the governors).
pub fn deciding_roles(route: Role, requester: &Roles) -> Vec<Role> {
    if !requester.contains(&route) {
        vec![route]
    } else if route == Role::Headteacher {
        vec![Role::Governor]
    } else {
        vec![route, Role::Headteacher]
    }
}

/// Whether a person with `roles` may decide a request routed to `route`, made by
/// `requester` with `requester_roles`.
pub fn may_decide(
    route: Role,
    requester: PersonId,
    requester_roles: &Roles,
    decider: PersonId,
    roles: &Roles,
) -> Result<(), String> {
    if decider == requester {
        return Err("nobody decides their own request".into());
    }
    let allowed = deciding_roles(route, requester_roles);
    if allowed.iter().any(|r| roles.contains(r)) {
        Ok(())
    } else {
        let names: Vec<&str> = allowed.iter().map(|r| r.label()).collect();
        Err(format!("this request is decided by: {}", names.join(", ")))
    }
}

/// A decision on a submitted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Approved, advised, acknowledged or ruled reasonable (`true`); declined or ruled
    /// not reasonable (`false`).
    pub approve: bool,
    /// The decider's note: for advice, the advice.
    pub note: String,
    /// Conditions of an approval.
    pub conditions: String,
    /// The last day an approval holds.
    pub expires: Option<NaiveDate>,
    /// A reasonable-use ruling published to all staff.
    pub ruling: Option<NewRuling>,
}

/// A ruling on reasonable use, for all staff to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRuling {
    /// The statement of the policy it interprets.
    pub statement: u32,
    /// What is ruled, in words for all staff (no names).
    pub text: String,
}

/// Checks a decision against the request it decides, at `today`: what the kind allows,
/// the checklist, lengths, an expiry after today.
pub fn check_decision(
    kind: RequestKind,
    answers: &Answers,
    decision: &Decision,
    today: NaiveDate,
) -> Result<(), FieldError> {
    let err = |field: &str, message: &str| FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let outcome = kind.outcome();
    if decision.note.chars().count() > MAX_TEXT_CHARS
        || decision.conditions.chars().count() > MAX_TEXT_CHARS
    {
        return Err(err("note", "at most 4000 characters"));
    }
    match outcome {
        Outcome::Acknowledgement if !decision.approve => {
            return Err(err(
                "decision",
                "a notice is acknowledged, not declined: add a note to say what is wrong",
            ));
        }
        Outcome::Advice if decision.note.trim().is_empty() => {
            return Err(err("note", "write the advice"));
        }
        Outcome::Approval | Outcome::Ruling
            if !decision.approve && decision.note.trim().is_empty() =>
        {
            return Err(err("note", "say why"));
        }
        _ => {}
    }
    if decision.approve {
        let missing = missing_for_approval(kind, answers);
        if let Some(f) = missing.first() {
            return Err(err(
                f.name,
                &format!(
                    "the safety checklist is not complete ({}): ask for more information",
                    f.label
                ),
            ));
        }
    }
    if let Some(day) = decision.expires {
        if !decision.approve || outcome != Outcome::Approval && outcome != Outcome::Acknowledgement
        {
            return Err(err("expires", "only an approval has an expiry"));
        }
        if day < today {
            return Err(err("expires", "the expiry is in the past"));
        }
    }
    let may_have_conditions = decision.approve && outcome == Outcome::Approval;
    if !decision.conditions.trim().is_empty() && !may_have_conditions {
        return Err(err("conditions", "only an approval has conditions"));
    }
    if let Some(r) = &decision.ruling {
        if outcome != Outcome::Ruling {
            return Err(err("ruling", "only a reasonable-use question is ruled on"));
        }
        if r.text.trim().chars().count() < 10 {
            return Err(err("ruling", "write the ruling for all staff to read"));
        }
        if r.text.chars().count() > MAX_TEXT_CHARS {
            return Err(err("ruling", "at most 4000 characters"));
        }
        if r.statement == 0 {
            return Err(err("statement", "the statement the ruling interprets"));
        }
    }
    Ok(())
}

/// The expiry an approval takes when the decider gives none: a closed space closes on
/// its end date, an emergency-phone notice on its last day.
pub fn implied_expiry(kind: RequestKind, answers: &Answers) -> Option<NaiveDate> {
    match kind {
        RequestKind::ClosedSpace => date(answers, "end_date"),
        RequestKind::EmergencyPhone => date(answers, "until"),
        _ => None,
    }
}

/// One step of a request's history, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Submitted,
    MoreInfoAsked,
    Answered,
    Approved,
    Declined,
    Withdrawn,
    Expired,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::MoreInfoAsked => "more_info_asked",
            Self::Answered => "answered",
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submitted,
            Self::MoreInfoAsked,
            Self::Answered,
            Self::Approved,
            Self::Declined,
            Self::Withdrawn,
            Self::Expired,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn label(self, kind: RequestKind) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::MoreInfoAsked => "more information asked",
            Self::Answered => "answered",
            Self::Approved => RequestState::Approved.label(kind),
            Self::Declined => RequestState::Declined.label(kind),
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }
}

/// One step: what happened, who did it, when, and what they wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: i64,
    pub kind: StepKind,
    pub by: Option<PersonId>,
    pub by_name: Option<String>,
    pub at: DateTime<Utc>,
    pub note: String,
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: RequestId,
    pub kind: RequestKind,
    pub requested_by: PersonId,
    pub requester_name: String,
    pub submitted_at: DateTime<Utc>,
    pub answers: Answers,
    pub state: RequestState,
    /// The role the school routed it to when it was submitted.
    pub route: Role,
    pub decided_by: Option<PersonId>,
    pub decider_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub conditions: Option<String>,
    pub expires: Option<NaiveDate>,
    /// The ruling published from it, by number.
    pub ruling: Option<i64>,
    /// Oldest first.
    pub steps: Vec<Step>,
}

impl Request {
    /// The reference on pages and emails: `R-<id>`.
    pub fn reference(&self) -> String {
        format!("R-{}", self.id)
    }

    pub fn title(&self) -> String {
        self.kind.title(&self.answers)
    }

    pub fn state_label(&self) -> &'static str {
        self.state.label(self.kind)
    }
}

/// A ruling on reasonable use, published to all staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruling {
    /// Numbered from 1 in each school.
    pub number: i64,
    pub request: RequestId,
    pub statement: u32,
    /// Whether the use asked about was ruled reasonable.
    pub reasonable: bool,
    pub text: String,
    pub published_by: PersonId,
    pub publisher_name: String,
    pub published_at: DateTime<Utc>,
}

/// An entry in the approved-software register: an approved install request still in
/// force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedItem {
    pub request: RequestId,
    pub item: String,
    pub purpose: String,
    pub place: Option<String>,
    pub conditions: Option<String>,
    pub expires: Option<NaiveDate>,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
}

impl ApprovedItem {
    /// Whether every word of `query` appears in the item, its purpose or its place.
    pub fn matches(&self, query: &str) -> bool {
        let hay = format!(
            "{} {} {}",
            self.item,
            self.purpose,
            self.place.as_deref().unwrap_or("")
        )
        .to_lowercase();
        query
            .split_whitespace()
            .all(|w| hay.contains(&w.to_lowercase()))
    }
}

/// Why an email about a request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// To a decider: a request is waiting (new, or answered).
    Waiting { step: i64 },
    /// To a decider: still waiting `days` after step `since` (its submission or the
    /// requester's last answer).
    Reminder { since: i64, days: i64 },
    /// To the requester: the decider asked a question or decided.
    Update { step: i64 },
}

/// An email about request `r` to `to`. It says what and where, not the answers: those
/// are read in Undersign.
pub fn request_mail(
    to: &Person,
    r: &Request,
    notice: Notice,
    at: DateTime<Utc>,
) -> crate::outbox::NewMail {
    let reference = r.reference();
    let (key, subject, body) = match notice {
        Notice::Waiting { step } => (
            format!("request:{}:step:{step}:p{}", r.id, to.id),
            format!("{reference} waiting for you: {}", r.kind.label()),
            format!(
                "{} has asked: \"{}\". Sign in to Undersign and open Requests to decide it.",
                r.requester_name,
                r.title()
            ),
        ),
        Notice::Reminder { since, days } => (
            format!("request:{}:remind:{since}:{days}:p{}", r.id, to.id),
            format!("Reminder: {reference} has waited {days} days for a decision"),
            format!(
                "{} asked {days} days ago: \"{}\". Sign in to Undersign and open Requests to decide it.",
                r.requester_name,
                r.title()
            ),
        ),
        Notice::Update { step } => (
            format!("request:{}:step:{step}:p{}", r.id, to.id),
            format!("{reference}: {}", r.state_label()),
            format!(
                "Your request \"{}\" is now: {}. Sign in to Undersign and open Requests to read it.",
                r.title(),
                r.state_label()
            ),
        ),
    };
    crate::outbox::NewMail {
        school: to.school,
        dedupe_key: key,
        to_email: to.email.clone(),
        to_name: to.full_name.to_string(),
        subject: one_line(&subject, 200),
        text_body: format!("Dear {},\n\n{body}\n", to.full_name),
        attachments: Vec::new(),
        not_before: at,
        unless_signed: None,
        deferred: None,
    }
}

#[cfg(test)]
mod tests;
