//! Keyed fingerprints of secret values: what diffs show instead of a value.
//!
//! A plain hash of a value could be brute-forced (most secrets are short or
//! guessable), so fingerprints are HMAC-SHA256 under a random per-vault key kept
//! *inside* the encrypted document: only recipients can compute or verify them.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::document::VaultDocument;

/// The top-level document field holding the key (base64 of 32 random bytes).
pub const KEY_FIELD: &str = "fingerprint_key";

/// How many hex characters of the HMAC a fingerprint shows (48 bits).
const FINGERPRINT_HEX: usize = 12;

/// A vault's fingerprint key.
pub struct FingerprintKey(Zeroizing<Vec<u8>>);

impl FingerprintKey {
    /// The key recorded in `doc`, if it holds a well-formed one.
    pub fn of(doc: &VaultDocument) -> Option<FingerprintKey> {
        let Some(Value::String(text)) = doc.extra.get(KEY_FIELD) else {
            return None;
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        (bytes.len() >= 16).then(|| FingerprintKey(Zeroizing::new(bytes)))
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
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    fn to_field(&self) -> Value {
        Value::String(base64::engine::general_purpose::STANDARD.encode(self.0.as_slice()))
    }
}

/// Adds a fresh key to `doc` unless it has a valid one; returns whether it added one.
/// Replaces the key with a fresh one (offboarding, or content nobody signed).
pub fn renew_key(doc: &mut VaultDocument) {
    doc.extra.remove(KEY_FIELD);
    ensure_key(doc);
}

pub fn ensure_key(doc: &mut VaultDocument) -> bool {
    if FingerprintKey::of(doc).is_some() {
        return false;
    }
    doc.extra
        .insert(KEY_FIELD.into(), FingerprintKey::generate().to_field());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed_stable_and_short() {
        let mut doc = VaultDocument::new(vec![]);
        assert!(FingerprintKey::of(&doc).is_none());
        assert!(ensure_key(&mut doc));
        assert!(!ensure_key(&mut doc));
        let key = FingerprintKey::of(&doc).unwrap();
        let a = key.fingerprint(b"hunter2-hunter2");
        assert_eq!(a, key.fingerprint(b"hunter2-hunter2"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("fp:"));
        assert_ne!(a, key.fingerprint(b"hunter2-hunter3"));
        let other = FingerprintKey::generate();
        assert_ne!(a, other.fingerprint(b"hunter2-hunter2"));
    }

    #[test]
    fn writes_gain_a_key_once() {
        let mut doc = VaultDocument::new(vec!["age1x".into()]);
        assert!(ensure_key(&mut doc), "a key is added when missing");
        let key = FingerprintKey::of(&doc).unwrap();
        assert!(!ensure_key(&mut doc), "an existing key is kept");
        let parsed = VaultDocument::parse(doc.to_plaintext().as_slice()).unwrap();
        assert_eq!(
            FingerprintKey::of(&parsed).unwrap().fingerprint(b"v"),
            key.fingerprint(b"v")
        );
    }
}
