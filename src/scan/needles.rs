//! The vault's current values as search needles, in the encodings a copy is likely
//! to take: raw, base64 (standard and URL-safe, at any alignment inside a longer
//! base64 text), hex, percent-encoding, JSON string escaping, and for multi-line
//! values (PEM keys) each long line on its own.
//!
//! The needles are derived from secrets, so our copies are zeroized on drop. The
//! automaton built from them keeps its own copy until it is dropped at the end of the
//! scan (the same trade-off `exec --mask` makes).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::document::VaultDocument;
use crate::secret_buf::SecretBuf;

/// Values shorter than this are not searched: they match too much by chance.
pub const MIN_VALUE_LEN: usize = 8;

/// Lines of multi-line values shorter than this are not searched on their own.
const MIN_LINE_LEN: usize = 20;

/// What a needle stands for.
#[derive(Clone, Debug)]
pub struct NeedleLabel {
    /// The secret path whose value it is.
    pub path: String,
    /// How the value is encoded: `raw`, `base64`, `base64url`, `hex`, `url-encoded`,
    /// `json-escaped`, `line`.
    pub encoding: &'static str,
}

/// A match: where it starts and what it is.
pub struct NeedleMatch<'a> {
    /// Byte offset in the searched text.
    pub start: usize,
    /// The secret and encoding.
    pub label: &'a NeedleLabel,
}

/// Every needle of a vault.
pub struct VaultNeedles {
    automaton: AhoCorasick,
    labels: Vec<NeedleLabel>,
    /// How many secrets were too short to search.
    pub skipped_short: Vec<String>,
}

impl VaultNeedles {
    /// Builds the needles of `doc`'s values; None only if the automaton cannot be built.
    pub fn new(doc: &VaultDocument) -> Option<VaultNeedles> {
        let mut needles: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut labels = Vec::new();
        let mut skipped_short = Vec::new();
        for (path, value) in doc.leaves() {
            let value = value.expose_secret().as_bytes();
            if value.trim_ascii().len() < MIN_VALUE_LEN {
                skipped_short.push(path);
                continue;
            }
            for (encoding, needle) in encodings(value) {
                if needle.len() < MIN_VALUE_LEN || needles.iter().any(|n| n.as_slice() == needle.as_slice()) {
                    continue;
                }
                needles.push(needle);
                labels.push(NeedleLabel {
                    path: path.clone(),
                    encoding,
                });
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(needles.iter().map(|n| n.as_slice()))
            .ok()?;
        Some(VaultNeedles {
            automaton,
            labels,
            skipped_short,
        })
    }

    /// Every (non-overlapping) occurrence in `haystack`.
    pub fn find<'a>(&'a self, haystack: &[u8]) -> Vec<NeedleMatch<'a>> {
        self.automaton
            .find_iter(haystack)
            .filter_map(|m| {
                self.labels.get(m.pattern().as_usize()).map(|label| NeedleMatch {
                    start: m.start(),
                    label,
                })
            })
            .collect()
    }
}

/// The encodings of one value, each as (name, bytes).
fn encodings(value: &[u8]) -> Vec<(&'static str, Zeroizing<Vec<u8>>)> {
    let mut out = vec![("raw", Zeroizing::new(value.to_vec()))];
    let trimmed = value.trim_ascii();
    if trimmed.len() != value.len() {
        out.push(("raw", Zeroizing::new(trimmed.to_vec())));
    }
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        ("base64url", &base64::engine::general_purpose::URL_SAFE_NO_PAD),
    ] {
        for core in base64_cores(value, engine) {
            out.push((name, core));
        }
    }
    let mut hex = Zeroizing::new(vec![0u8; value.len() * 2]);
    let mut upper = Zeroizing::new(vec![0u8; value.len() * 2]);
    // The buffers are exactly the encoded length, so encoding cannot fail.
    let _ = base16ct::lower::encode(value, &mut hex);
    let _ = base16ct::upper::encode(value, &mut upper);
    out.push(("hex", hex));
    out.push(("hex", upper));
    let percent = percent_encode(value);
    if percent.as_slice() != value {
        out.push(("url-encoded", percent));
    }
    if let Ok(text) = std::str::from_utf8(value) {
        // Into a SecretBuf: a String grown by the serializer would leave copies behind.
        let mut json = SecretBuf::with_capacity(value.len() + 2);
        if serde_json::to_writer(&mut json, text).is_ok() {
            let json = json.as_slice();
            let inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default();
            if inner != value {
                out.push(("json-escaped", Zeroizing::new(inner.to_vec())));
            }
        }
    }
    if value.contains(&b'\n') {
        for line in value.split(|b| *b == b'\n') {
            let line = line.trim_ascii();
            if line.len() >= MIN_LINE_LEN && !is_armor_line(line) {
                out.push(("line", Zeroizing::new(line.to_vec())));
            }
        }
    }
    out
}

/// PEM framing and header lines (`-----BEGIN PRIVATE KEY-----`, `Proc-Type: 4,ENCRYPTED`)
/// are the same in every key: they are not secret and would match every key file.
fn is_armor_line(line: &[u8]) -> bool {
    if line.starts_with(b"-----") {
        return true;
    }
    // Only the RFC 1421 / RFC 7468 headers: a `password: …` line of a secret is secret.
    const HEADERS: [&[u8]; 4] = [b"Proc-Type:", b"DEK-Info:", b"Comment:", b"Version:"];
    HEADERS.iter().any(|h| line.starts_with(h))
}

/// The parts of the base64 text of `value` that do not depend on what surrounds it,
/// for each of the three byte alignments it can have inside a longer encoded text.
fn base64_cores(value: &[u8], engine: &base64::engine::GeneralPurpose) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut input = Zeroizing::new(Vec::with_capacity(shift + value.len()));
        input.resize(shift, 0);
        input.extend_from_slice(value);
        let encoded = Zeroizing::new(engine.encode(input.as_slice()).into_bytes());
        // Characters wholly inside the value's bits: from ceil(8*shift/6) to floor(8*(shift+n)/6).
        let first = (8 * shift).div_ceil(6);
        let end = (8 * (shift + value.len()) / 6).min(encoded.len());
        if end > first {
            out.push(Zeroizing::new(encoded[first..end].to_vec()));
        }
    }
    out
}

fn percent_encode(value: &[u8]) -> Zeroizing<Vec<u8>> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // Sized for the worst case, so pushing never reallocates.
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 3));
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_path::SecretPath;

    fn needles(pairs: &[(&str, &str)]) -> VaultNeedles {
        let mut doc = VaultDocument::new(vec![]);
        for (p, v) in pairs {
            doc.set(&SecretPath::parse(p).unwrap(), (*v).into()).unwrap();
        }
        VaultNeedles::new(&doc).unwrap()
    }

    fn found(n: &VaultNeedles, text: &[u8]) -> Vec<(String, &'static str)> {
        n.find(text)
            .into_iter()
            .map(|m| (m.label.path.clone(), m.label.encoding))
            .collect()
    }

    #[test]
    fn finds_every_encoding() {
        let n = needles(&[("db/pw", "correct horse battery"), ("short", "abc")]);
        assert_eq!(n.skipped_short, ["short"]);
        let e = base64::engine::general_purpose::STANDARD;
        assert_eq!(found(&n, b"x correct horse battery y"), [("db/pw".into(), "raw")]);
        for prefix in ["", "a", "ab", "abc"] {
            let embedded = e.encode(format!("{prefix}correct horse battery and more"));
            let hits = found(&n, embedded.as_bytes());
            assert_eq!(
                hits,
                [("db/pw".into(), "base64")],
                "prefix {prefix:?}: {embedded}"
            );
        }
        let hex = base16ct::lower::encode_string(b"correct horse battery");
        assert_eq!(
            found(&n, format!("h={hex};").as_bytes()),
            [("db/pw".into(), "hex")]
        );
        assert_eq!(
            found(&n, b"u=correct%20horse%20battery"),
            [("db/pw".into(), "url-encoded")]
        );
        assert!(found(&n, b"nothing here abc").is_empty());
    }

    #[test]
    fn multi_line_values_match_line_by_line() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n";
        let n = needles(&[("tls/key", pem)]);
        let crlf = pem.replace('\n', "\r\n");
        // Another key's framing lines are not this key.
        let other = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(found(&n, other).is_empty());
        let hits = found(&n, crlf.as_bytes());
        assert!(
            hits.iter().any(|(p, e)| p == "tls/key" && *e == "line"),
            "{hits:?}"
        );
        let json = serde_json::to_string(pem).unwrap();
        let hits = found(&n, json.as_bytes());
        assert_eq!(hits, [("tls/key".into(), "json-escaped")]);
    }

    #[test]
    fn encodings_leave_no_copy_in_freed_memory() {
        use crate::secret_buf::canary::freed_copies;
        // Longer than the serializer's first allocation, so a String would grow.
        let value = format!("needle-canary-Wp5{}", "x".repeat(300));
        let hits = freed_copies(b"needle-canary-Wp5", || drop(encodings(value.as_bytes())));
        assert_eq!(hits, 0);
    }
}
