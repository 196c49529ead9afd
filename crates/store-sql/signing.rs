//! Viewing, signing and declining, each recorded with its ledger entry in one
//! transaction, and what each person still has to sign. A second signature of the same
//! version (a double submit, or two tabs) gets the first one back and records nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use undersign_core::access::ComplianceViewer;
use undersign_core::ledger::Event;
use undersign_core::outbox::{Deferred, NewMail};
use undersign_core::person::{Audience, Person, PersonStatus};
use undersign_core::policy::{ChangeKind, VersionStatus};
use undersign_core::signing::{
    AcknowledgedReference, AuthMethod, Decline, DeclineInput, Obligation, RequestContext,
    SignError, SignOutcome, Signature, SignatureInput, SignatureMark,
};
use undersign_core::store::{Signing, StoreError, StoreResult};
use undersign_core::{DeclineId, PersonId, PolicyId, SchoolId, SignatureId, VersionId};

use crate::BackendStore;
use crate::codec::{from_json, micros, to_json};
use crate::db::constraint;
use crate::db::{Conn, Db, Reserved, lock_school, next_id, ts};
use crate::errors::db;
use crate::group_commit::Batch;
use crate::ledger::append;
use crate::people::{PERSON_COLUMNS, PersonRow, load_person};
use crate::policies::{load_version, parse_audiences, parse_change_kind};
use undersign_core::time::rfc3339;

#[derive(sqlx::FromRow)]
struct SignatureRow {
    id: i64,
    school_id: i64,
    person_id: i64,
    version_id: i64,
    policy_id: i64,
    policy_title: String,
    version_number: i32,
    typed_name: String,
    mark_kind: String,
    mark_sha256: String,
    text_sha256: String,
    declaration: String,
    references_json: String,
    ip: String,
    user_agent: String,
    auth_json: String,
    signed_at: DateTime<Utc>,
    ledger_seq: i64,
    ledger_hash: String,
    served_at: Option<String>,
}

const SIGNATURE_SELECT: &str = "SELECT s.id, s.school_id, s.person_id, s.version_id,
        v.policy_id, p.title AS policy_title, v.number AS version_number, s.typed_name,
        s.mark_kind, s.mark_sha256, s.text_sha256, s.declaration, s.references_json, s.ip,
        s.user_agent, s.auth_json, s.signed_at, s.ledger_seq, s.ledger_hash, s.served_at
    FROM signatures s
    JOIN policy_versions v ON v.school_id = s.school_id AND v.id = s.version_id
    JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id";

impl SignatureRow {
    fn into_signature(self) -> StoreResult<Signature> {
        let references: Vec<AcknowledgedReference> =
            from_json("signatures.references_json", &self.references_json)?;
        let auth: AuthMethod = from_json("signatures.auth_json", &self.auth_json)?;
        Ok(Signature {
            id: SignatureId(self.id),
            school: SchoolId(self.school_id),
            person: PersonId(self.person_id),
            version: VersionId(self.version_id),
            policy: PolicyId(self.policy_id),
            policy_title: self.policy_title,
            version_number: self.version_number,
            typed_name: self.typed_name,
            mark_kind: self.mark_kind,
            mark_sha256: self.mark_sha256,
            text_sha256: self.text_sha256,
            declaration: self.declaration,
            references,
            context: RequestContext {
                ip: self.ip,
                user_agent: self.user_agent,
                auth,
                served_at: self
                    .served_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
            },
            signed_at: self.signed_at,
            ledger_seq: self.ledger_seq,
            ledger_hash: self.ledger_hash,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DeclineRow {
    id: i64,
    person_id: i64,
    person_name: String,
    version_id: i64,
    policy_title: String,
    version_number: i32,
    reason: String,
    declined_at: DateTime<Utc>,
}

const DECLINE_SELECT: &str = "SELECT d.id, d.person_id, pe.full_name AS person_name,
        d.version_id, p.title AS policy_title, v.number AS version_number, d.reason,
        d.declined_at
    FROM declines d
    JOIN people pe ON pe.school_id = d.school_id AND pe.id = d.person_id
    JOIN policy_versions v ON v.school_id = d.school_id AND v.id = d.version_id
    JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id";

impl From<DeclineRow> for Decline {
    fn from(r: DeclineRow) -> Self {
        Decline {
            id: DeclineId(r.id),
            person: PersonId(r.person_id),
            person_name: r.person_name,
            version: VersionId(r.version_id),
            policy_title: r.policy_title,
            version_number: r.version_number,
            reason: r.reason,
            declined_at: r.declined_at,
        }
    }
}

async fn signature_by_id(
    conn: &mut Conn,
    school: SchoolId,
    id: SignatureId,
) -> StoreResult<Option<Signature>> {
    let row: Option<SignatureRow> = sqlx::query_as(&format!(
        "{SIGNATURE_SELECT} WHERE s.school_id = $1 AND s.id = $2"
    ))
    .bind(school.0)
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(SignatureRow::into_signature).transpose()
}

/// What signing or declining needs of a version, read in one query under the school's
/// lock: not the text itself (only its hash) nor its documents.
pub(crate) struct Signable {
    school: SchoolId,
    policy: PolicyId,
    policy_title: String,
    number: i32,
    status: VersionStatus,
    audiences: BTreeSet<Audience>,
    text_sha256: String,
    /// The number of the newest published version of the policy.
    newest: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct SignableRow {
    policy_id: i64,
    policy_title: String,
    number: i32,
    status: String,
    audiences: String,
    text_sha256: String,
    newest: Option<i32>,
}

pub(crate) async fn signable(
    conn: &mut Conn,
    school: SchoolId,
    version: VersionId,
) -> StoreResult<Signable> {
    let row: SignableRow = sqlx::query_as(
        "SELECT v.policy_id, p.title AS policy_title, v.number, v.status, v.audiences,
                v.text_sha256,
                (SELECT MAX(n.number) FROM policy_versions n
                  WHERE n.school_id = v.school_id AND n.policy_id = v.policy_id
                    AND n.status = 'published') AS newest
         FROM policy_versions v
         JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id
         WHERE v.school_id = $1 AND v.id = $2",
    )
    .bind(school.0)
    .bind(version.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound)?;
    Ok(Signable {
        school,
        policy: PolicyId(row.policy_id),
        policy_title: row.policy_title,
        number: row.number,
        status: if row.status == "published" {
            VersionStatus::Published
        } else {
            VersionStatus::Draft
        },
        audiences: parse_audiences(&row.audiences)?,
        text_sha256: row.text_sha256,
        newest: row.newest,
    })
}

/// The person, if they may act on (sign or decline) `version`; or why not.
async fn may_act(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
    version: &Signable,
) -> StoreResult<Person> {
    let person = load_person(conn, school, person)
        .await?
        .ok_or(StoreError::NotFound)?;
    check_may_act(&person, version)?;
    Ok(person)
}

/// Refuses someone who has left, a version that is not published, or one not meant for
/// them.
fn check_may_act(person: &Person, version: &Signable) -> StoreResult<()> {
    if person.status != PersonStatus::Active {
        return Err(StoreError::Refused(format!(
            "{} has left the school and is not asked to sign",
            person.full_name
        )));
    }
    if version.status != VersionStatus::Published {
        return Err(StoreError::Refused(
            "this version is not published".to_string(),
        ));
    }
    if person.audiences().is_disjoint(&version.audiences) {
        return Err(StoreError::Refused(
            "this version is not for you to sign".to_string(),
        ));
    }
    Ok(())
}

/// Everything signing reads of the signer, in one query under the school's lock: the
/// person, who changed their email lately, whether they have signed the version already,
/// the last time they were shown it, and the id their signature will have.
#[derive(sqlx::FromRow)]
pub(crate) struct SignerRow {
    #[sqlx(flatten)]
    person: PersonRow,
    email_changed_at: Option<DateTime<Utc>>,
    email_changed_by: Option<i64>,
    signed: Option<i64>,
    viewed_seq: Option<i64>,
    next_id: i64,
}

impl SignerRow {
    pub(crate) fn person_id(&self) -> PersonId {
        self.person.id()
    }
}

/// The signers among `people` of `version` (see [`SignerRow`]), in one statement.
pub(crate) async fn signers(
    conn: &mut Conn,
    school: SchoolId,
    version: VersionId,
    people: &[PersonId],
) -> StoreResult<Vec<SignerRow>> {
    let mut select = sqlx::QueryBuilder::<Db>::new(format!(
        "SELECT {PERSON_COLUMNS}, email_changed_at, email_changed_by,
            (SELECT s.id FROM signatures s
              WHERE s.school_id = p.school_id AND s.person_id = p.id AND s.version_id = "
    ));
    select.push_bind(version.0);
    select.push(
        ") AS signed,
            (SELECT MAX(w.ledger_seq) FROM views w
              WHERE w.school_id = p.school_id AND w.person_id = p.id AND w.version_id = ",
    );
    select.push_bind(version.0);
    select.push(format!(
        ") AS viewed_seq, {} AS next_id FROM people p WHERE p.school_id = ",
        Reserved::Signatures.next()
    ));
    select.push_bind(school.0);
    select.push(" AND p.id IN (");
    let mut list = select.separated(", ");
    for person in people {
        list.push_bind(person.0);
    }
    select.push(")");
    select
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)
}

/// Refuses a version that is no longer its policy's newest published one: it was
/// withdrawn or replaced after the page was opened.
fn check_current(version: &Signable) -> StoreResult<()> {
    if version.status != VersionStatus::Published {
        return Err(StoreError::Refused(
            "this version is not published".to_string(),
        ));
    }
    if version.newest != Some(version.number) {
        return Err(StoreError::Conflict(SignError::Superseded.to_string()));
    }
    Ok(())
}

/// Records a signature, its ledger entry and its receipt email, inside a batch's
/// transaction (see `group_commit`). Everything it checks is read here, once, under the
/// school's lock: the version is still the current one, the person has not signed it,
/// may sign it, and was shown its text.
async fn sign(
    conn: &mut Conn,
    batch: &mut Batch,
    mut input: SignatureInput,
    at: DateTime<Utc>,
) -> StoreResult<SignOutcome> {
    let (school, person, version) = (input.school, input.person, input.version);
    let shown = batch.version(conn, school, version).await?;
    check_current(&shown)?;
    let signer = batch
        .signer(conn, school, person, version)
        .await?
        .ok_or(StoreError::NotFound)?;
    if let Some(existing) = signer.signed {
        let existing = signature_by_id(conn, school, SignatureId(existing))
            .await?
            .ok_or(StoreError::NotFound)?;
        return Ok(SignOutcome::AlreadySigned(existing));
    }
    let email_changed = signer
        .email_changed_at
        .map(|when| (signer.email_changed_by.map(PersonId), when));
    let signer_person = signer.person.into_person()?;
    check_may_act(&signer_person, &shown)?;
    check_text(&shown.text_sha256, &input.text_sha256)?;
    input.context.auth = input
        .context
        .auth
        .after_email_change(person, email_changed, at);
    let viewed_seq = signer.viewed_seq;
    let id = SignatureId(batch.signature_id(signer.next_id));
    let served_at = input.context.served_at.map(micros);
    let event = Event::Signed {
        signature: id,
        person,
        version,
        typed_name: input.typed_name.clone(),
        text_sha256: input.text_sha256.clone(),
        declaration: input.declaration.clone(),
        mark_kind: input.mark.kind().to_string(),
        mark_sha256: input.mark.sha256(),
        references: input.references.clone(),
        ip: input.context.ip.clone(),
        user_agent: input.context.user_agent.clone(),
        auth: input.context.auth.clone(),
        viewed_seq,
        served_at: served_at.map(rfc3339),
    };
    let entry = batch.append(conn, school, &event, at).await?;
    let (mark_png, mark_text) = match &input.mark {
        SignatureMark::Drawn { png } => (Some(png.clone()), None),
        SignatureMark::Typed { text } => (None, Some(text.clone())),
    };
    batch.insert_signature(SignatureValues {
        id: id.0,
        school: school.0,
        person: person.0,
        version: version.0,
        typed_name: input.typed_name.clone(),
        mark_kind: input.mark.kind().to_string(),
        mark_png,
        mark_text,
        mark_sha256: input.mark.sha256(),
        text_sha256: input.text_sha256.clone(),
        declaration: input.declaration.clone(),
        references_json: to_json(&input.references)?,
        ip: input.context.ip.clone(),
        user_agent: input.context.user_agent.clone(),
        auth_json: to_json(&input.context.auth)?,
        viewed_seq,
        signed_at: at,
        ledger_seq: entry.seq,
        ledger_hash: entry.hash.clone(),
        served_at: served_at.map(rfc3339),
    });
    // The receipt is queued with the signature, so that it is never lost; its PDF is
    // typeset when the mail is sent.
    batch.queue_mail(receipt_mail(&signer_person, &shown, id, at), at);
    Ok(SignOutcome::Recorded(Signature {
        id,
        school,
        person,
        version,
        policy: shown.policy,
        policy_title: shown.policy_title.clone(),
        version_number: shown.number,
        typed_name: input.typed_name,
        mark_kind: input.mark.kind().to_string(),
        mark_sha256: input.mark.sha256(),
        text_sha256: input.text_sha256,
        declaration: input.declaration,
        references: input.references,
        context: RequestContext {
            served_at,
            ..input.context
        },
        signed_at: at,
        ledger_seq: entry.seq,
        ledger_hash: entry.hash,
    }))
}

/// A signature row as written, held by the batch until it sends its rows.
pub(crate) struct SignatureValues {
    id: i64,
    school: i64,
    person: i64,
    version: i64,
    typed_name: String,
    mark_kind: String,
    mark_png: Option<Vec<u8>>,
    mark_text: Option<String>,
    mark_sha256: String,
    text_sha256: String,
    declaration: String,
    references_json: String,
    ip: String,
    user_agent: String,
    auth_json: String,
    viewed_seq: Option<i64>,
    signed_at: DateTime<Utc>,
    ledger_seq: i64,
    ledger_hash: String,
    served_at: Option<String>,
}

/// Writes signatures in one statement (after the ledger entries they name).
pub(crate) async fn insert_signatures(
    conn: &mut Conn,
    rows: &[SignatureValues],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO signatures (id, school_id, person_id, version_id, typed_name, mark_kind,
                mark_png, mark_text, mark_sha256, text_sha256, declaration, references_json,
                ip, user_agent, auth_json, viewed_seq, signed_at, ledger_seq, ledger_hash,
                served_at) ",
    );
    insert.push_values(rows, |mut row, s| {
        row.push_bind(s.id)
            .push_bind(s.school)
            .push_bind(s.person)
            .push_bind(s.version)
            .push_bind(&s.typed_name)
            .push_bind(&s.mark_kind)
            .push_bind(s.mark_png.as_deref())
            .push_bind(s.mark_text.as_deref())
            .push_bind(&s.mark_sha256)
            .push_bind(&s.text_sha256)
            .push_bind(&s.declaration)
            .push_bind(&s.references_json)
            .push_bind(&s.ip)
            .push_bind(&s.user_agent)
            .push_bind(&s.auth_json)
            .push_bind(s.viewed_seq)
            .push_bind(ts(s.signed_at))
            .push_bind(s.ledger_seq)
            .push_bind(&s.ledger_hash)
            .push_bind(s.served_at.as_deref());
    });
    insert
        .build()
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(|e| match constraint(&e) {
            // Another server recorded the same signature first (it cannot under the
            // school's lock, but the database has the last word).
            Some("signatures_person_version_key") => StoreError::Conflict(
                "this version was signed at the same moment; reload the page".to_string(),
            ),
            _ => db(e),
        })?;
    Ok(())
}

/// The signer's receipt email, written out when it is sent.
fn receipt_mail(
    signer: &Person,
    version: &Signable,
    signature: SignatureId,
    at: DateTime<Utc>,
) -> NewMail {
    NewMail {
        school: version.school,
        dedupe_key: format!("receipt:{signature}"),
        to_email: signer.email.clone(),
        to_name: signer.full_name.to_string(),
        subject: format!(
            "Your receipt: {} version {}",
            version.policy_title, version.number
        ),
        text_body: String::new(),
        attachments: Vec::new(),
        not_before: at,
        unless_signed: None,
        deferred: Some(Deferred::Receipt { signature }),
    }
}

/// Records a decline and its ledger entry, inside a batch's transaction.
async fn decline(
    conn: &mut Conn,
    batch: &mut Batch,
    mut input: DeclineInput,
    at: DateTime<Utc>,
) -> StoreResult<Decline> {
    let (school, person, version) = (input.school, input.person, input.version);
    let shown = batch.version(conn, school, version).await?;
    may_act(conn, school, person, &shown).await?;
    input.context.auth = marked_auth(conn, school, person, input.context.auth, at).await?;
    let id = DeclineId(next_id(conn, Reserved::Declines).await?);
    let event = Event::Declined {
        decline: id,
        person,
        version,
        text_sha256: shown.text_sha256.clone(),
        reason: input.reason.clone(),
        ip: input.context.ip.clone(),
        user_agent: input.context.user_agent.clone(),
        auth: input.context.auth.clone(),
        served_at: input.context.served_at.map(rfc3339),
    };
    let entry = batch.append(conn, school, &event, at).await?;
    // The decline names its entry: the entry goes first.
    batch.send(conn).await?;
    sqlx::query(
        "INSERT INTO declines (id, school_id, person_id, version_id, reason, text_sha256, ip,
                user_agent, auth_json, declined_at, ledger_seq, ledger_hash, served_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id.0)
    .bind(school.0)
    .bind(person.0)
    .bind(version.0)
    .bind(&input.reason)
    .bind(&shown.text_sha256)
    .bind(&input.context.ip)
    .bind(&input.context.user_agent)
    .bind(to_json(&input.context.auth)?)
    .bind(ts(at))
    .bind(entry.seq)
    .bind(&entry.hash)
    .bind(input.context.served_at.map(rfc3339))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let row: DeclineRow = sqlx::query_as(&format!(
        "{DECLINE_SELECT} WHERE d.school_id = $1 AND d.id = $2"
    ))
    .bind(school.0)
    .bind(id.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.into())
}

/// The way in as recorded: marked when someone else changed the person's email lately
/// (see `AuthMethod::after_email_change`).
async fn marked_auth(
    conn: &mut Conn,
    school: SchoolId,
    person: PersonId,
    auth: AuthMethod,
    at: DateTime<Utc>,
) -> StoreResult<AuthMethod> {
    let changed = crate::people::email_changed(conn, school, person).await?;
    Ok(auth.after_email_change(person, changed, at))
}

/// Refuses evidence about a text other than the version's.
fn check_text(version_text_sha256: &str, text_sha256: &str) -> StoreResult<()> {
    if version_text_sha256 != text_sha256 {
        return Err(StoreError::Refused(
            "the text shown is not this version's text; reload the page and read it again"
                .to_string(),
        ));
    }
    Ok(())
}

/// A published version, as needed to work out obligations.
#[derive(sqlx::FromRow)]
struct PublishedRow {
    id: i64,
    policy_id: i64,
    policy_title: String,
    number: i32,
    change_kind: String,
    audiences: String,
    published_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl Signing for BackendStore {
    #[tracing::instrument(skip_all, fields(school = %school, person = %person))]
    async fn obligations(
        &self,
        school: SchoolId,
        person: PersonId,
    ) -> StoreResult<Vec<Obligation>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let who = load_person(&mut conn, school, person)
            .await?
            .ok_or(StoreError::NotFound)?;
        if who.status != PersonStatus::Active {
            return Ok(Vec::new());
        }
        let audiences = who.audiences();
        let published: Vec<PublishedRow> = sqlx::query_as(
            "SELECT v.id, v.policy_id, p.title AS policy_title, v.number, v.change_kind,
                    v.audiences, v.published_at
             FROM policy_versions v
             JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id
             WHERE v.school_id = $1 AND v.status = 'published'
             ORDER BY p.title, v.policy_id, v.number",
        )
        .bind(school.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        // (policy, number, version) of every version the person signed.
        let signed: Vec<(i64, i32, i64)> = sqlx::query_as(
            "SELECT v.policy_id, v.number, v.id
             FROM signatures s
             JOIN policy_versions v ON v.school_id = s.school_id AND v.id = s.version_id
             WHERE s.school_id = $1 AND s.person_id = $2",
        )
        .bind(school.0)
        .bind(person.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let declined: BTreeSet<i64> = sqlx::query_scalar(
            "SELECT DISTINCT version_id FROM declines WHERE school_id = $1 AND person_id = $2",
        )
        .bind(school.0)
        .bind(person.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .into_iter()
        .collect();

        // Published versions grouped by policy, keeping the order of the query.
        let mut order: Vec<i64> = Vec::new();
        let mut by_policy: BTreeMap<i64, Vec<PublishedRow>> = BTreeMap::new();
        for row in published {
            if !by_policy.contains_key(&row.policy_id) {
                order.push(row.policy_id);
            }
            by_policy.entry(row.policy_id).or_default().push(row);
        }
        let mut out = Vec::new();
        for policy in order {
            let Some(versions) = by_policy.get(&policy) else {
                continue;
            };
            // Rows are in number order: the last is the newest.
            let Some(newest) = versions.last() else {
                continue;
            };
            if parse_audiences(&newest.audiences)?.is_disjoint(&audiences) {
                continue;
            }
            let mut newest_major = None;
            for v in versions {
                if parse_change_kind(&v.change_kind)? == ChangeKind::Major {
                    newest_major = Some(v.number);
                }
            }
            let last_signed = signed
                .iter()
                .filter(|(p, _, _)| *p == policy)
                .max_by_key(|(_, number, _)| *number);
            let up_to_date = match (last_signed, newest_major) {
                (None, _) => false,
                // Only minor versions so far: any signature of the policy stands.
                (Some(_), None) => true,
                (Some((_, number, _)), Some(major)) => *number >= major,
            };
            if up_to_date {
                continue;
            }
            out.push(Obligation {
                policy: PolicyId(policy),
                policy_title: newest.policy_title.clone(),
                version: VersionId(newest.id),
                version_number: newest.number,
                published_at: newest.published_at,
                last_signed: last_signed.map(|(_, _, v)| VersionId(*v)),
                declined: declined.contains(&newest.id),
            });
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(school = %school, person = %person, version = %version))]
    async fn record_view(
        &self,
        school: SchoolId,
        person: PersonId,
        version: VersionId,
        text_sha256: &str,
        ctx: &RequestContext,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let at = micros(at);
        let mut tx = self.write.begin().await.map_err(db)?;
        lock_school(&mut tx, school).await?;
        load_person(&mut tx, school, person)
            .await?
            .ok_or(StoreError::NotFound)?;
        let shown = load_version(&mut tx, school, version)
            .await?
            .ok_or(StoreError::NotFound)?;
        check_text(&shown.text_sha256, text_sha256)?;
        let event = Event::Viewed {
            person,
            version,
            text_sha256: text_sha256.to_string(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            auth: ctx.auth.clone(),
        };
        let entry = append(&mut tx, school, &event, at).await?;
        sqlx::query(
            "INSERT INTO views (school_id, person_id, version_id, ledger_seq, viewed_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(school.0)
        .bind(person.0)
        .bind(version.0)
        .bind(entry.seq)
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(entry.seq)
    }

    #[tracing::instrument(skip_all, fields(school = %input.school, person = %input.person, version = %input.version))]
    async fn record_signature(
        &self,
        input: SignatureInput,
        at: DateTime<Utc>,
    ) -> StoreResult<SignOutcome> {
        let school = input.school;
        let signer = (input.person, input.version);
        self.commits
            .run_signing(
                school,
                signer,
                Box::new(move |conn, batch| Box::pin(sign(conn, batch, input.clone(), micros(at)))),
            )
            .await
    }

    #[tracing::instrument(skip_all, fields(school = %input.school, person = %input.person, version = %input.version))]
    async fn record_decline(&self, input: DeclineInput, at: DateTime<Utc>) -> StoreResult<Decline> {
        let school = input.school;
        self.commits
            .run(
                school,
                Box::new(move |conn, batch| {
                    Box::pin(decline(conn, batch, input.clone(), micros(at)))
                }),
            )
            .await
    }

    async fn signatures_of(
        &self,
        school: SchoolId,
        person: PersonId,
    ) -> StoreResult<Vec<Signature>> {
        let rows: Vec<SignatureRow> = sqlx::query_as(&format!(
            "{SIGNATURE_SELECT} WHERE s.school_id = $1 AND s.person_id = $2
             ORDER BY s.signed_at DESC, s.id DESC"
        ))
        .bind(school.0)
        .bind(person.0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.into_iter().map(SignatureRow::into_signature).collect()
    }

    async fn signature(&self, school: SchoolId, id: SignatureId) -> StoreResult<Option<Signature>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        signature_by_id(&mut conn, school, id).await
    }

    async fn signature_mark(
        &self,
        school: SchoolId,
        id: SignatureId,
    ) -> StoreResult<Option<SignatureMark>> {
        let row: Option<(String, Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
            "SELECT mark_kind, mark_png, mark_text FROM signatures
             WHERE school_id = $1 AND id = $2",
        )
        .bind(school.0)
        .bind(id.0)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        match row {
            None => Ok(None),
            Some((kind, png, text)) => match (kind.as_str(), png, text) {
                ("drawn", Some(png), None) => Ok(Some(SignatureMark::Drawn { png })),
                ("typed", None, Some(text)) => Ok(Some(SignatureMark::Typed { text })),
                _ => Err(StoreError::Backend(format!(
                    "signature {id} has a malformed mark of kind {kind:?}"
                ))),
            },
        }
    }

    async fn declines(&self, viewer: &ComplianceViewer) -> StoreResult<Vec<Decline>> {
        let rows: Vec<DeclineRow> = sqlx::query_as(&format!(
            "{DECLINE_SELECT} WHERE d.school_id = $1 ORDER BY d.declined_at DESC, d.id DESC"
        ))
        .bind(viewer.school().0)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(Decline::from).collect())
    }
}
