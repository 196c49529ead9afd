//! The email built from an outbox row: plain text, attachments, and a `Message-ID` that
//! depends only on the school and the outbox id, so that a message sent twice (see the
//! crate's header) is recognisably the same message.

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use undersign_core::SchoolId;
use undersign_core::outbox::{MailId, OutgoingMail};

/// Why an outbox row cannot be made into an email. Permanent: trying again would not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message cannot be built: {0}")]
pub struct BuildError(String);

/// `<undersign.<school>.<outbox id>@<sender's domain>>`.
pub fn message_id(school: SchoolId, id: MailId, from: &Mailbox) -> String {
    format!("<undersign.{school}.{id}@{}>", from.email.domain())
}

/// The message for `mail`, from `from`.
pub fn build_message(mail: &OutgoingMail, from: &Mailbox) -> Result<Message, BuildError> {
    let to_address = mail
        .to_email
        .as_str()
        .parse()
        .map_err(|e| BuildError(format!("recipient {}: {e}", mail.to_email)))?;
    let to_name = mail.to_name.trim();
    let to = Mailbox::new(
        (!to_name.is_empty()).then(|| to_name.to_string()),
        to_address,
    );
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(message_id(mail.school, mail.id, from)))
        // RFC 3834: an automatic message; out-of-office replies should not answer it.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_string(),
        ));
    let text = SinglePart::plain(mail.text_body.clone());
    let built = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in &mail.attachments {
            let content_type = ContentType::parse(&a.content_type).map_err(|e| {
                BuildError(format!(
                    "attachment {} has content type {:?}: {e}",
                    a.filename, a.content_type
                ))
            })?;
            parts = parts.singlepart(
                Attachment::new(a.filename.clone()).body(a.bytes.clone(), content_type),
            );
        }
        builder.multipart(parts)
    };
    built.map_err(|e| BuildError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use undersign_core::outbox::Attachment as MailAttachment;
    use undersign_core::person::Email;

    fn outgoing() -> OutgoingMail {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        OutgoingMail {
            id: MailId(42),
            school: SchoolId(3),
            school_name: "Demo Primary".into(),
            dedupe_key: "invite:v1:p2".into(),
            to_email: Email::parse("sam@school.example").unwrap(),
            to_name: "Sam Taylor".into(),
            subject: "Please sign: ICT Acceptable Use Policy".into(),
            text_body: "Dear Sam,\n\nPlease read and sign the policy — thank you.\n".into(),
            attachments: vec![MailAttachment {
                filename: "receipt.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7 not really".to_vec(),
            }],
            deferred: None,
            attempts: 1,
            due_since: t,
            created_at: t,
            claimed_until: t,
        }
    }

    fn from() -> Mailbox {
        "Undersign <undersign@school.example>".parse().unwrap()
    }

    #[test]
    fn the_message_id_names_the_school_and_outbox_row() {
        assert_eq!(
            message_id(SchoolId(3), MailId(42), &from()),
            "<undersign.3.42@school.example>"
        );
    }

    #[test]
    fn a_message_carries_its_id_recipient_text_and_attachment() {
        let raw =
            String::from_utf8(build_message(&outgoing(), &from()).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Message-ID: <undersign.3.42@school.example>"),
            "{raw}"
        );
        assert!(
            raw.contains("To: \"Sam Taylor\" <sam@school.example>"),
            "{raw}"
        );
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("multipart/mixed"));
        assert!(raw.contains("filename=\"receipt.pdf\""), "{raw}");
    }

    #[test]
    fn an_unusable_content_type_is_a_build_error() {
        let mut m = outgoing();
        m.attachments[0].content_type = "not a type".into();
        let err = build_message(&m, &from()).unwrap_err().to_string();
        assert!(err.contains("receipt.pdf"), "{err}");
    }
}
