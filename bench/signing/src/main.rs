//! Signing under load: starts `undersign demo` with N extra staff on the database given,
//! logs everyone in and opens their sign page (not timed), then has them all sign over
//! C concurrent connections and reports throughput, p50, p99 and max of the signings.
//!
//! ```text
//! bench-signing --undersign ../../target/release/undersign \
//!     --database-url sqlite:///tmp/bench/u.sqlite3 --people 2000 --connections 256
//! ```

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

const PASSWORD: &str = "bench password for load tests";

struct Args {
    undersign: String,
    database_url: String,
    data_dir: String,
    people: usize,
    connections: usize,
    /// The demo's mail goes here (`HOST:PORT`), so that receipts are typeset and sent
    /// while people sign; without it they wait in the outbox.
    smtp: Option<String>,
    /// Instead of everyone at once: signings arriving at this steady rate per second (at
    /// most `connections` in flight), each timed from when it was due, so that waiting
    /// for a free connection counts.
    rate: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        undersign: "../../target/release/undersign".into(),
        database_url: String::new(),
        data_dir: String::new(),
        people: 2000,
        connections: 256,
        smtp: None,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--undersign" => a.undersign = value()?,
            "--database-url" => a.database_url = value()?,
            "--data-dir" => a.data_dir = value()?,
            "--people" => a.people = value()?.parse().map_err(|e| format!("--people: {e}"))?,
            "--connections" => {
                a.connections = value()?.parse().map_err(|e| format!("--connections: {e}"))?
            }
            "--smtp" => a.smtp = Some(value()?),
            "--rate" => a.rate = Some(value()?.parse().map_err(|e| format!("--rate: {e}"))?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.database_url.is_empty() || a.data_dir.is_empty() {
        return Err("--database-url and --data-dir are required (an empty database and a fresh directory)".into());
    }
    Ok(a)
}

/// One person's session, ready to sign.
struct Signer {
    cookie: String,
    csrf: String,
    served: String,
    name: String,
    version: String,
    acks: Vec<String>,
}

fn attr_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    rest.find('"').map(|end| &rest[..end])
}

fn all_values_of(html: &str, marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        if let Some(v) = rest.find("value=\"").map(|j| &rest[j + 7..])
            && let Some(end) = v.find('"')
        {
            out.push(v[..end].to_string());
        }
    }
    out
}

async fn prepare(
    client: &reqwest::Client,
    origin: &str,
    i: usize,
) -> Result<Signer, String> {
    let email = format!("load{i:04}@demo.example");
    let r = client
        .post(format!("{origin}/login"))
        .header("Origin", origin)
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() != 303 {
        return Err(format!("login of {email}: {}", r.status()));
    }
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("undersign_session="))
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_string();
    let me = client
        .get(format!("{origin}/me"))
        .header("Cookie", &cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let version = attr_after(&me, "href=\"/sign/")
        .ok_or("nothing to sign on /me")?
        .to_string();
    let page = client
        .get(format!("{origin}/sign/{version}"))
        .header("Cookie", &cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let csrf = all_values_of(&page, "name=\"csrf_token\"")
        .into_iter()
        .next()
        .ok_or("no csrf token on the sign page")?;
    // The sign page seals what it served into its form; the form must carry it back.
    let served = all_values_of(&page, "name=\"served\"")
        .into_iter()
        .next()
        .ok_or("no served token on the sign page")?;
    let acks = all_values_of(&page, "name=\"ack\"");
    let name = name_of(i);
    Ok(Signer {
        cookie,
        csrf,
        served,
        name,
        version,
        acks,
    })
}

/// The name `undersign demo --extra-staff` gives person `i` (see `extra_staff` in
/// crates/cli/src/demo.rs): names may not contain digits, so the index is in letters.
fn name_of(mut i: usize) -> String {
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
    }
    while i > 0 {
        out.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
    }
    out.reverse();
    let mut s: String = out.into_iter().collect();
    s[..1].make_ascii_uppercase();
    format!("Load Tester {s}")
}

async fn sign(client: &reqwest::Client, origin: &str, s: &Signer) -> Result<Duration, String> {
    let mut form: Vec<(&str, &str)> = vec![
        ("csrf_token", &s.csrf),
        ("served", &s.served),
        ("declaration", "on"),
        ("typed_name", &s.name),
        ("signature_kind", "typed"),
        ("typed_signature", &s.name),
    ];
    for a in &s.acks {
        form.push(("ack", a));
    }
    let started = Instant::now();
    let r = client
        .post(format!("{origin}/sign/{}", s.version))
        .header("Origin", origin)
        .header("Cookie", &s.cookie)
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    let took = started.elapsed();
    if status != 303 {
        return Err(format!("signing answered {status}"));
    }
    Ok(took)
}

type Outcomes = (Vec<Duration>, Vec<String>);

/// Everyone at once: each connection signs for the next person as soon as it is free.
async fn closed_loop(
    signers: Vec<Signer>,
    client: &reqwest::Client,
    origin: &str,
    connections: usize,
) -> Result<Outcomes, String> {
    let work = Arc::new(Mutex::new(signers.into_iter().collect::<VecDeque<_>>()));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (work, client, origin) = (work.clone(), client.clone(), origin.to_string());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            loop {
                let Some(s) = work.lock().await.pop_front() else {
                    return (latencies, errors);
                };
                match sign(&client, &origin, &s).await {
                    Ok(d) => latencies.push(d),
                    Err(e) => errors.push(e),
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())?;
        latencies.extend(l);
        errors.extend(e);
    }
    Ok((latencies, errors))
}

/// Signings due at a steady `rate` per second, at most `connections` in flight; each
/// timed from when it was due.
async fn open_loop(
    signers: Vec<Signer>,
    client: &reqwest::Client,
    origin: &str,
    connections: usize,
    rate: f64,
) -> Result<Outcomes, String> {
    let slots = Arc::new(tokio::sync::Semaphore::new(connections));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, s) in signers.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let (slots, client, origin) = (slots.clone(), client.clone(), origin.to_string());
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.map_err(|e| e.to_string())?;
            sign(&client, &origin, &s).await?;
            Ok::<Duration, String>(due.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await.map_err(|e| e.to_string())? {
            Ok(d) => latencies.push(d),
            Err(e) => errors.push(e),
        }
    }
    Ok((latencies, errors))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let seed_started = Instant::now();
    let mut demo = tokio::process::Command::new(&args.undersign);
    demo.args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &args.database_url,
            "--data-dir",
            &args.data_dir,
            "--demo-password",
            PASSWORD,
            "--extra-staff",
            &args.people.to_string(),
        ]);
    if let Some(smtp) = &args.smtp {
        demo.args(["--smtp", smtp]);
    }
    let mut child = demo
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.undersign))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut origin = None;
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if let Some(i) = line.find("http://127.0.0.1:") {
            origin = Some(line[i..].trim_end_matches('/').to_string());
        }
        if line.contains("Stop with ctrl-c") {
            break;
        }
    }
    let origin = origin.ok_or("the demo printed no address")?;
    // Keep draining the demo's stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    eprintln!(
        "seeded {} people in {:.1} s; server at {origin}",
        args.people,
        seed_started.elapsed().as_secs_f64()
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;

    // Untimed: log everyone in (argon2 is deliberately slow) and open their sign page.
    let prep_started = Instant::now();
    let queue = Arc::new(Mutex::new((1..=args.people).collect::<VecDeque<_>>()));
    let signers = Arc::new(Mutex::new(Vec::with_capacity(args.people)));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (queue, signers, client, origin) =
            (queue.clone(), signers.clone(), client.clone(), origin.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(i) = queue.lock().await.pop_front() else {
                    return Ok::<(), String>(());
                };
                let s = prepare(&client, &origin, i).await?;
                signers.lock().await.push(s);
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    eprintln!(
        "logged in {} people in {:.1} s",
        args.people,
        prep_started.elapsed().as_secs_f64()
    );

    // Timed: everyone signs, C requests in flight at a time (or arriving at --rate).
    let signers: Vec<Signer> = std::mem::take(&mut *signers.lock().await);
    let started = Instant::now();
    let (mut latencies, errors) = match args.rate {
        None => closed_loop(signers, &client, &origin, args.connections).await?,
        Some(rate) => open_loop(signers, &client, &origin, args.connections, rate).await?,
    };
    let elapsed = started.elapsed();
    latencies.sort();
    let _ = child.start_kill();
    let backend = format!(
        "{}{}",
        args.database_url.split(':').next().unwrap_or("?"),
        if args.smtp.is_some() {
            " (receipts sent meanwhile)"
        } else {
            ""
        }
    );
    let backend = match args.rate {
        Some(rate) => format!("{backend}, arriving at {rate}/s"),
        None => backend,
    };
    println!(
        "{backend}: {} signings over {} connections in {:.2} s = {:.0} signings/s; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} errors",
        latencies.len(),
        args.connections,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1000.0,
        percentile(&latencies, 99.0).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        errors.len()
    );
    if let Some(e) = errors.first() {
        println!("first error: {e}");
    }
    Ok(())
}
