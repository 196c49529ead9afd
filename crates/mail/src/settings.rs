//! How to reach the school's mail server: host, port, TLS mode, optional login, and the
//! sender's address. The password is never part of the config file; the command line
//! reads it from `UNDERSIGN_SMTP_PASSWORD` or a file and hands it in here.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::fmt;
use std::time::Duration;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain SMTP. Only for a relay on the same host or a trusted network segment.
    None,
    /// Connect in plain text, then upgrade with `STARTTLS` (required; usually port 587).
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS; usually port 465).
    Tls,
}

impl TlsMode {
    /// `none`, `starttls` or `tls`.
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::StartTls),
            "tls" => Ok(TlsMode::Tls),
            _ => Err(SettingsError(format!(
                "smtp tls must be none, starttls or tls, not {raw:?}"
            ))),
        }
    }

    /// The usual port for the mode.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// A setting that cannot be used, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// Everything needed to send through the school's mail server.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Login name and password, if the server wants a login.
    pub credentials: Option<(String, String)>,
    /// The sender, e.g. `Undersign <undersign@school.sch.uk>`.
    pub from: Mailbox,
    /// How long one SMTP command may take before the attempt counts as failed.
    pub timeout: Duration,
}

/// The password never appears in logs or debug output.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpSettings {
    /// The default time one SMTP command may take.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The sender from an address and a display name, checked.
    pub fn sender(address: &str, name: &str) -> Result<Mailbox, SettingsError> {
        let email = address.trim().parse().map_err(|e| {
            SettingsError(format!(
                "smtp from_address {address:?} is not an email address: {e}"
            ))
        })?;
        let name = name.trim();
        Ok(Mailbox::new(
            (!name.is_empty()).then(|| name.to_string()),
            email,
        ))
    }

    /// The lettre transport for these settings. TLS certificates are checked against
    /// the system's trusted certificates (`/etc/ssl/certs`).
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SettingsError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|e| SettingsError(format!("TLS set-up for {host}: {e}")))
        };
        let mode = match self.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(tls(&self.host)?),
            TlsMode::Tls => Tls::Wrapper(tls(&self.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(mode)
            .timeout(Some(self.timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_modes_parse_and_have_their_usual_ports() {
        assert_eq!(TlsMode::parse("STARTTLS").unwrap().default_port(), 587);
        assert_eq!(TlsMode::parse("tls").unwrap().default_port(), 465);
        assert_eq!(TlsMode::parse(" none ").unwrap().default_port(), 25);
        let err = TlsMode::parse("ssl").unwrap_err().to_string();
        assert!(err.contains("none, starttls or tls"), "{err}");
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let settings = SmtpSettings {
            host: "mail.school.example".into(),
            port: 587,
            tls: TlsMode::StartTls,
            credentials: Some(("undersign".into(), "hunter2-secret".into())),
            from: SmtpSettings::sender("undersign@school.example", "Undersign").unwrap(),
            timeout: SmtpSettings::DEFAULT_TIMEOUT,
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("undersign@school.example"));
        assert!(settings.transport().is_ok());
    }

    #[test]
    fn a_bad_sender_is_named() {
        let err = SmtpSettings::sender("not an address", "X")
            .unwrap_err()
            .to_string();
        assert!(err.contains("from_address"), "{err}");
    }
}
