//! Scopes: which vault file each secret path lives in, and who reads each file.
//!
//! A path belongs to the scope whose globs match it (a path matched by two scopes is
//! a config error); paths in no scope stay in the main vault, which every recipient
//! reads. Each scope file is encrypted to its readers only.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::config::{Config, ConfigFile};

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
    include: GlobSet,
    exclude: GlobSet,
    /// The literal start of each include glob, up to its first wildcard.
    prefixes: Vec<String>,
}

/// Routes secret paths to scopes.
#[derive(Debug)]
pub struct Router {
    scopes: Vec<Scope>,
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
        for (name, entry) in &file.scopes {
            if let Some(problem) = crate::secret_path::segment_problem(name) {
                return Err(format!(
                    "scope name `{}` {problem}",
                    crate::terminal::sanitize(name)
                ));
            }
            let mut include = GlobSetBuilder::new();
            let mut exclude = GlobSetBuilder::new();
            let mut prefixes = Vec::new();
            let mut includes = 0;
            for pattern in &entry.paths {
                if let Some(negated) = pattern.strip_prefix('!') {
                    exclude.add(glob(negated).map_err(|e| format!("[scopes.{name}] paths: {e}"))?);
                } else {
                    include.add(glob(pattern).map_err(|e| format!("[scopes.{name}] paths: {e}"))?);
                    let literal: String = pattern
                        .chars()
                        .take_while(|c| !matches!(c, '*' | '?' | '[' | '{' | '\\'))
                        .collect();
                    prefixes.push(literal);
                    includes += 1;
                }
            }
            if includes == 0 {
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
                include: include.build().map_err(|e| e.to_string())?,
                exclude: exclude.build().map_err(|e| e.to_string())?,
                prefixes,
            });
        }
        Ok(Router { scopes })
    }

    /// Whether any scope is configured.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The scope `path` belongs to (`None`: the main vault). Two matching scopes are an error.
    pub fn scope_of(&self, path: &str) -> Result<Option<&str>, String> {
        let mut found: Option<&str> = None;
        for s in &self.scopes {
            if s.include.is_match(path) && !s.exclude.is_match(path) {
                if let Some(other) = found {
                    return Err(format!(
                        "secret `{path}` matches both [scopes.{other}] and [scopes.{}]; a path belongs to one scope: \
                         narrow one of them (a `!{path}` entry excludes it)",
                        s.name
                    ));
                }
                found = Some(&s.name);
            }
        }
        Ok(found)
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

/// The file name of a scope: `file`, or `<vault stem>.<scope>.json.age`.
fn scope_file_name(file: &ConfigFile, scope: &str, explicit: Option<&str>) -> String {
    if let Some(f) = explicit {
        return f.to_owned();
    }
    let main = Path::new(file.vault.as_deref().unwrap_or(crate::config::DEFAULT_VAULT))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = main
        .strip_suffix(".json.age")
        .or_else(|| main.strip_suffix(".age"))
        .unwrap_or(&main);
    format!("{stem}.{scope}.json.age")
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
    let mut out = vec![VaultFile {
        scope: None,
        path: main.to_path_buf(),
        recipients: config.recipient_keys(),
        readers: vec!["every recipient".into()],
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
