//! The receipt: one A4 page stating what a signature's ledger entry proves and how to
//! check it.

use serde::Serialize;
use undersign_core::receipt::{ReceiptFacts, VERIFY_PATH, key_fingerprint};

use crate::{Meta, PdfError, world};

const TEMPLATE: &str = concat!(
    include_str!("../templates/common.typ"),
    include_str!("../templates/receipt.typ")
);

#[derive(Serialize)]
struct ReceiptData<'a> {
    meta: Meta,
    receipt: &'a ReceiptFacts,
    signed_at_utc: String,
    issued_local: String,
    fingerprint: String,
    verify_at: String,
}

/// The unsealed receipt PDF for `facts`; how-to-verify names the `/verify` page by path.
pub fn receipt(facts: &ReceiptFacts) -> Result<Vec<u8>, PdfError> {
    render(facts, VERIFY_PATH.to_string())
}

/// The unsealed receipt PDF for `facts`, naming the verify page at `site` (the school's
/// Undersign address, e.g. `https://undersign.stmarys.example`).
pub fn receipt_for_site(facts: &ReceiptFacts, site: &str) -> Result<Vec<u8>, PdfError> {
    render(
        facts,
        format!("{}{VERIFY_PATH}", site.trim().trim_end_matches('/')),
    )
}

fn render(facts: &ReceiptFacts, verify_at: String) -> Result<Vec<u8>, PdfError> {
    let data = ReceiptData {
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
        verify_at,
    };
    world::render("receipt", TEMPLATE, &data, facts.issued_at)
}
