//! The `etlake` binary: parse arguments, set up logging, dispatch to one function per command, and
//! turn the outcome into an exit code (0 success, 1 failure or problems found, 2 usage error).
mod cli;
mod commands;
mod index_command;
mod model_commands;
mod report;
mod sync_command;

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
    let result: Result<bool, Box<dyn std::error::Error>> = match &args.command {
        cli::Command::Db(cmd) => commands::db(&args.conn, cmd).map_err(Into::into),
        cli::Command::Metadata(cmd) => commands::metadata(&args.conn, cmd).map_err(Into::into),
        cli::Command::Product(cmd) => commands::product(&args.conn, cmd).map_err(Into::into),
        cli::Command::Dataset(cmd) => commands::dataset(&args.conn, cmd).map_err(Into::into),
        cli::Command::Index(a) => index_command::index(&args.conn, a).map_err(Into::into),
        cli::Command::Search(a) => commands::search(&args.conn, a).map_err(Into::into),
        cli::Command::Serve(a) => commands::serve(&args.conn, a).map_err(Into::into),
        cli::Command::Sync(a) => sync_command::sync(&args.conn, a),
        cli::Command::Stack(a) => model_commands::stack(&args.conn, a).map_err(Into::into),
        cli::Command::Veget(cli::VegetCommand::Run(a)) => model_commands::veget_run(&args.conn, a),
        cli::Command::Veget(cli::VegetCommand::Finish(a)) => {
            model_commands::veget_finish(&args.conn, a)
        }
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
