//! `recipients list|add|remove`: who the vault is encrypted to.

use serde::Serialize;

use crate::cli::RecipientsCommand;
use crate::error::{Error, Result};
use crate::keys::{canonical_key, parse_recipient_kind};
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
        return Err(Error::Usage(format!(
            "{shown} holds a PRIVATE key; give the public key (`age-keygen -y FILE`, or the .pub file beside an SSH key)"
        )));
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
        crate::pgp::check_usable(&fingerprint).map_err(Error::msg)?;
    }
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
    let in_vault = session.doc.recipients.contains(&key);
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
    let drift = RecipientDrift::between(config, &session.doc.recipients);
    let only_this = drift.removed.is_empty() && drift.added.iter().all(|k| k == &key);
    if !only_this {
        ws.check_recipient_drift(&session.doc)?;
    }
    // Config first: if re-encrypting fails, the retry finds the entry and applies it.
    if !already_configured {
        config.add_recipient(name, &key, role)?;
    }
    for scope in scopes {
        let mut readers = config.file.scopes[scope].readers.clone();
        if !readers.iter().any(|r| r == name) {
            readers.push(name.to_owned());
            config.set_scope_list(scope, "readers", &readers)?;
        }
    }
    if reads_main {
        session.doc.recipients.push(key);
        session.doc.recipients.sort();
        session.doc.recipients.dedup();
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

/// Refuses to remove the caller's own key when no other identity of theirs stays a
/// recipient: that would lock them out of a vault they still mean to use.
fn guard_own_last_key(ws: &Workspace, name: &str, key: &str, remaining: &[String]) -> Result<()> {
    let ids = ws.identities()?;
    // The user's keys: identity files' public keys, and the OpenPGP keys gpg holds a
    // secret (or smartcard stub) for, when OpenPGP recipients are involved.
    let mut own: Vec<(String, String)> = ids
        .found
        .iter()
        .flat_map(|f| f.public_keys.iter().map(|k| (k.clone(), f.source.clone())))
        .collect();
    if crate::pgp::is_pgp_key(key) || remaining.iter().any(|k| crate::pgp::is_pgp_key(k)) {
        if let Ok(secret) = crate::pgp::gpg::list_secret_keys() {
            own.extend(secret.into_iter().map(|k| {
                (
                    format!("{}{}", crate::pgp::KEY_PREFIX, k.fingerprint),
                    "your gpg keyring".to_owned(),
                )
            }));
        }
    }
    let Some((_, source)) = own.iter().find(|(k, _)| k == key) else {
        return Ok(());
    };
    let keeps_another = own.iter().any(|(k, _)| k != key && remaining.contains(k));
    if keeps_another {
        return Ok(());
    }
    Err(Error::msg(format!(
        "`{}` is your own key ({}) and none of your other identities is a recipient: after removing it you \
         could not decrypt {}; nothing was changed: add another key of yours first \
         (`agevault recipients add NAME --key-file FILE`), or pass --force if you really mean to lose access",
        sanitize(name),
        source,
        ws.vault_path.display()
    )))
}

/// Removes recipient `name`, re-encrypts without it, records a keyed fingerprint of every
/// value it could read (offboarding exposure), and lists those values. Returns them.
pub(crate) fn offboard(ws: &Workspace, name: &str, force: bool) -> Result<Vec<String>> {
    let config = ws.require_config()?;
    let Some(entry) = config.file.recipients.get(name) else {
        let names: Vec<String> = config.file.recipients.keys().map(|n| sanitize(n)).collect();
        return Err(Error::msg(format!(
            "no recipient named `{}`; configured: {}",
            sanitize(name),
            names.join(", ")
        )));
    };
    let key = entry.key.clone();
    let mut session = ws.open_for_write()?;
    let drift = RecipientDrift::between(config, &session.doc.recipients);
    if drift.removed.is_empty() && drift.added == [key.clone()] {
        // A previous `remove` re-encrypted the vault but could not write the config: finish it.
        config.remove_recipient(name)?;
        status(
            ws.options.quiet,
            &format!("removed `{name}` from {}", config.path.display()),
        );
        return Ok(Vec::new());
    }
    ws.check_recipient_drift(&session.doc)?;
    let reads_main = session.doc.recipients.contains(&key);
    if reads_main && session.doc.recipients.len() <= 1 {
        return Err(Error::msg(
            "cannot remove the last recipient: nobody could decrypt the vault",
        ));
    }
    session.doc.recipients.retain(|k| k != &key);
    if !force {
        // A reader of scopes only keeps access through any other key of the user's.
        let remaining: Vec<String> = if reads_main {
            session.doc.recipients.clone()
        } else {
            config
                .file
                .recipients
                .values()
                .map(|r| r.key.clone())
                .filter(|k| *k != key)
                .collect()
        };
        guard_own_last_key(ws, name, &key, &remaining)?;
    }
    // A new fingerprint key first: the removed recipient knows the old one (from versions
    // it could read) and could otherwise test guesses of new values against `git diff`,
    // or against the fingerprints recorded next.
    crate::lifecycle::exposure::renew_fingerprint_key(&mut session.doc);
    // Exactly what the key could read: the main vault and the scopes it was a reader of.
    let router = ws.router()?;
    let files = ws.vault_files();
    let could_read = |p: &str| {
        let scope = router.scope_of(p).ok().flatten();
        files
            .iter()
            .find(|f| f.scope.as_deref() == scope)
            .map_or(true, |f| f.scope.is_none() || f.recipients.contains(&key))
    };
    let exposed = crate::lifecycle::exposure::record_offboarding(
        &mut session.doc,
        name,
        &key,
        Some(&config.file),
        could_read,
    );
    // Vault first: the removed key must lose access even if the config write fails
    // (the retry then only finishes the config). Its signature covers the config
    // without the recipient, which is written next.
    session.config_override = Some(config.without_recipient(name)?);
    ws.commit_unchecked(session)?;
    config.remove_recipient(name)?;
    status(
        ws.options.quiet,
        &format!(
            "removed `{name}`; it could read these {} secret(s), rotate them (old versions stay readable in git history):",
            exposed.len()
        ),
    );
    for path in &exposed {
        output::line(path)?;
    }
    Ok(exposed)
}
