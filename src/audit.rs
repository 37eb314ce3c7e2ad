//! The access record: one hash-chained JSON line per `exec` and `get` (who, where, which
//! vault and generation, which paths — never values), in an owner-only directory, copied
//! to syslog/journald when `/dev/log` exists.
//!
//! Each line holds `prev` (the previous line's hash) and `hash` = SHA-256 of the line's
//! canonical JSON without `hash`, so editing, removing or reordering a line breaks the
//! chain. The same user (root for a host's record) can rewrite the whole file; the
//! syslog copy is the witness outside it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The log file inside the audit directory.
pub const LOG_NAME: &str = "access.log";

/// Overrides the directory (tests, unusual hosts).
pub const DIR_ENV: &str = "AGEVAULT_AUDIT_DIR";

/// `off`, `on` (default) or `required` (fail closed): a host setting that the
/// repository's `[audit] required` can only tighten.
pub const MODE_ENV: &str = "AGEVAULT_AUDIT";

/// The chain's first `prev`.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the record lives: `$AGEVAULT_AUDIT_DIR`, `/var/lib/agevault/audit` for root,
/// else `$XDG_STATE_HOME/agevault/audit` (default `~/.local/state/agevault/audit`).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/agevault/audit");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    state.join("agevault/audit")
}

/// One access to record.
pub struct Access<'a> {
    /// `exec` or `get`.
    pub command: &'a str,
    /// The vault file.
    pub vault: &'a Path,
    /// Its id and generation (from the verified signature).
    pub vault_id: &'a str,
    /// The signed generation.
    pub generation: u64,
    /// The exec profile, if any.
    pub profile: Option<&'a str>,
    /// The secret paths handed out.
    pub paths: Vec<String>,
}

/// The repository's `[audit]` settings and the host's `AGEVAULT_AUDIT`.
pub struct Settings {
    /// Skip the record entirely (host setting `off`, unless the repository requires it).
    pub off: bool,
    /// Refuse to hand out values when the record cannot be written.
    pub required: bool,
    /// Copy to syslog.
    pub syslog: bool,
    /// fdatasync each record.
    pub fsync: bool,
}

impl Settings {
    /// From the config (if any) and the environment.
    pub fn from(config: Option<&crate::config::AuditConfig>) -> Result<Settings> {
        let mode = std::env::var(MODE_ENV).unwrap_or_default();
        let (off, host_required) = match mode.as_str() {
            "" | "on" => (false, false),
            "off" => (true, false),
            "required" => (false, true),
            other => {
                return Err(Error::Usage(format!(
                    "{MODE_ENV} must be on, off or required, got `{}`",
                    crate::terminal::sanitize(other)
                )))
            }
        };
        let repo_required = config.is_some_and(|c| c.required);
        Ok(Settings {
            off: off && !repo_required,
            required: host_required || repo_required,
            syslog: config.and_then(|c| c.syslog).unwrap_or(true),
            fsync: config.and_then(|c| c.fsync.as_deref()) != Some("never"),
        })
    }
}

/// Records `access`; with `required`, a failure is an error (nothing is handed out),
/// otherwise a warning.
pub fn record(access: &Access<'_>, settings: &Settings) -> Result<()> {
    if settings.off {
        return Ok(());
    }
    match append(&dir(), access, settings) {
        Ok(line) => {
            if settings.syslog {
                to_syslog(&line);
            }
            Ok(())
        }
        Err(e) if settings.required => Err(Error::within(
            "the access record is required but cannot be written: ",
            e,
            "; nothing was handed out (fix the audit directory, or ask whoever set the requirement)",
        )),
        Err(e) => {
            crate::diagnostics::warning(&format!("no access record written: {e}"));
            Ok(())
        }
    }
}

/// The directory, created owner-only, refused when others could write to it.
fn open_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::with_source(format!("cannot create {}", dir.display()), e))?;
    }
    let meta =
        fs::metadata(dir).map_err(|e| Error::with_source(format!("cannot read {}", dir.display()), e))?;
    if !meta.is_dir() {
        return Err(Error::msg(format!("{} is not a directory", dir.display())));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(Error::msg(format!("{} is not owned by this user", dir.display())));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(Error::msg(format!("{} is writable by others", dir.display())));
    }
    Ok(())
}

/// Appends `access` as the next link of the chain in `dir`'s log, under an exclusive
/// lock; returns the line written.
fn append(dir: &Path, access: &Access<'_>, settings: &Settings) -> Result<String> {
    open_dir(dir)?;
    let path = dir.join(LOG_NAME);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| Error::with_source(format!("cannot open {}", path.display()), e))?;
    // One writer at a time, so the chain has no forks.
    let file_lock = nix::fcntl::Flock::lock(
        file.try_clone().map_err(Error::from_cause)?,
        nix::fcntl::FlockArg::LockExclusive,
    )
    .map_err(|(_, e)| Error::with_source(format!("cannot lock {}", path.display()), e))?;
    let (seq, prev) =
        last_link(&mut file).map_err(|e| Error::with_source(format!("cannot read {}", path.display()), e))?;
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| std::env::var("USER").unwrap_or_default(), |u| u.name);
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let mut record = json!({
        "seq": seq + 1,
        "time": crate::clock::now_rfc3339(),
        "user": user,
        "uid": nix::unistd::getuid().as_raw(),
        "host": host,
        "pid": std::process::id(),
        "command": access.command,
        "vault": access.vault.display().to_string(),
        "vault_id": access.vault_id,
        "generation": access.generation,
        "profile": access.profile,
        "paths": access.paths,
        "prev": prev,
    });
    let hash = hash_of(&record);
    record["hash"] = Value::String(hash);
    let mut line = record.to_string();
    line.push('\n');
    file.write_all(line.as_bytes())
        .map_err(|e| Error::with_source(format!("cannot write {}", path.display()), e))?;
    if settings.fsync {
        file.sync_data()
            .map_err(|e| Error::with_source(format!("cannot sync {}", path.display()), e))?;
    }
    drop(file_lock);
    Ok(line)
}

/// SHA-256 hex of the record's canonical JSON (sorted keys), without `hash`.
fn hash_of(record: &Value) -> String {
    let mut copy = record.clone();
    if let Value::Object(m) = &mut copy {
        m.remove("hash");
    }
    base16ct::lower::encode_string(&Sha256::digest(copy.to_string().as_bytes()))
}

/// The last record's sequence number and hash, read from the file's tail only (the
/// hot path must not read the whole log).
fn last_link(file: &mut File) -> std::io::Result<(u64, String)> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((0, GENESIS.to_owned()));
    }
    let start = len.saturating_sub(64 * 1024);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let v: Value = serde_json::from_str(last).unwrap_or(Value::Null);
    match (v["seq"].as_u64(), v["hash"].as_str()) {
        (Some(seq), Some(hash)) => Ok((seq, hash.to_owned())),
        // A damaged tail: chain on from it anyway; `audit verify` reports the damage.
        _ => Ok((0, GENESIS.to_owned())),
    }
}

/// Sends one line to the local syslog socket (journald listens there too), if any.
fn to_syslog(line: &str) {
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    // authpriv.info: access records belong with other authorization messages.
    let msg = format!("<86>agevault[{}]: access {}", std::process::id(), line.trim_end());
    let _ = sock.send_to(msg.as_bytes(), "/dev/log");
}

/// One problem `verify` found.
pub struct Break {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// Checks the chain of the log at `path`; returns the number of records and the breaks.
pub fn verify(path: &Path) -> Result<(usize, Vec<Break>)> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    let mut breaks = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        count += 1;
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            breaks.push(Break {
                line: n,
                what: "is not a JSON record".into(),
            });
            continue;
        };
        let hash = v["hash"].as_str().unwrap_or("").to_owned();
        if hash_of(&v) != hash {
            breaks.push(Break {
                line: n,
                what: "was edited (its hash does not match its contents)".into(),
            });
        }
        if v["prev"].as_str() != Some(prev.as_str()) {
            breaks.push(Break {
                line: n,
                what: "does not follow the line before it (a record was removed, inserted or reordered)"
                    .into(),
            });
        }
        let seq = v["seq"].as_u64().unwrap_or(0);
        if seq != expected_seq {
            breaks.push(Break {
                line: n,
                what: format!("has sequence number {seq}, expected {expected_seq}"),
            });
        }
        expected_seq = seq + 1;
        prev = hash;
    }
    Ok((count, breaks))
}
