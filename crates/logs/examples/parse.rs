//! Parsing alone, for bench/logs: reads a log file (plain or gzip) and parses every line
//! on one core, printing lines, malformed lines and lines per second.
//!
//!     cargo run --release -p undersign-logs --example parse -- FILE

use std::sync::Arc;
use std::time::Instant;

use undersign_logs::line;
use undersign_logs::source::{LineReader, Next, open_file};

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse FILE");
        std::process::exit(2);
    };
    let mut reader = LineReader::new(open_file(path.as_ref(), Arc::default())?, true);
    let started = Instant::now();
    let (mut ok, mut bad, mut bytes) = (0u64, 0u64, 0u64);
    while let Some(next) = reader.next_line()? {
        match next {
            Next::Line(raw) => match line::parse(raw) {
                Ok(l) => {
                    ok += 1;
                    bytes += l.bytes;
                }
                Err(_) => bad += 1,
            },
            Next::TooLong => bad += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "parse: {} lines ({bad} malformed, {bytes} bytes logged) in {secs:.2} s: {:.0} lines/s on one core",
        ok + bad,
        (ok + bad) as f64 / secs
    );
    Ok(())
}
