#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::seal::rfind;
use super::*;
use crate::OrganisationId;
use crate::ledger::{ChainHead, next_entry};
use crate::ledger::{Event, LedgerEntry};
use crate::signing::{AuthMethod, RequestContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeZone;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn school(key: &SigningKey) -> School {
    School {
        id: SchoolId(3),
        organisation: OrganisationId(1),
        name: "St Mary's Primary".into(),
        slug: "st-marys".into(),
        timezone: chrono_tz::Europe::London.into(),
        public_key: hex::encode(key.verifying_key().to_bytes()),
    }
}

fn signed_event() -> Event {
    Event::Signed {
        signature: SignatureId(9),
        person: PersonId(4),
        version: VersionId(2),
        typed_name: "Sam Staff".into(),
        text_sha256: "ab".repeat(32),
        declaration: "I agree.".into(),
        mark_kind: "typed".into(),
        mark_sha256: "cd".repeat(32),
        references: vec![],
        ip: "10.0.0.8".into(),
        user_agent: "Firefox".into(),
        auth: AuthMethod::Password,
        viewed_seq: Some(2),
        served_at: None,
    }
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 15, 0).unwrap()
}

/// A chain of four entries whose third records the signature.
fn chain() -> Vec<LedgerEntry> {
    let events = [
        Event::SchoolCreated {
            name: "St Mary's Primary".into(),
            public_key: "00".into(),
        },
        Event::KioskRevoked {
            kiosk: crate::KioskId(1),
            by: PersonId(1),
        },
        signed_event(),
        Event::KioskRevoked {
            kiosk: crate::KioskId(2),
            by: PersonId(1),
        },
    ];
    let mut out: Vec<LedgerEntry> = Vec::new();
    for ev in events {
        let head = out.last().map(|e| ChainHead {
            seq: e.seq,
            hash: e.hash.clone(),
        });
        out.push(next_entry(SchoolId(3), head.as_ref(), &ev, at()).unwrap());
    }
    out
}

fn facts(key: &SigningKey) -> ReceiptFacts {
    let entry = &chain()[2];
    let signature = Signature {
        id: SignatureId(9),
        school: SchoolId(3),
        person: PersonId(4),
        version: VersionId(2),
        policy: PolicyId(1),
        policy_title: "Acceptable Use Policy".into(),
        version_number: 2,
        typed_name: "Sam Staff".into(),
        mark_kind: "typed".into(),
        mark_sha256: "cd".repeat(32),
        text_sha256: "ab".repeat(32),
        declaration: "I agree.".into(),
        references: vec![],
        context: RequestContext::new("10.0.0.8".into(), "Firefox", AuthMethod::Password),
        signed_at: at(),
        ledger_seq: entry.seq,
        ledger_hash: entry.hash.clone(),
    };
    ReceiptFacts::new(
        &school(key),
        "Sam Staff",
        "sam@stmarys.example",
        &signature,
        at() + chrono::Duration::minutes(1),
    )
    .unwrap()
}

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF";

#[test]
fn facts_name_the_time_zone_and_derive_the_code_from_the_entry_hash() {
    let f = facts(&key(1));
    assert_eq!(f.local_time, "Tuesday 24 November 2026, 09:15 GMT");
    assert_eq!(f.time_zone.name(), "Europe/London");
    assert_eq!(f.place.how, "password");
    let code = ReceiptCode::parse(&f.code).unwrap();
    assert!(f.chain.entry_hash.starts_with(&code.hash_prefix()));
    assert_eq!(code.hash_prefix().len(), 20);
    // Summer time is named too.
    let summer = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
    assert_eq!(
        local_time(summer, chrono_tz::Europe::London),
        "Wednesday 1 July 2026, 09:00 BST"
    );
}

#[test]
fn a_sealed_receipt_verifies_and_gives_back_its_facts() {
    let k = key(1);
    let f = facts(&k);
    let sealed = seal(PDF, &f, &k).unwrap();
    assert!(sealed.starts_with(PDF));
    assert!(sealed.ends_with(b"\n"));
    assert_eq!(verify(&sealed, &k.verifying_key()).unwrap(), f);
    // Opening needs no key and names the school.
    assert_eq!(open(&sealed).unwrap().facts.school.id, SchoolId(3));
}

#[test]
fn changing_any_byte_of_a_sealed_file_fails_verification() {
    let k = key(1);
    let sealed = seal(PDF, &facts(&k), &k).unwrap();
    for i in 0..sealed.len() {
        for mask in [0x01u8, 0x20, 0x80, 0xff] {
            let mut changed = sealed.clone();
            changed[i] ^= mask;
            assert!(
                verify(&changed, &k.verifying_key()).is_err(),
                "byte {i} ^ {mask:#x} went unnoticed"
            );
        }
    }
    // Nor can a byte be added or removed anywhere.
    for i in 0..sealed.len() {
        let mut shorter = sealed.clone();
        shorter.remove(i);
        assert!(
            verify(&shorter, &k.verifying_key()).is_err(),
            "removing {i}"
        );
        let mut longer = sealed.clone();
        longer.insert(i, b'A');
        assert!(
            verify(&longer, &k.verifying_key()).is_err(),
            "adding at {i}"
        );
    }
}

#[test]
fn a_change_to_the_pdf_is_reported_as_a_changed_file() {
    let k = key(1);
    let mut sealed = seal(PDF, &facts(&k), &k).unwrap();
    sealed[12] = b'X';
    assert_eq!(
        verify(&sealed, &k.verifying_key()).unwrap_err(),
        ReceiptError::Altered
    );
}

#[test]
fn a_receipt_sealed_with_another_key_names_the_different_key() {
    let (ours, theirs) = (key(1), key(2));
    let sealed = seal(PDF, &facts(&theirs), &theirs).unwrap();
    let err = verify(&sealed, &ours.verifying_key()).unwrap_err();
    assert!(matches!(err, ReceiptError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("different key"), "{err}");
}

#[test]
fn a_file_without_its_seal_line_has_no_seal() {
    let k = key(1);
    let sealed = seal(PDF, &facts(&k), &k).unwrap();
    let cut = rfind(&sealed, SEAL_MARKER).unwrap();
    assert_eq!(
        verify(&sealed[..cut], &k.verifying_key()).unwrap_err(),
        ReceiptError::NoSeal
    );
    assert_eq!(open(b"hello").unwrap_err(), ReceiptError::NoSeal);
}

#[test]
fn a_damaged_seal_says_which_part() {
    let k = key(1);
    let sealed = seal(PDF, &facts(&k), &k).unwrap();
    let text = String::from_utf8(sealed.clone()).unwrap();
    let (head, line) = text.rsplit_once("%UNDERSIGN-RECEIPT-1 ").unwrap();
    let (facts_b64, sig_b64) = line.trim_end().split_once(' ').unwrap();
    let bad_sig = format!(
        "{head}%UNDERSIGN-RECEIPT-1 {facts_b64} {}\n",
        &sig_b64[..20]
    );
    match open(bad_sig.as_bytes()).unwrap_err() {
        ReceiptError::SealDamaged { part, .. } => assert_eq!(part, SealPart::Signature),
        other => panic!("{other}"),
    }
    let bad_facts = format!("{head}%UNDERSIGN-RECEIPT-1 !{facts_b64} {sig_b64}\n");
    match open(bad_facts.as_bytes()).unwrap_err() {
        ReceiptError::SealDamaged { part, .. } => assert_eq!(part, SealPart::Facts),
        other => panic!("{other}"),
    }
    // An unknown field cannot ride along, even though it would be sealed.
    let mut value = serde_json::to_value(facts(&k)).unwrap();
    value["note"] = "extra".into();
    let json = canonical_json(&value);
    let digest: [u8; 32] = Sha256::digest(head.as_bytes()).into();
    let sig = k.sign(&seal_message(&json, &digest));
    let extra = format!(
        "{head}%UNDERSIGN-RECEIPT-1 {} {}\n",
        URL_SAFE_NO_PAD.encode(&json),
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    );
    let err = open(extra.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    // Something appended after the seal is noticed.
    let mut appended = sealed;
    appended.extend_from_slice(b"more\n");
    assert!(matches!(
        open(&appended).unwrap_err(),
        ReceiptError::SealDamaged {
            part: SealPart::Line,
            ..
        }
    ));
}

#[test]
fn base64_with_non_canonical_trailing_bits_is_refused() {
    // 64 signature bytes take 86 characters whose last one carries 4 unused bits:
    // a character that differs only in those bits decodes to the same bytes with a
    // lax decoder. Ours refuses it, so no byte of the seal can change unnoticed.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let k = key(1);
    let sealed = seal(PDF, &facts(&k), &k).unwrap();
    let last = sealed.len() - 2;
    let index = ALPHABET.iter().position(|&c| c == sealed[last]).unwrap();
    let twin = ALPHABET[(index & !0x0f) | ((index + 1) & 0x0f)];
    let mut changed = sealed.clone();
    changed[last] = twin;
    let err = verify(&changed, &k.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ReceiptError::SealDamaged {
                part: SealPart::Signature,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn only_pdfs_are_sealed_and_only_once() {
    let k = key(1);
    assert_eq!(
        seal(b"GIF89a", &facts(&k), &k).unwrap_err(),
        ReceiptError::NotPdf
    );
    let sealed = seal(PDF, &facts(&k), &k).unwrap();
    assert_eq!(
        seal(&sealed, &facts(&k), &k).unwrap_err(),
        ReceiptError::AlreadySealed
    );
}

#[test]
fn codes_are_grouped_and_read_back_forgivingly() {
    let hash = "0123456789abcdef0123".to_string() + &"ff".repeat(22);
    let code = ReceiptCode::from_entry_hash(&hash).unwrap();
    let shown = code.to_string();
    assert_eq!(shown.len(), 19);
    assert_eq!(shown.chars().filter(|c| *c == '-').count(), 3, "{shown}");
    assert_eq!(shown, "04HM-ASW9-NF6Y-Y093");
    assert_eq!(parse_code(&shown).unwrap(), "0123456789abcdef0123");
    for typed in [
        "04hm-asw9-nf6y-y093",
        "04HMASW9NF6YY093",
        " 04HM ASW9 NF6Y Y093 ",
        "O4HM-ASW9-NF6Y-YO93",
    ] {
        assert_eq!(
            parse_code(typed).unwrap(),
            "0123456789abcdef0123",
            "{typed}"
        );
    }
    // I and L read as 1.
    let ones = ReceiptCode::parse("1111-1111-1111-1111").unwrap();
    assert_eq!(ReceiptCode::parse("IiLl-1111-1111-1111").unwrap(), ones);
    assert!(code.matches(&hash));
    let short = parse_code("04HM-ASW9").unwrap_err();
    assert!(short.to_string().contains("16 characters"), "{short}");
    let bad = parse_code("04HM-ASW9-NF6Y-Y09U").unwrap_err();
    assert!(bad.to_string().contains("'U'"), "{bad}");
    assert!(parse_code("").unwrap_err().to_string().contains("enter"));
    assert!(ReceiptCode::from_entry_hash("xyz").is_err());
}

#[test]
fn every_code_round_trips() {
    for n in 0..=255u8 {
        let hash = hex::encode([n.wrapping_mul(37); 32]);
        let code = ReceiptCode::from_entry_hash(&hash).unwrap();
        assert_eq!(ReceiptCode::parse(&code.to_string()).unwrap(), code);
    }
}

#[test]
fn an_untouched_chain_confirms_the_receipt() {
    let f = facts(&key(1));
    check_against_chain(&f, &chain()).unwrap();
    // A break after the receipt's entry does not matter to it.
    let mut later = chain();
    later[3].payload = later[3].payload.replace("2", "3");
    check_against_chain(&f, &later).unwrap();
}

#[test]
fn an_edited_entry_is_named() {
    let f = facts(&key(1));
    let mut c = chain();
    c[2].payload = c[2].payload.replace("10.0.0.8", "10.0.0.9");
    let err = check_against_chain(&f, &c).unwrap_err();
    assert_eq!(err, ReceiptError::EntryAltered { seq: 3 });
    assert_eq!(
        err.to_string(),
        "ledger entry 3 has been altered: its hash no longer matches its contents"
    );
    // An earlier edit breaks the chain before the entry.
    let mut c = chain();
    c[0].payload = c[0].payload.replace("Mary", "Mark");
    let err = check_against_chain(&f, &c).unwrap_err();
    assert!(matches!(err, ReceiptError::ChainBroken(_)), "{err}");
}

#[test]
fn a_receipt_naming_the_wrong_entry_fails() {
    let mut f = facts(&key(1));
    f.chain.seq = 2;
    let err = check_against_chain(&f, &chain()).unwrap_err();
    assert!(
        matches!(err, ReceiptError::EntryReplaced { seq: 2 }),
        "{err}"
    );
    // The right hash at the wrong place is still not a signature.
    let c = chain();
    f.chain.entry_hash = c[1].hash.clone();
    let err = check_against_chain(&f, &c).unwrap_err();
    assert!(err.to_string().contains("not a signature"), "{err}");
    f.chain.seq = 7;
    let err = check_against_chain(&f, &c).unwrap_err();
    assert!(
        err.to_string().contains(
            "entry 7 is missing from the school's evidence ledger: the ledger has only 4 entries"
        ),
        "{err}"
    );
}

#[test]
fn a_rewritten_chain_or_different_signature_is_named() {
    let f = facts(&key(1));
    // The whole chain recomputed with another address: consistent, but not the
    // receipt's entry any more.
    let mut rewritten: Vec<LedgerEntry> = Vec::new();
    for (i, e) in chain().iter().enumerate() {
        let head = rewritten.last().map(|e| ChainHead {
            seq: e.seq,
            hash: e.hash.clone(),
        });
        let mut value: Value = serde_json::from_str(&e.payload).unwrap();
        if i == 2 {
            value["event"]["ip"] = "10.9.9.9".into();
        }
        let ev: Event = serde_json::from_value(value["event"].clone()).unwrap();
        rewritten.push(next_entry(SchoolId(3), head.as_ref(), &ev, at()).unwrap());
    }
    assert_eq!(
        check_against_chain(&f, &rewritten).unwrap_err(),
        ReceiptError::EntryReplaced { seq: 3 }
    );
    // A receipt whose facts differ from its (intact) entry names the fields.
    let mut other = f.clone();
    other.place.ip = "192.168.1.1".into();
    other.signer.person = PersonId(5);
    let err = check_against_chain(&other, &chain()).unwrap_err();
    assert_eq!(
        err,
        ReceiptError::DifferentSignature {
            seq: 3,
            fields: "person, IP address".into()
        }
    );
    // Another school's ledger is refused outright.
    let mut elsewhere = f;
    elsewhere.school.id = SchoolId(4);
    assert!(matches!(
        check_against_chain(&elsewhere, &chain()).unwrap_err(),
        ReceiptError::OtherSchool { .. }
    ));
}
