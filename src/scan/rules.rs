//! Hard-coded secret patterns: private keys, cloud and API tokens, password
//! assignments with a literal, and `smbpasswd` fed a literal password.
//!
//! Each rule answers "where", never "what": callers get a byte offset and a rule
//! name, and the matched text is never returned.

use regex::bytes::Regex;

/// A rule's name as printed and as written in `.agevault-allow`.
pub type RuleName = &'static str;

/// A PEM/OpenSSH/PGP private key block with key material after its BEGIN line.
pub const PEM_PRIVATE_KEY: RuleName = "pem-private-key";
/// An age X25519 secret key.
pub const AGE_SECRET_KEY: RuleName = "age-secret-key";
/// An AWS access key id (AKIA…, ASIA…).
pub const AWS_ACCESS_KEY_ID: RuleName = "aws-access-key-id";
/// An AWS secret access key assigned to an aws_secret_access_key-like name.
pub const AWS_SECRET_ACCESS_KEY: RuleName = "aws-secret-access-key";
/// A GitHub token (ghp_…, github_pat_…).
pub const GITHUB_TOKEN: RuleName = "github-token";
/// A Slack token (xoxb-…).
pub const SLACK_TOKEN: RuleName = "slack-token";
/// `password = "literal"` and its cousins (secret, token, api_key, …).
pub const PASSWORD_ASSIGNMENT: RuleName = "password-assignment";
/// `smbpasswd` given a literal password (piped from echo/printf, `-w`, here-string).
pub const SMBPASSWD_LITERAL: RuleName = "smbpasswd-literal";

/// Every pattern rule, for documentation and allow-list validation.
pub const ALL: &[RuleName] = &[
    PEM_PRIVATE_KEY,
    AGE_SECRET_KEY,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    GITHUB_TOKEN,
    SLACK_TOKEN,
    PASSWORD_ASSIGNMENT,
    SMBPASSWD_LITERAL,
];

/// The compiled rules.
pub struct Rules {
    whole: Vec<(RuleName, Regex)>,
    assignment: Regex,
    smb_pipe: Regex,
    smb_w: Regex,
    smb_herestring: Regex,
    shell_noise: Regex,
}

/// How a file's syntax affects the assignment rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// Perl, PHP, Ruby: like Code, and `'password' => 'literal'` assigns.
    CodeWithArrows,
    /// Program source: only quoted literals count (`password = pw` names a variable).
    Code,
    /// YAML: `password: literal` counts unquoted too.
    Yaml,
    /// Config, shell, env files, docs: unquoted `password=literal` counts.
    Config,
}

impl Rules {
    /// Compiles the rules.
    pub fn new() -> Rules {
        // The patterns are constants covered by the unit tests below: they cannot fail here.
        let re = |s: &str| Regex::new(s).unwrap_or_else(|e| panic!("built-in pattern {s}: {e}"));
        Rules {
            whole: vec![
                (
                    PEM_PRIVATE_KEY,
                    // Key material must follow the BEGIN line (also inside a JSON string
                    // with `\n` escapes), so code that merely names the marker is not flagged.
                    re(
                        r#"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\r?\n|(?:\\r)?\\n)[ \t"']*(?:Proc-Type:|Comment:|Version:|[A-Za-z0-9+/=]{20})"#,
                    ),
                ),
                (AGE_SECRET_KEY, re(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}")),
                (AWS_ACCESS_KEY_ID, re(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
                (
                    AWS_SECRET_ACCESS_KEY,
                    re(
                        r#"(?i)aws_?secret_?access_?key["']?\s*(?:=|:|=>)\s*["']?[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+]|$)"#,
                    ),
                ),
                (
                    GITHUB_TOKEN,
                    re(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b"),
                ),
                (SLACK_TOKEN, re(r"\bxox[baprse]-[A-Za-z0-9-]{10,}")),
            ],
            assignment: re(
                r#"(?i)(?:^|[^a-z0-9_])[a-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret)["']?[ \t]*(:=|=>|=|:)[ \t]*"#,
            ),
            smb_pipe: re(r"\|\s*(?:sudo\s+(?:-\S+\s+)*)?smbpasswd\b"),
            smb_w: re(r"\bsmbpasswd\b[^|;&]*\s-w\s*(\S+)"),
            smb_herestring: re(r"\bsmbpasswd\b[^|;&]*<<<\s*(.*)"),
            shell_noise: re(
                r#"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#?]|\\[nrt0]|%[-0-9]*[sbdq]|(?:^|\s)-[A-Za-z]+\b|\b(?:echo|printf|yes|sudo|cat)\b|[()"';&|\s]"#,
            ),
        }
    }

    /// The pattern findings in `content` (a file named `path`), as (offset of the line's start, rule).
    pub fn find(&self, path: &str, content: &[u8]) -> Vec<(usize, RuleName)> {
        let line_start = |at: usize| {
            content[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let mut out = Vec::new();
        for (name, re) in &self.whole {
            out.extend(re.find_iter(content).map(|m| (line_start(m.start()), *name)));
        }
        // A line already flagged by a specific rule (an AWS key assigned to a name)
        // is not flagged again as a generic assignment.
        let specific: std::collections::HashSet<usize> = out.iter().map(|(at, _)| *at).collect();
        let syntax = syntax_of(path);
        let mut offset = 0;
        for line in content.split(|b| *b == b'\n') {
            if !specific.contains(&offset) && self.assignment_literal(line, syntax) {
                out.push((offset, PASSWORD_ASSIGNMENT));
            }
            if contains(line, b"smbpasswd") && self.smbpasswd_literal(line) {
                out.push((offset, SMBPASSWD_LITERAL));
            }
            offset += line.len() + 1;
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn assignment_literal(&self, line: &[u8], syntax: Syntax) -> bool {
        for caps in self.assignment.captures_iter(line) {
            let (Some(whole), Some(sep)) = (caps.get(0), caps.get(1)) else {
                continue;
            };
            let rest = &line[whole.end()..];
            // `==`, `=~`: a comparison, not an assignment.
            if sep.as_bytes() == b"=" && matches!(rest.first(), Some(b'=' | b'~')) {
                continue;
            }
            // `=>` is a match arm or an arrow function in most languages.
            if sep.as_bytes() == b"=>" && syntax == Syntax::Code {
                continue;
            }
            let code = matches!(syntax, Syntax::Code | Syntax::CodeWithArrows);
            if let Some(literal) = quoted(rest, code) {
                if is_literal_secret(literal) {
                    return true;
                }
                continue;
            }
            let unquoted_counts = match syntax {
                Syntax::Code | Syntax::CodeWithArrows => false,
                Syntax::Yaml => true,
                Syntax::Config => sep.as_bytes() != b":",
            };
            if unquoted_counts {
                let end = rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || b",;#)}]".contains(b))
                    .unwrap_or(rest.len());
                let token = &rest[..end];
                if is_literal_secret(token) && !looks_like_reference(token) {
                    return true;
                }
            }
        }
        false
    }

    fn smbpasswd_literal(&self, line: &[u8]) -> bool {
        if let Some(arg) = self.smb_w.captures(line).and_then(|c| c.get(1)) {
            if self.has_literal(arg.as_bytes()) {
                return true;
            }
        }
        if let Some(text) = self.smb_herestring.captures(line).and_then(|c| c.get(1)) {
            if self.has_literal(text.as_bytes()) {
                return true;
            }
        }
        if let Some(pipe) = self.smb_pipe.find(line) {
            let before = &line[..pipe.start()];
            let producer = [&b"echo"[..], b"printf", b"yes"]
                .iter()
                .filter_map(|w| find_word(before, w))
                .min();
            if let Some(start) = producer {
                return self.has_literal(&before[start..]);
            }
        }
        false
    }

    /// Whether shell text still holds letters or digits once variables, command
    /// substitutions, escapes, format specifiers, flags and quotes are taken out.
    fn has_literal(&self, text: &[u8]) -> bool {
        let rest = self.shell_noise.replace_all(text, &b""[..]);
        rest.iter().any(u8::is_ascii_alphanumeric)
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new()
    }
}

fn syntax_of(path: &str) -> Syntax {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e).to_ascii_lowercase();
    match ext.as_str() {
        "yml" | "yaml" => Syntax::Yaml,
        "php" | "rb" | "pl" | "pm" => Syntax::CodeWithArrows,
        "rs" | "py" | "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "go" | "java" | "kt" | "kts"
        | "scala" | "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "cs" | "swift" | "m" | "mm" | "lua" | "r"
        | "dart" | "ex" | "exs" | "erl" | "hs" | "ml" | "clj" | "groovy" | "vue" | "svelte" | "zig"
        | "nim" | "jl" => Syntax::Code,
        _ => Syntax::Config,
    }
}

/// The contents of a quoted string at the start of `rest` (Python-style b/r/f/u
/// prefixes allowed; backticks only in code, where they are template strings and
/// not Markdown code spans); an unterminated quote runs to the end of the line.
fn quoted(rest: &[u8], code: bool) -> Option<&[u8]> {
    let quotes: &[u8] = if code { b"\"'`" } else { b"\"'" };
    let rest = match rest {
        [p, q, ..] if b"brfuBRFU".contains(p) && quotes.contains(q) => &rest[1..],
        _ => rest,
    };
    let (&quote, body) = rest.split_first()?;
    if !quotes.contains(&quote) {
        return None;
    }
    let mut escaped = false;
    for (i, b) in body.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if *b == b'\\' {
            escaped = true;
        } else if *b == quote {
            return Some(&body[..i]);
        }
    }
    Some(body)
}

/// A literal worth flagging: long enough, not a placeholder, not an interpolation.
fn is_literal_secret(literal: &[u8]) -> bool {
    let literal = literal.trim_ascii();
    if literal.len() < 4 {
        return false;
    }
    if literal.iter().all(|b| *b == literal[0]) {
        return false; // "****", "xxxx"
    }
    let has = |needle: &[u8]| contains(literal, needle);
    if has(b"${") || has(b"$(") || has(b"{{") || has(b"%(") || has(b"#{") {
        return false;
    }
    if matches!(literal.first(), Some(b'$' | b'%' | b'@' | b'!' | b'&' | b'*')) {
        return false;
    }
    if literal.first() == Some(&b'<') && literal.last() == Some(&b'>') {
        return false; // "<your password>"
    }
    // `SMB_PASSWORD = "samba/password"`: a reference to a secret path (agevault's
    // own exec mappings, and the convention of most secret stores), not a value.
    let path_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b);
    if literal.contains(&b'/')
        && literal
            .split(|b| *b == b'/')
            .all(|seg| !seg.is_empty() && seg.iter().all(path_char))
    {
        return false;
    }
    let lower = literal.to_ascii_lowercase();
    !matches!(
        lower.as_slice(),
        b"none" | b"null" | b"true" | b"false" | b"undefined" | b"required" | b"optional" | b"string"
    )
}

/// An unquoted token that is code or a reference, not a literal: `os.environ[...]`,
/// `get_password()`, `config.db.password`, `/run/secrets/x`, `--prompt`, `{`.
fn looks_like_reference(token: &[u8]) -> bool {
    if matches!(
        token.first(),
        Some(b'/' | b'~' | b'-' | b'{' | b'[' | b'(' | b'.' | b'<' | b'\\')
    ) {
        return true;
    }
    if token.iter().any(|b| b"([".contains(b)) {
        return true;
    }
    // a.b.c with identifier parts: an attribute access.
    let parts: Vec<&[u8]> = token.split(|b| *b == b'.').collect();
    parts.len() > 1
        && parts.iter().all(|p| {
            p.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                && p.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        })
}

/// Whether `needle` occurs in `hay` (lines are short; a plain search is enough).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// The offset of `word` in `text` as a whole word.
fn find_word(text: &[u8], word: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find(&text[from..], word) {
        let start = from + i;
        let end = start + word.len();
        let before_ok = start == 0 || !text[start - 1].is_ascii_alphanumeric();
        let after_ok = end == text.len() || !text[end].is_ascii_alphanumeric();
        if before_ok && after_ok {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_in(path: &str, text: &str) -> Vec<RuleName> {
        Rules::new()
            .find(path, text.as_bytes())
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn private_keys_need_material() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(rules_in("id", key), [PEM_PRIVATE_KEY]);
        let json = r#"{"tls":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"}"#;
        assert_eq!(rules_in("x.json", json), [PEM_PRIVATE_KEY]);
        assert!(rules_in(
            "k.rs",
            r#"if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {"#
        )
        .is_empty());
    }

    #[test]
    fn tokens() {
        assert_eq!(
            rules_in("a.env", "KEY_ID=AKIAZ7Q3KX2M4T5B6C7D\n"),
            [AWS_ACCESS_KEY_ID]
        );
        assert_eq!(
            rules_in(
                "c",
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq3Hk9Lm2T\n"
            ),
            [AWS_SECRET_ACCESS_KEY]
        );
        assert_eq!(
            rules_in("t.txt", "ghp_0123456789abcdefghijABCDEFGHIJ012345\n"),
            [GITHUB_TOKEN]
        );
        assert_eq!(rules_in("t.txt", "xoxb-1234567890-abcdef\n"), [SLACK_TOKEN]);
        assert_eq!(
            rules_in(
                "id.txt",
                "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n"
            ),
            [AGE_SECRET_KEY]
        );
    }

    #[test]
    fn assignments_with_literals() {
        for (path, line) in [
            ("app.env", "DB_PASSWORD=hunter2-prod"),
            ("settings.py", r#"PASSWORD = "hunter2-prod""#),
            ("config.yml", "  password: hunter2-prod"),
            ("app.json", r#"{"api_key": "k-123456"}"#),
            ("deploy.sh", "export SMB_PASSWORD='s3cr3t!'"),
            ("main.rs", r#"let client_secret = "abcdef123";"#),
            ("db.php", r"$cfg = ['password' => 'hunter2-prod'];"),
        ] {
            assert_eq!(rules_in(path, line), [PASSWORD_ASSIGNMENT], "{path}: {line}");
        }
        for (path, line) in [
            ("app.env", "DB_PASSWORD=${DB_PASSWORD}"),
            ("app.env", "DB_PASSWORD="),
            ("settings.py", "PASSWORD = os.environ['PW']"),
            ("settings.py", "password = password"),
            ("main.rs", "pub password: String,"),
            ("main.rs", "if password == \"x\" {"),
            ("config.yml", "password: \"{{ vault_pw }}\""),
            ("deploy.sh", "SMB_PASSWORD=\"$(cat /run/secrets/smb)\""),
            ("deploy.sh", "SMB_PASSWORD_FILE=/run/secrets/smb"),
            ("README.md", "password: see below"),
            ("x.conf", "password = <your password>"),
            ("x.conf", "password = ********"),
            ("x.toml", "env = { SMB_PASSWORD = \"samba/password\" }"),
            ("README.md", "prints one row per secret: `path`, `owner`"),
            (
                "git.rs",
                "DecryptFailure::WrongPassphrase => \"wrong passphrase\".into(),",
            ),
        ] {
            assert!(rules_in(path, line).is_empty(), "{path}: {line}");
        }
    }

    #[test]
    fn smbpasswd_literals() {
        for line in [
            r#"(echo "S3cret!"; echo "S3cret!") | smbpasswd -s -a bob"#,
            r"printf 'hunter2\nhunter2\n' | sudo smbpasswd -a -s bob",
            r#"echo -e "pw123\npw123" | smbpasswd -a -s bob"#,
            "smbpasswd -w ldapadminpw",
            r#"smbpasswd -s -a bob <<< "pw123""#,
        ] {
            assert_eq!(rules_in("setup.sh", line), [SMBPASSWD_LITERAL], "{line}");
        }
        for line in [
            r#"(echo "$SMB_PASSWORD"; echo "$SMB_PASSWORD") | smbpasswd -s -a bob"#,
            r#"printf '%s\n%s\n' "$PW" "$PW" | smbpasswd -a -s bob"#,
            r#"echo -e "${PW}\n${PW}" | smbpasswd -a -s "$USER_NAME""#,
            r#"cat "$SMB_PASSWORD_FILE" | smbpasswd -s -a bob"#,
            "smbpasswd -w \"$LDAP_PW\"",
            "smbpasswd -a bob",
        ] {
            assert!(rules_in("setup.sh", line).is_empty(), "{line}");
        }
    }
}
