//! The command line: arguments (clap) and what each subcommand does. Exit codes: 0 done,
//! 1 `verify` found a broken chain or `verify-receipt` an invalid receipt, 2 an operational
//! failure (bad arguments, a database or file that cannot be used).

use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use undersign_core::access::PeopleAdmin;
use undersign_core::person::Role;

use crate::config::{FileConfig, ServeSettings};
use crate::provision::{PersonSpec, add_person, create_school};
use crate::serve::{Server, bind};
use crate::store::{open_store, open_store_as_is};

/// Undersign: publish a school's Acceptable Use Policy, collect signatures with evidence,
/// and keep a tamper-evident evidence ledger.
#[derive(Debug, Parser)]
#[command(name = "undersign", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct DatabaseArg {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "UNDERSIGN_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (and checkpoint chain heads in the background).
    Serve(ServeArgs),
    /// Bring the database schema up to date.
    Migrate(DatabaseArg),
    /// Create an organisation, a school with its signing key, and its headteacher.
    Bootstrap(BootstrapArgs),
    /// Sign every school's chain head now, in the database and in the witness file beside
    /// its key. Refuses (exit 1) a chain that does not verify or does not extend the last
    /// witnessed head.
    Checkpoint {
        #[command(flatten)]
        db: DatabaseArg,
        /// Directory of the school keys (`school-<id>.key`).
        #[arg(long, env = "UNDERSIGN_KEYS_DIR")]
        keys_dir: PathBuf,
    },
    /// Check every school's evidence: the chain, its checkpoints against the key and
    /// witness files, and every evidence row against its entry. Exit 0: all checked and
    /// intact; 1: something was changed, removed or added (named); 3: nothing wrong found
    /// but not everything could be checked (no key or witness file); 2: could not run.
    Verify {
        #[command(flatten)]
        db: DatabaseArg,
        /// Directory of the school keys and witness files; without it verify cannot
        /// confirm anything (exit 3 at best).
        #[arg(long, env = "UNDERSIGN_KEYS_DIR")]
        keys_dir: Option<PathBuf>,
    },
    /// Start a demo school on an embedded database and print its accounts.
    Demo(DemoArgs),
    /// Import the roster (staff and governors) from the school's MIS.
    Import {
        #[command(subcommand)]
        cmd: crate::import::ImportCommand,
    },
    /// Squid's access log: the logfile daemon, ingest of log files, the device register.
    Logs {
        #[command(subcommand)]
        cmd: crate::logs::LogsCommand,
    },
    /// Squid's external ACL helper (started by Squid, see deploy/squid/).
    #[command(name = "squid-helper")]
    SquidHelper(undersign_filter::cli::SquidHelperArgs),
    /// Inspect web rules without Squid (check, validate).
    Filter {
        #[command(subcommand)]
        cmd: undersign_filter::cli::FilterCommand,
    },
    /// Check a receipt PDF offline with the school's public key.
    #[command(name = "verify-receipt")]
    VerifyReceipt(crate::receipt::VerifyReceiptArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<String>,
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Directory of the school keys [default: /var/lib/undersign/keys].
    #[arg(long)]
    pub keys_dir: Option<PathBuf>,
    /// TOML config file; UNDERSIGN_* environment variables override it, flags override both.
    #[arg(long, env = "UNDERSIGN_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Where to write the school's key (`school-<id>.key`, mode 0600).
    #[arg(long, env = "UNDERSIGN_KEYS_DIR")]
    pub keys_dir: PathBuf,
    /// The trust, council, or the school itself for a single-school install.
    #[arg(long)]
    pub organisation: String,
    #[arg(long)]
    pub school: String,
    /// Short name for URLs: lower-case letters, digits and hyphens.
    #[arg(long)]
    pub slug: String,
    #[arg(long)]
    pub headteacher_name: String,
    #[arg(long)]
    pub headteacher_email: String,
    #[arg(long, default_value = "Europe/London")]
    pub timezone: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Defaults to `sqlite://DATA_DIR/undersign.sqlite3`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where the demo keeps its database and keys.
    #[arg(long, default_value = "./undersign-demo")]
    pub data_dir: PathBuf,
    /// Give every demo account this password (and reset it on a second run).
    #[arg(long, env = "UNDERSIGN_DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<String>,
    /// Add this many extra staff for load tests (needs --demo-password).
    #[arg(long, default_value_t = 0)]
    pub extra_staff: usize,
    /// Send the demo's mail (sign-in links, reminders) to this SMTP server, plain SMTP
    /// without a login, e.g. a test server on `127.0.0.1:2525`. Without it mail stays
    /// queued in the outbox.
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
}

/// Runs a parsed command line. The web-rules commands are synchronous and never start an
/// async runtime (the Squid helper's stdout carries only its replies); the rest run on
/// tokio.
pub fn main(cli: Cli) -> ExitCode {
    let failed = |e: anyhow::Error| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    };
    match cli.command {
        Command::SquidHelper(args) => match undersign_filter::cli::run_squid_helper(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => failed(e),
        },
        Command::Filter { cmd } => undersign_filter::cli::run_filter(cmd).unwrap_or_else(failed),
        Command::VerifyReceipt(args) => crate::receipt::run(&args),
        command => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(run(command)),
            Err(e) => failed(anyhow!("cannot start the async runtime: {e}")),
        },
    }
}

/// Runs one of the database commands.
pub async fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => migrate(&db.database_url).await,
        Command::Bootstrap(args) => bootstrap(args).await,
        Command::Checkpoint { db, keys_dir } => {
            return checkpoint(&db.database_url, &keys_dir).await;
        }
        Command::Verify { db, keys_dir } => return verify(&db.database_url, keys_dir).await,
        Command::Demo(args) => demo(args).await,
        Command::Import { cmd } => return crate::import::run(cmd).await,
        Command::Logs { cmd } => return crate::logs::run(cmd).await,
        Command::SquidHelper(_) | Command::Filter { .. } | Command::VerifyReceipt(_) => Err(
            anyhow!("this command does not run inside the async runtime"),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let env = FileConfig::from_env(|k| std::env::var(k).ok())?;
    let flags = FileConfig {
        listen: args.listen,
        database_url: args.database_url,
        keys_dir: args.keys_dir,
        ..FileConfig::default()
    };
    let settings = ServeSettings::resolve(file.overlay(env).overlay(flags))?;
    let store = open_store(&settings.database_url).await?;
    let listener = bind(settings.listen).await?;
    Server {
        keys_dir: settings.keys_dir,
        secure_cookies: settings.secure_cookies,
        trusted_proxies: settings.trusted_proxies,
        checkpoint_every: Duration::from_secs(settings.checkpoint_minutes * 60),
        public_url: settings.public_url,
        smtp: settings.smtp,
    }
    .run(store, listener)
    .await
}

async fn migrate(url: &str) -> anyhow::Result<()> {
    let store = open_store(url).await?;
    println!(
        "{} database {} is up to date",
        store.backend(),
        crate::store::redact(url)
    );
    Ok(())
}

async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    let store = open_store(&args.db.database_url).await?;
    if store.school_by_slug(args.slug.trim()).await?.is_some() {
        return Err(anyhow!(
            "a school with the short name {:?} already exists",
            args.slug
        ));
    }
    // Check the headteacher before creating anything, so a typo leaves no half-made school.
    let spec = PersonSpec {
        full_name: args.headteacher_name.clone(),
        email: args.headteacher_email.clone(),
        roles: vec![Role::Headteacher, Role::Staff],
        line_manager: None,
    };
    undersign_core::person::FullName::parse(&spec.full_name).map_err(|e| anyhow!("{e}"))?;
    undersign_core::person::Email::parse(&spec.email).map_err(|e| anyhow!("{e}"))?;
    let password = crate::password::generate();
    let hash = crate::password::hash(&password)?;

    let org = store
        .create_organisation(args.organisation.trim())
        .await
        .context("cannot create the organisation")?;
    let created = create_school(
        store.as_ref(),
        org.id,
        &args.school,
        &args.slug,
        &args.timezone,
        &args.keys_dir,
    )
    .await?;
    let school = created.school;
    let head = add_person(
        store.as_ref(),
        &PeopleAdmin::for_operator(school.id),
        &spec,
        hash,
    )
    .await?;
    println!("Created {} ({}) in {}.", school.name, school.slug, org.name);
    println!(
        "School signing key: {} — back it up; it is not in the database.",
        created.key_path.display()
    );
    println!(
        "Public key (to check receipts offline): {}",
        school.public_key
    );
    println!("Headteacher: {} <{}>", head.full_name, head.email);
    println!("Password (shown once, ask them to change it): {password}");
    Ok(())
}

async fn checkpoint(url: &str, keys_dir: &std::path::Path) -> ExitCode {
    use crate::checkpoint::Outcome;
    let results = async {
        let store = open_store(url).await?;
        crate::checkpoint::checkpoint_all(store.as_ref(), keys_dir).await
    };
    let results = match results.await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let (mut refused, mut failed) = (0, 0);
    for (school, result) in &results {
        match result {
            Ok(Outcome::Signed { seq }) => println!("checkpointed {} at entry {seq}", school.slug),
            Ok(Outcome::Unchanged { seq }) => {
                println!("{}: already checkpointed at entry {seq}", school.slug);
            }
            Ok(Outcome::Empty) => println!("{}: no entries", school.slug),
            Ok(Outcome::Refused { reason }) => {
                refused += 1;
                println!(
                    "REFUSED {}: {reason}; nothing was signed and the headteacher has been alerted. Run `undersign verify`.",
                    school.slug
                );
            }
            Err(e) => {
                failed += 1;
                println!("FAILED {}: {e:#}", school.slug);
            }
        }
    }
    if refused > 0 {
        eprintln!(
            "error: {refused} of {} schools refused: their evidence does not extend what was checkpointed before",
            results.len()
        );
        return ExitCode::from(1);
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} schools not checkpointed",
            results.len()
        );
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

async fn verify(url: &str, keys_dir: Option<PathBuf>) -> ExitCode {
    let run = async {
        let store = open_store_as_is(url).await?;
        let mut stdout = std::io::stdout();
        crate::verify::verify_all(store.as_ref(), keys_dir.as_deref(), &mut stdout).await
    };
    match run.await {
        Ok(report) if report.any_broken() => ExitCode::from(1),
        Ok(report) if report.all_ok() => ExitCode::SUCCESS,
        // Nothing wrong found, but not everything could be checked.
        Ok(_) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let listen = args
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not an address", args.listen))?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let database_url = match args.database_url {
        Some(u) => u,
        None => format!(
            "sqlite://{}",
            args.data_dir.join("undersign.sqlite3").display()
        ),
    };
    let keys_dir = args.data_dir.join("keys");
    let smtp = args.smtp.as_deref().map(demo_smtp).transpose()?;
    let store = open_store(&database_url).await?;
    let setup = crate::demo::ensure(
        store.as_ref(),
        &keys_dir,
        args.demo_password.as_deref(),
        args.extra_staff,
    )
    .await?;
    let listener = bind(listen).await?;
    let url = format!("http://{}/", listener.local_addr()?);
    // Whoever reads the banner may close our stdout once they have it: that must not
    // stop the server, so write it in one go and ignore a closed pipe.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all(crate::demo::banner(&setup, &url).as_bytes())
            .and_then(|()| out.flush());
    }
    Server {
        keys_dir,
        secure_cookies: false,
        trusted_proxies: undersign_web::proxies::TrustedProxies::default(),
        checkpoint_every: Duration::from_secs(crate::config::DEFAULT_CHECKPOINT_MINUTES * 60),
        public_url: crate::config::parse_public_url(&url)?,
        smtp,
    }
    .run(store, listener)
    .await
}

/// `--smtp HOST:PORT`: plain SMTP, no login, from the demo school's address.
fn demo_smtp(raw: &str) -> anyhow::Result<undersign_mail::SmtpSettings> {
    let (host, port) = raw
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim(), p.trim().parse::<u16>().ok()?)))
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| anyhow!("--smtp {raw:?} is not HOST:PORT, e.g. 127.0.0.1:2525"))?;
    Ok(undersign_mail::SmtpSettings {
        host: host.to_string(),
        port,
        tls: undersign_mail::TlsMode::None,
        credentials: None,
        from: undersign_mail::SmtpSettings::sender("undersign@demo.example", "Undersign demo")?,
        timeout: undersign_mail::SmtpSettings::DEFAULT_TIMEOUT,
    })
}
