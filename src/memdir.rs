//! Private directories on a memory filesystem for plaintext that must exist as a file
//! (the editor's buffer, `exec --file`), with cleanup of ones left by killed runs.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// A 0700 directory that is removed, with everything in it, when dropped.
pub struct MemDir {
    path: PathBuf,
}

/// Whether `dir` is on tmpfs or ramfs (pages in memory, not on a disk).
pub fn is_memory_fs(dir: &Path) -> bool {
    match nix::sys::statfs::statfs(dir) {
        #[allow(clippy::unnecessary_cast)]
        Ok(s) => {
            let t = s.filesystem_type().0 as i64;
            t == TMPFS_MAGIC || t == RAMFS_MAGIC
        }
        Err(_) => false,
    }
}

/// The memory-backed base directory: `$XDG_RUNTIME_DIR`, else `/dev/shm`.
pub fn memory_base() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    runtime
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/dev/shm")))
        .find(|d| d.is_dir() && is_memory_fs(d))
}

impl MemDir {
    /// Creates `agevault-KIND-PID-RANDOM` on a memory filesystem, first sweeping
    /// stale ones whose process is gone. With `allow_disk`, falls back to the temp dir.
    pub fn create(kind: &str, allow_disk: bool) -> Result<MemDir> {
        let base =
            match memory_base() {
                Some(b) => b,
                None if allow_disk => std::env::temp_dir(),
                None => return Err(Error::msg(
                    "no memory filesystem found ($XDG_RUNTIME_DIR or /dev/shm on tmpfs); refusing to write \
                     plaintext to a disk (pass --allow-disk to accept that risk)",
                )),
            };
        sweep_stale(&base);
        let pid = std::process::id();
        for _ in 0..16 {
            let suffix: u64 = rand_suffix();
            let path = base.join(format!("agevault-{kind}-{pid}-{suffix:016x}"));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    // The umask may have narrowed the mode; it must be exactly 0700.
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                        .map_err(|e| Error::io("securing", &path, e))?;
                    return Ok(MemDir { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io("creating directory", &path, e)),
            }
        }
        Err(Error::msg(format!(
            "cannot create a private directory in {}",
            base.display()
        )))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a new 0600 file named `name` inside, refusing to follow or reuse anything.
    pub fn write_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        let path = self.path.join(name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io("creating", &path, e))?;
        f.write_all(contents)
            .map_err(|e| Error::io("writing", &path, e))?;
        Ok(path)
    }
}

impl Drop for MemDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn rand_suffix() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom_fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_le_bytes(bytes)
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// Removes `agevault-*-PID-*` directories of ours whose PID no longer runs.
pub fn sweep_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let uid = nix::unistd::getuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = stale_pid(&name) else {
            continue;
        };
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::EPERM);
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn stale_pid(name: &OsStr) -> Option<i32> {
    let name = name.to_str()?;
    let rest = name.strip_prefix("agevault-")?;
    let mut parts = rest.split('-');
    let _kind = parts.next()?;
    let pid: i32 = parts.next()?.parse().ok()?;
    let _random = parts.next()?;
    (pid > 0).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_our_names_only() {
        assert_eq!(stale_pid(OsStr::new("agevault-edit-123-00ff")), Some(123));
        assert_eq!(stale_pid(OsStr::new("agevault-edit-x-00ff")), None);
        assert_eq!(stale_pid(OsStr::new("other-edit-123-00ff")), None);
    }

    #[test]
    fn creates_private_dir_and_files() {
        let dir = MemDir::create("unittest", true).unwrap();
        let mode = fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let f = dir.write_file("x", b"v").unwrap();
        assert_eq!(fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(dir.write_file("x", b"v").is_err());
        let p = dir.path().to_owned();
        drop(dir);
        assert!(!p.exists());
    }
}
