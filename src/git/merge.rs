//! Three-way merge of vault documents, per secret path, for git's merge driver.
//!
//! A path changed on one side takes that change; changed identically on both sides
//! is fine; changed differently on both sides is a conflict. A conflict removes the
//! path from the tree and keeps every side's value reachable under
//! `_conflicts/<path>/{base,ours,theirs}`, so the merged vault still decrypts and
//! `agevault edit` can resolve it (set the path, delete `_conflicts`).

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};

use crate::document::{merge3, Node, PathMeta, Tree, VaultDocument, VaultRecords};
use crate::secret_path::{MAX_PATH_BYTES, MAX_SEGMENTS};

/// The top-level namespace where conflicting values wait for a person.
pub const CONFLICTS: &str = "_conflicts";

/// Which input a merged value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Ours,
    Theirs,
}

/// The merged document and the paths that conflicted.
pub struct MergeOutcome {
    /// The result, with conflicts under `_conflicts`.
    pub doc: VaultDocument,
    /// Paths changed differently on both sides, sorted.
    pub conflicts: Vec<String>,
    /// How many paths took the other side's (`theirs`) change.
    pub from_theirs: usize,
}

/// The paths with an unresolved merge conflict: every `_conflicts/<P>/{base,ours,theirs}`
/// gives `P`. Non-empty whenever the `_conflicts` namespace exists, even if its shape
/// is not ours (then its leaf paths are returned), so `check` can never miss it.
pub fn unresolved_conflicts(doc: &VaultDocument) -> Vec<String> {
    let Some(node) = doc.secrets().get(CONFLICTS) else {
        return Vec::new();
    };
    let mut out = BTreeSet::new();
    match node {
        Node::Leaf(_) => {
            out.insert(CONFLICTS.to_owned());
        }
        Node::Tree(tree) => collect_conflicts(tree, &mut Vec::new(), &mut out),
    }
    if out.is_empty() {
        out.insert(CONFLICTS.to_owned());
    }
    out.into_iter().collect()
}

fn collect_conflicts(tree: &Tree, at: &mut Vec<String>, out: &mut BTreeSet<String>) {
    for (name, node) in tree {
        match node {
            Node::Leaf(_) if !at.is_empty() && matches!(name.as_str(), "base" | "ours" | "theirs") => {
                out.insert(at.join("/"));
            }
            Node::Leaf(_) => {
                at.push(name.clone());
                out.insert(format!("{CONFLICTS}/{}", at.join("/")));
                at.pop();
            }
            Node::Tree(t) => {
                at.push(name.clone());
                collect_conflicts(t, at, out);
                at.pop();
            }
        }
    }
}

/// Merges `ours` and `theirs` against their common ancestor `base` (None when the
/// vault did not exist there). Fails only when the result cannot be represented
/// (a conflict path colliding with an existing `_conflicts` entry).
pub fn merge_documents(
    base: Option<&VaultDocument>,
    ours: &VaultDocument,
    theirs: &VaultDocument,
) -> Result<MergeOutcome, String> {
    let empty = VaultDocument::new(Vec::new());
    let base = base.unwrap_or(&empty);
    let b: BTreeMap<String, &SecretString> = base.leaves().collect();
    let o: BTreeMap<String, &SecretString> = ours.leaves().collect();
    let t: BTreeMap<String, &SecretString> = theirs.leaves().collect();
    let all: BTreeSet<&String> = b.keys().chain(o.keys()).chain(t.keys()).collect();

    let same = |x: Option<&&SecretString>, y: Option<&&SecretString>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.expose_secret() == y.expose_secret(),
        _ => false,
    };

    let mut taken: Vec<(String, SecretString, Side)> = Vec::new();
    let mut conflicts: BTreeSet<String> = BTreeSet::new();
    let mut from_theirs = 0;
    for path in all {
        let (bv, ov, tv) = (b.get(path), o.get(path), t.get(path));
        let pick = if same(ov, tv) {
            ov.map(|v| ((*v).clone(), Side::Ours))
        } else if same(ov, bv) {
            from_theirs += 1;
            tv.map(|v| ((*v).clone(), Side::Theirs))
        } else if same(tv, bv) {
            ov.map(|v| ((*v).clone(), Side::Ours))
        } else {
            conflicts.insert(path.clone());
            continue;
        };
        if let Some((value, side)) = pick {
            taken.push((path.clone(), value, side));
        }
    }

    let mut secrets = Tree::new();
    let mut origin: BTreeMap<String, Side> = BTreeMap::new();
    for (path, value, side) in taken {
        let segments: Vec<&str> = path.split('/').collect();
        if insert_leaf(&mut secrets, &segments, value).is_ok() {
            origin.insert(path, side);
        } else {
            // A secret on one side and a namespace on the other at the same name:
            // the one that does not fit waits under _conflicts like any conflict.
            conflicts.insert(path);
        }
    }
    for path in &conflicts {
        // `_conflicts/<path>/theirs` must itself be a valid path, or the merged vault
        // would be one no command can read.
        let stored = format!("{CONFLICTS}/{path}/theirs");
        if stored.split('/').count() > MAX_SEGMENTS || stored.len() > MAX_PATH_BYTES {
            return Err(format!(
                "the conflict at `{path}` is too deep or too long to be kept under `{CONFLICTS}` (secret paths \
                 have at most {MAX_SEGMENTS} segments and {MAX_PATH_BYTES} bytes); take one side with \
                 `git checkout --ours` or `--theirs` and re-apply the other side's change with `agevault set`"
            ));
        }
        for (label, map) in [("base", &b), ("ours", &o), ("theirs", &t)] {
            let Some(value) = map.get(path) else { continue };
            let mut segments = vec![CONFLICTS];
            segments.extend(path.split('/'));
            segments.push(label);
            if insert_leaf(&mut secrets, &segments, (*value).clone()).is_err() {
                return Err(format!(
                    "the conflict at `{path}` cannot be stored under `{CONFLICTS}` because that namespace \
                     already holds an entry there; resolve the earlier conflict first"
                ));
            }
        }
    }

    let meta = merge_meta(base, ours, theirs, &origin);
    let recipients = merge_sets(base.recipients(), ours.recipients(), theirs.recipients());
    let records = VaultRecords::merge(base.records(), ours.records(), theirs.records());
    Ok(MergeOutcome {
        doc: VaultDocument::from_parts(secrets, meta, recipients, records),
        conflicts: conflicts.into_iter().collect(),
        from_theirs,
    })
}

/// Inserts a leaf at `segments`, refusing to replace a namespace or descend through a leaf.
fn insert_leaf(tree: &mut Tree, segments: &[&str], value: SecretString) -> Result<(), ()> {
    let Some((last, parents)) = segments.split_last() else {
        return Err(());
    };
    let mut tree = tree;
    for seg in parents {
        let node = tree
            .entry((*seg).to_owned())
            .or_insert_with(|| Node::Tree(Tree::new()));
        tree = match node {
            Node::Tree(t) => t,
            Node::Leaf(_) => return Err(()),
        };
    }
    if tree.contains_key(*last) {
        return Err(());
    }
    tree.insert((*last).to_owned(), Node::Leaf(value));
    Ok(())
}

/// Meta follows the value: a path keeps the meta of the side its value came from.
/// Entries that are not secret paths merge three-way (changed on both sides: ours).
fn merge_meta(
    base: &VaultDocument,
    ours: &VaultDocument,
    theirs: &VaultDocument,
    origin: &BTreeMap<String, Side>,
) -> BTreeMap<String, PathMeta> {
    let leaf_paths: BTreeSet<String> = base
        .leaves()
        .chain(ours.leaves())
        .chain(theirs.leaves())
        .map(|(p, _)| p)
        .collect();
    let keys: BTreeSet<&str> = base
        .metas()
        .chain(ours.metas())
        .chain(theirs.metas())
        .map(|(k, _)| k)
        .collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let entry = match origin.get(key) {
            Some(Side::Ours) => ours.meta(key).or_else(|| theirs.meta(key)).cloned(),
            Some(Side::Theirs) => theirs.meta(key).or_else(|| ours.meta(key)).cloned(),
            // A secret's meta goes when the secret goes (removed, or conflicted).
            None if leaf_paths.contains(key) => None,
            None => merge3(base.meta(key), ours.meta(key), theirs.meta(key), |o, _| o.clone()),
        };
        if let Some(entry) = entry {
            out.insert(key.to_owned(), entry);
        }
    }
    out
}

/// A three-way merge of sets: kept on both sides, or added on one, stays; removed on one side goes.
fn merge_sets(base: &[String], ours: &[String], theirs: &[String]) -> Vec<String> {
    let b: BTreeSet<&String> = base.iter().collect();
    let o: BTreeSet<&String> = ours.iter().collect();
    let t: BTreeSet<&String> = theirs.iter().collect();
    o.union(&t)
        .filter(|x| (o.contains(*x) && t.contains(*x)) || !b.contains(*x))
        .map(|x| (*x).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_path::SecretPath;

    fn doc(recipients: &[&str], pairs: &[(&str, &str)]) -> VaultDocument {
        let mut d = VaultDocument::new(recipients.iter().map(|s| (*s).to_owned()).collect());
        for (p, v) in pairs {
            d.set(&SecretPath::parse(p).unwrap(), (*v).into()).unwrap();
        }
        d
    }

    fn value(d: &VaultDocument, p: &str) -> Option<String> {
        d.leaves()
            .find(|(path, _)| path == p)
            .map(|(_, v)| v.expose_secret().to_owned())
    }

    #[test]
    fn one_sided_changes_merge() {
        let base = doc(
            &["age1a"],
            &[("a", "1"), ("b", "1"), ("gone", "x"), ("same", "s")],
        );
        let ours = doc(
            &["age1a", "age1o"],
            &[("a", "2"), ("b", "1"), ("same", "t"), ("new/o", "o")],
        );
        let theirs = doc(
            &["age1t"],
            &[
                ("a", "1"),
                ("b", "3"),
                ("gone", "x"),
                ("same", "t"),
                ("new/t", "t"),
            ],
        );
        let m = merge_documents(Some(&base), &ours, &theirs).unwrap();
        assert!(m.conflicts.is_empty());
        assert_eq!(value(&m.doc, "a").as_deref(), Some("2"));
        assert_eq!(value(&m.doc, "b").as_deref(), Some("3"));
        assert_eq!(value(&m.doc, "gone"), None);
        assert_eq!(value(&m.doc, "same").as_deref(), Some("t"));
        assert_eq!(value(&m.doc, "new/o").as_deref(), Some("o"));
        assert_eq!(value(&m.doc, "new/t").as_deref(), Some("t"));
        assert_eq!(m.doc.recipients(), ["age1o", "age1t"]);
        assert!(unresolved_conflicts(&m.doc).is_empty());
    }

    #[test]
    fn both_sided_changes_conflict_and_keep_every_value() {
        let base = doc(&["age1a"], &[("db/pw", "base-v"), ("del", "d")]);
        let ours = doc(&["age1a"], &[("db/pw", "ours-v"), ("del", "changed")]);
        let theirs = doc(&["age1a"], &[("db/pw", "theirs-v")]);
        let m = merge_documents(Some(&base), &ours, &theirs).unwrap();
        assert_eq!(m.conflicts, ["db/pw", "del"]);
        assert_eq!(value(&m.doc, "db/pw"), None);
        assert_eq!(value(&m.doc, "_conflicts/db/pw/base").as_deref(), Some("base-v"));
        assert_eq!(value(&m.doc, "_conflicts/db/pw/ours").as_deref(), Some("ours-v"));
        assert_eq!(
            value(&m.doc, "_conflicts/db/pw/theirs").as_deref(),
            Some("theirs-v")
        );
        assert_eq!(value(&m.doc, "_conflicts/del/ours").as_deref(), Some("changed"));
        assert_eq!(value(&m.doc, "_conflicts/del/theirs"), None);
        assert!(m.doc.meta("db/pw").is_none());
        assert_eq!(unresolved_conflicts(&m.doc), ["db/pw", "del"]);
        // The result survives a round trip through its plaintext.
        let again = VaultDocument::parse(m.doc.to_plaintext().as_slice()).unwrap();
        assert_eq!(unresolved_conflicts(&again), ["db/pw", "del"]);
    }

    #[test]
    fn added_on_both_sides_without_base() {
        let ours = doc(&["age1a"], &[("k", "one")]);
        let theirs = doc(&["age1a"], &[("k", "two"), ("x", "same")]);
        let m = merge_documents(None, &ours, &theirs).unwrap();
        assert_eq!(m.conflicts, ["k"]);
        assert_eq!(value(&m.doc, "x").as_deref(), Some("same"));
        assert_eq!(value(&m.doc, "_conflicts/k/base"), None);
    }

    #[test]
    fn leaf_against_namespace_is_a_conflict() {
        let base = doc(&["age1a"], &[]);
        let ours = doc(&["age1a"], &[("a", "leaf")]);
        let theirs = doc(&["age1a"], &[("a/b", "nested")]);
        let m = merge_documents(Some(&base), &ours, &theirs).unwrap();
        assert_eq!(m.conflicts.len(), 1);
        assert!(!unresolved_conflicts(&m.doc).is_empty());
    }

    #[test]
    fn conflicts_too_deep_to_store_are_refused() {
        let deep = vec!["d"; MAX_SEGMENTS - 1].join("/");
        let base = doc(&["age1a"], &[(deep.as_str(), "b")]);
        let ours = doc(&["age1a"], &[(deep.as_str(), "o")]);
        let theirs = doc(&["age1a"], &[(deep.as_str(), "t")]);
        let e = merge_documents(Some(&base), &ours, &theirs).err().unwrap();
        assert!(e.contains("too deep"), "{e}");
    }

    #[test]
    fn odd_conflict_namespace_is_still_unresolved() {
        let d = doc(&["age1a"], &[("_conflicts/whatever", "x")]);
        assert_eq!(unresolved_conflicts(&d), ["_conflicts/whatever"]);
    }

    #[test]
    fn vault_records_merge() {
        let with = |fields: &str| {
            VaultDocument::parse(format!(r#"{{"version":1,"recipients":["age1a"],{fields}}}"#).as_bytes())
                .unwrap()
        };
        let base = with(r#""offboarded":[{"name":"x"}],"future":[1],"kept":"b""#);
        let ours = with(
            r#""offboarded":[{"name":"x"},{"name":"o"}],"fingerprint_key":"bbbb","future":[1,2],"kept":"b""#,
        );
        let theirs = with(
            r#""offboarded":[{"name":"x"},{"name":"t"}],"fingerprint_key":"aaaa","future":[3],"kept":"t""#,
        );
        let m = merge_documents(Some(&base), &ours, &theirs).unwrap();
        let names: Vec<_> = m.doc.offboardings().iter().map(|r| r.name().unwrap()).collect();
        assert_eq!(names, ["x", "o", "t"]);
        let text = String::from_utf8(m.doc.to_plaintext().as_slice().to_vec()).unwrap();
        // Both changed the key: the smaller text, whichever side merges.
        assert!(text.contains(r#""fingerprint_key": "aaaa""#), "{text}");
        // Unknown lists merge as sets (1 removed on their side), other fields one-sided.
        let fields: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fields["future"], serde_json::json!([2, 3]));
        assert_eq!(fields["kept"], "t");
    }
}
