//! The wording of every chasing mail: invitations, reminders, the Chase button's mail and
//! the digests to line managers and headteachers.

use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeSet;

use crate::compliance::{PersonFacts, Standing};
use crate::ids::PersonId;

use super::*;

/// The wording of every mail: plain, friendly, British English.
pub(super) struct Texts<'a> {
    pub(super) school: &'a str,
    pub(super) base: &'a url::Url,
}

/// "Monday 7 December 2026".
pub(super) fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// A link on this installation: `base` with `path` appended (whether or not `base` ends
/// with a slash).
pub fn link(base: &url::Url, path: &str) -> String {
    let base = base.as_str();
    let base = base.strip_suffix('/').unwrap_or(base);
    format!("{base}/{path}")
}

impl Texts<'_> {
    pub(super) fn sign_link(&self, o: &Outstanding<'_>) -> String {
        link(self.base, &format!("sign/{}", o.policy.version))
    }

    pub(super) fn footer(&self) -> String {
        format!(
            "You can see everything you have been asked to sign at {me}.\n\n\
             No password? Governors, and anyone else who does not have one, can ask for a \
             sign-in link by email at {login}.\n\n\
             Thank you,\n{school}\n",
            me = link(self.base, "me"),
            login = link(self.base, "login/link"),
            school = self.school,
        )
    }

    pub(super) fn due_sentence(&self, o: &Outstanding<'_>) -> String {
        if o.standing.standing == Standing::Overdue {
            format!(
                "It was due by {}, so it is now overdue: please sign it as soon as you can.",
                long_date(o.standing.due)
            )
        } else {
            format!("Please sign it by {}.", long_date(o.standing.due))
        }
    }

    pub(super) fn mail(
        &self,
        o: &Outstanding<'_>,
        kind: MailKind,
        key: String,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        PlannedMail {
            kind,
            dedupe_key: key,
            to: o.person.id,
            to_email: o.person.email.clone(),
            to_name: o.person.full_name.clone(),
            subject,
            text_body: body,
            not_before: now,
            unless_signed: Some((o.person.id, o.policy.version)),
        }
    }

    pub(super) fn invitation(&self, o: &Outstanding<'_>, now: DateTime<Utc>) -> PlannedMail {
        let p = o.policy;
        let what = if o.asked_at > o.standing_published_at() {
            format!(
                "Welcome to {school}. Everyone here is asked to read and sign {title} \
                 (version {n}), and now it is your turn.",
                school = self.school,
                title = p.title,
                n = p.number
            )
        } else {
            format!(
                "{school} has published version {n} of {title}, and everyone it applies to \
                 is asked to read and sign it.",
                school = self.school,
                title = p.title,
                n = p.number
            )
        };
        let body = format!(
            "Dear {name},\n\n{what}\n\n{due}\n\nRead and sign it here:\n{link}\n\n{footer}",
            name = o.person.full_name,
            due = self.due_sentence(o),
            link = self.sign_link(o),
            footer = self.footer(),
        );
        self.mail(
            o,
            MailKind::Invitation,
            format!("invite:v{}:p{}", o.asking, o.person.id),
            format!(
                "Please read and sign {} (version {}) - {}",
                p.title, p.number, self.school
            ),
            body,
            now,
        )
    }

    pub(super) fn reminder(&self, o: &Outstanding<'_>, n: u32, now: DateTime<Utc>) -> PlannedMail {
        let p = o.policy;
        let body = format!(
            "Dear {name},\n\nThis is a friendly reminder from {school}: you were asked on \
             {asked} to read and sign {title} (version {n}), and we have not yet had your \
             signature.\n\n{due}\n\nRead and sign it here:\n{link}\n\nIf you have signed it \
             in the last few minutes, thank you, and please ignore this message.\n\n{footer}",
            name = o.person.full_name,
            school = self.school,
            asked = long_date(o.asked),
            title = p.title,
            n = p.number,
            due = self.due_sentence(o),
            link = self.sign_link(o),
            footer = self.footer(),
        );
        self.mail(
            o,
            MailKind::Reminder(n),
            format!("remind:v{}:p{}:{n}", o.asking, o.person.id),
            format!(
                "Reminder: please sign {} (version {}) - {}",
                p.title, p.number, self.school
            ),
            body,
            now,
        )
    }

    pub(super) fn chase(
        &self,
        o: &Outstanding<'_>,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        let p = o.policy;
        let body = format!(
            "Dear {name},\n\n{school} has asked us to remind you that {title} (version {n}) \
             is still waiting for your signature. You were asked to sign it on {asked}.\n\n\
             {due}\n\nRead and sign it here:\n{link}\n\n{footer}",
            name = o.person.full_name,
            school = self.school,
            title = p.title,
            n = p.number,
            asked = long_date(o.asked),
            due = self.due_sentence(o),
            link = self.sign_link(o),
            footer = self.footer(),
        );
        self.mail(
            o,
            MailKind::Chase,
            format!("chase:v{}:p{}:{today}", o.asking, o.person.id),
            format!(
                "Reminder: please sign {} (version {}) - {}",
                p.title, p.number, self.school
            ),
            body,
            now,
        )
    }

    /// One line per person and policy, most outstanding first.
    pub(super) fn list(&self, list: &[&Outstanding<'_>], today: NaiveDate) -> String {
        let mut sorted: Vec<&&Outstanding<'_>> = list.iter().collect();
        sorted.sort_by(|a, b| {
            b.days_outstanding(today)
                .cmp(&a.days_outstanding(today))
                .then(a.person.full_name.cmp(&b.person.full_name))
                .then(a.policy.title.cmp(&b.policy.title))
        });
        let mut out = String::new();
        for o in sorted {
            let late = if o.standing.days_overdue > 0 {
                format!(
                    ", {} day{} overdue",
                    o.standing.days_overdue,
                    if o.standing.days_overdue == 1 {
                        ""
                    } else {
                        "s"
                    }
                )
            } else {
                String::new()
            };
            out.push_str(&format!(
                "- {name} ({email}): {title}, version {n}. Asked on {asked}, due by {due}{late}.\n",
                name = o.person.full_name,
                email = o.person.email,
                title = o.policy.title,
                n = o.policy.number,
                asked = long_date(o.asked),
                due = long_date(o.standing.due),
            ));
        }
        out
    }

    pub(super) fn digest(
        &self,
        to: &PersonFacts,
        kind: MailKind,
        key: String,
        subject: String,
        body: String,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        PlannedMail {
            kind,
            dedupe_key: key,
            to: to.id,
            to_email: to.email.clone(),
            to_name: to.full_name.clone(),
            subject,
            text_body: body,
            not_before: now,
            unless_signed: None,
        }
    }

    pub(super) fn manager_digest(
        &self,
        manager: &PersonFacts,
        list: &[&Outstanding<'_>],
        days: i64,
        week: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        let people: BTreeSet<PersonId> = list.iter().map(|o| o.person.id).collect();
        let body = format!(
            "Dear {name},\n\nThese people you line manage at {school} have not yet signed \
             what they were asked to sign {days} or more days ago:\n\n{list}\n\
             They are being reminded by email. A word from you would help: they can read and \
             sign at {me}.\n\nYou will get this summary at most once a week while anyone \
             you manage is on it.\n\n{school}\n",
            name = manager.full_name,
            school = self.school,
            list = self.list(list, today),
            me = link(self.base, "me"),
        );
        self.digest(
            manager,
            MailKind::ManagerDigest,
            format!("escalate:manager:p{}:{week}", manager.id),
            format!(
                "{} of your team {} not yet signed - {}",
                people.len(),
                if people.len() == 1 { "has" } else { "have" },
                self.school
            ),
            body,
            now,
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one digest, its list and where it stands in time"
    )]
    pub(super) fn head_digest(
        &self,
        head: &PersonFacts,
        late: &[&Outstanding<'_>],
        declined: usize,
        days: i64,
        week: &str,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> PlannedMail {
        let people: BTreeSet<PersonId> = late.iter().map(|o| o.person.id).collect();
        let declines = match declined {
            0 => String::new(),
            1 => format!(
                "1 person has declined to sign; their reason is at {}.\n\n",
                link(self.base, "declines")
            ),
            n => format!(
                "{n} people have declined to sign; their reasons are at {}.\n\n",
                link(self.base, "declines")
            ),
        };
        let body = format!(
            "Dear {name},\n\nThese people at {school} have not yet signed what they were \
             asked to sign {days} or more days ago, despite reminders (and their line \
             managers have been told):\n\n{list}\n{declines}\
             The full picture, with filters and a Chase button, is at {compliance}.\n\n\
             You will get this summary at most once a week while anyone is on it.\n\n{school}\n",
            name = head.full_name,
            school = self.school,
            list = self.list(late, today),
            compliance = link(self.base, "compliance"),
        );
        self.digest(
            head,
            MailKind::HeadDigest,
            format!("escalate:head:p{}:{week}", head.id),
            format!(
                "{} {} not yet signed after {days} days - {}",
                people.len(),
                if people.len() == 1 {
                    "person has"
                } else {
                    "people have"
                },
                self.school
            ),
            body,
            now,
        )
    }
}
