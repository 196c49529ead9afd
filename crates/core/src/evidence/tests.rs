use super::*;
use crate::ids::{PersonId, SchoolId, SignatureId, VersionId};
use crate::ledger::{ChainHead, next_entry};
use crate::signing::AuthMethod;
use chrono::{TimeZone, Utc};

const SCHOOL: SchoolId = SchoolId(2);

fn chain(events: &[Event]) -> Vec<LedgerEntry> {
    let mut out: Vec<LedgerEntry> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let head = out.last().map(|e| ChainHead {
            seq: e.seq,
            hash: e.hash.clone(),
        });
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, i as u32).unwrap();
        out.push(next_entry(SCHOOL, head.as_ref(), ev, at).unwrap());
    }
    out
}

fn genesis() -> Event {
    Event::SchoolCreated {
        name: "Test Primary".into(),
        public_key: "ab".repeat(32),
    }
}

fn signed(name: &str) -> Event {
    Event::Signed {
        signature: SignatureId(5),
        person: PersonId(3),
        version: VersionId(4),
        typed_name: name.into(),
        text_sha256: "11".repeat(32),
        declaration: "I agree".into(),
        mark_kind: "typed".into(),
        mark_sha256: "22".repeat(32),
        references: Vec::new(),
        ip: "192.0.2.7".into(),
        user_agent: "Firefox".into(),
        auth: AuthMethod::Password,
        viewed_seq: None,
        served_at: None,
    }
}

/// The rows exactly as the entries imply them.
fn faithful_rows(entries: &[LedgerEntry]) -> Vec<EvidenceRow> {
    let (expected, findings) = expected_rows(entries);
    assert!(findings.is_empty(), "{findings:?}");
    expected
        .into_iter()
        .map(|((table, id), want)| EvidenceRow {
            table,
            id,
            fields: want.fields,
        })
        .collect()
}

#[test]
fn rows_that_match_their_entries_pass() {
    let entries = chain(&[genesis(), signed("Ann Able")]);
    let rows = faithful_rows(&entries);
    assert_eq!(rows.len(), 2);
    assert_eq!(cross_check(&entries, &rows), Vec::new());
}

#[test]
fn an_edited_field_is_named_with_its_row_and_entry() {
    let entries = chain(&[genesis(), signed("Ann Able")]);
    let mut rows = faithful_rows(&entries);
    let sig = rows.iter_mut().find(|r| r.table == "signatures").unwrap();
    sig.fields.insert("typed_name", json!("Zed Forger"));
    let findings = cross_check(&entries, &rows);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        findings[0].to_string(),
        "signatures row 5 (ledger entry 2): typed_name is \"Zed Forger\" in the table but \"Ann Able\" in the ledger"
    );
}

#[test]
fn a_deleted_row_and_an_unrecorded_row_are_both_named() {
    let entries = chain(&[genesis(), signed("Ann Able")]);
    let mut rows = faithful_rows(&entries);
    rows.retain(|r| r.table != "signatures");
    rows.push(EvidenceRow::new("declines", 9).with("reason", "made up"));
    let text: Vec<String> = cross_check(&entries, &rows)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(
        text[0].starts_with("signatures row 5 (ledger entry 2): the ledger records this row"),
        "{text:?}"
    );
    assert!(
        text[1].starts_with("declines row 9: no ledger entry records this row"),
        "{text:?}"
    );
}

#[test]
fn a_chain_must_begin_with_its_genesis_entry() {
    let entries = chain(&[signed("Ann Able")]);
    let (_, findings) = expected_rows(&entries);
    assert_eq!(findings.len(), 1);
    assert!(findings[0].problem.contains("genesis"), "{findings:?}");

    let entries = chain(&[genesis(), genesis()]);
    let (_, findings) = expected_rows(&entries);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].entry, Some(2));
}

#[test]
fn the_latest_entry_about_a_mutable_row_is_the_one_it_must_match() {
    let person = |roles: Vec<crate::person::Role>| Event::PersonRecorded {
        person: PersonId(3),
        full_name: "Ann Able".into(),
        email: "ann@test.example".into(),
        roles,
        status: "active".into(),
        line_manager: None,
        by: None,
    };
    use crate::person::Role;
    let entries = chain(&[
        genesis(),
        person(vec![Role::Staff]),
        person(vec![Role::SchoolAdministrator, Role::Staff]),
    ]);
    let rows = faithful_rows(&entries);
    assert_eq!(cross_check(&entries, &rows), Vec::new());
    // A role granted in SQL, with no entry behind it, is named.
    let mut forged = rows.clone();
    let p = forged.iter_mut().find(|r| r.table == "people").unwrap();
    p.fields.insert(
        "roles",
        json!(["headteacher", "school_administrator", "staff"]),
    );
    let findings = cross_check(&entries, &forged);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].entry, Some(3));
    assert!(findings[0].problem.starts_with("roles is"), "{findings:?}");
}

#[test]
fn a_json_column_that_is_not_json_differs() {
    assert_eq!(json_column("[1,2]"), json!([1, 2]));
    assert_eq!(json_column("{oops"), json!("{oops"));
}
