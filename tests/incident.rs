//! Incident response: `rotate --exposed-to`, `incident`, value-based exposure, `check`,
//! `rotate --due` over exposure, overlap (`--keep-previous`) and hooks.

mod common;

use std::fs;

use common::{age_keygen, all_output, assert_no_leak, stderr, Sandbox};

fn doc(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&sb.age_decrypt()).unwrap()
}

/// alice's vault with bob as a second recipient, generated and hand-set secrets and
/// public values.
fn vault_with_bob() -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::init();
    for (path, spec) in [
        ("db/password", "password:24"),
        ("jwt/key", "ed25519"),
        ("api/token", "hex:16"),
    ] {
        sb.test(&["set", path, "--generate", spec]).run().success();
    }
    sb.set("smtp/password", "typed-by-a-human-1");
    sb.set("samba/user", "svc-samba");
    sb.set("tls/cert", "not-secret-certificate-text");
    sb.append_config("[secrets.\"samba/user\"]\nclass = \"public\"\n[secrets.\"tls/cert\"]\npublic = true\n");
    let bob_key = sb.root.path().join("bob.txt");
    let bob = age_keygen(&bob_key);
    sb.test(&["recipients", "add", "bob", &bob, "--role", "host"])
        .run()
        .success();
    (sb, bob_key)
}

#[test]
fn rotate_exposed_to_rekeys_rotates_generated_and_lists_what_needs_a_human() {
    let (sb, bob_key) = vault_with_bob();
    let old_db = sb.get("db/password");
    let old_smtp = sb.get("smtp/password");
    let out = sb.test(&["rotate", "--exposed-to", "bob"]).run();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "a hand-set secret remains: {text}");
    assert!(text.contains("needs a human: smtp/password"), "{text}");
    // Public values are not exposure.
    for public in ["jwt/key.pub", "samba/user", "tls/cert"] {
        assert!(
            !text.contains(&format!("needs a human: {public}")),
            "{public}: {text}"
        );
    }
    assert_no_leak(&out, &old_db);
    assert_no_leak(&out, &old_smtp);
    // Re-keyed without bob: the stock age CLI with bob's key fails.
    let age = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&bob_key)
        .arg(sb.vault())
        .output()
        .unwrap();
    assert!(!age.status.success(), "bob can still decrypt");
    assert!(!fs::read_to_string(sb.config())
        .unwrap()
        .contains("[recipients.bob]"));
    assert_ne!(sb.get("db/password"), old_db, "generated secret not rotated");
    assert_eq!(sb.get("smtp/password"), old_smtp);

    // check fails while exposure remains, naming the command.
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout().contains("FAIL exposure: `smtp/password`"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains("--exposed-to bob"));
    assert!(
        !out.stdout().contains("`db/password` still holds"),
        "{}",
        out.stdout()
    );

    // The human rotates it (same second as everything else: values decide, not dates).
    sb.test(&["rotate", "smtp/password"])
        .stdin("typed-by-a-human-2")
        .run()
        .success();
    let out = sb.test(&["rotate", "--exposed-to", "bob"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let out = sb.test(&["check"]).run();
    assert!(out.status.success(), "{}", out.stdout());
}

#[test]
fn exposure_follows_the_value_not_the_date() {
    let (sb, _) = vault_with_bob();
    let old = sb.get("smtp/password");
    sb.test(&["recipients", "remove", "bob"]).run().success();
    // Setting the same value again moves `updated` forward but it is still the leaked value.
    sb.test(&["rotate", "smtp/password"])
        .stdin("typed-by-a-human-2")
        .run()
        .success();
    sb.set("smtp/password", &old);
    let status: serde_json::Value =
        serde_json::from_slice(&sb.test(&["status", "--json"]).run().stdout).unwrap();
    let row = status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "smtp/password")
        .unwrap();
    assert_eq!(row["exposed_to"][0]["name"], "bob", "{row}");
    // A copy under another path is exposed too.
    sb.set("smtp/copy", &old);
    let out = sb.test(&["check"]).run();
    assert!(
        out.stdout().contains("`smtp/copy` still holds"),
        "{}",
        out.stdout()
    );
    // The record holds fingerprints, never values.
    let d = doc(&sb);
    let record = &d["offboarded"][0];
    assert!(record["fingerprints"]
        .as_object()
        .unwrap()
        .contains_key("smtp/password"));
    assert!(!record.to_string().contains(&old));
    assert!(
        record["fingerprints"].get("samba/user").is_none(),
        "public values are not recorded"
    );
}

#[test]
fn incident_is_one_command_and_rotate_due_includes_exposed() {
    let (sb, _) = vault_with_bob();
    let out = sb.test(&["incident", "bob", "--dry-run"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(out.stdout().contains("would remove recipient `bob`"));
    assert!(out.stdout().contains("would rotate db/password (password:24)"));
    assert!(
        fs::read_to_string(sb.config())
            .unwrap()
            .contains("[recipients.bob]"),
        "dry run changed the config"
    );

    sb.test(&["recipients", "remove", "bob"]).run().success();
    let old_token = sb.get("api/token");
    // --due treats exposed secrets as due: rotates the generated ones, lists the rest, exits 1.
    let out = sb.test(&["rotate", "--due"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(out.stdout().contains("needs a human: smtp/password"));
    assert_ne!(sb.get("api/token"), old_token);
    // Now `incident` only has the human one left.
    let out = sb.test(&["incident", "bob"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(out
        .stdout()
        .contains("needs a human: smtp/password is still exposed to `bob`"));
    let out = sb.test(&["incident", "carol"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("neither a configured recipient"));
}

#[test]
fn exposure_grace_per_class_warns_then_fails() {
    let (sb, _) = vault_with_bob();
    sb.append_config(
        "[secrets.\"smtp/*\"]\nclass = \"internal\"\n[policy]\nexposure_grace = { internal = \"7d\" }\n",
    );
    sb.test(&["recipients", "remove", "bob"]).run().success();
    sb.test(&["rotate", "--due"]).run();
    let out = sb.test(&["check", "--json"]).run();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let exposure = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "exposure")
        .unwrap();
    assert_eq!(exposure["ok"], true, "{exposure}");
    assert!(exposure["warnings"][0]
        .as_str()
        .unwrap()
        .contains("smtp/password"));
    assert!(out.status.success(), "{}", out.stdout());
}

#[test]
fn keep_previous_overlaps_and_check_fails_after_the_window() {
    let sb = Sandbox::init();
    sb.test(&["set", "logos/jwt-key", "--generate", "ed25519"])
        .run()
        .success();
    let old = sb.get("logos/jwt-key");
    let old_pub = sb.get("logos/jwt-key.pub");
    let out = sb
        .test(&["rotate", "logos/jwt-key", "--keep-previous", "1h"])
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sb.get("logos/jwt-key.previous"), old);
    assert_eq!(sb.get("logos/jwt-key.pub.previous"), old_pub);
    assert_ne!(sb.get("logos/jwt-key"), old);
    // exec injects both; the service verifies tokens signed with either.
    let out = sb.test(&[
            "exec",
            "--file",
            "JWT_KEY_FILE=logos/jwt-key",
            "--file",
            "JWT_KEY_PREVIOUS_FILE=logos/jwt-key.previous",
            "--",
            "sh",
            "-c",
            "cmp -s \"$JWT_KEY_PREVIOUS_FILE\" \"$JWT_KEY_FILE\" || echo differ; head -1 \"$JWT_KEY_PREVIOUS_FILE\"",
        ])
.run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout(), "differ\n-----BEGIN PRIVATE KEY-----\n");
    assert!(sb.test(&["check"]).run().status.success());
    // A window that is over: check fails and says how to end it.
    let out = sb
        .test(&["rotate", "logos/jwt-key", "--keep-previous", "0s"])
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout().contains("FAIL overlap: `logos/jwt-key.previous`"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains("agevault rm logos/jwt-key.previous"));
    sb.test(&["rm", "logos/jwt-key.previous"]).run().success();
    sb.test(&["rm", "logos/jwt-key.pub.previous"]).run().success();
    assert!(sb.test(&["check"]).run().status.success());
    // A rotation without --keep-previous drops nothing it should keep: no previous appears.
    sb.test(&["rotate", "logos/jwt-key"]).run().success();
    assert!(!sb.test(&["get", "logos/jwt-key.previous"]).run().status.success());
}

#[test]
fn hooks_get_old_and_new_values_as_files_and_a_failure_keeps_the_old_value() {
    let sb = Sandbox::init();
    sb.test(&["set", "app/password", "--generate", "alnum:20"])
        .run()
        .success();
    sb.set("app/admin", "admin-credential-1");
    let seen = sb.root.path().join("seen");
    fs::create_dir(&seen).unwrap();
    let flag = sb.root.path().join("fail");
    fs::write(&flag, "").unwrap();
    sb.append_config(&format!(
        "[hooks.\"app/password\"]\nafter_rotate = '''\n\
         test -e {flag} && {{ echo hook fails on purpose; exit 3; }}\n\
         cp \"$AGEVAULT_OLD_FILE\" {seen}/old; cp \"$AGEVAULT_NEW_FILE\" {seen}/new; cp \"$ADMIN_FILE\" {seen}/admin\n\
         echo \"$AGEVAULT_PATH\" > {seen}/path; ps -o args= -p $$ >> {seen}/argv 2>/dev/null; cat \"$AGEVAULT_NEW_FILE\"\n'''\n\
         files = {{ ADMIN_FILE = \"app/admin\" }}\ntimeout = \"10s\"\n",
        flag = flag.display(),
        seen = seen.display()
    ));
    let old = sb.get("app/password");
    let out = sb.test(&["rotate", "app/password"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(err.contains("hook fails on purpose"), "{err}");
    assert!(err.contains("failed (exit 3)"), "{err}");
    assert!(
        err.contains("agevault rotate --retry-hooks app/password"),
        "{err}"
    );
    // The old value stays valid for consumers; the new one is staged, durable.
    assert_eq!(sb.get("app/password"), old);
    let staged = sb.get("app/password.next");
    assert_ne!(staged, old);
    let out = sb.test(&["check"]).run();
    assert!(
        out.stdout().contains("FAIL staged: `app/password.next`"),
        "{}",
        out.stdout()
    );

    fs::remove_file(&flag).unwrap();
    let out = sb.test(&["rotate", "--retry-hooks"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    // The hook's output is masked: the new value printed by `cat` shows as *****.
    assert!(stderr(&out).contains("*****"), "{}", stderr(&out));
    assert_no_leak(&out, &staged);
    assert_eq!(sb.get("app/password"), staged);
    assert_eq!(fs::read_to_string(seen.join("old")).unwrap(), old);
    assert_eq!(fs::read_to_string(seen.join("new")).unwrap(), staged);
    assert_eq!(
        fs::read_to_string(seen.join("admin")).unwrap(),
        "admin-credential-1"
    );
    assert_eq!(fs::read_to_string(seen.join("path")).unwrap(), "app/password\n");
    let argv = fs::read_to_string(seen.join("argv")).unwrap_or_default();
    assert!(
        !argv.contains(&staged) && !argv.contains(&old),
        "a value in argv: {argv}"
    );
    assert!(!sb.test(&["get", "app/password.next"]).run().status.success());
    assert!(sb.test(&["check"]).run().status.success());
}

#[test]
fn hooks_time_out_and_values_can_come_as_variables() {
    let sb = Sandbox::init();
    sb.test(&["set", "svc/token", "--generate", "hex:16"])
        .run()
        .success();
    let out_file = sb.root.path().join("env-seen");
    sb.append_config(&format!(
        "[hooks.\"svc/*\"]\nafter_rotate = 'test \"$AGEVAULT_OLD\" != \"$AGEVAULT_NEW\" && echo ok > {}; sleep 30'\nvalues = \"env\"\ntimeout = \"1s\"\n",
        out_file.display()
    ));
    let old = sb.get("svc/token");
    let started = std::time::Instant::now();
    let out = sb.test(&["rotate", "svc/token"]).run();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the timeout did not stop the hook"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "ok\n");
    assert_eq!(sb.get("svc/token"), old);
}
