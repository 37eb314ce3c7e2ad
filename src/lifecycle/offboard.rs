//! Offboarding: taking a recipient off the vault (`recipients remove`, `incident`),
//! re-encrypting without it and recording what it could read (offboarding exposure).

use crate::error::{Error, Result};
use crate::lifecycle::exposure;
use crate::output::{self, status};
use crate::terminal::sanitize;
use crate::workspace::{RecipientDrift, Workspace};

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
         could not decrypt {}; nothing was changed",
        sanitize(name),
        source,
        ws.vault_path.display()
    ))
    .with_hint(
        "add another key of yours first (`agevault recipients add NAME --key-file FILE`), or pass --force if you \
         really mean to lose access",
    ))
}

/// Removes recipient `name`, re-encrypts without it, records a keyed fingerprint of every
/// value it could read (offboarding exposure), and lists those values. Returns them.
pub fn offboard(ws: &Workspace, name: &str, force: bool) -> Result<Vec<String>> {
    let config = ws.require_config()?;
    let Some(entry) = config.file.recipients.get(name) else {
        let names: Vec<String> = config.file.recipients.keys().map(|n| sanitize(n)).collect();
        return Err(Error::msg(format!("no recipient named `{}`", sanitize(name)))
            .with_hint(format!("the configured recipients are {}", names.join(", "))));
    };
    let key = entry.key.clone();
    let mut session = ws.open_for_write()?;
    let drift = RecipientDrift::between(config, session.doc.recipients());
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
    let reads_main = session.doc.recipients().contains(&key);
    if reads_main && session.doc.recipients().len() <= 1 {
        return Err(Error::msg(
            "cannot remove the last recipient: nobody could decrypt the vault",
        ));
    }
    session.doc.remove_recipient(&key);
    if !force {
        // A reader of scopes only keeps access through any other key of the user's.
        let remaining: Vec<String> = if reads_main {
            session.doc.recipients().to_vec()
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
    exposure::renew_fingerprint_key(&mut session.doc);
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
    let exposed = exposure::record_offboarding(&mut session.doc, name, &key, Some(&config.file), could_read);
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
