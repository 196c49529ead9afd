//! `undersign logs …`: Squid's access log in.
//!
//! - `logs daemon JOURNAL_DIR` is Squid's logfile daemon (through the wrapper in
//!   `deploy/squid/`): it journals every line first, and loads the journal into the store
//!   from a thread of its own, catching up after the database has been away.
//! - `logs ingest FILE…` loads log files (native or `undersign` format, gzip too), once.
//! - `logs load JOURNAL_DIR` loads a journal written by a daemon that has no database.
//! - `logs devices FILE.csv` brings the device register up to date.
//!
//! Exit codes: 0 done, 1 a file was refused (the device CSV), 2 an operational failure.

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use undersign_core::access::WebRulesOwner;
use undersign_core::logs::parse_device_csv;
use undersign_core::store::{DeviceRecord, Holder, Store};
use undersign_logs::classify::Classifier;
use undersign_logs::journal::{Journal, Writer};
use undersign_logs::load::{Loader, Report};
use undersign_logs::source::{LineReader, file_source, open_file};

use crate::commands::DatabaseArg;
use crate::import::choose_school;
use crate::store::{open_store, open_store_as_is};

/// How often the daemon's loader looks at the journal, and waits after a failure.
const LOAD_EVERY: Duration = Duration::from_secs(1);
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How often the daemon's loader reads the device register again.
const REGISTER_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Squid's logfile daemon: journal Squid's log lines, and load them into the store
    /// (started by Squid through deploy/squid/undersign-log-daemon).
    Daemon(DaemonArgs),
    /// Load Squid access log files (native or undersign format, gzip too). A file
    /// loaded before adds nothing; a malformed line is reported and skipped.
    Ingest(IngestArgs),
    /// Load what a daemon's journal holds, for a daemon started without a database.
    Load(LoadArgs),
    /// Bring the device register up to date from a CSV (device, address, holder).
    Devices(DevicesArgs),
    /// Record who had which address from ISC dhcpd's lease file (dhcpd.leases).
    Leases(DevicesArgs),
}

/// Which school, and how to classify.
#[derive(Debug, Args, Clone)]
pub struct Classification {
    /// The school's short name; may be left out when there is only one school.
    #[arg(long, env = "UNDERSIGN_SCHOOL")]
    pub school: Option<String>,
    /// The web rules (filter.toml), to classify lines in Squid's native format and to
    /// find safeguarding categories.
    #[arg(long, env = "UNDERSIGN_RULES")]
    pub rules: Option<PathBuf>,
    /// A category the school counts as safeguarding (besides the rules' illegal-content
    /// categories); repeat for several.
    #[arg(long = "safeguarding", value_name = "CATEGORY")]
    pub safeguarding: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// `sqlite://PATH` or `postgres://…`; without it the daemon only journals.
    #[arg(long, env = "UNDERSIGN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub classification: Classification,
    /// The journal directory: the path after `daemon:` in Squid's `access_log` line.
    pub journal: PathBuf,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    #[command(flatten)]
    pub classification: Classification,
    /// Log files, plain or gzip-compressed.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    #[command(flatten)]
    pub classification: Classification,
    pub journal: PathBuf,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The school's short name; may be left out when there is only one school.
    #[arg(long)]
    pub school: Option<String>,
    /// For `devices`: a CSV with a header row: `device` (required), `address`, `holder`
    /// (an email). For `leases`: ISC dhcpd's lease file.
    pub file: PathBuf,
}

/// Runs a logs command.
pub async fn run(cmd: LogsCommand) -> ExitCode {
    let result = match cmd {
        LogsCommand::Daemon(args) => daemon(args).await,
        LogsCommand::Ingest(args) => ingest(args).await,
        LogsCommand::Load(args) => load(args).await,
        LogsCommand::Devices(args) => return devices(args).await,
        LogsCommand::Leases(args) => return leases(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn owner(store: &dyn Store, school: Option<&str>) -> anyhow::Result<WebRulesOwner> {
    let school = choose_school(store, school).await?;
    Ok(WebRulesOwner::for_operator(school.id))
}

/// The classifier for a school: its rules file, and as safeguarding the categories named
/// on the command line and those the school has set.
async fn classifier(
    store: &dyn Store,
    owner: &WebRulesOwner,
    c: &Classification,
) -> anyhow::Result<Classifier> {
    let settings = store.log_settings(owner.school()).await?;
    let mut safeguarding = settings.safeguarding_categories;
    safeguarding.extend(c.safeguarding.iter().cloned());
    let rules = match &c.rules {
        Some(path) => Some(
            undersign_filter::rules::RuleSet::load(path)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?,
        ),
        None => None,
    };
    Ok(Classifier::new(rules, &safeguarding).with_search_terms(settings.search_terms))
}

fn print_report(what: &str, r: &Report) {
    eprintln!(
        "{what}: {} lines read, {} stored now, {} stored before, {} malformed",
        r.lines, r.stored, r.already, r.malformed
    );
    for m in &r.examples {
        eprintln!("  {m}");
    }
    if r.malformed > r.examples.len() as u64 {
        eprintln!(
            "  … and {} more malformed lines",
            r.malformed - r.examples.len() as u64
        );
    }
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let store = open_store(&args.db.database_url).await?;
    let owner = owner(store.as_ref(), args.classification.school.as_deref()).await?;
    let classifier = classifier(store.as_ref(), &owner, &args.classification).await?;
    let mut loader = Loader::new(store.as_ref(), owner, classifier).await?;
    let total: u64 = args
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .map_err(|e| anyhow!("progress bar: {e}"))?
        .progress_chars("=> "),
    );
    let mut done_before = 0;
    let mut malformed = 0;
    for path in &args.files {
        let name = path.display().to_string();
        bar.set_message(name.clone());
        let Some(source) = file_source(path).with_context(|| format!("cannot read {name}"))? else {
            bar.println(format!("{name}: empty, nothing to load"));
            continue;
        };
        let count = Arc::new(AtomicU64::new(0));
        let reader =
            open_file(path, Arc::clone(&count)).with_context(|| format!("cannot read {name}"))?;
        let lines = LineReader::new(reader, true);
        let report = loader
            .load(&source, &name, lines, |_| {
                bar.set_position(done_before + count.load(Ordering::Relaxed));
            })
            .await?;
        done_before += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        bar.set_position(done_before);
        malformed += report.malformed;
        bar.suspend(|| print_report(&name, &report));
    }
    bar.finish_and_clear();
    if malformed > 0 {
        eprintln!("{malformed} malformed lines were skipped (listed above)");
    }
    Ok(())
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let store = open_store(&args.db.database_url).await?;
    let owner = owner(store.as_ref(), args.classification.school.as_deref()).await?;
    let journal = Journal::open(&args.journal)
        .with_context(|| format!("cannot open the journal {}", args.journal.display()))?;
    let classifier = classifier(store.as_ref(), &owner, &args.classification).await?;
    let mut loader = Loader::new(store.as_ref(), owner, classifier).await?;
    let report = loader.load_journal(&journal).await?;
    print_report(&args.journal.display().to_string(), &report);
    Ok(())
}

/// Squid's side runs on this thread and never waits for the database: stdin to the
/// journal. The loader runs on the async runtime, and survives the database going away.
async fn daemon(args: DaemonArgs) -> anyhow::Result<()> {
    let journal = Journal::open(&args.journal)
        .with_context(|| format!("cannot open the journal {}", args.journal.display()))?;
    let mut writer = Writer::open(journal.clone())?;
    writer.sync_in_background(undersign_logs::daemon::SYNC_EVERY)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(tokio::sync::Notify::new());
    let loader = match args.database_url {
        Some(url) => {
            let (wake, finished) = (Arc::clone(&wake), Arc::clone(&finished));
            let c = args.classification.clone();
            Some(tokio::spawn(async move {
                keep_loading(&url, &c, &journal, &wake, &finished).await
            }))
        }
        None => None,
    };
    let rotated = Arc::clone(&wake);
    let stats = tokio::task::spawn_blocking(move || {
        undersign_logs::daemon::run(std::io::stdin().lock(), &mut writer, || {
            rotated.notify_one()
        })
    })
    .await
    .map_err(|e| anyhow!("the journal writer stopped: {e}"))?
    .context("journalling Squid's log lines")?;
    eprintln!(
        "undersign logs daemon: Squid closed the log after {} lines and {} rotations",
        stats.lines, stats.rotations
    );
    if let Some(loader) = loader {
        // One last round, so that what Squid sent last is stored before exiting (if the
        // database is there; otherwise it stays in the journal for next time).
        finished.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(10), loader).await;
    }
    Ok(())
}

/// Loads the journal every [`LOAD_EVERY`] (and at once after a rotation) until told
/// `finished`. A failure (the database away, the rules unreadable) is said once on stderr,
/// which is Squid's cache.log, and the loader starts again after [`RETRY_AFTER`]; the
/// journal keeps everything meanwhile.
async fn keep_loading(
    url: &str,
    c: &Classification,
    journal: &Journal,
    wake: &tokio::sync::Notify,
    finished: &tokio::sync::Notify,
) {
    let mut last_error = String::new();
    loop {
        match load_rounds(url, c, journal, wake, finished).await {
            Ok(()) => return,
            Err(e) => {
                let message = format!("{e:#}");
                if message != last_error {
                    eprintln!(
                        "undersign logs daemon: cannot load the journal into the store (still journalling): {message}"
                    );
                    last_error = message;
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_AFTER) => {}
                    _ = finished.notified() => return,
                }
            }
        }
    }
}

/// Rounds of loading until `finished` (then `Ok`) or a failure.
async fn load_rounds(
    url: &str,
    c: &Classification,
    journal: &Journal,
    wake: &tokio::sync::Notify,
    finished: &tokio::sync::Notify,
) -> anyhow::Result<()> {
    let store = open_store_as_is(url).await?;
    let owner = owner(store.as_ref(), c.school.as_deref()).await?;
    let classifier = classifier(store.as_ref(), &owner, c).await?;
    let mut loader = Loader::new(store.as_ref(), owner, classifier).await?;
    let mut register_read = tokio::time::Instant::now();
    loop {
        if register_read.elapsed() >= REGISTER_EVERY {
            loader.refresh().await?;
            register_read = tokio::time::Instant::now();
        }
        let report = loader.load_journal(journal).await?;
        for m in &report.examples {
            eprintln!("undersign logs daemon: malformed line skipped: {m}");
        }
        tokio::select! {
            _ = tokio::time::sleep(LOAD_EVERY) => {}
            _ = wake.notified() => {}
            _ = finished.notified() => {
                loader.load_journal(journal).await?;
                return Ok(());
            }
        }
    }
}

async fn leases(args: DevicesArgs) -> ExitCode {
    let result = async {
        let text = std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        let leases = match undersign_core::logs::parse_isc_leases(&text) {
            Ok(l) => l,
            Err(errors) => {
                eprintln!(
                    "{} cannot be read; nothing was recorded. These leases are malformed:",
                    args.file.display()
                );
                for e in errors {
                    eprintln!("  {e}");
                }
                return Ok(false);
            }
        };
        let store = open_store(&args.db.database_url).await?;
        let owner = owner(store.as_ref(), args.school.as_deref()).await?;
        let added = store.record_leases(&owner, &leases).await?;
        eprintln!(
            "{}: {} leases read, {added} new",
            args.file.display(),
            leases.len()
        );
        anyhow::Ok(true)
    }
    .await;
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn devices(args: DevicesArgs) -> ExitCode {
    match apply_devices(&args.db.database_url, args.school.as_deref(), &args.file).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn apply_devices(url: &str, school: Option<&str>, file: &Path) -> anyhow::Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let refuse = |errors: Vec<String>| {
        eprintln!(
            "{} cannot be imported; nothing was changed. Correct these and try again:",
            file.display()
        );
        for e in errors {
            eprintln!("  {e}");
        }
    };
    let rows = match parse_device_csv(&text) {
        Ok(rows) => rows,
        Err(errors) => {
            refuse(errors.iter().map(ToString::to_string).collect());
            return Ok(false);
        }
    };
    let store = open_store(url).await?;
    let owner = owner(store.as_ref(), school).await?;
    let people: std::collections::HashMap<String, undersign_core::PersonId> = store
        .people(owner.school())
        .await?
        .into_iter()
        .map(|p| (p.email.as_str().to_lowercase(), p.id))
        .collect();
    let mut records = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for row in rows {
        let holder = match &row.holder {
            None => Holder::Nobody,
            Some(email) => match people.get(email) {
                Some(id) => Holder::Person(*id),
                None => {
                    errors.push(format!(
                        "line {}, holder: nobody in the school has the email {email}",
                        row.line
                    ));
                    continue;
                }
            },
        };
        records.push(DeviceRecord {
            name: row.device,
            address: row.address,
            holder: Some(holder),
        });
    }
    if !errors.is_empty() {
        refuse(errors);
        return Ok(false);
    }
    let ids = store
        .record_devices(&owner, &records, undersign_core::time::now())
        .await?;
    eprintln!("{}: {} devices recorded", file.display(), ids.len());
    Ok(true)
}
