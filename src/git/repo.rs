//! Finding the git repository around the vault, and the vault's path inside it.

use std::path::{Component, Path, PathBuf};

use git2::Repository;

use crate::error::{Error, Result};

/// Opens the repository containing `start` (searching upwards, like git).
pub fn open(start: &Path) -> Result<Repository> {
    Repository::discover(start).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            Error::msg(format!(
                "{} is not inside a git repository; run `git init` first (or run this from inside your repository)",
                start.display()
            ))
        } else {
            Error::msg(format!("cannot open the git repository at {}: {}", start.display(), e.message()))
        }
    })
}

/// The repository's working directory, or an error for a bare repository.
pub fn workdir(repo: &Repository) -> Result<PathBuf> {
    repo.workdir().map(Path::to_path_buf).ok_or_else(|| {
        Error::msg(format!(
            "{} is a bare repository; run this in a clone with a working tree",
            repo.path().display()
        ))
    })
}

/// `path` relative to the repository's working directory, with `/` separators as git
/// stores paths. Errors when the file lies outside the repository.
pub fn relative_path(repo: &Repository, path: &Path) -> Result<String> {
    let root = workdir(repo)?;
    let root = canonical(&root);
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("reading", ".", e))?
            .join(path)
    };
    let abs = canonical(&abs);
    let rel = abs.strip_prefix(&root).map_err(|_| {
        Error::msg(format!(
            "{} is outside the git repository at {}; keep the vault inside the repository",
            path.display(),
            root.display()
        ))
    })?;
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    Ok(parts.join("/"))
}

/// Resolves symlinks where the path exists; for a missing file, resolves its directory.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => canonical(dir).join(name),
        _ => path.to_path_buf(),
    }
}

/// A short commit id (7 hex characters, like git's default).
pub fn short_id(oid: git2::Oid) -> String {
    let mut s = oid.to_string();
    s.truncate(7);
    s
}
