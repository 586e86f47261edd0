//! The `churnrisk` binary: parse arguments, run the command, map the error to an exit code.

use std::process::ExitCode;

use clap::Parser;

use churnrisk::error::{Category, Error};

mod cli;
mod cmd;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cmd::logging::init(cli.quiet, cli.verbose, cli.log_format);
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = exit_code(&err);
            tracing::error!("{err:#}");
            ExitCode::from(code)
        }
    }
}

/// See `cli::EXIT_CODES`.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match err
        .chain()
        .find_map(|e| e.downcast_ref::<Error>())
        .map(Error::category)
    {
        Some(Category::Data) => 3,
        Some(Category::Config) => 4,
        Some(Category::Refused) => 5,
        Some(Category::Busy) => 6,
        Some(Category::Internal) | None => 1,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
