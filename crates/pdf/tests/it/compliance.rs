//! The compliance report.

use crate::support::{assert_pdf, at, info, key, school, signed, text_of};
use undersign_core::compliance::{
    DaysToSign, PersonFacts, PolicyFacts, SchoolFacts, SignedFacts, VersionFacts,
};
use undersign_core::ledger::ChainHead;
use undersign_core::ledger::Checkpoint;
use undersign_core::person::{Audience, Role};
use undersign_core::policy::ChangeKind;
use undersign_core::{PersonId, PolicyId, SchoolId, VersionId};
use undersign_pdf::{ChainStatus, ComplianceReport};

fn facts() -> SchoolFacts {
    let person = |id: i64, name: &str, roles: &[Role]| PersonFacts {
        id: PersonId(id),
        full_name: name.into(),
        email: format!("p{id}@stmarys.example"),
        roles: roles.iter().copied().collect(),
        joined_at: at(1, 8),
    };
    SchoolFacts {
        school: SchoolId(1),
        name: school().name,
        slug: school().slug,
        timezone: undersign_core::time::TimeZone::parse("Europe/London").unwrap(),
        days_to_sign: DaysToSign::parse("7").unwrap(),
        policies: vec![PolicyFacts {
            id: PolicyId(1),
            title: "Acceptable Use Policy".into(),
            versions: vec![VersionFacts {
                id: VersionId(2),
                number: 2,
                change_kind: ChangeKind::Major,
                audiences: [Audience::Staff, Audience::Governors].into(),
                published_at: at(2, 8),
            }],
        }],
        people: vec![
            person(7, "Sam Staff", &[Role::Staff]),
            person(8, "Olu Overdue", &[Role::Staff, Role::Dsl]),
            person(9, "Gina Governor", &[Role::Governor]),
        ],
        signed: vec![SignedFacts {
            person: PersonId(7),
            policy: PolicyId(1),
            last_number: 2,
            valid_since: Some(at(3, 9)),
        }],
        declined: vec![],
    }
}

#[test]
fn the_report_gives_shares_outstanding_people_and_a_verified_ledger() {
    let (entries, _) = signed("Sam Staff");
    let head = ChainHead {
        seq: 3,
        hash: entries[2].hash.clone(),
    };
    let checkpoint = Checkpoint::sign(SchoolId(1), &head, at(24, 13), &key());
    let chain = ChainStatus::verify(SchoolId(1), &entries, &[checkpoint], &key().verifying_key());
    assert_eq!(chain.problem, None);
    let report = ComplianceReport::from_facts(&facts(), at(25, 9), chain);
    let pdf = undersign_pdf::compliance_report(&report).unwrap();
    assert_pdf(&pdf);
    assert_eq!(
        info(&pdf, "Title"),
        "Compliance report: St Mary's Primary School"
    );
    let text = text_of(&pdf);
    for expected in [
        "Compliance report",
        "Acceptable Use Policy, version 2",
        "Signed 1 of 3 (33%)",
        "Olu Overdue",
        "Gina Governor",
        "Designated safeguarding lead",
        "Overdue",
        // Published on the 2nd with 7 days to sign: due on the 9th, 16 days overdue on the 25th.
        "Overdue never 9 Nov 2026 16",
        "Verified",
        "Entries 3",
        entries[2].hash.as_str(),
        "entry 3, signed Tuesday 24 November 2026, 13:15 GMT",
        "Wednesday 25 November 2026, 09:15 GMT",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(
        !text.contains("p7@stmarys.example"),
        "a signer is not outstanding"
    );
}

#[test]
fn a_broken_ledger_is_reported_with_the_entry_named() {
    let (mut entries, _) = signed("Sam Staff");
    entries[1].payload = entries[1].payload.replace("203.0.113.7", "198.51.100.1");
    let chain = ChainStatus::verify(SchoolId(1), &entries, &[], &key().verifying_key());
    assert!(
        chain.problem.as_deref().unwrap().starts_with("entry 2:"),
        "{chain:?}"
    );
    let report = ComplianceReport::from_facts(&facts(), at(20, 9), chain);
    let text = text_of(&undersign_pdf::compliance_report(&report).unwrap());
    assert!(
        text.contains("BROKEN: entry 2: entry 2 has been altered"),
        "{text}"
    );
}
