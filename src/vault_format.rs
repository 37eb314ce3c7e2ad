//! Which encryption a vault file uses — OpenPGP (by the system gpg) when its name ends in
//! `.gpg`, age otherwise — and the one place that sends reading, writing and checking to it.

use std::path::Path;

use age::Identity;

use crate::crypto::{self, DecryptFailure};
use crate::error::{Error, Result};
use crate::secret_buf::SecretBuf;

/// The encryption of one vault file, chosen by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaultFormat {
    /// An ASCII-armored age file, to age, ssh and plugin recipients.
    Age,
    /// An ASCII-armored OpenPGP message, to `pgp:FINGERPRINT` recipients, made by gpg.
    Pgp,
}

impl VaultFormat {
    /// The format of the vault file at `path`.
    pub fn of(path: &Path) -> VaultFormat {
        VaultFormat::of_name(&path.file_name().unwrap_or_default().to_string_lossy())
    }

    /// The format of a vault file called `name`.
    pub fn of_name(name: &str) -> VaultFormat {
        if name.to_ascii_lowercase().ends_with(".gpg") {
            VaultFormat::Pgp
        } else {
            VaultFormat::Age
        }
    }

    /// The format that can be encrypted to this recipient key.
    pub fn for_key(key: &str) -> VaultFormat {
        if crate::pgp::is_pgp_key(key) {
            VaultFormat::Pgp
        } else {
            VaultFormat::Age
        }
    }

    /// Whether a file of this format can be encrypted to `key`.
    pub fn accepts(self, key: &str) -> bool {
        VaultFormat::for_key(key) == self
    }

    /// The file name ending of this format.
    pub fn extension(self) -> &'static str {
        match self {
            VaultFormat::Age => "age",
            VaultFormat::Pgp => "gpg",
        }
    }

    /// "an age file" / "an OpenPGP (.gpg) file".
    pub fn describe(self) -> &'static str {
        match self {
            VaultFormat::Age => "an age file",
            VaultFormat::Pgp => "an OpenPGP (.gpg) file",
        }
    }

    /// Which keys read a file of this format, for messages.
    pub fn key_kinds(self) -> &'static str {
        match self {
            VaultFormat::Age => "age and ssh keys",
            VaultFormat::Pgp => "OpenPGP keys (pgp:FINGERPRINT)",
        }
    }
}

/// Why one file holds one kind of key: the sentence every mixing error ends with.
pub const ONE_KIND_PER_FILE: &str = "one vault file is encrypted by one tool: an age file (the default, \
     `.age`) to age and ssh keys, a `.gpg` file by GnuPG to OpenPGP keys";

/// Whether `bytes` is an armored age or OpenPGP file (only the frame is checked).
pub fn is_armored(bytes: &[u8]) -> bool {
    crypto::is_armored(bytes) || crate::pgp::armor::is_armored(bytes)
}

/// Checks without any key that `bytes` is a well-formed file of the format of `path`.
/// The error completes "it …" sentences.
pub fn check(path: &Path, bytes: &[u8]) -> std::result::Result<(), String> {
    match VaultFormat::of(path) {
        VaultFormat::Age => crypto::check_format(bytes),
        VaultFormat::Pgp => pgp_key_ids(bytes).map(|_| ()),
    }
}

/// The long key ids an OpenPGP vault file is encrypted to, read without any key.
pub fn pgp_key_ids(bytes: &[u8]) -> std::result::Result<Vec<String>, String> {
    let packets = crate::pgp::armor::decode(bytes)?;
    crate::pgp::packets::structure(&packets).map(|s| s.key_ids)
}

/// Decrypts the vault file at `path` (its bytes are `ciphertext`): an age file with the
/// discovered `identities`, an OpenPGP file with gpg (and whatever keys gpg-agent holds).
pub fn decrypt(
    path: &Path,
    ciphertext: &[u8],
    identities: &[Box<dyn Identity>],
) -> std::result::Result<SecretBuf, DecryptFailure> {
    match VaultFormat::of(path) {
        VaultFormat::Age => crypto::decrypt(ciphertext, identities),
        VaultFormat::Pgp => {
            // The structure is checked first: gpg would print an unencrypted message
            // without any key, or ask for the passphrase of a symmetric one.
            pgp_key_ids(ciphertext).map_err(DecryptFailure::Malformed)?;
            crate::pgp::gpg::decrypt(ciphertext)
                .map(|d| d.plaintext)
                .map_err(DecryptFailure::Gpg)
        }
    }
}

/// Like [`decrypt`] for a file agevault encrypted to `keys` (its recipients, sorted):
/// an age file is opened trying first the stanzas where this user's keys should be.
pub fn decrypt_for(
    path: &Path,
    ciphertext: &[u8],
    ids: &crate::keys::IdentitySet,
    keys: &[String],
) -> std::result::Result<SecretBuf, DecryptFailure> {
    match VaultFormat::of(path) {
        VaultFormat::Age => {
            crypto::decrypt_hinted(ciphertext, &ids.identities, ids.plain(), &ids.stanza_hint(keys))
        }
        VaultFormat::Pgp => decrypt(path, ciphertext, &ids.identities),
    }
}

/// Encrypts `plaintext` as the vault file at `path` to `keys`, which must all be of the
/// file's kind.
pub fn encrypt(path: &Path, plaintext: &[u8], keys: &[String]) -> Result<Vec<u8>> {
    let format = VaultFormat::of(path);
    if keys.is_empty() {
        return Err(Error::msg("no recipients are configured")
            .with_hint("add one with `agevault recipients add NAME KEY`"));
    }
    if let Some(wrong) = keys.iter().find(|k| !format.accepts(k)) {
        return Err(Error::msg(format!(
            "cannot encrypt {} to {}: it is {}, which only {} can read ({ONE_KIND_PER_FILE}); nothing was written",
            path.display(),
            crate::terminal::sanitize(wrong),
            format.describe(),
            format.key_kinds()
        )));
    }
    match format {
        VaultFormat::Age => {
            let recipients = crate::keys::recipients_for(keys)?;
            crypto::encrypt_armored(plaintext, &recipients)
        }
        VaultFormat::Pgp => {
            let fingerprints = keys
                .iter()
                .map(|k| crate::pgp::parse_fingerprint(k))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(Error::msg)?;
            crate::pgp::gpg::encrypt(plaintext, &fingerprints).map_err(|f| {
                Error::msg(format!(
                    "cannot encrypt {}: {f}; nothing was written",
                    path.display()
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_name() {
        assert_eq!(VaultFormat::of(Path::new("a/secrets.json.gpg")), VaultFormat::Pgp);
        assert_eq!(VaultFormat::of(Path::new("secrets.json.GPG")), VaultFormat::Pgp);
        assert_eq!(VaultFormat::of(Path::new("secrets.json.age")), VaultFormat::Age);
        assert_eq!(VaultFormat::of(Path::new("vault")), VaultFormat::Age);
        assert!(VaultFormat::Pgp.accepts("pgp:E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B"));
        assert!(!VaultFormat::Pgp.accepts("age1xyz"));
        assert!(VaultFormat::Age.accepts("ssh-ed25519 AAAA"));
    }

    #[test]
    fn a_key_of_the_other_kind_is_refused_before_any_tool_runs() {
        let (_, age_key) = crate::keys::generate_identity();
        let e = encrypt(Path::new("v.json.gpg"), b"{}", &[age_key]).unwrap_err();
        assert!(e.to_string().contains("only OpenPGP keys"), "{e}");
        let e = encrypt(
            Path::new("v.json.age"),
            b"{}",
            &["pgp:E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B".into()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("only age and ssh keys"), "{e}");
    }
}
