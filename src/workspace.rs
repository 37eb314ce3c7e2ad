//! Where a command works: the config, the vault path, the identities to try,
//! and the read / read-modify-write cycles over the vault.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::crypto::DecryptFailure;
use crate::document::{DocumentError, VaultDocument};
use crate::error::{Error, Result};
use crate::keys::{self, IdentitySet};
use crate::pgp::GpgFailure;
use crate::secret_buf::SecretBuf;
use crate::store::{self, VaultLock};
use crate::trust::pins::TrustStore;
use crate::trust::{self, Prior, StoreMode, TrustOptions, Verified};

mod vaultset;

pub use vaultset::{Part, Want};

/// Global options every command shares.
#[derive(Clone, Debug, Default)]
pub struct GlobalOptions {
    /// `--config FILE` / `AGEVAULT_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--vault FILE` / `AGEVAULT_VAULT`.
    pub vault: Option<PathBuf>,
    /// `--identity FILE`, in order.
    pub identities: Vec<PathBuf>,
    /// `-q`.
    pub quiet: bool,
    /// `--allow-rollback`, `--signing-key`.
    pub trust: TrustOptions,
}

/// The resolved workspace.
pub struct Workspace {
    /// The options it came from.
    pub options: GlobalOptions,
    /// The config, if one was found.
    pub config: Option<Config>,
    /// The vault file.
    pub vault_path: PathBuf,
}

/// A decrypted vault opened for writing: locked until committed or dropped.
pub struct WriteSession {
    /// The document to change.
    pub doc: VaultDocument,
    original: SecretBuf,
    /// The verified version it replaces (`None` only when signing an unsigned vault).
    pub prior: Option<Prior>,
    /// The config the signature must cover when it is not the one on disk yet
    /// (`recipients remove` writes the config after the vault).
    pub config_override: Option<Config>,
    /// With scopes: every vault file as loaded (the document combines them).
    pub(crate) parts: Vec<crate::workspace::Part>,
    _lock: VaultLock,
}

impl Workspace {
    /// Finds the config (if any) and the vault path.
    pub fn resolve(options: GlobalOptions) -> Result<Workspace> {
        let cwd = std::env::current_dir().map_err(|e| Error::io("reading", ".", e))?;
        let config = Config::find(options.config.as_deref(), &cwd)?;
        let vault_path = match (&options.vault, &config) {
            (Some(v), _) => v.clone(),
            (None, Some(c)) => c.vault_path(),
            (None, None) => return Err(Error::no_config(cwd)),
        };
        Ok(Workspace {
            options,
            config,
            vault_path,
        })
    }

    /// The config, or an error saying how to get one.
    pub fn require_config(&self) -> Result<&Config> {
        self.config.as_ref().ok_or_else(|| {
            Error::msg("this command needs a .agevault.toml")
                .with_hint("run `agevault init` to create one here, or pass --config FILE")
        })
    }

    /// Discovers identities in the order of the README's *Identities: where agevault looks*.
    pub fn identities(&self) -> Result<IdentitySet> {
        keys::discover(&self.options.identities)
    }

    /// Reads the vault's bytes.
    pub fn read_ciphertext(&self) -> Result<Vec<u8>> {
        read_vault_bytes(&self.vault_path)
    }

    /// Decrypts and parses the vault (with scopes: every file this user reads, as one document).
    pub fn read_document(&self) -> Result<VaultDocument> {
        let ids = self.identities()?;
        if self.has_scopes() {
            return self.load(&ids, crate::workspace::Want::All, false).map(|l| l.doc);
        }
        self.read_document_with(&ids).map(|(doc, _)| doc)
    }

    /// The document and the main vault's verified signature (for the access record):
    /// every file this user reads, or (`Some`) only the files that may hold `prefixes`,
    /// where a needed scope this user cannot read is an error naming it.
    pub fn read_document_verified_under(
        &self,
        prefixes: Option<&[String]>,
    ) -> Result<(VaultDocument, Verified)> {
        let ids = self.identities()?;
        if self.has_scopes() {
            let want = match prefixes {
                Some(p) => crate::workspace::Want::Under(p),
                None => crate::workspace::Want::All,
            };
            let loaded = self.load(&ids, want, prefixes.is_some())?;
            let verified = loaded
                .parts
                .first()
                .and_then(|p| p.verified.clone())
                .ok_or_else(|| Error::msg("the main vault was not verified"))?;
            return Ok((loaded.doc, verified));
        }
        self.read_verified(&ids).map(|(doc, _, verified)| (doc, verified))
    }

    /// Like [`Workspace::read_document`], reading only the files that may hold `prefixes`;
    /// a needed scope this user cannot read is an error naming it.
    pub fn read_document_under(&self, prefixes: &[String]) -> Result<VaultDocument> {
        let ids = self.identities()?;
        if self.has_scopes() {
            return self
                .load(&ids, crate::workspace::Want::Under(prefixes), true)
                .map(|l| l.doc);
        }
        self.read_document_with(&ids).map(|(doc, _)| doc)
    }

    /// Decrypts and parses the vault with identities already discovered.
    pub fn read_document_with(&self, ids: &IdentitySet) -> Result<(VaultDocument, SecretBuf)> {
        self.read_verified(ids)
            .map(|(doc, plaintext, _)| (doc, plaintext))
    }

    /// Verifies the vault's signature and trust, then decrypts and parses it.
    pub fn read_verified(&self, ids: &IdentitySet) -> Result<(VaultDocument, SecretBuf, Verified)> {
        let bytes = self.read_ciphertext()?;
        let verified = self.verify(&bytes)?;
        let plaintext = self.decrypt(&bytes, ids)?;
        let doc = self.parse(&plaintext)?;
        trust::note_removed(&verified.manifest.vault_id, &doc.offboarded_keys())?;
        Ok((doc, plaintext, verified))
    }

    /// The config's trust settings, if there is a config.
    pub fn config_trust(&self) -> Result<Option<trust::ConfigTrust>> {
        self.config.as_ref().map(Config::trust).transpose()
    }

    /// Verifies `bytes` (the vault's current contents) against its signature, the config
    /// and the trust store (pinning on first use, recording higher generations).
    pub fn verify(&self, bytes: &[u8]) -> Result<Verified> {
        let trust = self.config_trust()?;
        self.verify_file(
            &mut TrustStore::open()?,
            trust.as_ref(),
            &self.vault_path,
            bytes,
            None,
        )
    }

    /// Verifies the vault file at `path` (`bytes`, its contents) with a trust store and
    /// config trust already opened: a command that verifies several files (scopes) reads
    /// the store and the config's trust settings once. `expected_vault_id` anchors a
    /// scope file to its main vault.
    pub fn verify_file(
        &self,
        store: &mut TrustStore,
        config_trust: Option<&trust::ConfigTrust>,
        path: &Path,
        bytes: &[u8],
        expected_vault_id: Option<&str>,
    ) -> Result<Verified> {
        let sig = trust::read_sig(path)?;
        trust::verify(
            store,
            path,
            bytes,
            sig.as_deref(),
            config_trust,
            &self.options.trust,
            StoreMode::Update,
            self.options.quiet,
            expected_vault_id,
        )
    }

    /// Decrypts vault bytes, mapping failures to sentences.
    pub fn decrypt(&self, bytes: &[u8], ids: &IdentitySet) -> Result<SecretBuf> {
        let path = self.vault_path.clone();
        // Only a hint of where the reader's stanza is: the main vault's recipients (a
        // scope file decrypted here, on an error path, just tries every stanza).
        let keys = self
            .config
            .as_ref()
            .map(Config::vault_recipient_keys)
            .unwrap_or_default();
        crate::vault_format::decrypt_for(&path, bytes, ids, &keys).map_err(|failure| match failure {
            DecryptFailure::Malformed(reason) | DecryptFailure::Damaged(reason) => {
                let hint = format!("restore it from git (`git checkout -- {}`)", path.display());
                Error::Corrupt { path, reason }.with_hint(hint)
            }
            DecryptFailure::NoMatchingKeys => {
                Error::NoMatchingIdentity(self.no_identity_message(ids)).with_hint(ids.next_step())
            }
            DecryptFailure::WrongPassphrase => Error::msg(format!(
                "cannot decrypt {}: the passphrase of a protected identity was wrong",
                path.display()
            ))
            .with_hint("run the command again and type the passphrase carefully"),
            DecryptFailure::Plugin(reason) => Error::msg(format!(
                "cannot decrypt {}: an age plugin failed: {reason}",
                path.display()
            )),
            DecryptFailure::Gpg(GpgFailure::NoSecretKey { key_ids }) => Error::NoMatchingIdentity(format!(
                "no key of yours can decrypt {}: it is encrypted to OpenPGP key id(s) {}, and gpg holds the \
                 secret key of none of them (`gpg --list-secret-keys` lists yours; check GNUPGHOME, or insert \
                 your smartcard)",
                path.display(),
                self.name_pgp_key_ids(&key_ids).join(", ")
            ))
            .with_hint("ask a recipient to add your key with `agevault recipients add NAME pgp:FINGERPRINT`"),
            DecryptFailure::Gpg(failure) => Error::msg(format!("cannot decrypt {}: {failure}", path.display())),
        })
    }

    /// `KEYID (recipient `NAME`)` for each key id a configured OpenPGP recipient owns
    /// (per the gpg keyring, subkeys included); the bare key id for the others.
    fn name_pgp_key_ids(&self, key_ids: &[String]) -> Vec<String> {
        let owners = self
            .config
            .as_ref()
            .map(|c| pgp_key_owners(c, key_ids))
            .unwrap_or_default();
        key_ids
            .iter()
            .map(|id| match owners.get(id) {
                Some(name) => format!("{id} (recipient `{}`)", crate::terminal::sanitize(name)),
                None => id.clone(),
            })
            .collect()
    }

    /// Parses decrypted bytes as a document.
    pub fn parse(&self, plaintext: &SecretBuf) -> Result<VaultDocument> {
        VaultDocument::parse(plaintext.as_slice()).map_err(|e| match e {
            DocumentError::FutureVersion(version) => Error::FutureVersion {
                path: self.vault_path.clone(),
                version,
            }
            .with_hint("upgrade agevault"),
            DocumentError::Oversized(problem, prefix) => Error::InvalidDocument {
                path: self.vault_path.clone(),
                reason: format!(
                    "{problem}; repair it with {}`agevault edit` (which leaves it out and drops it on save)",
                    prefix.map_or_else(String::new, |p| format!("`agevault rm -r {p}` or "))
                ),
            },
            other => Error::InvalidDocument {
                path: self.vault_path.clone(),
                reason: other.to_string(),
            },
        })
    }

    fn no_identity_message(&self, ids: &IdentitySet) -> String {
        let mut msg = format!("no identity can decrypt {}", self.vault_path.display());
        if ids.found.is_empty() {
            msg.push_str(
                "; none was found (tried --identity, $AGEVAULT_IDENTITY, $AGEVAULT_IDENTITY_FILE, \
                 ~/.config/agevault/identity.txt, /etc/agevault/identity.txt, ~/.ssh/id_ed25519, ~/.ssh/id_rsa)",
            );
        } else {
            let tried: Vec<String> = ids
                .found
                .iter()
                .map(|f| {
                    let keys: Vec<String> = f
                        .public_keys
                        .iter()
                        .map(|k| match self.config.as_ref().and_then(|c| c.recipient_name(k)) {
                            Some(name) => format!("{k}, configured as `{name}`"),
                            None => format!("{k}, not a configured recipient"),
                        })
                        .collect();
                    if keys.is_empty() {
                        f.source.clone()
                    } else {
                        format!("{} ({})", f.source, keys.join("; "))
                    }
                })
                .collect();
            msg.push_str(&format!("; tried {}", tried.join(", ")));
        }
        let failures = ids.failures();
        if !failures.is_empty() {
            msg.push_str(&format!("; skipped {}", failures.join(", ")));
        }
        if !ids.skipped.is_empty() {
            let unusable: Vec<String> = ids
                .skipped
                .iter()
                .map(|(source, why)| format!("{source} ({why})"))
                .collect();
            msg.push_str(&format!("; unusable: {}", unusable.join(", ")));
        }
        msg
    }

    /// Locks, decrypts and parses the vault for a change.
    pub fn open_for_write(&self) -> Result<WriteSession> {
        if self.has_scopes() {
            return self.open_scoped_for_write();
        }
        let ids = self.identities()?;
        if !self.vault_path.exists() {
            return Err(Error::no_vault(self.vault_path.clone()));
        }
        let lock = store::lock_exclusive(&self.vault_path)?;
        let (mut doc, _, verified) = self.read_verified(&ids)?;
        let original = doc.to_plaintext();
        // A vault written by the stock age CLI records no recipients: its first
        // write records (and encrypts to) the configured set.
        if doc.recipients().is_empty() {
            doc.set_recipients(&self.recipient_keys(&doc));
        }
        Ok(WriteSession {
            doc,
            original,
            prior: Some(verified.prior()),
            config_override: None,
            parts: Vec::new(),
            _lock: lock,
        })
    }

    /// Locks and loads every vault file (main and scopes) as one document for a change.
    fn open_scoped_for_write(&self) -> Result<WriteSession> {
        let ids = self.identities()?;
        if !self.vault_path.exists() {
            return Err(Error::no_vault(self.vault_path.clone()));
        }
        let lock = store::lock_exclusive(&self.vault_path)?;
        let loaded = self.load_files(&ids, crate::workspace::Want::All, false, true)?;
        let mut doc = loaded.doc;
        let original = doc.to_plaintext();
        if doc.recipients().is_empty() {
            doc.set_recipients(&self.recipient_keys(&doc));
        }
        Ok(WriteSession {
            doc,
            original,
            prior: loaded
                .parts
                .first()
                .and_then(|p| p.verified.as_ref())
                .map(Verified::prior),
            config_override: None,
            parts: loaded.parts,
            _lock: lock,
        })
    }

    /// Locks, decrypts and parses a vault whose signature is missing or broken, for
    /// `trust sign`: the caller has shown it to a writer. What the trust store knows of
    /// this path (vault id, writers, generation) still constrains the new signature.
    pub fn open_unverified_for_write(&self) -> Result<(WriteSession, Vec<u8>)> {
        let ids = self.identities()?;
        if !self.vault_path.exists() {
            return Err(Error::no_vault(self.vault_path.clone()));
        }
        let lock = store::lock_exclusive(&self.vault_path)?;
        let bytes = self.read_ciphertext()?;
        let plaintext = self.decrypt(&bytes, &ids)?;
        let mut doc = self.parse(&plaintext)?;
        let original = doc.to_plaintext();
        if doc.recipients().is_empty() {
            doc.set_recipients(&self.recipient_keys(&doc));
        }
        let sig = trust::read_sig(&self.vault_path)?;
        let store = TrustStore::open()?;
        // A signature that is intact but no longer covers the bytes (or the config) still
        // says which vault this is and who may sign it.
        let from_sig = sig
            .as_deref()
            .and_then(|b| trust::sigfile::SigFile::parse(b).ok())
            .filter(|s| {
                s.current
                    .verify(&s.current.body.signer, trust::sigfile::NAMESPACE_VAULT)
                    .is_ok()
            });
        let pinned = store
            .location(&self.vault_path)
            .and_then(|id| store.vault(id).map(|p| (id.to_owned(), p.clone())));
        let prior = match (from_sig, pinned) {
            (Some(s), pinned) => {
                if let Some((id, _)) = &pinned {
                    if *id != s.current.body.vault_id {
                        return Err(Error::Trust(format!(
                            "{} belongs to vault {}, but this path is pinned to vault {id}",
                            trust::sig_path(&self.vault_path).display(),
                            s.current.body.vault_id
                        ))
                        .with_hint("if the vault really was replaced, run `agevault trust forget` first"));
                    }
                }
                let (trusted, accepted) = match &pinned {
                    Some((_, p)) => (p.writer_set()?, p.chain),
                    None => (s.current.body.writers.clone(), s.chain.len()),
                };
                trust::chain_reaches(
                    &trusted,
                    accepted,
                    &s.current.body.writers,
                    &s.chain,
                    &s.current.body.signer,
                )
                .map_err(Error::Trust)?;
                Some(Prior {
                    vault_id: s.current.body.vault_id.clone(),
                    generation: s.current.body.generation,
                    writers: s.current.body.writers.clone(),
                    config_digest: s.current.body.config_sha256.clone(),
                    chain: s.chain.clone(),
                    on_disk: None,
                })
            }
            (None, Some((id, pin))) => Some(Prior {
                generation: pin.generations.values().copied().max().unwrap_or(0),
                writers: pin.writer_set()?,
                vault_id: id,
                config_digest: String::new(),
                chain: Vec::new(),
                on_disk: None,
            }),
            (None, None) => None,
        };
        Ok((
            WriteSession {
                doc,
                original,
                prior,
                config_override: None,
                parts: Vec::new(),
                _lock: lock,
            },
            bytes,
        ))
    }

    /// Like [`Workspace::open_for_write`], for `rm` and `edit`: a document whose secret
    /// paths break the depth or length caps opens without them (they are listed) and
    /// the next commit writes it back repaired, so such a vault is never a dead end.
    pub fn open_for_repair(&self) -> Result<(WriteSession, Vec<Vec<String>>)> {
        if self.has_scopes() {
            return self.open_scoped_for_write().map(|s| (s, Vec::new()));
        }
        let ids = self.identities()?;
        if !self.vault_path.exists() {
            return Err(Error::no_vault(self.vault_path.clone()));
        }
        let lock = store::lock_exclusive(&self.vault_path)?;
        let bytes = self.read_ciphertext()?;
        let verified = self.verify(&bytes)?;
        let plaintext = self.decrypt(&bytes, &ids)?;
        let repaired =
            VaultDocument::parse_repairing(plaintext.as_slice()).map_err(|e| Error::InvalidDocument {
                path: self.vault_path.clone(),
                reason: e.to_string(),
            })?;
        let mut doc = repaired.doc;
        // An empty original never equals a document, so a repaired one is always written.
        let original = if repaired.changed {
            SecretBuf::default()
        } else {
            doc.to_plaintext()
        };
        if doc.recipients().is_empty() {
            doc.set_recipients(&self.recipient_keys(&doc));
        }
        let session = WriteSession {
            doc,
            original,
            prior: Some(verified.prior()),
            config_override: None,
            parts: Vec::new(),
            _lock: lock,
        };
        Ok((session, repaired.left_out))
    }

    /// Refuses when the configured recipients differ from those the vault records.
    pub fn check_recipient_drift(&self, doc: &VaultDocument) -> Result<()> {
        let Some(config) = &self.config else {
            return Ok(());
        };
        let drift = RecipientDrift::between(config, doc.recipients());
        if drift.is_empty() {
            return Ok(());
        }
        Err(Error::RecipientDrift(format!(
            "{} and {} disagree about recipients, so writes are refused (an unreviewed config edit must never \
             receive secrets): {}",
            config.path.display(),
            self.vault_path.display(),
            drift.problems(config, doc).join("; "),
        )))
    }

    /// The keys writes encrypt to: the config's, or (without a config) those recorded in the vault.
    pub fn recipient_keys(&self, doc: &VaultDocument) -> Vec<String> {
        match &self.config {
            Some(c) => c.vault_recipient_keys(),
            None => doc.recipients().to_vec(),
        }
    }

    /// Encrypts `doc` to `recipient_keys` and replaces the vault, unless nothing changed.
    /// Returns whether the file was written.
    pub fn commit(&self, session: WriteSession) -> Result<bool> {
        self.check_recipient_drift(&session.doc)?;
        self.commit_unchecked(session)
    }

    /// Like [`Workspace::commit`] without the drift check (for recipient changes, which resolve drift).
    pub fn commit_unchecked(&self, mut session: WriteSession) -> Result<bool> {
        // The signature covers the config as it is now (recipient commands edit it first).
        let config = match session.config_override.take() {
            Some(c) => Some(c),
            None => self.config.as_ref().map(|c| Config::load(&c.path)).transpose()?,
        };
        if let Some(c) = config
            .as_ref()
            .filter(|c| !c.file.scopes.is_empty() || !session.parts.is_empty())
        {
            return self.commit_scoped(session, c);
        }
        let plaintext = session.doc.to_plaintext();
        if plaintext == session.original {
            return Ok(false);
        }
        if let Some(p) = &session.prior {
            trust::check_not_removed(&p.vault_id, session.doc.recipients(), &[], &self.vault_path)?;
        }
        let mut doc = session.doc;
        let ciphertext = encrypt_vault(&self.vault_path, &mut doc)?;
        let (mut store, sig) = sign_new_version(
            &self.vault_path,
            &ciphertext,
            session.prior.as_ref(),
            config.as_ref(),
            &self.options.trust,
        )?;
        trust::write_signed(&mut store, &self.vault_path, &ciphertext, &sig)?;
        Ok(true)
    }
}

impl WriteSession {
    /// Whether committing writes the vault even if the document is not changed further
    /// (it was opened by [`Workspace::open_for_repair`] and needed repair).
    pub fn repairs(&self) -> bool {
        self.original.as_slice().is_empty()
    }
}

/// Encrypts `doc` to the recipients it records, as the vault file at `path` (an age file,
/// or an OpenPGP one for a `.gpg` name). Every vault gains a fingerprint key (for
/// `git diff`) on its first write and keeps it.
pub fn encrypt_vault(path: &Path, doc: &mut VaultDocument) -> Result<Vec<u8>> {
    doc.ensure_fingerprint_key();
    crate::vault_format::encrypt(path, doc.to_plaintext().as_slice(), doc.recipients())
}

/// Which configured recipient owns each of these OpenPGP long key ids (primary key or
/// subkey), as the gpg keyring knows the configured fingerprints. Keys not in the
/// keyring cannot be matched and are left out.
pub fn pgp_key_owners(config: &Config, key_ids: &[String]) -> std::collections::BTreeMap<String, String> {
    let configured: Vec<(String, String)> = config
        .file
        .recipients
        .iter()
        .filter_map(|(name, r)| {
            crate::pgp::parse_fingerprint(&r.key)
                .ok()
                .map(|f| (name.clone(), f))
        })
        .collect();
    let mut owners = std::collections::BTreeMap::new();
    if configured.is_empty() || key_ids.is_empty() {
        return owners;
    }
    let fingerprints: Vec<String> = configured.iter().map(|(_, f)| f.clone()).collect();
    let Ok(keys) = crate::pgp::gpg::list_keys(&fingerprints) else {
        return owners;
    };
    for key in keys {
        let Some((name, _)) = configured.iter().find(|(_, f)| *f == key.fingerprint) else {
            continue;
        };
        for id in key_ids.iter().filter(|id| key.key_ids.contains(id)) {
            owners.insert(id.clone(), name.clone());
        }
    }
    owners
}

/// Signs `ciphertext` as the next version of the vault at `vault` (the writer set and
/// config digest come from `config`, or from `prior` without a config). Returns the
/// opened trust store and the signature file; nothing is written yet.
pub fn sign_new_version(
    vault: &Path,
    ciphertext: &[u8],
    prior: Option<&Prior>,
    config: Option<&Config>,
    options: &TrustOptions,
) -> Result<(TrustStore, trust::sigfile::SigFile)> {
    let (writers, digest) = match (config, prior) {
        (Some(c), _) => (c.writer_set()?, c.digest.clone()),
        (None, Some(p)) => (p.writers.clone(), p.config_digest.clone()),
        (None, None) => {
            return Err(
                Error::msg("a new vault needs a .agevault.toml that names its [writers]")
                    .with_hint("run `agevault init`"),
            )
        }
    };
    let file = config.map_or_else(|| "the config".to_owned(), |c| c.path.display().to_string());
    sign_with(vault, ciphertext, prior, &writers, &digest, &file, options)
}

/// Like [`sign_new_version`] with the writer set and config digest given.
pub fn sign_with(
    vault: &Path,
    ciphertext: &[u8],
    prior: Option<&Prior>,
    writers: &trust::sigfile::WriterSet,
    digest: &str,
    config_name: &str,
    options: &TrustOptions,
) -> Result<(TrustStore, trust::sigfile::SigFile)> {
    if writers.is_empty() {
        return Err(Error::Trust(format!(
            "{config_name} names no [writers], so no write can be signed"
        ))
        .with_hint(
            "add yourself with `agevault trust sign --add-writer NAME` (it signs the vault as well)",
        ));
    }
    let store = TrustStore::open()?;
    let pinned_generation = prior
        .and_then(|p| store.vault(&p.vault_id))
        .map_or(0, |pin| trust::highest_generation(pin, vault));
    let (signer, key) = trust::choose_signer(options, writers, prior.map(|p| &p.writers))?;
    let sig = trust::sign_version(
        vault,
        ciphertext,
        prior,
        writers,
        digest,
        pinned_generation,
        &signer,
        &key,
    )?;
    Ok((store, sig))
}

/// The difference between configured and recorded recipients.
pub struct RecipientDrift {
    /// In the config, not in the vault.
    pub added: Vec<String>,
    /// In the vault, not in the config.
    pub removed: Vec<String>,
}

impl RecipientDrift {
    /// Compares the config with a vault's recorded recipients.
    /// A vault without a record (one written by the stock age CLI) has no drift:
    /// its first write records the configured set.
    pub fn between(config: &Config, recorded: &[String]) -> RecipientDrift {
        if recorded.is_empty() {
            return RecipientDrift {
                added: Vec::new(),
                removed: Vec::new(),
            };
        }
        let configured: BTreeSet<String> = config.vault_recipient_keys().into_iter().collect();
        let recorded: BTreeSet<String> = recorded.iter().cloned().collect();
        RecipientDrift {
            added: configured.difference(&recorded).cloned().collect(),
            removed: recorded.difference(&configured).cloned().collect(),
        }
    }

    /// Whether the two agree.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// One sentence per difference, each with the command that resolves it.
    pub fn problems(&self, config: &Config, doc: &VaultDocument) -> Vec<String> {
        let file = config.path.display();
        let mut problems = Vec::new();
        for k in &self.added {
            let name = config.recipient_name(k).unwrap_or("?");
            problems.push(if doc.was_offboarded(k) {
                format!(
                    "recipient `{name}` was removed from the vault with `recipients remove` but is still in {file}; \
                     finish with `agevault recipients remove {name}`, never `add`"
                )
            } else {
                format!(
                    "recipient `{name}` is in {file} but the vault is not encrypted to it; \
                     run `agevault recipients add {name} {k}`"
                )
            });
        }
        for k in &self.removed {
            problems.push(format!(
                "the vault is encrypted to {k}, which {file} does not list; \
                 restore its entry and run `agevault recipients remove NAME`"
            ));
        }
        problems
    }
}

/// Reads the vault file, with a clear error when it is missing or a merge mangled it.
pub fn read_vault_bytes(path: &Path) -> Result<Vec<u8>> {
    let bytes = store::read_trusted_file(path, "vault", store::MAX_VAULT_BYTES).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::no_vault(path.to_owned())
        }
        Error::Io { source, .. } => Error::io("reading vault", path, source),
        other => other,
    })?;
    crate::conflict_markers::check(path, &bytes)?;
    Ok(bytes)
}
