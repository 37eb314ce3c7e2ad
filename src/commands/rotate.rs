//! `rotate`: replace values with fresh ones — by path, every overdue one (`--due`),
//! or everything a removed recipient could read (`--exposed-to`, `incident`) — then run
//! the paths' `after_rotate` hooks before the new values replace the old ones.

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};

use crate::cli::RotateArgs;
use crate::config::{ConfigFile, Hook};
use crate::document::{Node, VaultDocument};
use crate::error::{Error, Result};
use crate::exec::hook::HookEnd;
use crate::exec::{self, Delivery, Injection, LaunchOptions, Mapping, Selection};
use crate::lifecycle::exposure::exposures;
use crate::lifecycle::generate::{Generated, Generator};
use crate::lifecycle::policy::{best_match, statuses};
use crate::lifecycle::rotation::{self, NEXT_SUFFIX};
use crate::output::{self, status};
use crate::progress::Progress;
use crate::secret_path::SecretPath;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// How long a hook may run when its table sets no timeout.
const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// What one rotation run asks for beyond its targets.
struct Options {
    keep_previous: Option<Duration>,
    force: bool,
    allow_empty: bool,
    dry_run: bool,
}

/// Rotates the named paths, the overdue ones, or those exposed to a removed recipient.
pub fn run(ws: &Workspace, args: &RotateArgs) -> Result<ExitStatus> {
    let flag = args.generate.as_ref();
    let keep_previous = args
        .keep_previous
        .as_deref()
        .map(|d| crate::clock::parse_duration(d).map_err(|e| Error::Usage(format!("--keep-previous: {e}"))))
        .transpose()?;
    let opts = Options {
        keep_previous,
        force: args.force,
        allow_empty: args.allow_empty,
        dry_run: args.dry_run,
    };
    let paths = &args.paths;
    if let Some(name) = &args.exposed_to {
        return incident(ws, name, &opts);
    }
    if args.retry_hooks {
        return retry_hooks(ws, paths, &opts);
    }
    let doc = ws.read_document()?;
    let (targets, needs_human) = if args.due {
        due_targets(ws, &doc)
    } else {
        let mut targets = Vec::new();
        for path in paths {
            if !matches!(doc.get(path), Some(Node::Leaf(_))) {
                return Err(Error::msg(format!("no secret `{path}` in the vault"))
                    .with_hint("`agevault ls` lists the secrets you can read"));
            }
            let generator = match flag {
                Some(g) => Some(g.clone()),
                None => remembered(&doc, path)?,
            };
            targets.push((path.clone(), generator));
        }
        (targets, Vec::new())
    };
    drop(doc);
    if args.due && targets.is_empty() && needs_human.is_empty() {
        status(ws.options.quiet, "nothing is due");
        return Ok(ExitStatus::Success);
    }
    let outcome = rotate_targets(ws, &targets, &opts)?;
    for p in &needs_human {
        output::line(&format!(
            "needs a human: {p} is overdue or exposed and has no generator; run `agevault rotate {p}`"
        ))?;
    }
    Ok(if needs_human.is_empty() && outcome.failed_hooks == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// `rotate --exposed-to NAME` / `incident NAME`: re-key without NAME if it is still a
/// recipient, rotate every generator-backed value it could read, run their hooks, list
/// what needs a human; exit 1 while anything stays exposed.
pub fn incident_run(ws: &Workspace, name: &str, dry_run: bool) -> Result<ExitStatus> {
    incident(
        ws,
        name,
        &Options {
            keep_previous: None,
            force: false,
            allow_empty: false,
            dry_run,
        },
    )
}

fn incident(ws: &Workspace, name: &str, opts: &Options) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let resolved;
    let ws = if config.file.recipients.contains_key(name) {
        if opts.dry_run {
            output::line(&format!(
                "would remove recipient `{name}` and re-encrypt the vault without it"
            ))?;
            ws
        } else {
            crate::lifecycle::offboard::offboard(ws, name, false)?;
            // The config on disk changed: work from it from now on.
            resolved = Workspace::resolve(ws.options.clone())?;
            &resolved
        }
    } else {
        ws
    };
    let doc = ws.read_document()?;
    let config_file = ws.config.as_ref().map(|c| &c.file);
    let known = doc.was_offboarded_name(name)
        || (opts.dry_run && config_file.is_some_and(|c| c.recipients.contains_key(name)));
    if !known {
        return Err(Error::msg(format!(
            "`{}` is neither a configured recipient nor one removed with `agevault recipients remove`",
            crate::terminal::sanitize(name)
        )));
    }
    let exposed: Vec<String> = if opts.dry_run && !doc.was_offboarded_name(name) {
        // Not removed yet: everything non-public it reads now.
        doc.leaves()
            .map(|(p, _)| p)
            .filter(|p| !crate::lifecycle::exposure::is_public(p, config_file))
            .collect()
    } else {
        exposed_to(&doc, config_file, name)
    };
    let (targets, human) = split_by_generator(&doc, &exposed)?;
    drop(doc);
    // An exposed value is never kept as `.previous`: it is the leaked one.
    let no_overlap = Options {
        keep_previous: None,
        ..*opts
    };
    rotate_targets(ws, &targets, &no_overlap)?;
    if opts.dry_run {
        for p in &human {
            output::line(&format!("needs a human: {p} (no generator)"))?;
        }
        return Ok(ExitStatus::Success);
    }
    report_still_exposed(ws, name)
}

/// The paths whose current value `name` could read (see `exposures`).
fn exposed_to(doc: &VaultDocument, config: Option<&ConfigFile>, name: &str) -> Vec<String> {
    exposures(doc, config, SystemTime::now())
        .into_iter()
        .filter(|(_, list)| list.iter().any(|e| e.name == name))
        .map(|(p, _)| p)
        .collect()
}

/// `paths` split into those with a remembered generator (rotation targets) and those
/// that need a human.
fn split_by_generator(doc: &VaultDocument, paths: &[String]) -> Result<(Vec<Target>, Vec<String>)> {
    let mut targets = Vec::new();
    let mut human = Vec::new();
    for path in paths {
        let parsed = SecretPath::parse(path).map_err(Error::msg)?;
        match remembered(doc, &parsed).ok().flatten() {
            Some(g) => targets.push((parsed, Some(g))),
            None => human.push(path.clone()),
        }
    }
    Ok((targets, human))
}

/// After an incident's rotation: each secret still exposed to `name`, with what a
/// person must do about it; a failure while any is left.
fn report_still_exposed(ws: &Workspace, name: &str) -> Result<ExitStatus> {
    // What is left is decided from the vault as it is now, not from what we meant to do.
    let doc = ws.read_document()?;
    let remaining = exposed_to(&doc, ws.config.as_ref().map(|c| &c.file), name);
    for p in &remaining {
        let how = if p.ends_with(rotation::PREVIOUS_SUFFIX) {
            format!("remove it with `agevault rm {p}` once nothing needs the old value")
        } else if rotation::staged(&doc, &SecretPath::parse(p).map_err(Error::msg)?).is_some() {
            format!("its hook failed; fix it and run `agevault rotate --retry-hooks {p}`")
        } else {
            format!(
                "it has no generator: change it at its source, then `agevault rotate {p}` (value on stdin)"
            )
        };
        output::line(&format!("needs a human: {p} is still exposed to `{name}`; {how}"))?;
    }
    if remaining.is_empty() {
        status(
            ws.options.quiet,
            &format!("nothing in the vault is exposed to `{name}` any more (old versions stay readable in git history)"),
        );
        Ok(ExitStatus::Success)
    } else {
        status(
            ws.options.quiet,
            &format!("{} secret(s) are still exposed to `{name}`", remaining.len()),
        );
        Ok(ExitStatus::Failure)
    }
}

struct Outcome {
    failed_hooks: usize,
}

/// A path to rotate, and the generator that makes its new value (`None`: a person
/// types it).
type Target = (SecretPath, Option<Generator>);

/// Stages a new value for every target, promotes those without a hook at once, commits,
/// then runs the hooks and promotes the values whose hook succeeded.
fn rotate_targets(ws: &Workspace, targets: &[Target], opts: &Options) -> Result<Outcome> {
    if targets.is_empty() {
        return Ok(Outcome { failed_hooks: 0 });
    }
    let config = ws.config.as_ref().map(|c| &c.file);
    if opts.dry_run {
        print_dry_run(config, targets)?;
        return Ok(Outcome { failed_hooks: 0 });
    }
    // Values typed by a person are read before locking: a prompt must not hold other writers up.
    let typed = read_typed_values(targets, opts)?;
    let mut session = ws.open_for_write()?;
    ws.check_recipient_drift(&session.doc)?;
    let mut rotated = Vec::new();
    let mut hooked = Vec::new();
    // Key and certificate generators take a moment each: a bar when there are several.
    let progress = if targets.len() > 1 {
        Progress::bar(ws.options.quiet, targets.len() as u64, "generating new values")
    } else {
        Progress::hidden()
    };
    for ((path, generator), value) in targets.iter().zip(typed) {
        progress.inc();
        progress.message(path.to_string());
        let Some(generated) = new_value(ws, &session.doc, path, generator.as_ref(), value)? else {
            continue;
        };
        if stage_new_value(
            &mut session.doc,
            config,
            path,
            generated,
            generator.as_ref(),
            opts,
        )? {
            hooked.push(path.clone());
        } else {
            rotated.push(path.clone());
        }
    }
    if rotated.is_empty() && hooked.is_empty() {
        return Ok(Outcome { failed_hooks: 0 });
    }
    progress.message("encrypting and signing");
    ws.commit(session)?;
    progress.finish();
    for p in &rotated {
        status(ws.options.quiet, &format!("rotated {p}"));
    }
    let failed = run_hooks_and_promote(ws, &hooked, opts)?;
    Ok(Outcome { failed_hooks: failed })
}

/// --dry-run: one line per target saying how its value would be made.
fn print_dry_run(config: Option<&ConfigFile>, targets: &[Target]) -> Result<()> {
    for (path, generator) in targets {
        let how = generator
            .as_ref()
            .map_or_else(|| "a value you type".to_owned(), ToString::to_string);
        let hook = if hook_for(config, path).is_some() {
            ", then its after_rotate hook"
        } else {
            ""
        };
        output::line(&format!("would rotate {path} ({how}){hook}"))?;
    }
    Ok(())
}

/// Reads the new value of each target without a generator (`None` for the others).
fn read_typed_values(targets: &[Target], opts: &Options) -> Result<Vec<Option<SecretString>>> {
    let mut typed: Vec<Option<SecretString>> = Vec::new();
    for (path, generator) in targets {
        typed.push(if generator.is_some() { None } else {
            if targets.len() > 1 && !crate::terminal::stdin_is_terminal() {
                return Err(Error::msg(format!(
                    "`{path}` has no generator and several paths were given; rotate it alone with the value on stdin, or pass --generate SPEC"
                )));
            }
            Some(read_typed(path, opts.allow_empty)?)
        });
    }
    Ok(typed)
}

/// The new value of `path`: generated, or the typed `value`; `None` when a typed value
/// equals the old one (no rotation: it stays due).
fn new_value(
    ws: &Workspace,
    doc: &VaultDocument,
    path: &SecretPath,
    generator: Option<&Generator>,
    value: Option<SecretString>,
) -> Result<Option<Generated>> {
    Ok(match (generator, value) {
        (Some(g), _) => Some(g.generate()?),
        (None, Some(v)) => {
            if matches!(doc.get(path), Some(Node::Leaf(old)) if old.expose_secret() == v.expose_secret()) {
                // The same value again is no rotation: it stays due.
                status(
                    ws.options.quiet,
                    &format!("`{path}` unchanged: the new value equals the old one"),
                );
                return Ok(None);
            }
            Some(Generated {
                value: v,
                public: None,
                public_suffix: ".pub",
            })
        }
        (None, None) => None,
    })
}

/// Stages `generated` as the next value of `path` and, when no hook has to run first,
/// promotes it at once; without --force, refuses a value the config's rules refuse.
/// Returns whether a hook waits for it.
fn stage_new_value(
    doc: &mut VaultDocument,
    config: Option<&ConfigFile>,
    path: &SecretPath,
    generated: Generated,
    generator: Option<&Generator>,
    opts: &Options,
) -> Result<bool> {
    rotation::stage(doc, path, generated, generator).map_err(Error::msg)?;
    let hooked_path = hook_for(config, path).is_some();
    if !hooked_path {
        rotation::promote(doc, path, opts.keep_previous).map_err(Error::msg)?;
    }
    // Checked in place, so a key is compared with the certificate generated with it.
    if let (Some(c), false) = (config, opts.force) {
        let value = if hooked_path {
            rotation::staged(doc, path)
        } else {
            match doc.get(path) {
                Some(Node::Leaf(v)) => Some(SecretString::from(v.expose_secret())),
                _ => None,
            }
        };
        if let Some(value) = value {
            let refusals =
                crate::lifecycle::validate::refusals(c, doc, &path.to_string(), value.expose_secret());
            if !refusals.is_empty() {
                return Err(
                    Error::msg(format!("{}; nothing was changed", refusals.join("; ")))
                        .with_hint("pass --force to store it anyway"),
                );
            }
        }
    }
    Ok(hooked_path)
}

/// `rotate --retry-hooks [PATH…]`: runs the hooks of staged values again.
fn retry_hooks(ws: &Workspace, paths: &[SecretPath], opts: &Options) -> Result<ExitStatus> {
    let doc = ws.read_document()?;
    let staged = rotation::staged_paths(&doc);
    let chosen: Vec<SecretPath> = if paths.is_empty() {
        staged
    } else {
        for p in paths {
            if !staged.contains(p) {
                return Err(Error::msg(format!(
                    "`{p}` has no staged value waiting for its hook"
                )));
            }
        }
        paths.to_vec()
    };
    drop(doc);
    if chosen.is_empty() {
        status(ws.options.quiet, "no staged value waits for a hook");
        return Ok(ExitStatus::Success);
    }
    let failed = run_hooks_and_promote(ws, &chosen, opts)?;
    Ok(if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Runs each path's hook with its old and staged values; promotes the successful ones.
/// Returns how many failed.
fn run_hooks_and_promote(ws: &Workspace, paths: &[SecretPath], opts: &Options) -> Result<usize> {
    if paths.is_empty() {
        return Ok(0);
    }
    let config = ws.require_config()?;
    let doc = ws.read_document()?;
    let mut succeeded = Vec::new();
    let mut failed = 0;
    // Hooks restart services and can take a while each: a bar when several run. It is
    // taken off the screen while a hook runs, since the hook may write to the terminal.
    let progress = if paths.len() > 1 {
        Progress::bar(ws.options.quiet, paths.len() as u64, "after_rotate hooks")
    } else {
        Progress::hidden()
    };
    for path in paths {
        progress.inc();
        progress.message(path.to_string());
        let Some((pattern, hook)) = hook_for(Some(&config.file), path) else {
            // The hook was removed from the config: nothing to run, the value is ready.
            succeeded.push((path.clone(), staged_digest(&doc, path)));
            continue;
        };
        let result = progress.suspend(|| {
            status(
                ws.options.quiet,
                &format!("running the after_rotate hook of `{path}` ([hooks.\"{pattern}\"])"),
            );
            run_hook(&doc, path, hook)
        });
        match result {
            Ok(()) => succeeded.push((path.clone(), staged_digest(&doc, path))),
            Err(why) => {
                failed += 1;
                crate::diagnostics::error(
                    &format!(
                        "the after_rotate hook of `{path}` {why}: the new value stays staged at \
                         `{path}{NEXT_SUFFIX}` and `{path}` still holds the old one, so consumers keep working"
                    ),
                    Some(&format!(
                        "fix the cause and run `agevault rotate --retry-hooks {path}` (make the hook safe to run twice)"
                    )),
                );
            }
        }
    }
    drop(doc);
    progress.finish();
    if succeeded.is_empty() {
        return Ok(failed);
    }
    let mut session = ws.open_for_write()?;
    let mut promoted = Vec::new();
    for (path, digest) in &succeeded {
        // Promote only the value the hook was given: another rotation may have staged a newer one.
        if staged_digest(&session.doc, path) != *digest {
            crate::diagnostics::warning(&format!(
                "`{path}` was staged again while its hook ran; run `agevault rotate --retry-hooks {path}`"
            ));
            failed += 1;
            continue;
        }
        if rotation::promote(&mut session.doc, path, opts.keep_previous).map_err(Error::msg)? {
            promoted.push(path);
        }
    }
    ws.commit(session)?;
    for p in promoted {
        status(ws.options.quiet, &format!("rotated {p} (hook succeeded)"));
    }
    Ok(failed)
}

fn staged_digest(doc: &VaultDocument, path: &SecretPath) -> Option<[u8; 32]> {
    use sha2::Digest;
    rotation::staged(doc, path).map(|v| sha2::Sha256::digest(v.expose_secret().as_bytes()).into())
}

/// The hook that applies to `path`: an exact `[hooks."PATH"]`, else the most specific glob.
pub fn hook_for<'a>(
    config: Option<&'a crate::config::ConfigFile>,
    path: &SecretPath,
) -> Option<(&'a str, &'a Hook)> {
    config.and_then(|c| best_match(&c.hooks, &path.to_string()))
}

/// Runs one hook with the exec machinery: the hook's own env/files mappings, plus the old
/// and new values as memory files (AGEVAULT_OLD_FILE, AGEVAULT_NEW_FILE) or variables
/// (AGEVAULT_OLD, AGEVAULT_NEW), and AGEVAULT_PATH. Never in argv.
fn run_hook(doc: &VaultDocument, path: &SecretPath, hook: &Hook) -> std::result::Result<(), String> {
    let new = rotation::staged(doc, path).ok_or("has no staged value to apply")?;
    let old = match doc.get(path) {
        Some(Node::Leaf(v)) => SecretString::from(v.expose_secret()),
        _ => SecretString::from(""),
    };
    let name = SecretString::from(path.to_string());
    let mapping = |(k, v): (&String, &String)| Mapping {
        name: k.clone(),
        path: v.clone(),
        profile: None,
    };
    let selection = Selection {
        env: hook.env.iter().map(mapping).collect(),
        files: hook.files.iter().map(mapping).collect(),
        // A hook gets exactly what its table maps, nothing derived.
        explicit_only: Some("a hook".into()),
        ..Selection::default()
    };
    // An empty selection means "every secret" to `exec`; a hook with no mappings gets none.
    let mut injections = if selection.env.is_empty() && selection.files.is_empty() {
        Vec::new()
    } else {
        exec::plan(doc, &selection).map_err(|e| format!("cannot be prepared: {e}"))?
    };
    let (old_name, new_name, delivery) = match hook.values.as_deref() {
        Some("env") => ("AGEVAULT_OLD", "AGEVAULT_NEW", Delivery::Env),
        _ => ("AGEVAULT_OLD_FILE", "AGEVAULT_NEW_FILE", Delivery::File),
    };
    let path_text = path.to_string();
    for (var, value, delivery) in [
        (old_name, &old, delivery),
        (new_name, &new, delivery),
        ("AGEVAULT_PATH", &name, Delivery::Env),
    ] {
        injections.push(Injection {
            name: var.to_owned(),
            path: path_text.clone(),
            value,
            delivery,
        });
    }
    let timeout = hook
        .timeout
        .as_deref()
        .and_then(|t| crate::clock::parse_duration(t).ok())
        .unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let end = exec::hook::run(
        &hook.after_rotate,
        &injections,
        &LaunchOptions {
            files_as: exec::FilesAs::Tmpfs,
            clean_env: hook.clean_env,
            mask: true,
            allow_disk: false,
            supervise: false,
        },
        timeout,
    )
    .map_err(|e| format!("could not run: {e}"))?;
    match end {
        HookEnd::Exited(exit) if exit.success() => Ok(()),
        HookEnd::Exited(exit) => Err(format!("failed (exit {})", exit.shell_code())),
        HookEnd::TimedOut => Err(format!(
            "timed out after {} and was killed",
            crate::lifecycle::policy::human_age(timeout.as_secs())
        )),
    }
}

fn read_typed(path: &SecretPath, allow_empty: bool) -> Result<SecretString> {
    let prompt = format!("New value for {path}: ");
    crate::terminal::read_value(&prompt, &path.to_string(), allow_empty).map_err(|e| match e {
        // Not being asked is the likely story here (a cron job, `</dev/null`):
        // say what rotate needs instead.
        e if matches!(e.kind(), Error::EmptyValue { .. }) => e.with_hint(
            "it has no generator, so pipe the new value, run `agevault rotate` on a terminal, or pass --generate SPEC",
        ),
        other => other,
    })
}

/// Overdue and exposed secrets split into (path, generator) to rotate and paths needing a person.
fn due_targets(ws: &Workspace, doc: &VaultDocument) -> (Vec<Target>, Vec<String>) {
    let config = ws.config.as_ref().map(|c| &c.file);
    let mut targets = Vec::new();
    let mut human = Vec::new();
    for s in statuses(doc, config, SystemTime::now())
        .into_iter()
        .filter(|s| s.overdue || !s.exposed_to.is_empty())
    {
        // A staged value waits for its hook (`--retry-hooks`), an old one for its window.
        if s.path.ends_with(NEXT_SUFFIX) {
            continue;
        }
        let generator = s.generator.as_deref().and_then(|g| Generator::parse(g).ok());
        match (SecretPath::parse(&s.path), generator) {
            (Ok(path), Some(g)) => targets.push((path, Some(g))),
            _ => human.push(s.path.clone()),
        }
    }
    (targets, human)
}

fn remembered(doc: &VaultDocument, path: &SecretPath) -> Result<Option<Generator>> {
    let spec = doc.meta(&path.to_string()).and_then(|m| m.generator());
    spec.map(|s| {
        Generator::parse(s)
            .map_err(|e| Error::msg(format!("the generator remembered for `{path}` is invalid: {e}")))
    })
    .transpose()
}
