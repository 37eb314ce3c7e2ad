//! AppRole: one role per exec profile, its credential files on the host, the login
//! that turns them into a short-lived token, and that token's revocation.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::client::{Method, Server};
use crate::error::{Error, Result};

/// How long a login's token lives. `exec` needs it only for its reads and revokes it
/// when the child ends; the TTL bounds a token whose agevault was killed first.
pub const TOKEN_TTL: &str = "10m";

/// The role-id and secret-id of one profile, read from the host's files.
pub struct Credentials {
    role_id: SecretString,
    secret_id: SecretString,
    /// The secret-id file, for messages.
    pub secret_id_file: PathBuf,
}

/// `DIR/PROFILE.role-id`.
pub fn role_id_file(dir: &Path, profile: &str) -> PathBuf {
    dir.join(format!("{profile}.role-id"))
}

/// `DIR/PROFILE.secret-id`.
pub fn secret_id_file(dir: &Path, profile: &str) -> PathBuf {
    dir.join(format!("{profile}.secret-id"))
}

/// Reads the profile's credential files (never argv, never the environment).
pub fn read_credentials(dir: &Path, profile: &str) -> Result<Credentials> {
    let read = |path: PathBuf| -> Result<SecretString> {
        let bytes = crate::store::read_trusted_file(&path, "AppRole credential file", 64 * 1024).map_err(
            |e| match e {
                Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    Error::msg(format!(
                        "{} does not exist; create it with `agevault openbao policies --apply --out {}`",
                        path.display(),
                        dir.display()
                    ))
                }
                other => other,
            },
        )?;
        let bytes = Zeroizing::new(bytes);
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::msg(format!("{} is not UTF-8 text", path.display())))?
            .trim();
        if text.is_empty() {
            return Err(Error::msg(format!("{} is empty", path.display())));
        }
        Ok(SecretString::from(text.to_owned()))
    };
    Ok(Credentials {
        role_id: read(role_id_file(dir, profile))?,
        secret_id: read(secret_id_file(dir, profile))?,
        secret_id_file: secret_id_file(dir, profile),
    })
}

/// Writes the profile's credential files, 0600 in a 0700 directory, each replaced atomically.
pub fn write_credentials(
    dir: &Path,
    profile: &str,
    role_id: &SecretString,
    secret_id: &SecretString,
) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("creating", dir, e))?;
    }
    for (path, value) in [
        (role_id_file(dir, profile), role_id),
        (secret_id_file(dir, profile), secret_id),
    ] {
        let mut tmp = tempfile::Builder::new()
            .prefix(".agevault-approle-")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
        tmp.write_all(value.expose_secret().as_bytes())
            .and_then(|()| tmp.write_all(b"\n"))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| Error::io("writing", &path, e))?;
        tmp.persist(&path)
            .map_err(|e| Error::io("replacing", &path, e.error))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct LoginBody<'a> {
    role_id: &'a str,
    secret_id: &'a str,
}

#[derive(Deserialize)]
struct LoginReply {
    auth: Option<LoginAuth>,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
}

/// Logs in with the profile's credentials; returns the token.
pub fn login(server: &Server, mount: &str, profile: &str, creds: &Credentials) -> Result<SecretString> {
    let mut body = Zeroizing::new(Vec::with_capacity(512));
    serde_json::to_writer(
        &mut *body,
        &LoginBody {
            role_id: creds.role_id.expose_secret(),
            secret_id: creds.secret_id.expose_secret(),
        },
    )
    .map_err(|_| Error::msg("cannot encode the AppRole login"))?;
    let reply = server.call(Method::Post, &format!("auth/{mount}/login"), None, Some(&body))?;
    if !reply.ok() {
        let errors = reply.errors();
        return Err(Error::msg(format!(
            "OpenBao at {} refused the AppRole login of profile `{profile}` ({}); the secret-id in {} is wrong, \
             expired or revoked: issue a new one with `agevault openbao policies --apply --out DIR`",
            server.addr,
            if errors.is_empty() {
                format!("HTTP {}", reply.status)
            } else {
                errors
            },
            creds.secret_id_file.display()
        )));
    }
    let what = "the AppRole login";
    let mut parsed: LoginReply = serde_json::from_slice(&reply.body).map_err(|_| server.unexpected(what))?;
    let mut token = parsed
        .auth
        .take()
        .map(|a| a.client_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| server.unexpected(what))?;
    let secret = SecretString::from(token.as_str());
    token.zeroize();
    Ok(secret)
}

/// Revokes `token`. A token that is already gone (expired) counts as revoked.
pub fn revoke_self(server: &Server, token: &SecretString) -> Result<()> {
    let reply = server.call(Method::Post, "auth/token/revoke-self", Some(token), Some(b"{}"))?;
    if reply.ok() || reply.status == 403 {
        return Ok(());
    }
    Err(server.refused("revoking the login token", &reply))
}

/// Enables the AppRole auth method at `mount` unless something is mounted there.
pub fn ensure_enabled(server: &Server, token: &SecretString, mount: &str) -> Result<bool> {
    let reply = server.call(Method::Get, &format!("sys/auth/{mount}"), Some(token), None)?;
    if reply.ok() {
        #[derive(Deserialize)]
        struct Mount {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let kind = serde_json::from_slice::<Mount>(&reply.body)
            .ok()
            .and_then(|m| m.kind);
        return match kind.as_deref() {
            Some("approle") | None => Ok(false),
            Some(other) => Err(Error::msg(format!(
                "auth/{mount} on OpenBao at {} is a `{}` auth method, not approle",
                server.addr,
                crate::terminal::sanitize(other)
            ))),
        };
    }
    let body = br#"{"type":"approle","description":"agevault exec profiles"}"#;
    let reply = server.call(
        Method::Post,
        &format!("sys/auth/{mount}"),
        Some(token),
        Some(body),
    )?;
    if reply.ok() {
        return Ok(true);
    }
    Err(server.refused(
        &format!("enabling the AppRole auth method at auth/{mount}"),
        &reply,
    ))
}

/// Creates or updates a role whose tokens carry exactly `policy`.
pub fn put_role(server: &Server, token: &SecretString, mount: &str, role: &str, policy: &str) -> Result<()> {
    let body = serde_json::json!({
        "token_policies": [policy],
        // Service tokens can be revoked; batch tokens cannot.
        "token_type": "service",
        "token_ttl": TOKEN_TTL,
        "token_max_ttl": TOKEN_TTL,
        "token_no_default_policy": true,
    });
    let reply = server.call(
        Method::Post,
        &format!("auth/{mount}/role/{role}"),
        Some(token),
        Some(body.to_string().as_bytes()),
    )?;
    if reply.ok() {
        return Ok(());
    }
    Err(server.refused(&format!("writing AppRole role `{role}`"), &reply))
}

#[derive(Deserialize)]
struct DataReply<T> {
    data: Option<T>,
}

/// The role's role-id.
pub fn role_id(server: &Server, token: &SecretString, mount: &str, role: &str) -> Result<SecretString> {
    #[derive(Deserialize)]
    struct RoleId {
        role_id: String,
    }
    let what = format!("reading the role-id of `{role}`");
    let reply = server.call(
        Method::Get,
        &format!("auth/{mount}/role/{role}/role-id"),
        Some(token),
        None,
    )?;
    if !reply.ok() {
        return Err(server.refused(&what, &reply));
    }
    let parsed: DataReply<RoleId> =
        serde_json::from_slice(&reply.body).map_err(|_| server.unexpected(&what))?;
    let mut id = parsed.data.ok_or_else(|| server.unexpected(&what))?.role_id;
    let secret = SecretString::from(id.as_str());
    id.zeroize();
    Ok(secret)
}

/// A fresh secret-id for the role (older ones stay valid until destroyed or expired).
pub fn new_secret_id(server: &Server, token: &SecretString, mount: &str, role: &str) -> Result<SecretString> {
    #[derive(Deserialize)]
    struct SecretId {
        secret_id: String,
    }
    let what = format!("issuing a secret-id for `{role}`");
    let reply = server.call(
        Method::Post,
        &format!("auth/{mount}/role/{role}/secret-id"),
        Some(token),
        Some(b"{}"),
    )?;
    if !reply.ok() {
        return Err(server.refused(&what, &reply));
    }
    let parsed: DataReply<SecretId> =
        serde_json::from_slice(&reply.body).map_err(|_| server.unexpected(&what))?;
    let mut id = parsed.data.ok_or_else(|| server.unexpected(&what))?.secret_id;
    let secret = SecretString::from(id.as_str());
    id.zeroize();
    Ok(secret)
}
