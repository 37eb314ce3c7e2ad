//! Talking to a person: escaping untrusted names, hidden prompts, TTY checks, reading a
//! value from a prompt or standard input.

use std::io::{IsTerminal, Read};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::secret_buf::SecretBuf;

/// The largest value `set` and `rotate` accept (age itself limits some inputs to 16 MiB).
const MAX_VALUE: usize = 16 << 20;

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
    let line = crate::progress::suspend_active(|| rpassword::prompt_password(prompt))
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

/// Reads a value: stdin when it is not a terminal, else a hidden prompt.
/// From stdin a single-line value loses its trailing newline (`echo v |` works);
/// a multi-line value such as a PEM key is kept byte for byte. An empty value is
/// refused unless `allow_empty`: `echo "$TYPO" | agevault set` or `</dev/null`
/// would otherwise silently wipe a secret.
pub fn read_value(prompt: &str, path: &str, allow_empty: bool) -> Result<SecretString> {
    if stdin_is_terminal() {
        let v = prompt_hidden(prompt)?;
        if v.expose_secret().is_empty() {
            return Err(Error::msg("empty value; nothing was changed"));
        }
        return Ok(v);
    }
    // One byte over the limit tells a too-long value from one that just fits.
    let buf = SecretBuf::read_all(std::io::stdin().lock().take(MAX_VALUE as u64 + 1), 256)
        .map_err(|e| Error::io("reading", "standard input", e))?;
    if buf.as_slice().len() > MAX_VALUE {
        return Err(Error::msg(
            "the value on standard input is over 16 MiB; nothing was changed",
        ));
    }
    let mut bytes = buf.as_slice();
    if let Some(line) = bytes.strip_suffix(b"\n") {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.contains(&b'\n') {
            bytes = line;
        }
    }
    if bytes.is_empty() && !allow_empty {
        return Err(Error::EmptyValue {
            path: path.to_owned(),
        }
        .with_hint("pipe the value, or pass --allow-empty to store an empty value"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::msg("the value on standard input is not UTF-8 text; encode binary values (e.g. base64)")
    })?;
    Ok(SecretString::from(text))
}

/// Asks a yes/no question on the terminal: Enter (the `Y` default), `y` or `yes` is
/// yes; anything else, or no answer to read, is no.
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
