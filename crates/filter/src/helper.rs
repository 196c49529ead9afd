//! The helper process Squid starts: answers request lines on stdin with replies on stdout,
//! and reloads the rules on SIGHUP or when the rules file or a list file changes.
//!
//! Threads: the main thread reads, decides and writes (a decision takes well under a
//! microsecond, so a worker pool would only add hand-offs); one reloader thread builds a new
//! rule set off the hot path and publishes it with a generation counter that the main thread
//! checks per line. Answers go out in arrival order, which the protocol allows (it would also
//! allow any order). Output is buffered and flushed whenever no further request is waiting,
//! so a busy Squid gets batched writes and an idle one gets its answer at once.
//!
//! Reloading polls file modification times rather than using inotify: the rules and list
//! files are few, editors and list updaters replace files by renaming (which inotify
//! watches on the old inode miss), and a stat per file per second costs nothing.
//!
//! Failing closed: with no rules loaded (a bad file at start-up) every request is denied with
//! a message saying why; a bad file at reload is refused and the last good rules stay; a
//! request that cannot be read gets `BH` (which the shipped `squid.conf` treats as a deny);
//! and a decision that fails unexpectedly is answered with a deny.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::engine::{PeriodCache, Request};
use crate::error::RulesError;
use crate::protocol::{Replies, Scratch, parse_request, write_bh, write_unavailable};
use crate::rules::RuleSet;
use crate::target::Target;

/// Where the helper gets the time from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (`--clock` / `UNDERSIGN_CLOCK`), for tests and rehearsals.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current instant by this clock.
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(t) => t,
        }
    }
}

/// A rule set ready to serve, with its replies rendered.
#[derive(Debug)]
pub struct Loaded {
    /// The rules.
    pub rules: RuleSet,
    /// Their reply lines.
    pub replies: Replies,
}

impl Loaded {
    /// Loads `path`.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let rules = RuleSet::load(path)?;
        let replies = Replies::new(&rules);
        Ok(Self { rules, replies })
    }
}

/// The rules in force, shared between the serving thread and the reloader.
#[derive(Debug, Default)]
pub struct Shared {
    current: Mutex<Option<Arc<Loaded>>>,
    generation: AtomicU64,
}

impl Shared {
    /// Starts with `loaded`, or with no rules (every request denied) when `None`.
    pub fn new(loaded: Option<Loaded>) -> Self {
        Self {
            current: Mutex::new(loaded.map(Arc::new)),
            generation: AtomicU64::new(1),
        }
    }

    /// Puts `loaded` in force.
    pub fn publish(&self, loaded: Loaded) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(loaded));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The rules in force.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Counts kept while serving.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServeStats {
    /// Lines answered with `OK` or `ERR`.
    pub answered: u64,
    /// Lines answered with `BH`.
    pub broken: u64,
    /// Blank lines skipped (no channel ID to answer on).
    pub blank: u64,
}

/// Serves until `input` ends. Only reply lines are written to `output`.
pub fn serve<R: Read, W: Write>(
    input: R,
    output: W,
    shared: &Shared,
    clock: Clock,
) -> io::Result<ServeStats> {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut out = BufWriter::with_capacity(64 * 1024, output);
    let mut line = Vec::with_capacity(4096);
    let mut scratch = Scratch::default();
    let mut target = Target::default();
    let mut cache = PeriodCache::default();
    let mut generation = 0;
    let mut current = None;
    let mut stats = ServeStats::default();
    loop {
        if input.buffer().is_empty() {
            out.flush()?;
        }
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        let g = shared.generation.load(Ordering::Acquire);
        if g != generation {
            current = shared.current();
            generation = g;
            cache = PeriodCache::default();
        }
        answer(
            &line,
            current.as_deref(),
            clock,
            &mut scratch,
            &mut target,
            &mut cache,
            &mut out,
            &mut stats,
        )?;
    }
    out.flush()?;
    Ok(stats)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn answer(
    line: &[u8],
    loaded: Option<&Loaded>,
    clock: Clock,
    scratch: &mut Scratch,
    target: &mut Target,
    cache: &mut PeriodCache,
    out: &mut impl Write,
    stats: &mut ServeStats,
) -> io::Result<()> {
    let parsed = match parse_request(line, scratch) {
        Ok(p) => p,
        Err((Some(channel), why)) => {
            stats.broken += 1;
            return write_bh(out, channel, &why);
        }
        Err((None, _)) => {
            stats.blank += 1;
            return Ok(());
        }
    };
    let Some(loaded) = loaded else {
        stats.answered += 1;
        return write_unavailable(out, parsed.channel);
    };
    if let Err(why) = target.parse_into(parsed.url) {
        stats.broken += 1;
        return write_bh(out, parsed.channel, &why);
    }
    let request = Request {
        src: parsed.src,
        user: parsed.user,
        target,
    };
    // Nothing in `decide` panics by design; if it ever did, the answer is still a deny.
    let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        loaded.rules.decide(&request, clock.now(), cache)
    }));
    stats.answered += 1;
    match decided {
        Ok(d) => loaded.replies.write(out, parsed.channel, &d),
        Err(_) => write_unavailable(out, parsed.channel),
    }
}

/// What a set of files looked like: modification time and length of each (or absent).
fn fingerprint(paths: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    paths
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

fn watched_files(rules_path: &Path, loaded: Option<&Loaded>) -> Vec<PathBuf> {
    let mut files = vec![rules_path.to_owned()];
    if let Some(l) = loaded {
        for c in &l.rules.categories {
            files.push(c.dir.join("domains"));
            files.push(c.dir.join("urls"));
        }
    }
    files
}

/// Watches for SIGHUP and for changes to the rules file and the list files, reloading into
/// `shared`. Messages go to stderr (Squid's cache.log). Returns once the thread is started.
pub fn spawn_reloader(shared: Arc<Shared>, rules_path: PathBuf, poll: Duration) -> io::Result<()> {
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))?;
    std::thread::Builder::new().name("undersign-reload".into()).spawn(move || {
        let mut files = watched_files(&rules_path, shared.current().as_deref());
        let mut seen = fingerprint(&files);
        loop {
            std::thread::sleep(poll);
            let signalled = hup.swap(false, Ordering::AcqRel);
            let now = fingerprint(&files);
            if !signalled && now == seen {
                continue;
            }
            let why = if signalled { "SIGHUP" } else { "a file changed" };
            let started = Instant::now();
            match Loaded::load(&rules_path) {
                Ok(loaded) => {
                    let (d, u) = loaded.rules.entry_counts();
                    eprintln!(
                        "undersign squid-helper: reloaded {} after {why}: {d} domains, {u} URLs in {} ms",
                        rules_path.display(),
                        started.elapsed().as_millis()
                    );
                    files = watched_files(&rules_path, Some(&loaded));
                    shared.publish(loaded);
                }
                Err(e) => eprintln!(
                    "undersign squid-helper: {why}, but the new rules are refused and the last good rules stay in force: {e}"
                ),
            }
            seen = fingerprint(&files);
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        for (cat, domains) in [("social", "facebook.com\n"), ("iwf", "abuse.invalid\n")] {
            std::fs::create_dir_all(dir.path().join("lists").join(cat)).unwrap();
            std::fs::write(dir.path().join("lists").join(cat).join("domains"), domains).unwrap();
        }
        let path = dir.path().join("filter.toml");
        std::fs::write(
            &path,
            r#"
lists = "lists"
[statements]
3 = "I will not access facebook or other social networking sites from a school computer."
11 = "I will not browse \"offensive\" material."
[categories.social]
[categories.iwf]
illegal = true
statement = 11
[networks.school]
cidrs = ["10.10.0.0/16"]
[[rules]]
name = "no-social"
networks = "school"
categories = "social"
action = "deny"
statement = 3
[default]
action = "allow"
statement = 3
"#,
        )
        .unwrap();
        (dir, path)
    }

    fn run(shared: &Shared, input: &str) -> String {
        let mut out = Vec::new();
        serve(input.as_bytes(), &mut out, shared, Clock::System).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn replies_carry_channel_verdict_message_and_notes() {
        let (_d, path) = fixture();
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        let out = run(
            &shared,
            "0 10.10.1.5 - GET http://www.facebook.com/\n1 10.99.0.1 - GET http://www.facebook.com/\nx 10.99.0.1 - CONNECT abuse.invalid:443\n2 10.10.1.5 - GET http://example.org/\n",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            "0 ERR message=\"AUP statement 3: I will not access facebook or other social networking sites from a school computer.\" rule_=no-social statement_=3 log=\"deny rule=no-social statement=3 category=social\" category_=social"
        );
        assert_eq!(
            lines[1],
            "1 OK rule_=default statement_=3 log=\"allow rule=default statement=3 category=social\" category_=social"
        );
        assert!(lines[2].starts_with("x ERR message=\"AUP statement 11: I will not browse \\\"offensive\\\" material.\" rule_=illegal-content"), "{}", lines[2]);
        assert_eq!(
            lines[3],
            "2 OK rule_=default statement_=3 log=\"allow rule=default statement=3\""
        );
    }

    #[test]
    fn malformed_lines_get_bh_and_serving_goes_on() {
        let (_d, path) = fixture();
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        let out = run(
            &shared,
            "5 nonsense\n\n6 10.10.1.5 - GET http:///nohost\n7 10.10.1.5 - GET http://facebook.com/\n",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("5 BH message="));
        assert!(lines[1].starts_with("6 BH message="));
        assert!(lines[2].starts_with("7 ERR "));
    }

    #[test]
    fn with_no_rules_loaded_everything_is_denied() {
        let shared = Shared::new(None);
        let out = run(&shared, "0 10.10.1.5 - GET http://example.org/\n");
        assert!(
            out.starts_with("0 ERR message=\"Web filtering is unavailable"),
            "{out}"
        );
    }

    #[test]
    fn a_bad_reload_keeps_the_last_good_rules() {
        let (_d, path) = fixture();
        let shared = Arc::new(Shared::new(Some(Loaded::load(&path).unwrap())));
        spawn_reloader(Arc::clone(&shared), path.clone(), Duration::from_millis(20)).unwrap();
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            good.replace("action = \"deny\"", "action = \"blok\""),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let out = run(&shared, "0 10.10.1.5 - GET http://facebook.com/\n");
        assert!(
            out.starts_with("0 ERR "),
            "bad file must not replace the good rules: {out}"
        );
        // A good change is picked up.
        std::fs::write(
            &path,
            good.replace("action = \"deny\"", "action = \"allow\""),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = run(&shared, "0 10.10.1.5 - GET http://facebook.com/\n");
            if out.starts_with("0 OK ") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the good change was not picked up: {out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
