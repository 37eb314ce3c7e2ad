//! How agevault speaks on stderr: the error line and its `hint:` line, warnings, and
//! whether their labels are coloured.
//!
//! One format for every failure, whoever detected it (a command, the core, clap):
//!
//! ```text
//! agevault: error: MESSAGE
//! hint: WHAT TO DO NEXT
//! ```
//!
//! The message is one line; the hint line is there only when there is something to do.
//! Colour marks the labels only (`error:` red, `hint:` cyan, `warning:` yellow), never
//! the text, so a message reads the same coloured or not. It is on only when stderr is
//! a terminal (with `TERM` set, not `dumb`) and `NO_COLOR` is unset or empty
//! (<https://no-color.org>);
//! `CLICOLOR_FORCE` turns it on for a pipe, and `--color always|never` overrides both.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// The user's choice (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR`; on a pipe only with `CLICOLOR_FORCE`.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// 0: not decided yet (auto), 1: off, 2: on.
static COLOR: AtomicU8 = AtomicU8::new(0);

/// Decides once, at start-up, whether stderr gets colour.
pub fn set_color(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => auto_color(),
    };
    COLOR.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// The automatic choice: `NO_COLOR` (non-empty) wins, then `CLICOLOR_FORCE` (non-empty,
/// not `0`), then whether stderr is a terminal with `TERM` set and not `dumb` (as git
/// decides; cron and `env -i` leave TERM unset).
fn auto_color() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    crate::progress::stderr_is_capable_terminal()
}

/// Whether stderr is coloured.
pub fn color() -> bool {
    match COLOR.load(Ordering::Relaxed) {
        0 => auto_color(),
        n => n == 2,
    }
}

/// A label's colour.
#[derive(Clone, Copy)]
enum Label {
    Error,
    Hint,
    Warning,
}

/// `text` in the label's colour (bold), when colour is on.
fn paint(label: Label, text: &str) -> String {
    if !color() {
        return text.to_owned();
    }
    let code = match label {
        Label::Error => "1;31",
        Label::Hint => "1;36",
        Label::Warning => "1;33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Text on one line: line breaks (from a peer's stderr, say) become `; ` (a space after
/// a colon).
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

/// The error line and, if given, the hint line, exactly as printed (without colour
/// when colour is off).
pub fn error_text(message: &str, hint: Option<&str>) -> String {
    let mut text = format!(
        "agevault: {} {}\n",
        paint(Label::Error, "error:"),
        one_line(message)
    );
    if let Some(hint) = hint.map(one_line).filter(|h| !h.is_empty()) {
        text.push_str(&format!("{} {hint}\n", paint(Label::Hint, "hint:")));
    }
    text
}

/// Prints an error (and its hint) on stderr, in one write so the lines stay together.
pub fn error(message: &str, hint: Option<&str>) {
    let text = error_text(message, hint);
    crate::progress::suspend_active(|| std::io::stderr().write_all(text.as_bytes())).ok();
}

/// Prints `agevault: warning: TEXT` on stderr. Warnings are printed even with -q: they
/// say something went (partly) wrong.
pub fn warning(text: &str) {
    let line = format!(
        "agevault: {} {}\n",
        paint(Label::Warning, "warning:"),
        one_line(text)
    );
    crate::progress::suspend_active(|| std::io::stderr().write_all(line.as_bytes())).ok();
}

/// A clap parse error in the same format: clap's first line is the message (its indented
/// continuation lines, e.g. the missing arguments, are joined to it); its `tip:` lines,
/// or else the usage line, become the hint.
pub fn clap_error_parts(rendered: &str) -> (String, Option<String>) {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    let mut message = first.strip_prefix("error: ").unwrap_or(first).trim().to_owned();
    let mut tips = Vec::new();
    let mut usage: Option<String> = None;
    for line in lines {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("For more information") {
            continue;
        }
        if let Some(tip) = trimmed.strip_prefix("tip: ") {
            tips.push(tip.to_owned());
        } else if let Some(u) = trimmed.strip_prefix("Usage: ") {
            usage.get_or_insert_with(|| u.to_owned());
        } else if usage.is_none() && line.starts_with(' ') {
            message.push(' ');
            message.push_str(trimmed);
        }
    }
    let hint = if tips.is_empty() {
        usage.map(|u| {
            let command: Vec<&str> = u
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            format!("usage: {u}; see `{} --help`", command.join(" "))
        })
    } else {
        Some(tips.join("; "))
    };
    (message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_a_message_and_a_hint() {
        let (m, h) = clap_error_parts(
            "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\n\
             Usage: agevault ls [OPTIONS] [PREFIX]\n\nFor more information, try '--help'.\n",
        );
        assert_eq!(m, "unexpected argument '--bogus' found");
        assert_eq!(
            h.as_deref(),
            Some("to pass '--bogus' as a value, use '-- --bogus'")
        );
        let (m, h) = clap_error_parts(
            "error: the following required arguments were not provided:\n  <NAME>\n\n\
             Usage: agevault incident <NAME>\n\nFor more information, try '--help'.\n",
        );
        assert_eq!(m, "the following required arguments were not provided: <NAME>");
        assert_eq!(
            h.as_deref(),
            Some("usage: agevault incident <NAME>; see `agevault incident --help`")
        );
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            one_line("gpg failed:\n  no key\nexit 2\n"),
            "gpg failed: no key; exit 2"
        );
        assert_eq!(one_line("plain"), "plain");
    }
}
