//! `audit show|verify`: the host's access record.

use crate::cli::AuditCommand;
use crate::error::Result;
use crate::workspace::GlobalOptions;
use crate::ExitStatus;

/// Runs one `audit` subcommand.
pub fn run(_options: GlobalOptions, _cmd: AuditCommand) -> Result<ExitStatus> {
    Err(crate::Error::msg("not yet"))
}
