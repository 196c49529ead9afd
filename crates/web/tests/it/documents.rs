//! Receipts, evidence packs and the compliance report, downloaded as the people who may
//! see them; receipts checked back through the public `/verify` page.

use axum::http::{StatusCode, header};
use undersign_core::ledger::verifying_key_from_hex;
use undersign_core::person::Role;
use undersign_core::receipt;

use crate::support::{Reply, TestApp};

fn assert_pdf(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/pdf");
    assert!(reply.bytes.starts_with(b"%PDF-"), "not a PDF");
}

/// The text of a PDF, as `pdftotext` reads it; `None` (the text checks are skipped, said
/// loudly) where poppler-utils is not installed, except in CI.
pub(crate) fn text_of(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = match std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) => out,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "\n*** SKIPPED: the PDF text checks need pdftotext (apt-get install -y poppler-utils): {e} ***\n"
            );
            return None;
        }
        Err(e) => panic!("pdftotext (poppler-utils) must be installed in CI: {e}"),
    };
    assert!(out.status.success(), "pdftotext failed");
    Some(String::from_utf8(out.stdout).unwrap())
}

#[tokio::test]
async fn a_signer_downloads_a_sealed_receipt_that_verify_accepts_and_a_changed_copy_fails() {
    let app = TestApp::new().await;
    let staff = &app.a.people[&Role::Staff];
    let session = app.login(staff).await;
    let path = format!("/me/signatures/{}/receipt.pdf", app.a.signature);
    let reply = app.get(&path, &session).await;
    assert_pdf(&reply);
    let school = app.store.school(app.a.school).await.unwrap().unwrap();
    let key = verifying_key_from_hex(&school.public_key).unwrap();
    let facts = receipt::verify(&reply.bytes, &key).expect("sealed with the school's key");
    assert_eq!(facts.signer.full_name, staff.full_name.as_str());
    assert_eq!(facts.signature, app.a.signature);
    let disposition = reply.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.contains(&facts.code), "{disposition}");
    if let Some(text) = text_of(&reply.bytes) {
        assert!(text.contains(&facts.code), "{text}");
    }

    // Anyone (no login) can check it at /verify.
    let valid = app
        .upload("/verify/file", None, "receipt", "receipt.pdf", &reply.bytes)
        .await;
    assert_eq!(valid.status, StatusCode::OK);
    assert_eq!(valid.select_text("#verdict h2"), vec!["Valid receipt"]);
    let mut changed = reply.bytes.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    let refused = app
        .upload("/verify/file", None, "receipt", "receipt.pdf", &changed)
        .await;
    assert_eq!(refused.select_text("#verdict h2"), vec!["Not valid"]);
    assert!(
        refused.body.contains("changed after it was issued"),
        "{}",
        refused.body
    );

    // Someone else cannot download this person's receipt.
    let other = app.login(&app.a.people[&Role::Governor]).await;
    assert_eq!(app.get(&path, &other).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_receipt_code_is_checked_without_logging_in() {
    let app = TestApp::new().await;
    let session = app.login(&app.a.people[&Role::Staff]).await;
    let path = format!("/me/signatures/{}/receipt.pdf", app.a.signature);
    let reply = app.get(&path, &session).await;
    let code = receipt::open(&reply.bytes).unwrap().facts.code;
    let anonymous = app
        .send(
            axum::http::Method::POST,
            "/verify/code",
            None,
            Some(&[("code", code.to_lowercase())]),
        )
        .await;
    assert_eq!(anonymous.select_text("#verdict h2"), vec!["Valid receipt"]);
    assert!(
        !anonymous.body.contains("undersign-tests"),
        "the device is shown only from the PDF"
    );
    let wrong = app
        .send(
            axum::http::Method::POST,
            "/verify/code",
            None,
            Some(&[("code", "0000-0000-0000-0000".into())]),
        )
        .await;
    assert_eq!(wrong.select_text("#verdict h2"), vec!["Not valid"]);
    let empty = app
        .send(
            axum::http::Method::POST,
            "/verify/code",
            None,
            Some(&[("code", " ".into())]),
        )
        .await;
    assert_eq!(
        empty.select_text(".field-error"),
        vec!["Enter the receipt code, printed at the top of the receipt"]
    );
}

#[tokio::test]
async fn the_administrator_downloads_an_evidence_pack_and_the_compliance_report() {
    let app = TestApp::new().await;
    let admin = app.login(&app.a.people[&Role::SchoolAdministrator]).await;
    let staff = &app.a.people[&Role::Staff];
    let pack = app
        .get(
            &format!("/compliance/people/{}/evidence.pdf", staff.id),
            &admin,
        )
        .await;
    assert_pdf(&pack);
    if let Some(text) = text_of(&pack.bytes) {
        assert!(text.contains(staff.full_name.as_str()), "{text}");
        assert!(
            text.contains("I will not share passwords."),
            "the text as signed: {text}"
        );
    }
    // A person of another school is not found through this school's pages.
    let elsewhere = app.b.people[&Role::Staff].id;
    let refused = app
        .get(
            &format!("/compliance/people/{elsewhere}/evidence.pdf"),
            &admin,
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let report = app.get("/compliance/report.pdf", &admin).await;
    assert_pdf(&report);
    if let Some(text) = text_of(&report.bytes) {
        assert!(text.contains("School school-a"), "{text}");
    }
}

#[tokio::test]
async fn a_receipt_names_the_documents_acknowledged_and_shows_the_typed_signature() {
    let app = TestApp::new().await;
    let governor = &app.a.people[&Role::Governor];
    let session = app.login(governor).await;
    let version = app
        .store
        .version(app.a.school, app.a.published)
        .await
        .unwrap()
        .unwrap();
    let reference_title = version.references[0].title.clone();
    let signed = app
        .post(
            &format!("/sign/{}", app.a.published),
            &session,
            &[
                ("declaration", "yes".into()),
                ("typed_name", governor.full_name.to_string()),
                ("signature_kind", "typed".into()),
                ("typed_signature", "G. E. signs here".into()),
                ("ack", app.a.reference.to_string()),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let reply = app
        .get(&format!("{}/receipt.pdf", signed.location()), &session)
        .await;
    assert_pdf(&reply);
    let school = app.store.school(app.a.school).await.unwrap().unwrap();
    let key = verifying_key_from_hex(&school.public_key).unwrap();
    receipt::verify(&reply.bytes, &key).expect("sealed with the school's key");
    let valid = app
        .upload("/verify/file", None, "receipt", "receipt.pdf", &reply.bytes)
        .await;
    assert_eq!(valid.select_text("#verdict h2"), vec!["Valid receipt"]);
    if let Some(text) = text_of(&reply.bytes) {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&reference_title), "{text}");
        assert!(text.contains("G. E. signs here"), "{text}");
        assert!(text.contains("(typed)"), "{text}");
    }
}

#[tokio::test]
async fn a_receipt_of_a_drawn_signature_says_so_even_where_the_image_cannot_be_shown() {
    // The seeded signature was drawn, with only a PNG header for an image.
    let app = TestApp::new().await;
    let session = app.login(&app.a.people[&Role::Staff]).await;
    let reply = app
        .get(
            &format!("/me/signatures/{}/receipt.pdf", app.a.signature),
            &session,
        )
        .await;
    assert_pdf(&reply);
    if let Some(text) = text_of(&reply.bytes) {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("could not be reproduced here"), "{text}");
        assert!(!text.contains("(typed)"), "{text}");
    }
}

#[tokio::test]
async fn the_public_verify_page_is_throttled_per_address() {
    let app = TestApp::new().await;
    let limit = undersign_web::auth::VERIFY_CHECKS_PER_ADDRESS;
    for _ in 0..limit {
        let reply = app
            .send(
                axum::http::Method::POST,
                "/verify/code",
                None,
                Some(&[("code", "AAAA-BBBB-CCCC-DDDD".to_string())]),
            )
            .await;
        assert_eq!(reply.status, axum::http::StatusCode::OK);
    }
    let reply = app
        .send(
            axum::http::Method::POST,
            "/verify/code",
            None,
            Some(&[("code", "AAAA-BBBB-CCCC-DDDD".to_string())]),
        )
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
}

/// Claims the school's queued mail with `key` and has the receipt finisher write it, as
/// the mail worker does just before sending.
async fn finished(app: &TestApp, key: &str) -> undersign_core::outbox::OutgoingMail {
    use undersign_core::outbox::Finisher;
    let mut mail = app
        .store
        .claim_mail(
            "test",
            undersign_core::time::now(),
            chrono::TimeDelta::minutes(5),
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.dedupe_key == key)
        .unwrap_or_else(|| panic!("{key} is not queued"));
    assert!(
        mail.attachments.is_empty(),
        "nothing is typeset before sending"
    );
    let what = mail.deferred.expect("a receipt is written when it is sent");
    undersign_web::ReceiptFinisher::new(app.state.clone())
        .finish(&mut mail, what)
        .await
        .unwrap();
    mail
}

#[tokio::test]
async fn a_queued_receipt_is_typeset_and_sealed_when_it_is_sent() {
    let app = TestApp::new().await;
    let mail = finished(&app, &format!("receipt:{}", app.a.signature)).await;
    let [pdf] = mail.attachments.as_slice() else {
        panic!("{} attachments", mail.attachments.len());
    };
    assert_eq!(pdf.content_type, "application/pdf");
    let school = app.store.school(app.a.school).await.unwrap().unwrap();
    let key = verifying_key_from_hex(&school.public_key).unwrap();
    let facts = receipt::verify(&pdf.bytes, &key).expect("sealed with the school's key");
    assert_eq!(facts.signature, app.a.signature);
    assert_eq!(pdf.filename, format!("receipt-{}.pdf", facts.code));
    assert!(mail.text_body.contains(&facts.code), "{}", mail.text_body);
    assert!(mail.text_body.contains("/verify"), "{}", mail.text_body);
}

#[tokio::test]
async fn a_visitor_who_gave_an_email_is_sent_a_receipt_that_verify_accepts() {
    use undersign_core::signing::{AuthMethod, RequestContext, SignatureMark};
    use undersign_core::visits::{NewVisit, VisitSignature, VisitorCode, VisitorDetails};
    let app = TestApp::with_reception().await;
    let version = app
        .store
        .visitor_policy(app.a.school)
        .await
        .unwrap()
        .expect("the seed publishes a policy for visitors");
    let head = app.a.people[&Role::Headteacher].id;
    let visit = app
        .store
        .sign_in_visitor(
            NewVisit {
                school: app.a.school,
                details: VisitorDetails::parse(
                    "Ada Auditor",
                    "Ofsted",
                    &head.to_string(),
                    "ada@inspect.example",
                    "",
                    "",
                )
                .unwrap(),
                signature: Some(VisitSignature {
                    version: version.id,
                    text_sha256: version.text_sha256.clone(),
                    declaration: version.declaration.clone(),
                    typed_name: "Ada Auditor".into(),
                    mark: SignatureMark::typed("Ada Auditor").unwrap(),
                    references: version
                        .references
                        .iter()
                        .map(|r| undersign_core::signing::AcknowledgedReference {
                            id: r.id,
                            title: r.title.clone(),
                            sha256: r.sha256.clone(),
                        })
                        .collect(),
                }),
                kiosk: None,
                context: RequestContext::new(
                    "127.0.0.1".into(),
                    "tablet",
                    AuthMethod::Assisted {
                        by: head,
                        reason: "at the desk".into(),
                    },
                ),
                new_code: VisitorCode::from_random([7; 8]),
                salt: [9; 16],
            },
            undersign_core::time::now(),
        )
        .await
        .unwrap();
    let mail = finished(&app, &format!("visit-receipt:{}", visit.id)).await;
    assert_eq!(mail.to_email.as_str(), "ada@inspect.example");
    let [pdf] = mail.attachments.as_slice() else {
        panic!("{} attachments", mail.attachments.len());
    };
    let sealed = receipt::open_visit(&pdf.bytes).unwrap();
    let school = app.store.school(app.a.school).await.unwrap().unwrap();
    sealed
        .verify(&verifying_key_from_hex(&school.public_key).unwrap())
        .unwrap();
    assert_eq!(sealed.facts.visit, visit.id);
    assert_eq!(sealed.facts.personal.full_name, "Ada Auditor");
    assert_eq!(sealed.facts.salt, "09".repeat(16));
    if let Some(text) = text_of(&pdf.bytes) {
        assert!(text.contains("Ada Auditor"), "{text}");
        assert!(text.contains(&sealed.facts.code), "{text}");
    }

    // The public page accepts the file and shows what it states; by its code, it
    // confirms the visit without naming anyone.
    let valid = app
        .upload("/verify/file", None, "receipt", "visit.pdf", &pdf.bytes)
        .await;
    assert_eq!(
        valid.select_text("#verdict h2"),
        vec!["Valid visitor's receipt"]
    );
    assert!(valid.body.contains("Ada Auditor"));
    let by_code = app
        .send(
            axum::http::Method::POST,
            "/verify/code",
            None,
            Some(&[("code", sealed.facts.code.clone())]),
        )
        .await;
    assert_eq!(
        by_code.select_text("#verdict h2"),
        vec!["Valid visitor's receipt code"]
    );
    assert!(!by_code.body.contains("Ada"), "{}", by_code.body);
    let mut changed = pdf.bytes.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    let refused = app
        .upload("/verify/file", None, "receipt", "visit.pdf", &changed)
        .await;
    assert_eq!(refused.select_text("#verdict h2"), vec!["Not valid"]);
}
