//! The shared harness: a temporary repo with a temporary $HOME, and the real binary.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;

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
        sb.cmd(&["init"]).assert().success();
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

    /// The binary, in the repo, with a minimal clean environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_agevault"));
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

    /// `agevault set PATH` with the value on stdin; asserts success.
    pub fn set(&self, path: &str, value: &str) {
        self.cmd(&["set", path]).write_stdin(value).assert().success();
    }

    /// `agevault get PATH` stdout as text; asserts success.
    pub fn get(&self, path: &str) -> String {
        let out = self.cmd(&["get", path]).output().unwrap();
        assert!(
            out.status.success(),
            "get {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
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
        self.cmd(&["trust", "sign"]).assert().success();
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
                line.to_string()
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
pub fn assert_no_leak(out: &Output, secret: &str) {
    let text = all_output(out);
    assert!(!text.contains(secret), "secret leaked into output: {text}");
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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

/// Runs the shell command `cmd` on a pseudo-terminal (via `script`) in `cwd` with
/// `HOME=home` and `extra_env`, typing `lines` one by one at its prompts.
pub fn run_on_tty_with(
    cmd: &str,
    home: &Path,
    cwd: &Path,
    extra_env: &[(&str, &str)],
    lines: &[&str],
) -> Output {
    use std::io::Write;
    let mut child = std::process::Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(extra_env.iter().copied())
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the `script` command must be installed (bsdutils)");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        std::thread::sleep(std::time::Duration::from_millis(450));
        let _ = stdin.write_all(format!("{line}\n").as_bytes());
    }
    std::thread::sleep(std::time::Duration::from_millis(250));
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// [`run_on_tty_with`] without extra environment.
pub fn run_on_tty(cmd: &str, home: &Path, cwd: &Path, lines: &[&str]) -> Output {
    run_on_tty_with(cmd, home, cwd, &[], lines)
}
