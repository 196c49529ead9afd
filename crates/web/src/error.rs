//! The one HTTP error type. Each variant maps to a status and a page that says what to do
//! next; internals (database messages) are logged, never shown.

use askama::Template;
use axum::extract::{OptionalFromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use undersign_core::person::{Role, Roles};
use undersign_core::store::StoreError;

use crate::AppState;
use crate::session::CurrentUser;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("log in to continue")]
    LoginRequired { next: String },
    #[error("you do not have access to this page")]
    Forbidden,
    #[error("page not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {minutes} minutes")]
    TooManyAttempts { minutes: i64 },
    #[error("something went wrong on our side")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(m) | StoreError::Refused(m) => AppError::Conflict(m),
            StoreError::Backend(m) => AppError::Internal(m),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView<'a> {
    nav: crate::render::Nav,
    title: &'a str,
    message: String,
    next_step: &'a str,
}

/// Which advice an error page gives; the words depend on who is reading (see
/// [`next_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advice {
    Forbidden,
    NotFound,
    BadRequest,
    Conflict,
    TooManyAttempts,
    Internal,
}

/// What an error page shows, kept on the response so that [`with_navigation`] can draw
/// the page again for a signed-in person, with their navigation and advice for their role.
#[derive(Debug, Clone)]
struct ShownError {
    title: &'static str,
    message: String,
    advice: Advice,
}

impl ShownError {
    fn render(&self, nav: crate::render::Nav, roles: Option<&Roles>) -> askama::Result<String> {
        ErrorView {
            nav,
            title: self.title,
            message: sentence(&self.message),
            next_step: next_step(self.advice, roles),
        }
        .render()
    }
}

/// What to do next, worded for the reader: nobody is told to ask themselves.
fn next_step(advice: Advice, roles: Option<&Roles>) -> &'static str {
    let has = |role: Role| roles.is_some_and(|r| r.contains(&role));
    match advice {
        Advice::Forbidden if has(Role::Headteacher) || has(Role::SchoolAdministrator) => {
            "What each person can open depends on their roles, which are set on the People page."
        }
        Advice::Forbidden => {
            "If you think you should have access, ask your headteacher or school administrator."
        }
        Advice::NotFound => "Check the address, or go back to your page.",
        Advice::BadRequest => "Go back, correct it and try again.",
        Advice::Conflict => "Go back and try something else.",
        Advice::TooManyAttempts if has(Role::SchoolAdministrator) => {
            "Wait, then try again. If you have forgotten your password, ask your headteacher or another administrator to set a new one."
        }
        Advice::TooManyAttempts => {
            "Wait, then try again. If you have forgotten your password, ask your school administrator."
        }
        Advice::Internal if has(Role::NetworkManager) => {
            "Nothing you entered was saved. Try again in a minute; if it keeps happening, the server's log says what went wrong."
        }
        Advice::Internal => {
            "Nothing you entered was saved. Try again in a minute; if it keeps happening, tell your network manager."
        }
    }
}

/// The message as a sentence: a capital letter first and a full stop at the end.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, advice) = match &self {
            AppError::LoginRequired { next } => {
                let target = format!("/login?next={}", crate::render::url_encode(next));
                return Redirect::to(&target).into_response();
            }
            AppError::Forbidden => (StatusCode::FORBIDDEN, "Not allowed", Advice::Forbidden),
            AppError::NotFound => (StatusCode::NOT_FOUND, "Page not found", Advice::NotFound),
            AppError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "That request could not be used",
                Advice::BadRequest,
            ),
            AppError::Conflict(_) => (
                StatusCode::CONFLICT,
                "That could not be done",
                Advice::Conflict,
            ),
            AppError::TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                Advice::TooManyAttempts,
            ),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    Advice::Internal,
                )
            }
        };
        let shown = ShownError {
            title,
            message: self.to_string(),
            advice,
        };
        let mut response = match shown.render(crate::render::Nav::anonymous(), None) {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        };
        response.extensions_mut().insert(shown);
        response
    }
}

/// Draws an error page again for a signed-in person: with the site's navigation, and
/// advice worded for their role. Errors are drawn without knowing who is reading (the
/// handler that failed may not have got as far as finding out); this layer looks up the
/// session only when a request has ended in an error page.
pub async fn with_navigation(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let signed_in = req.headers().contains_key(header::COOKIE);
    let (uri, headers) = (req.uri().clone(), req.headers().clone());
    let response = next.run(req).await;
    let Some(shown) = response.extensions().get::<ShownError>().cloned() else {
        return response;
    };
    if !signed_in {
        return response;
    }
    let mut again = Request::new(());
    *again.uri_mut() = uri;
    *again.headers_mut() = headers;
    let (mut parts, ()) = again.into_parts();
    let user =
        <CurrentUser as OptionalFromRequestParts<AppState>>::from_request_parts(&mut parts, &state)
            .await;
    let Ok(Some(user)) = user else {
        return response;
    };
    match shown.render(crate::render::Nav::for_user(&user), Some(&user.actor.roles)) {
        Ok(body) => (response.status(), Html(body)).into_response(),
        Err(_) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_shown_as_a_sentence() {
        assert_eq!(sentence("page not found"), "Page not found.");
        assert_eq!(sentence("already done."), "Already done.");
        assert_eq!(sentence("écrit"), "Écrit.");
    }

    #[test]
    fn nobody_is_told_to_ask_themselves() {
        let admin: Roles = [Role::SchoolAdministrator].into();
        let head: Roles = [Role::Headteacher].into();
        let network: Roles = [Role::NetworkManager].into();
        for advice in [Advice::Forbidden, Advice::TooManyAttempts] {
            assert!(
                !next_step(advice, Some(&admin)).contains("school administrator"),
                "{advice:?}"
            );
            assert!(next_step(advice, None).contains("school administrator"));
        }
        assert!(!next_step(Advice::Forbidden, Some(&head)).contains("headteacher"));
        assert!(!next_step(Advice::Internal, Some(&network)).contains("network manager"));
    }
}
