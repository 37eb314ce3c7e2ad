//! The trust store: outside the repository, owned by the reader. It pins which vault id
//! lives at which path, each vault's writer set, and the highest generation seen per file.
//!
//! `$AGEVAULT_TRUST_DIR`, else `/var/lib/agevault/trust` for root (a host), else
//! `$XDG_STATE_HOME/agevault/trust` (default `~/.local/state/agevault/trust`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::trust::sigfile::WriterSet;

/// The host trust store.
pub const SYSTEM_DIR: &str = "/var/lib/agevault/trust";
const PINS_FILE: &str = "pins.json";
const STRICT_FILE: &str = "strict";
const MAX_PINS_FILE: u64 = 16 << 20;

/// One pinned vault.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VaultPin {
    /// Writer name → canonical key.
    pub writers: BTreeMap<String, String>,
    /// Vault file name → highest generation seen.
    pub generations: BTreeMap<String, u64>,
    /// How many writer changes of the chain are already accepted: later versions must
    /// extend the chain from there (a removed writer's old link is never replayed).
    #[serde(default)]
    pub chain: usize,
    /// Recipient keys seen removed (offboarded) in a version of this vault: no write
    /// here encrypts to them again unless they are added back explicitly.
    #[serde(default)]
    pub removed: std::collections::BTreeSet<String>,
    /// Vault file → the last version whose signatures were fully checked here (a hash of
    /// its bytes, its signature file and this pin's writers): the same version is not
    /// checked again (an Ed25519 verification on every `exec`).
    #[serde(default)]
    pub verified: BTreeMap<String, String>,
    /// Vault file → how the file and its signature file looked on disk (device, inode,
    /// size, times) when a read last found that version already checked: while they look
    /// the same, a read that does not open the file has nothing to hash or record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unchanged: BTreeMap<String, String>,
}

impl VaultPin {
    /// The pinned writer set.
    pub fn writer_set(&self) -> Result<WriterSet> {
        WriterSet::new(self.writers.iter().map(|(n, k)| (n.clone(), k.clone())))
            .map_err(|e| Error::msg(format!("the trust store holds an invalid writer set: {e}")))
    }
}

/// Everything the store holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pins {
    /// Absolute vault path → vault id.
    #[serde(default)]
    pub locations: BTreeMap<String, String>,
    /// Vault id → pin.
    #[serde(default)]
    pub vaults: BTreeMap<String, VaultPin>,
}

/// The store on disk.
pub struct TrustStore {
    /// Its directory.
    pub dir: PathBuf,
    /// Whether first use may pin (false once `trust provision --strict` ran).
    pub strict: bool,
    /// What it held when opened.
    pub pins: Pins,
}

/// The store's directory for this process.
pub fn store_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("AGEVAULT_TRUST_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from(SYSTEM_DIR));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::keys::home_dir().map(|h| h.join(".local/state")))
        .ok_or_else(|| {
            Error::msg("neither $XDG_STATE_HOME nor $HOME is set, so there is no trust store")
                .with_hint("set AGEVAULT_TRUST_DIR")
        })?;
    Ok(base.join("agevault").join("trust"))
}

/// The key a vault path is pinned under: its absolute, symlink-resolved path.
pub fn location_key(vault: &Path) -> String {
    let abs = fs::canonicalize(vault)
        .unwrap_or_else(|_| std::env::current_dir().map_or_else(|_| vault.to_path_buf(), |d| d.join(vault)));
    abs.display().to_string()
}

impl TrustStore {
    /// Opens (without creating) the store.
    pub fn open() -> Result<TrustStore> {
        let dir = store_dir()?;
        check_owner(&dir)?;
        let pins = read_pins(&dir.join(PINS_FILE))?;
        Ok(TrustStore {
            strict: dir.join(STRICT_FILE).exists(),
            dir,
            pins,
        })
    }

    /// The vault id pinned for this path.
    pub fn location(&self, vault: &Path) -> Option<&str> {
        self.pins.locations.get(&location_key(vault)).map(String::as_str)
    }

    /// The pin of a vault id.
    pub fn vault(&self, id: &str) -> Option<&VaultPin> {
        self.pins.vaults.get(id)
    }

    /// Applies `change` to the pins under the store's lock (re-reading them first) and
    /// saves when anything changed.
    pub fn update(&mut self, change: impl FnOnce(&mut Pins)) -> Result<()> {
        create_dir(&self.dir)?;
        let lock_path = self.dir.join("pins.lock");
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&lock_path)
            .map_err(|e| Error::io("opening the trust store lock", &lock_path, e))?;
        let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("locking", &lock_path, std::io::Error::from(e)))?;
        let path = self.dir.join(PINS_FILE);
        let mut pins = read_pins(&path)?;
        let before = pins.clone();
        change(&mut pins);
        if pins != before {
            let text = serde_json::to_vec_pretty(&pins).map_err(|e| Error::msg(e.to_string()))?;
            // Under the store's lock: what a killed writer left is nobody's now.
            crate::store::remove_stray_temp_files(&[&path])?;
            crate::store::replace_atomically(&path, &text)?;
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o600));
        }
        self.pins = pins;
        Ok(())
    }

    /// Makes first use of an unknown vault an error (hosts).
    pub fn set_strict(&self) -> Result<()> {
        create_dir(&self.dir)?;
        let path = self.dir.join(STRICT_FILE);
        fs::write(&path, "first use never pins: vaults must be provisioned\n")
            .map_err(|e| Error::io("writing", &path, e))
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("creating the trust store", dir, e))?;
    check_owner(dir)
}

/// A store another user could write is no anchor: refuse it.
fn check_owner(dir: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("reading the trust store", dir, e)),
    };
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(Error::msg(format!(
            "the trust store {} must be a directory owned by you (uid {me}) and writable by nobody else; fix it \
             (`chown`, `chmod 700`) or set AGEVAULT_TRUST_DIR",
            dir.display()
        )));
    }
    Ok(())
}

fn read_pins(path: &Path) -> Result<Pins> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pins::default()),
        Err(e) => return Err(Error::io("reading the trust store", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_PINS_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading the trust store", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::msg(format!("the trust store {} is damaged ({e})", path.display()))
            .with_hint("restore it from a backup, or re-provision it (`agevault trust provision FILE`)")
    })
}
