//! Decrypting a sops tree and recomputing its MAC, as sops does, in one walk.
//!
//! The walk visits mappings in file order; a list's items share their key's path.
//! Each leaf is encrypted or not by the file's one rule (`unencrypted_suffix`, by
//! default `_unencrypted`; or `encrypted_suffix`, `unencrypted_regex`,
//! `encrypted_regex`), tested against every key on its path. The MAC is SHA-512
//! over every leaf's plaintext in walk order (only the encrypted ones with
//! `mac_only_encrypted`, then after a fixed 32-byte prefix, SHA-256 of "sops"),
//! as sops renders values: text as is, integers in decimal, floats in shortest
//! form without exponent, booleans `True`/`False`; `null` is skipped.
//!
//! The output is the JSON document `sops decrypt --output-type json` prints, in a
//! zeroizing buffer, so both routes go through the same JSON import rules.

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regex::Regex;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::tree::Node;
use super::value::{self, Cipher, Malformed};
use crate::error::{Error, Result};
use crate::secret_buf::SecretBuf;
use crate::terminal::sanitize;

/// Which leaves a file encrypts.
pub enum Rule {
    /// Every leaf except those with a key on their path ending in the suffix.
    UnencryptedSuffix(String),
    /// Only leaves with a key on their path ending in the suffix.
    EncryptedSuffix(String),
    /// Every leaf except those with a key on their path matching.
    UnencryptedRegex(Regex),
    /// Only leaves with a key on their path matching.
    EncryptedRegex(Regex),
}

impl Rule {
    fn encrypts(&self, path: &[&str]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
        }
    }
}

/// The result of a walk: the plaintext JSON and the MAC it computed (hex, upper case).
pub struct Walked {
    /// The decrypted document as JSON.
    pub json: SecretBuf,
    /// `%X` of the SHA-512.
    pub mac: String,
}

/// Decrypts `branch`, computing the MAC on the way.
pub fn decrypt(
    branch: &[(String, Node)],
    cipher: &Cipher,
    rule: &Rule,
    mac_only_encrypted: bool,
    size_hint: usize,
) -> Result<Walked> {
    let mut hash = Sha512::new();
    if mac_only_encrypted {
        // sops starts this MAC with a known 32 bytes so it never equals the other kind.
        hash.update(Sha256::digest(b"sops"));
    }
    let mut walker = Walker {
        cipher,
        rule,
        mac_only_encrypted,
        hash,
        out: SecretBuf::with_capacity(size_hint),
        path: Vec::new(),
    };
    walker.map(branch)?;
    let mac = hex_upper(&walker.hash.finalize());
    Ok(Walked {
        json: walker.out,
        mac,
    })
}

struct Walker<'a> {
    cipher: &'a Cipher,
    rule: &'a Rule,
    mac_only_encrypted: bool,
    hash: Sha512,
    out: SecretBuf,
    path: Vec<&'a str>,
}

impl<'a> Walker<'a> {
    fn map(&mut self, entries: &'a [(String, Node)]) -> Result<()> {
        self.raw(b"{");
        for (i, (key, node)) in entries.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.string(key)?;
            self.raw(b":");
            self.path.push(key);
            self.node(node)?;
            self.path.pop();
        }
        self.raw(b"}");
        Ok(())
    }

    fn node(&mut self, node: &'a Node) -> Result<()> {
        match node {
            Node::Map(entries) => self.map(entries),
            Node::List(items) => {
                self.raw(b"[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    self.node(item)?;
                }
                self.raw(b"]");
                Ok(())
            }
            Node::Null => {
                self.raw(b"null");
                Ok(())
            }
            leaf => {
                if self.rule.encrypts(&self.path) {
                    self.encrypted(leaf)
                } else {
                    self.plain(leaf)
                }
            }
        }
    }

    /// A leaf the rule leaves in plaintext: it is in the MAC unless `mac_only_encrypted`.
    fn plain(&mut self, leaf: &Node) -> Result<()> {
        let text: Zeroizing<String> = match leaf {
            Node::Str(s) => {
                if !self.mac_only_encrypted {
                    self.hash.update(s.as_bytes());
                }
                return self.string(s);
            }
            Node::Int(i) => Zeroizing::new(i.to_string()),
            Node::Float(f) => Zeroizing::new(go_float(*f)),
            Node::Bool(b) => Zeroizing::new(if *b { "True" } else { "False" }.to_owned()),
            Node::Map(_) | Node::List(_) | Node::Null => unreachable!("the walk hands leaves only"),
        };
        if !self.mac_only_encrypted {
            self.hash.update(text.as_bytes());
        }
        match leaf {
            Node::Bool(b) => self.raw(if *b { b"true" } else { b"false" }),
            Node::Float(f) => self.number(*f, &text)?,
            _ => self.raw(text.as_bytes()),
        }
        Ok(())
    }

    /// A leaf the rule encrypts: it must be an `ENC[…]` string (or empty, which sops
    /// leaves as is), and it authenticates under its key path.
    fn encrypted(&mut self, leaf: &Node) -> Result<()> {
        let Node::Str(text) = leaf else {
            return Err(self.problem("should be encrypted but is a plain number or boolean"));
        };
        if text.is_empty() {
            return self.string("");
        }
        let enc = value::parse(text).map_err(|m| match m {
            Malformed::NotEncrypted => self.problem("should be encrypted but is plaintext"),
            Malformed::Damaged(why) => self.problem(&format!("is a damaged ENC[…] value: {why}")),
        })?;
        let kind = enc.kind;
        let mut aad = self.path.join(":");
        aad.push(':');
        let plain = self.cipher.open(enc, aad.as_bytes()).ok_or_else(|| {
            self.problem(
                "does not authenticate: it was changed, or moved from another key, after sops wrote it",
            )
        })?;
        let utf8 =
            || std::str::from_utf8(&plain).map_err(|_| self.problem("decrypts to text that is not UTF-8"));
        match kind {
            "str" => {
                let s = utf8()?;
                self.hash.update(s.as_bytes());
                self.string(s)
            }
            "int" => {
                let n: i64 = utf8()?
                    .parse()
                    .map_err(|_| self.problem("is an int that does not decrypt to one"))?;
                let digits = Zeroizing::new(n.to_string());
                self.hash.update(digits.as_bytes());
                self.raw(digits.as_bytes());
                Ok(())
            }
            "float" => {
                let f: f64 = utf8()?
                    .parse()
                    .map_err(|_| self.problem("is a float that does not decrypt to one"))?;
                let shown = Zeroizing::new(go_float(f));
                self.hash.update(shown.as_bytes());
                self.number(f, &shown)
            }
            "bool" => {
                let b =
                    go_bool(utf8()?).ok_or_else(|| self.problem("is a bool that does not decrypt to one"))?;
                self.hash.update(if b { "True" } else { "False" });
                self.raw(if b { b"true" } else { b"false" });
                Ok(())
            }
            // Raw bytes (older sops); the binary's JSON shows them in base64, and so do we.
            "bytes" => {
                self.hash.update(&plain[..]);
                let b64 = Zeroizing::new(STANDARD.encode(&plain[..]));
                self.string(&b64)
            }
            // A YAML timestamp, as RFC 3339 text.
            "time" => {
                let s = utf8()?;
                self.hash.update(s.as_bytes());
                self.string(s)
            }
            _ => Err(self.problem("has an unknown ENC[…] type")),
        }
    }

    /// A float as a JSON number (sops' JSON has no infinities or NaN either).
    fn number(&mut self, f: f64, shown: &str) -> Result<()> {
        if !f.is_finite() {
            return Err(self.problem("is an infinite or NaN float, which JSON cannot hold"));
        }
        self.raw(shown.as_bytes());
        Ok(())
    }

    fn string(&mut self, s: &str) -> Result<()> {
        serde_json::to_writer(&mut self.out, s).map_err(|_| Error::msg("cannot write the decrypted document"))
    }

    fn raw(&mut self, bytes: &[u8]) {
        // Writing to a SecretBuf cannot fail.
        let _ = self.out.write_all(bytes);
    }

    /// An error about the value at the current path (the path only, never the value).
    fn problem(&self, what: &str) -> Error {
        let path = sanitize(&self.path.join("/"));
        let shown = if path.chars().count() > 200 {
            format!("{}…", path.chars().take(200).collect::<String>())
        } else {
            path
        };
        Error::msg(format!("the value at `{shown}` {what}"))
    }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest text that reads back as `f`,
/// never with an exponent. Rust's `Display` for f64 is exactly that for finite values.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        f.to_string()
    }
}

/// `strconv.ParseBool`.
pub fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::sops::tree::{read, Syntax};

    #[test]
    fn go_number_and_bool_forms() {
        assert_eq!(go_float(3.5), "3.5");
        assert_eq!(go_float(5.0), "5");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(1e-7), "0.0000001");
        assert_eq!(go_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go_bool("True"), Some(true));
        assert_eq!(go_bool("no"), None);
    }

    #[test]
    fn rules_test_every_key_on_the_path() {
        let path = ["db", "password_unencrypted", "x"];
        assert!(!Rule::UnencryptedSuffix("_unencrypted".into()).encrypts(&path));
        assert!(Rule::UnencryptedSuffix("_unencrypted".into()).encrypts(&["db", "x"]));
        assert!(Rule::EncryptedSuffix("_secret".into()).encrypts(&["a_secret", "b"]));
        assert!(!Rule::EncryptedSuffix("_secret".into()).encrypts(&["a", "b"]));
        let re = Regex::new("^pass").unwrap();
        assert!(Rule::EncryptedRegex(re.clone()).encrypts(&["db", "password"]));
        assert!(!Rule::UnencryptedRegex(re).encrypts(&["db", "password"]));
    }

    #[test]
    fn decrypts_every_type_and_hashes_as_sops_does() {
        let cipher = Cipher::new(&[3; value::KEY_LEN]);
        let seal =
            |plain: &str, aad: &str, kind: &str| cipher.seal(plain.as_bytes(), [9; 32], aad.as_bytes(), kind);
        let doc = format!(
            "{{\"s\": \"{}\", \"n\": {{\"i\": \"{}\", \"f\": \"{}\", \"b\": \"{}\", \"raw\": \"{}\", \"t\": \"{}\"}}, \
             \"l\": [\"{}\", null, \"{}\"], \"e\": \"\", \"k_unencrypted\": 7, \"sops\": {{}}}}",
            seal("héllo ✓", "s:", "str"),
            seal("-42", "n:i:", "int"),
            seal("2.50", "n:f:", "float"),
            seal("True", "n:b:", "bool"),
            seal("\u{1}\u{2}", "n:raw:", "bytes"),
            seal("2024-01-02T00:00:00Z", "n:t:", "time"),
            seal("a", "l:", "str"),
            seal("b", "l:", "str"),
        );
        let (branch, _) = read(doc.as_bytes(), Syntax::Json).unwrap();
        let rule = Rule::UnencryptedSuffix("_unencrypted".into());
        let walked = decrypt(&branch, &cipher, &rule, false, 0).unwrap();
        assert_eq!(
            std::str::from_utf8(walked.json.as_slice()).unwrap(),
            r#"{"s":"héllo ✓","n":{"i":-42,"f":2.5,"b":true,"raw":"AQI=","t":"2024-01-02T00:00:00Z"},"l":["a",null,"b"],"e":"","k_unencrypted":7}"#
        );
        let mut want = Sha512::new();
        for part in [
            "héllo ✓",
            "-42",
            "2.5",
            "True",
            "\u{1}\u{2}",
            "2024-01-02T00:00:00Z",
            "a",
            "b",
            "",
            "7",
        ] {
            want.update(part.as_bytes());
        }
        assert_eq!(walked.mac, hex_upper(&want.finalize()));

        let only = decrypt(&branch, &cipher, &rule, true, 0).unwrap();
        let mut want = Sha512::new();
        want.update(Sha256::digest(b"sops"));
        for part in [
            "héllo ✓",
            "-42",
            "2.5",
            "True",
            "\u{1}\u{2}",
            "2024-01-02T00:00:00Z",
            "a",
            "b",
        ] {
            want.update(part.as_bytes());
        }
        assert_eq!(only.mac, hex_upper(&want.finalize()));
    }

    #[test]
    fn misplaced_plaintext_and_moved_values_name_the_path_only() {
        let cipher = Cipher::new(&[3; value::KEY_LEN]);
        let rule = Rule::UnencryptedSuffix("_unencrypted".into());
        let moved = cipher.seal(b"s3cret", [9; 32], b"a:", "str");
        for (doc, want) in [
            (
                format!("{{\"b\": \"{moved}\", \"sops\": {{}}}}"),
                "`b` does not authenticate",
            ),
            (
                "{\"a\": {\"c\": \"s3cret\"}, \"sops\": {}}".to_owned(),
                "`a/c` should be encrypted but is plaintext",
            ),
            ("{\"a\": 5, \"sops\": {}}".to_owned(), "plain number"),
        ] {
            let (branch, _) = read(doc.as_bytes(), Syntax::Json).unwrap();
            let err = decrypt(&branch, &cipher, &rule, false, 0)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
