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
//! watches on the old inode miss), and a stat per file per second costs nothing. The list
//! files watched are the ones the rules file names *now*, whether or not it loaded, so a
//! helper that started while a list was missing reloads as soon as the list is back.
//!
//! A request line longer than [`MAX_LINE`] bytes is not read into memory: the helper answers
//! it `BH` on its channel (when the channel ID is within the first [`MAX_LINE`] bytes), skips
//! to the next newline and goes on serving.
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
use crate::error::RequestError;
use crate::error::RulesError;
use crate::protocol::{Replies, Scratch, parse_request, write_bh, write_unavailable};
use crate::rules::{self, RuleSet};
use crate::target::Target;

/// The longest request line the helper reads, newline excluded. Squid's own limit on a URL
/// is 8 KiB; the rest of the line is a few short values.
pub const MAX_LINE: usize = 64 * 1024;

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
    /// Lines longer than [`MAX_LINE`] (answered `BH` when their channel ID could be read).
    pub too_long: u64,
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
        match read_line(&mut input, &mut line, MAX_LINE)? {
            Line::End => break,
            Line::TooLong => {
                stats.too_long += 1;
                if let Some(channel) = channel_of_prefix(&line) {
                    write_bh(&mut out, channel, &RequestError::TooLong(MAX_LINE))?;
                }
                continue;
            }
            Line::Read => {}
        }
        while line.last() == Some(&b'\r') {
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

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line (maybe the last, without a newline) is in the buffer, newline removed.
    Read,
    /// The line was longer than the limit: its first bytes are in the buffer, the rest was
    /// skipped up to and including its newline.
    TooLong,
    /// The input has ended.
    End,
}

/// Reads one line into `line` (cleared first), holding at most `max` bytes of it.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    line.clear();
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Read
            });
        }
        // One byte beyond `max` tells a line of exactly `max` bytes from a longer one.
        let room = max + 1 - line.len();
        let window = &buf[..buf.len().min(room)];
        if let Some(nl) = window.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&window[..nl]);
            input.consume(nl + 1);
            return Ok(Line::Read);
        }
        let taken = window.len();
        line.extend_from_slice(window);
        input.consume(taken);
        if line.len() > max {
            line.truncate(max);
            skip_line(input)?;
            return Ok(Line::TooLong);
        }
    }
}

/// Discards input up to and including the next newline (or to the end).
fn skip_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(nl) => {
                input.consume(nl + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// The channel ID at the start of an over-long line, if it ends within what was kept.
fn channel_of_prefix(prefix: &[u8]) -> Option<&[u8]> {
    let start = prefix.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    let len = prefix[start..]
        .iter()
        .position(|b| matches!(b, b' ' | b'\t'))?;
    Some(&prefix[start..start + len])
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

/// The rules file and the list files it names as it reads now, loadable or not.
fn watched_files(rules_path: &Path) -> Vec<PathBuf> {
    let mut files = vec![rules_path.to_owned()];
    files.extend(rules::list_files(rules_path));
    files
}

/// Watches for SIGHUP and for changes to the rules file and the list files, reloading into
/// `shared`. Messages go to stderr (Squid's cache.log). Returns once the thread is started.
pub fn spawn_reloader(shared: Arc<Shared>, rules_path: PathBuf, poll: Duration) -> io::Result<()> {
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))?;
    std::thread::Builder::new().name("undersign-reload".into()).spawn(move || {
        let mut files = watched_files(&rules_path);
        let mut seen = fingerprint(&files);
        loop {
            std::thread::sleep(poll);
            let signalled = hup.swap(false, Ordering::AcqRel);
            if !signalled && fingerprint(&files) == seen {
                continue;
            }
            // Taken before loading, so that a change made while loading is seen next time.
            files = watched_files(&rules_path);
            seen = fingerprint(&files);
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
                    shared.publish(loaded);
                }
                Err(e) if shared.current().is_some() => eprintln!(
                    "undersign squid-helper: {why}, but the new rules are refused and the last good rules stay in force: {e}"
                ),
                Err(e) => eprintln!(
                    "undersign squid-helper: {why}, but the rules still do not load, so every request is still denied: {e}"
                ),
            }
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

    fn with_urls(dir: &Path) {
        std::fs::write(
            dir.join("lists/social/urls"),
            "reddit.com/r/nsfw\nwww.host.test/www-entry\n",
        )
        .unwrap();
    }

    #[test]
    fn a_url_is_unescaped_once_not_once_for_squid_and_again_for_the_url() {
        let (d, path) = fixture();
        with_urls(d.path());
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        // As Squid 5.7 sends them: the client's escapes untouched.
        let out = run(
            &shared,
            "0 10.10.1.5 - GET http://www.reddit.com/r/%256esfw\n\
             1 10.10.1.5 - GET http://www.reddit.com/r/%6esfw\n\
             2 10.10.1.5 - GET http://www.reddit.com/r%252fnsfw\n\
             3 10.10.1.5 - GET http://www.reddit.com/r%2fnsfw\n",
        );
        let verdicts: Vec<&str> = out.lines().map(|l| &l[..4]).collect();
        assert_eq!(verdicts, ["0 OK", "1 ER", "2 OK", "3 ER"], "{out}");
    }

    #[test]
    fn a_www_url_entry_is_matched_whatever_the_port() {
        let (d, path) = fixture();
        with_urls(d.path());
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        let out = run(
            &shared,
            "0 10.10.1.5 - GET http://www.host.test:8080/www-entry/x\n\
             1 10.10.1.5 - GET http://www.host.test/www-entry/x\n",
        );
        assert!(
            out.starts_with("0 ERR ") && out.contains("\n1 ERR "),
            "{out}"
        );
    }

    #[test]
    fn a_query_or_fragment_without_a_slash_does_not_hide_the_host() {
        let (_d, path) = fixture();
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        let out = run(
            &shared,
            "0 10.10.1.5 - GET http://www.facebook.com?x=1\n\
             1 10.10.1.5 - GET http://www.facebook.com%23frag\n\
             2 10.10.1.5 - GET http://facebook.com#frag\n",
        );
        let verdicts: Vec<&str> = out.lines().map(|l| &l[..5]).collect();
        assert_eq!(verdicts, ["0 ERR", "1 ERR", "2 ERR"], "{out}");
    }

    #[test]
    fn garbage_urls_get_bh_with_a_message() {
        let (_d, path) = fixture();
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        let urls = [
            "http://%",
            "http://[::1",
            "http://a:b:c/",
            "http://facebook.com:70000/",
            "http://face%01book.com/",
            "http://",
            "http://face..book.com/",
        ];
        let input: String = urls
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{i} 10.99.0.1 - GET {u}\n"))
            .collect();
        let out = run(&shared, &input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), urls.len(), "{out}");
        for (i, l) in lines.iter().enumerate() {
            assert!(
                l.starts_with(&format!(
                    "{i} BH message=\"undersign: malformed request: URL "
                )),
                "{}: {l}",
                urls[i]
            );
        }
    }

    #[test]
    fn an_over_long_line_gets_bh_on_its_channel_and_serving_goes_on() {
        let (_d, path) = fixture();
        let shared = Shared::new(Some(Loaded::load(&path).unwrap()));
        let long = "a".repeat(3 * MAX_LINE);
        let exact = format!("http://facebook.com/{}", "b".repeat(MAX_LINE));
        let head = "2 10.10.1.5 - GET ";
        let exact = &exact[..MAX_LINE - head.len()];
        let input = format!(
            "0 10.10.1.5 - GET http://example.org/{long}\n1 10.10.1.5 - GET http://facebook.com/\n{head}{exact}\n{long}\n3 10.10.1.5 - GET http://facebook.com/\n4 10.10.1.5 - GET http://example.org/{long}"
        );
        let mut out = Vec::new();
        let stats = serve(input.as_bytes(), &mut out, &shared, Clock::System).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert_eq!(
            lines[0],
            format!(
                "0 BH message=\"undersign: malformed request: request line longer than {MAX_LINE} bytes\" log=\"bh\""
            )
        );
        assert!(lines[1].starts_with("1 ERR "), "{}", lines[1]);
        // A line of exactly the limit is read as usual.
        assert!(lines[2].starts_with("2 ERR "), "{}", lines[2]);
        // A line with no channel ID within the limit cannot be answered, only skipped.
        assert!(lines[3].starts_with("3 ERR "), "{}", lines[3]);
        assert!(lines[4].starts_with("4 BH "), "{}", lines[4]);
        assert_eq!(stats.too_long, 3);
    }

    #[test]
    fn a_line_is_read_in_bounded_memory() {
        // Hundreds of megabytes without a newline, served from a reader that never holds
        // them: the line buffer stays at the limit.
        let mut reader = io::BufReader::new(io::repeat(b'x').take(300 * 1024 * 1024));
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut line, MAX_LINE).unwrap(),
            Line::TooLong
        );
        assert!(line.capacity() < 4 * MAX_LINE, "{}", line.capacity());
        assert_eq!(
            read_line(&mut reader, &mut line, MAX_LINE).unwrap(),
            Line::End
        );
    }

    #[test]
    fn a_helper_started_while_a_list_is_missing_reloads_when_it_is_back() {
        let (d, path) = fixture();
        let domains = d.path().join("lists/social/domains");
        let saved = d.path().join("social-domains");
        std::fs::rename(&domains, &saved).unwrap();
        let loaded = Loaded::load(&path);
        assert!(loaded.is_err(), "the list is missing");
        let shared = Arc::new(Shared::new(loaded.ok()));
        spawn_reloader(Arc::clone(&shared), path.clone(), Duration::from_millis(20)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let out = run(&shared, "0 10.99.0.1 - GET http://example.org/\n");
        assert!(out.contains("rule_=unavailable"), "{out}");
        std::fs::rename(&saved, &domains).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = run(&shared, "0 10.99.0.1 - GET http://example.org/\n");
            if out.starts_with("0 OK ") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the restored list was not picked up: {out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
