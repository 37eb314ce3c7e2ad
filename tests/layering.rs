//! The module layering, checked from the source: a module imports only modules in its
//! own layer or below, modules never import each other in a cycle, and no command
//! imports another command. The layer table lives in README.md ("Layers", under
//! "Development"); this test reads it from there, so the documented table is the one
//! that is enforced.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The README heading the layer table sits under.
const TABLE_HEADING: &str = "### Layers";

/// A source file: its module path (`["commands", "set"]` for `src/commands/set.rs`)
/// and its text.
struct Source {
    file: String,
    module: Vec<String>,
    text: String,
}

/// One reference from a file to another part of the crate.
#[derive(Debug)]
struct Reference {
    line: usize,
    /// The path as written, for the message (`crate::git::fingerprint::ensure_key`).
    written: String,
    /// The absolute module path it names, crate root first (`["git", "fingerprint", …]`).
    target: Vec<String>,
}

/// Layer rank (1 is the bottom) of every top-level module, from the README table.
fn read_table(readme: &str) -> BTreeMap<String, (u32, String)> {
    let start = readme
        .find(TABLE_HEADING)
        .unwrap_or_else(|| panic!("README.md has no `{TABLE_HEADING}` section"));
    let mut layers = BTreeMap::new();
    for line in readme[start..].lines().skip(1) {
        if line.starts_with('#') {
            break;
        }
        let Some(row) = line.strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some((rank, name)) = cells[0].split_once(' ') else {
            continue;
        };
        let Ok(rank) = rank.parse::<u32>() else {
            continue;
        };
        for module in cells[1].split(',') {
            let module = module.trim().trim_matches('`');
            let earlier = layers.insert(module.to_owned(), (rank, name.to_owned()));
            assert!(earlier.is_none(), "README lists `{module}` in two layers");
        }
    }
    assert!(
        !layers.is_empty(),
        "README's `{TABLE_HEADING}` section holds no table rows"
    );
    layers
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate's library sources (`src/main.rs` is the binary: it uses `agevault::` only).
fn library_sources(src: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(src).unwrap().to_string_lossy().into_owned();
            if rel == "main.rs" {
                return None;
            }
            let text = fs::read_to_string(&path).unwrap();
            Some(Source {
                module: module_path(&rel),
                file: format!("src/{rel}"),
                text,
            })
        })
        .collect()
}

/// `lib.rs` → `[]`, `a.rs` and `a/mod.rs` → `[a]`, `a/b.rs` → `[a, b]`.
fn module_path(rel: &str) -> Vec<String> {
    let rel = rel.strip_suffix(".rs").unwrap();
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// `text` with comments, string and character literals blanked out (newlines kept,
/// so offsets still give line numbers): a path in a doc comment or a message is no import.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if let Some(hashes) = raw_string_start(b, i) {
            // r"…", r#"…"#, br"…": no escapes, ends at a quote and as many hashes.
            let open = b[i..].iter().position(|&c| c == b'"').unwrap() + i;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat(b'#').take(hashes))
                .collect();
            let end = b[open + 1..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |n| open + 1 + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(b.len()));
            i = j + 1;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{..}', '"') or a lifetime ('a).
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|&c| c == b'\'').map(|n| i + 2 + n + 1)
            } else {
                let width = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + width) == Some(&b'\'')).then_some(i + 2 + width)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// At a raw string literal (`r"`, `r#"`, `br"`, …, not inside an identifier): its hashes.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_ident(b[i - 1]) {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The identifier starting at `i`, if any.
fn ident_at(code: &str, i: usize) -> Option<&str> {
    let len = code[i..].bytes().take_while(|&c| is_ident(c)).count();
    (len > 0).then(|| &code[i..i + len])
}

/// The paths `crate::…` and `super::…` name in `source`, resolved to absolute module
/// paths. `use crate::{a, b::c}` names `a` and `b`; inline modules (`mod tests { … }`)
/// are followed, so `super::` inside one names the file's own module.
fn references(source: &Source) -> Vec<Reference> {
    let code = code_only(&source.text);
    let b = code.as_bytes();
    let line_of = |at: usize| code[..at].bytes().filter(|&c| c == b'\n').count() + 1;
    let mut out = Vec::new();
    // Inline modules open at some brace depth: (name, depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'{' {
            depth += 1;
            if let Some(name) = pending_mod.take() {
                inline.push((name, depth));
            }
            i += 1;
            continue;
        }
        if c == b'}' {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if c == b';' {
            pending_mod = None;
        }
        if !is_ident(c) || (i > 0 && is_ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let word = ident_at(&code, i).unwrap();
        let word_end = i + word.len();
        if word == "mod" {
            let after = word_end + code[word_end..].len() - code[word_end..].trim_start().len();
            pending_mod = ident_at(&code, after).map(str::to_owned);
            i = word_end;
            continue;
        }
        if (word == "crate" || word == "super") && code[word_end..].starts_with("::") {
            let here: Vec<String> = source
                .module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(n, _)| n.clone()))
                .collect();
            let (base, first) = if word == "crate" {
                (Vec::new(), word_end + 2)
            } else {
                // `super::super::x`: one level up per `super`.
                let mut base = here;
                let mut at = i;
                while code[at..].starts_with("super::") {
                    base.pop();
                    at += "super::".len();
                }
                (base, at)
            };
            let (names, end) = path_tail(&code, first);
            for tail in names {
                let mut target = base.clone();
                target.extend(tail.iter().cloned());
                out.push(Reference {
                    line: line_of(i),
                    written: format!("{}{}", &code[i..first], tail.join("::")),
                    target,
                });
            }
            i = end;
            continue;
        }
        i = word_end;
    }
    out
}

/// The segments of the path at `at` (after `crate::` or `super::`): one path, or for a
/// `{…}` group the first two segments of each member (enough to name a module).
fn path_tail(code: &str, at: usize) -> (Vec<Vec<String>>, usize) {
    let mut segments = Vec::new();
    let mut i = at;
    loop {
        if code[i..].starts_with('{') {
            let close = matching_brace(code, i);
            let mut out = Vec::new();
            for member in split_top_level(&code[i + 1..close]) {
                let member = member.trim();
                if member.is_empty() || member == "self" {
                    if member == "self" {
                        out.push(segments.clone());
                    }
                    continue;
                }
                let (inner, _) = path_tail(member, 0);
                for tail in inner {
                    let mut full = segments.clone();
                    full.extend(tail);
                    out.push(full);
                }
            }
            return (out, close + 1);
        }
        if code[i..].starts_with('*') {
            return (vec![segments], i + 1);
        }
        let Some(name) = ident_at(code, i) else {
            return (vec![segments], i);
        };
        segments.push(name.to_owned());
        i += name.len();
        if code[i..].starts_with("::") {
            i += 2;
        } else {
            return (vec![segments], i);
        }
    }
}

fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    code.len()
}

fn split_top_level(group: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[start..]);
    parts
}

/// Items of the crate root that are re-exports (`pub use error::{Error, Result};` in
/// lib.rs, outside any inline module): `crate::Error` is a use of `error`, not of the root.
fn root_reexports(lib: &Source) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let code = code_only(&lib.text);
    for (at, _) in code.match_indices("pub use ") {
        let depth = code[..at].matches('{').count() - code[..at].matches('}').count();
        if depth != 0 {
            continue;
        }
        let stmt = &code[at + "pub use ".len()..];
        let stmt = stmt[..stmt.find(';').unwrap_or(stmt.len())].trim();
        let stmt = stmt.strip_prefix("crate::").unwrap_or(stmt);
        let Some((module, items)) = stmt.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let item = item.trim();
            let name = item.rsplit(" as ").next().unwrap_or(item);
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// What the check found: each problem as one line naming the file and the import.
fn check(sources: &[Source], layers: &BTreeMap<String, (u32, String)>) -> Vec<String> {
    let mut problems = Vec::new();
    let top: BTreeSet<String> = sources
        .iter()
        .map(|s| s.module.first().cloned().unwrap_or_else(|| "lib".into()))
        .collect();
    for module in &top {
        if !layers.contains_key(module) {
            problems.push(format!(
                "module `{module}` is in no layer: add it to the table under `{TABLE_HEADING}` in README.md"
            ));
        }
    }
    for module in layers.keys() {
        if !top.contains(module) {
            problems.push(format!(
                "README's layer table lists `{module}`, which is no module under src/"
            ));
        }
    }
    let commands: BTreeSet<String> = sources
        .iter()
        .filter(|s| s.module.len() >= 2 && s.module[0] == "commands")
        .map(|s| s.module[1].clone())
        .collect();
    let reexports = sources
        .iter()
        .find(|s| s.module.is_empty())
        .map(root_reexports)
        .unwrap_or_default();
    let unit_of = |path: &[String]| -> String {
        match path.first() {
            Some(first) if top.contains(first) && first != "lib" => first.clone(),
            Some(item) => reexports.get(item).cloned().unwrap_or_else(|| "lib".into()),
            None => "lib".into(),
        }
    };
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for source in sources {
        let from = unit_of(&source.module);
        let from_command =
            (source.module.len() >= 2 && source.module[0] == "commands").then(|| source.module[1].clone());
        for r in references(source) {
            let to = unit_of(&r.target);
            let at = format!("{}:{}: `{}`", source.file, r.line, r.written);
            if let (Some(from_cmd), Some("commands")) = (&from_command, r.target.first().map(String::as_str))
            {
                if let Some(to_cmd) = r.target.get(1).filter(|c| commands.contains(*c)) {
                    if to_cmd != from_cmd {
                        problems.push(format!(
                            "{at}: command `{from_cmd}` imports command `{to_cmd}`; move what they share into a domain module"
                        ));
                    }
                }
            }
            if to == from {
                continue;
            }
            if let (Some((from_rank, from_layer)), Some((to_rank, to_layer))) =
                (layers.get(&from), layers.get(&to))
            {
                if to_rank > from_rank {
                    problems.push(format!(
                        "{at}: `{from}` ({from_layer}) imports `{to}` ({to_layer}), a higher layer"
                    ));
                }
            }
            edges.entry(from.clone()).or_default().entry(to).or_insert(at);
        }
    }
    for cycle in cycles(&edges) {
        let steps: Vec<String> = cycle.windows(2).map(|w| edges[&w[0]][&w[1]].clone()).collect();
        problems.push(format!(
            "modules import each other: {} ({})",
            cycle.join(" → "),
            steps.join("; ")
        ));
    }
    problems
}

/// One cycle per group of modules that reach each other, as a closed walk `a → b → a`.
fn cycles(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(n) = todo.pop() {
            for next in edges.get(&n).into_iter().flat_map(BTreeMap::keys) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for start in edges.keys() {
        if reported.contains(start) || !reach(start).contains(start) {
            continue;
        }
        // Shortest way back to `start` (breadth first), for a readable message.
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        let mut back = None;
        while let Some(n) = queue.pop_front() {
            for next in edges.get(&n).into_iter().flat_map(BTreeMap::keys) {
                if next == start {
                    back = Some(n.clone());
                    break;
                }
                if !came_from.contains_key(next) {
                    came_from.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
            if back.is_some() {
                break;
            }
        }
        // Walk back from the predecessor of `start` to `start`, then read it forwards.
        let mut walk = Vec::new();
        let mut n = back.unwrap();
        while &n != start {
            walk.push(n.clone());
            n = came_from[&n].clone();
        }
        walk.reverse();
        let mut closed = vec![start.clone()];
        closed.extend(walk);
        closed.push(start.clone());
        reported.extend(closed.iter().cloned());
        out.push(closed);
    }
    out
}

#[test]
fn modules_import_only_their_own_layer_and_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let layers = read_table(&readme);
    let sources = library_sources(&root.join("src"));
    assert!(sources.len() > 50, "found only {} source files", sources.len());
    let problems = check(&sources, &layers);
    assert!(
        problems.is_empty(),
        "the layering in README.md ({TABLE_HEADING}) is broken:\n{}",
        problems.join("\n")
    );
}

// ------------------------------------------------------------ the checker itself

fn source(file: &str, text: &str) -> Source {
    Source {
        file: format!("src/{file}"),
        module: module_path(file),
        text: text.to_owned(),
    }
}

/// The problems with imports, leaving out table entries the small example lacks.
fn import_problems(sources: &[Source]) -> Vec<String> {
    let mut problems = check(sources, &table());
    problems.retain(|p| !p.starts_with("README's layer table lists"));
    problems
}

fn table() -> BTreeMap<String, (u32, String)> {
    read_table(
        "### Layers\n\n| Layer | Modules |\n|---|---|\n| 3 entry | `lib`, `commands` |\n\
         | 2 domain | `git`, `exec` |\n| 1 core | `document`, `store` |\n\n## Next\n| 9 x | `nope` |\n",
    )
}

#[test]
fn an_upward_import_is_found_with_its_line() {
    let sources = [
        source(
            "lib.rs",
            "pub mod document;\npub mod git;\npub use error::{Error, Result};",
        ),
        source(
            "document.rs",
            "use std::fmt;\n\nuse crate::git::fingerprint::Key;\n",
        ),
        source("git/mod.rs", "pub mod fingerprint;"),
        source("git/fingerprint.rs", "use crate::document::VaultDocument;"),
    ];
    let problems = check(&sources, &table());
    assert!(
        problems.iter().any(|p| p.starts_with(
            "src/document.rs:3: `crate::git::fingerprint::Key`: `document` (core) imports `git` (domain)"
        )),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("modules import each other: document → git → document")),
        "{problems:#?}"
    );
}

#[test]
fn grouped_and_relative_paths_count_and_comments_do_not() {
    let sources = [
        source("lib.rs", ""),
        source(
            "store.rs",
            "//! See crate::git for how.\nlet s = \"crate::exec\";\nlet r = r#\"crate::exec\"#;\n\
             let c = '\"'; let l: &'static str = \"\";\nuse crate::{document, exec::run};\n\
             mod tests {\n    use super::*;\n}\n",
        ),
        source("document.rs", ""),
        source("git/mod.rs", ""),
        source("exec/mod.rs", ""),
    ];
    let problems = import_problems(&sources);
    assert_eq!(
        problems,
        ["src/store.rs:5: `crate::exec::run`: `store` (core) imports `exec` (domain), a higher layer"]
    );
}

#[test]
fn the_crate_roots_reexports_name_their_module() {
    let sources = [
        source(
            "lib.rs",
            "mod store;\nmod git;\npub mod fuzzing {\n    pub use crate::git::Thing;\n}\n\
             pub use store::{Error, Result};\npub enum ExitStatus {}",
        ),
        source("store.rs", ""),
        source(
            "git/mod.rs",
            "fn f() -> crate::Result<()> { Err(crate::Error::Gone) }\nfn g() -> crate::ExitStatus { todo!() }",
        ),
    ];
    assert_eq!(
        import_problems(&sources),
        [
            "src/git/mod.rs:2: `crate::ExitStatus`: `git` (domain) imports `lib` (entry), a higher layer",
            "modules import each other: git → lib → git (src/git/mod.rs:2: `crate::ExitStatus`; \
             src/lib.rs:4: `crate::git::Thing`)"
        ]
    );
}

#[test]
fn a_command_importing_another_command_is_found() {
    let sources = [
        source("lib.rs", ""),
        source("commands/mod.rs", "mod set;\nmod rotate;\nfn parse_path() {}"),
        source(
            "commands/set.rs",
            "fn f() { super::rotate::apply_generated(); super::parse_path(); }",
        ),
        source("commands/rotate.rs", ""),
    ];
    let problems = import_problems(&sources);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("command `set` imports command `rotate`"),
        "{problems:#?}"
    );
}

#[test]
fn every_module_needs_a_layer() {
    let sources = [source("lib.rs", ""), source("fresh.rs", "")];
    let problems = check(&sources, &table());
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("module `fresh` is in no layer")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("lists `git`, which is no module")),
        "{problems:#?}"
    );
    assert!(
        !problems.iter().any(|p| p.contains("nope")),
        "read past the section"
    );
}
