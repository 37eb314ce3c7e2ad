//! `whoami`: which identities were found and which recipients they are.

use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::keys;
use crate::output;
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

#[derive(Serialize)]
struct Row {
    /// `identity` (decrypts) or `signing` (signs writes).
    kind: &'static str,
    source: String,
    public_key: Option<String>,
    recipient: Option<String>,
    note: Option<String>,
}

/// Prints the identities found and what they match.
pub fn run(options: GlobalOptions, json: bool) -> Result<ExitStatus> {
    let set = keys::discover(&options.identities)?;
    let signing_keys = options.trust.signing_keys.clone();
    let ws = Workspace::resolve(options).ok();
    let config = ws.as_ref().and_then(|w| w.config.as_ref());
    let mut rows = identity_rows(&set, config);
    rows.extend(gpg_rows(config));
    let gpg_keys = rows.iter().filter(|r| r.source == "gpg").count();
    rows.extend(signing_rows(&signing_keys, config));
    if json {
        output::json(&rows)?;
    } else if rows.is_empty() {
        output::line("no identity found; create one with `agevault keygen`")?;
    } else {
        print_rows(&rows, config)?;
    }
    Ok(if set.found.is_empty() && gpg_keys == 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// One row per public key of each identity found (one for an identity whose key is
/// unknown), then one per identity that was skipped, with why.
fn identity_rows(set: &keys::IdentitySet, config: Option<&Config>) -> Vec<Row> {
    let mut rows = Vec::new();
    for found in &set.found {
        if found.public_keys.is_empty() {
            rows.push(Row {
                kind: "identity",
                source: found.source.clone(),
                public_key: None,
                recipient: None,
                note: found.note.clone(),
            });
        }
        for key in &found.public_keys {
            rows.push(Row {
                kind: "identity",
                source: found.source.clone(),
                public_key: Some(key.clone()),
                recipient: config.and_then(|c| c.recipient_name(key)).map(str::to_owned),
                note: found.note.clone(),
            });
        }
    }
    for (source, why) in &set.skipped {
        rows.push(Row {
            kind: "identity",
            source: source.clone(),
            public_key: None,
            recipient: None,
            note: Some(format!("unusable: {why}")),
        });
    }
    rows
}

/// The configured OpenPGP recipients gpg holds a secret key (or a smartcard stub) for:
/// they decrypt through gpg-agent.
fn gpg_rows(config: Option<&Config>) -> Vec<Row> {
    let pgp_recipients: Vec<(&String, String)> = config
        .map(|c| {
            c.file
                .recipients
                .iter()
                .filter_map(|(n, r)| crate::pgp::parse_fingerprint(&r.key).ok().map(|f| (n, f)))
                .collect()
        })
        .unwrap_or_default();
    let mut rows = Vec::new();
    if !pgp_recipients.is_empty() {
        if let Ok(secret) = crate::pgp::gpg::list_secret_keys() {
            for key in secret {
                if let Some((name, _)) = pgp_recipients.iter().find(|(_, f)| *f == key.fingerprint) {
                    rows.push(Row {
                        kind: "identity",
                        source: "gpg".to_owned(),
                        public_key: Some(format!("{}{}", crate::pgp::KEY_PREFIX, key.fingerprint)),
                        recipient: Some((*name).clone()),
                        note: key.user_id.clone(),
                    });
                }
            }
        }
    }
    rows
}

/// One row per signing key found, with the writer it is (if any).
fn signing_rows(signing_keys: &[std::path::PathBuf], config: Option<&Config>) -> Vec<Row> {
    let writers = config.and_then(|c| c.writer_set().ok());
    let signing = crate::trust::signer::discover(signing_keys).unwrap_or_default();
    signing
        .into_iter()
        .map(|candidate| Row {
            kind: "signing",
            recipient: writers
                .as_ref()
                .and_then(|w| w.name_of(&candidate.public))
                .map(str::to_owned),
            source: candidate.source,
            public_key: Some(candidate.public),
            note: None,
        })
        .collect()
}

/// The rows as text: source, public key, and who that is, tab-separated.
fn print_rows(rows: &[Row], config: Option<&Config>) -> Result<()> {
    for r in rows {
        let who = match (r.kind, &r.recipient, config) {
            ("signing", Some(name), _) => {
                format!("signing key of writer `{}`", crate::terminal::sanitize(name))
            }
            ("signing", None, Some(_)) => "signing key, not a writer (cannot change secrets)".to_owned(),
            (_, Some(name), _) => format!("recipient `{}`", crate::terminal::sanitize(name)),
            (_, None, Some(_)) => "not a configured recipient".to_owned(),
            (_, None, None) => "no .agevault.toml here".to_owned(),
        };
        let key = r.public_key.as_deref().unwrap_or("(public key unknown)");
        let mut line = format!("{}\t{key}\t{who}", r.source);
        if let Some(note) = &r.note {
            line.push_str(&format!("\t({note})"));
        }
        output::line(&line)?;
    }
    Ok(())
}
