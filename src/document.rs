//! The plaintext vault document: the secrets tree, per-path meta, the recorded
//! recipients, and what it records about the vault (fingerprint key, offboardings, scope
//! files). The one place that knows the document's JSON: every field is private and the
//! methods keep its invariants (recipients sorted and unique, meta only for what exists).
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

mod meta;
mod records;

pub use meta::PathMeta;
pub use records::{merge3, Offboarding, VaultRecords};

use crate::fingerprint::FingerprintKey;
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

/// The whole decrypted document (its `version` is always [`FORMAT_VERSION`]).
pub struct VaultDocument {
    /// The secrets tree.
    secrets: Tree,
    /// Per-path metadata maintained by the tool; holds no values.
    meta: BTreeMap<String, PathMeta>,
    /// The recipient keys this version was encrypted to: sorted, each once.
    recipients: Vec<String>,
    /// Everything else: fingerprint key, offboardings, scope files, unknown fields.
    records: VaultRecords,
}

impl VaultDocument {
    /// An empty document encrypted to `recipients`.
    pub fn new(recipients: Vec<String>) -> Self {
        Self::from_parts(Tree::new(), BTreeMap::new(), recipients, VaultRecords::default())
    }

    /// A document from its parts (what a merge assembles).
    pub fn from_parts(
        secrets: Tree,
        meta: BTreeMap<String, PathMeta>,
        mut recipients: Vec<String>,
        records: VaultRecords,
    ) -> Self {
        recipients.sort();
        recipients.dedup();
        VaultDocument {
            secrets,
            meta,
            recipients,
            records,
        }
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
        // The version gates everything else: a future document may have any shape, so
        // when the document does not parse, its version (if it has one) is what to report.
        let raw: RawDocument = match serde_json::from_slice(bytes) {
            Ok(raw) => raw,
            Err(e) => {
                return Err(future_version(bytes).unwrap_or_else(|| DocumentError::Syntax(e.to_string())))
            }
        };
        if let Some(version) = raw.version.filter(|v| *v > FORMAT_VERSION) {
            return Err(DocumentError::FutureVersion(version));
        }
        let version = raw
            .version
            .ok_or_else(|| DocumentError::Syntax("the document has no `version` field".into()))?;
        if version == 0 {
            return Err(DocumentError::Syntax("`version` must be 1".into()));
        }
        let secrets = raw.secrets.unwrap_or_default();
        let secrets = validate_tree(secrets, &mut Vec::new(), left_out)?;
        let recipients: Vec<String> = raw
            .recipients
            .unwrap_or_default()
            .iter()
            .map(|k| crate::keys::canonical_key(k))
            .collect();
        let meta = raw
            .meta
            .map(|m| m.0)
            .unwrap_or_default()
            .into_iter()
            .map(|(path, entries)| (path, PathMeta::from_json(entries)))
            .collect();
        Ok(Self::from_parts(
            secrets,
            meta,
            recipients,
            VaultRecords::from_json(raw.extra),
        ))
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

    /// The secrets tree.
    pub fn secrets(&self) -> &Tree {
        &self.secrets
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

    /// The recipient keys this version is encrypted to, sorted, each once.
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    /// Adds a recipient key; returns whether it was new.
    pub fn add_recipient(&mut self, key: String) -> bool {
        match self.recipients.binary_search(&key) {
            Ok(_) => false,
            Err(at) => {
                self.recipients.insert(at, key);
                true
            }
        }
    }

    /// Removes a recipient key; returns whether it was there.
    pub fn remove_recipient(&mut self, key: &str) -> bool {
        let before = self.recipients.len();
        self.recipients.retain(|k| k != key);
        self.recipients.len() != before
    }

    /// Replaces the recipients with those of `other` (a scope file's own, a merge's).
    pub fn set_recipients(&mut self, recipients: &[String]) {
        recipients.clone_into(&mut self.recipients);
        self.recipients.sort();
        self.recipients.dedup();
    }

    /// The offboarding records, oldest first (one per `recipients remove`).
    pub fn offboardings(&self) -> &[Offboarding] {
        self.records.offboarded.as_deref().unwrap_or_default()
    }

    /// The offboarding records, to update their fingerprints (a new fingerprint key).
    pub fn offboardings_mut(&mut self) -> &mut [Offboarding] {
        self.records.offboarded.as_deref_mut().unwrap_or_default()
    }

    /// Adds an offboarding record.
    pub fn record_offboarding(&mut self, record: Offboarding) {
        self.records.offboarded.get_or_insert_with(Vec::new).push(record);
    }

    /// Every key an offboarding record names that is not a recipient again (one added
    /// back later with `recipients add` was re-admitted on purpose).
    pub fn offboarded_keys(&self) -> Vec<String> {
        self.offboardings()
            .iter()
            .filter_map(Offboarding::key)
            .filter(|k| !self.recipients.iter().any(|r| r == k))
            .map(str::to_owned)
            .collect()
    }

    /// Whether `key` was removed with `recipients remove`.
    pub fn was_offboarded(&self, key: &str) -> bool {
        self.offboardings().iter().any(|r| r.key() == Some(key))
    }

    /// Whether a recipient named `name` was taken off the vault with `recipients remove`.
    pub fn was_offboarded_name(&self, name: &str) -> bool {
        self.offboardings().iter().any(|r| r.name() == Some(name))
    }

    /// The vault's fingerprint key, when it holds a well-formed one.
    pub fn fingerprint_key(&self) -> Option<FingerprintKey> {
        self.records
            .fingerprint_key
            .as_deref()
            .and_then(|text| FingerprintKey::decode(text))
    }

    /// Adds a fresh fingerprint key unless the document has a valid one; returns
    /// whether it added one.
    pub fn ensure_fingerprint_key(&mut self) -> bool {
        if self.fingerprint_key().is_some() {
            return false;
        }
        self.records.fingerprint_key = Some(FingerprintKey::generate().encode());
        true
    }

    /// Replaces the fingerprint key with a fresh one (offboarding, or content nobody
    /// signed). The offboarding records are not carried over here; see
    /// `lifecycle::exposure::renew_fingerprint_key`.
    pub fn replace_fingerprint_key(&mut self) {
        self.records.fingerprint_key = Some(FingerprintKey::generate().encode());
    }

    /// Whether the main vault records that the file of `scope` exists.
    pub fn lists_scope_file(&self, scope: &str) -> bool {
        self.records
            .scope_files
            .as_ref()
            .is_some_and(|list| list.iter().any(|s| s == scope))
    }

    /// Records which scope files exist (none: the field goes).
    pub fn set_scope_files(&mut self, scopes: Vec<String>) {
        self.records.scope_files = (!scopes.is_empty()).then_some(scopes);
    }

    /// Everything the document records about the vault beyond secrets, meta and recipients.
    pub fn records(&self) -> &VaultRecords {
        &self.records
    }

    /// Replaces those records (a scope file keeps its own when the combined document is split).
    pub fn set_records(&mut self, records: VaultRecords) {
        self.records = records;
    }

    /// The metadata of `path`.
    pub fn meta(&self, path: &str) -> Option<&PathMeta> {
        self.meta.get(path)
    }

    /// The metadata of `path`, created empty when missing.
    pub fn meta_mut(&mut self, path: &str) -> &mut PathMeta {
        self.meta.entry(path.to_owned()).or_default()
    }

    /// Replaces the metadata of `path` (moving a path's meta between documents).
    pub fn set_meta(&mut self, path: &str, meta: PathMeta) {
        self.meta.insert(path.to_owned(), meta);
    }

    /// Every meta entry, by path.
    pub fn metas(&self) -> impl Iterator<Item = (&str, &PathMeta)> {
        self.meta.iter().map(|(p, m)| (p.as_str(), m))
    }

    /// Records "now" as the last update of `path`.
    pub fn touch(&mut self, path: &str) {
        self.meta_mut(path).set_updated(crate::clock::now_rfc3339());
    }

    /// Moves every secret of `other`, with its meta, into this document (a scope
    /// file's part of the combined view). A secret of `other` replaces whatever this
    /// document holds at its path, and its meta replaces this document's; a secret
    /// of `other` below a path that is a secret here is an error. Subtrees that are
    /// new here are moved whole, not copied leaf by leaf.
    pub fn absorb(&mut self, other: VaultDocument) -> Result<(), String> {
        let VaultDocument { secrets, meta, .. } = other;
        let mut replaced = Vec::new();
        absorb_tree(&mut self.secrets, secrets, &mut String::new(), &mut replaced)?;
        for path in replaced {
            let below = format!("{path}/");
            self.meta.retain(|k, _| *k != path && !k.starts_with(&below));
        }
        self.meta.extend(meta);
        prune_empty(&mut self.secrets);
        Ok(())
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
/// The error for a document from a future format version, if `bytes` is one.
fn future_version(bytes: &[u8]) -> Option<DocumentError> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u64,
    }
    serde_json::from_slice::<Probe>(bytes).ok()?.version?;
    let VersionOnly { version } = serde_json::from_slice(bytes).ok()?;
    (version > FORMAT_VERSION).then_some(DocumentError::FutureVersion(version))
}

/// Moves `from` into `into` (see [`VaultDocument::absorb`]), collecting the paths of
/// `into` whose node was replaced.
fn absorb_tree(
    into: &mut Tree,
    from: Tree,
    prefix: &mut String,
    replaced: &mut Vec<String>,
) -> Result<(), String> {
    for (name, node) in from {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(&name);
        match (into.get_mut(&name), node) {
            (Some(Node::Tree(here)), Node::Tree(there)) => absorb_tree(here, there, prefix, replaced)?,
            (Some(Node::Leaf(_)), Node::Tree(there)) => {
                if let Some(below) = leaf_paths(&there).first() {
                    return Err(format!(
                        "`{prefix}` is a secret, so it cannot hold `{prefix}/{below}`"
                    ));
                }
            }
            (existing, node) => {
                if existing.is_some() {
                    replaced.push(prefix.clone());
                }
                into.insert(name, node);
            }
        }
        prefix.truncate(len);
    }
    Ok(())
}

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
    // Built from a sorted list in bulk (`raw` iterates in key order).
    let mut tree = Vec::with_capacity(raw.len());
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
        tree.push((name, node));
    }
    Ok(tree.into_iter().collect())
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
        // Collected, sorted (a no-op on agevault's own sorted output) and built in bulk:
        // inserting each key into a BTreeMap, after a lookup for duplicates, was most
        // of the time spent parsing a scope file of 500 secrets.
        let mut entries: Vec<(String, V)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<V>()?;
            entries.push((key, value));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(de::Error::custom(format_args!(
                "duplicate key `{}`",
                crate::terminal::sanitize(&pair[0].0)
            )));
        }
        Ok(NoDupMap(entries.into_iter().collect()))
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
    /// `version`, `secrets`, `meta`, `recipients`, then every other field in name order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("version", &FORMAT_VERSION)?;
        map.serialize_entry("secrets", &TreeRef(&self.secrets))?;
        map.serialize_entry("meta", &self.meta)?;
        map.serialize_entry("recipients", &self.recipients)?;
        records::serialize_fields(&mut map, &self.records)?;
        map.end()
    }
}

/// Takes the text field `key` out of `fields`; one that is not text stays where it is.
fn take_text(fields: &mut BTreeMap<String, Value>, key: &str) -> Option<String> {
    match fields.remove(key) {
        Some(Value::String(text)) => Some(text),
        Some(other) => {
            fields.insert(key.to_owned(), other);
            None
        }
        None => None,
    }
}

/// Takes the list-of-text field `key` out of `fields`; anything else stays where it is.
fn take_texts(fields: &mut BTreeMap<String, Value>, key: &str) -> Option<Vec<String>> {
    match fields.remove(key) {
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => Some(
            list.into_iter()
                .filter_map(|v| match v {
                    Value::String(text) => Some(text),
                    _ => None,
                })
                .collect(),
        ),
        Some(other) => {
            fields.insert(key.to_owned(), other);
            None
        }
        None => None,
    }
}

/// A field being written: text, a list or map of text, offboarding records, or JSON
/// kept as it was read. Lets known and unknown fields be written in one name order
/// without copying anything into a `serde_json::Value`.
enum Field<'a> {
    Text(&'a str),
    Texts(&'a [String]),
    TextMap(&'a BTreeMap<String, String>),
    Records(&'a [Offboarding]),
    Json(&'a Value),
}

/// A record's fields in name order: its unknown fields as read, with the known text
/// fields that are set on top (a known field hides an unknown one of the same name).
fn fields_over<'a>(
    unknown: &'a BTreeMap<String, Value>,
    known: &[(&'a str, &'a Option<String>)],
) -> BTreeMap<&'a str, Field<'a>> {
    let mut fields: BTreeMap<&str, Field<'_>> = unknown
        .iter()
        .map(|(k, v)| (k.as_str(), Field::Json(v)))
        .collect();
    for &(key, value) in known {
        if let Some(text) = value {
            fields.insert(key, Field::Text(text));
        }
    }
    fields
}

/// Serializes fields as one JSON object.
fn serialize_object<S: Serializer>(s: S, fields: &BTreeMap<&str, Field<'_>>) -> Result<S::Ok, S::Error> {
    s.collect_map(fields.iter())
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Text(t) => s.serialize_str(t),
            Field::Texts(list) => s.collect_seq(list.iter()),
            Field::TextMap(map) => s.collect_map(map.iter()),
            Field::Records(list) => s.collect_seq(list.iter()),
            Field::Json(v) => v.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_of(json: &str) -> VaultDocument {
        VaultDocument::parse(format!(r#"{{"version":1,{}"#, &json[1..]).as_bytes()).unwrap()
    }

    fn value_at(doc: &VaultDocument, path: &str) -> Option<String> {
        match doc.get(&SecretPath::parse(path).unwrap()) {
            Some(Node::Leaf(v)) => Some(v.expose_secret().to_owned()),
            _ => None,
        }
    }

    #[test]
    fn absorb_moves_secrets_and_meta_and_the_absorbed_copy_wins() {
        let mut main = doc_of(
            r#"{"secrets":{"app":{"x":"1"},"prod":{"db":"old","gone":{"a":"b"}}},
               "meta":{"prod/db":{"updated":"2020-01-01T00:00:00Z"},"prod/gone/a":{"updated":"2020-01-01T00:00:00Z"}}}"#,
        );
        let scope = doc_of(
            r#"{"secrets":{"prod":{"db":"new","gone":"leaf","api":{"k":"v"}}},
               "meta":{"prod/api/k":{"updated":"2021-01-01T00:00:00Z"}}}"#,
        );
        main.absorb(scope).unwrap();
        assert_eq!(value_at(&main, "app/x").as_deref(), Some("1"));
        assert_eq!(value_at(&main, "prod/db").as_deref(), Some("new"));
        assert_eq!(value_at(&main, "prod/gone").as_deref(), Some("leaf"));
        assert_eq!(value_at(&main, "prod/api/k").as_deref(), Some("v"));
        // Meta of replaced paths (and below them) goes; the absorbed meta comes.
        assert!(main.meta("prod/db").is_none());
        assert!(main.meta("prod/gone/a").is_none());
        assert!(main.meta("prod/api/k").is_some());
    }

    #[test]
    fn absorb_refuses_a_secret_below_a_secret() {
        let mut main = doc_of(r#"{"secrets":{"prod":"leaf"}}"#);
        let scope = doc_of(r#"{"secrets":{"prod":{"db":"x"}}}"#);
        let e = main.absorb(scope).unwrap_err();
        assert!(
            e.contains("`prod` is a secret, so it cannot hold `prod/db`"),
            "{e}"
        );
    }

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
        assert_eq!(doc.recipients(), ["age1a", "age1b"]);
        let out = doc.to_plaintext();
        let again = VaultDocument::parse(out.as_slice()).unwrap();
        assert!(trees_equal(doc.secrets(), again.secrets()));
        assert_eq!(again.records().unknown["future"], serde_json::json!([1]));
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
        assert!(r.doc.records().unknown["extra"].is_array());
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
        assert!(doc.meta("a/b/c").is_some_and(|m| m.updated().is_some()));
        assert!(doc.set(&SecretPath::parse("a/b").unwrap(), "x".into()).is_err());
        assert!(doc
            .set(&SecretPath::parse("a/b/c/d").unwrap(), "x".into())
            .is_err());
        assert!(matches!(doc.get(&p), Some(Node::Leaf(_))));
        assert!(doc.remove(&SecretPath::parse("a/b").unwrap()));
        assert!(doc.secrets().is_empty());
        assert_eq!(doc.metas().count(), 0);
        assert!(!doc.remove(&p));
    }

    /// Every field this build knows, in every shape it must keep: unknown top-level
    /// fields before, between and after the known ones, unknown meta entries and record
    /// fields, and known fields of the wrong JSON type (kept as they are, read as absent).
    const EVERY_FIELD: &str = r#"{
  "version": 1,
  "secrets": {
    "db": {
      "password": "pw",
      "password.next": "pw2"
    },
    "tls": {
      "key": "k",
      "key.previous": "k0"
    }
  },
  "meta": {
    "db/password": {
      "generator": "password:32",
      "note": [
        "kept"
      ],
      "rotated": "2026-02-01T00:00:00Z",
      "updated": "2026-02-01T00:00:00Z"
    },
    "db/password.next": {
      "companion": ".pub",
      "generator": "password:32",
      "staged_for": "db/password"
    },
    "tls/key": {
      "updated": 17
    },
    "tls/key.previous": {
      "keep_until": "2026-03-01T00:00:00Z",
      "staged_with": "tls/key"
    }
  },
  "recipients": [
    "age1a",
    "age1b"
  ],
  "aaa_first": true,
  "fingerprint_key": "DDHw8uq9FOPY+AeSBsxL483rEJzJYCTe149gdXKJF0Q=",
  "mmm_between": {
    "x": null
  },
  "offboarded": [
    {
      "fingerprints": {
        "db/password": "00ff"
      },
      "key": "age1gone",
      "key_id": "abcd",
      "name": "bob",
      "paths": [
        "db/password"
      ],
      "removed": "2026-01-15T00:00:00Z",
      "zzz_later": 1
    },
    {
      "fingerprints": {
        "tls/key": 5
      },
      "key": "age1old",
      "name": 7,
      "paths": "tls/key",
      "removed": "2025-12-01T00:00:00Z"
    }
  ],
  "scope_files": [
    "prod"
  ],
  "zzz_last": "x"
}
"#;

    #[test]
    fn every_field_round_trips_byte_for_byte() {
        let doc = parse(EVERY_FIELD).unwrap();
        assert_eq!(doc.to_plaintext().as_slice(), EVERY_FIELD.as_bytes());
        // What the typed model reads from it.
        assert!(doc.fingerprint_key().is_some());
        assert!(doc.lists_scope_file("prod") && !doc.lists_scope_file("dev"));
        assert_eq!(doc.offboarded_keys(), ["age1gone", "age1old"]);
        assert!(doc.was_offboarded_name("bob") && !doc.was_offboarded_name("7"));
        let bob = &doc.offboardings()[0];
        assert_eq!(bob.paths(), ["db/password"]);
        assert_eq!(bob.fingerprints().map(BTreeMap::len), Some(1));
        let old = &doc.offboardings()[1];
        assert_eq!(
            (old.name(), old.fingerprints(), old.paths().len()),
            (None, None, 0)
        );
        let next = doc.meta("db/password.next").unwrap();
        assert_eq!(
            (next.staged_for(), next.companion()),
            (Some("db/password"), Some(".pub"))
        );
        assert_eq!(doc.meta("tls/key").unwrap().updated(), None, "17 is no time");
        assert_eq!(
            doc.meta("tls/key.previous").unwrap().keep_until(),
            Some("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn a_written_field_replaces_the_malformed_one_it_read() {
        let text = r#"{"version":1,"fingerprint_key":12,"offboarded":"none","scope_files":[1],"meta":{"a":{"updated":false}}}"#;
        let mut doc = parse(text).unwrap();
        assert!(doc.fingerprint_key().is_none() && doc.offboardings().is_empty());
        assert!(!doc.lists_scope_file("1"));
        // Kept as they are while nothing writes them.
        let kept = String::from_utf8(doc.to_plaintext().as_slice().to_vec()).unwrap();
        for field in [
            r#""fingerprint_key": 12"#,
            r#""offboarded": "none""#,
            r#""updated": false"#,
        ] {
            assert!(kept.contains(field), "{field} lost:\n{kept}");
        }
        assert!(doc.ensure_fingerprint_key());
        doc.record_offboarding(Offboarding::new(
            "bob",
            "age1b",
            "now".into(),
            "id".into(),
            BTreeMap::new(),
            vec![],
        ));
        doc.set_scope_files(vec!["prod".into()]);
        doc.touch("a");
        let again = parse(std::str::from_utf8(doc.to_plaintext().as_slice()).unwrap()).unwrap();
        assert!(again.fingerprint_key().is_some());
        assert!(again.was_offboarded("age1b") && again.lists_scope_file("prod"));
        assert!(again.meta("a").unwrap().updated().is_some());
        assert!(
            again.records().unknown.is_empty(),
            "{:?}",
            again.records().unknown
        );
    }

    #[test]
    fn writes_gain_a_fingerprint_key_once() {
        let mut doc = VaultDocument::new(vec!["age1x".into()]);
        assert!(doc.fingerprint_key().is_none());
        assert!(doc.ensure_fingerprint_key(), "a key is added when missing");
        let key = doc.fingerprint_key().unwrap();
        assert!(!doc.ensure_fingerprint_key(), "an existing key is kept");
        let parsed = VaultDocument::parse(doc.to_plaintext().as_slice()).unwrap();
        assert_eq!(
            parsed.fingerprint_key().unwrap().fingerprint(b"v"),
            key.fingerprint(b"v")
        );
        doc.replace_fingerprint_key();
        assert_ne!(
            doc.fingerprint_key().unwrap().fingerprint(b"v"),
            key.fingerprint(b"v")
        );
    }

    #[test]
    fn recipients_stay_sorted_and_unique() {
        let mut doc = VaultDocument::new(vec!["age1c".into(), "age1a".into(), "age1c".into()]);
        assert_eq!(doc.recipients(), ["age1a", "age1c"]);
        assert!(doc.add_recipient("age1b".into()));
        assert!(!doc.add_recipient("age1a".into()));
        assert_eq!(doc.recipients(), ["age1a", "age1b", "age1c"]);
        assert!(doc.remove_recipient("age1a") && !doc.remove_recipient("age1a"));
        doc.set_recipients(&["age1z".into(), "age1y".into(), "age1z".into()]);
        assert_eq!(doc.recipients(), ["age1y", "age1z"]);
    }

    /// The demo vault committed in this repository (main vault and scope files), as
    /// stock age decrypts it, writes back to the same bytes.
    #[test]
    fn the_committed_demo_vault_round_trips() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let identity = std::fs::read_to_string(root.join("examples/demo-identity.txt")).unwrap();
        let identity: Box<dyn age::Identity> = Box::new(
            identity
                .lines()
                .find(|l| l.starts_with("AGE-SECRET-KEY-"))
                .unwrap()
                .parse::<age::x25519::Identity>()
                .unwrap(),
        );
        for file in [
            "secrets.json.age",
            "secrets.prod.json.age",
            "secrets.dev.json.age",
        ] {
            let ciphertext = std::fs::read(root.join(file)).unwrap();
            let plaintext = crate::crypto::decrypt(&ciphertext, std::slice::from_ref(&identity)).unwrap();
            let doc = VaultDocument::parse(plaintext.as_slice()).unwrap();
            assert_eq!(doc.to_plaintext().as_slice(), plaintext.as_slice(), "{file}");
        }
    }

    /// The key lives in a `Zeroizing` string from parsing on: replacing it or dropping
    /// the document leaves no copy of it in freed memory.
    #[test]
    fn the_fingerprint_key_leaves_no_copy_in_freed_memory() {
        use crate::secret_buf::canary::freed_copies;
        let text = "Zmluz2VycHJpbnQta2V5LWNhbmFyeS0xMjM0NTY3ODk=";
        let json = format!(r#"{{"version":1,"fingerprint_key":"{text}"}}"#);
        let doc = || VaultDocument::parse(json.as_bytes()).unwrap();
        let mut d = doc();
        assert!(d.fingerprint_key().is_some());
        assert_eq!(freed_copies(text.as_bytes(), || d.replace_fingerprint_key()), 0);
        let d = doc();
        assert_eq!(freed_copies(text.as_bytes(), move || drop(d)), 0);
    }
}
