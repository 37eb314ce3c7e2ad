//! `whoami`: which identities were found and which recipients they are.

use serde::Serialize;

use crate::error::Result;
use crate::keys;
use crate::output;
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

#[derive(Serialize)]
struct Row {
    source: String,
    public_key: Option<String>,
    recipient: Option<String>,
    note: Option<String>,
}

/// Prints the identities found and what they match.
pub fn run(options: GlobalOptions, json: bool) -> Result<ExitStatus> {
    let set = keys::discover(&options.identities)?;
    let ws = Workspace::resolve(options).ok();
    let config = ws.as_ref().and_then(|w| w.config.as_ref());
    let mut rows = Vec::new();
    for found in &set.found {
        if found.public_keys.is_empty() {
            rows.push(Row {
                source: found.source.clone(),
                public_key: None,
                recipient: None,
                note: found.note.clone(),
            });
        }
        for key in &found.public_keys {
            rows.push(Row {
                source: found.source.clone(),
                public_key: Some(key.clone()),
                recipient: config.and_then(|c| c.recipient_name(key)).map(str::to_owned),
                note: found.note.clone(),
            });
        }
    }
    for (source, why) in &set.skipped {
        rows.push(Row {
            source: source.clone(),
            public_key: None,
            recipient: None,
            note: Some(format!("unusable: {why}")),
        });
    }
    if json {
        output::json(&rows)?;
    } else if rows.is_empty() {
        output::line("no identity found; create one with `agevault keygen`")?;
    } else {
        for r in &rows {
            let who = match (&r.recipient, config) {
                (Some(name), _) => format!("recipient `{}`", crate::terminal::sanitize(name)),
                (None, Some(_)) => "not a configured recipient".to_owned(),
                (None, None) => "no .agevault.toml here".to_owned(),
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
