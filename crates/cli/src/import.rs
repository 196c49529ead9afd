//! `undersign import people FILE [--dry-run] [--school SLUG]`: the roster from the MIS;
//! `undersign import pupils FILE [--dry-run] [--school SLUG]`: pupils for the image consent
//! register, in the same way.
//! Checks the whole file first (every error with its line and column), shows the joiners,
//! changes and leavers, and applies all of it or none of it with a progress bar.
//! Exit codes: 0 done (or a clean dry run), 1 the file was refused, 2 an operational failure.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use undersign_core::access::{ComplianceViewer, PeopleAdmin};
use undersign_core::compliance::SchoolFacts;
use undersign_core::pupils::{self, PupilPlan};
use undersign_core::roster::{self, RosterError, RosterPlan};
use undersign_core::school::School;
use undersign_core::store::{PupilApply, PupilOutcome, RosterOutcome, Store};

use crate::commands::DatabaseArg;
use crate::store::open_store;

/// What to import.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Staff and governors from the MIS (a CSV export, e.g. from SIMS); see
    /// docs/roster-import.md for the columns.
    People(ImportPeopleArgs),
    /// Pupils from the MIS for the image consent register (a CSV export, e.g. from
    /// SIMS); see docs/consent.md for the columns.
    Pupils(ImportPeopleArgs),
}

#[derive(Debug, Args)]
pub struct ImportPeopleArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// The CSV file.
    pub file: PathBuf,
    /// Show what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The school's short name; may be left out when there is only one school.
    #[arg(long)]
    pub school: Option<String>,
}

/// Runs an import command.
pub async fn run(cmd: ImportCommand) -> ExitCode {
    let done = match cmd {
        ImportCommand::People(args) => import_people(args).await,
        ImportCommand::Pupils(args) => import_pupils(args).await,
    };
    match done {
        Ok(Done::Applied | Done::DryRun) => ExitCode::SUCCESS,
        Ok(Done::Refused) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

enum Done {
    Applied,
    DryRun,
    Refused,
}

pub(crate) async fn choose_school(store: &dyn Store, slug: Option<&str>) -> anyhow::Result<School> {
    if let Some(slug) = slug {
        return store
            .school_by_slug(slug.trim())
            .await?
            .ok_or_else(|| anyhow!("there is no school with the short name {slug:?}"));
    }
    let mut schools = store.schools().await?;
    match schools.len() {
        1 => Ok(schools.remove(0)),
        0 => bail!("there is no school yet: run `undersign bootstrap` first"),
        _ => bail!(
            "there are several schools; choose one with --school ({})",
            schools
                .iter()
                .map(|s| s.slug.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn print_errors(file: &std::path::Path, errors: &[RosterError]) {
    eprintln!(
        "{} cannot be imported; nothing was changed. Correct these and try again:",
        file.display()
    );
    for e in errors {
        eprintln!("  line {}, {}: {}", e.line, e.field, e.message);
    }
}

async fn import_people(args: ImportPeopleArgs) -> anyhow::Result<Done> {
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    if let Err(e) = roster::check_size(size) {
        print_errors(&args.file, &[e]);
        return Ok(Done::Refused);
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let roster = match roster::parse(&bytes) {
        Ok(r) => r,
        Err(errors) => {
            print_errors(&args.file, &errors);
            return Ok(Done::Refused);
        }
    };
    let store = open_store(&args.db.database_url).await?;
    let school = choose_school(store.as_ref(), args.school.as_deref()).await?;
    let admin = PeopleAdmin::for_operator(school.id);
    let facts = store
        .compliance_facts(&ComplianceViewer::for_operator(school.id))
        .await?;
    let existing = store.roster_people(&admin).await?;
    let plan = match roster::plan(&roster, &existing, &admin) {
        Ok(p) => p,
        Err(errors) => {
            print_errors(&args.file, &errors);
            return Ok(Done::Refused);
        }
    };
    print!("{}", describe(&school, &plan, &facts, roster.rows.len()));
    if args.dry_run {
        println!("Dry run: nothing was changed. Run again without --dry-run to apply.");
        return Ok(Done::DryRun);
    }
    if plan.is_empty() {
        println!("Nothing to change.");
        return Ok(Done::Applied);
    }
    let bar = ProgressBar::new(plan.steps());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)")
            .map_err(|e| anyhow!("progress bar: {e}"))?
            .progress_chars("=> "),
    );
    bar.set_message("Applying");
    let progress_bar = bar.clone();
    let outcome = store
        .apply_roster(
            &admin,
            &roster,
            Some(&plan.digest()),
            &move |done, total| {
                progress_bar.set_length(total);
                progress_bar.set_position(done);
            },
        )
        .await;
    bar.finish_and_clear();
    match outcome? {
        RosterOutcome::Applied(applied) => {
            println!(
                "Applied: {} joined, {} changed, {} left. Every change is in the evidence ledger.",
                applied.joiners.len(),
                applied.updates.len(),
                applied.leavers.len()
            );
            Ok(Done::Applied)
        }
        RosterOutcome::Invalid(errors) => {
            print_errors(&args.file, &errors);
            Ok(Done::Refused)
        }
        RosterOutcome::Stale(_) => {
            eprintln!(
                "The people changed while the file was being checked; nothing was changed. Run the import again."
            );
            Ok(Done::Refused)
        }
    }
}

async fn import_pupils(args: ImportPeopleArgs) -> anyhow::Result<Done> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let file = match pupils::parse(&bytes) {
        Ok(f) => f,
        Err(errors) => {
            print_errors(&args.file, &errors);
            return Ok(Done::Refused);
        }
    };
    let store = open_store(&args.db.database_url).await?;
    let school = choose_school(store.as_ref(), args.school.as_deref()).await?;
    let admin = PeopleAdmin::for_operator(school.id);
    let seed: [u8; 32] = rand::random();
    let now = undersign_core::time::now();
    match store
        .apply_pupils(
            &admin,
            &file,
            seed,
            if args.dry_run {
                PupilApply::DryRun
            } else {
                PupilApply::Apply
            },
            now,
        )
        .await?
    {
        PupilOutcome::Applied(plan) => {
            print!("{}", describe_pupils(&school, &plan, file.rows.len()));
            if args.dry_run {
                println!("Dry run: nothing was changed. Run again without --dry-run to apply.");
                Ok(Done::DryRun)
            } else {
                println!(
                    "Applied: {} joined, {} changed, {} left the roll. Every change is in the evidence ledger.",
                    plan.joiners.len(),
                    plan.changes.len(),
                    plan.leavers.len()
                );
                Ok(Done::Applied)
            }
        }
        PupilOutcome::Invalid(errors) => {
            print_errors(&args.file, &errors);
            Ok(Done::Refused)
        }
        PupilOutcome::Stale(_) => {
            eprintln!("The register changed meanwhile; nothing was changed. Run the import again.");
            Ok(Done::Refused)
        }
    }
}

/// A pupil plan as text: counts, then each joiner and change by line (names only; the
/// leavers by count, as their names are in the register).
pub fn describe_pupils(school: &School, plan: &PupilPlan, rows: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}): {rows} pupils in the file — {} joining, {} changing, {} leaving the roll, {} unchanged.",
        school.name,
        school.slug,
        plan.joiners.len(),
        plan.changes.len(),
        plan.leavers.len(),
        plan.unchanged
    );
    for j in &plan.joiners {
        let _ = writeln!(
            out,
            "  + {} (year {}, line {})",
            j.full_name, j.year_group, j.line
        );
    }
    for (_, c) in &plan.changes {
        let _ = writeln!(
            out,
            "  ~ {} (year {}, line {})",
            c.full_name, c.year_group, c.line
        );
    }
    out.push('\n');
    out
}

/// The plan as text: counts, then each joiner (with what they will be asked to sign and
/// by when), change and leaver.
pub fn describe(school: &School, plan: &RosterPlan, facts: &SchoolFacts, rows: usize) -> String {
    let mut out = String::new();
    let now = undersign_core::time::now();
    let _ = writeln!(
        out,
        "{} ({}): {rows} people in the file — {} joining, {} changing, {} leaving, {} unchanged.",
        school.name,
        school.slug,
        plan.joiners.len(),
        plan.updates.len(),
        plan.leavers.len(),
        plan.unchanged
    );
    if !plan.joiners.is_empty() {
        let _ = writeln!(out, "\nJoining:");
        for j in &plan.joiners {
            let roles: Vec<&str> = j.roles.iter().map(|r| r.label()).collect();
            let asks: Vec<String> = facts
                .joiner_asks(&j.roles, j.start_date, now)
                .into_iter()
                .map(|a| format!("{} v{} by {}", a.title, a.number, a.due))
                .collect();
            let _ = writeln!(
                out,
                "  + {} <{}> — {} (line {}){}",
                j.full_name,
                j.email,
                roles.join(", "),
                j.line,
                if asks.is_empty() {
                    String::new()
                } else {
                    format!("; to sign: {}", asks.join("; "))
                }
            );
        }
    }
    if !plan.updates.is_empty() {
        let _ = writeln!(out, "\nChanging:");
        for u in &plan.updates {
            let what: Vec<String> = u
                .changes
                .iter()
                .map(|c| format!("{}: {:?} → {:?}", c.field, c.before, c.after))
                .collect();
            let _ = writeln!(
                out,
                "  ~ {} (line {}): {}",
                u.row.full_name,
                u.row.line,
                what.join("; ")
            );
        }
    }
    if !plan.leavers.is_empty() {
        let _ = writeln!(
            out,
            "\nLeaving (marked as left, cannot log in; their evidence is kept):"
        );
        for l in &plan.leavers {
            let _ = writeln!(out, "  - {} <{}>", l.full_name, l.email);
        }
    }
    out.push('\n');
    out
}
