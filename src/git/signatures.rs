//! Finding the signature of a vault version git hands over without its `.sig`
//! (textconv, the merge driver): the work tree, the index, then every version of the
//! signature file in the history of HEAD, the refs and the merge heads.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

/// Commits searched at most, so a huge history cannot stall `git diff`.
const MAX_COMMITS: usize = 20_000;

/// The text every manifest covering `vault_sha` contains.
fn needle(vault_sha: &str) -> String {
    format!("\nvault-sha256: {vault_sha}\n")
}

fn covers(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.len() <= crate::trust::sigfile::MAX_SIG_FILE && memchr::memmem::find(bytes, needle).is_some()
}

/// The commits a merge or diff may be looking at beyond the refs: MERGE_HEAD,
/// FETCH_HEAD, ORIG_HEAD, … and the `GITHEAD_<id>` variables `git merge` sets.
fn extra_heads(repo: &Repository) -> Vec<Oid> {
    let mut out = Vec::new();
    for name in [
        "MERGE_HEAD",
        "FETCH_HEAD",
        "ORIG_HEAD",
        "CHERRY_PICK_HEAD",
        "REBASE_HEAD",
        "AUTO_MERGE",
    ] {
        if let Ok(text) = std::fs::read_to_string(repo.path().join(name)) {
            for line in text.lines().take(1000) {
                if let Some(id) = line.get(..40).and_then(|h| Oid::from_str(h).ok()) {
                    out.push(id);
                }
            }
        }
    }
    for (key, _) in std::env::vars_os() {
        if let Some(id) = key.to_str().and_then(|k| k.strip_prefix("GITHEAD_")) {
            if let Ok(oid) = Oid::from_str(id) {
                out.push(oid);
            }
        }
    }
    out
}

/// The contents of a version of `sig_rel` (a path relative to the work tree) whose
/// manifests cover `vault_sha`, if any exists.
pub fn find(repo: &Repository, sig_rel: &str, vault_sha: &str) -> Option<Vec<u8>> {
    let needle = needle(vault_sha);
    let needle = needle.as_bytes();
    if let Some(dir) = repo.workdir() {
        let path: PathBuf = dir.join(sig_rel);
        if let Ok(bytes) = read_bounded(&path) {
            if covers(&bytes, needle) {
                return Some(bytes);
            }
        }
    }
    let mut seen_blobs = HashSet::new();
    let mut check_blob = |id: Oid| -> Option<Vec<u8>> {
        if !seen_blobs.insert(id) {
            return None;
        }
        let blob = repo.find_blob(id).ok()?;
        covers(blob.content(), needle).then(|| blob.content().to_vec())
    };
    if let Ok(index) = repo.index() {
        for stage in 0..=3 {
            if let Some(entry) = index.get_path(Path::new(sig_rel), stage) {
                if let Some(found) = check_blob(entry.id) {
                    return Some(found);
                }
            }
        }
    }
    let mut walk = repo.revwalk().ok()?;
    let _ = walk.push_head();
    let _ = walk.push_glob("*");
    for id in extra_heads(repo) {
        let _ = walk.push(id);
    }
    for id in walk.take(MAX_COMMITS).flatten() {
        let Ok(commit) = repo.find_commit(id) else {
            continue;
        };
        let Ok(tree) = commit.tree() else { continue };
        let Ok(entry) = tree.get_path(Path::new(sig_rel)) else {
            continue;
        };
        if let Some(found) = check_blob(entry.id()) {
            return Some(found);
        }
    }
    None
}

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(crate::trust::sigfile::MAX_SIG_FILE as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The signature file in the working tree matching `sig_rel`, at the version in HEAD's
/// first parent or HEAD (for `check`'s rollback test): `(commit label, bytes)`.
pub fn at_commit(repo: &Repository, rev: &str, sig_rel: &str) -> Option<Vec<u8>> {
    let commit = repo.revparse_single(rev).ok()?.peel_to_commit().ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(sig_rel)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    (blob.content().len() <= crate::trust::sigfile::MAX_SIG_FILE).then(|| blob.content().to_vec())
}
