//! The `etlake` binary: parse arguments, set up logging, dispatch to one function per command, and
//! turn the outcome into an exit code (0 success, 1 failure or problems found, 2 usage error).
mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match &args.command {
        cli::Command::Db(cmd) => commands::db(&args.conn, cmd),
        cli::Command::Metadata(cmd) => commands::metadata(&args.conn, cmd),
        cli::Command::Product(cmd) => commands::product(&args.conn, cmd),
        cli::Command::Dataset(cmd) => commands::dataset(&args.conn, cmd),
        cli::Command::Index(a) => commands::index(&args.conn, a),
        cli::Command::Search(a) => commands::search(&args.conn, a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("etlake: error: {e}");
            ExitCode::from(1)
        }
    }
}
