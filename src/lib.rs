//! agevault: secrets in one git-committed, age-encrypted JSON file, handed to programs at run time.

pub mod audit;
pub mod child;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod conflict_markers;
pub mod crypto;
pub mod document;
pub mod error;
pub mod exec;
pub mod fingerprint;
pub mod git;
pub mod harden;
pub mod keys;
pub mod lifecycle;
pub mod manual;
pub mod memdir;
pub mod migrate;
pub mod openbao;
pub mod output;
pub mod ownership;
pub mod scan;
pub mod secret_buf;
pub mod secret_path;
pub mod store;
pub mod suggest;
pub mod terminal;
pub mod trust;
pub mod workspace;

use std::process::ExitCode;

pub use error::{Error, Result};

/// What a command asks the process to exit with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0.
    Success,
    /// 1: the command ran and found problems (e.g. `check`).
    Failure,
    /// A child's exit code, passed through.
    External(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::External(code) => ExitCode::from(code),
        }
    }
}

/// The binary's whole life: harden, parse, run, report.
pub fn main_entry() -> ExitCode {
    harden::disable_core_dumps();
    if let Some(code) = exec::guard::main_if_guard() {
        return code;
    }
    let parsed = manual::command()
        .try_get_matches()
        .and_then(|m| <cli::Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match commands::run(cli) {
        Ok(status) => status.into(),
        Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agevault: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
