//! "Did you mean": the closest known secret path to a mistyped one.

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a
/// typo (at most a third of the name, and at least one edit, allowed).
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Every path a user could mean: the leaves and the namespaces above them.
pub fn paths_and_namespaces(leaves: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for leaf in leaves {
        let mut at = 0;
        while let Some(i) = leaf[at..].find('/') {
            all.push(leaf[..at + i].to_owned());
            at += i + 1;
        }
        all.push(leaf.clone());
    }
    all.sort();
    all.dedup();
    all
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let known = ["db/password", "db/user", "samba/password"];
        assert_eq!(closest("db/pasword", known), Some("db/password"));
        assert_eq!(closest("db/usr", known), Some("db/user"));
        assert_eq!(closest("web/token", known), None);
        assert_eq!(closest("db/password", known), None);
    }

    #[test]
    fn namespaces_are_candidates() {
        let all = paths_and_namespaces(&["a/b/c".into(), "a/d".into()]);
        assert_eq!(all, ["a", "a/b", "a/b/c", "a/d"]);
    }
}
