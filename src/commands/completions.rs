//! `completions SHELL`, `man [COMMAND…]` and the hidden `__complete KIND`: generated from
//! the clap definition, plus the live lists that make bash completion useful.

use crate::cli::{CompleteKind, ManArgs};
use crate::error::{Error, Result};
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

/// The bash function that asks `agevault __complete` for live values and otherwise
/// falls back to clap's generated `_agevault`.
const BASH_DYNAMIC: &str = include_str!("complete.bash");

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitStatus> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::manual::command(), "agevault", &mut buf);
    if shell == clap_complete::Shell::Bash {
        buf.extend_from_slice(BASH_DYNAMIC.as_bytes());
    }
    crate::output::stdout_bytes(&buf)?;
    Ok(ExitStatus::Success)
}

/// Prints one man page as roff, or writes every page into `--out-dir`.
pub fn man(args: &ManArgs) -> Result<ExitStatus> {
    let Some(dir) = &args.out_dir else {
        let (_, page) = crate::manual::page(&args.command).map_err(Error::Usage)?;
        crate::output::stdout_bytes(&page)?;
        return Ok(ExitStatus::Success);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    for words in crate::manual::all_pages() {
        let (name, page) = crate::manual::page(&words).map_err(Error::msg)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).map_err(|e| Error::io("writing", &path, e))?;
    }
    Ok(ExitStatus::Success)
}

/// Lists completion candidates, one a line. Never prompts (a passphrase prompt in the
/// middle of a Tab would be absurd) and never fails loudly: no config or no key just
/// means no candidates.
pub fn complete(options: GlobalOptions, kind: CompleteKind) -> Result<ExitStatus> {
    crate::keys::disable_prompts();
    let mut options = options;
    options.quiet = true;
    let Ok(ws) = Workspace::resolve(options) else {
        return Ok(ExitStatus::Success);
    };
    let names: Vec<String> = match (kind, ws.config.as_ref()) {
        (CompleteKind::Paths, _) => ws
            .read_document()
            .map(|doc| doc.leaves().map(|(p, _)| p).collect())
            .unwrap_or_default(),
        (CompleteKind::Profiles, Some(c)) => c.file.exec.keys().cloned().collect(),
        (CompleteKind::Recipients, Some(c)) => c.file.recipients.keys().cloned().collect(),
        (CompleteKind::Scopes, Some(c)) => c.file.scopes.keys().cloned().collect(),
        (_, None) => Vec::new(),
    };
    let mut text = String::new();
    // Names come from files anyone with write access can craft: only the characters
    // names may have, so nothing can inject into the shell's completion list.
    for name in names.iter().filter(|n| {
        n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
    }) {
        text.push_str(name);
        text.push('\n');
    }
    crate::output::stdout_bytes(text.as_bytes())?;
    Ok(ExitStatus::Success)
}
