//! Allowing known false positives: the `.agevault-allow` file and the inline
//! `agevault:allow` marker.
//!
//! `.agevault-allow` (at the repository root) holds one entry per line:
//! a git pathspec pattern, optionally followed by rule names; `#` starts a comment.
//!
//! ```text
//! docs/examples/         # every finding under docs/examples/
//! tests/*.rs password-assignment
//! examples/demo-identity.txt age-secret-key
//! ```

use std::path::Path;

use git2::{Pathspec, PathspecFlags};

use crate::error::{Error, Result};
use crate::scan::rules;

/// The allow-list file name, at the repository root.
pub const ALLOW_FILE: &str = ".agevault-allow";

/// The inline marker: a finding on a line containing it is ignored.
pub const INLINE_MARKER: &[u8] = b"agevault:allow";

/// The rule name of vault-value findings, as written in the allow-list.
pub const VAULT_VALUE: &str = "vault-value";

struct Entry {
    pathspec: Pathspec,
    rules: Vec<String>,
}

/// The parsed allow-list.
#[derive(Default)]
pub struct AllowList {
    entries: Vec<Entry>,
}

impl AllowList {
    /// Reads `dir/.agevault-allow`; a missing file allows nothing.
    pub fn load(dir: &Path) -> Result<AllowList> {
        let path = dir.join(ALLOW_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => AllowList::parse(&text).map_err(|e| Error::msg(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AllowList::default()),
            Err(e) => Err(Error::io("reading", path, e)),
        }
    }

    /// Parses allow-list text.
    pub fn parse(text: &str) -> std::result::Result<AllowList, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split_once('#').map_or(line, |(before, _)| before).trim();
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next() else { continue };
            let rules: Vec<String> = words.map(str::to_owned).collect();
            for rule in &rules {
                if rule != VAULT_VALUE && !rules::ALL.contains(&rule.as_str()) {
                    return Err(format!(
                        "line {}: unknown rule `{}`; known rules: {VAULT_VALUE}, {}",
                        n + 1,
                        crate::terminal::sanitize(rule),
                        rules::ALL.join(", ")
                    ));
                }
            }
            let pathspec = Pathspec::new([pattern])
                .map_err(|e| format!("line {}: bad pattern: {}", n + 1, e.message()))?;
            entries.push(Entry { pathspec, rules });
        }
        Ok(AllowList { entries })
    }

    /// Whether a finding of `rule` in `path` (repository-relative) is allowed.
    pub fn allows(&self, path: &str, rule: &str) -> bool {
        self.entries.iter().any(|e| {
            (e.rules.is_empty() || e.rules.iter().any(|r| r == rule))
                && e.pathspec.matches_path(Path::new(path), PathspecFlags::DEFAULT)
        })
    }
}

/// Whether the line holding byte `at` of `content` carries the inline marker.
pub fn line_is_marked(content: &[u8], at: usize) -> bool {
    let start = content[..at.min(content.len())]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end = content[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(content.len(), |i| start + i);
    memchr::memmem::find(&content[start..end], INLINE_MARKER).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_paths_and_rules() {
        let list =
            AllowList::parse("# c\ndocs/\ntests/*.rs password-assignment\n\nid.txt age-secret-key # demo\n")
                .unwrap();
        assert!(list.allows("docs/a/b.md", "pem-private-key"));
        assert!(list.allows("tests/x.rs", "password-assignment"));
        assert!(!list.allows("tests/x.rs", "pem-private-key"));
        assert!(list.allows("id.txt", "age-secret-key"));
        assert!(!list.allows("src/id.txt", "age-secret-key"));
        assert!(!list.allows("src/main.rs", "password-assignment"));
        assert!(AllowList::parse("x no-such-rule").is_err());
    }

    #[test]
    fn inline_marker_is_per_line() {
        let text = b"a = 1\npassword = \"x\" # agevault:allow\nb\n";
        assert!(line_is_marked(text, 8));
        assert!(!line_is_marked(text, 0));
        assert!(!line_is_marked(text, text.len() - 1));
    }
}
