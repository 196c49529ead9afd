//! Filter benchmark: generates realistic synthetic lists (1M domains over 24 categories plus
//! URL entries) and a request stream, then drives one `undersign squid-helper` process and one
//! squidGuard process with the same requests, each through its own stdin protocol:
//! - throughput: all requests written as fast as the process takes them (squidGuard reads a
//!   line at a time; the helper uses Squid's concurrency channels), replies read on another
//!   thread, timed from the first write to the last reply;
//! - latency: one request at a time, the round trip of each, p50 and p99.
//! Reports both, the load time to the first answer, resident memory, and the ratios.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use undersign_filter::synth;

struct Args {
    undersign: PathBuf,
    squidguard: PathBuf,
    work: PathBuf,
    domains: usize,
    urls: usize,
    categories: usize,
    requests: usize,
    latency: usize,
}

fn args() -> Args {
    let mut a = Args {
        undersign: PathBuf::from("undersign"),
        squidguard: PathBuf::from("/usr/bin/squidGuard"),
        work: std::env::temp_dir().join("bench-filter"),
        domains: 1_000_000,
        urls: 100_000,
        categories: 24,
        requests: 1_000_000,
        latency: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_default();
        match flag.as_str() {
            "--undersign" => a.undersign = v.into(),
            "--squidguard" => a.squidguard = v.into(),
            "--work" => a.work = v.into(),
            "--domains" => a.domains = v.parse().unwrap_or(a.domains),
            "--urls" => a.urls = v.parse().unwrap_or(a.urls),
            "--categories" => a.categories = v.parse().unwrap_or(a.categories),
            "--requests" => a.requests = v.parse().unwrap_or(a.requests),
            "--latency" => a.latency = v.parse().unwrap_or(a.latency),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

struct Helper {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Formats request `i` as this helper's input line.
    line: fn(usize, &synth::Request) -> String,
    /// Whether a reply line means "blocked".
    blocked: fn(&str) -> bool,
}

fn undersign_line(i: usize, r: &synth::Request) -> String {
    r.helper_line(i)
}

fn squidguard_line(_: usize, r: &synth::Request) -> String {
    r.squidguard_line()
}

impl Helper {
    fn start(
        name: &'static str,
        mut cmd: Command,
        line: fn(usize, &synth::Request) -> String,
        blocked: fn(&str) -> bool,
    ) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("stdout"));
        Self {
            name,
            child,
            stdin,
            stdout,
            line,
            blocked,
        }
    }

    fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<f64>().ok())
                })
            })
            .map_or(0.0, |kib| kib / 1024.0)
    }

    fn round_trip(&mut self, input: &str) -> String {
        self.stdin.write_all(input.as_bytes()).expect("write");
        self.stdin.flush().expect("flush");
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).expect("read");
        reply
    }
}

struct Result {
    name: &'static str,
    load: Duration,
    rss_mib: f64,
    throughput: f64,
    blocked: usize,
    p50: Duration,
    p99: Duration,
}

fn bench(mut h: Helper, requests: &[synth::Request], latency: usize) -> Result {
    let started = Instant::now();
    let warm = (h.line)(0, &requests[0]);
    let _ = h.round_trip(&warm);
    let load = started.elapsed();
    let rss_mib = h.rss_mib();

    let mut input = String::with_capacity(requests.len() * 80);
    for (i, r) in requests.iter().enumerate() {
        input.push_str(&(h.line)(i, r));
    }
    let n = requests.len();
    let started = Instant::now();
    let (blocked, elapsed) = std::thread::scope(|s| {
        let stdin = &mut h.stdin;
        let bytes = input.as_bytes();
        s.spawn(move || {
            for chunk in bytes.chunks(64 * 1024) {
                stdin.write_all(chunk).expect("write");
            }
            stdin.flush().expect("flush");
        });
        let mut blocked = 0;
        let mut line = String::new();
        for _ in 0..n {
            line.clear();
            h.stdout.read_line(&mut line).expect("read");
            if (h.blocked)(&line) {
                blocked += 1;
            }
        }
        (blocked, started.elapsed())
    });
    let throughput = n as f64 / elapsed.as_secs_f64();

    let mut times = Vec::with_capacity(latency);
    for (i, r) in requests.iter().cycle().take(latency).enumerate() {
        let line = (h.line)(i, r);
        let t = Instant::now();
        let _ = h.round_trip(&line);
        times.push(t.elapsed());
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let result = Result {
        name: h.name,
        load,
        rss_mib,
        throughput,
        blocked,
        p50: p(0.50),
        p99: p(0.99),
    };
    drop(h.stdin);
    let _ = h.child.wait();
    result
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.work).expect("work dir");
    let t = Instant::now();
    let lists = synth::Lists::generate(a.categories, a.domains, a.urls, 20261123);
    lists.write_configs(&a.work).expect("write lists");
    let requests = synth::requests(&lists, a.requests, &["10.10.0.5", "10.99.0.7"], 42);
    eprintln!(
        "generated {} domains and {} URL entries over {} categories, {} requests in {:.1} s (in {})",
        a.domains,
        a.urls,
        a.categories,
        a.requests,
        t.elapsed().as_secs_f64(),
        a.work.display()
    );

    let mut cmd = Command::new(&a.undersign);
    cmd.arg("squid-helper")
        .arg("--rules")
        .arg(a.work.join("filter.toml"));
    let ours = bench(
        Helper::start("undersign squid-helper", cmd, undersign_line, |l| {
            l.contains(" ERR")
        }),
        &requests,
        a.latency,
    );
    let mut cmd = Command::new(&a.squidguard);
    cmd.arg("-c").arg(a.work.join("squidGuard.conf"));
    let theirs = bench(
        Helper::start("squidGuard", cmd, squidguard_line, |l| l.starts_with("OK")),
        &requests,
        a.latency,
    );

    println!(
        "{:<24} {:>10} {:>10} {:>14} {:>10} {:>10} {:>9}",
        "", "load s", "RSS MiB", "requests/s", "p50 µs", "p99 µs", "blocked"
    );
    for r in [&ours, &theirs] {
        println!(
            "{:<24} {:>10.2} {:>10.1} {:>14.0} {:>10.1} {:>10.1} {:>9}",
            r.name,
            r.load.as_secs_f64(),
            r.rss_mib,
            r.throughput,
            r.p50.as_secs_f64() * 1e6,
            r.p99.as_secs_f64() * 1e6,
            r.blocked
        );
    }
    println!(
        "ratio (undersign / squidGuard): throughput {:.1}x, p99 latency {:.2}x lower, p50 latency {:.2}x lower",
        ours.throughput / theirs.throughput,
        theirs.p99.as_secs_f64() / ours.p99.as_secs_f64(),
        theirs.p50.as_secs_f64() / ours.p50.as_secs_f64()
    );
}
