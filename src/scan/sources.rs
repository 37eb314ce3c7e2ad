//! What `scan` reads: working-tree files (tracked and untracked, minus ignored ones),
//! the staged versions about to be committed, or every file version in history.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Delta, DiffOptions, FileMode, Oid, Repository, StatusOptions};

use crate::error::{Error, Result};
use crate::git::repo::{commits_from_head, read_commit, short_id};

/// A file in the working tree: its display name and where to read it.
pub struct WorktreeFile {
    /// Repository-relative (or, outside git, current-directory-relative) name.
    pub name: String,
    /// Its path on disk.
    pub path: PathBuf,
}

/// A file version stored in git.
pub struct BlobFile {
    /// The commit that introduced this version (history scans only).
    pub commit: Option<String>,
    /// Repository-relative name.
    pub name: String,
    /// The blob.
    pub blob: Oid,
}

// By value: it is the `map_err` callback of every git call here.
#[allow(clippy::needless_pass_by_value)]
fn git_err(e: git2::Error) -> Error {
    Error::msg(format!("cannot read the git repository: {}", e.message()))
}

/// Whether a repository-relative `name` lies at or below one of `prefixes` (all when empty).
pub fn under(name: &str, prefixes: &[String]) -> bool {
    prefixes.is_empty()
        || prefixes
            .iter()
            .any(|p| p.is_empty() || name == p || name.starts_with(&format!("{p}/")))
}

/// Tracked files plus untracked files that are not ignored, below `prefixes`.
pub fn worktree_files(repo: &Repository, prefixes: &[String]) -> Result<Vec<WorktreeFile>> {
    let root = crate::git::repo::workdir(repo)?;
    let mut names: Vec<String> = Vec::new();
    let index = repo.index().map_err(git_err)?;
    for entry in index.iter() {
        // Submodules and symlinks hold no file content of their own.
        if entry.mode == u32::from(FileMode::Commit) || entry.mode == u32::from(FileMode::Link) {
            continue;
        }
        names.push(String::from_utf8_lossy(&entry.path).into_owned());
    }
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts)).map_err(git_err)?;
    for s in statuses.iter() {
        if s.status().is_wt_new() {
            if let Some(p) = s.path() {
                names.push(p.to_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .filter(|n| under(n, prefixes))
        .map(|name| WorktreeFile {
            path: root.join(&name),
            name,
        })
        .filter(|f| f.path.symlink_metadata().is_ok_and(|m| m.is_file()))
        .collect())
}

/// Every regular file below `roots`, outside any git repository (`.git` skipped).
pub fn plain_files(roots: &[PathBuf]) -> Result<Vec<WorktreeFile>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = stack.pop() {
        let meta = path
            .symlink_metadata()
            .map_err(|e| Error::io("reading", &path, e))?;
        if meta.is_dir() {
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            let entries = std::fs::read_dir(&path).map_err(|e| Error::io("reading directory", &path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("reading directory", &path, e))?;
                stack.push(entry.path());
            }
        } else if meta.is_file() {
            let name = path
                .strip_prefix(".")
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push(WorktreeFile { name, path });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The index entries that differ from HEAD: exactly what `git commit` would record.
pub fn staged_files(repo: &Repository, prefixes: &[String]) -> Result<Vec<BlobFile>> {
    let head_tree = match repo.head() {
        Ok(head) => Some(head.peel_to_tree().map_err(git_err)?),
        Err(e)
            if matches!(
                e.code(),
                git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
            ) =>
        {
            None
        }
        Err(e) => return Err(git_err(e)),
    };
    // `git commit -a` and `git commit PATHS` stage into a temporary index and name it
    // in GIT_INDEX_FILE for the hook; `.git/index` does not hold those changes yet.
    let index = match std::env::var_os("GIT_INDEX_FILE").filter(|v| !v.is_empty()) {
        Some(path) => git2::Index::open(std::path::Path::new(&path)).map_err(git_err)?,
        None => repo.index().map_err(git_err)?,
    };
    let mut opts = DiffOptions::new();
    opts.ignore_submodules(true);
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut opts))
        .map_err(git_err)?;
    Ok(new_versions(&diff, None, prefixes))
}

/// Every file version in the history of HEAD, each once, attributed to the oldest
/// commit that introduced it. `progress` counts the commits read.
pub fn history_files(
    repo: &Repository,
    prefixes: &[String],
    progress: &crate::progress::Progress,
) -> Result<Vec<BlobFile>> {
    // Oldest first, so each version is attributed to the commit that introduced it.
    let mut walk = commits_from_head(repo).map_err(git_err)?;
    walk.reverse();
    progress.restart(walk.len() as u64, "reading commits");
    let mut seen: HashSet<Oid> = HashSet::new();
    let mut out = Vec::new();
    for commit in walk {
        progress.inc();
        let tree = repo.find_tree(commit.tree).map_err(git_err)?;
        let parent_tree = match commit.parents.first().map(|p| read_commit(repo, *p)) {
            Some(Ok(p)) => Some(repo.find_tree(p.tree).map_err(git_err)?),
            _ => None,
        };
        let mut opts = DiffOptions::new();
        opts.ignore_submodules(true);
        let diff = repo
            .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
            .map_err(git_err)?;
        for file in new_versions(&diff, Some(&short_id(commit.id)), prefixes) {
            if seen.insert(file.blob) {
                out.push(file);
            }
        }
    }
    Ok(out)
}

fn new_versions(diff: &git2::Diff<'_>, commit: Option<&str>, prefixes: &[String]) -> Vec<BlobFile> {
    diff.deltas()
        .filter(|d| {
            matches!(
                d.status(),
                Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange
            )
        })
        .filter(|d| matches!(d.new_file().mode(), FileMode::Blob | FileMode::BlobExecutable))
        .filter_map(|d| {
            let name = d.new_file().path()?.to_string_lossy().replace('\\', "/");
            under(&name, prefixes).then(|| BlobFile {
                commit: commit.map(str::to_owned),
                name,
                blob: d.new_file().id(),
            })
        })
        .collect()
}

/// Command-line PATHS as repository-relative prefixes.
pub fn repo_prefixes(repo: &Repository, paths: &[PathBuf]) -> Result<Vec<String>> {
    paths
        .iter()
        .map(|p| crate::git::repo::relative_path(repo, p))
        .collect()
}

/// Whether a path exists (for a clear error on a mistyped PATH).
pub fn require_exists(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        if !Path::new(p).exists() {
            return Err(Error::Usage(format!("{} does not exist", p.display())));
        }
    }
    Ok(())
}
