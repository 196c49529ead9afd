//! The signature form that the staff sign page and the reception kiosk share: its fields
//! as posted, the checks (core's [`SignForm::check`], the same rules for both), the
//! element each error belongs beside, and the view of the fields for the shared template
//! partial `signature_fields.html`.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeSet;
use undersign_core::ReferenceId;
use undersign_core::signing::{FormError, SignField, SignForm};

use super::FieldError;

/// The signature fields of a posted form.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SignatureFields {
    #[serde(default)]
    pub declaration: Option<String>,
    #[serde(default)]
    pub typed_name: String,
    #[serde(default)]
    pub signature_kind: String,
    #[serde(default)]
    pub typed_signature: String,
    #[serde(default)]
    pub signature_png: String,
    /// The documents ticked as read: one `ack` field per box.
    #[serde(default, deserialize_with = "references")]
    pub ack: Vec<ReferenceId>,
}

/// The `ack` values. The signature fields are read inside the page's own form (serde's
/// `flatten`), where every value arrives as text and a single box as one value rather
/// than a list, so both shapes are read here and each is parsed as a document number.
fn references<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ReferenceId>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let raw = match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    };
    raw.iter()
        .map(|v| {
            v.trim().parse::<i64>().map(ReferenceId).map_err(|_| {
                serde::de::Error::custom(format!("ack: {v:?} is not a document number"))
            })
        })
        .collect()
}

impl SignatureFields {
    /// The referenced documents ticked as read.
    pub(crate) fn acknowledged(&self) -> BTreeSet<ReferenceId> {
        self.ack.iter().copied().collect()
    }

    /// The fields for core's check.
    pub(crate) fn form<'a>(&'a self, acknowledged: &'a BTreeSet<ReferenceId>) -> SignForm<'a> {
        SignForm {
            declaration_ticked: self.declaration.is_some(),
            typed_name: &self.typed_name,
            signature_kind: &self.signature_kind,
            typed_signature: &self.typed_signature,
            drawn_signature: &self.signature_png,
            acknowledged,
        }
    }

    /// The fields to show again (never the drawing: it is drawn again).
    pub(crate) fn view(
        &self,
        declaration: &str,
        name_hint: String,
        errors: &[FieldError],
    ) -> SignatureFieldsView {
        SignatureFieldsView {
            declaration: declaration.to_string(),
            declaration_ticked: self.declaration.is_some(),
            typed_name: self.typed_name.clone(),
            name_hint,
            signature_kind: if self.signature_kind == "drawn" {
                "drawn".into()
            } else {
                "typed".into()
            },
            typed_signature: self.typed_signature.clone(),
            errors: errors.to_vec(),
        }
    }
}

/// The id of the element a field's error is shown beside and linked to.
pub(crate) fn element_id(field: SignField) -> String {
    match field {
        SignField::Reference(id) => format!("ack-{id}"),
        SignField::Declaration => "declaration".into(),
        SignField::TypedName => "typed_name".into(),
        SignField::SignatureKind => "signature_kind-typed".into(),
        SignField::TypedSignature => "typed_signature".into(),
        SignField::DrawnSignature => "signature-canvas".into(),
    }
}

/// Core's form errors as the page's error summary lines, in the order of the fields.
pub(crate) fn field_errors(errors: Vec<FormError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError::new(element_id(e.field), e.message))
        .collect()
}

/// What `signature_fields.html` shows: the declaration, the full name and the signature,
/// each with its error beside it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignatureFieldsView {
    pub declaration: String,
    pub declaration_ticked: bool,
    pub typed_name: String,
    /// What the typed name must match, in words ("As it appears on your school record.").
    pub name_hint: String,
    /// `typed` or `drawn`.
    pub signature_kind: String,
    pub typed_signature: String,
    pub errors: Vec<FieldError>,
}

impl SignatureFieldsView {
    /// An empty form.
    pub(crate) fn new(declaration: &str, name_hint: String) -> Self {
        Self {
            declaration: declaration.to_string(),
            name_hint,
            signature_kind: "typed".into(),
            ..Self::default()
        }
    }

    /// The error shown beside the element with this id, if any.
    pub(crate) fn error(&self, id: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == id)
            .map(|e| e.message.as_str())
    }
}

impl SignatureFieldsView {
    /// The error shown beside the "I have read …" box of one referenced document.
    pub(crate) fn ack_error(&self, reference: impl std::fmt::Display) -> Option<&str> {
        self.error(&format!("ack-{reference}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::FromRequest;
    use axum_extra::extract::Form;

    /// A page's own form with the signature fields inside, as the sign page and the kiosk
    /// read them.
    #[derive(Deserialize)]
    struct Post {
        #[serde(default)]
        csrf_token: String,
        #[serde(flatten)]
        signature: SignatureFields,
    }

    async fn read(body: &'static str) -> Result<Post, String> {
        let req = axum::http::Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap();
        Form::<Post>::from_request(req, &())
            .await
            .map(|Form(p)| p)
            .map_err(|e| e.body_text())
    }

    #[tokio::test]
    async fn one_two_or_no_ticked_documents_are_read_inside_a_pages_form() {
        let one = read("csrf_token=t&declaration=yes&typed_name=Sam&ack=4")
            .await
            .unwrap();
        assert_eq!(one.csrf_token, "t");
        assert_eq!(one.signature.ack, vec![ReferenceId(4)]);
        assert!(one.signature.declaration.is_some());
        let two = read("ack=4&typed_name=Sam&ack=9").await.unwrap();
        assert_eq!(two.signature.ack, vec![ReferenceId(4), ReferenceId(9)]);
        assert_eq!(two.signature.typed_name, "Sam");
        let none = read("typed_name=Sam").await.unwrap();
        assert!(none.signature.ack.is_empty());
        assert!(none.signature.declaration.is_none());
        let bad = read("ack=four").await.err().unwrap();
        assert!(bad.contains("\"four\" is not a document number"), "{bad}");
    }
}
