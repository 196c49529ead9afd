//! The receipt: one A4 page stating what a signature's ledger entry proves and how to
//! check it, with the signature itself and the documents acknowledged with the policy.

use serde::Serialize;
use undersign_core::receipt::{ReceiptFacts, VERIFY_PATH, VisitReceiptFacts, key_fingerprint};

use crate::{Meta, PdfError, world};

const TEMPLATE: &str = concat!(
    include_str!("../templates/common.typ"),
    include_str!("../templates/receipt.typ")
);

const VISIT_TEMPLATE: &str = concat!(
    include_str!("../templates/common.typ"),
    include_str!("../templates/visit_receipt.typ")
);

/// Where the template finds a drawn signature.
const SIGNATURE_PATH: &str = "/signature.png";

/// What a receipt shows besides its sealed facts. The seal covers it all the same: it signs
/// the SHA-256 of every byte of the PDF, and these are printed in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptShows {
    /// The titles of the documents the signer confirmed reading with the policy (e.g. the
    /// council's social media policy).
    pub references: Vec<String>,
    pub mark: ShownMark,
}

/// The signature as made: the drawn image or the typed text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ShownMark {
    /// The PNG drawn on the sign page.
    Drawn(Vec<u8>),
    Typed(String),
    /// The record has no mark (never expected of a signature made in Undersign).
    #[default]
    Missing,
}

#[derive(Serialize)]
struct MarkData {
    /// `drawn` (read from [`SIGNATURE_PATH`]), `typed`, `unreadable` or `missing`.
    kind: &'static str,
    text: String,
}

#[derive(Serialize)]
struct ReceiptData<'a> {
    meta: Meta,
    receipt: &'a ReceiptFacts,
    signed_at_utc: String,
    issued_local: String,
    fingerprint: String,
    verify_at: String,
    references: &'a [String],
    mark: MarkData,
}

/// The unsealed receipt PDF for `facts`; how-to-verify names the `/verify` page by path.
pub fn receipt(facts: &ReceiptFacts, shows: &ReceiptShows) -> Result<Vec<u8>, PdfError> {
    render(facts, shows, VERIFY_PATH.to_string())
}

/// The unsealed receipt PDF for `facts`, naming the verify page at `site` (the school's
/// Undersign address, e.g. `https://undersign.stmarys.example`).
pub fn receipt_for_site(
    facts: &ReceiptFacts,
    shows: &ReceiptShows,
    site: &str,
) -> Result<Vec<u8>, PdfError> {
    render(
        facts,
        shows,
        format!("{}{VERIFY_PATH}", site.trim().trim_end_matches('/')),
    )
}

fn render(
    facts: &ReceiptFacts,
    shows: &ReceiptShows,
    verify_at: String,
) -> Result<Vec<u8>, PdfError> {
    let data = |mark: MarkData| ReceiptData {
        meta: Meta {
            title: format!(
                "Receipt {}: {} signed {} version {}",
                facts.code, facts.signer.full_name, facts.policy.title, facts.version.number
            ),
            author: facts.school.name.clone(),
        },
        receipt: facts,
        signed_at_utc: undersign_core::time::rfc3339(facts.signed_at),
        issued_local: facts.issued_local_time(),
        fingerprint: key_fingerprint(&facts.school.public_key)
            .unwrap_or_else(|| "(not a valid key)".into()),
        verify_at: verify_at.clone(),
        references: &shows.references,
        mark,
    };
    let plain = |kind| {
        world::render(
            "receipt",
            TEMPLATE,
            &data(MarkData {
                kind,
                text: String::new(),
            }),
            facts.issued_at,
            &[],
        )
    };
    match &shows.mark {
        ShownMark::Typed(text) => world::render(
            "receipt",
            TEMPLATE,
            &data(MarkData {
                kind: "typed",
                text: text.clone(),
            }),
            facts.issued_at,
            &[],
        ),
        ShownMark::Missing => plain("missing"),
        // The store only checks a drawn mark's PNG header: if typst cannot decode the
        // image, the receipt says so rather than not being issued at all.
        ShownMark::Drawn(png) => world::render(
            "receipt",
            TEMPLATE,
            &data(MarkData {
                kind: "drawn",
                text: String::new(),
            }),
            facts.issued_at,
            &[(SIGNATURE_PATH, png.as_slice())],
        )
        .or_else(|_| plain("unreadable")),
    }
}

#[derive(Serialize)]
struct VisitReceiptData<'a> {
    meta: Meta,
    receipt: &'a VisitReceiptFacts,
    arrived_at_utc: String,
    issued_local: String,
    fingerprint: String,
    verify_at: String,
}

/// The unsealed receipt PDF of a visit, naming the verify page at `site`.
pub fn visit_receipt_for_site(facts: &VisitReceiptFacts, site: &str) -> Result<Vec<u8>, PdfError> {
    let data = VisitReceiptData {
        meta: Meta {
            title: format!(
                "Receipt {}: {} visited {}",
                facts.code, facts.personal.full_name, facts.school.name
            ),
            author: facts.school.name.clone(),
        },
        receipt: facts,
        arrived_at_utc: undersign_core::time::rfc3339(facts.arrived_at),
        issued_local: facts.issued_local_time(),
        fingerprint: key_fingerprint(&facts.school.public_key)
            .unwrap_or_else(|| "(not a valid key)".into()),
        verify_at: format!("{}{VERIFY_PATH}", site.trim().trim_end_matches('/')),
    };
    world::render("visit receipt", VISIT_TEMPLATE, &data, facts.issued_at, &[])
}
