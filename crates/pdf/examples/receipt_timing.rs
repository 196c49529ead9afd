//! Prints how long one receipt takes to typeset and seal: the first (which also parses
//! the built-in fonts) and the mean of the next ones. A rough figure for capacity
//! planning, not a benchmark; build with `--release` for the figure that matters.
//!
//! `cargo run --release -p undersign-pdf --example receipt_timing [COUNT]`

use chrono::{TimeZone, Utc};
use ed25519_dalek::SigningKey;
use std::time::Instant;
use undersign_core::receipt::{ReceiptFacts, seal};
use undersign_core::school::School;
use undersign_core::signing::{AuthMethod, RequestContext, Signature};
use undersign_core::{OrganisationId, PersonId, PolicyId, SchoolId, SignatureId, VersionId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20);
    let key = SigningKey::from_bytes(&[42; 32]);
    let school = School {
        id: SchoolId(1),
        organisation: OrganisationId(1),
        name: "St Mary's Primary School".into(),
        slug: "st-marys".into(),
        timezone: undersign_core::time::TimeZone::parse("Europe/London")?,
        public_key: hex::encode(key.verifying_key().to_bytes()),
    };
    let at = Utc
        .with_ymd_and_hms(2026, 11, 24, 9, 15, 0)
        .single()
        .ok_or("bad date")?;
    let facts = |n: u32| -> Result<ReceiptFacts, Box<dyn std::error::Error>> {
        let signature = Signature {
            id: SignatureId(i64::from(n)),
            school: school.id,
            person: PersonId(i64::from(n)),
            version: VersionId(2),
            policy: PolicyId(1),
            policy_title: "Acceptable Use Policy".into(),
            version_number: 2,
            typed_name: format!("Staff Member {n}"),
            mark_kind: "typed".into(),
            mark_sha256: "00".repeat(32),
            text_sha256: "ab".repeat(32),
            declaration: "I have read and agree to this policy.".into(),
            references: vec![],
            context: RequestContext::new(
                "203.0.113.7".into(),
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
                AuthMethod::Password,
            ),
            signed_at: at,
            ledger_seq: i64::from(n) + 10,
            ledger_hash: format!("{:064x}", u128::from(n) * 7919),
        };
        let name = format!("Staff Member {n}");
        Ok(ReceiptFacts::new(
            &school,
            &name,
            "staff@stmarys.example",
            &signature,
            at,
        )?)
    };
    let shows = undersign_pdf::ReceiptShows {
        references: vec!["Council Social Media Policy".into()],
        mark: undersign_pdf::ShownMark::Typed("Staff Member".into()),
    };
    let started = Instant::now();
    let first = seal(
        &undersign_pdf::receipt(&facts(0)?, &shows)?,
        &facts(0)?,
        &key,
    )?;
    let first_took = started.elapsed();
    let started = Instant::now();
    for n in 1..=count {
        let f = facts(n)?;
        seal(&undersign_pdf::receipt(&f, &shows)?, &f, &key)?;
    }
    let each = started.elapsed() / count.max(1);
    println!(
        "receipt: first {first_took:?} (includes parsing the fonts), then {each:?} each over {count}; {} bytes",
        first.len()
    );
    Ok(())
}
