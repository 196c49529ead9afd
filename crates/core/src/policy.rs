//! Policies and their versions. A published version's text is frozen: a change is always
//! a new version, marked major (everyone in the audience signs again) or minor (nobody is
//! asked again). Referenced documents belong to the version and are frozen with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

use crate::ids::{PersonId, PolicyId, ReferenceId, SchoolId, VersionId};
use crate::person::{Audience, InputError};

/// The declaration a signer agrees to, unless a version sets its own.
pub const DEFAULT_DECLARATION: &str = "I have read the above statements and the documents listed, and I agree to follow this code of conduct and to support the safe and appropriate use of ICT throughout the school and in my online activity.";

/// Whether a new version asks everyone to sign again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Major,
    Minor,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Major => "major",
            ChangeKind::Minor => "minor",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        match raw.trim() {
            "major" => Ok(ChangeKind::Major),
            "minor" => Ok(ChangeKind::Minor),
            other => Err(InputError::new(
                "change kind",
                format!("choose major or minor, not {other:?}"),
            )),
        }
    }
}

/// A policy title: 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InputError> {
        let t = crate::person::collapse_spaces(raw);
        if t.is_empty() {
            return Err(InputError::new(field, "enter a title"));
        }
        if t.chars().count() > 200 {
            return Err(InputError::new(field, "a title is at most 200 characters"));
        }
        if t.chars().any(char::is_control) {
            return Err(InputError::new(
                field,
                "a title cannot contain control characters",
            ));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A policy, across its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub id: PolicyId,
    pub school: SchoolId,
    pub title: String,
    pub created_at: DateTime<Utc>,
}

/// A document a version refers to, whose reading is acknowledged in the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencedDocument {
    pub id: ReferenceId,
    pub title: String,
    pub source: ReferenceSource,
    /// SHA-256 of the uploaded text, or of the link's address.
    pub sha256: String,
}

/// Where a referenced document lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReferenceSource {
    Link { url: String },
    Text { body: String },
}

/// A referenced document before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReference {
    pub title: Title,
    pub source: ReferenceSource,
}

impl NewReference {
    /// A link: an absolute http(s) address.
    pub fn link(title: &str, url: &str) -> Result<Self, InputError> {
        let title = Title::parse("document title", title)?;
        let parsed = url::Url::parse(url.trim()).map_err(|_| {
            InputError::new(
                "document link",
                "enter a full address starting with https://",
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(InputError::new(
                "document link",
                "the address must start with https:// or http://",
            ));
        }
        Ok(Self {
            title,
            source: ReferenceSource::Link {
                url: parsed.to_string(),
            },
        })
    }

    /// An uploaded plain text, at most 200 KB.
    pub fn text(title: &str, body: &str) -> Result<Self, InputError> {
        let title = Title::parse("document title", title)?;
        if body.trim().is_empty() {
            return Err(InputError::new(
                "document text",
                "the document text is empty",
            ));
        }
        if body.len() > crate::markdown::MAX_POLICY_BYTES {
            return Err(InputError::new(
                "document text",
                "the document text is larger than 200 KB",
            ));
        }
        Ok(Self {
            title,
            source: ReferenceSource::Text {
                body: body.to_string(),
            },
        })
    }

    pub fn sha256(&self) -> String {
        match &self.source {
            ReferenceSource::Link { url } => sha256_hex(url.as_bytes()),
            ReferenceSource::Text { body } => sha256_hex(body.as_bytes()),
        }
    }
}

/// Draft or published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Draft,
    Published,
}

/// One version of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub id: VersionId,
    pub school: SchoolId,
    pub policy: PolicyId,
    pub policy_title: String,
    /// 1, 2, 3 … within the policy.
    pub number: i32,
    pub body_md: String,
    /// SHA-256 (hex) of `body_md`: the exact text shown to signers.
    pub text_sha256: String,
    pub declaration: String,
    pub change_kind: ChangeKind,
    pub summary: String,
    pub audiences: BTreeSet<Audience>,
    pub references: Vec<ReferencedDocument>,
    pub status: VersionStatus,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<PersonId>,
}

/// The fields of a draft version, checked.
#[derive(Debug, Clone)]
pub struct DraftInput {
    pub body_md: String,
    pub declaration: String,
    pub change_kind: ChangeKind,
    pub summary: String,
    pub audiences: BTreeSet<Audience>,
}

impl DraftInput {
    /// Checks the markdown (see [`crate::markdown`]) and the other fields.
    pub fn parse(
        body_md: &str,
        declaration: &str,
        change_kind: ChangeKind,
        summary: &str,
        audiences: BTreeSet<Audience>,
    ) -> Result<Self, DraftError> {
        let body_md = body_md.replace("\r\n", "\n");
        crate::markdown::render_policy(&body_md).map_err(DraftError::Markdown)?;
        let declaration = crate::person::collapse_spaces(declaration);
        let declaration = if declaration.is_empty() {
            DEFAULT_DECLARATION.to_string()
        } else {
            declaration
        };
        if declaration.chars().count() > 2000 || declaration.contains(['<', '>']) {
            return Err(DraftError::Input(InputError::new(
                "declaration",
                "the declaration is plain text of at most 2000 characters",
            )));
        }
        let summary = summary.trim().replace("\r\n", "\n");
        if summary.chars().count() > 4000 {
            return Err(DraftError::Input(InputError::new(
                "what changed",
                "the summary is at most 4000 characters",
            )));
        }
        if audiences.is_empty() {
            return Err(DraftError::Input(InputError::new(
                "audience",
                "choose at least one audience",
            )));
        }
        Ok(Self {
            body_md,
            declaration,
            change_kind,
            summary,
            audiences,
        })
    }

    pub fn text_sha256(&self) -> String {
        sha256_hex(self.body_md.as_bytes())
    }
}

/// Why a draft was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("policy text, {0}")]
    Markdown(crate::markdown::MarkdownError),
    #[error(transparent)]
    Input(InputError),
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_with_script_is_refused_and_names_the_line() {
        let err = DraftInput::parse(
            "- one\n- two <script>x</script>\n",
            "",
            ChangeKind::Major,
            "",
            [Audience::Staff].into(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("policy text, line 2:"), "{err}");
    }

    #[test]
    fn a_draft_needs_an_audience_and_gets_the_default_declaration() {
        assert!(DraftInput::parse("- x", "", ChangeKind::Minor, "", BTreeSet::new()).is_err());
        let d = DraftInput::parse(
            "- x\r\n",
            " ",
            ChangeKind::Minor,
            "",
            [Audience::Staff].into(),
        )
        .unwrap();
        assert_eq!(d.declaration, DEFAULT_DECLARATION);
        assert_eq!(d.body_md, "- x\n");
    }

    #[test]
    fn references_must_be_web_links_or_text() {
        assert!(NewReference::link("Council social media policy", "javascript:alert(1)").is_err());
        let r = NewReference::link(
            "Council social media policy",
            "https://www.sefton.gov.uk/smp",
        )
        .unwrap();
        assert_eq!(r.sha256().len(), 64);
        assert!(NewReference::text("Doc", "  ").is_err());
    }
}
