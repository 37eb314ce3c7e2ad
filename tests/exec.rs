//! `agevault exec`, driven through the real binary.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{assert_no_leak, stderr, stdout, Outcome, Sandbox, USER};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A private directory on tmpfs (under /dev/shm) to use as `$XDG_RUNTIME_DIR`,
/// so a test can see exactly which files agevault creates there. Its name does
/// not look like one of agevault's own directories, so no sweep touches it.
struct RuntimeDir {
    path: PathBuf,
}

impl RuntimeDir {
    fn new() -> RuntimeDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!("/dev/shm/agevault_testrt.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        RuntimeDir { path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn entries(&self) -> Vec<String> {
        list_dir(&self.path)
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `agevault exec ARGS… -- CMD…`.
fn exec_args<'a>(opts: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["exec"];
    v.extend_from_slice(opts);
    v.push("--");
    v.extend_from_slice(command);
    v
}

/// Runs `agevault exec OPTS -- sh -c SCRIPT`.
fn exec_sh(sb: &Sandbox, opts: &[&str], script: &str) -> Outcome {
    sb.test(&exec_args(opts, &["sh", "-c", script])).run()
}

/// The shell's view of an exit: the code, or 128+N for death by signal N.
fn shell_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => panic!("no exit code and no signal: {status:?}"),
    }
}

fn assert_ok(out: &Outcome) {
    out.success();
}

/// Parses `env` output into a map.
fn env_map(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Waits for `child` with a deadline, killing it (and failing) if it hangs.
fn wait_deadline(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("agevault did not exit within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `sig` (e.g. "TERM") to `pid` with the `kill` utility.
fn send_signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// A pid no process can have: above the kernel's PID_MAX_LIMIT (2^22), so unlike the
/// pid of a reaped child it cannot be reused by another process while the test runs.
fn dead_pid() -> u32 {
    (1 << 22) + 1
}

/// Runs a pre-flight failure case: the child would create a marker file; asserts
/// the exit code, that stderr contains `needle`, that no value leaked, and that
/// the child never ran.
fn assert_preflight(sb: &Sandbox, opts: &[&str], code: i32, needle: &str, secrets: &[&str]) -> Outcome {
    let marker = sb.root.path().join("child-ran");
    let script = format!("touch '{}'", marker.display());
    let out = exec_sh(sb, opts, &script);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exec {opts:?}: expected exit {code}, stderr={}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(needle),
        "exec {opts:?}: stderr lacks `{needle}`: {err}"
    );
    assert!(!marker.exists(), "exec {opts:?}: the child ran despite the error");
    for s in secrets {
        assert_no_leak(&out, s);
    }
    out
}

// ---------------------------------------------------------------------------
// Selection: default, --only, --env, profiles
// ---------------------------------------------------------------------------

#[test]
fn default_injects_every_secret_with_derived_names() {
    let openai = "sk-default-0penai-Zq81";
    let samba = "default samba 'pw' $HOME `x` \"y\"";
    let dotted = "dotted-value-Kp3";
    let sb = Sandbox::with_secrets(&[
        ("llm-api-key/openai", openai),
        ("samba/password", samba),
        ("a.b/c-d", dotted),
    ]);
    let out = exec_sh(
        &sb,
        &[],
        r#"printf '%s\n' "$LLM_API_KEY_OPENAI" "$SAMBA_PASSWORD" "$A_B_C_D""#,
    );
    assert_ok(&out);
    assert_eq!(out.stdout(), format!("{openai}\n{samba}\n{dotted}\n"));
    let err = stderr(&out);
    for v in [openai, samba, dotted] {
        assert!(!err.contains(v), "value in agevault's stderr: {err}");
    }
}

#[test]
fn only_selects_by_prefix_and_leaf() {
    let a = "only-openai-v1Xa";
    let b = "only-anthropic-v2Xb";
    let c = "only-db-v3Xc";
    let sb = Sandbox::with_secrets(&[
        ("llm-api-key/openai", a),
        ("llm-api-key/anthropic", b),
        ("db/password", c),
    ]);

    let out = sb.test(&exec_args(&["--only", "llm-api-key"], &["env"])).run();
    assert_ok(&out);
    let env = env_map(&out.stdout());
    assert_eq!(env.get("LLM_API_KEY_OPENAI").map(String::as_str), Some(a));
    assert_eq!(env.get("LLM_API_KEY_ANTHROPIC").map(String::as_str), Some(b));
    assert!(!env.contains_key("DB_PASSWORD"), "--only leaked another secret");
    assert!(!out.stdout().contains(c));
    assert!(!stderr(&out).contains(a) && !stderr(&out).contains(b));

    // A leaf prefix, repeated --only.
    let out = sb
        .test(&exec_args(
            &["--only", "db/password", "--only", "llm-api-key/openai"],
            &["env"],
        ))
        .run();
    assert_ok(&out);
    let env = env_map(&out.stdout());
    assert_eq!(env.get("DB_PASSWORD").map(String::as_str), Some(c));
    assert_eq!(env.get("LLM_API_KEY_OPENAI").map(String::as_str), Some(a));
    assert!(!env.contains_key("LLM_API_KEY_ANTHROPIC"));

    // A prefix matching nothing is an error before anything runs.
    assert_preflight(&sb, &["--only", "nope"], 1, "nope", &[a, b, c]);
}

#[test]
fn env_maps_explicit_names_and_selects_only_those() {
    let pw = "explicit-env-pw-7hQ";
    let other = "explicit-env-other-9kW";
    let sb = Sandbox::with_secrets(&[("db/password", pw), ("llm/key", other)]);

    let out = sb
        .test(&exec_args(&["--env", "MY_DB=db/password"], &["env"]))
        .run();
    assert_ok(&out);
    let env = env_map(&out.stdout());
    assert_eq!(env.get("MY_DB").map(String::as_str), Some(pw));
    assert!(
        !env.contains_key("DB_PASSWORD"),
        "explicit mapping also injected the derived name"
    );
    assert!(
        !env.contains_key("LLM_KEY"),
        "explicit mapping injected unrelated secrets"
    );
    assert!(!stderr(&out).contains(pw));

    // --env combines with --only.
    let out = sb
        .test(&exec_args(
            &["--only", "llm", "--env", "MY_DB=db/password"],
            &["env"],
        ))
        .run();
    assert_ok(&out);
    let env = env_map(&out.stdout());
    assert_eq!(env.get("MY_DB").map(String::as_str), Some(pw));
    assert_eq!(env.get("LLM_KEY").map(String::as_str), Some(other));
}

#[test]
fn profile_maps_env_files_only_and_clean_env() {
    let pw = "profile-db-pw-Rt5";
    let tls = "profile-tls-key-Lm2";
    let llm = "profile-llm-key-Bv8";
    let unrelated = "profile-unrelated-Yy0";
    let sb = Sandbox::with_secrets(&[
        ("db/password", pw),
        ("tls/key", tls),
        ("llm/openai", llm),
        ("misc/unrelated", unrelated),
    ]);
    sb.append_config(
        r#"[exec.x]
env = { DB_PASS = "db/password" }
files = { TLS_KEY_FILE = "tls/key" }

[exec.y]
only = ["llm"]
env = { DB_PASS = "db/password" }
clean_env = true
"#,
    );
    let rt = RuntimeDir::new();

    let out = sb
        .test(&exec_args(
            &["-p", "x"],
            &["sh", "-c", r#"env; echo "tls=$(cat "$TLS_KEY_FILE")""#],
        ))
        .env("XDG_RUNTIME_DIR", rt.path())
        .env("FOO", "bar")
        .run();
    assert_ok(&out);
    let text = out.stdout();
    let env = env_map(&text);
    assert_eq!(env.get("DB_PASS").map(String::as_str), Some(pw));
    assert!(env["TLS_KEY_FILE"].starts_with(&rt.path().display().to_string()));
    assert!(text.contains(&format!("tls={tls}\n")), "{text}");
    assert!(
        !text.contains(unrelated),
        "a profile without `only` injected everything"
    );
    assert!(!text.contains(llm));
    assert!(!env.contains_key("DB_PASSWORD"));
    assert_eq!(
        env.get("FOO").map(String::as_str),
        Some("bar"),
        "profile x is not clean_env"
    );
    assert!(
        rt.entries().is_empty(),
        "profile file left behind: {:?}",
        rt.entries()
    );
    for v in [pw, tls, llm, unrelated] {
        assert!(!stderr(&out).contains(v));
    }

    let out = sb
        .test(&exec_args(&["--profile", "y"], &["env"]))
        .env("FOO", "bar")
        .run();
    assert_ok(&out);
    let env = env_map(&out.stdout());
    assert_eq!(env.get("LLM_OPENAI").map(String::as_str), Some(llm));
    assert_eq!(env.get("DB_PASS").map(String::as_str), Some(pw));
    assert!(!env.contains_key("FOO"), "profile clean_env = true was ignored");
    assert!(!out.stdout().contains(unrelated));
}

// ---------------------------------------------------------------------------
// --file (tmpfs)
// ---------------------------------------------------------------------------

#[test]
fn file_is_private_on_tmpfs_and_removed_after_the_child() {
    let value = "file-secret-value-Wd4";
    let sb = Sandbox::with_secrets(&[("tls/key", value)]);
    // No $XDG_RUNTIME_DIR: the harness clears the environment, so /dev/shm is used.
    let out = exec_sh(
        &sb,
        &["--file", "KEY_FILE=tls/key"],
        r#"d=$(dirname "$KEY_FILE")
echo "$KEY_FILE"
stat -c %a "$d"
stat -c %a "$KEY_FILE"
stat -f -c %T "$KEY_FILE"
ls -A "$d"
printf 'content=%s\n' "$(cat "$KEY_FILE")"
env | grep -c "$(cat "$KEY_FILE")" || true"#,
    );
    assert_ok(&out);
    let text = out.stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    let path = PathBuf::from(lines[0]);
    let dir = path.parent().unwrap().to_owned();
    let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(dir.parent().unwrap(), Path::new("/dev/shm"), "{text}");
    assert!(dir_name.starts_with("agevault-exec-"), "{dir_name}");
    assert_eq!(lines[1], "700", "directory mode");
    assert_eq!(lines[2], "600", "file mode");
    assert!(
        matches!(lines[3], "tmpfs" | "ramfs"),
        "not on a memory fs: {}",
        lines[3]
    );
    assert_eq!(lines[4], "KEY_FILE", "unexpected files in the directory");
    assert_eq!(lines[5], format!("content={value}"));
    assert_eq!(lines[6], "0", "the value is also in the environment");
    assert!(!path.exists(), "file left behind");
    assert!(!dir.exists(), "directory left behind");
    assert!(!stderr(&out).contains(value));
}

#[test]
fn file_goes_to_xdg_runtime_dir_and_is_removed() {
    let value = "xdg-file-value-Np6";
    let sb = Sandbox::with_secrets(&[("a/key", value)]);
    let rt = RuntimeDir::new();
    let out = sb
        .test(&exec_args(
            &["--file", "F=a/key", "--file", "G=a/key"],
            &["sh", "-c", r#"echo "$F"; echo "$G"; cat "$F" "$G""#],
        ))
        .env("XDG_RUNTIME_DIR", rt.path())
        .run();
    assert_ok(&out);
    let text = out.stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{}/agevault-exec-", rt.path().display())),
        "{text}"
    );
    assert_eq!(
        Path::new(lines[0]).parent(),
        Path::new(lines[1]).parent(),
        "one directory per run"
    );
    assert_eq!(lines[2], format!("{value}{value}"));
    assert!(rt.entries().is_empty(), "left behind: {:?}", rt.entries());
    assert!(!stderr(&out).contains(value));
}

/// Starts `exec --file F=… -- sh -c SCRIPT` (SCRIPT prints "$F" first) in the
/// background, returns the child and the file path it printed.
fn spawn_file_child(sb: &Sandbox, rt: &RuntimeDir, script: &str) -> (Child, PathBuf) {
    let mut child = sb
        .command(&exec_args(&["--file", "F=sig/key"], &["sh", "-c", script]))
        .env("XDG_RUNTIME_DIR", rt.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let path = PathBuf::from(line.trim());
    assert!(
        path.starts_with(rt.path()) && path.is_file(),
        "the child did not report a file: {line:?}"
    );
    (child, path)
}

fn child_stderr(child: &mut Child) -> String {
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    err
}

#[test]
fn sigterm_to_agevault_is_forwarded_and_files_are_removed() {
    let value = "sigterm-value-Hg3";
    let sb = Sandbox::with_secrets(&[("sig/key", value)]);
    let rt = RuntimeDir::new();
    let (mut child, path) = spawn_file_child(&sb, &rt, r#"echo "$F"; exec sleep 30"#);
    let dir = path.parent().unwrap().to_owned();
    assert_eq!(fs::read_to_string(&path).unwrap(), value);
    send_signal(child.id(), "TERM");
    let status = wait_deadline(&mut child, 10);
    // agevault itself survived the signal and reported the child's death by it.
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(!dir.exists(), "directory left behind after SIGTERM");
    assert!(rt.entries().is_empty());
    assert!(!child_stderr(&mut child).contains(value));
}

#[test]
fn forwarded_signals_reach_a_trapping_child() {
    let value = "trap-value-Jc9";
    let sb = Sandbox::with_secrets(&[("sig/key", value)]);
    for (sig, code) in [("TERM", 7), ("HUP", 9), ("USR1", 10), ("INT", 11)] {
        let rt = RuntimeDir::new();
        let script = format!(
            r#"trap 'kill $p 2>/dev/null; exit {code}' {sig}
sleep 30 >/dev/null 2>&1 </dev/null & p=$!
echo "$F"
wait"#
        );
        let (mut child, path) = spawn_file_child(&sb, &rt, &script);
        send_signal(child.id(), sig);
        let status = wait_deadline(&mut child, 10);
        assert_eq!(
            status.code(),
            Some(code),
            "SIG{sig} was not forwarded: {status:?}"
        );
        assert!(
            !path.parent().unwrap().exists(),
            "directory left behind after SIG{sig}"
        );
        assert!(!child_stderr(&mut child).contains(value));
    }
}

#[test]
fn stale_directories_of_dead_processes_are_swept() {
    let value = "sweep-value-Fe1";
    let sb = Sandbox::with_secrets(&[("s/key", value)]);

    // In /dev/shm (the default base).
    let stale = PathBuf::from(format!(
        "/dev/shm/agevault-exec-{}-{:x}",
        dead_pid(),
        std::process::id()
    ));
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("F"), "old plaintext").unwrap();
    let out = exec_sh(&sb, &["--file", "F=s/key"], r#"cat "$F""#);
    assert_ok(&out);
    assert_eq!(out.stdout(), value);
    let gone = !stale.exists();
    let _ = fs::remove_dir_all(&stale);
    assert!(gone, "stale {} was not swept", stale.display());

    // In a private runtime dir, where nothing else can interfere: dead ones go,
    // live ones and foreign names stay.
    let rt = RuntimeDir::new();
    let dead = rt.path().join(format!("agevault-exec-{}-00ff", dead_pid()));
    let dead_edit = rt.path().join(format!("agevault-edit-{}-abcd", dead_pid()));
    let live = rt
        .path()
        .join(format!("agevault-exec-{}-00ff", std::process::id()));
    let foreign = rt.path().join("someone-else-1-00ff");
    for d in [&dead, &dead_edit, &live, &foreign] {
        fs::create_dir(d).unwrap();
        fs::write(d.join("x"), "x").unwrap();
    }
    let out = sb
        .test(&exec_args(&["--file", "F=s/key"], &["sh", "-c", r#"cat "$F""#]))
        .env("XDG_RUNTIME_DIR", rt.path())
        .run();
    assert_ok(&out);
    assert!(!dead.exists(), "stale exec dir not swept");
    assert!(!dead_edit.exists(), "stale edit dir not swept");
    assert!(live.exists(), "a live process's directory was swept");
    assert!(foreign.exists(), "a foreign directory was swept");
    assert!(!stderr(&out).contains(value));
}

#[test]
fn nothing_is_swept_or_written_without_file_deliveries() {
    // Env-only runs execve and never create a directory.
    let value = "no-file-value-Qa2";
    let sb = Sandbox::with_secrets(&[("k", value)]);
    let rt = RuntimeDir::new();
    let out = sb
        .test(&exec_args(&[], &["sh", "-c", r#"printf %s "$K""#]))
        .env("XDG_RUNTIME_DIR", rt.path())
        .run();
    assert_ok(&out);
    assert_eq!(out.stdout(), value);
    assert!(rt.entries().is_empty());
}

// ---------------------------------------------------------------------------
// Exit codes and process model
// ---------------------------------------------------------------------------

#[test]
fn exit_codes_in_execve_and_supervised_modes() {
    let value = "exit-code-value-Ur7";
    let sb = Sandbox::with_secrets(&[("e/key", value)]);
    let noexec = sb.root.path().join("not-executable.sh");
    fs::write(&noexec, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&noexec, fs::Permissions::from_mode(0o644)).unwrap();
    let noexec = noexec.to_str().unwrap().to_owned();

    let modes: [(&str, &[&str]); 3] = [
        ("execve", &[]),
        ("file", &["--file", "F=e/key"]),
        ("mask", &["--mask"]),
    ];
    for (mode, opts) in modes {
        let rt = RuntimeDir::new();
        let cases: [(&[&str], i32, &str); 5] = [
            (&["sh", "-c", "exit 0"], 0, ""),
            (&["sh", "-c", "exit 7"], 7, ""),
            (&[noexec.as_str()], 126, "not executable"),
            (&["agevault-no-such-command-x9"], 127, "command not found"),
            (&["sh", "-c", "kill -TERM $$"], 143, ""),
        ];
        for (command, code, message) in cases {
            let out = sb
                .test(&exec_args(opts, command))
                .env("XDG_RUNTIME_DIR", rt.path())
                .run();
            assert_eq!(
                shell_code(out.status),
                code,
                "{mode} mode, {command:?}: {:?} stderr={}",
                out.status,
                stderr(&out)
            );
            assert!(stderr(&out).contains(message), "{mode}: {}", stderr(&out));
            assert_no_leak(&out, value);
            assert!(
                rt.entries().is_empty(),
                "{mode} {command:?}: left {:?}",
                rt.entries()
            );
            if code == 143 {
                if mode == "execve" {
                    // agevault became the child, so the process itself died of SIGTERM.
                    assert_eq!(out.status.signal(), Some(15), "{:?}", out.status);
                } else {
                    // The supervisor survives and maps the signal to 128+N.
                    assert_eq!(out.status.code(), Some(143), "{:?}", out.status);
                }
            }
        }
    }
}

#[test]
fn env_only_replaces_itself_and_supervision_adds_a_parent() {
    let value = "pid-value-Oi4";
    let sb = Sandbox::with_secrets(&[("p/key", value)]);
    let script = "echo $$; echo $PPID";

    let run = |opts: &[&str]| -> (u32, u32, u32) {
        let rt = RuntimeDir::new();
        let mut child = sb
            .command(&exec_args(opts, &["sh", "-c", script]))
            .env("XDG_RUNTIME_DIR", rt.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let agevault = child.id();
        let mut text = String::new();
        child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
        let status = wait_deadline(&mut child, 10);
        assert!(status.success(), "{status:?}");
        let nums: Vec<u32> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
        (agevault, nums[0], nums[1])
    };

    let (agevault, pid, _) = run(&[]);
    assert_eq!(pid, agevault, "env-only exec must execve, not spawn");
    let (agevault, pid, _) = run(&["--files-as", "memfd", "--file", "F=p/key"]);
    assert_eq!(pid, agevault, "memfd exec must execve, not spawn");
    for opts in [&["--file", "F=p/key"][..], &["--mask"][..]] {
        let (agevault, pid, ppid) = run(opts);
        assert_ne!(pid, agevault, "{opts:?} must supervise");
        assert_eq!(ppid, agevault, "{opts:?}: the child's parent must be agevault");
    }
}

// ---------------------------------------------------------------------------
// memfd
// ---------------------------------------------------------------------------

#[test]
fn memfd_files_need_no_directory() {
    let value = "memfd-value-Xs5";
    let sb = Sandbox::with_secrets(&[("m/key", value)]);
    let rt = RuntimeDir::new();
    let shm_before: BTreeSet<String> = list_dir(Path::new("/dev/shm"))
        .into_iter()
        .filter(|n| n.starts_with("agevault-exec-"))
        .collect();

    // `direct=` reads the inherited descriptor itself (shared offset), so the
    // memfd must have been rewound; the /proc path opens it afresh.
    let script = r#"echo "$F"
n=${F##*/}; printf 'direct=%s\n' "$(eval "cat <&$n")"
printf 'content=%s\n' "$(cat "$F")"
printf 'again=%s\n' "$(cat "$F")"
readlink "$F"
if printf x >> "$F" 2>/dev/null; then echo writable; else echo sealed; fi
printf 'after=%s\n' "$(cat "$F")"
ls /dev/shm | grep -c "^agevault-exec-$$-" || true
ls -A "$XDG_RUNTIME_DIR" | wc -l"#;

    // execve mode (memfd only) and supervised mode (memfd + --mask).
    for mode in ["execve", "mask"] {
        let mut opts = vec!["--files-as", "memfd", "--file", "F=m/key"];
        if mode == "mask" {
            opts.push("--mask");
        }
        let out = sb
            .test(&exec_args(&opts, &["sh", "-c", script]))
            .env("XDG_RUNTIME_DIR", rt.path())
            .run();
        assert_ok(&out);
        let text = out.stdout();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 9, "{mode}: {text}");
        assert!(lines[0].starts_with("/proc/self/fd/"), "{mode}: {text}");
        let shown = if mode == "mask" { "*****" } else { value };
        assert_eq!(
            lines.remove(1),
            format!("direct={shown}"),
            "{mode}: memfd not rewound"
        );
        assert_eq!(lines[1], format!("content={shown}"), "{mode}");
        assert_eq!(
            lines[2],
            format!("again={shown}"),
            "{mode}: a second read must start over"
        );
        assert!(lines[3].contains("memfd:"), "{mode}: not a memfd: {}", lines[3]);
        assert_eq!(lines[4], "sealed", "{mode}: the memfd is writable");
        assert_eq!(lines[5], format!("after={shown}"), "{mode}");
        assert_eq!(lines[6], "0", "{mode}: a directory was created in /dev/shm");
        assert_eq!(lines[7], "0", "{mode}: something was created in the runtime dir");
        assert!(!stderr(&out).contains(value));
    }
    assert!(rt.entries().is_empty());
    let shm_after: BTreeSet<String> = list_dir(Path::new("/dev/shm"))
        .into_iter()
        .filter(|n| n.starts_with("agevault-exec-"))
        .collect();
    // Other tests may create and remove their own directories meanwhile; none
    // may contain our value.
    for name in shm_after.difference(&shm_before) {
        let dir = Path::new("/dev/shm").join(name);
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let content = fs::read(e.path()).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&content).contains(value),
                    "memfd run wrote {}",
                    dir.display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Environment hygiene
// ---------------------------------------------------------------------------

#[test]
fn clean_env_keeps_only_the_allow_list_and_secrets() {
    let value = "clean-env-value-Gb6";
    let sb = Sandbox::with_secrets(&[("clean/token", value)]);

    let out = sb
        .test(&exec_args(&["--clean-env"], &["env"]))
        .env("FOO", "bar")
        .env("TERM", "dumb")
        .env("EDITOR", "vi")
        .run();
    assert_ok(&out);
    let env = env_map(&out.stdout());
    let names: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = ["PATH", "HOME", "USER", "LANG", "TERM", "CLEAN_TOKEN"]
        .into_iter()
        .collect();
    assert_eq!(names, expected);
    assert_eq!(env["CLEAN_TOKEN"], value);
    assert_eq!(env["TERM"], "dumb");
    assert_eq!(env["USER"], USER);
    assert_eq!(env["HOME"], sb.home().to_str().unwrap());
    assert!(!stderr(&out).contains(value));

    // Control: without --clean-env the extra variable does reach the child.
    let out = sb.test(&exec_args(&[], &["env"])).env("FOO", "bar").run();
    assert_ok(&out);
    assert_eq!(env_map(&out.stdout()).get("FOO").map(String::as_str), Some("bar"));
}

#[test]
fn identity_never_reaches_the_child() {
    let value = "identity-test-value-Vc3";
    let sb = Sandbox::with_secrets(&[("id/key", value)]);
    // Move the identity out of its default place so agevault must use the variables.
    let identity_text = fs::read_to_string(sb.identity()).unwrap();
    let moved = sb.root.path().join("moved-identity.txt");
    fs::rename(sb.identity(), &moved).unwrap();
    let key_line = identity_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();

    for (var, val, opts) in [
        ("AGEVAULT_IDENTITY", identity_text.as_str(), &[][..]),
        ("AGEVAULT_IDENTITY_FILE", moved.to_str().unwrap(), &[][..]),
        (
            "AGEVAULT_IDENTITY",
            identity_text.as_str(),
            &["--file", "F=id/key"][..],
        ),
        ("AGEVAULT_IDENTITY", identity_text.as_str(), &["--mask"][..]),
    ] {
        let out = sb.test(&exec_args(opts, &["env"])).env(var, val).run();
        assert_ok(&out);
        let text = out.stdout();
        let env = env_map(&text);
        assert!(
            env.contains_key("ID_KEY") || env.contains_key("F"),
            "{var} {opts:?}: decryption did not work: {text}"
        );
        assert!(
            !env.contains_key("AGEVAULT_IDENTITY"),
            "{var} {opts:?}: identity passed on"
        );
        assert!(
            !env.contains_key("AGEVAULT_IDENTITY_FILE"),
            "{var} {opts:?}: identity file passed on"
        );
        assert!(
            !text.contains(&key_line),
            "{var} {opts:?}: the key reached the child"
        );
        assert!(!stderr(&out).contains(&key_line));
        assert!(!stderr(&out).contains(value));
    }
}

#[test]
fn argv_and_agevault_environ_hold_no_secret() {
    let value = "argv-secret-value-Tt8";
    let sb = Sandbox::with_secrets(&[("argv/key", value)]);
    let rt = RuntimeDir::new();
    // Supervised, so the parent is agevault itself.
    let out = sb.test(&exec_args(
            &["--file", "F=argv/key", "--env", "E=argv/key"],
            &[
                "sh",
                "-c",
                r"cat /proc/$PPID/cmdline; echo; cat /proc/$$/cmdline; echo; cat /proc/$PPID/environ; echo; ls -l /proc/$PPID/fd /proc/$$/fd",
            ],
        ))
        .env("XDG_RUNTIME_DIR", rt.path())
.run();
    assert_ok(&out);
    let text = out.stdout().replace('\0', " ");
    assert!(
        text.contains("F=argv/key"),
        "did not read agevault's cmdline: {text}"
    );
    assert!(
        !text.contains(value),
        "the value is in argv, agevault's environ or an fd: {text}"
    );
    assert!(
        !text.contains("secrets.json.age"),
        "the vault is open in a process: {text}"
    );
    assert!(
        !text.contains("identity.txt"),
        "the identity is open in a process: {text}"
    );
    assert!(!stderr(&out).contains(value));
}

// ---------------------------------------------------------------------------
// --mask
// ---------------------------------------------------------------------------

#[test]
fn mask_replaces_values_in_stdout_and_stderr() {
    let value = "mask-me-value-Pp1";
    let other = "mask-other-Aa2";
    let sb = Sandbox::with_secrets(&[("m/v", value), ("m/other", other)]);

    // One write.
    let out = exec_sh(&sb, &["--mask"], r#"printf 'before %s after\n' "$M_V""#);
    assert_ok(&out);
    assert_eq!(out.stdout(), "before ***** after\n");

    // Split across two writes with a pause in between.
    let out = exec_sh(
        &sb,
        &["--mask"],
        r#"printf 'x=%s' "${M_V%???}"; sleep 0.2; printf '%s;\n' "${M_V#"${M_V%???}"}""#,
    );
    assert_ok(&out);
    assert_eq!(out.stdout(), "x=*****;\n");

    // stderr, several values, ordinary output untouched.
    let out = exec_sh(
        &sb,
        &["--mask"],
        r#"echo "plain line"; printf '%s/%s\n' "$M_V" "$M_OTHER" >&2; printf 'mask-me-\n' >&2"#,
    );
    assert_ok(&out);
    assert_eq!(out.stdout(), "plain line\n");
    assert_eq!(stderr(&out), "*****/*****\nmask-me-\n");

    // Values delivered as files are masked too, and the exit code survives.
    let rt = RuntimeDir::new();
    let out = sb
        .test(&exec_args(
            &["--mask", "--file", "F=m/v"],
            &["sh", "-c", r#"cat "$F"; echo; exit 5"#],
        ))
        .env("XDG_RUNTIME_DIR", rt.path())
        .run();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(out.stdout(), "*****\n");
    assert_no_leak(&out, value);
    assert!(rt.entries().is_empty());

    // Control: without --mask the value does come through.
    let out = exec_sh(&sb, &[], r#"printf '%s\n' "$M_V""#);
    assert_eq!(out.stdout(), format!("{value}\n"));
}

// ---------------------------------------------------------------------------
// Pre-flight errors
// ---------------------------------------------------------------------------

#[test]
fn name_collision_is_refused_before_running() {
    let sb = Sandbox::with_secrets(&[("a-b", "collide-one-Ee1"), ("a_b", "collide-two-Ee2")]);
    let secrets = ["collide-one-Ee1", "collide-two-Ee2"];
    assert_preflight(&sb, &[], 1, "A_B", &secrets);
    assert_preflight(
        &sb,
        &["--only", "a-b", "--only", "a_b"],
        1,
        "both map to variable A_B",
        &secrets,
    );
    // An explicit mapping resolves it.
    let out = exec_sh(
        &sb,
        &["--env", "ONE=a-b", "--env", "TWO=a_b"],
        r#"echo "$ONE $TWO""#,
    );
    assert_ok(&out);
    assert_eq!(out.stdout(), "collide-one-Ee1 collide-two-Ee2\n");
}

#[test]
fn invalid_derived_name_is_refused_before_running() {
    let sb = Sandbox::with_secrets(&[("9lives", "digit-value-Dd4"), ("ok", "fine-value-Dd5")]);
    let out = assert_preflight(
        &sb,
        &[],
        1,
        "must start with a letter",
        &["digit-value-Dd4", "fine-value-Dd5"],
    );
    assert!(stderr(&out).contains("9lives"), "{}", stderr(&out));
    assert_preflight(&sb, &["--only", "9lives"], 1, "9LIVES", &["digit-value-Dd4"]);
    // Mapping it to a valid name works.
    let out = exec_sh(&sb, &["--env", "NINE=9lives"], r#"echo "$NINE""#);
    assert_ok(&out);
    assert_eq!(out.stdout(), "digit-value-Dd4\n");
}

#[test]
fn bad_env_mappings_are_refused_before_running() {
    let value = "mapping-value-Mm7";
    let sb = Sandbox::with_secrets(&[("ns/key", value), ("path-value", "/evil/bin")]);
    let s = [value, "/evil/bin"];
    // Unknown path.
    assert_preflight(&sb, &["--env", "X=ns/nope"], 1, "no secret `ns/nope`", &s);
    assert_preflight(&sb, &["--file", "X=nope"], 1, "no secret `nope`", &s);
    // A namespace, not a leaf.
    assert_preflight(&sb, &["--env", "X=ns"], 1, "namespace", &s);
    assert_preflight(&sb, &["--file", "X=ns"], 1, "namespace", &s);
    // Invalid variable names.
    assert_preflight(&sb, &["--env", "A B=ns/key"], 1, "may only contain", &s);
    assert_preflight(&sb, &["--env", "1X=ns/key"], 1, "must start with a letter", &s);
    // `A=B=c` splits at the first `=`, leaving an invalid path `B=c`.
    assert_preflight(&sb, &["--env", "A=B=c"], 2, "B=c", &s);
    // Not a mapping at all.
    assert_preflight(&sb, &["--env", "JUSTANAME"], 2, "NAME=PATH", &s);
    assert_preflight(&sb, &["--file", "=ns/key"], 2, "NAME=PATH", &s);
    // Loader/shell variables need --allow-override.
    assert_preflight(&sb, &["--env", "PATH=path-value"], 1, "--allow-override", &s);
    assert_preflight(&sb, &["--env", "LD_PRELOAD=ns/key"], 1, "--allow-override", &s);
    assert_preflight(&sb, &["--file", "BASH_ENV=ns/key"], 1, "--allow-override", &s);
    let out = sb
        .test(&exec_args(
            &["--env", "PATH=path-value", "--allow-override"],
            &["/bin/sh", "-c", r#"echo "$PATH""#],
        ))
        .run();
    assert_ok(&out);
    assert_eq!(out.stdout(), "/evil/bin\n");
}

#[test]
fn invalid_name_in_a_profile_is_refused_before_running() {
    let value = "profile-bad-name-Nn1";
    let sb = Sandbox::with_secrets(&[("k", value)]);
    sb.append_config("[exec.bad]\nenv = { \"A=B\" = \"k\" }\n");
    assert_preflight(&sb, &["-p", "bad"], 1, "`=`", &[value]);
}

#[test]
fn oversized_env_value_is_refused_before_running() {
    const LIMIT: usize = 128 * 1024;
    // `X=` + value + NUL exactly at the kernel's limit, one byte over, and far over.
    let edge: String = "e".repeat(LIMIT - 3);
    let over = "o".repeat(LIMIT - 2);
    let big: String = "big-value-".repeat(LIMIT / 10 + 1);
    // Installed in one write (three `set`s of 128 KiB each are slow in a debug build).
    let sb = Sandbox::init();
    let public = common::public_key(&sb.identity());
    let doc = serde_json::json!({
        "version": 1,
        "secrets": { "edge": edge, "over": over, "big": big },
        "recipients": [public],
    });
    sb.age_encrypt_vault(doc.to_string().as_bytes());

    let out = sb
        .test(&exec_args(
            &["--env", "X=edge"],
            &["sh", "-c", r#"printf %s "$X" | wc -c"#],
        ))
        .run();
    assert_ok(&out);
    assert_eq!(out.stdout().trim(), (LIMIT - 3).to_string());

    // Over the limit: a clear error before exec, not E2BIG.
    let out = assert_preflight(&sb, &["--env", "X=big"], 1, "128 KiB", &[]);
    assert!(!stderr(&out).contains("E2BIG"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--file"),
        "the error should suggest --file: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&big[..64]));
    // One byte over.
    assert_preflight(&sb, &["--env", "X=over"], 1, "128 KiB", &[]);
    // Default derivation hits the same check.
    assert_preflight(&sb, &["--only", "big"], 1, "128 KiB", &[]);

    // The same value as a file is fine.
    let rt = RuntimeDir::new();
    let out = sb
        .test(&exec_args(&["--file", "X=big"], &["sh", "-c", r#"wc -c < "$X""#]))
        .env("XDG_RUNTIME_DIR", rt.path())
        .run();
    assert_ok(&out);
    assert_eq!(out.stdout().trim(), big.len().to_string());
}

#[test]
fn unknown_profile_is_refused_before_running() {
    let value = "unknown-profile-Up3";
    let sb = Sandbox::with_secrets(&[("k", value)]);
    sb.append_config("[exec.dev]\nenv = { K = \"k\" }\n");
    let out = assert_preflight(&sb, &["-p", "nope"], 1, "[exec.nope]", &[value]);
    assert!(
        stderr(&out).contains("dev"),
        "should list existing profiles: {}",
        stderr(&out)
    );
}

#[test]
fn missing_command_is_a_usage_error() {
    let sb = Sandbox::with_secrets(&[("k", "no-command-Mc2")]);
    let out = sb.test(&["exec"]).run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_no_leak(&out, "no-command-Mc2");
}

#[test]
fn as_pid_1_it_supervises_and_reaps_orphans() {
    let sb = Sandbox::with_secrets(&[("pid1/token", "pid-one-value-0001")]);
    let bin = env!("CARGO_BIN_EXE_agevault");
    // A new PID namespace makes agevault its PID 1, as in a container. Root creates
    // one directly; anyone else inside a user namespace of their own. The test fails,
    // not skips, where neither is allowed.
    let mut unshare = vec!["--pid", "--fork", "--mount-proc"];
    if !nix::unistd::geteuid().is_root() {
        unshare.splice(0..0, ["--user", "--map-root-user"]);
    }
    let probe = std::process::Command::new("unshare")
        .args(&unshare)
        .arg("true")
        .output()
        .expect("the unshare command must be installed (util-linux)");
    assert!(
        probe.status.success(),
        "cannot create a PID namespace here (run as root, or allow user namespaces): {}",
        stderr(&probe)
    );
    // The subshell exits at once, orphaning its background child, which the
    // kernel re-parents to PID 1; unreaped, it would stay a zombie.
    let script = "( sh -c 'exit 0' & ); sleep 0.3; \
                  echo \"pid=$PPID\"; grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l; exit 5";
    let out = std::process::Command::new("unshare")
        .args(&unshare)
        .args([bin, "exec", "--", "sh", "-c", script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", sb.home())
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .current_dir(sb.repo())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(shell_code(out.status), 5, "{text} {}", stderr(&out));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("pid=1"),
        "agevault is not the supervising PID 1: {text}"
    );
    assert_eq!(
        lines.next().map(str::trim),
        Some("0"),
        "a zombie was left unreaped: {text}"
    );
    assert_no_leak(&out, "pid-one-value-0001");
}

// ---------------------------------------------------------------------------
// Variable policy: derived names never set reserved or inherited variables
// ---------------------------------------------------------------------------

/// Secrets whose derived names a forged (or mistaken) vault could use to run code
/// in whatever the child starts: make, less, node, any HTTP client.
const HOSTILE: [(&str, &str, &str); 4] = [
    (
        "makeflags",
        "MAKEFLAGS",
        "--eval=$(shell touch /tmp/agevault-pwned-make)",
    ),
    ("lessopen", "LESSOPEN", "|touch /tmp/agevault-pwned-less %s"),
    ("node/options", "NODE_OPTIONS", "--require=/tmp/agevault-pwned.js"),
    ("http/proxy", "HTTP_PROXY", "http://attacker.invalid:8080"),
];

#[test]
fn derived_names_never_set_reserved_variables() {
    let mut secrets: Vec<(&str, &str)> = HOSTILE.iter().map(|(p, _, v)| (*p, *v)).collect();
    secrets.push(("app/token", "benign-token-Pq7"));
    let sb = Sandbox::with_secrets(&secrets);
    let values: Vec<&str> = secrets.iter().map(|(_, v)| *v).collect();
    sb.append_config("[exec.derive]\nonly = [\"makeflags\"]\n");

    // The default mode refuses the whole run, naming one offender.
    let out = assert_preflight(&sb, &[], 1, "would set", &values);
    let err = stderr(&out);
    assert!(
        HOSTILE
            .iter()
            .any(|(p, n, _)| err.contains(&format!("`{p}` would set {n}"))),
        "{err}"
    );
    for (path, name, _) in HOSTILE {
        let needle = format!("`{path}` would set {name}");
        // --only derives the name too, and --allow-override does not help a derived name.
        assert_preflight(&sb, &["--only", path], 1, &needle, &values);
        let out = assert_preflight(&sb, &["--only", path, "--allow-override"], 1, &needle, &values);
        assert!(
            stderr(&out).contains("not even with --allow-override"),
            "{}",
            stderr(&out)
        );
    }
    // A profile's `only` derives names as well.
    assert_preflight(
        &sb,
        &["-p", "derive"],
        1,
        "`makeflags` would set MAKEFLAGS",
        &values,
    );
    assert_preflight(
        &sb,
        &["-p", "derive", "--allow-override"],
        1,
        "`makeflags` would set MAKEFLAGS",
        &values,
    );
    // Explicit mappings of reserved names (any case for proxies) need --allow-override.
    assert_preflight(
        &sb,
        &["--env", "http_proxy=http/proxy"],
        1,
        "--allow-override",
        &values,
    );
    assert_preflight(&sb, &["--env", "LESSOPEN=lessopen"], 1, "LESSOPEN", &values);
    // Renaming it explicitly is the way out, and the benign secret still flows.
    let out = exec_sh(
        &sb,
        &["--env", "MY_MAKEFLAGS=makeflags", "--only", "app"],
        r#"printf '%s|%s|%s' "$MY_MAKEFLAGS" "$APP_TOKEN" "${MAKEFLAGS-unset}""#,
    );
    assert_ok(&out);
    assert_eq!(out.stdout(), format!("{}|benign-token-Pq7|unset", HOSTILE[0].2));
}

#[test]
fn a_forged_makeflags_secret_never_reaches_make() {
    // The attack of issue 8: a secret whose derived name is MAKEFLAGS makes a
    // deploy script's `make` run the attacker's command. Refused before make runs.
    let marker = std::env::temp_dir().join(format!("agevault-pwned-{}", std::process::id()));
    let _ = fs::remove_file(&marker);
    let payload = format!("--eval=$(shell touch {})", marker.display());
    let sb = Sandbox::with_secrets(&[("makeflags", payload.as_str())]);
    let mk = sb.root.path().join("Makefile");
    fs::write(&mk, "all:\n\t@echo built\n").unwrap();
    let out = sb
        .test(&exec_args(&[], &["make", "-f", mk.to_str().unwrap()]))
        .run();
    let ran = marker.exists();
    let _ = fs::remove_file(&marker);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!ran, "the MAKEFLAGS payload ran");
    assert!(!out.stdout().contains("built"), "make ran");
    assert!(
        stderr(&out).contains("`makeflags` would set MAKEFLAGS"),
        "{}",
        stderr(&out)
    );
    assert_no_leak(&out, &payload);
}

#[test]
fn derived_name_never_replaces_an_inherited_variable() {
    let value = "inherited-clash-value-Wq2";
    let sb = Sandbox::with_secrets(&[("deploy/target", value)]);
    let run = |opts: &[&str], script: &str| -> Outcome {
        sb.test(&exec_args(opts, &["sh", "-c", script]))
            .env("DEPLOY_TARGET", "staging")
            .run()
    };
    let marker = sb.root.path().join("child-ran");
    let touch = format!("touch '{}'", marker.display());
    for opts in [&[][..], &["--only", "deploy"][..], &["--allow-override"][..]] {
        let out = run(opts, &touch);
        assert_eq!(out.status.code(), Some(1), "{opts:?}: {}", stderr(&out));
        assert!(!marker.exists(), "{opts:?}: the child ran");
        let err = stderr(&out);
        assert!(
            err.contains("`deploy/target` would replace DEPLOY_TARGET, which is already set"),
            "{opts:?}: {err}"
        );
        assert_no_leak(&out, value);
        assert!(
            !err.contains("staging"),
            "an inherited value in the message: {err}"
        );
    }
    // A person who maps it explicitly may replace it.
    let out = run(
        &["--env", "DEPLOY_TARGET=deploy/target"],
        r#"printf %s "$DEPLOY_TARGET""#,
    );
    assert_ok(&out);
    assert_eq!(out.stdout(), value);
    // Under --clean-env the child inherits only the allow-list, so nothing is replaced.
    let out = run(&["--clean-env"], r#"printf %s "$DEPLOY_TARGET""#);
    assert_ok(&out);
    assert_eq!(out.stdout(), value);
    // Without the variable in the environment the derived name is fine.
    let out = exec_sh(&sb, &[], r#"printf %s "$DEPLOY_TARGET""#);
    assert_ok(&out);
    assert_eq!(out.stdout(), value);
}

#[test]
fn explicit_profile_mapping_of_makeflags_needs_allow_override() {
    let flags = "--no-print-directory";
    let sb = Sandbox::with_secrets(&[("build/flags", flags)]);
    sb.append_config("[exec.build]\nenv = { MAKEFLAGS = \"build/flags\" }\n");
    let out = assert_preflight(&sb, &["-p", "build"], 1, "--allow-override", &[flags]);
    let err = stderr(&out);
    assert!(
        err.contains("profile [exec.build] env would set MAKEFLAGS"),
        "{err}"
    );
    // Reviewed and allowed: make really receives it.
    let mk = sb.root.path().join("Makefile");
    fs::write(&mk, "all:\n\t@echo \"flags=$$MAKEFLAGS\"\n").unwrap();
    let out = sb
        .test(&exec_args(
            &["-p", "build", "--allow-override"],
            &["make", "-s", "-f", mk.to_str().unwrap()],
        ))
        .run();
    assert_ok(&out);
    assert!(
        out.stdout().contains("no-print-directory"),
        "make did not see MAKEFLAGS: {}",
        out.stdout()
    );
}

#[test]
fn explicit_only_refuses_derived_names_and_allows_explicit_ones() {
    let db = "explicit-only-db-Ko1";
    let api = "explicit-only-api-Ko2";
    let sb = Sandbox::with_secrets(&[("db/password", db), ("api/key", api)]);
    sb.append_config(
        r#"[exec.mapped]
env = { DB_PASS = "db/password" }

[exec.derives]
only = ["api"]
env = { DB_PASS = "db/password" }
"#,
    );
    let s = [db, api];
    let env_switch = [("AGEVAULT_EXEC_EXPLICIT_ONLY", "1")];
    for (flag, env) in [(&["--explicit-only"][..], &[][..]), (&[][..], &env_switch[..])] {
        let case = |opts: &[&str], code: i32, needle: &str| {
            let marker = sb.root.path().join("child-ran");
            let mut all = flag.to_vec();
            all.extend_from_slice(opts);
            let mut test = sb.test(&exec_args(
                &all,
                &["sh", "-c", &format!("touch '{}'", marker.display())],
            ));
            for (k, v) in env {
                test = test.env(k, v);
            }
            let out = test.run();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{all:?} {env:?}: {err}");
            assert!(err.contains(needle), "{all:?} {env:?}: {err}");
            assert!(!marker.exists(), "{all:?} {env:?}: the child ran");
            for v in s {
                assert_no_leak(&out, v);
            }
        };
        // Default mode and --only derive names: usage errors naming path and variable.
        case(&[], 2, "would get the derived name");
        case(
            &["--only", "api"],
            2,
            "`api/key` would get the derived name API_KEY (--only api)",
        );
        // A profile's `only` derives names too.
        case(
            &["-p", "derives"],
            1,
            "`api/key` would get the derived name API_KEY",
        );
        // Explicit mappings work, from flags and profiles.
        for opts in [
            &["--env", "K=api/key"][..],
            &["-p", "mapped", "--env", "K=api/key"][..],
        ] {
            let mut all = flag.to_vec();
            all.extend_from_slice(opts);
            let mut test = sb.test(&exec_args(
                &all,
                &[
                    "sh",
                    "-c",
                    r#"printf '%s|%s|%s' "$K" "${DB_PASS-}" "${API_KEY-unset}""#,
                ],
            ));
            for (k, v) in env {
                test = test.env(k, v);
            }
            let out = test.run();
            assert_ok(&out);
            let expected_db = if opts.contains(&"mapped") { db } else { "" };
            assert_eq!(out.stdout(), format!("{api}|{expected_db}|unset"), "{all:?}");
        }
    }
    // The host switch is strict about its value, and 0 turns it off.
    let out = sb
        .test(&exec_args(&[], &["true"]))
        .env("AGEVAULT_EXEC_EXPLICIT_ONLY", "ture")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AGEVAULT_EXEC_EXPLICIT_ONLY"),
        "{}",
        stderr(&out)
    );
    let out = sb
        .test(&exec_args(&[], &["sh", "-c", r#"printf %s "$API_KEY""#]))
        .env("AGEVAULT_EXEC_EXPLICIT_ONLY", "0")
        .run();
    assert_ok(&out);
    assert_eq!(out.stdout(), api);
}

// ---------------------------------------------------------------------------
// SIGKILL of the supervisor: the guard and the sweep
// ---------------------------------------------------------------------------

/// PIDs of cleanup guards watching `dir` (found by their command line).
fn guards_for(dir: &Path) -> Vec<u32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.windows(12).any(|w| w == b"__exec-guard") && c.windows(needle.len()).any(|w| w == needle)
            })
        })
        .collect()
}

/// Whether `pid` runs (a zombie has finished).
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s[s.rfind(')').unwrap() + 1..].split_whitespace().next();
        !matches!(state, Some("Z" | "X"))
    })
}

/// Polls `cond` every 10 ms for up to `limit`; returns how long it took, or None.
fn within(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    loop {
        if cond() {
            return Some(t0.elapsed());
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Creates the stop file when dropped, so a failing test leaves no child running.
struct Release(PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = fs::write(&self.0, "");
    }
}

/// Starts a supervised `exec --file F=sig/key` whose child prints "$F" and its PID,
/// then runs until `stop` exists (60 s at most). Returns agevault, the file and
/// the child's PID.
fn spawn_orphanable(sb: &Sandbox, rt: &RuntimeDir, stop: &Path) -> (Child, PathBuf, u32) {
    let script = format!(
        r#"echo "$F"; echo $$; i=0
while [ ! -e '{}' ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done"#,
        stop.display()
    );
    let mut child = sb
        .command(&exec_args(&["--file", "F=sig/key"], &["sh", "-c", &script]))
        .env("XDG_RUNTIME_DIR", rt.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let path = PathBuf::from(lines.next().unwrap().unwrap());
    let pid: u32 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    assert!(
        path.starts_with(rt.path()) && path.is_file(),
        "{}",
        path.display()
    );
    (child, path, pid)
}

/// `kill -9` of agevault, waiting until it is gone.
fn kill_supervisor(agevault: &mut Child) {
    send_signal(agevault.id(), "KILL");
    let status = wait_deadline(agevault, 10);
    assert_eq!(status.signal(), Some(9), "{status:?}");
}

#[test]
fn files_disappear_when_the_child_ends_even_after_kill_9_of_agevault() {
    let value = "kill9-guard-value-Gx4";
    let sb = Sandbox::with_secrets(&[("sig/key", value)]);
    let rt = RuntimeDir::new();
    let stop = sb.root.path().join("stop");
    let _release = Release(stop.clone());

    // A normal run leaves no guard behind.
    let (mut agevault, path, _) = spawn_orphanable(&sb, &rt, &stop);
    let dir = path.parent().unwrap().to_owned();
    assert_eq!(guards_for(&dir).len(), 1, "no guard watches {}", dir.display());
    fs::write(&stop, "").unwrap();
    assert!(wait_deadline(&mut agevault, 10).success());
    assert!(!dir.exists());
    assert!(
        within(Duration::from_secs(1), || guards_for(&dir).is_empty()).is_some(),
        "the guard outlived a normal run"
    );
    fs::remove_file(&stop).unwrap();

    // agevault is SIGKILLed while the child runs: the child keeps its file ...
    let (mut agevault, path, child) = spawn_orphanable(&sb, &rt, &stop);
    let dir = path.parent().unwrap().to_owned();
    kill_supervisor(&mut agevault);
    std::thread::sleep(Duration::from_millis(300));
    assert!(running(child), "the child died with agevault");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        value,
        "the file vanished while the child still ran"
    );
    // ... and when the child ends, the directory and its record go within a second.
    fs::write(&stop, "").unwrap();
    let took = within(Duration::from_secs(1), || !dir.exists());
    assert!(
        took.is_some(),
        "{} still exists a second after the child ended",
        dir.display()
    );
    assert!(
        within(Duration::from_secs(1), || rt.entries().is_empty()).is_some(),
        "left behind: {:?}",
        rt.entries()
    );
    assert!(
        within(Duration::from_secs(1), || guards_for(&dir).is_empty()).is_some(),
        "the guard did not exit"
    );
    eprintln!("removed {:?} after the child's end was signalled", took.unwrap());
}

#[test]
fn no_sweep_removes_the_files_of_a_running_orphaned_child() {
    let value = "orphan-sweep-value-Ob8";
    let sb = Sandbox::with_secrets(&[("sig/key", value)]);
    let rt = RuntimeDir::new();
    let stop = sb.root.path().join("stop");
    let _release = Release(stop.clone());
    let (mut agevault, path, child) = spawn_orphanable(&sb, &rt, &stop);
    let dir = path.parent().unwrap().to_owned();
    kill_supervisor(&mut agevault);

    let second_run = || {
        let out = sb
            .test(&exec_args(&["--file", "G=sig/key"], &["sh", "-c", r#"cat "$G""#]))
            .env("XDG_RUNTIME_DIR", rt.path())
            .run();
        assert_ok(&out);
        assert_eq!(out.stdout(), value);
    };
    // The dead agevault's PID is in the directory's name, but its child runs.
    second_run();
    assert_eq!(
        fs::read_to_string(&path).ok().as_deref(),
        Some(value),
        "a later run swept the files of a running child"
    );
    // Also with the guard gone (killed too): the record alone protects it.
    let guards = guards_for(&dir);
    assert_eq!(guards.len(), 1, "{guards:?}");
    send_signal(guards[0], "KILL");
    assert!(within(Duration::from_secs(2), || guards_for(&dir).is_empty()).is_some());
    second_run();
    assert_eq!(
        fs::read_to_string(&path).ok().as_deref(),
        Some(value),
        "a later run swept the files of a running child"
    );
    assert!(running(child));
    // Once the child has ended, the next run sweeps them.
    fs::write(&stop, "").unwrap();
    assert!(within(Duration::from_secs(5), || !running(child)).is_some());
    assert!(dir.exists(), "with no guard, only a sweep removes it");
    second_run();
    assert!(!dir.exists(), "the files of a finished child were not swept");
    assert!(rt.entries().is_empty(), "left behind: {:?}", rt.entries());
}
