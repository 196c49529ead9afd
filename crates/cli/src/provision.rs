//! Creating a school from the command line: its organisation, the school with a fresh
//! Ed25519 key (public half in the database, private half in the key directory), and
//! people with passwords. Shared by `bootstrap` and `demo`.

use anyhow::{Context, anyhow};
use std::fs;
use std::path::{Path, PathBuf};
use undersign_core::access::PeopleAdmin;
use undersign_core::person::{Email, FullName, NewPerson, Person, Role, Roles};
use undersign_core::school::{NewSchool, School, SchoolSlug};
use undersign_core::store::Store;
use undersign_core::time::TimeZone;
use undersign_core::{OrganisationId, PersonId};

/// A school just created, and where its key was written.
#[derive(Debug)]
pub struct CreatedSchool {
    pub school: School,
    pub key_path: PathBuf,
}

/// Creates the school with a new key. The key is written to a pending file first (so an
/// unwritable key directory fails before anything is stored), then renamed to
/// `school-<id>.key` once the school has its id; then the genesis entry is checkpointed,
/// which starts the witness file `school-<id>.witness`.
pub async fn create_school(
    store: &dyn Store,
    organisation: OrganisationId,
    name: &str,
    slug: &str,
    timezone: &str,
    keys_dir: &Path,
) -> anyhow::Result<CreatedSchool> {
    let slug = SchoolSlug::parse(slug).map_err(|e| anyhow!("{e}"))?;
    let timezone = TimeZone::parse(timezone).map_err(|e| anyhow!("{e}"))?;
    let name = undersign_core::person::collapse_spaces(name);
    if name.is_empty() {
        anyhow::bail!("the school needs a name");
    }
    let key = crate::keys::generate();
    let public_key = crate::keys::public_hex(&key);
    crate::keys::ensure_dir(keys_dir)?;
    let pending = keys_dir.join(format!("pending-{}.key", &public_key[..16]));
    write_key_file(&pending, &key)?;

    let school = match store
        .create_school(
            organisation,
            NewSchool {
                name,
                slug,
                timezone,
                public_key,
            },
        )
        .await
    {
        Ok(s) => s,
        Err(e) => {
            // Nothing refers to the pending key: remove it so it cannot be mistaken for one.
            let _ = fs::remove_file(&pending);
            return Err(e).context("cannot create the school");
        }
    };
    let key_path = crate::keys::key_path(keys_dir, school.id);
    if key_path.exists() {
        return Err(anyhow!(
            "school {} ({}) was created, but a key file {} already exists for its id; its new key was left in {}. Move the old file away, rename the new one to {}, and keep both safe",
            school.slug,
            school.id,
            key_path.display(),
            pending.display(),
            key_path.display()
        ));
    }
    fs::rename(&pending, &key_path).map_err(|e| {
        anyhow!(
            "school {} ({}) was created, but its key could not be moved into place: {e}. The key is in {}; rename it to {} or checkpoints cannot be signed",
            school.slug,
            school.id,
            pending.display(),
            key_path.display()
        )
    })?;
    // Witness the genesis entry at once: from now on even a chain wiped whole is caught.
    crate::checkpoint::checkpoint_school(store, &school, keys_dir)
        .await
        .with_context(|| {
            format!(
                "school {} was created, but its first checkpoint could not be signed; run `undersign checkpoint`",
                school.slug
            )
        })?;
    Ok(CreatedSchool { school, key_path })
}

fn write_key_file(path: &Path, key: &ed25519_dalek::SigningKey) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the key file {}", path.display()))?;
    writeln!(file, "{}", hex::encode(key.to_bytes()))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the key file {}", path.display()))
}

/// A person to add, with the password to give them.
#[derive(Debug, Clone)]
pub struct PersonSpec {
    pub full_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub line_manager: Option<PersonId>,
}

/// Adds a person as the operator, with an already hashed password.
pub async fn add_person(
    store: &dyn Store,
    admin: &PeopleAdmin,
    spec: &PersonSpec,
    password_hash: String,
) -> anyhow::Result<Person> {
    let full_name = FullName::parse(&spec.full_name).map_err(|e| anyhow!("{e}"))?;
    let email = Email::parse(&spec.email).map_err(|e| anyhow!("{e}"))?;
    let roles: Roles = spec.roles.iter().copied().collect();
    store
        .add_person(
            admin,
            NewPerson {
                full_name,
                email,
                roles,
                line_manager: spec.line_manager,
                password_hash: Some(password_hash),
            },
        )
        .await
        .with_context(|| format!("cannot add {}", spec.email))
}
