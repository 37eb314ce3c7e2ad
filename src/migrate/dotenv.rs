//! The `.env` reader: `KEY=value` lines as docker compose, dotenv and systemd's
//! `EnvironmentFile` write them.
//!
//! Accepted: blank lines and `#` comments, an optional `export ` prefix, spaces
//! around `=`, unquoted values (ending at ` #` or the end of the line, trimmed),
//! single-quoted values (literal), double-quoted values with the escapes `\n`
//! `\r` `\t` `\\` `\"` `\$` and real line breaks (multi-line values such as PEM
//! keys), CRLF line ends and a UTF-8 BOM. `${VAR}` is kept literally: import
//! never expands variables. Empty values are skipped (they are placeholders, and
//! `set` refuses empty values too). A duplicate name is an error, since tools
//! disagree on which one wins.
//!
//! Errors name the line and the variable, never the value.

use std::collections::BTreeMap;

use secrecy::SecretString;
use zeroize::Zeroize;

use super::{check_segment, Entry};
use crate::error::{Error, Result};

/// Parses a whole `.env` file.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::msg(format!(
            "the .env file is not UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let mut parser = Parser {
        text,
        pos: 0,
        line: 1,
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut entries = Vec::new();
    while let Some((line, key, value)) = parser.next_assignment()? {
        if let Some(first) = seen.insert(key.clone(), line) {
            return Err(Error::msg(format!(
                "line {line}: `{key}` is also set on line {first}; remove one of them and import again"
            )));
        }
        if let Some(value) = value {
            entries.push(Entry {
                segments: vec![key],
                value,
            });
        }
    }
    Ok(entries)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    /// Consumes up to and including the next line break.
    fn skip_line(&mut self) {
        match self.rest().find('\n') {
            Some(i) => {
                self.pos += i + 1;
                self.line += 1;
            }
            None => self.pos = self.text.len(),
        }
    }

    /// The next `(line, name, value)`; `None` at the end. An empty value gives `None`.
    #[allow(clippy::type_complexity)]
    fn next_assignment(&mut self) -> Result<Option<(usize, String, Option<SecretString>)>> {
        loop {
            if self.pos >= self.text.len() {
                return Ok(None);
            }
            let rest = self.rest();
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.starts_with(['\n', '\r', '#']) || trimmed.is_empty() {
                self.skip_line();
                continue;
            }
            break;
        }
        let line = self.line;
        self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        if let Some(after) = self.rest().strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                self.pos += "export".len();
                self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
            }
        }
        let rest = self.rest();
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let Some(eq) = rest[..line_end].find('=') else {
            return Err(Error::msg(format!(
                "line {line}: expected NAME=value (no `=` on this line); fix the file and import again"
            )));
        };
        let key = rest[..eq].trim_end_matches([' ', '\t']).to_owned();
        check_segment(&key, &format!("line {line}"))?;
        self.pos += eq + 1;
        self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        let value = match self.rest().chars().next() {
            Some('"') => self.quoted('"', line, &key)?,
            Some('\'') => self.quoted('\'', line, &key)?,
            _ => self.unquoted(),
        };
        if value.is_empty() {
            return Ok(Some((line, key, None)));
        }
        Ok(Some((line, key, Some(SecretString::from(value)))))
    }

    fn unquoted(&mut self) -> String {
        let rest = self.rest();
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let mut end = line_end;
        // A `#` starts a comment only after whitespace (`pa#ss` is a value).
        let bytes = rest.as_bytes();
        for i in 0..line_end {
            if bytes[i] == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
                end = i;
                break;
            }
        }
        let value = rest[..end].trim_end_matches([' ', '\t', '\r']);
        let mut out = String::with_capacity(value.len());
        out.push_str(value);
        self.skip_line();
        out
    }

    fn quoted(&mut self, quote: char, line: usize, key: &str) -> Result<String> {
        self.pos += 1;
        let rest = self.rest();
        let unterminated = || {
            Error::msg(format!(
                "line {line}: the value of `{key}` opens a {} quote that is never closed",
                if quote == '"' { "double" } else { "single" }
            ))
        };
        // Find the closing quote first, so the value is allocated once at its final size.
        let bytes = rest.as_bytes();
        let mut i = 0;
        let close = loop {
            match bytes.get(i) {
                None => return Err(unterminated()),
                Some(b'\\') if quote == '"' => i += 2,
                Some(&b) if b == quote as u8 => break i,
                Some(_) => i += 1,
            }
        };
        let raw = &rest[..close];
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\r' if raw_next_is_newline(chars.as_str()) => {}
                '\\' if quote == '"' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('\\' | '"' | '$' | '`' | '\'')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        self.line += raw.matches('\n').count();
        self.pos += close + 1;
        let tail_end = self.rest().find('\n').unwrap_or(self.rest().len());
        let tail = self.rest()[..tail_end].trim_matches([' ', '\t', '\r']);
        if !tail.is_empty() && !tail.starts_with('#') {
            out.zeroize();
            return Err(Error::msg(format!(
                "line {}: unexpected text after the closing quote of `{key}`; quote the whole value",
                self.line
            )));
        }
        self.skip_line();
        Ok(out)
    }
}

fn raw_next_is_newline(rest: &str) -> bool {
    rest.starts_with('\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|e| (e.segments.join("/"), e.value.expose_secret().to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_common_forms() {
        let text = "# comment\n\nexport A=1\nB = two words # note\nC='lit $X \\n'\nD=\"l1\\nl2 \\\"q\\\" \\$HOME\"\r\nE=a=b=c\nF=pa#ss\nG=\nH=\"multi\nline\"\n";
        assert_eq!(
            pairs(text),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "lit $X \\n".into()),
                ("D".into(), "l1\nl2 \"q\" $HOME".into()),
                ("E".into(), "a=b=c".into()),
                ("F".into(), "pa#ss".into()),
                ("H".into(), "multi\nline".into()),
            ]
        );
    }

    #[test]
    fn crlf_inside_quotes_becomes_lf() {
        assert_eq!(
            pairs("K=\"a\r\nb\"\r\nL=x\r\n"),
            vec![("K".into(), "a\nb".into()), ("L".into(), "x".into())]
        );
    }

    #[test]
    fn errors_name_lines_not_values() {
        let dup = parse(b"A=s3cret-one\nA=s3cret-two\n").err().unwrap().to_string();
        assert!(
            dup.contains("line 2") && dup.contains("`A`") && !dup.contains("s3cret"),
            "{dup}"
        );
        let open = parse(b"A=\"s3cret\n").err().unwrap().to_string();
        assert!(
            open.contains("never closed") && !open.contains("s3cret"),
            "{open}"
        );
        let bare = parse(b"s3cret-pasted-here\n").err().unwrap().to_string();
        assert!(bare.contains("line 1") && !bare.contains("s3cret"), "{bare}");
        let name = parse(b"sk-s3cret x=1\n").err().unwrap().to_string();
        assert!(name.contains("line 1") && !name.contains("s3cret"), "{name}");
    }
}
