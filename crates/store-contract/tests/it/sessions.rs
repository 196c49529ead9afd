//! Sessions (stored by the SHA-256 of their token) and login throttling.

use chrono::TimeDelta;
use undersign_core::person::PersonStatus;
use undersign_core::policy::sha256_hex;
use undersign_core::store::SessionRecord;
use undersign_test_kit::{TestDb, db_test, seed_school};

use crate::helpers::{at, unchanged};

fn session(seed: &undersign_test_kit::Seed, token: &str, minutes: i64) -> SessionRecord {
    SessionRecord {
        token_sha256: sha256_hex(token.as_bytes()),
        school: seed.school.id,
        person: seed.staff.id,
        csrf_token: format!("csrf-{token}"),
        auth_method: "password".into(),
        created_at: at(0, 123_456),
        expires_at: at(minutes, 654_321),
    }
}

#[db_test]
async fn a_session_is_found_by_its_hash_until_it_expires(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "sessions").await;
    let record = session(&seed, "token-1", 60);
    s.create_session(record.clone()).await.unwrap();
    // Found (times exact to the microsecond) while live …
    assert_eq!(
        s.session(&record.token_sha256, at(59, 0)).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        s.session(&record.token_sha256, at(60, 654_320))
            .await
            .unwrap(),
        Some(record.clone())
    );
    // … not at or after its expiry, and never by the token itself.
    assert_eq!(
        s.session(&record.token_sha256, at(60, 654_321))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.session(&record.token_sha256, at(120, 0)).await.unwrap(),
        None
    );
    assert_eq!(s.session("token-1", at(1, 0)).await.unwrap(), None);
}

#[db_test]
async fn a_leavers_sessions_end(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "sessions").await;
    let record = session(&seed, "token-1", 60);
    s.create_session(record.clone()).await.unwrap();
    let mut leaving = unchanged(&seed.staff);
    leaving.status = PersonStatus::Left;
    s.update_person(&seed.people_admin(), seed.staff.id, leaving)
        .await
        .unwrap();
    assert_eq!(
        s.session(&record.token_sha256, at(1, 0)).await.unwrap(),
        None
    );
}

#[db_test]
async fn sessions_can_be_ended_one_by_one_or_all_for_a_person(db: TestDb) {
    let s = &*db.store;
    let seed = seed_school(s, "sessions").await;
    let (one, two, three) = (
        session(&seed, "one", 60),
        session(&seed, "two", 60),
        session(&seed, "three", 60),
    );
    let mut other = session(&seed, "teacher", 60);
    other.person = seed.teacher.id;
    for r in [&one, &two, &three, &other] {
        s.create_session(r.clone()).await.unwrap();
    }
    s.delete_session(&one.token_sha256).await.unwrap();
    assert_eq!(s.session(&one.token_sha256, at(1, 0)).await.unwrap(), None);
    assert!(
        s.session(&two.token_sha256, at(1, 0))
            .await
            .unwrap()
            .is_some()
    );
    s.delete_sessions_of(seed.school.id, seed.staff.id)
        .await
        .unwrap();
    assert_eq!(s.session(&two.token_sha256, at(1, 0)).await.unwrap(), None);
    assert_eq!(
        s.session(&three.token_sha256, at(1, 0)).await.unwrap(),
        None
    );
    assert_eq!(
        s.session(&other.token_sha256, at(1, 0)).await.unwrap(),
        Some(other)
    );
}

#[db_test]
async fn login_failures_are_counted_per_key_since_a_time_and_cleared(db: TestDb) {
    let s = &*db.store;
    let now = undersign_core::time::now();
    let key = "email:staff@example.org";
    for minutes_ago in [30, 10, 5, 1] {
        s.record_login_failure(key, now - TimeDelta::minutes(minutes_ago))
            .await
            .unwrap();
    }
    s.record_login_failure("ip:192.0.2.1", now).await.unwrap();
    assert_eq!(
        s.login_failures_since(key, now - TimeDelta::minutes(15))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        s.login_failures_since(key, now - TimeDelta::hours(1))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        s.login_failures_since(key, now + TimeDelta::seconds(1))
            .await
            .unwrap(),
        0
    );
    s.clear_login_failures(key).await.unwrap();
    assert_eq!(
        s.login_failures_since(key, now - TimeDelta::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.login_failures_since("ip:192.0.2.1", now - TimeDelta::hours(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.login_failures_since("never", now - TimeDelta::hours(1))
            .await
            .unwrap(),
        0
    );
}

#[db_test(worker_threads = 4)]
async fn a_burst_of_attempts_cannot_slip_past_the_limit(db: TestDb) {
    let s = db.store.clone();
    let now = at(10, 0);
    let since = now - TimeDelta::minutes(15);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let s = s.clone();
        tasks.spawn(async move {
            s.take_attempt(
                &[
                    ("email:burst@example.org".to_string(), 5),
                    ("ip:192.0.2.1".to_string(), 30),
                ],
                since,
                now,
            )
            .await
        });
    }
    let granted = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_some())
        .count();
    assert_eq!(granted, 5);
    // A success forgets its attempt, which frees one place.
    let more = s
        .take_attempt(&[("email:burst@example.org".to_string(), 5)], since, now)
        .await
        .unwrap();
    assert!(more.is_none());
    let other = s
        .take_attempt(&[("email:other@example.org".to_string(), 5)], since, now)
        .await
        .unwrap()
        .unwrap();
    s.forget_attempts(&other).await.unwrap();
    assert_eq!(
        s.login_failures_since("email:other@example.org", since)
            .await
            .unwrap(),
        0
    );
}

#[db_test]
async fn an_idle_session_ends_and_housekeeping_purges_ended_ones(db: TestDb) {
    use undersign_core::store::SESSION_IDLE;
    let s = &*db.store;
    let seed = seed_school(s, "idle").await;
    let record = session(&seed, "idle-token", 24 * 60);
    s.create_session(record.clone()).await.unwrap();
    let created = record.created_at;
    // Used an hour in: still live, and the use is noted.
    let hour = created + TimeDelta::hours(1);
    assert!(
        s.session(&record.token_sha256, hour)
            .await
            .unwrap()
            .is_some()
    );
    // Idle for longer than SESSION_IDLE after that use: gone, though not expired.
    let later = hour + SESSION_IDLE + TimeDelta::minutes(1);
    assert!(
        s.session(&record.token_sha256, later)
            .await
            .unwrap()
            .is_none()
    );
    // A session used just before stays; the idle one is purged.
    let fresh = session(&seed, "fresh-token", 24 * 60);
    let fresh = SessionRecord {
        created_at: later - TimeDelta::minutes(1),
        ..fresh
    };
    s.create_session(fresh.clone()).await.unwrap();
    let report = undersign_core::use_cases::housekeeping(s, later)
        .await
        .unwrap();
    assert_eq!(report.sessions_purged, 1);
    assert!(
        s.session(&fresh.token_sha256, later)
            .await
            .unwrap()
            .is_some()
    );
}
