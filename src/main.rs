//! The `churnrisk` binary: parse arguments, run the command, map the error to an exit code.

#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use churnrisk::error::{Category, Error};

// The one file with unsafe code: the allocator and its settings (each block justified there).
#[allow(unsafe_code)]
mod alloc;
mod cli;
mod cmd;

#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator;

fn main() -> ExitCode {
    alloc::return_freed_buffers();
    // A panic inside a guarded file reader becomes that file's error message (exit 3):
    // the trace of it would only alarm.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !churnrisk::ingest::in_guarded_reader() {
            report(info)
        }
    }));
    let cli = cli::Cli::parse();
    cmd::logging::init(cli.quiet, cli.verbose, cli.log_format);
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = exit_code(&err);
            tracing::error!("{}", error_message(&err));
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line, "a: b: c", each said once: a message that already
/// quotes its cause (`cannot read: {source}`) is not followed by the cause again.
pub fn error_message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for e in err.chain() {
        let text = e.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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
        Some(Category::Output) => 7,
        Some(Category::Internal) | None => 1,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
