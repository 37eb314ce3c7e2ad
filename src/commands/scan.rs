//! `scan [PATHS…] [--staged | --history]`: plaintext copies of vault values and
//! hard-coded secrets. Prints file, line and rule, never the value; exit 1 on findings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::Repository;
use serde::Serialize;

use crate::cli::ScanArgs;
use crate::error::{Error, Result};
use crate::git::repo;
use crate::output::{self, status};
use crate::scan::allow::{AllowList, ALLOW_FILE};
use crate::scan::needles::VaultNeedles;
use crate::scan::{sources, Finding, Scanner, Skip};
use crate::store;
use crate::terminal::sanitize;
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

#[derive(Serialize)]
struct Report<'a> {
    findings: &'a [Finding],
    files_scanned: usize,
    files_skipped: usize,
    vault_values_checked: bool,
    notes: &'a [String],
}

/// Scans and reports.
pub fn run(options: GlobalOptions, args: &ScanArgs) -> Result<ExitStatus> {
    let quiet = options.quiet;
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading", ".", e))?;
    let repo = Repository::discover(&cwd).ok().filter(|r| !r.is_bare());
    if repo.is_none() && (args.staged || args.history) {
        return Err(Error::msg(format!(
            "{} is not inside a git repository; --staged and --history read git (scan plain directories without them)",
            cwd.display()
        )));
    }
    if !args.staged && !args.history {
        sources::require_exists(&args.paths)?;
    }

    let mut notes = Vec::new();
    let (needles, skip) = vault_needles(options, repo.as_ref(), &mut notes)?;
    let allow_dir = match &repo {
        Some(r) => repo::workdir(r)?,
        None => cwd.clone(),
    };
    let scanner = Scanner::new(needles, AllowList::load(&allow_dir)?);

    let mut findings: Vec<Finding> = Vec::new();
    let mut scanned = 0;
    let mut skipped = 0;
    let mut record = |result: std::result::Result<Vec<Finding>, Skip>, commit: Option<&String>| match result {
        Ok(found) => {
            scanned += 1;
            findings.extend(found.into_iter().map(|mut f| {
                f.commit = commit.cloned();
                f
            }));
        }
        Err(_) => skipped += 1,
    };
    match &repo {
        Some(r) => {
            let prefixes = sources::repo_prefixes(r, &args.paths)?;
            if args.staged || args.history {
                let files = if args.staged {
                    sources::staged_files(r, &prefixes)?
                } else {
                    sources::history_files(r, &prefixes)?
                };
                let odb = r
                    .odb()
                    .map_err(|e| Error::msg(format!("cannot read git objects: {}", e.message())))?;
                for f in &files {
                    // Skip an oversized blob by its header, without loading it.
                    if odb
                        .read_header(f.blob)
                        .is_ok_and(|(size, _)| size > crate::scan::MAX_FILE_SIZE)
                    {
                        record(Err(Skip::TooLarge), f.commit.as_ref());
                        continue;
                    }
                    let blob = r.find_blob(f.blob).map_err(|e| {
                        Error::msg(format!("cannot read {} from git: {}", f.name, e.message()))
                    })?;
                    if let Some(result) =
                        scan_one(&scanner, &f.name, skip.kind_of_name(&f.name), blob.content())
                    {
                        record(result, f.commit.as_ref());
                    }
                }
            } else {
                for f in sources::worktree_files(r, &prefixes)? {
                    match read_file(&f.path)? {
                        Some(Ok(bytes)) => {
                            if let Some(result) =
                                scan_one(&scanner, &f.name, skip.kind_of_name(&f.name), &bytes)
                            {
                                record(result, None);
                            }
                        }
                        Some(Err(skip_reason)) => record(Err(skip_reason), None),
                        None => {}
                    }
                }
            }
        }
        None => {
            let roots = if args.paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                args.paths.clone()
            };
            for f in sources::plain_files(&roots)? {
                let kind = skip.kind_of_path(&f.path);
                match read_file(&f.path)? {
                    Some(Ok(bytes)) => {
                        if let Some(result) = scan_one(&scanner, &f.name, kind, &bytes) {
                            record(result, None);
                        }
                    }
                    Some(Err(skip_reason)) => record(Err(skip_reason), None),
                    None => {}
                }
            }
        }
    }
    findings.sort();
    findings.dedup();

    if args.json {
        output::json(&Report {
            findings: &findings,
            files_scanned: scanned,
            files_skipped: skipped,
            vault_values_checked: scanner.checks_values(),
            notes: &notes,
        })?;
    } else {
        let mut text = String::new();
        for f in &findings {
            if let Some(c) = &f.commit {
                text.push_str(c);
                text.push(':');
            }
            text.push_str(&format!("{}:{}: {}", sanitize(&f.file), f.line, f.rule));
            if let (Some(secret), Some(encoding)) = (&f.secret, f.encoding) {
                text.push_str(&format!(" {secret} ({encoding})"));
            }
            text.push('\n');
        }
        output::stdout_bytes(text.as_bytes())?;
        for n in &notes {
            status(quiet, &format!("agevault scan: {n}"));
        }
    }
    let what = if args.staged {
        "staged file(s)"
    } else if args.history {
        "file version(s) in history"
    } else {
        "file(s)"
    };
    if findings.is_empty() {
        status(
            quiet,
            &format!(
                "agevault scan: no secrets found in {scanned} {what} ({skipped} binary or oversized skipped)"
            ),
        );
        return Ok(ExitStatus::Success);
    }
    let files: BTreeSet<&str> = findings.iter().map(|f| f.file.as_str()).collect();
    eprintln!(
        "agevault scan: {} finding(s) in {} {what}{}",
        findings.len(),
        files.len(),
        if args.staged {
            "; the commit is blocked"
        } else {
            ""
        }
    );
    eprintln!(
        "agevault scan: move the secret into the vault (`agevault set PATH`) and read it at run time \
         (`agevault exec`); for a false positive add `agevault:allow` to the line or an entry to {ALLOW_FILE}{}",
        if args.staged {
            " (bypass once, at your own risk: git commit --no-verify)"
        } else {
            ""
        }
    );
    Ok(ExitStatus::Failure)
}

/// Files that scans treat specially: the vault (skipped only while it is really
/// encrypted), its lock file (skipped only while empty) and the config (public keys
/// and secret paths by design, never values).
struct SkipList {
    names: BTreeMap<String, Special>,
    absolute: Vec<(PathBuf, Special)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Vault,
    Lock,
    Config,
    None,
}

impl SkipList {
    fn kind_of_name(&self, name: &str) -> Special {
        self.names.get(name).copied().unwrap_or(Special::None)
    }

    fn kind_of_path(&self, path: &Path) -> Special {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.absolute
            .iter()
            .find(|(p, _)| *p == canon)
            .map_or(Special::None, |(_, k)| *k)
    }
}

/// The rule of a vault file that holds plaintext instead of age ciphertext.
const UNENCRYPTED_VAULT: &str = "unencrypted-vault";

/// Scans one file's content according to what it is; `None` when it is skipped.
fn scan_one(
    scanner: &Scanner,
    name: &str,
    kind: Special,
    content: &[u8],
) -> Option<std::result::Result<Vec<Finding>, crate::scan::Skip>> {
    match kind {
        Special::Config => None,
        Special::Vault if crate::vault_format::is_armored(content) => None,
        Special::Lock if content.is_empty() => None,
        Special::Vault => {
            // A decrypted vault about to be committed is the worst leak of all.
            let mut result = scanner.scan(name, content);
            let finding = Finding {
                commit: None,
                file: name.to_owned(),
                line: 1,
                rule: UNENCRYPTED_VAULT,
                secret: None,
                encoding: None,
            };
            match &mut result {
                Ok(found) => found.insert(0, finding),
                Err(_) => result = Ok(vec![finding]),
            }
            Some(result)
        }
        _ => Some(scanner.scan(name, content)),
    }
}

/// The needles of the current vault, when there is one and it can be read; otherwise
/// a note says why values are not checked and the patterns still run.
fn vault_needles(
    options: GlobalOptions,
    repo: Option<&Repository>,
    notes: &mut Vec<String>,
) -> Result<(Option<VaultNeedles>, SkipList)> {
    let mut skip = SkipList {
        names: BTreeMap::new(),
        absolute: Vec::new(),
    };
    let ws = match Workspace::resolve(options) {
        Ok(ws) => ws,
        Err(Error::NoConfig { .. }) => {
            notes.push(
                "no .agevault.toml found, so only secret patterns were checked (not vault values)".into(),
            );
            return Ok((None, skip));
        }
        Err(e) => return Err(e),
    };
    let mut special = vec![
        (ws.vault_path.clone(), Special::Vault),
        (store::lock_path(&ws.vault_path), Special::Lock),
    ];
    if let Some(config) = &ws.config {
        special.push((config.path.clone(), Special::Config));
    }
    for (file, kind) in special {
        if let Some(r) = repo {
            if let Ok(rel) = repo::relative_path(r, &file) {
                skip.names.insert(rel, kind);
            }
        }
        skip.absolute
            .push((file.canonicalize().unwrap_or_else(|_| file.clone()), kind));
    }
    let needles = match ws.read_document() {
        Ok(doc) => {
            let needles = VaultNeedles::new(&doc);
            if let Some(n) = &needles {
                if !n.skipped_short.is_empty() {
                    notes.push(format!(
                        "{} secret(s) shorter than {} characters are not searched (too many chance matches): {}",
                        n.skipped_short.len(),
                        crate::scan::needles::MIN_VALUE_LEN,
                        n.skipped_short.join(", ")
                    ));
                }
            }
            needles
        }
        Err(e) => {
            notes.push(format!(
                "vault values were not checked, only secret patterns: {e}"
            ));
            None
        }
    };
    Ok((needles, skip))
}

/// A file's bytes; None when it vanished meanwhile.
/// A file's content, or `Err(Skip::TooLarge)` without reading a file that is too
/// large to scan; `None` when it vanished since it was listed.
fn read_file(path: &Path) -> Result<Option<std::result::Result<Vec<u8>, Skip>>> {
    let too_large = std::fs::metadata(path).is_ok_and(|m| m.len() > crate::scan::MAX_FILE_SIZE as u64);
    if too_large {
        return Ok(Some(Err(Skip::TooLarge)));
    }
    match std::fs::read(path) {
        Ok(b) => Ok(Some(Ok(b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}
