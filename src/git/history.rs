//! The vault's history: per commit, which secret paths were added, changed or removed.
//!
//! Every distinct vault blob is decrypted once (a cache keyed by blob id), and values
//! are compared through an HMAC under a key that lives only for this run, so no value
//! and no reusable hash of one is kept or printed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use age::Identity;
use git2::{Oid, Repository};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::document::VaultDocument;
use crate::error::{Error, Result};
use crate::fingerprint::FingerprintKey;
use crate::git::repo::{commits_from_head, read_commit, short_id, CommitInfo};

/// The date shown for a commit whose author date git cannot parse.
pub const UNKNOWN_DATE: &str = "unknown date";
use crate::secret_path::SecretPath;

/// One commit that changed the vault.
#[derive(Debug, Serialize)]
pub struct VaultChange {
    /// Full commit id.
    pub commit: String,
    /// Abbreviated commit id.
    pub short: String,
    /// Author name.
    pub author: String,
    /// Author e-mail.
    pub email: String,
    /// Author date, RFC 3339 in the author's time zone.
    pub date: String,
    /// The commit message's first line.
    pub summary: String,
    /// Paths new in this commit.
    pub added: Vec<String>,
    /// Paths whose value changed.
    pub changed: Vec<String>,
    /// Paths gone in this commit.
    pub removed: Vec<String>,
    /// Recipients added.
    pub recipients_added: Vec<RecipientChange>,
    /// Recipients removed.
    pub recipients_removed: Vec<RecipientChange>,
    /// The vault files (repository-relative paths) this commit changed: the main vault,
    /// scope files, or both.
    pub files: Vec<String>,
    /// Why the lists are empty or incomplete (shallow boundary, not decryptable, …); null
    /// when they are complete.
    pub note: Option<String>,
}

/// A recipient added or removed in a commit: its key, and its name where one is known
/// (the config names current recipients, `offboarded` records name removed ones).
#[derive(Debug, Serialize)]
pub struct RecipientChange {
    /// The recipient's name, or null when no config or record names the key.
    pub name: Option<String>,
    /// The public key.
    pub key: String,
}

impl RecipientChange {
    fn unnamed(key: &str) -> RecipientChange {
        RecipientChange {
            name: None,
            key: key.to_owned(),
        }
    }
}

/// The walk's result.
pub struct History {
    /// Changes, newest first.
    pub changes: Vec<VaultChange>,
    /// Whether the repository is a shallow clone.
    pub shallow: bool,
    /// How many distinct vault versions were decrypted.
    pub versions_decrypted: usize,
    /// How many distinct versions could not be decrypted or parsed.
    pub versions_unreadable: usize,
    /// Names of removed recipients by key, from the `offboarded` records of the versions read.
    pub former_names: BTreeMap<String, String>,
}

/// What one vault blob holds, reduced to what a history needs.
enum Snapshot {
    Open {
        values: BTreeMap<String, [u8; 32]>,
        recipients: BTreeSet<String>,
    },
    Unreadable(String),
}

/// Walks the history of the vault at `vault_rel` (a repository-relative path) from HEAD.
/// With `filter`, only paths at or below it are reported; with `limit`, the walk stops
/// after that many changes (older versions are then never decrypted). `progress`
/// counts the commits walked.
pub fn vault_history(
    repo: &Repository,
    vault_rel: &str,
    identities: &[Box<dyn Identity>],
    filter: Option<&SecretPath>,
    limit: Option<usize>,
    progress: &crate::progress::Progress,
) -> Result<History> {
    let shallow_roots = shallow_commits(repo);
    let mut history = History {
        changes: Vec::new(),
        shallow: repo.is_shallow(),
        versions_decrypted: 0,
        versions_unreadable: 0,
        former_names: BTreeMap::new(),
    };
    let mut versions = Versions::new(repo, Path::new(vault_rel), identities);
    let walk = commits_from_head(repo).map_err(|e| history_error(&e))?;
    progress.restart(
        u64::try_from(walk.len()).unwrap_or(u64::MAX),
        "reading the vault's history",
    );
    for commit in walk {
        if limit.is_some_and(|n| history.changes.len() >= n) {
            break;
        }
        progress.inc();
        let Some(step) = versions.step(&commit, &shallow_roots)? else {
            continue;
        };
        let mut change = describe(&commit);
        change.files.push(vault_rel.to_owned());
        if step.boundary {
            change.note = Some(
                "shallow clone: the history before this commit is not here (`git fetch --unshallow` fetches it)"
                    .into(),
            );
            history.changes.push(change);
            continue;
        }
        versions.read(&[step.blob, step.first_parent], &mut history);
        versions.compare(&step, &mut change);
        if let Some(prefix) = filter {
            if !keep_only_under(&mut change, prefix) {
                continue;
            }
        }
        history.changes.push(change);
    }
    Ok(history)
}

fn history_error(e: &git2::Error) -> Error {
    Error::msg(format!("cannot read the git history: {}", e.message()))
}

/// Where one commit stands for the vault file.
struct Step {
    /// The file's blob in the commit (`None`: no file).
    blob: Option<Oid>,
    /// Its blob in the first parent.
    first_parent: Option<Oid>,
    /// The history before this commit is not in the clone (shallow).
    boundary: bool,
}

/// The vault file's versions as the walk meets them: which blob each commit holds
/// (cached, since every commit is asked again as a parent), and what each distinct blob
/// holds, read once.
struct Versions<'a> {
    repo: &'a Repository,
    vault_path: &'a Path,
    identities: &'a [Box<dyn Identity>],
    /// Values are compared by HMAC under this key, which lives only for this run.
    run_key: FingerprintKey,
    blob_of: HashMap<Oid, Option<Oid>>,
    snapshots: HashMap<Oid, Snapshot>,
}

impl<'a> Versions<'a> {
    fn new(repo: &'a Repository, vault_path: &'a Path, identities: &'a [Box<dyn Identity>]) -> Self {
        Versions {
            repo,
            vault_path,
            identities,
            run_key: FingerprintKey::generate(),
            blob_of: HashMap::new(),
            snapshots: HashMap::new(),
        }
    }

    /// The vault file's blob in `commit`.
    fn blob_at(&mut self, commit: &CommitInfo) -> Result<Option<Oid>> {
        if let Some(b) = self.blob_of.get(&commit.id) {
            return Ok(*b);
        }
        let tree = self.repo.find_tree(commit.tree).map_err(|e| history_error(&e))?;
        let blob = match tree.get_path(self.vault_path) {
            Ok(entry) if entry.kind() == Some(git2::ObjectType::Blob) => Some(entry.id()),
            Ok(_) => None,
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(history_error(&e)),
        };
        self.blob_of.insert(commit.id, blob);
        Ok(blob)
    }

    /// Where `commit` stands for the file; `None` when it did not change the file.
    fn step(&mut self, commit: &CommitInfo, shallow_roots: &HashSet<Oid>) -> Result<Option<Step>> {
        let blob = self.blob_at(commit)?;
        let mut parent_blobs = Vec::new();
        let mut missing_parent = false;
        for parent in &commit.parents {
            match read_commit(self.repo, *parent) {
                Ok(p) => parent_blobs.push(self.blob_at(&p)?),
                Err(_) => missing_parent = true,
            }
        }
        let boundary = missing_parent || (commit.parents.is_empty() && shallow_roots.contains(&commit.id));
        let first_parent = parent_blobs.first().copied().flatten();
        let unchanged = if boundary {
            blob.is_none()
        } else {
            // Like `git log PATH`: a merge that took one parent's vault unchanged adds nothing.
            (blob == first_parent && blob.is_none()) || parent_blobs.contains(&blob)
        };
        Ok((!unchanged).then_some(Step {
            blob,
            first_parent,
            boundary,
        }))
    }

    /// Reads each of `blobs` not read yet, counting them in `history`.
    fn read(&mut self, blobs: &[Option<Oid>], history: &mut History) {
        for b in blobs.iter().copied().flatten() {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.snapshots.entry(b) {
                let snap = load(
                    self.repo,
                    self.vault_path,
                    b,
                    self.identities,
                    &self.run_key,
                    &mut history.former_names,
                );
                match snap {
                    Snapshot::Open { .. } => history.versions_decrypted += 1,
                    Snapshot::Unreadable(_) => history.versions_unreadable += 1,
                }
                slot.insert(snap);
            }
        }
    }

    /// Fills `change` with what differs between the first parent's version and this one
    /// (both read already), or a note saying why that is unknown.
    fn compare(&self, step: &Step, change: &mut VaultChange) {
        let empty = Snapshot::Open {
            values: BTreeMap::new(),
            recipients: BTreeSet::new(),
        };
        let new = step.blob.and_then(|b| self.snapshots.get(&b)).unwrap_or(&empty);
        let old = step
            .first_parent
            .and_then(|b| self.snapshots.get(&b))
            .unwrap_or(&empty);
        match (old, new) {
            (
                Snapshot::Open {
                    values: ov,
                    recipients: or,
                },
                Snapshot::Open {
                    values: nv,
                    recipients: nr,
                },
            ) => {
                for (path, digest) in nv {
                    match ov.get(path) {
                        None => change.added.push(path.clone()),
                        Some(d) if d != digest => change.changed.push(path.clone()),
                        Some(_) => {}
                    }
                }
                change.removed = ov.keys().filter(|p| !nv.contains_key(*p)).cloned().collect();
                change.recipients_added = nr.difference(or).map(|k| RecipientChange::unnamed(k)).collect();
                change.recipients_removed = or.difference(nr).map(|k| RecipientChange::unnamed(k)).collect();
            }
            (_, Snapshot::Unreadable(why)) => change.note = Some(format!("this version {why}")),
            (Snapshot::Unreadable(why), _) => {
                change.note = Some(format!("changes unknown: the previous version {why}"));
            }
        }
    }
}

/// Narrows `change` to the paths at or below `prefix` (recipient changes are not
/// paths, so they go); false when nothing is left to show.
fn keep_only_under(change: &mut VaultChange, prefix: &SecretPath) -> bool {
    let keep = |p: &String| SecretPath::parse(p).is_ok_and(|p| p.starts_with(prefix));
    change.added.retain(keep);
    change.changed.retain(keep);
    change.removed.retain(keep);
    change.recipients_added.clear();
    change.recipients_removed.clear();
    !change.added.is_empty()
        || !change.changed.is_empty()
        || !change.removed.is_empty()
        || change.note.is_some()
}

fn describe(commit: &CommitInfo) -> VaultChange {
    VaultChange {
        commit: commit.id.to_string(),
        short: short_id(commit.id),
        author: commit.author.0.clone(),
        email: commit.author.1.clone(),
        date: commit.when.map_or_else(|| UNKNOWN_DATE.to_owned(), format_time),
        summary: commit.summary.clone(),
        added: Vec::new(),
        changed: Vec::new(),
        removed: Vec::new(),
        recipients_added: Vec::new(),
        recipients_removed: Vec::new(),
        files: Vec::new(),
        note: None,
    }
}

/// The histories of several vault files (the main vault and its scope files) as one,
/// newest first: a commit that changed several files is one entry listing the paths of
/// all of them. With `limit`, each part was walked for `limit` changes, so the newest
/// `limit` commits of the union are all among them.
pub fn combine(repo: &Repository, parts: Vec<History>, limit: Option<usize>) -> Result<History> {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        return Ok(History {
            changes: Vec::new(),
            shallow: repo.is_shallow(),
            versions_decrypted: 0,
            versions_unreadable: 0,
            former_names: BTreeMap::new(),
        });
    };
    let rest: Vec<History> = parts.collect();
    if rest.is_empty() {
        return Ok(all);
    }
    let mut by_commit: HashMap<String, VaultChange> = HashMap::new();
    for change in std::mem::take(&mut all.changes) {
        by_commit.insert(change.commit.clone(), change);
    }
    for part in rest {
        all.versions_decrypted += part.versions_decrypted;
        all.versions_unreadable += part.versions_unreadable;
        all.former_names.extend(part.former_names);
        for change in part.changes {
            match by_commit.entry(change.commit.clone()) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(change);
                }
                std::collections::hash_map::Entry::Occupied(mut slot) => slot.get_mut().absorb(change),
            }
        }
    }
    let walk = commits_from_head(repo).map_err(|e| history_error(&e))?;
    for commit in walk {
        if limit.is_some_and(|n| all.changes.len() >= n) || by_commit.is_empty() {
            break;
        }
        if let Some(change) = by_commit.remove(&commit.id.to_string()) {
            all.changes.push(change);
        }
    }
    Ok(all)
}

impl VaultChange {
    /// Adds another file's changes in the same commit.
    fn absorb(&mut self, other: VaultChange) {
        fn union<T: Ord>(into: &mut Vec<T>, from: Vec<T>) {
            into.extend(from);
            into.sort();
            into.dedup();
        }
        union(&mut self.added, other.added);
        union(&mut self.changed, other.changed);
        union(&mut self.removed, other.removed);
        union(&mut self.files, other.files);
        for r in other.recipients_added {
            if !self.recipients_added.iter().any(|x| x.key == r.key) {
                self.recipients_added.push(r);
            }
        }
        for r in other.recipients_removed {
            if !self.recipients_removed.iter().any(|x| x.key == r.key) {
                self.recipients_removed.push(r);
            }
        }
        self.note = match (self.note.take(), other.note) {
            (Some(a), Some(b)) if a == b => Some(a),
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
    }
}

fn load(
    repo: &Repository,
    vault_path: &Path,
    blob: Oid,
    identities: &[Box<dyn Identity>],
    key: &FingerprintKey,
    former_names: &mut BTreeMap<String, String>,
) -> Snapshot {
    let Ok(blob) = repo.find_blob(blob) else {
        return Snapshot::Unreadable("is missing from this clone".into());
    };
    let plaintext = match crate::vault_format::decrypt(vault_path, blob.content(), identities) {
        Ok(p) => p,
        Err(failure) => return Snapshot::Unreadable(failure.to_string()),
    };
    match VaultDocument::parse(plaintext.as_slice()) {
        Ok(doc) => {
            record_offboarded_names(&doc, former_names);
            Snapshot::Open {
                values: doc
                    .leaves()
                    .map(|(p, v)| {
                        let d = key.digest(v.expose_secret().as_bytes());
                        (p, d)
                    })
                    .collect(),
                recipients: doc.recipients().iter().cloned().collect(),
            }
        }
        Err(e) => Snapshot::Unreadable(format!("holds an invalid document ({e})")),
    }
}

/// The `{name, key}` of every offboarding record (written by `recipients remove`).
fn record_offboarded_names(doc: &VaultDocument, names: &mut BTreeMap<String, String>) {
    for record in doc.offboardings() {
        if let (Some(name), Some(key)) = (record.name(), record.key()) {
            names.insert(key.to_owned(), name.to_owned());
        }
    }
}

/// The commits a shallow clone was cut at (`.git/shallow`).
fn shallow_commits(repo: &Repository) -> HashSet<Oid> {
    let path = repo.commondir().join("shallow");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

/// `2026-11-23T10:00:00+01:00`: the author's local time and offset, as git shows it.
pub fn format_time(time: git2::Time) -> String {
    let offset = i64::from(time.offset_minutes());
    // A crafted commit can carry any timestamp: never overflow on it.
    let Some(local) = time
        .seconds()
        .checked_add(offset * 60)
        .filter(|l| l.abs() < 1 << 40)
    else {
        return format!("@{}", time.seconds());
    };
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm). Not humantime (the one date crate in the tree): it
/// formats only UTC and only 1970 to 9999, and panics beyond; a commit's local time
/// can be any of ±2^40 seconds.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_git() {
        assert_eq!(format_time(git2::Time::new(0, 0)), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            format_time(git2::Time::new(1_795_428_000, 60)),
            "2026-11-23T11:00:00+01:00"
        );
        assert_eq!(
            format_time(git2::Time::new(1_709_164_800, -330)),
            "2024-02-28T18:30:00-05:30"
        );
    }
}
