//! A stand-alone front end to `undersign_filter::cli`, for trying the filter without the
//! `undersign` binary: `cargo run -p undersign-filter --example filter_cli -- check --rules …`.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
enum Command {
    /// Squid's external ACL helper.
    SquidHelper(undersign_filter::cli::SquidHelperArgs),
    #[command(flatten)]
    Filter(undersign_filter::cli::FilterCommand),
}

fn main() -> anyhow::Result<ExitCode> {
    match Command::parse() {
        Command::SquidHelper(args) => {
            undersign_filter::cli::run_squid_helper(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Filter(cmd) => undersign_filter::cli::run_filter(cmd),
    }
}
