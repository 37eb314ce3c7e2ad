//! `rm PATH`: remove a secret or a namespace.

use crate::error::{Error, Result};
use crate::output::status;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Removes `path` and its meta.
pub fn run(ws: &Workspace, path: &str) -> Result<ExitStatus> {
    let path = super::parse_path(path)?;
    // Opened for repair: `rm` is how a vault with a too-deep path is fixed.
    let (mut session, left_out) = ws.open_for_repair()?;
    if let Some(other) = left_out.iter().find(|p| !p.starts_with(path.segments())) {
        return Err(Error::msg(format!(
            "the vault also holds `{}`, which breaks the secret path limits and lies outside `{path}`; \
             remove that first, or run `agevault edit` (which drops every such path on save)",
            crate::secret_path::shorten(&other.join("/"))
        )));
    }
    if !session.doc.remove(&path) {
        return Err(Error::msg(format!(
            "no secret or namespace `{path}` in the vault"
        )));
    }
    ws.commit(session)?;
    status(ws.options.quiet, &format!("removed `{path}`"));
    Ok(ExitStatus::Success)
}
