//! The command-line edge of the filter: clap argument types and runners for
//! `undersign squid-helper` and `undersign filter …`, wired into the `undersign` binary by the
//! cli crate. `anyhow` is used here and nowhere else in this crate.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use crate::engine::Request;
use crate::helper::{Clock, Loaded, Shared, serve, spawn_reloader};
use crate::rules::RuleSet;
use crate::target::Target;
use crate::timetable::parse_instant;

/// `undersign squid-helper`: Squid's external ACL helper.
#[derive(Debug, Clone, clap::Args)]
pub struct SquidHelperArgs {
    /// The rules file (filter.toml).
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// Decide as if it were this time, instead of the system clock: RFC 3339
    /// (2026-11-23T10:35:00Z) or the school's local time ("2026-11-23 10:35"). For tests and
    /// rehearsals only.
    #[arg(long, env = "UNDERSIGN_CLOCK", value_name = "TIME")]
    pub clock: Option<String>,
    /// How often to check the rules and list files for changes, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub poll_ms: u64,
}

/// `undersign filter …`: inspect web rules without Squid.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum FilterCommand {
    /// Explain one decision: the first line is `allow` or `deny`, then the rule, the AUP
    /// statement and why.
    Check(CheckArgs),
    /// Load a rules file and its lists, report what was loaded, or say what is wrong.
    Validate(ValidateArgs),
}

/// Arguments of `undersign filter check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The rules file (filter.toml).
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
    /// The client's IP address.
    #[arg(long, value_name = "IP")]
    pub src: IpAddr,
    /// The proxy user name, if any.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The requested URL (`http://…`, or `host:port` as for CONNECT).
    #[arg(long)]
    pub url: String,
    /// Decide at this time instead of now: RFC 3339 or the school's local "YYYY-MM-DD HH:MM".
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `undersign filter validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The rules file (filter.toml).
    #[arg(long, value_name = "FILE")]
    pub rules: PathBuf,
}

/// Runs the helper until Squid closes its stdin. Only replies go to stdout; everything else
/// goes to stderr, which Squid copies to cache.log.
pub fn run_squid_helper(args: SquidHelperArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let loaded = match Loaded::load(&args.rules) {
        Ok(l) => {
            let (d, u) = l.rules.entry_counts();
            eprintln!(
                "undersign squid-helper: {} loaded: {d} domains, {u} URLs, {} rules in {} ms",
                args.rules.display(),
                l.rules.rules.len(),
                started.elapsed().as_millis()
            );
            Some(l)
        }
        Err(e) => {
            eprintln!(
                "undersign squid-helper: NO RULES LOADED, every request will be denied until the file is fixed: {e}"
            );
            None
        }
    };
    let zone = loaded
        .as_ref()
        .map_or(chrono_tz::Europe::London, |l| l.rules.timetable.zone);
    let clock = match &args.clock {
        None => Clock::System,
        Some(t) => {
            let at = parse_instant(t, zone).map_err(|e| anyhow!("--clock: {e}"))?;
            eprintln!(
                "undersign squid-helper: the clock is fixed at {at} (--clock / UNDERSIGN_CLOCK)"
            );
            Clock::Fixed(at)
        }
    };
    let shared = Arc::new(Shared::new(loaded));
    spawn_reloader(
        Arc::clone(&shared),
        args.rules.clone(),
        Duration::from_millis(args.poll_ms.max(10)),
    )
    .context("starting the rules reloader")?;
    let stats = serve(
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        &shared,
        clock,
    )
    .context("serving Squid's requests")?;
    eprintln!(
        "undersign squid-helper: stdin closed after {} answers, {} malformed lines",
        stats.answered, stats.broken
    );
    Ok(())
}

/// Runs `undersign filter …`. Exit code 0 when the command ran (whatever the decision).
pub fn run_filter(cmd: FilterCommand) -> anyhow::Result<ExitCode> {
    run_filter_to(cmd, &mut std::io::stdout().lock())
}

/// Runs `undersign filter …` writing to `out`. A reader that goes away (`filter check … |
/// head -1`) ends the command quietly with success, as it does for other Unix tools.
pub fn run_filter_to(cmd: FilterCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let ran = match cmd {
        FilterCommand::Check(args) => check(&args, out),
        FilterCommand::Validate(args) => validate(&args, out),
    };
    match ran {
        Err(e) if reader_went_away(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

/// Whether `e` is stdout's reader having closed the pipe.
fn reader_went_away(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn check(args: &CheckArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let rules = RuleSet::load(&args.rules)?;
    let at = match &args.at {
        None => chrono::Utc::now(),
        Some(t) => parse_instant(t, rules.timetable.zone).map_err(|e| anyhow!("--at: {e}"))?,
    };
    let target = Target::parse(args.url.as_bytes()).map_err(|e| anyhow!("--url: {e}"))?;
    let req = Request {
        src: args.src,
        user: args.user.as_deref(),
        target: &target,
    };
    let explanation = rules.explain(&req, &args.url, at);
    if args.json {
        serde_json::to_writer(&mut *out, &explanation)?;
        writeln!(out)?;
    } else {
        write!(out, "{explanation}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn validate(args: &ValidateArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let rules = RuleSet::load(&args.rules)?;
    let elapsed = started.elapsed();
    writeln!(out, "ok: {}", args.rules.display())?;
    for (c, st) in rules.categories.iter().zip(&rules.lists.stats) {
        let illegal = if c.illegal.is_some() {
            " (illegal content: always denied)"
        } else {
            ""
        };
        writeln!(
            out,
            "  category {}: {} domains, {} URLs{illegal}",
            c.name, st.domains, st.urls
        )?;
    }
    writeln!(
        out,
        "  {} rules, {} networks, {} groups, {} periods; lists loaded in {} ms, index {} MiB",
        rules.rules.len(),
        rules.networks.len(),
        rules.groups.len(),
        rules.timetable.periods.len(),
        elapsed.as_millis(),
        rules.lists.heap_bytes() / (1024 * 1024)
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::helper::Clock;

    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lists/adult")).unwrap();
        std::fs::write(dir.path().join("lists/adult/urls"), "reddit.com/r/nsfw\n").unwrap();
        let path = dir.path().join("filter.toml");
        std::fs::write(
            &path,
            r#"
lists = "lists"
[statements]
11 = "Nothing offensive."
[categories.adult]
[[rules]]
name = "no-adult"
categories = "adult"
action = "deny"
statement = 11
[default]
action = "allow"
statement = 11
"#,
        )
        .unwrap();
        (dir, path)
    }

    fn check_args(rules: &Path, url: &str) -> CheckArgs {
        CheckArgs {
            rules: rules.to_owned(),
            src: "10.0.0.1".parse().unwrap(),
            user: None,
            url: url.to_owned(),
            at: None,
            json: false,
        }
    }

    #[test]
    fn filter_check_into_a_closed_pipe_ends_quietly_with_success() {
        let (_d, rules) = fixture();
        for json in [false, true] {
            let (reader, mut writer) = std::io::pipe().unwrap();
            drop(reader);
            let mut args = check_args(&rules, "http://www.reddit.com/r/nsfw");
            args.json = json;
            let code = run_filter_to(FilterCommand::Check(args), &mut writer);
            assert_eq!(code.map_err(|e| e.to_string()).unwrap(), ExitCode::SUCCESS);
        }
        let (reader, mut writer) = std::io::pipe().unwrap();
        drop(reader);
        let code = run_filter_to(FilterCommand::Validate(ValidateArgs { rules }), &mut writer);
        assert_eq!(code.map_err(|e| e.to_string()).unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn other_errors_are_still_errors() {
        let (_d, rules) = fixture();
        let mut out = Vec::new();
        let e = run_filter_to(
            FilterCommand::Check(check_args(&rules, "http://%")),
            &mut out,
        )
        .unwrap_err();
        assert!(e.to_string().contains("--url"), "{e}");
    }

    #[test]
    fn filter_check_and_the_helper_unescape_a_url_the_same_way() {
        let (_d, rules) = fixture();
        let shared = Shared::new(Some(Loaded::load(&rules).unwrap()));
        for url in [
            "http://www.reddit.com/r/nsfw",
            "http://www.reddit.com/r/%6esfw",
            "http://www.reddit.com/r/%256esfw",
            "http://www.reddit.com/r%2fnsfw",
            "http://www.reddit.com/r%252fnsfw",
        ] {
            let mut out = Vec::new();
            run_filter_to(FilterCommand::Check(check_args(&rules, url)), &mut out).unwrap();
            let checked = String::from_utf8(out).unwrap();
            let mut out = Vec::new();
            serve(
                format!("0 10.0.0.1 - GET {url}\n").as_bytes(),
                &mut out,
                &shared,
                Clock::System,
            )
            .unwrap();
            let helped = String::from_utf8(out).unwrap();
            let expected = if url.contains("%25") { "allow" } else { "deny" };
            assert!(
                checked.starts_with(expected),
                "{url}: filter check says {checked}"
            );
            let reply = if expected == "allow" {
                "0 OK "
            } else {
                "0 ERR "
            };
            assert!(helped.starts_with(reply), "{url}: the helper says {helped}");
        }
    }
}
