//! The secret lifecycle: generators, rotate (by path and --due), status, validation, check, inventory.

mod common;

use std::fs;

use common::{age_keygen, all_output, stderr, Sandbox};

fn doc(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&sb.age_decrypt()).unwrap()
}

/// Re-encrypts the vault with the stock age CLI after moving every `updated`/`rotated` stamp back in time.
fn age_everything(sb: &Sandbox, stamp: &str) {
    let mut d = doc(sb);
    for (_, meta) in d["meta"].as_object_mut().unwrap() {
        for key in ["updated", "rotated"] {
            if meta.get(key).is_some() {
                meta[key] = serde_json::Value::String(stamp.into());
            }
        }
    }
    sb.age_encrypt_vault(serde_json::to_string(&d).unwrap().as_bytes());
}

#[test]
fn generators_produce_the_promised_shapes() {
    let sb = Sandbox::init();
    for (path, spec) in [
        ("g/password", "password:32"),
        ("g/alnum", "alnum:20"),
        ("g/hex", "hex:16"),
        ("g/b64", "base64:24"),
        ("g/b64url", "base64url:24"),
        ("g/uuid", "uuid"),
        ("g/jwt", "ed25519"),
        ("g/agekey", "age"),
    ] {
        let out = sb.test(&["set", path, "--generate", spec]).run();
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        assert!(!all_output(&out).contains(&sb.get(path)), "{spec} value printed");
    }
    assert_eq!(sb.get("g/password").chars().count(), 32);
    assert!(sb.get("g/alnum").chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(sb.get("g/hex").len(), 32);
    assert_eq!(sb.get("g/b64").len(), 32);
    assert!(!sb.get("g/b64url").contains(['+', '/', '=']));
    assert_eq!(sb.get("g/uuid").len(), 36);
    // The PEM parses with openssl, and the public key sits at PATH.pub.
    let pem = sb.root.path().join("jwt.pem");
    fs::write(&pem, sb.get("g/jwt")).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl cannot parse: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ED25519"));
    assert!(sb.get("g/jwt.pub").starts_with("-----BEGIN PUBLIC KEY-----"));
    // The age identity works with the stock age tools.
    let key = sb.root.path().join("gen-age.txt");
    fs::write(&key, sb.get("g/agekey")).unwrap();
    assert_eq!(common::public_key(&key), sb.get("g/agekey.pub"));
    assert_eq!(doc(&sb)["meta"]["g/hex"]["generator"], "hex:16");
}

#[test]
fn bad_generator_lists_the_valid_ones() {
    let sb = Sandbox::init();
    let before = sb.vault_bytes();
    let out = sb.test(&["set", "x", "--generate", "password:abc"]).run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("base64url:BYTES"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn rotate_keeps_the_remembered_generator() {
    let sb = Sandbox::init();
    sb.test(&["set", "api/token", "--generate", "hex:20"])
        .run()
        .success();
    let first = sb.get("api/token");
    let out = sb.test(&["rotate", "api/token"]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    let second = sb.get("api/token");
    assert_ne!(first, second);
    assert_eq!(second.len(), 40, "generator hex:20 was not reused");
    let d = doc(&sb);
    assert_eq!(d["meta"]["api/token"]["generator"], "hex:20");
    assert!(d["meta"]["api/token"]["rotated"].is_string());
    assert!(!all_output(&out).contains(&second));
    // A value without generator is read like `set`.
    sb.set("manual", "old-manual-value");
    sb.test(&["rotate", "manual"])
        .stdin("new-manual-value")
        .run()
        .success();
    assert_eq!(sb.get("manual"), "new-manual-value");
    // --dry-run changes nothing.
    let before = sb.vault_bytes();
    let out = sb.test(&["rotate", "--dry-run", "api/token"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("would rotate api/token (hex:20)"));
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn rotate_due_rotates_generated_and_lists_the_rest() {
    let sb = Sandbox::init();
    sb.test(&["set", "logos/jwt-key", "--generate", "ed25519"])
        .run()
        .success();
    sb.set("llm-api-key/openai", "sk-typed-by-a-human-0001");
    sb.set("samba/password", "not-under-policy-0001");
    sb.append_config("\n[rotation]\n\"logos/jwt-key\" = \"1d\"\n\"llm-api-key/*\" = \"30d\"\n");
    age_everything(&sb, "2026-01-01T00:00:00Z");
    let jwt_before = sb.get("logos/jwt-key");

    let out = sb.test(&["status", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let overdue: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["overdue"] == true)
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(overdue, ["llm-api-key/openai", "logos/jwt-key"]);
    assert!(!all_output(&out).contains("sk-typed-by-a-human-0001"));

    let out = sb.test(&["rotate", "--dry-run", "--due"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("would rotate logos/jwt-key (ed25519)"));
    assert_eq!(sb.get("logos/jwt-key"), jwt_before);

    let out = sb.test(&["rotate", "--due"]).run();
    assert_eq!(out.status.code(), Some(1), "a human-only secret remains overdue");
    assert!(String::from_utf8_lossy(&out.stdout).contains("needs a human: llm-api-key/openai"));
    assert_ne!(sb.get("logos/jwt-key"), jwt_before);
    assert_eq!(sb.get("llm-api-key/openai"), "sk-typed-by-a-human-0001");
    assert_eq!(sb.get("samba/password"), "not-under-policy-0001");

    sb.test(&["rotate", "llm-api-key/openai"])
        .stdin("sk-rotated-by-a-human-02")
        .run()
        .success();
    sb.test(&["rotate", "--due"]).run().success();
    sb.test(&["check"]).run().success();
}

#[test]
fn status_flags_offboarding_exposure_until_rotated() {
    let sb = Sandbox::with_secrets(&[("shared/secret", "exposed-value-0001"), ("other", "o")]);
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    sb.test(&["recipients", "remove", "bob"]).run().success();
    let out = sb.test(&["status"]).run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exposed to removed `bob`"), "{text}");
    assert!(!text.contains("exposed-value-0001"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    sb.set("shared/secret", "fresh-value-0001");
    let out = sb.test(&["status", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "shared/secret")
        .unwrap();
    assert_eq!(row["exposed_to"], serde_json::json!([]));
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "other")
        .unwrap();
    assert_eq!(row["exposed_to"][0]["name"], "bob");
}

#[test]
fn every_validation_rule_passes_and_fails_in_check() {
    let sb = Sandbox::init();
    sb.test(&["set", "tls/key", "--generate", "ed25519"])
        .run()
        .success();
    sb.set("cfg/json", r#"{"a": 1}"#);
    sb.set("api/openai", "sk-abcdefghijklmnopqrstuvwx");
    sb.set("db/password", "long-enough-password");
    sb.set("db/url", "postgres://db.lan:5432/app");
    sb.set("db/host", "db.lan");
    sb.append_config(
        "\n[validate]\n\"tls/key\" = \"pem\"\n\"cfg/json\" = \"json\"\n\"api/*\" = \"regex:sk-[a-z]{20,}\"\n\
         \"db/password\" = \"min-length:16\"\n\"db/url\" = \"url\"\n\"db/host\" = \"hostname\"\n",
    );
    let out = sb.test(&["check"]).run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    let bad = [
        ("tls/key", "not a pem at all", "pem"),
        ("cfg/json", "{broken", "json"),
        ("api/openai", "sk-SHORT-0001", "regex:sk-[a-z]{20,}"),
        ("db/password", "short-pw-01", "min-length:16"),
        ("db/url", "no url here", "url"),
        ("db/host", "bad_host!", "hostname"),
    ];
    for (path, value, _) in bad {
        // `set` refuses a value that breaks its rule; --force stores it (what `check` is for).
        let out = sb.test(&["set", path]).stdin(value).run();
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
        assert!(!all_output(&out).contains(value), "value of {path} leaked");
        sb.test(&["set", path, "--force"]).stdin(value).run().success();
    }
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for (path, value, want) in bad {
        assert!(
            text.contains(&format!("`{path}` fails the rule `{want}`")),
            "missing {path}: {text}"
        );
        assert!(!all_output(&out).contains(value), "value of {path} leaked");
    }
    // Pass or fail only: no length, no parse position, no PEM kind (check is no oracle).
    for fact in ["11 characters", "line 1", "column", "PKCS"] {
        assert!(!all_output(&out).contains(fact), "{fact} revealed: {text}");
    }
}

#[test]
fn a_rule_that_cannot_compile_is_a_config_error_naming_the_line() {
    let sb = Sandbox::with_secrets(&[("a", "v")]);
    let mut text = fs::read_to_string(sb.config()).unwrap();
    text.push_str("\n[validate]\n\"a\" = \"regex:([\"\n");
    fs::write(sb.config(), text).unwrap();
    let line = fs::read_to_string(sb.config()).unwrap().lines().count();
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("line {line}: [validate] `a`")), "{text}");
    let out = sb.test(&["ls"]).run();
    assert!(stderr(&out).contains(&format!("line {line}")), "{}", stderr(&out));
}

#[test]
fn check_in_ci_with_only_the_identity_text_and_without_any_key() {
    let sb = Sandbox::with_secrets(&[("ci/token", "ci-check-value-0001")]);
    let key = fs::read_to_string(sb.identity()).unwrap();
    fs::remove_file(sb.identity()).unwrap();
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAIL decrypt"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = sb.test(&["check", "--json"]).env("AGEVAULT_IDENTITY", &key).run();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config",
            "format",
            "signature",
            "generation",
            "decrypt",
            "document",
            "recipients",
            "validate",
            "rotation",
            "exposure",
            "overlap",
            "staged",
            "profiles",
            "coverage",
            "conflicts"
        ]
    );
    assert!(!all_output(&out).contains("ci-check-value-0001"));
    assert!(!all_output(&out).contains("AGE-SECRET-KEY"));

    let out = sb.test(&["check", "--no-decrypt"]).run();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped decrypt: not run (--no-decrypt)"));
    // Keyless checks still catch a damaged file.
    let mut bytes = sb.vault_bytes();
    bytes.truncate(20);
    fs::write(sb.vault(), bytes).unwrap();
    let out = sb.test(&["check", "--no-decrypt", "--json"]).run();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checks"][1]["name"], "format");
    assert_eq!(report["checks"][1]["ok"], false);
}

#[test]
fn check_refuses_an_unsigned_config_change() {
    let sb = Sandbox::with_secrets(&[("a", "drift-check-0001")]);
    let dave = age_keygen(&sb.root.path().join("dave.txt"));
    let mut text = fs::read_to_string(sb.config()).unwrap();
    text.push_str(&format!("\n[recipients.dave]\nkey = \"{dave}\"\nrole = \"ci\"\n"));
    fs::write(sb.config(), text).unwrap();
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL signature"), "{text}");
    assert!(text.contains("agevault trust sign"), "{text}");
    assert!(text.contains("skipped decrypt"), "{text}");
    // The same check without a key still catches it.
    let out = sb.test(&["check", "--no-decrypt"]).run();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_fails_on_unresolved_conflicts() {
    let sb = Sandbox::with_secrets(&[("ok", "fine")]);
    let mut d = doc(&sb);
    d["secrets"]["_conflicts"] =
        serde_json::json!({"samba": {"password": {"ours": "o-0001", "theirs": "t-0001"}}});
    sb.age_encrypt_vault(serde_json::to_string(&d).unwrap().as_bytes());
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unresolved merge conflict at `samba/password`"),
        "{text}"
    );
    assert!(!text.contains("o-0001") && !text.contains("t-0001"));
}

#[test]
fn inventory_in_every_format() {
    let sb = Sandbox::with_secrets(&[
        ("db/password", "inv-value-0001"),
        ("llm/openai", "inv-value-0002"),
    ]);
    sb.append_config(
        "\n[rotation]\n\"llm/*\" = \"30d\"\n[secrets.\"db/*\"]\nowner = \"infra\"\nclass = \"restricted\"\n\
         consumers = [\"backup cron\"]\n[exec.app]\nenv = { DB_PASSWORD = \"db/password\" }\n",
    );
    let out = sb.test(&["inventory", "--format", "json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["path"], "db/password");
    assert_eq!(rows[0]["owner"], "infra");
    assert_eq!(rows[0]["class"], "restricted");
    assert_eq!(
        rows[0]["consumers"],
        serde_json::json!(["exec:app", "backup cron"])
    );
    assert_eq!(rows[1]["policy"], "30d");
    assert!(rows[1]["due"].as_str().unwrap().ends_with('Z'));
    let csv = sb
        .test(&["inventory", "--format", "csv"])
        .run()
        .success()
        .stdout();
    assert!(
        csv.starts_with("path,owner,class,consumers,policy,last rotation,due\n"),
        "{csv}"
    );
    assert!(
        csv.contains("db/password,infra,restricted,exec:app backup cron,"),
        "{csv}"
    );
    let md = sb
        .test(&["inventory", "--format", "markdown"])
        .run()
        .success()
        .stdout();
    assert!(md.starts_with("| path | owner |"), "{md}");
    assert_eq!(md.lines().count(), 4);
    let table = sb.test(&["inventory"]).run();
    assert!(table.stdout().starts_with("PATH"));
    assert!(!all_output(&table).contains("inv-value-000"));
    assert!(!csv.contains("inv-value-000") && !md.contains("inv-value-000"));
}

#[test]
fn rotating_to_the_same_value_is_not_a_rotation() {
    let sb = Sandbox::with_secrets(&[("human/key", "same-typed-value-01")]);
    sb.append_config("\n[rotation]\n\"human/*\" = \"1d\"\n");
    age_everything(&sb, "2026-01-01T00:00:00Z");
    let before = sb.vault_bytes();
    let out = sb
        .test(&["rotate", "human/key"])
        .stdin("same-typed-value-01")
        .run();
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before, "an unchanged value was written");
    let out = sb.test(&["check"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("`human/key` is overdue"));
}
