//! The format rules `[validate]` accepts, as written in the config: parsed when the
//! config is read (a bad rule is a config error naming its line); what they say about
//! a value is `lifecycle::validate`.

use std::time::Duration;

/// The rules `[validate]` accepts.
pub const VALID_RULES: &str =
    "pem, json, regex:PATTERN, min-length:N, url, hostname, cert-matches:PATH, expires-within:WARN[,FAIL]";

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
    /// The value (a key, certificate or CSR) has the same public key as the one at PATH.
    CertMatches(String),
    /// A certificate: warn when it expires within the first duration, fail within the
    /// second (default: only once expired).
    ExpiresWithin(Duration, Duration),
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
        if let Some(path) = text.strip_prefix("cert-matches:") {
            return crate::secret_path::SecretPath::parse(path)
                .map(|p| Rule::CertMatches(p.to_string()))
                .map_err(|e| format!("`{text}`: {e}"));
        }
        if let Some(spec) = text.strip_prefix("expires-within:") {
            let (warn, fail) = spec.split_once(',').unwrap_or((spec, "0s"));
            let parse =
                |d: &str| crate::clock::parse_duration(d.trim()).map_err(|e| format!("`{text}`: {e}"));
            return Ok(Rule::ExpiresWithin(parse(warn)?, parse(fail)?));
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
