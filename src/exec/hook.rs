//! Running an `after_rotate` hook: `sh -c CMD` with the same injection as `exec`, its
//! output masked and sent to our stderr, in its own process group, under a timeout.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use secrecy::ExposeSecret;

use super::{inject, pump, Injection, LaunchOptions, Masker};
use crate::child::ChildExit;
use crate::error::{Error, Result};

/// How a hook ended.
#[derive(Debug, PartialEq, Eq)]
pub enum HookEnd {
    /// It exited or was killed by a signal.
    Exited(ChildExit),
    /// It ran past its timeout and its process group was killed.
    TimedOut,
}

/// Runs `command` through `sh -c` with `injections`; waits at most `timeout`.
pub fn run(
    command: &str,
    injections: &[Injection<'_>],
    opts: &LaunchOptions,
    timeout: Duration,
) -> Result<HookEnd> {
    let mut cmd = Command::new("sh");
    // The command is config text; the values travel only in the environment and files.
    cmd.arg("-c").arg(command);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a timeout stops everything it started.
    cmd.process_group(0);
    let (memdir, memfds) = inject(&mut cmd, injections, opts)?;
    let values: Vec<&[u8]> = injections
        .iter()
        .map(|i| i.value.expose_secret().as_bytes())
        .collect();
    let masker = Masker::new(&values);
    let mut child = cmd
        .spawn()
        .map_err(|e| crate::child::spawn_error(cmd.get_program(), &e))?;
    let mut pumps = Vec::new();
    // Both streams go to our stderr: stdout stays for data.
    if let Some(out) = child.stdout.take() {
        let m = masker.clone();
        pumps.push(std::thread::spawn(move || pump(out, std::io::stderr(), m)));
    }
    if let Some(err) = child.stderr.take() {
        let m = masker.clone();
        pumps.push(std::thread::spawn(move || pump(err, std::io::stderr(), m)));
    }
    let group = crate::child::pid_of(&child);
    let started = Instant::now();
    let end = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                use std::os::unix::process::ExitStatusExt;
                break HookEnd::Exited(match (status.code(), status.signal()) {
                    (Some(c), _) => ChildExit::Code(c),
                    (None, Some(s)) => ChildExit::Signal(s),
                    (None, None) => ChildExit::Code(1),
                });
            }
            Ok(None) if started.elapsed() >= timeout => {
                let _ = killpg(group, Signal::SIGTERM);
                std::thread::sleep(Duration::from_millis(500));
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait();
                break HookEnd::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Error::with_source("cannot wait for the hook", e)),
        }
    };
    // Whatever the hook left running in its group must not keep our pipes open.
    let _ = killpg(group, Signal::SIGKILL);
    for p in pumps {
        let _ = p.join();
    }
    drop(memdir);
    drop(memfds);
    Ok(end)
}
