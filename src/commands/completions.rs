//! `completions SHELL`, `man [COMMAND…]` and the hidden `__complete KIND`: generated from
//! the clap definition, plus the live lists that make bash, zsh and fish completion useful.

use crate::cli::{CompleteKind, ManArgs};
use crate::error::{Error, Result};
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

/// The bash function that asks `agevault __complete` for live values and otherwise
/// falls back to clap's generated `_agevault`.
const BASH_DYNAMIC: &str = include_str!("complete.bash");

/// The same for zsh: `_agevault_dynamic`, registered instead of clap's `_agevault`.
const ZSH_DYNAMIC: &str = include_str!("complete.zsh");

/// The same for fish: one more `complete` rule, whose condition decides the kind.
const FISH_DYNAMIC: &str = include_str!("complete.fish");

/// The tail of clap's zsh script that registers `_agevault`; the dynamic part replaces
/// it with one that registers `_agevault_dynamic` (as a `compdef` and as the body run
/// when the file is autoloaded from `fpath` as `_agevault`).
const ZSH_REGISTRATION: &str = "if [ \"$funcstack[1]\" = \"_agevault\" ]; then";

/// Prints the completion script for `shell`. Bash, zsh and fish complete secret paths,
/// profiles, recipients and scopes live; elvish and powershell get clap's static script.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitStatus> {
    use clap_complete::Shell;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::manual::command(), "agevault", &mut buf);
    let script = match shell {
        Shell::Bash => append(buf, BASH_DYNAMIC, &value_options().join("|")),
        Shell::Fish => append(buf, FISH_DYNAMIC, &value_options().join(" ")),
        Shell::Zsh => {
            let text = String::from_utf8_lossy(&buf);
            let Some(at) = text.rfind(ZSH_REGISTRATION) else {
                return Err(Error::msg(
                    "internal: clap's zsh script has no registration block to replace",
                ));
            };
            append(
                text[..at].as_bytes().to_vec(),
                ZSH_DYNAMIC,
                &value_options().join("|"),
            )
        }
        _ => buf,
    };
    crate::output::stdout_bytes(&script)?;
    Ok(ExitStatus::Success)
}

/// `script` + `dynamic` with the value-taking options filled in.
fn append(mut script: Vec<u8>, dynamic: &str, options: &str) -> Vec<u8> {
    script.extend_from_slice(dynamic.replace("@VALUE_OPTIONS@", options).as_bytes());
    script
}

/// Every option (of any command) that takes the next word as its value, short and long:
/// the dynamic completions skip those words when they work out which argument the
/// cursor is on. Taken from the clap definition, so a new option cannot be forgotten.
/// Options whose value must be attached with `=` (`--wait=30s`) are not among them.
fn value_options() -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() || arg.is_require_equals_set() {
                continue;
            }
            if let Some(s) = arg.get_short() {
                out.insert(format!("-{s}"));
            }
            if let Some(l) = arg.get_long() {
                out.insert(format!("--{l}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&crate::manual::command(), &mut out);
    out.into_iter().collect()
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
