//! `inventory`: the secrets inventory matrix, as a table, CSV, JSON or Markdown.

use std::time::SystemTime;

use serde::Serialize;

use crate::cli::InventoryFormat;
use crate::config::Config;
use crate::error::Result;
use crate::lifecycle::policy::{best_match, statuses};
use crate::output;
use crate::workspace::Workspace;
use crate::ExitStatus;

#[derive(Serialize)]
struct Row {
    path: String,
    owner: String,
    class: String,
    consumers: Vec<String>,
    policy: String,
    last_rotation: String,
    due: String,
}

/// Prints the inventory.
pub fn run(ws: &Workspace, format: InventoryFormat) -> Result<ExitStatus> {
    let doc = ws.read_document()?;
    let config = ws.config.as_ref();
    let rows: Vec<Row> = statuses(&doc, config.map(|c| &c.file), SystemTime::now())
        .into_iter()
        .map(|s| {
            let info = config
                .and_then(|c| best_match(&c.file.secrets, &s.path))
                .map(|(_, i)| i);
            let meta = doc.meta(&s.path);
            let last = meta
                .and_then(|m| m.rotated().or_else(|| m.updated()))
                .unwrap_or("")
                .to_owned();
            let mut consumers = config.map(|c| consumers_of(c, &s.path)).unwrap_or_default();
            if let Some(i) = info {
                consumers.extend(i.consumers.iter().cloned());
            }
            Row {
                owner: info.and_then(|i| i.owner.clone()).unwrap_or_default(),
                class: info.and_then(|i| i.class.clone()).unwrap_or_default(),
                consumers,
                policy: s.policy.clone().unwrap_or_default(),
                last_rotation: last,
                due: s
                    .due
                    .clone()
                    .unwrap_or_else(|| if s.overdue { "now".into() } else { String::new() }),
                path: s.path,
            }
        })
        .collect();
    let header = [
        "path",
        "owner",
        "class",
        "consumers",
        "policy",
        "last rotation",
        "due",
    ];
    let cells = |r: &Row| {
        [
            &r.path,
            &r.owner,
            &r.class,
            &r.consumers.join(" "),
            &r.policy,
            &r.last_rotation,
            &r.due,
        ]
        .map(|c| crate::terminal::sanitize(c))
        .to_vec()
    };
    match format {
        InventoryFormat::Json => output::json(&rows)?,
        InventoryFormat::Csv => {
            let mut text = header.join(",") + "\n";
            for r in &rows {
                let line: Vec<String> = cells(r).iter().map(|c| csv_field(c)).collect();
                text.push_str(&line.join(","));
                text.push('\n');
            }
            output::stdout_bytes(text.as_bytes())?;
        }
        InventoryFormat::Markdown => {
            let mut text = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(header.len()));
            for r in &rows {
                let line: Vec<String> = cells(r).iter().map(|c| c.replace('|', "\\|")).collect();
                text.push_str(&format!("| {} |\n", line.join(" | ")));
            }
            output::stdout_bytes(text.as_bytes())?;
        }
        InventoryFormat::Table => {
            let mut table = vec![header.iter().map(|h| h.to_uppercase()).collect::<Vec<_>>()];
            table.extend(rows.iter().map(|r| {
                cells(r)
                    .into_iter()
                    .map(|c| if c.is_empty() { "-".into() } else { c })
                    .collect()
            }));
            output::stdout_bytes(output::render_columns(&table).as_bytes())?;
        }
    }
    Ok(ExitStatus::Success)
}

/// The exec profiles that hand `path` to a program (`exec:NAME`).
fn consumers_of(config: &Config, path: &str) -> Vec<String> {
    config
        .file
        .exec
        .iter()
        .filter(|(_, p)| {
            p.env.values().chain(p.files.values()).any(|v| v == path)
                || p.only
                    .iter()
                    .any(|prefix| path == prefix || path.starts_with(&format!("{prefix}/")))
        })
        .map(|(name, _)| format!("exec:{name}"))
        .collect()
}

fn csv_field(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}
