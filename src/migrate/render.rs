//! Export renderers: a set of secrets as `.env`, JSON, YAML, or a docker-secrets directory.
//!
//! Every renderer writes into a zeroizing [`SecretBuf`]; the caller decides where
//! it goes. Paths are relative to the exported prefix.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::exec::plan::derive_env_name;
use crate::secret_buf::SecretBuf;

/// `NAME="value"` lines, names derived as `exec` derives them
/// (`db/password` → `DB_PASSWORD`), values double-quoted with `\n` `\"` `\\` `\$`
/// escapes so multi-line values survive and nothing is expanded on the way back.
pub fn env(leaves: &[(String, &SecretString)]) -> Result<SecretBuf> {
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for (path, _) in leaves {
        let name = derive_env_name(path);
        if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Err(Error::msg(format!(
                "`{path}` gives the variable name `{name}`, which does not start with a letter or `_`; export its namespace with another format"
            )));
        }
        if let Some(other) = names.insert(name.clone(), path) {
            return Err(Error::msg(format!(
                "`{other}` and `{path}` both become `{name}`; export them separately (a narrower PREFIX)"
            )));
        }
    }
    let size: usize = leaves
        .iter()
        .map(|(p, v)| p.len() + 2 * v.expose_secret().len() + 8)
        .sum();
    let mut out = SecretBuf::with_capacity(size);
    for (path, value) in leaves {
        out.extend_from_slice(derive_env_name(path).as_bytes());
        out.extend_from_slice(b"=\"");
        for c in value.expose_secret().chars() {
            let mut tmp = [0u8; 4];
            let escaped: &[u8] = match c {
                '\\' => b"\\\\",
                '"' => b"\\\"",
                '$' => b"\\$",
                '\n' => b"\\n",
                '\r' => b"\\r",
                c => c.encode_utf8(&mut tmp).as_bytes(),
            };
            out.extend_from_slice(escaped);
        }
        out.extend_from_slice(b"\"\n");
    }
    Ok(out)
}

/// The nested structure both JSON and YAML print.
enum Level<'a> {
    Leaf(&'a SecretString),
    Map(BTreeMap<&'a str, Level<'a>>),
}

fn nest<'a>(leaves: &'a [(String, &'a SecretString)]) -> BTreeMap<&'a str, Level<'a>> {
    let mut root = BTreeMap::new();
    for (path, value) in leaves {
        let mut map = &mut root;
        let segments: Vec<&str> = path.split('/').collect();
        let (last, parents) = segments.split_last().expect("split gives one item at least");
        for seg in parents {
            let entry = map.entry(*seg).or_insert_with(|| Level::Map(BTreeMap::new()));
            map = match entry {
                Level::Map(m) => m,
                // A vault tree never holds a leaf above another path.
                Level::Leaf(_) => unreachable!("a secret cannot also be a namespace"),
            };
        }
        map.insert(*last, Level::Leaf(value));
    }
    root
}

/// JSON-escaped string (also a valid YAML double-quoted scalar).
fn quoted(out: &mut SecretBuf, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Pretty JSON, nested like the vault.
pub fn json(leaves: &[(String, &SecretString)]) -> SecretBuf {
    fn level(out: &mut SecretBuf, map: &BTreeMap<&str, Level<'_>>, indent: usize) {
        out.extend_from_slice(b"{");
        for (i, (key, node)) in map.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
            out.extend_from_slice(" ".repeat(indent + 2).as_bytes());
            quoted(out, key);
            out.extend_from_slice(b": ");
            match node {
                Level::Leaf(v) => quoted(out, v.expose_secret()),
                Level::Map(m) => level(out, m, indent + 2),
            }
        }
        if !map.is_empty() {
            out.extend_from_slice(b"\n");
            out.extend_from_slice(" ".repeat(indent).as_bytes());
        }
        out.extend_from_slice(b"}");
    }
    let mut out = SecretBuf::with_capacity(4096);
    level(&mut out, &nest(leaves), 0);
    out.extend_from_slice(b"\n");
    out
}

/// YAML, nested like the vault; every key and value double-quoted, so no value
/// turns into a number, a boolean or `null` on the way back.
pub fn yaml(leaves: &[(String, &SecretString)]) -> SecretBuf {
    fn level(out: &mut SecretBuf, map: &BTreeMap<&str, Level<'_>>, indent: usize) {
        for (key, node) in map {
            out.extend_from_slice(" ".repeat(indent).as_bytes());
            quoted(out, key);
            out.extend_from_slice(b":");
            match node {
                Level::Leaf(v) => {
                    out.extend_from_slice(b" ");
                    quoted(out, v.expose_secret());
                    out.extend_from_slice(b"\n");
                }
                Level::Map(m) => {
                    out.extend_from_slice(b"\n");
                    level(out, m, indent + 2);
                }
            }
        }
    }
    let mut out = SecretBuf::with_capacity(4096);
    let root = nest(leaves);
    if root.is_empty() {
        out.extend_from_slice(b"{}\n");
    } else {
        level(&mut out, &root, 0);
    }
    out
}

/// Writes each secret as a 0400 file under `dir` (`db/password` → `DIR/db/password`,
/// subdirectories 0700). Refuses before writing anything when a target exists.
pub fn docker_secrets(dir: &Path, leaves: &[(String, &SecretString)]) -> Result<Vec<PathBuf>> {
    let targets: Vec<PathBuf> = leaves.iter().map(|(p, _)| dir.join(p)).collect();
    let existing: Vec<String> = targets
        .iter()
        .filter(|t| t.symlink_metadata().is_ok())
        .map(|t| t.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::msg(format!(
            "{} already exist(s): {}; nothing was written; remove them or export into an empty directory",
            existing.len(),
            existing.join(", ")
        )));
    }
    for ((_, value), target) in leaves.iter().zip(&targets) {
        if let Some(parent) = target.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| Error::io("creating", parent, e))?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(target)
            .map_err(|e| Error::io("creating", target, e))?;
        file.write_all(value.expose_secret().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("writing", target, e))?;
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_escapes_and_reads_back() {
        let a = SecretString::from("l1\nl2 \"q\" $HOME \\");
        let leaves = vec![("db/pass-word".to_owned(), &a)];
        let out = env(&leaves).unwrap();
        let back = crate::migrate::dotenv::parse(out.as_slice()).unwrap();
        assert_eq!(back[0].segments, vec!["DB_PASS_WORD".to_owned()]);
        assert_eq!(back[0].value.expose_secret(), a.expose_secret());
    }

    #[test]
    fn yaml_and_json_read_back() {
        let a = SecretString::from("x: \"y\"\n\ttab é");
        let b = SecretString::from("007");
        let leaves = vec![("a/b".to_owned(), &a), ("c".to_owned(), &b)];
        for buf in [json(&leaves), yaml(&leaves)] {
            let text = std::str::from_utf8(buf.as_slice()).unwrap();
            let back = if text.starts_with('{') {
                crate::migrate::structured::parse_json(buf.as_slice())
            } else {
                crate::migrate::structured::parse_yaml(buf.as_slice())
            }
            .unwrap();
            let got: Vec<(String, String)> = back
                .iter()
                .map(|e| (e.segments.join("/"), e.value.expose_secret().to_owned()))
                .collect();
            assert_eq!(
                got,
                vec![
                    ("a/b".into(), a.expose_secret().into()),
                    ("c".into(), "007".into())
                ]
            );
        }
    }
}
