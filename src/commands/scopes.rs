//! `scopes …`: least-privilege vault files — list, add, grant, revoke, move, remove.

use serde::Serialize;

use crate::cli::ScopesCommand;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::{self, status};
use crate::secret_path::SecretPath;
use crate::terminal::sanitize;
use crate::workspace::Want;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Runs a `scopes` subcommand.
pub fn run(ws: &Workspace, cmd: ScopesCommand) -> Result<ExitStatus> {
    match cmd {
        ScopesCommand::List(args) => list(ws, args.json),
        ScopesCommand::Add {
            name,
            paths,
            readers,
            file,
        } => add(ws, &name, &paths, &readers, file.as_deref()),
        ScopesCommand::Grant { scope, reader } => grant(ws, &scope, &reader),
        ScopesCommand::Revoke { scope, reader } => revoke(ws, &scope, &reader),
        ScopesCommand::Move { path, to } => move_path(ws, &path, &to),
        ScopesCommand::Remove { name } => remove(ws, &name),
    }
}

#[derive(Serialize)]
struct Row {
    name: String,
    file: String,
    readers: Vec<String>,
    paths: Vec<String>,
    exists: bool,
    readable: bool,
    secrets: Option<usize>,
}

fn list(ws: &Workspace, json: bool) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let ids = ws.identities()?;
    let loaded = ws.load(&ids, Want::All, false)?;
    let router = ws.router()?;
    let mut rows = Vec::new();
    for part in loaded.parts.iter().skip(1) {
        let name = part.file.scope.clone().unwrap_or_default();
        let count = part.loaded.then(|| {
            loaded
                .doc
                .leaves()
                .filter(|(p, _)| matches!(router.scope_of(p), Ok(Some(s)) if s == name))
                .count()
        });
        rows.push(Row {
            paths: config
                .file
                .scopes
                .get(&name)
                .map(|s| s.paths.clone())
                .unwrap_or_default(),
            file: part.file.path.display().to_string(),
            readers: part.file.readers.clone(),
            exists: part.exists,
            readable: part.loaded || !part.exists,
            secrets: if part.exists { count } else { Some(0) },
            name,
        });
    }
    if json {
        output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    if rows.is_empty() {
        output::line("no scopes: every recipient reads every secret (add one with `agevault scopes add`)")?;
    }
    for r in &rows {
        let state = match (r.exists, r.readable, r.secrets) {
            (false, _, _) => "no file yet".to_owned(),
            (true, true, Some(n)) => format!("you read it ({n} secret(s))"),
            _ => "you cannot read it".to_owned(),
        };
        output::line(&format!(
            "{}\t{}\treaders: {}\tpaths: {}\t{state}",
            sanitize(&r.name),
            r.file,
            sanitize(&r.readers.join(", ")),
            sanitize(&r.paths.join(", "))
        ))?;
    }
    Ok(ExitStatus::Success)
}

/// Applies a config change and writes every vault file it affects, signed, under the
/// lock; restores the config text when anything fails.
fn change(ws: &Workspace, edit: impl FnOnce(&Config) -> Result<()>) -> Result<Config> {
    let config = ws.require_config()?;
    let session = ws.open_for_write()?;
    let before = std::fs::read(&config.path).map_err(|e| Error::io("reading config", &config.path, e))?;
    let attempt = || -> Result<Config> {
        edit(config)?;
        let changed = Config::load(&config.path)?;
        let mut session = session;
        session.config_override = Some(changed.clone());
        ws.commit_unchecked(session)?;
        Ok(changed)
    };
    attempt().inspect_err(|_| {
        let _ = crate::store::replace_atomically(&config.path, &before);
    })
}

fn scope_exists(config: &Config, name: &str) -> Result<()> {
    if config.file.scopes.contains_key(name) {
        return Ok(());
    }
    let names: Vec<String> = config.file.scopes.keys().map(|n| sanitize(n)).collect();
    Err(Error::msg(format!(
        "no scope named `{}`; scopes: {}",
        sanitize(name),
        if names.is_empty() {
            "(none)".into()
        } else {
            names.join(", ")
        }
    )))
}

fn add(
    ws: &Workspace,
    name: &str,
    paths: &[String],
    readers: &[String],
    file: Option<&str>,
) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    if let Some(problem) = crate::secret_path::segment_problem(name) {
        return Err(Error::Usage(format!("scope name `{}` {problem}", sanitize(name))));
    }
    if name == "main" {
        return Err(Error::Usage(
            "`main` names the main vault; choose another scope name".into(),
        ));
    }
    if config.file.scopes.contains_key(name) {
        return Err(Error::msg(format!("a scope named `{name}` already exists")));
    }
    let changed = change(ws, |c| c.add_scope(name, paths, readers, file))?;
    let files = crate::config::scopes::files(&changed, &ws.vault_path);
    let scope_file = files.iter().find(|f| f.scope.as_deref() == Some(name));
    route_in_git(ws, scope_file.map(|f| f.path.as_path()));
    status(
        ws.options.quiet,
        &format!(
            "added scope `{name}` ({}), read by {}; secrets it matches now live only there; commit the config, \
             the vault files and their .sig files",
            scope_file.map(|f| f.path.display().to_string()).unwrap_or_default(),
            readers.join(", ")
        ),
    );
    Ok(ExitStatus::Success)
}

/// Adds the scope file (and its signature) to .gitattributes when the vault's is there.
fn route_in_git(ws: &Workspace, file: Option<&std::path::Path>) {
    let (Some(file), Some(config)) = (file, &ws.config) else {
        return;
    };
    let Ok(rel) = file.strip_prefix(config.dir()) else {
        return;
    };
    let attributes = config.dir().join(".gitattributes");
    let Ok(text) = std::fs::read_to_string(&attributes) else {
        return;
    };
    let rel = rel.display().to_string();
    let mut text = text;
    for line in [
        format!("{rel} diff=agevault merge=agevault"),
        format!("{rel}.sig merge=agevault-sig"),
    ] {
        if !text.lines().any(|l| l.trim() == line) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    let _ = crate::store::replace_atomically(&attributes, text.as_bytes());
}

fn grant(ws: &Workspace, scope: &str, reader: &str) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    scope_exists(config, scope)?;
    let mut readers = config.file.scopes[scope].readers.clone();
    if readers.iter().any(|r| r == reader) {
        status(
            ws.options.quiet,
            &format!("`{reader}` already reads scope `{scope}`"),
        );
        return Ok(ExitStatus::Success);
    }
    readers.push(reader.to_owned());
    change(ws, |c| c.set_scope_list(scope, "readers", &readers))?;
    status(
        ws.options.quiet,
        &format!("`{reader}` now reads scope `{scope}`; only its file was re-encrypted"),
    );
    Ok(ExitStatus::Success)
}

fn revoke(ws: &Workspace, scope: &str, reader: &str) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    scope_exists(config, scope)?;
    let mut readers = config.file.scopes[scope].readers.clone();
    if !readers.iter().any(|r| r == reader) {
        return Err(Error::msg(format!(
            "`{}` is not among the readers of scope `{scope}` ({})",
            sanitize(reader),
            readers.join(", ")
        )));
    }
    readers.retain(|r| r != reader);
    if readers.is_empty() {
        return Err(Error::msg(format!(
            "`{reader}` is the last reader of scope `{scope}`; grant another reader first"
        )));
    }
    let exposed = scope_paths(ws, scope)?;
    change(ws, |c| c.set_scope_list(scope, "readers", &readers))?;
    status(
        ws.options.quiet,
        &format!(
            "`{reader}` no longer reads scope `{scope}`; it could read these {} secret(s), rotate them (old versions \
             stay readable in git history):",
            exposed.len()
        ),
    );
    for p in &exposed {
        output::line(p)?;
    }
    Ok(ExitStatus::Success)
}

/// The secret paths in `scope` (the caller must read it).
fn scope_paths(ws: &Workspace, scope: &str) -> Result<Vec<String>> {
    let ids = ws.identities()?;
    let loaded = ws.load(&ids, Want::All, false)?;
    if let Some(p) = loaded
        .parts
        .iter()
        .find(|p| p.file.scope.as_deref() == Some(scope) && p.unreadable.is_some())
    {
        return Err(
            Error::NoMatchingIdentity(p.unreadable.clone().unwrap_or_default())
                .with_hint("only one of its readers can change who reads it; ask one of them"),
        );
    }
    let router = ws.router()?;
    Ok(loaded
        .doc
        .leaves()
        .map(|(p, _)| p)
        .filter(|p| matches!(router.scope_of(p), Ok(Some(s)) if s == scope))
        .collect())
}

fn move_path(ws: &Workspace, path: &str, to: &str) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let parsed = SecretPath::parse(path).map_err(Error::Usage)?;
    let path = parsed.to_string();
    let target = (to != "main").then_some(to);
    if let Some(t) = target {
        scope_exists(config, t)?;
    }
    let doc = ws.read_document()?;
    let leaves: Vec<String> = doc
        .leaves()
        .map(|(p, _)| p)
        .filter(|p| *p == path || p.starts_with(&format!("{path}/")))
        .collect();
    if leaves.is_empty() {
        return Err(Error::msg(format!("no secret at or below `{path}`")));
    }
    let router = ws.router()?;
    let mut sources = std::collections::BTreeSet::new();
    for leaf in &leaves {
        if let Some(s) = router.scope_of(leaf).map_err(Error::msg)? {
            sources.insert(s.to_owned());
        }
    }
    let is_namespace = leaves.iter().any(|l| *l != path);
    let patterns: Vec<String> = if is_namespace {
        vec![path.clone(), format!("{path}/**")]
    } else {
        vec![path.clone()]
    };
    change(ws, |c| {
        for source in &sources {
            if Some(source.as_str()) == target {
                continue;
            }
            let mut globs = c.file.scopes[source].paths.clone();
            globs.retain(|g| !patterns.contains(g));
            globs.extend(patterns.iter().map(|p| format!("!{p}")));
            c.set_scope_list(source, "paths", &globs)?;
        }
        if let Some(t) = target {
            let current = Config::load(&c.path)?;
            let mut globs = current.file.scopes[t].paths.clone();
            globs.retain(|g| !patterns.iter().any(|p| *g == format!("!{p}")));
            for p in &patterns {
                if !globs.contains(p) {
                    globs.push(p.clone());
                }
            }
            current.set_scope_list(t, "paths", &globs)?;
        }
        Ok(())
    })?;
    status(
        ws.options.quiet,
        &format!(
            "moved {} secret(s) at `{path}` to {}; commit the config and the vault files",
            leaves.len(),
            target.map_or_else(|| "the main vault".to_owned(), |t| format!("scope `{t}`"))
        ),
    );
    Ok(ExitStatus::Success)
}

fn remove(ws: &Workspace, name: &str) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    scope_exists(config, name)?;
    let paths = scope_paths(ws, name)?;
    if !paths.is_empty() {
        return Err(Error::msg(format!(
            "scope `{name}` still holds {} secret(s) (e.g. `{}`); move them first (`agevault scopes move PATH --to \
             main`) or remove them",
            paths.len(),
            paths[0]
        )));
    }
    let file = crate::config::scopes::files(config, &ws.vault_path)
        .into_iter()
        .find(|f| f.scope.as_deref() == Some(name));
    change(ws, |c| c.remove_scope(name))?;
    if let Some(f) = file {
        let _ = std::fs::remove_file(crate::trust::sig_path(&f.path));
        let _ = std::fs::remove_file(&f.path);
    }
    status(ws.options.quiet, &format!("removed scope `{name}` and its file"));
    Ok(ExitStatus::Success)
}
