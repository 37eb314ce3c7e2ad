//! `.agevault.toml`: discovery by walking up, parsing, and comment-preserving edits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

pub mod rule;
pub mod scopes;
mod unknown_keys;

/// The configuration file name looked for in each directory.
pub const CONFIG_NAME: &str = ".agevault.toml";

/// The default vault file name.
pub const DEFAULT_VAULT: &str = "secrets.json.age";

/// The default name of an OpenPGP vault (`init --pgp`).
pub const DEFAULT_PGP_VAULT: &str = "secrets.json.gpg";

/// One `[recipients.NAME]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientEntry {
    /// The public key.
    pub key: String,
    /// `host`, `developer`, `ci`, or free text.
    #[serde(default)]
    pub role: Option<String>,
}

/// One `[exec.NAME]` profile.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecProfile {
    /// Env var name → secret path.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Env var name → secret path, delivered as a file whose path is the var's value.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Also inject every secret under these prefixes with derived names.
    #[serde(default)]
    pub only: Vec<String>,
    /// Start the child from a minimal environment.
    #[serde(default)]
    pub clean_env: bool,
    /// Scopes this profile needs: each must be readable (checked before the child
    /// starts), and without `env`/`files`/`only` every secret in them is injected.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Removed from the front of secret paths before names are derived
    /// (`prod/db/password` → `DB_PASSWORD` with `strip_prefix = "prod"`).
    #[serde(default)]
    pub strip_prefix: Option<String>,
}

/// One `[scopes.NAME]` table: secret paths kept in their own file, read only by `readers`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeEntry {
    /// Globs over secret paths (`prod/**`, `*` within one segment); `!GLOB` excludes.
    pub paths: Vec<String>,
    /// Recipient names, or `role:ROLE` for every recipient with that role.
    pub readers: Vec<String>,
    /// The file, relative to the vault's directory (default `<vault stem>.<scope>.json.age`,
    /// or `.json.gpg` when the readers have OpenPGP keys).
    #[serde(default)]
    pub file: Option<String>,
}

/// The parsed file.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigFile {
    /// Vault path, relative to the config file.
    pub vault: Option<String>,
    /// Named recipients.
    #[serde(default)]
    pub recipients: BTreeMap<String, RecipientEntry>,
    /// Exec profiles.
    #[serde(default)]
    pub exec: BTreeMap<String, ExecProfile>,
    /// Path or glob → maximum age.
    #[serde(default)]
    pub rotation: BTreeMap<String, String>,
    /// Path or glob → validation rule, or a list of rules that all apply.
    #[serde(default)]
    pub validate: BTreeMap<String, Rules>,
    /// Path or glob → inventory facts (owner, classification).
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretInfo>,
    /// Writer name → ssh-ed25519 signing key: who may sign new vault versions.
    #[serde(default)]
    pub writers: BTreeMap<String, String>,
    /// Scopes: secret paths in their own files, for their readers only.
    #[serde(default)]
    pub scopes: BTreeMap<String, ScopeEntry>,
    /// `[openbao]`: where `agevault openbao` and `exec --from openbao` find the server.
    #[serde(default)]
    pub openbao: OpenBaoConfig,
    /// Secret path or glob → commands run after the value is rotated.
    #[serde(default)]
    pub hooks: BTreeMap<String, Hook>,
    /// Coverage and exposure policies `check` enforces.
    #[serde(default)]
    pub policy: Policy,
    /// The access record (`exec` and `get` on hosts).
    #[serde(default)]
    pub audit: AuditConfig,
    /// The scope router compiled while validating (not a key of the file).
    #[serde(skip)]
    router: Option<std::sync::Arc<scopes::Router>>,
}

/// The `[openbao]` table. Signed with the rest of the config, so a pushed change of
/// `addr` cannot send a host's `exec --from openbao` to someone else's server.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBaoConfig {
    /// Server address (`BAO_ADDR`/`VAULT_ADDR` take precedence).
    pub addr: Option<String>,
    /// KV v2 mount (default `secret`).
    pub mount: Option<String>,
    /// Path prefix inside the mount under which secret paths are published.
    pub prefix: Option<String>,
    /// A file holding the token for `push`, `policies` and `check --openbao`
    /// (after `BAO_TOKEN`/`VAULT_TOKEN`; default `~/.vault-token`, which `bao login` writes).
    pub token_file: Option<String>,
}

/// One rule or several, as `[validate]` accepts them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Rules {
    /// `"pem"`.
    One(String),
    /// `["pem", "expires-within:30d"]`.
    Many(Vec<String>),
}

impl Rules {
    /// Every rule's text.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Rules::One(r) => vec![r.as_str()],
            Rules::Many(list) => list.iter().map(String::as_str).collect(),
        }
    }
}

/// One `[hooks."PATH"]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// A shell command (`sh -c`) run after a rotation of the path, before the new value
    /// replaces the old one in the vault.
    pub after_rotate: String,
    /// How long it may run (default 60s); then its process group is killed.
    #[serde(default)]
    pub timeout: Option<String>,
    /// `files` (default: AGEVAULT_OLD_FILE / AGEVAULT_NEW_FILE) or `env`
    /// (AGEVAULT_OLD / AGEVAULT_NEW).
    #[serde(default)]
    pub values: Option<String>,
    /// More secrets for the hook, as in an exec profile: NAME → secret path.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// More secrets as memory files: NAME → secret path.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Start the hook from a minimal environment.
    #[serde(default)]
    pub clean_env: bool,
}

/// `[policy]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// What every secret matching `paths` must have: `owner`, `rotation`, `validate`.
    #[serde(default)]
    pub require: Vec<String>,
    /// Globs the requirements apply to (default: every secret).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Class (or `"*"`) → how long exposure to a removed recipient may remain before
    /// `check` fails (default: none).
    #[serde(default)]
    pub exposure_grace: BTreeMap<String, String>,
}

/// `[audit]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Refuse to hand out values when the record cannot be written (fail closed).
    #[serde(default)]
    pub required: bool,
    /// Also send each record to syslog/journald (default true).
    #[serde(default)]
    pub syslog: Option<bool>,
    /// `always` (default: fdatasync every record) or `never`.
    #[serde(default)]
    pub fsync: Option<String>,
}

/// One `[secrets."PATH-OR-GLOB"]` table: facts for the inventory.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretInfo {
    /// Who answers for the secret (a team or a person).
    #[serde(default)]
    pub owner: Option<String>,
    /// Classification, e.g. `confidential`, `restricted`.
    #[serde(default)]
    pub class: Option<String>,
    /// Free-text consumers beyond the exec profiles (e.g. `CI deploy job`).
    #[serde(default)]
    pub consumers: Vec<String>,
    /// Not a secret (a certificate, a user name): never offboarding exposure.
    /// `false` overrides the `*.pub`/`*.crt`/`*.csr` rule.
    #[serde(default)]
    pub public: Option<bool>,
}

/// A configuration file and where it lives.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file's path.
    pub path: PathBuf,
    /// Its contents.
    pub file: ConfigFile,
    /// SHA-256 of its canonical contents (what a vault signature covers).
    pub digest: String,
}

impl Config {
    /// Finds the config: `explicit` (from `--config`/`AGEVAULT_CONFIG`), else walks up from `start`.
    pub fn find(explicit: Option<&Path>, start: &Path) -> Result<Option<Config>> {
        if let Some(path) = explicit {
            return Config::load(path).map(Some);
        }
        let mut dir = Some(start);
        while let Some(d) = dir {
            let candidate = d.join(CONFIG_NAME);
            if candidate.is_file() {
                return Config::load(&candidate).map(Some);
            }
            dir = d.parent();
        }
        Ok(None)
    }

    /// Reads and validates one config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = read_config_text(path)?;
        let (file, digest) = ConfigFile::parse_with_digest(&text).map_err(|message| Error::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(Config {
            path: path.to_owned(),
            file,
            digest,
        })
    }

    /// The directory holding the config file.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// The vault path, resolved against the config's directory.
    pub fn vault_path(&self) -> PathBuf {
        self.dir()
            .join(self.file.vault.as_deref().unwrap_or(DEFAULT_VAULT))
    }

    /// The keys the main vault is encrypted to, sorted and unique: every configured
    /// recipient whose key its format takes (age and ssh keys for an age vault, OpenPGP
    /// keys for a `.gpg` one). Recipients of the other kind read only their scopes.
    pub fn vault_recipient_keys(&self) -> Vec<String> {
        self.file.vault_recipient_keys()
    }

    /// The name configured for `key`, if any.
    pub fn recipient_name(&self, key: &str) -> Option<&str> {
        self.file
            .recipients
            .iter()
            .find(|(_, r)| r.key == crate::keys::canonical_key(key))
            .map(|(n, _)| n.as_str())
    }

    /// The `[writers]` as a checked set.
    pub fn writer_set(&self) -> Result<crate::trust::sigfile::WriterSet> {
        crate::trust::sigfile::WriterSet::new(self.file.writers.clone()).map_err(|message| Error::Config {
            path: self.path.clone(),
            message,
        })
    }

    /// What trust verification needs from the config.
    pub fn trust(&self) -> Result<crate::trust::ConfigTrust> {
        Ok(crate::trust::ConfigTrust {
            path: self.path.clone(),
            writers: self.writer_set()?,
            digest: self.digest.clone(),
        })
    }

    /// Sets `[writers] NAME = KEY` (or removes NAME when `key` is None), keeping the rest of the file.
    pub fn set_writer(&self, name: &str, key: Option<&str>) -> Result<()> {
        self.edit(|doc| {
            let writers = doc
                .entry("writers")
                .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
                .as_table_like_mut()
                .ok_or("`writers` is not a table")?;
            match key {
                Some(k) => {
                    writers.insert(name, toml_edit::value(k));
                }
                None => {
                    writers.remove(name).ok_or("the writer is not in the file")?;
                }
            }
            Ok(())
        })
    }

    /// Adds `[scopes.NAME]` with `paths` and `readers` (and `file` when given).
    pub fn add_scope(
        &self,
        name: &str,
        paths: &[String],
        readers: &[String],
        file: Option<&str>,
    ) -> Result<()> {
        self.edit(|doc| {
            let scopes = implicit_table(doc, "scopes").ok_or("`scopes` is not a table")?;
            let mut entry = toml_edit::Table::new();
            entry.insert("paths", toml_edit::value(string_array(paths)));
            entry.insert("readers", toml_edit::value(string_array(readers)));
            if let Some(f) = file {
                entry.insert("file", toml_edit::value(f));
            }
            scopes.insert(name, toml_edit::Item::Table(entry));
            Ok(())
        })
    }

    /// Replaces `[scopes.NAME] KEY` (`paths` or `readers`) with `values`.
    pub fn set_scope_list(&self, name: &str, key: &str, values: &[String]) -> Result<()> {
        self.edit(|doc| {
            let entry = doc
                .get_mut("scopes")
                .and_then(|s| s.get_mut(name))
                .and_then(toml_edit::Item::as_table_like_mut)
                .ok_or("the scope is not in the file")?;
            entry.insert(key, toml_edit::value(string_array(values)));
            Ok(())
        })
    }

    /// Removes `[scopes.NAME]`.
    pub fn remove_scope(&self, name: &str) -> Result<()> {
        self.edit(|doc| {
            doc.get_mut("scopes")
                .and_then(toml_edit::Item::as_table_like_mut)
                .and_then(|t| t.remove(name))
                .map(|_| ())
                .ok_or("the scope is not in the file")
        })
    }

    /// Adds `[recipients.NAME]`, keeping the rest of the file (comments included) as it is.
    pub fn add_recipient(&self, name: &str, key: &str, role: &str) -> Result<()> {
        self.edit(|doc| add_recipient_entry(doc, name, key, role))
    }

    /// This config with `[recipients.NAME]` added and NAME among the readers of `scopes`,
    /// in memory and checked as a loaded config is (nothing is written): a change that
    /// would leave an invalid config is refused before anything is touched.
    pub fn with_recipient(&self, name: &str, key: &str, role: &str, scopes: &[String]) -> Result<Config> {
        let text = self.edited(|doc| {
            add_recipient_entry(doc, name, key, role)?;
            for scope in scopes {
                let readers = doc
                    .get_mut("scopes")
                    .and_then(|s| s.get_mut(scope.as_str()))
                    .and_then(|s| s.get_mut("readers"))
                    .and_then(toml_edit::Item::as_array_mut)
                    .ok_or("a scope's readers are not a list")?;
                if !readers.iter().any(|v| v.as_str() == Some(name)) {
                    readers.push(name);
                }
            }
            Ok(())
        })?;
        let (file, digest) = ConfigFile::parse_with_digest(&text).map_err(|message| Error::Config {
            path: self.path.clone(),
            message,
        })?;
        Ok(Config {
            path: self.path.clone(),
            file,
            digest,
        })
    }

    /// Removes `[recipients.NAME]` (and NAME from every scope's readers), keeping the
    /// rest of the file as it is.
    pub fn remove_recipient(&self, name: &str) -> Result<()> {
        self.edit(|doc| remove_recipient_entry(doc, name))
    }

    /// This config with `[recipients.NAME]` removed, in memory (nothing is written).
    pub fn without_recipient(&self, name: &str) -> Result<Config> {
        let text = self.edited(|doc| remove_recipient_entry(doc, name))?;
        let (file, digest) = ConfigFile::parse_with_digest(&text).map_err(|message| Error::Config {
            path: self.path.clone(),
            message,
        })?;
        Ok(Config {
            path: self.path.clone(),
            file,
            digest,
        })
    }

    fn edit(
        &self,
        change: impl FnOnce(&mut toml_edit::DocumentMut) -> std::result::Result<(), &'static str>,
    ) -> Result<()> {
        let text = self.edited(change)?;
        crate::store::replace_atomically(&self.path, text.as_bytes())
    }

    fn edited(
        &self,
        change: impl FnOnce(&mut toml_edit::DocumentMut) -> std::result::Result<(), &'static str>,
    ) -> Result<String> {
        let text = read_config_text(&self.path)?;
        let mut doc: toml_edit::DocumentMut =
            text.parse().map_err(|e: toml_edit::TomlError| Error::Config {
                path: self.path.clone(),
                message: e.message().to_owned(),
            })?;
        change(&mut doc).map_err(|m| Error::Config {
            path: self.path.clone(),
            message: m.to_owned(),
        })?;
        Ok(doc.to_string())
    }
}

/// A config file's text: a regular file of at most 1 MiB, UTF-8.
fn read_config_text(path: &Path) -> Result<String> {
    let bytes = crate::store::read_trusted_file(path, "config", crate::store::MAX_CONFIG_BYTES).map_err(
        |e| match e {
            Error::Io { source, .. } => Error::io("reading config", path, source),
            other => other,
        },
    )?;
    String::from_utf8(bytes).map_err(|_| Error::Config {
        path: path.to_owned(),
        message: "it is not UTF-8 text".into(),
    })
}

impl ConfigFile {
    /// The format of the main vault, from its name.
    pub fn vault_format(&self) -> crate::vault_format::VaultFormat {
        crate::vault_format::VaultFormat::of_name(self.vault.as_deref().unwrap_or(DEFAULT_VAULT))
    }

    /// See [`Config::vault_recipient_keys`].
    pub fn vault_recipient_keys(&self) -> Vec<String> {
        let format = self.vault_format();
        let set: BTreeSet<String> = self
            .recipients
            .values()
            .filter(|r| format.accepts(&r.key))
            .map(|r| r.key.clone())
            .collect();
        set.into_iter().collect()
    }

    /// Parses and checks the text of a config file; the error names the line.
    pub fn parse(text: &str) -> std::result::Result<ConfigFile, String> {
        Self::parse_with_digest(text).map(|(file, _)| file)
    }

    /// [`ConfigFile::parse`] plus the SHA-256 of the config's meaning (see `digest_of_value`), from one parse of the
    /// text (a config with 1,000 recipients is about 100 KB of TOML, and every command
    /// loads it).
    pub fn parse_with_digest(text: &str) -> std::result::Result<(ConfigFile, String), String> {
        let located = |e: toml::de::Error| {
            let line = e.span().map(|s| unknown_keys::line_of(text, &s));
            match line {
                Some(l) => format!("line {l}: {}", e.message()),
                None => e.message().to_owned(),
            }
        };
        let value: toml::Value = toml::from_str(text).map_err(located)?;
        unknown_keys::check_value(text, &value)?;
        let digest = digest_of_value(&value);
        // A value that does not fit the schema is parsed again from the text only to
        // name the line of the problem.
        let file: ConfigFile = match value.try_into() {
            Ok(file) => file,
            Err(e) => {
                return Err(match toml::from_str::<ConfigFile>(text) {
                    Err(located_error) => located(located_error),
                    Ok(_) => e.message().to_owned(),
                })
            }
        };
        let file = file.validated(text)?;
        Ok((file, digest))
    }

    /// The scope router: compiled once, when the file was validated.
    pub fn router(&self) -> std::result::Result<std::sync::Arc<scopes::Router>, String> {
        match &self.router {
            Some(router) => Ok(router.clone()),
            None => scopes::Router::new(self).map(std::sync::Arc::new),
        }
    }

    /// The checks serde cannot express, and the canonical spelling of keys.
    fn validated(self, text: &str) -> std::result::Result<ConfigFile, String> {
        let mut file = self;
        for (pattern, rules) in &file.validate {
            for rule in rules.texts() {
                rule::Rule::check_syntax(rule).map_err(|e| {
                    format!(
                        "{}[validate] `{pattern}`: {e}",
                        line_prefix(text, "validate", pattern)
                    )
                })?;
            }
        }
        for (class, grace) in &file.policy.exposure_grace {
            crate::clock::parse_duration(grace)
                .map_err(|e| format!("[policy] exposure_grace `{class}`: {e}"))?;
        }
        for item in &file.policy.require {
            if !["owner", "rotation", "validate"].contains(&item.as_str()) {
                return Err(format!(
                    "[policy] require: unknown item `{item}`; valid: owner, rotation, validate"
                ));
            }
        }
        for (path, hook) in &file.hooks {
            if let Some(t) = &hook.timeout {
                crate::clock::parse_duration(t).map_err(|e| format!("[hooks.\"{path}\"] timeout: {e}"))?;
            }
            if !matches!(hook.values.as_deref(), None | Some("files" | "env")) {
                return Err(format!("[hooks.\"{path}\"] values must be \"files\" or \"env\""));
            }
            if hook.after_rotate.trim().is_empty() {
                return Err(format!("[hooks.\"{path}\"] after_rotate is empty"));
            }
        }
        if !matches!(file.audit.fsync.as_deref(), None | Some("always" | "never")) {
            return Err("[audit] fsync must be \"always\" or \"never\"".into());
        }
        for (pattern, max_age) in &file.rotation {
            crate::clock::parse_duration(max_age).map_err(|e| {
                format!(
                    "{}[rotation] `{pattern}`: {e}",
                    line_prefix(text, "rotation", pattern)
                )
            })?;
        }
        // One key, one spelling: an ssh key with or without its comment is the same recipient.
        for entry in file.recipients.values_mut() {
            entry.key = crate::keys::canonical_key(&entry.key);
        }
        crate::trust::sigfile::WriterSet::new(file.writers.clone())?;
        let mut keys = BTreeMap::new();
        for (name, entry) in &file.recipients {
            if let Some(problem) = crate::secret_path::segment_problem(name) {
                return Err(format!(
                    "recipient name `{}` {problem}",
                    crate::terminal::sanitize(name)
                ));
            }
            if let Err(problem) = crate::keys::parse_recipient_kind(&entry.key) {
                return Err(format!("the key of recipient `{name}` is invalid: {problem}"));
            }
            if let Some(other) = keys.insert(entry.key.trim().to_owned(), name.clone()) {
                return Err(format!("recipients `{other}` and `{name}` have the same key"));
            }
        }
        file.router = Some(std::sync::Arc::new(scopes::Router::new(&file)?));
        scopes::check_key_kinds(&file)?;
        Ok(file)
    }
}

/// The top-level table `name` (created implicit, so only its `[name.KEY]` subtables
/// show), or `None` when `name` is not a table.
fn implicit_table<'a>(doc: &'a mut toml_edit::DocumentMut, name: &str) -> Option<&'a mut toml_edit::Table> {
    doc.entry(name)
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
}

fn add_recipient_entry(
    doc: &mut toml_edit::DocumentMut,
    name: &str,
    key: &str,
    role: &str,
) -> std::result::Result<(), &'static str> {
    let recipients = implicit_table(doc, "recipients").ok_or("`recipients` is not a table")?;
    let mut entry = toml_edit::Table::new();
    entry.insert("key", toml_edit::value(key));
    entry.insert("role", toml_edit::value(role));
    recipients.insert(name, toml_edit::Item::Table(entry));
    Ok(())
}

fn remove_recipient_entry(
    doc: &mut toml_edit::DocumentMut,
    name: &str,
) -> std::result::Result<(), &'static str> {
    doc.get_mut("recipients")
        .and_then(toml_edit::Item::as_table_like_mut)
        .and_then(|t| t.remove(name))
        .ok_or("the recipient is not in the file")?;
    if let Some(scopes) = doc.get_mut("scopes").and_then(toml_edit::Item::as_table_like_mut) {
        for (_, scope) in scopes.iter_mut() {
            if let Some(readers) = scope.get_mut("readers").and_then(toml_edit::Item::as_array_mut) {
                readers.retain(|v| v.as_str() != Some(name));
            }
        }
    }
    Ok(())
}

fn string_array(values: &[String]) -> toml_edit::Array {
    values.iter().map(String::as_str).collect()
}

/// SHA-256 of the config's meaning: the parsed TOML as canonical JSON (sorted keys), so
/// comments and formatting do not count but every value does.
fn digest_of_value(value: &toml::Value) -> String {
    // Serialized straight from the TOML value: its tables are sorted maps, so this is
    // the same canonical JSON as going through `serde_json::Value` (a unit test holds
    // them equal), without building a second tree of 1,000 recipients.
    let canonical = serde_json::to_string(value).unwrap_or_default();
    crate::trust::sigfile::sha256_hex(canonical.as_bytes())
}

/// `line N: ` for `key` inside `[table]`, where the TOML parser saw the key (empty
/// when the text does not parse or has no such key).
fn line_prefix(text: &str, table: &str, key: &str) -> String {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return String::new();
    };
    doc.get(table)
        .and_then(toml_edit::Item::as_table_like)
        .and_then(|t| t.get_key_value(key))
        .and_then(|(k, _)| k.span())
        .map_or_else(String::new, |span| {
            format!("line {}: ", unknown_keys::line_of(text, &span))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_canonical_json_of_the_value() {
        let text = "z = 1\na = 2.5\nwhen = 1979-05-27T07:32:00Z\nday = 1979-05-27\n\
                    list = [\"b\", \"a\", { k = true }]\n[t]\ny = \"\\u00e9\\n\"\nx = { q = 1, p = [] }\n\
                    [[arr]]\nn = 1\n[[arr]]\nn = 2\n";
        let value: toml::Value = toml::from_str(text).unwrap();
        let through_json = serde_json::to_string(&serde_json::to_value(&value).unwrap()).unwrap();
        assert!(through_json.starts_with(r#"{"a":2.5,"arr":"#), "{through_json}");
        assert_eq!(
            digest_of_value(&value),
            crate::trust::sigfile::sha256_hex(through_json.as_bytes())
        );
    }

    #[test]
    fn parses_the_spec_example() {
        let (_, k1) = crate::keys::generate_identity();
        let text = format!(
            r#"vault = "secrets.json.age"
[recipients.pve1]
key = "{k1}"
role = "host"
[exec.samba]
env = {{ SMB_PASSWORD = "samba/password" }}
files = {{ JWT_KEY_FILE = "logos/jwt-key" }}
[rotation]
"llm-api-key/*" = "30d"
[validate]
"tls/key" = "pem"
"#
        );
        let c = ConfigFile::parse(&text).unwrap();
        assert_eq!(c.recipients["pve1"].role.as_deref(), Some("host"));
        assert_eq!(c.exec["samba"].files["JWT_KEY_FILE"], "logos/jwt-key");
        assert_eq!(c.rotation["llm-api-key/*"], "30d");
    }

    #[test]
    fn errors_name_the_line_and_problem() {
        let e = ConfigFile::parse("vault = \"x\"\n[recipients.a]\nkey = 5\n").unwrap_err();
        assert!(e.starts_with("line 3"), "{e}");
        let e = ConfigFile::parse("[recipients.a]\nkey = \"age1bad\"\n").unwrap_err();
        assert!(e.contains("recipient `a`"), "{e}");
        let e = ConfigFile::parse("[rotation]\n\"a/*\" = \"30x\"\n").unwrap_err();
        assert!(e.starts_with("line 2: [rotation] `a/*`"), "{e}");
        let e = ConfigFile::parse("# c\n[validate]\n\"tls/key\" = \"regex:(\"\n").unwrap_err();
        assert!(e.starts_with("line 3: [validate] `tls/key`"), "{e}");
        // The parser's position, also where scanning lines for `key =` found nothing.
        let e = ConfigFile::parse("vault = \"x\"\nvalidate.\"b\" = \"regex:(\"\n").unwrap_err();
        assert!(e.starts_with("line 2: [validate] `b`"), "{e}");
        let e = ConfigFile::parse("[rotation]\n'a/*' = \"1d\"\n  \"b/*\"  =  \"1y\"\n").unwrap_err();
        assert!(e.starts_with("line 3: [rotation] `b/*`"), "{e}");
        let (_, k) = crate::keys::generate_identity();
        let dup = format!("[recipients.a]\nkey = \"{k}\"\n[recipients.b]\nkey = \"{k}\"\n");
        assert!(ConfigFile::parse(&dup).unwrap_err().contains("same key"));
    }
}
