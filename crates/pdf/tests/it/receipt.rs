//! The receipt page, unsealed and sealed.

use crate::support::{assert_pdf, info, key, signed, text_of};
use undersign_core::receipt::{ReceiptError, seal, verify};

#[test]
fn a_receipt_shows_the_code_the_signer_and_the_entry_hash_on_one_page() {
    let (_, facts) = signed("Sam Staff");
    let pdf = undersign_pdf::receipt(&facts).unwrap();
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
    let pdf =
        undersign_pdf::receipt_for_site(&facts, "https://undersign.stmarys.example/").unwrap();
    assert!(text_of(&pdf).contains("at https://undersign.stmarys.example/verify"));
}

#[test]
fn a_sealed_receipt_still_reads_as_a_pdf_and_verifies() {
    let (_, facts) = signed("Sam Staff");
    let sealed = seal(&undersign_pdf::receipt(&facts).unwrap(), &facts, &key()).unwrap();
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
    let pdf = undersign_pdf::receipt(&facts).unwrap();
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
    let first = undersign_pdf::receipt(&facts).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(first == undersign_pdf::receipt(&facts).unwrap());
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
    let sealed = seal(&undersign_pdf::receipt(&facts).unwrap(), &facts, &key()).unwrap();
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
