//! A scan over many files: the work tree, the staged versions, every version in
//! history, or plain directories outside git; counts what was scanned and skipped.

use std::path::{Path, PathBuf};

use git2::Repository;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::scan::special::{scan_one, SkipList, Special};
use crate::scan::{sources, Finding, Scanner, Skip, MAX_FILE_SIZE};

/// Which versions of a repository's files a scan reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// The files in the work tree (tracked, and untracked unless ignored).
    Worktree,
    /// The staged versions about to be committed.
    Staged,
    /// Every version in history.
    History,
}

/// What a scan found.
#[derive(Default)]
pub struct Tally {
    /// Sorted, without duplicates.
    pub findings: Vec<Finding>,
    /// Files (or file versions) scanned.
    pub scanned: usize,
    /// Files skipped as binary or oversized.
    pub skipped: usize,
}

impl Tally {
    /// Counts one file's outcome; `None` (a file skipped on purpose) counts as nothing.
    fn record(&mut self, result: Option<Result<Vec<Finding>, Skip>>, commit: Option<&String>) {
        match result {
            Some(Ok(found)) => {
                self.scanned += 1;
                self.findings.extend(found.into_iter().map(|mut f| {
                    f.commit = commit.cloned();
                    f
                }));
            }
            Some(Err(_)) => self.skipped += 1,
            None => {}
        }
    }

    fn finish(mut self) -> Tally {
        self.findings.sort();
        self.findings.dedup();
        self
    }
}

/// Scans `versions` of the files below `paths` (all when empty) in `repo`; `progress`
/// counts the commits read and the file versions scanned.
pub fn scan_repo(
    repo: &Repository,
    paths: &[PathBuf],
    versions: Versions,
    scanner: &Scanner,
    skip: &SkipList,
    progress: &Progress,
) -> Result<Tally> {
    let prefixes = sources::repo_prefixes(repo, paths)?;
    let mut tally = Tally::default();
    let blobs = match versions {
        Versions::Worktree => {
            for f in sources::worktree_files(repo, &prefixes)? {
                let kind = skip.kind_of_name(&f.name);
                scan_file(scanner, &f.name, &f.path, kind, &mut tally)?;
            }
            return Ok(tally.finish());
        }
        Versions::Staged => sources::staged_files(repo, &prefixes)?,
        Versions::History => sources::history_files(repo, &prefixes, progress)?,
    };
    progress.restart(blobs.len() as u64, "scanning file versions");
    let odb = repo
        .odb()
        .map_err(|e| Error::msg(format!("cannot read git objects: {}", e.message())))?;
    for f in &blobs {
        progress.inc();
        // Skip an oversized blob by its header, without loading it.
        if odb
            .read_header(f.blob)
            .is_ok_and(|(size, _)| size > MAX_FILE_SIZE)
        {
            tally.record(Some(Err(Skip::TooLarge)), f.commit.as_ref());
            continue;
        }
        let blob = repo
            .find_blob(f.blob)
            .map_err(|e| Error::msg(format!("cannot read {} from git: {}", f.name, e.message())))?;
        let result = scan_one(scanner, &f.name, skip.kind_of_name(&f.name), blob.content());
        tally.record(result, f.commit.as_ref());
    }
    Ok(tally.finish())
}

/// Scans every file below `roots`, outside any git repository.
pub fn scan_directories(roots: &[PathBuf], scanner: &Scanner, skip: &SkipList) -> Result<Tally> {
    let mut tally = Tally::default();
    for f in sources::plain_files(roots)? {
        let kind = skip.kind_of_path(&f.path);
        scan_file(scanner, &f.name, &f.path, kind, &mut tally)?;
    }
    Ok(tally.finish())
}

/// Reads and scans one file on disk (a file too large is skipped unread, one that
/// vanished since it was listed is left out).
fn scan_file(scanner: &Scanner, name: &str, path: &Path, kind: Special, tally: &mut Tally) -> Result<()> {
    match read_file(path)? {
        Some(Ok(bytes)) => tally.record(scan_one(scanner, name, kind, &bytes), None),
        Some(Err(skip_reason)) => tally.record(Some(Err(skip_reason)), None),
        None => {}
    }
    Ok(())
}

/// A file's content, or `Err(Skip::TooLarge)` without reading a file that is too
/// large to scan; `None` when it vanished since it was listed.
fn read_file(path: &Path) -> Result<Option<std::result::Result<Vec<u8>, Skip>>> {
    let too_large = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE_SIZE as u64);
    if too_large {
        return Ok(Some(Err(Skip::TooLarge)));
    }
    match std::fs::read(path) {
        Ok(b) => Ok(Some(Ok(b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}
