//! Trust: every vault version is signed by a writer, readers verify it against a trust
//! store they own (vault id, writer set, highest generation), and writer-set changes
//! are accepted only through a chain signed by the previous set.

pub mod pins;
pub mod sigfile;
pub mod signer;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::terminal::sanitize;
use pins::TrustStore;
use sigfile::{Manifest, SigFile, Signed, WriterChange, WriterSet, NAMESPACE_VAULT, NAMESPACE_WRITERS};
use signer::Signer;

/// Trust settings from the command line (never from the repository).
#[derive(Clone, Debug, Default)]
pub struct TrustOptions {
    /// `--allow-rollback`: accept a generation older than the highest seen, loudly.
    pub allow_rollback: bool,
    /// `--signing-key FILE`, in order.
    pub signing_keys: Vec<PathBuf>,
}

/// What the config says about trust: its writers and the digest of its contents.
#[derive(Clone, Debug)]
pub struct ConfigTrust {
    /// The config file, for messages.
    pub path: PathBuf,
    /// `[writers]`.
    pub writers: WriterSet,
    /// The config's security digest (`ConfigFile::parse_with_digest`).
    pub digest: String,
}

/// The signature file of `vault`: `VAULT.sig` beside it.
pub fn sig_path(vault: &Path) -> PathBuf {
    let mut name = vault
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".sig");
    vault.with_file_name(name)
}

/// The vault's file name, as manifests record it.
pub fn file_name(vault: &Path) -> String {
    vault
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The key generations are recorded under: the file name, plus `@BRANCH` when the vault
/// is in a git work tree on a branch, so switching branches is not a rollback while a
/// branch (e.g. the `main` a host pulls) can never go back.
pub fn generation_key(vault: &Path) -> String {
    let file = file_name(vault);
    match current_branch(vault) {
        Some(branch) => format!("{file}@{branch}"),
        None => file,
    }
}

/// The highest generation recorded for `vault`'s file on any branch.
pub fn highest_generation(pin: &pins::VaultPin, vault: &Path) -> u64 {
    let file = file_name(vault);
    let branch_prefix = format!("{file}@");
    pin.generations
        .iter()
        .filter(|(k, _)| **k == file || k.starts_with(&branch_prefix))
        .map(|(_, g)| *g)
        .max()
        .unwrap_or(0)
}

fn current_branch(vault: &Path) -> Option<String> {
    let abs = std::fs::canonicalize(
        vault
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .ok()?;
    for dir in abs.ancestors() {
        let dot_git = dir.join(".git");
        let git_dir = match std::fs::symlink_metadata(&dot_git) {
            Ok(m) if m.is_dir() => dot_git,
            Ok(m) if m.is_file() => {
                let text = std::fs::read_to_string(&dot_git).ok()?;
                let target = text.trim().strip_prefix("gitdir: ")?;
                dir.join(target)
            }
            _ => continue,
        };
        let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
        return head
            .trim()
            .strip_prefix("ref: refs/heads/")
            .filter(|b| b.len() <= 255)
            .map(str::to_owned);
    }
    None
}

/// Reads `VAULT.sig` (bounded; a missing file is `None`; only regular files).
pub fn read_sig(vault: &Path) -> Result<Option<Vec<u8>>> {
    let path = sig_path(vault);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading signature", &path, e)),
    };
    if !meta.is_file() {
        return Err(Error::Trust(format!(
            "{} is not a regular file; it cannot be a signature",
            path.display()
        )));
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::io("reading signature", &path, e))?;
    let mut bytes = Vec::new();
    file.take(sigfile::MAX_SIG_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading signature", &path, e))?;
    Ok(Some(bytes))
}

/// A verified vault version.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The manifest that covers the bytes.
    pub manifest: Manifest,
    /// The whole signature file.
    pub sig: SigFile,
    /// The name of the writer who signed it.
    pub signer_name: String,
}

impl Verified {
    /// What the next write builds on.
    pub fn prior(&self) -> Prior {
        let current = if self.sig.current.body == self.manifest {
            self.sig.current.clone()
        } else {
            self.sig
                .previous
                .clone()
                .unwrap_or_else(|| self.sig.current.clone())
        };
        Prior {
            vault_id: self.manifest.vault_id.clone(),
            generation: self.sig.current.body.generation.max(self.manifest.generation),
            writers: self.manifest.writers.clone(),
            config_digest: self.manifest.config_sha256.clone(),
            chain: self.sig.chain.clone(),
            on_disk: Some(current),
        }
    }
}

/// What a new signature builds on.
#[derive(Clone, Debug)]
pub struct Prior {
    /// The vault id to keep.
    pub vault_id: String,
    /// The highest generation already used.
    pub generation: u64,
    /// The writer set the signer must belong to (or chain from).
    pub writers: WriterSet,
    /// The config digest it was signed with (used when there is no config).
    pub config_digest: String,
    /// The writer-change chain to carry forward.
    pub chain: Vec<Signed<WriterChange>>,
    /// The manifest covering the vault now on disk (kept as `previous`, for crash safety).
    pub on_disk: Option<Signed<Manifest>>,
}

/// Whether verification may change the trust store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Pin on first use, record higher generations and writer changes.
    Update,
    /// Only read it (merge inputs, textconv: old versions).
    ReadOnly,
}

fn untrusted(text: String) -> Error {
    Error::Trust(text)
}

/// Checks one manifest's own signature and that it covers `bytes` stored as `file`.
fn check_manifest(
    m: &Signed<Manifest>,
    bytes_sha: &str,
    file: &str,
    checked_before: bool,
) -> Result<(), String> {
    let body = &m.body;
    if body.vault_sha256 != bytes_sha {
        return Err("does not match its signature".into());
    }
    if body.file != file {
        return Err(format!(
            "is signed as file `{}`, not `{file}` (a vault file cannot stand in for another)",
            sanitize(&body.file)
        ));
    }
    if !body.writers.contains_key(&body.signer) {
        return Err(format!(
            "is signed by {}, which is not one of its writers",
            body.signer
        ));
    }
    if checked_before {
        return Ok(());
    }
    m.verify(&body.signer, NAMESPACE_VAULT)
        .map_err(|e| format!("has a bad signature by {}: {e}", body.signer))
}

/// Verifies the signature of `bytes` (the vault at `vault`), without looking at any
/// trust store: the manifest that covers them, signed by one of its own writers.
pub fn verify_signature(vault: &Path, bytes: &[u8], sig_bytes: Option<&[u8]>) -> Result<(Manifest, SigFile)> {
    verify_signature_inner(vault, &sigfile::sha256_hex(bytes), sig_bytes, false)
}

/// Like [`verify_signature`]; `checked_before` skips only the Ed25519 verification,
/// for a version this trust store already checked (see `VaultPin::verified`).
fn verify_signature_inner(
    vault: &Path,
    sha: &str,
    sig_bytes: Option<&[u8]>,
    checked_before: bool,
) -> Result<(Manifest, SigFile)> {
    let shown = vault.display();
    let Some(sig_bytes) = sig_bytes else {
        return Err(untrusted(format!(
            "vault {shown} is not signed ({} is missing), so it is refused: anyone who can push to the repository \
             could have written it",
            sig_path(vault).display()
        ))
        .with_hint(format!(
            "a writer who has reviewed it (`git log -p {shown}`) signs it with `agevault trust sign`"
        )));
    };
    let sig = SigFile::parse(sig_bytes).map_err(|e| {
        untrusted(format!(
            "the signature {} is malformed ({e})",
            sig_path(vault).display()
        ))
        .with_hint("a writer re-signs the vault with `agevault trust sign`")
    })?;
    let file = file_name(vault);
    let candidates = std::iter::once(&sig.current).chain(sig.previous.iter());
    let mut first_problem = None;
    for m in candidates {
        match check_manifest(m, sha, &file, checked_before) {
            Ok(()) => return Ok((m.body.clone(), sig)),
            Err(p) => {
                first_problem.get_or_insert(p);
            }
        }
    }
    let current = &sig.current.body;
    let signer = current.writers.name_of(&current.signer).unwrap_or("?").to_owned();
    Err(untrusted(format!(
        "vault {shown} {} (generation {} was signed by `{}` {}); it was changed without a writer's signature \
         and is refused",
        first_problem.unwrap_or_default(),
        current.generation,
        sanitize(&signer),
        current.signer,
    ))
    .with_hint(format!(
        "if a writer made the change, they re-sign with `agevault trust sign`; otherwise restore it with \
         `git checkout -- {shown} {}`",
        sig_path(vault).display()
    )))
}

/// Walks the writer-change chain from `from` (trusted after the first `accepted`
/// changes) to `to`: every later change, in order, must name the set before it and be
/// signed by one of its writers, and the chain must end at `to`. A chain shorter than
/// what was accepted, or a skipped or reordered change, is refused.
///
/// A version from before writer changes already accepted here (an older branch) has a
/// shorter chain; it is accepted only when `signer` is still a trusted writer, so a
/// removed writer cannot sign "old" versions.
pub fn chain_reaches(
    from: &WriterSet,
    accepted: usize,
    to: &WriterSet,
    chain: &[Signed<WriterChange>],
    signer: &str,
) -> std::result::Result<(), String> {
    if chain.len() < accepted {
        if from.contains_key(signer) {
            return Ok(());
        }
        return Err(format!(
            "it carries an older writer history ({} change(s), {accepted} already trusted here) and is signed by {signer}, \
             who is not a writer any more; update the branch (`git merge` the branch that changed the writers)",
            chain.len()
        ));
    }
    let mut current = from.clone();
    for link in &chain[accepted..] {
        if link.body.previous != current.digest() {
            return Err(format!(
                "writer change {} does not follow the trusted writers {}",
                link.body.index,
                current.names()
            ));
        }
        if !current.contains_key(&link.body.signer) {
            return Err(format!(
                "the change to writers {} is signed by {}, who was not a writer",
                link.body.writers.names(),
                link.body.signer
            ));
        }
        link.verify(&link.body.signer, NAMESPACE_WRITERS)
            .map_err(|e| format!("the change to writers {}: {e}", link.body.writers.names()))?;
        current = link.body.writers.clone();
    }
    if &current == to {
        Ok(())
    } else {
        Err(format!(
            "writers {} are not reached from the trusted writers {} by changes those writers signed",
            to.names(),
            from.names()
        ))
    }
}

/// Full verification of the vault `bytes` at `vault` for a reader: signature, config,
/// pinned vault id, writer chain, rollback. In `Update` mode, first use pins the vault
/// (unless the store is strict) and higher generations are recorded.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    store: &mut TrustStore,
    vault: &Path,
    bytes: &[u8],
    sig_bytes: Option<&[u8]>,
    config: Option<&ConfigTrust>,
    options: &TrustOptions,
    mode: StoreMode,
    quiet: bool,
    expected_vault_id: Option<&str>,
) -> Result<Verified> {
    let pinned_id = store.location(vault).map(str::to_owned);
    if sig_bytes.is_none() {
        if let Some(id) = &pinned_id {
            return Err(unsigned_but_pinned(vault, id));
        }
    }
    // A version this store already checked in full (same bytes, same signature file,
    // same pinned writers) skips the signature arithmetic; everything else is checked.
    let bytes_sha = sigfile::sha256_hex(bytes);
    let cache = sig_bytes.and_then(|b| check_cache(store, vault, &bytes_sha, b));
    let checked_before = cache.as_ref().is_some_and(|c| c.hit);
    let (manifest, sig) = verify_signature_inner(vault, &bytes_sha, sig_bytes, checked_before)?;
    let signer_name = manifest
        .writers
        .name_of(&manifest.signer)
        .unwrap_or("?")
        .to_owned();
    check_claims(
        vault,
        &manifest,
        &signer_name,
        config,
        pinned_id.as_deref(),
        expected_vault_id,
    )?;
    let file = generation_key(vault);
    let pin_writers = match store.vault(&manifest.vault_id) {
        Some(pin) => check_against_pin(pin, vault, &file, &manifest, &sig, checked_before, options)?,
        None => first_use(store, vault, &manifest, mode, quiet)?,
    };
    if mode == StoreMode::Update {
        if pin_writers || pinned_id.is_none() || is_new_generation(store, &file, &manifest) {
            record(store, vault, &manifest, sig.chain.len())?;
        }
        if let Some(cache) = cache {
            remember_checked(store, &file, &manifest, pin_writers, cache)?;
        }
    }
    Ok(Verified {
        manifest,
        sig,
        signer_name,
    })
}

/// The refusal of an unsigned version of a vault that is pinned as `id`.
fn unsigned_but_pinned(vault: &Path, id: &str) -> Error {
    untrusted(format!(
        "vault {} is not signed, but it is pinned as vault {id}: an unsigned version is never accepted again",
        vault.display()
    ))
    .with_hint(format!(
        "restore the vault and {} from git, or a writer re-signs with `agevault trust sign`",
        sig_path(vault).display()
    ))
}

/// What the store knows of one version's full check (see [`check_cache`]).
struct CheckCache {
    /// The vault id the signature file names.
    id: String,
    /// Whether this very version was checked in full before.
    hit: bool,
    /// The key that records this version as checked.
    key: String,
}

/// Looks up whether the store already checked these bytes with this signature file
/// against the writers pinned now; `None` when the vault is not pinned or the
/// signature file does not parse.
fn check_cache(store: &TrustStore, vault: &Path, bytes_sha: &str, sig_bytes: &[u8]) -> Option<CheckCache> {
    let id = SigFile::parse(sig_bytes).ok()?.current.body.vault_id;
    let pin = store.vault(&id)?;
    let key = cache_key(pin, bytes_sha, sig_bytes)?;
    let hit = pin.verified.get(&generation_key(vault)) == Some(&key);
    Some(CheckCache { id, hit, key })
}

/// The key under which a pin records a version of a file as checked in full: its
/// bytes, its signature file, and the writers and chain pinned now.
fn cache_key(pin: &pins::VaultPin, bytes_sha: &str, sig_bytes: &[u8]) -> Option<String> {
    Some(sigfile::sha256_hex(
        format!(
            "{}\n{}\n{}\n{}",
            bytes_sha,
            sigfile::sha256_hex(sig_bytes),
            pin.writer_set().ok()?.digest(),
            pin.chain
        )
        .as_bytes(),
    ))
}

/// How `vault` and its signature file look on disk: device, inode, size, modification
/// and change times of each (`None` when either is missing). A checkout or pull that
/// rewrites a file changes these; the change time cannot be set back from user space.
pub fn stat_fingerprint(vault: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let one = |path: &Path| {
        std::fs::symlink_metadata(path).ok().map(|m| {
            format!(
                "{}:{}:{}:{}.{}:{}.{}",
                m.dev(),
                m.ino(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            )
        })
    };
    Some(format!("{}|{}", one(vault)?, one(&sig_path(vault))?))
}

/// Whether `vault` still looks as it did when a read of vault `vault_id` last found
/// its version already checked ([`remember_unchanged`]).
pub fn unchanged_since_checked(store: &TrustStore, vault_id: &str, vault: &Path, fingerprint: &str) -> bool {
    store
        .vault(vault_id)
        .is_some_and(|pin| pin.unchanged.get(&generation_key(vault)).map(String::as_str) == Some(fingerprint))
}

/// Records how files of vault `vault_id` looked when found already checked (one
/// update of the store for all of them).
pub fn remember_unchanged(
    store: &mut TrustStore,
    vault_id: &str,
    files: Vec<(PathBuf, String)>,
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    store.update(|pins| {
        if let Some(pin) = pins.vaults.get_mut(vault_id) {
            for (path, fingerprint) in files {
                pin.unchanged.insert(generation_key(&path), fingerprint);
            }
        }
    })
}

/// Whether this store already checked exactly these bytes and this signature file of
/// `vault` in full as part of vault `vault_id` (so its generation is recorded and there
/// is nothing to verify or record again): what a read does for the scope files it
/// does not open, at the cost of two hashes instead of a verification.
pub fn already_checked(
    store: &TrustStore,
    vault_id: &str,
    vault: &Path,
    bytes: &[u8],
    sig_bytes: &[u8],
) -> bool {
    store.vault(vault_id).is_some_and(|pin| {
        cache_key(pin, &sigfile::sha256_hex(bytes), sig_bytes)
            .is_some_and(|key| pin.verified.get(&generation_key(vault)) == Some(&key))
    })
}

/// Checks what the signed manifest claims against what this reader expects: the
/// repository's vault id, the config's writers and digest, and the id pinned for this
/// path.
fn check_claims(
    vault: &Path,
    manifest: &Manifest,
    signer_name: &str,
    config: Option<&ConfigTrust>,
    pinned_id: Option<&str>,
    expected_vault_id: Option<&str>,
) -> Result<()> {
    let shown = vault.display();
    if let Some(expected) = expected_vault_id {
        if manifest.vault_id != expected {
            return Err(untrusted(format!(
                "{shown} is signed as part of vault {}, not of this repository's vault {expected}: a file from \
                 another vault is refused",
                manifest.vault_id
            )));
        }
    }
    if let Some(cfg) = config {
        if cfg.writers != manifest.writers {
            return Err(untrusted(format!(
                "the [writers] of {} ({}) differ from the writers that signed vault {shown} ({})",
                cfg.path.display(),
                cfg.writers.names(),
                manifest.writers.names()
            ))
            .with_hint("a writer of the signed set applies the change with `agevault trust sign`"));
        }
        if cfg.digest != manifest.config_sha256 {
            return Err(untrusted(format!(
                "{} was changed after `{}` signed generation {} of {shown}, so it is not trusted (recipients, \
                 writers, profiles and rules must be signed)",
                cfg.path.display(),
                sanitize(signer_name),
                manifest.generation
            ))
            .with_hint("a writer reviews the change (`git diff`) and runs `agevault trust sign`"));
        }
    }
    if let Some(id) = pinned_id {
        if id != manifest.vault_id {
            return Err(untrusted(format!(
                "vault {shown} claims to be vault {} but this path is pinned to vault {id}: a replaced vault is \
                 refused",
                manifest.vault_id
            ))
            .with_hint("if it really was replaced, run `agevault trust forget` and pin it again"));
        }
    }
    Ok(())
}

/// Checks a version of a pinned vault: its writers are reached from the pinned ones by
/// signed changes, and its generation (of `file`) is not below the highest seen (unless
/// rollback is allowed, loudly). Returns whether the pinned writers must be updated.
fn check_against_pin(
    pin: &pins::VaultPin,
    vault: &Path,
    file: &str,
    manifest: &Manifest,
    sig: &SigFile,
    checked_before: bool,
    options: &TrustOptions,
) -> Result<bool> {
    let shown = vault.display();
    let trusted = pin.writer_set()?;
    if !checked_before {
        chain_reaches(
            &trusted,
            pin.chain,
            &manifest.writers,
            &sig.chain,
            &manifest.signer,
        )
        .map_err(|e| {
            untrusted(format!("vault {shown} is refused: {e}")).with_hint(
                "if this is a legitimate change, a writer of the trusted set signs it (`agevault trust sign`), \
                 or re-provision this trust store",
            )
        })?;
    }
    if let Some(&seen) = pin.generations.get(file) {
        if manifest.generation < seen {
            if !options.allow_rollback {
                return Err(untrusted(format!(
                    "vault {shown} is generation {}, older than generation {seen} already seen here: a \
                     rollback (e.g. a reverted offboarding) is refused",
                    manifest.generation
                ))
                .with_hint(
                    "update your checkout (`git pull`), or pass --allow-rollback if you really mean to use \
                     the old version",
                ));
            }
            crate::diagnostics::warning(&format!(
                "ROLLBACK ACCEPTED: using vault {shown} generation {} although generation {seen} was seen \
                 (--allow-rollback)",
                manifest.generation
            ));
        }
    }
    Ok(trusted != manifest.writers)
}

/// A vault this store has not pinned: refused by a strict store, otherwise trusted on
/// first use (said on stderr when it will be pinned). Returns that its writers must be
/// pinned.
fn first_use(
    store: &TrustStore,
    vault: &Path,
    manifest: &Manifest,
    mode: StoreMode,
    quiet: bool,
) -> Result<bool> {
    let shown = vault.display();
    if store.strict {
        return Err(untrusted(format!(
            "vault {shown} (vault id {}) is not pinned in the trust store {} and first use does not pin \
             here",
            manifest.vault_id,
            store.dir.display()
        ))
        .with_hint(
            "provision it with `agevault trust provision FILE` (a writer makes FILE with `agevault trust anchor`)",
        ));
    }
    if mode == StoreMode::Update && !quiet {
        eprintln!(
            "agevault: trusting vault {shown} on first use: vault id {}, writers {}; pinned in {}",
            manifest.vault_id,
            manifest.writers.names(),
            store.dir.display()
        );
    }
    Ok(true)
}

/// Whether `manifest` is of a generation of `file` above the highest recorded here
/// (or of a file or vault not recorded yet).
fn is_new_generation(store: &TrustStore, file: &str, manifest: &Manifest) -> bool {
    store
        .vault(&manifest.vault_id)
        .and_then(|p| p.generations.get(file))
        .map_or(true, |&g| g < manifest.generation)
}

/// Records the version as checked in full (so the next read skips the signature
/// arithmetic) when it was not already, it is of the cached vault, and the pinned
/// writers are the ones that signed it.
fn remember_checked(
    store: &mut TrustStore,
    file: &str,
    manifest: &Manifest,
    pin_writers: bool,
    cache: CheckCache,
) -> Result<()> {
    let CheckCache { id, hit, key } = cache;
    if hit || id != manifest.vault_id {
        return Ok(());
    }
    if store
        .vault(&id)
        .is_some_and(|p| p.writer_set().ok() == Some(manifest.writers.clone()))
        && !pin_writers
    {
        let file = file.to_owned();
        store.update(|pins| {
            if let Some(pin) = pins.vaults.get_mut(&id) {
                pin.verified.insert(file, key);
            }
        })?;
    }
    Ok(())
}

/// Records a verified (or just written) manifest in the store: location, writers, generation.
pub fn record(store: &mut TrustStore, vault: &Path, manifest: &Manifest, chain_len: usize) -> Result<()> {
    let location = pins::location_key(vault);
    let file = generation_key(vault);
    store.update(|pins| {
        pins.locations
            .entry(location)
            .or_insert_with(|| manifest.vault_id.clone());
        let pin = pins.vaults.entry(manifest.vault_id.clone()).or_default();
        pin.writers = manifest
            .writers
            .iter()
            .map(|(n, k)| (n.clone(), k.clone()))
            .collect();
        let g = pin.generations.entry(file).or_insert(0);
        *g = (*g).max(manifest.generation);
        pin.chain = pin.chain.max(chain_len);
    })
}

/// A new random vault id.
pub fn new_vault_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base16ct::lower::encode_string(&bytes)
}

/// Picks the signing key for a write that moves from `prior` writers to `writers`.
pub fn choose_signer(
    options: &TrustOptions,
    writers: &WriterSet,
    prior: Option<&WriterSet>,
) -> Result<(Signer, String)> {
    let candidates = signer::discover(&options.signing_keys)?;
    if candidates.is_empty() {
        return Err(untrusted(
            "no signing key found (tried --signing-key, $AGEVAULT_SIGNING_KEY, ~/.config/agevault/signing-key, \
             ~/.ssh/id_ed25519, ssh-agent)"
                .into(),
        )
        .with_hint(
            "create one with `agevault trust keygen` and ask a writer to add it with `agevault trust add-writer NAME KEY`",
        ));
    }
    let tried: Vec<String> = candidates
        .iter()
        .map(|c| format!("{} ({})", c.public, c.source))
        .collect();
    let usable = candidates.into_iter().find(|c| {
        writers.contains_key(&c.public) && prior.map_or(true, |p| p == writers || p.contains_key(&c.public))
    });
    match usable {
        Some(c) => {
            let public = c.public.clone();
            Ok((c.unlock()?, public))
        }
        None => Err(untrusted(format!(
            "you are not a writer of this vault, so the write is refused: none of your signing keys ({}) is among \
             the writers ({}{})",
            tried.join(", "),
            writers.names(),
            match prior {
                Some(p) if p != writers => format!("; a change of writers must be signed by one of {}", p.names()),
                _ => String::new(),
            }
        ))
        .with_hint(
            "readers cannot change secrets: ask a writer to make the change, or to add you with `agevault trust \
             add-writer NAME KEY`",
        )),
    }
}

/// Builds the signature file for `new_bytes`, the next version of the vault at `vault`.
#[allow(clippy::too_many_arguments)]
pub fn sign_version(
    vault: &Path,
    new_bytes: &[u8],
    prior: Option<&Prior>,
    writers: &WriterSet,
    config_digest: &str,
    min_generation: u64,
    signer: &Signer,
    signer_key: &str,
) -> Result<SigFile> {
    let vault_id = prior.map_or_else(new_vault_id, |p| p.vault_id.clone());
    let mut chain = prior.map(|p| p.chain.clone()).unwrap_or_default();
    if let Some(p) = prior {
        if &p.writers != writers {
            let change = WriterChange {
                vault_id: vault_id.clone(),
                index: chain.len() as u64 + 1,
                previous: p.writers.digest(),
                writers: writers.clone(),
                signer: signer_key.to_owned(),
            };
            let message = change.message();
            let armor = signer.sign(NAMESPACE_WRITERS, message.as_bytes())?;
            if chain.len() >= sigfile::MAX_CHAIN {
                return Err(Error::msg("the writer-change chain is full; start a new vault"));
            }
            chain.push(Signed {
                body: change,
                message,
                armor,
            });
        }
    }
    let generation = prior
        .map_or(0, |p| p.generation)
        .max(min_generation)
        .checked_add(1)
        .ok_or_else(|| Error::msg("the vault's generation counter is exhausted"))?;
    let manifest = Manifest {
        vault_id,
        file: file_name(vault),
        generation,
        vault_sha256: sigfile::sha256_hex(new_bytes),
        config_sha256: config_digest.to_owned(),
        writers: writers.clone(),
        signer: signer_key.to_owned(),
    };
    let message = manifest.message();
    let armor = signer.sign(NAMESPACE_VAULT, message.as_bytes())?;
    Ok(SigFile {
        current: Signed {
            body: manifest,
            message,
            armor,
        },
        previous: prior.and_then(|p| p.on_disk.clone()),
        chain,
    })
}

/// Writes a signed vault: the signature first (it still covers the old bytes through
/// its `previous` manifest), then the vault, each replaced atomically; then records
/// the new generation in the store.
pub fn write_signed(store: &mut TrustStore, vault: &Path, bytes: &[u8], sig: &SigFile) -> Result<()> {
    crate::store::remove_stray_temp_files(&[vault, &sig_path(vault)])?;
    crate::store::replace_atomically(&sig_path(vault), sig.render().as_bytes())?;
    crate::store::replace_atomically(vault, bytes)?;
    record(store, vault, &sig.current.body, sig.chain.len())
}

/// Remembers recipients this machine has seen removed from a vault (from its
/// `offboarded` records), so no later write here encrypts to them again by accident,
/// e.g. on a branch that restored an older vault.
pub fn note_removed(vault_id: &str, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut store = TrustStore::open()?;
    let known = store
        .vault(vault_id)
        .map(|p| p.removed.clone())
        .unwrap_or_default();
    if keys.iter().all(|k| known.contains(k)) || store.vault(vault_id).is_none() {
        return Ok(());
    }
    store.update(|pins| {
        if let Some(pin) = pins.vaults.get_mut(vault_id) {
            pin.removed.extend(keys.iter().cloned());
        }
    })
}

/// Refuses a write that would encrypt to a recipient seen removed here, unless it is
/// being added back (`readmit`).
pub fn check_not_removed(
    vault_id: &str,
    recipients: &[String],
    readmit: &[String],
    what: &Path,
) -> Result<()> {
    let store = TrustStore::open()?;
    let Some(pin) = store.vault(vault_id) else {
        return Ok(());
    };
    if let Some(k) = recipients
        .iter()
        .find(|k| pin.removed.contains(*k) && !readmit.contains(*k))
    {
        return Err(untrusted(format!(
            "{} would be encrypted to {k}, who was removed from this vault (offboarded) in a version seen here: this \
             checkout holds an older vault (a branch that restored it?)",
            what.display()
        ))
        .with_hint(
            "update it (`git merge` the branch with the offboarding), or add them back on purpose with \
             `agevault recipients add`",
        ));
    }
    Ok(())
}

/// Forgets that `key` was removed (it is being added back on purpose).
pub fn readmit(vault_id: &str, key: &str) -> Result<()> {
    let mut store = TrustStore::open()?;
    if store.vault(vault_id).is_some_and(|p| p.removed.contains(key)) {
        store.update(|pins| {
            if let Some(pin) = pins.vaults.get_mut(vault_id) {
                pin.removed.remove(key);
            }
        })?;
    }
    Ok(())
}
