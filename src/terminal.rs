//! Talking to a person: escaping untrusted names, hidden prompts, TTY checks.

use std::io::IsTerminal;

use secrecy::SecretString;

/// Escapes control and bidi characters so an untrusted name cannot rewrite
/// the terminal (names come from files anyone with write access can craft).
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether stderr is a terminal that understands escape codes: `TERM` is set and not
/// `dumb` (git and the `console` crate decide the same way).
pub fn stderr_is_capable_terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_some_and(|t| !t.is_empty() && t != "dumb")
}

/// Whether standard input is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Reads a line from the terminal without echo, wrapping it at once.
pub fn prompt_hidden(prompt: &str) -> crate::Result<SecretString> {
    let line = crate::progress::suspend_active(|| rpassword::prompt_password(prompt))
        .map_err(|e| crate::Error::msg(format!("cannot read from the terminal: {e}")))?;
    Ok(SecretString::from(line))
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
pub fn confirm(question: &str) -> bool {
    let mut answer = String::new();
    let read = crate::progress::suspend_active(|| {
        eprint!("{question} [Y/n] ");
        std::io::stdin().read_line(&mut answer)
    });
    if read.is_err() {
        return false;
    }
    let answer = answer.trim().to_ascii_lowercase();
    answer.is_empty() || answer == "y" || answer == "yes"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(sanitize("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(sanitize("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(sanitize("plain/path-1"), "plain/path-1");
    }
}
