//! Visitors at reception: kiosk devices, the details a visitor gives, the visitor AUP they
//! sign (or an earlier signature that still covers them), and a visit's life on site.
//!
//! A visit's personal data is kept beside a random salt, and the ledger holds only
//! `SHA-256(salt ‖ canonical JSON of the personal fields)`: purging the data and the salt
//! after the school's retention period leaves an entry that still verifies but can no
//! longer be matched to a name by guessing.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ids::{KioskId, PersonId, SchoolId, VersionId, VisitId};
use crate::ledger::canonical_json;
use crate::person::{Email, FullName, InputError, collapse_spaces};
use crate::policy::{PolicyVersion, sha256_hex};
use crate::signing::{
    AcknowledgedReference, AuthMethod, FormError, NameOnFile, RequestContext, SignForm,
    SignatureMark,
};

/// Letters and digits that cannot be mistaken for one another when read off a badge.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters allowed in free-text visitor fields besides letters, digits and spaces.
const TEXT_PUNCTUATION: &[char] = &['-', '\'', '’', '.', ',', '&', '(', ')', '/'];

fn plain_text(field: &'static str, raw: &str, max: usize) -> Result<String, InputError> {
    let value = collapse_spaces(raw);
    if value.chars().count() > max {
        return Err(InputError::new(
            field,
            format!("{field} is at most {max} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == ' ' || TEXT_PUNCTUATION.contains(c)))
    {
        return Err(InputError::new(
            field,
            format!(
                "{field} may contain only letters, numbers, spaces and - ' . , & ( ) /, not {bad:?}"
            ),
        ));
    }
    Ok(value)
}

/// A visitor's full name: the rules of [`FullName`], reported against the `name` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VisitorName(FullName);

impl VisitorName {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        FullName::parse(raw).map(Self).map_err(|e| {
            InputError::new(
                "name",
                e.to_string()
                    .replace("full name: ", "")
                    .replace("enter a full name", "enter your full name"),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The name as a person's full name (the rules are the same).
    pub fn full_name(&self) -> &FullName {
        &self.0
    }

    /// Whether `typed` is this name, ignoring case and extra spaces.
    pub fn matches_typed(&self, typed: &str) -> bool {
        self.0.matches_typed(typed)
    }
}

/// The organisation a visitor comes from (optional): plain text, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganisationName(String);

impl OrganisationName {
    /// `None` for an empty entry.
    pub fn parse(raw: &str) -> Result<Option<Self>, InputError> {
        let value = plain_text("organisation", raw, 100)?;
        Ok((!value.is_empty()).then_some(Self(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A vehicle registration (optional): letters, digits and single spaces, upper-cased,
/// 2–10 characters (UK plates and foreign ones alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CarRegistration(String);

impl CarRegistration {
    /// `None` for an empty entry.
    pub fn parse(raw: &str) -> Result<Option<Self>, InputError> {
        let value = collapse_spaces(raw).to_uppercase();
        if value.is_empty() {
            return Ok(None);
        }
        if value.chars().count() > 10 || value.replace(' ', "").chars().count() < 2 {
            return Err(InputError::new(
                "car registration",
                "a registration is 2 to 10 letters and numbers, such as AB12 CDE",
            ));
        }
        if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
            return Err(InputError::new(
                "car registration",
                "a registration has only letters, numbers and spaces, such as AB12 CDE",
            ));
        }
        Ok(Some(Self(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The code a visitor is given on their first visit (shown on screen and on their badge)
/// and may type next time instead of their email: 8 characters, shown as `ABCD-EF23`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VisitorCode(String);

impl VisitorCode {
    /// Accepts the code with or without its hyphen, in any case; `None` for an empty entry.
    pub fn parse(raw: &str) -> Result<Option<Self>, InputError> {
        let value: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if value.is_empty() {
            return Ok(None);
        }
        if value.len() != 8 || !value.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            return Err(InputError::new(
                "visitor code",
                "a visitor code is 8 letters and numbers, such as ABCD-EF23; leave it empty if you do not have one",
            ));
        }
        Ok(Some(Self(format!("{}-{}", &value[..4], &value[4..]))))
    }

    /// A code from 8 random bytes (the caller supplies the randomness: this crate does no I/O).
    pub fn from_random(bytes: [u8; 8]) -> Self {
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
            .collect();
        let text: String = chars.iter().collect();
        Self(format!("{}-{}", &text[..4], &text[4..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A kiosk's name as the administrator knows it, e.g. "Main reception".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KioskName(String);

impl KioskName {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let value = plain_text("kiosk name", raw, 60)?;
        if value.is_empty() {
            return Err(InputError::new(
                "kiosk name",
                "name the kiosk, for example Main reception",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret a kiosk browser holds in its cookie: 32 random bytes, URL-safe base64 (43
/// characters). Only its SHA-256 is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct KioskToken(String);

impl std::fmt::Debug for KioskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KioskToken(…)")
    }
}

impl KioskToken {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let ok = raw.len() == 43
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(InputError::new(
                "kiosk",
                "this device's kiosk key is not valid",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks the kiosk up by.
    pub fn sha256(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// The token a kiosk's forms carry, so that a form cannot be sent from another page.
    pub fn form_token(&self) -> String {
        sha256_hex(format!("undersign-kiosk-form\n{}", self.0).as_bytes())
    }
}

/// The one-time code an administrator types into (or opens on) a new kiosk: 10 characters
/// shown as `ABCDE-FGH23`, valid for [`ENROLMENT_HOURS`].
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentCode(String);

/// How long an enrolment code stays valid.
pub const ENROLMENT_HOURS: i64 = 24;

impl std::fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentCode(…)")
    }
}

impl EnrolmentCode {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let value: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if value.len() != 10 || !value.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            return Err(InputError::new(
                "code",
                "an enrolment code is 10 letters and numbers, such as ABCDE-FGH23",
            ));
        }
        Ok(Self(value))
    }

    /// A code from 10 random bytes.
    pub fn from_random(bytes: [u8; 10]) -> Self {
        Self(
            bytes
                .iter()
                .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
                .collect(),
        )
    }

    /// As shown to the administrator.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }

    /// What the store keeps.
    pub fn sha256(&self) -> String {
        sha256_hex(format!("undersign-kiosk-enrolment\n{}", self.0).as_bytes())
    }
}

/// Why the receptionist signed for the visitor: 1–500 characters of plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssistReason(String);

impl AssistReason {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let value = collapse_spaces(raw);
        if value.is_empty() {
            return Err(InputError::new(
                "reason",
                "say why you are signing for the visitor, for example: cannot use the screen",
            ));
        }
        if value.chars().count() > 500 || value.contains(['<', '>']) {
            return Err(InputError::new(
                "reason",
                "the reason is plain text of at most 500 characters",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a visitor entered on the first screen, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorDetails {
    pub name: VisitorName,
    pub organisation: Option<OrganisationName>,
    pub host: PersonId,
    pub email: Option<Email>,
    pub car_registration: Option<CarRegistration>,
    /// The code from an earlier visit, if they typed one.
    pub code: Option<VisitorCode>,
}

impl VisitorDetails {
    /// Checks every field and returns every problem at once.
    pub fn parse(
        name: &str,
        organisation: &str,
        host: &str,
        email: &str,
        car_registration: &str,
        code: &str,
    ) -> Result<Self, Vec<InputError>> {
        let mut errors = Vec::new();
        let name = VisitorName::parse(name).map_err(|e| errors.push(e)).ok();
        let organisation = OrganisationName::parse(organisation)
            .map_err(|e| errors.push(e))
            .ok();
        let host = match host.trim().parse::<i64>() {
            Ok(id) if id > 0 => Some(PersonId(id)),
            _ => {
                errors.push(InputError::new("host", "choose who you are visiting"));
                None
            }
        };
        let email = if email.trim().is_empty() {
            Some(None)
        } else {
            Email::parse(email)
                .map(Some)
                .map_err(|e| errors.push(e))
                .ok()
        };
        let car_registration = CarRegistration::parse(car_registration)
            .map_err(|e| errors.push(e))
            .ok();
        let code = VisitorCode::parse(code).map_err(|e| errors.push(e)).ok();
        match (name, organisation, host, email, car_registration, code) {
            (Some(name), Some(organisation), Some(host), Some(email), Some(car), Some(code))
                if errors.is_empty() =>
            {
                Ok(Self {
                    name,
                    organisation,
                    host,
                    email,
                    car_registration: car,
                    code,
                })
            }
            _ => Err(errors),
        }
    }
}

/// The personal fields of a visit, as hashed into the ledger (with the salt) and purged
/// after the retention period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalData {
    pub full_name: String,
    pub organisation: Option<String>,
    pub email: Option<String>,
    pub car_registration: Option<String>,
    pub visitor_code: String,
    /// The name typed when signing, if they signed on this visit.
    pub typed_name: Option<String>,
    /// SHA-256 of the drawn or typed signature, if they signed on this visit.
    pub mark_sha256: Option<String>,
}

impl PersonalData {
    /// `SHA-256(salt ‖ canonical JSON of the fields)`, hex.
    pub fn salted_sha256(&self, salt: &[u8]) -> String {
        let json = serde_json::to_value(self)
            .map(|v| canonical_json(&v))
            .unwrap_or_default();
        let mut bytes = salt.to_vec();
        bytes.extend_from_slice(json.as_bytes());
        sha256_hex(&bytes)
    }
}

/// The visitor AUP as signed on a visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitSignature {
    pub version: VersionId,
    pub text_sha256: String,
    pub declaration: String,
    pub typed_name: String,
    pub mark: SignatureMark,
    pub references: Vec<AcknowledgedReference>,
}

impl VisitSignature {
    /// Checks a visitor's signing form against the name they gave and the version shown,
    /// by the same rules as a staff signature ([`SignForm::check`]).
    pub fn check(
        form: SignForm<'_>,
        given_name: &VisitorName,
        version: &PolicyVersion,
    ) -> Result<Self, Vec<FormError>> {
        let checked = form.check(
            NameOnFile::GivenAtReception(given_name.full_name()),
            version,
        )?;
        Ok(Self {
            version: version.id,
            text_sha256: version.text_sha256.clone(),
            declaration: version.declaration.clone(),
            typed_name: checked.typed_name,
            mark: checked.mark,
            references: checked.references,
        })
    }
}

/// A sign-in, ready to store. Without a signature the store checks that an earlier one
/// still covers the visitor and refuses otherwise.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub school: SchoolId,
    pub details: VisitorDetails,
    pub signature: Option<VisitSignature>,
    /// The kiosk it was made at; `None` when a receptionist entered it.
    pub kiosk: Option<KioskId>,
    pub context: RequestContext,
    /// The code to give the visitor if they are new (random, from the caller).
    pub new_code: VisitorCode,
    /// 16 random bytes for the personal-data hash (from the caller).
    pub salt: [u8; 16],
}

/// How a visit ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SignOutBy {
    /// The visitor signed out at a kiosk.
    Kiosk { kiosk: KioskId },
    /// A receptionist signed them out.
    Receptionist { person: PersonId },
    /// Still signed in at the end of the day: signed out by the system and flagged.
    Automatic,
}

impl SignOutBy {
    pub fn label(&self) -> String {
        match self {
            SignOutBy::Kiosk { kiosk } => format!("at kiosk {kiosk}"),
            SignOutBy::Receptionist { person } => format!("by receptionist (person {person})"),
            SignOutBy::Automatic => "automatically at the end of the day".into(),
        }
    }
}

/// Where a visit is in its life: on site, then signed out (by the visitor or reception)
/// or signed out automatically at the end of the day (which flags it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VisitState {
    OnSite,
    SignedOut { at: DateTime<Utc>, by: SignOutBy },
    AutoSignedOut { at: DateTime<Utc> },
}

/// A transition a visit cannot make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    #[error("this visitor has already signed out")]
    AlreadySignedOut,
    #[error("a visitor cannot sign out before they arrived")]
    BeforeArrival,
}

impl VisitState {
    pub fn code(&self) -> &'static str {
        match self {
            VisitState::OnSite => "on_site",
            VisitState::SignedOut { .. } => "signed_out",
            VisitState::AutoSignedOut { .. } => "auto_signed_out",
        }
    }

    /// Signing out, by the visitor or a receptionist (or, with [`SignOutBy::Automatic`],
    /// the end-of-day job, which becomes [`VisitState::AutoSignedOut`]).
    pub fn sign_out(
        &self,
        arrived: DateTime<Utc>,
        at: DateTime<Utc>,
        by: SignOutBy,
    ) -> Result<VisitState, VisitError> {
        if *self != VisitState::OnSite {
            return Err(VisitError::AlreadySignedOut);
        }
        if at < arrived {
            return Err(VisitError::BeforeArrival);
        }
        Ok(match by {
            SignOutBy::Automatic => VisitState::AutoSignedOut { at },
            by => VisitState::SignedOut { at, by },
        })
    }

    /// Whether the visit ended without the visitor or reception signing them out.
    pub fn flagged(&self) -> bool {
        matches!(self, VisitState::AutoSignedOut { .. })
    }
}

/// The personal fields of a stored visit, until they are purged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitorPersonal {
    pub full_name: String,
    pub organisation: Option<String>,
    pub email: Option<String>,
    pub car_registration: Option<String>,
    pub visitor_code: String,
}

/// A stored visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visit {
    pub id: VisitId,
    pub school: SchoolId,
    pub kiosk: Option<KioskId>,
    pub host: PersonId,
    pub host_name: String,
    pub state: VisitState,
    pub arrived_at: DateTime<Utc>,
    /// `None` once purged.
    pub personal: Option<VisitorPersonal>,
    pub personal_sha256: String,
    pub purged_at: Option<DateTime<Utc>>,
    /// The version signed on this visit, if any.
    pub signed_version: Option<VersionId>,
    pub mark_kind: Option<String>,
    /// The earlier visit whose signature covered this one, if the visitor did not sign.
    pub covered_by: Option<VisitId>,
    pub auth: AuthMethod,
    pub ledger_seq: i64,
    pub ledger_hash: String,
}

impl Visit {
    pub fn name(&self) -> &str {
        self.personal
            .as_ref()
            .map_or("(personal data removed)", |p| p.full_name.as_str())
    }

    pub fn assisted(&self) -> bool {
        matches!(self.auth, AuthMethod::Assisted { .. })
    }
}

/// A registered kiosk device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kiosk {
    pub id: KioskId,
    pub school: SchoolId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Kiosk {
    /// What evidence says about where a signature was made.
    pub fn auth(&self) -> AuthMethod {
        AuthMethod::Kiosk {
            device: format!("{} ({})", self.name, self.id),
        }
    }

    pub fn status(&self) -> &'static str {
        match (self.revoked_at, self.enrolled_at) {
            (Some(_), _) => "revoked",
            (None, Some(_)) => "in use",
            (None, None) => "waiting for enrolment",
        }
    }
}

/// A school's visitor rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VisitorSettings {
    /// A returning visitor signs again once their last signature is this old.
    pub resign_after_days: i64,
    /// Visitor personal data is removed this many days after the visit.
    pub retention_days: i64,
}

impl Default for VisitorSettings {
    fn default() -> Self {
        Self {
            resign_after_days: 365,
            retention_days: 400,
        }
    }
}

impl VisitorSettings {
    pub const MAX_DAYS: i64 = 3650;

    pub fn parse(resign_after_days: &str, retention_days: &str) -> Result<Self, Vec<InputError>> {
        let days = |field: &'static str, raw: &str| match raw.trim().parse::<i64>() {
            Ok(n) if (1..=Self::MAX_DAYS).contains(&n) => Ok(n),
            _ => Err(InputError::new(
                field,
                format!("a whole number of days from 1 to {}", Self::MAX_DAYS),
            )),
        };
        match (
            days("re-sign after", resign_after_days),
            days("keep visitor details for", retention_days),
        ) {
            (Ok(resign_after_days), Ok(retention_days)) => Ok(Self {
                resign_after_days,
                retention_days,
            }),
            (a, b) => Err([a.err(), b.err()].into_iter().flatten().collect()),
        }
    }
}

/// Whether a visitor must sign the visitor AUP on this visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// No visitor AUP is published: nobody can sign in at the kiosk.
    NoPolicy,
    /// They must sign this version.
    MustSign { version: VersionId },
    /// An earlier visit's signature still covers them.
    Covered { by: VisitId, version: VersionId },
}

/// Whether a signature of version `signed_number` made at `signed_at` still covers a
/// visitor now: no major version since, and not older than the school's limit.
pub fn signature_still_covers(
    signed_number: i32,
    newest_major: Option<i32>,
    signed_at: DateTime<Utc>,
    now: DateTime<Utc>,
    settings: &VisitorSettings,
) -> bool {
    let no_major_since = newest_major.is_none_or(|major| signed_number >= major);
    no_major_since && now - signed_at < Duration::days(settings.resign_after_days)
}

/// The start of today in the school's zone, as UTC: visits that arrived before it and are
/// still on site were not signed out at the end of their day.
pub fn start_of_day(now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local_date = now.with_timezone(&zone).date_naive();
    zone.from_local_datetime(&local_date.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now - Duration::hours(24))
}

#[cfg(test)]
mod tests;
