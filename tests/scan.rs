//! `agevault scan`: vault values in plaintext files (in several encodings) and
//! hard-coded secret patterns, in the working tree, the index and history.

mod common;
mod gitutil;

use std::fs;

use base64::Engine as _;
use common::{all_output, assert_no_leak, stderr, Sandbox};
use gitutil::{agevault, git_ok};

fn write(sb: &Sandbox, rel: &str, text: &str) {
    let path = sb.repo().join(rel);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap();
}

/// A sandbox with a vault and a git repository (no commits yet).
fn repo(secrets: &[(&str, &str)]) -> Sandbox {
    let sb = Sandbox::with_secrets(secrets);
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    sb
}

/// A real PEM private key made by openssl.
fn pem_key(sb: &Sandbox) -> String {
    let path = sb.root.path().join("key.pem");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&path)
        .status()
        .expect("openssl must be installed");
    assert!(status.success());
    fs::read_to_string(path).unwrap()
}

#[test]
fn scan_finds_each_pattern_and_prints_no_value() {
    let sb = repo(&[("unrelated", "pattern-unrelated-1")]);
    let pem = pem_key(&sb);
    let aws_id = "AKIAZ7Q3KX2M4T5B6C7D";
    let aws_secret = "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";
    let github = "ghp_R2d2C3poBb8Yoda1234567890abcdefXYZWV";
    let age_key = {
        let out = std::process::Command::new("age-keygen").output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_owned()
    };
    let files: Vec<(&str, String, &str, &str)> =
        vec![
        ("keys/server.key", pem.clone(), "pem-private-key", ""),
        ("deploy/aws.env", format!("AWS_ACCESS_KEY_ID={aws_id}\n"), "aws-access-key-id", aws_id),
        (
            "deploy/credentials",
            format!("[default]\naws_secret_access_key = {aws_secret}\n"),
            "aws-secret-access-key",
            aws_secret,
        ),
        ("ci/token.txt", format!("token for ci: {github}\n"), "github-token", github),
        ("old-identity.txt", format!("# created: x\n{age_key}\n"), "age-secret-key", ""),
        (
            "app/settings.py",
            "import os\n\nDB_PASSWORD = \"Tr0ub4dor&3-lit\"\n".to_owned(),
            "password-assignment",
            "Tr0ub4dor&3-lit",
        ),
        (
            "provision/samba.sh",
            "#!/bin/sh\nset -e\n(echo 'Smb-Lit3ral-pw'; echo 'Smb-Lit3ral-pw') | smbpasswd -s -a fileshare\n"
                .to_owned(),
            "smbpasswd-literal",
            "Smb-Lit3ral-pw",
        ),
    ];
    for (rel, text, _, _) in &files {
        write(&sb, rel, text);
    }
    let out = agevault(&sb, &["scan"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = out.stdout();
    let expected_lines = [
        "keys/server.key:1: pem-private-key",
        "deploy/aws.env:1: aws-access-key-id",
        "deploy/credentials:2: aws-secret-access-key",
        "ci/token.txt:1: github-token",
        "old-identity.txt:2: age-secret-key",
        "app/settings.py:3: password-assignment",
        "provision/samba.sh:3: smbpasswd-literal",
    ];
    for line in expected_lines {
        assert!(
            report.lines().any(|l| l == line),
            "missing {line:?} in:\n{report}"
        );
    }
    assert_eq!(
        report.lines().count(),
        expected_lines.len(),
        "unexpected findings:\n{report}"
    );
    for (_, _, _, secret) in &files {
        if !secret.is_empty() {
            assert_no_leak(&out, secret);
        }
    }
    assert_no_leak(&out, &age_key);
    let pem_body = pem.lines().nth(1).unwrap();
    assert_no_leak(&out, pem_body);

    // The JSON report has the same findings and no value either.
    let json = agevault(&sb, &["scan", "--json"]).run();
    assert_eq!(json.status.code(), Some(1));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["findings"].as_array().unwrap().len(), expected_lines.len());
    assert_eq!(parsed["vault_values_checked"], true);
    assert_no_leak(&json, aws_secret);
}

#[test]
fn safe_lookalikes_are_not_findings() {
    let sb = repo(&[("unrelated", "lookalike-unrelated-1")]);
    write(
        &sb,
        "provision/samba.sh",
        "#!/bin/sh\n(echo \"$SMB_PASSWORD\"; echo \"$SMB_PASSWORD\") | smbpasswd -s -a fileshare\n\
         printf '%s\\n%s\\n' \"$PW\" \"$PW\" | smbpasswd -a -s other\n",
    );
    write(
        &sb,
        "app/settings.py",
        "DB_PASSWORD = os.environ[\"DB_PASSWORD\"]\nif password == other:\n    pass\n",
    );
    write(&sb, "app/.env.example", "DB_PASSWORD=${DB_PASSWORD}\nAPI_KEY=\n");
    write(
        &sb,
        "src/keys.rs",
        "if text.contains(\"-----BEGIN OPENSSH PRIVATE KEY-----\") {}\n",
    );
    let out = agevault(&sb, &["scan"]).run();
    assert!(out.status.success(), "false positives:\n{}", all_output(&out));
    assert!(stderr(&out).contains("no secrets found"), "{}", stderr(&out));
}

#[test]
fn scan_finds_vault_values_in_common_encodings() {
    let value = "Vault-Value/with+odd=chars 42";
    let sb = repo(&[("samba/password", value), ("short", "abc")]);
    let b64 = base64::engine::general_purpose::STANDARD;
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    write(&sb, "raw.txt", &format!("line one\nthe value: {value}\n"));
    write(
        &sb,
        "b64.yaml",
        &format!("data:\n  blob: {}\n", b64.encode(format!("user:{value}"))),
    );
    write(&sb, "hex.txt", &format!("{hex}\n"));
    write(
        &sb,
        "url.txt",
        "https://x/?p=Vault-Value%2Fwith%2Bodd%3Dchars%2042\n",
    );
    write(
        &sb,
        "json.json",
        &serde_json::json!({ "v": format!("{value}\n") }).to_string(),
    );
    let out = agevault(&sb, &["scan"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = out.stdout();
    for line in [
        "raw.txt:2: vault-value samba/password (raw)",
        "b64.yaml:2: vault-value samba/password (base64)",
        "hex.txt:1: vault-value samba/password (hex)",
        "url.txt:1: vault-value samba/password (url-encoded)",
        "json.json:1: vault-value samba/password (raw)",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "missing {line:?} in:\n{report}"
        );
    }
    assert_no_leak(&out, value);
    assert_no_leak(&out, &hex);
    // Values too short to search are named, not silently ignored.
    assert!(stderr(&out).contains("short"), "{}", stderr(&out));
}

#[test]
fn ignored_files_the_vault_and_allowed_findings_are_skipped() {
    let value = "skip-me-value-77";
    let sb = repo(&[("app/pw", value)]);
    write(&sb, ".gitignore", ".secrets.json.age.lock\nlocal/\n");
    write(&sb, "local/dev.env", &format!("PW={value}\n"));
    write(&sb, "docs/example.md", "AWS_ACCESS_KEY_ID=AKIAZ7Q3KX2M4T5B6C7D\n");
    write(
        &sb,
        "notes.txt",
        &format!("known test value {value} # agevault:allow\n"),
    );
    write(
        &sb,
        ".agevault-allow",
        "# documented examples\ndocs/ aws-access-key-id\n",
    );
    let out = agevault(&sb, &["scan"]).run();
    assert!(out.status.success(), "{}", all_output(&out));

    // Without the allowances both are reported again.
    fs::remove_file(sb.repo().join(".agevault-allow")).unwrap();
    write(&sb, "notes.txt", &format!("known test value {value}\n"));
    let out = agevault(&sb, &["scan"]).run();
    assert_eq!(out.status.code(), Some(1));
    let report = out.stdout();
    assert!(
        report.contains("docs/example.md:1: aws-access-key-id"),
        "{report}"
    );
    assert!(report.contains("notes.txt:1: vault-value app/pw"), "{report}");
    assert!(!report.contains("local/"), "{report}");
    assert!(!report.contains("secrets.json.age"), "{report}");

    // A mistyped rule in the allow-list is an error naming the file, not a silent allow.
    write(&sb, ".agevault-allow", "docs/ aws-key\n");
    let out = agevault(&sb, &["scan"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(".agevault-allow: line 1: unknown rule `aws-key`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn staged_reads_the_index_not_the_working_tree() {
    let value = "staged-value-123";
    let sb = repo(&[("k", value)]);
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "--no-verify", "-m", "vault"]);
    write(&sb, "a.txt", &format!("x = {value}\n"));
    git_ok(&sb, &["add", "a.txt"]);
    // Fixed in the working tree but not staged: the staged version still leaks.
    write(&sb, "a.txt", "x = fixed\n");
    let out = agevault(&sb, &["scan", "--staged"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(out.stdout().contains("a.txt:1: vault-value k (raw)"));
    assert_no_leak(&out, value);
    agevault(&sb, &["scan"]).run().success();
    git_ok(&sb, &["add", "a.txt"]);
    agevault(&sb, &["scan", "--staged"]).run().success();
}

#[test]
fn history_finds_a_value_in_an_old_commit() {
    let value = "history-value-456";
    let sb = repo(&[("k", value)]);
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "--no-verify", "-m", "vault"]);
    write(&sb, "leak.txt", &format!("{value}\n"));
    git_ok(&sb, &["add", "leak.txt"]);
    git_ok(&sb, &["commit", "-q", "--no-verify", "-m", "oops"]);
    let leak_commit = git_ok(&sb, &["rev-parse", "--short=7", "HEAD"]).trim().to_owned();
    git_ok(&sb, &["rm", "-q", "leak.txt"]);
    git_ok(&sb, &["commit", "-q", "--no-verify", "-m", "remove leak"]);

    agevault(&sb, &["scan"]).run().success();
    let out = agevault(&sb, &["scan", "--history"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert_eq!(
        out.stdout().trim(),
        format!("{leak_commit}:leak.txt:1: vault-value k (raw)")
    );
    assert_no_leak(&out, value);
}

#[test]
fn without_a_key_patterns_are_still_checked() {
    let sb = repo(&[("k", "nokey-value-789")]);
    write(&sb, "a.env", "SECRET_TOKEN=abc123xyz789\n");
    fs::remove_file(sb.identity()).unwrap();
    let out = agevault(&sb, &["scan"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(out.stdout().contains("a.env:1: password-assignment"));
    assert!(
        stderr(&out).contains("vault values were not checked"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn scan_works_outside_git_on_given_paths() {
    let sb = Sandbox::empty();
    write(&sb, "conf/app.ini", "password = hunter2-literal\n");
    write(&sb, "other/x.txt", "password = other-literal\n");
    let out = agevault(&sb, &["scan", "conf"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert_eq!(out.stdout().trim(), "conf/app.ini:1: password-assignment");
    assert!(stderr(&out).contains("no .agevault.toml"), "{}", stderr(&out));
    let missing = agevault(&sb, &["scan", "nope"]).run();
    assert_eq!(missing.status.code(), Some(2));
    let staged = agevault(&sb, &["scan", "--staged"]).run();
    assert_eq!(staged.status.code(), Some(1));
    assert!(stderr(&staged).contains("not inside a git repository"));
}
