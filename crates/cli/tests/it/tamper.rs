//! `undersign verify` and `undersign checkpoint` against a tampered database, as a
//! database administrator would tamper: an edited, deleted or moved ledger row is named;
//! an evidence row that no longer agrees with its entry is named with its field; a chain
//! rewritten consistently, even with its checkpoints deleted or wiped whole, is caught by
//! the witness file; `checkpoint` refuses to sign it; the append-only triggers cannot be
//! side-stepped.

use crate::support::{
    Backend, Raw, Row, TestDb, path_str, run, seed, sign_directly, stderr, stdout, verify,
};
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
    // school created (and checkpointed at once), four people, the version published
    assert!(
        stdout(&out).contains(
            "ok  test-primary: 6 entries, 1 checkpoints, witnessed up to entry 1 (5 newer than the last checkpoint)"
        ),
        "{}",
        stdout(&out)
    );
    checkpoint(&db);
    let out = verify(&db);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 checkpoints, witnessed up to the head (0 newer"),
        "{}",
        stdout(&out)
    );
}

/// `undersign checkpoint`, which must succeed.
fn checkpoint(db: &TestDb) -> String {
    let out = run(&[
        "checkpoint",
        "--database-url",
        &db.url,
        "--keys-dir",
        path_str(&db.keys_dir()),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

#[db_test(worker_threads = 4)]
async fn without_the_key_and_witness_files_verify_never_says_ok(db: TestDb) {
    seed(&db, 1).await;
    let out = run(&["verify", "--database-url", &db.url]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr(&out));
    assert!(text.contains("UNCONFIRMED test-primary"), "{text}");
    assert!(text.contains("no key file"), "{text}");
    assert!(!text.contains("ok  "), "{text}");

    // A key directory without the witness file is not enough either.
    std::fs::remove_file(db.keys_dir().join(format!("school-{}.witness", 1))).unwrap();
    let out = verify(&db);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("no witness file"), "{}", stdout(&out));
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
    let text = checkpoint(&db);
    assert!(
        text.contains("checkpointed test-primary at entry 6"),
        "{text}"
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

    // Without the key file verify falls back to the database's key, and the genesis entry
    // still records the original one.
    let out = run(&["verify", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("schools row 1 (ledger entry 1): public_key is"),
        "{}",
        stdout(&out)
    );
}

/// Replaces the school's key everywhere the database holds it, and re-signs the chain
/// from the genesis entry on, checkpoints included: all an attacker without the key file
/// can do.
async fn rekey_and_resign(raw: &mut Raw) {
    let forged_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let forged_public = hex::encode(forged_key.verifying_key().to_bytes());
    let mut rows = raw.rows().await;
    let old_public: String = {
        let v: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
        v["event"]["public_key"].as_str().unwrap().to_string()
    };
    rows[0].payload = rows[0].payload.replace(&old_public, &forged_public);
    let mut prev = [0u8; 32];
    for row in rows.iter_mut() {
        row.prev_hash = hex::encode(prev);
        let h = entry_hash(&prev, row.seq, row.payload.as_bytes());
        row.hash = hex::encode(h);
        prev = h;
    }
    for row in &rows {
        raw.put(row.seq, row).await;
    }
    raw.exec(&format!(
        "UPDATE schools SET public_key = '{forged_public}'"
    ))
    .await;
    raw.exec("DELETE FROM checkpoints").await;
    let head = undersign_core::ledger::ChainHead {
        seq: rows.last().unwrap().seq,
        hash: rows.last().unwrap().hash.clone(),
    };
    let cp = undersign_core::ledger::Checkpoint::sign(
        undersign_core::SchoolId(1),
        &head,
        chrono::Utc::now(),
        &forged_key,
    );
    raw.exec(&format!(
        "INSERT INTO checkpoints (school_id, seq, hash, signed_at, signature) VALUES (1, {}, '{}', '{}', '{}')",
        cp.seq,
        cp.hash,
        undersign_core::time::rfc3339(cp.signed_at),
        cp.signature
    ))
    .await;
}

#[db_test(worker_threads = 4)]
async fn a_new_key_and_a_re_signed_chain_are_never_reported_ok(db: TestDb) {
    seed(&db, 2).await;
    let mut raw = Raw::attacker(&db).await;
    rekey_and_resign(&mut raw).await;
    // Everything in the database agrees with itself: without the key and witness files
    // verify cannot tell, and says so rather than "ok".
    let out = run(&["verify", "--database-url", &db.url]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("UNCONFIRMED"), "{}", stdout(&out));
    // With them, the forgery is named.
    let out = verify(&db);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("does not match the database"),
        "{}",
        stdout(&out)
    );
}

#[db_test(worker_threads = 4)]
async fn a_rewritten_chain_with_its_checkpoints_deleted_is_caught_by_the_witness(db: TestDb) {
    seed(&db, 3).await;
    checkpoint(&db);
    let mut raw = Raw::attacker(&db).await;
    rewrite_from_entry_2(&mut raw).await;
    raw.exec("DELETE FROM checkpoints").await;
    let text = assert_broken(&db, 1);
    assert!(text.contains("missing from the database"), "{text}");
    assert!(
        text.contains("entry 6: checkpoint at entry 6: the entry differs from the one witnessed"),
        "{text}"
    );
    assert!(text.contains("the chain was rewritten"), "{text}");
}

#[db_test(worker_threads = 4)]
async fn a_school_whose_evidence_was_wiped_is_caught(db: TestDb) {
    seed(&db, 2).await;
    let mut raw = Raw::attacker(&db).await;
    match db.backend {
        Backend::Postgres => {
            raw.exec("TRUNCATE checkpoints, ledger_entries CASCADE")
                .await;
        }
        Backend::Sqlite => {
            raw.exec("DELETE FROM checkpoints").await;
            raw.exec("DELETE FROM ledger_entries").await;
        }
    }
    let text = assert_broken(&db, 1);
    assert!(text.contains("the chain is empty"), "{text}");
    assert!(
        text.contains("the chain has 0 entries but entry 1 was witnessed"),
        "{text}"
    );
}

#[db_test(worker_threads = 4)]
async fn checkpoint_refuses_a_chain_that_does_not_extend_the_witnessed_head(db: TestDb) {
    seed(&db, 3).await;
    checkpoint(&db);
    let mut raw = Raw::attacker(&db).await;
    rewrite_from_entry_2(&mut raw).await;
    // The attacker also removes the checkpoints the database holds, so the chain and the
    // database agree: only the witness knows.
    raw.exec("DELETE FROM checkpoints").await;
    let out = run(&[
        "checkpoint",
        "--database-url",
        &db.url,
        "--keys-dir",
        path_str(&db.keys_dir()),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains(
            "REFUSED test-primary: the chain does not extend the head witnessed at entry 6"
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains("REFUSING to checkpoint"),
        "{}",
        stderr(&out)
    );
    // Nothing was signed; the headteacher was sent an alert.
    let mut plain = Raw::plain(&db).await;
    assert_eq!(plain.count("SELECT COUNT(*) FROM checkpoints").await, 0);
    assert_eq!(
        plain
            .count("SELECT COUNT(*) FROM outbox WHERE to_email = 'head@test.example' AND subject LIKE '%needs checking%'")
            .await,
        1
    );
    let witness = std::fs::read_to_string(db.keys_dir().join("school-1.witness")).unwrap();
    assert_eq!(witness.lines().count(), 2, "{witness}");
}

#[db_test(worker_threads = 4)]
async fn an_edited_signature_row_is_named_with_its_field(db: TestDb) {
    let seeded = seed(&db, 3).await;
    let id = sign_directly(&db, &seeded, 0).await;
    assert_eq!(verify(&db).status.code(), Some(0));
    let mut raw = Raw::attacker(&db).await;
    raw.exec(&format!(
        "UPDATE signatures SET typed_name = 'Somebody Else' WHERE id = {id}"
    ))
    .await;
    let out = verify(&db);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "BROKEN test-primary: signatures row {id} (ledger entry 7): typed_name is \"Somebody Else\" in the table but"
        )),
        "{text}"
    );
}

#[db_test(worker_threads = 4)]
async fn a_deleted_signature_row_is_named(db: TestDb) {
    let seeded = seed(&db, 3).await;
    let id = sign_directly(&db, &seeded, 1).await;
    let mut raw = Raw::attacker(&db).await;
    raw.exec(&format!("DELETE FROM signatures WHERE id = {id}"))
        .await;
    let text = stdout(&verify(&db));
    assert!(
        text.contains(&format!(
            "BROKEN test-primary: signatures row {id} (ledger entry 7): the ledger records this row but the table no longer holds it"
        )),
        "{text}"
    );
}

#[db_test(worker_threads = 4)]
async fn a_role_granted_in_sql_is_named(db: TestDb) {
    let seeded = seed(&db, 2).await;
    let (person, ..) = seeded.staff[0];
    let mut raw = Raw::attacker(&db).await;
    raw.exec(&format!(
        "UPDATE people SET roles = '[\"headteacher\",\"staff\"]' WHERE id = {person}"
    ))
    .await;
    let text = stdout(&verify(&db));
    assert!(
        text.contains(&format!("people row {person} (ledger entry")) && text.contains("roles is"),
        "{text}"
    );
}

#[db_test(worker_threads = 4)]
async fn the_append_only_rules_cannot_be_side_stepped(db: TestDb) {
    let seeded = seed(&db, 2).await;
    let id = sign_directly(&db, &seeded, 0).await;
    let mut raw = Raw::plain(&db).await;
    let attempts: &[&str] = match db.backend {
        Backend::Sqlite => &[
            "INSERT OR REPLACE INTO ledger_entries (school_id, seq, kind, payload, prev_hash, hash, recorded_at) SELECT school_id, seq, kind, 'x', prev_hash, hash, recorded_at FROM ledger_entries WHERE seq = 2",
            "REPLACE INTO checkpoints (school_id, seq, hash, signed_at, signature) SELECT school_id, seq, 'x', signed_at, signature FROM checkpoints",
            "INSERT OR REPLACE INTO signatures SELECT * FROM signatures",
            "INSERT INTO signatures SELECT * FROM signatures WHERE true ON CONFLICT (id) DO UPDATE SET typed_name = 'x'",
            "INSERT OR REPLACE INTO people SELECT * FROM people",
            "DELETE FROM people",
            "DELETE FROM schools",
        ],
        Backend::Postgres => &[
            "TRUNCATE ledger_entries CASCADE",
            "TRUNCATE checkpoints",
            "TRUNCATE signatures",
            "TRUNCATE declines",
            "TRUNCATE views",
            "TRUNCATE policy_versions CASCADE",
            "TRUNCATE people CASCADE",
            "TRUNCATE visits",
            "TRUNCATE schools CASCADE",
            "INSERT INTO signatures SELECT * FROM signatures ON CONFLICT (id) DO UPDATE SET typed_name = 'x'",
            "DELETE FROM people",
        ],
    };
    for sql in attempts {
        let result = raw.try_exec(sql).await;
        assert!(result.is_err(), "{sql} was accepted: {result:?}");
    }
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM signatures WHERE id = {id} AND typed_name <> 'x'"
        ))
        .await,
        1
    );
    assert_eq!(
        verify(&db).status.code(),
        Some(0),
        "{}",
        stdout(&verify(&db))
    );
}

#[db_test(worker_threads = 4)]
async fn no_receipt_is_sealed_over_an_edited_signature_row(db: TestDb) {
    let seeded = seed(&db, 2).await;
    let id = sign_directly(&db, &seeded, 0).await;
    let (_, _, email) = &seeded.staff[0];
    let server = crate::support::Server::start(&db, crate::support::free_port(), "serve.log").await;
    let browser = crate::support::Browser::new(&server.origin);
    assert!(
        browser
            .login(email, crate::support::PASSWORD)
            .await
            .unwrap()
            .status()
            .is_redirection()
    );
    let receipt = format!("{}/me/signatures/{id}/receipt.pdf", server.origin);
    let genuine = browser.client.get(&receipt).send().await.unwrap();
    assert_eq!(genuine.status(), 200);

    let mut raw = Raw::attacker(&db).await;
    raw.exec(&format!(
        "UPDATE signatures SET typed_name = 'Somebody Else' WHERE id = {id}"
    ))
    .await;
    let forged = browser.client.get(&receipt).send().await.unwrap();
    assert_eq!(forged.status(), 409);
    let page = forged.text().await.unwrap();
    assert!(page.contains("no longer matches"), "{page}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("REFUSING to issue a receipt"), "{log}");
    let mut plain = Raw::plain(&db).await;
    assert_eq!(
        plain
            .count("SELECT COUNT(*) FROM outbox WHERE to_email = 'head@test.example' AND subject LIKE '%needs checking%'")
            .await,
        1
    );
    // serve checkpointed at start and queued the week's witness of the head for her.
    assert_eq!(
        plain
            .count("SELECT COUNT(*) FROM outbox WHERE to_email = 'head@test.example' AND subject LIKE '%this week''s record%'")
            .await,
        1
    );
}
