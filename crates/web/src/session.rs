//! Who is asking: the [`Client`] as recorded in evidence, the signed-in [`CurrentUser`]
//! that every signed-in page starts from, the session cookie, and [`Can`], the extractor
//! that hands a handler a capability only when the person's roles allow it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use chrono::{Duration, Utc};
use rand::RngCore;
use std::net::SocketAddr;
use undersign_core::access::{
    Actor, ComplianceViewer, KioskAdmin, LogReportViewer, OrganisationViewer, PeopleAdmin,
    PolicyPublisher, Reception, SafeguardingLead, WebRulesOwner,
};
use undersign_core::person::Person;
use undersign_core::policy::sha256_hex;
use undersign_core::school::School;
use undersign_core::signing::{AuthMethod, RequestContext};
use undersign_core::store::{SessionRecord, SignedIn};

use crate::AppState;
use crate::csrf::check_token;
use crate::error::{AppError, AppResult};

/// The session cookie's name over plain HTTP (the demo, tests).
pub const SESSION_COOKIE: &str = "undersign_session";
/// Its name behind TLS: the `__Host-` prefix makes browsers refuse it unless it is
/// `Secure`, for this host only (no `Domain`) and for the whole site, so a sibling
/// subdomain cannot plant or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-undersign_session";

/// The session cookie's name for this installation.
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// A random token, 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The client as recorded in evidence: address and user agent.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's address, as recorded in evidence (see [`crate::proxies`]).
    pub ip: String,
    /// What throttles count the client as: the address, or an IPv6 address's /64.
    pub throttle_key: String,
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
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let (ip, throttle_key) = match peer {
            Some(peer) => {
                let client = state.config.trusted_proxies.client(
                    peer,
                    parts
                        .headers
                        .get_all("x-forwarded-for")
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                );
                (client.to_string(), crate::proxies::throttle_key(client))
            }
            None => ("unknown".to_string(), "unknown".to_string()),
        };
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(Client {
            ip,
            throttle_key,
            user_agent,
        })
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
    /// A second capability inside a handler that already has one from [`Can`] (for
    /// example the compliance figures on a publisher's page); 403 if the roles do not
    /// grant it.
    pub fn can<C: Capability>(&self) -> AppResult<C> {
        C::grant(&self.actor).ok_or(AppError::Forbidden)
    }

    /// Checks the form token of a state-changing request.
    pub fn check_csrf(&self, submitted: &str) -> AppResult<()> {
        check_token(&self.csrf_token, submitted)
    }

    /// Today in the school's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        undersign_core::time::now()
            .with_timezone(&self.school.timezone.tz())
            .date_naive()
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
            .get(session_cookie_name(state))
            .map(|c| c.value().to_string())
            .ok_or_else(login)?;
        let token_sha256 = sha256_hex(token.as_bytes());
        let SignedIn {
            session,
            person,
            school,
        } = state
            .store
            .signed_in(&token_sha256, Utc::now())
            .await?
            .ok_or_else(login)?;
        let auth = match session.auth_method.as_str() {
            "email_link" => AuthMethod::EmailLink,
            method => match method
                .strip_prefix("reset_link:")
                .and_then(|by| by.parse().ok())
            {
                Some(sent_by) => AuthMethod::ResetLink { sent_by },
                None => AuthMethod::Password,
            },
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

pub(crate) async fn start_session(
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

/// After a sign-in or reset link started a session (`token` is its cookie value): ends
/// any session the browser had, so the session id is new at every sign-in, and sends the
/// browser to its page with the new cookie.
pub(crate) async fn replace_browser_session(
    state: &AppState,
    jar: CookieJar,
    token: String,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    if let Some(old) = jar.get(session_cookie_name(state)) {
        state
            .store
            .delete_session(&sha256_hex(old.value().as_bytes()))
            .await?;
    }
    let jar = jar.add(session_cookie(state, token));
    Ok((jar, axum::response::Redirect::to("/me")).into_response())
}

/// The cookie that carries a session's token.
pub(crate) fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((session_cookie_name(state), token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .build()
}

/// A capability that an [`Actor`]'s roles may grant (see `undersign_core::access`).
pub trait Capability: Sized + Send {
    /// The capability, if the actor's roles allow it.
    fn grant(actor: &Actor) -> Option<Self>;
}

macro_rules! capability {
    ($($cap:ident => $method:ident),* $(,)?) => {$(
        impl Capability for $cap {
            fn grant(actor: &Actor) -> Option<Self> {
                actor.$method()
            }
        }
    )*};
}

capability! {
    PeopleAdmin => people_admin,
    PolicyPublisher => policy_publisher,
    ComplianceViewer => compliance_viewer,
    OrganisationViewer => organisation_viewer,
    KioskAdmin => kiosk_admin,
    Reception => reception,
    WebRulesOwner => web_rules_owner,
    SafeguardingLead => safeguarding_lead,
    LogReportViewer => log_report_viewer,
}

/// The signed-in person with a capability their roles grant, for handlers that need one:
/// `Can { user, cap: publisher }: Can<PolicyPublisher>`. Someone not signed in is sent to
/// log in; someone whose roles do not grant it gets 403 before the handler runs, so a
/// handler cannot forget the check.
pub struct Can<C> {
    pub user: CurrentUser,
    pub cap: C,
}

impl<C: Capability> FromRequestParts<AppState> for Can<C> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user =
            <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        let cap = C::grant(&user.actor).ok_or(AppError::Forbidden)?;
        Ok(Can { user, cap })
    }
}
