//! What a document records about the vault rather than about one secret: the
//! fingerprint key, the offboarding records, the scope files the main vault knows, and
//! any top-level field this build does not know (kept as it is).
//!
//! A known field whose JSON does not have its shape (a hand-edited document) is kept
//! verbatim among the unknown fields and reads as absent; writing the field replaces it.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{fields_over, serialize_object, take_text, take_texts, Field};

/// The top-level field holding the fingerprint key (base64 of 32 random bytes).
const FINGERPRINT_KEY: &str = "fingerprint_key";
/// The top-level field holding the offboarding records.
const OFFBOARDED: &str = "offboarded";
/// The top-level field of the main vault listing the scope files that exist.
const SCOPE_FILES: &str = "scope_files";

/// The top-level fields besides `version`, `secrets`, `meta` and `recipients`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VaultRecords {
    /// The fingerprint key as stored (base64 text); see [`crate::fingerprint`].
    pub(super) fingerprint_key: Option<Zeroizing<String>>,
    /// One record per `recipients remove`, oldest first.
    pub(super) offboarded: Option<Vec<Offboarding>>,
    /// The scope files (by scope name) the main vault knows exist.
    pub(super) scope_files: Option<Vec<String>>,
    /// Fields this build does not know.
    pub(super) unknown: BTreeMap<String, Value>,
}

impl VaultRecords {
    /// Takes the known fields out of a document's top-level fields.
    pub(super) fn from_json(mut fields: BTreeMap<String, Value>) -> VaultRecords {
        // Moved, not copied: the parser's string becomes the zeroized one.
        let fingerprint_key = take_text(&mut fields, FINGERPRINT_KEY).map(Zeroizing::new);
        let offboarded = match fields.remove(OFFBOARDED) {
            Some(Value::Array(list)) if list.iter().all(Value::is_object) => Some(
                list.into_iter()
                    .filter_map(|v| match v {
                        Value::Object(map) => Some(Offboarding::from_json(map.into_iter().collect())),
                        _ => None,
                    })
                    .collect(),
            ),
            Some(other) => {
                fields.insert(OFFBOARDED.into(), other);
                None
            }
            None => None,
        };
        let scope_files = take_texts(&mut fields, SCOPE_FILES);
        VaultRecords {
            fingerprint_key,
            offboarded,
            scope_files,
            unknown: fields,
        }
    }

    /// Every field, the known ones as typed, in name order; a typed field hides an
    /// unknown one of the same name (the malformed value it replaced).
    pub(super) fn fields(&self) -> BTreeMap<&str, Field<'_>> {
        let mut fields: BTreeMap<&str, Field<'_>> = self
            .unknown
            .iter()
            .map(|(k, v)| (k.as_str(), Field::Json(v)))
            .collect();
        if let Some(key) = &self.fingerprint_key {
            fields.insert(FINGERPRINT_KEY, Field::Text(key));
        }
        if let Some(list) = &self.offboarded {
            fields.insert(OFFBOARDED, Field::Records(list));
        }
        if let Some(list) = &self.scope_files {
            fields.insert(SCOPE_FILES, Field::Texts(list));
        }
        fields
    }

    /// A three-way merge: a field changed on one side only takes that side; changed on
    /// both, lists merge as sets (two offboardings both stay, a record removed on one
    /// side goes), the fingerprint key takes the smaller text (the same whichever branch
    /// merges which), anything else keeps ours.
    pub fn merge(base: &VaultRecords, ours: &VaultRecords, theirs: &VaultRecords) -> VaultRecords {
        let keys: std::collections::BTreeSet<&String> = base
            .unknown
            .keys()
            .chain(ours.unknown.keys())
            .chain(theirs.unknown.keys())
            .collect();
        let unknown = keys
            .into_iter()
            .filter_map(|k| {
                merge3(
                    base.unknown.get(k),
                    ours.unknown.get(k),
                    theirs.unknown.get(k),
                    |o, t| match (o, t) {
                        (Value::Array(o), Value::Array(t)) => {
                            let b = match base.unknown.get(k) {
                                Some(Value::Array(b)) => b.as_slice(),
                                _ => &[],
                            };
                            Value::Array(merge_sets(b, o, t))
                        }
                        _ => o.clone(),
                    },
                )
                .map(|v| (k.clone(), v))
            })
            .collect();
        VaultRecords {
            fingerprint_key: merge3(
                base.fingerprint_key.as_ref(),
                ours.fingerprint_key.as_ref(),
                theirs.fingerprint_key.as_ref(),
                |o, t| {
                    if o.as_str() <= t.as_str() {
                        o.clone()
                    } else {
                        t.clone()
                    }
                },
            ),
            offboarded: merge3(
                base.offboarded.as_ref(),
                ours.offboarded.as_ref(),
                theirs.offboarded.as_ref(),
                |o, t| merge_sets(base.offboarded.as_deref().unwrap_or_default(), o, t),
            ),
            scope_files: merge3(
                base.scope_files.as_ref(),
                ours.scope_files.as_ref(),
                theirs.scope_files.as_ref(),
                |o, t| merge_sets(base.scope_files.as_deref().unwrap_or_default(), o, t),
            ),
            unknown,
        }
    }
}

/// The three-way rule for one field: unchanged on one side takes the other side;
/// changed on both (to different values) is `both(ours, theirs)`; removed on one side
/// and changed on the other keeps the change.
pub fn merge3<T: Clone + PartialEq>(
    base: Option<&T>,
    ours: Option<&T>,
    theirs: Option<&T>,
    both: impl FnOnce(&T, &T) -> T,
) -> Option<T> {
    if ours == theirs || theirs == base {
        return ours.cloned();
    }
    if ours == base {
        return theirs.cloned();
    }
    match (ours, theirs) {
        (Some(o), Some(t)) => Some(both(o, t)),
        _ => ours.or(theirs).cloned(),
    }
}

/// A three-way merge of lists as sets, in first-seen order: kept on both sides, or
/// added on one, stays; removed on one side goes.
fn merge_sets<T: Clone + PartialEq>(base: &[T], ours: &[T], theirs: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in ours.iter().chain(theirs) {
        let keep = (ours.contains(item) && theirs.contains(item)) || !base.contains(item);
        if keep && !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// One `recipients remove`: who was removed, when, and a keyed fingerprint of every
/// value it could read. A field of the wrong JSON type is kept as it is and reads as
/// absent; unknown fields are kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Offboarding {
    /// The recipient's name in the config.
    name: Option<String>,
    /// Its public key.
    key: Option<String>,
    /// When it was removed (RFC 3339).
    removed: Option<String>,
    /// Which fingerprint key made `fingerprints`.
    key_id: Option<String>,
    /// Path → hex HMAC of the value it could read (absent in records from before values
    /// were tracked).
    fingerprints: Option<BTreeMap<String, String>>,
    /// The paths it could read.
    paths: Option<Vec<String>>,
    other: BTreeMap<String, Value>,
}

const NAME: &str = "name";
const KEY: &str = "key";
const REMOVED: &str = "removed";
const KEY_ID: &str = "key_id";
const FINGERPRINTS: &str = "fingerprints";
const PATHS: &str = "paths";

impl Offboarding {
    /// A new record.
    pub fn new(
        name: &str,
        key: &str,
        removed: String,
        key_id: String,
        fingerprints: BTreeMap<String, String>,
        paths: Vec<String>,
    ) -> Offboarding {
        Offboarding {
            name: Some(name.to_owned()),
            key: Some(key.to_owned()),
            removed: Some(removed),
            key_id: Some(key_id),
            fingerprints: Some(fingerprints),
            paths: Some(paths),
            other: BTreeMap::new(),
        }
    }

    fn from_json(mut fields: BTreeMap<String, Value>) -> Offboarding {
        let name = take_text(&mut fields, NAME);
        let key = take_text(&mut fields, KEY);
        let removed = take_text(&mut fields, REMOVED);
        let key_id = take_text(&mut fields, KEY_ID);
        let fingerprints = match fields.remove(FINGERPRINTS) {
            Some(Value::Object(map)) if map.values().all(Value::is_string) => Some(
                map.into_iter()
                    .filter_map(|(path, v)| match v {
                        Value::String(digest) => Some((path, digest)),
                        _ => None,
                    })
                    .collect(),
            ),
            Some(other) => {
                fields.insert(FINGERPRINTS.into(), other);
                None
            }
            None => None,
        };
        let paths = take_texts(&mut fields, PATHS);
        Offboarding {
            name,
            key,
            removed,
            key_id,
            fingerprints,
            paths,
            other: fields,
        }
    }

    /// The recipient's name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The recipient's key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// When it was removed (RFC 3339).
    pub fn removed(&self) -> Option<&str> {
        self.removed.as_deref()
    }

    /// Which fingerprint key made the fingerprints.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// Path → hex HMAC of each value it could read, when the record tracks values.
    pub fn fingerprints(&self) -> Option<&BTreeMap<String, String>> {
        self.fingerprints.as_ref()
    }

    /// The paths it could read.
    pub fn paths(&self) -> &[String] {
        self.paths.as_deref().unwrap_or_default()
    }

    /// Replaces the fingerprints (made under the key `key_id`).
    pub fn set_fingerprints(&mut self, key_id: String, fingerprints: BTreeMap<String, String>) {
        self.key_id = Some(key_id);
        self.fingerprints = Some(fingerprints);
    }
}

impl Serialize for Offboarding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut fields = fields_over(
            &self.other,
            &[
                (NAME, &self.name),
                (KEY, &self.key),
                (REMOVED, &self.removed),
                (KEY_ID, &self.key_id),
            ],
        );
        if let Some(map) = &self.fingerprints {
            fields.insert(FINGERPRINTS, Field::TextMap(map));
        }
        if let Some(list) = &self.paths {
            fields.insert(PATHS, Field::Texts(list));
        }
        serialize_object(s, &fields)
    }
}

/// Writes the fields of `records` into a map being serialized.
pub(super) fn serialize_fields<M: SerializeMap>(map: &mut M, records: &VaultRecords) -> Result<(), M::Error> {
    for (k, v) in &records.fields() {
        map.serialize_entry(k, v)?;
    }
    Ok(())
}
