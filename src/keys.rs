//! Identities (private keys) and recipients (public keys): discovery, parsing, generation.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use age::cli_common::StdinGuard;
use age::{Identity, Recipient};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Identity files bigger than this are not identity files.
const IDENTITY_SIZE_LIMIT: u64 = 1 << 20;

/// The kind of a recipient key string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientKind {
    /// `age1…` X25519.
    X25519,
    /// `ssh-ed25519 AAAA…`.
    SshEd25519,
    /// `ssh-rsa AAAA…`.
    SshRsa,
    /// `age1NAME1…` served by an `age-plugin-NAME` binary.
    Plugin,
    /// `pgp:FINGERPRINT`, an OpenPGP key in the gpg keyring (for `.gpg` vault files).
    Pgp,
}

/// Checks a recipient key string and says what kind it is, or what is wrong with it.
pub fn parse_recipient_kind(key: &str) -> std::result::Result<RecipientKind, String> {
    let key = key.trim();
    if crate::pgp::is_pgp_key(key) {
        return crate::pgp::parse_fingerprint(key).map(|_| RecipientKind::Pgp);
    }
    if key.len() == 40 && key.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "it looks like an OpenPGP fingerprint; write it as pgp:{key} (for a .gpg vault file)"
        ));
    }
    if key.starts_with("age1") {
        if key.parse::<age::x25519::Recipient>().is_ok() {
            return Ok(RecipientKind::X25519);
        }
        if key.parse::<age::plugin::Recipient>().is_ok() {
            return Ok(RecipientKind::Plugin);
        }
        return Err("it is not a valid age recipient (bad Bech32 encoding or checksum)".into());
    }
    if key.starts_with("ssh-ed25519 ") || key.starts_with("ssh-rsa ") {
        return match key.parse::<age::ssh::Recipient>() {
            Ok(_) if key.starts_with("ssh-ed25519 ") => Ok(RecipientKind::SshEd25519),
            Ok(_) => Ok(RecipientKind::SshRsa),
            Err(age::ssh::ParseRecipientKeyError::RsaModulusTooSmall) => {
                Err("its RSA key is shorter than 2048 bits".into())
            }
            Err(age::ssh::ParseRecipientKeyError::RsaModulusTooLarge) => {
                Err("its RSA key is longer than 4096 bits".into())
            }
            Err(_) => Err("it is not a valid SSH public key".into()),
        };
    }
    if key.starts_with("AGE-SECRET-KEY-") {
        return Err("it is a PRIVATE key; give the public key (`age-keygen -y FILE` prints it)".into());
    }
    if key.starts_with("ssh-") || key.starts_with("ecdsa-") || key.starts_with("sk-") {
        return Err("this SSH key type is not supported by age; use ssh-ed25519 or ssh-rsa".into());
    }
    Err(
        "it is neither an age recipient (age1…), an ssh-ed25519/ssh-rsa public key, nor an OpenPGP key \
         (pgp:FINGERPRINT)"
            .into(),
    )
}

/// Builds encryptors for `keys` (plugin recipients go through their plugin binary).
pub fn recipients_for(keys: &[String]) -> Result<Vec<Box<dyn Recipient + Send>>> {
    if keys.is_empty() {
        return Err(Error::msg("no recipients are configured")
            .with_hint("add one with `agevault recipients add NAME KEY`"));
    }
    read_recipients_strings(keys)
}

fn read_recipients_strings(keys: &[String]) -> Result<Vec<Box<dyn Recipient + Send>>> {
    age::cli_common::read_recipients(keys.to_vec(), vec![], vec![], None, &mut StdinGuard::new(false))
        .map_err(|e| Error::with_source("cannot use the configured recipients", e))
}

/// One identity source that was found, for reporting.
pub struct FoundIdentity {
    /// Where it came from (a file path or `$AGEVAULT_IDENTITY`).
    pub source: String,
    /// The public keys it holds, where they can be derived without a passphrase.
    pub public_keys: Vec<String>,
    /// What else to say about it (passphrase-protected, plugin, …).
    pub note: Option<String>,
}

/// Every identity discovered, in discovery order (see [`discover`]).
#[derive(Default)]
pub struct IdentitySet {
    /// The identities in the order they are tried: those that never prompt first
    /// (in discovery order), then those that may ask for a passphrase or a plugin.
    pub identities: Vec<Box<dyn Identity>>,
    /// What was found, for error messages and `whoami`.
    pub found: Vec<FoundIdentity>,
    /// Default places looked at that held nothing usable, with why.
    pub skipped: Vec<(String, String)>,
    /// How many of `identities` (at the front) never prompt.
    plain: usize,
    failures: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The user's default identity file: `$XDG_CONFIG_HOME/agevault/identity.txt`.
pub fn default_identity_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".config")))?;
    Some(base.join("agevault").join("identity.txt"))
}

/// The host identity file.
pub const HOST_IDENTITY: &str = "/etc/agevault/identity.txt";

/// `$HOME`, if set.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Discovers identities: explicit files first, then the environment, then default places.
pub fn discover(explicit: &[PathBuf]) -> Result<IdentitySet> {
    let mut set = IdentitySet::default();
    for path in explicit {
        load_file(path, &mut set, true)?;
    }
    if let Some(text) = std::env::var_os("AGEVAULT_IDENTITY").filter(|v| !v.is_empty()) {
        let text = Zeroizing::new(text.to_string_lossy().into_owned());
        load_text(&text, "$AGEVAULT_IDENTITY", None, &mut set)?;
    }
    if let Some(path) = std::env::var_os("AGEVAULT_IDENTITY_FILE").filter(|v| !v.is_empty()) {
        load_file(Path::new(&path), &mut set, true)?;
    }
    let mut defaults: Vec<PathBuf> = default_identity_path().into_iter().collect();
    defaults.push(PathBuf::from(HOST_IDENTITY));
    if let Some(home) = home_dir() {
        defaults.push(home.join(".ssh/id_ed25519"));
        defaults.push(home.join(".ssh/id_rsa"));
    }
    for path in defaults {
        if let Err(e) = load_file(&path, &mut set, false) {
            set.skipped.push((path.display().to_string(), e.to_string()));
        }
    }
    Ok(set)
}

fn load_file(path: &Path, set: &mut IdentitySet, required: bool) -> Result<()> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
        Err(e) => {
            return Err(Error::msg(format!(
                "cannot read identity file {}: {e}",
                path.display()
            )))
        }
    };
    if !meta.is_file() || meta.len() > IDENTITY_SIZE_LIMIT {
        return Err(Error::msg(format!("{} is not an identity file", path.display())));
    }
    let text = fs::read(path)
        .map(|b| {
            let b = Zeroizing::new(b);
            Zeroizing::new(String::from_utf8_lossy(&b).into_owned())
        })
        .map_err(|e| Error::with_source(format!("cannot read identity file {}", path.display()), e))?;
    load_text(&text, &path.display().to_string(), Some(path), set)
}

fn load_text(text: &str, source: &str, path: Option<&Path>, set: &mut IdentitySet) -> Result<()> {
    let bad = |e: &dyn std::fmt::Display| Error::msg(format!("identity {source} cannot be used: {e}"));
    let is_encrypted =
        text.contains("-----BEGIN AGE ENCRYPTED FILE-----") || text.starts_with("age-encryption.org/");
    let is_ssh = text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
        || text.contains("-----BEGIN RSA PRIVATE KEY-----");
    let mut found = FoundIdentity {
        source: source.to_owned(),
        public_keys: Vec::new(),
        note: None,
    };
    if is_ssh {
        // An SSH key's public half sits beside it by convention.
        if let Some(path) = path {
            if let Ok(pub_text) = fs::read_to_string(format!("{}.pub", path.display())) {
                let key = canonical_key(&pub_text);
                if parse_recipient_kind(&key).is_ok() {
                    found.public_keys.push(key);
                }
            }
        }
        let identity =
            age::ssh::Identity::from_buffer(std::io::BufReader::new(text.as_bytes()), Some(source.into()))
                .map_err(|e| bad(&e))?;
        match identity {
            age::ssh::Identity::Unsupported(k) => return Err(bad(&format!("unsupported SSH key ({k:?})"))),
            age::ssh::Identity::Encrypted(_) => {
                found.note = Some("passphrase-protected SSH key; asks for the passphrase when needed".into());
                set.push_interactive(Box::new(identity.with_callbacks(TerminalCallbacks)), source);
            }
            age::ssh::Identity::Unencrypted(_) => {
                set.push_plain(Box::new(identity.with_callbacks(TerminalCallbacks)));
            }
        }
    } else if is_encrypted {
        let bytes = std::io::Cursor::new(Zeroizing::new(text.as_bytes().to_vec()));
        let identity = age::encrypted::Identity::from_buffer(
            age::armor::ArmoredReader::new(bytes),
            Some(source.into()),
            TerminalCallbacks,
            None,
        )
        .map_err(|e| bad(&e))?
        .ok_or_else(|| {
            bad(&"it is an age file encrypted to recipients, not a passphrase-protected identity")
        })?;
        found.note = Some("passphrase-protected; asks for the passphrase when needed".into());
        set.push_interactive(Box::new(identity), source);
    } else {
        let mut plugins = 0;
        for line in text.lines().map(str::trim) {
            if line.starts_with("AGE-SECRET-KEY-1") {
                let id: age::x25519::Identity = line.parse().map_err(|e: &str| bad(&e))?;
                found.public_keys.push(id.to_public().to_string());
            } else if line.starts_with("AGE-PLUGIN-") {
                plugins += 1;
            }
        }
        let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| bad(&e))?;
        let ids = file
            .with_callbacks(TerminalCallbacks)
            .into_identities()
            .map_err(|e| bad(&e))?;
        if ids.is_empty() {
            return Err(bad(&"it holds no AGE-SECRET-KEY-1 or AGE-PLUGIN- line"));
        }
        if plugins > 0 {
            found.note = Some(format!(
                "{plugins} plugin identity(ies); the plugin is asked when needed"
            ));
            for id in ids {
                set.push_interactive(id, source);
            }
        } else {
            for id in ids {
                set.push_plain(id);
            }
        }
    }
    set.found.push(found);
    Ok(())
}

impl IdentitySet {
    /// Identities that may prompt (passphrases, plugins) are tried after all the
    /// others, so nobody is asked for a passphrase a plain key would have made
    /// unnecessary; and a wrong passphrase only skips that identity.
    fn push_interactive(&mut self, identity: Box<dyn Identity>, source: &str) {
        self.identities.push(Box::new(Lenient {
            inner: identity,
            source: source.to_owned(),
            failures: self.failures.clone(),
        }));
    }

    fn push_plain(&mut self, identity: Box<dyn Identity>) {
        self.identities.insert(self.plain, identity);
        self.plain += 1;
    }

    /// Adds the identities of one more file (another tool's key file, such as sops'
    /// `SOPS_AGE_KEY_FILE`), after those already discovered. A missing file is an
    /// error only when `required`.
    pub fn add_file(&mut self, path: &Path, required: bool) -> Result<()> {
        load_file(path, self, required)
    }

    /// Adds identities given as text (an identity file's contents), named `source` in messages.
    pub fn add_text(&mut self, text: &str, source: &str) -> Result<()> {
        load_text(text, source, None, self)
    }

    /// The hint under "no identity can decrypt": what to do next. Someone whose
    /// passphrase could not be asked for is probably a recipient already.
    pub fn next_step(&self) -> &'static str {
        if no_terminal_for_passphrase() {
            "a passphrase-protected identity needs a terminal to ask for its passphrase: run this on one, \
             or give an identity without a passphrase for unattended runs (--identity FILE, $AGEVAULT_IDENTITY_FILE)"
        } else if self.found.is_empty() {
            "create an identity with `agevault keygen` and ask a recipient to add its public key with \
             `agevault recipients add NAME KEY`"
        } else {
            "ask a recipient to add your public key (`agevault whoami` shows it) with `agevault recipients add NAME KEY`"
        }
    }

    /// How many identities (at the front) never prompt.
    pub fn plain(&self) -> usize {
        self.plain
    }

    /// Where this user's stanzas should be in a file encrypted to `keys` (agevault
    /// writes one stanza per key, in sorted key order): the position of each public
    /// key found, to try first.
    pub fn stanza_hint(&self, keys: &[String]) -> Vec<usize> {
        let mut first: Vec<usize> = self
            .found
            .iter()
            .flat_map(|f| &f.public_keys)
            .filter_map(|k| keys.iter().position(|r| *r == canonical_key(k)))
            .collect();
        first.sort_unstable();
        first.dedup();
        first
    }

    /// Why prompting identities were skipped (wrong passphrase, plugin failure), for messages.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// An identity whose errors (a wrong passphrase, a missing plugin) mean "not me" instead of
/// aborting the whole decryption, so later identities still get their turn.
struct Lenient {
    inner: Box<dyn Identity>,
    source: String,
    failures: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Lenient {
    fn lenient(
        &self,
        result: Option<std::result::Result<age_core::format::FileKey, age::DecryptError>>,
    ) -> Option<std::result::Result<age_core::format::FileKey, age::DecryptError>> {
        match result {
            Some(Err(e)) => {
                let why = match e {
                    age::DecryptError::KeyDecryptionFailed if no_terminal_for_passphrase() => {
                        "passphrase-protected, and there is no terminal to ask for the passphrase".to_owned()
                    }
                    age::DecryptError::KeyDecryptionFailed => "wrong passphrase".to_owned(),
                    other => other.to_string(),
                };
                if let Ok(mut f) = self.failures.lock() {
                    f.push(format!("{} ({why})", self.source));
                }
                None
            }
            other => other,
        }
    }
}

impl Identity for Lenient {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<std::result::Result<age_core::format::FileKey, age::DecryptError>> {
        self.lenient(self.inner.unwrap_stanza(stanza))
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<std::result::Result<age_core::format::FileKey, age::DecryptError>> {
        self.lenient(self.inner.unwrap_stanzas(stanzas))
    }
}

/// Set when a passphrase was needed and there was no terminal to ask on: age then reports
/// the identity as failed like a wrong passphrase, and the user must hear the real reason
/// (they may well be a recipient already).
static NO_TERMINAL_FOR_PASSPHRASE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set by shell completion: every prompt is declined.
static PROMPTS_DISABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Declines every passphrase, confirmation or plugin prompt from now on.
pub fn disable_prompts() {
    PROMPTS_DISABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn prompts_disabled() -> bool {
    PROMPTS_DISABLED.load(std::sync::atomic::Ordering::Relaxed)
}

fn no_terminal_for_passphrase() -> bool {
    NO_TERMINAL_FOR_PASSPHRASE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prompts on the controlling terminal (never echoing secrets); without a terminal
/// every request is declined, so non-interactive runs fail fast instead of hanging.
#[derive(Clone, Copy)]
struct TerminalCallbacks;

impl age::Callbacks for TerminalCallbacks {
    fn display_message(&self, message: &str) {
        crate::progress::suspend_active(|| eprintln!("{message}"));
    }

    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        if prompts_disabled() {
            return None;
        }
        let no = no.unwrap_or("no");
        let answer = crate::progress::suspend_active(|| {
            rpassword::prompt_password(format!("{message} [{yes}/{no}] (typed hidden): "))
        })
        .ok()?;
        Some(answer.trim().eq_ignore_ascii_case(yes) || answer.trim().eq_ignore_ascii_case("y"))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        if prompts_disabled() {
            return None;
        }
        crate::progress::suspend_active(|| rpassword::prompt_password(format!("{description} "))).ok()
    }

    fn request_passphrase(&self, description: &str) -> Option<secrecy::SecretString> {
        if prompts_disabled() {
            return None;
        }
        let Ok(mut answer) =
            crate::progress::suspend_active(|| rpassword::prompt_password(format!("{description}: ")))
        else {
            NO_TERMINAL_FOR_PASSPHRASE.store(true, std::sync::atomic::Ordering::Relaxed);
            return None;
        };
        let secret = secrecy::SecretString::from(answer.as_str());
        zeroize::Zeroize::zeroize(&mut answer);
        Some(secret)
    }
}

/// The canonical form of a recipient key, so the same key is always one key:
/// `ssh-… AAAA…` without its comment, `age1…` in lower case, `pgp:` and an upper-case
/// fingerprint without spaces.
pub fn canonical_key(key: &str) -> String {
    let key = key.trim();
    if crate::pgp::is_pgp_key(key) {
        crate::pgp::canonical(key)
    } else if key.starts_with("ssh-") {
        key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    } else if key.to_ascii_lowercase().starts_with("age1") {
        key.to_ascii_lowercase()
    } else {
        key.to_owned()
    }
}

/// A fresh X25519 identity as identity-file text, and its public key.
pub fn generate_identity() -> (Zeroizing<String>, String) {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = Zeroizing::new(format!(
        "# created: {}\n# public key: {public}\n{}\n",
        crate::clock::now_rfc3339(),
        id.to_string().expose_secret()
    ));
    (text, public)
}

/// Writes `contents` to a new file with mode 0600, creating parent directories 0700.
/// Never overwrites.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("creating directory", dir, e))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::msg(format!(
                    "{} already exists; refusing to overwrite a key (choose another file with -o)",
                    path.display()
                ))
            } else {
                Error::io("creating", path, e)
            }
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            let _ = fs::remove_file(path);
            Error::io("writing", path, e)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_kinds() {
        let (_, public) = generate_identity();
        assert_eq!(parse_recipient_kind(&public), Ok(RecipientKind::X25519));
        let ssh =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@example";
        assert_eq!(parse_recipient_kind(ssh), Ok(RecipientKind::SshEd25519));
        assert!(parse_recipient_kind("age1notakey").is_err());
        assert!(parse_recipient_kind("AGE-SECRET-KEY-1XYZ")
            .unwrap_err()
            .contains("PRIVATE"));
        assert!(parse_recipient_kind("ssh-ed25519 AAAAbroken").is_err());
        assert!(parse_recipient_kind("hello").is_err());
        let fpr = "E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B";
        assert_eq!(
            parse_recipient_kind(&format!("pgp:{fpr}")),
            Ok(RecipientKind::Pgp)
        );
        assert!(parse_recipient_kind(fpr).unwrap_err().contains("pgp:"));
        assert!(parse_recipient_kind("pgp:D369BE9B")
            .unwrap_err()
            .contains("short key id"));
        assert_eq!(
            canonical_key("pgp:e4de acdb 6d50 0dec f674  3bea 164c 6fb1 d369 be9b"),
            format!("pgp:{fpr}")
        );
        let mut broken = public.clone();
        broken.pop();
        broken.push(if public.ends_with('q') { 'p' } else { 'q' });
        assert!(parse_recipient_kind(&broken).is_err());
    }

    #[test]
    fn generated_identity_parses() {
        let (text, public) = generate_identity();
        let mut set = IdentitySet::default();
        load_text(&text, "test", None, &mut set).unwrap();
        assert_eq!(set.found[0].public_keys, [public]);
        assert_eq!(set.identities.len(), 1);
    }
}
