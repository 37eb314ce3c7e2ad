//! `recipients list|add|remove`: who the vault is encrypted to.

use serde::Serialize;

use crate::cli::RecipientsCommand;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::{canonical_key, parse_recipient_kind};
use crate::lifecycle::offboard::offboard;
use crate::output::{self, status};
use crate::terminal::sanitize;
use crate::workspace::{RecipientDrift, Workspace};
use crate::ExitStatus;

/// Runs one `recipients` subcommand.
pub fn run(ws: &Workspace, cmd: RecipientsCommand) -> Result<ExitStatus> {
    match cmd {
        RecipientsCommand::List(args) => list(ws, args.json),
        RecipientsCommand::Add {
            name,
            key,
            key_file,
            role,
            scopes,
        } => {
            let key = match (key, key_file) {
                (Some(key), _) => key,
                (None, Some(file)) => read_key_file(&file)?,
                (None, None) => return Err(Error::Usage("give the key, or --key-file FILE".into())),
            };
            add(ws, &name, &key, &role, &scopes)
        }
        RecipientsCommand::Remove { name, force } => offboard(ws, &name, force).map(|_| ExitStatus::Success),
    }
}

/// The largest key file read: a public key is one line; an `ssh-rsa` key a few KiB.
const KEY_FILE_LIMIT: u64 = 64 << 10;

/// The one public key in `file` (`-`: standard input): its first line that is not
/// empty and not a `#` comment, as `age-keygen -y` and `ssh-keygen` write them.
fn read_key_file(file: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let (shown, bytes) = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(KEY_FILE_LIMIT)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading", "standard input", e))?;
        ("standard input".to_owned(), bytes)
    } else {
        let bytes = crate::store::read_regular_file(file, "key file", KEY_FILE_LIMIT)?;
        (file.display().to_string(), bytes)
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("AGE-SECRET-KEY-") || text.contains("PRIVATE KEY-----") {
        return Err(Error::Usage(format!("{shown} holds a PRIVATE key"))
            .with_hint("give the public key (`age-keygen -y FILE`, or the .pub file beside an SSH key)"));
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .ok_or_else(|| Error::Usage(format!("{shown} holds no public key")))
}

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    role: &'a str,
    key: &'a str,
}

fn list(ws: &Workspace, json: bool) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let rows: Vec<Row<'_>> = config
        .file
        .recipients
        .iter()
        .map(|(name, r)| Row {
            name,
            role: r.role.as_deref().unwrap_or(""),
            key: &r.key,
        })
        .collect();
    if json {
        output::json(&rows)?;
    } else {
        for r in rows {
            output::line(&format!("{}\t{}\t{}", sanitize(r.name), sanitize(r.role), r.key))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn add(ws: &Workspace, name: &str, key: &str, role: &str, scopes: &[String]) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let (key, already_configured) = check_new_recipient(config, name, key, scopes)?;
    // The config as it will be, checked before anything is written: a key of the kind
    // the main vault cannot take must come with a scope it can read (one file, one kind).
    let planned = config
        .with_recipient(name, &key, role, scopes)
        .map_err(|e| match e {
            Error::Config { path, message } => Error::Config {
                path,
                message: format!("{message}; nothing was changed"),
            },
            other => other,
        })?;
    let reads_main = planned.vault_recipient_keys().contains(&key);
    let mut session = ws.open_for_write()?;
    if let Some(p) = &session.prior {
        // Adding a removed person back is this explicit command.
        crate::trust::readmit(&p.vault_id, &key)?;
    }
    let in_vault = session.doc.recipients().contains(&key);
    if in_vault && already_configured {
        return Err(Error::msg(format!("`{name}` is already a recipient")));
    }
    if in_vault {
        // A previous `add` re-encrypted the vault but could not write the config: finish it.
        config.add_recipient(name, &key, role)?;
        status(
            ws.options.quiet,
            &format!("added `{name}` to {}", config.path.display()),
        );
        return Ok(ExitStatus::Success);
    }
    let drift = RecipientDrift::between(config, session.doc.recipients());
    let only_this = drift.removed.is_empty() && drift.added.iter().all(|k| k == &key);
    if !only_this {
        ws.check_recipient_drift(&session.doc)?;
    }
    // Config first: if re-encrypting fails, the retry finds the entry and applies it.
    if !already_configured {
        config.add_recipient(name, &key, role)?;
    }
    add_to_scopes(config, name, scopes)?;
    if reads_main {
        session.doc.add_recipient(key);
    }
    ws.commit_unchecked(session)?;
    status(
        ws.options.quiet,
        &if reads_main {
            format!("added `{name}`; the vault is now encrypted to it too")
        } else {
            format!(
                "added `{name}`; it reads scope(s) {} (now encrypted to it too), not the main vault, which is {}",
                scopes.join(", "),
                crate::vault_format::VaultFormat::of(&ws.vault_path).describe()
            )
        },
    );
    Ok(ExitStatus::Success)
}

/// Checks the scopes, the name and the key of a recipient to add, and that neither is
/// taken by another; an OpenPGP key must be in the gpg keyring and usable. Returns the
/// key in its canonical form, and whether the config already names exactly this
/// recipient (added to it by hand, to be applied now).
fn check_new_recipient(config: &Config, name: &str, key: &str, scopes: &[String]) -> Result<(String, bool)> {
    for scope in scopes {
        if !config.file.scopes.contains_key(scope) {
            return Err(Error::Usage(format!("no scope named `{}`", sanitize(scope))));
        }
    }
    if let Some(problem) = crate::secret_path::segment_problem(name) {
        return Err(Error::Usage(format!(
            "recipient name `{}` {problem}",
            sanitize(name)
        )));
    }
    let key = canonical_key(key);
    parse_recipient_kind(&key)
        .map_err(|problem| Error::Usage(format!("recipient key for `{name}` is invalid: {problem}")))?;
    // Applying an entry already added to the config by hand is allowed; anything else duplicate is not.
    let already_configured = match config.file.recipients.get(name) {
        Some(existing) if existing.key == key => true,
        Some(_) => {
            return Err(Error::msg(format!(
                "a recipient named `{name}` already exists with another key"
            )))
        }
        None => false,
    };
    if let Some(other) = config.recipient_name(&key).filter(|n| *n != name) {
        return Err(Error::msg(format!(
            "that key is already configured as recipient `{other}`"
        )));
    }
    // gpg must be able to encrypt to an OpenPGP key before the config names it.
    if let Ok(fingerprint) = crate::pgp::parse_fingerprint(&key) {
        crate::pgp::check_usable(&fingerprint)?;
    }
    Ok((key, already_configured))
}

/// Adds `name` to the readers of each of `scopes` that does not list it yet.
fn add_to_scopes(config: &Config, name: &str, scopes: &[String]) -> Result<()> {
    for scope in scopes {
        let mut readers = config.file.scopes[scope].readers.clone();
        if !readers.iter().any(|r| r == name) {
            readers.push(name.to_owned());
            config.set_scope_list(scope, "readers", &readers)?;
        }
    }
    Ok(())
}
