//! KV v2 entries holding one vault secret each, as `{"value": …}`: read, write with
//! check-and-set, list, delete.

use std::borrow::Cow;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::client::{Method, Server};
use super::Target;
use crate::error::Result;
use crate::secret_path::MAX_SEGMENTS;

/// The field of a KV entry that holds the value (`bao kv get -field=value`).
pub const VALUE_FIELD: &str = "value";

/// What the server holds at a path.
pub enum Entry {
    /// Nothing readable: never written, deleted or destroyed. `version` is the
    /// version a check-and-set write must name (0 when the key never existed).
    Absent {
        /// The current version number (0 for a new key).
        version: u64,
    },
    /// A value and its version.
    Present {
        /// The value.
        value: SecretString,
        /// Its version number.
        version: u64,
    },
}

/// What a check-and-set write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// The new version is stored.
    Stored,
    /// Someone else wrote the key since we read it: nothing was written.
    Conflict,
}

#[derive(Deserialize)]
struct ReadBody<'a> {
    #[serde(borrow)]
    data: Option<ReadData<'a>>,
}

#[derive(Deserialize)]
struct ReadData<'a> {
    #[serde(borrow)]
    data: Option<Fields<'a>>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    version: u64,
}

/// Reads `path` (a vault path) from the server. `what` phrases the action for errors.
pub fn read(server: &Server, token: &SecretString, target: &Target, path: &str) -> Result<Entry> {
    let api = target.data_path(path);
    let what = format!("reading `{path}` ({api})");
    let reply = server.call(Method::Get, &api, Some(token), None)?;
    if reply.status == 404 {
        // A deleted key answers 404 with its metadata: the next write must name that version.
        let version = serde_json::from_slice::<ReadBody<'_>>(&reply.body)
            .ok()
            .and_then(|b| b.data)
            .and_then(|d| d.metadata)
            .map_or(0, |m| m.version);
        return Ok(Entry::Absent { version });
    }
    if !reply.ok() {
        return Err(server.refused(&what, &reply));
    }
    let body: ReadBody<'_> = serde_json::from_slice(&reply.body).map_err(|_| server.unexpected(&what))?;
    let data = body.data.ok_or_else(|| server.unexpected(&what))?;
    let version = data.metadata.map_or(0, |m| m.version);
    let Some(mut raw) = data.data.and_then(|f| f.value) else {
        return Err(crate::Error::msg(format!(
            "OpenBao entry {api} has no string `{VALUE_FIELD}` field (agevault writes {{\"{VALUE_FIELD}\": …}}); \
             rewrite it with `agevault openbao push` or `bao kv put -mount={} {} {VALUE_FIELD}=…`",
            target.mount,
            target.key(path)
        )));
    };
    let value = SecretString::from(raw.as_ref());
    // An escaped value was unescaped into its own buffer.
    if let Cow::Owned(s) = &mut raw {
        s.zeroize();
    }
    Ok(Entry::Present { value, version })
}

#[derive(Serialize)]
struct WriteBody<'a> {
    options: WriteOptions,
    data: WriteFields<'a>,
}

#[derive(Serialize)]
struct WriteOptions {
    cas: u64,
}

#[derive(Serialize)]
struct WriteFields<'a> {
    value: &'a str,
}

/// Writes `value` at `path` only if the key is still at version `cas` (0: does not exist).
pub fn write(
    server: &Server,
    token: &SecretString,
    target: &Target,
    path: &str,
    value: &SecretString,
    cas: u64,
) -> Result<Written> {
    let api = target.data_path(path);
    let exposed = value.expose_secret();
    // Sized for the worst case of JSON escaping (\u00XX), so the buffer never reallocates
    // and leaves copies of the value behind.
    let mut body = Zeroizing::new(Vec::with_capacity(exposed.len() * 6 + 64));
    serde_json::to_writer(
        &mut *body,
        &WriteBody {
            options: WriteOptions { cas },
            data: WriteFields { value: exposed },
        },
    )
    .map_err(|_| crate::Error::msg("cannot encode a KV entry"))?;
    let reply = server.call(Method::Post, &api, Some(token), Some(&body))?;
    if reply.ok() {
        return Ok(Written::Stored);
    }
    if reply.status == 400 && reply.errors().contains("check-and-set") {
        return Ok(Written::Conflict);
    }
    Err(server.refused(&format!("writing `{path}` ({api})"), &reply))
}

/// Deletes `path` with all its versions and metadata.
pub fn destroy(server: &Server, token: &SecretString, target: &Target, path: &str) -> Result<()> {
    let api = target.metadata_path(path);
    let reply = server.call(Method::Delete, &api, Some(token), None)?;
    if reply.ok() || reply.status == 404 {
        return Ok(());
    }
    Err(server.refused(&format!("deleting `{path}` ({api})"), &reply))
}

#[derive(Deserialize)]
struct ListBody {
    data: Option<ListData>,
}

#[derive(Deserialize)]
struct ListData {
    #[serde(default)]
    keys: Vec<String>,
}

/// Every key under the target's prefix (and under `under`, a vault path, when given),
/// as vault paths (without the target's prefix), sorted.
pub fn list(
    server: &Server,
    token: &SecretString,
    target: &Target,
    under: Option<&str>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = vec![under.map(|u| format!("{u}/")).unwrap_or_default()];
    while let Some(dir) = pending.pop() {
        let api = match &target.prefix {
            Some(p) => format!("{}/metadata/{p}/{dir}", target.mount),
            None => format!("{}/metadata/{dir}", target.mount),
        };
        let reply = server.call(Method::List, &api, Some(token), None)?;
        if reply.status == 404 {
            continue;
        }
        let what = format!("listing {api}");
        if !reply.ok() {
            return Err(server.refused(&what, &reply));
        }
        let body: ListBody = serde_json::from_slice(&reply.body).map_err(|_| server.unexpected(&what))?;
        for key in body.data.map(|d| d.keys).unwrap_or_default() {
            let full = format!("{dir}{key}");
            if key.ends_with('/') {
                // Bounded like vault paths, so a hostile server cannot keep us listing forever.
                if full.matches('/').count() <= MAX_SEGMENTS {
                    pending.push(full);
                }
            } else {
                out.push(full);
            }
        }
    }
    out.sort();
    Ok(out)
}
