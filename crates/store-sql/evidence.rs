//! Every evidence row of a school, read as `undersign verify` compares it with the ledger
//! (`undersign_core::evidence`). Hashes of content (a signature's mark, a version's text,
//! a referenced document, a visit's personal fields) are recomputed here from what the
//! row holds, so that editing the content behind a stored hash is caught too.

use crate::visits::PersonalColumns;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use undersign_core::SchoolId;
use undersign_core::evidence::{EvidenceRow, PURGED, json_column};
use undersign_core::policy::sha256_hex;
use undersign_core::store::StoreResult;
use undersign_core::time::rfc3339;

use crate::db::Conn;
use crate::errors::db;

fn at(t: DateTime<Utc>) -> Value {
    json!(rfc3339(t))
}

fn at_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, at)
}

/// The SHA-256 of a drawn (PNG) or typed mark, as recorded when it was made.
fn mark_sha256(png: Option<&[u8]>, text: Option<&str>) -> Value {
    match (png, text) {
        (Some(png), _) => json!(sha256_hex(png)),
        (None, Some(text)) => json!(sha256_hex(text.as_bytes())),
        (None, None) => Value::Null,
    }
}

/// Reads every evidence row of `school` (published versions only).
pub(crate) async fn evidence_rows(
    conn: &mut Conn,
    school: SchoolId,
) -> StoreResult<Vec<EvidenceRow>> {
    let mut rows = Vec::new();
    schools(conn, school, &mut rows).await?;
    people(conn, school, &mut rows).await?;
    versions(conn, school, &mut rows).await?;
    views(conn, school, &mut rows).await?;
    signatures(conn, school, &mut rows).await?;
    declines(conn, school, &mut rows).await?;
    kiosks(conn, school, &mut rows).await?;
    visits(conn, school, &mut rows).await?;
    devices(conn, school, &mut rows).await?;
    log_settings(conn, school, &mut rows).await?;
    disclosures(conn, school, &mut rows).await?;
    safeguarding_alerts(conn, school, &mut rows).await?;
    requests(conn, school, &mut rows).await?;
    consent(conn, school, &mut rows).await?;
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: i64,
    raised_at: DateTime<Utc>,
    request_at: DateTime<Utc>,
    category: String,
    url: String,
    client: String,
    person_id: Option<i64>,
    device_id: Option<i64>,
    closed_by: Option<i64>,
    closed_at: Option<DateTime<Utc>>,
    action: Option<String>,
    outcome: Option<String>,
}

async fn safeguarding_alerts(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let found: Vec<AlertRow> = sqlx::query_as(
        "SELECT id, raised_at, request_at, category, url, client, person_id, device_id,
                closed_by, closed_at, action, outcome
         FROM safeguarding_alerts WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|a| {
        EvidenceRow::new("safeguarding_alerts", a.id)
            .with("raised_at", at(a.raised_at))
            .with("category", a.category)
            .with("request_at", at(a.request_at))
            .with("url", a.url)
            .with("client", a.client)
            .with("person_id", a.person_id)
            .with("device_id", a.device_id)
            .with("closed_by", a.closed_by)
            .with("closed_at", at_opt(a.closed_at))
            .with("action", a.action)
            .with("outcome", a.outcome)
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ConsentRow {
    id: i64,
    pupil_id: Option<i64>,
    person_id: Option<i64>,
    channel: String,
    state: String,
    source: String,
    recorded_by: Option<i64>,
    at: DateTime<Utc>,
    expires: Option<chrono::NaiveDate>,
    parent_link_id: Option<i64>,
}

/// The pupils (by the fingerprint of their details, recomputed here) and every consent
/// record.
async fn consent(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let pupils: Vec<crate::consent::PupilRecord> = sqlx::query_as(&format!(
        "SELECT {} FROM pupils WHERE school_id = $1 ORDER BY id",
        crate::consent::PUPIL_COLUMNS
    ))
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(pupils.into_iter().map(|p| {
        EvidenceRow::new("pupils", p.id)
            .with("on_roll", p.on_roll)
            .with("details_sha256", p.details_sha256())
    }));
    let consents: Vec<ConsentRow> = sqlx::query_as(
        "SELECT id, pupil_id, person_id, channel, state, source, recorded_by, at, expires,
                parent_link_id
         FROM consents WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(consents.into_iter().map(|c| {
        EvidenceRow::new("consents", c.id)
            .with("subject", subject_json(c.pupil_id, c.person_id))
            .with("channel", c.channel)
            .with("state", c.state)
            .with("source", c.source)
            .with("recorded_by", c.recorded_by)
            .with("at", at(c.at))
            .with("expires", json!(c.expires))
            .with("parent_link_id", c.parent_link_id)
    }));
    let links: Vec<LinkRow> = sqlx::query_as(
        "SELECT id, token_sha256, email, created_by, created_at, expires_at FROM parent_links
         WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(links.into_iter().map(|l| {
        EvidenceRow::new("parent_links", l.id)
            .with("created_by", l.created_by)
            .with("created_at", at(l.created_at))
            .with("expires_at", at(l.expires_at))
            .with(
                "address_sha256",
                undersign_core::consent::link_address_sha256(&l.token_sha256, &l.email),
            )
    }));
    let checks: Vec<crate::consent::CheckRow> = sqlx::query_as(&format!(
        "SELECT {} FROM publication_checks WHERE school_id = $1 ORDER BY id",
        crate::consent::CHECK_COLUMNS
    ))
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(checks.into_iter().map(|c| {
        EvidenceRow::new("publication_checks", c.id)
            .with("checked_by", c.checked_by)
            .with("channel", c.channel)
            .with("description", c.description)
            .with("at", at(c.at))
            .with("verdict", c.verdict)
            .with("published_at", at_opt(c.published_at))
            .with("permission_request", c.permission_request)
    }));
    let people: Vec<CheckedRow> = sqlx::query_as(
        "SELECT id, check_id, pupil_id, person_id, answer FROM publication_check_people
         WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(people.into_iter().map(|p| {
        EvidenceRow::new("publication_check_people", p.id)
            .with("check_id", p.check_id)
            .with("subject", subject_json(p.pupil_id, p.person_id))
            .with("answer", p.answer)
    }));
    let tasks: Vec<TakedownRow> = sqlx::query_as(
        "SELECT id, check_id, consent_id, pupil_id, person_id, publisher, raised_at, done_by,
                done_at, note
         FROM takedown_tasks WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(tasks.into_iter().map(|t| {
        EvidenceRow::new("takedown_tasks", t.id)
            .with("check_id", t.check_id)
            .with("consent_id", t.consent_id)
            .with("subject", subject_json(t.pupil_id, t.person_id))
            .with("publisher", t.publisher)
            .with("raised_at", at(t.raised_at))
            .with("done_by", t.done_by)
            .with("done_at", at_opt(t.done_at))
            .with("note", t.note)
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    token_sha256: String,
    email: String,
    created_by: Option<i64>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct CheckedRow {
    id: i64,
    check_id: i64,
    pupil_id: Option<i64>,
    person_id: Option<i64>,
    answer: String,
}

#[derive(sqlx::FromRow)]
struct TakedownRow {
    id: i64,
    check_id: i64,
    consent_id: i64,
    pupil_id: Option<i64>,
    person_id: Option<i64>,
    publisher: i64,
    raised_at: DateTime<Utc>,
    done_by: Option<i64>,
    done_at: Option<DateTime<Utc>>,
    note: Option<String>,
}

/// A pupil or a person as the ledger's entries name them (`{"pupil": 5}`); a row naming
/// both or neither reads as both, which no entry holds.
fn subject_json(pupil: Option<i64>, person: Option<i64>) -> Value {
    match (pupil, person) {
        (Some(p), None) => json!({ "pupil": p }),
        (None, Some(p)) => json!({ "person": p }),
        (p, q) => json!({ "pupil": p, "person": q }),
    }
}

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: i64,
    kind: String,
    requested_by: i64,
    submitted_at: DateTime<Utc>,
    answers: String,
    state: String,
    route: String,
    decided_by: Option<i64>,
    decided_at: Option<DateTime<Utc>>,
    decision_note: Option<String>,
    conditions: Option<String>,
    expires: Option<chrono::NaiveDate>,
    ruling_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct StepRow {
    id: i64,
    request_id: i64,
    step: String,
    by_id: Option<i64>,
    at: DateTime<Utc>,
    note: String,
}

#[derive(sqlx::FromRow)]
struct RulingRow {
    id: i64,
    number: i64,
    request_id: i64,
    statement: i64,
    reasonable: bool,
    text: String,
    published_by: i64,
    published_at: DateTime<Utc>,
}

/// Who decides each kind, the requests, every step of their history, and the rulings.
async fn requests(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let routes: Vec<(i64, String, String, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, kind, decider, set_by, set_at FROM request_routes
         WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(routes.into_iter().map(|(id, kind, decider, by, when)| {
        EvidenceRow::new("request_routes", id)
            .with("kind", kind)
            .with("decider", decider)
            .with("set_by", by)
            .with("set_at", at(when))
    }));
    let found: Vec<RequestRow> = sqlx::query_as(
        "SELECT id, kind, requested_by, submitted_at, answers, state, route, decided_by,
                decided_at, decision_note, conditions, expires, ruling_id
         FROM requests WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|r| {
        EvidenceRow::new("requests", r.id)
            .with("kind", r.kind)
            .with("requested_by", r.requested_by)
            .with("submitted_at", at(r.submitted_at))
            .with("answers", json_column(&r.answers))
            .with("state", r.state)
            .with("route", r.route)
            .with("decided_by", r.decided_by)
            .with("decided_at", at_opt(r.decided_at))
            .with("decision_note", r.decision_note)
            .with("conditions", r.conditions)
            .with("expires", json!(r.expires))
            .with("ruling_id", r.ruling_id)
    }));
    let steps: Vec<StepRow> = sqlx::query_as(
        "SELECT id, request_id, step, by_id, at, note FROM request_steps
         WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(steps.into_iter().map(|s| {
        EvidenceRow::new("request_steps", s.id)
            .with("request_id", s.request_id)
            .with("step", s.step)
            .with("by_id", s.by_id)
            .with("at", at(s.at))
            .with("note", s.note)
    }));
    let rulings: Vec<RulingRow> = sqlx::query_as(
        "SELECT id, number, request_id, statement, reasonable, text, published_by, published_at
         FROM rulings WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(rulings.into_iter().map(|r| {
        EvidenceRow::new("rulings", r.id)
            .with("number", r.number)
            .with("request_id", r.request_id)
            .with("statement", r.statement)
            .with("reasonable", r.reasonable)
            .with("text", r.text)
            .with("published_by", r.published_by)
            .with("published_at", at(r.published_at))
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DisclosureRow {
    id: i64,
    subject_id: i64,
    requested_by: i64,
    requested_at: DateTime<Utc>,
    from_day: chrono::NaiveDate,
    to_day: chrono::NaiveDate,
    reason: String,
    state: String,
    decided_by: Option<i64>,
    decided_at: Option<DateTime<Utc>>,
    decision_note: Option<String>,
    open_until: Option<DateTime<Utc>>,
    notice_from: Option<chrono::NaiveDate>,
    notice_reason: Option<String>,
}

/// Requests for people's logs and every reading of one.
async fn disclosures(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let found: Vec<DisclosureRow> = sqlx::query_as(
        "SELECT id, subject_id, requested_by, requested_at, from_day, to_day, reason, state,
                decided_by, decided_at, decision_note, open_until, notice_from, notice_reason
         FROM disclosures WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|d| {
        EvidenceRow::new("disclosures", d.id)
            .with("subject_id", d.subject_id)
            .with("requested_by", d.requested_by)
            .with("requested_at", at(d.requested_at))
            .with("from_day", json!(d.from_day))
            .with("to_day", json!(d.to_day))
            .with("reason", d.reason)
            .with("state", d.state)
            .with("decided_by", d.decided_by)
            .with("decided_at", at_opt(d.decided_at))
            .with("decision_note", d.decision_note)
            .with("open_until", at_opt(d.open_until))
            .with("notice_from", json!(d.notice_from))
            .with("notice_reason", d.notice_reason)
    }));
    let views: Vec<(i64, i64, i64, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT id, disclosure_id, viewed_by, viewed_at, what
         FROM disclosure_views WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(views.into_iter().map(|(id, disclosure, by, when, what)| {
        EvidenceRow::new("disclosure_views", id)
            .with("disclosure_id", disclosure)
            .with("viewed_by", by)
            .with("viewed_at", at(when))
            .with("what", what)
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LogSettingsRow {
    routine_days: i64,
    blocked_days: i64,
    safeguarding_days: i64,
    safeguarding_categories: String,
    updated_by: i64,
    head_requests_decider: Option<i64>,
    search_terms: bool,
}

async fn log_settings(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let found: Option<LogSettingsRow> = sqlx::query_as(
        "SELECT routine_days, blocked_days, safeguarding_days, safeguarding_categories, updated_by,
                head_requests_decider, search_terms
         FROM log_settings WHERE school_id = $1",
    )
    .bind(school.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if let Some(r) = found {
        out.push(
            EvidenceRow::new("log_settings", school.0)
                .with("routine_days", r.routine_days)
                .with("blocked_days", r.blocked_days)
                .with("safeguarding_days", r.safeguarding_days)
                .with(
                    "safeguarding_categories",
                    json_column(&r.safeguarding_categories),
                )
                .with("updated_by", r.updated_by)
                .with("head_requests_decider", r.head_requests_decider)
                .with("search_terms", r.search_terms),
        );
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SpanRow {
    id: i64,
    device_id: i64,
    /// The address, or the holder's id as text (`NULL`: nobody).
    value: Option<String>,
    source: Option<String>,
    from_at: DateTime<Utc>,
    until_at: Option<DateTime<Utc>>,
}

/// The device register: names, and spans (who had which address, who held which
/// device, when).
async fn devices(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let named: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM devices WHERE school_id = $1 ORDER BY id")
            .bind(school.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    out.extend(
        named
            .into_iter()
            .map(|(id, name)| EvidenceRow::new("devices", id).with("name", name)),
    );
    let addresses: Vec<SpanRow> = sqlx::query_as(
        "SELECT id, device_id, address AS value, source, from_at, until_at
         FROM device_addresses WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(addresses.into_iter().map(|r| {
        EvidenceRow::new("device_addresses", r.id)
            .with("device_id", r.device_id)
            .with("address", r.value)
            .with("source", r.source)
            .with("from_at", at(r.from_at))
            .with("until_at", at_opt(r.until_at))
    }));
    let holders: Vec<SpanRow> = sqlx::query_as(
        "SELECT id, device_id, CAST(person_id AS TEXT) AS value, CAST(NULL AS TEXT) AS source,
                from_at, until_at
         FROM device_holders WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for r in holders {
        let person = match r.value.as_deref().map(str::parse::<i64>) {
            None => Value::Null,
            Some(Ok(id)) => json!(id),
            Some(Err(_)) => json!(r.value),
        };
        out.push(
            EvidenceRow::new("device_holders", r.id)
                .with("device_id", r.device_id)
                .with("person_id", person)
                .with("from_at", at(r.from_at))
                .with("until_at", at_opt(r.until_at)),
        );
    }
    Ok(())
}

async fn schools(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let found: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, public_key FROM schools WHERE id = $1")
            .bind(school.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    out.extend(
        found
            .into_iter()
            .map(|(id, key)| EvidenceRow::new("schools", id).with("public_key", key)),
    );
    Ok(())
}

async fn people(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let found: Vec<(i64, String, String, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, full_name, email, roles, status, line_manager_id
         FROM people WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(
        found
            .into_iter()
            .map(|(id, name, email, roles, status, manager)| {
                EvidenceRow::new("people", id)
                    .with("full_name", name)
                    .with("email", email)
                    .with("roles", json_column(&roles))
                    .with("status", status)
                    .with("line_manager_id", manager)
            }),
    );
    Ok(())
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    policy_id: i64,
    number: i32,
    body_md: String,
    text_sha256: String,
    change_kind: String,
    audiences: String,
    status: String,
    published_at: Option<DateTime<Utc>>,
    published_by: Option<i64>,
}

async fn versions(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let found: Vec<VersionRow> = sqlx::query_as(
        "SELECT id, policy_id, number, body_md, text_sha256, change_kind, audiences, status,
                published_at, published_by
         FROM policy_versions WHERE school_id = $1 AND status <> 'draft' ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let refs: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT r.version_id, r.id, r.title, r.content
         FROM policy_references r
         JOIN policy_versions v ON v.school_id = r.school_id AND v.id = r.version_id
         WHERE r.school_id = $1 AND v.status <> 'draft'
         ORDER BY r.version_id, r.position, r.id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for v in found {
        let references: Vec<Value> = refs
            .iter()
            .filter(|(version, ..)| *version == v.id)
            .map(|(_, id, title, content)| {
                json!({"id": id, "title": title, "sha256": sha256_hex(content.as_bytes())})
            })
            .collect();
        out.push(
            EvidenceRow::new("policy_versions", v.id)
                .with("policy_id", v.policy_id)
                .with("number", v.number)
                .with("status", v.status)
                .with("text_sha256", v.text_sha256)
                .with("body_sha256", sha256_hex(v.body_md.as_bytes()))
                .with("change_kind", v.change_kind)
                .with("audiences", json_column(&v.audiences))
                .with("references", references)
                .with("published_by", v.published_by)
                .with("published_at", at_opt(v.published_at)),
        );
    }
    Ok(())
}

async fn views(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let found: Vec<(i64, i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT ledger_seq, person_id, version_id, viewed_at
         FROM views WHERE school_id = $1 ORDER BY ledger_seq",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|(seq, person, version, viewed)| {
        EvidenceRow::new("views", seq)
            .with("person_id", person)
            .with("version_id", version)
            .with("viewed_at", at(viewed))
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SignatureRow {
    id: i64,
    person_id: i64,
    version_id: i64,
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
    served_at: Option<String>,
    signed_at: DateTime<Utc>,
    ledger_seq: i64,
    ledger_hash: String,
}

async fn signatures(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let found: Vec<SignatureRow> = sqlx::query_as(
        "SELECT id, person_id, version_id, typed_name, mark_kind, mark_png, mark_text,
                mark_sha256, text_sha256, declaration, references_json, ip, user_agent,
                auth_json, viewed_seq, served_at, signed_at, ledger_seq, ledger_hash
         FROM signatures WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|s| {
        EvidenceRow::new("signatures", s.id)
            .with("person_id", s.person_id)
            .with("version_id", s.version_id)
            .with("typed_name", s.typed_name)
            .with("text_sha256", s.text_sha256)
            .with("declaration", s.declaration)
            .with("mark_kind", s.mark_kind)
            .with("mark_sha256", s.mark_sha256)
            .with(
                "mark_content_sha256",
                mark_sha256(s.mark_png.as_deref(), s.mark_text.as_deref()),
            )
            .with("references", json_column(&s.references_json))
            .with("ip", s.ip)
            .with("user_agent", s.user_agent)
            .with("auth", json_column(&s.auth_json))
            .with("viewed_seq", s.viewed_seq)
            .with("served_at", s.served_at)
            .with("signed_at", at(s.signed_at))
            .with("ledger_seq", s.ledger_seq)
            .with("ledger_hash", s.ledger_hash)
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DeclineRow {
    id: i64,
    person_id: i64,
    version_id: i64,
    reason: String,
    text_sha256: String,
    ip: String,
    user_agent: String,
    auth_json: String,
    served_at: Option<String>,
    declined_at: DateTime<Utc>,
    ledger_seq: i64,
    ledger_hash: String,
}

async fn declines(
    conn: &mut Conn,
    school: SchoolId,
    out: &mut Vec<EvidenceRow>,
) -> StoreResult<()> {
    let found: Vec<DeclineRow> = sqlx::query_as(
        "SELECT id, person_id, version_id, reason, text_sha256, ip, user_agent, auth_json,
                served_at, declined_at, ledger_seq, ledger_hash
         FROM declines WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|d| {
        EvidenceRow::new("declines", d.id)
            .with("person_id", d.person_id)
            .with("version_id", d.version_id)
            .with("text_sha256", d.text_sha256)
            .with("reason", d.reason)
            .with("ip", d.ip)
            .with("user_agent", d.user_agent)
            .with("auth", json_column(&d.auth_json))
            .with("declined_at", at(d.declined_at))
            .with("served_at", d.served_at)
            .with("ledger_seq", d.ledger_seq)
            .with("ledger_hash", d.ledger_hash)
    }));
    Ok(())
}

async fn kiosks(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let found: Vec<(i64, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, name, created_by, revoked_by FROM kiosks WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    out.extend(found.into_iter().map(|(id, name, by, revoked_by)| {
        EvidenceRow::new("kiosks", id)
            .with("name", name)
            .with("created_by", by)
            .with("revoked_by", revoked_by)
    }));
    Ok(())
}

#[derive(sqlx::FromRow)]
struct VisitRow {
    id: i64,
    host_id: i64,
    state: String,
    arrived_at: DateTime<Utc>,
    departed_at: Option<DateTime<Utc>>,
    signed_out_json: Option<String>,
    flagged: bool,
    #[sqlx(flatten)]
    personal: PersonalColumns,
    purged_at: Option<DateTime<Utc>>,
    version_id: Option<i64>,
    text_sha256: Option<String>,
    declaration: Option<String>,
    mark_kind: Option<String>,
    references_json: Option<String>,
    covered_by: Option<i64>,
    ip: String,
    user_agent: String,
    auth_json: String,
    ledger_seq: Option<i64>,
    ledger_hash: Option<String>,
}

impl VisitRow {
    /// The personal fields hashed with the row's salt, as at sign-in; `"purged"` once
    /// they are gone (and a row half-purged hashes to something that matches nothing).
    fn personal_sha256(&self) -> Value {
        match self.personal.personal() {
            Ok(Some((personal, salt))) => json!(personal.salted_sha256(&salt)),
            Ok(None) if self.purged_at.is_some() => json!(PURGED),
            Ok(None) => json!("personal data missing"),
            Err(e) => json!(e),
        }
    }
}

async fn visits(conn: &mut Conn, school: SchoolId, out: &mut Vec<EvidenceRow>) -> StoreResult<()> {
    let found: Vec<VisitRow> = sqlx::query_as(
        "SELECT id, host_id, state, arrived_at, departed_at, signed_out_json, flagged,
                full_name, organisation, email, car_registration, visitor_code, typed_name,
                mark_png, mark_text, salt, purged_at, version_id, text_sha256, declaration,
                mark_kind, references_json, covered_by, ip, user_agent, auth_json,
                ledger_seq, ledger_hash
         FROM visits WHERE school_id = $1 ORDER BY id",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for v in found {
        let mut row = EvidenceRow::new("visits", v.id)
            .with("host_id", v.host_id)
            .with("personal_sha256", v.personal_sha256())
            .with("version_id", v.version_id)
            .with("text_sha256", v.text_sha256.clone())
            .with("declaration", v.declaration.clone())
            .with("mark_kind", v.mark_kind.clone())
            .with(
                "references",
                v.references_json
                    .as_deref()
                    .map_or(Value::Null, json_column),
            )
            .with("covered_by", v.covered_by)
            .with("ip", v.ip.clone())
            .with("user_agent", v.user_agent.clone())
            .with("auth", json_column(&v.auth_json))
            .with("arrived_at", at(v.arrived_at))
            .with("state", v.state.clone())
            .with("departed_at", at_opt(v.departed_at))
            .with(
                "signed_out_by",
                v.signed_out_json
                    .as_deref()
                    .map_or(Value::Null, json_column),
            )
            .with("flagged", v.flagged)
            .with("ledger_seq", v.ledger_seq)
            .with("ledger_hash", v.ledger_hash.clone());
        if v.purged_at.is_some() {
            row = row.with("purged", true);
        }
        out.push(row);
    }
    Ok(())
}
