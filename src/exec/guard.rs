//! The cleanup guard: a tiny process that removes an `exec --file` directory when
//! the child exits, even when the supervising agevault was killed with SIGKILL.
//!
//! The supervisor starts it once the files are written and before the child, by
//! re-executing its own binary (`/proc/self/exe __exec-guard DIR PID STARTTIME`,
//! naming the supervisor) with an empty environment and no stdio, in its own
//! process group so that terminal signals (Ctrl-C, hang-up) aimed at the job do
//! not reach it. A fresh image holds no decrypted value. The guard waits (pidfd)
//! for the supervisor to end; then for every other process in the directory's
//! record (the child, recorded right after it is spawned) to end; then removes
//! the directory and its record. Start times guard against reused PIDs. On a
//! normal run the supervisor removes the directory itself and ends the guard.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::memdir::{recorded_processes, remove_with_record, ProcessStamp};

/// The hidden first argument that turns the binary into a guard.
pub const GUARD_ARG: &str = "__exec-guard";

/// Starts a guard for `dir`, created by `supervisor` (this process).
pub fn spawn(dir: &Path, supervisor: ProcessStamp) -> Result<Child> {
    let exe = if Path::new("/proc/self/exe").exists() {
        PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().map_err(|e| Error::with_source("cannot find agevault's own binary", e))?
    };
    let dir = std::path::absolute(dir).map_err(|e| Error::io("resolving", dir, e))?;
    Command::new(exe)
        .arg0("agevault")
        .arg(GUARD_ARG)
        .arg(&dir)
        .arg(supervisor.pid.to_string())
        .arg(supervisor.start.to_string())
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::with_source("cannot start the cleanup guard", e))
}

/// Ends a guard whose work the supervisor has done itself.
pub fn stop(mut guard: Child) {
    let _ = guard.kill();
    let _ = guard.wait();
}

/// Runs as the guard when the command line asks for it.
pub fn main_if_guard() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != GUARD_ARG {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    Some(match run(&rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    })
}

fn run(args: &[OsString]) -> Result<()> {
    let [dir, pid, start] = args else {
        return Err(Error::Usage(
            "usage: agevault __exec-guard DIR PID STARTTIME".into(),
        ));
    };
    let dir = PathBuf::from(dir);
    let number = |s: &OsString| s.to_str().and_then(|s| s.parse::<u64>().ok());
    let (Some(pid), Some(start)) = (number(pid), number(start)) else {
        return Err(Error::Usage("PID and STARTTIME must be numbers".into()));
    };
    let stamp = ProcessStamp {
        pid: u32::try_from(pid).map_err(|_| Error::Usage("PID out of range".into()))?,
        start,
    };
    if !is_exec_dir(&dir) {
        return Err(Error::Usage(format!(
            "{} is not an agevault exec directory of this user",
            dir.display()
        )));
    }
    // Terminal and hang-up signals are caught and dropped: only the child's end
    // (or SIGKILL/SIGTERM from an administrator) ends the guard.
    let _ignored = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGQUIT,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGPIPE,
    ]);
    wait_until_gone(stamp);
    // The supervisor is gone; whoever else it recorded (its child) may still use the files.
    while let Some(user) = recorded_processes(&dir)
        .into_iter()
        .find(|p| *p != stamp && p.alive())
    {
        wait_until_gone(user);
    }
    if is_exec_dir(&dir) {
        remove_with_record(&dir);
    }
    Ok(())
}

/// An `agevault-exec-*` directory (not a symlink) owned by us.
fn is_exec_dir(dir: &Path) -> bool {
    let named = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("agevault-exec-"));
    let uid = nix::unistd::getuid().as_raw();
    named && dir.is_absolute() && std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

/// Blocks until the process `stamp` has ended (polling: no pidfds outside Linux).
#[cfg(not(target_os = "linux"))]
fn wait_until_gone(stamp: ProcessStamp) {
    while stamp.alive() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Blocks until the process `stamp` has ended.
#[cfg(target_os = "linux")]
fn wait_until_gone(stamp: ProcessStamp) {
    use rustix::event::{poll, PollFd, PollFlags};
    use rustix::process::{pidfd_open, Pid, PidfdFlags};
    let pidfd = i32::try_from(stamp.pid)
        .ok()
        .and_then(Pid::from_raw)
        .map(|pid| pidfd_open(pid, PidfdFlags::empty()));
    match pidfd {
        // The pidfd pins what ran at PID when it was opened; if that is our
        // process (same start time), it becomes readable when it ends.
        Some(Ok(fd)) => {
            if !stamp.alive() {
                return;
            }
            loop {
                let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                match poll(&mut fds, None) {
                    Ok(n) if n > 0 => return,
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
        // Gone already.
        Some(Err(rustix::io::Errno::SRCH)) | None => return,
        // No pidfd (Linux before 5.3, or seccomp): look every 100 ms.
        Some(Err(_)) => {}
    }
    while stamp.alive() {
        std::thread::sleep(Duration::from_millis(100));
    }
}
