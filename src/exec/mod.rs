//! Running a command with secrets injected: planning what goes where, delivering
//! values as env vars, tmpfs files or sealed memfds, and supervising or replacing
//! ourselves with the child.

pub mod guard;
pub mod hook;
mod mask;
pub mod plan;
pub mod policy;

pub use mask::Masker;
pub use plan::{plan, Delivery, Injection, Mapping, Selection};

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use secrecy::ExposeSecret;

use crate::child::{run_supervised_with, spawn_error};
use crate::error::{Error, Result};
use crate::memdir::MemDir;

/// Variables a child keeps under `--clean-env`.
pub const CLEAN_ENV_KEEP: [&str; 5] = ["PATH", "HOME", "USER", "LANG", "TERM"];

/// Variables never passed to the child: the vault's master key must not reach it.
pub const NEVER_PASSED: [&str; 2] = ["AGEVAULT_IDENTITY", "AGEVAULT_IDENTITY_FILE"];

/// How `--file` secrets are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilesAs {
    /// 0600 files in a fresh 0700 directory on a memory filesystem, removed afterwards.
    Tmpfs,
    /// Sealed anonymous memory files, passed as /proc/self/fd/N; nothing to clean up.
    Memfd,
}

/// How to launch.
pub struct LaunchOptions {
    /// tmpfs files or memfds for file deliveries.
    pub files_as: FilesAs,
    /// Start from a minimal environment.
    pub clean_env: bool,
    /// Filter the child's output.
    pub mask: bool,
    /// Allow a disk-backed directory for files.
    pub allow_disk: bool,
    /// Stay the parent even when nothing needs cleaning up or filtering: the
    /// caller has work to do when the child ends (`--from openbao` revokes its token).
    pub supervise: bool,
}

/// Runs `command` with `injections`. Returns the child's exit code (as a shell reports
/// it) only when supervising (or on error); otherwise the process becomes the child.
pub fn launch(injections: &[Injection<'_>], command: &[OsString], opts: &LaunchOptions) -> Result<u8> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Usage("no command given after `--`".into()))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    let (memdir, memfds) = inject(&mut cmd, injections, opts)?;

    // As PID 1 (a container's init) we must stay: the kernel gives PID 1 no default
    // signal actions and hands it every orphan to reap.
    let supervise = opts.supervise || opts.mask || memdir.is_some() || std::process::id() == 1;
    if !supervise {
        // Nothing to clean up or filter: become the child, adding no process and
        // leaving signals and exit codes native. memfds stay open across exec.
        for fd in memfds {
            let _ = fd.into_raw_fd();
        }
        let err = cmd.exec();
        return Err(exec_error(program, &err));
    }

    let masker = if opts.mask {
        let values: Vec<&[u8]> = injections
            .iter()
            .map(|i| i.value.expose_secret().as_bytes())
            .collect();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        Some(Masker::new(&values))
    } else {
        None
    };
    if let Some(dir) = &memdir {
        // The child records itself between fork and exec, so it is on record
        // before it runs anything: there is no moment in which a SIGKILL of ours
        // could let the guard or a sweep take the files of a running child.
        let record = std::sync::Arc::new(dir.open_record()?);
        // SAFETY: the closure runs in the forked child before exec and only makes
        // system calls on stack buffers (open, read, write, close, getpid): no
        // allocation and no locks, so it is async-signal-safe. This is the crate's
        // only unsafe code (Cargo.toml denies it everywhere else).
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || {
                crate::memdir::record_self_after_fork(&record);
                Ok(())
            });
        }
    }
    // The guard exists before the child does, so no SIGKILL of ours can leave a
    // running child's files unguarded.
    let guard = memdir.as_ref().and_then(start_guard);
    let exit = run_supervised_with(cmd, |child| {
        let mut pumps = Vec::new();
        if let Some(masker) = &masker {
            if let Some(out) = child.stdout.take() {
                let m = masker.clone();
                pumps.push(std::thread::spawn(move || pump(out, std::io::stdout(), m)));
            }
            if let Some(err) = child.stderr.take() {
                let m = masker.clone();
                pumps.push(std::thread::spawn(move || pump(err, std::io::stderr(), m)));
            }
        }
        pumps
    });
    // Files go first, whatever happened to the child; then the guard is not needed.
    drop(memdir);
    drop(memfds);
    if let Some(g) = guard {
        guard::stop(g);
    }
    Ok(exit?.shell_code())
}

/// Sets up `cmd`'s environment (clean or inherited, never our identity) and delivers
/// every injection: env values, tmpfs files or sealed memfds. The directory and the
/// memfds must live until the child has ended (or exec'd).
pub(crate) fn inject(
    cmd: &mut Command,
    injections: &[Injection<'_>],
    opts: &LaunchOptions,
) -> Result<(Option<MemDir>, Vec<OwnedFd>)> {
    if opts.clean_env {
        cmd.env_clear();
        for name in CLEAN_ENV_KEEP {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
    }
    for name in NEVER_PASSED {
        cmd.env_remove(name);
    }

    let mut memdir = None;
    let mut memfds: Vec<OwnedFd> = Vec::new();
    for inj in injections {
        let value = inj.value.expose_secret();
        match inj.delivery {
            Delivery::Env => {
                cmd.env(&inj.name, value);
            }
            Delivery::File => match opts.files_as {
                FilesAs::Tmpfs => {
                    if memdir.is_none() {
                        memdir = Some(MemDir::create("exec", opts.allow_disk)?);
                    }
                    let dir = memdir
                        .as_ref()
                        .ok_or_else(|| Error::msg("internal: no directory"))?;
                    let path = dir.write_file(&inj.name, value.as_bytes())?;
                    cmd.env(&inj.name, path);
                }
                FilesAs::Memfd => {
                    let fd = sealed_memfd(&inj.name, value.as_bytes())?;
                    cmd.env(&inj.name, format!("/proc/self/fd/{}", fd.as_raw_fd()));
                    memfds.push(fd);
                }
            },
        }
    }
    Ok((memdir, memfds))
}

/// Records us as the user of `dir` and starts the guard that removes it when we
/// and the child are gone, should we be killed. As PID 1 there is no guard: when
/// PID 1 dies the kernel kills the whole namespace, child and guard included.
/// Failures only weaken that backstop (a later run's sweep still removes the
/// files), so they warn and go on.
fn start_guard(dir: &MemDir) -> Option<std::process::Child> {
    let started = dir
        .record_process(std::process::id())
        .and_then(|me| me.ok_or_else(|| Error::msg("cannot read our own /proc entry")))
        .and_then(|me| {
            if std::process::id() == 1 {
                return Ok(None);
            }
            guard::spawn(dir.path(), me).map(Some)
        });
    started.unwrap_or_else(|e| {
        crate::diagnostics::warning(&format!(
            "{e}; if agevault is killed, its files stay until the next run"
        ));
        None
    })
}

fn exec_error(program: &std::ffi::OsStr, err: &std::io::Error) -> Error {
    if err.raw_os_error() == Some(nix::libc::E2BIG) {
        return Error::msg("the environment and arguments are too large for the kernel (E2BIG)");
    }
    spawn_error(program, err)
}

/// `--files-as memfd` needs `memfd_create` and file seals, which only Linux has.
#[cfg(not(target_os = "linux"))]
fn sealed_memfd(name: &str, _value: &[u8]) -> Result<OwnedFd> {
    Err(Error::Usage(format!(
        "--files-as memfd needs Linux (memfd_create and file seals) and cannot deliver {name} here; \
         use the default --files-as tmpfs"
    )))
}

/// An anonymous memory file holding `value`, sealed so nobody can change it,
/// rewound so the child reads from the start.
#[cfg(target_os = "linux")]
fn sealed_memfd(name: &str, value: &[u8]) -> Result<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let cname =
        std::ffi::CString::new(format!("agevault-{name}")).map_err(|_| Error::msg("invalid file name"))?;
    let fd = memfd_create(&cname, MemFdCreateFlag::MFD_ALLOW_SEALING)
        .map_err(|e| Error::with_source("cannot create a memory file", e))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(value)
        .map_err(|e| Error::with_source("cannot write a memory file", e))?;
    nix::unistd::lseek(file.as_raw_fd(), 0, nix::unistd::Whence::SeekSet)
        .map_err(|e| Error::with_source("cannot rewind a memory file", e))?;
    let seals =
        SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SEAL;
    fcntl(file.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals))
        .map_err(|e| Error::with_source("cannot seal a memory file", e))?;
    Ok(OwnedFd::from(file))
}

/// Copies `from` to `to` through the masker, flushing after every read so
/// output keeps its line-by-line latency.
fn pump(mut from: impl Read, to: impl Write, mut masker: Masker) {
    let mut to = to;
    let mut buf = zeroize::Zeroizing::new([0u8; 8192]);
    let mut out = Vec::with_capacity(16384);
    loop {
        let n = match from.read(&mut buf[..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        out.clear();
        masker.feed(&buf[..n], &mut out);
        // A failed write is ignored: keep draining so the child does not block on a full pipe.
        let _ = to.write_all(&out).and_then(|()| to.flush());
    }
    out.clear();
    masker.finish(&mut out);
    let _ = to.write_all(&out).and_then(|()| to.flush());
}
