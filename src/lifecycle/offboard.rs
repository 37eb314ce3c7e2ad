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
    let Some(own) = ids.found.iter().find(|f| f.public_keys.iter().any(|k| k == key)) else {
        return Ok(());
    };
    let keeps_another = ids
        .found
        .iter()
        .flat_map(|f| f.public_keys.iter())
        .any(|k| k != key && remaining.contains(k));
    if keeps_another {
        return Ok(());
    }
    Err(Error::msg(format!(
        "`{}` is your own key ({}) and none of your other identities is a recipient: after removing it you \
         could not decrypt {}; nothing was changed: add another key of yours first \
         (`agevault recipients add NAME --key-file FILE`), or pass --force if you really mean to lose access",
        sanitize(name),
        own.source,
        ws.vault_path.display()
    )))
}

/// Removes recipient `name`, re-encrypts without it, records a keyed fingerprint of every
/// value it could read (offboarding exposure), and lists those values. Returns them.
pub fn offboard(ws: &Workspace, name: &str, force: bool) -> Result<Vec<String>> {
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
    if session.doc.recipients().len() <= 1 {
        return Err(Error::msg(
            "cannot remove the last recipient: nobody could decrypt the vault",
        ));
    }
    session.doc.remove_recipient(&key);
    if !force {
        guard_own_last_key(ws, name, &key, session.doc.recipients())?;
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
