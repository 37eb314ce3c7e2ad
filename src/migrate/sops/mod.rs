//! Native decryption of sops files whose data key is encrypted to age recipients,
//! without the `sops` binary.
//!
//! A sops file keeps its keys in plaintext and encrypts each value on its own with
//! one random 32-byte data key (see [`value`]). The data key is stored once per
//! master key in the metadata; for age (`sops.age[].enc`) it is an armored age file
//! whose plaintext is the 32 raw bytes, so the user's age identities (agevault's own,
//! plus sops' `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_SSH_PRIVATE_KEY_FILE`
//! and `~/.config/sops/age/keys.txt`) open it. The values are then decrypted in one
//! walk that recomputes the MAC ([`walk`]); the stored MAC (`sops.mac`, itself an
//! `ENC[…]` value whose additional data is `sops.lastmodified`) must match, or
//! nothing is returned.
//!
//! Not handled here (the `sops` binary is needed): data keys held only by PGP or a
//! cloud KMS, Shamir-split key groups, and the comment-driven rules
//! (`encrypted_comment_regex`, `unencrypted_comment_regex`), which depend on YAML
//! comments this reader does not keep.

pub mod tree;
pub mod value;
pub mod walk;

use std::path::PathBuf;

use regex::Regex;
use zeroize::Zeroizing;

use crate::crypto::{self, DecryptFailure};
use crate::error::{Error, Result};
use crate::keys::IdentitySet;
use crate::secret_buf::SecretBuf;
use crate::terminal::sanitize;
use tree::{Branch, Node, Syntax};
use value::{Cipher, KEY_LEN};
use walk::Rule;

/// The master key kinds sops writes, with the names people know them by.
const KINDS: [(&str, &str); 7] = [
    ("age", "age"),
    ("pgp", "PGP"),
    ("kms", "AWS KMS"),
    ("gcp_kms", "GCP KMS"),
    ("azure_kv", "Azure Key Vault"),
    ("hc_vault", "HashiCorp Vault transit"),
    ("hckms", "Huawei Cloud KMS"),
];

/// The rules that decide from comments what is encrypted.
const COMMENT_RULES: [&str; 2] = ["encrypted_comment_regex", "unencrypted_comment_regex"];

/// A sops file, read but not decrypted.
pub struct SopsFile {
    data: Branch,
    /// `(recipient, armored age file holding the data key)`, every key group.
    age: Vec<(String, String)>,
    /// The other master key kinds present (display names).
    others: Vec<&'static str>,
    groups: usize,
    comment_rule: Option<&'static str>,
    rule: Rule,
    mac_only_encrypted: bool,
    lastmodified: Option<String>,
    mac: Option<String>,
    size: usize,
}

/// A file's data key.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl SopsFile {
    /// Reads the structure and metadata of a sops JSON, YAML or .env file.
    pub fn parse(bytes: &[u8]) -> Result<SopsFile> {
        let syntax = Syntax::of(bytes);
        let (data, meta) = tree::read(bytes, syntax)?;
        let groups = key_groups(&meta)?;
        let MasterKeys { age, others } = master_keys(&groups)?;
        let (rule, comment_rule) = encryption_rule(&meta)?;
        let mac_only_encrypted = mac_only_encrypted(&meta)?;
        Ok(SopsFile {
            data,
            age,
            others,
            groups: groups.len(),
            comment_rule,
            rule,
            mac_only_encrypted,
            lastmodified: meta_text(&meta, "lastmodified"),
            mac: meta_text(&meta, "mac"),
            size: bytes.len(),
        })
    }

    /// Why this file cannot be decrypted natively, as a clause; `None` when it can.
    pub fn native_problem(&self) -> Option<String> {
        if let Some(rule) = self.comment_rule {
            return Some(format!(
                "it uses sops.{rule}, where YAML comments decide what is encrypted, and only the sops binary reads those"
            ));
        }
        if self.groups > 1 {
            return Some(format!(
                "its data key is split over {} key groups (Shamir), and only the sops binary combines them",
                self.groups
            ));
        }
        if self.age.is_empty() {
            let kinds = if self.others.is_empty() {
                "no master key at all".to_owned()
            } else {
                format!("{} only", self.others.join(", "))
            };
            return Some(format!(
                "its data key is encrypted to {kinds}; the native reader needs an age recipient (sops.age)"
            ));
        }
        None
    }

    /// The age recipients the data key is encrypted to.
    pub fn age_recipients(&self) -> Vec<&str> {
        self.age
            .iter()
            .map(|(r, _)| r.as_str())
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// Decrypts the data key with the first identity that opens one of the age entries.
    pub fn data_key(&self, ids: &IdentitySet) -> Result<DataKey> {
        let mut problems = Vec::new();
        for (recipient, enc) in &self.age {
            match crypto::decrypt(enc.as_bytes(), &ids.identities) {
                Ok(plain) => {
                    let key: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| {
                        Error::msg(format!(
                            "the data key in its age entry for {} is {} bytes long, not {KEY_LEN}",
                            sanitize(recipient),
                            plain.as_slice().len()
                        ))
                    })?;
                    return Ok(DataKey(Zeroizing::new(key)));
                }
                Err(DecryptFailure::NoMatchingKeys) => {}
                Err(other) => problems.push(format!("the age entry for {} {other}", sanitize(recipient))),
            }
        }
        let recipients = self.age_recipients();
        let mut msg = format!(
            "none of your age identities can decrypt its data key (it is encrypted to {})",
            if recipients.is_empty() {
                "unnamed age recipients".to_owned()
            } else {
                sanitize(&recipients.join(", "))
            }
        );
        let tried: Vec<String> = ids
            .found
            .iter()
            .map(|f| match f.public_keys.as_slice() {
                [] => f.source.clone(),
                keys => format!("{} ({})", f.source, keys.join(", ")),
            })
            .collect();
        if tried.is_empty() {
            msg.push_str("; no identity was found");
        } else {
            msg.push_str(&format!("; tried {}", tried.join(", ")));
        }
        for (source, why) in ids
            .skipped
            .iter()
            .filter(|(s, _)| s.contains("SOPS_") || s.contains("sops"))
        {
            msg.push_str(&format!("; skipped {source}: {why}"));
        }
        for problem in problems.iter().chain(ids.failures().iter()) {
            msg.push_str(&format!("; {problem}"));
        }
        msg.push_str(
            "; point SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) at the age key sops uses for this file, or pass --identity FILE",
        );
        Err(Error::NoMatchingIdentity(msg))
    }

    /// Decrypts every value and checks the MAC: the plaintext as a JSON document
    /// (what `sops decrypt --output-type json` prints), or an error naming what is wrong.
    pub fn decrypt(&self, key: &DataKey) -> Result<SecretBuf> {
        let cipher = Cipher::new(&key.0);
        let walked = walk::decrypt(
            &self.data,
            &cipher,
            &self.rule,
            self.mac_only_encrypted,
            self.size,
        )?;
        let stored = self.mac.as_deref().ok_or_else(|| {
            Error::msg("it has no MAC (sops.mac), so its values cannot be checked; sops refuses it too")
        })?;
        let lastmodified = self
            .lastmodified
            .as_deref()
            .and_then(go_rfc3339)
            .ok_or_else(|| Error::msg("its sops.lastmodified is missing or not an RFC 3339 time"))?;
        let enc =
            value::parse(stored).map_err(|_| Error::msg("its MAC (sops.mac) is not an ENC[…] value"))?;
        let stored = cipher.open(enc, lastmodified.as_bytes()).ok_or_else(|| {
            Error::msg(
                "its MAC (sops.mac) does not authenticate: the MAC or sops.lastmodified was changed after sops wrote the file",
            )
        })?;
        if stored.as_slice() != walked.mac.as_bytes() {
            return Err(Error::msg(
                "its MAC does not match its values: the file was changed after sops wrote it \
                 (a value added, removed, reordered or edited by hand)",
            ));
        }
        Ok(walked.json)
    }
}

/// A metadata field as text (a non-empty string, or a number as sops prints it).
fn meta_text(meta: &Branch, key: &str) -> Option<String> {
    match get(meta, key)? {
        Node::Str(s) if !s.is_empty() => Some(s.to_string()),
        Node::Int(i) => Some(i.to_string()),
        Node::Float(f) => Some(walk::go_float(*f)),
        _ => None,
    }
}

/// The key groups of the metadata: one flat key group, or `key_groups` (sops writes the
/// latter only for several).
fn key_groups(meta: &Branch) -> Result<Vec<&Branch>> {
    let flat = KINDS
        .iter()
        .any(|(k, _)| matches!(get(meta, k), Some(Node::List(l)) if !l.is_empty()));
    if flat {
        return Ok(vec![meta]);
    }
    match get(meta, "key_groups") {
        Some(Node::List(groups)) => groups
            .iter()
            .map(|g| match g {
                Node::Map(m) => Ok(m),
                _ => Err(Error::msg("its sops.key_groups entries are not mappings")),
            })
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// The master keys of a sops file's key groups.
struct MasterKeys {
    /// The age stanzas: recipient, encrypted data key.
    age: Vec<(String, String)>,
    /// The display names of the other master key kinds present.
    others: Vec<&'static str>,
}

/// The master keys of all groups.
fn master_keys(groups: &[&Branch]) -> Result<MasterKeys> {
    let mut age = Vec::new();
    let mut others = Vec::new();
    for group in groups {
        for (kind, name) in KINDS {
            let Some(Node::List(keys)) = get(group, kind) else {
                continue;
            };
            if keys.is_empty() {
                continue;
            }
            if kind != "age" {
                if !others.contains(&name) {
                    others.push(name);
                }
                continue;
            }
            for key in keys {
                let field = |f: &str| match key {
                    Node::Map(m) => match get(m, f) {
                        Some(Node::Str(s)) => Some(s.to_string()),
                        _ => None,
                    },
                    _ => None,
                };
                let enc = field("enc").ok_or_else(|| Error::msg("an entry of its sops.age has no `enc`"))?;
                age.push((field("recipient").unwrap_or_default(), enc));
            }
        }
    }
    Ok(MasterKeys { age, others })
}

/// Which values are encrypted (at most one suffix or regex rule; by default values
/// whose key ends in `_unencrypted` are not), and the comment rule when that is the one
/// set.
fn encryption_rule(meta: &Branch) -> Result<(Rule, Option<&'static str>)> {
    let mut rules = Vec::new();
    for name in [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
    ]
    .into_iter()
    .chain(COMMENT_RULES)
    {
        if let Some(value) = meta_text(meta, name) {
            rules.push((name, value));
        }
    }
    if rules.len() > 1 {
        return Err(Error::msg(
            "its metadata sets more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
             unencrypted_regex and the comment regexes (sops refuses such a file too)",
        ));
    }
    let regex = |name: &str, pattern: &str| {
        Regex::new(pattern).map_err(|_| {
            Error::msg(format!(
                "its sops.{name} is not a regular expression agevault can read"
            ))
        })
    };
    let mut comment_rule = None;
    let rule = match rules.pop() {
        None => Rule::UnencryptedSuffix("_unencrypted".to_owned()),
        Some(("encrypted_suffix", s)) => Rule::EncryptedSuffix(s),
        Some(("unencrypted_regex", r)) => Rule::UnencryptedRegex(regex("unencrypted_regex", &r)?),
        Some(("encrypted_regex", r)) => Rule::EncryptedRegex(regex("encrypted_regex", &r)?),
        Some((name, s)) => {
            comment_rule = COMMENT_RULES.into_iter().find(|c| *c == name);
            Rule::UnencryptedSuffix(s)
        }
    };
    Ok((rule, comment_rule))
}

/// `sops.mac_only_encrypted`, read as leniently as sops reads it.
fn mac_only_encrypted(meta: &Branch) -> Result<bool> {
    Ok(match get(meta, "mac_only_encrypted") {
        None | Some(Node::Null) => false,
        Some(Node::Bool(b)) => *b,
        Some(Node::Str(s)) if s.is_empty() => false,
        Some(Node::Str(s)) => {
            walk::go_bool(s).ok_or_else(|| Error::msg("its sops.mac_only_encrypted is not a boolean"))?
        }
        Some(Node::Int(i)) => *i != 0,
        Some(_) => return Err(Error::msg("its sops.mac_only_encrypted is not a boolean")),
    })
}

/// The first entry named `key`.
fn get<'a>(branch: &'a Branch, key: &str) -> Option<&'a Node> {
    branch.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// sops authenticates its MAC with `lastmodified` as Go prints it after reading it
/// (`time.RFC3339`): seconds precision, `Z` for a zero offset.
fn go_rfc3339(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        if end == 0 {
            return None;
        }
        rest = &frac[end..];
    }
    let zone = match rest {
        "Z" | "+00:00" | "-00:00" => "Z",
        z if z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z[1..3].bytes().all(|c| c.is_ascii_digit())
            && &z[3..4] == ":"
            && z[4..6].bytes().all(|c| c.is_ascii_digit()) =>
        {
            z
        }
        _ => return None,
    };
    Some(format!("{}{zone}", &text[..19]))
}

/// Adds the age identities sops itself would use, after agevault's: `SOPS_AGE_KEY`
/// (identities separated by white space), `SOPS_AGE_KEY_FILE`,
/// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, and `$XDG_CONFIG_HOME/sops/age/keys.txt`
/// (`~/.config/…`). One that cannot be read is noted in `ids.skipped` for the error
/// message, never fatal: another identity may well decrypt the file.
pub fn add_sops_identities(ids: &mut IdentitySet) {
    if let Some(text) = std::env::var_os("SOPS_AGE_KEY").filter(|v| !v.is_empty()) {
        let text = Zeroizing::new(text.to_string_lossy().into_owned());
        let lines: Zeroizing<String> = Zeroizing::new(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .flat_map(str::split_whitespace)
                .collect::<Vec<_>>()
                .join("\n"),
        );
        if let Err(e) = ids.add_text(&lines, "$SOPS_AGE_KEY") {
            ids.skipped.push(("$SOPS_AGE_KEY".to_owned(), e.to_string()));
        }
    }
    for var in ["SOPS_AGE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_FILE"] {
        if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(path);
            if let Err(e) = ids.add_file(&path, true) {
                ids.skipped
                    .push((format!("${var} ({})", path.display()), e.to_string()));
            }
        }
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::keys::home_dir().map(|h| h.join(".config")));
    if let Some(path) = config.map(|c| c.join("sops/age/keys.txt")) {
        if let Err(e) = ids.add_file(&path, false) {
            ids.skipped
                .push((format!("sops' {}", path.display()), e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lastmodified_as_go_prints_it() {
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09Z").as_deref(),
            Some("2024-05-06T07:08:09Z")
        );
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09.123Z").as_deref(),
            Some("2024-05-06T07:08:09Z")
        );
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09+00:00").as_deref(),
            Some("2024-05-06T07:08:09Z")
        );
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09-05:30").as_deref(),
            Some("2024-05-06T07:08:09-05:30")
        );
        for bad in [
            "",
            "2024-05-06",
            "2024-05-06 07:08:09Z",
            "2024-05-06T07:08:09",
            "2024-05-06T07:08:09.Z",
        ] {
            assert_eq!(go_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn what_the_native_reader_cannot_do_is_named() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  pgp:\n    - fp: ABC\n      enc: x\n  kms:\n    - arn: a\n      enc: y\n",
                "PGP, AWS KMS only",
            ),
            (
                b"a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  key_groups:\n    - age:\n        - recipient: age1x\n          enc: x\n    - pgp:\n        - fp: ABC\n          enc: y\n",
                "2 key groups (Shamir)",
            ),
            (
                b"a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  age:\n    - recipient: age1x\n      enc: x\n  encrypted_comment_regex: sops\n",
                "encrypted_comment_regex",
            ),
            (b"A=ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\nsops_version=3.11.0\n", "no master key at all"),
        ];
        for (text, want) in cases {
            let file = SopsFile::parse(text).unwrap();
            let why = file.native_problem().unwrap();
            assert!(why.contains(want), "{why}");
        }
        let one_group = SopsFile::parse(
            b"a: x\nsops:\n  key_groups:\n    - age:\n        - recipient: age1x\n          enc: x\n",
        )
        .unwrap();
        assert!(one_group.native_problem().is_none());
        assert_eq!(one_group.age_recipients(), ["age1x"]);
        let two_rules = SopsFile::parse(b"a: x\nsops:\n  encrypted_regex: a\n  unencrypted_suffix: _u\n");
        assert!(two_rules.err().unwrap().to_string().contains("more than one"));
    }
}
