//! Keys and recipients: keygen, discovery, whoami, ssh keys, recipients add/remove, drift, and age interop.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{age_keygen, assert_no_leak, hidden, stderr, Sandbox};

#[test]
fn keygen_writes_a_0600_identity_and_prints_the_public_key() {
    let sb = Sandbox::empty();
    let path = sb.root.path().join("k/id.txt");
    let out = sb.test(&["keygen", "-o", path.to_str().unwrap()]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    let public = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(public.starts_with("age1"));
    assert_eq!(common::public_key(&path), public, "age-keygen -y disagrees");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    // Never overwrites.
    let before = fs::read(&path).unwrap();
    let out = sb.test(&["keygen", "-o", path.to_str().unwrap()]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("refusing to overwrite"));
    assert_eq!(fs::read(&path).unwrap(), before);
    // To stdout.
    let out = sb.test(&["keygen", "-o", "-"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("AGE-SECRET-KEY-1"));
}

#[test]
fn keygen_with_passphrase_protects_the_identity() {
    let sb = Sandbox::empty();
    let path = sb.root.path().join("protected.txt");
    let bin = env!("CARGO_BIN_EXE_agevault");
    // `script` gives the command a terminal, where the passphrase is asked twice.
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("'{bin}' keygen --passphrase -o '{}'", path.display()),
            "/dev/null",
        ])
        .env("HOME", sb.home())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let mut stdin = c.stdin.take().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            stdin.write_all(b"correct horse\n")?;
            std::thread::sleep(std::time::Duration::from_millis(300));
            stdin.write_all(b"correct horse\n")?;
            drop(stdin);
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "{text}");
    assert!(!text.contains("AGE-SECRET-KEY"));
    // The stock age CLI agrees it is a passphrase-encrypted file holding an identity.
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("age -d '{}'", path.display()), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let mut stdin = c.stdin.take().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            stdin.write_all(b"correct horse\n")?;
            drop(stdin);
            c.wait_with_output()
        })
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("AGE-SECRET-KEY-1"));
}

#[test]
fn whoami_names_the_matching_recipient() {
    let sb = Sandbox::init();
    let out = sb.test(&["whoami"]).run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&common::public_key(&sb.identity())), "{text}");
    assert!(text.contains("recipient `alice`"), "{text}");
    let out = sb.test(&["whoami", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["recipient"], "alice");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("AGE-SECRET-KEY"));
}

#[test]
fn identity_text_from_the_environment_decrypts() {
    let sb = Sandbox::with_secrets(&[("ci/token", "env-identity-value-1")]);
    let key_text = fs::read_to_string(sb.identity()).unwrap();
    fs::remove_file(sb.identity()).unwrap();
    let out = sb.test(&["get", "ci/token"]).run();
    assert_eq!(out.status.code(), Some(1));
    let out = sb
        .test(&["get", "ci/token"])
        .env("AGEVAULT_IDENTITY", &key_text)
        .run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "env-identity-value-1");
    // And from a file named in the environment.
    let file = sb.root.path().join("ci-key.txt");
    fs::write(&file, &key_text).unwrap();
    let out = sb
        .test(&["get", "ci/token"])
        .env("AGEVAULT_IDENTITY_FILE", &file)
        .run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "env-identity-value-1");
}

/// A passphrase-less key `~/.ssh/NAME` from the real `ssh-keygen`; returns its public key without comment.
fn ssh_keygen(sb: &Sandbox, name: &str, args: &[&str]) -> String {
    let ssh_dir = sb.home().join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", ""])
        .args(args)
        .arg("-f")
        .arg(ssh_dir.join(name))
        .status()
        .unwrap();
    assert!(status.success());
    let public = fs::read_to_string(ssh_dir.join(format!("{name}.pub"))).unwrap();
    public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[test]
fn ssh_ed25519_recipient_and_identity() {
    let sb = Sandbox::with_secrets(&[("ssh/secret", "ssh-protected-value-1")]);
    let public = ssh_keygen(&sb, "id_ed25519", &["-t", "ed25519", "-C", "bob@example"]);
    sb.test(&["recipients", "add", "bob", &public, "--role", "developer"])
        .run()
        .success();
    // Bob (only his ssh key in ~/.ssh) can now read the vault.
    fs::remove_file(sb.identity()).unwrap();
    let out = sb.test(&["get", "ssh/secret"]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ssh-protected-value-1");
    let out = sb.test(&["whoami"]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("recipient `bob`"));
}

#[test]
fn recipients_add_list_remove_with_offboarding_report() {
    let sb = Sandbox::with_secrets(&[
        ("samba/password", "offboard-value-1"),
        ("api/key", "offboard-value-2"),
    ]);
    let bob_key = sb.root.path().join("bob.txt");
    let bob = age_keygen(&bob_key);
    sb.test(&["recipients", "add", "bob", &bob, "--role", "host"])
        .run()
        .success();
    let out = sb.test(&["recipients", "list", "--json"]).run();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["name"], "bob");
    assert_eq!(rows[1]["role"], "host");
    // Bob's key alone decrypts with the stock age CLI.
    let out = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&bob_key)
        .arg(sb.vault())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("offboard-value-1"));

    let out = sb.test(&["recipients", "remove", "bob"]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "api/key\nsamba/password\n");
    assert!(stderr(&out).contains("rotate"));
    assert_no_leak(&out, "offboard-value-1");
    let out = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&bob_key)
        .arg(sb.vault())
        .output()
        .unwrap();
    assert!(!out.status.success(), "bob can still decrypt after removal");
    let doc: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    assert_eq!(doc["offboarded"][0]["name"], "bob");
    assert!(!fs::read_to_string(sb.config())
        .unwrap()
        .contains("[recipients.bob]"));
}

#[test]
fn recipients_add_rejects_bad_and_duplicate_keys() {
    let sb = Sandbox::init();
    let before = sb.vault_bytes();
    let config_before = fs::read_to_string(sb.config()).unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["recipients", "add", "bob", "age1notavalidkey"],
            2,
            "not a valid age recipient",
        ),
        (
            &["recipients", "add", "bob", "AGE-SECRET-KEY-1QQQQ"],
            2,
            "PRIVATE",
        ),
        (
            &["recipients", "add", "bob", "ssh-ed25519 AAAAnotbase64!"],
            2,
            "SSH public key",
        ),
        (&["recipients", "add", "../bob", "age1x"], 2, "recipient name"),
        (&["recipients", "remove", "nobody"], 1, "no recipient named"),
    ];
    for (args, code, want) in cases {
        let out = sb.test(args).run();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    let alice = common::public_key(&sb.identity());
    let out = sb.test(&["recipients", "add", "alice2", &alice]).run();
    assert!(
        stderr(&out).contains("already configured as recipient `alice`"),
        "{}",
        stderr(&out)
    );
    let other = age_keygen(&sb.root.path().join("x.txt"));
    let out = sb.test(&["recipients", "add", "alice", &other]).run();
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = sb.test(&["recipients", "remove", "alice"]).run();
    assert!(stderr(&out).contains("last recipient"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before);
    assert_eq!(fs::read_to_string(sb.config()).unwrap(), config_before);
}

#[test]
fn hand_edited_recipient_is_refused_until_applied() {
    let sb = Sandbox::with_secrets(&[("k", "drift-value-1")]);
    let carol = age_keygen(&sb.root.path().join("carol.txt"));
    let mut config = fs::read_to_string(sb.config()).unwrap();
    config.push_str(&format!(
        "\n[recipients.carol]\nkey = \"{carol}\"\nrole = \"developer\"\n"
    ));
    fs::write(sb.config(), config).unwrap();
    let before = sb.vault_bytes();
    let out = sb.test(&["set", "k"]).stdin("new").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("agevault trust sign"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before);
    // An unsigned config edit is not trusted for reading either; a writer's
    // `trust sign` reviews and applies it.
    assert!(!sb.test(&["get", "k"]).run().status.success());
    sb.test(&["trust", "sign"]).run().success();
    assert_eq!(sb.get("k"), "drift-value-1");
    sb.set("k", "after-drift-1");
    let doc: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    assert_eq!(doc["recipients"].as_array().unwrap().len(), 2);
}

#[test]
fn vault_written_by_stock_age_is_read_and_ours_is_read_by_age() {
    let sb = Sandbox::init();
    let public = common::public_key(&sb.identity());
    let doc = format!(
        r#"{{"version":1,"secrets":{{"samba":{{"password":"from-age-cli-1"}}}},"meta":{{}},"recipients":["{public}"]}}"#
    );
    sb.age_encrypt_vault(doc.as_bytes());
    assert_eq!(sb.get("samba/password"), "from-age-cli-1");
    sb.set("samba/user", "smbadmin");
    let plain = sb.age_decrypt();
    let parsed: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(parsed["secrets"]["samba"]["password"], "from-age-cli-1");
    assert_eq!(parsed["secrets"]["samba"]["user"], "smbadmin");
}

#[test]
fn demo_vault_decrypts_with_the_demo_identity() {
    let root = env!("CARGO_MANIFEST_DIR");
    let trust = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agevault"))
        .args([
            "--identity",
            "examples/demo-identity.txt",
            "get",
            "samba/password",
        ])
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("AGEVAULT_TRUST_DIR", trust.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!out.stdout.is_empty());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agevault"))
        .args(["--identity", "examples/demo-identity.txt", "ls"])
        .current_dir(root)
        .env_clear()
        .env("AGEVAULT_TRUST_DIR", trust.path())
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&out.stdout);
    for p in ["samba/password", "llm-api-key/openai", "tls/key"] {
        assert!(ls.contains(p), "{ls}");
    }
    // The demo host (pve1) runs the samba profile (scope prod) but cannot read the
    // developers' scope dev, with stock age agreeing.
    let empty_home = tempfile::tempdir().unwrap();
    let host = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_agevault"))
            .args(["--identity", "examples/demo-host-identity.txt"])
            .args(args)
            .current_dir(root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", empty_home.path())
            .env("AGEVAULT_TRUST_DIR", trust.path())
            .output()
            .unwrap()
    };
    let out = host(&["exec", "-p", "samba", "--", "sh", "-c", "printf %s \"$SMB_USER\""]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "smbadmin",
        "{}",
        stderr(&out)
    );
    let out = host(&["exec", "-p", "llm", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("scope `dev`"), "{}", stderr(&out));
    for (file, readable) in [("secrets.prod.json.age", true), ("secrets.dev.json.age", false)] {
        let ok = std::process::Command::new("age")
            .args(["-d", "-i", "examples/demo-host-identity.txt", file])
            .current_dir(root)
            .output()
            .unwrap()
            .status
            .success();
        assert_eq!(ok, readable, "{file}");
    }
}

#[test]
fn a_passphrase_protected_identity_prompts_and_decrypts() {
    let sb = Sandbox::with_secrets(&[("p/secret", "behind-a-passphrase-1")]);
    let bin = env!("CARGO_BIN_EXE_agevault");
    let protected = sb.root.path().join("protected.txt");
    let out = sb.run_on_tty(
        &format!("'{bin}' keygen --passphrase -o '{}'", protected.display()),
        &[],
        &[
            hidden("Passphrase for the new identity: ", "pass phrase 1"),
            hidden("Repeat the passphrase: ", "pass phrase 1"),
        ],
    );
    assert!(out.status.success());
    let public = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .unwrap()
        .to_owned();
    sb.test(&["recipients", "add", "carol", &public]).run().success();
    fs::remove_file(sb.identity()).unwrap();
    let cmd = format!("'{bin}' --identity '{}' get p/secret", protected.display());
    let out = sb.run_on_tty(&cmd, &[], &[hidden("Type passphrase", "pass phrase 1")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("behind-a-passphrase-1"), "{text}");
    assert!(
        !text.contains("pass phrase 1"),
        "the passphrase was echoed: {text}"
    );
    let out = sb.run_on_tty(&cmd, &[], &[hidden("Type passphrase", "wrong phrase")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("behind-a-passphrase-1"));
    assert!(text.contains("error"), "{text}");
}

#[test]
fn ssh_rsa_recipient_decrypts_with_the_rsa_key() {
    let sb = Sandbox::with_secrets(&[("r/secret", "rsa-protected-value-1")]);
    let public = ssh_keygen(&sb, "id_rsa", &["-t", "rsa", "-b", "2048"]);
    sb.test(&["recipients", "add", "rsa-host", &public, "--role", "host"])
        .run()
        .success();
    fs::remove_file(sb.identity()).unwrap();
    assert_eq!(sb.get("r/secret"), "rsa-protected-value-1");
}

#[test]
fn removing_a_recipient_renews_the_fingerprint_key() {
    let sb = Sandbox::with_secrets(&[("a", "fingerprinted-value-1")]);
    let eve = age_keygen(&sb.root.path().join("eve.txt"));
    sb.test(&["recipients", "add", "eve", &eve]).run().success();
    let before: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    sb.test(&["recipients", "remove", "eve"]).run().success();
    let after: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
    assert!(before["fingerprint_key"].is_string());
    assert!(after["fingerprint_key"].is_string());
    assert_ne!(
        before["fingerprint_key"], after["fingerprint_key"],
        "eve still knows the fingerprint key"
    );
}
