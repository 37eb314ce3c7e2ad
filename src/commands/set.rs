//! `set PATH`: a value from stdin or a hidden prompt, never from argv.

use secrecy::ExposeSecret;

use crate::cli::SetArgs;
use crate::error::{Error, Result};
use crate::lifecycle::generate::Generator;
use crate::lifecycle::rotation;
use crate::output::status;
use crate::secret_path::SecretPath;
use crate::terminal;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Sets one secret.
pub fn run(ws: &Workspace, args: &SetArgs) -> Result<ExitStatus> {
    let path = check_usage(args)?;
    let generator = Generator::from_flag(args.generate.as_deref())?;
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
            return Err(Error::msg(format!(
                "{}; nothing was changed (pass --force to store it anyway)",
                refusals.join("; ")
            )));
        }
    }
    let changed = match (&generator, value) {
        (Some(g), _) => {
            rotation::apply_generated(&mut session.doc, &path, g)?;
            true
        }
        (None, Some(value)) => session.doc.set(&path, value).map_err(Error::msg)?,
        (None, None) => false,
    };
    let written = ws.commit(session)?;
    let what = if changed && written { "set" } else { "unchanged" };
    status(ws.options.quiet, &format!("{what} `{path}`"));
    Ok(ExitStatus::Success)
}

/// The usage errors of `set`, which need no workspace: a value in argv, a bad path.
pub fn check_usage(args: &SetArgs) -> Result<SecretPath> {
    if args.value.is_some() {
        return Err(Error::Usage(
            "refusing a value on the command line: argv is visible to every user in /proc and lands in shell \
             history; pipe it on stdin (`printf %s \"$V\" | agevault set PATH`) or type it at the prompt"
                .into(),
        ));
    }
    if let Some(spec) = &args.generate {
        Generator::parse(spec).map_err(Error::Usage)?;
    }
    super::parse_path(&args.path)
}
