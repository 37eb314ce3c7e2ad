//! Writing data to standard output; a closed pipe ends the command quietly.

use std::io::Write;

use crate::error::{Error, Result};

/// Writes `bytes` to stdout and flushes (above a progress bar, if one is shown: stdout
/// may be the same terminal).
pub fn stdout_bytes(bytes: &[u8]) -> Result<()> {
    crate::progress::suspend_active(|| {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).and_then(|()| out.flush())
    })
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::BrokenPipe
        } else {
            Error::io("writing", "standard output", e)
        }
    })
}

/// Writes a line of text to stdout.
pub fn line(text: &str) -> Result<()> {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    stdout_bytes(s.as_bytes())
}

/// Prints a value as pretty JSON.
pub fn json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::msg(e.to_string()))?;
    line(&text)
}

/// Left-aligned columns separated by two spaces.
pub fn render_columns(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect();
        out.push_str(crate::terminal::sanitize(line.join("  ").trim_end()).as_str());
        out.push('\n');
    }
    out
}

/// A status line on stderr, unless quiet (above a progress bar, if one is shown).
pub fn status(quiet: bool, text: &str) {
    if !quiet {
        crate::progress::suspend_active(|| eprintln!("{text}"));
    }
}
