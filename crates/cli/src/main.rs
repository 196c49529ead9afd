//! The `undersign` binary: parse the command line, log to stderr, run.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use undersign_cli::commands::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr only: the Squid helper's stdout is its protocol channel.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    undersign_cli::commands::main(cli)
}
