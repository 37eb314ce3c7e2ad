//! `ls [PREFIX]`: secret paths, never values.

use crate::cli::LsArgs;
use crate::document::{leaf_paths, Node};
use crate::error::{Error, Result};
use crate::output;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Lists paths at or below a prefix.
pub fn run(ws: &Workspace, args: &LsArgs) -> Result<ExitStatus> {
    let prefix = args.prefix.as_ref();
    let (doc, unreadable) = if ws.has_scopes() {
        let ids = ws.identities()?;
        let loaded = ws.load(&ids, crate::workspace::Want::All, false)?;
        let unreadable: Vec<String> = loaded.unreadable().map(|p| p.file.label()).collect();
        (loaded.doc, unreadable)
    } else {
        (ws.read_document()?, Vec::new())
    };
    if args.all {
        for label in &unreadable {
            eprintln!("agevault: not listed: {label}, which you cannot read");
        }
    }
    let paths = match &prefix {
        None => leaf_paths(doc.secrets()),
        Some(p) => match doc.get(p) {
            Some(Node::Leaf(_)) => vec![p.to_string()],
            Some(Node::Tree(t)) => leaf_paths(t).into_iter().map(|s| format!("{p}/{s}")).collect(),
            None => return Err(Error::msg(format!("no secret or namespace `{p}` in the vault"))),
        },
    };
    if args.json {
        output::json(&paths)?;
    } else {
        let mut text = String::new();
        for p in &paths {
            text.push_str(p);
            text.push('\n');
        }
        output::stdout_bytes(text.as_bytes())?;
    }
    Ok(ExitStatus::Success)
}
