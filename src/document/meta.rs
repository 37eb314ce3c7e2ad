//! Per-path metadata (`meta` in the document): when a value was set or rotated, which
//! generator makes it, and the bookkeeping of a staged rotation. Never a value.

use std::collections::BTreeMap;

use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use super::{fields_over, serialize_object, take_text};

const UPDATED: &str = "updated";
const ROTATED: &str = "rotated";
const GENERATOR: &str = "generator";
const STAGED_FOR: &str = "staged_for";
const STAGED_WITH: &str = "staged_with";
const COMPANION: &str = "companion";
const KEEP_UNTIL: &str = "keep_until";

/// The metadata of one path. Every known entry is text; one that is not (a hand-edited
/// document) is kept as it is among the unknown entries and reads as absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathMeta {
    /// When the value last changed (RFC 3339).
    updated: Option<String>,
    /// When it was last rotated (RFC 3339).
    rotated: Option<String>,
    /// The generator spec that makes its values (`password:32`, …).
    generator: Option<String>,
    /// On `PATH.next`: the path whose rotation staged it.
    staged_for: Option<String>,
    /// On a staged public half: the path whose rotation it belongs to.
    staged_with: Option<String>,
    /// On `PATH.next`: the suffix of a staged public half (`.pub`, `.crt`, `.csr`).
    companion: Option<String>,
    /// On `PATH.previous`: until when the old value is kept (RFC 3339).
    keep_until: Option<String>,
    /// Entries this build does not know, kept as they are.
    other: BTreeMap<String, Value>,
}

impl PathMeta {
    /// Reads one entry of `meta` (an object; duplicates were refused by the parser).
    pub(super) fn from_json(mut entries: BTreeMap<String, Value>) -> PathMeta {
        PathMeta {
            updated: take_text(&mut entries, UPDATED),
            rotated: take_text(&mut entries, ROTATED),
            generator: take_text(&mut entries, GENERATOR),
            staged_for: take_text(&mut entries, STAGED_FOR),
            staged_with: take_text(&mut entries, STAGED_WITH),
            companion: take_text(&mut entries, COMPANION),
            keep_until: take_text(&mut entries, KEEP_UNTIL),
            other: entries,
        }
    }

    /// When the value last changed (RFC 3339).
    pub fn updated(&self) -> Option<&str> {
        self.updated.as_deref()
    }

    /// When it was last rotated (RFC 3339).
    pub fn rotated(&self) -> Option<&str> {
        self.rotated.as_deref()
    }

    /// The generator spec remembered for the path.
    pub fn generator(&self) -> Option<&str> {
        self.generator.as_deref()
    }

    /// On `PATH.next`: the path it is staged for.
    pub fn staged_for(&self) -> Option<&str> {
        self.staged_for.as_deref()
    }

    /// On `PATH.next`: the suffix of the staged public half.
    pub fn companion(&self) -> Option<&str> {
        self.companion.as_deref()
    }

    /// On `PATH.previous`: until when it is kept (RFC 3339).
    pub fn keep_until(&self) -> Option<&str> {
        self.keep_until.as_deref()
    }

    /// Records `at` as the last change of the value.
    pub fn set_updated(&mut self, at: String) {
        self.updated = Some(at);
    }

    /// Records `at` as the last rotation.
    pub fn set_rotated(&mut self, at: String) {
        self.rotated = Some(at);
    }

    /// Remembers the generator spec.
    pub fn set_generator(&mut self, spec: String) {
        self.generator = Some(spec);
    }

    /// Marks this (a `PATH.next`) as staged for `path`.
    pub fn set_staged_for(&mut self, path: String) {
        self.staged_for = Some(path);
    }

    /// Marks this (a staged public half) as part of the rotation of `path`.
    pub fn set_staged_with(&mut self, path: String) {
        self.staged_with = Some(path);
    }

    /// Records the suffix of the staged public half.
    pub fn set_companion(&mut self, suffix: String) {
        self.companion = Some(suffix);
    }

    /// Records until when an old value is kept.
    pub fn set_keep_until(&mut self, at: String) {
        self.keep_until = Some(at);
    }
}

impl Serialize for PathMeta {
    /// One object, entries sorted by name (known and unknown alike), as before this
    /// type existed.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = fields_over(
            &self.other,
            &[
                (UPDATED, &self.updated),
                (ROTATED, &self.rotated),
                (GENERATOR, &self.generator),
                (STAGED_FOR, &self.staged_for),
                (STAGED_WITH, &self.staged_with),
                (COMPANION, &self.companion),
                (KEEP_UNTIL, &self.keep_until),
            ],
        );
        serialize_object(s, &fields)
    }
}
