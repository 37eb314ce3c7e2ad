//! Key and certificate generators checked with the real `openssl`, and the validation
//! rules that look inside values: pem (DER), cert-matches, expires-within; profile and
//! coverage checks.

mod common;

use std::fs;
use std::process::Command;

use common::{all_output, stderr, Sandbox};

fn openssl(args: &[&str], file: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .arg(file)
        .output()
        .expect("openssl must be installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn save(sb: &Sandbox, path: &str, name: &str) -> std::path::PathBuf {
    let file = sb.root.path().join(name);
    fs::write(&file, sb.get(path)).unwrap();
    file
}

#[test]
fn rsa_and_p256_keys_load_in_openssl_with_their_public_halves() {
    let sb = Sandbox::init();
    for (path, spec) in [
        ("k/rsa2048", "rsa:2048"),
        ("k/rsa3072", "rsa:3072"),
        ("k/ec", "p256"),
    ] {
        let out = sb.test(&["set", path, "--generate", spec]).run();
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        assert!(!all_output(&out).contains("PRIVATE KEY"), "{spec}: key printed");
    }
    let text = openssl(
        &["pkey", "-noout", "-text", "-in"],
        &save(&sb, "k/rsa2048", "rsa.pem"),
    );
    assert!(text.contains("Private-Key: (2048 bit"), "{text}");
    let text = openssl(
        &["pkey", "-noout", "-text", "-in"],
        &save(&sb, "k/rsa3072", "rsa3.pem"),
    );
    assert!(text.contains("Private-Key: (3072 bit"), "{text}");
    let ec = save(&sb, "k/ec", "ec.pem");
    let text = openssl(&["pkey", "-noout", "-text", "-in"], &ec);
    assert!(text.contains("prime256v1") || text.contains("P-256"), "{text}");
    // PATH.pub is the public key of PATH, as openssl derives it.
    let derived = openssl(&["pkey", "-pubout", "-in"], &ec);
    assert_eq!(derived, sb.get("k/ec.pub"));
    let derived = openssl(
        &["pkey", "-pubout", "-in"],
        &save(&sb, "k/rsa2048", "rsa-again.pem"),
    );
    assert_eq!(derived, sb.get("k/rsa2048.pub"));
    // The generator is remembered: rotate makes a new key of the same kind.
    sb.test(&["rotate", "k/ec"]).run().success();
    assert_ne!(fs::read_to_string(&ec).unwrap(), sb.get("k/ec"));
    let ec2 = save(&sb, "k/ec", "ec2.pem");
    assert_eq!(openssl(&["pkey", "-pubout", "-in"], &ec2), sb.get("k/ec.pub"));
}

#[test]
fn x509_makes_a_self_signed_certificate_openssl_verifies() {
    let sb = Sandbox::init();
    let out = sb
        .test(&[
            "set",
            "tls/key",
            "--generate",
            "x509:CN=app.lan,days=90,san=app.lan,san=10.0.0.5",
        ])
        .run();
    assert!(out.status.success(), "{}", stderr(&out));
    let cert = save(&sb, "tls/key.crt", "cert.pem");
    let key = save(&sb, "tls/key", "key.pem");
    let text = openssl(&["x509", "-noout", "-text", "-in"], &cert);
    assert!(
        text.contains("Subject: CN=app.lan") || text.contains("Subject: CN = app.lan"),
        "{text}"
    );
    assert!(
        text.contains("DNS:app.lan") && text.contains("IP Address:10.0.0.5"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    // Self-signed: openssl verifies it against itself.
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&cert)
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": OK"),
        "{}",
        all_output(&out)
    );
    // About 90 days.
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-checkend", &(89 * 86_400).to_string(), "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "expires before 89 days");
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-checkend", &(91 * 86_400).to_string(), "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success(), "valid past 91 days");
    // The key belongs to the certificate.
    assert_eq!(
        openssl(&["x509", "-noout", "-pubkey", "-in"], &cert),
        openssl(&["pkey", "-pubout", "-in"], &key)
    );
    // RSA keys and CSRs too.
    sb.test(&[
        "set",
        "tls/rsa",
        "--generate",
        "x509:CN=rsa.lan,days=30,key=rsa:2048",
    ])
    .run()
    .success();
    let text = openssl(
        &["x509", "-noout", "-text", "-in"],
        &save(&sb, "tls/rsa.crt", "rsa.crt"),
    );
    assert!(
        text.contains("sha256WithRSAEncryption") && text.contains("2048 bit"),
        "{text}"
    );
    sb.test(&["set", "tls/req", "--generate", "x509:CN=req.lan,san=req.lan,csr"])
        .run()
        .success();
    let csr = save(&sb, "tls/req.csr", "req.csr");
    let out = Command::new("openssl")
        .args(["req", "-noout", "-verify", "-in"])
        .arg(&csr)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(openssl(&["req", "-noout", "-subject", "-in"], &csr).contains("req.lan"));
}

#[test]
fn pem_rule_parses_der_and_cert_matches_its_key() {
    let sb = Sandbox::init();
    sb.test(&["set", "tls/key", "--generate", "x509:CN=a.lan,days=30"])
        .run()
        .success();
    sb.test(&["set", "other/key", "--generate", "p256"])
        .run()
        .success();
    sb.append_config(
        "[validate]\n\"tls/key\" = [\"pem\", \"cert-matches:tls/key.crt\"]\n\"tls/key.crt\" = [\"pem\", \"expires-within:60d,1d\"]\n\"tls/fake\" = \"pem\"\n",
    );
    // A certificate close to expiry is a warning, not a failure.
    let out = sb.test(&["check"]).run();
    assert!(out.status.success(), "{}", out.stdout());
    assert!(
        out.stdout().contains("warning validate: `tls/key.crt`"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains("within 60d"), "{}", out.stdout());

    // A certificate whose body is `AAAA` has valid armor and base64, but no DER.
    let fake = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let out = sb.test(&["set", "tls/fake"]).stdin(fake).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("breaks the rule `pem`"), "{}", stderr(&out));
    sb.test(&["set", "tls/fake", "--force"])
        .stdin(fake)
        .run()
        .success();
    let out = sb.test(&["check"]).run();
    assert!(
        out.stdout().contains("`tls/fake` fails the rule `pem`"),
        "{}",
        out.stdout()
    );
    sb.test(&["rm", "tls/fake"]).run().success();

    // A key that does not match its certificate.
    let other = sb.get("other/key");
    let out = sb.test(&["set", "tls/key"]).stdin(other.as_str()).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not match `tls/key.crt`"),
        "{}",
        stderr(&out)
    );
    assert!(!all_output(&out).contains("PRIVATE"), "value leaked");
    sb.test(&["set", "tls/key", "--force"])
        .stdin(other.as_str())
        .run()
        .success();
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout().contains("cert-matches:tls/key.crt"),
        "{}",
        out.stdout()
    );
    // `rotate` regenerates both halves together, which match again.
    sb.test(&["rotate", "tls/key", "--generate", "x509:CN=a.lan,days=365"])
        .run()
        .success();
    let out = sb.test(&["check"]).run();
    assert!(out.status.success(), "{}", out.stdout());
    assert!(!out.stdout().contains("warning"), "{}", out.stdout());
}

#[test]
fn expiring_certificates_fail_and_edit_refuses_broken_values() {
    let sb = Sandbox::init();
    // A certificate that ends tomorrow, made with openssl: inside the failure window.
    let dir = sb.root.path();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=old",
            "-days",
            "1",
            "-keyout",
        ])
        .arg(dir.join("old.key"))
        .arg("-out")
        .arg(dir.join("old.crt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cert = fs::read_to_string(dir.join("old.crt")).unwrap();
    sb.test(&["set", "tls/old", "--force"])
        .stdin(cert.as_str())
        .run()
        .success();
    sb.append_config("[validate]\n\"tls/old\" = \"expires-within:30d,7d\"\n\"db/url\" = \"url\"\n");
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout().contains("FAIL validate: `tls/old`"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains("within 7d"), "{}", out.stdout());

    // edit: a changed value that breaks its rule is refused; --force saves it.
    sb.set("db/url", "postgres://db.lan/app");
    let editor = dir.join("editor.sh");
    fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's#postgres://db.lan/app#not a url#' \"$1\"\n",
    )
    .unwrap();
    Command::new("chmod").arg("755").arg(&editor).status().unwrap();
    let out = sb.test(&["edit"]).env("EDITOR", &editor).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(stderr(&out).contains("breaks the rule `url`"), "{}", stderr(&out));
    assert_eq!(sb.get("db/url"), "postgres://db.lan/app");
    sb.test(&["edit", "--force"])
        .env("EDITOR", &editor)
        .run()
        .success();
    assert_eq!(sb.get("db/url"), "not a url");
}

#[test]
fn check_finds_profile_mappings_to_missing_secrets_and_coverage_gaps() {
    let sb = Sandbox::with_secrets(&[
        ("samba/password", "a-samba-password-1"),
        ("db/password", "a-db-password-0001"),
    ]);
    sb.append_config(
        "[exec.samba]\nenv = { SMB_PASSWORD = \"samba/password\", SMB_USER = \"samba/user\" }\nfiles = { JWT_KEY_FILE = \"logos/jwt-key\" }\n\
         [policy]\nrequire = [\"owner\", \"rotation\"]\npaths = [\"db/**\"]\n\
         [secrets.\"db/*\"]\nowner = \"dba\"\n",
    );
    let out = sb.test(&["check"]).run();
    assert_eq!(out.status.code(), Some(1));
    let text = out.stdout();
    assert!(
        text.contains("FAIL profiles: profile [exec.samba] env maps SMB_USER to `samba/user`"),
        "{text}"
    );
    assert!(
        text.contains("profile [exec.samba] files maps JWT_KEY_FILE to `logos/jwt-key`"),
        "{text}"
    );
    assert!(
        text.contains("FAIL coverage: `db/password` lacks a [rotation] policy"),
        "{text}"
    );
    assert!(
        !text.contains("`samba/password` lacks"),
        "outside [policy] paths: {text}"
    );
    assert!(!text.contains("owner in"), "db/password has an owner: {text}");
    sb.set("samba/user", "svc");
    sb.set("logos/jwt-key", "k-0000000000000000");
    sb.append_config("[rotation]\n\"db/*\" = \"90d\"\n");
    let out = sb.test(&["check"]).run();
    assert!(out.status.success(), "{}", out.stdout());
}
