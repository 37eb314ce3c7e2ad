//! OpenPGP vaults (`*.gpg`): every command on a vault encrypted by the real `gpg` to
//! `pgp:FINGERPRINT` recipients, checked against stock `gpg -d`, with keys generated in a
//! temporary GNUPGHOME per test (and a scripted pinentry for a passphrase-protected key).

mod common;
mod gitutil;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{all_output, assert_no_leak, stderr, unique, Sandbox};

/// A temporary GNUPGHOME. Its path is short (gpg-agent's socket must fit in the 108
/// bytes of a unix socket path), and its agent is stopped when it is dropped.
struct Gnupg {
    dir: tempfile::TempDir,
}

impl Gnupg {
    fn new() -> Gnupg {
        let dir = tempfile::Builder::new().prefix("avg").tempdir_in("/tmp").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        Gnupg { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new("gpg");
        cmd.env("GNUPGHOME", self.path()).arg("--batch");
        cmd
    }

    fn gpg_ok(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("gpg must be installed");
        assert!(out.status.success(), "gpg {args:?}: {}", all_output(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new key (ed25519 primary, cv25519 encryption subkey); returns its fingerprint.
    fn generate(&self, name: &str) -> String {
        self.generate_with(name, "")
    }

    fn generate_with(&self, name: &str, passphrase: &str) -> String {
        let email = format!("{}@example.org", name.to_lowercase());
        self.gpg_ok(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            &format!("{name} <{email}>"),
            "future-default",
            "default",
            "never",
        ]);
        self.fingerprints(&format!("<{email}>"))[0].clone()
    }

    /// The primary and subkey fingerprints of the key `who` names.
    fn fingerprints(&self, who: &str) -> Vec<String> {
        self.gpg_ok(&["--with-colons", "--list-keys", who])
            .lines()
            .filter(|l| l.starts_with("fpr:"))
            .map(|l| l.split(':').nth(9).unwrap().to_owned())
            .collect()
    }

    /// The long key id of the encryption subkey (what the vault file names).
    fn encryption_key_id(&self, fpr: &str) -> String {
        let sub = self.fingerprints(fpr)[1].clone();
        sub[24..].to_owned()
    }

    /// Copies the public key `fpr` into `other`'s keyring.
    fn export_to(&self, fpr: &str, other: &Gnupg) {
        let out = self
            .command()
            .args(["--export", "--armor", fpr])
            .output()
            .unwrap();
        assert!(out.status.success());
        let import = other.path().join("import.asc");
        fs::write(&import, &out.stdout).unwrap();
        other.gpg_ok(&["--import", import.to_str().unwrap()]);
        fs::remove_file(import).unwrap();
    }

    /// Stock `gpg -d FILE`.
    fn decrypt(&self, file: &Path) -> Output {
        self.command()
            .args(["--quiet", "--decrypt"])
            .arg(file)
            .output()
            .unwrap()
    }

    /// Stock `gpg -e -a` of `plaintext` to `fingerprints` into `out`.
    fn encrypt_to(&self, plaintext: &[u8], fingerprints: &[&str], out: &Path) {
        use std::io::Write;
        let mut cmd = self.command();
        cmd.args(["--yes", "--armor", "--trust-model", "always", "-o"])
            .arg(out);
        for f in fingerprints {
            cmd.args(["-r", f]);
        }
        let mut child = cmd
            .arg("--encrypt")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(plaintext).unwrap();
        assert!(child.wait().unwrap().success());
    }

    fn kill_agent(&self) {
        let _ = std::process::Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.path())
            .output();
    }
}

impl Drop for Gnupg {
    fn drop(&mut self) {
        self.kill_agent();
    }
}

/// agevault in the sandbox with this GNUPGHOME.
fn av(sb: &Sandbox, g: &Gnupg, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(sb.command(args));
    cmd.env("GNUPGHOME", g.path());
    cmd
}

fn run(sb: &Sandbox, g: &Gnupg, args: &[&str]) -> Output {
    av(sb, g, args).output().unwrap()
}

fn vault(sb: &Sandbox) -> PathBuf {
    sb.repo().join("secrets.json.gpg")
}

fn set(sb: &Sandbox, g: &Gnupg, path: &str, value: &str) {
    let out = av(sb, g, &["set", path]).write_stdin(value).output().unwrap();
    assert!(out.status.success(), "set {path}: {}", all_output(&out));
    assert_no_leak(&out, value);
}

fn get(sb: &Sandbox, g: &Gnupg, path: &str) -> String {
    let out = run(sb, g, &["get", path]);
    assert!(out.status.success(), "get {path}: {}", all_output(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// A sandbox after `init --pgp` with a key of Alice's; returns it, the GNUPGHOME and the
/// key's fingerprint.
fn gpg_vault() -> (Sandbox, Gnupg, String) {
    let sb = Sandbox::empty();
    let g = Gnupg::new();
    let fpr = g.generate("Alice");
    let out = run(&sb, &g, &["init", "--pgp", &fpr]);
    assert!(out.status.success(), "{}", all_output(&out));
    (sb, g, fpr)
}

/// The decrypted document, by stock gpg with `g`'s keys.
fn stock_document(g: &Gnupg, file: &Path) -> serde_json::Value {
    let out = g.decrypt(file);
    assert!(out.status.success(), "gpg -d: {}", all_output(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Exit 1, one error line on stderr (and at most a `hint:` line), none of `values` anywhere.
fn refused(out: &Output, values: &[&str]) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", all_output(out));
    let err = stderr(out);
    common::error_and_hint(&err);
    for v in values {
        assert_no_leak(out, v);
    }
    err
}

#[test]
fn init_set_get_and_stock_gpg_agree() {
    let (sb, g, fpr) = gpg_vault();
    let config = fs::read_to_string(sb.config()).unwrap();
    assert!(config.contains("vault = \"secrets.json.gpg\""), "{config}");
    assert!(config.contains(&format!("key = \"pgp:{fpr}\"")), "{config}");
    // No age identity was made: the key is gpg's.
    assert!(!sb.identity().exists());
    let attributes = fs::read_to_string(sb.repo().join(".gitattributes")).unwrap();
    assert!(
        attributes.contains("secrets.json.gpg diff=agevault merge=agevault"),
        "{attributes}"
    );

    let value = unique("gpg-db-password");
    set(&sb, &g, "db/password", &value);
    assert_eq!(get(&sb, &g, "db/password"), value);
    let bytes = fs::read_to_string(vault(&sb)).unwrap();
    assert!(bytes.starts_with("-----BEGIN PGP MESSAGE-----"), "{bytes}");
    assert!(!bytes.contains(&value));

    // Stock gpg reads the same document.
    let doc = stock_document(&g, &vault(&sb));
    assert_eq!(doc["secrets"]["db"]["password"], value.as_str());
    assert_eq!(doc["recipients"], serde_json::json!([format!("pgp:{fpr}")]));

    // Nothing in the repository holds the value, and no plaintext file was left.
    for entry in fs::read_dir(sb.repo()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let content = fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&content).contains(&value),
                "{} holds the value",
                path.display()
            );
        }
    }
    let mut names: Vec<String> = fs::read_dir(sb.repo())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".agevault.toml",
            ".gitattributes",
            ".gitignore",
            "secrets.json.gpg",
            "secrets.json.gpg.sig"
        ]
    );

    // ls, and whoami naming the gpg key as the recipient.
    let ls = run(&sb, &g, &["ls"]);
    assert_eq!(String::from_utf8_lossy(&ls.stdout), "db/password\n");
    let who = run(&sb, &g, &["whoami"]);
    assert!(who.status.success(), "{}", all_output(&who));
    let who = String::from_utf8_lossy(&who.stdout).into_owned();
    assert!(
        who.contains(&format!("gpg\tpgp:{fpr}\trecipient `alice`")),
        "{who}"
    );
}

#[test]
fn exec_edit_rotate_and_rm_work_on_a_gpg_vault() {
    let (sb, g, _) = gpg_vault();
    let first = unique("gpg-exec-pw");
    set(&sb, &g, "db/password", &first);

    // exec: an env var, and a file on a memory filesystem.
    let script = format!("test \"$DB_PASSWORD\" = '{first}' && echo ENV-OK");
    let out = run(&sb, &g, &["exec", "--", "sh", "-c", &script]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ENV-OK\n");
    let out = run(
        &sb,
        &g,
        &[
            "exec",
            "--file",
            "PW_FILE=db/password",
            "--",
            "sh",
            "-c",
            "cat \"$PW_FILE\"",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), first);

    // edit with a scripted $EDITOR.
    let edited = unique("gpg-edited-pw");
    let editor = sb.root.path().join("editor.sh");
    fs::write(
        &editor,
        format!("#!/bin/sh\nsed -i 's/{first}/{edited}/' \"$1\"\n"),
    )
    .unwrap();
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    let out = av(&sb, &g, &["edit"]).env("EDITOR", &editor).output().unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_no_leak(&out, &edited);
    assert_eq!(get(&sb, &g, "db/password"), edited);

    // rotate with a generator; stock gpg sees the new value.
    let out = run(&sb, &g, &["rotate", "db/password", "--generate", "password:24"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let rotated = get(&sb, &g, "db/password");
    assert_eq!(rotated.len(), 24);
    assert_ne!(rotated, edited);
    let doc = stock_document(&g, &vault(&sb));
    assert_eq!(doc["secrets"]["db"]["password"], rotated.as_str());

    // rm.
    set(&sb, &g, "other/key", &unique("gpg-other"));
    let out = run(&sb, &g, &["rm", "db/password"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(
        String::from_utf8_lossy(&run(&sb, &g, &["ls"]).stdout),
        "other/key\n"
    );
    let doc = stock_document(&g, &vault(&sb));
    assert!(doc["secrets"].get("db").is_none(), "{doc}");
}

#[test]
fn recipients_add_and_remove_re_encrypt_for_stock_gpg() {
    let (sb, alice, alice_fpr) = gpg_vault();
    let value = unique("gpg-shared-pw");
    set(&sb, &alice, "k", &value);
    let bob = Gnupg::new();
    let bob_fpr = bob.generate("Bob");

    // Bob's public key is not in Alice's keyring yet: refused, nothing changed.
    let config_before = fs::read(sb.config()).unwrap();
    let vault_before = fs::read(vault(&sb)).unwrap();
    let out = run(
        &sb,
        &alice,
        &["recipients", "add", "bob", &format!("pgp:{bob_fpr}")],
    );
    let err = refused(&out, &[&value]);
    assert!(
        err.contains("not in your gpg keyring") && err.contains("gpg --import"),
        "{err}"
    );
    assert_eq!(fs::read(sb.config()).unwrap(), config_before);
    assert_eq!(fs::read(vault(&sb)).unwrap(), vault_before);

    // Imported (and given as gpg prints it: lower case, in groups): added and re-encrypted.
    bob.export_to(&bob_fpr, &alice);
    let spaced: String = bob_fpr
        .to_lowercase()
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let out = run(
        &sb,
        &alice,
        &["recipients", "add", "bob", &format!("pgp:{spaced}")],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    let config = fs::read_to_string(sb.config()).unwrap();
    assert!(config.contains(&format!("key = \"pgp:{bob_fpr}\"")), "{config}");
    let as_bob = stock_document(&bob, &vault(&sb));
    assert_eq!(as_bob["secrets"]["k"], value.as_str());
    // Bob reads it with agevault too, through his own gpg.
    assert_eq!(get(&sb, &bob, "k"), value);
    let check = run(&sb, &alice, &["check"]);
    assert!(check.status.success(), "{}", all_output(&check));
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        report.contains(&format!("{} (`alice`)", alice.encryption_key_id(&alice_fpr)))
            && report.contains(&format!("{} (`bob`)", bob.encryption_key_id(&bob_fpr))),
        "{report}"
    );

    // Removed: the new version is closed to Bob's key, as stock gpg shows.
    let out = run(&sb, &alice, &["recipients", "remove", "bob"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "k\n");
    assert_no_leak(&out, &value);
    let denied = bob.decrypt(&vault(&sb));
    assert!(!denied.status.success());
    assert_no_leak(&denied, &value);
    let out = run(&sb, &bob, &["get", "k"]);
    let err = refused(&out, &[&value]);
    assert!(err.contains("gpg holds the secret key of none of them"), "{err}");
    assert_eq!(get(&sb, &alice, "k"), value);
    assert!(!fs::read_to_string(sb.config()).unwrap().contains(&bob_fpr));
}

#[test]
fn mixing_age_and_pgp_recipients_in_one_file_is_refused() {
    // An age key for a .gpg vault.
    let (sb, g, _) = gpg_vault();
    let value = unique("gpg-mix-pw");
    set(&sb, &g, "k", &value);
    let carol = common::age_keygen(&sb.root.path().join("carol.txt"));
    let config_before = fs::read(sb.config()).unwrap();
    let vault_before = fs::read(vault(&sb)).unwrap();
    let out = run(&sb, &g, &["recipients", "add", "carol", &carol]);
    let err = refused(&out, &[&value]);
    assert!(
        err.contains("one vault file is encrypted by one tool")
            && err.contains("recipient `carol` has an age/ssh key")
            && err.contains("scope")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(fs::read(sb.config()).unwrap(), config_before);
    assert_eq!(fs::read(vault(&sb)).unwrap(), vault_before);

    // An OpenPGP key for an age vault.
    let aged = Sandbox::with_secrets(&[("k", &value)]);
    let bob = g.generate("Bob");
    let config_before = fs::read(aged.config()).unwrap();
    let vault_before = aged.vault_bytes();
    let out = run(&aged, &g, &["recipients", "add", "bob", &format!("pgp:{bob}")]);
    let err = refused(&out, &[&value]);
    assert!(
        err.contains("an OpenPGP key") && err.contains("is an age file") && err.contains(".gpg"),
        "{err}"
    );
    assert_eq!(fs::read(aged.config()).unwrap(), config_before);
    assert_eq!(aged.vault_bytes(), vault_before);

    // A scope whose readers mix the two kinds, written by hand: a config error.
    let mut text = String::from_utf8(config_before).unwrap();
    text.push_str(&format!(
        "\n[recipients.bob]\nkey = \"pgp:{bob}\"\n\n[scopes.ops]\npaths = [\"ops/**\"]\nreaders = [\"alice\", \"bob\"]\n"
    ));
    fs::write(aged.config(), &text).unwrap();
    let out = run(&aged, &g, &["ls"]);
    let err = refused(&out, &[&value]);
    assert!(
        err.contains("[scopes.ops] readers mix kinds of key") && err.contains("scope per key type"),
        "{err}"
    );

    // init: a .gpg name needs --pgp, and --pgp a .gpg name.
    let fresh = Sandbox::empty();
    let out = run(&fresh, &g, &["--vault", "secrets.json.gpg", "init"]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(stderr(&out).contains("--pgp FINGERPRINT"), "{}", stderr(&out));
    let out = run(
        &fresh,
        &g,
        &["--vault", "secrets.json.age", "init", "--pgp", &bob],
    );
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(stderr(&out).contains("ends in .gpg"), "{}", stderr(&out));
    assert!(!fresh.config().exists());
}

#[test]
fn short_unknown_and_subkey_fingerprints_are_refused() {
    let (sb, g, fpr) = gpg_vault();
    let config_before = fs::read(sb.config()).unwrap();
    let short = &fpr[32..];
    let out = run(&sb, &g, &["recipients", "add", "x", &format!("pgp:{short}")]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(stderr(&out).contains("short key id"), "{}", stderr(&out));
    let out = run(
        &sb,
        &g,
        &["recipients", "add", "x", &format!("pgp:{}", &fpr[24..])],
    );
    assert!(stderr(&out).contains("short key id"), "{}", stderr(&out));

    let unknown = "0123456789ABCDEF0123456789ABCDEF01234567";
    let out = run(&sb, &g, &["recipients", "add", "x", &format!("pgp:{unknown}")]);
    let err = refused(&out, &[]);
    assert!(
        err.contains("not in your gpg keyring") && err.contains("gpg --import"),
        "{err}"
    );

    let out = run(&sb, &g, &["recipients", "add", "x", unknown]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(
        stderr(&out).contains(&format!("pgp:{unknown}")),
        "{}",
        stderr(&out)
    );

    let subkey = g.fingerprints(&fpr)[1].clone();
    let out = run(&sb, &g, &["recipients", "add", "x", &format!("pgp:{subkey}")]);
    let err = refused(&out, &[]);
    assert!(err.contains("is a subkey") && err.contains(&fpr), "{err}");
    assert_eq!(fs::read(sb.config()).unwrap(), config_before);

    // init with a key gpg does not have creates nothing.
    let fresh = Sandbox::empty();
    let out = run(&fresh, &g, &["init", "--pgp", unknown]);
    let err = refused(&out, &[]);
    assert!(err.contains("not in your gpg keyring"), "{err}");
    assert!(!fresh.config().exists());
    assert!(!fresh.repo().join("secrets.json.gpg").exists());
}

#[test]
fn check_reads_the_key_ids_with_and_without_keys() {
    let (sb, g, fpr) = gpg_vault();
    set(&sb, &g, "k", &unique("gpg-check"));
    let key_id = g.encryption_key_id(&fpr);
    let out = run(&sb, &g, &["check"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.contains(&format!(
            "note pgp-recipients: the main vault (secrets.json.gpg) is encrypted to OpenPGP key id(s) {key_id} (`alice`)"
        )),
        "{report}"
    );

    // CI without any key: format and key ids still checked; nothing to match them with.
    let empty = Gnupg::new();
    let out = run(&sb, &empty, &["check", "--no-decrypt"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains(&format!("key id(s) {key_id}")), "{report}");
    assert!(report.contains("is not in this gpg keyring"), "{report}");
    assert!(report.contains("skipped decrypt"), "{report}");
    let out = run(&sb, &empty, &["check", "--json", "--no-decrypt"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true, "{json}");

    // With the public key but not the secret one, decryption fails and names the key.
    g.export_to(&fpr, &empty);
    let out = run(&sb, &empty, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.contains("FAIL decrypt: no key of yours can decrypt")
            && report.contains(&format!("{key_id} (recipient `alice`)")),
        "{report}"
    );

    // A damaged file is a format failure, without a key.
    let text = fs::read_to_string(vault(&sb)).unwrap();
    fs::write(vault(&sb), &text[..text.len() / 2]).unwrap();
    let out = run(&sb, &empty, &["check", "--no-decrypt"]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.contains("FAIL format") && report.contains("truncated"),
        "{report}"
    );
}

#[test]
fn drift_between_the_file_and_the_config_is_reported_by_key_id() {
    let (sb, alice, alice_fpr) = gpg_vault();
    let value = unique("gpg-drift");
    set(&sb, &alice, "k", &value);
    let bob = Gnupg::new();
    let bob_fpr = bob.generate("Bob");
    bob.export_to(&bob_fpr, &alice);
    run(
        &sb,
        &alice,
        &["recipients", "add", "bob", &format!("pgp:{bob_fpr}")],
    );
    let mallory = Gnupg::new();
    let mallory_fpr = mallory.generate("Mallory");
    mallory.export_to(&mallory_fpr, &alice);

    // A writer signs a file re-encrypted by hand to Alice and Mallory (not Bob).
    let plain = alice.decrypt(&vault(&sb));
    assert!(plain.status.success());
    alice.encrypt_to(&plain.stdout, &[&alice_fpr, &mallory_fpr], &vault(&sb));
    sb.sign_file_as_is(&vault(&sb));
    let out = run(&sb, &alice, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let mallory_id = mallory.encryption_key_id(&mallory_fpr);
    assert!(
        report.contains(&format!(
            "FAIL pgp-recipients: the main vault (secrets.json.gpg) is also encrypted to OpenPGP key id {mallory_id}, which is no configured reader's key"
        )),
        "{report}"
    );
    assert!(
        report.contains("is not encrypted to recipient `bob`")
            && report.contains("cannot decrypt this version"),
        "{report}"
    );
    assert_no_leak(&out, &value);

    // The next write encrypts to the configured readers again.
    set(&sb, &alice, "k2", &unique("gpg-drift-2"));
    let out = run(&sb, &alice, &["check"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!mallory.decrypt(&vault(&sb)).status.success());
    assert_eq!(stock_document(&bob, &vault(&sb))["secrets"]["k"], value.as_str());
}

/// `git ARGS` as Alice, with this GNUPGHOME for the drivers.
fn git(sb: &Sandbox, g: &Gnupg, args: &[&str]) -> Output {
    std::process::Command::new("git")
        .env_clear()
        .env("PATH", gitutil::path_with_agevault())
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("GNUPGHOME", g.path())
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.org")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.org")
        .env("GIT_PAGER", "cat")
        .current_dir(sb.repo())
        .args(args)
        .output()
        .unwrap()
}

fn git_ok(sb: &Sandbox, g: &Gnupg, args: &[&str]) -> String {
    let out = git(sb, g, args);
    assert!(out.status.success(), "git {args:?}: {}", all_output(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn git_diff_log_and_merge_work_on_a_gpg_vault() {
    let (sb, g, _) = gpg_vault();
    let base_a = unique("gpg-git-a");
    let base_b = unique("gpg-git-b");
    set(&sb, &g, "a/x", &base_a);
    set(&sb, &g, "b/y", &base_b);
    git_ok(&sb, &g, &["init", "-q", "-b", "main"]);
    let out = av(&sb, &g, &["git", "setup"])
        .env("PATH", gitutil::path_with_agevault())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    git_ok(&sb, &g, &["add", "-A"]);
    git_ok(&sb, &g, &["commit", "-q", "-m", "initial"]);

    git_ok(&sb, &g, &["checkout", "-q", "-b", "feature"]);
    let feature_b = unique("gpg-git-feature-b");
    set(&sb, &g, "b/y", &feature_b);
    git_ok(&sb, &g, &["commit", "-qam", "feature: b"]);
    git_ok(&sb, &g, &["checkout", "-q", "main"]);
    let main_a = unique("gpg-git-main-a");
    set(&sb, &g, "a/x", &main_a);

    // textconv: the diff names the changed path by fingerprint, never the value.
    let diff = git(&sb, &g, &["diff"]);
    assert!(diff.status.success(), "{}", all_output(&diff));
    let text = all_output(&diff);
    assert!(text.contains("-a/x  fp:") && text.contains("+a/x  fp:"), "{text}");
    assert!(!text.contains("b/y  fp:") || !text.contains("+b/y"), "{text}");
    for v in [&base_a, &main_a, &base_b] {
        assert!(!text.contains(v.as_str()), "{text}");
    }
    git_ok(&sb, &g, &["commit", "-qam", "main: a"]);

    // The merge driver merges the two sides' secrets per path.
    let out = git(&sb, &g, &["merge", "--no-edit", "feature"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!all_output(&out).contains("CONFLICT"), "{}", all_output(&out));
    assert_eq!(get(&sb, &g, "a/x"), main_a);
    assert_eq!(get(&sb, &g, "b/y"), feature_b);
    let doc = stock_document(&g, &vault(&sb));
    assert_eq!(doc["secrets"]["b"]["y"], feature_b.as_str());
    let out = run(&sb, &g, &["check"]);
    assert!(out.status.success(), "{}", all_output(&out));

    // log decrypts each version with gpg.
    let out = av(&sb, &g, &["log"])
        .env("PATH", gitutil::path_with_agevault())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        log.contains("feature: b") && log.contains("changed  b/y"),
        "{log}"
    );
    assert!(log.contains("main: a") && log.contains("changed  a/x"), "{log}");
}

#[test]
fn a_vault_forged_with_stock_gpg_is_refused() {
    let (sb, alice, alice_fpr) = gpg_vault();
    let real = unique("gpg-real-url");
    set(&sb, &alice, "db/url", &real);
    // The attacker has the public key (it is public) and the stock gpg CLI.
    let attacker = Gnupg::new();
    let out = alice
        .command()
        .args(["--export", "--armor", &alice_fpr])
        .output()
        .unwrap();
    let key_file = sb.root.path().join("alice.asc");
    fs::write(&key_file, &out.stdout).unwrap();
    attacker.gpg_ok(&["--import", key_file.to_str().unwrap()]);
    let evil = unique("gpg-evil-url");
    let doc = format!(
        r#"{{"version":1,"secrets":{{"db":{{"url":"{evil}"}}}},"meta":{{}},"recipients":["pgp:{alice_fpr}"]}}"#
    );
    attacker.encrypt_to(doc.as_bytes(), &[&alice_fpr], &vault(&sb));
    let forged = fs::read(vault(&sb)).unwrap();
    // gpg itself has no objection: OpenPGP encryption does not say who wrote a file.
    assert!(alice.decrypt(&vault(&sb)).status.success());

    let marker = sb.root.path().join("child-ran");
    for args in [
        vec!["get", "db/url"],
        vec!["exec", "--", "touch", marker.to_str().unwrap()],
        vec!["ls"],
    ] {
        let out = run(&sb, &alice, &args);
        let err = refused(&out, &[&evil, &real]);
        assert!(err.contains("secrets.json.gpg"), "{args:?}: {err}");
    }
    let out = av(&sb, &alice, &["set", "db/other"])
        .write_stdin("x-value-1")
        .output()
        .unwrap();
    refused(&out, &[&evil, &real]);
    assert!(!marker.exists());
    assert_eq!(fs::read(vault(&sb)).unwrap(), forged);
}

#[test]
fn stock_ssh_keygen_verifies_the_signature_of_a_gpg_vault() {
    let (sb, g, _) = gpg_vault();
    set(&sb, &g, "k", &unique("gpg-sig"));
    let out = run(&sb, &g, &["trust", "export-signers"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let allowed = sb.root.path().join("allowed_signers");
    fs::write(&allowed, &out.stdout).unwrap();
    let script = format!(
        "set -e; sig='{sig}'; sed '/^-----BEGIN SSH SIGNATURE-----$/,$d' \"$sig\" > msg; \
         awk '/^-----BEGIN SSH SIGNATURE-----$/{{p=1}} p{{print}} /^-----END SSH SIGNATURE-----$/{{exit}}' \"$sig\" > sig; \
         ssh-keygen -Y verify -f '{allowed}' -I alice -n agevault -s sig < msg; \
         grep -q \"^vault-sha256: $(sha256sum '{vault}' | cut -c1-64)$\" msg && echo HASH-OK",
        sig = sb.repo().join("secrets.json.gpg.sig").display(),
        allowed = allowed.display(),
        vault = vault(&sb).display()
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
}

#[test]
fn a_gpg_scope_file_beside_an_age_main_vault() {
    let shared = unique("gpg-scope-shared");
    let sb = Sandbox::with_secrets(&[("shared/x", &shared)]);
    // Alice holds an age identity and a gpg key; the host pve1 has only a gpg key.
    let alice = Gnupg::new();
    let alice_fpr = alice.generate("Alice");
    let host = Gnupg::new();
    let host_fpr = host.generate("Pve1");
    host.export_to(&host_fpr, &alice);
    let mut text = fs::read_to_string(sb.config()).unwrap();
    text.push_str(&format!(
        "\n[recipients.alice-gpg]\nkey = \"pgp:{alice_fpr}\"\nrole = \"developer\"\n\n\
         [recipients.pve1]\nkey = \"pgp:{host_fpr}\"\nrole = \"host\"\n\n\
         [scopes.prod]\npaths = [\"prod/**\"]\nreaders = [\"alice-gpg\", \"role:host\"]\n"
    ));
    fs::write(sb.config(), text).unwrap();
    let out = run(&sb, &alice, &["trust", "sign"]);
    assert!(out.status.success(), "{}", all_output(&out));

    let prod = unique("gpg-scope-prod");
    set(&sb, &alice, "prod/db/password", &prod);
    let scope_file = sb.repo().join("secrets.prod.json.gpg");
    assert!(fs::read_to_string(&scope_file)
        .unwrap()
        .starts_with("-----BEGIN PGP MESSAGE-----"));
    // Stock tools: gpg with the host's key reads the scope; age reads the main vault,
    // which does not hold the scope's secret.
    let doc = stock_document(&host, &scope_file);
    assert_eq!(doc["secrets"]["prod"]["db"]["password"], prod.as_str());
    let main = sb.age_decrypt();
    assert!(main.contains(&shared) && !main.contains(&prod), "{main}");

    // The host (no age identity at all) reads its scope through gpg, and only that.
    let host_home = sb.root.path().join("host-home");
    fs::create_dir_all(&host_home).unwrap();
    let as_host = |args: &[&str]| av(&sb, &host, args).env("HOME", &host_home).output().unwrap();
    let out = as_host(&["get", "prod/db/password"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), prod);
    let out = as_host(&[
        "exec",
        "--env",
        "PW=prod/db/password",
        "--",
        "sh",
        "-c",
        "printf %s \"$PW\"",
    ]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), prod);
    let out = as_host(&["get", "shared/x"]);
    refused(&out, &[&shared, &prod]);

    // Alice's check covers both files; the scope's key ids are named.
    let out = run(&sb, &alice, &["check"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.contains("scope `prod` (secrets.prod.json.gpg) is encrypted to OpenPGP key id(s)")
            && report.contains("(`pve1`)"),
        "{report}"
    );

    // A new OpenPGP reader joins the scope in one command; an age reader cannot.
    let ci = Gnupg::new();
    let ci_fpr = ci.generate("Ci");
    ci.export_to(&ci_fpr, &alice);
    let out = run(
        &sb,
        &alice,
        &[
            "recipients",
            "add",
            "ci",
            &format!("pgp:{ci_fpr}"),
            "--role",
            "ci",
            "--scopes",
            "prod",
        ],
    );
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(stderr(&out).contains("not the main vault"), "{}", stderr(&out));
    assert_eq!(
        stock_document(&ci, &scope_file)["secrets"]["prod"]["db"]["password"],
        prod.as_str()
    );
    let config_before = fs::read(sb.config()).unwrap();
    let out = run(&sb, &alice, &["scopes", "grant", "prod", "alice"]);
    let err = refused(&out, &[&prod]);
    assert!(err.contains("readers mix kinds of key"), "{err}");
    assert_eq!(fs::read(sb.config()).unwrap(), config_before);
}

/// A pinentry (the Assuan protocol gpg-agent speaks) that answers GETPIN with the
/// contents of `pass`, or cancels when `pass` holds CANCEL; it logs each request.
fn install_pinentry(g: &Gnupg) -> (PathBuf, PathBuf) {
    let script = g.path().join("pinentry.sh");
    let pass = g.path().join("pass");
    let log = g.path().join("pinentry.log");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho 'OK Pleased to meet you'\n\
             while IFS= read -r line; do\n\
               case \"$line\" in\n\
                 GETPIN*) echo GETPIN >> '{log}'\n\
                   if [ \"$(cat '{pass}')\" = CANCEL ]; then echo 'ERR 83886179 Operation cancelled <Pinentry>';\n\
                   else printf 'D %s\\nOK\\n' \"$(cat '{pass}')\"; fi;;\n\
                 BYE*) echo OK; exit 0;;\n\
                 *) echo OK;;\n\
               esac\n\
             done\n",
            log = log.display(),
            pass = pass.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        g.path().join("gpg-agent.conf"),
        format!("pinentry-program {}\n", script.display()),
    )
    .unwrap();
    (pass, log)
}

#[test]
fn a_passphrase_protected_key_is_unlocked_by_gpg_agents_pinentry() {
    let g = Gnupg::new();
    let (pass, log) = install_pinentry(&g);
    let passphrase = unique("pin-pass");
    fs::write(&pass, &passphrase).unwrap();
    let fpr = g.generate_with("Alice", &passphrase);
    g.kill_agent();
    let sb = Sandbox::empty();
    let out = run(&sb, &g, &["init", "--pgp", &fpr]);
    assert!(out.status.success(), "{}", all_output(&out));
    let value = unique("gpg-pinentry-value");
    set(&sb, &g, "k", &value);
    assert_eq!(get(&sb, &g, "k"), value);
    assert!(fs::read_to_string(&log).unwrap().contains("GETPIN"));
    let before = fs::read(vault(&sb)).unwrap();

    // A wrong passphrase at the pinentry: a clear error, the vault untouched.
    fs::write(&pass, "not-the-passphrase").unwrap();
    g.kill_agent();
    let out = run(&sb, &g, &["get", "k"]);
    let err = refused(&out, &[&value, &passphrase]);
    assert!(
        err.contains("passphrase or PIN given to gpg's pinentry was wrong"),
        "{err}"
    );
    let out = av(&sb, &g, &["set", "k2"])
        .write_stdin("v2-value")
        .output()
        .unwrap();
    refused(&out, &[&value, &passphrase]);
    assert_eq!(fs::read(vault(&sb)).unwrap(), before);

    // A cancelled pinentry.
    fs::write(&pass, "CANCEL").unwrap();
    g.kill_agent();
    let out = run(&sb, &g, &["get", "k"]);
    let err = refused(&out, &[&value]);
    assert!(err.contains("was cancelled"), "{err}");
}

#[test]
fn a_missing_gpg_is_named() {
    let (sb, g, _) = gpg_vault();
    let value = unique("gpg-missing");
    set(&sb, &g, "k", &value);
    let out = av(&sb, &g, &["get", "k"])
        .env("AGEVAULT_GPG", "/nonexistent/bin/gpg2")
        .output()
        .unwrap();
    let err = refused(&out, &[&value]);
    assert!(
        err.contains("`/nonexistent/bin/gpg2` (GnuPG) is not installed") && err.contains("AGEVAULT_GPG"),
        "{err}"
    );
    let empty_path = sb.root.path().join("empty-bin");
    fs::create_dir_all(&empty_path).unwrap();
    let out = av(&sb, &g, &["get", "k"])
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    let err = refused(&out, &[&value]);
    assert!(err.contains("`gpg` (GnuPG) is not installed"), "{err}");
}
