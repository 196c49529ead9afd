//! The PDF documents: a signer's receipt (sealed with the school's key), a person's
//! evidence pack and the school's compliance report, for the people who may see them.
//! Typesetting takes a noticeable fraction of a second of CPU, so it runs on the blocking
//! pool, never on the threads that answer other requests.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use undersign_core::ledger::verifying_key_from_hex;
use undersign_core::outbox::{Attachment, Deferred, FinishError, Finisher, OutgoingMail};
use undersign_core::person::Person;
use undersign_core::receipt::{
    ReceiptFacts, ReceiptSchool, VisitNames, VisitReceiptFacts, check_against_entry, seal,
    seal_visit,
};
use undersign_core::school::School;
use undersign_core::signing::{Signature, SignatureMark};
use undersign_core::store::Store;
use undersign_core::store::StoreError;
use undersign_core::{PersonId, SignatureId, VersionId, VisitId, time};
use undersign_pdf::{
    ChainStatus, ComplianceReport, EvidencePack, PdfError, PersonEvent, ReceiptShows, ShownMark,
    SignedVersion,
};

use undersign_core::access::ComplianceViewer;

use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::session::{Can, CurrentUser};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/signatures/{id}/receipt.pdf", get(my_receipt))
        .route(
            "/compliance/people/{person}/evidence.pdf",
            get(evidence_pack),
        )
        .route("/compliance/report.pdf", get(compliance_report))
}

/// How many documents are typeset at once: each takes a core for a fraction of a second,
/// and a burst of signings (each emailing a receipt) must not take every core from the
/// requests being answered.
static TYPESETTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs a typesetting job on the blocking pool, at most [`TYPESETTING`] at a time.
pub(crate) async fn typeset<F>(job: F) -> AppResult<Vec<u8>>
where
    F: FnOnce() -> Result<Vec<u8>, PdfError> + Send + 'static,
{
    let _turn = TYPESETTING
        .acquire()
        .await
        .map_err(|e| AppError::Internal(format!("the typesetting queue is closed: {e}")))?;
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| AppError::Internal(format!("the typesetting task failed: {e}")))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

pub(crate) fn pdf(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// The receipt facts of `sig`, taken from its row and issued only if its ledger entry
/// records exactly them: a row edited in the database gets no receipt (nor a place in an
/// evidence pack), and the headteacher is alerted.
async fn checked_facts(
    state: &AppState,
    school: &School,
    person: &Person,
    sig: &Signature,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<ReceiptFacts> {
    let facts = ReceiptFacts::new(
        school,
        person.full_name.as_str(),
        person.email.as_str(),
        sig,
        now,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let entry = state.store.ledger_entry(school.id, sig.ledger_seq).await?;
    let checked = match &entry {
        Some(entry) => check_against_entry(&facts, entry).map_err(|e| e.to_string()),
        None => Err(format!("ledger entry {} is missing", sig.ledger_seq)),
    };
    let Err(reason) = checked else {
        return Ok(facts);
    };
    let reason = format!(
        "signature {} of person {} disagrees with its ledger entry: {reason}",
        sig.id, sig.person
    );
    tracing::error!(school = %school.slug, "REFUSING to issue a receipt: {reason}");
    let what = format!(
        "Undersign refused to issue a receipt at {}, because a signature on record no longer matches the evidence ledger",
        school.name
    );
    if let Err(e) =
        undersign_core::use_cases::raise_evidence_alarm(&*state.store, school, &what, &reason, now)
            .await
    {
        tracing::error!("cannot queue the alert to the headteacher: {e}");
    }
    Err(AppError::Conflict(
        "This receipt cannot be issued: the signature on record no longer matches the school's evidence ledger. The headteacher has been told.".into(),
    ))
}

/// A receipt for `sig`, typeset and sealed with the school's key from the key directory.
/// Fails (without a receipt) if the key file is missing or is not the school's.
pub async fn sealed_receipt(
    state: &AppState,
    school: &School,
    person: &Person,
    sig: &Signature,
) -> AppResult<(ReceiptFacts, Vec<u8>)> {
    let key = crate::keys::read_matching(&state.config.keys_dir, school.id, &school.public_key)
        .map_err(|e| AppError::Internal(format!("cannot read the school's key: {e:#}")))?
        .ok_or_else(|| {
            AppError::Internal(format!(
                "the key file of school {} is missing from {}; receipts cannot be sealed",
                school.slug,
                state.config.keys_dir.display()
            ))
        })?;
    let facts = checked_facts(state, school, person, sig, time::now()).await?;
    let shows = ReceiptShows {
        references: sig.references.iter().map(|r| r.title.clone()).collect(),
        mark: match state.store.signature_mark(school.id, sig.id).await? {
            Some(SignatureMark::Drawn { png }) => ShownMark::Drawn(png),
            Some(SignatureMark::Typed { text }) => ShownMark::Typed(text),
            None => ShownMark::Missing,
        },
    };
    let for_pdf = facts.clone();
    let site = state.config.public_url.to_string();
    let unsealed =
        typeset(move || undersign_pdf::receipt_for_site(&for_pdf, &shows, &site)).await?;
    let sealed = seal(&unsealed, &facts, &key).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((facts, sealed))
}

/// Writes the receipt emails queued with each signature (`Deferred::Receipt`) when the
/// mail worker sends them: the letter, and the receipt typeset and sealed then, after its
/// facts are checked against the ledger. Typesetting is bounded like every document's.
#[derive(Clone)]
pub struct ReceiptFinisher {
    state: AppState,
}

impl ReceiptFinisher {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The school the message is from.
    async fn school_of(&self, mail: &OutgoingMail) -> Result<School, FinishError> {
        self.state
            .store
            .school(mail.school)
            .await
            .map_err(|e| FinishError::Retry(e.to_string()))?
            .ok_or_else(|| FinishError::GiveUp(format!("school {} is gone", mail.school)))
    }

    async fn receipt(&self, mail: &mut OutgoingMail, id: SignatureId) -> Result<(), FinishError> {
        let state = &self.state;
        let retry = |e: StoreError| FinishError::Retry(e.to_string());
        let school = self.school_of(mail).await?;
        let gone = || FinishError::GiveUp(format!("signature {id} is not on record"));
        let sig = state
            .store
            .signature(school.id, id)
            .await
            .map_err(retry)?
            .ok_or_else(gone)?;
        let person = state
            .store
            .person(school.id, sig.person)
            .await
            .map_err(retry)?
            .ok_or_else(gone)?;
        let (facts, bytes) = sealed_receipt(state, &school, &person, &sig)
            .await
            .map_err(|e| match e {
                // The evidence disagrees (the headteacher has been told): never sent.
                AppError::Conflict(m) => FinishError::GiveUp(m),
                other => FinishError::Retry(match other {
                    AppError::Internal(detail) => detail,
                    other => other.to_string(),
                }),
            })?;
        mail.text_body = receipt_letter(state, &school, &person, &facts);
        mail.attachments.push(Attachment {
            filename: format!("receipt-{}.pdf", facts.code),
            content_type: "application/pdf".into(),
            bytes,
        });
        Ok(())
    }
}

impl ReceiptFinisher {
    /// A visitor's receipt, built from the visit's ledger entry with the visitor's details
    /// and salt (see `receipt::VisitReceiptFacts`).
    async fn visit_receipt(&self, mail: &mut OutgoingMail, id: VisitId) -> Result<(), FinishError> {
        let state = &self.state;
        let retry = |e: StoreError| FinishError::Retry(e.to_string());
        let school = self.school_of(mail).await?;
        let visit = state
            .store
            .visit(school.id, id)
            .await
            .map_err(retry)?
            .ok_or_else(|| FinishError::GiveUp(format!("visit {id} is not on record")))?;
        let Some((personal, salt)) = state
            .store
            .visit_personal(school.id, id)
            .await
            .map_err(retry)?
        else {
            return Err(FinishError::GiveUp(format!(
                "the details of visit {id} have been removed, so no receipt can be made"
            )));
        };
        let policy = match visit.signed_version {
            None => None,
            Some(v) => state
                .store
                .version(school.id, v)
                .await
                .map_err(retry)?
                .map(|v| (v.policy_title, v.number)),
        };
        let names = VisitNames {
            host: visit.host_name.clone(),
            policy,
        };
        let now = time::now();
        let entry = state
            .store
            .ledger_entry(school.id, visit.ledger_seq)
            .await
            .map_err(retry)?;
        let facts = match &entry {
            Some(entry) if entry.hash == visit.ledger_hash => VisitReceiptFacts::from_entry(
                ReceiptSchool::of(&school),
                school.timezone,
                entry,
                personal,
                &salt,
                &names,
                now,
            )
            .map_err(|e| e.to_string()),
            Some(_) => Err(format!(
                "ledger entry {} has another hash than the visit records",
                visit.ledger_seq
            )),
            None => Err(format!("ledger entry {} is missing", visit.ledger_seq)),
        };
        let facts = match facts {
            Ok(facts) => facts,
            Err(reason) => {
                let reason = format!("visit {id} disagrees with its ledger entry: {reason}");
                tracing::error!(school = %school.slug, "REFUSING to issue a visitor's receipt: {reason}");
                let what = format!(
                    "Undersign refused to issue a visitor's receipt at {}, because a visit on record no longer matches the evidence ledger",
                    school.name
                );
                if let Err(e) = undersign_core::use_cases::raise_evidence_alarm(
                    &*state.store,
                    &school,
                    &what,
                    &reason,
                    now,
                )
                .await
                {
                    tracing::error!("cannot queue the alert to the headteacher: {e}");
                }
                return Err(FinishError::GiveUp(reason));
            }
        };
        let key = crate::keys::read_matching(&state.config.keys_dir, school.id, &school.public_key)
            .map_err(|e| FinishError::Retry(format!("cannot read the school's key: {e:#}")))?
            .ok_or_else(|| {
                FinishError::Retry(format!(
                    "the key file of school {} is missing; receipts cannot be sealed",
                    school.slug
                ))
            })?;
        let for_pdf = facts.clone();
        let site = state.config.public_url.to_string();
        let unsealed = typeset(move || undersign_pdf::visit_receipt_for_site(&for_pdf, &site))
            .await
            .map_err(|e| FinishError::Retry(e.to_string()))?;
        let sealed =
            seal_visit(&unsealed, &facts, &key).map_err(|e| FinishError::GiveUp(e.to_string()))?;
        mail.text_body = format!(
            "Dear {name},\n\n\
             Thank you for signing in at {school_name} on {when}.\n\n\
             Your receipt is attached. It is sealed with the school's key and holds the \
             details you gave with the salt that fingerprints them in the school's \
             evidence ledger, so it proves what you signed in as even after the school \
             deletes your details at the end of its retention period. Keep it to \
             yourself. Anyone can check it by uploading it at {verify}.\n",
            name = facts.personal.full_name,
            school_name = school.name,
            when = facts.local_time,
            verify = verify_url(state),
        );
        mail.attachments.push(Attachment {
            filename: format!("visit-receipt-{}.pdf", facts.code),
            content_type: "application/pdf".into(),
            bytes: sealed,
        });
        Ok(())
    }
}

#[async_trait::async_trait]
impl Finisher for ReceiptFinisher {
    async fn finish(&self, mail: &mut OutgoingMail, what: Deferred) -> Result<(), FinishError> {
        match what {
            Deferred::Receipt { signature } => self.receipt(mail, signature).await,
            Deferred::VisitReceipt { visit } => self.visit_receipt(mail, visit).await,
        }
    }
}

/// The letter that carries a signer's receipt.
fn receipt_letter(
    state: &AppState,
    school: &School,
    person: &Person,
    facts: &ReceiptFacts,
) -> String {
    format!(
        "Dear {name},\n\n\
         Thank you for signing {title}, version {number}, at {school_name} on {when}.\n\n\
         Your receipt is attached. Keep it: it is sealed with the school's key, and anyone \
         (you, the school, an inspector) can check it at \
         {verify} with the file or with its code, {code}.\n\n\
         You can download it again at any time from your page.\n",
        name = person.full_name.as_str(),
        title = facts.policy.title,
        number = facts.version.number,
        school_name = school.name,
        when = facts.local_time,
        verify = verify_url(state),
        code = facts.code,
    )
}

/// The public page where receipts are checked, on this site.
pub(crate) fn verify_url(state: &AppState) -> String {
    state
        .config
        .public_url
        .join(undersign_core::receipt::VERIFY_PATH.trim_start_matches('/'))
        .map_or_else(
            |_| undersign_core::receipt::VERIFY_PATH.to_string(),
            |u| u.to_string(),
        )
}

async fn my_receipt(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<SignatureId>,
) -> AppResult<Response> {
    let sig = super::me::own_signature(&state, &user, id).await?;
    let (facts, bytes) = sealed_receipt(&state, &user.school, &user.person, &sig).await?;
    Ok(pdf(bytes, &format!("receipt-{}.pdf", facts.code)))
}

/// "Acceptable Use Policy version 3" for every version of the school's policies.
async fn version_names(
    store: &dyn Store,
    school: &School,
) -> AppResult<HashMap<VersionId, String>> {
    let mut names = HashMap::new();
    for policy in store.policies(school.id).await? {
        for v in store.versions(school.id, policy.policy.id).await? {
            names.insert(
                v.id,
                format!("{} version {}", policy.policy.title, v.number),
            );
        }
    }
    Ok(names)
}

async fn evidence_pack(
    State(state): State<AppState>,
    Can { user, .. }: Can<ComplianceViewer>,
    Path(person_id): Path<PersonId>,
) -> AppResult<Response> {
    let store = state.store.as_ref();
    let school = user.school.clone();
    let person = store
        .person(school.id, person_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = time::now();
    let mut signed = Vec::new();
    for sig in store
        .signatures_of(school.id, person.id)
        .await?
        .into_iter()
        .rev()
    {
        let version = store
            .version(school.id, sig.version)
            .await?
            .ok_or(AppError::NotFound)?;
        let receipt = checked_facts(&state, &school, &person, &sig, now).await?;
        signed.push(SignedVersion {
            published_at: version.published_at,
            body_md: version.body_md,
            receipt,
        });
    }
    let names = version_names(store, &school).await?;
    let entries = store.ledger_entries(school.id).await?;
    let events = PersonEvent::concerning(&entries, person.id, |v| names.get(&v).cloned());
    let filename = format!("evidence-{}-{}.pdf", school.slug, person.id);
    let pack = EvidencePack {
        school,
        person,
        produced_at: now,
        signed,
        events,
    };
    let bytes = typeset(move || undersign_pdf::evidence_pack(&pack)).await?;
    Ok(pdf(bytes, &filename))
}

async fn compliance_report(
    State(state): State<AppState>,
    Can { user, cap: viewer }: Can<ComplianceViewer>,
) -> AppResult<Response> {
    let store = state.store.as_ref();
    let school = &user.school;
    let facts = store.compliance_facts(&viewer).await?;
    let entries = store.ledger_entries(school.id).await?;
    let checkpoints = store.checkpoints(school.id).await?;
    let key = verifying_key_from_hex(&school.public_key).ok_or_else(|| {
        AppError::Internal("the school's public key on record is not readable".into())
    })?;
    let chain = ChainStatus::verify(school.id, &entries, &checkpoints, &key);
    let now = time::now();
    let report = ComplianceReport::from_facts(&facts, now, chain);
    let filename = format!("compliance-{}-{}.pdf", school.slug, now.format("%Y-%m-%d"));
    let bytes = typeset(move || undersign_pdf::compliance_report(&report)).await?;
    Ok(pdf(bytes, &filename))
}
