//! One HTTP connection setting to an OpenBao / HashiCorp Vault server and the
//! sentences its failures become.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The largest response body read: KV entries are capped by the vault's own limits,
/// and a server that sends more is not one we talk to.
const MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;

/// Where the server is and how to reach it (no token: that is per call).
pub struct Server {
    /// The address, without a trailing slash (`https://bao.example:8200`).
    pub addr: String,
    /// Where the address came from, for messages (`BAO_ADDR`, `[openbao] addr in FILE`).
    pub addr_source: String,
    namespace: Option<String>,
    agent: ureq::Agent,
}

/// HTTP methods the API needs (`LIST` is sent as `GET ?list=true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Read.
    Get,
    /// Create or update.
    Post,
    /// Delete.
    Delete,
    /// List keys.
    List,
}

/// A response: its status and body (zeroized on drop, as it may hold values).
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: Zeroizing<Vec<u8>>,
}

impl Reply {
    /// 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `errors` the server sent (they name paths and reasons, never values).
    pub fn errors(&self) -> String {
        #[derive(Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<String>,
        }
        let list = serde_json::from_slice::<Errors>(&self.body)
            .map(|e| e.errors)
            .unwrap_or_default();
        // Go's multierror wraps one error as "1 error occurred:\n\t* permission denied\n\n".
        let text = list
            .iter()
            .flat_map(|e| e.lines())
            .map(|l| l.trim().trim_start_matches("* ").trim())
            .filter(|l| !l.is_empty() && !is_multierror_header(l))
            .collect::<Vec<_>>()
            .join("; ");
        let text = crate::terminal::sanitize(&text);
        if text.chars().count() > 300 {
            format!("{}…", text.chars().take(300).collect::<String>())
        } else {
            text
        }
    }
}

impl Server {
    /// A client for `addr`, trusting only the CA in `cacert` (PEM) when given, else Mozilla's roots.
    pub fn new(
        addr: &str,
        addr_source: String,
        cacert: Option<(&str, &[u8])>,
        namespace: Option<String>,
    ) -> Result<Server> {
        let addr = addr.trim().trim_end_matches('/').to_owned();
        check_address(&addr, &addr_source)?;
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some((source, pem)) = cacert {
            let certs = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::with_source(format!("{source} is not a PEM certificate file"), e))?;
            if certs.is_empty() {
                return Err(Error::msg(format!("{source} holds no PEM certificate")));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            // Statuses are ours to phrase; the API's JSON errors say more than ureq would.
            .http_status_as_error(false)
            // A standby's redirect would carry the token to an address nobody configured.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("agevault/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build();
        Ok(Server {
            addr,
            addr_source,
            namespace,
            agent: config.into(),
        })
    }

    /// Sends one API call to `/v1/{path}`; any HTTP status is a `Reply`, only
    /// transport failures are errors.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&[u8]>,
    ) -> Result<Reply> {
        let mut url = format!("{}/v1/{path}", self.addr);
        if method == Method::List {
            url.push_str("?list=true");
        }
        let result = match method {
            Method::Get | Method::List => {
                let mut req = self.agent.get(&url);
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t.expose_secret());
                }
                if let Some(ns) = &self.namespace {
                    req = req.header("X-Vault-Namespace", ns);
                }
                req.call()
            }
            Method::Delete => {
                let mut req = self.agent.delete(&url);
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t.expose_secret());
                }
                if let Some(ns) = &self.namespace {
                    req = req.header("X-Vault-Namespace", ns);
                }
                req.call()
            }
            Method::Post => {
                let mut req = self.agent.post(&url).content_type("application/json");
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t.expose_secret());
                }
                if let Some(ns) = &self.namespace {
                    req = req.header("X-Vault-Namespace", ns);
                }
                req.send(body.unwrap_or(b"{}"))
            }
        };
        let mut response = result.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(Error::msg(format!(
                "OpenBao at {} answered with a redirect ({status}), which agevault does not follow \
                 (it would carry the token elsewhere); set {} to the active node's address",
                self.addr,
                self.addr_hint()
            )));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_error(&e))?;
        Ok(Reply {
            status,
            body: Zeroizing::new(body),
        })
    }

    /// The error for a reply that is not what `what` needed.
    pub fn refused(&self, what: &str, reply: &Reply) -> Error {
        let errors = reply.errors();
        let detail = match (reply.status, errors.is_empty()) {
            (403, true) => "403 permission denied".to_owned(),
            (status, true) => format!("HTTP {status}"),
            (status, false) => format!("{status} {errors}"),
        };
        Error::msg(format!("OpenBao at {} refused {what}: {detail}", self.addr))
    }

    /// A reply body that does not parse as what the API documents. The parser's own
    /// message is never shown: it could quote a value.
    pub fn unexpected(&self, what: &str) -> Error {
        Error::msg(format!(
            "OpenBao at {} sent an unexpected answer to {what}; is it an OpenBao or Vault server, \
             and the mount a KV version 2 engine?",
            self.addr
        ))
    }

    fn addr_hint(&self) -> &str {
        if self.addr_source.starts_with("VAULT_ADDR") {
            "VAULT_ADDR"
        } else {
            "BAO_ADDR"
        }
    }

    fn transport_error(&self, e: &ureq::Error) -> Error {
        let reason = match e {
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                _ => io.to_string(),
            },
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::HostNotFound => "host not found".to_owned(),
            ureq::Error::ConnectionFailed => "connection failed".to_owned(),
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => {
                return Error::msg(format!(
                    "TLS with OpenBao at {} failed: {e}; if the server uses a private CA, set BAO_CACERT to its PEM file",
                    self.addr
                ))
            }
            other => other.to_string(),
        };
        Error::msg(format!(
            "cannot reach OpenBao at {} ({reason}); is the server running, and is {} right?",
            self.addr, self.addr_source
        ))
    }
}

/// `1 error occurred:` / `2 errors occurred:`.
fn is_multierror_header(line: &str) -> bool {
    line.ends_with("occurred:") && line.contains("error")
}

/// `http://` only to this machine: elsewhere the token and every value would cross
/// the network in clear text.
fn check_address(addr: &str, source: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Usage(format!(
            "{source} = `{}` {why}",
            crate::terminal::sanitize(addr)
        )))
    };
    let rest = if let Some(rest) = addr.strip_prefix("https://") {
        rest
    } else if let Some(rest) = addr.strip_prefix("http://") {
        let host = host_of(rest);
        let loopback = host == "localhost"
            || host == "[::1]"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return bad(
                "uses http:// to another machine, which would send the token and values in clear text; use https://",
            );
        }
        rest
    } else {
        return bad("is not an http:// or https:// address");
    };
    if host_of(rest).is_empty() || rest.contains(['?', '#', ' ']) {
        return bad("is not a valid server address (expected e.g. https://bao.example:8200)");
    }
    Ok(())
}

/// The host part of `host[:port][/path]`.
fn host_of(rest: &str) -> &str {
    let authority = rest.split('/').next().unwrap_or("");
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8200",
            "http://localhost:8200",
            "http://[::1]:8200",
            "https://bao.example:8200",
            "https://10.0.0.5",
        ] {
            assert!(check_address(ok, "BAO_ADDR").is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:8200",
            "http://bao.example",
            "bao.example:8200",
            "https://",
            "http://127.0.0.1.evil.example",
        ] {
            // A name starting with 127. is still a name, resolved by DNS.
            assert!(check_address(bad, "BAO_ADDR").is_err(), "{bad}");
        }
    }
}
