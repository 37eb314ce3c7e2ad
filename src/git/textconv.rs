//! The text git diffs instead of ciphertext: recipients and secret paths with keyed
//! fingerprints, sorted, so `git diff` shows which secrets changed and never a value.

use secrecy::ExposeSecret;

use crate::document::VaultDocument;
use crate::fingerprint::FingerprintKey;
use crate::terminal::sanitize;

/// The first line of every rendering, so a reader knows what the `fp:` values are.
pub const HEADER: &str =
    "# agevault vault: secret values are shown as keyed fingerprints (fp:…), never in clear";

/// What textconv prints for a vault the local identities cannot open.
pub const UNDECRYPTABLE: &str =
    "# agevault vault: encrypted; no identity here can decrypt it, so its paths and values are hidden";

/// A short public identifier of a ciphertext (12 hex characters of its SHA-256).
pub fn ciphertext_id(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    base16ct::lower::encode_string(&digest[..6])
}

/// Renders `doc` for diffing. Without a key, values show as `fp:?` (only additions
/// and removals are visible then).
pub fn render(doc: &VaultDocument, key: Option<&FingerprintKey>) -> String {
    let mut out = String::with_capacity(64 * (doc.recipients().len() + 8));
    out.push_str(HEADER);
    out.push('\n');
    if key.is_none() {
        out.push_str(
            "# no fingerprint key in this version or the working tree: changed values are not shown\n",
        );
    }
    for recipient in doc.recipients() {
        out.push_str("recipient ");
        out.push_str(&sanitize(recipient));
        out.push('\n');
    }
    for (path, value) in doc.leaves() {
        let fp = key.map_or_else(
            || "fp:?".to_owned(),
            |k| k.fingerprint(value.expose_secret().as_bytes()),
        );
        out.push_str(&path);
        out.push_str("  ");
        out.push_str(&fp);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_path::SecretPath;

    #[test]
    fn lists_sorted_paths_without_values() {
        let mut doc = VaultDocument::new(vec!["age1b".into(), "age1a".into()]);
        doc.ensure_fingerprint_key();
        for (p, v) in [("z/last", "value-one-1"), ("a/first", "value-two-2")] {
            doc.set(&SecretPath::parse(p).unwrap(), v.into()).unwrap();
        }
        let key = doc.fingerprint_key().unwrap();
        let text = render(&doc, Some(&key));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "recipient age1a");
        assert_eq!(lines[2], "recipient age1b");
        assert!(lines[3].starts_with("a/first  fp:"), "{text}");
        assert!(lines[4].starts_with("z/last  fp:"), "{text}");
        assert!(!text.contains("value-one-1") && !text.contains("value-two-2"));
        assert!(render(&doc, None).contains("a/first  fp:?"));
    }
}
