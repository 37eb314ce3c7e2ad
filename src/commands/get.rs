//! `get PATH`: one value to stdout; a namespace as JSON.

use secrecy::ExposeSecret;

use crate::document::{tree_to_json, Node};
use crate::error::Result;
use crate::output;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Prints the value at `path` exactly as stored (no added newline).
pub fn run(ws: &Workspace, path: &str) -> Result<ExitStatus> {
    let path = super::parse_path(path)?;
    let doc = ws.read_document_under(&[path.to_string()])?;
    match doc.get(&path) {
        Some(Node::Leaf(value)) => output::stdout_bytes(value.expose_secret().as_bytes())?,
        Some(Node::Tree(tree)) => output::stdout_bytes(tree_to_json(tree).as_slice())?,
        None => return Err(super::missing_path(ws, &doc, &path)),
    }
    Ok(ExitStatus::Success)
}
