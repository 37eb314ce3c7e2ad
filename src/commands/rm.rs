//! `rm PATH`: remove a secret or a namespace.

use crate::error::{Error, Result};
use crate::output::status;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Removes `path` and its meta.
pub fn run(ws: &Workspace, path: &str) -> Result<ExitStatus> {
    let path = super::parse_path(path)?;
    let mut session = ws.open_for_write()?;
    if !session.doc.remove(&path) {
        return Err(Error::msg(format!(
            "no secret or namespace `{path}` in the vault"
        )));
    }
    ws.commit(session)?;
    status(ws.options.quiet, &format!("removed `{path}`"));
    Ok(ExitStatus::Success)
}
