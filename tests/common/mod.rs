//! The shared harness: a temporary repo with a temporary $HOME, and the real binary.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A sandbox: `root/home` is $HOME, `root/repo` the working directory.
pub struct Sandbox {
    pub root: tempfile::TempDir,
}

/// The user every sandbox runs as.
pub const USER: &str = "alice";

impl Sandbox {
    /// An empty sandbox (no config, no identity).
    pub fn empty() -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("agevault-test-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(root.path().join("home")).unwrap();
        fs::create_dir_all(root.path().join("repo")).unwrap();
        Sandbox { root }
    }

    /// A sandbox after `agevault init` (which generated alice's identity).
    pub fn init() -> Sandbox {
        let sb = Sandbox::empty();
        sb.test(&["init"]).run().success();
        sb
    }

    /// A sandbox after init with these secrets set.
    pub fn with_secrets(pairs: &[(&str, &str)]) -> Sandbox {
        let sb = Sandbox::init();
        for (path, value) in pairs {
            sb.set(path, value);
        }
        sb
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub fn repo(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    pub fn vault(&self) -> PathBuf {
        self.repo().join("secrets.json.age")
    }

    pub fn config(&self) -> PathBuf {
        self.repo().join(".agevault.toml")
    }

    /// The sandbox's trust store (outside the repo and $HOME, as on a real machine).
    pub fn trust_dir(&self) -> PathBuf {
        self.root.path().join("trust")
    }

    /// The sandbox's access record directory.
    pub fn audit_dir(&self) -> PathBuf {
        self.root.path().join("audit")
    }

    /// alice's signing key.
    pub fn signing_key(&self) -> PathBuf {
        self.home().join(".config/agevault/signing-key")
    }

    /// The vault's signature file.
    pub fn sig(&self) -> PathBuf {
        self.repo().join("secrets.json.age.sig")
    }

    pub fn identity(&self) -> PathBuf {
        self.home().join(".config/agevault/identity.txt")
    }

    pub fn vault_bytes(&self) -> Vec<u8> {
        fs::read(self.vault()).unwrap()
    }

    /// The binary as a plain `std::process::Command`, in the repo, with a minimal clean
    /// environment: for tests that must act while it runs (signals, pids, pipes).
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_agevault"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("USER", USER)
            .env("LANG", "C.UTF-8")
            .env("AGEVAULT_TRUST_DIR", self.trust_dir())
            // The access record of `exec` and `get` (root's default is /var/lib/agevault/audit).
            .env("AGEVAULT_AUDIT_DIR", self.audit_dir())
            .current_dir(self.repo())
            .args(args);
        cmd
    }

    /// A [`Test`] of `agevault ARGS` in this sandbox.
    pub fn test(&self, args: &[&str]) -> Test {
        Test {
            command: self.command(args),
            stdin: None,
        }
    }

    /// `agevault set PATH` with the value on stdin; asserts success.
    pub fn set(&self, path: &str, value: &str) {
        self.test(&["set", path]).stdin(value).run().success();
    }

    /// `agevault scopes add NAME --paths GLOB --readers READER…`; asserts success.
    pub fn add_scope(&self, name: &str, paths: &str, readers: &[&str]) {
        let mut args = vec!["scopes", "add", name, "--paths", paths, "--readers"];
        args.extend_from_slice(readers);
        self.test(&args).run().success();
    }

    /// `agevault get PATH` stdout as text; asserts success.
    pub fn get(&self, path: &str) -> String {
        self.test(&["get", path]).run().success().stdout()
    }

    /// The plaintext document, decrypted with the stock `age` CLI.
    pub fn age_decrypt(&self) -> String {
        let out = std::process::Command::new("age")
            .args(["-d", "-i"])
            .arg(self.identity())
            .arg(self.vault())
            .output()
            .expect("the age CLI must be installed (apt-get install age)");
        assert!(
            out.status.success(),
            "age -d: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Appends to the config as a writer would: edit, then `agevault trust sign`.
    pub fn append_config(&self, toml: &str) {
        let mut text = fs::read_to_string(self.config()).unwrap();
        text.push('\n');
        text.push_str(toml);
        fs::write(self.config(), text).unwrap();
        self.test(&["trust", "sign"]).run().success();
    }

    /// Signs the vault's bytes exactly as they are, with the stock `ssh-keygen -Y sign`
    /// and alice's signing key (a writer using stock tools): the next generation of the
    /// manifest in the current signature file, for the current bytes.
    pub fn sign_as_is(&self) {
        self.sign_file_as_is(&self.vault());
    }

    /// [`Sandbox::sign_as_is`] for the vault file at `vault` (and its `.sig` beside it).
    pub fn sign_file_as_is(&self, vault: &Path) {
        let sig_file = PathBuf::from(format!("{}.sig", vault.display()));
        let old = fs::read_to_string(&sig_file).unwrap();
        let header: Vec<&str> = old.lines().take_while(|l| !l.starts_with("-----BEGIN")).collect();
        let field = |k: &str| {
            header
                .iter()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap()
                .to_owned()
        };
        let generation: u64 = field("generation").parse().unwrap();
        let sha = std::process::Command::new("sha256sum")
            .arg(vault)
            .output()
            .unwrap();
        let sha = String::from_utf8(sha.stdout).unwrap()[..64].to_owned();
        let mut message = String::new();
        for line in &header {
            let line = if line.starts_with("generation: ") {
                format!("generation: {}", generation + 1)
            } else if line.starts_with("vault-sha256: ") {
                format!("vault-sha256: {sha}")
            } else {
                (*line).to_string()
            };
            message.push_str(&line);
            message.push('\n');
        }
        let msg_path = self.root.path().join("manifest.txt");
        let sig_path = self.root.path().join("manifest.txt.sig");
        let _ = fs::remove_file(&sig_path);
        fs::write(&msg_path, &message).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", "agevault", "-f"])
            .arg(self.signing_key())
            .arg(&msg_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-keygen -Y sign: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let armor = fs::read_to_string(&sig_path).unwrap();
        fs::write(&sig_file, format!("{message}{armor}")).unwrap();
    }

    /// Encrypts `plaintext` with the stock `age` CLI to alice and installs it as the vault.
    pub fn age_encrypt_vault(&self, plaintext: &[u8]) {
        let recipients = self.root.path().join("recipients.txt");
        let public = public_key(&self.identity());
        fs::write(&recipients, format!("{public}\n")).unwrap();
        let input = self.root.path().join("plain.json");
        fs::write(&input, plaintext).unwrap();
        let status = std::process::Command::new("age")
            .args(["-a", "-R"])
            .arg(&recipients)
            .arg("-o")
            .arg(self.vault())
            .arg(&input)
            .status()
            .unwrap();
        assert!(status.success());
        fs::remove_file(&input).unwrap();
        self.sign_as_is();
    }
}

/// `age-keygen -y FILE`.
pub fn public_key(identity: &Path) -> String {
    let out = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(identity)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A fresh identity file at `path` (via `age-keygen`); returns its public key.
pub fn age_keygen(path: &Path) -> String {
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    public_key(path)
}

/// Stdout and stderr together, for leak checks.
pub fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts `secret` appears in neither stdout nor stderr.
#[track_caller]
pub fn assert_no_leak(out: &Output, secret: &str) {
    let text = all_output(out);
    assert!(!text.contains(secret), "secret leaked into output: {text}");
}

/// Stdout as text (of a process the [`Test`] builder did not run: git, openssl, bao).
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails the test unless it runs as root (CI does): a test that needs root for `why`
/// fails rather than passing without having checked anything.
#[track_caller]
pub fn require_root(why: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root ({why}); CI runs as root"
    );
}

/// A value no other test (or test run) uses, so parallel tests never collide.
pub fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{tag}-{}-{}-{nanos:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// One call of the binary, told as a user would make it: arguments, environment and
/// standard input, then [`Test::run`] and assertions on the [`Outcome`]
/// (in the style of just's `Test` and ripgrep's `TestCommand`).
#[must_use = "a Test does nothing until .run()"]
pub struct Test {
    command: std::process::Command,
    stdin: Option<Vec<u8>>,
}

impl Test {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Test {
        self.command.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Test {
        self.command.current_dir(dir);
        self
    }

    /// Standard input (without it, the binary reads an empty, closed stdin).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Test {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs the binary to its end and returns what it did.
    pub fn run(mut self) -> Outcome {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("the agevault binary must start");
        let writer = self.stdin.take().map(|bytes| {
            let mut pipe = child.stdin.take().unwrap();
            // A thread, so a child that writes much before reading cannot deadlock us; a
            // child that exits without reading all of it is not an error.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
        let output = child.wait_with_output().unwrap();
        if let Some(writer) = writer {
            writer.join().unwrap();
        }
        Outcome { output }
    }
}

/// What one run of the binary did; the assertions print everything it wrote when they fail.
pub struct Outcome {
    pub output: Output,
}

impl std::ops::Deref for Outcome {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Outcome {
    /// Stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Stdout and stderr together.
    pub fn all_output(&self) -> String {
        all_output(&self.output)
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Outcome {
        assert_eq!(
            self.output.status.code(),
            Some(code),
            "expected exit code {code}, got {:?}\nstdout: {}\nstderr: {}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(&self) -> &Outcome {
        self.code(0)
    }

    /// Asserts stdout is exactly `expected`.
    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Outcome {
        assert_eq!(
            self.stdout(),
            expected,
            "stdout differs; stderr: {}",
            self.stderr()
        );
        self
    }

    /// Asserts stderr is exactly `expected`.
    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Outcome {
        assert_eq!(
            self.stderr(),
            expected,
            "stderr differs; stdout: {}",
            self.stdout()
        );
        self
    }

    /// Asserts stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Outcome {
        let text = self.stdout();
        assert!(
            text.contains(needle),
            "stdout lacks {needle:?}: {text}\nstderr: {}",
            self.stderr()
        );
        self
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Outcome {
        let text = self.stderr();
        assert!(
            text.contains(needle),
            "stderr lacks {needle:?}: {text}\nstdout: {}",
            self.stdout()
        );
        self
    }

    /// Asserts `secret` appears in neither stdout nor stderr.
    #[track_caller]
    pub fn no_leak(&self, secret: &str) -> &Outcome {
        assert_no_leak(&self.output, secret);
        self
    }
}

/// How long a test waits for a prompt or for the end of a command on a terminal.
const TTY_DEADLINE: Duration = Duration::from_secs(60);

/// One answer typed at a prompt on a terminal.
pub struct Answer<'a> {
    prompt: &'a str,
    line: &'a str,
    hidden: bool,
}

/// Types `line` once the terminal shows `prompt` and has turned echo off (a passphrase).
pub fn hidden<'a>(prompt: &'a str, line: &'a str) -> Answer<'a> {
    Answer {
        prompt,
        line,
        hidden: true,
    }
}

/// Types `line` once the terminal shows `prompt` (a question answered in the open).
pub fn echoed<'a>(prompt: &'a str, line: &'a str) -> Answer<'a> {
    Answer {
        prompt,
        line,
        hidden: false,
    }
}

impl Sandbox {
    /// Runs the shell command `cmd` on a pseudo-terminal (via `script`) with the
    /// sandbox's environment plus `extra_env`. For each answer it waits until the
    /// terminal shows its prompt (after the previous one) and, for a hidden one, until
    /// echo is off; then types the line. Stdin stays open until the command ends, so it
    /// never sees an early end of input. The output is what the terminal showed.
    pub fn run_on_tty(&self, cmd: &str, extra_env: &[(&str, &str)], answers: &[Answer]) -> Output {
        let mut child = std::process::Command::new("script")
            .args(["-qec", cmd, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("USER", USER)
            .env("LANG", "C.UTF-8")
            .env("AGEVAULT_TRUST_DIR", self.trust_dir())
            .env("AGEVAULT_AUDIT_DIR", self.audit_dir())
            .envs(extra_env.iter().copied())
            .current_dir(self.repo())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the `script` command must be installed (bsdutils)");
        let screen = Arc::new((Mutex::new(Vec::<u8>::new()), Condvar::new()));
        let reader = {
            let screen = Arc::clone(&screen);
            let mut pipe = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                loop {
                    let n = pipe.read(&mut chunk).unwrap_or(0);
                    let (text, more) = &*screen;
                    text.lock().unwrap().extend_from_slice(&chunk[..n]);
                    more.notify_all();
                    if n == 0 {
                        break;
                    }
                }
            })
        };
        let errors = {
            let mut pipe = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let mut stdin = child.stdin.take().unwrap();
        let mut seen = 0;
        for answer in answers {
            let deadline = Instant::now() + TTY_DEADLINE;
            let (text, more) = &*screen;
            let mut shown = text.lock().unwrap();
            loop {
                let found = shown[seen..]
                    .windows(answer.prompt.len())
                    .position(|w| w == answer.prompt.as_bytes());
                if let Some(at) = found {
                    seen += at + answer.prompt.len();
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!(
                        "{cmd}: no prompt {:?} within {TTY_DEADLINE:?}; the terminal shows: {}",
                        answer.prompt,
                        String::from_utf8_lossy(&shown)
                    );
                }
                shown = more.wait_timeout(shown, Duration::from_millis(100)).unwrap().0;
            }
            drop(shown);
            if answer.hidden {
                wait_for_echo_off(child.id(), deadline, cmd);
            }
            stdin.write_all(format!("{}\n", answer.line).as_bytes()).unwrap();
        }
        let deadline = Instant::now() + TTY_DEADLINE;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{cmd}: still running after {TTY_DEADLINE:?} on the terminal");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(stdin);
        reader.join().unwrap();
        let stdout = std::mem::take(&mut *screen.0.lock().unwrap());
        Output {
            status,
            stdout,
            stderr: errors.join().unwrap(),
        }
    }
}

/// Waits until the terminal that `script` (pid `script`) runs its command on has echo
/// off: a prompt is printed before the prompter turns echo off, and a line typed in
/// between would be echoed.
fn wait_for_echo_off(script: u32, deadline: Instant, cmd: &str) {
    use nix::sys::termios::{tcgetattr, LocalFlags};
    loop {
        if let Some(tty) = terminal_of_child(script) {
            if let Ok(file) = fs::OpenOptions::new().read(true).write(true).open(&tty) {
                if tcgetattr(&file).is_ok_and(|t| !t.local_flags.contains(LocalFlags::ECHO)) {
                    return;
                }
            }
        }
        if Instant::now() > deadline {
            panic!("{cmd}: the terminal never turned echo off for a hidden prompt");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The terminal (`/dev/pts/N`) on the standard input of a child of process `parent`.
fn terminal_of_child(parent: u32) -> Option<PathBuf> {
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
        // pid (comm) state ppid …: comm may hold spaces, so split after its last ')'.
        let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
        if ppid != parent {
            return None;
        }
        let tty = fs::read_link(entry.path().join("fd/0")).ok()?;
        tty.starts_with("/dev/pts").then_some(tty)
    })
}

/// Asserts that `stderr` is agevault's error format and nothing else: one
/// `agevault: error: MESSAGE` line, optionally followed by one `hint: WHAT TO DO` line.
/// Returns the message and the hint.
pub fn error_and_hint(stderr: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = stderr.trim_end_matches('\n').split('\n').collect();
    let message = lines[0]
        .strip_prefix("agevault: error: ")
        .unwrap_or_else(|| panic!("not an `agevault: error:` line: {stderr}"));
    assert!(!message.trim().is_empty(), "empty message: {stderr}");
    match lines.as_slice() {
        [_] => (message.to_owned(), None),
        [_, hint] => {
            let hint = hint
                .strip_prefix("hint: ")
                .unwrap_or_else(|| panic!("the second line is not a `hint:` line: {stderr}"));
            (message.to_owned(), Some(hint.to_owned()))
        }
        _ => panic!("more than an error line and a hint line: {stderr}"),
    }
}
