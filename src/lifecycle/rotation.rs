//! A rotation inside the document: a new value is first staged at `PATH.next`, then
//! promoted to `PATH` (keeping the old one at `PATH.previous` for an overlap window).
//!
//! Staging exists for hooks: until the service accepts the new value, consumers must
//! keep receiving the old one, yet the new value must already be durable in the vault
//! (a hook that changed the database password and then failed must not lose it).

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};

use crate::document::{Node, VaultDocument};
use crate::lifecycle::generate::{Generated, Generator};
use crate::secret_path::SecretPath;

/// Where a staged value waits for its hook.
pub const NEXT_SUFFIX: &str = ".next";
/// Where the value before the last rotation stays during an overlap window.
pub const PREVIOUS_SUFFIX: &str = ".previous";

/// `PATH` + `suffix` as a path.
pub fn with_suffix(path: &SecretPath, suffix: &str) -> Result<SecretPath, String> {
    SecretPath::parse(&format!("{path}{suffix}"))
}

fn leaf(doc: &VaultDocument, path: &SecretPath) -> Option<SecretString> {
    match doc.get(path) {
        Some(Node::Leaf(v)) => Some(SecretString::from(v.expose_secret())),
        _ => None,
    }
}

/// Stages `value` (and a generator's public half) as the next value of `path`.
pub fn stage(
    doc: &mut VaultDocument,
    path: &SecretPath,
    generated: Generated,
    generator: Option<&Generator>,
) -> Result<(), String> {
    let next = with_suffix(path, NEXT_SUFFIX)?;
    doc.set(&next, generated.value)?;
    let meta = doc.meta_mut(&next.to_string());
    meta.set_staged_for(path.to_string());
    if let Some(g) = generator {
        meta.set_generator(g.to_string());
    }
    if let Some(public) = generated.public {
        meta.set_companion(generated.public_suffix.into());
        let companion_next = with_suffix(&with_suffix(path, generated.public_suffix)?, NEXT_SUFFIX)?;
        doc.set(&companion_next, public.as_str().into())?;
        doc.meta_mut(&companion_next.to_string())
            .set_staged_with(path.to_string());
    }
    Ok(())
}

/// The staged value of `path`, if one waits.
pub fn staged(doc: &VaultDocument, path: &SecretPath) -> Option<SecretString> {
    let next = with_suffix(path, NEXT_SUFFIX).ok()?;
    let meta = doc.meta(&next.to_string())?;
    (meta.staged_for()? == path.to_string()).then(|| leaf(doc, &next))?
}

/// Every path with a staged value.
pub fn staged_paths(doc: &VaultDocument) -> Vec<SecretPath> {
    doc.metas()
        .filter_map(|(_, m)| m.staged_for())
        .filter_map(|p| SecretPath::parse(p).ok())
        .collect()
}

/// Moves the staged value of `path` into place. With `keep_previous`, the old value
/// (and old public half) stays at `PATH.previous` until the window ends; otherwise an
/// older `PATH.previous` is removed. Returns false when nothing was staged.
pub fn promote(
    doc: &mut VaultDocument,
    path: &SecretPath,
    keep_previous: Option<Duration>,
) -> Result<bool, String> {
    let next = with_suffix(path, NEXT_SUFFIX)?;
    let Some(new) = staged(doc, path) else {
        return Ok(false);
    };
    let meta = doc.meta(&next.to_string()).cloned().unwrap_or_default();
    let generator = meta.generator().map(str::to_owned);
    let companion = meta.companion().map(str::to_owned);
    let until = keep_previous.and_then(|d| SystemTime::now().checked_add(d));
    replace_keeping(doc, path, new, until)?;
    doc.remove(&next);
    if let Some(suffix) = companion {
        let public = with_suffix(path, &suffix)?;
        let public_next = with_suffix(&public, NEXT_SUFFIX)?;
        if let Some(v) = leaf(doc, &public_next) {
            replace_keeping(doc, &public, v, until)?;
            doc.remove(&public_next);
        }
    }
    let meta = doc.meta_mut(&path.to_string());
    meta.set_rotated(crate::clock::now_rfc3339());
    if let Some(g) = generator {
        meta.set_generator(g);
    }
    Ok(true)
}

fn replace_keeping(
    doc: &mut VaultDocument,
    path: &SecretPath,
    new: SecretString,
    keep_until: Option<SystemTime>,
) -> Result<(), String> {
    let previous = with_suffix(path, PREVIOUS_SUFFIX)?;
    let old = leaf(doc, path);
    doc.remove(&previous);
    if let (Some(old), Some(until)) = (old, keep_until) {
        doc.set(&previous, old)?;
        doc.meta_mut(&previous.to_string())
            .set_keep_until(crate::clock::format_rfc3339(until));
    }
    // `set` keeps metadata such as the generator; a changed value gets a new `updated`.
    doc.set(path, new)?;
    Ok(())
}

/// Sets `path` to a generated value (and its public half), remembering the generator.
pub fn apply_generated(
    doc: &mut VaultDocument,
    path: &SecretPath,
    generator: &Generator,
) -> crate::Result<()> {
    let generated = generator.generate()?;
    stage(doc, path, generated, Some(generator)).map_err(crate::Error::msg)?;
    promote(doc, path, None).map_err(crate::Error::msg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_then_promote_keeps_previous() {
        let mut doc = VaultDocument::new(vec![]);
        let path: SecretPath = "jwt/key".parse().unwrap();
        doc.set(&path, "old".into()).unwrap();
        doc.set(&"jwt/key.pub".parse().unwrap(), "oldpub".into()).unwrap();
        let generated = Generated {
            value: "new".into(),
            public: Some("newpub".into()),
            public_suffix: ".pub",
        };
        stage(&mut doc, &path, generated, None).unwrap();
        assert_eq!(staged_paths(&doc).len(), 1);
        assert_eq!(leaf(&doc, &path).unwrap().expose_secret(), "old");
        assert!(promote(&mut doc, &path, Some(Duration::from_secs(3600))).unwrap());
        let get = |p: &str| leaf(&doc, &p.parse().unwrap()).map(|v| v.expose_secret().to_owned());
        assert_eq!(get("jwt/key").as_deref(), Some("new"));
        assert_eq!(get("jwt/key.previous").as_deref(), Some("old"));
        assert_eq!(get("jwt/key.pub").as_deref(), Some("newpub"));
        assert_eq!(get("jwt/key.pub.previous").as_deref(), Some("oldpub"));
        assert_eq!(get("jwt/key.next"), None);
        assert!(staged_paths(&doc).is_empty());
    }
}
