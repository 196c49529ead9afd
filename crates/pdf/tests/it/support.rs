//! Sample data built through the real domain code, and PDF inspection with poppler.

use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use std::io::Write;
use std::process::Command;
use undersign_core::ledger::{ChainHead, Event, LedgerEntry, next_entry};
use undersign_core::receipt::ReceiptFacts;
use undersign_core::school::School;
use undersign_core::signing::{AuthMethod, RequestContext, Signature};
use undersign_core::{OrganisationId, PersonId, PolicyId, SchoolId, SignatureId, VersionId};

/// The demo school's policy: long enough to need several pages.
pub const AUP: &str = include_str!("../../../../demo/acceptable-use-policy.md");

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 15, 0).unwrap()
}

pub fn school() -> School {
    School {
        id: SchoolId(1),
        organisation: OrganisationId(1),
        name: "St Mary's Primary School".into(),
        slug: "st-marys".into(),
        timezone: undersign_core::time::TimeZone::parse("Europe/London").unwrap(),
        public_key: hex::encode(key().verifying_key().to_bytes()),
    }
}

/// A ledger whose third entry records `name`'s signature of version 2, and the facts of
/// the receipt for it.
pub fn signed(name: &str) -> (Vec<LedgerEntry>, ReceiptFacts) {
    let text_sha256 = undersign_core::policy::sha256_hex(AUP.as_bytes());
    let context = RequestContext::new(
        "203.0.113.7".into(),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
        AuthMethod::Password,
    );
    let events = [
        Event::SchoolCreated {
            name: school().name,
            public_key: school().public_key,
        },
        Event::Viewed {
            person: PersonId(7),
            version: VersionId(2),
            text_sha256: text_sha256.clone(),
            ip: context.ip.clone(),
            user_agent: context.user_agent.clone(),
            auth: AuthMethod::Password,
        },
        Event::Signed {
            signature: SignatureId(5),
            person: PersonId(7),
            version: VersionId(2),
            typed_name: name.into(),
            text_sha256: text_sha256.clone(),
            declaration: "I have read and agree to this policy.".into(),
            mark_kind: "typed".into(),
            mark_sha256: "00".repeat(32),
            references: vec![],
            ip: context.ip.clone(),
            user_agent: context.user_agent.clone(),
            auth: AuthMethod::Password,
            viewed_seq: Some(2),
            served_at: None,
        },
    ];
    let mut entries: Vec<LedgerEntry> = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let head = entries.last().map(|e| ChainHead {
            seq: e.seq,
            hash: e.hash.clone(),
        });
        entries.push(next_entry(SchoolId(1), head.as_ref(), ev, at(24, 9 + i as u32)).unwrap());
    }
    let entry = &entries[2];
    let signature = Signature {
        id: SignatureId(5),
        school: SchoolId(1),
        person: PersonId(7),
        version: VersionId(2),
        policy: PolicyId(1),
        policy_title: "Acceptable Use Policy".into(),
        version_number: 2,
        typed_name: name.into(),
        mark_kind: "typed".into(),
        mark_sha256: "00".repeat(32),
        text_sha256,
        declaration: "I have read and agree to this policy.".into(),
        references: vec![],
        context,
        signed_at: at(24, 11),
        ledger_seq: entry.seq,
        ledger_hash: entry.hash.clone(),
    };
    let facts = ReceiptFacts::new(
        &school(),
        name,
        "sam@stmarys.example",
        &signature,
        at(24, 12),
    )
    .unwrap();
    (entries, facts)
}

/// Checks the PDF frame: the header, and `%%EOF` at the end (before a seal line, if any).
pub fn assert_pdf(bytes: &[u8]) {
    assert!(bytes.starts_with(b"%PDF-"), "no %PDF- header");
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    assert!(
        tail.windows(5).any(|w| w == b"%%EOF"),
        "no %%EOF near the end"
    );
}

fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let path = file.path().to_str().unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.push(path);
    if tool == "pdftotext" {
        all.push("-");
    }
    let out = Command::new(tool)
        .args(&all)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (Debian package poppler-utils): {e}"));
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text of a PDF as poppler lays it out (rows of a grid stay on one line), with runs
/// of white space made single spaces.
pub fn text_of(pdf: &[u8]) -> String {
    let raw = poppler("pdftotext", &["-layout", "-enc", "UTF-8"], pdf);
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of a PDF in reading order (a table cell's wrapped lines stay together).
pub fn flow_text_of(pdf: &[u8]) -> String {
    let raw = poppler("pdftotext", &["-enc", "UTF-8"], pdf);
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The width and height of each image in a PDF, from `pdfimages -list`.
pub fn images_of(pdf: &[u8]) -> Vec<(u32, u32)> {
    poppler("pdfimages", &["-list"], pdf)
        .lines()
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // page num type width height …; a soft mask ("smask") is the same image's alpha.
            (cols.len() > 4 && cols[2] == "image")
                .then(|| Some((cols[3].parse().ok()?, cols[4].parse().ok()?)))
                .flatten()
        })
        .collect()
}

/// `pdfinfo`'s fields.
pub fn info_of(pdf: &[u8]) -> Vec<(String, String)> {
    poppler("pdfinfo", &[], pdf)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

pub fn info(pdf: &[u8], field: &str) -> String {
    info_of(pdf)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("pdfinfo has no {field}"))
}
