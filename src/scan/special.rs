//! Files that scans treat specially: the vault (skipped only while it is really
//! encrypted), its lock file (skipped only while empty) and the config (public keys
//! and secret paths by design, never values).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::git::repo;
use crate::scan::{Finding, Scanner, Skip};

/// The rule of a vault file that holds plaintext instead of age ciphertext.
const UNENCRYPTED_VAULT: &str = "unencrypted-vault";

/// What a file is to a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// The vault (or a scope file).
    Vault,
    /// The vault's lock file.
    Lock,
    /// `.agevault.toml`.
    Config,
    /// Any other file.
    None,
}

/// The special files of one workspace, by repository-relative name and by absolute path.
#[derive(Default)]
pub struct SkipList {
    names: BTreeMap<String, Special>,
    absolute: Vec<(PathBuf, Special)>,
}

impl SkipList {
    /// Knows each of `files` by its name in `repo` (when there is one) and by its
    /// canonical path.
    pub fn new(repo: Option<&Repository>, files: Vec<(PathBuf, Special)>) -> SkipList {
        let mut skip = SkipList::default();
        for (file, kind) in files {
            if let Some(r) = repo {
                if let Ok(rel) = repo::relative_path(r, &file) {
                    skip.names.insert(rel, kind);
                }
            }
            skip.absolute
                .push((file.canonicalize().unwrap_or_else(|_| file.clone()), kind));
        }
        skip
    }

    /// What the file with repository-relative `name` is.
    pub fn kind_of_name(&self, name: &str) -> Special {
        self.names.get(name).copied().unwrap_or(Special::None)
    }

    /// What the file at `path` is.
    pub fn kind_of_path(&self, path: &Path) -> Special {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.absolute
            .iter()
            .find(|(p, _)| *p == canon)
            .map_or(Special::None, |(_, k)| *k)
    }
}

/// Scans one file's content according to what it is; `None` when it is skipped.
pub fn scan_one(
    scanner: &Scanner,
    name: &str,
    kind: Special,
    content: &[u8],
) -> Option<Result<Vec<Finding>, Skip>> {
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
        Special::Lock | Special::None => Some(scanner.scan(name, content)),
    }
}
