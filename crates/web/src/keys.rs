//! The schools' Ed25519 keys, kept in files outside the database: `school-<id>.key` holds
//! the 32-byte seed as 64 hex characters, mode 0600, in a directory of mode 0700.

use anyhow::{Context, bail};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use undersign_core::SchoolId;
use undersign_core::ledger::signing_key_from_hex;

/// A fresh key from the operating system's random source.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut OsRng)
}

/// The public half as lower-case hex, as stored on the school's row.
pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// Where the key of `school` lives.
pub fn key_path(dir: &Path, school: SchoolId) -> PathBuf {
    dir.join(format!("school-{school}.key"))
}

/// Creates the key directory (0700) if it is missing; warns if an existing one is open
/// to other users.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                "the key directory is readable by other users (mode {:o}); chmod 700 it",
                mode & 0o777
            );
        }
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the key directory {}", dir.display()))
}

/// Writes a new key file; never overwrites an existing one.
pub fn write(dir: &Path, school: SchoolId, key: &SigningKey) -> anyhow::Result<PathBuf> {
    ensure_dir(dir)?;
    let path = key_path(dir, school);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create the key file {}", path.display()))?;
    writeln!(file, "{}", hex::encode(key.to_bytes()))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the key file {}", path.display()))?;
    Ok(path)
}

/// Reads the key of `school`, or `None` if there is no file for it.
pub fn read(dir: &Path, school: SchoolId) -> anyhow::Result<Option<SigningKey>> {
    let path = key_path(dir, school);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the key file {}", path.display()));
        }
    };
    match signing_key_from_hex(&text) {
        Some(key) => Ok(Some(key)),
        None => bail!(
            "the key file {} is not 64 hex characters of an Ed25519 seed",
            path.display()
        ),
    }
}

/// Reads the key of `school` and checks it is the one whose public half is on record.
pub fn read_matching(
    dir: &Path,
    school: SchoolId,
    recorded_public_hex: &str,
) -> anyhow::Result<Option<SigningKey>> {
    let Some(key) = read(dir, school)? else {
        return Ok(None);
    };
    check_matches(&key.verifying_key(), recorded_public_hex).with_context(|| {
        format!(
            "the key file {} does not belong to school {school}",
            key_path(dir, school).display()
        )
    })?;
    Ok(Some(key))
}

/// Fails unless `key` is the public key recorded (hex) for the school.
pub fn check_matches(key: &VerifyingKey, recorded_public_hex: &str) -> anyhow::Result<()> {
    let ours = hex::encode(key.to_bytes());
    if ours != recorded_public_hex.trim().to_ascii_lowercase() {
        bail!(
            "its public key {ours} differs from the public key in the database {}",
            recorded_public_hex.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_reads_back_with_private_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let key = generate();
        let path = write(&dir, SchoolId(4), &key).unwrap();
        assert_eq!(path, dir.join("school-4.key"));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let back = read_matching(&dir, SchoolId(4), &public_hex(&key))
            .unwrap()
            .unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        assert!(read(&dir, SchoolId(5)).unwrap().is_none());
    }

    #[test]
    fn an_existing_key_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), SchoolId(1), &generate()).unwrap();
        assert!(write(tmp.path(), SchoolId(1), &generate()).is_err());
    }

    #[test]
    fn a_key_that_is_not_the_recorded_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), SchoolId(1), &generate()).unwrap();
        let other = public_hex(&generate());
        let err = read_matching(tmp.path(), SchoolId(1), &other).unwrap_err();
        assert!(format!("{err:#}").contains("differs"), "{err:#}");
    }
}
