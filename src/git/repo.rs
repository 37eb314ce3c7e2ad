//! Finding the git repository around the vault, and the vault's path inside it.

use std::path::{Component, Path, PathBuf};

use git2::Repository;

use crate::error::{Error, Result};

/// Opens the repository containing `start` (searching upwards, like git).
pub fn open(start: &Path) -> Result<Repository> {
    Repository::discover(start).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            Error::msg(format!("{} is not inside a git repository", start.display()))
                .with_hint("run `git init` first, or run this from inside your repository")
        } else {
            Error::msg(format!(
                "cannot open the git repository at {}: {}",
                start.display(),
                e.message()
            ))
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

/// What agevault needs of a commit. Read leniently: libgit2 refuses a whole commit
/// whose author line has a malformed date, which `git log` accepts (and anyone can
/// push), so one such commit must not make the history unreadable.
pub struct CommitInfo {
    /// The commit id.
    pub id: git2::Oid,
    /// Its tree.
    pub tree: git2::Oid,
    /// Its parents, in order.
    pub parents: Vec<git2::Oid>,
    /// Author name and email.
    pub author: (String, String),
    /// The author date; `None` when it cannot be parsed.
    pub when: Option<git2::Time>,
    /// The first line of the message.
    pub summary: String,
    /// Committer time in seconds (0 when unparsable), for ordering.
    pub commit_time: i64,
}

/// Reads commit `id`, falling back to parsing the raw object when libgit2 refuses it.
pub fn read_commit(repo: &Repository, id: git2::Oid) -> std::result::Result<CommitInfo, git2::Error> {
    match repo.find_commit(id) {
        Ok(c) => {
            let author = c.author();
            Ok(CommitInfo {
                id,
                tree: c.tree_id(),
                parents: c.parent_ids().collect(),
                author: (
                    author.name().unwrap_or("?").to_owned(),
                    author.email().unwrap_or("").to_owned(),
                ),
                when: Some(author.when()),
                summary: c.summary().unwrap_or("").to_owned(),
                commit_time: c.time().seconds(),
            })
        }
        Err(e) => {
            let odb = repo.odb()?;
            let object = odb.read(id)?;
            if object.kind() != git2::ObjectType::Commit {
                return Err(e);
            }
            parse_raw_commit(id, object.data()).ok_or(e)
        }
    }
}

fn parse_raw_commit(id: git2::Oid, data: &[u8]) -> Option<CommitInfo> {
    let text = String::from_utf8_lossy(data);
    let (header, message) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut tree = None;
    let mut parents = Vec::new();
    let mut author = ("?".to_owned(), String::new());
    let mut when = None;
    let mut commit_time = 0;
    for line in header.lines() {
        if let Some(t) = line.strip_prefix("tree ") {
            tree = git2::Oid::from_str(t.trim()).ok();
        } else if let Some(p) = line.strip_prefix("parent ") {
            parents.push(git2::Oid::from_str(p.trim()).ok()?);
        } else if let Some(a) = line.strip_prefix("author ") {
            let (name, rest) = a.split_once('<').unwrap_or((a, ""));
            let (email, date) = rest.split_once('>').unwrap_or((rest, ""));
            author = (name.trim().to_owned(), email.trim().to_owned());
            let mut words = date.split_whitespace();
            let seconds = words.next().and_then(|s| s.parse::<i64>().ok());
            let offset = words.next().and_then(parse_offset);
            when = seconds.zip(offset).map(|(s, o)| git2::Time::new(s, o));
        } else if let Some(c) = line.strip_prefix("committer ") {
            let date = c.rsplit_once('>').map_or("", |(_, d)| d);
            commit_time = date
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        }
    }
    Some(CommitInfo {
        id,
        tree: tree?,
        parents,
        author,
        when,
        summary: message.lines().next().unwrap_or("").to_owned(),
        commit_time,
    })
}

/// Every commit reachable from HEAD, children before parents and newer first (git's
/// `--topo-order`). Our own walk, not libgit2's revwalk: that one gives up on a
/// commit with a malformed author date. Parents that are missing (a shallow clone)
/// are left out. Empty for an unborn HEAD.
pub fn commits_from_head(repo: &Repository) -> std::result::Result<Vec<CommitInfo>, git2::Error> {
    let head = match repo.head() {
        Ok(h) => h.peel_to_commit().map(|c| c.id()).or_else(|_| {
            h.target()
                .ok_or_else(|| git2::Error::from_str("HEAD has no target"))
        })?,
        Err(e)
            if matches!(
                e.code(),
                git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
            ) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut commits: std::collections::HashMap<git2::Oid, CommitInfo> = std::collections::HashMap::new();
    let mut pending = vec![head];
    while let Some(id) = pending.pop() {
        if commits.contains_key(&id) {
            continue;
        }
        let Ok(info) = read_commit(repo, id) else {
            if id == head {
                return read_commit(repo, id).map(|_| Vec::new());
            }
            continue;
        };
        pending.extend(info.parents.iter().copied());
        commits.insert(id, info);
    }
    let mut children: std::collections::HashMap<git2::Oid, usize> = std::collections::HashMap::new();
    for info in commits.values() {
        for p in info.parents.iter().filter(|p| commits.contains_key(p)) {
            *children.entry(*p).or_default() += 1;
        }
    }
    let mut ready = std::collections::BinaryHeap::new();
    ready.push((commits[&head].commit_time, head));
    let mut out = Vec::with_capacity(commits.len());
    while let Some((_, id)) = ready.pop() {
        let Some(info) = commits.remove(&id) else { continue };
        for p in &info.parents {
            if let Some(n) = children.get_mut(p) {
                *n -= 1;
                if *n == 0 {
                    ready.push((commits.get(p).map_or(0, |c| c.commit_time), *p));
                }
            }
        }
        out.push(info);
    }
    Ok(out)
}

/// `+0130` → 90 minutes.
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i32 = digits.parse().ok()?;
    Some(sign * (n / 100 * 60 + n % 100))
}
