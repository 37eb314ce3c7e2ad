//! Trust: each attack of someone who can push to the repository but is not a writer,
//! forged with the stock `age` CLI from the public keys in the config, must be refused;
//! writers, hosts and stock `ssh-keygen` verification work.

mod common;
mod gitutil;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{age_keygen, all_output, assert_no_leak, public_key, stderr, unique, Outcome, Sandbox};
use gitutil::{agevault, git, git_ok, repo_with_setup};

fn run(sb: &Sandbox, args: &[&str]) -> Outcome {
    sb.test(args).run()
}

/// Fails with exit 1, one line on stderr, and no listed value anywhere.
fn refused(out: &Output, values: &[&str]) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", all_output(out));
    let err = stderr(out);
    common::error_and_hint(&err);
    for v in values {
        assert_no_leak(out, v);
    }
    err
}

/// The attacker's tool: encrypt a document of their own to every public key in the
/// config with the stock age CLI, and put it in place of the vault.
fn forge(sb: &Sandbox, secrets: &str, extra_recipients: &[&str]) {
    let mut keys = vec![public_key(&sb.identity())];
    keys.extend(extra_recipients.iter().map(|k| (*k).to_string()));
    let recorded: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    let doc = format!(
        r#"{{"version":1,"secrets":{secrets},"meta":{{}},"recipients":[{}],"fingerprint_key":"00000000000000000000000000000000000000000000000000000000000000000"}}"#,
        recorded.join(",")
    );
    let plain = sb.root.path().join("forged.json");
    fs::write(&plain, doc).unwrap();
    let mut cmd = std::process::Command::new("age");
    cmd.arg("-a");
    for k in &keys {
        cmd.args(["-r", k]);
    }
    let status = cmd.arg("-o").arg(sb.vault()).arg(&plain).status().unwrap();
    assert!(status.success());
}

/// The stock `age -d -i IDENTITY FILE`, as an attacker holding IDENTITY would run it.
fn age_decrypt_with(identity: &Path, file: &Path) -> Output {
    std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(identity)
        .arg(file)
        .output()
        .unwrap()
}

fn ssh_keygen(path: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    let public = fs::read_to_string(format!("{}.pub", path.display())).unwrap();
    public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

fn no_marker(sb: &Sandbox) -> PathBuf {
    sb.root.path().join("child-ran")
}

#[test]
fn a_forged_vault_is_refused_by_every_reading_and_writing_command() {
    let real = unique("real-db-url");
    let sb = Sandbox::with_secrets(&[("db/url", &real)]);
    forge(
        &sb,
        r#"{"db":{"url":"postgres://evil.example/forged"},"makeflags":"--eval=x:;touch /tmp/pwned","lessopen":"|touch /tmp/pwned %s"}"#,
        &[],
    );
    let forged = sb.vault_bytes();
    let marker = no_marker(&sb);
    let script = format!("touch '{}'; echo \"$DB_URL\"", marker.display());
    let out = run(&sb, &["exec", "--", "sh", "-c", &script]);
    let err = refused(&out, &["evil.example"]);
    assert!(err.contains("does not match its signature"), "{err}");
    assert!(err.contains("`alice`"), "{err}");
    assert!(err.contains("agevault trust sign"), "{err}");
    assert!(!marker.exists(), "the child ran on a forged vault");
    for args in [
        vec!["get", "db/url"],
        vec!["ls"],
        vec!["status"],
        vec!["inventory"],
        vec!["rm", "db/url"],
    ] {
        refused(&run(&sb, &args), &["evil.example"]);
    }
    refused(&sb.test(&["set", "x"]).stdin("v").run(), &[]);
    let out = sb.test(&["edit"]).env("EDITOR", "true").run();
    refused(&out, &[]);
    let out = run(&sb, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL signature"));
    assert!(!all_output(&out).contains("evil.example"));
    assert_eq!(sb.vault_bytes(), forged, "a refused command changed the vault");
}

#[test]
fn an_outsider_added_to_the_config_and_the_forged_vault_gets_nothing() {
    let sb = Sandbox::with_secrets(&[("db/password", "before-outsider-1")]);
    let mallory_id = sb.root.path().join("mallory.txt");
    let mallory = age_keygen(&mallory_id);
    let mut config = fs::read_to_string(sb.config()).unwrap();
    config.push_str(&format!(
        "\n[recipients.mallory]\nkey = \"{mallory}\"\nrole = \"developer\"\n"
    ));
    fs::write(sb.config(), config).unwrap();
    forge(&sb, r#"{"db":{"password":"x"}}"#, &[&mallory]);
    let forged = sb.vault_bytes();
    let secret = unique("real-password");
    let out = sb.test(&["set", "db/password"]).stdin(secret.as_str()).run();
    refused(&out, &[&secret]);
    assert_eq!(sb.vault_bytes(), forged);
    let out = run(&sb, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    // Nothing was ever encrypted to mallory after the forgery.
    let out = age_decrypt_with(&mallory_id, &sb.vault());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
}

#[test]
fn the_merge_driver_refuses_a_forged_branch_and_signs_a_good_merge() {
    let sb = repo_with_setup(&[("db/password", "merge-base-1")]);
    let mallory_id = sb.root.path().join("mallory.txt");
    let mallory = age_keygen(&mallory_id);
    git_ok(&sb, &["checkout", "-q", "-b", "evil"]);
    let mut config = fs::read_to_string(sb.config()).unwrap();
    config.push_str(&format!(
        "\n[recipients.mallory]\nkey = \"{mallory}\"\nrole = \"developer\"\n"
    ));
    fs::write(sb.config(), config).unwrap();
    forge(&sb, r#"{"db":{"password":"merge-base-1"}}"#, &[&mallory]);
    gitutil::git_as(&sb, "Mallory", &["commit", "-qam", "innocent refactor"]);
    git_ok(&sb, &["checkout", "-q", "main"]);
    let secret = unique("added-on-main");
    sb.set("api/token", &secret);
    git_ok(&sb, &["commit", "-qam", "main: new token"]);

    let out = git(&sb, &["merge", "--no-edit", "evil"]);
    assert!(!out.status.success(), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("their version is refused"),
        "{}",
        all_output(&out)
    );
    git_ok(&sb, &["merge", "--abort"]);
    let out = age_decrypt_with(&mallory_id, &sb.vault());
    assert!(
        !out.status.success(),
        "mallory can read the vault after the merge"
    );

    // A branch a writer made merges, and the merged vault carries a valid signature.
    git_ok(&sb, &["checkout", "-q", "-b", "good"]);
    sb.set("feature/key", "good-branch-1");
    git_ok(&sb, &["commit", "-qam", "good"]);
    git_ok(&sb, &["checkout", "-q", "main"]);
    sb.set("api/token", "main-again-2");
    git_ok(&sb, &["commit", "-qam", "main again"]);
    let out = git(&sb, &["merge", "--no-edit", "good"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(sb.get("feature/key"), "good-branch-1");
    assert_eq!(sb.get("api/token"), "main-again-2");
    agevault(&sb, &["trust", "status"]).run().success();
    agevault(&sb, &["check"]).run().success();
}

#[test]
fn reverting_an_offboarding_is_refused_as_a_rollback() {
    let sb = repo_with_setup(&[("db/password", "known-to-bob-1")]);
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    git_ok(&sb, &["commit", "-qam", "add bob"]);
    sb.test(&["recipients", "remove", "bob"]).run().success();
    git_ok(&sb, &["commit", "-qam", "offboard bob"]);
    // The attacker reverts the offboarding: an older, validly signed version.
    gitutil::git_as(&sb, "Mallory", &["revert", "--no-edit", "HEAD"]);
    let out = run(&sb, &["get", "db/password"]);
    let err = refused(&out, &["known-to-bob-1"]);
    assert!(err.contains("rollback"), "{err}");
    assert!(err.contains("--allow-rollback"), "{err}");
    refused(&sb.test(&["set", "db/password"]).stdin("new-1").run(), &[]);
    let out = run(&sb, &["exec", "--", "true"]);
    refused(&out, &[]);
    // The explicit override works, loudly.
    let out = run(&sb, &["--allow-rollback", "get", "db/password"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        stderr(&out).starts_with("agevault: warning: ROLLBACK ACCEPTED: using vault "),
        "{}",
        stderr(&out)
    );
    // CI on a fresh machine (empty trust store) still sees it against the previous commit.
    let ci_store = tempfile::tempdir().unwrap();
    let out = agevault(&sb, &["check"])
        .env("AGEVAULT_TRUST_DIR", ci_store.path())
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("FAIL generation"), "{report}");
    assert!(report.contains("HEAD^"), "{report}");
}

#[test]
fn textconv_refuses_a_forged_file_and_its_planted_fingerprint_key() {
    let sb = repo_with_setup(&[("db/password", "textconv-real-1")]);
    let guesses = sb.root.path().join("guesses.age");
    fs::copy(sb.vault(), sb.root.path().join("real.age")).unwrap();
    forge(&sb, r#"{"db":{"password":"guess-1"}}"#, &[]);
    fs::copy(sb.vault(), &guesses).unwrap();
    fs::copy(sb.root.path().join("real.age"), sb.vault()).unwrap();
    let out = agevault(&sb, &["git", "textconv", guesses.to_str().unwrap()]).run();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("not signed by a trusted writer"), "{shown}");
    assert!(!shown.contains("fp:"), "{shown}");
    // The real, signed version is shown.
    let out = agevault(&sb, &["git", "textconv", sb.vault().to_str().unwrap()]).run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("db/password  fp:"));
}

#[test]
fn a_recipient_who_is_not_a_writer_reads_but_cannot_write() {
    let sb = Sandbox::with_secrets(&[("app/key", "reader-visible-1")]);
    let bob_home = sb.root.path().join("bob-home");
    let bob_identity = bob_home.join(".config/agevault/identity.txt");
    fs::create_dir_all(bob_identity.parent().unwrap()).unwrap();
    let bob = age_keygen(&bob_identity);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    let bob_signing = bob_home.join(".config/agevault/signing-key");
    sb.test(&["trust", "keygen", "-o", bob_signing.to_str().unwrap()])
        .run()
        .success();
    let as_bob = |args: &[&str]| sb.test(args).env("HOME", &bob_home);
    as_bob(&["get", "app/key"])
        .run()
        .success()
        .stdout_is("reader-visible-1");
    let before = sb.vault_bytes();
    let out = as_bob(&["set", "app/key"]).stdin("bob-was-here").run();
    let err = refused(&out, &["bob-was-here", "reader-visible-1"]);
    assert!(err.contains("not a writer"), "{err}");
    assert_eq!(sb.vault_bytes(), before);
    // whoami says so.
    as_bob(&["whoami"]).run().stdout_has("not a writer");
}

#[test]
fn writers_change_only_through_signatures_of_the_previous_writers() {
    let sb = Sandbox::with_secrets(&[("k", "writers-1")]);
    // A host pinned before the change follows it through the chain.
    let host_store = sb.root.path().join("host-trust");
    sb.test(&["get", "k"])
        .env("AGEVAULT_TRUST_DIR", &host_store)
        .run()
        .success();
    let bob_key = sb.root.path().join("bob-signing");
    let bob_pub = ssh_keygen(&bob_key);
    sb.test(&[
        "trust",
        "add-writer",
        "bob",
        &format!("{}.pub", bob_key.display()),
    ])
    .run()
    .success();
    sb.test(&["--signing-key", bob_key.to_str().unwrap(), "set", "k"])
        .stdin("by-bob-2")
        .run()
        .success();
    sb.test(&[
        "--signing-key",
        bob_key.to_str().unwrap(),
        "trust",
        "remove-writer",
        "alice",
    ])
    .run()
    .success();
    let out = sb
        .test(&["get", "k"])
        .env("AGEVAULT_TRUST_DIR", &host_store)
        .run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "by-bob-2",
        "{}",
        all_output(&out)
    );
    // alice is no writer any more.
    let err = refused(&sb.test(&["set", "k"]).stdin("by-alice-3").run(), &["by-alice-3"]);
    assert!(err.contains("not a writer"), "{err}");
    assert!(bob_pub.starts_with("ssh-ed25519 "));

    // An attacker writes their own [writers] and signs everything with their own key:
    // a valid-looking signature file, but not reached from the pinned writers.
    let mallory_key = sb.root.path().join("mallory-signing");
    let mallory_pub = ssh_keygen(&mallory_key);
    let config = fs::read_to_string(sb.config()).unwrap();
    let start = config.find("[writers]").unwrap();
    let forged_config = format!("{}[writers]\nmallory = \"{mallory_pub}\"\n", &config[..start]);
    fs::write(sb.config(), &forged_config).unwrap();
    forge(&sb, r#"{"k":"mallory-value"}"#, &[]);
    let digest = config_digest(&sb.config());
    let sha = sha256_file(&sb.vault());
    let old = fs::read_to_string(sb.sig()).unwrap();
    let vault_id = old.lines().find_map(|l| l.strip_prefix("vault-id: ")).unwrap();
    let message = format!(
        "agevault-signature 1\nvault-id: {vault_id}\nfile: secrets.json.age\ngeneration: 99\nvault-sha256: {sha}\n\
         config-sha256: {digest}\nwriter: mallory {mallory_pub}\nsigner: {mallory_pub}\n"
    );
    let armor = ssh_sign(&sb, &mallory_key, &message);
    fs::write(sb.sig(), format!("{message}{armor}")).unwrap();
    let out = run(&sb, &["get", "k"]);
    let err = refused(&out, &["mallory-value"]);
    assert!(
        err.contains("not reached from the trusted writers") || err.contains("not a writer any more"),
        "{err}"
    );
    let out = sb
        .test(&["exec", "--", "true"])
        .env("AGEVAULT_TRUST_DIR", &host_store)
        .run();
    refused(&out, &["mallory-value"]);
}

fn sha256_file(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// The attacker computes the config digest like agevault does (canonical JSON of the TOML).
fn config_digest(path: &Path) -> String {
    let script = "import sys,json,tomllib,hashlib;d=tomllib.load(open(sys.argv[1],'rb'));\
                  print(hashlib.sha256(json.dumps(d,sort_keys=True,separators=(',',':'),ensure_ascii=False).encode()).hexdigest())";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn ssh_sign(sb: &Sandbox, key: &Path, message: &str) -> String {
    let msg = sb.root.path().join(format!("msg-{}", unique("m")));
    fs::write(&msg, message).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "agevault", "-f"])
        .arg(key)
        .arg(&msg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    fs::read_to_string(format!("{}.sig", msg.display())).unwrap()
}

#[test]
fn ssh_keygen_verifies_the_signature_with_the_exported_allowed_signers() {
    let sb = Sandbox::with_secrets(&[("k", "stock-verify-1")]);
    let out = run(&sb, &["trust", "export-signers"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let allowed = sb.root.path().join("allowed_signers");
    fs::write(&allowed, &out.stdout).unwrap();
    let script = format!(
        "set -e; sig='{sig}'; sed '/^-----BEGIN SSH SIGNATURE-----$/,$d' \"$sig\" > msg; \
         awk '/^-----BEGIN SSH SIGNATURE-----$/{{p=1}} p{{print}} /^-----END SSH SIGNATURE-----$/{{exit}}' \"$sig\" > sig; \
         ssh-keygen -Y verify -f '{allowed}' -I alice -n agevault -s sig < msg; \
         grep -q \"^vault-sha256: $(sha256sum '{vault}' | cut -c1-64)$\" msg && echo HASH-OK",
        sig = sb.sig().display(),
        allowed = allowed.display(),
        vault = sb.vault().display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(sb.root.path())
        .output()
        .unwrap();
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Good \"agevault\" signature for alice"), "{text}");
    assert!(text.contains("HASH-OK"), "{text}");
    // A changed vault fails the same stock check.
    sb.test(&["get", "k"]).run().success();
    forge(&sb, r#"{"k":"x"}"#, &[]);
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(sb.root.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", all_output(&out));
}

#[test]
fn a_host_is_provisioned_from_an_anchor_and_strict_stores_never_pin_on_first_use() {
    let sb = Sandbox::with_secrets(&[("svc/password", "host-reads-1")]);
    let out = run(&sb, &["trust", "anchor"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let anchor = sb.root.path().join("anchor.json");
    fs::write(&anchor, &out.stdout).unwrap();
    let host = sb.root.path().join("host-store");
    let out = sb
        .test(&["trust", "provision", anchor.to_str().unwrap(), "--strict"])
        .env("AGEVAULT_TRUST_DIR", &host)
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    let out = sb
        .test(&["exec", "--", "sh", "-c", "printf %s \"$SVC_PASSWORD\""])
        .env("AGEVAULT_TRUST_DIR", &host)
        .run();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "host-reads-1",
        "{}",
        all_output(&out)
    );
    // Another vault is not pinned there, and a strict store refuses to pin it.
    let other = Sandbox::with_secrets(&[("x", "other-vault-1")]);
    let out = other.test(&["get", "x"]).env("AGEVAULT_TRUST_DIR", &host).run();
    let err = refused(&out, &["other-vault-1"]);
    assert!(err.contains("agevault trust provision"), "{err}");
    // The host store is private to its owner.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(fs::metadata(&host).unwrap().permissions().mode() & 0o777, 0o700);
    fs::set_permissions(&host, fs::Permissions::from_mode(0o777)).unwrap();
    let out = sb
        .test(&["get", "svc/password"])
        .env("AGEVAULT_TRUST_DIR", &host)
        .run();
    let err = refused(&out, &["host-reads-1"]);
    assert!(err.contains("writable by nobody else"), "{err}");
}

#[test]
fn an_unsigned_vault_is_signed_by_one_command_and_never_accepted_again() {
    let sb = Sandbox::with_secrets(&[("legacy/key", "legacy-value-1")]);
    // A vault from before signing: no .sig, no [writers].
    fs::remove_file(sb.sig()).unwrap();
    let config = fs::read_to_string(sb.config()).unwrap();
    let start = config.find("# Who may sign").unwrap();
    fs::write(sb.config(), &config[..start]).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let out = sb
        .test(&["get", "legacy/key"])
        .env("AGEVAULT_TRUST_DIR", fresh.path())
        .run();
    let err = refused(&out, &["legacy-value-1"]);
    assert!(err.contains("is not signed"), "{err}");
    let out = sb
        .test(&["trust", "sign", "--add-writer", "alice"])
        .env("AGEVAULT_TRUST_DIR", fresh.path())
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(fs::read_to_string(sb.config()).unwrap().contains("[writers]"));
    let out = sb
        .test(&["get", "legacy/key"])
        .env("AGEVAULT_TRUST_DIR", fresh.path())
        .run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "legacy-value-1");
    // Once pinned, removing the signature does not switch verification off.
    fs::remove_file(sb.sig()).unwrap();
    let out = sb
        .test(&["get", "legacy/key"])
        .env("AGEVAULT_TRUST_DIR", fresh.path())
        .run();
    let err = refused(&out, &["legacy-value-1"]);
    assert!(err.contains("never accepted"), "{err}");
}

#[test]
fn ssh_agent_holds_the_signing_key() {
    let sb = Sandbox::with_secrets(&[("k", "agent-1")]);
    let sock = sb.root.path().join("agent.sock");
    let agent = std::process::Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _agent = Kill(agent);
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = std::process::Command::new("ssh-add")
        .arg(sb.signing_key())
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    // The key file is gone: only the agent can sign now.
    let moved = sb.root.path().join("moved-key");
    fs::rename(sb.signing_key(), &moved).unwrap();
    let _ = fs::remove_file(format!("{}.pub", sb.signing_key().display()));
    let out = sb.test(&["set", "k"]).stdin("agent-2").run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    sb.test(&["set", "k"])
        .env("SSH_AUTH_SOCK", &sock)
        .stdin("agent-2")
        .run()
        .success();
    assert_eq!(sb.get("k"), "agent-2");
    sb.test(&["trust", "status"]).run().success();
}

#[test]
fn a_removed_writer_cannot_replay_the_change_that_once_added_them() {
    let sb = Sandbox::with_secrets(&[("db/url", "postgres://good.example/db")]);
    let mallory_key = sb.root.path().join("mallory-signing");
    let mallory_pub = ssh_keygen(&mallory_key);
    sb.test(&[
        "trust",
        "add-writer",
        "mallory",
        &format!("{}.pub", mallory_key.display()),
    ])
    .run()
    .success();
    // What mallory keeps from her time as a writer.
    let era_config = fs::read_to_string(sb.config()).unwrap();
    let era_sig = fs::read_to_string(sb.sig()).unwrap();
    sb.test(&["trust", "remove-writer", "mallory"]).run().success();
    let host_store = sb.root.path().join("host-trust");
    let host = |args: &[&str]| sb.test(args).env("AGEVAULT_TRUST_DIR", &host_store).run();
    assert!(host(&["get", "db/url"]).status.success());

    fs::write(sb.config(), &era_config).unwrap();
    forge(&sb, r#"{"db":{"url":"postgres://attacker.example/steal"}}"#, &[]);
    let field = |k: &str| {
        era_sig
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .unwrap()
            .to_owned()
    };
    let writers: Vec<&str> = era_sig
        .lines()
        .take_while(|l| !l.starts_with("-----"))
        .filter(|l| l.starts_with("writer: "))
        .collect();
    let message = format!(
        "agevault-signature 1\nvault-id: {}\nfile: secrets.json.age\ngeneration: 100\nvault-sha256: {}\n\
         config-sha256: {}\n{}\nsigner: {mallory_pub}\n",
        field("vault-id"),
        sha256_file(&sb.vault()),
        field("config-sha256"),
        writers.join("\n")
    );
    let armor = ssh_sign(&sb, &mallory_key, &message);
    let chain = &era_sig[era_sig.find("agevault-writer-change 1").unwrap()..];
    fs::write(sb.sig(), format!("{message}{armor}{chain}")).unwrap();
    let out = host(&["get", "db/url"]);
    refused(&out, &["attacker.example"]);
    let out = host(&["exec", "--", "sh", "-c", "echo $DB_URL"]);
    refused(&out, &["attacker.example"]);
    assert!(!fs::read_to_string(host_store.join("pins.json"))
        .unwrap()
        .contains("mallory"));
}

#[test]
fn the_merge_driver_refuses_a_branch_replaying_the_version_before_an_offboarding() {
    let sb = repo_with_setup(&[("db/password", "old-pass-0001")]);
    let bob_id = sb.root.path().join("bob.txt");
    let bob = age_keygen(&bob_id);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    git_ok(&sb, &["commit", "-qam", "add bob"]);
    let saved: Vec<(PathBuf, Vec<u8>)> = [sb.vault(), sb.sig(), sb.config()]
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    sb.test(&["recipients", "remove", "bob"]).run().success();
    sb.set("db/password", "new-pass-0002");
    git_ok(&sb, &["commit", "-qam", "offboard bob"]);
    git_ok(&sb, &["checkout", "-q", "-b", "evil"]);
    for (p, bytes) in &saved {
        fs::write(p, bytes).unwrap();
    }
    gitutil::git_as(&sb, "Mallory", &["commit", "-qam", "tidy up"]);
    git_ok(&sb, &["checkout", "-q", "main"]);
    let secret = unique("after-offboarding");
    sb.set("other/thing", &secret);
    git_ok(&sb, &["commit", "-qam", "main moves on"]);
    let out = git(&sb, &["merge", "--no-edit", "evil"]);
    assert!(!out.status.success(), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("older than the common ancestor"),
        "{}",
        all_output(&out)
    );
    git_ok(&sb, &["merge", "--abort"]);
    let out = age_decrypt_with(&bob_id, &sb.vault());
    assert!(!out.status.success(), "bob reads the vault after the merge");
    assert_eq!(sb.get("db/password"), "new-pass-0002");
}

#[test]
fn a_write_on_a_branch_that_restored_an_old_vault_never_reaches_a_removed_recipient() {
    let sb = repo_with_setup(&[("db/password", "old-pass-0001")]);
    let bob_id = sb.root.path().join("bob.txt");
    let bob = age_keygen(&bob_id);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    git_ok(&sb, &["commit", "-qam", "add bob"]);
    git_ok(&sb, &["branch", "before-offboarding"]);
    sb.test(&["recipients", "remove", "bob"]).run().success();
    git_ok(&sb, &["commit", "-qam", "offboard bob"]);
    git_ok(&sb, &["checkout", "-q", "before-offboarding"]);
    let secret = unique("brand-new");
    let out = sb.test(&["set", "api/token"]).stdin(secret.as_str()).run();
    let err = refused(&out, &[&secret]);
    assert!(err.contains("removed"), "{err}");
    let out = age_decrypt_with(&bob_id, &sb.vault());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
    // Adding them back on purpose is allowed.
    git_ok(&sb, &["checkout", "-q", "main"]);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
}

#[test]
fn check_in_ci_compares_with_the_last_signed_commit_not_just_the_parent() {
    let sb = repo_with_setup(&[("db/url", "postgres://good.example/db")]);
    // Commit 1 drops the signature, commit 2 brings an attacker's own vault.
    fs::remove_file(sb.sig()).unwrap();
    gitutil::git_as(&sb, "Mallory", &["commit", "-qam", "cleanup"]);
    let other = Sandbox::with_secrets(&[("db/url", "postgres://attacker.example/x")]);
    for name in [".agevault.toml", "secrets.json.age", "secrets.json.age.sig"] {
        fs::copy(other.repo().join(name), sb.repo().join(name)).unwrap();
    }
    git_ok(&sb, &["add", "-A"]);
    gitutil::git_as(&sb, "Mallory", &["commit", "-qm", "rotate"]);
    let ci = tempfile::tempdir().unwrap();
    let out = agevault(&sb, &["check", "--no-decrypt"])
        .env("AGEVAULT_TRUST_DIR", ci.path())
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("vault id changed"), "{report}");
    assert!(report.contains("HEAD~2"), "{report}");
}
