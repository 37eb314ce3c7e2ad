//! Streaming replacement of secret values in a child's output.

use aho_corasick::{AhoCorasick, MatchKind};
use zeroize::Zeroizing;

use crate::secret_buf::SecretBuf;

/// Lines of multi-line values shorter than this are not masked on their own
/// (a blank or one-word line would mask ordinary output).
const MIN_LINE_PATTERN: usize = 6;

fn trim_newlines(v: &[u8]) -> &[u8] {
    let mut end = v.len();
    while end > 0 && matches!(v[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &v[..end]
}

/// What a value is replaced with.
pub const MASK: &[u8] = b"*****";

/// Replaces every value with `*****`, also when a value spans two reads.
///
/// Only bytes that could still be the start of a value are held back, so
/// ordinary output (a line ending in `\n`) passes at once.
#[derive(Clone)]
pub struct Masker {
    matcher: Option<AhoCorasick>,
    /// The values and their pieces; zeroized when dropped (also those `dedup` drops).
    patterns: Vec<Zeroizing<Vec<u8>>>,
    /// Output held back because it could be the start of a value: a SecretBuf, so
    /// growing it leaves no copies behind.
    pending: SecretBuf,
}

impl Masker {
    /// A masker for these values (empty ones are ignored). A multi-line value is also
    /// masked without its trailing newline (`$(…)` and `strip()` drop it) and line by
    /// line, so a PEM key printed in pieces is still hidden.
    pub fn new(values: &[&[u8]]) -> Masker {
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for v in values.iter().filter(|v| !v.is_empty()) {
            patterns.push(Zeroizing::new(v.to_vec()));
            let trimmed = trim_newlines(v);
            if !trimmed.is_empty() && trimmed.len() != v.len() {
                patterns.push(Zeroizing::new(trimmed.to_vec()));
            }
            if trimmed.contains(&b'\n') {
                for line in trimmed.split(|&b| b == b'\n').map(trim_newlines) {
                    if line.len() >= MIN_LINE_PATTERN {
                        patterns.push(Zeroizing::new(line.to_vec()));
                    }
                }
            }
        }
        patterns.sort_by(|a, b| a.as_slice().cmp(b.as_slice()));
        patterns.dedup();
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|p| p.as_slice()))
                .ok()
        };
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        Masker {
            matcher,
            patterns,
            // Room for what can be held back plus one read of the pump (8 KiB).
            pending: SecretBuf::with_capacity(longest + 8192),
        }
    }

    /// Feeds a chunk; appends what can safely be emitted to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(matcher) = &self.matcher else {
            out.extend_from_slice(chunk);
            return;
        };
        self.pending.extend_from_slice(chunk);
        // Everything from `hold` on could still grow into a value: keep it back.
        // A match that starts before `hold` cannot be extended (otherwise its text
        // would be a proper prefix of a value and `hold` would be at or before it).
        let pending = self.pending.as_slice();
        let hold = pending.len() - self.longest_prefix_suffix(pending);
        let mut emitted = 0;
        for m in matcher.find_iter(pending) {
            if m.start() >= hold {
                break;
            }
            out.extend_from_slice(&pending[emitted..m.start()]);
            out.extend_from_slice(MASK);
            emitted = m.end();
        }
        let keep_from = hold.max(emitted);
        out.extend_from_slice(&pending[emitted..keep_from]);
        self.pending.drop_front(keep_from);
    }

    /// Ends the stream: emits whatever was held back (masked if it is a value).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let Some(matcher) = &self.matcher else {
            return;
        };
        let replaced = matcher.replace_all_bytes(self.pending.as_slice(), &vec![MASK; self.patterns.len()]);
        out.extend_from_slice(&replaced);
        self.pending.clear();
    }

    /// The length of the longest suffix of `tail` that is a proper prefix of some value.
    fn longest_prefix_suffix(&self, tail: &[u8]) -> usize {
        let mut best = 0;
        for p in &self.patterns {
            let max = (p.len() - 1).min(tail.len());
            for len in (best + 1..=max).rev() {
                if tail.ends_with(&p[..len]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[&str], chunks: &[&str]) -> (String, Vec<String>) {
        let vals: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        let mut m = Masker::new(&vals);
        let mut all = Vec::new();
        let mut per_chunk = Vec::new();
        for c in chunks {
            let mut out = Vec::new();
            m.feed(c.as_bytes(), &mut out);
            per_chunk.push(String::from_utf8_lossy(&out).into_owned());
            all.extend_from_slice(&out);
        }
        m.finish(&mut all);
        (String::from_utf8_lossy(&all).into_owned(), per_chunk)
    }

    #[test]
    fn masks_whole_and_split_values() {
        assert_eq!(run(&["hunter2"], &["pw=hunter2\n"]).0, "pw=*****\n");
        assert_eq!(run(&["hunter2"], &["pw=hun", "ter2 ok\n"]).0, "pw=***** ok\n");
        assert_eq!(run(&["hunter2"], &["h", "u", "n", "t", "e", "r", "2"]).0, "*****");
        assert_eq!(run(&["abc", "abcdef"], &["xabc", "def!"]).0, "x*****!");
        assert_eq!(run(&["abc", "abcdef"], &["xabc", "q"]).0, "x*****q");
        assert_eq!(run(&["xyz", "zq"], &["xyz", "!"]).0, "*****!");
    }

    #[test]
    fn lines_pass_without_delay() {
        let (_, chunks) = run(&["secret"], &["progress 50%\n", "done\n"]);
        assert_eq!(chunks, ["progress 50%\n", "done\n"]);
        let (_, chunks) = run(&["secret"], &["value: sec"]);
        assert_eq!(chunks, ["value: "]);
    }

    #[test]
    fn shorter_value_at_a_boundary_does_not_expose_a_longer_one() {
        let url = "postgres://app:hunter2@db/x";
        assert_eq!(
            run(&["app", url], &["url=postgres://app", ":hunter2@db/x\n"]).0,
            "url=*****\n"
        );
        assert_eq!(run(&["app", url], &["user=app\n"]).0, "user=*****\n");
    }

    #[test]
    fn multi_line_values_are_masked_without_newline_and_by_line() {
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHo4NOdogWN5gFcN\n-----END PRIVATE KEY-----\n";
        let trimmed = pem.trim_end();
        assert_eq!(run(&[pem], &[&format!("[{trimmed}]\n")]).0, "[*****]\n");
        assert!(
            !run(&[pem], &["key line: MC4CAQAwBQYDK2VwBCIEIHo4NOdogWN5gFcN\n"])
                .0
                .contains("MC4CAQ")
        );
    }

    #[test]
    fn near_misses_are_kept() {
        assert_eq!(run(&["secret"], &["secre", "t!", " secrex"]).0, "*****! secrex");
        assert_eq!(run(&[], &["anything"]).0, "anything");
    }

    #[test]
    fn binary_output_survives() {
        let vals: Vec<&[u8]> = vec![b"\x00\xffk"];
        let mut m = Masker::new(&vals);
        let mut out = Vec::new();
        m.feed(b"\x01\xff\x00", &mut out);
        m.feed(b"\xffk\x02\x00", &mut out);
        m.finish(&mut out);
        assert_eq!(out, b"\x01\xff*****\x02\x00".to_vec());
    }

    #[test]
    fn held_back_output_leaves_no_copy_in_freed_memory() {
        use crate::secret_buf::canary::freed_copies;
        let value = b"held-back-value-Qm7Zt2";
        let mut m = Masker::new(&[&value[..]]);
        let mut out = Vec::with_capacity(1 << 16);
        let big = vec![b'.'; 20_000];
        let hits = freed_copies(b"held-back-val", || {
            // The start of the value is held back, then more output arrives than the
            // held-back buffer was sized for.
            m.feed(b"pw=held-back-val", &mut out);
            m.feed(&big, &mut out);
            m.feed(b"held-back-val", &mut out);
            m.feed(&big, &mut out);
        });
        assert_eq!(hits, 0);
        m.finish(&mut out);
        assert!(memchr::memmem::find(&out, value).is_none());
    }
}
