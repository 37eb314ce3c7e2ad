//! OpenBao / HashiCorp Vault as the runtime distribution point: where the server
//! is, which token to use, and the KV v2, policy and AppRole calls built on that.

pub mod approle;
pub mod client;
pub mod kv;
pub mod policy;

use std::path::PathBuf;

use secrecy::SecretString;

pub use client::Server;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secret_path::SecretPath;

/// The mount used when neither `--mount` nor `[openbao] mount` names one (dev servers mount KV v2 there).
pub const DEFAULT_MOUNT: &str = "secret";

/// Where vault paths live on the server: `<mount>/data/<prefix>/<path>`.
#[derive(Clone, Debug)]
pub struct Target {
    /// The KV v2 mount.
    pub mount: String,
    /// The path prefix inside the mount, if any.
    pub prefix: Option<SecretPath>,
}

impl Target {
    /// From flags, else the config's `[openbao]`, else the defaults.
    pub fn resolve(config: Option<&Config>, mount: Option<&str>, prefix: Option<&str>) -> Result<Target> {
        let table = config.map(|c| &c.file.openbao);
        let mount = mount
            .map(str::to_owned)
            .or_else(|| table.and_then(|t| t.mount.clone()))
            .unwrap_or_else(|| DEFAULT_MOUNT.to_owned());
        let mount = SecretPath::parse(mount.trim_matches('/'))
            .map_err(|e| {
                Error::Usage(format!(
                    "OpenBao mount `{}`: {e}",
                    crate::terminal::sanitize(&mount)
                ))
            })?
            .to_string();
        let prefix = prefix
            .map(str::to_owned)
            .or_else(|| table.and_then(|t| t.prefix.clone()))
            .map(|p| p.trim_matches('/').to_owned())
            .filter(|p| !p.is_empty())
            .map(|p| {
                SecretPath::parse(&p).map_err(|e| {
                    Error::Usage(format!(
                        "OpenBao path prefix `{}`: {e}",
                        crate::terminal::sanitize(&p)
                    ))
                })
            })
            .transpose()?;
        Ok(Target { mount, prefix })
    }

    /// The KV key (inside the mount) of a vault path.
    pub fn key(&self, path: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{path}"),
            None => path.to_owned(),
        }
    }

    /// The API path of a vault path's data (`secret/data/app/db/password`).
    pub fn data_path(&self, path: &str) -> String {
        format!("{}/data/{}", self.mount, self.key(path))
    }

    /// The API path of a vault path's metadata.
    pub fn metadata_path(&self, path: &str) -> String {
        format!("{}/metadata/{}", self.mount, self.key(path))
    }
}

/// A client for the server named by `BAO_ADDR`/`VAULT_ADDR` or `[openbao] addr`,
/// trusting `BAO_CACERT`/`VAULT_CACERT` when set.
pub fn connect(config: Option<&Config>) -> Result<Server> {
    let (addr, source) = if let Some((name, value)) = first_env(&["BAO_ADDR", "VAULT_ADDR"]) {
        (value, name.to_owned())
    } else if let Some((addr, config)) = config.and_then(|c| c.file.openbao.addr.clone().map(|a| (a, c))) {
        (addr, format!("[openbao] addr in {}", config.path.display()))
    } else {
        return Err(Error::msg(
            "no OpenBao address: set BAO_ADDR (or VAULT_ADDR), or addr in the [openbao] table of .agevault.toml",
        ));
    };
    let cacert = match first_env(&["BAO_CACERT", "VAULT_CACERT"]) {
        Some((name, path)) => {
            let bytes = crate::store::read_regular_file(path.as_ref(), "CA certificate", 1 << 20)?;
            Some((format!("{name} ({path})"), bytes))
        }
        None => None,
    };
    let namespace = first_env(&["BAO_NAMESPACE", "VAULT_NAMESPACE"]).map(|(_, v)| v);
    Server::new(
        &addr,
        source,
        cacert.as_ref().map(|(s, b)| (s.as_str(), b.as_slice())),
        namespace,
    )
}

/// The operator's token, for `push`, `policies` and `check --openbao`: `BAO_TOKEN`,
/// `VAULT_TOKEN`, `[openbao] token_file`, or `~/.vault-token` (which `bao login` writes).
/// Never from argv, never printed.
pub fn operator_token(config: Option<&Config>) -> Result<SecretString> {
    if let Some((name, value)) = first_env(&["BAO_TOKEN", "VAULT_TOKEN"]) {
        return non_empty(&value, name);
    }
    let configured = config.and_then(|c| {
        c.file
            .openbao
            .token_file
            .as_ref()
            .map(|f| c.dir().join(shell_home(f)))
    });
    let default = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".vault-token"));
    let path = match (configured, default) {
        (Some(p), _) => p,
        (None, Some(p)) if p.exists() => p,
        _ => {
            return Err(Error::msg(
                "no OpenBao token: set BAO_TOKEN (or VAULT_TOKEN), run `bao login`, or name a token_file in [openbao]",
            ))
        }
    };
    let bytes = zeroize::Zeroizing::new(crate::store::read_trusted_file(&path, "token file", 64 * 1024)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::msg(format!("token file {} is not UTF-8 text", path.display())))?;
    non_empty(text, &path.display().to_string())
}

fn non_empty(value: &str, source: &str) -> Result<SecretString> {
    if value.trim().is_empty() {
        return Err(Error::msg(format!("the OpenBao token in {source} is empty")));
    }
    Ok(SecretString::from(value.trim().to_owned()))
}

fn first_env<'a>(names: &[&'a str]) -> Option<(&'a str, String)> {
    names.iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*name, v))
    })
}

/// `~/x` → `$HOME/x`; anything else unchanged.
fn shell_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Reads exactly `paths` from the server into a document the exec engine plans from,
/// failing before anything runs on the first path that is missing or denied, named.
pub fn read_paths(
    server: &Server,
    token: &SecretString,
    target: &Target,
    paths: &[String],
) -> Result<crate::document::VaultDocument> {
    let mut doc = crate::document::VaultDocument::new(Vec::new());
    for path in paths {
        let parsed = SecretPath::parse(path).map_err(Error::Usage)?;
        match kv::read(server, token, target, path)? {
            kv::Entry::Present { value, .. } => {
                doc.set(&parsed, value).map_err(Error::msg)?;
            }
            kv::Entry::Absent { .. } => {
                return Err(Error::msg(format!(
                    "`{path}` is not on OpenBao at {} ({}); publish it with `agevault openbao push`",
                    server.addr,
                    target.data_path(path)
                )))
            }
        }
    }
    Ok(doc)
}
