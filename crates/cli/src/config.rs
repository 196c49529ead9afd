//! Settings for `undersign serve`: an optional TOML file, overridden by `UNDERSIGN_…`
//! environment variables, overridden by command-line flags. Secrets are never in here:
//! the school keys live in files under `keys_dir`.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy).
    pub trust_forwarded_for: Option<bool>,
    pub checkpoint_minutes: Option<u64>,
}

impl FileConfig {
    /// Reads and parses a TOML config file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("the config file {} is not valid", path.display()))
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
        let checkpoint_minutes = match get("UNDERSIGN_CHECKPOINT_MINUTES") {
            None => None,
            Some(v) => Some(v.trim().parse().with_context(|| {
                format!("UNDERSIGN_CHECKPOINT_MINUTES must be a whole number, not {v:?}")
            })?),
        };
        Ok(Self {
            listen: get("UNDERSIGN_LISTEN"),
            database_url: get("UNDERSIGN_DATABASE_URL"),
            keys_dir: get("UNDERSIGN_KEYS_DIR").map(PathBuf::from),
            secure_cookies,
            trust_forwarded_for,
            checkpoint_minutes,
        })
    }

    /// `self` with every field `over` sets replaced.
    pub fn overlay(self, over: FileConfig) -> Self {
        Self {
            listen: over.listen.or(self.listen),
            database_url: over.database_url.or(self.database_url),
            keys_dir: over.keys_dir.or(self.keys_dir),
            secure_cookies: over.secure_cookies.or(self.secure_cookies),
            trust_forwarded_for: over.trust_forwarded_for.or(self.trust_forwarded_for),
            checkpoint_minutes: over.checkpoint_minutes.or(self.checkpoint_minutes),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub keys_dir: PathBuf,
    pub secure_cookies: bool,
    pub trust_forwarded_for: bool,
    pub checkpoint_minutes: u64,
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
        Ok(Self {
            listen,
            database_url,
            keys_dir: layers
                .keys_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYS_DIR)),
            secure_cookies: layers.secure_cookies.unwrap_or(false),
            trust_forwarded_for: layers.trust_forwarded_for.unwrap_or(false),
            checkpoint_minutes,
        })
    }
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
