//! Scopes: each recipient reads only the files of its scopes; every command works across them.

mod common;
mod gitutil;

use std::fs;
use std::path::PathBuf;

use common::{age_keygen, all_output, stderr, Outcome, Sandbox};
use gitutil::{agevault, git, git_ok};

/// alice (developer, writer) and the host pve1; secrets in main, prod/… and dev/….
struct Env {
    sb: Sandbox,
    host_home: PathBuf,
}

impl Env {
    fn new() -> Env {
        let sb = Sandbox::with_secrets(&[
            ("samba/user", "smbadmin"),
            ("prod/db/password", "prod-db-secret-1"),
            ("prod/api/token", "prod-token-secret-1"),
            ("dev/db/password", "dev-db-secret-1"),
        ]);
        let host_home = sb.root.path().join("host-home");
        let id = host_home.join(".config/agevault/identity.txt");
        fs::create_dir_all(id.parent().unwrap()).unwrap();
        let host = age_keygen(&id);
        sb.test(&["recipients", "add", "pve1", &host, "--role", "host"])
            .run()
            .success();
        sb.add_scope("prod", "prod/**", &["role:host", "alice"]);
        sb.test(&["scopes", "add", "dev", "--paths", "dev/**", "--readers", "alice"])
            .run()
            .success();
        Env { sb, host_home }
    }

    /// The binary as the host: its own HOME (identity) and trust store.
    fn host(&self, args: &[&str]) -> Outcome {
        self.sb
            .test(args)
            .env("HOME", &self.host_home)
            .env("AGEVAULT_TRUST_DIR", self.host_home.join("trust"))
            .run()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.sb.repo().join(name)
    }

    fn age_can_read(&self, identity: &PathBuf, file: &str) -> Option<String> {
        let out = std::process::Command::new("age")
            .args(["-d", "-i"])
            .arg(identity)
            .arg(self.file(file))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[test]
fn each_scope_lives_in_its_own_file_read_only_by_its_readers() {
    let env = Env::new();
    let host_id = env.host_home.join(".config/agevault/identity.txt");
    // Stock age agrees on who reads what.
    let prod = env
        .age_can_read(&host_id, "secrets.prod.json.age")
        .expect("the host reads prod");
    assert!(prod.contains("prod-db-secret-1"));
    assert!(!prod.contains("dev-db-secret-1"));
    assert!(env.age_can_read(&host_id, "secrets.dev.json.age").is_none());
    let main = env
        .age_can_read(&host_id, "secrets.json.age")
        .expect("the host reads main");
    assert!(
        main.contains("smbadmin") && !main.contains("prod-db-secret-1") && !main.contains("dev-db-secret-1")
    );
    assert!(env
        .age_can_read(&env.sb.identity(), "secrets.dev.json.age")
        .is_some());
    for f in ["secrets.prod.json.age.sig", "secrets.dev.json.age.sig"] {
        assert!(env.file(f).exists(), "{f} missing");
    }
    // agevault on the host: main and prod, not dev.
    let out = env.host(&["get", "prod/db/password"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "prod-db-secret-1",
        "{}",
        all_output(&out)
    );
    let out = env.host(&["get", "dev/db/password"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("scope `dev`") && err.contains("alice"), "{err}");
    assert!(!all_output(&out).contains("dev-db-secret-1"));
    let out = env.host(&["ls", "--all"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("prod/db/password") && listed.contains("samba/user"),
        "{listed}"
    );
    assert!(!listed.contains("dev/"), "{listed}");
    assert!(stderr(&out).contains("scope `dev`"), "{}", stderr(&out));
    // alice sees everything as one tree.
    let out = env.sb.test(&["ls"]).run();
    let listed = String::from_utf8_lossy(&out.stdout);
    for p in ["dev/db/password", "prod/api/token", "samba/user"] {
        assert!(listed.contains(p), "{listed}");
    }
    let out = env.sb.test(&["scopes", "list", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    let out = env.host(&["scopes", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dev = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "dev")
        .unwrap();
    assert_eq!(dev["readable"], false);
}

#[test]
fn set_and_rm_route_by_path_and_rewrite_only_that_file() {
    let env = Env::new();
    let main_before = fs::read(env.file("secrets.json.age")).unwrap();
    let dev_before = fs::read(env.file("secrets.dev.json.age")).unwrap();
    env.sb.set("prod/db/password", "prod-db-secret-2");
    assert_eq!(fs::read(env.file("secrets.json.age")).unwrap(), main_before);
    assert_eq!(fs::read(env.file("secrets.dev.json.age")).unwrap(), dev_before);
    let out = env.host(&["get", "prod/db/password"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "prod-db-secret-2");
    env.sb.test(&["rm", "prod/api/token"]).run().success();
    assert!(!env.host(&["get", "prod/api/token"]).status.success());
    // The host cannot write a scope it does not read… nor anything: it is no writer.
    let out = env
        .sb
        .test(&["set", "dev/new"])
        .env("HOME", &env.host_home)
        .stdin("x-1")
        .run();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn exec_gathers_scopes_and_fails_before_the_child_for_an_unreadable_one() {
    let env = Env::new();
    env.sb.append_config(
        "[exec.app]\nscopes = [\"prod\"]\nstrip_prefix = \"prod\"\n\n[exec.devapp]\nscopes = [\"dev\"]\nstrip_prefix = \"dev\"\n",
    );
    let out = env.host(&[
        "exec",
        "-p",
        "app",
        "--",
        "sh",
        "-c",
        "printf '%s|%s' \"$DB_PASSWORD\" \"$API_TOKEN\"",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "prod-db-secret-1|prod-token-secret-1",
        "{}",
        all_output(&out)
    );
    let marker = env.sb.root.path().join("ran");
    let script = format!("touch '{}'", marker.display());
    let out = env.host(&["exec", "-p", "devapp", "--", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(stderr(&out).contains("scope `dev`"), "{}", stderr(&out));
    assert!(!marker.exists(), "the child ran");
    // The same profile serves each environment for alice, with --strip-prefix too.
    let out = env
        .sb
        .test(&[
            "exec",
            "--only",
            "dev",
            "--strip-prefix",
            "dev",
            "--",
            "sh",
            "-c",
            "printf %s \"$DB_PASSWORD\"",
        ])
        .run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "dev-db-secret-1",
        "{}",
        all_output(&out)
    );
}

#[test]
fn removing_a_recipient_lists_exactly_what_it_could_read() {
    let env = Env::new();
    let dev_before = fs::read(env.file("secrets.dev.json.age")).unwrap();
    let out = env.sb.test(&["recipients", "remove", "pve1"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("samba/user") && listed.contains("prod/db/password"),
        "{listed}"
    );
    assert!(!listed.contains("dev/db/password"), "{listed}");
    // dev was not re-encrypted.
    assert_eq!(fs::read(env.file("secrets.dev.json.age")).unwrap(), dev_before);
    let host_id = env.host_home.join(".config/agevault/identity.txt");
    assert!(env.age_can_read(&host_id, "secrets.prod.json.age").is_none());
    // Exposure is tracked for exactly those secrets, never for dev's.
    let out = env.sb.test(&["check"]).run();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("`prod/db/password` still holds"), "{report}");
    assert!(!report.contains("dev/db/password"), "{report}");
    // status shows the exposure per scope.
    let out = env.sb.test(&["status"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |path: &str| {
        table
            .lines()
            .find(|l| l.starts_with(path))
            .unwrap_or_else(|| panic!("{path} in {table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(table.starts_with("PATH"), "{table}");
    assert!(
        line("prod/db/password").starts_with("prod/db/password prod "),
        "{table}"
    );
    assert!(
        line("prod/db/password").contains("exposed to removed `pve1`"),
        "{table}"
    );
    assert!(line("samba/user").starts_with("samba/user main "), "{table}");
    assert!(
        line("samba/user").contains("exposed to removed `pve1`"),
        "{table}"
    );
    assert!(
        line("dev/db/password").starts_with("dev/db/password dev "),
        "{table}"
    );
    assert!(!line("dev/db/password").contains("exposed"), "{table}");
    let out = env.sb.test(&["status", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "prod/api/token")
        .unwrap();
    assert_eq!(row["scope"], "prod");
    assert_eq!(row["exposed_to"][0]["name"], "pve1");
}

#[test]
fn grant_revoke_and_move_rewrite_only_the_files_involved() {
    let env = Env::new();
    let host_id = env.host_home.join(".config/agevault/identity.txt");
    let prod_before = fs::read(env.file("secrets.prod.json.age")).unwrap();
    env.sb.test(&["scopes", "grant", "dev", "pve1"]).run().success();
    assert!(env.age_can_read(&host_id, "secrets.dev.json.age").is_some());
    assert_eq!(fs::read(env.file("secrets.prod.json.age")).unwrap(), prod_before);
    let out = env.sb.test(&["scopes", "revoke", "dev", "pve1"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dev/db/password"));
    assert!(env.age_can_read(&host_id, "secrets.dev.json.age").is_none());
    // Moving a path is one command.
    env.sb
        .test(&["scopes", "move", "samba/user", "--to", "dev"])
        .run()
        .success();
    let dev = env
        .age_can_read(&env.sb.identity(), "secrets.dev.json.age")
        .unwrap();
    assert!(dev.contains("smbadmin"));
    let main = env.age_can_read(&env.sb.identity(), "secrets.json.age").unwrap();
    assert!(!main.contains("smbadmin"));
    assert_eq!(env.sb.get("samba/user"), "smbadmin");
    env.sb
        .test(&["scopes", "move", "prod/api", "--to", "main"])
        .run()
        .success();
    let main = env.age_can_read(&env.sb.identity(), "secrets.json.age").unwrap();
    assert!(main.contains("prod-token-secret-1"));
    assert_eq!(env.sb.get("prod/api/token"), "prod-token-secret-1");
    env.sb.test(&["check"]).run().success();
    // An empty scope can be removed, a full one cannot.
    assert!(!env.sb.test(&["scopes", "remove", "prod"]).run().status.success());
    env.sb.test(&["rm", "dev/db/password"]).run().success();
    env.sb.test(&["rm", "samba/user"]).run().success();
    env.sb.test(&["scopes", "remove", "dev"]).run().success();
    assert!(!env.file("secrets.dev.json.age").exists());
    env.sb.test(&["check"]).run().success();
}

#[test]
fn overlapping_scopes_are_a_config_error() {
    let env = Env::new();
    let out = env
        .sb
        .test(&[
            "scopes",
            "add",
            "db",
            "--paths",
            "*/db/password",
            "--readers",
            "alice",
        ])
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(stderr(&out).contains("matches both"), "{}", stderr(&out));
    // Nothing changed: the config and every file are as before.
    env.sb.test(&["check"]).run().success();
    assert!(!fs::read_to_string(env.sb.config())
        .unwrap()
        .contains("[scopes.db]"));
}

#[test]
fn check_with_a_key_that_reads_only_some_scopes() {
    let env = Env::new();
    let out = env.host(&["check"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("scope `dev`"), "{report}");
    // A forged scope file is caught even by a key that cannot read it.
    fs::write(
        env.file("secrets.dev.json.age"),
        fs::read(env.file("secrets.prod.json.age")).unwrap(),
    )
    .unwrap();
    let out = env.host(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    // CI without any key (`--no-decrypt`) verifies every scope file's signature too.
    let out = env
        .sb
        .test(&["check", "--no-decrypt"])
        .env("HOME", env.sb.root.path().join("nobody"))
        .env("AGEVAULT_TRUST_DIR", env.sb.root.path().join("ci-trust"))
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(all_output(&out).contains("scope `dev`"), "{}", all_output(&out));
}

#[test]
fn check_no_decrypt_verifies_every_scope_file() {
    let env = Env::new();
    let ci = |env: &Env| {
        env.sb
            .test(&["check", "--no-decrypt"])
            .env("HOME", env.sb.root.path().join("nobody"))
            .env("AGEVAULT_TRUST_DIR", env.sb.root.path().join("ci-trust"))
            .run()
    };
    let out = ci(&env);
    assert!(out.status.success(), "{}", all_output(&out));
    // A scope file replaced by an attacker's own age file (no valid signature).
    let forged = env.sb.root.path().join("forged.json");
    fs::write(&forged, "{\"prod\":{\"db\":{\"password\":\"attacker\"}}}").unwrap();
    let key = env.sb.root.path().join("attacker.txt");
    let attacker = age_keygen(&key);
    let status = std::process::Command::new("age")
        .args(["-a", "-r", &attacker, "-o"])
        .arg(env.file("secrets.prod.json.age"))
        .arg(&forged)
        .status()
        .unwrap();
    assert!(status.success());
    let out = ci(&env);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let text = all_output(&out);
    assert!(text.contains("scope `prod`"), "{text}");
    // A deleted scope file that this CI saw before is refused, not skipped.
    fs::remove_file(env.file("secrets.prod.json.age")).unwrap();
    let out = ci(&env);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
}

#[test]
fn concurrent_changes_in_two_scope_files_merge() {
    let env = Env::new();
    let sb = &env.sb;
    git_ok(sb, &["init", "-q", "-b", "main"]);
    agevault(sb, &["git", "setup"]).run().success();
    git_ok(sb, &["add", "-A"]);
    git_ok(sb, &["commit", "-q", "-m", "scoped"]);
    git_ok(sb, &["checkout", "-q", "-b", "feature"]);
    sb.set("dev/db/password", "dev-db-secret-2");
    git_ok(sb, &["commit", "-qam", "dev change"]);
    git_ok(sb, &["checkout", "-q", "main"]);
    sb.set("prod/db/password", "prod-db-secret-2");
    sb.set("dev/other", "dev-other-1");
    git_ok(sb, &["commit", "-qam", "prod and dev change"]);
    // git setup routed the scope files; diffs of a scope file show paths, never values.
    let attributes = fs::read_to_string(sb.repo().join(".gitattributes")).unwrap();
    assert!(
        attributes.contains("secrets.prod.json.age diff=agevault merge=agevault"),
        "{attributes}"
    );
    assert!(
        attributes.contains("secrets.prod.json.age.sig merge=agevault-sig"),
        "{attributes}"
    );
    let log = git_ok(sb, &["log", "-p", "-1"]);
    assert!(log.contains("+prod/db/password  fp:"), "{log}");
    assert!(!log.contains("prod-db-secret-2"));
    let out = git(sb, &["merge", "--no-edit", "feature"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(sb.get("dev/db/password"), "dev-db-secret-2");
    assert_eq!(sb.get("dev/other"), "dev-other-1");
    assert_eq!(sb.get("prod/db/password"), "prod-db-secret-2");
    agevault(sb, &["check"]).run().success();
}

#[test]
fn a_deleted_scope_file_is_refused_not_read_as_empty() {
    let env = Env::new();
    assert!(env.host(&["get", "prod/db/password"]).status.success());
    fs::remove_file(env.file("secrets.prod.json.age")).unwrap();
    fs::remove_file(env.file("secrets.prod.json.age.sig")).unwrap();
    for args in [
        vec!["get", "prod/db/password"],
        vec!["exec", "--", "true"],
        vec!["ls"],
    ] {
        let out = env.host(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", all_output(&out));
        assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
    }
    // A fresh machine (nothing pinned) notices it too: the signed main vault records it.
    let fresh = env.sb.root.path().join("fresh-trust");
    let out = env.sb.test(&["ls"]).env("AGEVAULT_TRUST_DIR", &fresh).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    // alice's next write does not recreate the scope from nothing.
    let out = env.sb.test(&["set", "prod/new"]).stdin("v-0001").run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let out = env.sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn writer_changes_re_sign_every_scope_file() {
    let env = Env::new();
    let key = env.sb.root.path().join("bob-signing");
    env.sb
        .test(&["trust", "keygen", "-o", key.to_str().unwrap()])
        .run()
        .success();
    env.sb
        .test(&["trust", "add-writer", "bob", &format!("{}.pub", key.display())])
        .run()
        .success();
    let out = env.host(&["get", "prod/db/password"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "prod-db-secret-1",
        "{}",
        all_output(&out)
    );
    env.sb.test(&["check"]).run().success();
}

#[test]
fn log_follows_every_scope_file_and_names_the_scopes_it_cannot_show() {
    let env = Env::new();
    let sb = &env.sb;
    git_ok(sb, &["init", "-q", "-b", "main"]);
    agevault(sb, &["git", "setup"]).run().success();
    git_ok(sb, &["add", "-A"]);
    git_ok(sb, &["commit", "-q", "-m", "scoped"]);
    sb.set("prod/db/password", "prod-db-secret-2");
    sb.set("samba/user", "smbadmin-2");
    git_ok(sb, &["commit", "-qam", "prod and main"]);
    sb.set("dev/db/password", "dev-db-secret-2");
    git_ok(sb, &["commit", "-qam", "dev only"]);

    // alice reads every file: one entry per commit, with the paths of every file it changed.
    let out = agevault(sb, &["log", "--json"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = log.as_array().unwrap();
    assert_eq!(entries[0]["summary"], "dev only");
    assert_eq!(entries[0]["changed"], serde_json::json!(["dev/db/password"]));
    assert_eq!(entries[0]["files"], serde_json::json!(["secrets.dev.json.age"]));
    assert_eq!(entries[1]["summary"], "prod and main");
    assert_eq!(
        entries[1]["changed"],
        serde_json::json!(["prod/db/password", "samba/user"])
    );
    assert_eq!(
        entries[1]["files"],
        serde_json::json!(["secrets.json.age", "secrets.prod.json.age"])
    );
    assert_eq!(entries[2]["summary"], "scoped");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret-2"));
    // -n counts commits across all files.
    let out = agevault(sb, &["log", "-n", "2", "--json"]).run();
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 2);

    // The host cannot read dev: its commits are not listed, and the scope is named once.
    let out = env.host(&["log"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("dev only"), "{shown}");
    assert!(!shown.contains("dev/db/password"), "{shown}");
    assert!(shown.contains("prod/db/password"), "{shown}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("your identities cannot read these scopes: dev"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn a_read_of_one_scope_still_raises_the_rollback_mark_of_the_others() {
    let env = Env::new();
    // The prod file as it was at generation 1 of its own, kept by an attacker.
    let old_file = fs::read(env.file("secrets.prod.json.age")).unwrap();
    let old_sig = fs::read(env.file("secrets.prod.json.age.sig")).unwrap();
    env.sb.set("prod/db/password", "prod-db-secret-2");
    // The host reads only the main vault (samba/…), never opening prod; the second and
    // third reads find prod as the first left it (its stat remembered, nothing hashed).
    for _ in 0..3 {
        let out = env.host(&["get", "samba/user"]);
        assert_eq!(out.stdout(), "smbadmin", "{}", all_output(&out));
    }
    let pins = fs::read_to_string(env.host_home.join("trust/pins.json")).unwrap();
    assert!(pins.contains("\"unchanged\""), "{pins}");
    // A push puts the old, genuinely signed prod file back: the host's first read of
    // prod refuses it, because the read of samba/… recorded prod's newer generation.
    fs::write(env.file("secrets.prod.json.age"), &old_file).unwrap();
    fs::write(env.file("secrets.prod.json.age.sig"), &old_sig).unwrap();
    let out = env.host(&["get", "prod/db/password"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(stderr(&out).contains("rollback"), "{}", stderr(&out));
    assert!(!out.stdout().contains("prod-db-secret"), "{}", all_output(&out));
    // An unopened scope file that was forged fails the read too, not only its own.
    fs::write(env.file("secrets.prod.json.age.sig"), b"not a signature\n").unwrap();
    let out = env.host(&["get", "samba/user"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
}

#[test]
fn a_read_below_an_excluded_path_opens_every_file_that_may_hold_it() {
    let sb = Sandbox::with_secrets(&[("prod/x/y", "in-main-Y"), ("prod/x/z", "in-prod-Z")]);
    sb.add_scope("prod", "prod/**", &["alice"]);
    // prod/x/y is excluded from prod (so it stays in the main vault), and a second scope
    // claims a path below prod/x/.
    let config = fs::read_to_string(sb.config()).unwrap();
    fs::write(
        sb.config(),
        config.replace(
            "paths = [\"prod/**\"]",
            "paths = [\"prod/**\", \"!prod/x/y\", \"!prod/x/w/**\"]",
        ),
    )
    .unwrap();
    sb.append_config("[scopes.ops]\npaths = [\"prod/x/w/**\"]\nreaders = [\"alice\"]\n");
    sb.set("prod/x/w/k", "in-ops-K");
    sb.set("prod/x/z", "in-prod-Z");
    assert_eq!(sb.get("prod/x/y"), "in-main-Y");
    let tree = sb.get("prod/x");
    for value in ["in-main-Y", "in-prod-Z", "in-ops-K"] {
        assert!(tree.contains(value), "{value} missing from {tree}");
    }
    let out = sb
        .test(&["exec", "--only", "prod/x", "--", "env"])
        .run()
        .success()
        .stdout();
    for line in ["PROD_X_Y=in-main-Y", "PROD_X_Z=in-prod-Z", "PROD_X_W_K=in-ops-K"] {
        assert!(
            out.lines().any(|l| l == line),
            "{line} missing from exec's environment"
        );
    }
}
