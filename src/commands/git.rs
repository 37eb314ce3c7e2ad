//! `git setup`, and the drivers git calls: `git textconv FILE`, `git merge-driver %O %A %B %P`.

use std::path::{Path, PathBuf};

use crate::cli::{GitCommand, GitSetupArgs};
use crate::document::VaultDocument;
use crate::error::{Error, Result};
use crate::fingerprint::FingerprintKey;
use crate::git::setup::{self, Step};
use crate::git::{merge, repo, signatures, textconv};
use crate::keys::{self, IdentitySet};
use crate::output::{self, status};
use crate::terminal::sanitize;
use crate::trust::pins::TrustStore;
use crate::vault_format;
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
        GitCommand::MergeSig { ours, path, .. } => run_merge_sig(&options, &ours, path.as_deref()),
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
            .map_err(|e| Error::with_source("cannot find this program's own path", e))?;
        setup::shell_quote(&exe.to_string_lossy())
    } else {
        if crate::child::find_on_path("agevault").is_none() {
            let exe = std::env::current_exe().map_or_else(|_| "agevault".into(), |p| p.display().to_string());
            warnings.push(format!(
                "`agevault` is not on your PATH, so git cannot run the drivers or the hook yet \
                 (the hook blocks commits until it can): install it (e.g. `cargo install --locked --path .` or \
                 `install -m 755 {exe} /usr/local/bin/`), or run `agevault git setup --absolute` to make git \
                 call {exe} directly"
            ));
        }
        "agevault".to_owned()
    };

    let steps = [
        setup::configure_drivers(&repo, &program)?,
        setup::route_vault(&repo, &vault_rel)?,
        setup::route_signature(&repo, &format!("{vault_rel}.sig"))?,
        setup::install_hook(&repo, &program)?,
        add_fingerprint_key(&ws),
    ];
    let mut steps = Vec::from(steps);
    for file in ws.vault_files().into_iter().skip(1) {
        let rel = repo::relative_path(&repo, &file.path)?;
        steps.push(setup::route_vault(&repo, &rel)?);
        steps.push(setup::route_signature(&repo, &format!("{rel}.sig"))?);
    }
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
        crate::diagnostics::warning(w);
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
        if !session.doc.ensure_fingerprint_key() {
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
    let ws = Workspace::resolve(options.clone())
        .map_err(|e| format!("# agevault vault: no config to verify it with ({e})"))?;
    // Only a version a trusted writer signed is opened: a planted file must not make
    // textconv fingerprint guesses with the real key.
    // Any of the vault files (main or a scope's) may be the one git hands over.
    let mut trusted_file = None;
    let mut why = String::new();
    for file in ws.vault_files() {
        match trusted_version(&ws, &file.path, &bytes, None) {
            Ok(_) => {
                trusted_file = Some(file.path);
                break;
            }
            Err(e) => why = e.to_string(),
        }
    }
    let Some(vault_file) = trusted_file else {
        return Err(format!(
            "# agevault vault: not shown: this version is not signed by a trusted writer ({why}); ciphertext {}",
            textconv::ciphertext_id(&bytes)
        ));
    };
    let ids = keys::discover(&options.identities)
        .map_err(|e| format!("# agevault vault: identities cannot be loaded ({e})"))?;
    let plaintext = vault_format::decrypt(&vault_file, &bytes, &ids.identities).map_err(|f| match f {
        // The ciphertext's hash is public (anyone can hash the file): it only lets
        // `git log -p` show that the vault changed, for readers without a key.
        f if f.is_not_a_recipient() => format!(
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
    let key = doc.fingerprint_key().or_else(|| worktree_key(&ws, &ids));
    Ok(textconv::render(&doc, key.as_ref()))
}

fn worktree_key(ws: &Workspace, ids: &IdentitySet) -> Option<FingerprintKey> {
    let (doc, _) = ws.read_document_with(ids).ok()?;
    doc.fingerprint_key()
}

/// Whether `bytes`, a version of the vault at `vault` that git handed over without its
/// signature file, was signed by a writer this user trusts. The signature is looked up
/// in the work tree, the index and history; trust is the pinned writer set (or, before
/// any pin, the config's), reached directly or through a signed writer-change chain.
/// `repo_rel` is the vault's path in the repository when git gave it (merge driver).
fn trusted_version(
    ws: &Workspace,
    vault: &Path,
    bytes: &[u8],
    repo_rel: Option<&str>,
) -> Result<crate::trust::Verified> {
    let sha = crate::trust::sigfile::sha256_hex(bytes);
    // The working tree's signature first (it also covers the version before it), then
    // every version of the signature file git knows.
    let needle = format!("\nvault-sha256: {sha}\n");
    let sig = crate::trust::read_sig(vault)
        .ok()
        .flatten()
        .filter(|b| memchr::memmem::find(b, needle.as_bytes()).is_some())
        .or_else(|| {
            let git = repo::open(
                &ws.config
                    .as_ref()
                    .map_or_else(|| PathBuf::from("."), super::super::config::Config::dir),
            )
            .ok()?;
            let rel = match repo_rel {
                Some(r) => r.to_owned(),
                None => repo::relative_path(&git, vault).ok()?,
            };
            signatures::find(&git, &format!("{rel}.sig"), &sha)
        });
    let (manifest, sigfile) = crate::trust::verify_signature(vault, bytes, sig.as_deref())?;
    let store = TrustStore::open()?;
    let (trusted, accepted) = match store.vault(&manifest.vault_id) {
        Some(pin) => (pin.writer_set()?, pin.chain),
        None => match ws.config_trust()? {
            Some(c) => (c.writers, 0),
            None => {
                return Err(Error::Trust(
                    "this vault is not pinned here and there is no config".into(),
                ))
            }
        },
    };
    if let Some(id) = store.location(vault) {
        if id != manifest.vault_id {
            return Err(Error::Trust(format!(
                "it belongs to vault {}, not the pinned vault {id}",
                manifest.vault_id
            )));
        }
    }
    if !(trusted.contains_key(&manifest.signer) && accepted == 0) {
        crate::trust::chain_reaches(
            &trusted,
            accepted,
            &manifest.writers,
            &sigfile.chain,
            &manifest.signer,
        )
        .map_err(Error::Trust)?;
    }
    let signer_name = manifest
        .writers
        .name_of(&manifest.signer)
        .unwrap_or("?")
        .to_owned();
    Ok(crate::trust::Verified {
        manifest,
        sig: sigfile,
        signer_name,
    })
}

/// Where the vault's merge driver leaves the merged signature for the signature's driver.
fn merge_stash(git: &git2::Repository, vault_rel: &str) -> PathBuf {
    let id = crate::trust::sigfile::sha256_hex(vault_rel.as_bytes());
    git.path()
        .join("agevault-merge")
        .join(format!("{}.sig", &id[..32]))
}

fn run_merge_sig(options: &GlobalOptions, ours: &Path, path: Option<&str>) -> Result<ExitStatus> {
    let sig_rel = path.unwrap_or_default();
    let vault_rel = sig_rel.strip_suffix(".sig").unwrap_or(sig_rel);
    let git = repo::open(Path::new("."))?;
    let stash = merge_stash(&git, vault_rel);
    if let Ok(bytes) = std::fs::read(&stash) {
        crate::store::replace_atomically(ours, &bytes)?;
        let _ = std::fs::remove_file(&stash);
        status(
            options.quiet,
            &format!(
                "agevault: {} signed by the merge of {}",
                sanitize(sig_rel),
                sanitize(vault_rel)
            ),
        );
        Ok(ExitStatus::Success)
    } else {
        eprintln!(
            "agevault: CONFLICT in {}: no signed merge of {} is waiting; after resolving the vault, a writer \
             signs it with `agevault trust sign`",
            sanitize(sig_rel),
            sanitize(vault_rel)
        );
        Ok(ExitStatus::Failure)
    }
}

/// git's merge driver for a vault (`%O %A %B %P`): verifies and decrypts the three
/// versions, merges them per secret path, and writes the result, encrypted and signed,
/// over `ours` (git's `%A`), leaving its signature for the signature file's driver.
fn run_merge_driver(
    options: &GlobalOptions,
    base: &Path,
    ours: &Path,
    theirs: &Path,
    name: Option<&str>,
) -> Result<ExitStatus> {
    let run = MergeRun::start(options, name)?;
    let (base_doc, base_v) = split_side(run.read_side("the common ancestor's", base)?);
    let (ours_doc, ours_v) = split_side(run.read_side("our", ours)?);
    let (theirs_doc, theirs_v) = split_side(run.read_side("their", theirs)?);
    let (base_v, ours_v, theirs_v) = (base_v.as_ref(), ours_v.as_ref(), theirs_v.as_ref());
    run.check_one_vault([base_v, ours_v, theirs_v])?;
    run.check_not_replayed(base_v, ours_v, theirs_v)?;
    let prior = run.merged_prior(ours_v, theirs_v)?;
    let ours_doc = ours_doc.unwrap_or_else(|| VaultDocument::new(Vec::new()));
    let theirs_doc = theirs_doc.unwrap_or_else(|| VaultDocument::new(Vec::new()));
    let mut outcome = merge::merge_documents(base_doc.as_ref(), &ours_doc, &theirs_doc)
        .map_err(|e| Error::msg(format!("cannot merge {}: {e}", run.name)))?;
    run.check_no_removed_recipient(&outcome.doc, &ours_doc, &theirs_doc, ours_v)?;
    let (ciphertext, sig) = run.seal(&mut outcome.doc, prior.as_ref(), base_v, ours_v, theirs_v)?;
    run.write_result(ours, &ciphertext, &sig)?;
    run.report_recipient_changes(&ours_doc, &outcome.doc);
    Ok(run.report_outcome(&outcome))
}

/// One merge-driver run: what each of its steps needs to know.
struct MergeRun<'a> {
    options: &'a GlobalOptions,
    ws: Workspace,
    ids: IdentitySet,
    /// The vault's path in the repository as git gave it (`%P`), or empty.
    rel: String,
    /// The vault as messages name it: `rel` made printable, or "the vault".
    name: String,
    /// The vault's path in the work tree (it picks the format and the signature file).
    vault_in_repo: PathBuf,
    /// Where the merged signature waits for the signature's driver; `None` outside git.
    stash: Option<PathBuf>,
}

/// A version's document and the verified signature that made it trusted, apart (both
/// `None` for a side where the vault file is empty).
fn split_side(
    side: Option<(VaultDocument, crate::trust::Verified)>,
) -> (Option<VaultDocument>, Option<crate::trust::Verified>) {
    side.map_or((None, None), |(doc, verified)| (Some(doc), Some(verified)))
}

impl<'a> MergeRun<'a> {
    /// Resolves the workspace, the repository and the identities, and clears a stale
    /// signature stash left by an earlier merge of this vault.
    fn start(options: &'a GlobalOptions, name: Option<&str>) -> Result<Self> {
        let rel = name.unwrap_or_default().to_owned();
        let name = sanitize(if rel.is_empty() { "the vault" } else { &rel });
        let ws = Workspace::resolve(options.clone())?;
        let git = repo::open(
            &ws.config
                .as_ref()
                .map_or_else(|| PathBuf::from("."), super::super::config::Config::dir),
        )
        .ok();
        let stash = git.as_ref().map(|g| merge_stash(g, &rel));
        if let Some(stash) = &stash {
            let _ = std::fs::remove_file(stash);
        }
        let ids = keys::discover(&options.identities)?;
        let vault_in_repo = match git.as_ref().and_then(|g| g.workdir()) {
            Some(dir) if !rel.is_empty() => dir.join(&rel),
            _ => ws.vault_path.clone(),
        };
        Ok(MergeRun {
            options,
            ws,
            ids,
            rel,
            name,
            vault_in_repo,
            stash,
        })
    }

    /// Reads one of the three versions (`label` says which in messages), checks that a
    /// trusted writer signed it, and decrypts and parses it; `None` for an empty file.
    fn read_side(&self, label: &str, path: &Path) -> Result<Option<(VaultDocument, crate::trust::Verified)>> {
        let name = &self.name;
        let bytes = crate::store::read_regular_file(path, "vault", crate::store::MAX_VAULT_BYTES)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        // Each side must be a version a trusted writer signed: a branch that forges
        // the vault (its own recipients, a replayed old version) is refused here.
        let verified =
            trusted_version(&self.ws, &self.vault_in_repo, &bytes, Some(&self.rel)).map_err(|why| {
                Error::within(
                    format!("cannot merge {name}: {label} version is refused: "),
                    why,
                    "; nothing was merged (`git merge --abort`)",
                )
            })?;
        let cannot = |why: String| {
            Error::msg(format!(
                "cannot merge {name}: {label} version {why}; nothing was merged: ask a recipient who can decrypt \
                 all three versions to merge, or take one side with `git checkout --ours {name}` / \
                 `git checkout --theirs {name}` and re-apply the other side's changes with `agevault set`"
            ))
        };
        let plaintext = vault_format::decrypt(&self.vault_in_repo, &bytes, &self.ids.identities)
            .map_err(|f| cannot(f.to_string()))?;
        VaultDocument::parse(plaintext.as_slice())
            .map(|doc| Some((doc, verified)))
            .map_err(|e| cannot(format!("holds an invalid document ({e})")))
    }

    /// Refuses versions (base, ours, theirs; `None` where absent) of different vaults.
    fn check_one_vault(&self, versions: [Option<&crate::trust::Verified>; 3]) -> Result<()> {
        let ids_of: Vec<&str> = versions
            .iter()
            .filter_map(|v| v.map(|v| v.manifest.vault_id.as_str()))
            .collect();
        if ids_of.windows(2).any(|w| w[0] != w[1]) {
            return Err(Error::Trust(format!(
                "cannot merge {}: the versions belong to different vaults ({}); nothing was merged",
                self.name,
                ids_of.join(", ")
            )));
        }
        Ok(())
    }

    /// Refuses a side whose generation is below the base's. Both sides descend from the
    /// base: a side older than it is an old version replayed on a branch (e.g. the state
    /// before an offboarding), never a change.
    fn check_not_replayed(
        &self,
        base: Option<&crate::trust::Verified>,
        ours: Option<&crate::trust::Verified>,
        theirs: Option<&crate::trust::Verified>,
    ) -> Result<()> {
        let Some(b) = base else {
            return Ok(());
        };
        for (label, side) in [("our", ours), ("their", theirs)] {
            if let Some(v) = side {
                if v.manifest.generation < b.manifest.generation {
                    return Err(Error::Trust(format!(
                        "cannot merge {}: {label} version is generation {}, older than the common ancestor's \
                         generation {}: an old version replayed on a branch is refused; nothing was merged \
                         (`git merge --abort`)",
                        self.name, v.manifest.generation, b.manifest.generation
                    )));
                }
            }
        }
        Ok(())
    }

    /// What the merged version's signature builds on (see [`merged_prior`]), refusing
    /// writer changes that do not merge.
    fn merged_prior(
        &self,
        ours: Option<&crate::trust::Verified>,
        theirs: Option<&crate::trust::Verified>,
    ) -> Result<Option<crate::trust::Prior>> {
        merged_prior(ours, theirs).map_err(|e| {
            Error::Trust(format!(
                "cannot merge {}: {e}; nothing was merged (`git merge --abort`)",
                self.name
            ))
        })
    }

    /// Refuses a merge result that encrypts to a recipient removed on either side or
    /// seen removed here: a removed recipient never comes back through a merge; adding
    /// them again is an explicit `recipients add`.
    fn check_no_removed_recipient(
        &self,
        merged: &VaultDocument,
        ours: &VaultDocument,
        theirs: &VaultDocument,
        ours_v: Option<&crate::trust::Verified>,
    ) -> Result<()> {
        let removed_here = TrustStore::open()
            .ok()
            .and_then(|s| ours_v.and_then(|v| s.vault(&v.manifest.vault_id).map(|p| p.removed.clone())))
            .unwrap_or_default();
        if let Some(k) = merged
            .recipients()
            .iter()
            .find(|k| ours.was_offboarded(k) || theirs.was_offboarded(k) || removed_here.contains(*k))
        {
            return Err(Error::Trust(format!(
                "cannot merge {}: the merge would encrypt to {k}, who was removed (offboarded); nothing was merged \
                 (`git merge --abort`); if they should read it again, add them back with `agevault recipients add` \
                 after the merge",
                self.name
            )));
        }
        Ok(())
    }

    /// Encrypts the merged document and signs the ciphertext on top of `prior`, with the
    /// writers and config digest the merged config will have (see [`merged_config`]).
    fn seal(
        &self,
        merged: &mut VaultDocument,
        prior: Option<&crate::trust::Prior>,
        base: Option<&crate::trust::Verified>,
        ours: Option<&crate::trust::Verified>,
        theirs: Option<&crate::trust::Verified>,
    ) -> Result<(Vec<u8>, crate::trust::sigfile::SigFile)> {
        let name = &self.name;
        let ciphertext = crate::workspace::encrypt_vault(&self.vault_in_repo, merged)
            .map_err(|e| Error::with_source(format!("cannot merge {name}"), e))?;
        let (writers, digest) = merged_config(
            &self.ws,
            base.map(|v| &v.manifest),
            ours.map(|v| &v.manifest),
            theirs.map(|v| &v.manifest),
        )?;
        let (_, sig) = crate::workspace::sign_with(
            &self.vault_in_repo,
            &ciphertext,
            prior,
            &writers,
            &digest,
            ".agevault.toml",
            &self.options.trust,
        )
        .map_err(|e| {
            Error::with_source(
                format!("cannot merge {name}: the merged vault cannot be signed"),
                e,
            )
        })?;
        Ok((ciphertext, sig))
    }

    /// Leaves the signature in the stash for the signature file's merge driver (or says
    /// it is lost outside git), then writes the ciphertext over `ours`: %A is git's
    /// temporary file, and git reads the result back from it.
    fn write_result(
        &self,
        ours: &Path,
        ciphertext: &[u8],
        sig: &crate::trust::sigfile::SigFile,
    ) -> Result<()> {
        match &self.stash {
            Some(stash) => {
                if let Some(dir) = stash.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
                }
                crate::store::replace_atomically(stash, sig.render().as_bytes())?;
            }
            None => eprintln!(
                "agevault merge {}: not in a git repository, so the merged version's signature is not kept; a \
                 writer signs it with `agevault trust sign`",
                self.name
            ),
        }
        crate::store::replace_atomically(ours, ciphertext)
    }

    /// Warns when the merge result's recipients differ from ours: age has no sender
    /// authentication, so a recipient arriving through a merge must be seen.
    fn report_recipient_changes(&self, ours: &VaultDocument, merged: &VaultDocument) {
        let (added, removed) = recipient_changes(ours, merged);
        if !added.is_empty() || !removed.is_empty() {
            eprintln!(
                "agevault merge {}: this merge changes the recipients: added {}; removed {}; \
                 review them (`agevault check` compares them with .agevault.toml)",
                self.name,
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
    }

    /// Tells how the merge went: success, or the conflicting paths and how to resolve
    /// them (a failure, so git leaves the vault conflicted).
    fn report_outcome(&self, outcome: &merge::MergeOutcome) -> ExitStatus {
        let name = &self.name;
        if outcome.conflicts.is_empty() {
            status(
                self.options.quiet,
                &format!(
                    "agevault: merged {name} per secret path ({} change(s) taken from the other side)",
                    outcome.from_theirs
                ),
            );
            return ExitStatus::Success;
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
        ExitStatus::Failure
    }
}

/// The writers and config digest of the merged config as git will produce it: a side
/// that left the config as in the base takes the other side's. When both changed it,
/// ours is signed and a writer must sign the merged config afterwards.
fn merged_config(
    ws: &Workspace,
    base: Option<&crate::trust::sigfile::Manifest>,
    ours: Option<&crate::trust::sigfile::Manifest>,
    theirs: Option<&crate::trust::sigfile::Manifest>,
) -> Result<(crate::trust::sigfile::WriterSet, String)> {
    let current = || -> Result<(crate::trust::sigfile::WriterSet, String)> {
        let c = ws.require_config()?;
        Ok((c.writer_set()?, c.digest.clone()))
    };
    let (Some(o), Some(t)) = (ours, theirs) else {
        return current();
    };
    if o.config_sha256 == t.config_sha256 {
        return Ok((o.writers.clone(), o.config_sha256.clone()));
    }
    if base.is_some_and(|b| b.config_sha256 == o.config_sha256) {
        return Ok((t.writers.clone(), t.config_sha256.clone()));
    }
    if base.is_some_and(|b| b.config_sha256 == t.config_sha256) {
        return Ok((o.writers.clone(), o.config_sha256.clone()));
    }
    eprintln!(
        "agevault merge: both sides changed .agevault.toml; after the merge a writer reviews the merged config \
         and runs `agevault trust sign`"
    );
    current()
}

/// What the merged version's signature builds on: our chain plus their writer changes,
/// and a generation above both sides.
fn merged_prior(
    ours: Option<&crate::trust::Verified>,
    theirs: Option<&crate::trust::Verified>,
) -> std::result::Result<Option<crate::trust::Prior>, String> {
    let Some(first) = ours.or(theirs) else {
        return Ok(None);
    };
    let mut prior = first.prior();
    prior.on_disk = None;
    if let Some(t) = theirs {
        prior.generation = prior.generation.max(t.manifest.generation);
        // Writer changes are a numbered chain: the merge keeps the longer one when the
        // other is its prefix; two different changes of the writers do not merge.
        let same =
            |a: &[crate::trust::sigfile::Signed<crate::trust::sigfile::WriterChange>],
             b: &[crate::trust::sigfile::Signed<crate::trust::sigfile::WriterChange>]| {
                a.iter().zip(b).all(|(x, y)| x.message == y.message)
            };
        if !same(&prior.chain, &t.sig.chain) {
            return Err(
                "both sides changed the writers differently; merge the writer changes by hand \
                        (take one side, then `agevault trust add-writer`/`remove-writer`)"
                    .into(),
            );
        }
        if t.sig.chain.len() > prior.chain.len() {
            prior.chain.clone_from(&t.sig.chain);
            prior.writers = t.manifest.writers.clone();
        }
    }
    Ok(Some(prior))
}

/// Recipient keys the merge result has that ours lacked, and the other way round.
fn recipient_changes(ours: &VaultDocument, merged: &VaultDocument) -> (Vec<String>, Vec<String>) {
    let added = merged
        .recipients()
        .iter()
        .filter(|k| !ours.recipients().contains(k))
        .cloned()
        .collect();
    let removed = ours
        .recipients()
        .iter()
        .filter(|k| !merged.recipients().contains(k))
        .cloned()
        .collect();
    (added, removed)
}
