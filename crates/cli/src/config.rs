//! Settings for `undersign serve`: an optional TOML file, overridden by `UNDERSIGN_…`
//! environment variables, overridden by command-line flags. Secrets are never in here:
//! the school keys live in files under `keys_dir`, and the SMTP password comes from
//! `UNDERSIGN_SMTP_PASSWORD` or a file named by `password_file`.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use undersign_mail::{SmtpSettings, TlsMode};
use url::Url;

/// The address `serve` listens on when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// How often chain heads are checkpointed when nothing says otherwise.
pub const DEFAULT_CHECKPOINT_MINUTES: u64 = 10;
/// Where school keys are kept when nothing says otherwise.
pub const DEFAULT_KEYS_DIR: &str = "/var/lib/undersign/keys";

/// The config file as written; every field optional.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub keys_dir: Option<PathBuf>,
    pub secure_cookies: Option<bool>,
    /// The reverse proxies in front of Undersign (addresses or CIDR ranges), whose
    /// `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
    /// Replaced by `trusted_proxies`; refused with a message saying so.
    pub trust_forwarded_for: Option<bool>,
    pub checkpoint_minutes: Option<u64>,
    /// The address people use to reach Undersign, for links in emails.
    pub public_url: Option<String>,
    /// The mail server; without it, mail stays queued in the outbox.
    pub smtp: Option<SmtpConfig>,
}

/// The `[smtp]` section (and `UNDERSIGN_SMTP_…` variables); every field optional.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    pub tls: Option<String>,
    pub username: Option<String>,
    /// Only ever from `UNDERSIGN_SMTP_PASSWORD`: a `password` key in the file is refused.
    pub password: Option<String>,
    /// A file holding the password (e.g. mode 0600, owned by the service user).
    pub password_file: Option<PathBuf>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub timeout_seconds: Option<u64>,
}

impl SmtpConfig {
    fn overlay(self, over: SmtpConfig) -> Self {
        Self {
            host: over.host.or(self.host),
            port: over.port.or(self.port),
            tls: over.tls.or(self.tls),
            username: over.username.or(self.username),
            password: over.password.or(self.password),
            password_file: over.password_file.or(self.password_file),
            from_address: over.from_address.or(self.from_address),
            from_name: over.from_name.or(self.from_name),
            timeout_seconds: over.timeout_seconds.or(self.timeout_seconds),
        }
    }
}

impl FileConfig {
    /// Reads and parses a TOML config file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let config: FileConfig = toml::from_str(&text)
            .with_context(|| format!("the config file {} is not valid", path.display()))?;
        if config.smtp.as_ref().is_some_and(|s| s.password.is_some()) {
            bail!(
                "the config file {} has an SMTP password: secrets are never read from the config \
                 file; set UNDERSIGN_SMTP_PASSWORD or point password_file at a file holding it",
                path.display()
            );
        }
        Ok(config)
    }

    /// Parses config text (what [`FileConfig::load`] reads), refusing a password in it.
    #[cfg(test)]
    fn load_str(text: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("undersign.toml");
        std::fs::write(&path, text)?;
        Self::load(&path)
    }

    /// The `UNDERSIGN_…` variables, as a layer that goes over the file.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| -> anyhow::Result<Option<bool>> {
            match get(name) {
                None => Ok(None),
                Some(v) => parse_bool(&v)
                    .map(Some)
                    .with_context(|| format!("{name} must be true or false, not {v:?}")),
            }
        };
        let secure_cookies = flag("UNDERSIGN_SECURE_COOKIES")?;
        let trust_forwarded_for = flag("UNDERSIGN_TRUST_FORWARDED_FOR")?;
        let trusted_proxies = get("UNDERSIGN_TRUSTED_PROXIES").map(|v| {
            v.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        });
        let checkpoint_minutes = match get("UNDERSIGN_CHECKPOINT_MINUTES") {
            None => None,
            Some(v) => Some(v.trim().parse().with_context(|| {
                format!("UNDERSIGN_CHECKPOINT_MINUTES must be a whole number, not {v:?}")
            })?),
        };
        let smtp_port = match get("UNDERSIGN_SMTP_PORT") {
            None => None,
            Some(v) => Some(v.trim().parse().with_context(|| {
                format!("UNDERSIGN_SMTP_PORT must be a port number, not {v:?}")
            })?),
        };
        let smtp_timeout = match get("UNDERSIGN_SMTP_TIMEOUT_SECONDS") {
            None => None,
            Some(v) => Some(v.trim().parse().with_context(|| {
                format!("UNDERSIGN_SMTP_TIMEOUT_SECONDS must be a whole number, not {v:?}")
            })?),
        };
        let smtp = SmtpConfig {
            host: get("UNDERSIGN_SMTP_HOST"),
            port: smtp_port,
            tls: get("UNDERSIGN_SMTP_TLS"),
            username: get("UNDERSIGN_SMTP_USERNAME"),
            password: get("UNDERSIGN_SMTP_PASSWORD"),
            password_file: get("UNDERSIGN_SMTP_PASSWORD_FILE").map(PathBuf::from),
            from_address: get("UNDERSIGN_SMTP_FROM_ADDRESS"),
            from_name: get("UNDERSIGN_SMTP_FROM_NAME"),
            timeout_seconds: smtp_timeout,
        };
        Ok(Self {
            listen: get("UNDERSIGN_LISTEN"),
            database_url: get("UNDERSIGN_DATABASE_URL"),
            keys_dir: get("UNDERSIGN_KEYS_DIR").map(PathBuf::from),
            secure_cookies,
            trusted_proxies,
            trust_forwarded_for,
            checkpoint_minutes,
            public_url: get("UNDERSIGN_PUBLIC_URL"),
            smtp: (smtp != SmtpConfig::default()).then_some(smtp),
        })
    }

    /// `self` with every field `over` sets replaced.
    pub fn overlay(self, over: FileConfig) -> Self {
        Self {
            listen: over.listen.or(self.listen),
            database_url: over.database_url.or(self.database_url),
            keys_dir: over.keys_dir.or(self.keys_dir),
            secure_cookies: over.secure_cookies.or(self.secure_cookies),
            trusted_proxies: over.trusted_proxies.or(self.trusted_proxies),
            trust_forwarded_for: over.trust_forwarded_for.or(self.trust_forwarded_for),
            checkpoint_minutes: over.checkpoint_minutes.or(self.checkpoint_minutes),
            public_url: over.public_url.or(self.public_url),
            smtp: match (self.smtp, over.smtp) {
                (Some(under), Some(over)) => Some(under.overlay(over)),
                (under, over) => over.or(under),
            },
        }
    }
}

fn parse_bool(raw: &str) -> anyhow::Result<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("not a boolean"),
    }
}

/// Everything `serve` needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub keys_dir: PathBuf,
    pub secure_cookies: bool,
    pub trusted_proxies: undersign_web::proxies::TrustedProxies,
    pub checkpoint_minutes: u64,
    /// The base of links in emails.
    pub public_url: Url,
    /// `None`: no mail server configured; mail stays queued.
    pub smtp: Option<SmtpSettings>,
}

impl ServeSettings {
    /// Resolves the layers (file, then environment, then flags) into settings.
    pub fn resolve(layers: FileConfig) -> anyhow::Result<Self> {
        let listen_raw = layers.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_raw.trim().parse().with_context(|| {
            format!("listen address {listen_raw:?} is not an address such as 127.0.0.1:8080")
        })?;
        let Some(database_url) = layers.database_url else {
            bail!(
                "no database: pass --database-url, set UNDERSIGN_DATABASE_URL, or put database_url in the config file"
            );
        };
        let checkpoint_minutes = layers
            .checkpoint_minutes
            .unwrap_or(DEFAULT_CHECKPOINT_MINUTES);
        if checkpoint_minutes == 0 {
            bail!("checkpoint_minutes must be at least 1");
        }
        let public_url = match layers.public_url {
            Some(raw) => parse_public_url(&raw)?,
            None => parse_public_url(&format!("http://{listen}/"))?,
        };
        let smtp = layers.smtp.map(resolve_smtp).transpose()?;
        if layers.trust_forwarded_for.is_some() {
            bail!(
                "trust_forwarded_for is replaced by trusted_proxies: list the addresses of your reverse proxies, e.g. trusted_proxies = [\"127.0.0.1\"] (UNDERSIGN_TRUSTED_PROXIES=127.0.0.1)"
            );
        }
        let trusted_proxies = undersign_web::proxies::TrustedProxies::parse(
            layers.trusted_proxies.iter().flatten().map(String::as_str),
        )
        .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
        Ok(Self {
            listen,
            database_url,
            keys_dir: layers
                .keys_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYS_DIR)),
            secure_cookies: layers.secure_cookies.unwrap_or(false),
            trusted_proxies,
            checkpoint_minutes,
            public_url,
            smtp,
        })
    }
}

/// The public base URL: http or https, ending in `/` so that paths join under it.
pub fn parse_public_url(raw: &str) -> anyhow::Result<Url> {
    let mut url = Url::parse(raw.trim()).with_context(|| {
        format!("public_url {raw:?} is not an address such as https://undersign.school.sch.uk/")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("public_url {raw:?} must be an http:// or https:// address with a host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("public_url {raw:?} must not have a query or a fragment");
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The `[smtp]` layers as settings, with the password read from its file if one is
/// named.
fn resolve_smtp(smtp: SmtpConfig) -> anyhow::Result<SmtpSettings> {
    let Some(host) = smtp
        .host
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
    else {
        bail!("the [smtp] settings need a host (smtp.host or UNDERSIGN_SMTP_HOST)");
    };
    let tls = match &smtp.tls {
        Some(raw) => TlsMode::parse(raw)?,
        None => TlsMode::StartTls,
    };
    let password = match (smtp.password, &smtp.password_file) {
        (Some(p), _) => Some(p),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the SMTP password file {}", path.display())
            })?;
            Some(text.trim_end_matches(['\r', '\n']).to_string())
        }
        (None, None) => None,
    };
    let credentials = match (smtp.username, password) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        (Some(_), None) => bail!(
            "smtp.username is set but there is no password: set UNDERSIGN_SMTP_PASSWORD or smtp.password_file"
        ),
        (None, Some(_)) => bail!("an SMTP password is set but smtp.username is not"),
    };
    let Some(from_address) = smtp.from_address else {
        bail!(
            "the [smtp] settings need from_address (UNDERSIGN_SMTP_FROM_ADDRESS), the sender of every message"
        );
    };
    let from = SmtpSettings::sender(
        &from_address,
        smtp.from_name.as_deref().unwrap_or("Undersign"),
    )?;
    let timeout = Duration::from_secs(smtp.timeout_seconds.unwrap_or(30));
    if timeout.is_zero() {
        bail!("smtp.timeout_seconds must be at least 1");
    }
    Ok(SmtpSettings {
        port: smtp.port.unwrap_or_else(|| tls.default_port()),
        host,
        tls,
        credentials,
        from,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_environment_overrides_the_file_and_flags_override_both() {
        let file: FileConfig = toml::from_str(
            "listen = \"0.0.0.0:80\"\ndatabase_url = \"sqlite://a.db\"\ncheckpoint_minutes = 5\n",
        )
        .unwrap();
        let envs = FileConfig::from_env(env(&[
            ("UNDERSIGN_DATABASE_URL", "postgres://db/x"),
            ("UNDERSIGN_SECURE_COOKIES", "true"),
        ]))
        .unwrap();
        let flags = FileConfig {
            listen: Some("127.0.0.1:9000".into()),
            ..FileConfig::default()
        };
        let s = ServeSettings::resolve(file.overlay(envs).overlay(flags)).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(s.database_url, "postgres://db/x");
        assert!(s.secure_cookies);
        assert_eq!(s.checkpoint_minutes, 5);
        assert_eq!(s.keys_dir, PathBuf::from(DEFAULT_KEYS_DIR));
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_the_environment_and_the_old_flag_is_refused() {
        let file: FileConfig = toml::from_str(
            "database_url = \"sqlite://a.db\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let s = ServeSettings::resolve(file.clone()).unwrap();
        assert_eq!(
            s.trusted_proxies
                .client("10.1.1.1".parse().unwrap(), ["192.0.2.4"])
                .to_string(),
            "192.0.2.4"
        );
        let envs = FileConfig::from_env(env(&[("UNDERSIGN_TRUSTED_PROXIES", "::1, 192.0.2.0/24")]))
            .unwrap();
        let s = ServeSettings::resolve(file.clone().overlay(envs)).unwrap();
        assert_eq!(
            s.trusted_proxies
                .client("10.1.1.1".parse().unwrap(), ["192.0.2.4"])
                .to_string(),
            "10.1.1.1"
        );
        let bad: FileConfig =
            toml::from_str("database_url = \"sqlite://a.db\"\ntrusted_proxies = [\"proxy\"]\n")
                .unwrap();
        let err = ServeSettings::resolve(bad).unwrap_err().to_string();
        assert!(err.contains("trusted_proxies"), "{err}");
        let old: FileConfig =
            toml::from_str("database_url = \"sqlite://a.db\"\ntrust_forwarded_for = true\n")
                .unwrap();
        let err = ServeSettings::resolve(old).unwrap_err().to_string();
        assert!(err.contains("replaced by trusted_proxies"), "{err}");
    }

    #[test]
    fn smtp_comes_from_the_file_and_the_environment_with_the_password_from_env_only() {
        let file = FileConfig::load_str(
            "database_url = \"sqlite://a.db\"\npublic_url = \"https://undersign.school.example/app\"\n\
             [smtp]\nhost = \"mail.school.example\"\nusername = \"undersign\"\n\
             from_address = \"undersign@school.example\"\n",
        )
        .unwrap();
        let envs = FileConfig::from_env(env(&[
            ("UNDERSIGN_SMTP_PASSWORD", "s3cret"),
            ("UNDERSIGN_SMTP_TLS", "tls"),
        ]))
        .unwrap();
        let s = ServeSettings::resolve(file.overlay(envs)).unwrap();
        assert_eq!(
            s.public_url.as_str(),
            "https://undersign.school.example/app/"
        );
        let smtp = s.smtp.unwrap();
        assert_eq!(smtp.host, "mail.school.example");
        assert_eq!((smtp.tls, smtp.port), (TlsMode::Tls, 465));
        assert_eq!(
            smtp.credentials,
            Some(("undersign".to_string(), "s3cret".to_string()))
        );
        assert_eq!(
            smtp.from.to_string(),
            "Undersign <undersign@school.example>"
        );
    }

    #[test]
    fn without_smtp_there_is_no_mail_server_and_links_use_the_listen_address() {
        let s = ServeSettings::resolve(FileConfig {
            database_url: Some("sqlite://x".into()),
            listen: Some("127.0.0.1:9001".into()),
            ..FileConfig::default()
        })
        .unwrap();
        assert!(s.smtp.is_none());
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:9001/");
    }

    #[test]
    fn an_smtp_password_in_the_file_or_a_half_login_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("undersign.toml");
        std::fs::write(
            &path,
            "[smtp]\nhost = \"mail.example\"\npassword = \"oops\"\n",
        )
        .unwrap();
        let err = FileConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("UNDERSIGN_SMTP_PASSWORD"), "{err}");
        let half = FileConfig {
            database_url: Some("sqlite://x".into()),
            smtp: Some(SmtpConfig {
                host: Some("mail.example".into()),
                username: Some("u".into()),
                from_address: Some("a@b.example".into()),
                ..SmtpConfig::default()
            }),
            ..FileConfig::default()
        };
        let err = ServeSettings::resolve(half).unwrap_err().to_string();
        assert!(err.contains("no password"), "{err}");
        let bad_url = FileConfig {
            database_url: Some("sqlite://x".into()),
            public_url: Some("ftp://x.example/".into()),
            ..FileConfig::default()
        };
        assert!(ServeSettings::resolve(bad_url).is_err());
    }

    #[test]
    fn the_smtp_password_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("smtp-password");
        std::fs::write(&secret, "from-a-file\n").unwrap();
        let layers = FileConfig::from_env(env(&[
            ("UNDERSIGN_DATABASE_URL", "sqlite://x"),
            ("UNDERSIGN_SMTP_HOST", "mail.example"),
            ("UNDERSIGN_SMTP_USERNAME", "u"),
            ("UNDERSIGN_SMTP_PASSWORD_FILE", secret.to_str().unwrap()),
            ("UNDERSIGN_SMTP_FROM_ADDRESS", "undersign@school.example"),
        ]))
        .unwrap();
        let smtp = ServeSettings::resolve(layers).unwrap().smtp.unwrap();
        assert_eq!(
            smtp.credentials,
            Some(("u".to_string(), "from-a-file".to_string()))
        );
        assert_eq!((smtp.tls, smtp.port), (TlsMode::StartTls, 587));
    }

    #[test]
    fn a_missing_database_url_is_explained() {
        let err = ServeSettings::resolve(FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("UNDERSIGN_DATABASE_URL"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<FileConfig>("listne = \"x\"").is_err());
        assert!(FileConfig::from_env(env(&[("UNDERSIGN_SECURE_COOKIES", "maybe")])).is_err());
        let zero = FileConfig {
            database_url: Some("sqlite://x".into()),
            checkpoint_minutes: Some(0),
            ..FileConfig::default()
        };
        assert!(ServeSettings::resolve(zero).is_err());
    }
}
