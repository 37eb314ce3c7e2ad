//! Identities (private keys) and recipients (public keys): discovery, parsing, generation.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use age::cli_common::{read_identities, StdinGuard, UiCallbacks};
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
}

/// Checks a recipient key string and says what kind it is, or what is wrong with it.
pub fn parse_recipient_kind(key: &str) -> std::result::Result<RecipientKind, String> {
    let key = key.trim();
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
    Err("it is neither an age recipient (age1…) nor an ssh-ed25519/ssh-rsa public key".into())
}

/// Builds encryptors for `keys` (plugin recipients go through their plugin binary).
pub fn recipients_for(keys: &[String]) -> Result<Vec<Box<dyn Recipient + Send>>> {
    if keys.is_empty() {
        return Err(Error::msg(
            "no recipients are configured; add one with `agevault recipients add NAME KEY`",
        ));
    }
    read_recipients_strings(keys)
}

fn read_recipients_strings(keys: &[String]) -> Result<Vec<Box<dyn Recipient + Send>>> {
    age::cli_common::read_recipients(keys.to_vec(), vec![], vec![], None, &mut StdinGuard::new(false))
        .map_err(|e| Error::msg(format!("cannot use the configured recipients: {e}")))
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

/// Every identity discovered, in SPEC §2 order.
#[derive(Default)]
pub struct IdentitySet {
    /// The identities themselves, in order of trial.
    pub identities: Vec<Box<dyn Identity>>,
    /// What was found, for error messages and `whoami`.
    pub found: Vec<FoundIdentity>,
    /// Default places looked at that held nothing usable, with why.
    pub skipped: Vec<String>,
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
            set.skipped.push(format!("{} ({e})", path.display()));
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
        .map(|b| Zeroizing::new(String::from_utf8_lossy(&b).into_owned()))
        .map_err(|e| Error::msg(format!("cannot read identity file {}: {e}", path.display())))?;
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
    let identities: Vec<Box<dyn Identity>> = if is_encrypted || is_ssh {
        let Some(path) = path else {
            return Err(bad(&"only age X25519 or plugin identities can be given as text"));
        };
        if is_encrypted {
            found.note = Some("passphrase-protected; asks for the passphrase when needed".into());
        }
        // An SSH key's public half sits beside it by convention.
        let pub_path = PathBuf::from(format!("{}.pub", path.display()));
        if let Ok(pub_text) = fs::read_to_string(&pub_path) {
            let key: Vec<&str> = pub_text.split_whitespace().take(2).collect();
            if key.len() == 2 && parse_recipient_kind(&key.join(" ")).is_ok() {
                found.public_keys.push(key.join(" "));
            }
        }
        read_identities(
            vec![path.display().to_string()],
            None,
            &mut StdinGuard::new(false),
        )
        .map_err(|e| bad(&e))?
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
        if plugins > 0 {
            found.note = Some(format!(
                "{plugins} plugin identity(ies); the plugin is asked when needed"
            ));
        }
        let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| bad(&e))?;
        let ids = file
            .with_callbacks(UiCallbacks)
            .into_identities()
            .map_err(|e| bad(&e))?;
        if ids.is_empty() {
            return Err(bad(&"it holds no AGE-SECRET-KEY-1 or AGE-PLUGIN- line"));
        }
        ids.into_iter().map(|i| i as Box<dyn Identity>).collect()
    };
    set.identities.extend(identities);
    set.found.push(found);
    Ok(())
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
