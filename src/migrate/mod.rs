//! Moving secrets in and out of agevault: source formats (.env, JSON, YAML, sops, gpg),
//! their detection, the path-mapping rules, and the export renderers.
//!
//! Path mapping (documented in the README, "Import and export"):
//! - `.env`: each variable becomes ONE path segment, name kept as written
//!   (`DB_PASSWORD` → `DB_PASSWORD`). Splitting on `_` would be ambiguous
//!   (`AWS_SECRET_ACCESS_KEY`) and lossy; kept whole, `exec` and `export --format env`
//!   give the same variable name back.
//! - JSON / YAML: nested objects are namespaces, keys are segments
//!   (`{"db": {"password": …}}` → `db/password`); strings are values, numbers and
//!   booleans become their text; `null` and lists are refused, naming the path.
//! - `--prefix P` puts everything under `P/`.

pub mod decrypt;
pub mod dotenv;
pub mod render;
pub mod sops;
pub mod structured;

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::secret_buf::SecretBuf;
use crate::secret_path::{segment_problem, SecretPath};
use crate::terminal::sanitize;

/// The formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// `KEY=value` lines.
    Env,
    /// A JSON object.
    Json,
    /// A YAML mapping.
    Yaml,
    /// A sops-encrypted JSON, YAML or .env file (decrypted natively for age, or by the `sops` binary).
    Sops,
    /// An OpenPGP-encrypted JSON (or YAML, or .env) file (decrypted by `gpg`).
    Gpg,
}

impl SourceFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Env => "env",
            SourceFormat::Json => "json",
            SourceFormat::Yaml => "yaml",
            SourceFormat::Sops => "sops",
            SourceFormat::Gpg => "gpg",
        }
    }

    /// Whether the source holds its values in plaintext.
    pub fn is_plaintext(self) -> bool {
        !matches!(self, SourceFormat::Sops | SourceFormat::Gpg)
    }
}

/// One imported secret: the path relative to the prefix, and its value.
pub struct Entry {
    /// Segments of the path (the prefix is added by [`with_prefix`]).
    pub segments: Vec<String>,
    /// The value.
    pub value: SecretString,
}

/// The largest source file `import` reads (age limits some inputs to 16 MiB too).
pub const MAX_SOURCE: u64 = 16 << 20;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Guesses the format of `bytes` from their content alone.
pub fn detect(bytes: &[u8]) -> Option<SourceFormat> {
    if is_openpgp(bytes) {
        return Some(SourceFormat::Gpg);
    }
    let text = std::str::from_utf8(strip_bom(bytes)).ok()?;
    if is_sops(text) {
        return Some(SourceFormat::Sops);
    }
    detect_plaintext(text)
}

/// Guesses between .env, JSON and YAML.
pub fn detect_plaintext(text: &str) -> Option<SourceFormat> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return Some(SourceFormat::Json);
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    // `---` opens a YAML document; a quoted key (`"db":`, as `export --format yaml` writes) is YAML too.
    if first == "---"
        || (first.starts_with(['"', '\'']) && first.contains(['"', '\'']) && first.contains(':'))
    {
        return Some(SourceFormat::Yaml);
    }
    let body = first
        .strip_prefix("export")
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map_or(first, str::trim_start);
    let name_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(body.len());
    if name_end == 0 {
        return None;
    }
    match body[name_end..].trim_start().chars().next() {
        Some('=') => Some(SourceFormat::Env),
        Some(':') => Some(SourceFormat::Yaml),
        _ => None,
    }
}

/// Armored (`-----BEGIN PGP MESSAGE-----`) or binary OpenPGP whose first packet is a
/// public-key or symmetric-key encrypted session key (tags 1 and 3), as `gpg -e` writes.
fn is_openpgp(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN PGP MESSAGE-----") {
        return true;
    }
    let Some(&first) = bytes.first() else {
        return false;
    };
    if first & 0x80 == 0 {
        return false;
    }
    let tag = if first & 0x40 != 0 {
        first & 0x3f
    } else {
        (first >> 2) & 0x0f
    };
    tag == 1 || tag == 3
}

/// sops marks every encrypted value `ENC[AES256_GCM,…]` and adds its metadata
/// (`"sops": {…}` in JSON, `sops:` in YAML, `sops_version=` in .env).
fn is_sops(text: &str) -> bool {
    text.contains("ENC[AES256_GCM,")
        && (text.contains("\"sops\"")
            || text
                .lines()
                .any(|l| l.starts_with("sops:") || l.starts_with("sops_version=")))
}

/// The input type to tell `sops` (its own guess goes by file extension).
pub fn sops_input_type(bytes: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(strip_bom(bytes));
    if text.trim_start().starts_with('{') {
        "json"
    } else if text.lines().any(|l| l.starts_with("sops_version=")) {
        "dotenv"
    } else {
        "yaml"
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Parses plaintext in `format` (env, json or yaml) into entries.
pub fn parse_plaintext(format: SourceFormat, plaintext: &SecretBuf) -> Result<Vec<Entry>> {
    let bytes = strip_bom(plaintext.as_slice());
    match format {
        SourceFormat::Env => dotenv::parse(bytes),
        SourceFormat::Json => structured::parse_json(bytes),
        SourceFormat::Yaml => structured::parse_yaml(bytes),
        SourceFormat::Sops | SourceFormat::Gpg => Err(Error::msg(
            "an encrypted file decrypted to another encrypted file; decrypt it by hand first",
        )),
    }
}

/// Full secret paths: `prefix` joined with each entry's segments, validated.
pub fn with_prefix(prefix: Option<&SecretPath>, entries: &[Entry]) -> Result<Vec<SecretPath>> {
    entries
        .iter()
        .map(|e| {
            let mut text = prefix.map(ToString::to_string).unwrap_or_default();
            for seg in &e.segments {
                if !text.is_empty() {
                    text.push('/');
                }
                text.push_str(seg);
            }
            SecretPath::parse(&text).map_err(|why| Error::msg(format!("cannot import: {why}")))
        })
        .collect()
}

/// Checks one key as a path segment; the message names it only when it is printable
/// as a name (a malformed line may be a pasted value, which must not be echoed).
pub fn check_segment(key: &str, where_: &str) -> Result<()> {
    match segment_problem(key) {
        None => Ok(()),
        Some(problem) => {
            let shown = if key.len() <= 128
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
            {
                format!("`{}`", sanitize(key))
            } else {
                "the name".to_owned()
            };
            Err(Error::msg(format!(
                "{where_}: {shown} cannot be a secret path segment ({problem}); \
                 rename it in a copy of the file and import that"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_content() {
        assert_eq!(detect(b"\xEF\xBB\xBF# c\nexport A=1\n"), Some(SourceFormat::Env));
        assert_eq!(detect(b"  {\"a\": \"b\"}"), Some(SourceFormat::Json));
        assert_eq!(detect(b"# c\na:\n  b: c\n"), Some(SourceFormat::Yaml));
        assert_eq!(detect(b"\"a\":\n  \"b\": \"c\"\n"), Some(SourceFormat::Yaml));
        assert_eq!(detect(b"-----BEGIN PGP MESSAGE-----\n"), Some(SourceFormat::Gpg));
        assert_eq!(detect(&[0x85, 0x01, 0x0c]), Some(SourceFormat::Gpg));
        assert_eq!(
            detect(b"A=ENC[AES256_GCM,data:x]\nsops_version=3.11.0\n"),
            Some(SourceFormat::Sops)
        );
        assert_eq!(detect(b"just words\n"), None);
    }
}
