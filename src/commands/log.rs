//! `log [PATH]`: per commit, who added, changed or removed which secret paths — never values.

use crate::cli::LogArgs;
use crate::error::Result;
use crate::git::{history, repo};
use crate::output::{self, status};
use crate::progress::Progress;
use crate::terminal::sanitize;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Names every recipient key the config (current recipients) or an `offboarded` record
/// (removed ones) names, so `log` reads "bob", not a 62-character key.
fn name_recipients(ws: &Workspace, found: &mut history::History) {
    let config = ws.config.as_ref();
    for change in &mut found.changes {
        for r in change
            .recipients_added
            .iter_mut()
            .chain(change.recipients_removed.iter_mut())
        {
            r.name = config
                .and_then(|c| c.recipient_name(&r.key))
                .map(str::to_owned)
                .or_else(|| found.former_names.get(&r.key).cloned());
        }
    }
}

/// `bob (age1qy…x3f9)`, or the whole key when nothing names it.
fn shown(r: &history::RecipientChange) -> String {
    match &r.name {
        Some(name) => format!("{} ({})", sanitize(name), abbreviate_key(&r.key)),
        None => sanitize(&r.key),
    }
}

/// A key shortened to its type prefix and last characters: enough to tell keys apart.
fn abbreviate_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 24 {
        return sanitize(key);
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    sanitize(&format!("{head}…{tail}"))
}

/// Prints the vault's history, newest first.
pub fn run(ws: &Workspace, args: &LogArgs) -> Result<ExitStatus> {
    let (found, hidden) = read_history(ws, args)?;
    if args.json {
        output::json(&found.changes)?;
    } else {
        output::stdout_bytes(render(&found.changes).as_bytes())?;
    }
    if found.shallow {
        status(
            ws.options.quiet,
            "agevault log: this is a shallow clone; older history is not shown (`git fetch --unshallow`)",
        );
    }
    if !hidden.is_empty() {
        status(
            ws.options.quiet,
            &format!(
                "agevault log: not shown, your identities cannot read these scopes: {}",
                hidden.join(", ")
            ),
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

/// The history of every vault file combined, recipients named; also the scopes left out
/// because this user could never read them.
fn read_history(ws: &Workspace, args: &LogArgs) -> Result<(history::History, Vec<String>)> {
    let filter = args.path.as_ref();
    let start = ws
        .vault_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| std::path::PathBuf::from("."), std::path::Path::to_path_buf);
    let repo = repo::open(&start)?;
    let ids = ws.identities()?;
    // Every distinct version of every vault file is decrypted: a long history takes a while.
    let progress = Progress::spinner(ws.options.quiet, "reading the vault's history");
    let mut parts = Vec::new();
    let mut hidden = Vec::new();
    for file in ws.vault_files() {
        let rel = repo::relative_path(&repo, &file.path)?;
        let mut part =
            history::vault_history(&repo, &rel, &ids.identities, filter, args.max_count, &progress)?;
        if let Some(scope) = &file.scope {
            // A scope file this user has never been able to read: its commits would be
            // nothing but "cannot be decrypted" notes, so it is named once instead.
            if part.versions_decrypted == 0 && part.versions_unreadable > 0 {
                hidden.push(scope.clone());
                continue;
            }
            for change in &mut part.changes {
                if let Some(note) = change.note.take() {
                    change.note = Some(format!("scope {scope}: {note}"));
                }
            }
        }
        parts.push(part);
    }
    let mut found = history::combine(&repo, parts, args.max_count)?;
    progress.finish();
    name_recipients(ws, &mut found);
    Ok((found, hidden))
}

/// The changes as text: a line per commit, then one per path and recipient changed.
fn render(changes: &[history::VaultChange]) -> String {
    let mut text = String::new();
    for c in changes {
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
        for (label, list) in [
            ("recipient added  ", &c.recipients_added),
            ("recipient removed", &c.recipients_removed),
        ] {
            for r in list {
                text.push_str(&format!("    {label}  {}\n", shown(r)));
            }
        }
        if let Some(note) = &c.note {
            text.push_str(&format!("    ({})\n", sanitize(note)));
        }
    }
    text
}
