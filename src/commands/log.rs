//! `log [PATH]`: per commit, who added, changed or removed which secret paths — never values.

use crate::cli::LogArgs;
use crate::error::Result;
use crate::git::{history, repo};
use crate::output::{self, status};
use crate::terminal::sanitize;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Prints the vault's history, newest first.
pub fn run(ws: &Workspace, args: &LogArgs) -> Result<ExitStatus> {
    let filter = args.path.as_deref().map(super::parse_path).transpose()?;
    let start = ws
        .vault_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| std::path::PathBuf::from("."), std::path::Path::to_path_buf);
    let repo = repo::open(&start)?;
    let vault_rel = repo::relative_path(&repo, &ws.vault_path)?;
    let ids = ws.identities()?;
    let found = history::vault_history(&repo, &vault_rel, &ids.identities, filter.as_ref())?;

    if args.json {
        output::json(&found.changes)?;
    } else {
        let mut text = String::new();
        for c in &found.changes {
            text.push_str(&format!(
                "{}  {}  {} <{}>  {}\n",
                c.short,
                c.date,
                sanitize(&c.author),
                sanitize(&c.email),
                sanitize(&c.summary)
            ));
            for (label, paths) in [
                ("added", &c.added),
                ("changed", &c.changed),
                ("removed", &c.removed),
            ] {
                for p in paths {
                    text.push_str(&format!("    {label:<9}{p}\n"));
                }
            }
            for k in &c.recipients_added {
                text.push_str(&format!("    recipient added    {}\n", sanitize(k)));
            }
            for k in &c.recipients_removed {
                text.push_str(&format!("    recipient removed  {}\n", sanitize(k)));
            }
            if let Some(note) = &c.note {
                text.push_str(&format!("    ({})\n", sanitize(note)));
            }
        }
        output::stdout_bytes(text.as_bytes())?;
    }
    if found.shallow {
        status(
            ws.options.quiet,
            "agevault log: this is a shallow clone; older history is not shown (`git fetch --unshallow`)",
        );
    }
    if found.versions_unreadable > 0 {
        status(
            ws.options.quiet,
            &format!(
                "agevault log: {} vault version(s) could not be decrypted with your identities; their changes are not listed",
                found.versions_unreadable
            ),
        );
    }
    Ok(ExitStatus::Success)
}
