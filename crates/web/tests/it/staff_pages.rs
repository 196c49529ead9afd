//! What staff see on the pages they sign from and find their signature on: plain words,
//! no hashes, no browser identification strings and no login method. Those stay in the
//! receipt and the evidence pack, for an inspector.

use axum::http::StatusCode;
use undersign_core::person::Role;

use crate::support::{Reply, TestApp};

/// The visible text of a page's main part, with white space folded.
fn main_text(reply: &Reply) -> String {
    reply.select_text("main").join(" ")
}

/// Fails if `text` holds a technical fact a signer should not have to read.
fn assert_plain(what: &str, text: &str, hashes: &[&str]) {
    for jargon in [
        "SHA-256",
        "SHA256",
        "undersign-tests",
        "Logged in by",
        "user agent",
    ] {
        assert!(
            !text.to_lowercase().contains(&jargon.to_lowercase()),
            "{what} shows {jargon:?}: {text}"
        );
    }
    for hash in hashes {
        assert!(!text.contains(hash), "{what} shows the hash {hash}: {text}");
    }
}

#[tokio::test]
async fn the_sign_page_the_reference_and_my_signature_show_no_hashes_or_browser_strings() {
    let app = TestApp::new().await;
    let version = app
        .store
        .version(app.a.school, app.a.published)
        .await
        .unwrap()
        .unwrap();
    let reference_hash = version.references[0].sha256.clone();

    // A governor has not signed yet: the sign page and the referenced document.
    let governor = app.login(&app.a.people[&Role::Governor]).await;
    let sign = app
        .get(&format!("/sign/{}", app.a.published), &governor)
        .await;
    assert_eq!(sign.status, StatusCode::OK);
    assert_eq!(sign.select_text("#sign-form").len(), 1, "the form is there");
    assert_plain(
        "the sign page",
        &main_text(&sign),
        &[&version.text_sha256, &reference_hash],
    );
    let reference = app
        .get(
            &format!("/sign/{}/references/{}", app.a.published, app.a.reference),
            &governor,
        )
        .await;
    assert_eq!(reference.status, StatusCode::OK);
    assert_plain(
        "the referenced document",
        &main_text(&reference),
        &[&reference_hash],
    );

    // The governor signs; their signature page and their own page.
    let name = app.a.people[&Role::Governor].full_name.to_string();
    let signed = app
        .post(
            &format!("/sign/{}", app.a.published),
            &governor,
            &[
                ("declaration", "yes".into()),
                ("typed_name", name.clone()),
                ("signature_kind", "typed".into()),
                ("typed_signature", name),
                ("ack", app.a.reference.to_string()),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let sig = app
        .store
        .signatures_of(app.a.school, app.a.people[&Role::Governor].id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(sig.context.user_agent, "undersign-tests");
    let page = app.get(signed.location(), &governor).await;
    assert_eq!(page.status, StatusCode::OK);
    let evidence = page.select_text("dl.evidence dt");
    assert!(evidence.contains(&"Name typed".to_string()), "{evidence:?}");
    assert!(evidence.contains(&"Time".to_string()), "{evidence:?}");
    assert!(
        !evidence.iter().any(|t| t == "From" || t == "Logged in by"),
        "{evidence:?}"
    );
    assert_plain(
        "the signature page",
        &main_text(&page),
        &[&sig.text_sha256, &sig.ledger_hash],
    );
    assert_eq!(
        page.select_text("a[href$='/receipt.pdf']"),
        vec!["Download your receipt (PDF)"]
    );
    let me = app.get("/me", &governor).await;
    assert_plain(
        "my page",
        &main_text(&me),
        &[&sig.text_sha256, &sig.ledger_hash],
    );
}
