//! The evidence pack: the full text as signed, the receipt facts, the events.

use crate::support::{AUP, assert_pdf, flow_text_of, info, school, signed, text_of};
use undersign_core::person::{Email, FullName, Person, PersonStatus, Role};
use undersign_core::{PersonId, VersionId};
use undersign_pdf::{EvidencePack, PdfError, PersonEvent, SignedVersion};

fn person(name: &str) -> Person {
    Person {
        id: PersonId(7),
        school: school().id,
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse("sam@stmarys.example").unwrap(),
        roles: [Role::Staff, Role::Dsl].into(),
        line_manager: None,
        status: PersonStatus::Active,
    }
}

fn pack(body_md: &str) -> EvidencePack {
    let (entries, facts) = signed("Sam Staff");
    let events = PersonEvent::concerning(&entries, PersonId(7), |v| {
        (v == VersionId(2)).then(|| "Acceptable Use Policy version 2".to_string())
    });
    EvidencePack {
        school: school(),
        person: person("Sam Staff"),
        produced_at: crate::support::at(25, 8),
        signed: vec![SignedVersion {
            published_at: Some(crate::support::at(20, 8)),
            body_md: body_md.into(),
            receipt: facts,
        }],
        events,
    }
}

#[test]
fn the_events_are_the_ones_about_the_person() {
    let (entries, _) = signed("Sam Staff");
    let events = PersonEvent::concerning(&entries, PersonId(7), |_| None);
    let kinds: Vec<(&str, i64)> = events.iter().map(|e| (e.kind.as_str(), e.seq)).collect();
    assert_eq!(kinds, vec![("viewed", 2), ("signed", 3)]);
    assert!(
        events[1]
            .summary
            .starts_with("Signed version id 2 as \u{201c}Sam Staff\u{201d} (typed signature) from 203.0.113.7 (password)"),
        "{}",
        events[1].summary
    );
    assert!(PersonEvent::concerning(&entries, PersonId(8), |_| None).is_empty());
}

#[test]
fn a_pack_holds_the_whole_text_as_signed_over_several_pages() {
    let p = pack(AUP);
    let pdf = undersign_pdf::evidence_pack(&p).unwrap();
    assert_pdf(&pdf);
    let pages: usize = info(&pdf, "Pages").parse().unwrap();
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(info(&pdf, "Title"), "Evidence pack: Sam Staff");
    assert_eq!(info(&pdf, "Author"), "St Mary's Primary School");
    let text = text_of(&pdf);
    let facts = &p.signed[0].receipt;
    for expected in [
        "Evidence pack",
        "Sam Staff",
        "Staff, Designated safeguarding lead",
        facts.code.as_str(),
        facts.chain.entry_hash.as_str(),
        facts.text_sha256.as_str(),
        "Acceptable Use Policy, version 2",
        // The policy's own words, statements numbered as on the signing page.
        "Acceptable Use Policy Staff, Governors and Visitors",
        "3. I will not access facebook or other social networking sites",
        "Online conduct should not be different to offline conduct.",
        "Profiles on social media should not be traceable to a person's place of work.",
        "Social Networking",
        // Technical facts, labelled for an inspector.
        "Text fingerprint (SHA-256)",
        "Browser (user agent)",
        "How they logged in",
    ] {
        assert!(text.contains(expected), "{expected:?} missing");
    }
    let flow = flow_text_of(&pdf);
    for expected in [
        "Opened Acceptable Use Policy version 2 from 203.0.113.7 (password)",
        "Signed Acceptable Use Policy version 2 as \u{201c}Sam Staff\u{201d} (typed signature) from 203.0.113.7 (password)",
        &p.events[0].hash[..16],
        &p.events[1].hash[..16],
    ] {
        assert!(
            flow.contains(expected),
            "event {expected:?} missing from:\n{flow}"
        );
    }
    // Every statement is there, in order.
    let statements = undersign_core::markdown::render_policy(AUP)
        .unwrap()
        .statements;
    let mut from = 0;
    for s in &statements {
        let needle = format!("{}. {}", s.number, &s.text[..40.min(s.text.len())]);
        let found = text[from..]
            .find(&needle)
            .unwrap_or_else(|| panic!("statement {} missing or out of order", s.number));
        from += found;
    }
}

#[test]
fn a_pack_refuses_a_text_that_is_not_the_one_signed() {
    let p = pack(&format!("{AUP}\n- An extra statement nobody signed.\n"));
    match undersign_pdf::evidence_pack(&p).unwrap_err() {
        PdfError::TextMismatch {
            title,
            number,
            expected,
            ..
        } => {
            assert_eq!((title.as_str(), number), ("Acceptable Use Policy", 2));
            assert_eq!(expected, p.signed[0].receipt.text_sha256);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn markup_in_policy_text_is_printed_as_written() {
    let body = "# Rules #panic(\"h\")\n\n- Never type `#panic(\"x\")` or $x$ into ] a form.\n- **Bold** and <b>tags</b> stay text.\n";
    let mut p = pack(body);
    p.signed[0].receipt.text_sha256 = undersign_core::policy::sha256_hex(body.as_bytes());
    let text = text_of(&undersign_pdf::evidence_pack(&p).unwrap());
    for expected in [
        "Rules #panic(\"h\")",
        "1. Never type #panic(\"x\") or $x$ into ] a form.",
        "2. Bold and <b>tags</b> stay text.",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}
