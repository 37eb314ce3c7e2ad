//! Format rules for secret values (`[validate]`): pem, json, regex:…, min-length:N, url, hostname.
//! Problems describe the value's shape, never its content.

use base64::Engine;

/// The rules `[validate]` accepts.
pub const VALID_RULES: &str = "pem, json, regex:PATTERN, min-length:N, url, hostname";

/// A compiled rule.
#[derive(Clone, Debug)]
pub enum Rule {
    /// One or more PEM blocks with valid base64 bodies.
    Pem,
    /// Parses as JSON.
    Json,
    /// The whole value matches.
    Regex(regex::Regex),
    /// At least N characters.
    MinLength(usize),
    /// `scheme://host…`.
    Url,
    /// An RFC 1123 host name.
    Hostname,
}

impl Rule {
    /// Compiles a rule from its config text.
    pub fn parse(text: &str) -> Result<Rule, String> {
        if let Some(pattern) = text.strip_prefix("regex:") {
            // Anchored: the rule is about the whole value.
            return regex::Regex::new(&format!("^(?:{pattern})$"))
                .map(Rule::Regex)
                .map_err(|e| {
                    format!(
                        "regex does not compile: {}",
                        e.to_string().lines().last().unwrap_or("")
                    )
                });
        }
        if let Some(n) = text.strip_prefix("min-length:") {
            return n
                .trim()
                .parse()
                .map(Rule::MinLength)
                .map_err(|_| format!("`{text}`: min-length needs a whole number"));
        }
        match text {
            "pem" => Ok(Rule::Pem),
            "json" => Ok(Rule::Json),
            "url" => Ok(Rule::Url),
            "hostname" => Ok(Rule::Hostname),
            _ => Err(format!("unknown rule `{text}`; valid: {VALID_RULES}")),
        }
    }

    /// Checks a rule's text without compiling it: parsing a regex is cheap, building its
    /// automaton is not, and every command loads the config (`exec` included).
    pub fn check_syntax(text: &str) -> Result<(), String> {
        match text.strip_prefix("regex:") {
            Some(pattern) => regex_syntax::Parser::new().parse(pattern).map(drop).map_err(|e| {
                format!(
                    "regex does not compile: {}",
                    e.to_string().lines().last().unwrap_or("")
                )
            }),
            None => Rule::parse(text).map(drop),
        }
    }

    /// Whether a value passes. Only pass or fail: a message with a length, a parse
    /// position or a PEM label would let anyone who can edit the config learn the
    /// value piece by piece through `check` (an oracle), so none is given.
    pub fn check(&self, value: &str) -> bool {
        match self {
            Rule::Pem => check_pem(value).is_ok(),
            Rule::Json => serde_json::from_str::<serde::de::IgnoredAny>(value).is_ok(),
            Rule::Regex(re) => re.is_match(value),
            Rule::MinLength(n) => value.chars().count() >= *n,
            Rule::Url => check_url(value).is_ok(),
            Rule::Hostname => is_hostname(value),
        }
    }
}

fn check_pem(value: &str) -> Result<String, String> {
    let mut kinds = Vec::new();
    let mut lines = value.lines().map(str::trim_end);
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let label = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .ok_or("is not PEM (expected a -----BEGIN …----- line)")?
            .to_owned();
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                continue; // RFC 1421 headers (Proc-Type, DEK-Info) of legacy encrypted keys
            }
            body.push_str(l.trim());
        }
        // The label is part of the value: messages name only a kind we know.
        let kind = describe_label(&label);
        if !closed {
            return Err(format!("has a {kind} without its matching -----END …----- line"));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| format!("has a {kind} whose body is not valid base64"))?;
        if der.is_empty() {
            return Err(format!("has an empty {kind}"));
        }
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err("is empty, not PEM".into());
    }
    Ok(kinds.join(" + "))
}

fn describe_label(label: &str) -> String {
    match label {
        "PRIVATE KEY" => "PKCS#8 private key".into(),
        "ENCRYPTED PRIVATE KEY" => "encrypted PKCS#8 private key".into(),
        "RSA PRIVATE KEY" => "RSA private key (PKCS#1)".into(),
        "EC PRIVATE KEY" => "EC private key (SEC1)".into(),
        "OPENSSH PRIVATE KEY" => "OpenSSH private key".into(),
        "CERTIFICATE" => "X.509 certificate".into(),
        "PUBLIC KEY" => "public key".into(),
        // The label is part of the value: name no label we do not know.
        _ => "PEM block".into(),
    }
}

fn check_url(value: &str) -> Result<(), String> {
    let (scheme, rest) = value
        .split_once("://")
        .ok_or("is not a URL (expected scheme://host)")?;
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err("is not a URL (bad scheme)".into());
    }
    if value.chars().any(char::is_whitespace) {
        return Err("is not a URL (contains whitespace)".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map(|h| &h[1..]).unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() && scheme != "file" {
        return Err("is not a URL (no host)".into());
    }
    Ok(())
}

fn is_hostname(value: &str) -> bool {
    let v = value.strip_suffix('.').unwrap_or(value);
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: &str, value: &str) -> bool {
        Rule::parse(rule).unwrap().check(value)
    }

    #[test]
    fn every_rule_passes_and_fails() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHo4NOdogWN5gFcNnvE2JlIPBVj3+paHtdLN2h2JM7Z1\n-----END PRIVATE KEY-----\n";
        assert!(check("pem", pem));
        assert!(!check("pem", "hello"));
        assert!(!check(
            "pem",
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----"
        ));
        assert!(!check("pem", "-----BEGIN PRIVATE KEY-----\nQUJD\n"));
        assert!(check("json", r#"{"a":1}"#));
        assert!(!check("json", "{"));
        assert!(check("regex:sk-[A-Za-z0-9]{8,}", "sk-abcdefgh12"));
        assert!(!check("regex:sk-[A-Za-z0-9]{8,}", "xsk-abcdefgh12"));
        assert!(check("min-length:12", "123456789012"));
        assert!(!check("min-length:12", "short"));
        assert!(check("url", "https://user@db.example.com:5432/x?y"));
        assert!(check("url", "postgres://[::1]:5432/db"));
        assert!(!check("url", "not a url"));
        assert!(!check("url", "https:///nohost"));
        assert!(check("hostname", "nas01.lan"));
        assert!(!check("hostname", "-bad.lan"));
        assert!(!check("hostname", "under_score"));
    }

    #[test]
    fn bad_rules_are_errors() {
        assert!(Rule::parse("regex:(").unwrap_err().contains("regex"));
        assert!(Rule::check_syntax("regex:(").unwrap_err().contains("regex"));
        assert!(Rule::check_syntax("regex:sk-[a-z]{20,}").is_ok());
        assert!(Rule::check_syntax("pgp").is_err());
        assert!(Rule::parse("min-length:x").is_err());
        assert!(Rule::parse("pgp").unwrap_err().contains("valid:"));
    }
}
