//! The plaintext vault document: the secrets tree, per-path meta, and the recorded recipients.
//!
//! Secret values live in `SecretString` from parsing to use; the document is
//! never held as a `serde_json::Value` (which cannot be zeroized).

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::secret_buf::SecretBuf;
use crate::secret_path::{
    segment_problem, shorten, SecretPath, MAX_PATH_BYTES, MAX_SEGMENTS, MAX_SEGMENT_BYTES,
};

/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// How deep arrays and objects may nest in a document. The secrets tree needs
/// `MAX_SEGMENTS + 1` levels; meta and unknown fields get room to spare. Deeper
/// input is refused (or pruned, for repair) before serde_json sees it, so its own
/// limit of 128 ("recursion limit exceeded") and the stack are never reached.
const MAX_JSON_DEPTH: usize = MAX_SEGMENTS + 16;

/// One node of the secrets tree.
pub enum Node {
    /// A secret value.
    Leaf(SecretString),
    /// A namespace.
    Tree(Tree),
}

/// A namespace: names to nodes, sorted so output is stable.
pub type Tree = BTreeMap<String, Node>;

/// Why parsing failed: a JSON problem with a position, or a tree problem with a path.
#[derive(Debug)]
pub enum DocumentError {
    /// Not JSON, a duplicate key, or a wrong shape; the text carries line and column.
    Syntax(String),
    /// The JSON is fine but the tree breaks a rule at a path.
    Tree(String),
    /// `version` is newer than this build.
    FutureVersion(u64),
    /// A secret path breaks the depth or length caps. Carries the problem and, when
    /// removing one valid prefix repairs it exactly, that prefix (for `agevault rm`).
    Oversized(String, Option<String>),
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentError::Syntax(s) | DocumentError::Tree(s) | DocumentError::Oversized(s, _) => {
                f.write_str(s)
            }
            DocumentError::FutureVersion(v) => write!(f, "format version {v} is not supported"),
        }
    }
}

/// The whole decrypted document.
pub struct VaultDocument {
    /// Format version (always `FORMAT_VERSION` once parsed).
    pub version: u64,
    /// The secrets tree.
    pub secrets: Tree,
    /// Per-path metadata maintained by the tool; holds no values.
    pub meta: BTreeMap<String, BTreeMap<String, Value>>,
    /// The recipient keys this version was encrypted to, sorted.
    pub recipients: Vec<String>,
    /// Fields this build does not know, kept as they are.
    pub extra: BTreeMap<String, Value>,
}

/// The top-level field holding the vault's fingerprint key (see `git::fingerprint`).
pub const FINGERPRINT_KEY_FIELD: &str = "fingerprint_key";

impl Drop for VaultDocument {
    /// The fingerprint key is kept as JSON text among the fields this type does not
    /// model, and a `serde_json::Value` does not zeroize itself: wipe the key here, so
    /// every copy a document holds (a parsed one, a merged one) goes with the document.
    fn drop(&mut self) {
        if let Some(Value::String(key)) = self.extra.get_mut(FINGERPRINT_KEY_FIELD) {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

impl VaultDocument {
    /// An empty document encrypted to `recipients`.
    pub fn new(recipients: Vec<String>) -> Self {
        let mut doc = VaultDocument {
            version: FORMAT_VERSION,
            secrets: Tree::new(),
            meta: BTreeMap::new(),
            recipients,
            extra: BTreeMap::new(),
        };
        doc.recipients.sort();
        doc.recipients.dedup();
        doc
    }

    /// Parses plaintext bytes, rejecting duplicates, non-string leaves, bad names and future versions.
    pub fn parse(bytes: &[u8]) -> Result<Self, DocumentError> {
        if nests_deeper_than(bytes, MAX_JSON_DEPTH) {
            return Err(explain_oversized(Self::parse_repairing(bytes)));
        }
        Self::parse_with(bytes, None)
    }

    /// Parses a document whose secret paths may break the depth and length caps,
    /// leaving those entries out: what `rm` and `edit` open, so that a vault made
    /// too deep (by a stock `age` user, or an older agevault) can be repaired.
    pub fn parse_repairing(bytes: &[u8]) -> Result<Repaired, DocumentError> {
        let pruned = prune_deep_json(bytes, MAX_JSON_DEPTH);
        let mut left_out = Vec::new();
        let mut doc = Self::parse_with(
            pruned.as_ref().map_or(bytes, SecretBuf::as_slice),
            Some(&mut left_out),
        )?;
        for path in &left_out {
            let text = path.join("/");
            let below = format!("{text}/");
            doc.meta.retain(|k, _| k != &text && !k.starts_with(&below));
        }
        Ok(Repaired {
            doc,
            changed: pruned.is_some() || !left_out.is_empty(),
            left_out,
        })
    }

    fn parse_with(bytes: &[u8], left_out: Option<&mut Vec<Vec<String>>>) -> Result<Self, DocumentError> {
        // The version gates everything else: a future document may have any shape.
        #[derive(Deserialize)]
        struct Probe {
            version: Option<IgnoredAny>,
        }
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u64,
        }
        if let Ok(Probe { version: Some(_) }) = serde_json::from_slice::<Probe>(bytes) {
            if let Ok(VersionOnly { version }) = serde_json::from_slice::<VersionOnly>(bytes) {
                if version > FORMAT_VERSION {
                    return Err(DocumentError::FutureVersion(version));
                }
            }
        }
        let raw: RawDocument =
            serde_json::from_slice(bytes).map_err(|e| DocumentError::Syntax(e.to_string()))?;
        let version = raw
            .version
            .ok_or_else(|| DocumentError::Syntax("the document has no `version` field".into()))?;
        if version == 0 {
            return Err(DocumentError::Syntax("`version` must be 1".into()));
        }
        let secrets = raw.secrets.unwrap_or_default();
        let secrets = validate_tree(secrets, &mut Vec::new(), left_out)?;
        let mut recipients: Vec<String> = raw
            .recipients
            .unwrap_or_default()
            .iter()
            .map(|k| crate::keys::canonical_key(k))
            .collect();
        recipients.sort();
        recipients.dedup();
        Ok(VaultDocument {
            version,
            secrets,
            meta: raw.meta.map(|m| m.0).unwrap_or_default(),
            recipients,
            extra: raw.extra,
        })
    }

    /// The canonical plaintext: pretty JSON, sorted keys, trailing newline.
    pub fn to_plaintext(&self) -> SecretBuf {
        let mut buf = SecretBuf::with_capacity(self.size_hint() * 2 + 1024);
        // Writing to memory cannot fail and every key is a string.
        if serde_json::to_writer_pretty(&mut buf, self).is_ok() {
            buf.extend_from_slice(b"\n");
        }
        buf
    }

    fn size_hint(&self) -> usize {
        self.leaves()
            .map(|(p, v)| p.len() + v.expose_secret().len())
            .sum()
    }

    /// Finds the node at `path`.
    pub fn get(&self, path: &SecretPath) -> Option<&Node> {
        tree_get(&self.secrets, path)
    }

    /// Sets the leaf at `path`; returns whether the stored value changed.
    /// Fails when a prefix of `path` is a secret or `path` is a namespace.
    pub fn set(&mut self, path: &SecretPath, value: SecretString) -> Result<bool, String> {
        let (last, parents) = path
            .segments()
            .split_last()
            .ok_or_else(|| "empty path".to_owned())?;
        let mut tree = &mut self.secrets;
        for (i, seg) in parents.iter().enumerate() {
            let node = tree.entry(seg.clone()).or_insert_with(|| Node::Tree(Tree::new()));
            tree = match node {
                Node::Tree(t) => t,
                Node::Leaf(_) => {
                    return Err(format!(
                        "`{}` is a secret, so it cannot hold `{path}`",
                        parents[..=i].join("/")
                    ))
                }
            };
        }
        match tree.get(last) {
            Some(Node::Tree(_)) => Err(format!(
                "`{path}` is a namespace; remove it first with `agevault rm -r {path}`"
            )),
            Some(Node::Leaf(old)) if old.expose_secret() == value.expose_secret() => Ok(false),
            _ => {
                tree.insert(last.clone(), Node::Leaf(value));
                self.touch(&path.to_string());
                Ok(true)
            }
        }
    }

    /// Removes the node at `path` and every meta entry under it; returns whether it existed.
    pub fn remove(&mut self, path: &SecretPath) -> bool {
        let Some((last, parents)) = path.segments().split_last() else {
            return false;
        };
        let mut tree = &mut self.secrets;
        let mut chain = Vec::new();
        for seg in parents {
            match tree.get_mut(seg) {
                Some(Node::Tree(t)) => tree = t,
                _ => return false,
            }
            chain.push(seg.clone());
        }
        if tree.remove(last).is_none() {
            return false;
        }
        let text = path.to_string();
        let below = format!("{text}/");
        self.meta.retain(|k, _| k != &text && !k.starts_with(&below));
        prune_empty(&mut self.secrets);
        true
    }

    /// Replaces the whole tree (after `edit`), touching the meta of every added or
    /// changed path and dropping that of removed ones. Returns whether anything changed.
    pub fn replace_secrets(&mut self, tree: Tree) -> bool {
        let old: BTreeMap<String, &SecretString> = self.leaves().collect();
        let mut new_leaves = Vec::new();
        collect_leaves(&tree, &mut String::new(), &mut new_leaves);
        let mut touched = Vec::new();
        for (path, value) in &new_leaves {
            match old.get(path) {
                Some(v) if v.expose_secret() == value.expose_secret() => {}
                _ => touched.push(path.clone()),
            }
        }
        let kept: std::collections::BTreeSet<&String> = new_leaves.iter().map(|(p, _)| p).collect();
        let removed: Vec<String> = old.keys().filter(|p| !kept.contains(p)).cloned().collect();
        drop(new_leaves);
        if touched.is_empty() && removed.is_empty() {
            return false;
        }
        self.secrets = tree;
        for path in removed {
            self.meta.remove(&path);
        }
        for path in touched {
            self.touch(&path);
        }
        true
    }

    /// Whether `key` was taken off the vault with `recipients remove`.
    /// Every key an `offboarded` record names that is not a recipient again (one added
    /// back later with `recipients add` was re-admitted on purpose).
    pub fn offboarded_keys(&self) -> Vec<String> {
        match self.extra.get("offboarded") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|r| r["key"].as_str().map(str::to_owned))
                .filter(|k| !self.recipients.contains(k))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `key` was removed with `recipients remove`.
    pub fn was_offboarded(&self, key: &str) -> bool {
        matches!(self.extra.get("offboarded"), Some(Value::Array(list))
            if list.iter().any(|r| r["key"].as_str() == Some(key)))
    }

    /// Whether a recipient named `name` was taken off the vault with `recipients remove`.
    pub fn was_offboarded_name(&self, name: &str) -> bool {
        matches!(self.extra.get("offboarded"), Some(Value::Array(list))
            if list.iter().any(|r| r["name"].as_str() == Some(name)))
    }

    /// Records "now" as the last update of `path`.
    pub fn touch(&mut self, path: &str) {
        self.meta
            .entry(path.to_owned())
            .or_default()
            .insert("updated".into(), Value::String(crate::clock::now_rfc3339()));
    }

    /// Every leaf as (path, value), sorted by path.
    pub fn leaves(&self) -> impl Iterator<Item = (String, &SecretString)> {
        let mut out = Vec::new();
        collect_leaves(&self.secrets, &mut String::new(), &mut out);
        out.into_iter()
    }
}

fn tree_get<'a>(tree: &'a Tree, path: &SecretPath) -> Option<&'a Node> {
    let (last, parents) = path.segments().split_last()?;
    let mut tree = tree;
    for seg in parents {
        match tree.get(seg)? {
            Node::Tree(t) => tree = t,
            Node::Leaf(_) => return None,
        }
    }
    tree.get(last)
}

/// Empty namespaces left behind by a removal carry no information.
fn prune_empty(tree: &mut Tree) {
    tree.retain(|_, node| match node {
        Node::Leaf(_) => true,
        Node::Tree(t) => {
            prune_empty(t);
            !t.is_empty()
        }
    });
}

fn collect_leaves<'a>(tree: &'a Tree, prefix: &mut String, out: &mut Vec<(String, &'a SecretString)>) {
    for (name, node) in tree {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(name);
        match node {
            Node::Leaf(v) => out.push((prefix.clone(), v)),
            Node::Tree(t) => collect_leaves(t, prefix, out),
        }
        prefix.truncate(len);
    }
}

/// Every leaf path of a tree, sorted.
pub fn leaf_paths(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    collect_leaves(tree, &mut String::new(), &mut out);
    out.into_iter().map(|(p, _)| p).collect()
}

/// Parses a bare secrets tree (what `edit` shows), with the same rules as the document.
pub fn parse_tree(bytes: &[u8]) -> Result<Tree, DocumentError> {
    let parse = |bytes: &[u8], left_out: Option<&mut Vec<Vec<String>>>| {
        let raw: NoDupMap<RawNode> =
            serde_json::from_slice(bytes).map_err(|e| DocumentError::Syntax(e.to_string()))?;
        validate_tree(raw.0, &mut Vec::new(), left_out)
    };
    match prune_deep_json(bytes, MAX_JSON_DEPTH - 1) {
        None => parse(bytes, None),
        Some(pruned) => {
            let mut left_out = Vec::new();
            parse(pruned.as_slice(), Some(&mut left_out))?;
            Err(match left_out.first() {
                Some(path) => oversized(path),
                None => too_deep_json(),
            })
        }
    }
}

/// A document opened by [`VaultDocument::parse_repairing`].
pub struct Repaired {
    /// The document without the entries that break the caps.
    pub doc: VaultDocument,
    /// The secret paths left out (each the first segment chain that breaks a cap).
    pub left_out: Vec<Vec<String>>,
    /// Whether anything was left out or pruned: writing `doc` back repairs the vault.
    pub changed: bool,
}

/// The error for a document that is too deep: the first oversized path when there is one.
fn explain_oversized(repaired: Result<Repaired, DocumentError>) -> DocumentError {
    match repaired {
        Ok(r) => match r.left_out.first() {
            Some(path) => oversized(path),
            None => too_deep_json(),
        },
        Err(e) => e,
    }
}

fn too_deep_json() -> DocumentError {
    DocumentError::Syntax(format!(
        "the JSON nests deeper than {MAX_JSON_DEPTH} levels (secret paths have at most {MAX_SEGMENTS} segments)"
    ))
}

/// The problem with an oversized path, and the prefix whose removal repairs exactly it.
fn oversized(path: &[String]) -> DocumentError {
    let shown = shorten(&path.join("/"));
    if path.len() > MAX_SEGMENTS {
        // Everything below a 32-segment namespace is too deep, so removing that
        // namespace removes nothing else.
        let prefix = path[..MAX_SEGMENTS].join("/");
        let prefix = (prefix.len() <= MAX_PATH_BYTES).then_some(prefix);
        DocumentError::Oversized(
            format!("secret path `{shown}` has more than {MAX_SEGMENTS} segments (the limit)"),
            prefix,
        )
    } else if path.last().is_some_and(|s| s.len() > MAX_SEGMENT_BYTES) {
        DocumentError::Oversized(
            format!("secret path `{shown}` has a segment longer than {MAX_SEGMENT_BYTES} bytes (the limit)"),
            None,
        )
    } else {
        DocumentError::Oversized(
            format!("secret path `{shown}` is longer than {MAX_PATH_BYTES} bytes (the limit)"),
            None,
        )
    }
}

/// Whether arrays and objects in `bytes` nest deeper than `max` (strings are skipped).
/// A loop, not recursion: the input may nest a million levels.
fn nests_deeper_than(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A copy of `bytes` where every array or object nested deeper than `max` is replaced
/// by `null`; `None` when nothing is that deep. Invalid JSON stays invalid.
fn prune_deep_json(bytes: &[u8], max: usize) -> Option<SecretBuf> {
    if !nests_deeper_than(bytes, max) {
        return None;
    }
    let mut out = SecretBuf::with_capacity(bytes.len());
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut kept_from = Some(0);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth == max + 1 {
                    if let Some(start) = kept_from.take() {
                        out.extend_from_slice(&bytes[start..i]);
                        out.extend_from_slice(b"null");
                    }
                }
            }
            b'}' | b']' => {
                if depth == max + 1 && kept_from.is_none() {
                    kept_from = Some(i + 1);
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    if let Some(start) = kept_from {
        out.extend_from_slice(&bytes[start..]);
    }
    Some(out)
}

/// Pretty JSON of a bare tree (what `edit` shows).
pub fn tree_to_json(tree: &Tree) -> SecretBuf {
    let mut buf = SecretBuf::with_capacity(4096);
    if serde_json::to_writer_pretty(&mut buf, &TreeRef(tree)).is_ok() {
        buf.extend_from_slice(b"\n");
    }
    buf
}

// ---------------------------------------------------------------- parsing

/// What a tree value was before validation: invalid kinds are kept as a
/// marker so the error can name the path instead of a byte offset.
enum RawNode {
    Leaf(SecretString),
    Tree(BTreeMap<String, RawNode>),
    Invalid(&'static str),
}

/// Checks names and kinds. With `left_out`, entries whose path breaks the depth or
/// length caps are left out and listed there instead of failing (repair mode).
fn validate_tree(
    raw: BTreeMap<String, RawNode>,
    at: &mut Vec<String>,
    mut left_out: Option<&mut Vec<Vec<String>>>,
) -> Result<Tree, DocumentError> {
    let mut tree = Tree::new();
    for (name, node) in raw {
        at.push(name);
        let here = || at.join("/");
        let path_len = at.iter().map(String::len).sum::<usize>() + at.len() - 1;
        let last_len = at.last().map_or(0, String::len);
        if at.len() > MAX_SEGMENTS || path_len > MAX_PATH_BYTES || last_len > MAX_SEGMENT_BYTES {
            match left_out.as_deref_mut() {
                Some(list) => {
                    list.push(at.clone());
                    at.pop();
                    continue;
                }
                None => return Err(oversized(at)),
            }
        }
        if let Some(problem) = segment_problem(at.last().map_or("", String::as_str)) {
            let shown = crate::terminal::sanitize(&here());
            return Err(DocumentError::Tree(format!("secret path `{shown}` {problem}")));
        }
        let node = match node {
            RawNode::Leaf(v) => Node::Leaf(v),
            RawNode::Tree(t) => Node::Tree(validate_tree(t, at, left_out.as_deref_mut())?),
            RawNode::Invalid(kind) => {
                return Err(DocumentError::Tree(format!(
                    "`{}` is {kind}; secret values must be strings and namespaces objects",
                    here()
                )))
            }
        };
        let name = at.pop().unwrap_or_default();
        tree.insert(name, node);
    }
    Ok(tree)
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
                Ok(RawNode::Leaf(SecretString::from(v)))
            }
            fn visit_string<E: de::Error>(self, mut v: String) -> Result<RawNode, E> {
                let secret = SecretString::from(v.as_str());
                zeroize::Zeroize::zeroize(&mut v);
                Ok(RawNode::Leaf(secret))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawNode, A::Error> {
                Ok(RawNode::Tree(NoDupMapVisitor::new().visit_map(map)?.0))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawNode::Invalid("an array"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawNode, E> {
                Ok(RawNode::Invalid("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawNode, E> {
                Ok(RawNode::Invalid("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawNode, E> {
                Ok(RawNode::Invalid("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawNode, E> {
                Ok(RawNode::Invalid("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
                Ok(RawNode::Invalid("null"))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

/// A JSON object that refuses duplicate keys (serde_json would silently keep the last).
struct NoDupMap<V>(BTreeMap<String, V>);

struct NoDupMapVisitor<V>(std::marker::PhantomData<V>);

impl<V> NoDupMapVisitor<V> {
    fn new() -> Self {
        NoDupMapVisitor(std::marker::PhantomData)
    }
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for NoDupMapVisitor<V> {
    type Value = NoDupMap<V>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<NoDupMap<V>, E> {
        Err(not_an_object("a string"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<NoDupMap<V>, E> {
        Err(not_an_object("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<NoDupMap<V>, E> {
        Err(not_an_object("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<NoDupMap<V>, E> {
        Err(not_an_object("a number"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDupMap<V>, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{}`",
                    crate::terminal::sanitize(&key)
                )));
            }
            let value = map.next_value::<V>()?;
            out.insert(key, value);
        }
        Ok(NoDupMap(out))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for NoDupMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `any`, not `map`: serde's own type error would quote a misplaced string or
        // number, which may well be a secret; the visitor names only its kind.
        d.deserialize_any(NoDupMapVisitor::new())
    }
}

/// The error for a scalar where an object belongs, without the scalar itself.
fn not_an_object<E: de::Error>(found: &str) -> E {
    E::custom(format_args!("invalid type: {found}, expected an object"))
}

/// A meta entry: an object of plain JSON values, duplicates refused.
struct MetaEntry(BTreeMap<String, Value>);

impl<'de> Deserialize<'de> for MetaEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MetaEntry(NoDupMap::<Value>::deserialize(d)?.0))
    }
}

struct MetaMap(BTreeMap<String, BTreeMap<String, Value>>);

impl<'de> Deserialize<'de> for MetaMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = NoDupMap::<MetaEntry>::deserialize(d)?;
        Ok(MetaMap(raw.0.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}

struct RawDocument {
    version: Option<u64>,
    secrets: Option<BTreeMap<String, RawNode>>,
    meta: Option<MetaMap>,
    recipients: Option<Vec<String>>,
    extra: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for RawDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DocVisitor;
        impl<'de> Visitor<'de> for DocVisitor {
            type Value = RawDocument;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an agevault document object")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawDocument, E> {
                Err(not_an_object("a string"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawDocument, E> {
                Err(not_an_object("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawDocument, E> {
                Err(not_an_object("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawDocument, E> {
                Err(not_an_object("a number"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDocument, A::Error> {
                let mut doc = RawDocument {
                    version: None,
                    secrets: None,
                    meta: None,
                    recipients: None,
                    extra: BTreeMap::new(),
                };
                let mut seen = std::collections::BTreeSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate key `{}`",
                            crate::terminal::sanitize(&key)
                        )));
                    }
                    match key.as_str() {
                        "version" => doc.version = Some(map.next_value()?),
                        "secrets" => {
                            doc.secrets = Some(map.next_value::<NoDupMap<RawNode>>()?.0);
                        }
                        "meta" => doc.meta = Some(map.next_value()?),
                        "recipients" => doc.recipients = Some(map.next_value()?),
                        _ => {
                            let v: Value = map.next_value()?;
                            doc.extra.insert(key, v);
                        }
                    }
                }
                Ok(doc)
            }
        }
        d.deserialize_any(DocVisitor)
    }
}

// ---------------------------------------------------------------- writing

struct TreeRef<'a>(&'a Tree);

impl Serialize for TreeRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, node) in self.0 {
            match node {
                Node::Leaf(v) => map.serialize_entry(name, v.expose_secret())?,
                Node::Tree(t) => map.serialize_entry(name, &TreeRef(t))?,
            }
        }
        map.end()
    }
}

impl Serialize for VaultDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("secrets", &TreeRef(&self.secrets))?;
        map.serialize_entry("meta", &self.meta)?;
        map.serialize_entry("recipients", &self.recipients)?;
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether two trees hold the same paths and values.
    fn trees_equal(a: &Tree, b: &Tree) -> bool {
        a.len() == b.len()
            && a.iter().zip(b.iter()).all(|((ka, na), (kb, nb))| {
                ka == kb
                    && match (na, nb) {
                        (Node::Leaf(x), Node::Leaf(y)) => x.expose_secret() == y.expose_secret(),
                        (Node::Tree(x), Node::Tree(y)) => trees_equal(x, y),
                        _ => false,
                    }
            })
    }

    fn parse(s: &str) -> Result<VaultDocument, DocumentError> {
        VaultDocument::parse(s.as_bytes())
    }

    #[test]
    fn round_trips() {
        let text = r#"{"version":1,"secrets":{"samba":{"password":"p\"w"},"tls":{"key":"-----BEGIN-----\nX\n"}},
            "meta":{"samba/password":{"updated":"2026-01-01T00:00:00Z"}},"recipients":["age1b","age1a"],"future":[1]}"#;
        let doc = parse(text).unwrap();
        assert_eq!(doc.recipients, ["age1a", "age1b"]);
        let out = doc.to_plaintext();
        let again = VaultDocument::parse(out.as_slice()).unwrap();
        assert!(trees_equal(&doc.secrets, &again.secrets));
        assert_eq!(again.extra["future"], serde_json::json!([1]));
        assert_eq!(out.as_slice(), again.to_plaintext().as_slice());
        let paths: Vec<_> = doc.leaves().map(|(p, _)| p).collect();
        assert_eq!(paths, ["samba/password", "tls/key"]);
    }

    #[test]
    fn rejects_duplicates_everywhere() {
        for text in [
            r#"{"version":1,"version":1}"#,
            r#"{"version":1,"secrets":{"a":"x","a":"y"}}"#,
            r#"{"version":1,"secrets":{"n":{"a":"x","a":"y"}}}"#,
            r#"{"version":1,"meta":{"a":{"updated":"x","updated":"y"}}}"#,
        ] {
            match parse(text) {
                Err(DocumentError::Syntax(m)) => assert!(m.contains("duplicate key"), "{m}"),
                _ => panic!("accepted {text}"),
            }
        }
    }

    #[test]
    fn names_the_bad_path() {
        let cases = [
            (
                r#"{"version":1,"secrets":{"db":{"port":5432}}}"#,
                "`db/port` is a number",
            ),
            (r#"{"version":1,"secrets":{"a":[1]}}"#, "`a` is an array"),
            (r#"{"version":1,"secrets":{"a":null}}"#, "`a` is null"),
            (r#"{"version":1,"secrets":{"..":"x"}}"#, "`..`"),
            (r#"{"version":1,"secrets":{"a b":"x"}}"#, "`a b`"),
        ];
        for (text, want) in cases {
            match parse(text) {
                Err(DocumentError::Tree(m)) => assert!(m.contains(want), "{m} lacks {want}"),
                Err(e) => panic!("{text}: wrong error {e}"),
                Ok(_) => panic!("accepted {text}"),
            }
        }
    }

    #[test]
    fn refuses_future_versions_before_shape() {
        assert!(matches!(
            parse(r#"{"secrets":[1,2],"version":2}"#),
            Err(DocumentError::FutureVersion(2))
        ));
        assert!(matches!(
            parse(r#"{"secrets":{}}"#),
            Err(DocumentError::Syntax(_))
        ));
        assert!(matches!(parse("not json"), Err(DocumentError::Syntax(_))));
    }

    #[test]
    fn misplaced_scalars_are_not_quoted() {
        for text in [
            r#"{"version":1,"secrets":"s3cr3t"}"#,
            r#"{"version":1,"secrets":{"n":{"a":"x"}},"meta":{"a":"s3cr3t"}}"#,
            r#""s3cr3t""#,
            r#"{"version":1,"secrets":987654321}"#,
        ] {
            match parse(text) {
                Err(DocumentError::Syntax(m)) => {
                    assert!(!m.contains("s3cr3t") && !m.contains("987654321"), "{m}");
                    assert!(m.contains("expected an object"), "{m}");
                }
                _ => panic!("accepted {text}"),
            }
        }
        let Err(DocumentError::Syntax(m)) = parse_tree(b"\"s3cr3t\"") else {
            panic!()
        };
        assert!(!m.contains("s3cr3t") && m.contains("line 1"), "{m}");
    }

    #[test]
    fn syntax_errors_carry_position() {
        let Err(DocumentError::Syntax(m)) = parse_tree(b"{\n  \"a\": \"x\",\n}") else {
            panic!()
        };
        assert!(m.contains("line 3"), "{m}");
    }

    #[test]
    fn deep_documents_are_refused_without_recursion_and_repairable() {
        let n = 100_000;
        let text = format!(
            r#"{{"version":1,"secrets":{{"k":"v","a":{}"x"{}}},"extra":{}1{}}}"#,
            "{\"a\":".repeat(n),
            "}".repeat(n),
            "[".repeat(n),
            "]".repeat(n)
        );
        match parse(&text) {
            Err(DocumentError::Oversized(m, Some(prefix))) => {
                assert!(m.contains("more than 32 segments"), "{m}");
                assert_eq!(prefix, vec!["a"; MAX_SEGMENTS].join("/"));
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("accepted"),
        }
        let r = VaultDocument::parse_repairing(text.as_bytes()).unwrap();
        assert!(r.changed);
        assert_eq!(r.left_out, [vec!["a".to_owned(); MAX_SEGMENTS + 1]]);
        assert!(r.doc.extra["extra"].is_array());
        assert!(parse_tree(format!("{}1{}", "[".repeat(n), "]".repeat(n)).as_bytes()).is_err());
        // Brackets inside strings are not nesting.
        let quoted = format!(r#"{{"version":1,"secrets":{{"k":"{}"}}}}"#, "{[".repeat(n));
        assert!(parse(&quoted).is_ok());
    }

    #[test]
    fn set_get_remove() {
        let mut doc = VaultDocument::new(vec![]);
        let p = SecretPath::parse("a/b/c").unwrap();
        assert!(doc.set(&p, "v".into()).unwrap());
        assert!(!doc.set(&p, "v".into()).unwrap());
        assert!(doc.meta.contains_key("a/b/c"));
        assert!(doc.set(&SecretPath::parse("a/b").unwrap(), "x".into()).is_err());
        assert!(doc
            .set(&SecretPath::parse("a/b/c/d").unwrap(), "x".into())
            .is_err());
        assert!(matches!(doc.get(&p), Some(Node::Leaf(_))));
        assert!(doc.remove(&SecretPath::parse("a/b").unwrap()));
        assert!(doc.secrets.is_empty());
        assert!(doc.meta.is_empty());
        assert!(!doc.remove(&p));
    }
}
