//! Private directories on a memory filesystem for plaintext that must exist as a file
//! (the editor's buffer, `exec --file`), with cleanup of ones left by killed runs.
//!
//! A directory `agevault-KIND-PID-RANDOM` may have a sibling record
//! `agevault-KIND-PID-RANDOM.procs` listing the processes that use it, one
//! `PID STARTTIME` per line (start time in clock ticks since boot, as in
//! `/proc/PID/stat`, so a reused PID is not mistaken for the original). The
//! record lives beside the directory, not in it, so the directory holds only the
//! secret files. A sweep removes a directory only when no recorded process is
//! alive; without a record, when the PID in its name is gone.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[cfg(target_os = "linux")]
const TMPFS_MAGIC: i64 = 0x0102_1994;
/// The suffix of the record beside a directory.
const RECORD_SUFFIX: &str = ".procs";
/// A record is a few lines; anything longer is not one of ours.
const RECORD_MAX: u64 = 4096;
#[cfg(target_os = "linux")]
const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// A 0700 directory that is removed, with everything in it, when dropped.
pub struct MemDir {
    path: PathBuf,
}

/// Whether `dir` is on tmpfs or ramfs (pages in memory, not on a disk).
#[cfg(target_os = "linux")]
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

/// Whether `dir` is on tmpfs (the BSDs name file system types instead of numbering
/// them). macOS has no tmpfs unless one is mounted: commands that need a memory
/// directory then refuse, or use the disk only with `--allow-disk`.
#[cfg(not(target_os = "linux"))]
pub fn is_memory_fs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|s| s.filesystem_type_name() == "tmpfs")
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
            let mut random = [0u8; 8];
            rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut random)
                .map_err(|e| Error::with_source("cannot get random bytes from the system", e))?;
            let suffix = u64::from_le_bytes(random);
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

    /// The record, opened for appending (closed on exec), for [`record_self_after_fork`].
    pub fn open_record(&self) -> Result<fs::File> {
        let record = record_path(&self.path);
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&record)
            .map_err(|e| Error::io("creating", &record, e))
    }

    /// Adds `pid` (with its start time) to the record of processes using the
    /// directory: no sweep removes the directory while one of them runs.
    /// Returns its stamp, or `None` when the process is already gone.
    pub fn record_process(&self, pid: u32) -> Result<Option<ProcessStamp>> {
        let Some(stamp) = ProcessStamp::of(pid) else {
            return Ok(None);
        };
        // One short write: a reader never sees half a line.
        self.open_record()?
            .write_all(format!("{} {}\n", stamp.pid, stamp.start).as_bytes())
            .map_err(|e| Error::io("writing", record_path(&self.path), e))?;
        Ok(Some(stamp))
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
        remove_with_record(&self.path);
    }
}

/// The record beside `dir`.
fn record_path(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(RECORD_SUFFIX);
    PathBuf::from(name)
}

/// Removes `dir` with everything in it, then its record (in that order, so a
/// record without its directory only ever means "being removed").
pub fn remove_with_record(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    let _ = fs::remove_file(record_path(dir));
}

/// A process, told apart from a later one that reuses its PID by its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessStamp {
    /// The PID.
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start: u64,
}

impl ProcessStamp {
    /// The running (not zombie) process `pid`, if there is one.
    pub fn of(pid: u32) -> Option<ProcessStamp> {
        let (start, state) = read_stat(pid)?;
        (!matches!(state, 'Z' | 'X')).then_some(ProcessStamp { pid, start })
    }

    /// Whether this very process still runs (a zombie has finished).
    pub fn alive(self) -> bool {
        match read_stat(self.pid) {
            Some((start, state)) => start == self.start && !matches!(state, 'Z' | 'X'),
            // Without /proc nothing tells processes apart: a live PID counts.
            // A recorded PID beyond i32 is no process (and must not wrap to -1, "every
            // process", for kill(2)).
            None if !Path::new("/proc/self/stat").exists() => i32::try_from(self.pid).is_ok_and(pid_alive),
            None => false,
        }
    }
}

/// Start time and state letter from `/proc/PID/stat`.
fn read_stat(pid: u32) -> Option<(u64, char)> {
    parse_stat(&fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// Start time and state letter from the text of a `/proc/PID/stat`. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after
/// its last `)`. Allocates nothing (it also runs between fork and exec).
fn parse_stat(stat: &[u8]) -> Option<(u64, char)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    let state = char::from(*fields.next()?.first()?);
    // After the state (field 3), the start time is field 22: 18 fields further.
    let mut start: u64 = 0;
    for &d in fields.nth(18)? {
        if !d.is_ascii_digit() {
            return None;
        }
        start = start.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((start, state))
}

/// Appends this process's `PID STARTTIME` line to `record`, for a child between
/// fork and exec: the child is on record before it runs any code of its own.
/// Async-signal-safe: system calls on stack buffers only, no allocation, no locks.
pub fn record_self_after_fork(mut record: &fs::File) {
    use std::io::Read;
    let mut stat = [0u8; 2048];
    // A short path: std converts it on the stack.
    let Ok(mut f) = fs::File::open("/proc/self/stat") else {
        return;
    };
    let Ok(n) = f.read(&mut stat) else {
        return;
    };
    drop(f);
    let Some((start, _)) = parse_stat(&stat[..n]) else {
        return;
    };
    let mut line = [0u8; 48];
    let mut len = put_decimal(&mut line, 0, u64::from(std::process::id()));
    line[len] = b' ';
    len = put_decimal(&mut line, len + 1, start);
    line[len] = b'\n';
    let _ = record.write_all(&line[..=len]);
}

/// Writes `n` in decimal at `buf[at..]`, returning the index after it.
fn put_decimal(buf: &mut [u8], at: usize, mut n: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    buf[at..at + len].copy_from_slice(&digits[i..]);
    at + len
}

fn pid_alive(pid: i32) -> bool {
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// The processes recorded as using `dir` (empty without a readable record).
pub fn recorded_processes(dir: &Path) -> Vec<ProcessStamp> {
    read_record(dir, nix::unistd::getuid().as_raw()).unwrap_or_default()
}

/// The processes in `dir`'s record: `None` when there is no readable, well-formed
/// record of ours (then the PID in the name decides).
fn read_record(dir: &Path, uid: u32) -> Option<Vec<ProcessStamp>> {
    use std::io::Read;
    let path = record_path(dir);
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(&path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.uid() != uid || meta.len() > RECORD_MAX {
        return None;
    }
    let mut text = String::new();
    f.take(RECORD_MAX).read_to_string(&mut text).ok()?;
    let stamps: Option<Vec<ProcessStamp>> = text
        .lines()
        .map(|line| {
            let (pid, start) = line.split_once(' ')?;
            Some(ProcessStamp {
                pid: pid.parse().ok()?,
                start: start.parse().ok()?,
            })
        })
        .collect();
    stamps.filter(|s| !s.is_empty())
}

/// Removes `agevault-*-PID-*` directories of ours that no process uses any more:
/// none of the processes in its record runs (or, without a record, its PID is
/// gone). Also removes records whose directory is gone.
pub fn sweep_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let uid = nix::unistd::getuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.uid() != uid {
            continue;
        }
        if let Some(dir_name) = name.to_str().and_then(|n| n.strip_suffix(RECORD_SUFFIX)) {
            let dir = base.join(dir_name);
            if meta.is_file()
                && stale_pid(OsStr::new(dir_name)).is_some()
                && fs::symlink_metadata(&dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            {
                let _ = fs::remove_file(entry.path());
            }
            continue;
        }
        let Some(pid) = stale_pid(&name) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let dir = entry.path();
        let in_use = match read_record(&dir, uid) {
            Some(stamps) => stamps.iter().any(|s| s.alive()),
            None => pid_alive(pid),
        };
        if !in_use {
            remove_with_record(&dir);
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
    fn stamps_tell_a_process_from_a_reused_pid() {
        let me = ProcessStamp::of(std::process::id()).unwrap();
        assert!(me.alive());
        assert!(!ProcessStamp {
            start: me.start + 1,
            ..me
        }
        .alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(ProcessStamp::of(pid), None);
    }

    #[test]
    fn stat_parsing_and_the_after_fork_record() {
        let line = b"42 (a) b) (c) S 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 123456789 23 24\n";
        assert_eq!(parse_stat(line), Some((123_456_789, 'S')));
        assert_eq!(parse_stat(b"42 (x) Z 1 2"), None);
        let mut buf = [0u8; 24];
        assert_eq!(put_decimal(&mut buf, 1, 0), 2);
        assert_eq!(put_decimal(&mut buf, 0, u64::MAX), 20);
        assert_eq!(&buf[..20], u64::MAX.to_string().as_bytes());

        let base = tempfile::tempdir().unwrap();
        let dir = MemDir {
            path: base.path().join("agevault-exec-1-00ff"),
        };
        fs::create_dir(dir.path()).unwrap();
        record_self_after_fork(&dir.open_record().unwrap());
        let me = ProcessStamp::of(std::process::id()).unwrap();
        assert_eq!(recorded_processes(dir.path()), vec![me]);
    }

    #[test]
    fn record_keeps_a_directory_while_a_recorded_process_runs() {
        let base = tempfile::tempdir().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        // Named after a dead PID, but the record names a live process.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let dir = base.path().join(format!("agevault-exec-{dead}-00ff"));
        fs::create_dir(&dir).unwrap();
        let dir = MemDir { path: dir };
        dir.record_process(std::process::id()).unwrap().unwrap();
        assert_eq!(read_record(dir.path(), uid).unwrap().len(), 1);
        sweep_stale(base.path());
        assert!(dir.path().exists(), "swept while a recorded process runs");
        // A record of processes that are all gone lets it go, record included.
        fs::write(record_path(dir.path()), format!("{dead} 1\n")).unwrap();
        sweep_stale(base.path());
        assert!(!dir.path().exists());
        assert!(!record_path(dir.path()).exists());
        // A record left without its directory is removed too.
        let lone = base.path().join(format!("agevault-exec-{dead}-abcd"));
        fs::write(record_path(&lone), "1 1\n").unwrap();
        sweep_stale(base.path());
        assert!(!record_path(&lone).exists());
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
