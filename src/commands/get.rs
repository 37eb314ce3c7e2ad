//! `get PATH`: one value to stdout; a namespace as JSON.

use secrecy::ExposeSecret;

use crate::document::{tree_to_json, Node};
use crate::error::Result;
use crate::output;
use crate::secret_path::SecretPath;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Prints the value at `path` exactly as stored (no added newline).
pub fn run(ws: &Workspace, path: &SecretPath) -> Result<ExitStatus> {
    let (doc, verified) = ws.read_document_verified_under(Some(&[path.to_string()]))?;
    if doc.get(path).is_some() {
        let paths = match doc.get(path) {
            Some(Node::Tree(tree)) => crate::document::leaf_paths(tree)
                .into_iter()
                .map(|p| format!("{path}/{p}"))
                .collect(),
            _ => vec![path.to_string()],
        };
        crate::audit::record(
            &crate::audit::Access {
                command: "get",
                vault: &ws.vault_path,
                vault_id: &verified.manifest.vault_id,
                generation: verified.manifest.generation,
                profile: None,
                paths,
            },
            &crate::audit::Settings::from(ws.config.as_ref().map(|c| &c.file.audit))?,
        )?;
    }
    match doc.get(path) {
        Some(Node::Leaf(value)) => output::stdout_bytes(value.expose_secret().as_bytes())?,
        Some(Node::Tree(tree)) => output::stdout_bytes(tree_to_json(tree).as_slice())?,
        None => return Err(super::missing_path(ws, &doc, path)),
    }
    Ok(ExitStatus::Success)
}
