//! `whoami`: which identities were found and which recipients they are.

use serde::Serialize;

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
    let writers = config.and_then(|c| c.writer_set().ok());
    let signing = crate::trust::signer::discover(&signing_keys).unwrap_or_default();
    for candidate in signing {
        rows.push(Row {
            kind: "signing",
            recipient: writers
                .as_ref()
                .and_then(|w| w.name_of(&candidate.public))
                .map(str::to_owned),
            source: candidate.source,
            public_key: Some(candidate.public),
            note: None,
        });
    }
    if json {
        output::json(&rows)?;
    } else if rows.is_empty() {
        output::line("no identity found; create one with `agevault keygen`")?;
    } else {
        for r in &rows {
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
    }
    Ok(if set.found.is_empty() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
