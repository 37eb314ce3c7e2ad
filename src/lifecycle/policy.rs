//! Rotation policies and status: globs over secret paths, ages, due dates, offboarding exposure.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use globset::{GlobBuilder, GlobMatcher};

use serde::Serialize;

use crate::clock;
use crate::config::ConfigFile;
use crate::document::VaultDocument;

/// Whether `pattern` matches `path`: `*` and `?` stay within a segment, `**` crosses
/// them (`**/` also matching no directory). This is globset with `/` as a literal
/// separator, the dialect of `[scopes]` paths; a pattern globset refuses matches nothing.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    // Compiled once per pattern: `best_match` asks for every secret of a vault.
    static COMPILED: OnceLock<Mutex<HashMap<String, Option<GlobMatcher>>>> = OnceLock::new();
    let mut compiled = COMPILED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    compiled
        .entry(pattern.to_owned())
        .or_insert_with(|| {
            GlobBuilder::new(&whole_segment_stars(pattern))
                .literal_separator(true)
                .backslash_escape(true)
                .empty_alternates(true)
                .build()
                .ok()
                .map(|glob| glob.compile_matcher())
        })
        .as_ref()
        .is_some_and(|matcher| matcher.is_match(path))
}

/// `pattern` in globset's spelling of what policies have always meant by a `**`
/// that is not a whole segment (`a**`, `a/**b`, `a**/b`): any text, `/` included,
/// and `**/` also nothing at all. globset would read such a `**` as `*`.
fn whole_segment_stars(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut rest = pattern;
    while let Some(at) = rest.find("**") {
        let (before, stars) = rest.split_at(at);
        out.push_str(before);
        let after = stars.trim_start_matches('*');
        let run = stars.len() - after.len();
        let starts_segment = out.is_empty() || out.ends_with('/');
        rest = after;
        if run == 2 && out.is_empty() && after == "/" {
            // `**/` alone names only paths ending in `/`: none (globset: every path).
            out.push('/');
            rest = "";
        } else if run == 2 && starts_segment && (after.is_empty() || after.starts_with('/')) {
            out.push_str("**");
        } else if run == 2 && after.starts_with('/') {
            // `**/` inside a segment: nothing, or any text ending in `/`.
            out.push_str("{,*/**/}");
            rest = &after[1..];
        } else {
            // Any text; after an even run (`****`) the `/` that follows may be skipped.
            out.push_str("{*,*/**/*}");
            if run % 2 == 0 && after.starts_with('/') {
                out.push_str("{,/}");
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The entry of `map` that applies to `path`: an exact key wins, then the
/// matching pattern with the most literal characters (the most specific).
pub fn best_match<'a, V>(map: &'a BTreeMap<String, V>, path: &str) -> Option<(&'a str, &'a V)> {
    if let Some((k, v)) = map.get_key_value(path) {
        return Some((k, v));
    }
    map.iter()
        .filter(|(k, _)| glob_match(k, path))
        .max_by_key(|(k, _)| k.chars().filter(|c| !matches!(c, '*' | '?')).count())
        .map(|(k, v)| (k.as_str(), v))
}

/// One secret's lifecycle facts; never its value.
#[derive(Clone, Debug, Serialize)]
pub struct SecretStatus {
    /// The path.
    pub path: String,
    /// Last change (RFC 3339), if recorded.
    pub updated: Option<String>,
    /// Seconds since the last change.
    pub age_seconds: Option<u64>,
    /// The maximum age that applies (`30d`).
    pub policy: Option<String>,
    /// When it is due (RFC 3339).
    pub due: Option<String>,
    /// Past its due date.
    pub overdue: bool,
    /// The remembered generator spec.
    pub generator: Option<String>,
    /// Removed recipients that could read this very value (by keyed fingerprint).
    pub exposed_to: Vec<Exposure>,
}

pub use crate::lifecycle::exposure::Exposure;

/// The status of every secret, sorted by path. Durations were validated with the config.
pub fn statuses(doc: &VaultDocument, config: Option<&ConfigFile>, now: SystemTime) -> Vec<SecretStatus> {
    let empty = BTreeMap::new();
    let rotation = config.map_or(&empty, |c| &c.rotation);
    let mut exposed = crate::lifecycle::exposure::exposures(doc, config, now);
    doc.leaves()
        .map(|(path, _)| {
            let meta = doc.meta(&path);
            let updated = meta.and_then(|m| m.updated()).map(str::to_owned);
            let updated_at = updated
                .as_deref()
                .and_then(clock::parse_rfc3339)
                .filter(|t| clock::is_representable(*t));
            let age_seconds = updated_at
                .and_then(|t| now.duration_since(t).ok())
                .map(|d| d.as_secs());
            let policy = best_match(rotation, &path).map(|(_, v)| v.clone());
            let max_age = policy.as_deref().and_then(|p| clock::parse_duration(p).ok());
            let (due, overdue) = match (max_age, updated_at) {
                (Some(max), Some(at)) => match at.checked_add(max).filter(|t| clock::is_representable(*t)) {
                    Some(due_at) => (Some(clock::format_rfc3339(due_at)), due_at <= now),
                    // Beyond year 9999: never due.
                    None => (None, false),
                },
                // A policy but no record of when it was set: treat as due now.
                (Some(_), None) => (None, true),
                _ => (None, false),
            };
            let exposed_to = exposed.remove(&path).unwrap_or_default();
            SecretStatus {
                path,
                updated,
                age_seconds,
                policy,
                due,
                overdue,
                generator: meta.and_then(|m| m.generator()).map(str::to_owned),
                exposed_to,
            }
        })
        .collect()
}

/// `3d 4h`, `5m`: a short human age.
pub fn human_age(seconds: u64) -> String {
    let d = Duration::from_secs(seconds);
    let days = d.as_secs() / 86_400;
    let hours = (d.as_secs() % 86_400) / 3600;
    let minutes = (d.as_secs() % 3600) / 60;
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{minutes}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("llm-api-key/*", "llm-api-key/openai"));
        assert!(!glob_match("llm-api-key/*", "llm-api-key/a/b"));
        assert!(glob_match("llm-api-key/**", "llm-api-key/a/b"));
        assert!(glob_match("*/password", "samba/password"));
        assert!(glob_match("tls/ke?", "tls/key"));
        assert!(!glob_match("tls/key", "tls/keys"));
        assert!(glob_match("**", "a/b/c"));
        assert!(glob_match("**/key", "key"));
        assert!(glob_match("**/key", "tls/key"));
        assert!(glob_match("a/**/b", "a/b") && glob_match("a/**/b", "a/x/y/b"));
        // A `**` inside a segment has always meant any text, `/` included (globset
        // alone would read it as `*`), and `**/` there may also be nothing.
        assert!(glob_match("llm**", "llm-api-key/openai"));
        assert!(glob_match("a/**b", "a/x/b") && !glob_match("a/**b", "a/x/c"));
        assert!(glob_match("a**/b", "ab") && glob_match("a**/b", "ax/y/b"));
        assert!(glob_match("***", "a/b") && !glob_match("***/b", "b"));
        assert!(glob_match("a****/b", "a/bb"));
        // A pattern ending in `/` names no secret path; a broken one matches nothing.
        assert!(!glob_match("**/", "a") && !glob_match("a/", "a"));
        assert!(!glob_match("a[", "a"));
    }

    #[test]
    fn most_specific_wins() {
        let mut m = BTreeMap::new();
        m.insert("**".to_owned(), 1);
        m.insert("llm-api-key/*".to_owned(), 2);
        m.insert("llm-api-key/openai".to_owned(), 3);
        assert_eq!(best_match(&m, "llm-api-key/openai").unwrap().1, &3);
        assert_eq!(best_match(&m, "llm-api-key/other").unwrap().1, &2);
        assert_eq!(best_match(&m, "x/y").unwrap().1, &1);
    }

    #[test]
    fn due_and_exposure() {
        let mut doc = VaultDocument::new(vec![]);
        doc.set(&"a/key".parse().unwrap(), "v".into()).unwrap();
        doc.meta_mut("a/key").set_updated("2026-01-01T00:00:00Z".into());
        // A record from before values were tracked: its date decides.
        let doc = VaultDocument::parse(
            std::str::from_utf8(doc.to_plaintext().as_slice())
                .unwrap()
                .replace(
                    r#""recipients": []"#,
                    r#""recipients": [], "offboarded": [{"name":"bob","key":"age1x","removed":"2026-02-01T00:00:00Z","paths":["a/key"]}]"#,
                )
                .as_bytes(),
        )
        .unwrap();
        assert!(doc.was_offboarded_name("bob"));
        let mut config = ConfigFile::default();
        config.rotation.insert("a/*".into(), "30d".into());
        let now = clock::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        let s = &statuses(&doc, Some(&config), now)[0];
        assert!(s.overdue);
        assert_eq!(s.due.as_deref(), Some("2026-01-31T00:00:00Z"));
        assert_eq!(s.exposed_to[0].name, "bob");
        let mut far = config.clone();
        far.rotation.insert("a/*".into(), "18446744073709551615s".into());
        assert!(
            !statuses(&doc, Some(&far), now)[0].overdue,
            "overflow must mean never due, not a panic"
        );
        let early = clock::parse_rfc3339("2026-01-10T00:00:00Z").unwrap();
        assert!(!statuses(&doc, Some(&config), early)[0].overdue);
    }
}
