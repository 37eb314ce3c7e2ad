//! Running a child process under supervision: signals forwarded, exit status mapped,
//! orphans reaped when we are PID 1.

use std::process::Command;

use nix::sys::signal::{self, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;

use crate::error::{Error, Result};

/// Signals passed on to the child (README, *exec*).
pub const FORWARDED: [i32; 7] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH];

/// The executable `name` resolves to in `PATH`, as a shell would find it, except that
/// an empty `PATH` entry does not stand for the current directory (a repository
/// must not be able to plant the program that is run).
pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    let dirs = std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty());
    let path = std::env::join_paths(dirs).ok()?;
    which::which_in_global(name, Some(path)).ok()?.next()
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ChildExit {
    /// The shell convention: the code, or 128+N for signal N.
    pub fn shell_code(self) -> u8 {
        match self {
            // The low byte, as wait(2) reports it.
            ChildExit::Code(c) => c.to_le_bytes()[0],
            ChildExit::Signal(s) => u8::try_from(s.saturating_add(128).clamp(0, 255)).unwrap_or(u8::MAX),
        }
    }

    /// Whether it exited with 0.
    pub fn success(self) -> bool {
        self == ChildExit::Code(0)
    }
}

/// An error for a command that could not be started, with the shell's exit code
/// (127 not found, 126 not executable).
pub fn spawn_error(program: &std::ffi::OsStr, e: &std::io::Error) -> Error {
    let name = crate::terminal::sanitize(&program.to_string_lossy());
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Spawn {
            message: format!("command not found: {name}"),
            code: 127,
        },
        std::io::ErrorKind::PermissionDenied => Error::Spawn {
            message: format!("command is not executable: {name}"),
            code: 126,
        },
        _ => Error::Spawn {
            message: format!("cannot run {name}: {e}"),
            code: 126,
        },
    }
}

/// Spawns `cmd`, forwards the signals we receive to it until it ends, and returns how it ended.
pub fn run_supervised(cmd: Command) -> Result<ChildExit> {
    run_supervised_with(cmd, |_| Vec::new())
}

/// Like [`run_supervised`]; `on_spawn` may take the child's pipes and start
/// threads, which are joined after the child ends.
pub fn run_supervised_with(
    mut cmd: Command,
    on_spawn: impl FnOnce(&mut std::process::Child) -> Vec<std::thread::JoinHandle<()>>,
) -> Result<ChildExit> {
    // Register before spawning so a signal arriving in between is queued, not lost.
    let mut signals = SignalsInfo::<WithOrigin>::new(FORWARDED)
        .map_err(|e| Error::with_source("cannot install signal handlers", e))?;
    let handle = signals.handle();
    let program = cmd.get_program().to_owned();
    let mut child = cmd.spawn().map_err(|e| spawn_error(&program, &e))?;
    let threads = on_spawn(&mut child);
    let pid = pid_of(&child);
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            // The terminal already sent Ctrl-C, Ctrl-\ and resizes to the whole
            // foreground process group, the child included: sending them again
            // would make it see two.
            let from_tty =
                origin.cause == Cause::Kernel && matches!(origin.signal, SIGINT | SIGQUIT | SIGWINCH);
            if !from_tty {
                if let Ok(sig) = Signal::try_from(origin.signal) {
                    let _ = signal::kill(pid, sig);
                }
            }
        }
    });
    let exit = wait_for(pid);
    handle.close();
    let _ = forwarder.join();
    for t in threads {
        let _ = t.join();
    }
    exit
}

/// Waits for `pid`; as PID 1 it also reaps every orphan that gets re-parented to us.
fn wait_for(pid: Pid) -> Result<ChildExit> {
    let reaper = std::process::id() == 1;
    let target = if reaper { Pid::from_raw(-1) } else { pid };
    loop {
        match waitpid(target, None) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Ok(ChildExit::Code(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => return Ok(ChildExit::Signal(sig as i32)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::with_source("cannot wait for the child process", e)),
        }
    }
}

/// The process ID of a child we spawned, as nix takes it. Linux PIDs stay below 2^22
/// (`pid_max`), so it always fits; if it ever did not, `i32::MAX` names no process,
/// where a wrapped value could be -1, "every process", to kill(2).
pub fn pid_of(child: &std::process::Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(ChildExit::Code(7).shell_code(), 7);
        assert_eq!(ChildExit::Signal(15).shell_code(), 143);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let code = run_supervised(cmd).unwrap();
        assert_eq!(code, ChildExit::Code(3));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "kill -TERM $$"]);
        let sig = run_supervised(cmd).unwrap();
        assert_eq!(sig, ChildExit::Signal(15));
    }
}
