//! Which secret goes to which variable, checked completely before anything runs.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::config::ExecProfile;
use crate::document::{leaf_paths, Node, VaultDocument};
use crate::error::{Error, Result};
use crate::secret_path::SecretPath;

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

/// What the user asked for.
#[derive(Default)]
pub struct Selection {
    /// `--only` prefixes (plus the profile's `only`).
    pub only: Vec<String>,
    /// `--env NAME=PATH` and the profile's `env`.
    pub env: Vec<(String, String)>,
    /// `--file NAME=PATH` and the profile's `files`.
    pub files: Vec<(String, String)>,
    /// Whether a profile was used (a profile without `only` selects nothing by default).
    pub profile: bool,
    /// Allow secrets to set PATH, LD_PRELOAD and friends.
    pub allow_override: bool,
}

impl Selection {
    /// Adds a profile's maps.
    pub fn add_profile(&mut self, profile: &ExecProfile) {
        self.profile = true;
        self.only.extend(profile.only.iter().cloned());
        self.env
            .extend(profile.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.files
            .extend(profile.files.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// Splits `NAME=PATH`.
pub fn parse_mapping(text: &str, flag: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok((name.to_owned(), path.to_owned())),
        _ => Err(Error::Usage(format!(
            "{flag} expects NAME=PATH, got `{}`",
            crate::terminal::sanitize(text)
        ))),
    }
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

/// Variables that change how programs are loaded or shells behave: a secret
/// setting one could run code, so it needs `--allow-override`.
fn is_sensitive(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "CDPATH",
        "ZDOTDIR",
        "GCONV_PATH",
        "GLIBC_TUNABLES",
        "LOCPATH",
        "NLSPATH",
        "HOSTALIASES",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "PERL5DB",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "DOTNET_STARTUP_HOOKS",
        "LUA_INIT",
        "PHPRC",
        "PHP_INI_SCAN_DIR",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "BROWSER",
    ];
    const PREFIXES: &[&str] = &["LD_", "DYLD_", "MALLOC_", "GIT_", "LUA_INIT_", "AGEVAULT_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Resolves the selection against the document: every error is found here, before the child exists.
pub fn plan<'a>(doc: &'a VaultDocument, sel: &Selection) -> Result<Vec<Injection<'a>>> {
    let mut by_name: BTreeMap<String, Injection<'a>> = BTreeMap::new();
    let allow_override = sel.allow_override;
    let add = |by_name: &mut BTreeMap<String, Injection<'a>>, inj: Injection<'a>| -> Result<()> {
        if let Some(problem) = env_name_problem(&inj.name) {
            return Err(Error::msg(format!(
                "variable name `{}` for `{}` {problem}",
                crate::terminal::sanitize(&inj.name),
                inj.path
            )));
        }
        if is_sensitive(&inj.name) && !allow_override {
            return Err(Error::msg(format!(
                "`{}` would set {}, which changes how programs load; pass --allow-override if that is intended",
                inj.path, inj.name
            )));
        }
        if let Some(prev) = by_name.get(&inj.name) {
            if prev.path != inj.path || prev.delivery != inj.delivery {
                return Err(Error::msg(format!(
                    "`{}` and `{}` both map to variable {}; rename one or map it explicitly with --env NAME=PATH",
                    prev.path, inj.path, inj.name
                )));
            }
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
        by_name.insert(inj.name.clone(), inj);
        Ok(())
    };

    let explicit = !sel.env.is_empty() || !sel.files.is_empty() || sel.profile;
    let prefixes: Vec<String> = if sel.only.is_empty() && !explicit {
        leaf_paths(&doc.secrets)
    } else {
        let mut paths = Vec::new();
        for prefix in &sel.only {
            let p = SecretPath::parse(prefix).map_err(Error::Usage)?;
            match doc.get(&p) {
                Some(Node::Leaf(_)) => paths.push(p.to_string()),
                Some(Node::Tree(t)) => paths.extend(leaf_paths(t).into_iter().map(|s| format!("{p}/{s}"))),
                None => return Err(Error::msg(format!("--only `{p}` matches no secret in the vault"))),
            }
        }
        paths
    };
    for path in prefixes {
        let value = leaf(doc, &path)?;
        add(
            &mut by_name,
            Injection {
                name: derive_env_name(&path),
                path,
                value,
                delivery: Delivery::Env,
            },
        )?;
    }
    for (list, delivery) in [(&sel.env, Delivery::Env), (&sel.files, Delivery::File)] {
        for (name, path) in list {
            let value = leaf(doc, path)?;
            // An explicit mapping wins over a derived one of the same name.
            if by_name
                .get(name)
                .is_some_and(|prev| prev.delivery == Delivery::Env && prev.path == *path)
            {
                by_name.remove(name);
            }
            add(
                &mut by_name,
                Injection {
                    name: name.clone(),
                    path: path.clone(),
                    value,
                    delivery,
                },
            )?;
        }
    }
    Ok(by_name.into_values().collect())
}

fn leaf<'a>(doc: &'a VaultDocument, path: &str) -> Result<&'a SecretString> {
    let p = SecretPath::parse(path).map_err(Error::Usage)?;
    match doc.get(&p) {
        Some(Node::Leaf(v)) => Ok(v),
        Some(Node::Tree(_)) => Err(Error::msg(format!(
            "`{p}` is a namespace, not a secret; name a leaf or use --only {p}"
        ))),
        None => Err(Error::msg(format!("no secret `{p}` in the vault"))),
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
            env: vec![("X".into(), "a/x".into())],
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
            env: vec![("X".into(), "ns".into())],
            ..Default::default()
        });
        assert!(e.contains("namespace"), "{e}");
        let e = err(Selection {
            env: vec![("X".into(), "nope".into())],
            ..Default::default()
        });
        assert!(e.contains("no secret"), "{e}");
        let e = err(Selection {
            env: vec![("LD_PRELOAD".into(), "path".into())],
            ..Default::default()
        });
        assert!(e.contains("--allow-override"), "{e}");
        let e = err(Selection {
            env: vec![("A=B".into(), "path".into())],
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
            files: vec![("BIG_FILE".into(), "big".into())],
            ..Default::default()
        };
        assert!(plan(&d, &sel).is_ok());
    }

    #[test]
    fn mapping_syntax() {
        assert_eq!(
            parse_mapping("A=b/c", "--env").unwrap(),
            ("A".into(), "b/c".into())
        );
        assert!(parse_mapping("A", "--env").is_err());
        assert!(parse_mapping("=x", "--env").is_err());
    }
}
