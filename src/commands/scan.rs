//! `scan [PATHS…] [--staged | --history]`: plaintext copies of vault values and
//! hard-coded secrets. Prints file, line and rule, never the value; exit 1 on findings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::Repository;
use serde::Serialize;

use crate::cli::ScanArgs;
use crate::error::{Error, Result};
use crate::git::repo;
use crate::output::{self, status};
use crate::progress::Progress;
use crate::scan::allow::{AllowList, ALLOW_FILE};
use crate::scan::needles::VaultNeedles;
use crate::scan::special::{SkipList, Special};
use crate::scan::walk::{self, Tally, Versions};
use crate::scan::{sources, Scanner};
use crate::store;
use crate::terminal::sanitize;
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

#[derive(Serialize)]
struct Report<'a> {
    findings: &'a [crate::scan::Finding],
    files_scanned: usize,
    files_skipped: usize,
    vault_values_checked: bool,
    notes: &'a [String],
}

/// Scans and reports.
pub fn run(options: GlobalOptions, args: &ScanArgs) -> Result<ExitStatus> {
    let quiet = options.quiet;
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading", ".", e))?;
    let repo = open_repository(&cwd, args)?;
    if !args.staged && !args.history {
        sources::require_exists(&args.paths)?;
    }
    let mut notes = Vec::new();
    let (needles, skip) = vault_needles(options, repo.as_ref(), &mut notes)?;
    let allow_dir = match &repo {
        Some(r) => repo::workdir(r)?,
        None => cwd,
    };
    let scanner = Scanner::new(needles, AllowList::load(&allow_dir)?);
    // A long history takes a while: a bar on a terminal (never with -q).
    let progress = if args.history {
        Progress::spinner(quiet, "reading commits")
    } else {
        Progress::hidden()
    };
    let tally = match &repo {
        Some(r) => walk::scan_repo(r, &args.paths, versions(args), &scanner, &skip, &progress)?,
        None => walk::scan_directories(&plain_roots(args), &scanner, &skip)?,
    };
    progress.finish();
    if args.json {
        output::json(&Report {
            findings: &tally.findings,
            files_scanned: tally.scanned,
            files_skipped: tally.skipped,
            vault_values_checked: scanner.checks_values(),
            notes: &notes,
        })?;
    } else {
        print_findings(&tally)?;
        for n in &notes {
            status(quiet, &format!("agevault scan: {n}"));
        }
    }
    Ok(summarize(args, &tally, quiet))
}

/// The repository around `cwd`, if any; `--staged` and `--history` need one.
fn open_repository(cwd: &Path, args: &ScanArgs) -> Result<Option<Repository>> {
    let repo = Repository::discover(cwd).ok().filter(|r| !r.is_bare());
    if repo.is_none() && (args.staged || args.history) {
        return Err(Error::msg(format!(
            "{} is not inside a git repository; --staged and --history read git (scan plain directories without them)",
            cwd.display()
        )));
    }
    Ok(repo)
}

fn versions(args: &ScanArgs) -> Versions {
    if args.staged {
        Versions::Staged
    } else if args.history {
        Versions::History
    } else {
        Versions::Worktree
    }
}

/// Outside git: the PATHS given, or the current directory.
fn plain_roots(args: &ScanArgs) -> Vec<PathBuf> {
    if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    }
}

/// One line per finding: `[COMMIT:]FILE:LINE: RULE[ SECRET (ENCODING)]`.
fn print_findings(tally: &Tally) -> Result<()> {
    let mut text = String::new();
    for f in &tally.findings {
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
    output::stdout_bytes(text.as_bytes())
}

/// The closing lines on stderr, and the exit status: 1 on findings.
fn summarize(args: &ScanArgs, tally: &Tally, quiet: bool) -> ExitStatus {
    let what = if args.staged {
        "staged file(s)"
    } else if args.history {
        "file version(s) in history"
    } else {
        "file(s)"
    };
    if tally.findings.is_empty() {
        status(
            quiet,
            &format!(
                "agevault scan: no secrets found in {} {what} ({} binary or oversized skipped)",
                tally.scanned, tally.skipped
            ),
        );
        return ExitStatus::Success;
    }
    let files: BTreeSet<&str> = tally.findings.iter().map(|f| f.file.as_str()).collect();
    eprintln!(
        "agevault scan: {} finding(s) in {} {what}{}",
        tally.findings.len(),
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
    ExitStatus::Failure
}

/// The needles of the current vault, when there is one and it can be read; otherwise
/// a note says why values are not checked and the patterns still run.
fn vault_needles(
    options: GlobalOptions,
    repo: Option<&Repository>,
    notes: &mut Vec<String>,
) -> Result<(Option<VaultNeedles>, SkipList)> {
    let ws = match Workspace::resolve(options) {
        Ok(ws) => ws,
        Err(e) if matches!(e.kind(), Error::NoConfig { .. }) => {
            notes.push(
                "no .agevault.toml found, so only secret patterns were checked (not vault values)".into(),
            );
            return Ok((None, SkipList::default()));
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
    let skip = SkipList::new(repo, special);
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
