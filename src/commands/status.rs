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
    // With scopes, each row names the file its secret lives in, so offboarding
    // exposure reads per scope ("prod: exposed to removed bob").
    let scoped = ws.has_scopes();
    let router = ws.router()?;
    let scope_of = |path: &str| -> String {
        match router.scope_of(path) {
            Ok(Some(s)) => s.to_owned(),
            _ => "main".to_owned(),
        }
    };
    if json {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            #[serde(flatten)]
            status: &'a crate::lifecycle::policy::SecretStatus,
            /// The scope the secret lives in (`main` for the main vault); null without scopes.
            scope: Option<String>,
        }
        let rows: Vec<Row<'_>> = rows
            .iter()
            .map(|r| Row {
                status: r,
                scope: scoped.then(|| scope_of(&r.path)),
            })
            .collect();
        output::json(&rows)?;
        return Ok(ExitStatus::Success);
    }
    let mut header = vec!["PATH", "AGE", "POLICY", "DUE", "GENERATOR", "NOTES"];
    if scoped {
        header.insert(1, "SCOPE");
    }
    let mut table = vec![header.into_iter().map(str::to_owned).collect::<Vec<_>>()];
    for r in &rows {
        let mut notes = Vec::new();
        if r.overdue {
            notes.push("OVERDUE".to_owned());
        }
        for e in &r.exposed_to {
            notes.push(format!("exposed to removed `{}` ({}), rotate", e.name, e.removed));
        }
        let mut row = vec![
            r.path.clone(),
            r.age_seconds.map_or_else(|| "-".into(), human_age),
            r.policy.clone().unwrap_or_else(|| "-".into()),
            r.due
                .clone()
                .unwrap_or_else(|| if r.overdue { "now".into() } else { "-".into() }),
            r.generator.clone().unwrap_or_else(|| "-".into()),
            notes.join("; "),
        ];
        if scoped {
            row.insert(1, scope_of(&r.path));
        }
        table.push(row);
    }
    output::stdout_bytes(output::render_columns(&table).as_bytes())?;
    Ok(ExitStatus::Success)
}
