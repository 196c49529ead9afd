//! Whether a visitor must sign the visitor AUP now: which version visitors sign, and
//! whether a returning visitor (same email or visitor code, same name) is still covered by
//! an earlier signature under the school's visitor rules.

use chrono::{DateTime, Utc};
use undersign_core::person::{Email, collapse_spaces};
use undersign_core::policy::{ChangeKind, PolicyVersion};
use undersign_core::store::{StoreError, StoreResult};
use undersign_core::visits::{Coverage, VisitorCode, VisitorDetails, signature_still_covers};
use undersign_core::{SchoolId, VersionId, VisitId};

use crate::db::Conn;
use crate::errors::db;
use crate::policies::{load_version, parse_audiences, parse_change_kind};
use crate::visits::load_settings;

#[derive(sqlx::FromRow)]
pub(crate) struct PublishedRow {
    id: i64,
    policy_id: i64,
    number: i32,
    change_kind: String,
    audiences: String,
}

/// The published versions of the school, grouped by policy in title order, each group in
/// number order.
pub(crate) async fn published_by_policy(
    conn: &mut Conn,
    school: SchoolId,
) -> StoreResult<Vec<Vec<PublishedRow>>> {
    let rows: Vec<PublishedRow> = sqlx::query_as(
        "SELECT v.id, v.policy_id, v.number, v.change_kind, v.audiences
         FROM policy_versions v
         JOIN policies p ON p.school_id = v.school_id AND p.id = v.policy_id
         WHERE v.school_id = $1 AND v.status = 'published'
         ORDER BY p.title, v.policy_id, v.number",
    )
    .bind(school.0)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut groups: Vec<Vec<PublishedRow>> = Vec::new();
    for row in rows {
        match groups.last_mut() {
            Some(group) if group.first().is_some_and(|f| f.policy_id == row.policy_id) => {
                group.push(row)
            }
            _ => groups.push(vec![row]),
        }
    }
    Ok(groups)
}

/// The current visitor AUP and the number of its policy's newest major version.
pub(crate) async fn current_visitor_version(
    conn: &mut Conn,
    school: SchoolId,
) -> StoreResult<Option<(PolicyVersion, Option<i32>)>> {
    for group in published_by_policy(conn, school).await? {
        let Some(newest) = group.last() else {
            continue;
        };
        if !parse_audiences(&newest.audiences)?
            .contains(&undersign_core::person::Audience::Visitors)
        {
            continue;
        }
        let mut newest_major = None;
        for v in &group {
            if parse_change_kind(&v.change_kind)? == ChangeKind::Major {
                newest_major = Some(v.number);
            }
        }
        let version = load_version(conn, school, VersionId(newest.id))
            .await?
            .ok_or(StoreError::NotFound)?;
        return Ok(Some((version, newest_major)));
    }
    Ok(None)
}

/// An earlier, unpurged visit by the same visitor.
#[derive(sqlx::FromRow)]
pub(crate) struct EarlierRow {
    id: i64,
    full_name: Option<String>,
    visitor_code: Option<String>,
    version_id: Option<i64>,
    arrived_at: DateTime<Utc>,
}

/// What is known of a returning visitor: their code, and their latest signature.
pub(crate) struct Returning {
    pub(crate) code: VisitorCode,
    pub(crate) last_signed: Option<(VisitId, VersionId, DateTime<Utc>)>,
}

pub(crate) fn same_name(a: &str, b: &str) -> bool {
    collapse_spaces(a).to_lowercase() == collapse_spaces(b).to_lowercase()
}

/// Finds the visitor's earlier visits by email or code, keeping only those under the same
/// name (an email or code typed with another name is not recognised).
pub(crate) async fn returning(
    conn: &mut Conn,
    school: SchoolId,
    details: &VisitorDetails,
) -> StoreResult<Option<Returning>> {
    if details.email.is_none() && details.code.is_none() {
        return Ok(None);
    }
    let rows: Vec<EarlierRow> = sqlx::query_as(
        "SELECT id, full_name, visitor_code, version_id, arrived_at FROM visits
         WHERE school_id = $1 AND purged_at IS NULL AND (email = $2 OR visitor_code = $3)
         ORDER BY arrived_at DESC, id DESC",
    )
    .bind(school.0)
    .bind(details.email.as_ref().map(Email::as_str))
    .bind(details.code.as_ref().map(VisitorCode::as_str))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mine: Vec<EarlierRow> = rows
        .into_iter()
        .filter(|r| {
            r.full_name
                .as_deref()
                .is_some_and(|n| same_name(n, details.name.as_str()))
        })
        .collect();
    let Some(code) = mine
        .first()
        .and_then(|r| r.visitor_code.clone())
        .and_then(|c| VisitorCode::parse(&c).ok().flatten())
    else {
        return Ok(None);
    };
    let last_signed = mine.iter().find_map(|r| {
        r.version_id
            .map(|v| (VisitId(r.id), VersionId(v), r.arrived_at))
    });
    Ok(Some(Returning { code, last_signed }))
}

pub(crate) async fn coverage_in(
    conn: &mut Conn,
    school: SchoolId,
    details: &VisitorDetails,
    now: DateTime<Utc>,
) -> StoreResult<(Coverage, Option<Returning>)> {
    let Some((current, newest_major)) = current_visitor_version(conn, school).await? else {
        return Ok((Coverage::NoPolicy, None));
    };
    let settings = load_settings(conn, school).await?;
    let known = returning(conn, school, details).await?;
    let must = Coverage::MustSign {
        version: current.id,
    };
    let Some((visit, version, signed_at)) = known.as_ref().and_then(|k| k.last_signed) else {
        return Ok((must, known));
    };
    let Some(signed) = load_version(conn, school, version).await? else {
        return Ok((must, known));
    };
    let covers = signed.policy == current.policy
        && signature_still_covers(signed.number, newest_major, signed_at, now, &settings);
    Ok((
        if covers {
            Coverage::Covered {
                by: visit,
                version: current.id,
            }
        } else {
            must
        },
        known,
    ))
}
