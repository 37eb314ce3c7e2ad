//! Who may steer agevault: the owner rule for configs and vaults, and its override.
//!
//! A `.agevault.toml` found by walking up is obeyed (its exec profiles decide what a
//! child receives), so one planted in a shared parent directory by another user
//! would steer a root `exec` below it. Like git's `safe.directory`, files owned by
//! someone other than the user or root, or writable by group or others, are refused.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The override: `:`-separated directories whose files are trusted whoever owns them,
/// or `*` for all. Only the environment sets it, never a file in a repository.
pub const SAFE_DIRECTORIES_ENV: &str = "AGEVAULT_SAFE_DIRECTORIES";

/// Refuses `path` (already opened, `meta` from its descriptor) unless the rule or the override allows it.
pub fn check(path: &Path, what: &str, meta: &Metadata) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    let owner = meta.uid();
    let mode = meta.mode() & 0o7777;
    let (problem, fix) = if owner != me && owner != 0 {
        (
            format!("is owned by uid {owner}, not by you (uid {me}) or root"),
            String::new(),
        )
    } else if mode & 0o022 != 0 {
        (
            format!("is writable by group or others (mode {mode:04o})"),
            format!("run `chmod go-w {}`, or ", path.display()),
        )
    } else {
        return Ok(());
    };
    if is_safe(path) {
        return Ok(());
    }
    Err(Error::msg(format!(
        "{what} {} {problem}, so it is refused (another user could steer agevault with it); \
         {fix}if you trust it, set {SAFE_DIRECTORIES_ENV}={} (`:`-separated directories, or `*`)",
        path.display(),
        directory_of(path).display()
    )))
}

fn directory_of(path: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Whether the override trusts the directory holding `path`.
fn is_safe(path: &Path) -> bool {
    let Some(list) = std::env::var_os(SAFE_DIRECTORIES_ENV) else {
        return false;
    };
    let list = list.to_string_lossy().into_owned();
    let dir = directory_of(path);
    list.split(':').filter(|e| !e.is_empty()).any(|entry| {
        entry == "*" || {
            let trusted = std::fs::canonicalize(entry).unwrap_or_else(|_| PathBuf::from(entry));
            dir.starts_with(&trusted)
        }
    })
}
