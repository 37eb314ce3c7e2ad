//! Secret paths: `/`-joined segments of `[A-Za-z0-9._-]+`, never `.` or `..`.

use std::fmt;

/// The most segments a secret path may have. Deeper trees make every reader recurse
/// deeper (serde_json gives up at 128 levels, the stack somewhat later), so one
/// careless `set` could make the vault unreadable for every host.
pub const MAX_SEGMENTS: usize = 32;

/// The longest secret path, in bytes (segments and the `/` between them).
pub const MAX_PATH_BYTES: usize = 1024;

/// The longest segment, in bytes (a file name's limit on most file systems).
pub const MAX_SEGMENT_BYTES: usize = 255;

/// A validated address of a secret or namespace in the vault tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretPath {
    segments: Vec<String>,
}

/// Why a segment is not a valid name; `None` when it is.
pub fn segment_problem(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        Some("has an empty segment")
    } else if segment.len() > MAX_SEGMENT_BYTES {
        Some("has a segment longer than 255 bytes (the limit)")
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
        let invalid = |problem: &str| format!("invalid secret path `{}`: it {problem}", shorten(text));
        let trimmed = text.strip_suffix('/').unwrap_or(text);
        if trimmed.len() > MAX_PATH_BYTES {
            return Err(invalid("is longer than 1024 bytes (the limit)"));
        }
        if trimmed.split('/').count() > MAX_SEGMENTS {
            return Err(invalid("has more than 32 segments (the limit)"));
        }
        let segments: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
        for segment in &segments {
            if let Some(problem) = segment_problem(segment) {
                return Err(invalid(problem));
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

/// `text` escaped for a terminal and cut to 80 characters: an error about a
/// 100 kB path should fit on a line.
pub fn shorten(text: &str) -> String {
    let shown = crate::terminal::sanitize(text);
    match shown.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown,
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
    fn bounds_depth_and_length() {
        let deep = vec!["a"; MAX_SEGMENTS].join("/");
        assert!(SecretPath::parse(&deep).is_ok());
        let e = SecretPath::parse(&format!("{deep}/a")).unwrap_err();
        assert!(e.contains("more than 32 segments"), "{e}");
        assert!(e.chars().count() < 200, "{e}");
        let long = "x".repeat(MAX_SEGMENT_BYTES);
        assert!(SecretPath::parse(&long).is_ok());
        assert!(SecretPath::parse(&format!("{long}x"))
            .unwrap_err()
            .contains("255 bytes"));
        let e = SecretPath::parse(&[long.as_str(); 5].join("/")).unwrap_err();
        assert!(e.contains("1024 bytes"), "{e}");
        assert!(SecretPath::parse(&"a/".repeat(50_000)).is_err());
    }

    #[test]
    fn prefix() {
        let p = SecretPath::parse("a/b/c").unwrap();
        assert!(p.starts_with(&SecretPath::parse("a/b").unwrap()));
        assert!(!p.starts_with(&SecretPath::parse("a/bc").unwrap()));
    }
}
