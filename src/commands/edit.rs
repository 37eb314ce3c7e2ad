//! `edit`: the secrets tree as pretty JSON in the user's editor, on a memory filesystem.

use std::path::Path;
use std::process::Command;

use crate::child::{run_supervised, ChildExit};
use crate::cli::EditArgs;
use secrecy::ExposeSecret;

use crate::document::{parse_tree, tree_to_json, DocumentError};
use crate::error::{Error, Result};
use crate::memdir::MemDir;
use crate::output::status;
use crate::secret_buf::SecretBuf;
use crate::terminal;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Opens the editor until the result is valid (or the user gives up), then writes.
pub fn run(ws: &Workspace, args: &EditArgs) -> Result<ExitStatus> {
    // Opened for repair: a vault with too-deep paths is fixed by saving it here.
    let (mut session, left_out) = ws.open_for_repair()?;
    // Fail before the user types anything that could not be saved.
    ws.check_recipient_drift(&session.doc)?;
    for path in &left_out {
        crate::diagnostics::warning(&format!(
            "`{}` breaks the secret path limits (at most {} segments, {} bytes); it is not shown \
             and saving removes it",
            crate::secret_path::shorten(&path.join("/")),
            crate::secret_path::MAX_SEGMENTS,
            crate::secret_path::MAX_PATH_BYTES
        ));
    }
    let dir = MemDir::create("edit", args.allow_disk)?;
    let file = dir.write_file("secrets.json", tree_to_json(session.doc.secrets()).as_slice())?;
    let editor = editor_command()?;
    let tree = loop {
        match run_editor(&editor, &file)? {
            ChildExit::Code(0) => {}
            other => {
                return Err(Error::msg(format!(
                    "the editor {}; nothing was changed",
                    match other {
                        ChildExit::Code(c) => format!("exited with code {c}"),
                        ChildExit::Signal(s) => format!("was killed by signal {s}"),
                    }
                )))
            }
        }
        let bytes = match std::fs::File::open(&file) {
            Ok(f) => SecretBuf::read_all(f, 4096).map_err(|e| Error::io("reading", &file, e))?,
            Err(_) => return Err(Error::msg("the edited file was deleted; nothing was changed")),
        };
        match parse_tree(bytes.as_slice()) {
            Ok(tree) => break tree,
            Err(e) => {
                let problem = match e {
                    DocumentError::Syntax(m) => format!("invalid JSON: {m}"),
                    other => format!("invalid secrets tree: {other}"),
                };
                if terminal::stdin_is_terminal() {
                    eprintln!("agevault: {problem}");
                    if terminal::confirm("Re-open the editor to fix it? (no discards your changes)") {
                        continue;
                    }
                }
                return Err(Error::msg(format!("{problem}; nothing was changed")));
            }
        }
    };
    drop(dir);
    let before = value_digests(&session.doc);
    if !session.doc.replace_secrets(tree) && !session.repairs() {
        status(ws.options.quiet, "no changes");
        return Ok(ExitStatus::Success);
    }
    if let (Some(config), false) = (&ws.config, args.force) {
        // Only changed values are held to the rules: an old failure is `check`'s to report.
        let after = value_digests(&session.doc);
        let refusals: Vec<String> = session
            .doc
            .leaves()
            .filter(|(p, _)| before.get(p) != after.get(p))
            .flat_map(|(p, v)| {
                crate::lifecycle::validate::refusals(&config.file, &session.doc, &p, v.expose_secret())
            })
            .collect();
        if !refusals.is_empty() {
            return Err(
                Error::msg(format!("{}; nothing was changed", refusals.join("; ")))
                    .with_hint("run `agevault edit --force` to save it anyway"),
            );
        }
    }
    ws.commit(session)?;
    status(ws.options.quiet, &format!("saved {}", ws.vault_path.display()));
    Ok(ExitStatus::Success)
}

/// SHA-256 of every value, to tell which ones an edit changed.
fn value_digests(doc: &crate::document::VaultDocument) -> std::collections::BTreeMap<String, [u8; 32]> {
    use sha2::Digest;
    doc.leaves()
        .map(|(p, v)| (p, sha2::Sha256::digest(v.expose_secret().as_bytes()).into()))
        .collect()
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, split like a shell would split it.
fn editor_command() -> Result<Vec<String>> {
    let raw = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned());
    let words = shell_words::split(&raw)
        .map_err(|e| Error::with_source(format!("cannot parse the editor command `{raw}`"), e))?;
    if words.is_empty() {
        return Err(Error::msg("the editor command is empty").with_hint("set $VISUAL or $EDITOR"));
    }
    Ok(words)
}

/// Flags that keep vim and neovim from writing swap, undo, backup and history files.
/// `--cmd` acts before the user's vimrc and `-c` after it (a vimrc may turn
/// `undofile` back on); `-n` and `-i NONE` cover swap and viminfo/shada.
fn hardening_flags(program: &str) -> &'static [&'static str] {
    const VIM: &[&str] = &[
        "-n",
        "-i",
        "NONE",
        "--cmd",
        "set noswapfile noundofile nobackup nowritebackup",
        "-c",
        "setlocal noswapfile noundofile",
        "-c",
        "set nobackup nowritebackup",
    ];
    let resolved = resolve_program(program);
    let base = resolved.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let is_vim =
        ["vi", "vim", "nvim", "gvim", "view", "rvim", "ex"].contains(&base) || base.starts_with("vim.");
    if is_vim {
        VIM
    } else {
        &[]
    }
}

/// The real program behind a name: looked up in PATH and symlinks followed, so
/// Debian's `editor` and `vi` alternatives are recognised as vim.
fn resolve_program(program: &str) -> std::path::PathBuf {
    let candidate = if program.contains('/') {
        Some(std::path::PathBuf::from(program))
    } else {
        crate::child::find_on_path(program)
    };
    candidate
        .and_then(|p| std::fs::canonicalize(&p).ok())
        .unwrap_or_else(|| std::path::PathBuf::from(program))
}

fn run_editor(editor: &[String], file: &Path) -> Result<ChildExit> {
    let mut cmd = Command::new(&editor[0]);
    cmd.args(hardening_flags(&editor[0]));
    cmd.args(&editor[1..]);
    cmd.arg(file);
    // The key that opens every version of the vault is none of the editor's business
    // (nor its plugins' or extensions').
    for name in crate::exec::NEVER_PASSED {
        cmd.env_remove(name);
    }
    run_supervised(cmd).map_err(|e| match e {
        // A missing editor is an ordinary error here, not exec's 126/127.
        Error::Spawn { message, .. } => {
            Error::msg(format!("cannot start the editor: {message}")).with_hint("set $VISUAL or $EDITOR")
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vim_gets_hardened() {
        assert!(hardening_flags("/usr/bin/vim").contains(&"-n"));
        assert!(hardening_flags("vim.basic").contains(&"setlocal noswapfile noundofile"));
        assert!(hardening_flags("nvim").contains(&"NONE"));
        assert!(hardening_flags("code").is_empty());
    }
}
