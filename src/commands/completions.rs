//! `completions SHELL` and `man`: generated from the clap definition.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::ExitStatus;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitStatus> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "agevault", &mut buf);
    crate::output::stdout_bytes(&buf)?;
    Ok(ExitStatus::Success)
}

/// Prints the man page as roff.
pub fn man() -> Result<ExitStatus> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Error::msg(format!("cannot render the man page: {e}")))?;
    crate::output::stdout_bytes(&buf)?;
    Ok(ExitStatus::Success)
}
