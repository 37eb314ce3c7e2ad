//! Talking to a person: escaping untrusted names, hidden prompts, TTY checks.

use std::io::IsTerminal;

use secrecy::SecretString;
use zeroize::Zeroize;

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

/// Whether standard input is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Reads a line from the terminal without echo, wrapping it at once.
pub fn prompt_hidden(prompt: &str) -> crate::Result<SecretString> {
    let line = rpassword::prompt_password(prompt)
        .map_err(|e| crate::Error::with_source("cannot read from the terminal", e))?;
    Ok(wrap_secret(line))
}

/// Moves a plain `String` into a `SecretString` and zeroizes the original.
///
/// `SecretString::from(String)` shrinks the buffer into a `Box<str>`, which can
/// reallocate and free the old bytes without zeroizing them.
fn wrap_secret(mut line: String) -> SecretString {
    let secret = SecretString::from(line.as_str());
    line.zeroize();
    secret
}

/// Asks a yes/no question on the terminal: Enter (the `Y` default), `y` or `yes` is
/// yes; anything else, or no answer to read, is no.
pub fn confirm(question: &str) -> bool {
    eprint!("{question} [Y/n] ");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
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

    #[test]
    fn a_prompted_line_leaves_no_copy_in_freed_memory() {
        use crate::secret_buf::canary::freed_copies;
        use secrecy::ExposeSecret;
        // rpassword grows its String as keys arrive, so it has spare capacity.
        let mut line = String::with_capacity(64);
        line.push_str("typed-passphrase-Jx4");
        let mut secret = None;
        assert_eq!(
            freed_copies(b"typed-passphrase-Jx4", || secret = Some(wrap_secret(line))),
            0
        );
        assert_eq!(secret.unwrap().expose_secret(), "typed-passphrase-Jx4");
    }
}
