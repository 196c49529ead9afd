//! The one HTTP error type. Each variant maps to a status and a page that says what to do
//! next; internals (database messages) are logged, never shown.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use undersign_core::store::StoreError;

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

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, next_step) = match &self {
            AppError::LoginRequired { next } => {
                let target = format!("/login?next={}", crate::render::url_encode(next));
                return Redirect::to(&target).into_response();
            }
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "If you think you should have access, ask your headteacher or school administrator.",
            ),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "Check the address, or go back to your page.",
            ),
            AppError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "That request could not be used",
                "Go back, correct it and try again.",
            ),
            AppError::Conflict(_) => (
                StatusCode::CONFLICT,
                "That could not be done",
                "Go back and try something else.",
            ),
            AppError::TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "Wait, then try again. If you have forgotten your password, ask your school administrator.",
            ),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Nothing you entered was saved. Try again in a minute; if it keeps happening, tell your network manager.",
                )
            }
        };
        let view = ErrorView {
            nav: crate::render::Nav::anonymous(),
            title,
            message: self.to_string(),
            next_step,
        };
        match view.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}
