//! `set PATH`: a value from stdin or a hidden prompt, never from argv.

use secrecy::ExposeSecret;

use crate::cli::SetArgs;
use crate::error::{Error, Result};
use crate::lifecycle::rotation;
use crate::output::status;
use crate::terminal;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Sets one secret.
pub fn run(ws: &Workspace, args: &SetArgs) -> Result<ExitStatus> {
    check_usage(args)?;
    let path = &args.path;
    let generator = args.generate.clone();
    // Read before locking: a prompt must not hold other writers up.
    let value = match generator {
        None => Some(terminal::read_value(
            &format!("Value for {path}: "),
            &path.to_string(),
            args.allow_empty,
        )?),
        Some(_) => None,
    };
    let mut session = ws.open_for_write()?;
    if let (Some(config), Some(v), false) = (&ws.config, &value, args.force) {
        let refusals = crate::lifecycle::validate::refusals(
            &config.file,
            &session.doc,
            &path.to_string(),
            v.expose_secret(),
        );
        if !refusals.is_empty() {
            return Err(
                Error::msg(format!("{}; nothing was changed", refusals.join("; ")))
                    .with_hint("pass --force to store it anyway"),
            );
        }
    }
    let changed = match (&generator, value) {
        (Some(g), _) => {
            rotation::apply_generated(&mut session.doc, path, g)?;
            true
        }
        (None, Some(value)) => session.doc.set(path, value).map_err(Error::msg)?,
        (None, None) => false,
    };
    let written = ws.commit(session)?;
    let what = if changed && written { "set" } else { "unchanged" };
    status(ws.options.quiet, &format!("{what} `{path}`"));
    Ok(ExitStatus::Success)
}

/// The usage error of `set` clap cannot express (the path and `--generate` are parsed
/// by clap): a value in argv.
pub fn check_usage(args: &SetArgs) -> Result<()> {
    if args.value.is_some() {
        return Err(Error::Usage(
            "refusing a value on the command line: argv is visible to every user in /proc and lands in shell \
             history; pipe it on stdin (`printf %s \"$V\" | agevault set PATH`) or type it at the prompt"
                .into(),
        ));
    }
    Ok(())
}
