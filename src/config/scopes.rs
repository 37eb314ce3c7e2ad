//! Scopes: which vault file each secret path lives in, and who reads each file.
//!
//! A path belongs to the scope whose globs match it (a path matched by two scopes is
//! a config error); paths in no scope stay in the main vault, which every recipient
//! reads. Each scope file is encrypted to its readers only.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::config::{Config, ConfigFile};
use crate::vault_format::{VaultFormat, ONE_KIND_PER_FILE};

/// One vault file: the main vault (`scope == None`) or a scope's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultFile {
    /// The scope's name, or `None` for the main vault.
    pub scope: Option<String>,
    /// Where it lives.
    pub path: PathBuf,
    /// The recipient keys it is encrypted to, sorted and unique.
    pub recipients: Vec<String>,
    /// Who reads it, as configured (names and `role:ROLE`), for messages.
    pub readers: Vec<String>,
}

impl VaultFile {
    /// `scope `prod` (secrets.prod.json.age)` or `the main vault (secrets.json.age)`.
    pub fn label(&self) -> String {
        let file = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &self.scope {
            Some(s) => format!("scope `{s}` ({file})"),
            None => format!("the main vault ({file})"),
        }
    }
}

#[derive(Debug)]
struct Scope {
    name: String,
    /// The literal start of each include glob, up to its first wildcard.
    prefixes: Vec<String>,
    /// `LIT` of each include glob that is exactly `LIT/**` (a whole subtree).
    subtrees: Vec<String>,
    /// Whether the scope has `!` exclusions.
    excludes: bool,
}

/// Routes secret paths to scopes. Every scope's globs are compiled into one include
/// set and one exclude set (each glob remembers its scope): a `GlobSet` builds an
/// automaton, and one per scope made loading a 20-scope config cost more than
/// decrypting the file a command reads.
#[derive(Debug)]
pub struct Router {
    scopes: Vec<Scope>,
    include: GlobSet,
    include_owner: Vec<usize>,
    exclude: GlobSet,
    exclude_owner: Vec<usize>,
}

fn glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("`{pattern}` is not a valid glob: {}", e.kind()))
}

impl Router {
    /// Compiles the scopes of a config; checks names, globs, readers and files.
    pub fn new(file: &ConfigFile) -> Result<Router, String> {
        let mut scopes = Vec::new();
        let mut files = std::collections::BTreeSet::new();
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let (mut include_owner, mut exclude_owner) = (Vec::new(), Vec::new());
        for (name, entry) in &file.scopes {
            if let Some(problem) = crate::secret_path::segment_problem(name) {
                return Err(format!(
                    "scope name `{}` {problem}",
                    crate::terminal::sanitize(name)
                ));
            }
            let index = scopes.len();
            let mut prefixes = Vec::new();
            let mut subtrees = Vec::new();
            let mut excludes = false;
            for pattern in &entry.paths {
                if let Some(negated) = pattern.strip_prefix('!') {
                    exclude.add(glob(negated).map_err(|e| format!("[scopes.{name}] paths: {e}"))?);
                    exclude_owner.push(index);
                    excludes = true;
                } else {
                    include.add(glob(pattern).map_err(|e| format!("[scopes.{name}] paths: {e}"))?);
                    include_owner.push(index);
                    let literal: String = pattern
                        .chars()
                        .take_while(|c| !matches!(c, '*' | '?' | '[' | '{' | '\\'))
                        .collect();
                    if pattern.strip_suffix("/**") == Some(literal.trim_end_matches('/'))
                        && !literal.is_empty()
                    {
                        subtrees.push(literal.trim_end_matches('/').to_owned());
                    }
                    prefixes.push(literal);
                }
            }
            if prefixes.is_empty() {
                return Err(format!("[scopes.{name}] has no paths"));
            }
            if entry.readers.is_empty() {
                return Err(format!("[scopes.{name}] has no readers"));
            }
            let keys =
                resolve_readers(file, &entry.readers).map_err(|e| format!("[scopes.{name}] readers: {e}"))?;
            if keys.is_empty() {
                return Err(format!("[scopes.{name}] readers match no recipient"));
            }
            if let Some(f) = &entry.file {
                if f.is_empty() || f.contains('/') || f.starts_with('.') {
                    return Err(format!(
                        "[scopes.{name}] file must be a plain file name beside the vault"
                    ));
                }
            }
            let file_name = scope_file_name(file, name, entry.file.as_deref());
            let main = Path::new(file.vault.as_deref().unwrap_or(crate::config::DEFAULT_VAULT))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if file_name == main || !files.insert(file_name.clone()) {
                return Err(format!(
                    "[scopes.{name}] file `{file_name}` is used by another vault file"
                ));
            }
            scopes.push(Scope {
                name: name.clone(),
                prefixes,
                subtrees,
                excludes,
            });
        }
        Ok(Router {
            scopes,
            include: include.build().map_err(|e| e.to_string())?,
            include_owner,
            exclude: exclude.build().map_err(|e| e.to_string())?,
            exclude_owner,
        })
    }

    /// The scope `path` belongs to (`None`: the main vault). Two matching scopes are an error.
    pub fn scope_of(&self, path: &str) -> Result<Option<&str>, String> {
        if self.scopes.is_empty() {
            return Ok(None);
        }
        let excluded: Vec<usize> = self
            .exclude
            .matches(path)
            .into_iter()
            .map(|i| self.exclude_owner[i])
            .collect();
        let mut matching: Vec<usize> = self
            .include
            .matches(path)
            .into_iter()
            .map(|i| self.include_owner[i])
            .filter(|s| !excluded.contains(s))
            .collect();
        matching.sort_unstable();
        matching.dedup();
        match matching.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(&self.scopes[*one].name)),
            [first, second, ..] => Err(format!(
                "secret `{path}` matches both [scopes.{}] and [scopes.{}]; a path belongs to one scope: \
                 narrow one of them (a `!{path}` entry excludes it)",
                self.scopes[*first].name, self.scopes[*second].name
            )),
        }
    }

    /// Whether every path at or below `prefix` belongs to one scope's file: `prefix`
    /// lies in a `LIT/**` glob of a scope without exclusions. Otherwise a path below it
    /// may be in the main vault (or another scope), which a read of `prefix` must
    /// then also open.
    pub fn owns_subtree(&self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches('/');
        self.scopes.iter().any(|s| {
            !s.excludes
                && s.subtrees.iter().any(|lit| {
                    prefix
                        .strip_prefix(lit.as_str())
                        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
                })
        })
    }

    /// Scopes that may hold paths at or below `prefix` (all when `prefix` is empty).
    pub fn scopes_under(&self, prefix: &str) -> Vec<&str> {
        let prefix = prefix.trim_end_matches('/');
        self.scopes
            .iter()
            .filter(|s| {
                prefix.is_empty()
                    || s.prefixes.iter().any(|p| {
                        let p = p.trim_end_matches('/');
                        p.starts_with(prefix) || prefix.starts_with(p) || p.is_empty()
                    })
            })
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// The file name of a scope: `file`, or `<vault stem>.<scope>.json.age` (`.json.gpg` when
/// its readers have OpenPGP keys, since a file is encrypted to one kind of key).
fn scope_file_name(file: &ConfigFile, scope: &str, explicit: Option<&str>) -> String {
    if let Some(f) = explicit {
        return f.to_owned();
    }
    let main = Path::new(file.vault.as_deref().unwrap_or(crate::config::DEFAULT_VAULT))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".json.age", ".json.gpg", ".age", ".gpg"]
        .iter()
        .find_map(|suffix| main.strip_suffix(suffix))
        .unwrap_or(&main);
    let format = file
        .scopes
        .get(scope)
        .and_then(|entry| resolve_readers(file, &entry.readers).ok())
        .and_then(|keys| keys.first().map(|k| VaultFormat::for_key(k)))
        .unwrap_or_else(|| file.vault_format());
    format!("{stem}.{scope}.json.{}", format.extension())
}

/// One vault file is encrypted by one tool, so to one kind of key: a scope's readers
/// share a kind that its file name agrees with, and a recipient whose kind the main vault
/// cannot take reads at least one scope (else it could read nothing at all).
pub fn check_key_kinds(file: &ConfigFile) -> Result<(), String> {
    let main_format = file.vault_format();
    let main_name = file.vault.as_deref().unwrap_or(crate::config::DEFAULT_VAULT);
    let kind_of = |key: &str| VaultFormat::for_key(key);
    let name_of = |key: &str| {
        file.recipients
            .iter()
            .find(|(_, r)| r.key == key)
            .map_or_else(|| "?".to_owned(), |(n, _)| crate::terminal::sanitize(n))
    };
    let mut scope_readers: Vec<(String, VaultFormat, Vec<String>)> = Vec::new();
    for (name, entry) in &file.scopes {
        let keys = resolve_readers(file, &entry.readers)?;
        let Some(first) = keys.first() else { continue };
        let format = kind_of(first);
        if let Some(other) = keys.iter().find(|k| kind_of(k) != format) {
            let (age, pgp) = if format == VaultFormat::Age {
                (first, other)
            } else {
                (other, first)
            };
            return Err(format!(
                "[scopes.{name}] readers mix kinds of key: `{}` has an age/ssh key and `{}` an OpenPGP key, but \
                 {ONE_KIND_PER_FILE}; keep the secrets each kind of reader needs in a scope per key type (a \
                 scope whose readers all have pgp: keys gets a .gpg file)",
                name_of(age),
                name_of(pgp)
            ));
        }
        let file_name = scope_file_name(file, name, entry.file.as_deref());
        let named = VaultFormat::of_name(&file_name);
        if named != format {
            return Err(format!(
                "[scopes.{name}] file `{}` is {}, but its readers have {}; {ONE_KIND_PER_FILE}: name it \
                 `….json.{}`, or leave `file` out",
                crate::terminal::sanitize(&file_name),
                named.describe(),
                format.key_kinds(),
                format.extension()
            ));
        }
        scope_readers.push((name.clone(), format, keys));
    }
    let mut main_readers = 0;
    for (name, entry) in &file.recipients {
        if main_format.accepts(&entry.key) {
            main_readers += 1;
            continue;
        }
        if !scope_readers.iter().any(|(_, _, keys)| keys.contains(&entry.key)) {
            let kind = kind_of(&entry.key);
            return Err(format!(
                "recipient `{}` has {} key, but the main vault {} is {}, which only {} can read, and no scope \
                 names `{}` as a reader: {ONE_KIND_PER_FILE}; give `{}` {}, or make {} a reader of a scope of its \
                 own, whose file is .{} (with the recipient, write `[scopes.NAME] paths = [\"GLOB\"] readers = [\"{}\"]` \
                 into the config and apply both with `agevault trust sign`; later readers join with \
                 `agevault recipients add NAME KEY --scopes NAME`)",
                crate::terminal::sanitize(name),
                if kind == VaultFormat::Pgp { "an OpenPGP" } else { "an age/ssh" },
                crate::terminal::sanitize(main_name),
                main_format.describe(),
                main_format.key_kinds(),
                crate::terminal::sanitize(name),
                crate::terminal::sanitize(name),
                if main_format == VaultFormat::Pgp { "an OpenPGP key (pgp:FINGERPRINT)" } else { "an age or ssh key" },
                crate::terminal::sanitize(name),
                kind.extension(),
                crate::terminal::sanitize(name),
            ));
        }
    }
    if main_readers == 0 && !file.recipients.is_empty() {
        return Err(format!(
            "no recipient can read the main vault {}: it is {}, which only {} can read, and every recipient has \
             a key of the other kind; {ONE_KIND_PER_FILE}",
            crate::terminal::sanitize(main_name),
            main_format.describe(),
            main_format.key_kinds()
        ));
    }
    Ok(())
}

/// The recipient keys `readers` names (`NAME` or `role:ROLE`), sorted and unique.
pub fn resolve_readers(file: &ConfigFile, readers: &[String]) -> Result<Vec<String>, String> {
    let mut keys = std::collections::BTreeSet::new();
    for reader in readers {
        if let Some(role) = reader.strip_prefix("role:") {
            // A role may have no member right now (the last host was removed); the
            // scope as a whole must still have a reader.
            keys.extend(
                file.recipients
                    .values()
                    .filter(|r| r.role.as_deref() == Some(role))
                    .map(|r| r.key.clone()),
            );
        } else {
            let entry = file.recipients.get(reader).ok_or_else(|| {
                format!(
                    "`{}` is not a configured recipient",
                    crate::terminal::sanitize(reader)
                )
            })?;
            keys.insert(entry.key.clone());
        }
    }
    Ok(keys.into_iter().collect())
}

/// Every vault file of a config: the main vault first, then each scope's file.
pub fn files(config: &Config, main: &Path) -> Vec<VaultFile> {
    let recipients = config.vault_recipient_keys();
    let everyone = if recipients.len() == config.file.recipients.len() {
        "every recipient"
    } else if config.file.vault_format() == VaultFormat::Pgp {
        "every recipient with an OpenPGP key"
    } else {
        "every recipient with an age or ssh key"
    };
    let mut out = vec![VaultFile {
        scope: None,
        path: main.to_path_buf(),
        recipients,
        readers: vec![everyone.into()],
    }];
    let dir = main.parent().map(Path::to_path_buf).unwrap_or_default();
    for (name, entry) in &config.file.scopes {
        out.push(VaultFile {
            scope: Some(name.clone()),
            path: dir.join(scope_file_name(&config.file, name, entry.file.as_deref())),
            recipients: resolve_readers(&config.file, &entry.readers).unwrap_or_default(),
            readers: entry.readers.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scopes: &str) -> ConfigFile {
        let (_, k) = crate::keys::generate_identity();
        let (_, h) = crate::keys::generate_identity();
        let text = format!(
            "[recipients.alice]\nkey = \"{k}\"\nrole = \"developer\"\n[recipients.pve1]\nkey = \"{h}\"\nrole = \"host\"\n{scopes}"
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn routes_paths_and_rejects_overlap() {
        let c = config(
            "[scopes.prod]\npaths = [\"prod/**\", \"!prod/shared/*\"]\nreaders = [\"role:host\"]\n\
             [scopes.dev]\npaths = [\"dev/*\"]\nreaders = [\"alice\"]\n",
        );
        let r = Router::new(&c).unwrap();
        assert_eq!(r.scope_of("prod/db/password").unwrap(), Some("prod"));
        assert_eq!(r.scope_of("prod/shared/x").unwrap(), None);
        assert_eq!(r.scope_of("dev/x").unwrap(), Some("dev"));
        assert_eq!(r.scope_of("dev/x/y").unwrap(), None);
        assert_eq!(r.scope_of("samba/password").unwrap(), None);
        assert_eq!(r.scopes_under("prod"), ["prod"]);
        assert_eq!(r.scopes_under("samba").len(), 0);
        assert_eq!(r.scopes_under("").len(), 2);
        let overlap = config(
            "[scopes.a]\npaths = [\"x/**\"]\nreaders = [\"alice\"]\n[scopes.b]\npaths = [\"x/y\"]\nreaders = [\"alice\"]\n",
        );
        assert!(Router::new(&overlap).unwrap().scope_of("x/y").is_err());
        // An exclusion belongs to its own scope; two globs of one scope are no overlap.
        let handed_over = config(
            "[scopes.a]\npaths = [\"x/**\", \"x/*\", \"!x/y\"]\nreaders = [\"alice\"]\n\
             [scopes.b]\npaths = [\"x/y\", \"!x/z\"]\nreaders = [\"alice\"]\n",
        );
        let r = Router::new(&handed_over).unwrap();
        assert_eq!(r.scope_of("x/y").unwrap(), Some("b"));
        assert_eq!(r.scope_of("x/z").unwrap(), Some("a"));
        assert_eq!(r.scope_of("x/w/v").unwrap(), Some("a"));
        // Only a `LIT/**` glob of a scope without exclusions owns a whole subtree.
        assert!(!r.owns_subtree("x/w"));
        let whole = config("[scopes.p]\npaths = [\"prod/**\", \"stage/*\"]\nreaders = [\"alice\"]\n");
        let r = Router::new(&whole).unwrap();
        assert!(r.owns_subtree("prod/db"));
        assert!(r.owns_subtree("prod/db/"));
        assert!(!r.owns_subtree("prod"));
        assert!(!r.owns_subtree("production/x"));
        assert!(!r.owns_subtree("stage/x"));
    }

    #[test]
    fn one_vault_file_holds_one_kind_of_key() {
        let bob = "[recipients.bob]\nkey = \"pgp:E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B\"\n";
        let alone = config(bob);
        assert!(check_key_kinds(&alone)
            .unwrap_err()
            .contains("recipient `bob` has an OpenPGP key"));
        let scoped = config(&format!(
            "{bob}[scopes.ops]\npaths = [\"ops/**\"]\nreaders = [\"bob\"]\n"
        ));
        check_key_kinds(&scoped).unwrap();
        assert_eq!(scope_file_name(&scoped, "ops", None), "secrets.ops.json.gpg");
        assert_eq!(files_of(&scoped)[0].recipients.len(), 2);
        let mixed = config(&format!(
            "{bob}[scopes.ops]\npaths = [\"ops/**\"]\nreaders = [\"bob\", \"alice\"]\n"
        ));
        assert!(check_key_kinds(&mixed)
            .unwrap_err()
            .contains("readers mix kinds of key"));
        let misnamed = config(&format!(
            "{bob}[scopes.ops]\npaths = [\"ops/**\"]\nreaders = [\"bob\"]\nfile = \"ops.json.age\"\n"
        ));
        assert!(check_key_kinds(&misnamed).unwrap_err().contains("is an age file"));
    }

    /// The main vault's recipients of a config file (as `files` computes them).
    fn files_of(file: &ConfigFile) -> Vec<VaultFile> {
        let config = Config {
            path: "c.toml".into(),
            file: file.clone(),
            digest: String::new(),
        };
        files(&config, Path::new("secrets.json.age"))
    }

    #[test]
    fn readers_must_resolve() {
        let c = config("[scopes.a]\npaths = [\"a/*\"]\nreaders = [\"bob\"]\n");
        assert!(Router::new(&c).unwrap_err().contains("`bob`"));
        let c = config("[scopes.a]\npaths = [\"a/*\"]\nreaders = [\"role:ci\"]\n");
        assert!(Router::new(&c).unwrap_err().contains("match no recipient"));
        let c = config("[scopes.a]\npaths = [\"a/*\"]\nreaders = [\"role:host\"]\n");
        assert_eq!(resolve_readers(&c, &c.scopes["a"].readers).unwrap().len(), 1);
    }
}
