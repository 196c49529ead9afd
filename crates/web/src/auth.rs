//! Accounts and sessions: argon2id passwords, login with throttling, a fresh session id at
//! every login, logout, password change, and the [`CurrentUser`] extractor that every
//! signed-in page starts from.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use chrono::{Duration, Utc};
use rand::RngCore;
use serde::Deserialize;
use std::net::SocketAddr;
use undersign_core::access::Actor;
use undersign_core::person::{Email, Person};
use undersign_core::policy::sha256_hex;
use undersign_core::school::School;
use undersign_core::signing::{AuthMethod, RequestContext};
use undersign_core::store::SessionRecord;

use crate::AppState;
use crate::csrf::check_token;
use crate::error::{AppError, AppResult};
use crate::render::{Nav, page};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "undersign_session";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins allowed per email address in [`THROTTLE_MINUTES`].
pub const MAX_FAILURES_PER_EMAIL: u32 = 5;
/// Failed logins allowed per client address in [`THROTTLE_MINUTES`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 30;
pub const THROTTLE_MINUTES: i64 = 15;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password hash could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash password: {0}")]
pub struct HashError(String);

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password against the rules, with a message to show.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > 256 {
        return Err("a password is at most 256 characters".into());
    }
    if password != confirm {
        return Err("the two new passwords are not the same".into());
    }
    Ok(())
}

async fn hash_blocking(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

async fn verify_blocking(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false)
}

/// A random token, 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The client as recorded in evidence: address and user agent.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

impl Client {
    pub fn context(&self, auth: AuthMethod) -> RequestContext {
        RequestContext::new(self.ip.clone(), &self.user_agent, auth)
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit(',').next())
                    .map(|v| v.trim().to_string())
            })
            .flatten();
        let ip = forwarded
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(Client { ip, user_agent })
    }
}

/// The signed-in person, their school, and what their roles allow.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub actor: Actor,
    pub person: Person,
    pub school: School,
    pub csrf_token: String,
    pub session_sha256: String,
    pub auth: AuthMethod,
}

impl CurrentUser {
    /// Checks the form token of a state-changing request.
    pub fn check_csrf(&self, submitted: &str) -> AppResult<()> {
        check_token(&self.csrf_token, submitted)
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/me".into());
        let login = || AppError::LoginRequired { next: next.clone() };
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_string())
            .ok_or_else(login)?;
        let token_sha256 = sha256_hex(token.as_bytes());
        let session = state
            .store
            .session(&token_sha256, Utc::now())
            .await?
            .ok_or_else(login)?;
        let person = state
            .store
            .person(session.school, session.person)
            .await?
            .ok_or_else(login)?;
        let school = state
            .store
            .school(session.school)
            .await?
            .ok_or_else(login)?;
        let auth = match session.auth_method.as_str() {
            "email_link" => AuthMethod::EmailLink,
            _ => AuthMethod::Password,
        };
        Ok(CurrentUser {
            actor: Actor {
                school: person.school,
                person: person.id,
                roles: person.roles.clone(),
            },
            person,
            school,
            csrf_token: session.csrf_token,
            session_sha256: token_sha256,
            auth,
        })
    }
}

/// Pages open to everyone that show more to a signed-in person take `Option<CurrentUser>`.
impl axum::extract::OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(AppError::LoginRequired { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route(
            "/account/password",
            get(password_page).post(change_password),
        )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginView {
    nav: Nav,
    error: Option<String>,
    email: String,
    next: String,
    schools: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site: never `//host` or an absolute URL.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/me".into(),
    }
}

async fn login_page(Query(q): Query<NextQuery>) -> AppResult<Response> {
    Ok(page(&LoginView {
        nav: Nav::anonymous(),
        error: None,
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        schools: Vec::new(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
    school: Option<String>,
}

// A valid hash to verify against when the email is unknown, so that an unknown address
// takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Qm0dJ3uVb3xw3Cw0aDgM9cFF0cQbq5yCw1oqb1n3e0";

async fn login(
    State(state): State<AppState>,
    client: Client,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    let retry =
        |error: &str, status: StatusCode, schools: Vec<(String, String)>| -> AppResult<Response> {
            Ok((
                status,
                page(&LoginView {
                    nav: Nav::anonymous(),
                    error: Some(error.to_string()),
                    email: form.email.trim().to_string(),
                    next: next.clone(),
                    schools,
                })?,
            )
                .into_response())
        };
    let Ok(email) = Email::parse(&form.email) else {
        return retry(
            "Enter the email address and password of your school account.",
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
        );
    };
    let since = Utc::now() - Duration::minutes(THROTTLE_MINUTES);
    let email_key = format!("email:{email}");
    let ip_key = format!("ip:{}", client.ip);
    if state.store.login_failures_since(&email_key, since).await? >= MAX_FAILURES_PER_EMAIL
        || state.store.login_failures_since(&ip_key, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(AppError::TooManyAttempts {
            minutes: THROTTLE_MINUTES,
        });
    }

    let accounts = state.store.login_accounts(&email).await?;
    let mut matched = Vec::new();
    if accounts.is_empty() {
        verify_blocking(DUMMY_HASH.into(), form.password.clone()).await;
    }
    for account in accounts {
        if verify_blocking(account.password_hash.clone(), form.password.clone()).await {
            matched.push(account);
        }
    }
    if matched.is_empty() {
        let now = Utc::now();
        state.store.record_login_failure(&email_key, now).await?;
        state.store.record_login_failure(&ip_key, now).await?;
        return retry(
            "The email address or password is not right.",
            StatusCode::UNAUTHORIZED,
            Vec::new(),
        );
    }
    let chosen = match (matched.len(), form.school.as_deref()) {
        (1, _) => matched.swap_remove(0),
        (_, Some(id)) if matched.iter().any(|a| a.person.school.to_string() == id) => {
            let pos = matched
                .iter()
                .position(|a| a.person.school.to_string() == id)
                .unwrap_or(0);
            matched.swap_remove(pos)
        }
        _ => {
            let schools = matched
                .iter()
                .map(|a| (a.person.school.to_string(), a.school_name.clone()))
                .collect();
            return retry(
                "You have accounts in more than one school: choose one and enter your password again.",
                StatusCode::OK,
                schools,
            );
        }
    };
    state.store.clear_login_failures(&email_key).await?;

    // A new session id at every login; any session the browser had is ended.
    if let Some(old) = jar.get(SESSION_COOKIE) {
        state
            .store
            .delete_session(&sha256_hex(old.value().as_bytes()))
            .await?;
    }
    let jar = start_session(&state, jar, &chosen.person, "password").await?;
    tracing::info!(school = %chosen.person.school, person = %chosen.person.id, "logged in");
    Ok((jar, Redirect::to(&next)).into_response())
}

async fn start_session(
    state: &AppState,
    jar: CookieJar,
    person: &Person,
    method: &str,
) -> AppResult<CookieJar> {
    let token = random_token();
    let now = undersign_core::time::now();
    state
        .store
        .create_session(SessionRecord {
            token_sha256: sha256_hex(token.as_bytes()),
            school: person.school,
            person: person.id,
            csrf_token: random_token(),
            auth_method: method.to_string(),
            created_at: now,
            expires_at: now + Duration::hours(SESSION_HOURS),
        })
        .await?;
    Ok(jar.add(session_cookie(state, token)))
}

/// The cookie that carries a session's token.
pub(crate) fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .build()
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf_token: String,
}

async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    state.store.delete_session(&user.session_sha256).await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    Ok((jar, Redirect::to("/login")).into_response())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordView {
    nav: Nav,
    error: Option<String>,
    done: bool,
    min_chars: usize,
}

async fn password_page(user: CurrentUser) -> AppResult<Response> {
    Ok(page(&PasswordView {
        nav: Nav::for_user(&user),
        error: None,
        done: false,
        min_chars: MIN_PASSWORD_CHARS,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf_token: String,
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    user.check_csrf(&form.csrf_token)?;
    let fail = |error: String| -> AppResult<Response> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&PasswordView {
                nav: Nav::for_user(&user),
                error: Some(error),
                done: false,
                min_chars: MIN_PASSWORD_CHARS,
            })?,
        )
            .into_response())
    };
    let current_hash = state
        .store
        .password_hash(user.school.id, user.person.id)
        .await?
        .unwrap_or_default();
    if !verify_blocking(current_hash, form.current.clone()).await {
        return fail("Your current password is not right.".into());
    }
    if let Err(message) = check_new_password(&form.new, &form.confirm) {
        return fail(format!("New password: {message}."));
    }
    let hash = hash_blocking(form.new.clone()).await?;
    state
        .store
        .set_password(user.school.id, user.person.id, &hash)
        .await?;
    // Every other session of this person ends; this browser gets a new one.
    state
        .store
        .delete_sessions_of(user.school.id, user.person.id)
        .await?;
    let jar = start_session(&state, jar, &user.person, "password").await?;
    Ok((
        jar,
        page(&PasswordView {
            nav: Nav::for_user(&user),
            error: None,
            done: true,
            min_chars: MIN_PASSWORD_CHARS,
        })?,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_emails_cost_the_same() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(safe_next(Some("/sign/3")), "/sign/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/me");
        assert_eq!(safe_next(Some("https://evil.example/")), "/me");
        assert_eq!(safe_next(None), "/me");
    }
}
