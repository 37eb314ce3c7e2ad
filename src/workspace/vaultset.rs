//! The main vault and the scope files, read and written as one document: reads gather
//! the files a command needs (verifying each), writes split the document by scope and
//! re-encrypt only the files whose contents or readers changed.

use std::path::Path;
use std::sync::Arc;

use crate::config::scopes::{self, Router, VaultFile};
use crate::config::{Config, ConfigFile};
use crate::document::{VaultDocument, VaultRecords};
use crate::error::{Error, Result};
use crate::keys::IdentitySet;
use crate::secret_buf::SecretBuf;
use crate::secret_path::SecretPath;
use crate::trust::pins::TrustStore;
use crate::trust::{self, Prior, StoreMode, Verified};
use crate::workspace::{self, Workspace, WriteSession};

/// Which vault files a command needs.
#[derive(Clone, Copy, Debug)]
pub enum Want<'a> {
    /// Every file (listing, writing).
    All,
    /// The files that may hold these paths or prefixes.
    Under(&'a [String]),
}

/// One vault file as a command loaded it.
pub struct Part {
    /// Which file.
    pub file: VaultFile,
    /// Whether it exists on disk.
    pub exists: bool,
    /// Whether this user read it (it was needed and decrypted).
    pub loaded: bool,
    /// A scope file's records as read (its fingerprint key), kept by a rewrite; its
    /// secrets are in the combined document.
    pub records: Option<VaultRecords>,
    /// Its verified signature: every existing file with `Want::All`, else the main
    /// vault and the files the command needed.
    pub verified: Option<Verified>,
    /// Why it was not read, when it was needed but could not be.
    pub unreadable: Option<String>,
    /// Its plaintext as loaded, for "did anything change" (loads for a write only).
    pub(crate) original: SecretBuf,
}

/// What a load produced: the combined document and each file.
pub struct Loaded {
    /// Every secret this user read, from every file, as one document (the main
    /// vault's recipients and extra fields).
    pub doc: VaultDocument,
    /// The main vault first, then each scope's file.
    pub parts: Vec<Part>,
}

impl Loaded {
    /// The scope files that were needed but could not be read.
    pub fn unreadable(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.unreadable.is_some())
    }
}

/// Whether a command that wants `want` needs `file`: all of them, or those that may
/// hold a path at or below one of the prefixes (the main vault: unless one scope owns
/// the prefix's whole subtree; a scope's file: when the prefix is in that scope, or
/// the scope's globs may match below it).
fn is_needed(file: &VaultFile, want: Want<'_>, router: &Router) -> bool {
    match (want, &file.scope) {
        (Want::All, _) => true,
        (Want::Under(prefixes), None) => {
            prefixes.is_empty() || prefixes.iter().any(|p| !router.owns_subtree(p))
        }
        (Want::Under(prefixes), Some(scope)) => {
            prefixes.is_empty()
                || prefixes.iter().any(|p| {
                    matches!(router.scope_of(p), Ok(Some(s)) if s == scope)
                        || router.scopes_under(p).contains(&scope.as_str())
                })
        }
    }
}

/// The main vault's document with every secret (and its meta) of the scope files read.
/// A copy left in the main vault by an interrupted move: the scope's wins, and the next
/// write drops the other.
fn combine(mut combined: VaultDocument, scope_docs: Vec<VaultDocument>) -> Result<VaultDocument> {
    for d in scope_docs {
        combined.absorb(d).map_err(Error::msg)?;
    }
    Ok(combined)
}

/// The combined document split into one per vault file (`files`, main vault first):
/// each secret and its meta go to the file of its scope; the main vault keeps the
/// document's recipients and records, and records which scope files exist, so a
/// deleted one is noticed instead of read as empty.
fn split_by_scope(
    combined: &VaultDocument,
    files: &[VaultFile],
    router: &Router,
) -> Result<Vec<VaultDocument>> {
    let mut docs: Vec<VaultDocument> = files
        .iter()
        .map(|f| VaultDocument::new(f.recipients.clone()))
        .collect();
    let index_of = |scope: Option<&str>| {
        files
            .iter()
            .position(|f| f.scope.as_deref() == scope)
            .unwrap_or(0)
    };
    for (path, value) in combined.leaves() {
        let i = index_of(router.scope_of(&path).map_err(Error::msg)?);
        let parsed = SecretPath::parse(&path).map_err(Error::msg)?;
        docs[i].set(&parsed, value.clone()).map_err(Error::msg)?;
    }
    for (path, meta) in combined.metas() {
        let i = index_of(router.scope_of(path).ok().flatten());
        docs[i].set_meta(path, meta.clone());
    }
    docs[0].set_recipients(combined.recipients());
    docs[0].set_records(combined.records().clone());
    docs[0].set_scope_files(files.iter().skip(1).filter_map(|f| f.scope.clone()).collect());
    Ok(docs)
}

/// What a scope file is verified against: the trust store and config trust opened
/// once per command, and the verified id of the main vault.
struct Anchor<'a> {
    store: &'a mut TrustStore,
    config_trust: Option<&'a trust::ConfigTrust>,
    vault_id: &'a str,
}

impl Workspace {
    /// Whether the config defines scopes.
    pub fn has_scopes(&self) -> bool {
        self.config.as_ref().is_some_and(|c| !c.file.scopes.is_empty())
    }

    /// Every vault file: the main vault, then each scope's.
    pub fn vault_files(&self) -> Vec<VaultFile> {
        match &self.config {
            Some(c) => scopes::files(c, &self.vault_path),
            None => vec![VaultFile {
                scope: None,
                path: self.vault_path.clone(),
                recipients: Vec::new(),
                readers: vec!["every recipient".into()],
            }],
        }
    }

    /// The scope router of the config (empty without one).
    pub fn router(&self) -> Result<Arc<Router>> {
        let Some(c) = &self.config else {
            return ConfigFile::default().router().map_err(Error::msg);
        };
        c.file.router().map_err(|message| Error::Config {
            path: c.path.clone(),
            message,
        })
    }

    /// This workspace looking at another vault file (same config and options).
    fn at(&self, path: &Path) -> Workspace {
        Workspace {
            options: self.options.clone(),
            config: self.config.clone(),
            vault_path: path.to_path_buf(),
        }
    }

    /// Verifies and reads the files `want` needs. The main vault's signature is always
    /// verified (its vault id anchors the scope files); a scope file is verified when it
    /// is needed, or always with `Want::All`, so a read touches only the files it uses.
    /// A needed scope file this user cannot read is an error when `required`, else it
    /// is reported in `unreadable`.
    pub fn load(&self, ids: &IdentitySet, want: Want<'_>, required: bool) -> Result<Loaded> {
        self.load_files(ids, want, required, false)
    }

    /// [`Workspace::load`]; `for_write` also keeps each file's plaintext as loaded, so
    /// the commit can tell which files changed.
    pub(crate) fn load_files(
        &self,
        ids: &IdentitySet,
        want: Want<'_>,
        required: bool,
        for_write: bool,
    ) -> Result<Loaded> {
        let router = self.router()?;
        let files = self.vault_files();
        let needed: Vec<bool> = files.iter().map(|f| is_needed(f, want, &router)).collect();
        let mut store = TrustStore::open()?;
        let config_trust = self.config_trust()?;
        let main_bytes = self.read_ciphertext()?;
        let main_verified = self.verify_file(
            &mut store,
            config_trust.as_ref(),
            &self.vault_path,
            &main_bytes,
            None,
        )?;
        let vault_id = main_verified.manifest.vault_id.clone();
        let mut anchor = Anchor {
            store: &mut store,
            config_trust: config_trust.as_ref(),
            vault_id: &vault_id,
        };
        let mut parts = Vec::with_capacity(files.len());
        let mut doc: Option<VaultDocument> = None;
        let mut scope_docs = Vec::new();
        let mut unchanged = Vec::new();
        for (file, needed) in files.into_iter().zip(needed) {
            if file.scope.is_none() {
                let original = if needed {
                    let plaintext = self.decrypt(&main_bytes, ids)?;
                    let d = self.parse(&plaintext)?;
                    let original = if for_write {
                        d.to_plaintext()
                    } else {
                        SecretBuf::default()
                    };
                    doc = Some(d);
                    original
                } else {
                    SecretBuf::default()
                };
                parts.push(Part {
                    file,
                    exists: true,
                    loaded: needed,
                    records: None,
                    verified: Some(main_verified.clone()),
                    unreadable: None,
                    original,
                });
                continue;
            }
            if !needed {
                let verified = self.check_unread_scope_file(&file, &mut anchor, &mut unchanged)?;
                parts.push(Part {
                    exists: file.path.exists(),
                    file,
                    loaded: false,
                    records: None,
                    verified,
                    unreadable: None,
                    original: SecretBuf::default(),
                });
                continue;
            }
            let recorded = doc
                .as_ref()
                .zip(file.scope.as_deref())
                .is_some_and(|(d, scope)| d.lists_scope_file(scope));
            let (part, scope_doc) =
                self.load_scope_file(file, &mut anchor, recorded, ids, required, for_write)?;
            parts.push(part);
            scope_docs.extend(scope_doc);
        }
        trust::remember_unchanged(&mut store, &vault_id, unchanged)?;
        if let Some(d) = &doc {
            trust::note_removed(&vault_id, &d.offboarded_keys())?;
        }
        let combined = combine(doc.unwrap_or_else(|| VaultDocument::new(Vec::new())), scope_docs)?;
        Ok(Loaded { doc: combined, parts })
    }

    /// Verifies one scope file and reads it: the part and the document read. A file
    /// this user cannot read is an error when `required`, else it is marked unreadable.
    fn load_scope_file(
        &self,
        file: VaultFile,
        anchor: &mut Anchor<'_>,
        recorded: bool,
        ids: &IdentitySet,
        required: bool,
        for_write: bool,
    ) -> Result<(Part, Option<VaultDocument>)> {
        let Some((bytes, verified)) = self.verify_scope_file(&file, anchor, recorded)? else {
            let part = Part {
                file,
                exists: false,
                loaded: false,
                records: None,
                verified: None,
                unreadable: None,
                original: SecretBuf::default(),
            };
            return Ok((part, None));
        };
        let mut part = Part {
            file,
            exists: true,
            loaded: false,
            records: None,
            verified: Some(verified),
            unreadable: None,
            original: SecretBuf::default(),
        };
        let scoped = self.at(&part.file.path);
        let mut doc = None;
        match crate::vault_format::decrypt_for(&part.file.path, &bytes, ids, &part.file.recipients) {
            Ok(plaintext) => {
                let d = scoped.parse(&plaintext)?;
                if for_write {
                    part.original = d.to_plaintext();
                }
                part.records = Some(d.records().clone());
                part.loaded = true;
                doc = Some(d);
            }
            Err(failure) if failure.is_not_a_recipient() => {
                let why = format!(
                    "{} is read only by {}, and none of your identities is one of them",
                    part.file.label(),
                    part.file.readers.join(", ")
                );
                if required {
                    return Err(
                        Error::NoMatchingIdentity(format!("{why}; nothing was run or changed")).with_hint(
                            format!(
                            "a writer who reads it can grant you access with `agevault scopes grant {} NAME`",
                            part.file.scope.as_deref().unwrap_or_default()
                        ),
                        ),
                    );
                }
                part.unreadable = Some(why);
            }
            Err(_) => {
                scoped.decrypt(&bytes, ids)?;
            }
        }
        Ok((part, doc))
    }

    /// A scope file a read does not open still raises this store's rollback mark: a
    /// version already checked here (same bytes, same signature file) costs two hashes;
    /// a new one is verified in full and recorded, and a missing or forged one is an
    /// error, as for the files the read opens. Otherwise a host that reads only `app/`
    /// would accept an old `prod` file the first time it reads `prod`.
    ///
    /// Cheaper still while the file and its signature look on disk as they did when a
    /// read last found them already checked (device, inode, size, times): nothing is
    /// read. Such a finding is returned (`remember`) to be recorded once per load.
    fn check_unread_scope_file(
        &self,
        file: &VaultFile,
        anchor: &mut Anchor<'_>,
        remember: &mut Vec<(std::path::PathBuf, String)>,
    ) -> Result<Option<Verified>> {
        let fingerprint = trust::stat_fingerprint(&file.path);
        if let Some(fp) = &fingerprint {
            if trust::unchanged_since_checked(anchor.store, anchor.vault_id, &file.path, fp) {
                return Ok(None);
            }
        }
        if file.path.exists() {
            let bytes = self.at(&file.path).read_ciphertext()?;
            if let Some(sig) = trust::read_sig(&file.path)? {
                if trust::already_checked(anchor.store, anchor.vault_id, &file.path, &bytes, &sig) {
                    // Only when nothing moved while it was read.
                    if let Some(fp) =
                        fingerprint.filter(|fp| trust::stat_fingerprint(&file.path).as_ref() == Some(fp))
                    {
                        remember.push((file.path.clone(), fp));
                    }
                    return Ok(None);
                }
            }
        }
        Ok(self
            .verify_scope_file(file, anchor, false)?
            .map(|(_, verified)| verified))
    }

    /// Reads and verifies one scope file: `None` when it does not exist (and never
    /// did here), an error when it is missing although the main vault lists it
    /// (`recorded`) or this trust store saw it, or when its signature does not verify.
    fn verify_scope_file(
        &self,
        file: &VaultFile,
        anchor: &mut Anchor<'_>,
        recorded: bool,
    ) -> Result<Option<(Vec<u8>, Verified)>> {
        if !file.path.exists() {
            let seen = anchor
                .store
                .vault(anchor.vault_id)
                .is_some_and(|p| trust::highest_generation(p, &file.path) > 0);
            if recorded || seen {
                return Err(Error::Trust(format!(
                    "{} is missing, but the vault {} it: a deleted scope file is refused (its secrets would \
                     silently disappear)",
                    file.label(),
                    if recorded { "records" } else { "was seen here with" },
                ))
                .with_hint(format!(
                    "restore it from git (`git checkout -- {}`)",
                    file.path.display()
                )));
            }
            return Ok(None);
        }
        let bytes = self.at(&file.path).read_ciphertext()?;
        let verified = self.verify_file(
            anchor.store,
            anchor.config_trust,
            &file.path,
            &bytes,
            Some(anchor.vault_id),
        )?;
        Ok(Some((bytes, verified)))
    }

    /// Without decrypting anything: checks the format and verifies the signature of
    /// every scope file (given the verified id of the main vault, which
    /// anchors them). One problem per file that fails, naming it.
    pub fn verify_scope_files(&self, vault_id: &str) -> Vec<String> {
        let opened = TrustStore::open().and_then(|store| Ok((store, self.config_trust()?)));
        let (mut store, config_trust) = match opened {
            Ok(opened) => opened,
            Err(e) => return vec![e.to_string()],
        };
        let mut anchor = Anchor {
            store: &mut store,
            config_trust: config_trust.as_ref(),
            vault_id,
        };
        let mut problems = Vec::new();
        for file in self.vault_files().iter().filter(|f| f.scope.is_some()) {
            match self.verify_scope_file(file, &mut anchor, false) {
                Ok(Some((bytes, _))) => {
                    if let Err(reason) = crate::vault_format::check(&file.path, &bytes) {
                        problems.push(format!("{}: {reason}", file.label()));
                    }
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("{}: {e}", file.label())),
            }
        }
        problems
    }

    /// Commits a session of a workspace with scopes (or whose config now has them):
    /// splits the document by scope, writes the files whose contents or readers
    /// changed, re-signs the others when the config changed. Returns whether anything
    /// was written.
    pub(crate) fn commit_scoped(&self, session: WriteSession, config: &Config) -> Result<bool> {
        let router = config.file.router().map_err(|message| Error::Config {
            path: config.path.clone(),
            message,
        })?;
        let files = scopes::files(config, &self.vault_path);
        let WriteSession {
            doc: combined,
            parts,
            prior: main_prior,
            ..
        } = session;
        let docs = split_by_scope(&combined, &files, &router)?;
        // A scope file created now joins the main vault's id, writers and chain.
        let new_file_prior = main_prior.clone().map(|mut p| {
            p.generation = 0;
            p.on_disk = None;
            p
        });
        let mut written = false;
        // Files that gain secrets are written before the main vault, which loses them
        // last: a failure in between leaves a secret in two files (the scope's copy
        // wins on reading), never in none.
        let mut order: Vec<(usize, (&VaultFile, VaultDocument))> =
            files.iter().zip(docs).enumerate().collect();
        order.rotate_left(1);
        for (i, (file, mut doc)) in order {
            let part = parts.iter().find(|p| p.file.path == file.path);
            let prior = if i == 0 {
                main_prior.clone()
            } else {
                // Each scope file keeps its own records (its fingerprint key).
                if let Some(records) = part.and_then(|p| p.records.as_ref()) {
                    doc.set_records(records.clone());
                }
                match part.and_then(|p| p.verified.as_ref()) {
                    Some(v) => Some(v.prior()),
                    None => new_file_prior.clone(),
                }
            };
            written |= self.write_part(file, doc, part, i == 0, prior.as_ref(), config)?;
        }
        Ok(written)
    }

    /// Writes one vault file of a scoped commit when its contents changed, re-signs it
    /// when only the config did. Returns whether it wrote anything.
    fn write_part(
        &self,
        file: &VaultFile,
        mut doc: VaultDocument,
        part: Option<&Part>,
        is_main: bool,
        prior: Option<&Prior>,
        config: &Config,
    ) -> Result<bool> {
        let exists = part.map_or(file.path.exists(), |p| p.exists);
        // Writable: the main vault, a file this session read, or one that does not
        // exist yet (creating it encrypts to its readers). An existing file the
        // session did not read is never rewritten from a partial view.
        let readable = is_main || !exists || part.is_some_and(|p| p.loaded);
        if !readable {
            if let Some((path, _)) = doc.leaves().next() {
                return Err(Error::NoMatchingIdentity(format!(
                    "cannot write `{path}`: it belongs to {}, which none of your identities reads (readers: {}); \
                     nothing was changed",
                    file.label(),
                    file.readers.join(", ")
                ))
                .with_hint(format!(
                    "ask one of its readers to make the change, or to grant you access with `agevault scopes \
                     grant {} NAME`",
                    file.scope.as_deref().unwrap_or_default()
                )));
            }
            let loaded_readers = part.map(|p| &p.file.recipients);
            if loaded_readers.is_some_and(|r| *r != file.recipients) {
                return Err(Error::NoMatchingIdentity(format!(
                    "this change alters who reads {}, which none of your identities reads, so it cannot be \
                     re-encrypted",
                    file.label()
                ))
                .with_hint("a reader of it must make the change (`agevault scopes grant/revoke`)"));
            }
            return self.resign_if_config_changed(file, part, config);
        }
        // A scope file is created even while empty: from then on a missing file is
        // always noticed.
        let plaintext = doc.to_plaintext();
        let changed = match part {
            Some(p) if p.exists && is_main => plaintext != p.original,
            Some(p) if p.exists => p.loaded && plaintext != p.original,
            _ => true,
        };
        if !changed {
            return self.resign_if_config_changed(file, part, config);
        }
        if let Some(p) = prior {
            trust::check_not_removed(&p.vault_id, doc.recipients(), &[], &file.path)?;
        }
        let ciphertext = workspace::encrypt_vault(&file.path, &mut doc)?;
        let (mut store, sig) =
            workspace::sign_new_version(&file.path, &ciphertext, prior, Some(config), &self.options.trust)?;
        trust::write_signed(&mut store, &file.path, &ciphertext, &sig)?;
        Ok(true)
    }

    /// After the main vault was signed anew (`trust sign`), signs every existing scope
    /// file's unchanged bytes with the current config. Each must carry a valid signature
    /// of this vault by writers reached from the trusted ones.
    pub fn resign_scope_files(&self, config: &Config) -> Result<()> {
        let main_bytes = self.read_ciphertext()?;
        let main = self.verify(&main_bytes)?;
        for file in scopes::files(config, &self.vault_path).into_iter().skip(1) {
            if !file.path.exists() {
                continue;
            }
            let bytes = self.at(&file.path).read_ciphertext()?;
            let sig = trust::read_sig(&file.path)?;
            // The full check (trust store, rollback, same vault id); only the config
            // digest is not compared, since signing the current config is the point.
            let mut store = TrustStore::open()?;
            let verified = trust::verify(
                &mut store,
                &file.path,
                &bytes,
                sig.as_deref(),
                None,
                &self.options.trust,
                StoreMode::ReadOnly,
                true,
                Some(&main.manifest.vault_id),
            )?;
            let part = Part {
                file: file.clone(),
                exists: true,
                loaded: false,
                records: None,
                verified: Some(verified),
                unreadable: None,
                original: SecretBuf::default(),
            };
            self.resign_if_config_changed(&file, Some(&part), config)?;
        }
        Ok(())
    }

    /// Signs an unchanged file again when the config it was signed with changed.
    fn resign_if_config_changed(
        &self,
        file: &VaultFile,
        part: Option<&Part>,
        config: &Config,
    ) -> Result<bool> {
        let Some(verified) = part.and_then(|p| p.verified.as_ref()) else {
            return Ok(false);
        };
        if verified.manifest.config_sha256 == config.digest
            && verified.manifest.writers == config.writer_set()?
        {
            return Ok(false);
        }
        let bytes = self.at(&file.path).read_ciphertext()?;
        // Only the version that was verified is signed again: a file replaced since
        // (a `git pull` running beside this command) is nobody's to vouch for.
        if trust::sigfile::sha256_hex(&bytes) != verified.manifest.vault_sha256 {
            return Err(Error::Trust(format!(
                "{} changed while this command ran, so it was not signed again; nothing was re-signed for it",
                file.label()
            ))
            .with_hint("run the command again"));
        }
        let prior: Prior = verified.prior();
        let (mut store, sig) = workspace::sign_new_version(
            &file.path,
            &bytes,
            Some(&prior),
            Some(config),
            &self.options.trust,
        )?;
        crate::store::replace_atomically(&trust::sig_path(&file.path), sig.render().as_bytes())?;
        trust::record(&mut store, &file.path, &sig.current.body, sig.chain.len())?;
        Ok(true)
    }
}
