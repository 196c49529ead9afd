//! For bench/logs: the time to read a person's week of Internet log through a disclosure,
//! on a database the bench has loaded. As the headteacher, asks for the week's log of
//! `--samples` people in turn (decided by a chair of governors it adds), and times each
//! reading (`Disclosures::read_disclosure`: the reading recorded, then the log read from
//! the detail). Prints p50, p95 and the slowest.
//!
//!     person_report --database-url sqlite://… --from 2026-11-23 --to 2026-11-27 [--samples 50]

use std::time::Instant;

use anyhow::anyhow;
use undersign_core::access::{Actor, PeopleAdmin, PolicyPublisher};
use undersign_core::disclosure::{Decision, NewDisclosure};
use undersign_core::person::{Email, FullName, NewPerson, Role};
use undersign_core::store::Reading;

mod common;
use common::{arg, bench_school, day};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (from, to) = (day("--from")?, day("--to")?);
    let samples: usize = arg("--samples").map_or(Ok(50), |s| s.parse())?;
    let (store, school) = bench_school().await?;
    let people = store.people(school.id).await?;
    let head = people
        .iter()
        .find(|p| p.roles.contains(&Role::Headteacher))
        .ok_or_else(|| anyhow!("no headteacher"))?
        .clone();
    let chair = store
        .add_person(
            &PeopleAdmin::for_operator(school.id),
            NewPerson {
                full_name: FullName::parse("Chair of Governors")?,
                email: Email::parse("chair@bench.sch.uk")?,
                roles: [Role::Governor].into(),
                line_manager: None,
                password_hash: None,
            },
        )
        .await?;
    let mut settings = store.log_settings(school.id).await?;
    settings.head_requests_decider = Some(chair.id);
    let now = undersign_core::time::now();
    store
        .set_log_settings(
            &PolicyPublisher::for_operator(school.id, head.id),
            &settings,
            now,
        )
        .await?;
    let actor = |p: &undersign_core::person::Person| Actor {
        school: school.id,
        person: p.id,
        roles: p.roles.clone(),
    };
    let subjects: Vec<_> = people
        .iter()
        .filter(|p| p.id != head.id)
        .step_by((people.len() / samples.max(1)).max(1))
        .take(samples)
        .collect();
    let mut times = Vec::with_capacity(subjects.len());
    let mut rows = 0;
    for subject in &subjects {
        let new = NewDisclosure::parse(subject.id, from, to, "Benchmark of a week's report", to)
            .map_err(|(f, m)| anyhow!("{f}: {m}"))?;
        let d = store.request_disclosure(&actor(&head), new, now).await?;
        let approve = Decision::Approve {
            open_days: 7,
            notice_delay: None,
            note: String::new(),
        };
        store
            .decide_disclosure(&actor(&chair), d.id, approve, now)
            .await?;
        let started = Instant::now();
        let (_, log) = store
            .read_disclosure(
                &actor(&head),
                d.id,
                Reading::Page,
                undersign_core::time::now(),
            )
            .await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        rows += log.days.iter().map(|d| d.requests).sum::<u64>();
    }
    if times.is_empty() {
        return Err(anyhow!("nobody to report on"));
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "a person's week report ({} people, {} requests each on average): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times.len(),
        rows / times.len().max(1) as u64,
        at(0.5),
        at(0.95),
        at(1.0)
    );
    Ok(())
}
