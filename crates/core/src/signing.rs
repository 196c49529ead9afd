//! Signing: what a signer must supply (the declaration ticked, their full name typed, a
//! signature drawn or typed, every referenced document acknowledged), how it is checked,
//! and the evidence recorded with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::ids::{DeclineId, PersonId, PolicyId, ReferenceId, SchoolId, SignatureId, VersionId};
use crate::person::{FullName, InputError};
use crate::policy::{PolicyVersion, sha256_hex};

mod served;
pub use served::{SERVED_VALID_FOR, Served};

/// The largest drawn signature accepted, in bytes of PNG.
pub const MAX_SIGNATURE_PNG_BYTES: usize = 100 * 1024;
/// The largest drawn signature accepted, in pixels.
pub const MAX_SIGNATURE_WIDTH: u32 = 2000;
pub const MAX_SIGNATURE_HEIGHT: u32 = 1000;

/// The signature itself: drawn on a canvas (PNG) or typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureMark {
    Drawn { png: Vec<u8> },
    Typed { text: String },
}

impl SignatureMark {
    /// A drawn signature from a `data:image/png;base64,…` URL (what the canvas gives).
    pub fn drawn_from_data_url(data_url: &str) -> Result<Self, InputError> {
        use base64::Engine;
        let field = "signature";
        let b64 = data_url
            .trim()
            .strip_prefix("data:image/png;base64,")
            .ok_or_else(|| InputError::new(field, "the drawn signature must be a PNG image"))?;
        // base64 is 4/3 of the bytes: refuse before decoding anything huge.
        if b64.len() > MAX_SIGNATURE_PNG_BYTES * 4 / 3 + 4 {
            return Err(InputError::new(
                field,
                format!(
                    "the drawn signature is too large (at most {} KB)",
                    MAX_SIGNATURE_PNG_BYTES / 1024
                ),
            ));
        }
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| InputError::new(field, "the drawn signature is not valid base64"))?;
        Self::drawn(png)
    }

    /// A drawn signature from PNG bytes: checks the PNG signature and IHDR size.
    pub fn drawn(png: Vec<u8>) -> Result<Self, InputError> {
        let field = "signature";
        if png.len() > MAX_SIGNATURE_PNG_BYTES {
            return Err(InputError::new(
                field,
                format!(
                    "the drawn signature is too large (at most {} KB)",
                    MAX_SIGNATURE_PNG_BYTES / 1024
                ),
            ));
        }
        const MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
        if png.len() < 24 || !png.starts_with(MAGIC) || &png[12..16] != b"IHDR" {
            return Err(InputError::new(
                field,
                "the drawn signature is not a PNG image",
            ));
        }
        let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
        let (width, height) = (dim(16), dim(20));
        if width == 0 || height == 0 || width > MAX_SIGNATURE_WIDTH || height > MAX_SIGNATURE_HEIGHT
        {
            return Err(InputError::new(
                field,
                format!(
                    "the drawn signature is {width}×{height} pixels; at most {MAX_SIGNATURE_WIDTH}×{MAX_SIGNATURE_HEIGHT} is accepted"
                ),
            ));
        }
        Ok(Self::Drawn { png })
    }

    /// A typed signature: the same characters a name may have, at most 100.
    pub fn typed(text: &str) -> Result<Self, InputError> {
        let parsed = FullName::parse(text).map_err(|e| {
            InputError::new("typed signature", e.to_string().replace("full name: ", ""))
        })?;
        Ok(Self::Typed {
            text: parsed.as_str().to_string(),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SignatureMark::Drawn { .. } => "drawn",
            SignatureMark::Typed { .. } => "typed",
        }
    }

    /// SHA-256 of the PNG bytes or of the typed text.
    pub fn sha256(&self) -> String {
        match self {
            SignatureMark::Drawn { png } => sha256_hex(png),
            SignatureMark::Typed { text } => sha256_hex(text.as_bytes()),
        }
    }
}

/// How the person proved who they were for this request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum AuthMethod {
    Password,
    EmailLink,
    Kiosk {
        device: String,
    },
    Assisted {
        by: PersonId,
        reason: String,
    },
    /// A session begun from a password reset link that someone else (an administrator)
    /// sent: whoever could read the person's mail at that moment could have signed.
    ResetLink {
        sent_by: PersonId,
    },
    /// Any other way in, on an account whose email address someone else changed less than
    /// [`EMAIL_CHANGE_WATCH`] before (`changed_by` is `None` for the command line): links
    /// and resets went to the new address, chosen by them.
    AfterEmailChange {
        via: Box<AuthMethod>,
        changed_by: Option<PersonId>,
        changed_at: DateTime<Utc>,
    },
}

/// How long after someone else changes a person's email their signatures say so.
pub const EMAIL_CHANGE_WATCH: chrono::TimeDelta = chrono::TimeDelta::days(14);

impl AuthMethod {
    pub fn label(&self) -> String {
        match self {
            AuthMethod::Password => "password".into(),
            AuthMethod::EmailLink => "email link".into(),
            AuthMethod::Kiosk { device } => format!("kiosk {device}"),
            AuthMethod::Assisted { by, reason } => format!("assisted by person {by}: {reason}"),
            AuthMethod::ResetLink { sent_by } => {
                format!(
                    "a password reset link sent by person {sent_by}, not a password of their own"
                )
            }
            AuthMethod::AfterEmailChange {
                via,
                changed_by,
                changed_at,
            } => format!(
                "{}, on an account whose email was changed by {} at {}",
                via.label(),
                changed_by.map_or("the operator".to_string(), |p| format!("person {p}")),
                crate::time::rfc3339(*changed_at)
            ),
        }
    }

    /// This way in, marked if someone other than `person` changed the account's email
    /// within [`EMAIL_CHANGE_WATCH`] before `now`.
    pub fn after_email_change(
        self,
        person: PersonId,
        changed: Option<(Option<PersonId>, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Self {
        match changed {
            Some((by, at)) if by != Some(person) && now - at < EMAIL_CHANGE_WATCH => {
                AuthMethod::AfterEmailChange {
                    via: Box::new(self),
                    changed_by: by,
                    changed_at: at,
                }
            }
            _ => self,
        }
    }
}

/// Where a request came from, as recorded in evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    pub ip: String,
    pub user_agent: String,
    pub auth: AuthMethod,
    /// When the text being signed or declined was served to this person, from the sealed
    /// token the sign page put in its form ([`Served`]); `None` when the form carried
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_at: Option<DateTime<Utc>>,
}

impl RequestContext {
    /// Bounds what is stored from the client: a user agent is cut at 512 characters.
    pub fn new(ip: String, user_agent: &str, auth: AuthMethod) -> Self {
        let user_agent: String = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(512)
            .collect();
        Self {
            ip,
            user_agent,
            auth,
            served_at: None,
        }
    }

    /// The same request, for a text served at `at`.
    pub fn served(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.served_at = at;
        self
    }
}

/// Why a signing could not go ahead at all (the form's own problems are [`FormError`]s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("this version is not published")]
    NotPublished,
    #[error("this version is not for you to sign")]
    NotInAudience,
    #[error("this version has been replaced; sign the current one")]
    Superseded,
}

/// A field of the signing form. The staff sign page and the reception kiosk show the same
/// fields, checked by the same rules ([`SignForm::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignField {
    /// "I have read …" for one referenced document.
    Reference(ReferenceId),
    Declaration,
    TypedName,
    /// The choice between a typed and a drawn signature.
    SignatureKind,
    TypedSignature,
    DrawnSignature,
}

/// One problem with a signing form: the field, and a sentence that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FormError {
    pub field: SignField,
    pub message: String,
}

impl FormError {
    fn new(field: SignField, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// The longest full name the form reads; anything longer cannot match a name on file.
pub const MAX_TYPED_NAME_CHARS: usize = 200;

/// The name the typed name must match: a person's record, or the name a visitor gave at
/// reception a moment ago (the message says which).
#[derive(Debug, Clone, Copy)]
pub enum NameOnFile<'a> {
    Record(&'a FullName),
    GivenAtReception(&'a FullName),
}

impl NameOnFile<'_> {
    fn name(&self) -> &FullName {
        match self {
            NameOnFile::Record(n) | NameOnFile::GivenAtReception(n) => n,
        }
    }

    fn mismatch(&self) -> String {
        match self {
            NameOnFile::Record(n) => format!(
                "The name you typed does not match the name on your record ({n}); type your full name as it appears there"
            ),
            NameOnFile::GivenAtReception(n) => format!(
                "The name you typed does not match the name you gave ({n}); type it the same way"
            ),
        }
    }
}

/// What the signer sent, before checking: the form's fields as text.
#[derive(Debug, Clone, Copy)]
pub struct SignForm<'a> {
    pub declaration_ticked: bool,
    pub typed_name: &'a str,
    /// `typed`, `drawn`, or empty (typed).
    pub signature_kind: &'a str,
    pub typed_signature: &'a str,
    /// A `data:image/png;base64,…` URL from the canvas.
    pub drawn_signature: &'a str,
    pub acknowledged: &'a BTreeSet<ReferenceId>,
}

/// A signing form that passed every check: what staff and visitor signatures share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSignature {
    pub typed_name: String,
    pub mark: SignatureMark,
    pub references: Vec<AcknowledgedReference>,
}

/// "Tick the declaration" from "declaration: tick …": an input error as a sentence.
fn sentence(e: &InputError) -> String {
    let InputError::Invalid { message, .. } = e;
    let mut c = message.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl SignForm<'_> {
    /// Checks the form against the name on file and the version shown. Every problem is
    /// returned, each with its field, in the order the fields are on the page.
    pub fn check(
        &self,
        name: NameOnFile<'_>,
        version: &PolicyVersion,
    ) -> Result<CheckedSignature, Vec<FormError>> {
        let mut errors = Vec::new();
        let mut references = Vec::new();
        for r in &version.references {
            if self.acknowledged.contains(&r.id) {
                references.push(AcknowledgedReference {
                    id: r.id,
                    title: r.title.clone(),
                    sha256: r.sha256.clone(),
                });
            } else {
                errors.push(FormError::new(
                    SignField::Reference(r.id),
                    format!("Confirm that you have read {}", r.title),
                ));
            }
        }
        if !self.declaration_ticked {
            errors.push(FormError::new(
                SignField::Declaration,
                "Tick the declaration to confirm you agree",
            ));
        }
        if self.typed_name.trim().is_empty() {
            errors.push(FormError::new(SignField::TypedName, "Type your full name"));
        } else if self.typed_name.chars().count() > MAX_TYPED_NAME_CHARS
            || !name.name().matches_typed(self.typed_name)
        {
            errors.push(FormError::new(SignField::TypedName, name.mismatch()));
        }
        let mark = match self.signature_kind {
            "drawn" if self.drawn_signature.trim().is_empty() => Err(FormError::new(
                SignField::DrawnSignature,
                "Draw your signature in the box, or choose to type it instead",
            )),
            "drawn" => SignatureMark::drawn_from_data_url(self.drawn_signature)
                .map_err(|e| FormError::new(SignField::DrawnSignature, sentence(&e))),
            "typed" | "" if self.typed_signature.trim().is_empty() => Err(FormError::new(
                SignField::TypedSignature,
                "Type your signature, or choose to draw it instead",
            )),
            "typed" | "" => SignatureMark::typed(self.typed_signature).map_err(|e| {
                FormError::new(
                    SignField::TypedSignature,
                    format!(
                        "Signature: {}",
                        e.to_string().replace("typed signature: ", "")
                    ),
                )
            }),
            _ => Err(FormError::new(
                SignField::SignatureKind,
                "Choose to type or draw your signature",
            )),
        };
        match mark {
            Ok(mark) if errors.is_empty() => Ok(CheckedSignature {
                typed_name: crate::person::collapse_spaces(self.typed_name),
                mark,
                references,
            }),
            Ok(_) => Err(errors),
            Err(e) => {
                errors.push(e);
                Err(errors)
            }
        }
    }
}

/// A signature ready to store: every field checked against the person and the version.
#[derive(Debug, Clone)]
pub struct SignatureInput {
    pub school: SchoolId,
    pub person: PersonId,
    pub version: VersionId,
    pub typed_name: String,
    pub mark: SignatureMark,
    pub text_sha256: String,
    pub declaration: String,
    pub references: Vec<AcknowledgedReference>,
    pub context: RequestContext,
}

/// A referenced document as acknowledged in a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgedReference {
    pub id: ReferenceId,
    pub title: String,
    pub sha256: String,
}

impl SignatureInput {
    /// Checks a staff signing form against the signer's record and the version shown.
    pub fn check(
        form: SignForm<'_>,
        signer_name: &FullName,
        person: PersonId,
        version: &PolicyVersion,
        context: RequestContext,
    ) -> Result<Self, Vec<FormError>> {
        let checked = form.check(NameOnFile::Record(signer_name), version)?;
        Ok(Self {
            school: version.school,
            person,
            version: version.id,
            typed_name: checked.typed_name,
            mark: checked.mark,
            text_sha256: version.text_sha256.clone(),
            declaration: version.declaration.clone(),
            references: checked.references,
            context,
        })
    }
}

/// A decline with its reason.
#[derive(Debug, Clone)]
pub struct DeclineInput {
    pub school: SchoolId,
    pub person: PersonId,
    pub version: VersionId,
    pub reason: String,
    pub context: RequestContext,
}

impl DeclineInput {
    pub fn parse_reason(raw: &str) -> Result<String, InputError> {
        let reason = raw.trim().replace("\r\n", "\n");
        if reason.is_empty() {
            return Err(InputError::new("reason", "say why you are declining"));
        }
        if reason.chars().count() > 2000 {
            return Err(InputError::new(
                "reason",
                "a reason is at most 2000 characters",
            ));
        }
        Ok(reason)
    }
}

/// A stored signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub id: SignatureId,
    pub school: SchoolId,
    pub person: PersonId,
    pub version: VersionId,
    pub policy: PolicyId,
    pub policy_title: String,
    pub version_number: i32,
    pub typed_name: String,
    pub mark_kind: String,
    pub mark_sha256: String,
    pub text_sha256: String,
    pub declaration: String,
    pub references: Vec<AcknowledgedReference>,
    pub context: RequestContext,
    pub signed_at: DateTime<Utc>,
    /// The ledger entry that records it.
    pub ledger_seq: i64,
    pub ledger_hash: String,
}

/// The result of recording a signature: a second submission gets the first one back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOutcome {
    Recorded(Signature),
    AlreadySigned(Signature),
}

impl SignOutcome {
    pub fn signature(&self) -> &Signature {
        match self {
            SignOutcome::Recorded(s) | SignOutcome::AlreadySigned(s) => s,
        }
    }
}

/// A stored decline, for the headteacher's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decline {
    pub id: DeclineId,
    pub person: PersonId,
    pub person_name: String,
    pub version: VersionId,
    pub policy_title: String,
    pub version_number: i32,
    pub reason: String,
    pub declined_at: DateTime<Utc>,
}

/// Something a person must sign, with the version they last signed of the same policy
/// (for the "what changed" summary and the redline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Obligation {
    pub policy: PolicyId,
    pub policy_title: String,
    pub version: VersionId,
    pub version_number: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub last_signed: Option<VersionId>,
    pub declined: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend(width.to_be_bytes());
        v.extend(height.to_be_bytes());
        v.extend([8, 6, 0, 0, 0]);
        v
    }

    #[test]
    fn a_drawn_signature_must_be_a_small_png() {
        assert!(SignatureMark::drawn(png(600, 200)).is_ok());
        let not_png = SignatureMark::drawn(b"GIF89a....................".to_vec()).unwrap_err();
        assert!(not_png.to_string().contains("not a PNG"));
        let huge = SignatureMark::drawn(png(5000, 200)).unwrap_err();
        assert!(huge.to_string().contains("5000×200"), "{huge}");
        let heavy = SignatureMark::drawn(vec![0; MAX_SIGNATURE_PNG_BYTES + 1]).unwrap_err();
        assert!(heavy.to_string().contains("too large"));
    }

    #[test]
    fn a_data_url_that_is_not_png_is_refused() {
        let err =
            SignatureMark::drawn_from_data_url("data:image/svg+xml;base64,PHN2Zz4=").unwrap_err();
        assert_eq!(err.field(), "signature");
    }

    #[test]
    fn a_typed_signature_follows_the_name_rules() {
        assert!(SignatureMark::typed("Sam Staff").is_ok());
        let err = SignatureMark::typed("<b>x</b>").unwrap_err();
        assert_eq!(err.field(), "typed signature");
    }

    fn version_with_one_reference() -> PolicyVersion {
        use crate::policy::{ChangeKind, ReferenceSource, ReferencedDocument, VersionStatus};
        PolicyVersion {
            id: VersionId(7),
            school: SchoolId(1),
            policy: PolicyId(2),
            policy_title: "ICT Acceptable Use Policy".into(),
            number: 3,
            body_md: "1. I will be careful.\n".into(),
            text_sha256: sha256_hex(b"1. I will be careful.\n"),
            declaration: "I agree.".into(),
            change_kind: ChangeKind::Major,
            summary: String::new(),
            audiences: BTreeSet::new(),
            references: vec![ReferencedDocument {
                id: ReferenceId(5),
                title: "Social Media Policy".into(),
                source: ReferenceSource::Link {
                    url: "https://council.example/social".into(),
                },
                sha256: sha256_hex(b"https://council.example/social"),
            }],
            status: VersionStatus::Published,
            created_at: Utc::now(),
            published_at: Some(Utc::now()),
            published_by: None,
        }
    }

    fn form<'a>(
        typed_name: &'a str,
        typed_signature: &'a str,
        acknowledged: &'a BTreeSet<ReferenceId>,
    ) -> SignForm<'a> {
        SignForm {
            declaration_ticked: false,
            typed_name,
            signature_kind: "typed",
            typed_signature,
            drawn_signature: "",
            acknowledged,
        }
    }

    #[test]
    fn every_problem_is_returned_with_its_field_in_the_order_of_the_page() {
        let version = version_with_one_reference();
        let name = FullName::parse("Sam Staff").unwrap();
        let none = BTreeSet::new();
        let errors = form("", "<b>", &none)
            .check(NameOnFile::Record(&name), &version)
            .unwrap_err();
        let fields: Vec<SignField> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![
                SignField::Reference(ReferenceId(5)),
                SignField::Declaration,
                SignField::TypedName,
                SignField::TypedSignature,
            ]
        );
        assert!(
            errors
                .iter()
                .all(|e| e.message.starts_with(char::is_uppercase))
        );
        assert_eq!(
            errors[0].message,
            "Confirm that you have read Social Media Policy"
        );
    }

    #[test]
    fn staff_and_visitors_are_held_to_the_same_rules_with_their_own_wording() {
        let version = version_with_one_reference();
        let name = FullName::parse("Val Visitor").unwrap();
        let acknowledged: BTreeSet<ReferenceId> = [ReferenceId(5)].into();
        let too_long = "x".repeat(MAX_TYPED_NAME_CHARS + 1);
        for typed in ["Someone Else", too_long.as_str()] {
            let staff = form(typed, "Val Visitor", &acknowledged)
                .check(NameOnFile::Record(&name), &version)
                .unwrap_err();
            let given = crate::visits::VisitorName::parse("Val Visitor").unwrap();
            let visitor = crate::visits::VisitSignature::check(
                form(typed, "Val Visitor", &acknowledged),
                &given,
                &version,
            )
            .unwrap_err();
            let fields = |e: &[FormError]| e.iter().map(|e| e.field).collect::<Vec<_>>();
            assert_eq!(fields(&staff), fields(&visitor));
            assert!(
                staff[1]
                    .message
                    .contains("name on your record (Val Visitor)"),
                "{}",
                staff[1]
            );
            assert!(
                visitor[1]
                    .message
                    .contains("the name you gave (Val Visitor)"),
                "{}",
                visitor[1]
            );
        }
    }

    #[test]
    fn a_complete_form_gives_the_signature_with_every_reference_acknowledged() {
        let version = version_with_one_reference();
        let name = FullName::parse("Sam Staff").unwrap();
        let acknowledged: BTreeSet<ReferenceId> = [ReferenceId(5)].into();
        let mut f = form("  sam   staff ", "Sam Staff", &acknowledged);
        f.declaration_ticked = true;
        let checked = f.check(NameOnFile::Record(&name), &version).unwrap();
        assert_eq!(checked.typed_name, "sam staff");
        assert_eq!(checked.mark.kind(), "typed");
        assert_eq!(checked.references.len(), 1);
        assert_eq!(checked.references[0].title, "Social Media Policy");
        f.signature_kind = "drawn";
        let errors = f.check(NameOnFile::Record(&name), &version).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, SignField::DrawnSignature);
    }
}
