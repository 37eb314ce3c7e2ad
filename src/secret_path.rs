//! Secret paths: `/`-joined segments of `[A-Za-z0-9._-]+`, never `.` or `..`.

use std::fmt;

/// A validated address of a secret or namespace in the vault tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretPath {
    segments: Vec<String>,
}

/// Why a segment is not a valid name; `None` when it is.
pub fn segment_problem(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        Some("has an empty segment")
    } else if segment == "." || segment == ".." {
        Some("has a `.` or `..` segment")
    } else if !segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("may only use the characters A-Z a-z 0-9 . _ - in each segment")
    } else {
        None
    }
}

impl SecretPath {
    /// Parses `text`, naming the rule it breaks.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.strip_suffix('/').unwrap_or(text);
        let segments: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
        for segment in &segments {
            if let Some(problem) = segment_problem(segment) {
                return Err(format!(
                    "invalid secret path `{}`: it {problem}",
                    crate::terminal::sanitize(text)
                ));
            }
        }
        Ok(SecretPath { segments })
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether `self` equals `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &SecretPath) -> bool {
        self.segments.starts_with(&prefix.segments)
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("/"))
    }
}

impl std::str::FromStr for SecretPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SecretPath::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_paths() {
        let p = SecretPath::parse("llm-api-key/openai").unwrap();
        assert_eq!(p.segments(), ["llm-api-key", "openai"]);
        assert_eq!(p.to_string(), "llm-api-key/openai");
        assert!(SecretPath::parse("a.b_c-D9").is_ok());
        assert_eq!(SecretPath::parse("ns/").unwrap().to_string(), "ns");
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in [
            "", "/a", "a//b", "../etc", "a/./b", "a/..", "a b", "a/ü", "a\\b", "a\n",
        ] {
            assert!(SecretPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = SecretPath::parse("../etc/passwd").unwrap_err();
        assert!(e.contains("`.` or `..`"), "{e}");
    }

    #[test]
    fn prefix() {
        let p = SecretPath::parse("a/b/c").unwrap();
        assert!(p.starts_with(&SecretPath::parse("a/b").unwrap()));
        assert!(!p.starts_with(&SecretPath::parse("a/bc").unwrap()));
    }
}
