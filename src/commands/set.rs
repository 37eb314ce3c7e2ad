//! `set PATH`: a value from stdin or a hidden prompt, never from argv.

use std::io::Read;

use secrecy::{ExposeSecret, SecretString};

use crate::cli::SetArgs;
use crate::error::{Error, Result};
use crate::output::status;
use crate::secret_buf::SecretBuf;
use crate::secret_path::SecretPath;
use crate::terminal;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// The largest value `set` accepts (age itself limits some inputs to 16 MiB).
const MAX_VALUE: u64 = 16 << 20;

/// Sets one secret.
pub fn run(ws: &Workspace, args: &SetArgs) -> Result<ExitStatus> {
    check_usage(args)?;
    let path = &args.path;
    let generator = args.generate.clone();
    // Read before locking: a prompt must not hold other writers up.
    let value = match generator {
        None => Some(read_value(
            &format!("Value for {path}: "),
            path,
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
            super::rotate::apply_generated(&mut session.doc, path, g)?;
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

/// Reads a value: stdin when it is not a terminal, else a hidden prompt.
/// From stdin a single-line value loses its trailing newline (`echo v |` works);
/// a multi-line value such as a PEM key is kept byte for byte. An empty value is
/// refused unless `allow_empty`: `echo "$TYPO" | agevault set` or `</dev/null`
/// would otherwise silently wipe a secret.
pub fn read_value(prompt: &str, path: &SecretPath, allow_empty: bool) -> Result<SecretString> {
    if terminal::stdin_is_terminal() {
        let v = terminal::prompt_hidden(prompt)?;
        if v.expose_secret().is_empty() {
            return Err(Error::msg("empty value; nothing was changed"));
        }
        return Ok(v);
    }
    // One byte over the limit tells a too-long value from one that just fits.
    let buf = SecretBuf::read_all(std::io::stdin().lock().take(MAX_VALUE + 1), 256)
        .map_err(|e| Error::io("reading", "standard input", e))?;
    if buf.as_slice().len() > MAX_VALUE as usize {
        return Err(Error::msg(
            "the value on standard input is over 16 MiB; nothing was changed",
        ));
    }
    let mut bytes = buf.as_slice();
    if let Some(line) = bytes.strip_suffix(b"\n") {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.contains(&b'\n') {
            bytes = line;
        }
    }
    if bytes.is_empty() && !allow_empty {
        return Err(Error::EmptyValue {
            path: path.to_string(),
            next: "pipe the value, or pass --allow-empty to store an empty value",
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::msg("the value on standard input is not UTF-8 text; encode binary values (e.g. base64)")
    })?;
    Ok(SecretString::from(text))
}
