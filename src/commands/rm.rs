//! `rm [-r] PATH`: remove a secret, or a namespace with `-r`.

use crate::cli::RmArgs;
use crate::document::{leaf_paths, Node};
use crate::error::{Error, Result};
use crate::output::status;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Removes `path` and its meta; a namespace only with `-r`, so a short path that happens
/// to be a namespace never takes its whole subtree by accident.
pub fn run(ws: &Workspace, args: &RmArgs) -> Result<ExitStatus> {
    let path = &args.path;
    // Opened for repair: `rm` is how a vault with a too-deep path is fixed.
    let (mut session, left_out) = ws.open_for_repair()?;
    if let Some(other) = left_out.iter().find(|p| !p.starts_with(path.segments())) {
        return Err(Error::msg(format!(
            "the vault also holds `{}`, which breaks the secret path limits and lies outside `{path}`",
            crate::secret_path::shorten(&other.join("/"))
        ))
        .with_hint("remove that first, or run `agevault edit` (which drops every such path on save)"));
    }
    let under_left_out = left_out.iter().any(|p| p.starts_with(path.segments()));
    match session.doc.get(path) {
        Some(Node::Tree(tree)) if !args.recursive => {
            let count = leaf_paths(tree).len();
            return Err(Error::msg(format!(
                "`{path}` is a namespace holding {count} secret(s); nothing was removed"
            ))
            .with_hint(format!(
                "remove them all with `agevault rm -r {path}`, or name one secret (`agevault ls {path}` lists them)"
            )));
        }
        None if under_left_out && !args.recursive => {
            return Err(
                Error::msg(format!("`{path}` is a namespace; nothing was removed"))
                    .with_hint(format!("remove it with `agevault rm -r {path}`")),
            );
        }
        None if !under_left_out => return Err(super::missing_path(ws, &session.doc, path)),
        _ => {}
    }
    if !session.doc.remove(path) && !under_left_out {
        return Err(super::missing_path(ws, &session.doc, path));
    }
    ws.commit(session)?;
    status(ws.options.quiet, &format!("removed `{path}`"));
    Ok(ExitStatus::Success)
}
