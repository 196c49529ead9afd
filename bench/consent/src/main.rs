//! Seeds one school with P pupils in classes of 30 (each with a parent contact), a consent
//! record per pupil for the website (most given, some withdrawn, some none) and for the
//! local press, then times the publication check — the member of staff names one class
//! of 30 and the channel, and each person's answer and the verdict are recorded — R times
//! through the store, on the database given.
//!
//! bench-consent --database-url URL [--pupils 1500] [--runs 50] [--named 30]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use undersign_core::consent::{Channel, ConsentState, NewConsent, Subject};
use undersign_core::store::{PupilOutcome, Store};
use undersign_store_postgres::PostgresStore;
use undersign_store_sqlite::SqliteStore;

struct Args {
    url: String,
    pupils: usize,
    runs: usize,
    named: usize,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        pupils: 1500,
        runs: 50,
        named: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--database-url" => a.url = value,
            "--pupils" => a.pupils = value.parse().unwrap_or(a.pupils),
            "--runs" => a.runs = value.parse().unwrap_or(a.runs),
            "--named" => a.named = value.parse().unwrap_or(a.named),
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

/// `i` in letters (names may hold no digits): 0 → "a", 25 → "z", 26 → "ba" …
fn letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let a = args();
    let (backend, store): (&str, Box<dyn Store>) = if a.url.starts_with("postgres") {
        let s = PostgresStore::connect(&a.url).await.expect("connect");
        s.migrate().await.expect("migrate");
        ("postgres", Box::new(s))
    } else {
        let s = SqliteStore::open(&a.url).await.expect("open");
        s.migrate().await.expect("migrate");
        ("sqlite", Box::new(s))
    };
    let s = store.as_ref();
    let seed = undersign_test_kit::seed_school(s, "bench").await;
    let admin = seed.people_admin();
    let mut csv = String::from("UPN,Forename,Surname,Year,Class,Contact 1 Name,Contact 1 Email\n");
    for i in 0..a.pupils {
        let class = i / 30;
        let name = letters(i);
        let _ = writeln!(
            csv,
            "P{i:05},Pupil,Fam{name},{},C{class:02},Parent Fam{name},parent{i}@home.test",
            1 + class % 6
        );
    }
    let file = undersign_core::pupils::parse(csv.as_bytes()).expect("pupil file");
    let started = Instant::now();
    match s
        .apply_pupils(&admin, &file, [5; 32], undersign_core::store::PupilApply::Apply, undersign_core::time::now())
        .await
        .expect("import")
    {
        PupilOutcome::Applied(plan) => assert_eq!(plan.joiners.len(), a.pupils),
        other => panic!("{other:?}"),
    }
    let imported = started.elapsed();
    let pupils = s.pupils(seed.school.id).await.expect("pupils");
    let mut ids: Vec<_> = pupils.iter().map(|p| (p.mis_id.as_str().to_owned(), p.id)).collect();
    ids.sort();
    let started = Instant::now();
    let now = undersign_core::time::now();
    for (n, (_, id)) in ids.iter().enumerate() {
        let website = match n % 10 {
            0 => None,
            1 => Some(ConsentState::Withdrawn),
            _ => Some(ConsentState::Given),
        };
        for (channel, state) in [
            (Channel::Website, website),
            (Channel::LocalPress, Some(ConsentState::Given)),
        ] {
            if let Some(state) = state {
                s.record_consent(
                    &admin,
                    NewConsent {
                        subject: Subject::Pupil(*id),
                        channel,
                        state,
                        expires: None,
                    },
                    now,
                )
                .await
                .expect("consent");
            }
        }
    }
    let recorded = started.elapsed();
    let teacher = seed.actor(&seed.teacher);
    let mut times = Vec::with_capacity(a.runs);
    for run in 0..a.runs {
        let start = (run * a.named) % ids.len().max(1);
        let named: Vec<Subject> = ids
            .iter()
            .cycle()
            .skip(start)
            .take(a.named)
            .map(|(_, id)| Subject::Pupil(*id))
            .collect();
        let t = Instant::now();
        let check = s
            .check_publication(
                &teacher,
                Channel::Website,
                "Class photo for the website",
                &named,
                undersign_core::time::now(),
            )
            .await
            .expect("check");
        times.push(t.elapsed());
        assert_eq!(check.people.len(), a.named);
    }
    times.sort();
    println!(
        "{backend}: {} pupils imported in {:.2} s, {} consent records in {:.2} s; publication check of {} people over {} runs: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        a.pupils,
        imported.as_secs_f64(),
        a.pupils * 2 - a.pupils / 10,
        recorded.as_secs_f64(),
        a.named,
        a.runs,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(*times.last().expect("runs"))
    );
}
