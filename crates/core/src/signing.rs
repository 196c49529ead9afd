//! Signing: what a signer must supply (the declaration ticked, their full name typed, a
//! signature drawn or typed, every referenced document acknowledged), how it is checked,
//! and the evidence recorded with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::ids::{DeclineId, PersonId, PolicyId, ReferenceId, SchoolId, SignatureId, VersionId};
use crate::person::{FullName, InputError};
use crate::policy::{PolicyVersion, sha256_hex};

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
    Kiosk { device: String },
    Assisted { by: PersonId, reason: String },
}

impl AuthMethod {
    pub fn label(&self) -> String {
        match self {
            AuthMethod::Password => "password".into(),
            AuthMethod::EmailLink => "email link".into(),
            AuthMethod::Kiosk { device } => format!("kiosk {device}"),
            AuthMethod::Assisted { by, reason } => format!("assisted by person {by}: {reason}"),
        }
    }
}

/// Where a request came from, as recorded in evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    pub ip: String,
    pub user_agent: String,
    pub auth: AuthMethod,
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
        }
    }
}

/// Why a signature was refused. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("tick the declaration to confirm you agree")]
    DeclarationNotTicked,
    #[error(
        "the name you typed does not match the name on your record ({expected}); type your full name as it appears there"
    )]
    NameMismatch { expected: String },
    #[error("confirm that you have read {title}")]
    ReferenceNotAcknowledged { title: String },
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("this version is not published")]
    NotPublished,
    #[error("this version is not for you to sign")]
    NotInAudience,
    #[error("this version has been replaced; sign the current one")]
    Superseded,
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

/// What the signer sent, before checking.
#[derive(Debug, Clone)]
pub struct SignForm<'a> {
    pub declaration_ticked: bool,
    pub typed_name: &'a str,
    pub mark: Result<SignatureMark, InputError>,
    pub acknowledged: &'a BTreeSet<ReferenceId>,
}

impl SignatureInput {
    /// Checks a signing form against the signer's record and the version shown.
    pub fn check(
        form: SignForm<'_>,
        signer_name: &FullName,
        person: PersonId,
        version: &PolicyVersion,
        context: RequestContext,
    ) -> Result<Self, SignError> {
        if !form.declaration_ticked {
            return Err(SignError::DeclarationNotTicked);
        }
        if form.typed_name.trim().is_empty() {
            return Err(InputError::new("full name", "type your full name").into());
        }
        if !signer_name.matches_typed(form.typed_name) {
            return Err(SignError::NameMismatch {
                expected: signer_name.to_string(),
            });
        }
        let mark = form.mark?;
        let mut references = Vec::new();
        for r in &version.references {
            if !form.acknowledged.contains(&r.id) {
                return Err(SignError::ReferenceNotAcknowledged {
                    title: r.title.clone(),
                });
            }
            references.push(AcknowledgedReference {
                id: r.id,
                title: r.title.clone(),
                sha256: r.sha256.clone(),
            });
        }
        Ok(Self {
            school: version.school,
            person,
            version: version.id,
            typed_name: crate::person::collapse_spaces(form.typed_name),
            mark,
            text_sha256: version.text_sha256.clone(),
            declaration: version.declaration.clone(),
            references,
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
}
