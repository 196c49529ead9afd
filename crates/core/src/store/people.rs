//! People and their accounts: the records the roster and the people pages keep, and the
//! password hashes login checks.

use async_trait::async_trait;

use super::StoreResult;
use crate::access::PeopleAdmin;
use crate::ids::*;
use crate::person::{Email, NewPerson, Person, PersonUpdate};

/// A login candidate: an active person with a password.
#[derive(Debug, Clone)]
pub struct LoginAccount {
    pub person: Person,
    pub school_name: String,
    pub password_hash: String,
}

/// People and their accounts (passwords); sessions are [`super::Sessions`].
#[async_trait]
pub trait People: Send + Sync {
    /// Adds a person; their email must be new in the school. Recorded in the ledger.
    async fn add_person(&self, admin: &PeopleAdmin, person: NewPerson) -> StoreResult<Person>;
    /// Edits a person. Recorded in the ledger.
    async fn update_person(
        &self,
        admin: &PeopleAdmin,
        id: PersonId,
        update: PersonUpdate,
    ) -> StoreResult<Person>;
    async fn person(&self, school: SchoolId, id: PersonId) -> StoreResult<Option<Person>>;
    /// Everyone in the school, leavers included, by name.
    async fn people(&self, school: SchoolId) -> StoreResult<Vec<Person>>;
    /// Active people with a password and this email, in any school.
    async fn login_accounts(&self, email: &Email) -> StoreResult<Vec<LoginAccount>>;
    /// Sets the person's own new password (changed by themselves, or by the operator at
    /// the command line); recorded in the ledger as `password_changed`. Administrators
    /// never set passwords: they send a reset link ([`super::LoginLinks`]).
    async fn set_password(
        &self,
        school: SchoolId,
        person: PersonId,
        password_hash: &str,
    ) -> StoreResult<()>;
    async fn password_hash(
        &self,
        school: SchoolId,
        person: PersonId,
    ) -> StoreResult<Option<String>>;
}
