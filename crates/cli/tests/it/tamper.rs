//! `undersign verify` against a tampered database: an edited, deleted or moved ledger row
//! is named; a chain rewritten consistently is caught by its signed checkpoint.

use crate::support::{Raw, Row, TestDb, path_str, run, seed, stderr, stdout, verify};
use undersign_core::ledger::entry_hash;
use undersign_test_kit::db_test;

#[db_test(worker_threads = 4)]
async fn an_untouched_database_verifies(db: TestDb) {
    seed(&db, 3).await;
    let out = verify(&db);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // school created, four people, the version published
    assert!(
        stdout(&out).contains("ok  test-primary: 6 entries, 0 checkpoints"),
        "{}",
        stdout(&out)
    );
}

fn assert_broken(db: &TestDb, entry: i64) -> String {
    let out = verify(db);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!("BROKEN test-primary: entry {entry}")),
        "expected entry {entry} named:\n{text}"
    );
    text
}

#[db_test(worker_threads = 4)]
async fn an_edited_entry_is_named(db: TestDb) {
    seed(&db, 3).await;
    let mut raw = Raw::attacker(&db).await;
    raw.exec("UPDATE ledger_entries SET payload = replace(payload, 'Load Tester Aac', 'Load Tester Zzz') WHERE seq = 4")
        .await;
    let text = assert_broken(&db, 4);
    assert!(text.contains("altered"), "{text}");
}

#[db_test(worker_threads = 4)]
async fn a_deleted_entry_is_named(db: TestDb) {
    seed(&db, 3).await;
    let mut raw = Raw::attacker(&db).await;
    raw.exec("DELETE FROM ledger_entries WHERE seq = 3").await;
    let text = assert_broken(&db, 3);
    assert!(text.contains("missing"), "{text}");
}

#[db_test(worker_threads = 4)]
async fn two_swapped_entries_are_named(db: TestDb) {
    seed(&db, 3).await;
    let mut raw = Raw::attacker(&db).await;
    let rows = raw.rows().await;
    let (a, b) = (rows[2].clone(), rows[3].clone());
    raw.put(3, &b).await;
    raw.put(4, &a).await;
    assert_broken(&db, 3);
}

/// Rewrites entry 2's payload and recomputes every hash after it, as someone who knows
/// the hashing scheme but not the school's key would.
async fn rewrite_from_entry_2(raw: &mut Raw) {
    let mut rows = raw.rows().await;
    rows[1].payload = rows[1].payload.replace("Helen Head", "Hilda Head");
    let mut prev = hex::decode(&rows[0].hash).unwrap();
    for row in rows.iter_mut().skip(1) {
        let p: [u8; 32] = prev.clone().try_into().unwrap();
        row.prev_hash = hex::encode(p);
        row.hash = hex::encode(entry_hash(&p, row.seq, row.payload.as_bytes()));
        prev = hex::decode(&row.hash).unwrap();
    }
    for row in &rows[1..] {
        let r: &Row = row;
        raw.put(r.seq, r).await;
    }
}

#[db_test(worker_threads = 4)]
async fn a_consistently_rewritten_chain_is_caught_by_its_checkpoint(db: TestDb) {
    seed(&db, 3).await;
    let keys = db.keys_dir();
    let out = run(&[
        "checkpoint",
        "--database-url",
        &db.url,
        "--keys-dir",
        path_str(&keys),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("checkpointed test-primary at entry 6"),
        "{}",
        stdout(&out)
    );

    let mut raw = Raw::attacker(&db).await;
    rewrite_from_entry_2(&mut raw).await;
    let text = assert_broken(&db, 6);
    assert!(
        text.contains("checkpoint") && text.contains("rewritten"),
        "{text}"
    );
}

#[db_test(worker_threads = 4)]
async fn a_replaced_public_key_is_caught_by_the_key_file(db: TestDb) {
    seed(&db, 1).await;
    let mut raw = Raw::attacker(&db).await;
    let other = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
            .verifying_key()
            .to_bytes(),
    );
    raw.exec(&format!("UPDATE schools SET public_key = '{other}'"))
        .await;
    let out = verify(&db);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("does not match the database"),
        "{}",
        stdout(&out)
    );

    // Without the key file verify falls back to the database's key, and the first entry
    // still records the original one.
    let out = run(&["verify", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("BROKEN test-primary: entry 1"),
        "{}",
        stdout(&out)
    );
}
