//! `status`: lifecycle facts per secret, never values.

use std::time::SystemTime;

use crate::error::Result;
use crate::lifecycle::policy::{human_age, statuses};
use crate::output;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Prints one row per secret.
pub fn run(ws: &Workspace, json: bool) -> Result<ExitStatus> {
    let doc = ws.read_document()?;
    let rows = statuses(&doc, ws.config.as_ref().map(|c| &c.file), SystemTime::now());
    if json {
        output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    let mut table = vec![["PATH", "AGE", "POLICY", "DUE", "GENERATOR", "NOTES"]
        .map(str::to_owned)
        .to_vec()];
    for r in &rows {
        let mut notes = Vec::new();
        if r.overdue {
            notes.push("OVERDUE".to_owned());
        }
        for e in &r.exposed_to {
            notes.push(format!("exposed to removed `{}` ({}), rotate", e.name, e.removed));
        }
        table.push(vec![
            r.path.clone(),
            r.age_seconds.map_or_else(|| "-".into(), human_age),
            r.policy.clone().unwrap_or_else(|| "-".into()),
            r.due
                .clone()
                .unwrap_or_else(|| if r.overdue { "now".into() } else { "-".into() }),
            r.generator.clone().unwrap_or_else(|| "-".into()),
            notes.join("; "),
        ]);
    }
    output::stdout_bytes(output::render_columns(&table).as_bytes())?;
    Ok(ExitStatus::Success)
}
