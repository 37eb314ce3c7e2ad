//! Conflict markers in an armored file: what a merge without agevault's driver leaves.
//!
//! Without `agevault git setup`, git merges two vault versions line by line and writes
//! `<<<<<<<`/`>>>>>>>` around the differing base64. No age file survives that, and the
//! usual "restore it with `git checkout -- FILE`" fails mid-merge, so the recovery is
//! named from the repository's state instead.

use std::path::Path;

/// Whether `bytes` holds a git conflict marker line (base64 never starts with `<` or `>`).
pub fn has_conflict_markers(bytes: &[u8]) -> bool {
    bytes
        .split(|b| *b == b'\n')
        .any(|line| line.starts_with(b"<<<<<<<") || line.starts_with(b">>>>>>>"))
}

/// Refuses `bytes` of `file` when a line-by-line merge left conflict markers in it.
pub fn check(file: &Path, bytes: &[u8]) -> crate::Result<()> {
    if has_conflict_markers(bytes) {
        return Err(crate::Error::ConflictMarkers {
            path: file.to_owned(),
        }
        .with_hint(recovery(file)));
    }
    Ok(())
}

/// What the user does next, given what git is in the middle of (for `file`, e.g. a vault).
pub fn recovery(file: &Path) -> String {
    let shown = file.display();
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let state = git2::Repository::discover(dir).map(|r| r.state()).ok();
    // Aborting and merging again, not taking one side whole: a side older than what
    // this clone signed last is refused as a rollback.
    match state {
        Some(git2::RepositoryState::Merge) => {
            "recover with `git merge --abort`, then `agevault git setup` and \
                                                merge again (agevault then merges per secret)"
                .to_owned()
        }
        Some(
            git2::RepositoryState::Rebase
            | git2::RepositoryState::RebaseInteractive
            | git2::RepositoryState::RebaseMerge,
        ) => "recover with `git rebase --abort`, then `agevault git setup` and rebase again".to_owned(),
        Some(git2::RepositoryState::CherryPick | git2::RepositoryState::CherryPickSequence) => {
            "recover with `git cherry-pick --abort`, then `agevault git setup` and cherry-pick again"
                .to_owned()
        }
        _ => format!(
            "restore a version without markers from git (`git log -- {shown}` finds one) and run \
             `agevault git setup` before the next merge"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markers_only_at_line_starts() {
        assert!(has_conflict_markers(
            b"-----BEGIN AGE\n<<<<<<< HEAD\nabc\n=======\ndef\n>>>>>>> b\n"
        ));
        assert!(!has_conflict_markers(
            b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl+/=\n"
        ));
        assert!(!has_conflict_markers(b"x <<<<<<< y\n"));
    }
}
