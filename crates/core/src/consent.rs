//! Image consent: for each pupil (and each member of staff, for their own image) and each
//! channel an image may leave the school by, whether consent is on file, and the check a
//! member of staff makes before images leave the school network.
//!
//! The policy: "Images will not be distributed outside the school network (eg. Website /
//! local press / Smugmug) without the permission of the parent/carer, member of staff or
//! Headteacher." A consent is given or withdrawn, per channel, with its time and source
//! (a paper form entered by the office, the parent's own link, the member of staff
//! themselves) and an expiry: by default the end of the school year it was given in, so
//! that it is renewed every year.
//!
//! The answer for one person and one channel ([`Answer`]) is worked out from the latest
//! record for that pair only: a withdrawal is never outweighed by an older consent, and
//! nothing overrides it — not even the headteacher's permission, which can stand in only
//! for consent that is missing or expired.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where an image may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Website,
    LocalPress,
    /// A photo gallery such as SmugMug.
    PhotoGallery,
    SocialMedia,
    /// Displays inside the school (kept for completeness: they do not leave the network,
    /// but parents are asked about them on the same form).
    InternalDisplay,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Website,
        Channel::LocalPress,
        Channel::PhotoGallery,
        Channel::SocialMedia,
        Channel::InternalDisplay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Website => "website",
            Self::LocalPress => "local_press",
            Self::PhotoGallery => "photo_gallery",
            Self::SocialMedia => "social_media",
            Self::InternalDisplay => "internal_display",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Website => "the school website",
            Self::LocalPress => "the local press",
            Self::PhotoGallery => "a photo gallery (such as SmugMug)",
            Self::SocialMedia => "the school's social media",
            Self::InternalDisplay => "displays inside the school",
        }
    }
}

/// Given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Given,
    Withdrawn,
}

/// Where a consent record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A paper form, entered by the office.
    PaperForm,
    /// The parent or carer, through their own link.
    ParentLink,
    /// A member of staff, for their own image.
    InPerson,
}

/// Whose image: a pupil, or a member of staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Pupil(crate::ids::PupilId),
    Person(crate::ids::PersonId),
}

/// A consent given or withdrawn, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub subject: Subject,
    pub channel: Channel,
    pub state: ConsentState,
    /// The last day it holds; `None`: the end of the school year (a withdrawal has none).
    pub expires: Option<NaiveDate>,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaperForm => "paper_form",
            Self::ParentLink => "parent_link",
            Self::InPerson => "in_person",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::PaperForm, Self::ParentLink, Self::InPerson]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Given => "given",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Given, Self::Withdrawn]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One record about one person and one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub channel: Channel,
    pub state: ConsentState,
    pub at: DateTime<Utc>,
    pub source: Source,
    /// The last day a consent holds (none for a withdrawal).
    pub expires: Option<NaiveDate>,
}

/// The last day of the school year (31 August) that `day` falls in: a consent given
/// on 1 September 2026 or on 31 August 2027 holds until 31 August 2027.
pub fn end_of_school_year(day: NaiveDate) -> NaiveDate {
    let year = if day.month() >= 9 {
        day.year() + 1
    } else {
        day.year()
    };
    NaiveDate::from_ymd_opt(year, 8, 31).unwrap_or(day)
}

/// What the register says for one person and one channel on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Consent on file, holding until the day given.
    Consent { until: NaiveDate },
    /// Nothing on file.
    None,
    /// Withdrawn at that time: nothing overrides it.
    Withdrawn { at: DateTime<Utc> },
    /// Consent given, but it ran out on that day.
    Expired { on: NaiveDate },
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent { .. } => "consent",
            Self::None => "none",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Expired { .. } => "expired",
        }
    }

    pub fn is_consent(self) -> bool {
        matches!(self, Self::Consent { .. })
    }
}

/// The answer for `channel` on `today` from one person's records (any order).
pub fn answer(records: &[ConsentRecord], channel: Channel, today: NaiveDate) -> Answer {
    let latest = records
        .iter()
        .filter(|r| r.channel == channel)
        .max_by_key(|r| r.at);
    match latest {
        None => Answer::None,
        Some(r) if r.state == ConsentState::Withdrawn => Answer::Withdrawn { at: r.at },
        Some(r) => {
            let until = r
                .expires
                .unwrap_or_else(|| end_of_school_year(r.at.date_naive()));
            if today > until {
                Answer::Expired { on: until }
            } else {
                Answer::Consent { until }
            }
        }
    }
}

/// What a publication check concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everyone in the images has consent for the channel.
    Clear,
    /// Someone has no consent on file, or it expired: the headteacher's permission is
    /// needed first.
    NeedsPermission,
    /// Someone withdrew consent: the images cannot go out with them in.
    Refused,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::NeedsPermission => "needs_permission",
            Self::Refused => "refused",
        }
    }
}

/// The verdict over everyone's answers: a withdrawal refuses, a gap needs permission.
pub fn verdict(answers: &[Answer]) -> Verdict {
    if answers
        .iter()
        .any(|a| matches!(a, Answer::Withdrawn { .. }))
    {
        Verdict::Refused
    } else if answers.iter().all(|a| a.is_consent()) {
        Verdict::Clear
    } else {
        Verdict::NeedsPermission
    }
}

/// The longest description of what is being published.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// The most people one check may name.
pub const MAX_PEOPLE: usize = 200;

/// A check before images leave the school, as stored: who asked, for which channel and
/// what, each person's answer then, the verdict, and whether (and on whose permission)
/// the images were published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationCheck {
    pub id: i64,
    pub checked_by: crate::ids::PersonId,
    pub channel: Channel,
    pub description: String,
    pub at: DateTime<Utc>,
    pub people: Vec<CheckedPerson>,
    pub verdict: Verdict,
    pub published_at: Option<DateTime<Utc>>,
    /// The headteacher's approval of a photo-posting request that stood in for missing
    /// consent.
    pub permission: Option<crate::ids::RequestId>,
}

/// One person named in a check, with the register's answer at the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPerson {
    pub subject: Subject,
    pub name: String,
    /// `consent`, `none`, `withdrawn` or `expired`.
    pub answer: String,
}

/// Images to take down: consent was withdrawn after they were published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakedownTask {
    pub id: i64,
    pub check: i64,
    pub channel: Channel,
    pub description: String,
    pub subject_name: String,
    pub raised_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

impl Verdict {
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Clear, Self::NeedsPermission, Self::Refused]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The fingerprint of the address a parent's link was sent to, as its ledger entry keeps
/// it: SHA-256 of the link's token hash and the address, lower-cased.
pub fn link_address_sha256(token_sha256: &str, email: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(token_sha256.as_bytes());
    h.update(b"\n");
    h.update(email.to_lowercase().as_bytes());
    hex::encode(h.finalize())
}

/// How long a parent's consent link works after it is sent.
pub const PARENT_LINK_VALID_FOR: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// What a parent or carer sees through their link: only their own children (the pupils on
/// roll who list their address as a contact), with each child's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentView {
    pub school_name: String,
    pub contact_name: String,
    pub expires_at: DateTime<Utc>,
    pub children: Vec<(crate::pupils::Pupil, Vec<ConsentRecord>)>,
}

/// The email carrying a parent's single-use link (`url`). It names the school, not the
/// children.
pub fn parent_link_mail(
    school: crate::ids::SchoolId,
    school_name: &str,
    to: &crate::pupils::Contact,
    url: &str,
    token_sha256: &str,
    at: DateTime<Utc>,
) -> crate::outbox::NewMail {
    crate::outbox::NewMail {
        school,
        dedupe_key: format!(
            "parent-link:{}",
            &token_sha256[..token_sha256.len().min(32)]
        ),
        to_email: to.email.clone(),
        to_name: to.name.to_string(),
        subject: format!("{school_name}: consent for photos of your child"),
        text_body: format!(
            "Dear {},\n\n{school_name} asks whether photos and videos of your child may be used on the school website, in the local press, in a photo gallery, on the school's social media and in displays in school. You can give or withdraw consent for each at this link, which works once within {} days:\n\n{url}\n\nYou can change your mind at any time: ask the school office for a new link.\n",
            to.name,
            PARENT_LINK_VALID_FOR.num_days()
        ),
        attachments: Vec::new(),
        not_before: at,
        unless_signed: None,
        deferred: None,
    }
}

/// The email telling a publisher to take images down. It names nobody: the task is read
/// in Undersign.
pub fn takedown_mail(
    publisher: &crate::person::Person,
    task: i64,
    description: &str,
    channel: Channel,
    at: DateTime<Utc>,
) -> crate::outbox::NewMail {
    let what: String = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let what: String = what.chars().take(80).collect();
    crate::outbox::NewMail {
        school: publisher.school,
        dedupe_key: format!("takedown:{task}"),
        to_email: publisher.email.clone(),
        to_name: publisher.full_name.to_string(),
        subject: format!("Please take down images you published: {what}"),
        text_body: format!(
            "Dear {},\n\nConsent has been withdrawn for someone in the images you published on {} (\"{what}\"). Please take them down, then sign in to Undersign and open Requests → Take-down tasks to record that you have.\n",
            publisher.full_name,
            channel.label()
        ),
        attachments: Vec::new(),
        not_before: at,
        unless_signed: None,
        deferred: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn record(
        channel: Channel,
        state: ConsentState,
        at: &str,
        expires: Option<&str>,
    ) -> ConsentRecord {
        let d = day(at);
        ConsentRecord {
            channel,
            state,
            at: Utc
                .with_ymd_and_hms(d.year(), d.month(), d.day(), 9, 0, 0)
                .unwrap(),
            source: Source::PaperForm,
            expires: expires.map(day),
        }
    }

    #[test]
    fn a_consent_holds_until_the_end_of_its_school_year_unless_it_says_otherwise() {
        assert_eq!(end_of_school_year(day("2026-09-01")), day("2027-08-31"));
        assert_eq!(end_of_school_year(day("2027-08-31")), day("2027-08-31"));
        let given = [record(
            Channel::Website,
            ConsentState::Given,
            "2026-09-10",
            None,
        )];
        assert_eq!(
            answer(&given, Channel::Website, day("2027-08-31")),
            Answer::Consent {
                until: day("2027-08-31")
            }
        );
        assert_eq!(
            answer(&given, Channel::Website, day("2027-09-01")),
            Answer::Expired {
                on: day("2027-08-31")
            }
        );
        assert_eq!(
            answer(&given, Channel::LocalPress, day("2026-10-01")),
            Answer::None
        );
        let short = [record(
            Channel::LocalPress,
            ConsentState::Given,
            "2026-09-10",
            Some("2026-12-31"),
        )];
        assert!(matches!(
            answer(&short, Channel::LocalPress, day("2027-01-01")),
            Answer::Expired { .. }
        ));
    }

    #[test]
    fn the_latest_record_decides_and_a_withdrawal_is_never_outweighed() {
        let records = [
            record(Channel::Website, ConsentState::Given, "2026-09-10", None),
            record(
                Channel::Website,
                ConsentState::Withdrawn,
                "2026-10-01",
                None,
            ),
        ];
        assert!(matches!(
            answer(&records, Channel::Website, day("2026-10-02")),
            Answer::Withdrawn { .. }
        ));
        let again = [
            records[0].clone(),
            records[1].clone(),
            record(Channel::Website, ConsentState::Given, "2026-11-01", None),
        ];
        assert!(answer(&again, Channel::Website, day("2026-11-02")).is_consent());
        let until = day("2027-08-31");
        let withdrawn = Answer::Withdrawn { at: records[1].at };
        assert_eq!(verdict(&[Answer::Consent { until }]), Verdict::Clear);
        assert_eq!(
            verdict(&[Answer::Consent { until }, Answer::None]),
            Verdict::NeedsPermission
        );
        assert_eq!(
            verdict(&[Answer::None, withdrawn, Answer::Expired { on: until }]),
            Verdict::Refused
        );
    }
}
