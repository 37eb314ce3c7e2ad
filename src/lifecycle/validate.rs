//! Format rules for secret values (`[validate]`): pem, json, regex:…, min-length:N, url,
//! hostname, cert-matches:PATH, expires-within:WARN[,FAIL].
//! Problems describe the value's shape, never its content.

use std::time::{Duration, SystemTime};

use base64::Engine;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::config::rule::Rule;
use crate::config::ConfigFile;
use crate::document::{Node, VaultDocument};
use crate::lifecycle::policy::best_match;
use crate::lifecycle::x509::{self, PemBlock};

/// What a rule says about a value.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It passes.
    Pass,
    /// It passes, with a warning (a certificate close to expiry).
    Warn(String),
    /// It fails; the text says why without quoting the value.
    Fail(String),
}

/// Whether a value passes `rule`. Only pass or fail: a message with a length, a parse
/// position or a PEM label would let anyone who can edit the config learn the
/// value piece by piece through `check` (an oracle), so none is given.
pub fn passes(rule: &Rule, value: &str) -> bool {
    match rule {
        Rule::Pem => check_pem(value).is_ok(),
        Rule::Json => serde_json::from_str::<serde::de::IgnoredAny>(value).is_ok(),
        Rule::Regex(re) => re.is_match(value),
        Rule::MinLength(n) => value.chars().count() >= *n,
        Rule::Url => check_url(value).is_ok(),
        Rule::Hostname => is_hostname(value),
        Rule::CertMatches(_) | Rule::ExpiresWithin(..) => true,
    }
}

/// Checks a value against `rule` in the context of its document (for rules that
/// compare with another secret or with the clock).
pub fn verdict(rule: &Rule, value: &str, doc: &VaultDocument, now: SystemTime) -> Verdict {
    match rule {
        Rule::CertMatches(other) => {
            let theirs = other
                .parse()
                .ok()
                .and_then(|p| match doc.get(&p) {
                    Some(Node::Leaf(v)) => pem_blocks(v.expose_secret()).ok(),
                    _ => None,
                })
                .and_then(|b| x509::public_key_of(&b));
            let Some(theirs) = theirs else {
                return Verdict::Fail(format!(
                    "`{other}` is missing or holds no key or certificate to compare with"
                ));
            };
            match pem_blocks(value).ok().and_then(|b| x509::public_key_of(&b)) {
                Some(ours) if ours == theirs => Verdict::Pass,
                Some(_) => Verdict::Fail(format!("its public key does not match `{other}`")),
                None => Verdict::Fail("it is not a key or certificate agevault can read".into()),
            }
        }
        Rule::ExpiresWithin(warn, fail) => {
            let Some(cert) = pem_blocks(value).ok().and_then(|b| x509::first_certificate(&b)) else {
                return Verdict::Fail("it holds no X.509 certificate".into());
            };
            let end = x509::not_after(&cert);
            let date = crate::clock::format_rfc3339(end);
            let left = end.duration_since(now).unwrap_or(Duration::ZERO);
            if left.is_zero() {
                Verdict::Fail(format!("the certificate expired on {date}"))
            } else if left <= *fail {
                Verdict::Fail(format!(
                    "the certificate expires on {date}, within {}",
                    human(*fail)
                ))
            } else if left <= *warn {
                Verdict::Warn(format!(
                    "the certificate expires on {date}, within {}",
                    human(*warn)
                ))
            } else {
                Verdict::Pass
            }
        }
        other if passes(other, value) => Verdict::Pass,
        _ => Verdict::Fail(String::new()),
    }
}

fn human(d: Duration) -> String {
    crate::lifecycle::policy::human_age(d.as_secs())
}

/// Problems and warnings of every `[validate]` rule over `doc` (or only over `paths`).
#[derive(Debug, Default)]
pub struct Findings {
    /// Broken rules: `check` fails, writes refuse without `--force`.
    pub problems: Vec<String>,
    /// Certificates close to expiry.
    pub warnings: Vec<String>,
}

/// Applies the rules that match each secret (all of `doc`, or the given paths).
pub fn validate(
    doc: &VaultDocument,
    config: &ConfigFile,
    paths: Option<&[String]>,
    now: SystemTime,
) -> Findings {
    let mut findings = Findings::default();
    let mut compiled: std::collections::BTreeMap<String, Option<Rule>> = std::collections::BTreeMap::new();
    for (path, value) in doc.leaves() {
        if paths.is_some_and(|p| !p.contains(&path)) {
            continue;
        }
        let Some((pattern, rules)) = best_match(&config.validate, &path) else {
            continue;
        };
        for rule_text in rules.texts() {
            let rule = compiled
                .entry(rule_text.to_owned())
                .or_insert_with(|| match Rule::parse(rule_text) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        findings.problems.push(format!("[validate] `{pattern}`: {e}"));
                        None
                    }
                });
            let Some(rule) = rule else {
                continue;
            };
            // Pass or fail only for format rules: details about a value would make
            // `check` an oracle.
            match verdict(rule, value.expose_secret(), doc, now) {
                Verdict::Pass => {}
                Verdict::Warn(why) => findings.warnings.push(format!(
                    "`{path}` ({rule_text} from [validate] `{pattern}`): {why}"
                )),
                Verdict::Fail(why) => findings.problems.push(format!(
                    "`{path}` fails the rule `{rule_text}` from [validate] `{pattern}`{}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                )),
            }
        }
    }
    findings
}

/// The rules `value` breaks if it were stored at `path` (for `set`, `edit`, `rotate`).
pub fn refusals(config: &ConfigFile, doc: &VaultDocument, path: &str, value: &str) -> Vec<String> {
    let Some((pattern, rules)) = best_match(&config.validate, path) else {
        return Vec::new();
    };
    rules
        .texts()
        .into_iter()
        .filter_map(|text| match Rule::parse(text) {
            Err(e) => Some(format!("[validate] `{pattern}`: {e}")),
            Ok(rule) => match verdict(&rule, value, doc, SystemTime::now()) {
                Verdict::Fail(why) => Some(format!(
                    "the value for `{path}` breaks the rule `{text}` from [validate] `{pattern}`{}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                )),
                _ => None,
            },
        })
        .collect()
}

/// The PEM blocks of a value, with their DER bodies.
pub fn pem_blocks(value: &str) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    check_pem_into(value, &mut blocks)?;
    Ok(blocks)
}

fn check_pem(value: &str) -> Result<String, String> {
    check_pem_into(value, &mut Vec::new())
}

fn check_pem_into(value: &str, blocks: &mut Vec<PemBlock>) -> Result<String, String> {
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
        // The body is key material: sized up front (it is never longer than the
        // value) so growing it leaves no copies, and zeroized on drop.
        let mut body = Zeroizing::new(String::with_capacity(value.len()));
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
        let der = decode_body(&body).ok_or_else(|| format!("has a {kind} whose body is not valid base64"))?;
        if der.is_empty() {
            return Err(format!("has an empty {kind}"));
        }
        // The armor is not enough: `AAAA` is valid base64. The body must parse as
        // the structure its label names.
        if !x509::der_is_valid(&label, &der) {
            return Err(format!("has a {kind} whose body does not parse"));
        }
        kinds.push(kind);
        blocks.push(PemBlock { label, der });
    }
    if kinds.is_empty() {
        return Err("is empty, not PEM".into());
    }
    Ok(kinds.join(" + "))
}

/// The DER of a PEM body, decoded into a buffer of its final size (no reallocation)
/// that is zeroized on drop.
fn decode_body(body: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut der = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(body.len())]);
    let len = base64::engine::general_purpose::STANDARD
        .decode_slice(body.as_bytes(), &mut der[..])
        .ok()?;
    der.truncate(len);
    Some(der)
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
        host_port.split(']').next().map_or("", |h| &h[1..])
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
        passes(&Rule::parse(rule).unwrap(), value)
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
        assert!(!check(
            "pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ));
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
    fn checking_a_pem_key_leaves_no_copy_in_freed_memory() {
        use crate::secret_buf::canary::freed_copies;
        // An Ed25519 PKCS#8 key: the base64 body after the fixed prefix, and the seed.
        let body = "MC4CAQAwBQYDK2VwBCIEIHo4NOdogWN5gFcNqV7T1sR0b3pA8yWcLk2xE4mZu9Hf";
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
        let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        assert_eq!(check_pem(&pem).as_deref(), Ok("PKCS#8 private key"));
        assert_eq!(
            freed_copies(&body.as_bytes()[24..48], || drop(check_pem(&pem))),
            0
        );
        assert_eq!(freed_copies(&der[20..40], || drop(check_pem(&pem))), 0);
        assert_eq!(freed_copies(&der[20..40], || drop(pem_blocks(&pem))), 0);
    }
}
