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
    match cmd {
        FilterCommand::Check(args) => check(&args),
        FilterCommand::Validate(args) => validate(&args),
    }
}

#[allow(clippy::print_stdout)]
fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
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
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &explanation)?;
        writeln!(out)?;
    } else {
        write!(out, "{explanation}")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)]
fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let rules = RuleSet::load(&args.rules)?;
    let elapsed = started.elapsed();
    let mut out = std::io::stdout().lock();
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
    Ok(ExitCode::SUCCESS)
}
