//! The JSON and YAML readers: nested mappings become namespaces, strings become values.
//!
//! One serde visitor serves both formats, so they follow the same rules: duplicate
//! keys are refused (serde_json would silently keep the last one, serde-rs/json#762),
//! numbers and booleans become their text, `null` and lists are refused with the
//! path named. Parse errors carry a line and column, never the parser's text,
//! which may quote the input.

use std::fmt;

use secrecy::SecretString;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{check_segment, Entry};
use crate::error::{Error, Result};
use crate::terminal::sanitize;

/// How deep mappings may nest (a vault path has at most this many segments anyway).
const MAX_DEPTH: usize = crate::secret_path::MAX_SEGMENTS;

/// The prefix of the one error message of our own that may be shown as is.
const DUPLICATE: &str = "duplicate key `";

enum Node {
    Map(Vec<(String, Node)>),
    Text(SecretString),
    Unsupported(&'static str),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Text(SecretString::from(v.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Unsupported("null"))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Unsupported("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Node::Unsupported("a list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{}`", sanitize(&key))));
            }
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// Parses a JSON object.
pub fn parse_json(bytes: &[u8]) -> Result<Vec<Entry>> {
    let node: Node = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        match text.find(DUPLICATE) {
            Some(i) if e.classify() == serde_json::error::Category::Data => Error::msg(format!(
                "the JSON file has a {}; keep one and import again",
                &text[i..]
            )),
            _ => Error::msg(format!(
                "the file is not valid JSON (line {}, column {}); fix it and import again",
                e.line(),
                e.column()
            )),
        }
    })?;
    flatten(node)
}

/// Parses a YAML mapping (one document).
pub fn parse_yaml(bytes: &[u8]) -> Result<Vec<Entry>> {
    let node: Node = serde_yaml_ng::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        match text.find(DUPLICATE) {
            Some(i) => {
                let end = text[i + DUPLICATE.len()..]
                    .find('`')
                    .map_or(text.len(), |j| i + DUPLICATE.len() + j + 1);
                Error::msg(format!(
                    "the YAML file has a {}{at}; keep one and import again",
                    &text[i..end]
                ))
            }
            None => Error::msg(format!("the file is not valid YAML{at}; fix it and import again")),
        }
    })?;
    flatten(node)
}

fn flatten(node: Node) -> Result<Vec<Entry>> {
    let Node::Map(entries) = node else {
        return Err(Error::msg(
            "the file must hold a mapping of names to values at the top level",
        ));
    };
    let mut out = Vec::new();
    walk(entries, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn walk(entries: Vec<(String, Node)>, path: &mut Vec<String>, out: &mut Vec<Entry>) -> Result<()> {
    if path.len() >= MAX_DEPTH {
        return Err(Error::msg(format!(
            "`{}` nests deeper than {MAX_DEPTH} levels, the limit of a secret path",
            sanitize(&path.join("/"))
        )));
    }
    for (key, node) in entries {
        let shown = if path.is_empty() {
            "a top-level key".to_owned()
        } else {
            format!("under `{}`", sanitize(&path.join("/")))
        };
        check_segment(&key, &shown)?;
        path.push(key);
        match node {
            Node::Map(children) => walk(children, path, out)?,
            Node::Text(value) => out.push(Entry {
                segments: path.clone(),
                value,
            }),
            Node::Unsupported(what) => {
                return Err(Error::msg(format!(
                    "`{}` is {what}; only strings (and numbers or booleans) can be secrets; \
                     change it in a copy of the file and import that",
                    path.join("/")
                )))
            }
        }
        path.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn pairs(entries: Vec<Entry>) -> Vec<(String, String)> {
        entries
            .into_iter()
            .map(|e| (e.segments.join("/"), e.value.expose_secret().to_owned()))
            .collect()
    }

    #[test]
    fn nested_json_and_yaml_agree() {
        let json = br#"{"db": {"password": "p\"w", "port": 5432}, "flag": true}"#;
        let yaml = b"db:\n  password: 'p\"w'\n  port: 5432\nflag: true\n";
        let want = vec![
            ("db/password".to_owned(), "p\"w".to_owned()),
            ("db/port".to_owned(), "5432".to_owned()),
            ("flag".to_owned(), "true".to_owned()),
        ];
        assert_eq!(pairs(parse_json(json).unwrap()), want);
        assert_eq!(pairs(parse_yaml(yaml).unwrap()), want);
    }

    #[test]
    fn errors_never_quote_values() {
        for err in [
            parse_json(br#"{"a": "s3cret", "a": "x"}"#).err().unwrap(),
            parse_json(br#"{"a": "s3cret" "#).err().unwrap(),
            parse_json(br#"{"a": ["s3cret"]}"#).err().unwrap(),
            parse_yaml(b"a: s3cret\na: x\n").err().unwrap(),
            parse_yaml(b"a: [s3cret\n").err().unwrap(),
            parse_yaml(b"a: s3cret: x\n").err().unwrap(),
        ] {
            let text = err.to_string();
            assert!(!text.contains("s3cret"), "{text}");
        }
        assert!(parse_json(br#"{"a": 1, "a": 2}"#)
            .err()
            .unwrap()
            .to_string()
            .contains("duplicate key `a`"));
    }
}
