//! examples/compose/ without Docker: the compose file is parsed and must pass the
//! password only as a file at the path `stack.sh` exports to; `stack.sh` (variant B)
//! and the `compose-exec.service` command (variant A) run with a stub `docker` first
//! on PATH that reports what it would have mounted — mode, filesystem and a hash of
//! the file behind PG_PASSWORD_FILE — and the files must be gone afterwards.

mod common;
mod gitutil;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{all_output, assert_no_leak, Sandbox};
use gitutil::path_with_agevault;

const SECRET: &str = "compose/postgres/password";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/compose")
        .join(name)
}

fn read_example(name: &str) -> String {
    fs::read_to_string(example(name)).unwrap()
}

/// A private 0700 directory on tmpfs (/dev/shm), removed when dropped.
struct MemDir {
    path: PathBuf,
}

impl MemDir {
    fn new() -> MemDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!(
            "/dev/shm/agevault_testcompose.{}.{n}",
            std::process::id()
        ));
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

fn compose_yaml() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read_example("docker-compose.yml")).unwrap()
}

/// `${NAME:-DEFAULT}` → (NAME, DEFAULT); anything else fails the test.
fn split_default(text: &str) -> (&str, &str) {
    let inner = text
        .strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a ${{NAME:-DEFAULT}} substitution: {text}"));
    inner
        .split_once(":-")
        .unwrap_or_else(|| panic!("no default in {text}"))
}

/// The file the compose secret `postgres_password` names, with `env` as Compose's
/// environment (`${NAME:-DEFAULT}`: NAME when set and not empty, else DEFAULT).
fn compose_secret_file(env: &[(&str, &str)]) -> String {
    let yaml = compose_yaml();
    let file = yaml["secrets"]["postgres_password"]["file"]
        .as_str()
        .expect("secrets.postgres_password.file");
    let (name, default) = split_default(file);
    env.iter()
        .find(|(k, v)| *k == name && !v.is_empty())
        .map_or(default, |(_, v)| *v)
        .to_owned()
}

/// The default of a `NAME=${NAME:-DEFAULT}` line in stack.sh.
fn stack_sh_default(name: &str) -> String {
    let script = read_example("stack.sh");
    let line = script
        .lines()
        .find(|l| l.starts_with(&format!("{name}=${{")))
        .unwrap_or_else(|| panic!("stack.sh sets no {name}"));
    let (_, value) = line.split_once('=').unwrap();
    let (var, default) = split_default(value);
    assert_eq!(var, name);
    default.to_owned()
}

#[test]
fn compose_file_passes_the_password_only_as_a_file_where_stack_sh_exports_it() {
    let yaml = compose_yaml();
    let db = &yaml["services"]["db"];
    let env = db["environment"].as_mapping().expect("services.db.environment");
    assert_eq!(
        env.get("POSTGRES_PASSWORD_FILE").and_then(|v| v.as_str()),
        Some("/run/secrets/postgres_password")
    );
    for (key, _) in env {
        let key = key.as_str().unwrap();
        assert!(
            !key.contains("PASSWORD") || key.ends_with("_FILE"),
            "a password in the environment: {key}"
        );
    }
    let secrets: Vec<&str> = db["secrets"]
        .as_sequence()
        .expect("services.db.secrets")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(secrets, ["postgres_password"]);
    // Not restarted by the daemon at boot, before the unit has put the file back.
    assert_eq!(db["restart"].as_str(), Some("on-failure"));

    // Unset, the secret is where stack.sh (and the unit) export compose/postgres/password.
    let secrets_dir = stack_sh_default("SECRETS_DIR");
    assert_eq!(secrets_dir, "/run/agevault-compose/secrets");
    assert_eq!(
        compose_secret_file(&[]),
        format!("{secrets_dir}/postgres/password")
    );
    let script = read_example("stack.sh");
    assert!(
        script.contains("export PG_PASSWORD_FILE=$SECRETS_DIR/postgres/password"),
        "{script}"
    );
    assert!(script.contains("agevault --quiet export compose --format docker-secrets"));

    let unit = read_example("compose-export.service");
    assert!(unit.contains(&format!("Environment=SECRETS_DIR={secrets_dir}\n")));
    assert!(unit.contains("RuntimeDirectory=agevault-compose\n"));
    for line in ["ExecStart=", "ExecReload="] {
        assert!(unit.contains(&format!("{line}/srv/infra/examples/compose/stack.sh up\n")));
    }
    assert!(unit.contains("ExecStop=/srv/infra/examples/compose/stack.sh down\n"));
}

/// The stub `docker`: appends what it was asked and what Compose would mount to
/// $STUB_REPORT — never the value, only its SHA-256.
const STUB_DOCKER: &str = r#"#!/bin/sh
set -eu
{
    printf 'call: %s\n' "$*"
    printf 'cwd: %s\n' "$PWD"
    if [ -n "${PG_PASSWORD_FILE:-}" ]; then
        printf 'pw-file: %s\n' "$PG_PASSWORD_FILE"
        if [ -f "$PG_PASSWORD_FILE" ]; then
            printf 'pw-file-mode: %s\n' "$(stat -c %a "$PG_PASSWORD_FILE")"
            printf 'pw-dir-mode: %s\n' "$(stat -c %a "$(dirname "$PG_PASSWORD_FILE")")"
            printf 'pw-file-fs: %s\n' "$(stat -f -c %T "$PG_PASSWORD_FILE")"
            printf 'pw-file-sha256: %s\n' "$(sha256sum < "$PG_PASSWORD_FILE" | cut -d' ' -f1)"
        fi
    fi
    if [ -n "${SECRETS_DIR:-}" ] && [ -d "$SECRETS_DIR" ]; then
        find "$SECRETS_DIR" -printf 'tree: %P %m %y\n' | sort
    fi
} >> "$STUB_REPORT"
"#;

/// One call of the stub: its `key: value` lines.
struct Call(Vec<(String, String)>);

impl Call {
    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in the stub's report: {:?}", self.0))
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A sandbox repository laid out like the host's checkout: the vault at the root,
/// the example in examples/compose/, a stub `docker`, a report file.
struct Host {
    sb: Sandbox,
    stub_bin: PathBuf,
    report: PathBuf,
}

impl Host {
    fn new() -> Host {
        let sb = Sandbox::init();
        let dir = sb.repo().join("examples/compose");
        fs::create_dir_all(&dir).unwrap();
        for name in ["docker-compose.yml", "stack.sh"] {
            fs::copy(example(name), dir.join(name)).unwrap();
        }
        fs::set_permissions(dir.join("stack.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        let stub_bin = sb.root.path().join("stub-bin");
        fs::create_dir_all(&stub_bin).unwrap();
        fs::write(stub_bin.join("docker"), STUB_DOCKER).unwrap();
        fs::set_permissions(stub_bin.join("docker"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(sb.root.path().join("tmp")).unwrap();
        let report = sb.root.path().join("docker-report.txt");
        Host { sb, stub_bin, report }
    }

    fn compose_dir(&self) -> PathBuf {
        self.sb.repo().join("examples/compose")
    }

    /// `program ARGS` as root on the host would run it: the stub first on PATH, then
    /// the built agevault; run from the sandbox root, not the compose directory.
    fn run(&self, program: &Path, args: &[&str], extra_env: &[(&str, &Path)]) -> Output {
        let mut path = std::ffi::OsString::from(&self.stub_bin);
        path.push(":");
        path.push(path_with_agevault());
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.sb.home())
            .env("USER", common::USER)
            .env("LANG", "C.UTF-8")
            .env("TMPDIR", self.sb.root.path().join("tmp"))
            .env("AGEVAULT_TRUST_DIR", self.sb.trust_dir())
            .env("AGEVAULT_AUDIT_DIR", self.sb.audit_dir())
            .env("STUB_REPORT", &self.report)
            .current_dir(self.sb.root.path());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn stack_sh(&self, verb: &str, secrets_dir: &Path) -> Output {
        self.run(
            &self.compose_dir().join("stack.sh"),
            &[verb],
            &[("SECRETS_DIR", secrets_dir)],
        )
    }

    /// The stub's calls so far, and the report emptied for the next step.
    fn take_calls(&self) -> Vec<Call> {
        let text = fs::read_to_string(&self.report).unwrap_or_default();
        let _ = fs::remove_file(&self.report);
        let mut calls: Vec<Call> = Vec::new();
        for line in text.lines() {
            let (key, value) = line.split_once(": ").unwrap_or((line.trim_end_matches(':'), ""));
            if key == "call" {
                calls.push(Call(Vec::new()));
            }
            calls
                .last_mut()
                .expect("the report starts with a call line")
                .0
                .push((key.to_owned(), value.to_owned()));
        }
        calls
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
            } else if meta.is_file()
                && fs::read(&path)
                    .unwrap_or_default()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

/// Asserts the one `docker compose up -d --force-recreate` call of a `stack.sh up`
/// saw the exported password file holding `value`, 0400 on tmpfs, where the compose
/// file's secret points.
fn assert_up_saw_export(host: &Host, secrets_dir: &Path, value: &str) {
    let calls = host.take_calls();
    assert_eq!(calls.len(), 1, "one docker call expected");
    let call = &calls[0];
    assert_eq!(call.get("call"), "compose up -d --force-recreate");
    assert_eq!(Path::new(call.get("cwd")), host.compose_dir());
    let pw_file = call.get("pw-file");
    assert_eq!(
        Path::new(pw_file),
        secrets_dir.join("postgres/password"),
        "PG_PASSWORD_FILE is not the exported file"
    );
    assert_eq!(
        compose_secret_file(&[("PG_PASSWORD_FILE", pw_file)]),
        pw_file,
        "Compose would mount another file"
    );
    assert_eq!(call.get("pw-file-mode"), "400");
    assert_eq!(call.get("pw-dir-mode"), "700");
    assert_eq!(call.get("pw-file-fs"), "tmpfs");
    assert_eq!(call.get("pw-file-sha256"), sha256_hex(value.as_bytes()));
    // Exactly the secrets under compose/, files 0400, directories 0700; nothing else.
    assert_eq!(
        call.all("tree"),
        [
            " 700 d",
            "app 700 d",
            "app/api-token 400 f",
            "postgres 700 d",
            "postgres/password 400 f",
        ]
    );
    assert!(!Path::new(&format!("{}.next", secrets_dir.display())).exists());
}

#[test]
fn stack_sh_exports_to_memory_starts_recreates_on_rotation_and_cleans_up() {
    let host = Host::new();
    let sb = &host.sb;
    sb.test(&["set", SECRET, "--generate", "password:32"])
        .run()
        .success();
    sb.set("compose/app/api-token", "compose-api-token-4f1e9");
    sb.set("elsewhere/secret", "not-for-compose-9a7c3");
    let first = sb.get(SECRET);
    let mem = MemDir::new();
    let secrets_dir = mem.path.join("secrets");

    let out = host.stack_sh("up", &secrets_dir);
    assert!(out.status.success(), "stack.sh up: {}", all_output(&out));
    assert_no_leak(&out, &first);
    assert_up_saw_export(&host, &secrets_dir, &first);

    // Rotation: rotate, then `stack.sh up` again (the unit's reload) exports the new
    // value into a fresh directory and recreates the containers.
    let out = sb.test(&["rotate", SECRET]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let second = sb.get(SECRET);
    assert_ne!(first, second);
    let out = host.stack_sh("up", &secrets_dir);
    assert!(out.status.success(), "stack.sh up again: {}", all_output(&out));
    assert_up_saw_export(&host, &secrets_dir, &second);
    assert!(files_containing(&mem.path, &first).is_empty());

    let out = host.stack_sh("down", &secrets_dir);
    assert!(out.status.success(), "stack.sh down: {}", all_output(&out));
    let calls = host.take_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].get("call"), "compose down");
    assert!(!secrets_dir.exists(), "the exported files outlived `down`");
    for value in [&first, &second, &"compose-api-token-4f1e9".to_owned()] {
        for root in [sb.root.path(), mem.path.as_path()] {
            let files = files_containing(root, value);
            assert!(files.is_empty(), "a value is still in {files:?}");
        }
    }
}

#[test]
fn stack_sh_refuses_a_disk_directory_before_docker_runs() {
    let host = Host::new();
    host.sb.set(SECRET, "compose-disk-pw-77d2c");
    host.sb.set("compose/app/api-token", "compose-api-token-2b8");
    // target/ is where cargo builds: a disk. Make sure, or the test would prove nothing.
    let disk =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("compose-disk.{}", std::process::id()));
    let _ = fs::remove_dir_all(&disk);
    fs::create_dir_all(&disk).unwrap();
    let fs_type = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&disk)
        .output()
        .unwrap();
    let fs_type = String::from_utf8_lossy(&fs_type.stdout).trim().to_owned();
    assert!(
        fs_type != "tmpfs" && fs_type != "ramfs",
        "{} is on {fs_type}; this test needs a disk directory",
        disk.display()
    );
    let secrets_dir = disk.join("secrets");

    let out = host.stack_sh("up", &secrets_dir);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not on a memory filesystem"),
        "{}",
        all_output(&out)
    );
    assert!(host.take_calls().is_empty(), "docker ran without its secrets");
    assert!(!secrets_dir.exists());
    assert!(files_containing(&disk, "compose-disk-pw-77d2c").is_empty());
    fs::remove_dir_all(&disk).unwrap();
}

/// The `ExecStart=` of a unit file, continuation lines joined, split like systemd
/// splits it (shell-like quoting).
fn exec_start(unit: &str) -> Vec<String> {
    let joined = unit.replace("\\\n", " ");
    let line = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=");
    shell_words::split(line).unwrap()
}

#[test]
fn the_exec_variant_mounts_a_memory_file_only_while_compose_runs() {
    let host = Host::new();
    host.sb
        .test(&["set", SECRET, "--generate", "password:32"])
        .run()
        .success();
    let value = host.sb.get(SECRET);
    let runtime = MemDir::new();

    // The unit's command, with this build of agevault and the stub docker.
    let argv = exec_start(&read_example("compose-exec.service"));
    assert_eq!(argv[0], "/usr/local/bin/agevault");
    assert!(
        argv.windows(2)
            .any(|w| w == ["--file", "PG_PASSWORD_FILE=compose/postgres/password"]),
        "{argv:?}"
    );
    let sep = argv.iter().position(|a| a == "--").expect("--");
    assert_eq!(
        argv[sep + 1..],
        ["/usr/bin/docker", "compose", "up", "--force-recreate"]
    );
    let mut args: Vec<String> = argv[1..].to_vec();
    args[sep] = host.stub_bin.join("docker").display().to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Run from the unit's WorkingDirectory (the compose directory of the checkout).
    let mut path = std::ffi::OsString::from(&host.stub_bin);
    path.push(":");
    path.push(path_with_agevault());
    let out = Command::new(env!("CARGO_BIN_EXE_agevault"))
        .args(&args)
        .env_clear()
        .env("PATH", path)
        .env("HOME", host.sb.home())
        .env("USER", common::USER)
        .env("LANG", "C.UTF-8")
        .env("XDG_RUNTIME_DIR", &runtime.path)
        .env("AGEVAULT_TRUST_DIR", host.sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", host.sb.audit_dir())
        .env("STUB_REPORT", &host.report)
        .current_dir(host.compose_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_no_leak(&out, &value);

    let calls = host.take_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.get("call"), "compose up --force-recreate");
    assert_eq!(Path::new(call.get("cwd")), host.compose_dir());
    let pw_file = PathBuf::from(call.get("pw-file"));
    assert!(pw_file.starts_with(&runtime.path), "{}", pw_file.display());
    assert_eq!(
        compose_secret_file(&[("PG_PASSWORD_FILE", call.get("pw-file"))]),
        call.get("pw-file")
    );
    assert_eq!(call.get("pw-file-mode"), "600");
    assert_eq!(call.get("pw-dir-mode"), "700");
    assert_eq!(call.get("pw-file-fs"), "tmpfs");
    assert_eq!(call.get("pw-file-sha256"), sha256_hex(value.as_bytes()));

    assert!(!pw_file.exists(), "the memory file outlived `docker compose up`");
    let left: Vec<_> = fs::read_dir(&runtime.path).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in the runtime directory: {left:?}");
    for root in [host.sb.root.path(), runtime.path.as_path()] {
        assert!(files_containing(root, &value).is_empty());
    }
}
