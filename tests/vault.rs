//! The everyday commands, end to end: init, set, get, ls, rm, --json, and safe writes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{assert_no_leak, stderr, Sandbox};

#[test]
fn init_creates_config_vault_identity_and_git_files() {
    let sb = Sandbox::empty();
    let out = sb.test(&["init"]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = fs::read_to_string(sb.config()).unwrap();
    assert!(config.contains("[recipients.alice]"), "{config}");
    let mode = fs::metadata(sb.identity()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let public = common::public_key(&sb.identity());
    assert!(config.contains(&public));
    let vault = fs::read_to_string(sb.vault()).unwrap();
    assert!(vault.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let doc: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["recipients"], serde_json::json!([public]));
    let attrs = fs::read_to_string(sb.repo().join(".gitattributes")).unwrap();
    assert!(attrs.contains("secrets.json.age diff=agevault merge=agevault"));
    assert!(fs::read_to_string(sb.repo().join(".gitignore"))
        .unwrap()
        .contains(".secrets.json.age.lock"));
}

#[test]
fn init_refuses_to_overwrite_and_reuses_an_existing_identity() {
    let sb = Sandbox::init();
    let before = sb.vault_bytes();
    let out = sb.test(&["init"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before);

    // A second repo for the same user reuses the identity instead of making another.
    let other = sb.root.path().join("repo2");
    fs::create_dir(&other).unwrap();
    sb.test(&["init"]).current_dir(&other).run().success();
    let config = fs::read_to_string(other.join(".agevault.toml")).unwrap();
    assert!(config.contains(&common::public_key(&sb.identity())));
}

#[test]
fn set_get_ls_rm_round_trip() {
    let sb = Sandbox::init();
    sb.set("samba/password", "pw-round-trip-1");
    sb.set("llm-api-key/openai", "sk-round-trip-1");
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    sb.set("tls/key", pem);
    assert_eq!(sb.get("samba/password"), "pw-round-trip-1");
    // Multi-line values are kept byte for byte, trailing newline included.
    assert_eq!(sb.get("tls/key"), pem);
    let ns: serde_json::Value = serde_json::from_str(&sb.get("llm-api-key")).unwrap();
    assert_eq!(ns, serde_json::json!({"openai": "sk-round-trip-1"}));

    let out = sb.test(&["ls"]).run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "llm-api-key/openai\nsamba/password\ntls/key\n"
    );
    assert_no_leak(&out, "pw-round-trip-1");
    let out = sb.test(&["ls", "samba", "--json"]).run();
    let list: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list, ["samba/password"]);

    sb.test(&["rm", "-r", "samba"]).run().success();
    let out = sb.test(&["get", "samba/password"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no secret `samba/password`"));
    let doc: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    assert!(
        doc["meta"].get("samba/password").is_none(),
        "meta of a removed secret remains"
    );
    assert!(doc["meta"]["tls/key"]["updated"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn single_line_stdin_loses_its_newline() {
    let sb = Sandbox::init();
    sb.set("a", "value-with-newline\n");
    assert_eq!(sb.get("a"), "value-with-newline");
}

#[test]
fn unchanged_write_leaves_the_file_byte_identical() {
    let sb = Sandbox::with_secrets(&[("db/password", "same-value-1")]);
    let before = sb.vault_bytes();
    let out = sb.test(&["set", "db/password"]).stdin("same-value-1").run();
    assert!(out.status.success());
    assert!(stderr(&out).contains("unchanged"));
    assert_eq!(sb.vault_bytes(), before);
    // A real change does rewrite it.
    sb.set("db/password", "other-value-1");
    assert_ne!(sb.vault_bytes(), before);
}

/// A document written by stock tools or a newer agevault, with fields this build does
/// not know, an offboarding record and meta entries of every kind, keeps all of them
/// through a write: only what the write changed differs, and the text is canonical
/// (known fields first, the rest in name order).
#[test]
fn a_write_keeps_every_field_it_did_not_change() {
    use serde_json::{json, Value};
    let sb = Sandbox::with_secrets(&[("db/password", "pw-one-1")]);
    let removed_key = common::age_keygen(&sb.root.path().join("bob.txt"));
    let mut doc: Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    assert!(doc["fingerprint_key"].is_string(), "{doc}");
    doc["aaa_future"] = json!({"nested": [1, {"x": null}]});
    doc["zzz_future"] = json!("x");
    doc["offboarded"] = json!([{
        "name": "bob", "key": removed_key, "removed": "2026-01-01T00:00:00Z", "key_id": "0011",
        "fingerprints": {"db/password": "00ff"}, "paths": ["db/password"], "zzz_later": true
    }]);
    doc["meta"]["db/password"]["note"] = json!(["kept"]);
    doc["meta"]["db/password"]["generator"] = json!(17);
    sb.age_encrypt_vault(format!("{doc:#}\n").as_bytes());
    sb.sign_as_is();

    sb.set("other", "pw-two-2");
    let text = sb.age_decrypt();
    let after: Value = serde_json::from_str(&text).unwrap();
    let mut expected = doc.clone();
    expected["secrets"]["other"] = json!("pw-two-2");
    expected["meta"]["other"] = after["meta"]["other"].clone();
    assert!(expected["meta"]["other"]["updated"].is_string());
    assert_eq!(after, expected);
    let top: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
        .collect();
    assert_eq!(
        top,
        [
            "version",
            "secrets",
            "meta",
            "recipients",
            "aaa_future",
            "fingerprint_key",
            "offboarded",
            "zzz_future"
        ]
    );
    // The record is read, not only kept: its key id is not the vault's, so every path
    // it lists stays exposed to bob.
    let out = sb.test(&["status", "--json"]).run();
    out.success();
    let rows: Value = serde_json::from_str(&out.stdout()).unwrap();
    let exposed: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["exposed_to"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |e| (r["path"].as_str().unwrap(), e["name"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(exposed, [("db/password", "bob")]);
}

#[test]
fn set_rejects_leaf_namespace_conflicts() {
    let sb = Sandbox::with_secrets(&[("a/b", "leaf-value-1")]);
    let before = sb.vault_bytes();
    let out = sb.test(&["set", "a/b/c"]).stdin("x").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`a/b` is a secret"), "{}", stderr(&out));
    let out = sb.test(&["set", "a"]).stdin("x").run();
    assert!(stderr(&out).contains("namespace"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn config_is_found_from_a_subdirectory() {
    let sb = Sandbox::with_secrets(&[("k", "found-upward-1")]);
    let sub = sb.repo().join("deep/er");
    fs::create_dir_all(&sub).unwrap();
    let out = sb.test(&["get", "k"]).current_dir(&sub).run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "found-upward-1");
}

#[test]
fn no_config_is_a_clear_error() {
    let sb = Sandbox::empty();
    let out = sb.test(&["ls"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("agevault init"), "{}", stderr(&out));
}

#[test]
fn explicit_config_and_vault_flags() {
    let sb = Sandbox::with_secrets(&[("k", "flag-value-1")]);
    let elsewhere = sb.root.path();
    let config = sb.config();
    let out = sb
        .test(&["--config", config.to_str().unwrap(), "get", "k"])
        .current_dir(elsewhere)
        .run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "flag-value-1");
    let vault = sb.vault();
    let out = sb
        .test(&["--vault", vault.to_str().unwrap(), "ls"])
        .current_dir(elsewhere)
        .run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "k\n");
}

#[test]
fn broken_pipe_exits_quietly() {
    // Far more than a pipe holds (64 KiB on Linux), so `get` is still writing when
    // the reader goes away after one line and the write fails with EPIPE.
    let value: String = (0..40_000).map(|i| format!("line-{i:05}\n")).collect();
    assert!(value.len() > 400 * 1024);
    let sb = Sandbox::init();
    sb.test(&["set", "big"]).stdin(value.as_str()).run().success();
    let bin = env!("CARGO_BIN_EXE_agevault");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{bin}' get big | (read -r line; echo \"$line\"); echo \"rc=${{PIPESTATUS[0]}}\""
        ))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .current_dir(sb.repo())
        .output()
        .unwrap();
    // Exit 0 and nothing on stderr: not "error: broken pipe", not 141 (killed by SIGPIPE).
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line-00000\nrc=0\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let sb = Sandbox::init();
    let bin = env!("CARGO_BIN_EXE_agevault");
    let children: Vec<_> = (0..16)
        .map(|i| {
            let mut child = std::process::Command::new(bin)
                .args(["set", &format!("parallel/k{i}")])
                .env_clear()
                .env("HOME", sb.home())
                .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
                .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
                .env("PATH", std::env::var_os("PATH").unwrap())
                .current_dir(sb.repo())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("value-{i}").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for i in 0..16 {
        assert_eq!(sb.get(&format!("parallel/k{i}")), format!("value-{i}"));
    }
    let leftovers: Vec<_> = fs::read_dir(sb.repo())
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".new-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn help_lists_every_command_and_completions_and_man_are_generated() {
    let sb = Sandbox::empty();
    let out = sb.test(&["--help"]).run();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "init",
        "keygen",
        "whoami",
        "recipients",
        "ls",
        "get",
        "set",
        "rm",
        "edit",
        "exec",
        "openbao",
        "completions",
        "man",
    ] {
        assert!(
            help.contains(&format!("  {cmd} ")) || help.contains(&format!("  {cmd}\n")),
            "{cmd} missing:\n{help}"
        );
    }
    let out = sb.test(&["completions", "bash"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("agevault"));
    let out = sb.test(&["man"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH agevault"));
    let out = sb.test(&["no-such-command"]).run();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn init_with_a_dotted_user_name() {
    let sb = Sandbox::empty();
    sb.test(&["init"]).env("USER", "john.doe").run().success();
    let out = sb.test(&["recipients", "list", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["name"], "john.doe");
    sb.set("a", "dotted-user-value");
    assert_eq!(sb.get("a"), "dotted-user-value");
}
