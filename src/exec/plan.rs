//! Which secret goes to which variable, checked completely before anything runs.

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};

use crate::config::ExecProfile;
use crate::document::{leaf_paths, Node, VaultDocument};
use crate::error::{Error, Result};
use crate::secret_path::SecretPath;

use super::policy;

/// The kernel's limit on one env string, `NAME=value` plus NUL (MAX_ARG_STRLEN).
pub const MAX_ENV_STRING: usize = 32 * 4096;

/// How a value reaches the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The variable holds the value.
    Env,
    /// The variable holds the path of a file holding the value.
    File,
}

/// One value to hand over (its `Debug` shows `[REDACTED]` for the value).
#[derive(Debug)]
pub struct Injection<'a> {
    /// The variable name.
    pub name: String,
    /// The secret path it comes from.
    pub path: String,
    /// The value.
    pub value: &'a SecretString,
    /// How it is delivered.
    pub delivery: Delivery,
}

/// One explicit `NAME=PATH` mapping and where it was written down.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The variable name.
    pub name: String,
    /// The secret path.
    pub path: String,
    /// `--env`/`--file` on the command line (None), or this profile's `env`/`files`.
    pub profile: Option<String>,
}

impl Mapping {
    /// A mapping from the command line.
    pub fn flag(name: impl Into<String>, path: impl Into<String>) -> Mapping {
        Mapping {
            name: name.into(),
            path: path.into(),
            profile: None,
        }
    }

    fn origin(&self, delivery: Delivery) -> String {
        let (flag, key) = match delivery {
            Delivery::Env => ("--env", "env"),
            Delivery::File => ("--file", "files"),
        };
        match &self.profile {
            None => format!("{flag} {}={}", self.name, self.path),
            Some(p) => format!("profile [exec.{p}] {key}"),
        }
    }
}

/// What the user asked for.
#[derive(Default)]
pub struct Selection {
    /// `--only` prefixes from the command line.
    pub only: Vec<String>,
    /// The profile's name and its `only` prefixes.
    pub profile: Option<(String, Vec<String>)>,
    /// `--env NAME=PATH` and the profile's `env`.
    pub env: Vec<Mapping>,
    /// `--file NAME=PATH` and the profile's `files`.
    pub files: Vec<Mapping>,
    /// Let explicit mappings set reserved variables (PATH, LD_PRELOAD, MAKEFLAGS …).
    /// Never applies to derived names.
    pub allow_override: bool,
    /// Refuse every derived name; the value says which switch asked for that.
    pub explicit_only: Option<String>,
    /// Names the child would inherit: a derived name may not replace any of them.
    pub inherited: BTreeSet<String>,
    /// Removed from the front of paths before names are derived (`prod` makes
    /// `prod/db/password` arrive as `DB_PASSWORD`).
    pub strip_prefix: Option<String>,
}

impl Selection {
    /// Adds a profile's maps.
    pub fn add_profile(&mut self, name: &str, profile: &ExecProfile) {
        self.profile = Some((name.to_owned(), profile.only.clone()));
        if profile.strip_prefix.is_some() {
            self.strip_prefix.clone_from(&profile.strip_prefix);
        }
        let mapping = |(k, v): (&String, &String)| Mapping {
            name: k.clone(),
            path: v.clone(),
            profile: Some(name.to_owned()),
        };
        self.env.extend(profile.env.iter().map(mapping));
        self.files.extend(profile.files.iter().map(mapping));
    }
}

/// Splits `NAME=PATH`.
pub fn parse_mapping(text: &str, flag: &str) -> Result<Mapping> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(Mapping::flag(name, path)),
        _ => Err(Error::Usage(format!(
            "{flag} expects NAME=PATH, got `{}`",
            crate::terminal::sanitize(text)
        ))),
    }
}

/// `path` without `prefix/` at its front (unchanged when it does not start with it).
fn strip<'a>(path: &'a str, prefix: Option<&str>) -> &'a str {
    let Some(prefix) = prefix.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty()) else {
        return path;
    };
    path.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(path)
}

/// `llm-api-key/openai` → `LLM_API_KEY_OPENAI`.
pub fn derive_env_name(path: &str) -> String {
    path.chars()
        .map(|c| match c {
            '/' | '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn env_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => Some("must start with a letter or `_`"),
        _ if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("may only contain A-Z a-z 0-9 and `_` (no `=`, spaces or NUL)")
        }
        _ => None,
    }
}

/// Resolves the selection against the document: every error is found here, before the child exists.
///
/// Explicit mappings are placed first, so a derived name that an explicit mapping
/// of the same path already covers is not derived again.
pub fn plan<'a>(doc: &'a VaultDocument, sel: &Selection) -> Result<Vec<Injection<'a>>> {
    refuse_conflicts(doc, sel)?;
    let mut by_name: BTreeMap<String, Injection<'a>> = BTreeMap::new();
    plan_explicit(doc, sel, &mut by_name)?;
    plan_derived(doc, sel, &mut by_name)?;
    if sel.explicit_only.is_some() && by_name.is_empty() {
        let why = sel.explicit_only.as_deref().unwrap_or_default();
        return Err(
            Error::Usage(format!("nothing to inject: {why} accepts only explicit mappings"))
                .with_hint("give --env NAME=PATH, --file NAME=PATH or -p PROFILE"),
        );
    }
    Ok(by_name.into_values().collect())
}

/// The explicit mappings (`--env`, `--file`, a profile's tables): a reserved name only
/// with `--allow-override`.
fn plan_explicit<'a>(
    doc: &'a VaultDocument,
    sel: &Selection,
    by_name: &mut BTreeMap<String, Injection<'a>>,
) -> Result<()> {
    for (list, delivery) in [(&sel.env, Delivery::Env), (&sel.files, Delivery::File)] {
        for m in list {
            let value = leaf(doc, &m.path)?;
            let inj = Injection {
                name: m.name.clone(),
                path: m.path.clone(),
                value,
                delivery,
            };
            check_name(&inj)?;
            if let Some(reader) = policy::reserved(&inj.name) {
                if !sel.allow_override {
                    return Err(Error::msg(format!(
                        "{} would set {} ({reader})",
                        m.origin(delivery),
                        inj.name
                    ))
                    .with_hint("pass --allow-override if a person reviewed that mapping"));
                }
            }
            insert(by_name, inj)?;
        }
    }
    Ok(())
}

/// The paths selected by prefix, under names derived from them: never a reserved or
/// inherited name, and none at all where only explicit mappings are accepted.
fn plan_derived<'a>(
    doc: &'a VaultDocument,
    sel: &Selection,
    by_name: &mut BTreeMap<String, Injection<'a>>,
) -> Result<()> {
    for (path, via) in derived_paths(doc, sel)? {
        let name = derive_env_name(strip(&path, sel.strip_prefix.as_deref()));
        if by_name.get(&name).is_some_and(|prev| prev.path == path) {
            // An explicit mapping of the same path to the same name wins.
            continue;
        }
        if let Some(why) = &sel.explicit_only {
            let err = format!(
                "`{path}` would get the derived name {name} ({via}), but {why} accepts only explicit \
                 mappings; {} or in a profile's env",
                explicit_fix(&name, &path)
            );
            // The command line asked for it (a usage error); a profile is configuration.
            return Err(if matches!(via, Via::Profile(_)) {
                Error::msg(err)
            } else {
                Error::Usage(err)
            });
        }
        let value = leaf(doc, &path)?;
        let inj = Injection {
            name,
            path,
            value,
            delivery: Delivery::Env,
        };
        check_name(&inj)?;
        if let Some(reader) = policy::reserved(&inj.name) {
            return Err(Error::msg(format!(
                "`{}` would set {} ({reader}); a name derived from a secret path never sets such a \
                 variable, not even with --allow-override: {}",
                inj.path,
                inj.name,
                explicit_fix(&inj.name, &inj.path)
            )));
        }
        if sel.inherited.contains(&inj.name) {
            return Err(Error::msg(format!(
                "`{}` would replace {}, which is already set in the environment; a name derived from a \
                 secret path never replaces an inherited variable: {}, or unset {} first",
                inj.path,
                inj.name,
                explicit_fix(&inj.name, &inj.path),
                inj.name
            )));
        }
        insert(by_name, inj)?;
    }
    Ok(())
}

/// How to give a path whose derived name is refused a name of one's own.
fn explicit_fix(name: &str, path: &str) -> String {
    format!("map it explicitly under another name, e.g. --env MY_{name}={path}")
}

/// A merge that conflicted moved the path's values under `_conflicts/`: the child would
/// quietly lack the variable (or, by default, get the `_CONFLICTS_…` copies of every
/// side). Refused before anything runs when the selection touches a conflicted path.
fn refuse_conflicts(doc: &VaultDocument, sel: &Selection) -> Result<()> {
    let conflicts = crate::git::unresolved_conflicts(doc);
    if conflicts.is_empty() {
        return Ok(());
    }
    let explicit = !sel.env.is_empty() || !sel.files.is_empty() || sel.profile.is_some();
    let mut prefixes: Vec<&str> = sel.only.iter().map(String::as_str).collect();
    if let Some((_, only)) = &sel.profile {
        prefixes.extend(only.iter().map(String::as_str));
    }
    let mapped: Vec<&str> = sel
        .env
        .iter()
        .chain(sel.files.iter())
        .map(|m| m.path.as_str())
        .collect();
    let everything = prefixes.is_empty() && !explicit;
    let touched: Vec<&String> = conflicts
        .iter()
        .filter(|c| {
            everything
                || mapped.contains(&c.as_str())
                || prefixes
                    .iter()
                    .any(|p| c.as_str() == *p || c.starts_with(&format!("{}/", p.trim_end_matches('/'))))
        })
        .collect();
    let Some(first) = touched.first() else {
        return Ok(());
    };
    let list: Vec<String> = touched.iter().map(|c| format!("`{c}`")).collect();
    Err(Error::msg(format!(
        "{} {} an unresolved merge conflict (both branches changed it; the values wait under `{}/`); \
         nothing was run",
        list.join(", "),
        if touched.len() == 1 { "has" } else { "have" },
        crate::git::merge::CONFLICTS,
    ))
    .with_hint(format!(
        "run `agevault edit`, set `{first}` to the right value and delete `{}`, then commit",
        crate::git::merge::CONFLICTS,
    )))
}

/// The paths that get derived names, each with what selected it (for messages).
/// Why a path gets a derived name: what selected it.
#[derive(Clone)]
enum Via {
    /// No selection at all: every secret.
    Default,
    /// `--only PREFIX` on the command line.
    Only(String),
    /// `only` in profile `[exec.NAME]`.
    Profile(String),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Default => f.write_str("every secret, by default"),
            Via::Only(prefix) => write!(f, "--only {prefix}"),
            Via::Profile(name) => write!(f, "profile [exec.{name}] only"),
        }
    }
}

fn derived_paths(doc: &VaultDocument, sel: &Selection) -> Result<Vec<(String, Via)>> {
    let explicit = !sel.env.is_empty() || !sel.files.is_empty() || sel.profile.is_some();
    if sel.only.is_empty() && !explicit {
        return Ok(leaf_paths(doc.secrets())
            .into_iter()
            .map(|p| (p, Via::Default))
            .collect());
    }
    let mut prefixes: Vec<(String, Via)> = sel
        .only
        .iter()
        .map(|p| (p.clone(), Via::Only(p.clone())))
        .collect();
    if let Some((name, only)) = &sel.profile {
        prefixes.extend(only.iter().map(|p| (p.clone(), Via::Profile(name.clone()))));
    }
    let mut paths = Vec::new();
    for (prefix, via) in prefixes {
        let p = SecretPath::parse(&prefix).map_err(Error::Usage)?;
        match doc.get(&p) {
            Some(Node::Leaf(_)) => paths.push((p.to_string(), via)),
            Some(Node::Tree(t)) => paths.extend(
                leaf_paths(t)
                    .into_iter()
                    .map(|s| (format!("{p}/{s}"), via.clone())),
            ),
            None => return Err(Error::msg(format!("{via}: `{p}` matches no secret in the vault"))),
        }
    }
    Ok(paths)
}

/// The name's syntax and the value's fitness for its delivery.
fn check_name(inj: &Injection<'_>) -> Result<()> {
    if let Some(problem) = env_name_problem(&inj.name) {
        return Err(Error::msg(format!(
            "variable name `{}` for `{}` {problem}",
            crate::terminal::sanitize(&inj.name),
            inj.path
        )));
    }
    if inj.delivery == Delivery::Env {
        let value = inj.value.expose_secret();
        if value.contains('\0') {
            return Err(Error::msg(format!(
                "`{}` contains a NUL byte and cannot be an environment variable; use --file",
                inj.path
            )));
        }
        if inj.name.len() + value.len() + 2 > MAX_ENV_STRING {
            return Err(Error::msg(format!(
                "`{}` is {} bytes, over the kernel's 128 KiB limit for one environment variable; use --file {}=PATH",
                inj.path,
                value.len(),
                inj.name
            )));
        }
    }
    Ok(())
}

fn insert<'a>(by_name: &mut BTreeMap<String, Injection<'a>>, inj: Injection<'a>) -> Result<()> {
    if let Some(prev) = by_name.get(&inj.name) {
        if prev.path != inj.path || prev.delivery != inj.delivery {
            return Err(Error::msg(format!(
                "`{}` and `{}` both map to variable {}; rename one or map it explicitly with --env NAME=PATH",
                prev.path, inj.path, inj.name
            )));
        }
    }
    by_name.insert(inj.name.clone(), inj);
    Ok(())
}

fn leaf<'a>(doc: &'a VaultDocument, path: &str) -> Result<&'a SecretString> {
    let p = SecretPath::parse(path).map_err(Error::Usage)?;
    match doc.get(&p) {
        Some(Node::Leaf(v)) => Ok(v),
        Some(Node::Tree(_)) => Err(Error::msg(format!(
            "`{p}` is a namespace, not a secret; name a leaf or use --only {p}"
        ))),
        None => Err(Error::msg(format!("no secret `{p}` in the vault"))
            .with_hint("`agevault ls` lists the secrets you can read")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(pairs: &[(&str, &str)]) -> VaultDocument {
        let mut d = VaultDocument::new(vec![]);
        for (p, v) in pairs {
            d.set(&SecretPath::parse(p).unwrap(), (*v).into()).unwrap();
        }
        d
    }

    #[test]
    fn derives_names() {
        assert_eq!(derive_env_name("llm-api-key/openai"), "LLM_API_KEY_OPENAI");
        assert_eq!(derive_env_name("a.b/c"), "A_B_C");
    }

    #[test]
    fn default_selects_all_and_only_filters() {
        let d = doc(&[("a/x", "1"), ("b/y", "2")]);
        let all = plan(&d, &Selection::default()).unwrap();
        assert_eq!(
            all.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            ["A_X", "B_Y"]
        );
        let sel = Selection {
            only: vec!["b".into()],
            ..Default::default()
        };
        assert_eq!(plan(&d, &sel).unwrap().len(), 1);
        let sel = Selection {
            env: vec![Mapping::flag("X", "a/x")],
            ..Default::default()
        };
        let one = plan(&d, &sel).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "X");
    }

    #[test]
    fn preflight_errors() {
        let d = doc(&[
            ("a-b", "1"),
            ("a_b", "2"),
            ("9x", "3"),
            ("ns/k", "4"),
            ("path", "5"),
        ]);
        let err = |sel: Selection| match plan(&d, &sel) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        let e = err(Selection {
            only: vec!["a-b".into(), "a_b".into()],
            ..Default::default()
        });
        assert!(e.contains("both map to variable A_B"), "{e}");
        let e = err(Selection {
            only: vec!["9x".into()],
            ..Default::default()
        });
        assert!(e.contains("must start with a letter"), "{e}");
        let e = err(Selection {
            env: vec![Mapping::flag("X", "ns")],
            ..Default::default()
        });
        assert!(e.contains("namespace"), "{e}");
        let e = err(Selection {
            env: vec![Mapping::flag("X", "nope")],
            ..Default::default()
        });
        assert!(e.contains("no secret"), "{e}");
        let e = err(Selection {
            env: vec![Mapping::flag("LD_PRELOAD", "path")],
            ..Default::default()
        });
        assert!(e.contains("--allow-override"), "{e}");
        let e = err(Selection {
            env: vec![Mapping::flag("A=B", "path")],
            ..Default::default()
        });
        assert!(e.contains("`=`"), "{e}");
    }

    #[test]
    fn oversized_env_value_is_refused() {
        let big = "x".repeat(MAX_ENV_STRING);
        let d = doc(&[("big", &big)]);
        assert!(plan(&d, &Selection::default())
            .unwrap_err()
            .to_string()
            .contains("128 KiB"));
        let sel = Selection {
            files: vec![Mapping::flag("BIG_FILE", "big")],
            ..Default::default()
        };
        assert!(plan(&d, &sel).is_ok());
    }

    #[test]
    fn mapping_syntax() {
        let m = parse_mapping("A=b/c", "--env").unwrap();
        assert_eq!((m.name.as_str(), m.path.as_str()), ("A", "b/c"));
        assert!(parse_mapping("A", "--env").is_err());
        assert!(parse_mapping("=x", "--env").is_err());
    }
}
