//! The receipt page, unsealed and sealed.

use crate::support::{assert_pdf, images_of, info, key, signed, text_of};
use undersign_core::receipt::{ReceiptError, seal, verify};
use undersign_pdf::{ReceiptShows, ShownMark};

/// A drawn signature as the sign page's canvas makes it: a transparent PNG with a stroke.
const DRAWN: &[u8] = include_bytes!("signature.png");

/// What the receipt of a typed signature shows besides its facts.
fn typed(text: &str) -> ReceiptShows {
    ReceiptShows {
        references: vec!["Council Social Media Policy".into()],
        mark: ShownMark::Typed(text.into()),
    }
}

#[test]
fn a_receipt_shows_the_code_the_signer_and_the_entry_hash_on_one_page() {
    let (_, facts) = signed("Sam Staff");
    let pdf = undersign_pdf::receipt(&facts, &typed("Sam Staff")).unwrap();
    assert_pdf(&pdf);
    let text = text_of(&pdf);
    for expected in [
        facts.code.as_str(),
        "Sam Staff",
        "sam@stmarys.example",
        facts.chain.entry_hash.as_str(),
        facts.text_sha256.as_str(),
        facts.school.public_key.as_str(),
        "Tuesday 24 November 2026, 11:15 GMT",
        "2026-11-24T11:15:00.000000Z",
        "Europe/London",
        "203.0.113.7",
        "Acceptable Use Policy",
        "Receipt for a signed policy",
        "St Mary's Primary School",
        "at /verify",
        "undersign verify-receipt",
        // The documents acknowledged with the policy, and the signature as typed.
        "Documents acknowledged Council Social Media Policy",
        "Signature Sam Staff (typed)",
        // Technical facts, labelled for an inspector.
        "Text fingerprint (SHA-256)",
        "Browser (user agent)",
        "How they logged in password",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(info(&pdf, "Pages"), "1");
    assert_eq!(info(&pdf, "Author"), "St Mary's Primary School");
    assert_eq!(
        info(&pdf, "Title"),
        format!(
            "Receipt {}: Sam Staff signed Acceptable Use Policy version 2",
            facts.code
        )
    );
}

#[test]
fn a_receipt_can_name_the_schools_verify_page_in_full() {
    let (_, facts) = signed("Sam Staff");
    let pdf = undersign_pdf::receipt_for_site(
        &facts,
        &typed("Sam"),
        "https://undersign.stmarys.example/",
    )
    .unwrap();
    assert!(text_of(&pdf).contains("at https://undersign.stmarys.example/verify"));
}

#[test]
fn a_sealed_receipt_still_reads_as_a_pdf_and_verifies() {
    let (_, facts) = signed("Sam Staff");
    let sealed = seal(
        &undersign_pdf::receipt(&facts, &typed("Sam Staff")).unwrap(),
        &facts,
        &key(),
    )
    .unwrap();
    assert_pdf(&sealed);
    // Readers ignore the seal line after %%EOF.
    assert_eq!(info(&sealed, "Pages"), "1");
    assert!(text_of(&sealed).contains(&facts.code));
    assert_eq!(verify(&sealed, &key().verifying_key()).unwrap(), facts);
    let mut changed = sealed.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    assert_eq!(
        verify(&changed, &key().verifying_key()).unwrap_err(),
        ReceiptError::Altered
    );
}

#[test]
fn hostile_text_in_the_data_comes_out_literally() {
    let hostile = [
        "#panic(\"x\")",
        "]",
        "*bold*",
        "$x$",
        "<script>",
        "#read(\"/etc/passwd\")",
        "@preview",
        "\\",
        "// not a comment",
    ];
    let name = hostile.join(" ");
    let (_, mut facts) = signed(&name);
    facts.signer.email = "#panic(\"mail\")@x.example".into();
    facts.policy.title = "Policy ] #strong[x] $y$".into();
    facts.declaration = "I agree ]] [[ #{ panic() }".into();
    facts.school.name = "#set page(width: 1cm) School".into();
    let pdf = undersign_pdf::receipt(&facts, &typed("Sam Staff")).unwrap();
    let text = text_of(&pdf);
    for expected in hostile.iter().copied().chain([
        "#panic(\"mail\")@x.example",
        "Policy ] #strong[x] $y$",
        "I agree ]] [[ #{ panic() }",
        "#set page(width: 1cm) School",
    ]) {
        assert!(
            text.contains(expected),
            "{expected:?} not printed literally in:\n{text}"
        );
    }
    assert_eq!(info(&pdf, "Author"), "#set page(width: 1cm) School");
}

#[test]
fn the_same_facts_always_give_the_same_bytes() {
    let (_, facts) = signed("Sam Staff");
    let first = undersign_pdf::receipt(&facts, &typed("Sam Staff")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(first == undersign_pdf::receipt(&facts, &typed("Sam Staff")).unwrap());
    // The creation date is the issue date, not the clock.
    assert!(
        info(&first, "CreationDate").contains("2026"),
        "{}",
        info(&first, "CreationDate")
    );
}

#[test]
fn names_in_other_scripts_print_and_the_seal_keeps_them_exactly() {
    let name = "Ολυμπία Иванова محمد 王小明";
    let (_, facts) = signed(name);
    let sealed = seal(
        &undersign_pdf::receipt(&facts, &typed("Sam Staff")).unwrap(),
        &facts,
        &key(),
    )
    .unwrap();
    let text = text_of(&sealed);
    // Greek, Cyrillic and Arabic are in the built-in fonts.
    for part in ["Ολυμπία", "Иванова", "محمد"] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    // Chinese is not (it shows as boxes on the page), but the sealed facts keep it.
    assert_eq!(
        verify(&sealed, &key().verifying_key())
            .unwrap()
            .signer
            .full_name,
        name
    );
}

#[test]
fn a_receipt_shows_the_drawn_signature_and_still_verifies_once_sealed() {
    let (_, facts) = signed("Sam Staff");
    let shows = ReceiptShows {
        references: vec![
            "Council Social Media Policy".into(),
            "Data protection summary".into(),
        ],
        mark: ShownMark::Drawn(DRAWN.to_vec()),
    };
    let pdf = undersign_pdf::receipt(&facts, &shows).unwrap();
    assert_eq!(
        images_of(&pdf),
        vec![(240, 80)],
        "the drawn signature is on the page"
    );
    let text = text_of(&pdf);
    assert!(text.contains("Council Social Media Policy"), "{text}");
    assert!(text.contains("Data protection summary"), "{text}");
    assert!(!text.contains("(typed)"), "{text}");
    assert_eq!(info(&pdf, "Pages"), "1");
    let sealed = seal(&pdf, &facts, &key()).unwrap();
    assert_eq!(verify(&sealed, &key().verifying_key()).unwrap(), facts);
}

#[test]
fn a_drawn_signature_that_cannot_be_decoded_is_said_so_and_the_receipt_is_still_made() {
    let (_, facts) = signed("Sam Staff");
    // The header of a PNG and nothing else: what a broken upload would leave.
    let mut broken = DRAWN[..33].to_vec();
    broken.extend_from_slice(b"not image data");
    let shows = ReceiptShows {
        references: Vec::new(),
        mark: ShownMark::Drawn(broken),
    };
    let pdf = undersign_pdf::receipt(&facts, &shows).unwrap();
    assert!(images_of(&pdf).is_empty());
    let text = text_of(&pdf);
    assert!(text.contains("could not be reproduced here"), "{text}");
    assert!(text.contains("Documents acknowledged None"), "{text}");
}
