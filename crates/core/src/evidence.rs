//! Every row the product shows as evidence, checked against the ledger entry that
//! recorded it.
//!
//! The chain's hashes prove the entries were not changed; they prove nothing about the
//! `signatures`, `declines`, `visits` … rows that pages, receipts and reports are built
//! from. So `undersign verify` replays a school's entries into what each row must hold
//! ([`expected_rows`]), reads the rows as stored ([`EvidenceRow`], from the store), and
//! compares them field by field ([`cross_check`]): a row without its entry, an entry
//! whose row is gone, and every field that differs are each a [`Finding`] naming the
//! table, the row, the entry and the field.
//!
//! Mutable records (a person, a kiosk, a visit) must equal what their latest entry says.
//! Values are compared as JSON: strings, integers, `null`, JSON columns parsed, and
//! instants as RFC 3339 with microseconds (the form entries carry). A few fields are
//! recomputed by the store from the row rather than read from a column, so that editing
//! the content behind a stored hash is caught too: `mark_content_sha256` (the drawn or
//! typed signature), `body_sha256` (a version's text), the references' `sha256`, and a
//! visit's `personal_sha256` (its personal fields hashed with its salt, or `"purged"`).

use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::ledger::{Checkpoint, Event, LedgerEntry};
use crate::visits::SignOutBy;

/// A school's evidence as of one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceSnapshot {
    /// The chain in `seq` order.
    pub entries: Vec<LedgerEntry>,
    pub checkpoints: Vec<Checkpoint>,
    pub rows: Vec<EvidenceRow>,
    /// The access log's stored detail, digested per recording entry and partition.
    pub log_parts: Vec<crate::logs::StoredPart>,
}

/// A stored row as the store read it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRow {
    pub table: &'static str,
    /// The row's id; for `views`, the sequence number of the entry it records.
    pub id: i64,
    pub fields: BTreeMap<&'static str, Value>,
}

impl EvidenceRow {
    pub fn new(table: &'static str, id: i64) -> Self {
        Self {
            table,
            id,
            fields: BTreeMap::new(),
        }
    }

    /// Adds a field (builder style).
    pub fn with(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.fields.insert(name, value.into());
        self
    }
}

/// A JSON column's text as a value: parsed, or the raw text when it is not JSON (which
/// then differs from whatever the entry holds).
pub fn json_column(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// What one row must hold, according to the entries that recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedRow {
    /// The latest entry about the row.
    pub entry: i64,
    pub fields: BTreeMap<&'static str, Value>,
}

/// One thing wrong between the rows and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub table: &'static str,
    pub id: i64,
    /// The entry involved, when there is one.
    pub entry: Option<i64>,
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.entry {
            Some(seq) => write!(
                f,
                "{} row {} (ledger entry {seq}): {}",
                self.table, self.id, self.problem
            ),
            None => write!(f, "{} row {}: {}", self.table, self.id, self.problem),
        }
    }
}

/// The tables whose every row must come from an entry.
pub const EVIDENCE_TABLES: [&str; 25] = [
    "schools",
    "people",
    "policy_versions",
    "views",
    "signatures",
    "declines",
    "kiosks",
    "visits",
    "devices",
    "device_addresses",
    "device_holders",
    "log_settings",
    "disclosures",
    "disclosure_views",
    "safeguarding_alerts",
    "request_routes",
    "requests",
    "request_steps",
    "rulings",
    "pupils",
    "consents",
    "parent_links",
    "publication_checks",
    "publication_check_people",
    "takedown_tasks",
];

type Key = (&'static str, i64);

/// Replays a chain (already checked by [`crate::ledger::verify_chain`]) into the rows it
/// implies. An entry this build cannot read, or a genesis entry out of place, is a
/// finding.
pub fn expected_rows(entries: &[LedgerEntry]) -> (BTreeMap<Key, ExpectedRow>, Vec<Finding>) {
    let mut rows: BTreeMap<Key, ExpectedRow> = BTreeMap::new();
    let mut findings = Vec::new();
    for entry in entries {
        let payload: Value = match serde_json::from_str(&entry.payload) {
            Ok(v) => v,
            Err(e) => {
                findings.push(entry_finding(
                    entry,
                    format!("its payload is not JSON: {e}"),
                ));
                continue;
            }
        };
        let at = payload.get("at").cloned().unwrap_or(Value::Null);
        let event = match payload
            .get("event")
            .cloned()
            .map(serde_json::from_value::<Event>)
        {
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                findings.push(entry_finding(
                    entry,
                    format!("its event cannot be read by this version of Undersign: {e}"),
                ));
                continue;
            }
            None => {
                findings.push(entry_finding(entry, "it holds no event".into()));
                continue;
            }
        };
        if matches!(event, Event::SchoolCreated { .. }) != (entry.seq == 1) {
            findings.push(entry_finding(
                entry,
                if entry.seq == 1 {
                    "the chain does not begin with the school's genesis entry (school_created)"
                        .into()
                } else {
                    "a second genesis entry (school_created) in the middle of the chain".into()
                },
            ));
        }
        for (key, fields) in implied(entry, &at, &event) {
            let row = rows.entry(key).or_insert_with(|| ExpectedRow {
                entry: entry.seq,
                fields: BTreeMap::new(),
            });
            row.entry = entry.seq;
            row.fields.extend(fields);
        }
    }
    (rows, findings)
}

fn entry_finding(entry: &LedgerEntry, problem: String) -> Finding {
    Finding {
        table: "ledger_entries",
        id: entry.seq,
        entry: Some(entry.seq),
        problem,
    }
}

/// The rows one event creates or changes, with the fields it fixes.
fn implied(
    entry: &LedgerEntry,
    at: &Value,
    event: &Event,
) -> Vec<(Key, Vec<(&'static str, Value)>)> {
    let seq = json!(entry.seq);
    let hash = json!(entry.hash);
    match event {
        Event::SchoolCreated { public_key, .. } => vec![(
            ("schools", entry.school.0),
            vec![("public_key", json!(public_key))],
        )],
        Event::PersonRecorded {
            person,
            full_name,
            email,
            roles,
            status,
            line_manager,
            ..
        } => vec![(
            ("people", person.0),
            vec![
                ("full_name", json!(full_name)),
                ("email", json!(email)),
                ("roles", json!(roles)),
                ("status", json!(status)),
                ("line_manager_id", json!(line_manager)),
            ],
        )],
        Event::VersionPublished {
            policy,
            version,
            number,
            text_sha256,
            change_kind,
            audiences,
            references,
            by,
            ..
        } => vec![(
            ("policy_versions", version.0),
            vec![
                ("policy_id", json!(policy)),
                ("number", json!(number)),
                ("status", json!("published")),
                ("text_sha256", json!(text_sha256)),
                ("body_sha256", json!(text_sha256)),
                ("change_kind", json!(change_kind)),
                ("audiences", json!(audiences)),
                ("references", json!(references)),
                ("published_by", json!(by)),
                ("published_at", at.clone()),
            ],
        )],
        Event::Viewed {
            person, version, ..
        } => vec![(
            ("views", entry.seq),
            vec![
                ("person_id", json!(person)),
                ("version_id", json!(version)),
                ("viewed_at", at.clone()),
            ],
        )],
        Event::Signed {
            signature,
            person,
            version,
            typed_name,
            text_sha256,
            declaration,
            mark_kind,
            mark_sha256,
            references,
            ip,
            user_agent,
            auth,
            viewed_seq,
            served_at,
        } => vec![(
            ("signatures", signature.0),
            vec![
                ("person_id", json!(person)),
                ("version_id", json!(version)),
                ("typed_name", json!(typed_name)),
                ("text_sha256", json!(text_sha256)),
                ("declaration", json!(declaration)),
                ("mark_kind", json!(mark_kind)),
                ("mark_sha256", json!(mark_sha256)),
                ("mark_content_sha256", json!(mark_sha256)),
                ("references", json!(references)),
                ("ip", json!(ip)),
                ("user_agent", json!(user_agent)),
                ("auth", json!(auth)),
                ("viewed_seq", json!(viewed_seq)),
                ("served_at", json!(served_at)),
                ("signed_at", at.clone()),
                ("ledger_seq", seq),
                ("ledger_hash", hash),
            ],
        )],
        Event::Declined {
            decline,
            person,
            version,
            text_sha256,
            reason,
            ip,
            user_agent,
            auth,
            served_at,
        } => vec![(
            ("declines", decline.0),
            vec![
                ("person_id", json!(person)),
                ("version_id", json!(version)),
                ("text_sha256", json!(text_sha256)),
                ("reason", json!(reason)),
                ("ip", json!(ip)),
                ("user_agent", json!(user_agent)),
                ("auth", json!(auth)),
                ("declined_at", at.clone()),
                ("served_at", json!(served_at)),
                ("ledger_seq", seq),
                ("ledger_hash", hash),
            ],
        )],
        Event::KioskRegistered { kiosk, name, by } => vec![(
            ("kiosks", kiosk.0),
            vec![
                ("name", json!(name)),
                ("created_by", json!(by)),
                ("revoked_by", Value::Null),
            ],
        )],
        Event::KioskRevoked { kiosk, by } => {
            vec![(("kiosks", kiosk.0), vec![("revoked_by", json!(by))])]
        }
        Event::VisitorSignedIn {
            visit,
            host,
            personal_sha256,
            signature,
            covered_by,
            ip,
            user_agent,
            auth,
        } => vec![(
            ("visits", visit.0),
            vec![
                ("host_id", json!(host)),
                ("personal_sha256", json!(personal_sha256)),
                ("version_id", json!(signature.as_ref().map(|s| s.version))),
                (
                    "text_sha256",
                    json!(signature.as_ref().map(|s| &s.text_sha256)),
                ),
                (
                    "declaration",
                    json!(signature.as_ref().map(|s| &s.declaration)),
                ),
                ("mark_kind", json!(signature.as_ref().map(|s| &s.mark_kind))),
                (
                    "references",
                    json!(signature.as_ref().map(|s| &s.references)),
                ),
                ("covered_by", json!(covered_by)),
                ("ip", json!(ip)),
                ("user_agent", json!(user_agent)),
                ("auth", json!(auth)),
                ("arrived_at", at.clone()),
                ("state", json!("on_site")),
                ("departed_at", Value::Null),
                ("signed_out_by", Value::Null),
                ("flagged", json!(false)),
                ("ledger_seq", seq),
                ("ledger_hash", hash),
            ],
        )],
        Event::VisitorSignedOut { visit, by, flagged } => vec![(
            ("visits", visit.0),
            vec![
                (
                    "state",
                    json!(if matches!(by, SignOutBy::Automatic) {
                        "auto_signed_out"
                    } else {
                        "signed_out"
                    }),
                ),
                ("departed_at", at.clone()),
                ("signed_out_by", json!(by)),
                ("flagged", json!(flagged)),
            ],
        )],
        // Recorded for the account's history; no row holds them.
        Event::PasswordResetSent { .. } | Event::PasswordChanged { .. } => Vec::new(),
        Event::VisitorDataPurged { visits, .. } => visits
            .iter()
            .map(|v| {
                (
                    ("visits", v.0),
                    vec![("personal_sha256", json!(PURGED)), ("purged", json!(true))],
                )
            })
            .collect(),
        Event::DeviceNamed { device, name, .. } => {
            vec![(("devices", device.0), vec![("name", json!(name))])]
        }
        Event::DeviceAddressed {
            span,
            device,
            address,
            source,
            from,
            until,
            ..
        } => vec![(
            ("device_addresses", *span),
            vec![
                ("device_id", json!(device)),
                ("address", json!(address)),
                ("source", json!(source)),
                ("from_at", json!(from)),
                ("until_at", json!(until)),
            ],
        )],
        Event::DeviceAddressEnded { span, until, .. } => {
            vec![(
                ("device_addresses", *span),
                vec![("until_at", json!(until))],
            )]
        }
        Event::DeviceHeld {
            span,
            device,
            person,
            from,
            ..
        } => vec![(
            ("device_holders", *span),
            vec![
                ("device_id", json!(device)),
                ("person_id", json!(person)),
                ("from_at", json!(from)),
                ("until_at", Value::Null),
            ],
        )],
        Event::DeviceHolderEnded { span, until, .. } => {
            vec![(("device_holders", *span), vec![("until_at", json!(until))])]
        }
        // The access log's detail is checked by `logs::check_log_evidence`.
        Event::LogsLoaded { .. } | Event::LogPartitionDropped { .. } => Vec::new(),
        Event::DisclosureRequested {
            disclosure,
            subject,
            requested_by,
            from,
            to,
            reason,
        } => vec![(
            ("disclosures", disclosure.0),
            vec![
                ("subject_id", json!(subject)),
                ("requested_by", json!(requested_by)),
                ("requested_at", at.clone()),
                ("from_day", json!(from)),
                ("to_day", json!(to)),
                ("reason", json!(reason)),
                ("state", json!("requested")),
                ("decided_by", Value::Null),
                ("decided_at", Value::Null),
                ("decision_note", Value::Null),
                ("open_until", Value::Null),
                ("notice_from", Value::Null),
                ("notice_reason", Value::Null),
            ],
        )],
        Event::DisclosureWithdrawn { disclosure, .. } => vec![(
            ("disclosures", disclosure.0),
            vec![("state", json!("withdrawn"))],
        )],
        Event::DisclosureDecided {
            disclosure,
            by,
            approved,
            note,
            open_until,
            notice_from,
            notice_reason,
        } => vec![(
            ("disclosures", disclosure.0),
            vec![
                (
                    "state",
                    json!(if *approved { "approved" } else { "declined" }),
                ),
                ("decided_by", json!(by)),
                ("decided_at", at.clone()),
                ("decision_note", json!(note)),
                ("open_until", json!(open_until)),
                ("notice_from", json!(notice_from)),
                ("notice_reason", json!(notice_reason)),
            ],
        )],
        Event::DisclosureViewed {
            disclosure,
            view,
            by,
            what,
        } => vec![(
            ("disclosure_views", *view),
            vec![
                ("disclosure_id", json!(disclosure)),
                ("viewed_by", json!(by)),
                ("viewed_at", at.clone()),
                ("what", json!(what)),
            ],
        )],
        Event::DisclosureExpired { disclosure } => vec![(
            ("disclosures", disclosure.0),
            vec![("state", json!("expired"))],
        )],
        Event::SafeguardingAlertRaised {
            alert,
            category,
            request_at,
            url,
            client,
            person,
            device,
        } => vec![(
            ("safeguarding_alerts", alert.0),
            vec![
                ("raised_at", at.clone()),
                ("category", json!(category)),
                ("request_at", json!(request_at)),
                ("url", json!(url)),
                ("client", json!(client)),
                ("person_id", json!(person)),
                ("device_id", json!(device)),
                ("closed_by", Value::Null),
                ("closed_at", Value::Null),
                ("action", Value::Null),
                ("outcome", Value::Null),
            ],
        )],
        Event::SafeguardingAlertClosed {
            alert,
            by,
            action,
            outcome,
        } => vec![(
            ("safeguarding_alerts", alert.0),
            vec![
                ("closed_by", json!(by)),
                ("closed_at", at.clone()),
                ("action", json!(action)),
                ("outcome", json!(outcome)),
            ],
        )],
        Event::LogSettingsChanged { settings, by } => vec![(
            ("log_settings", entry.school.0),
            vec![
                ("routine_days", json!(settings.routine_days)),
                ("blocked_days", json!(settings.blocked_days)),
                ("safeguarding_days", json!(settings.safeguarding_days)),
                (
                    "safeguarding_categories",
                    json!(settings.safeguarding_categories),
                ),
                ("updated_by", json!(by)),
                (
                    "head_requests_decider",
                    json!(settings.head_requests_decider),
                ),
            ],
        )],
        Event::RequestRouteSet {
            route,
            request_kind: kind,
            decider,
            by,
        } => vec![(
            ("request_routes", *route),
            vec![
                ("kind", json!(kind)),
                ("decider", json!(decider)),
                ("set_by", json!(by)),
                ("set_at", at.clone()),
            ],
        )],
        Event::RequestSubmitted {
            request,
            step,
            request_kind: kind,
            by,
            route,
            answers,
        } => vec![
            (
                ("requests", request.0),
                vec![
                    ("kind", json!(kind)),
                    ("requested_by", json!(by)),
                    ("submitted_at", at.clone()),
                    ("answers", json!(answers)),
                    ("state", json!("submitted")),
                    ("route", json!(route)),
                    ("decided_by", Value::Null),
                    ("decided_at", Value::Null),
                    ("decision_note", Value::Null),
                    ("conditions", Value::Null),
                    ("expires", Value::Null),
                    ("ruling_id", Value::Null),
                ],
            ),
            request_step(*step, *request, "submitted", Some(*by), at, ""),
        ],
        Event::RequestInfoAsked {
            request,
            step,
            by,
            question,
        } => vec![
            (("requests", request.0), vec![("state", json!("more_info"))]),
            request_step(*step, *request, "more_info_asked", Some(*by), at, question),
        ],
        Event::RequestAnswered {
            request,
            step,
            by,
            reply,
            answers,
        } => vec![
            (
                ("requests", request.0),
                vec![("state", json!("submitted")), ("answers", json!(answers))],
            ),
            request_step(*step, *request, "answered", Some(*by), at, reply),
        ],
        Event::RequestDecided {
            request,
            step,
            by,
            approved,
            note,
            conditions,
            expires,
            ruling,
        } => {
            let state = if *approved { "approved" } else { "declined" };
            let mut rows = vec![
                (
                    ("requests", request.0),
                    vec![
                        ("state", json!(state)),
                        ("decided_by", json!(by)),
                        ("decided_at", at.clone()),
                        ("decision_note", json!(note)),
                        ("conditions", json!(conditions)),
                        ("expires", json!(expires)),
                        ("ruling_id", json!(ruling.as_ref().map(|r| r.id))),
                    ],
                ),
                request_step(*step, *request, state, Some(*by), at, note),
            ];
            if let Some(r) = ruling {
                rows.push((
                    ("rulings", r.id),
                    vec![
                        ("number", json!(r.number)),
                        ("request_id", json!(request)),
                        ("statement", json!(r.statement)),
                        ("reasonable", json!(approved)),
                        ("text", json!(r.text)),
                        ("published_by", json!(by)),
                        ("published_at", at.clone()),
                    ],
                ));
            }
            rows
        }
        Event::RequestWithdrawn { request, step, by } => vec![
            (("requests", request.0), vec![("state", json!("withdrawn"))]),
            request_step(*step, *request, "withdrawn", Some(*by), at, ""),
        ],
        Event::PupilRecorded {
            pupil,
            on_roll,
            details_sha256,
        } => vec![(
            ("pupils", pupil.0),
            vec![
                ("on_roll", json!(on_roll)),
                ("details_sha256", json!(details_sha256)),
            ],
        )],
        Event::ConsentRecorded {
            consent,
            subject,
            channel,
            state,
            source,
            by,
            expires,
            parent_link,
        } => vec![(
            ("consents", *consent),
            vec![
                ("subject", json!(subject)),
                ("channel", json!(channel)),
                ("state", json!(state)),
                ("source", json!(source)),
                ("recorded_by", json!(by)),
                ("at", at.clone()),
                ("expires", json!(expires)),
                ("parent_link_id", json!(parent_link)),
            ],
        )],
        Event::ParentLinkSent {
            link,
            by,
            address_sha256,
            expires_at,
        } => vec![(
            ("parent_links", *link),
            vec![
                ("created_by", json!(by)),
                ("created_at", at.clone()),
                ("expires_at", json!(expires_at)),
                ("address_sha256", json!(address_sha256)),
            ],
        )],
        Event::PublicationChecked {
            check,
            by,
            channel,
            description,
            people,
            verdict,
        } => {
            let mut rows = vec![(
                ("publication_checks", *check),
                vec![
                    ("checked_by", json!(by)),
                    ("channel", json!(channel)),
                    ("description", json!(description)),
                    ("at", at.clone()),
                    ("verdict", json!(verdict)),
                    ("published_at", Value::Null),
                    ("permission_request", Value::Null),
                ],
            )];
            rows.extend(people.iter().map(|(row, subject, answer)| {
                (
                    ("publication_check_people", *row),
                    vec![
                        ("check_id", json!(check)),
                        ("subject", json!(subject)),
                        ("answer", json!(answer)),
                    ],
                )
            }));
            rows
        }
        Event::PublicationPublished {
            check, permission, ..
        } => vec![(
            ("publication_checks", *check),
            vec![
                ("published_at", at.clone()),
                ("permission_request", json!(permission)),
            ],
        )],
        Event::TakedownRaised {
            task,
            check,
            consent,
            subject,
            publisher,
        } => vec![(
            ("takedown_tasks", *task),
            vec![
                ("check_id", json!(check)),
                ("consent_id", json!(consent)),
                ("subject", json!(subject)),
                ("publisher", json!(publisher)),
                ("raised_at", at.clone()),
                ("done_by", Value::Null),
                ("done_at", Value::Null),
                ("note", Value::Null),
            ],
        )],
        Event::TakedownDone { task, by, note } => vec![(
            ("takedown_tasks", *task),
            vec![
                ("done_by", json!(by)),
                ("done_at", at.clone()),
                ("note", json!(note)),
            ],
        )],
        Event::RequestExpired { request, step } => vec![
            (("requests", request.0), vec![("state", json!("expired"))]),
            request_step(*step, *request, "expired", None, at, ""),
        ],
    }
}

/// A row of a request's history.
fn request_step(
    step: i64,
    request: crate::ids::RequestId,
    kind: &str,
    by: Option<crate::ids::PersonId>,
    at: &Value,
    note: &str,
) -> (Key, Vec<(&'static str, Value)>) {
    (
        ("request_steps", step),
        vec![
            ("request_id", json!(request)),
            ("step", json!(kind)),
            ("by_id", json!(by)),
            ("at", at.clone()),
            ("note", json!(note)),
        ],
    )
}

/// What a visit's recomputed personal hash reads as once its personal data is purged.
pub const PURGED: &str = "purged";

/// Compares the stored rows of one school with what its entries imply. `rows` must hold
/// every row of every table in [`EVIDENCE_TABLES`] (drafts excepted: a version is
/// evidence once published).
pub fn cross_check(entries: &[LedgerEntry], rows: &[EvidenceRow]) -> Vec<Finding> {
    let (mut expected, mut findings) = expected_rows(entries);
    for row in rows {
        let Some(want) = expected.remove(&(row.table, row.id)) else {
            findings.push(Finding {
                table: row.table,
                id: row.id,
                entry: None,
                problem: "no ledger entry records this row: it was written outside Undersign"
                    .into(),
            });
            continue;
        };
        for (field, value) in &want.fields {
            let stored = row.fields.get(field).unwrap_or(&Value::Null);
            if stored != value {
                findings.push(Finding {
                    table: row.table,
                    id: row.id,
                    entry: Some(want.entry),
                    problem: format!(
                        "{field} is {} in the table but {} in the ledger",
                        shown(stored),
                        shown(value)
                    ),
                });
            }
        }
    }
    for ((table, id), want) in expected {
        findings.push(Finding {
            table,
            id,
            entry: Some(want.entry),
            problem: "the ledger records this row but the table no longer holds it: it was deleted"
                .into(),
        });
    }
    findings.sort_by_key(|f| (f.entry.unwrap_or(i64::MAX), f.table, f.id));
    findings
}

/// A value for a message: short, one line.
fn shown(v: &Value) -> String {
    let text = match v {
        Value::Null => return "empty".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
