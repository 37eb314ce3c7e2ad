//! `git setup`, and the drivers git calls: `git textconv FILE`, `git merge-driver %O %A %B %P`.

use std::path::Path;

use crate::cli::{GitCommand, GitSetupArgs};
use crate::crypto::{self, DecryptFailure};
use crate::document::VaultDocument;
use crate::error::{Error, Result};
use crate::git::fingerprint::{self, FingerprintKey};
use crate::git::setup::{self, Step};
use crate::git::{merge, repo, textconv};
use crate::keys::{self, IdentitySet};
use crate::output::{self, status};
use crate::terminal::sanitize;
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

/// Runs a `git` subcommand.
pub fn run(options: GlobalOptions, cmd: GitCommand) -> Result<ExitStatus> {
    match cmd {
        GitCommand::Setup(args) => run_setup(options, &args),
        GitCommand::Textconv { file } => run_textconv(&options, &file),
        GitCommand::MergeDriver {
            base,
            ours,
            theirs,
            path,
        } => run_merge_driver(&options, &base, &ours, &theirs, path.as_deref()),
    }
}

fn run_setup(options: GlobalOptions, args: &GitSetupArgs) -> Result<ExitStatus> {
    let quiet = options.quiet;
    let ws = Workspace::resolve(options)?;
    let repo = repo::open(&ws.require_config()?.dir())?;
    let vault_rel = repo::relative_path(&repo, &ws.vault_path)?;

    let mut warnings = Vec::new();
    let program = if args.absolute {
        let exe = std::env::current_exe()
            .map_err(|e| Error::msg(format!("cannot find this program's own path: {e}")))?;
        setup::shell_quote(&exe.to_string_lossy())
    } else {
        if crate::child::find_on_path("agevault").is_none() {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "agevault".into());
            warnings.push(format!(
                "warning: `agevault` is not on your PATH, so git cannot run the drivers or the hook yet \
                 (the hook blocks commits until it can): install it (e.g. `cargo install --path .` or \
                 `install -m 755 {exe} /usr/local/bin/`), or run `agevault git setup --absolute` to make git \
                 call {exe} directly"
            ));
        }
        "agevault".to_owned()
    };

    let steps = [
        setup::configure_drivers(&repo, &program)?,
        setup::route_vault(&repo, &vault_rel)?,
        setup::install_hook(&repo, &program)?,
        add_fingerprint_key(&ws),
    ];
    let mut refused = false;
    for step in &steps {
        match step {
            Step::Unchanged(text) => status(quiet, &format!("ok       {text}")),
            Step::Changed(text) => status(quiet, &format!("done     {text}")),
            Step::Refused(text) => {
                refused = true;
                eprintln!("refused  {text}");
            }
        }
    }
    for w in &warnings {
        eprintln!("{w}");
    }
    Ok(if refused {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Gives the vault its fingerprint key now, so diffs of the next changes show which
/// values changed. Not fatal: without a key here the first later write adds one.
fn add_fingerprint_key(ws: &Workspace) -> Step {
    let attempt = || -> Result<bool> {
        let mut session = ws.open_for_write()?;
        if !fingerprint::ensure_key(&mut session.doc) {
            return Ok(false);
        }
        ws.commit(session)
    };
    match attempt() {
        Ok(false) => Step::Unchanged("vault: it has a fingerprint key for diffs".into()),
        Ok(true) => Step::Changed(format!(
            "vault: added a fingerprint key for diffs to {} (commit it)",
            ws.vault_path.display()
        )),
        Err(e) => Step::Unchanged(format!(
            "vault: no fingerprint key added now ({e}); the next write adds one"
        )),
    }
}

/// textconv never fails: an error here would break `git log -p` for everyone
/// without a key, so every problem becomes one explanatory line.
fn run_textconv(options: &GlobalOptions, file: &Path) -> Result<ExitStatus> {
    let text = match textconv_text(options, file) {
        Ok(text) => text,
        Err(line) => format!("{line}\n"),
    };
    output::stdout_bytes(text.as_bytes())?;
    Ok(ExitStatus::Success)
}

fn textconv_text(options: &GlobalOptions, file: &Path) -> std::result::Result<String, String> {
    let bytes = crate::store::read_regular_file(file, "vault", crate::store::MAX_VAULT_BYTES)
        .map_err(|e| format!("# agevault vault: cannot read it ({e})"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    let ids = keys::discover(&options.identities)
        .map_err(|e| format!("# agevault vault: identities cannot be loaded ({e})"))?;
    let plaintext = crypto::decrypt(&bytes, &ids.identities).map_err(|f| match f {
        // The ciphertext's hash is public (anyone can hash the file): it only lets
        // `git log -p` show that the vault changed, for readers without a key.
        DecryptFailure::NoMatchingKeys => format!(
            "{}; ciphertext {}",
            textconv::UNDECRYPTABLE,
            textconv::ciphertext_id(&bytes)
        ),
        other => format!("# agevault vault: {other}"),
    })?;
    // Peak memory: the ciphertext goes before the document is built beside the plaintext.
    drop(bytes);
    let doc = VaultDocument::parse(plaintext.as_slice())
        .map_err(|e| format!("# agevault vault: holds an invalid document ({e})"))?;
    drop(plaintext);
    // Versions written before fingerprint keys existed use the working tree's key, so
    // they compare with later versions (which keep that key).
    let key = FingerprintKey::of(&doc).or_else(|| worktree_key(options, &ids));
    Ok(textconv::render(&doc, key.as_ref()))
}

fn worktree_key(options: &GlobalOptions, ids: &IdentitySet) -> Option<FingerprintKey> {
    let ws = Workspace::resolve(options.clone()).ok()?;
    let (doc, _) = ws.read_document_with(ids).ok()?;
    FingerprintKey::of(&doc)
}

fn run_merge_driver(
    options: &GlobalOptions,
    base: &Path,
    ours: &Path,
    theirs: &Path,
    name: Option<&str>,
) -> Result<ExitStatus> {
    let name = sanitize(name.unwrap_or("the vault"));
    let ids = keys::discover(&options.identities)?;
    let open = |label: &str, path: &Path| -> Result<Option<VaultDocument>> {
        let bytes = crate::store::read_regular_file(path, "vault", crate::store::MAX_VAULT_BYTES)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let cannot = |why: String| {
            Error::msg(format!(
                "cannot merge {name}: {label} version {why}; nothing was merged: ask a recipient who can decrypt \
                 all three versions to merge, or take one side with `git checkout --ours {name}` / \
                 `git checkout --theirs {name}` and re-apply the other side's changes with `agevault set`"
            ))
        };
        let plaintext = crypto::decrypt(&bytes, &ids.identities).map_err(|f| cannot(f.to_string()))?;
        VaultDocument::parse(plaintext.as_slice())
            .map(Some)
            .map_err(|e| cannot(format!("holds an invalid document ({e})")))
    };
    let base_doc = open("the common ancestor's", base)?;
    let ours_doc = open("our", ours)?.unwrap_or_else(|| VaultDocument::new(Vec::new()));
    let theirs_doc = open("their", theirs)?.unwrap_or_else(|| VaultDocument::new(Vec::new()));
    let mut outcome = merge::merge_documents(base_doc.as_ref(), &ours_doc, &theirs_doc)
        .map_err(|e| Error::msg(format!("cannot merge {name}: {e}")))?;
    // %A is git's temporary file; git reads the result back from it. Replaced
    // atomically so a failed write never leaves a truncated vault behind.
    crate::workspace::write_vault(ours, &mut outcome.doc)
        .map_err(|e| Error::msg(format!("cannot merge {name}: {e}")))?;
    let (added, removed) = recipient_changes(&ours_doc, &outcome.doc);
    if !added.is_empty() || !removed.is_empty() {
        // age has no sender authentication: a recipient arriving through a merge must be seen.
        eprintln!(
            "agevault merge {name}: this merge changes the recipients: added {}; removed {}; \
             review them (`agevault check` compares them with .agevault.toml)",
            if added.is_empty() {
                "none".to_owned()
            } else {
                added.join(", ")
            },
            if removed.is_empty() {
                "none".to_owned()
            } else {
                removed.join(", ")
            },
        );
    }
    if outcome.conflicts.is_empty() {
        status(
            options.quiet,
            &format!(
                "agevault: merged {name} per secret path ({} change(s) taken from the other side)",
                outcome.from_theirs
            ),
        );
        return Ok(ExitStatus::Success);
    }
    eprintln!(
        "agevault: CONFLICT in {name}: {} changed differently on both sides",
        outcome
            .conflicts
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "agevault: the merged vault decrypts and keeps every side's value under `{}/<path>/{{base,ours,theirs}}`; \
         run `agevault edit`, set each path to the value it should have, delete the `{}` namespace, then \
         `git add {name}` and commit",
        merge::CONFLICTS,
        merge::CONFLICTS
    );
    Ok(ExitStatus::Failure)
}

/// Recipient keys the merge result has that ours lacked, and the other way round.
fn recipient_changes(ours: &VaultDocument, merged: &VaultDocument) -> (Vec<String>, Vec<String>) {
    let added = merged
        .recipients
        .iter()
        .filter(|k| !ours.recipients.contains(k))
        .cloned()
        .collect();
    let removed = ours
        .recipients
        .iter()
        .filter(|k| !merged.recipients.contains(k))
        .cloned()
        .collect();
    (added, removed)
}
