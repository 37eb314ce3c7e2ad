//! The structure of a sops file, read without decrypting anything: its JSON, YAML or
//! .env body as an ordered tree, and its metadata (`sops:` in JSON and YAML, the
//! flattened `sops_…=` lines in .env).
//!
//! Order matters: the sops MAC hashes the values in document order, so mappings keep
//! their keys in file order, duplicates included (sops keeps them too; the import
//! refuses them later, after the MAC check, as it does for the sops binary's output).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// One node of a sops document.
pub enum Node {
    /// A mapping, keys in file order.
    Map(Vec<(String, Node)>),
    /// A list.
    List(Vec<Node>),
    /// A string: an `ENC[…]` value, or an unencrypted one.
    Str(Zeroizing<String>),
    /// An integer (only unencrypted values are numbers in an encrypted file).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `null` (sops leaves it alone: not encrypted, not in the MAC).
    Null,
}

/// The syntaxes sops writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `{"key": "ENC[…]", "sops": {…}}`.
    Json,
    /// `key: ENC[…]` and a `sops:` mapping.
    Yaml,
    /// `KEY=ENC[…]` lines and flattened `sops_…=` lines.
    Dotenv,
}

impl Syntax {
    /// The syntax of a sops file, from its content (the same guess `import` gives `sops --input-type`).
    pub fn of(bytes: &[u8]) -> Syntax {
        match super::super::sops_input_type(bytes) {
            "json" => Syntax::Json,
            "dotenv" => Syntax::Dotenv,
            _ => Syntax::Yaml,
        }
    }
}

/// A mapping's entries.
pub type Branch = Vec<(String, Node)>;

/// Reads the body of a sops file and takes its metadata out: (the data, the metadata mapping).
pub fn read(bytes: &[u8], syntax: Syntax) -> Result<(Branch, Branch)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match syntax {
        Syntax::Json => split_nested(parse_json(bytes)?),
        Syntax::Yaml => split_nested(parse_yaml(bytes)?),
        Syntax::Dotenv => split_flat(parse_dotenv(bytes)?),
    }
}

/// JSON and YAML: the metadata is the top-level `sops` mapping.
fn split_nested(branch: Branch) -> Result<(Branch, Branch)> {
    let mut data = Vec::with_capacity(branch.len());
    let mut meta = None;
    for (key, node) in branch {
        if key != "sops" {
            data.push((key, node));
            continue;
        }
        match (node, &meta) {
            (_, Some(_)) => return Err(Error::msg("it has two `sops` metadata entries")),
            (Node::Map(m), None) => meta = Some(m),
            _ => return Err(Error::msg("its `sops` metadata entry is not a mapping")),
        }
    }
    let meta = meta.ok_or_else(|| Error::msg("it has no `sops` metadata (is it a sops file?)"))?;
    Ok((data, meta))
}

/// .env: every `sops_…` line is metadata, its name a flattened path
/// (`sops_age__list_0__map_enc` is `age[0].enc`).
fn split_flat(branch: Branch) -> Result<(Branch, Branch)> {
    let mut data = Vec::with_capacity(branch.len());
    let mut meta = Node::Map(Vec::new());
    let mut any = false;
    let mut budget = MAX_FLAT_NODES;
    for (key, node) in branch {
        match key.strip_prefix("sops_") {
            Some(flat) => {
                any = true;
                let steps = tokenize(flat);
                if steps.len() > MAX_FLAT_DEPTH {
                    return Err(Error::msg(
                        "a `sops_…` metadata name nests deeper than any real file's",
                    ));
                }
                place(&mut meta, &steps, node, &mut budget)?;
            }
            None => data.push((key, node)),
        }
    }
    match meta {
        Node::Map(m) if any => Ok((data, m)),
        _ => Err(Error::msg(
            "it has no `sops_…` metadata lines (is it a sops file?)",
        )),
    }
}

/// One step of a flattened metadata name.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

const MAP_SEP: &str = "__map_";
const LIST_SEP: &str = "__list_";

/// `age__list_0__map_enc` → `age`, `[0]`, `enc`.
fn tokenize(flat: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = flat;
    let mut is_index = false;
    loop {
        let next = [MAP_SEP, LIST_SEP]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|i| (i, *sep)))
            .min_by_key(|(i, _)| *i);
        let (piece, after) = match next {
            Some((i, sep)) => (&rest[..i], Some((&rest[i + sep.len()..], sep == LIST_SEP))),
            None => (rest, None),
        };
        steps.push(if is_index {
            // An index that is not a number is index 0 for sops; for us a name that
            // never matches (the metadata reader then finds nothing there).
            piece
                .parse()
                .map_or_else(|_| Step::Key(piece.to_owned()), Step::Index)
        } else {
            Step::Key(piece.to_owned())
        });
        match after {
            Some((tail, index)) => {
                rest = tail;
                is_index = index;
            }
            None => return steps,
        }
    }
}

/// The most list entries a flattened metadata name may address (recipients, key groups).
const MAX_FLAT_INDEX: usize = 4096;

/// The most steps in a flattened metadata name (sops writes at most five:
/// `key_groups__list_0__map_age__list_0__map_enc`).
const MAX_FLAT_DEPTH: usize = 16;

/// The most nodes the flattened metadata may create in all (gaps in lists included).
const MAX_FLAT_NODES: usize = 1 << 16;

/// Puts `value` at `steps` under `node`, creating what is missing out of `budget`.
fn place(node: &mut Node, steps: &[Step], value: Node, budget: &mut usize) -> Result<()> {
    let Some((first, rest)) = steps.split_first() else {
        return match node {
            Node::Null => {
                *node = value;
                Ok(())
            }
            _ => Err(Error::msg(
                "a `sops_…` metadata line is given twice or conflicts with another",
            )),
        };
    };
    let clash = || Error::msg("the `sops_…` metadata lines do not form one structure");
    match first {
        Step::Key(key) => {
            if matches!(node, Node::Null) {
                *node = Node::Map(Vec::new());
            }
            let Node::Map(entries) = node else {
                return Err(clash());
            };
            let at = if let Some(i) = entries.iter().position(|(k, _)| k == key) {
                i
            } else {
                spend(budget, 1)?;
                entries.push((key.clone(), Node::Null));
                entries.len() - 1
            };
            place(&mut entries[at].1, rest, value, budget)
        }
        Step::Index(index) => {
            if *index >= MAX_FLAT_INDEX {
                return Err(Error::msg(
                    "a `sops_…` metadata line has an index beyond any real file's",
                ));
            }
            if matches!(node, Node::Null) {
                *node = Node::List(Vec::new());
            }
            let Node::List(items) = node else {
                return Err(clash());
            };
            if items.len() <= *index {
                spend(budget, index + 1 - items.len())?;
                items.resize_with(index + 1, || Node::Null);
            }
            place(&mut items[*index], rest, value, budget)
        }
    }
}

fn spend(budget: &mut usize, nodes: usize) -> Result<()> {
    *budget = budget.checked_sub(nodes).ok_or_else(|| {
        Error::msg("its `sops_…` metadata lines describe more entries than any real file's")
    })?;
    Ok(())
}

/// What a key that is not a string says (the marker is found in serde's message).
const NOT_A_STRING_KEY: &str = "a string key";

fn parse_json(bytes: &[u8]) -> Result<Branch> {
    let node: Node = serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.to_string().contains(NOT_A_STRING_KEY) {
            "a key that is not a string"
        } else {
            "invalid JSON"
        };
        Error::msg(format!(
            "it has {what} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match node {
        Node::Map(branch) => Ok(branch),
        _ => Err(Error::msg("it is JSON but not an object at the top level")),
    }
}

fn parse_yaml(bytes: &[u8]) -> Result<Branch> {
    let yaml_error = |e: serde_yaml_ng::Error| {
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        let what = if e.to_string().contains(NOT_A_STRING_KEY) {
            "a key that is not a string (sops reads string keys only)"
        } else {
            "invalid YAML"
        };
        Error::msg(format!("it has {what}{at}"))
    };
    let mut documents = serde_yaml_ng::Deserializer::from_slice(bytes);
    let first = match documents.next() {
        Some(doc) => Node::deserialize(doc).map_err(yaml_error)?,
        None => Node::Null,
    };
    if documents.next().is_some() {
        return Err(Error::msg(
            "it holds several YAML documents; the native reader takes one (use --sops binary, \
             or split the file)",
        ));
    }
    match first {
        Node::Map(branch) => Ok(branch),
        // An empty document is an empty mapping for sops.
        Node::Null => Ok(Vec::new()),
        _ => Err(Error::msg("it is YAML but not a mapping at the top level")),
    }
}

/// sops' own .env reading: lines split at `\n` (nothing trimmed), `#` lines are
/// comments, the name ends at the first `=`, and `\n` in a value is a line break.
fn parse_dotenv(bytes: &[u8]) -> Result<Branch> {
    let mut branch = Vec::new();
    for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| Error::msg(format!("line {} is not UTF-8 text", number + 1)))?;
        let Some((name, value)) = line.split_once('=') else {
            return Err(Error::msg(format!(
                "line {} is neither `NAME=value` nor a `#` comment",
                number + 1
            )));
        };
        let value = Zeroizing::new(value.replace("\\n", "\n"));
        branch.push((name.to_owned(), Node::Str(value)));
    }
    Ok(branch)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sops document value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Node, E> {
        Ok(Node::Int(v))
    }

    /// Beyond i64 sops (Go's `int`) reads a number as a float.
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> std::result::Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> std::result::Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::Float(v as f64), Node::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Node, E> {
        Ok(Node::Str(Zeroizing::new(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Node, E> {
        Ok(Node::Str(Zeroizing::new(v)))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A mapping key: sops takes strings only (a YAML `1:` or `true:` key is an error there too).
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_STRING_KEY)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key, E> {
        Ok(Key(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Key, E> {
        Ok(Key(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(branch: &Branch) -> Vec<&str> {
        branch.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn keeps_document_order_and_duplicates() {
        let (data, meta) = read(
            br#"{"z": "1", "a": {"y": 2, "b": [true, null]}, "z": "3", "sops": {"mac": "m"}}"#,
            Syntax::Json,
        )
        .unwrap();
        assert_eq!(keys(&data), ["z", "a", "z"]);
        assert_eq!(keys(&meta), ["mac"]);
        let (data, _) = read(b"z: 1\na:\n  y: 2\nb: x\nsops:\n  mac: m\n", Syntax::Yaml).unwrap();
        assert_eq!(keys(&data), ["z", "a", "b"]);
    }

    #[test]
    fn unflattens_dotenv_metadata() {
        let text = b"# c\nA=ENC[x]\nsops_age__list_0__map_enc=-----BEGIN\\nX\\n-----END\n\
            sops_age__list_0__map_recipient=age1x\nsops_age__list_1__map_recipient=age1y\n\
            sops_lastmodified=2024-01-01T00:00:00Z\nB=plain\n";
        let (data, meta) = read(text, Syntax::Dotenv).unwrap();
        assert_eq!(keys(&data), ["A", "B"]);
        assert_eq!(keys(&meta), ["age", "lastmodified"]);
        let Node::List(ages) = &meta[0].1 else {
            panic!("age is a list")
        };
        assert_eq!(ages.len(), 2);
        let Node::Map(first) = &ages[0] else {
            panic!("an age entry is a map")
        };
        let Node::Str(enc) = &first[0].1 else {
            panic!("enc is a string")
        };
        assert_eq!(enc.as_str(), "-----BEGIN\nX\n-----END");
        assert_eq!(
            tokenize("key_groups__list_0__map_age__list_2__map_enc"),
            vec![
                Step::Key("key_groups".into()),
                Step::Index(0),
                Step::Key("age".into()),
                Step::Index(2),
                Step::Key("enc".into()),
            ]
        );
    }

    #[test]
    fn flattened_metadata_cannot_make_a_huge_structure() {
        let lines: String = (0..20).map(|i| format!("sops_a{i}__list_4000=1\n")).collect();
        let err = read(lines.as_bytes(), Syntax::Dotenv).err().unwrap().to_string();
        assert!(err.contains("more entries than any real file"), "{err}");
    }

    #[test]
    fn malformed_files_are_one_line_errors_without_values() {
        for (text, syntax, want) in [
            (
                &b"{\"a\": \"s3cret\" \"b\"}"[..],
                Syntax::Json,
                "invalid JSON (line 1",
            ),
            (b"{\"a\": \"s3cret\"}", Syntax::Json, "no `sops` metadata"),
            (b"a: s3cret\nsops: 1\n", Syntax::Yaml, "not a mapping"),
            (b"1: s3cret\nsops: {}\n", Syntax::Yaml, "not a string"),
            (b"a: s3cret\n---\nb: x\n", Syntax::Yaml, "several YAML documents"),
            (b"A=s3cret\nB\n", Syntax::Dotenv, "line 2"),
            (b"sops_a=1\nsops_a__map_b=2\n", Syntax::Dotenv, "one structure"),
            (b"sops_a__list_99999999=1\n", Syntax::Dotenv, "index"),
            (b"sops_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a__map_a=1\n", Syntax::Dotenv, "nests deeper"),
        ] {
            let err = read(text, syntax).err().unwrap().to_string();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
