//! Keyed fingerprints of secret values: what diffs show instead of a value.
//!
//! A plain hash of a value could be brute-forced (most secrets are short or
//! guessable), so fingerprints are HMAC-SHA256 under a random per-vault key kept
//! *inside* the encrypted document (`VaultDocument::fingerprint_key`): only recipients
//! can compute or verify them.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// How many hex characters of the HMAC a fingerprint shows (48 bits).
const FINGERPRINT_HEX: usize = 12;

/// A vault's fingerprint key.
pub struct FingerprintKey(Zeroizing<Vec<u8>>);

impl FingerprintKey {
    /// The key stored as `text` (base64), if it is well-formed: at least 16 bytes.
    pub fn decode(text: &str) -> Option<FingerprintKey> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        (bytes.len() >= 16).then(|| FingerprintKey(Zeroizing::new(bytes)))
    }

    /// The key as the document stores it (base64).
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_slice()))
    }

    /// A fresh random key.
    pub fn generate() -> FingerprintKey {
        let mut bytes = Zeroizing::new(vec![0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        FingerprintKey(bytes)
    }

    /// `fp:` and the first 12 hex characters of HMAC-SHA256(key, value).
    pub fn fingerprint(&self, value: &[u8]) -> String {
        let digest = self.digest(value);
        let mut out = String::with_capacity(3 + FINGERPRINT_HEX);
        out.push_str("fp:");
        for byte in &digest[..FINGERPRINT_HEX / 2] {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// The full HMAC-SHA256 of `value` (for in-memory comparisons only).
    pub fn digest(&self, value: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            return [0; 32];
        };
        mac.update(value);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed_stable_and_short() {
        let key = FingerprintKey::generate();
        let a = key.fingerprint(b"hunter2-hunter2");
        assert_eq!(a, key.fingerprint(b"hunter2-hunter2"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("fp:"));
        assert_ne!(a, key.fingerprint(b"hunter2-hunter3"));
        let other = FingerprintKey::generate();
        assert_ne!(a, other.fingerprint(b"hunter2-hunter2"));
    }

    #[test]
    fn a_key_reads_back_from_its_text_and_a_short_one_does_not() {
        let key = FingerprintKey::generate();
        let again = FingerprintKey::decode(&key.encode()).unwrap();
        assert_eq!(again.fingerprint(b"v"), key.fingerprint(b"v"));
        assert!(FingerprintKey::decode("AAAA").is_none(), "3 bytes is too short");
        assert!(FingerprintKey::decode("not base64!").is_none());
    }
}
