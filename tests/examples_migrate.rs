//! The Samba migration of examples/migrate-samba/, run as its README tells it: `scan`
//! finds the hard-coded password in before.sh (the committed scan-finding.txt is what
//! the binary prints), `import` takes it from a .env on a memory filesystem, after.sh
//! hands it to a stub `smbpasswd` through `agevault exec --file`, and `rotate` gives
//! the account a new one. The password must arrive on smbpasswd's stdin exactly, and
//! be in no file left behind and in no process's argv. The README's git-crypt
//! migration (decrypt in a tmpfs clone, import, remove git-crypt, rotate) runs here too.

mod common;
mod gitutil;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{all_output, assert_no_leak, Sandbox};
use gitutil::{git, git_ok, path_with_agevault};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/migrate-samba")
        .join(name)
}

fn read_example(name: &str) -> String {
    fs::read_to_string(example(name)).unwrap()
}

/// The password before.sh hard-codes, read from the script itself (so the test follows
/// the example if the value changes): the two quoted arguments of its `printf`.
fn hard_coded_password() -> String {
    let script = read_example("before.sh");
    let line = script
        .lines()
        .find(|l| l.contains("| smbpasswd"))
        .expect("before.sh pipes into smbpasswd");
    let quoted: Vec<&str> = line.split('\'').collect();
    assert!(quoted.len() >= 7, "unexpected printf line: {line}");
    assert_eq!(quoted[3], quoted[5], "new password and confirmation differ");
    quoted[3].to_owned()
}

/// A private 0700 directory on tmpfs (/dev/shm), removed when dropped. Its name is not
/// one of agevault's own, so no sweep touches it.
struct MemDir {
    path: PathBuf,
}

impl MemDir {
    fn new(tag: &str) -> MemDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!("/dev/shm/agevault_test{tag}.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        MemDir { path }
    }
}

impl Drop for MemDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Every regular file below `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// An infrastructure repository that uses agevault (init, git init) and still holds
/// the old provisioning script.
fn operator_repo() -> Sandbox {
    let sb = Sandbox::init();
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    fs::copy(example("before.sh"), sb.repo().join("before.sh")).unwrap();
    sb
}

/// `agevault ARGS` in the sandbox with stdout and stderr in one stream, as a terminal
/// (or `> FILE 2>&1`) shows them.
fn combined(sb: &Sandbox, args: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("exec agevault {args} 2>&1"))
        .env_clear()
        .env("PATH", path_with_agevault())
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("LANG", "C.UTF-8")
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .current_dir(sb.repo())
        .output()
        .unwrap()
}

/// The README's import step: the operator writes the values into a .env on a memory
/// filesystem, imports it under samba/backup, and removes it.
fn import_from_memory_env(sb: &Sandbox, password: &str) {
    let tmp = MemDir::new("mig-env");
    let env_file = tmp.path.join("samba.env");
    fs::write(&env_file, format!("password={password}\n")).unwrap();
    fs::set_permissions(&env_file, fs::Permissions::from_mode(0o600)).unwrap();

    let dry = sb
        .test(&[
            "import",
            env_file.to_str().unwrap(),
            "--prefix",
            "samba/backup",
            "--dry-run",
        ])
        .run();
    assert!(dry.status.success(), "{}", all_output(&dry));
    assert_eq!(String::from_utf8_lossy(&dry.stdout), "samba/backup/password\n");

    let out = sb
        .test(&["import", env_file.to_str().unwrap(), "--prefix", "samba/backup"])
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_no_leak(&out, password);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("run `agevault scan`"),
        "import should suggest a scan: {said}"
    );
    drop(tmp);
    assert!(!env_file.exists());
    assert_eq!(sb.get("samba/backup/password"), password);
}

#[test]
fn scan_finding_txt_is_what_the_binary_prints() {
    let sb = operator_repo();
    let out = combined(&sb, "scan before.sh");
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.starts_with("before.sh:") && printed.contains(": smbpasswd-literal\n"),
        "{printed}"
    );
    assert_eq!(
        printed,
        read_example("scan-finding.txt"),
        "examples/migrate-samba/scan-finding.txt is stale; the binary now prints:\n{printed}"
    );
    assert!(!printed.contains(&hard_coded_password()));
}

#[test]
fn scan_finds_the_password_in_before_sh_and_not_in_after_sh() {
    let sb = operator_repo();
    let password = hard_coded_password();
    fs::copy(example("after.sh"), sb.repo().join("after.sh")).unwrap();

    // Before the import only the pattern can find it.
    let out = sb.test(&["scan"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(report, "before.sh:13: smbpasswd-literal\n");

    // Once the value is in the vault, scan also knows it as a vault value.
    import_from_memory_env(&sb, &password);
    let out = sb.test(&["scan"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        report,
        "before.sh:13: smbpasswd-literal\nbefore.sh:13: vault-value samba/backup/password (raw)\n"
    );
    assert_no_leak(&out, &password);

    // after.sh holds nothing: not the value, not a pattern.
    let out = sb.test(&["scan", "after.sh"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");

    // The script was committed; the migration replaces it: the tree is clean again,
    // but the history still has the old password, which is why step 4 rotates it.
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "--no-verify", "-m", "provisioning"]);
    let old_commit = git_ok(&sb, &["rev-parse", "--short=7", "HEAD"]).trim().to_owned();
    git_ok(&sb, &["rm", "-q", "before.sh"]);
    git_ok(
        &sb,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            "samba: the backup password comes from agevault",
        ],
    );
    let out = sb.test(&["scan"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let out = sb.test(&["scan", "--history"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report
            .lines()
            .any(|l| l == format!("{old_commit}:before.sh:13: smbpasswd-literal")),
        "{report}"
    );
    assert_no_leak(&out, &password);
}

/// The stub `smbpasswd`: reports its arguments, a hash of its stdin (never the bytes),
/// the memory file behind SMB_PW_FILE, and the command lines and environments of
/// itself, its parent and every process it can see. The report goes to $STUB_REPORT;
/// if the password were in any argv or environment it would be in the report too.
const STUB_SMBPASSWD: &str = r#"#!/bin/sh
set -eu
{
    printf 'args:'; printf ' %s' "$@"; printf '\n'
    printf 'stdin-sha256: %s\n' "$(sha256sum | cut -d' ' -f1)"
    if [ -n "${SMB_PW_FILE:-}" ]; then
        printf 'pw-file: %s\n' "$SMB_PW_FILE"
        printf 'pw-file-mode: %s\n' "$(stat -c %a "$SMB_PW_FILE")"
        printf 'pw-dir-mode: %s\n' "$(stat -c %a "$(dirname "$SMB_PW_FILE")")"
        printf 'pw-file-fs: %s\n' "$(stat -f -c %T "$SMB_PW_FILE")"
    fi
    printf 'self: '; tr '\0' ' ' < /proc/$$/cmdline; printf '\n'
    printf 'parent: '; tr '\0' ' ' < /proc/$PPID/cmdline; printf '\n'
    printf 'self-env: '; tr '\0\n' '  ' < /proc/$$/environ; printf '\n'
    printf 'parent-env: '; tr '\0\n' '  ' < /proc/$PPID/environ; printf '\n'
    for f in /proc/[0-9]*/cmdline; do
        line=$(tr '\0\n' '  ' 2>/dev/null < "$f") || continue
        if [ -n "$line" ]; then printf 'proc: %s\n' "$line"; fi
    done
} > "$STUB_REPORT"
"#;

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn report_field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no `{key}:` in the stub's report:\n{report}"))
}

/// The `strace` binary: a missing one fails the test with how to install it, never skips it.
fn require_strace() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("strace"))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| {
            panic!("`strace` is not on PATH; this test records every execve with it: apt-get install strace")
        })
}

/// Where [`run_after_sh`] has strace write the execve calls of the run.
fn execve_log(sb: &Sandbox) -> PathBuf {
    sb.root.path().join("execve.log")
}

/// Copies after.sh into the repository as the migration does (mode 0755).
fn install_after_sh(sb: &Sandbox) {
    let after = sb.repo().join("after.sh");
    fs::copy(example("after.sh"), &after).unwrap();
    fs::set_permissions(&after, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs the repository's after.sh as the operator does (`./after.sh`), with the stub
/// smbpasswd first on PATH; returns its output and the stub's report (None when
/// smbpasswd was never called).
fn run_after_sh(sb: &Sandbox, runtime: &MemDir) -> (Output, Option<String>) {
    let bin = sb.root.path().join("stub-bin");
    fs::create_dir_all(&bin).unwrap();
    let stub = bin.join("smbpasswd");
    fs::write(&stub, STUB_SMBPASSWD).unwrap();
    fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    let report = sb.root.path().join("smbpasswd-report.txt");
    let _ = fs::remove_file(&report);
    let tmpdir = sb.root.path().join("tmp");
    fs::create_dir_all(&tmpdir).unwrap();

    let mut path = std::ffi::OsString::from(&bin);
    path.push(":");
    path.push(path_with_agevault());
    // strace records every execve of the run, with its argv and environment (-v):
    // a value in any process's command line, however short-lived, lands in this log.
    let out = Command::new(require_strace())
        .args(["-f", "-qq", "-v", "-e", "trace=execve", "-s", "4096", "-o"])
        .arg(execve_log(sb))
        .arg("./after.sh")
        .env_clear()
        .env("PATH", path)
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("LANG", "C.UTF-8")
        .env("TMPDIR", &tmpdir)
        .env("XDG_RUNTIME_DIR", &runtime.path)
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .env("STUB_REPORT", &report)
        .current_dir(sb.repo())
        .output()
        .unwrap();
    (out, fs::read_to_string(&report).ok())
}

/// [`run_after_sh`] where smbpasswd must have been called.
fn run_after_sh_to_smbpasswd(sb: &Sandbox, runtime: &MemDir) -> (Output, String) {
    let (out, report) = run_after_sh(sb, runtime);
    let report = report.unwrap_or_else(|| panic!("smbpasswd was never called:\n{}", all_output(&out)));
    (out, report)
}

/// Asserts the stub got `password` twice on stdin through a memory file, and that the
/// value is in no argv or environment it could see.
fn assert_delivered_safely(sb: &Sandbox, out: &Output, report: &str, password: &str) {
    assert!(out.status.success(), "after.sh failed: {}", all_output(out));
    assert_no_leak(out, password);
    assert_eq!(report_field(report, "args"), "-a -s backup");
    assert_eq!(
        report_field(report, "stdin-sha256"),
        sha256_hex(format!("{password}\n{password}\n").as_bytes()),
        "smbpasswd did not get exactly the password and its confirmation on stdin"
    );
    assert_eq!(report_field(report, "pw-file-mode"), "600");
    assert_eq!(report_field(report, "pw-dir-mode"), "700");
    assert_eq!(report_field(report, "pw-file-fs"), "tmpfs");

    // The command lines were really recorded: the stub, the script, and agevault.
    assert!(
        report_field(report, "self").ends_with("smbpasswd -a -s backup "),
        "{report}"
    );
    assert!(report_field(report, "parent").contains("after.sh"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("proc: ")
                && l.contains("exec --file SMB_PW_FILE=samba/backup/password -- ")),
        "agevault's own command line is missing from the process list:\n{report}"
    );
    assert!(
        report_field(report, "self-env").contains("SMB_PW_FILE="),
        "{report}"
    );
    // Every process the run started, with its argv and environment at execve.
    let log = fs::read_to_string(execve_log(sb)).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("/smbpasswd\", [") && l.contains("\"-a\", \"-s\", \"backup\"]")),
        "no execve of smbpasswd in the strace log:\n{log}"
    );
    assert!(
        log.contains("\"--file\", \"SMB_PW_FILE=samba/backup/password\""),
        "no execve of agevault exec in the strace log:\n{log}"
    );
    assert!(
        !log.contains(password),
        "the password is in the argv or environment of a process the run started:\n{log}"
    );
    // … and the value is in none of them.
    assert!(
        !report.contains(password),
        "the password is in a command line or an environment:\n{report}"
    );
}

/// The memory file and its directory are gone, and no file the run could have left
/// (the sandbox with the repo, $HOME, the trust store, the access record and $TMPDIR;
/// the runtime directory) holds the value.
fn assert_nothing_left(sb: &Sandbox, runtime: &MemDir, report: &str, password: &str) {
    let pw_file = PathBuf::from(report_field(report, "pw-file"));
    assert!(pw_file.starts_with(&runtime.path), "{}", pw_file.display());
    assert!(!pw_file.exists(), "{} outlived the run", pw_file.display());
    assert!(!pw_file.parent().unwrap().exists());
    let left: Vec<_> = fs::read_dir(&runtime.path).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in the runtime directory: {left:?}");
    for root in [sb.root.path(), runtime.path.as_path()] {
        let files = files_containing(root, password);
        assert!(files.is_empty(), "the password is in {files:?}");
    }
}

#[test]
fn after_sh_feeds_smbpasswd_on_stdin_and_leaves_the_password_nowhere() {
    let sb = operator_repo();
    let old = hard_coded_password();
    import_from_memory_env(&sb, &old);
    // The migration: after.sh replaces before.sh.
    fs::remove_file(sb.repo().join("before.sh")).unwrap();
    install_after_sh(&sb);

    let runtime = MemDir::new("mig-rt");
    let (out, report) = run_after_sh_to_smbpasswd(&sb, &runtime);
    assert_delivered_safely(&sb, &out, &report, &old);
    assert_nothing_left(&sb, &runtime, &report, &old);

    // The old value was committed for years: rotate it, then apply the new one.
    let rotated = sb
        .test(&["rotate", "samba/backup/password", "--generate", "password:32"])
        .run();
    assert!(rotated.status.success(), "{}", all_output(&rotated));
    let new = sb.get("samba/backup/password");
    assert_eq!(new.len(), 32);
    assert_ne!(new, old);
    let (out, report) = run_after_sh_to_smbpasswd(&sb, &runtime);
    assert_delivered_safely(&sb, &out, &report, &new);
    assert_nothing_left(&sb, &runtime, &report, &new);
    assert_nothing_left(&sb, &runtime, &report, &old);
}

#[test]
fn after_sh_refuses_a_value_smbpasswd_would_split() {
    let sb = operator_repo();
    sb.test(&["set", "samba/backup/password"])
        .stdin("two\nlines-of-password")
        .run()
        .success();
    install_after_sh(&sb);
    let runtime = MemDir::new("mig-rt");
    let (out, report) = run_after_sh(&sb, &runtime);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("contains a line break"),
        "{}",
        all_output(&out)
    );
    assert!(report.is_none(), "smbpasswd ran with a split password");
    assert_no_leak(&out, "lines-of-password");
}

/// `git-crypt ARGS` in `dir`; asserts success. A missing git-crypt fails the test
/// with how to install it, never skips it.
fn git_crypt(sb: &Sandbox, dir: &Path, args: &[&str]) {
    let out = Command::new("git-crypt")
        .args(args)
        .env_clear()
        .env("PATH", path_with_agevault())
        .env("HOME", sb.home())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("git-crypt could not run ({e}); install it: apt-get install git-crypt"));
    assert!(out.status.success(), "git-crypt {args:?}: {}", all_output(&out));
}

/// The README's "From git-crypt (decrypt, then import)" steps, in order: unlock a
/// throwaway clone on tmpfs, import from it, remove it, remove git-crypt, rotate.
#[test]
fn the_readme_git_crypt_migration_imports_everything_and_leaves_no_plaintext() {
    let sb = Sandbox::init();
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    // The repository before: git-crypt encrypts secrets/ in every commit.
    git_crypt(&sb, &sb.repo(), &["init"]);
    let attributes = sb.repo().join(".gitattributes");
    let mut text = fs::read_to_string(&attributes).unwrap();
    text.push_str("secrets/** filter=git-crypt diff=git-crypt\n");
    fs::write(&attributes, text).unwrap();
    let (db_pw, token, json_pw) = ("gitcrypt-db-pw-5c1", "gitcrypt-token-9e4", "gitcrypt-json-pw-3a7");
    fs::create_dir_all(sb.repo().join("secrets")).unwrap();
    fs::write(
        sb.repo().join("secrets/prod.env"),
        format!("DB_PASSWORD={db_pw}\nAPI_TOKEN={token}\n"),
    )
    .unwrap();
    fs::write(
        sb.repo().join("secrets/db.json"),
        format!("{{\"password\": \"{json_pw}\"}}\n"),
    )
    .unwrap();
    git_ok(&sb, &["add", "-A"]);
    git_ok(
        &sb,
        &["commit", "-q", "--no-verify", "-m", "secrets with git-crypt"],
    );
    let blob = git(&sb, &["show", "HEAD:secrets/prod.env"]).stdout;
    assert!(
        blob.starts_with(b"\0GITCRYPT"),
        "git-crypt did not encrypt the commit"
    );
    let key = sb.root.path().join("git-crypt.key");
    git_crypt(&sb, &sb.repo(), &["export-key", key.to_str().unwrap()]);

    // 1. A throwaway clone on a memory filesystem, unlocked there.
    let tmp = MemDir::new("mig-gitcrypt");
    let clone = tmp.path.join("infra");
    let out = gitutil::git_in(
        &sb,
        &tmp.path,
        "Alice",
        &["clone", "--quiet", sb.repo().to_str().unwrap(), "infra"],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    git_crypt(&sb, &clone, &["unlock", key.to_str().unwrap()]);

    // 2. Import from the tmpfs copy, then remove it.
    let prod_env = clone.join("secrets/prod.env");
    let dry = sb
        .test(&[
            "import",
            prod_env.to_str().unwrap(),
            "--prefix",
            "prod",
            "--dry-run",
        ])
        .run();
    assert!(dry.status.success(), "{}", all_output(&dry));
    let mut listed: Vec<String> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    listed.sort();
    assert_eq!(listed, ["prod/API_TOKEN", "prod/DB_PASSWORD"]);
    for (file, prefix) in [("secrets/prod.env", "prod"), ("secrets/db.json", "prod/db")] {
        let out = sb
            .test(&["import", clone.join(file).to_str().unwrap(), "--prefix", prefix])
            .run();
        assert!(out.status.success(), "import {file}: {}", all_output(&out));
    }
    drop(tmp);
    assert!(!clone.exists());
    assert_eq!(sb.get("prod/DB_PASSWORD"), db_pw);
    assert_eq!(sb.get("prod/API_TOKEN"), token);
    assert_eq!(sb.get("prod/db/password"), json_pw);

    // 3. Remove git-crypt: the files, their filter lines (and .git-crypt/ if there is one).
    git_ok(
        &sb,
        &["rm", "-r", "-q", "--ignore-unmatch", "secrets/", ".git-crypt/"],
    );
    let kept: String = fs::read_to_string(&attributes)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("filter=git-crypt"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&attributes, kept).unwrap();
    git_ok(
        &sb,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-am",
            "secrets: from git-crypt to agevault",
        ],
    );
    let out = sb.test(&["scan"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(git_ok(&sb, &["ls-files"])
        .lines()
        .all(|f| !f.starts_with("secrets/")));
    assert!(!fs::read_to_string(&attributes).unwrap().contains("git-crypt"));

    // 4. Rotate everything the git-crypt key could read.
    for path in ["prod/DB_PASSWORD", "prod/API_TOKEN", "prod/db/password"] {
        let out = sb.test(&["rotate", path, "--generate", "password:32"]).run();
        assert!(out.status.success(), "rotate {path}: {}", all_output(&out));
    }
    for (path, old) in [
        ("prod/DB_PASSWORD", db_pw),
        ("prod/API_TOKEN", token),
        ("prod/db/password", json_pw),
    ] {
        assert_ne!(sb.get(path), old);
        // No plaintext copy in any file of the sandbox (working tree, $HOME, trust
        // store); git's objects hold only git-crypt's ciphertext (checked above).
        let files = files_containing(sb.root.path(), old);
        assert!(files.is_empty(), "{old} is still in {files:?}");
    }
}
