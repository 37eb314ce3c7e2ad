//! `git setup`: the diff and merge drivers in the repository's git config, the
//! `.gitattributes` line routing the vault to them, and the pre-commit hook.
//!
//! Every step first looks at what is there and only writes what is missing or
//! outdated, so running it again changes nothing. An existing foreign pre-commit
//! hook is never overwritten: it is chained (renamed and called first) or, when that
//! is not safe, left alone with instructions.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::{AttrCheckFlags, ConfigLevel, Repository};

use crate::error::{Error, Result};
use crate::store;

/// The driver name used in git config and `.gitattributes`.
pub const DRIVER: &str = "agevault";

/// The marker line that identifies our hook.
const HOOK_MARKER: &str = "# agevault pre-commit hook";

/// Where a foreign hook goes when ours chains to it.
pub const CHAINED_HOOK: &str = "pre-commit.agevault-chained";

/// What one step did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// It was already in place.
    Unchanged(String),
    /// It was written.
    Changed(String),
    /// It could not be done safely; the text says what to do.
    Refused(String),
}

/// The git config entries `setup` writes, for `program` (how git should call agevault).
pub fn config_entries(program: &str) -> Vec<(&'static str, String)> {
    vec![
        ("diff.agevault.textconv", format!("{program} git textconv")),
        (
            "merge.agevault.name",
            "agevault three-way merge of secret paths".to_owned(),
        ),
        (
            "merge.agevault.driver",
            format!("{program} git merge-driver %O %A %B %P"),
        ),
        (
            "merge.agevault-sig.name",
            "agevault: the signature the vault's merge made".to_owned(),
        ),
        (
            "merge.agevault-sig.driver",
            format!("{program} git merge-sig %O %A %B %P"),
        ),
    ]
}

/// Writes the driver entries into the repository's own config (`.git/config`).
pub fn configure_drivers(repo: &Repository, program: &str) -> Result<Step> {
    let git_err = |e: git2::Error| Error::msg(format!("cannot update the git config: {}", e.message()));
    let config = repo.config().map_err(git_err)?;
    let mut local = config.open_level(ConfigLevel::Local).map_err(git_err)?;
    let mut changed = Vec::new();
    for (name, value) in config_entries(program) {
        let current = local.get_string(name).ok();
        if current.as_deref() != Some(value.as_str()) {
            local.set_str(name, &value).map_err(git_err)?;
            changed.push(name);
        }
    }
    Ok(if changed.is_empty() {
        Step::Unchanged("git config: the agevault diff and merge drivers are set".into())
    } else {
        Step::Changed(format!("git config: set {}", changed.join(", ")))
    })
}

/// The merge driver of signature files.
pub const SIG_DRIVER: &str = "agevault-sig";

/// Makes sure `.gitattributes` routes the vault (repository-relative `vault_rel`) to
/// both drivers, appending a line to the root `.gitattributes` when it does not.
pub fn route_vault(repo: &Repository, vault_rel: &str) -> Result<Step> {
    route(repo, vault_rel, &[("diff", DRIVER), ("merge", DRIVER)])
}

/// Makes sure the vault's signature file goes to the signature merge driver.
pub fn route_signature(repo: &Repository, sig_rel: &str) -> Result<Step> {
    route(repo, sig_rel, &[("merge", SIG_DRIVER)])
}

fn route(repo: &Repository, rel: &str, attrs: &[(&str, &str)]) -> Result<Step> {
    let root = crate::git::repo::workdir(repo)?;
    let routed = |attr: &str, value: &str| {
        repo.get_attr(Path::new(rel), attr, AttrCheckFlags::FILE_THEN_INDEX)
            .ok()
            .flatten()
            == Some(value)
    };
    if attrs.iter().all(|(a, v)| routed(a, v)) {
        return Ok(Step::Unchanged(format!(
            ".gitattributes: {rel} uses the agevault drivers"
        )));
    }
    let pattern = if rel.contains(char::is_whitespace) {
        format!("\"/{}\"", rel.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("/{rel}")
    };
    let routes: Vec<String> = attrs.iter().map(|(a, v)| format!("{a}={v}")).collect();
    let line = format!("{pattern} {}", routes.join(" "));
    let path = root.join(".gitattributes");
    let mut text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("reading", &path, e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    store::replace_atomically(&path, text.as_bytes())?;
    Ok(Step::Changed(format!(
        ".gitattributes: added `{line}` (commit it so every clone uses the drivers)"
    )))
}

/// The hook script. `program` is how it calls agevault.
pub fn hook_script(program: &str) -> String {
    format!(
        r#"#!/bin/sh
{HOOK_MARKER} (installed by `agevault git setup`; re-run it to update).
# Blocks commits that would add a plaintext copy of a vault value or a hard-coded
# secret. Bypass once, at your own risk: git commit --no-verify
hook_dir=$(dirname "$0")
if [ -x "$hook_dir/{CHAINED_HOOK}" ]; then
    "$hook_dir/{CHAINED_HOOK}" "$@" || exit $?
fi
if ! command -v {program} >/dev/null 2>&1; then
    printf '%s\n' 'agevault pre-commit hook: agevault is not on PATH (or not executable), so staged files cannot be checked for secrets;' >&2
    printf '%s\n' 'install agevault (see its README) or bypass once with: git commit --no-verify' >&2
    exit 1
fi
exec {program} scan --staged
"#
    )
}

/// Whether `text` is exactly a hook this module generates, for whatever program path.
fn is_generated_hook(text: &str) -> bool {
    let Some(program) = text.lines().find_map(|l| {
        l.strip_prefix("exec ")
            .and_then(|rest| rest.strip_suffix(" scan --staged"))
    }) else {
        return false;
    };
    text == hook_script(program)
}

/// The hooks directory git uses: `core.hooksPath` if set, else `.git/hooks`.
pub fn hooks_dir(repo: &Repository) -> Result<PathBuf> {
    let configured = repo.config().ok().and_then(|c| c.get_path("core.hooksPath").ok());
    Ok(match configured {
        Some(p) if p.is_absolute() => p,
        Some(p) => crate::git::repo::workdir(repo)?.join(p),
        None => repo.commondir().join("hooks"),
    })
}

/// Installs the pre-commit hook, chaining to an existing foreign one.
pub fn install_hook(repo: &Repository, program: &str) -> Result<Step> {
    let dir = hooks_dir(repo)?;
    let hook = dir.join("pre-commit");
    let chained = dir.join(CHAINED_HOOK);
    let script = hook_script(program);
    fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let shown = hook.display().to_string();
    match hook.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_executable(&hook, &script)?;
            Ok(Step::Changed(format!("pre-commit hook: installed {shown}")))
        }
        Err(e) => Err(Error::io("reading", &hook, e)),
        Ok(meta) => {
            let existing = if meta.is_file() {
                fs::read(&hook).map_err(|e| Error::io("reading", &hook, e))?
            } else {
                Vec::new()
            };
            let text = String::from_utf8_lossy(&existing);
            if text.contains(HOOK_MARKER) {
                if text == script {
                    return Ok(Step::Unchanged(format!("pre-commit hook: {shown} is installed")));
                }
                // Only a hook exactly as we wrote it (for another program path) is ours
                // to replace; one the user edited keeps their lines.
                if is_generated_hook(&text) {
                    write_executable(&hook, &script)?;
                    return Ok(Step::Changed(format!("pre-commit hook: updated {shown}")));
                }
                return Ok(Step::Refused(format!(
                    "pre-commit hook: {shown} is agevault's hook with your own changes, so it was left alone; \
                     to update it, move your additions to another hook, delete {shown} and run `agevault git setup` again"
                )));
            }
            let add_by_hand = format!(
                "add `{program} scan --staged` to {shown} yourself (it must fail the commit when that command fails)"
            );
            if text.contains("pre-commit.com") || text.contains("husky") {
                return Ok(Step::Refused(format!(
                    "pre-commit hook: {shown} is managed by a hook manager, so it was left alone; add a hook to \
                     its config that runs `{program} scan --staged` (for pre-commit.com: a `repo: local` hook with \
                     `entry: {program} scan --staged`, `language: system`, `pass_filenames: false`), or {add_by_hand}"
                )));
            }
            if !meta.is_file() {
                return Ok(Step::Refused(format!(
                    "pre-commit hook: {shown} is not a regular file (a symlink?), so it was left alone; {add_by_hand}"
                )));
            }
            if meta.permissions().mode() & 0o111 == 0 {
                return Ok(Step::Refused(format!(
                    "pre-commit hook: {shown} exists but is not executable (git does not run it), so it was \
                     left alone; make it executable and run `agevault git setup` again to chain it, or {add_by_hand}"
                )));
            }
            if chained.symlink_metadata().is_ok() {
                return Ok(Step::Refused(format!(
                    "pre-commit hook: both {shown} and {} exist, so nothing was changed; merge them, or {add_by_hand}",
                    chained.display()
                )));
            }
            fs::rename(&hook, &chained).map_err(|e| Error::io("renaming", &hook, e))?;
            if let Err(e) = write_executable(&hook, &script) {
                // Put the user's hook back rather than leave no hook at all.
                let _ = fs::rename(&chained, &hook);
                return Err(e);
            }
            Ok(Step::Changed(format!(
                "pre-commit hook: installed {shown}; your existing hook moved to {} and runs first",
                chained.display()
            )))
        }
    }
}

fn write_executable(path: &Path, text: &str) -> Result<()> {
    store::replace_atomically(path, text.as_bytes())?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("setting mode of", path, e))
}

/// Quotes `program` for the shell git runs drivers and hooks with.
///
/// Not `shell_words::quote`: it quotes only characters on its list of specials and
/// leaves `{`, `}`, `!` and non-ASCII bare, so `/opt/{a,b}/agevault` would brace-expand
/// where `sh` is bash. Anything outside a short list of safe bytes is quoted here.
pub fn shell_quote(program: &str) -> String {
    if !program.is_empty()
        && program
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b))
    {
        program.to_owned()
    } else {
        format!("'{}'", program.replace('\'', r"'\''"))
    }
}
