//! `audit show|verify`: the host's access record.

use std::time::SystemTime;

use serde_json::Value;

use crate::audit;
use crate::cli::AuditCommand;
use crate::error::{Error, Result};
use crate::output;
use crate::workspace::GlobalOptions;
use crate::ExitStatus;

/// Runs one `audit` subcommand.
pub fn run(_options: GlobalOptions, cmd: AuditCommand) -> Result<ExitStatus> {
    let path = audit::dir().join(audit::LOG_NAME);
    if !path.exists() {
        return Err(Error::msg(format!(
            "no access record at {} yet (it is written by `exec` and `get`)",
            path.display(),
        ))
        .with_hint(format!("set {} to read another directory", audit::DIR_ENV)));
    }
    match cmd {
        AuditCommand::Show { since, json } => show(&path, since.as_deref(), json),
        AuditCommand::Verify => {
            let (count, breaks) = audit::verify(&path)?;
            for b in &breaks {
                output::line(&format!("{}:{}: {}", path.display(), b.line, b.what))?;
            }
            if breaks.is_empty() {
                output::line(&format!(
                    "ok: {count} record(s), chain intact ({})",
                    path.display()
                ))?;
                Ok(ExitStatus::Success)
            } else {
                output::line(
                    "the access record was tampered with; compare with the syslog/journald copy (`journalctl -t agevault`)",
                )?;
                Ok(ExitStatus::Failure)
            }
        }
    }
}

fn show(path: &std::path::Path, since: Option<&str>, json: bool) -> Result<ExitStatus> {
    let since = since.map(parse_since).transpose()?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    let mut rows = vec![[
        "TIME", "USER", "HOST", "COMMAND", "VAULT", "GEN", "PROFILE", "PATHS",
    ]
    .map(str::to_owned)
    .to_vec()];
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let time = v["time"].as_str().unwrap_or("");
        if let Some(since) = since {
            if crate::clock::parse_rfc3339(time).map_or(true, |t| t < since) {
                continue;
            }
        }
        if json {
            output::line(line)?;
            continue;
        }
        let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
        let paths: Vec<&str> = v["paths"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        rows.push(vec![
            s("time"),
            s("user"),
            s("host"),
            s("command"),
            s("vault_id"),
            v["generation"]
                .as_u64()
                .map_or_else(|| "-".into(), |g| g.to_string()),
            s("profile"),
            paths.join(","),
        ]);
    }
    if !json {
        output::stdout_bytes(output::render_columns(&rows).as_bytes())?;
    }
    Ok(ExitStatus::Success)
}

/// `--since`: an RFC 3339 time, or an age (`24h`, `7d`) before now.
fn parse_since(text: &str) -> Result<SystemTime> {
    if let Some(t) = crate::clock::parse_rfc3339(text) {
        return Ok(t);
    }
    let age = crate::clock::parse_duration(text).map_err(|e| {
        Error::Usage(format!(
            "--since expects an RFC 3339 time or an age such as 24h: {e}"
        ))
    })?;
    SystemTime::now()
        .checked_sub(age)
        .ok_or_else(|| Error::Usage("--since is too far in the past".into()))
}
