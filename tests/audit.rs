//! The access record: `exec` and `get` append hash-chained lines; `audit verify` finds
//! edited and removed lines; `audit show --since`; a required record fails closed.

mod common;

use std::fs;

use common::{all_output, stderr, Sandbox};

fn log(sb: &Sandbox) -> std::path::PathBuf {
    sb.audit_dir().join("access.log")
}

#[test]
fn exec_and_get_are_recorded_without_values_and_the_chain_verifies() {
    let sb = Sandbox::with_secrets(&[
        ("db/password", "audit-secret-value-1"),
        ("api/key", "audit-secret-value-2"),
    ]);
    sb.append_config("[exec.app]\nenv = { DB_PASSWORD = \"db/password\" }\n");
    sb.test(&["exec", "-p", "app", "--", "true"]).run().success();
    assert_eq!(sb.get("api/key"), "audit-secret-value-2");
    sb.test(&["exec", "--only", "api", "--", "true"]).run().success();

    let text = fs::read_to_string(log(&sb)).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!text.contains("audit-secret-value"), "a value in the record");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["command"], "exec");
    assert_eq!(first["profile"], "app");
    assert_eq!(first["paths"], serde_json::json!(["db/password"]));
    assert_eq!(first["seq"], 1);
    assert!(first["generation"].as_u64().unwrap() >= 1);
    assert!(first["vault_id"].as_str().unwrap().len() > 8);
    for key in ["time", "user", "host", "hash", "prev"] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    // The directory and the file are owner-only.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(sb.audit_dir()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::metadata(log(&sb)).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let out = sb.test(&["audit", "verify"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(out.stdout().contains("ok: 3 record(s), chain intact"));

    let out = sb.test(&["audit", "show"]).run();
    assert!(out.status.success());
    let shown = out.stdout();
    assert!(
        shown.contains("db/password") && shown.contains("get") && shown.contains("app"),
        "{shown}"
    );
    let out = sb.test(&["audit", "show", "--since", "1h"]).run();
    assert_eq!(out.stdout().lines().count(), 4, "{}", out.stdout());
    let out = sb
        .test(&["audit", "show", "--since", "2999-01-01T00:00:00Z"])
        .run();
    assert_eq!(
        out.stdout().lines().count(),
        1,
        "only the header: {}",
        out.stdout()
    );
    let out = sb.test(&["audit", "show", "--json"]).run();
    assert_eq!(out.stdout(), text);
}

#[test]
fn verify_detects_an_edited_and_a_removed_line() {
    let sb = Sandbox::with_secrets(&[("a/one", "v-1-aaaaaaaa"), ("a/two", "v-2-bbbbbbbb")]);
    for _ in 0..3 {
        sb.get("a/one");
    }
    let original = fs::read_to_string(log(&sb)).unwrap();
    // Someone hides which path they read.
    fs::write(log(&sb), original.replacen("a/one", "a/two", 1)).unwrap();
    let out = sb.test(&["audit", "verify"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout().contains(":1: was edited"), "{}", out.stdout());
    // Someone removes the middle line.
    let lines: Vec<&str> = original.lines().collect();
    fs::write(log(&sb), format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let out = sb.test(&["audit", "verify"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout().contains(":2: does not follow the line before it"),
        "{}",
        out.stdout()
    );
    // Restored, it verifies again, and new records chain on.
    fs::write(log(&sb), &original).unwrap();
    sb.get("a/two");
    assert!(sb.test(&["audit", "verify"]).run().status.success());
}

#[test]
fn a_required_record_fails_closed_and_an_optional_one_warns() {
    let sb = Sandbox::with_secrets(&[("a/one", "v-1-cccccccc")]);
    let marker = sb.root.path().join("ran");
    let script = format!("touch {}", marker.display());
    // The audit directory cannot be created: a file is in the way.
    fs::write(sb.audit_dir(), "not a directory").unwrap();
    let out = sb.test(&["exec", "--", "sh", "-c", &script]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: no access record written"),
        "{}",
        stderr(&out)
    );
    assert!(marker.exists());
    fs::remove_file(&marker).unwrap();

    // Required by the host…
    let out = sb
        .test(&["exec", "--", "sh", "-c", &script])
        .env("AGEVAULT_AUDIT", "required")
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("access record is required"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists(), "the child ran without a record");
    // …or by the (signed) config, which the host cannot switch off with AGEVAULT_AUDIT=off.
    sb.append_config("[audit]\nrequired = true\n");
    let out = sb.test(&["get", "a/one"]).env("AGEVAULT_AUDIT", "off").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stdout().contains("v-1-cccccccc"));
    fs::remove_file(sb.audit_dir()).unwrap();
    assert_eq!(sb.get("a/one"), "v-1-cccccccc");
    assert!(log(&sb).exists());
}

#[test]
fn a_group_writable_audit_directory_is_refused() {
    let sb = Sandbox::with_secrets(&[("a/one", "v-1-dddddddd")]);
    fs::create_dir(sb.audit_dir()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(sb.audit_dir(), fs::Permissions::from_mode(0o777)).unwrap();
    let out = sb.test(&["get", "a/one"]).env("AGEVAULT_AUDIT", "required").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("writable by others"), "{}", stderr(&out));
}
