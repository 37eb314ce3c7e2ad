//! `--json` on every listing, held to the schema the README's "JSON output" section
//! documents: each object has exactly the documented fields, each of the documented
//! type. A field added, renamed or retyped without the README fails here.

mod common;
mod gitutil;

use serde_json::Value;

use common::{age_keygen, all_output, assert_no_leak, Sandbox};
use gitutil::{agevault, git_ok};

/// The JSON type names the README uses; `T|null` for optional values, `[T]` for arrays.
fn type_name(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "boolean".into(),
        Value::Number(n) if n.is_u64() => "integer".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(items) => {
            let inner: std::collections::BTreeSet<String> = items.iter().map(type_name).collect();
            match inner.len() {
                0 => "[]".into(),
                1 => format!("[{}]", inner.into_iter().next().unwrap_or_default()),
                _ => format!("[{}]", inner.into_iter().collect::<Vec<_>>().join("|")),
            }
        }
        Value::Object(_) => "object".into(),
    }
}

/// Asserts that `obj` has exactly `fields`, each of one of the types its spec allows
/// (`"string|null"`, `"[string]"`; an empty array matches any `[T]`).
fn assert_fields(what: &str, obj: &Value, fields: &[(&str, &str)]) {
    let map = obj
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {obj}"));
    let mut have: Vec<&str> = map.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    have.sort_unstable();
    want.sort_unstable();
    assert_eq!(have, want, "{what}: fields differ from the README: {obj}");
    for (name, spec) in fields {
        let got = type_name(&map[*name]);
        let ok = spec
            .split('|')
            .any(|t| t == got || (got == "[]" && t.starts_with('[')));
        assert!(ok, "{what}.{name}: {got}, documented {spec}: {obj}");
    }
}

/// Runs `args` (which must succeed or exit with `code`) and parses stdout as JSON.
fn json(sb: &Sandbox, args: &[&str], code: i32) -> Value {
    let out = agevault(sb, args).run();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", all_output(&out));
    for v in ["json-db-pw-1", "json-db-user-2", "json-prod-3"] {
        assert_no_leak(&out, v);
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A repository with history, a scope, a rotation policy, inventory facts, a profile
/// and an offboarded recipient: every field has something to show.
fn rich_sandbox() -> Sandbox {
    let sb = Sandbox::with_secrets(&[("db/password", "json-db-pw-1")]);
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "first"]);
    sb.test(&["set", "db/user", "--generate", "alnum:12"])
        .run()
        .success();
    sb.set("prod/api", "json-prod-3");
    sb.add_scope("prod", "prod/**", &["alice"]);
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob, "--role", "host"])
        .run()
        .success();
    sb.append_config(
        "[rotation]\n\"db/*\" = \"30d\"\n\n[secrets.\"db/*\"]\nowner = \"infra\"\nclass = \"restricted\"\n\
         consumers = [\"backup\"]\n\n[exec.app]\nenv = { DB_PASSWORD = \"db/password\" }\n",
    );
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "second"]);
    sb.test(&["recipients", "remove", "bob"]).run().success();
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "offboard bob"]);
    sb
}

#[test]
fn ls_json_is_an_array_of_paths() {
    let sb = rich_sandbox();
    let v = json(&sb, &["ls", "--json"], 0);
    assert_eq!(v, serde_json::json!(["db/password", "db/user", "prod/api"]));
    let v = json(&sb, &["ls", "db", "--json"], 0);
    assert_eq!(v, serde_json::json!(["db/password", "db/user"]));
}

#[test]
fn recipients_list_json_has_name_role_key() {
    let sb = rich_sandbox();
    let v = json(&sb, &["recipients", "list", "--json"], 0);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_fields(
        "recipients list",
        &rows[0],
        &[("name", "string"), ("role", "string"), ("key", "string")],
    );
    assert_eq!(rows[0]["name"], "alice");
    assert!(rows[0]["key"].as_str().unwrap().starts_with("age1"));
}

#[test]
fn scopes_list_json_has_files_readers_and_readability() {
    let sb = rich_sandbox();
    let v = json(&sb, &["scopes", "list", "--json"], 0);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_fields(
        "scopes list",
        &rows[0],
        &[
            ("name", "string"),
            ("file", "string"),
            ("readers", "[string]"),
            ("paths", "[string]"),
            ("exists", "boolean"),
            ("readable", "boolean"),
            ("secrets", "integer|null"),
        ],
    );
    assert_eq!(rows[0]["name"], "prod");
    assert_eq!(rows[0]["secrets"], 1);
    assert_eq!(rows[0]["readable"], true);
}

#[test]
fn log_json_has_one_object_per_commit_with_named_recipients() {
    let sb = rich_sandbox();
    let v = json(&sb, &["log", "--json"], 0);
    let commits = v.as_array().unwrap();
    assert!(commits.len() >= 3, "{v}");
    for c in commits {
        assert_fields(
            "log",
            c,
            &[
                ("commit", "string"),
                ("short", "string"),
                ("author", "string"),
                ("email", "string"),
                ("date", "string"),
                ("summary", "string"),
                ("added", "[string]"),
                ("changed", "[string]"),
                ("removed", "[string]"),
                ("recipients_added", "[object]"),
                ("recipients_removed", "[object]"),
                ("files", "[string]"),
                ("note", "string|null"),
            ],
        );
    }
    // Newest first: the offboarding names bob.
    assert_eq!(commits[0]["summary"], "offboard bob");
    let removed = &commits[0]["recipients_removed"][0];
    assert_fields(
        "log recipients_removed",
        removed,
        &[("name", "string|null"), ("key", "string")],
    );
    assert_eq!(removed["name"], "bob");
    assert_eq!(
        commits.last().unwrap()["added"],
        serde_json::json!(["db/password"])
    );
}

#[test]
fn status_json_has_age_policy_due_generator_and_exposure() {
    let sb = rich_sandbox();
    let v = json(&sb, &["status", "--json"], 0);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{v}");
    for r in rows {
        assert_fields(
            "status",
            r,
            &[
                ("path", "string"),
                ("updated", "string|null"),
                ("age_seconds", "integer|null"),
                ("policy", "string|null"),
                ("due", "string|null"),
                ("overdue", "boolean"),
                ("generator", "string|null"),
                ("exposed_to", "[object]"),
                ("scope", "string|null"),
            ],
        );
    }
    // The sandbox has a scope: every row names where its secret lives.
    let api = rows.iter().find(|r| r["path"] == "prod/api").unwrap();
    assert_eq!(api["scope"], "prod");
    assert_eq!(
        rows.iter().find(|r| r["path"] == "db/user").unwrap()["scope"],
        "main"
    );
    let user = rows.iter().find(|r| r["path"] == "db/user").unwrap();
    assert_eq!(user["generator"], "alnum:12");
    assert_eq!(user["policy"], "30d");
    let exposure = &user["exposed_to"][0];
    assert_fields(
        "status exposed_to",
        exposure,
        &[("name", "string"), ("removed", "string"), ("overdue", "boolean")],
    );
    assert_eq!(exposure["name"], "bob");
}

#[test]
fn inventory_json_has_the_inventory_columns() {
    let sb = rich_sandbox();
    let v = json(&sb, &["inventory", "--json"], 0);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{v}");
    for r in rows {
        assert_fields(
            "inventory",
            r,
            &[
                ("path", "string"),
                ("owner", "string"),
                ("class", "string"),
                ("consumers", "[string]"),
                ("policy", "string"),
                ("last_rotation", "string"),
                ("due", "string"),
            ],
        );
    }
    let pw = rows.iter().find(|r| r["path"] == "db/password").unwrap();
    assert_eq!(pw["owner"], "infra");
    assert_eq!(pw["consumers"], serde_json::json!(["exec:app", "backup"]));
}

#[test]
fn check_json_is_a_verdict_and_one_object_per_check() {
    let sb = rich_sandbox();
    // bob could read db/password and db/user, which are still in use: check fails.
    let v = json(&sb, &["check", "--json"], 1);
    assert_fields("check", &v, &[("ok", "boolean"), ("checks", "[object]")]);
    assert_eq!(v["ok"], false);
    for c in v["checks"].as_array().unwrap() {
        assert_fields(
            "check checks",
            c,
            &[
                ("name", "string"),
                ("ok", "boolean"),
                ("skipped", "boolean"),
                ("problems", "[string]"),
                ("warnings", "[string]"),
            ],
        );
    }
    let exposure = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "exposure")
        .unwrap();
    assert!(
        exposure["problems"].as_array().unwrap().len() + exposure["warnings"].as_array().unwrap().len() >= 1,
        "{exposure}"
    );
    // Without a key, the checks that need one are skipped, not failed.
    std::fs::remove_file(sb.identity()).unwrap();
    let v = json(&sb, &["check", "--no-decrypt", "--json"], 0);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["skipped"] == true),
        "{v}"
    );
}

#[test]
fn whoami_json_lists_identities_and_signing_keys() {
    let sb = rich_sandbox();
    let v = json(&sb, &["whoami", "--json"], 0);
    let rows = v.as_array().unwrap();
    for r in rows {
        assert_fields(
            "whoami",
            r,
            &[
                ("kind", "string"),
                ("source", "string"),
                ("public_key", "string|null"),
                ("recipient", "string|null"),
                ("note", "string|null"),
            ],
        );
    }
    let identity = rows.iter().find(|r| r["kind"] == "identity").unwrap();
    assert_eq!(identity["recipient"], "alice");
    let signing = rows.iter().find(|r| r["kind"] == "signing").unwrap();
    assert_eq!(signing["recipient"], "alice", "the writer's name");
}
