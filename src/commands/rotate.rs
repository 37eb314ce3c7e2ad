//! `rotate`: replace values with fresh ones, by path or every overdue one.

use std::time::SystemTime;

use serde_json::Value;

use crate::cli::RotateArgs;
use crate::document::{Node, VaultDocument};
use crate::error::{Error, Result};
use crate::lifecycle::generate::Generator;
use crate::lifecycle::policy::statuses;
use crate::output::{self, status};
use crate::secret_path::SecretPath;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Rotates the named paths, or the overdue ones.
pub fn run(ws: &Workspace, args: &RotateArgs) -> Result<ExitStatus> {
    let flag = Generator::from_flag(args.generate.as_deref())?;
    let paths: Vec<SecretPath> = args
        .paths
        .iter()
        .map(|p| super::parse_path(p))
        .collect::<Result<_>>()?;
    let mut session = ws.open_for_write()?;
    ws.check_recipient_drift(&session.doc)?;
    let (targets, needs_human) = if args.due {
        due_targets(ws, &session.doc)
    } else {
        let mut targets = Vec::new();
        for path in &paths {
            if !matches!(session.doc.get(path), Some(Node::Leaf(_))) {
                return Err(Error::msg(format!("no secret `{path}` in the vault")));
            }
            let generator = match &flag {
                Some(g) => Some(g.clone()),
                None => remembered(&session.doc, path)?,
            };
            targets.push((path.clone(), generator));
        }
        (targets, Vec::new())
    };

    let mut rotated = Vec::new();
    for (path, generator) in &targets {
        if args.dry_run {
            let how = generator
                .as_ref()
                .map_or_else(|| "a value you type".to_owned(), ToString::to_string);
            output::line(&format!("would rotate {path} ({how})"))?;
            continue;
        }
        match generator {
            Some(g) => apply_generated(&mut session.doc, path, g)?,
            None if args.due => continue,
            None => {
                if paths.len() > 1 && !crate::terminal::stdin_is_terminal() {
                    return Err(Error::msg(format!(
                        "`{path}` has no generator and several paths were given; rotate it alone with the value on stdin, or pass --generate SPEC"
                    )));
                }
                let value = super::set::read_value(&format!("New value for {path}: "), path, args.allow_empty)
                    .map_err(|e| match e {
                        // Not being asked is the likely story here (a cron job, `</dev/null`):
                        // say what rotate needs instead.
                        Error::EmptyValue { path, .. } => Error::EmptyValue {
                            path,
                            next: "it has no generator, so pipe the new value, run `agevault rotate` on a terminal, \
                                   or pass --generate SPEC",
                        },
                        other => other,
                    })?;
                if !session.doc.set(path, value).map_err(Error::msg)? {
                    // The same value again is no rotation: it stays due.
                    status(
                        ws.options.quiet,
                        &format!("`{path}` unchanged: the new value equals the old one"),
                    );
                    continue;
                }
                mark_rotated(&mut session.doc, path, None);
            }
        }
        rotated.push(path.to_string());
    }
    if !args.dry_run && !rotated.is_empty() {
        ws.commit(session)?;
        for p in &rotated {
            status(ws.options.quiet, &format!("rotated {p}"));
        }
    } else if !args.dry_run && targets.is_empty() && needs_human.is_empty() {
        status(ws.options.quiet, "nothing is due");
    }
    for p in &needs_human {
        output::line(&format!(
            "needs a human: {p} is overdue and has no generator; run `agevault rotate {p}`"
        ))?;
    }
    Ok(if needs_human.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Overdue secrets split into (path, generator) to rotate and paths needing a person.
fn due_targets(ws: &Workspace, doc: &VaultDocument) -> (Vec<(SecretPath, Option<Generator>)>, Vec<String>) {
    let config = ws.config.as_ref().map(|c| &c.file);
    let mut targets = Vec::new();
    let mut human = Vec::new();
    for s in statuses(doc, config, SystemTime::now())
        .into_iter()
        .filter(|s| s.overdue)
    {
        let generator = s.generator.as_deref().and_then(|g| Generator::parse(g).ok());
        match (SecretPath::parse(&s.path), generator) {
            (Ok(path), Some(g)) => targets.push((path, Some(g))),
            _ => human.push(s.path.clone()),
        }
    }
    (targets, human)
}

fn remembered(doc: &VaultDocument, path: &SecretPath) -> Result<Option<Generator>> {
    let spec = doc
        .meta
        .get(&path.to_string())
        .and_then(|m| m.get("generator"))
        .and_then(Value::as_str);
    spec.map(|s| {
        Generator::parse(s)
            .map_err(|e| Error::msg(format!("the generator remembered for `{path}` is invalid: {e}")))
    })
    .transpose()
}

/// Sets `path` to a generated value (and `PATH.pub` for key pairs), remembering the generator.
pub fn apply_generated(doc: &mut VaultDocument, path: &SecretPath, generator: &Generator) -> Result<()> {
    let generated = generator.generate();
    doc.set(path, generated.value).map_err(Error::msg)?;
    if let Some(public) = generated.public {
        let pub_path = SecretPath::parse(&format!("{path}.pub")).map_err(Error::msg)?;
        doc.set(&pub_path, public.as_str().into()).map_err(Error::msg)?;
    }
    mark_rotated(doc, path, Some(generator));
    Ok(())
}

/// Records the rotation (the value's `updated` stamp was set by `VaultDocument::set`).
fn mark_rotated(doc: &mut VaultDocument, path: &SecretPath, generator: Option<&Generator>) {
    let now = crate::clock::now_rfc3339();
    let meta = doc.meta.entry(path.to_string()).or_default();
    meta.insert("rotated".into(), Value::String(now));
    if let Some(g) = generator {
        meta.insert("generator".into(), Value::String(g.to_string()));
    }
}
