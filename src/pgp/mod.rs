//! OpenPGP vault files (`*.gpg`): the armor and packet structure are read here, the
//! encryption and decryption are done by the system `gpg`, whose gpg-agent and pinentry
//! hold the private keys (smartcards included); agevault never sees a passphrase.

pub mod armor;
pub mod gpg;
pub mod packets;

pub use gpg::{GpgFailure, KeyInfo};

use crate::error::Error;

/// How an OpenPGP recipient is written in `.agevault.toml`: `pgp:` and a v4 fingerprint.
pub const KEY_PREFIX: &str = "pgp:";

/// The canonical form of an OpenPGP recipient: `pgp:` and 40 upper-case hex digits, with
/// the spaces, `0x` and case of `gpg --fingerprint` output removed. Anything that is not
/// a plausible fingerprint is returned trimmed, for [`parse_fingerprint`] to explain.
pub fn canonical(key: &str) -> String {
    let Some(rest) = strip_prefix(key.trim()) else {
        return key.trim().to_owned();
    };
    let hex: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    let hex = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(&hex);
    if hex.chars().all(|c| c.is_ascii_hexdigit()) {
        format!("{KEY_PREFIX}{}", hex.to_ascii_uppercase())
    } else {
        key.trim().to_owned()
    }
}

fn strip_prefix(key: &str) -> Option<&str> {
    let head = key.get(..KEY_PREFIX.len())?;
    head.eq_ignore_ascii_case(KEY_PREFIX)
        .then(|| &key[KEY_PREFIX.len()..])
}

/// Whether `key` is written as an OpenPGP recipient (valid or not).
pub fn is_pgp_key(key: &str) -> bool {
    strip_prefix(key.trim()).is_some()
}

/// The 40-hex fingerprint of a `pgp:` recipient, or what is wrong with it.
pub fn parse_fingerprint(key: &str) -> Result<String, String> {
    let canonical = canonical(key);
    let Some(hex) = strip_prefix(&canonical) else {
        return Err("it does not start with pgp:".into());
    };
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) || hex.is_empty() {
        return Err(format!(
            "`{}` is not an OpenPGP fingerprint: write pgp: and the key's 40 hex digits \
             (`gpg --fingerprint KEY` shows them)",
            crate::terminal::sanitize(key.trim())
        ));
    }
    match hex.len() {
        40 => Ok(hex.to_owned()),
        8 | 16 => Err(format!(
            "pgp:{hex} is a short key id, which anyone can forge a key for; give the full 40-hex fingerprint \
             (`gpg --with-colons --fingerprint {hex}` shows it on its fpr line)"
        )),
        64 => Err(
            "it is a v5/v6 (64-hex) fingerprint; agevault supports v4 OpenPGP keys (40 hex digits)".into(),
        ),
        n => Err(format!(
            "pgp:{hex} has {n} hex digits; an OpenPGP v4 fingerprint has 40"
        )),
    }
}

/// Checks that the OpenPGP key with this fingerprint is in the gpg keyring and can be
/// encrypted to, before a vault is encrypted to it; the error says what to do.
pub fn check_usable(fingerprint: &str) -> crate::error::Result<KeyInfo> {
    let keys = gpg::list_keys(&[fingerprint.to_owned()]).map_err(Error::from_cause)?;
    let Some(key) = keys.into_iter().next() else {
        let home = std::env::var_os("GNUPGHOME")
            .map(|h| format!(" (GNUPGHOME={})", std::path::Path::new(&h).display()))
            .unwrap_or_default();
        return Err(Error::msg(format!(
            "the OpenPGP key pgp:{fingerprint} is not in your gpg keyring{home}; import its public key first \
             (`gpg --import KEYFILE`, or `gpg --recv-keys {fingerprint}`), then run this again; nothing was changed"
        )));
    };
    let who = key.user_id.as_deref().unwrap_or("no user id");
    if key.fingerprint != fingerprint {
        return Err(Error::msg(format!(
            "pgp:{fingerprint} is a subkey of the OpenPGP key {} ({who}); give the primary key's fingerprint, \
             pgp:{} (gpg picks its encryption subkey); nothing was changed",
            key.fingerprint, key.fingerprint
        )));
    }
    match key.validity {
        'r' => Err(Error::msg(format!(
            "the OpenPGP key pgp:{fingerprint} ({who}) is revoked; nothing was changed"
        ))),
        'e' => Err(Error::msg(format!(
            "the OpenPGP key pgp:{fingerprint} ({who}) has expired; extend it (`gpg --quick-set-expire`) or use \
             another; nothing was changed"
        ))),
        _ if !key.can_encrypt => Err(Error::msg(format!(
            "the OpenPGP key pgp:{fingerprint} ({who}) has no usable encryption subkey; add one (`gpg \
             --quick-add-key {fingerprint} cv25519 encr`) and share the public key again; nothing was changed"
        ))),
        _ => Ok(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalized_and_checked() {
        let spaced = "pgp:e4de acdb 6d50 0dec f674  3bea 164c 6fb1 d369 be9b";
        assert_eq!(canonical(spaced), "pgp:E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B");
        assert_eq!(
            canonical("PGP:0xE4DEACDB6D500DECF6743BEA164C6FB1D369BE9B"),
            "pgp:E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B"
        );
        assert_eq!(
            parse_fingerprint(spaced).unwrap(),
            "E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B"
        );
        assert!(parse_fingerprint("pgp:D369BE9B")
            .unwrap_err()
            .contains("short key id"));
        assert!(parse_fingerprint("pgp:164C6FB1D369BE9B")
            .unwrap_err()
            .contains("short key id"));
        assert!(parse_fingerprint("pgp:xyz")
            .unwrap_err()
            .contains("not an OpenPGP fingerprint"));
        assert!(parse_fingerprint("pgp:").is_err());
        assert!(parse_fingerprint("pgp:ABC").unwrap_err().contains("3 hex digits"));
        assert!(is_pgp_key(" Pgp:ab"));
        assert!(!is_pgp_key("age1xyz"));
    }
}
