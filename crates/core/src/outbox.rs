//! The email outbox: messages are written to the database first (in the same transaction
//! as whatever caused them, where there is one) and delivered later by a worker that
//! claims them with a lease, so a message survives a restart and is not sent twice by
//! several servers. Also the retry schedule, a pure function of the attempts made.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PersonId, SchoolId, SignatureId, VersionId, VisitId};
use crate::person::Email;

/// One message in the outbox (its row id; unique across schools).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MailId(pub i64);

impl std::fmt::Display for MailId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A message to put in the outbox. Sent once: a second enqueue with the same
/// (school, dedupe_key) is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub school: SchoolId,
    /// Names what the message is about, e.g. `invite:v12:p40`, `remind:v12:p40:2`,
    /// `login:<token id>`; at most [`MAX_DEDUPE_KEY_CHARS`] characters.
    pub dedupe_key: String,
    pub to_email: Email,
    pub to_name: String,
    pub subject: String,
    /// Plain text, UTF-8.
    pub text_body: String,
    pub attachments: Vec<Attachment>,
    /// Not sent before this time.
    pub not_before: DateTime<Utc>,
    /// If set, the message is cancelled (never sent) once this person has signed this
    /// version or a later one of the same policy: reminders must stop the moment someone
    /// signs, even if a newer version was published after the reminder was queued.
    pub unless_signed: Option<(PersonId, VersionId)>,
    /// What is still to be written when the message is sent (see [`Deferred`]); `None`
    /// for a message complete as queued.
    pub deferred: Option<Deferred>,
}

/// A part of a message made only when it is sent, by a [`Finisher`]: a receipt is
/// queued in the same transaction as the signature it is for (so it is never lost), but
/// typesetting its PDF takes a core for a moment and has no place on the signing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deferred {
    /// The signer's sealed receipt for this signature: the letter and the PDF.
    Receipt { signature: SignatureId },
    /// A visitor's sealed receipt for this visit: the letter and the PDF.
    VisitReceipt { visit: VisitId },
}

/// Why a deferred message could not be finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinishError {
    /// Worth trying again later (the school's key file is missing, the database is down):
    /// retried on the usual schedule.
    #[error("{0}")]
    Retry(String),
    /// It will never work (the evidence no longer matches): given up at once.
    #[error("{0}")]
    GiveUp(String),
}

/// Writes the deferred part of a message just before it is sent.
#[async_trait::async_trait]
pub trait Finisher: Send + Sync {
    /// Completes `mail` (its body, its attachments) for `what`.
    async fn finish(&self, mail: &mut OutgoingMail, what: Deferred) -> Result<(), FinishError>;
}

/// A file sent with a message (e.g. a PDF receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type such as `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The longest dedupe key accepted.
pub const MAX_DEDUPE_KEY_CHARS: usize = 200;
/// The longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 300;
/// The most a message may carry in attachments, in bytes (mail servers commonly refuse
/// messages over 10–25 MB once encoded).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// Why a message cannot be queued. These are mistakes in the code that builds messages,
/// reported with what is wrong so they are found in tests rather than in production.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("mail {key:?}: {problem}")]
    Invalid { key: String, problem: String },
}

impl NewMail {
    /// Checks what the mail server and the outbox page rely on: a dedupe key, a one-line
    /// subject, a recipient name without line breaks, attachments within bounds.
    pub fn check(&self) -> Result<(), MailError> {
        let fail = |problem: &str| {
            Err(MailError::Invalid {
                key: self.dedupe_key.clone(),
                problem: problem.to_string(),
            })
        };
        let key = self.dedupe_key.trim();
        if key.is_empty() || key.len() != self.dedupe_key.len() {
            return fail("the dedupe key must be non-empty with no spaces around it");
        }
        if self.dedupe_key.chars().count() > MAX_DEDUPE_KEY_CHARS {
            return fail("the dedupe key is too long");
        }
        if self.subject.trim().is_empty() {
            return fail("the subject is empty");
        }
        if self.subject.chars().count() > MAX_SUBJECT_CHARS {
            return fail("the subject is too long");
        }
        if has_control(&self.subject) || has_control(&self.to_name) {
            return fail("the subject and recipient name must be one line");
        }
        let mut total = 0;
        for a in &self.attachments {
            if a.filename.trim().is_empty()
                || has_control(&a.filename)
                || a.filename.contains(['/', '\\'])
            {
                return fail("an attachment needs a plain file name");
            }
            if !is_mime_type(&a.content_type) {
                return fail("an attachment's content type must look like type/subtype");
            }
            total += a.bytes.len();
        }
        if total > MAX_ATTACHMENT_BYTES {
            return fail("the attachments are larger than 10 MB");
        }
        Ok(())
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn is_mime_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    matches!(s.split_once('/'), Some((a, b)) if token(a) && token(b))
}

/// A message claimed for delivery by one worker, until its lease runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub id: MailId,
    pub school: SchoolId,
    /// The school's name, for the sender's display name.
    pub school_name: String,
    pub dedupe_key: String,
    pub to_email: Email,
    pub to_name: String,
    pub subject: String,
    pub text_body: String,
    pub attachments: Vec<Attachment>,
    /// What is still to be written before it is sent.
    pub deferred: Option<Deferred>,
    /// Attempts started so far, this one included.
    pub attempts: u32,
    /// When the message first became due (its `not_before`): retries are given up
    /// [`GIVE_UP_AFTER`] from here.
    pub due_since: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The claim's end: after it another worker may take the message.
    pub claimed_until: DateTime<Utc>,
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    /// Waiting for its time, for a retry, or being sent now.
    Queued,
    Sent,
    /// Given up: a permanent refusal, or retries ran out.
    Failed,
    /// Not sent because it was no longer needed (the person signed).
    Cancelled,
}

impl MailState {
    pub fn label(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
            MailState::Cancelled => "cancelled",
        }
    }
}

/// A message as the school's outbox page lists it (no body, no attachments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSummary {
    pub id: MailId,
    pub to_email: Email,
    pub to_name: String,
    pub subject: String,
    pub state: MailState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// For a queued message: when it is next tried.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was sent, given up or cancelled.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One page of a school's outbox, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxPage {
    pub mails: Vec<MailSummary>,
    /// Messages in the school's outbox altogether.
    pub total: u64,
}

/// Waits between attempts: after the first failure 1 minute, then 5 minutes, 30 minutes,
/// 2 hours, 6 hours, then every 12 hours until [`GIVE_UP_AFTER`].
pub const RETRY_DELAYS: [TimeDelta; 5] = [
    TimeDelta::minutes(1),
    TimeDelta::minutes(5),
    TimeDelta::minutes(30),
    TimeDelta::hours(2),
    TimeDelta::hours(6),
];
/// The wait between attempts once [`RETRY_DELAYS`] are used up.
pub const RETRY_EVERY: TimeDelta = TimeDelta::hours(12);
/// A message not delivered this long after it became due is given up.
pub const GIVE_UP_AFTER: TimeDelta = TimeDelta::hours(48);
/// A message is given up after this many attempts, whatever the time.
pub const MAX_ATTEMPTS: u32 = 12;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    At(DateTime<Utc>),
    GiveUp,
}

/// After `attempts` failed attempts (the one that just failed included) of a message due
/// since `due_since`, failing at `now`: when to try again, or give up.
pub fn next_attempt(attempts: u32, due_since: DateTime<Utc>, now: DateTime<Utc>) -> Retry {
    if attempts >= MAX_ATTEMPTS {
        return Retry::GiveUp;
    }
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    let wait = RETRY_DELAYS.get(index).copied().unwrap_or(RETRY_EVERY);
    let next = now + wait;
    if next - due_since > GIVE_UP_AFTER {
        Retry::GiveUp
    } else {
        Retry::At(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    #[test]
    fn retries_back_off_then_settle_at_every_twelve_hours() {
        let due = t0();
        let mut now = due;
        let mut waits = Vec::new();
        for attempts in 1.. {
            match next_attempt(attempts, due, now) {
                Retry::At(next) => {
                    waits.push((next - now).num_minutes());
                    now = next;
                }
                Retry::GiveUp => break,
            }
        }
        assert_eq!(waits, [1, 5, 30, 120, 360, 720, 720, 720]);
        // The last attempt is within 48 hours of becoming due; one more would not be.
        assert!(now - due <= GIVE_UP_AFTER);
        assert!(now + RETRY_EVERY - due > GIVE_UP_AFTER);
    }

    #[test]
    fn a_message_is_given_up_after_forty_eight_hours_however_few_attempts() {
        let due = t0();
        let late = due + TimeDelta::hours(47) + TimeDelta::seconds(59 * 60 + 30);
        assert_eq!(next_attempt(1, due, late), Retry::GiveUp);
        assert_eq!(
            next_attempt(1, due, due + TimeDelta::hours(47)),
            Retry::At(due + TimeDelta::hours(47) + TimeDelta::minutes(1))
        );
    }

    #[test]
    fn a_message_is_given_up_after_the_most_attempts() {
        let due = t0();
        assert_eq!(next_attempt(MAX_ATTEMPTS, due, due), Retry::GiveUp);
        assert!(matches!(
            next_attempt(MAX_ATTEMPTS - 1, due, due),
            Retry::At(_)
        ));
    }

    fn mail() -> NewMail {
        NewMail {
            school: SchoolId(1),
            dedupe_key: "invite:v1:p2".into(),
            to_email: Email::parse("sam@school.example").unwrap(),
            to_name: "Sam Taylor".into(),
            subject: "Please sign the ICT Acceptable Use Policy".into(),
            text_body: "Hello".into(),
            attachments: vec![Attachment {
                filename: "receipt.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7".to_vec(),
            }],
            not_before: t0(),
            unless_signed: None,
            deferred: None,
        }
    }

    #[test]
    fn a_well_formed_mail_passes_its_check() {
        assert_eq!(mail().check(), Ok(()));
    }

    #[test]
    fn header_injection_and_bad_attachments_are_refused_with_the_key() {
        let mut m = mail();
        m.subject = "Hi\r\nBcc: everyone@example.com".into();
        let err = m.check().unwrap_err().to_string();
        assert!(
            err.contains("invite:v1:p2") && err.contains("one line"),
            "{err}"
        );

        let mut m = mail();
        m.attachments[0].filename = "../../etc/passwd".into();
        assert!(m.check().is_err());

        let mut m = mail();
        m.attachments[0].content_type = "pdf".into();
        assert!(m.check().is_err());

        let mut m = mail();
        m.dedupe_key = " ".into();
        assert!(m.check().is_err());

        let mut m = mail();
        m.attachments[0].bytes = vec![0; MAX_ATTACHMENT_BYTES + 1];
        assert!(m.check().unwrap_err().to_string().contains("10 MB"));
    }
}
