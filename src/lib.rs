//! agevault: secrets in one git-committed, age-encrypted JSON file, handed to programs at run time.

mod audit;
mod child;
mod cli;
mod clock;
mod commands;
mod config;
mod conflict_markers;
mod crypto;
mod diagnostics;
mod document;
mod error;
mod exec;
mod fingerprint;
mod git;
mod harden;
mod keys;
mod lifecycle;
mod manual;
mod memdir;
mod migrate;
mod openbao;
mod output;
mod ownership;
mod pgp;
mod progress;
mod scan;
mod secret_buf;
mod secret_path;
mod store;
mod suggest;
mod terminal;
mod trust;
mod vault_format;
mod workspace;

use std::process::ExitCode;

/// The parsers of untrusted bytes, for the fuzz targets in `fuzz/` (which turn the
/// `fuzzing` feature on). Nothing else outside the crate uses the library (`src/main.rs`
/// calls [`main_entry`]), so every module is private and, in every other build, the
/// compiler reports any item nothing calls.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::config::ConfigFile;
    pub use crate::document::VaultDocument;
    pub use crate::git::merge::merge_documents;
    pub use crate::secret_path::SecretPath;
    pub use crate::trust::sigfile::SigFile;
}

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
        Err(e) => return report_usage_error(&e),
    };
    diagnostics::set_color(cli.color.into());
    match commands::run(cli) {
        Ok(status) => status.into(),
        Err(e) if matches!(e.kind(), Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            diagnostics::error(&e.message(), e.hint());
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's verdict on the command line: help and version as clap prints them, a missing
/// subcommand as the group's help (exit 2), anything else in agevault's error format.
fn report_usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = ExitCode::from(if e.use_stderr() { 2 } else { 0 });
    if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return code;
    }
    // The parse failed, so --color is looked for by hand.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let choice = args
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--color") {
            Some(rest) => rest.strip_prefix('=').or_else(|| {
                rest.is_empty()
                    .then(|| args.get(i + 1).map(String::as_str))
                    .flatten()
            }),
            None => None,
        });
    diagnostics::set_color(match choice {
        Some("always") => diagnostics::ColorChoice::Always,
        Some("never") => diagnostics::ColorChoice::Never,
        _ => diagnostics::ColorChoice::Auto,
    });
    // Our own value parsers (secret paths, generators) phrase their errors like every
    // other agevault error: our words, our hint, our exit code.
    if let Some(ours) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<Error>()) {
        diagnostics::error(&ours.message(), ours.hint());
        return ExitCode::from(ours.exit_code());
    }
    let (message, hint) = diagnostics::clap_error_parts(&e.render().to_string());
    diagnostics::error(&message, hint.as_deref());
    code
}
