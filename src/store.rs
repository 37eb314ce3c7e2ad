//! The vault on disk: the sidecar lock, and crash-safe replacement of files.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

/// An exclusive lock on a vault, held until dropped.
pub struct VaultLock {
    _lock: Flock<File>,
}

/// The sidecar lock file of `vault`: a stable inode, since renames swap the vault's.
pub fn lock_path(vault: &Path) -> PathBuf {
    let name = vault
        .file_name()
        .map_or_else(|| "vault".into(), |n| n.to_string_lossy().into_owned());
    vault.with_file_name(format!(".{name}.lock"))
}

/// The largest vault agevault reads (age itself streams; the document is parsed in memory).
pub const MAX_VAULT_BYTES: u64 = 64 << 20;

/// The largest config file agevault reads.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What a writer does when another writer holds the vault's lock (`--wait`, `--no-wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockWait {
    /// Wait as long as it takes (the default), saying so at once.
    Forever,
    /// Wait at most this long, then give up with an error.
    AtMost(std::time::Duration),
    /// Give up at once.
    Never,
}

/// How this process waits for vault locks, and whether it may say so on stderr.
///
/// Set once from the command line before any command runs: every writer (the vault,
/// scope files, config-only changes) takes its lock through [`lock_exclusive`], and a
/// process-wide setting keeps the flag from being threaded through every caller.
#[derive(Clone, Copy, Debug)]
pub struct LockPolicy {
    /// What to do when the lock is taken.
    pub wait: LockWait,
    /// `-q`: no "waiting for the lock" line.
    pub quiet: bool,
}

static LOCK_POLICY: std::sync::OnceLock<LockPolicy> = std::sync::OnceLock::new();

/// Sets how this process waits for locks (first call wins).
pub fn set_lock_policy(policy: LockPolicy) {
    let _ = LOCK_POLICY.set(policy);
}

fn lock_policy() -> LockPolicy {
    LOCK_POLICY.get().copied().unwrap_or(LockPolicy {
        wait: LockWait::Forever,
        quiet: false,
    })
}

/// How often a bounded wait retries the lock.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Takes the exclusive lock of `vault`. When another writer holds it, this says so on
/// stderr at once and waits (or fails, per [`LockPolicy`]): a silent hang behind an open
/// `agevault edit` looks like a crash.
pub fn lock_exclusive(vault: &Path) -> Result<VaultLock> {
    let path = lock_path(vault);
    let file = open_lock_file(&path)?;
    let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => return Ok(VaultLock { _lock: lock }),
        Err((file, nix::errno::Errno::EWOULDBLOCK)) => file,
        Err((_, errno)) => return Err(lock_error(&path, errno)),
    };
    wait_for_lock(vault, &path, file, lock_policy())
}

/// Opens (creating) the lock file at `path`, refusing anything but a regular file.
fn open_lock_file(path: &Path) -> Result<File> {
    // A lock file committed as a symlink would make us create or truncate files
    // anywhere (as root: anywhere at all); a FIFO would block the open.
    let not_regular = || {
        Error::msg(format!(
            "lock file {} is not a regular file (a symlink, FIFO or device?); remove it, nothing was changed",
            path.display()
        ))
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP | nix::libc::ENXIO) => not_regular(),
            _ => Error::io("creating lock file", path, e),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io("creating lock file", path, e))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// A failure to lock the lock file at `path`.
fn lock_error(path: &Path, errno: nix::errno::Errno) -> Error {
    Error::io("locking", path, std::io::Error::from(errno))
}

/// Another writer holds the lock of `vault` (its lock file `file` at `path`): says so
/// and waits for it, or fails at once or after a while, per `policy`.
fn wait_for_lock(vault: &Path, path: &Path, file: File, policy: LockPolicy) -> Result<VaultLock> {
    let held = || {
        format!(
            "vault {} is locked by another writer (an open `agevault edit`, or a running `set`/`rotate`)",
            vault.display()
        )
    };
    match policy.wait {
        LockWait::Never => Err(Error::LockHeld {
            message: format!("{}; nothing was changed", held()),
        }
        .with_hint("try again when it has finished, or drop --no-wait to wait for it")),
        LockWait::Forever => {
            crate::output::status(
                policy.quiet,
                &format!(
                    "agevault: waiting for the lock on {}: another agevault is writing it (an open `agevault edit`?); \
                     Ctrl-C gives up, --no-wait fails at once",
                    vault.display()
                ),
            );
            let lock =
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| lock_error(path, errno))?;
            Ok(VaultLock { _lock: lock })
        }
        LockWait::AtMost(limit) => {
            crate::output::status(
                policy.quiet,
                &format!(
                    "agevault: waiting up to {} for the lock on {}: another agevault is writing it",
                    humantime::format_duration(limit),
                    vault.display()
                ),
            );
            let deadline = std::time::Instant::now() + limit;
            let mut file = file;
            loop {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return Err(Error::LockHeld {
                        message: format!(
                            "{}; gave up after waiting {}, nothing was changed",
                            held(),
                            humantime::format_duration(limit)
                        ),
                    }
                    .with_hint("try again later, or wait longer (--wait=DURATION)"));
                }
                std::thread::sleep(LOCK_POLL.min(deadline - now));
                match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                    Ok(lock) => return Ok(VaultLock { _lock: lock }),
                    Err((f, nix::errno::Errno::EWOULDBLOCK)) => file = f,
                    Err((_, errno)) => return Err(lock_error(path, errno)),
                }
            }
        }
    }
}

/// Reads a regular file of at most `limit` bytes. Anything else is refused before a
/// byte is read: `/dev/zero` would never end, a FIFO would block (so the open is
/// non-blocking and the type checked on the open descriptor, not the name).
pub fn read_regular_file(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>> {
    read_checked(path, what, limit, false)
}

/// Like [`read_regular_file`] for files that steer agevault (the config, the vault):
/// they must also be owned by the user or root and not writable by group or others
/// (git's `safe.directory` rule), unless `AGEVAULT_SAFE_DIRECTORIES` trusts them.
pub fn read_trusted_file(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>> {
    read_checked(path, what, limit, true)
}

fn read_checked(path: &Path, what: &'static str, limit: u64, trusted: bool) -> Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io("reading", path, e))?;
    let meta = file.metadata().map_err(|e| Error::io("reading", path, e))?;
    if !meta.is_file() {
        let kind = match meta.file_type() {
            t if t.is_dir() => "a directory",
            t if t.is_fifo() => "a FIFO",
            t if t.is_char_device() || t.is_block_device() => "a device",
            t if t.is_socket() => "a socket",
            _ => "not a regular file",
        };
        return Err(Error::msg(format!(
            "{what} {} is {kind}, not a regular file; refusing to read it",
            path.display()
        )));
    }
    if trusted {
        crate::ownership::check(path, what, &meta)?;
    }
    let too_big = || {
        Error::msg(format!(
            "{what} {} is larger than {} MiB (the limit); refusing to read it",
            path.display(),
            limit >> 20
        ))
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // One byte over the limit tells a file that grew since the check.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The name prefix of the file [`replace_atomically`] writes beside `name` before the rename.
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.new-")
}

/// Removes the temporary files that writers killed mid-write (SIGKILL, power loss) left
/// beside `files`, so `git add -A` never commits a vault version nobody signed or a
/// half-written one. The caller holds the vault's lock, so no live writer owns them.
pub fn remove_stray_temp_files(files: &[&Path]) -> Result<()> {
    let Some(first) = files.first() else {
        return Ok(());
    };
    let dir = match first.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefixes: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name())
        .map(|n| temp_prefix(&n.to_string_lossy()))
        .collect();
    let entries = fs::read_dir(&dir).map_err(|e| Error::io("listing", &dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        // Only what we create: regular files (a symlink is removed, never followed).
        match entry.file_type() {
            Ok(t) if t.is_file() || t.is_symlink() => {}
            _ => continue,
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing a stray temporary file", entry.path(), e)),
        }
    }
    Ok(())
}

/// Replaces `path` with `contents` so that a crash leaves the old or the new
/// file, never a mix: write beside it, fsync, rename over, fsync the directory.
/// The file keeps its permissions (new files get 0644).
pub fn replace_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mode = fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(&name))
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(&dir)
        .map_err(|e| Error::io("creating a temporary file in", &dir, e))?;
    // On any error below, dropping `tmp` removes the partial file.
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replacing", path, e.error))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing directory", &dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        replace_atomically(&path, b"one").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        replace_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn stray_temp_files_of_the_named_files_only_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v.age");
        let sig = dir.path().join("v.age.sig");
        for name in [
            ".v.age.new-abc123",
            ".v.age.sig.new-XyZ789",
            ".other.new-abc123",
            "v.age",
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_stray_temp_files(&[&vault, &sig]).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".other.new-abc123", "v.age"]);
    }

    #[test]
    fn lock_file_is_beside_the_vault() {
        assert_eq!(
            lock_path(Path::new("/r/secrets.json.age")),
            Path::new("/r/.secrets.json.age.lock")
        );
    }
}
