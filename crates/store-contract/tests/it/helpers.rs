//! Small builders shared by the contract tests.

use chrono::{DateTime, TimeZone, Utc};
use undersign_core::SchoolId;
use undersign_core::access::PeopleAdmin;
use undersign_core::ledger::LedgerEntry;
use undersign_core::person::{Audience, Email, FullName, NewPerson, Person, PersonUpdate, Role};
use undersign_core::policy::{ChangeKind, PolicyVersion};
use undersign_core::store::Store;
use undersign_test_kit::{Seed, draft};

/// 23 November 2026, 09:00 plus `minutes` and `micros`, UTC.
pub fn at(minutes: i64, micros: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
        + chrono::TimeDelta::minutes(minutes)
        + chrono::TimeDelta::microseconds(micros)
}

/// Publishes a new version of the seed's AUP.
pub async fn publish_version(
    store: &dyn Store,
    seed: &Seed,
    body: &str,
    kind: ChangeKind,
    audiences: &[Audience],
) -> PolicyVersion {
    let publisher = seed.publisher();
    let v = store
        .create_draft(&publisher, seed.policy.id, draft(body, kind, audiences))
        .await
        .unwrap();
    store
        .publish(&publisher, v.id, undersign_core::time::now())
        .await
        .unwrap()
}

/// Adds an active person with the given roles.
pub async fn add(
    store: &dyn Store,
    school: SchoolId,
    name: &str,
    email: &str,
    roles: &[Role],
) -> Person {
    store
        .add_person(
            &PeopleAdmin::for_operator(school),
            NewPerson {
                full_name: FullName::parse(name).unwrap(),
                email: Email::parse(email).unwrap(),
                roles: roles.iter().copied().collect(),
                line_manager: None,
                password_hash: None,
            },
        )
        .await
        .unwrap()
}

/// The update that leaves everything as it is.
pub fn unchanged(p: &Person) -> PersonUpdate {
    PersonUpdate {
        full_name: p.full_name.clone(),
        email: p.email.clone(),
        roles: p.roles.clone(),
        line_manager: p.line_manager,
        status: p.status,
    }
}

/// The parsed payload of an entry.
pub fn payload(e: &LedgerEntry) -> serde_json::Value {
    serde_json::from_str(&e.payload).unwrap()
}

/// The school's last ledger entry.
pub async fn last_entry(store: &dyn Store, school: SchoolId) -> LedgerEntry {
    store.ledger_entries(school).await.unwrap().pop().unwrap()
}
