//! The HTML pages, one module per feature, each exposing `router()`, merged here into
//! the one router the application serves.

mod assets;
mod block_reports;
mod chasing;
mod compliance;
mod consent;
mod disclosures;
pub(crate) mod documents;
mod kiosk;
mod login;
mod login_link;
mod logs;
mod me;
mod outbox;
mod password;
mod password_reset;
mod people;
mod policies;
mod pupils;
mod reception;
mod requests;
mod roster;
mod safeguarding;
mod signature_form;
mod signing;
mod verify;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(assets::router())
        .merge(block_reports::router())
        .merge(login::router())
        .merge(login_link::router())
        .merge(password::router())
        .merge(password_reset::router())
        .merge(me::router())
        .merge(signing::router())
        .merge(policies::router())
        .merge(people::router())
        .merge(outbox::router())
        .merge(compliance::router())
        .merge(chasing::router())
        .merge(roster::router())
        .merge(kiosk::router())
        .merge(reception::router())
        .merge(verify::router())
        .merge(documents::router())
        .merge(disclosures::router())
        .merge(requests::router())
        .merge(consent::router())
        .merge(pupils::router())
        .merge(safeguarding::router())
        .merge(logs::router())
}

/// One line of an error summary: the field's element id and the message.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A message as a sentence: its first letter in capitals.
pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The error to show beside a field, for templates: `errors.beside("email")` gives the
/// message of the field whose element id is `email`, if it has one.
pub(crate) trait FieldErrors {
    fn beside(&self, id: &str) -> Option<&str>;
}

impl FieldErrors for Vec<FieldError> {
    fn beside(&self, id: &str) -> Option<&str> {
        self.iter()
            .find(|e| e.field == id)
            .map(|e| e.message.as_str())
    }
}

/// Reads an upload form: its CSRF token and the bytes of its `file` field (`None` when no
/// file, or an empty one, was sent). Other fields are ignored.
pub(crate) async fn read_upload(
    mut multipart: axum::extract::Multipart,
) -> crate::error::AppResult<(String, Option<Vec<u8>>)> {
    use crate::error::AppError;
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("the upload could not be read: {e}")))?
    {
        match field.name() {
            Some("csrf_token") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
            }
            Some("file") => {
                let bytes = field.bytes().await.map_err(|e| {
                    AppError::BadRequest(format!("the file could not be read: {e}"))
                })?;
                file = Some(bytes.to_vec());
            }
            _ => {}
        }
    }
    Ok((csrf, file.filter(|b| !b.is_empty())))
}
