//! Seeds S schools × P people × V versions of the AUP (with signatures spread over the
//! versions, one ledger entry each) straight into an empty database, then times the
//! compliance dashboard of one school and the organisation view through the real web
//! handlers (`tower::ServiceExt::oneshot`, no socket), and the store's set-based read alone.
//!
//! bench-compliance --database-url URL [--schools 100] [--people 1000] [--versions 10] [--runs 30]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use undersign_core::access::Actor;
use undersign_core::person::Role;
use undersign_core::store::Store;
use undersign_core::{PersonId, SchoolId};
use undersign_store_postgres::PostgresStore;
use undersign_store_sqlite::SqliteStore;
use undersign_web::{AppState, WebConfig};

struct Args {
    url: String,
    schools: i64,
    people: i64,
    versions: i64,
    runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        schools: 100,
        people: 1000,
        versions: 10,
        runs: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--database-url" => a.url = value,
            "--schools" => a.schools = value.parse().unwrap_or(a.schools),
            "--people" => a.people = value.parse().unwrap_or(a.people),
            "--versions" => a.versions = value.parse().unwrap_or(a.versions),
            "--runs" => a.runs = value.parse().unwrap_or(a.runs),
            _ => {
                eprintln!("unknown flag {flag}");
                std::process::exit(2);
            }
        }
    }
    if a.url.is_empty() {
        eprintln!("--database-url is required");
        std::process::exit(2);
    }
    a
}

/// A time literal the backend accepts in an INSERT … SELECT.
fn ts(pg: bool, day: i64) -> String {
    let t = format!("2026-{:02}-{:02}T09:00:00.000000Z", 1 + (day / 28) % 12, 1 + day % 28);
    if pg {
        format!("CAST('{t}' AS TIMESTAMPTZ)")
    } else {
        format!("'{t}'")
    }
}

async fn seed(sql: &mut dyn FnMut(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>, pg: bool, a: &Args) {
    let (s, p, v) = (a.schools, a.people, a.versions);
    let t0 = ts(pg, 0);
    sql(format!("INSERT INTO organisations (id, name, created_at) VALUES (1, 'Bench Trust', {t0})")).await;
    sql(format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {s})
         INSERT INTO schools (id, organisation_id, name, slug, timezone, public_key, created_at)
         SELECT x, 1, 'School ' || x, 'school-' || x, 'Europe/London', '00', {t0} FROM n"
    ))
    .await;
    sql(format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {})
         INSERT INTO people (id, school_id, full_name, email, roles, status, created_at, updated_at)
         SELECT x, (x - 1) / {p} + 1, 'Person ' || x, 'p' || x || '@bench.example',
                CASE WHEN x = 2 THEN '[\"staff\",\"trust_administrator\"]'
                     WHEN (x - 1) % {p} = 0 THEN '[\"headteacher\",\"staff\"]'
                     WHEN x % 10 = 0 THEN '[\"governor\"]'
                     ELSE '[\"staff\"]' END,
                'active', {t0}, {t0}
         FROM n",
        s * p
    ))
    .await;
    sql(format!(
        "INSERT INTO policies (id, school_id, title, created_at)
         SELECT id, id, 'ICT Acceptable Use Policy', {t0} FROM schools"
    ))
    .await;
    for n in 1..=v {
        let kind = if n == 1 || n % 3 == 1 { "major" } else { "minor" };
        let published = ts(pg, n * 14);
        sql(format!(
            "INSERT INTO policy_versions (id, school_id, policy_id, number, body_md, text_sha256,
                 declaration, change_kind, summary, audiences, status, created_at, published_at,
                 published_by)
             SELECT (id - 1) * {v} + {n}, id, id, {n}, '- Statement.', 'h', 'I agree.', '{kind}',
                    '', '[\"governors\",\"staff\"]', 'published', {published}, {published},
                    (id - 1) * {p} + 1
             FROM schools"
        ))
        .await;
        // Person i of a school signed versions 1..=k, k = (7 i) mod (V + 1); 0 = never.
        for bucket in 0..5 {
            let signed = ts(pg, n * 14 + 1 + bucket * 2);
            let who = format!(
                "FROM people p WHERE ((p.id - (p.school_id - 1) * {p}) * 7) % ({v} + 1) >= {n}
                   AND p.id % 5 = {bucket}"
            );
            sql(format!(
                "INSERT INTO ledger_entries (school_id, seq, kind, payload, prev_hash, hash, recorded_at)
                 SELECT p.school_id, (p.id - (p.school_id - 1) * {p} - 1) * {v} + {n}, 'signed', '{{}}',
                        'x', 'x', {signed} {who}"
            ))
            .await;
            sql(format!(
                "INSERT INTO signatures (id, school_id, person_id, version_id, typed_name, mark_kind,
                     mark_text, mark_sha256, text_sha256, declaration, references_json, ip,
                     user_agent, auth_json, signed_at, ledger_seq, ledger_hash)
                 SELECT (p.id - 1) * {v} + {n}, p.school_id, p.id, (p.school_id - 1) * {v} + {n},
                        p.full_name, 'typed', p.full_name, 'm', 'h', 'I agree.', '[]', '127.0.0.1',
                        'bench', '{{\"method\":\"password\"}}', {signed},
                        (p.id - (p.school_id - 1) * {p} - 1) * {v} + {n}, 'x' {who}"
            ))
            .await;
        }
    }
    let far = if pg {
        "CAST('2099-01-01T00:00:00.000000Z' AS TIMESTAMPTZ)".to_string()
    } else {
        "'2099-01-01T00:00:00.000000Z'".to_string()
    };
    for (token, person) in [("head", 1), ("trust", 2)] {
        sql(format!(
            "INSERT INTO sessions (token_sha256, school_id, person_id, csrf_token, auth_method,
                                   created_at, expires_at)
             VALUES ('{}', 1, {person}, 'csrf', 'password', {t0}, {far})",
            undersign_core::policy::sha256_hex(token.as_bytes())
        ))
        .await;
    }
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<44} runs {:>3}  p50 {:>8.1} ms  p95 {:>8.1} ms  max {:>8.1} ms",
        times.len(),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(at(1.0))
    );
}

async fn get(app: &axum::Router, path: &str, token: &str) -> (StatusCode, usize) {
    let req = Request::builder()
        .uri(path)
        .header(header::HOST, "bench.test")
        .header(header::COOKIE, format!("undersign_session={token}"))
        .body(Body::empty())
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, body.len())
}

#[tokio::main]
async fn main() {
    let a = args();
    let pg = a.url.starts_with("postgres");
    let store: Arc<dyn Store> = if pg {
        let s = PostgresStore::connect(&a.url).await.expect("connect");
        s.migrate().await.expect("migrate");
        Arc::new(s)
    } else {
        let s = SqliteStore::open(&a.url).await.expect("open");
        s.migrate().await.expect("migrate");
        Arc::new(s)
    };
    let started = Instant::now();
    if pg {
        let pool = sqlx::PgPool::connect(&a.url).await.expect("pool");
        let mut run = |q: String| -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
            let pool = pool.clone();
            Box::pin(async move {
                sqlx::query(&q).execute(&pool).await.unwrap_or_else(|e| panic!("{e}\n{q}"));
            })
        };
        seed(&mut run, true, &a).await;
        sqlx::query("ANALYZE").execute(&pool).await.expect("analyze");
    } else {
        let pool = sqlx::SqlitePool::connect(&a.url).await.expect("pool");
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&pool).await.ok();
        let mut run = |q: String| -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
            let pool = pool.clone();
            Box::pin(async move {
                sqlx::query(&q).execute(&pool).await.unwrap_or_else(|e| panic!("{e}\n{q}"));
            })
        };
        seed(&mut run, false, &a).await;
        sqlx::query("ANALYZE").execute(&pool).await.expect("analyze");
        pool.close().await;
    }
    let signatures: i64 = if pg {
        let pool = sqlx::PgPool::connect(&a.url).await.expect("pool");
        sqlx::query_scalar("SELECT COUNT(*) FROM signatures").fetch_one(&pool).await.expect("count")
    } else {
        let pool = sqlx::SqlitePool::connect(&a.url).await.expect("pool");
        sqlx::query_scalar("SELECT COUNT(*) FROM signatures").fetch_one(&pool).await.expect("count")
    };
    println!(
        "{}: {} schools × {} people × {} versions, {signatures} signatures; seeded in {:.1} s",
        store.backend(),
        a.schools,
        a.people,
        a.versions,
        started.elapsed().as_secs_f64()
    );

    let app = undersign_web::app(AppState::new(store.clone(), WebConfig::default()));
    // Warm up (connections, caches), and check the pages answer.
    let (status, bytes) = get(&app, "/compliance", "head").await;
    assert_eq!(status, StatusCode::OK, "the dashboard did not answer");
    assert!(bytes > 100_000, "the dashboard lists the school: {bytes} bytes");
    let t = Instant::now();
    let (org_status, org_bytes) = get(&app, "/organisation/compliance", "trust").await;
    assert_eq!(org_status, StatusCode::OK, "the organisation view did not answer");
    summary("organisation view, first (every school counted)", vec![t.elapsed()]);
    println!("dashboard page {bytes} bytes; organisation page {org_bytes} bytes");

    let viewer = Actor {
        school: SchoolId(1),
        person: PersonId(1),
        roles: [Role::Headteacher].into(),
    }
    .compliance_viewer()
    .expect("viewer");
    let mut facts = Vec::new();
    for _ in 0..a.runs {
        let t = Instant::now();
        let f = store.compliance_facts(&viewer).await.expect("facts");
        let _ = f.report(undersign_core::time::now());
        facts.push(t.elapsed());
    }
    summary("school: store read + standings", facts);
    let mut reads = Vec::new();
    let mut standings = Vec::new();
    for _ in 0..a.runs {
        let t = Instant::now();
        let f = store.compliance_facts(&viewer).await.expect("facts");
        reads.push(t.elapsed());
        let t = Instant::now();
        let _ = f.report(undersign_core::time::now());
        standings.push(t.elapsed());
    }
    summary("school: store read alone", reads);
    summary("school: standings alone", standings);
    for (name, path, token) in [
        ("baseline: GET /me (session, person, school)", "/me", "head"),
        ("school dashboard GET /compliance", "/compliance", "head"),
        (
            "school dashboard, filtered (role=governor)",
            "/compliance?role=governor&status=all",
            "head",
        ),
        ("outstanding CSV", "/compliance/outstanding.csv", "head"),
        ("organisation view, nothing changed", "/organisation/compliance", "trust"),
    ] {
        let mut times = Vec::new();
        let runs = if token == "trust" { a.runs.min(10) } else { a.runs };
        for _ in 0..runs {
            let t = Instant::now();
            let (status, _) = get(&app, path, token).await;
            assert_eq!(status, StatusCode::OK);
            times.push(t.elapsed());
        }
        summary(name, times);
    }
    // One school changed since the last view: only its summary is counted again.
    let forget = "DELETE FROM compliance_summaries WHERE school_id = 1";
    let mut times = Vec::new();
    for _ in 0..a.runs.min(10) {
        if pg {
            let pool = sqlx::PgPool::connect(&a.url).await.expect("pool");
            sqlx::query(forget).execute(&pool).await.expect("forget");
        } else {
            let pool = sqlx::SqlitePool::connect(&a.url).await.expect("pool");
            sqlx::query(forget).execute(&pool).await.expect("forget");
        }
        let t = Instant::now();
        let (status, _) = get(&app, "/organisation/compliance", "trust").await;
        assert_eq!(status, StatusCode::OK);
        times.push(t.elapsed());
    }
    summary("organisation view, one school changed", times);
}
