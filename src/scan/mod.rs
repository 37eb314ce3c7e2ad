//! Finding secrets outside the vault: plaintext copies of the vault's current values
//! (in common encodings) and hard-coded secret patterns. Findings name a file, a
//! line and a rule — never the matched text.

pub mod allow;
pub mod needles;
pub mod rules;
pub mod sources;
pub mod special;
pub mod walk;

use serde::Serialize;

use crate::scan::allow::{line_is_marked, AllowList, VAULT_VALUE};
use crate::scan::needles::VaultNeedles;
use crate::scan::rules::Rules;

/// Files larger than this are skipped (and counted): secrets live in small files.
pub const MAX_FILE_SIZE: usize = 16 << 20;

/// One finding. Holds no part of the matched text.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The commit that introduced the file version (`--history` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The file, relative to the repository root (or the current directory outside git).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The rule: `vault-value` or a pattern rule name.
    pub rule: &'static str,
    /// For `vault-value`: which secret's value was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// For `vault-value`: in which encoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
}

/// Why a file was not scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// It has NUL bytes in its first 8000 bytes (git's own test).
    Binary,
    /// It is larger than [`MAX_FILE_SIZE`].
    TooLarge,
}

/// The scanner: the vault's needles (if the vault could be read), the pattern rules,
/// and the allow-list.
pub struct Scanner {
    needles: Option<VaultNeedles>,
    rules: Rules,
    allow: AllowList,
}

impl Scanner {
    /// A scanner over these needles and allow-list.
    pub fn new(needles: Option<VaultNeedles>, allow: AllowList) -> Scanner {
        Scanner {
            needles,
            rules: Rules::new(),
            allow,
        }
    }

    /// Whether vault values are searched.
    pub fn checks_values(&self) -> bool {
        self.needles.is_some()
    }

    /// Scans one file's contents; `file` is the name findings carry.
    pub fn scan(&self, file: &str, content: &[u8]) -> Result<Vec<Finding>, Skip> {
        if content.len() > MAX_FILE_SIZE {
            return Err(Skip::TooLarge);
        }
        if content[..content.len().min(8000)].contains(&0) {
            return Err(Skip::Binary);
        }
        let mut hits: Vec<(usize, &'static str, Option<String>, Option<&'static str>)> = Vec::new();
        if let Some(needles) = &self.needles {
            for m in needles.find(content) {
                hits.push((
                    m.start,
                    VAULT_VALUE,
                    Some(m.label.path.clone()),
                    Some(m.label.encoding),
                ));
            }
        }
        for (at, rule) in self.rules.find(file, content) {
            hits.push((at, rule, None, None));
        }
        hits.sort_by_key(|h| h.0);
        let mut findings = Vec::new();
        let mut line = 1;
        let mut counted = 0;
        for (at, rule, secret, encoding) in hits {
            line += content[counted..at].iter().filter(|b| **b == b'\n').count();
            counted = at;
            if self.allow.allows(file, rule) || line_is_marked(content, at) {
                continue;
            }
            let finding = Finding {
                commit: None,
                file: file.to_owned(),
                line,
                rule,
                secret,
                encoding,
            };
            findings.push(finding);
        }
        // Sorting once keeps this linear-logarithmic in the number of hits.
        findings.sort();
        findings.dedup();
        Ok(findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::VaultDocument;
    use crate::secret_path::SecretPath;

    #[test]
    fn reports_lines_and_respects_allowances() {
        let mut doc = VaultDocument::new(vec![]);
        doc.set(&SecretPath::parse("db/pw").unwrap(), "s3cr3t-v4lue-42".into())
            .unwrap();
        let allow = AllowList::parse("docs/ vault-value\n").unwrap();
        let scanner = Scanner::new(VaultNeedles::new(&doc), allow);
        let text = b"a\nb = s3cr3t-v4lue-42\nc = s3cr3t-v4lue-42 # agevault:allow\nAKIAZ7Q3KX2M4T5B6C7D\n";
        let found = scanner.scan("conf.txt", text).unwrap();
        let brief: Vec<(usize, &str)> = found.iter().map(|f| (f.line, f.rule)).collect();
        assert_eq!(brief, [(2, "vault-value"), (4, "aws-access-key-id")]);
        assert_eq!(found[0].secret.as_deref(), Some("db/pw"));
        assert!(scanner.scan("docs/x.md", b"s3cr3t-v4lue-42").unwrap().is_empty());
        assert_eq!(scanner.scan("bin", b"\0s3cr3t-v4lue-42"), Err(Skip::Binary));
    }
}
