//! Offboarding exposure: which values a removed recipient could read and that are still in use.
//!
//! `recipients remove` records, inside the encrypted document, a keyed fingerprint
//! (HMAC-SHA256 under the vault's fingerprint key) of every value the removed key could
//! read. A value is exposed while some secret still holds a value with one of those
//! fingerprints: the decision follows the values, not `meta.updated` stamps (which any
//! writer sets, have one-second resolution, and miss a value that is set back or moved
//! to another path). Public values (`*.pub`, `*.crt`, `*.csr`, `public = true`,
//! `class = "public"`) are never exposure.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::clock;
use crate::config::ConfigFile;
use crate::document::{Offboarding, VaultDocument};
use crate::fingerprint::FingerprintKey;
use crate::lifecycle::policy::best_match;

/// Suffixes of the public halves generators store beside a private value.
pub const PUBLIC_SUFFIXES: [&str; 3] = [".pub", ".crt", ".csr"];

/// Whether `path` holds a public value: the config says so (`public = true` or
/// `class = "public"` in `[secrets."GLOB"]`; `public = false` overrides the suffix rule)
/// or it is a generator's public half.
pub fn is_public(path: &str, config: Option<&ConfigFile>) -> bool {
    if let Some((_, info)) = config.and_then(|c| best_match(&c.secrets, path)) {
        if let Some(public) = info.public {
            return public;
        }
        if info.class.as_deref() == Some("public") {
            return true;
        }
    }
    PUBLIC_SUFFIXES.iter().any(|s| path.ends_with(s))
}

/// A removed recipient who could read a value that is still in use.
#[derive(Clone, Debug, Serialize)]
pub struct Exposure {
    /// The recipient's name.
    pub name: String,
    /// When it was removed (RFC 3339).
    pub removed: String,
    /// Whether the grace period for this secret's class is over (then `check` fails).
    pub overdue: bool,
}

/// A short identifier of the fingerprint key, so records know which key made them.
fn key_id(key: &FingerprintKey) -> String {
    base16ct::lower::encode_string(&key.digest(b"agevault exposure key id")[..8])
}

/// Exposure per secret path (only paths with at least one), for the document as it is now.
pub fn exposures(
    doc: &VaultDocument,
    config: Option<&ConfigFile>,
    now: SystemTime,
) -> BTreeMap<String, Vec<Exposure>> {
    let records = doc.offboardings();
    let mut out: BTreeMap<String, Vec<Exposure>> = BTreeMap::new();
    if records.is_empty() {
        return out;
    }
    let key = doc.fingerprint_key();
    let current_id = key.as_ref().map(key_id);
    for (path, value) in doc.leaves() {
        if is_public(&path, config) {
            continue;
        }
        let digest = key
            .as_ref()
            .map(|k| base16ct::lower::encode_string(&k.digest(value.expose_secret().as_bytes())));
        let updated = doc
            .meta(&path)
            .and_then(|m| m.updated())
            .and_then(clock::parse_rfc3339);
        for r in records {
            let removed = r.removed().unwrap_or("");
            let lists_path = r.paths().contains(&path);
            let exposed = match (r.fingerprints(), &digest) {
                (Some(map), Some(d)) if r.key_id() == current_id.as_deref() => map.values().any(|v| v == d),
                // A fingerprint key we cannot compare against (it was replaced without
                // carrying the records over): every path it listed stays exposed.
                (Some(_), _) => lists_path,
                // A record from before value tracking: its dates are all there is.
                (None, _) => {
                    lists_path
                        && match (updated, clock::parse_rfc3339(removed)) {
                            (Some(u), Some(removed)) => u <= removed,
                            _ => true,
                        }
                }
            };
            if exposed {
                let overdue = clock::parse_rfc3339(removed)
                    .and_then(|at| at.checked_add(grace(&path, config)))
                    .map_or(true, |deadline| deadline <= now);
                out.entry(path.clone()).or_default().push(Exposure {
                    name: r.name().unwrap_or("?").to_owned(),
                    removed: removed.to_owned(),
                    overdue,
                });
            }
        }
    }
    out
}

/// The grace period after a removal before exposure fails `check`: `[policy]
/// exposure_grace` by the secret's class (`"*"` for any class), default none.
pub fn grace(path: &str, config: Option<&ConfigFile>) -> Duration {
    let Some(config) = config else {
        return Duration::ZERO;
    };
    let class = best_match(&config.secrets, path).and_then(|(_, i)| i.class.clone());
    let table = &config.policy.exposure_grace;
    class
        .as_deref()
        .and_then(|c| table.get(c))
        .or_else(|| table.get("*"))
        .and_then(|d| clock::parse_duration(d).ok())
        .unwrap_or(Duration::ZERO)
}

/// Records that `name` (key `key`) could read every value of `doc` as it is now. Call it
/// after [`renew_fingerprint_key`], so the removed recipient cannot test guesses against
/// the recorded fingerprints.
pub fn record_offboarding(
    doc: &mut VaultDocument,
    name: &str,
    key: &str,
    config: Option<&ConfigFile>,
    could_read: impl Fn(&str) -> bool,
) -> Vec<String> {
    doc.ensure_fingerprint_key();
    let Some(fp_key) = doc.fingerprint_key() else {
        return Vec::new();
    };
    let mut fingerprints = BTreeMap::new();
    let mut exposed = Vec::new();
    for (path, value) in doc.leaves() {
        if is_public(&path, config) || !could_read(&path) {
            continue;
        }
        fingerprints.insert(
            path.clone(),
            base16ct::lower::encode_string(&fp_key.digest(value.expose_secret().as_bytes())),
        );
        exposed.push(path);
    }
    doc.record_offboarding(Offboarding::new(
        name,
        key,
        clock::now_rfc3339(),
        key_id(&fp_key),
        fingerprints,
        exposed.clone(),
    ));
    exposed
}

/// Replaces the fingerprint key with a fresh one and carries every offboarding record
/// over: fingerprints of values still present are recomputed under the new key; values
/// no longer in the vault cannot be exposed any more and are dropped from the records.
pub fn renew_fingerprint_key(doc: &mut VaultDocument) {
    let old = doc.fingerprint_key();
    doc.replace_fingerprint_key();
    let (Some(old), Some(new)) = (old, doc.fingerprint_key()) else {
        return;
    };
    let old_id = key_id(&old);
    let new_id = key_id(&new);
    // Old digest → (path, new digest) for every current value.
    let mut rekeyed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (path, value) in doc.leaves() {
        let v = value.expose_secret().as_bytes();
        rekeyed.insert(
            base16ct::lower::encode_string(&old.digest(v)),
            (path, base16ct::lower::encode_string(&new.digest(v))),
        );
    }
    for r in doc.offboardings_mut() {
        if r.key_id() != Some(old_id.as_str()) {
            continue;
        }
        let Some(map) = r.fingerprints() else {
            continue;
        };
        let mut carried = BTreeMap::new();
        for digest in map.values() {
            if let Some((path, new_digest)) = rekeyed.get(digest) {
                carried.insert(path.clone(), new_digest.clone());
            }
        }
        r.set_fingerprints(new_id.clone(), carried);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_with(pairs: &[(&str, &str)]) -> VaultDocument {
        let mut doc = VaultDocument::new(vec![]);
        for (p, v) in pairs {
            doc.set(&p.parse().unwrap(), (*v).into()).unwrap();
        }
        doc.ensure_fingerprint_key();
        doc
    }

    #[test]
    fn exposure_follows_values_not_dates() {
        let mut doc = doc_with(&[("db/password", "old"), ("jwt/key", "k"), ("jwt/key.pub", "pub")]);
        renew_fingerprint_key(&mut doc);
        let listed = record_offboarding(&mut doc, "bob", "age1x", None, |_| true);
        assert_eq!(
            listed,
            ["db/password", "jwt/key"],
            "public halves are not exposure"
        );
        let now = SystemTime::now();
        assert_eq!(exposures(&doc, None, now).len(), 2);
        // Same second as the removal: still a different value, so no longer exposed.
        doc.set(&"db/password".parse().unwrap(), "new".into()).unwrap();
        assert_eq!(exposures(&doc, None, now).keys().collect::<Vec<_>>(), ["jwt/key"]);
        // Setting the old value back (or moving it) is exposure again.
        doc.set(&"other/copy".parse().unwrap(), "old".into()).unwrap();
        assert!(exposures(&doc, None, now).contains_key("other/copy"));
        // A later key renewal carries the records over.
        renew_fingerprint_key(&mut doc);
        let after = exposures(&doc, None, now);
        assert!(after.contains_key("other/copy") && after.contains_key("jwt/key"));
        assert!(!after.contains_key("db/password"));
    }

    #[test]
    fn config_marks_public_and_grace_by_class() {
        let mut config = ConfigFile::default();
        config.secrets.insert(
            "samba/user".into(),
            crate::config::SecretInfo {
                class: Some("public".into()),
                ..Default::default()
            },
        );
        assert!(is_public("samba/user", Some(&config)));
        assert!(is_public("tls/cert.crt", None));
        assert!(!is_public("tls/key", Some(&config)));
        config.policy.exposure_grace.insert("*".into(), "2d".into());
        assert_eq!(grace("x", Some(&config)), Duration::from_secs(2 * 86_400));
    }
}
