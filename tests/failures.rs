//! Every failure is one clear line on stderr, a non-zero exit, an untouched vault,
//! no secret in the output and no panic.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{age_keygen, all_output, assert_no_leak, public_key, stderr, unique, Outcome, Sandbox};

/// Asserts a clean failure with exit `code`: one `agevault: error:` line on stderr (and
/// at most a `hint:` line under it), nothing on stdout, no panic or debug dump, none of
/// `secrets` shown. Returns stderr.
fn assert_clean_failure(out: &Output, code: i32, secrets: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout+stderr: {}",
        all_output(out)
    );
    assert!(out.stdout.is_empty(), "stdout on failure: {}", all_output(out));
    common::error_and_hint(&err);
    assert!(
        err.len() > "agevault: error: ".len() + 10,
        "not a sentence: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    for dump in ["Os {", "Custom {", "kind: ", "Error {", "Some(", "None"] {
        assert!(!err.contains(dump), "debug dump ({dump}) in: {err}");
    }
    for secret in secrets {
        assert_no_leak(out, secret);
    }
    err
}

/// Runs `set PATH` with `value` on stdin.
fn set(sb: &Sandbox, path: &str, value: &str) -> Outcome {
    sb.test(&["set", path]).stdin(value).run()
}

fn run(sb: &Sandbox, args: &[&str]) -> Outcome {
    sb.test(args).run()
}

/// Checks that reading, setting, removing and editing all fail with `needle`
/// and leave the vault as it is.
fn assert_every_command_refuses(sb: &Sandbox, needle: &str, secrets: &[&str]) {
    let before = sb.vault_bytes();
    let fresh = unique("never-written");
    let mut all: Vec<&str> = secrets.to_vec();
    all.push(&fresh);
    let outs = [
        ("get", run(sb, &["get", "a"])),
        ("ls", run(sb, &["ls"])),
        ("set", set(sb, "a", &fresh)),
        ("rm", run(sb, &["rm", "a"])),
        ("edit", sb.test(&["edit"]).env("EDITOR", "true").run()),
    ];
    for (what, out) in outs {
        let err = assert_clean_failure(&out, 1, &all);
        assert!(err.contains(needle), "{what}: stderr lacks {needle:?}: {err}");
        assert_eq!(sb.vault_bytes(), before, "{what} modified the vault");
    }
}

// ------------------------------------------------------------------ keys

#[test]
fn wrong_key_lists_the_tried_key_and_says_it_is_not_a_recipient() {
    let value = unique("wrong-key");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    // Only another key is available: alice's is moved out of discovery.
    fs::rename(sb.identity(), sb.root.path().join("alice-moved.txt")).unwrap();
    let other = sb.root.path().join("other.txt");
    let other_pub = age_keygen(&other);
    let other_arg = other.to_str().unwrap();

    let out = run(&sb, &["--identity", other_arg, "get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains(&other_pub), "{err}");
    assert!(err.contains("not a configured recipient"), "{err}");
    assert!(err.contains(other_arg), "the tried file is not named: {err}");
    assert!(err.contains("secrets.json.age"), "{err}");
    assert!(err.contains("agevault recipients add"), "{err}");

    let new = unique("wrong-key-new");
    let out = sb
        .test(&["--identity", other_arg, "set", "a"])
        .stdin(new.as_str())
        .run();
    let err = assert_clean_failure(&out, 1, &[&value, &new]);
    assert!(err.contains("not a configured recipient"), "{err}");
    assert_eq!(sb.vault_bytes(), before);

    // The same with the key given as text in $AGEVAULT_IDENTITY.
    let text = fs::read_to_string(&other).unwrap();
    let out = sb.test(&["get", "a"]).env("AGEVAULT_IDENTITY", &text).run();
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("$AGEVAULT_IDENTITY"), "{err}");
    assert!(err.contains(&other_pub), "{err}");
    let secret_line = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap();
    assert_no_leak(&out, secret_line);
}

#[test]
fn a_configured_but_not_encrypted_to_key_is_named() {
    // alice's key is configured; the vault was written only to another key.
    let value = unique("other-recipient");
    let sb = Sandbox::init();
    let other = sb.root.path().join("other.txt");
    let other_pub = age_keygen(&other);
    let recipients = sb.root.path().join("r.txt");
    fs::write(&recipients, format!("{other_pub}\n")).unwrap();
    let plain = sb.root.path().join("p.json");
    fs::write(
        &plain,
        format!(r#"{{"version":1,"secrets":{{"a":"{value}"}},"meta":{{}},"recipients":["{other_pub}"]}}"#),
    )
    .unwrap();
    let status = std::process::Command::new("age")
        .args(["-a", "-R"])
        .arg(&recipients)
        .arg("-o")
        .arg(sb.vault())
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    fs::remove_file(&plain).unwrap();
    sb.sign_as_is();
    let alice_pub = public_key(&sb.identity());
    let out = run(&sb, &["get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains(&alice_pub), "{err}");
    assert!(err.contains("configured as `alice`"), "{err}");
}

#[test]
fn no_identity_at_all_says_what_was_tried() {
    let value = unique("no-identity");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    fs::remove_file(sb.identity()).unwrap();
    let out = run(&sb, &["get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("none was found"), "{err}");
    assert!(err.contains("identity.txt"), "{err}");
    assert!(err.contains("$AGEVAULT_IDENTITY"), "{err}");
    assert_every_command_refuses(&sb, "no identity can decrypt", &[&value]);
}

#[test]
fn an_unreadable_identity_file_is_one_clear_error() {
    let value = unique("bad-identity");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let missing = sb.root.path().join("missing.txt");
    let out = run(&sb, &["--identity", missing.to_str().unwrap(), "get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("missing.txt"), "{err}");
    let garbage = sb.root.path().join("garbage.txt");
    fs::write(&garbage, "AGE-SECRET-KEY-1NOTAKEY\n").unwrap();
    let out = run(&sb, &["--identity", garbage.to_str().unwrap(), "get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value, "AGE-SECRET-KEY-1NOTAKEY"]);
    assert!(err.contains("garbage.txt"), "{err}");
}

// ------------------------------------------------------------------ damaged files

#[test]
fn a_truncated_vault_is_reported_as_damaged() {
    let value = unique("truncated");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let bytes = sb.vault_bytes();
    fs::write(sb.vault(), &bytes[..bytes.len() / 2]).unwrap();
    sb.sign_as_is();
    let out = run(&sb, &["get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("secrets.json.age"), "{err}");
    assert!(err.contains("git checkout"), "{err}");
    assert_every_command_refuses(&sb, "truncated", &[&value]);

    // Cut inside the payload too (the header intact, the last chunk gone).
    let big = "x".repeat(200_000);
    let sb = Sandbox::with_secrets(&[("a", &value), ("big", &big)]);
    let bytes = sb.vault_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let kept = lines[..lines.len() - 10].join("\n") + "\n" + lines[lines.len() - 1] + "\n";
    fs::write(sb.vault(), kept).unwrap();
    sb.sign_as_is();
    assert_every_command_refuses(&sb, "damaged", &[&value]);
}

#[test]
fn a_corrupted_vault_is_reported_as_damaged() {
    let value = unique("corrupted");
    // A large value puts the middle of the file well inside the payload.
    let filler = format!("{value}{}", "y".repeat(4000));
    let sb = Sandbox::with_secrets(&[("a", &value), ("filler", &filler)]);
    let mut bytes = sb.vault_bytes();
    let mut i = bytes.len() / 2;
    while !bytes[i].is_ascii_alphanumeric() {
        i += 1;
    }
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    fs::write(sb.vault(), &bytes).unwrap();
    sb.sign_as_is();
    let out = run(&sb, &["get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains("corrupted"), "{err}");
    assert_every_command_refuses(&sb, "damaged", &[&value]);
}

#[test]
fn a_file_that_is_not_age_is_reported_as_damaged() {
    let cases: [(&[u8], &str); 6] = [
        (b"this is not an age file\n", "not an age file"),
        (b"", "empty"),
        (b"\x00\x01\x02\xff\xfe binary junk", "not an age file"),
        (b"{\"version\":1,\"secrets\":{}}\n", "not an age file"),
        (
            b"-----BEGIN AGE ENCRYPTED FILE-----\n!!!!not base64!!!!\n-----END AGE ENCRYPTED FILE-----\n",
            "damaged",
        ),
        (
            b"age-encryption.org/v1\n-> X25519 garbage\n--- nomac\n",
            "damaged",
        ),
    ];
    for (bytes, reason) in cases {
        let sb = Sandbox::init();
        fs::write(sb.vault(), bytes).unwrap();
        sb.sign_as_is();
        let out = run(&sb, &["get", "a"]);
        let err = assert_clean_failure(&out, 1, &[]);
        let shown = String::from_utf8_lossy(bytes);
        assert!(err.contains("damaged"), "{shown:?}: {err}");
        assert!(err.contains(reason), "{shown:?}: {err}");
        assert_every_command_refuses(&sb, "secrets.json.age", &[]);
    }
}

#[test]
fn a_missing_vault_says_to_run_init() {
    let sb = Sandbox::init();
    fs::remove_file(sb.vault()).unwrap();
    let out = run(&sb, &["get", "a"]);
    let err = assert_clean_failure(&out, 1, &[]);
    assert!(err.contains("agevault init"), "{err}");
    let out = set(&sb, "a", "v-missing");
    assert_clean_failure(&out, 1, &["v-missing"]);
    assert!(!sb.vault().exists(), "set created a vault out of nothing");
}

// ------------------------------------------------------------------ bad documents

/// Installs `plaintext` (with `RECIPIENTS` replaced by alice's key list) as the vault.
fn install_document(sb: &Sandbox, plaintext: &[u8]) {
    let alice = public_key(&sb.identity());
    let mut text = Vec::new();
    let marker = b"RECIPIENTS";
    let mut rest = plaintext;
    while let Some(pos) = rest.windows(marker.len()).position(|w| w == marker) {
        text.extend_from_slice(&rest[..pos]);
        text.extend_from_slice(format!("[\"{alice}\"]").as_bytes());
        rest = &rest[pos + marker.len()..];
    }
    text.extend_from_slice(rest);
    sb.age_encrypt_vault(&text);
}

#[test]
fn a_future_format_version_is_refused_and_never_rewritten() {
    let value = unique("future");
    let sb = Sandbox::init();
    let doc = format!(
        r#"{{"version":2,"secrets":{{"a":"{value}","n":[1,2]}},"meta":{{}},"recipients":RECIPIENTS,"novel":{{"x":1}}}}"#
    );
    install_document(&sb, doc.as_bytes());
    let out = run(&sb, &["get", "a"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("version 2"), "{err}");
    assert!(err.contains("upgrade agevault"), "{err}");
    assert_every_command_refuses(&sb, "version 2", &[&value]);
    // Still the document we wrote.
    assert!(sb.age_decrypt().contains("\"version\":2"));
}

#[test]
fn invalid_utf8_in_the_document_is_refused() {
    let value = unique("utf8");
    let sb = Sandbox::init();
    let mut doc = br#"{"version":1,"secrets":{"bad":""#.to_vec();
    doc.extend_from_slice(b"\xff\xfe\xc3");
    doc.extend_from_slice(
        format!(r#"","good":"{value}"}},"meta":{{}},"recipients":RECIPIENTS}}"#).as_bytes(),
    );
    install_document(&sb, &doc);
    let out = run(&sb, &["get", "good"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("invalid document"), "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert_every_command_refuses(&sb, "invalid document", &[&value]);
}

#[test]
fn duplicate_keys_in_the_document_are_refused() {
    let first = unique("dup-first");
    let second = unique("dup-second");
    for doc in [
        format!(
            r#"{{"version":1,"secrets":{{"a":"{first}","a":"{second}"}},"meta":{{}},"recipients":RECIPIENTS}}"#
        ),
        format!(
            r#"{{"version":1,"secrets":{{"n":{{"k":"{first}","k":"{second}"}}}},"meta":{{}},"recipients":RECIPIENTS}}"#
        ),
        format!(
            r#"{{"version":1,"secrets":{{"a":"{first}"}},"secrets":{{"a":"{second}"}},"recipients":RECIPIENTS}}"#
        ),
    ] {
        let sb = Sandbox::init();
        install_document(&sb, doc.as_bytes());
        let out = run(&sb, &["get", "a"]);
        let err = assert_clean_failure(&out, 1, &[&first, &second]);
        assert!(err.contains("duplicate key"), "{doc}: {err}");
        assert_every_command_refuses(&sb, "duplicate key", &[&first, &second]);
    }
}

#[test]
fn a_number_leaf_in_the_document_is_refused_naming_its_path() {
    let value = unique("number");
    let sb = Sandbox::init();
    let doc = format!(
        r#"{{"version":1,"secrets":{{"db":{{"password":"{value}","port":5432}}}},"meta":{{}},"recipients":RECIPIENTS}}"#
    );
    install_document(&sb, doc.as_bytes());
    let out = run(&sb, &["get", "db/password"]);
    let err = assert_clean_failure(&out, 1, &[&value, "5432"]);
    assert!(err.contains("db/port"), "{err}");
    assert!(err.contains("number"), "{err}");
    assert_every_command_refuses(&sb, "db/port", &[&value]);
}

#[test]
fn wrongly_shaped_documents_never_echo_values() {
    let value = unique("shape");
    for (n, doc) in [
        format!(r#"{{"version":1,"secrets":"{value}","recipients":RECIPIENTS}}"#),
        format!(r#"{{"version":1,"secrets":{{"a":"{value}","b":null}},"recipients":RECIPIENTS}}"#),
        format!(r#"{{"version":1,"secrets":{{"../x":"{value}"}},"recipients":RECIPIENTS}}"#),
        format!(r#"{{"secrets":{{"a":"{value}"}},"recipients":RECIPIENTS}}"#),
        format!(r#""{value}""#),
        format!(r#"{{"version":1,"secrets":{{"a":"{value}"}},"recipients":RECIPIENTS"#),
    ]
    .iter()
    .enumerate()
    {
        let sb = Sandbox::init();
        install_document(&sb, doc.as_bytes());
        let out = run(&sb, &["get", "a"]);
        let err = assert_clean_failure(&out, 1, &[&value]);
        assert!(err.contains("invalid document"), "case {n} {doc}: {err}");
        assert_every_command_refuses(&sb, "invalid document", &[&value]);
    }
}

// ------------------------------------------------------------------ usage errors

#[test]
fn path_traversal_is_a_usage_error_before_anything_is_read() {
    let value = unique("traversal");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    // Make any read fail differently: garbage vault, no identity.
    fs::write(sb.vault(), b"garbage").unwrap();
    fs::remove_file(sb.identity()).unwrap();
    let empty = Sandbox::empty();
    for bad in [
        "../etc/passwd",
        "a//b",
        "/etc/passwd",
        "a/../b",
        "a/./b",
        "a b",
        "..",
    ] {
        for sandbox in [&sb, &empty] {
            for args in [vec!["get", bad], vec!["rm", bad]] {
                let out = run(sandbox, &args);
                let err = assert_clean_failure(&out, 2, &[&value]);
                assert!(err.contains("invalid secret path"), "{args:?}: {err}");
            }
            let out = set(sandbox, bad, &value);
            let err = assert_clean_failure(&out, 2, &[&value]);
            assert!(err.contains("invalid secret path"), "set {bad}: {err}");
        }
    }
    assert_eq!(sb.vault_bytes(), b"garbage");
}

#[test]
fn a_bad_path_or_generator_is_a_usage_error_on_every_command_before_any_config() {
    // No config anywhere: the argument is checked as the command line is read.
    let sb = Sandbox::empty();
    let bad_path = "agevault: error: invalid secret path `a//b`: it has an empty segment\n";
    for args in [
        &["get", "a//b"][..],
        &["rm", "a//b"],
        &["set", "a//b"],
        &["ls", "a//b"],
        &["log", "a//b"],
        &["rotate", "ok", "a//b"],
        &["export", "a//b", "--format", "env"],
        &["import", "x.env", "--prefix", "a//b"],
    ] {
        sb.test(args).run().code(2).stdout_is("").stderr_is(bad_path);
    }
    for args in [
        &["set", "a", "--generate", "hex:0"][..],
        &["rotate", "a", "--generate", "hex:0"],
    ] {
        let out = sb.test(args).run();
        out.code(2).stdout_is("");
        assert!(
            out.stderr().starts_with("agevault: error: ") && out.stderr().lines().count() == 1,
            "{args:?}: {}",
            out.stderr()
        );
    }
    // clap's own usage errors keep clap's text.
    sb.test(&["get"])
        .run()
        .code(2)
        .stderr_has("required arguments were not provided");
}

#[test]
fn a_value_in_argv_is_refused_and_not_echoed() {
    let value = unique("argv-secret");
    let sb = Sandbox::with_secrets(&[("a", "initial-argv-value")]);
    let before = sb.vault_bytes();
    let out = run(&sb, &["set", "a", &value]);
    let err = assert_clean_failure(&out, 2, &[&value, "initial-argv-value"]);
    assert!(err.contains("stdin"), "{err}");
    assert_eq!(sb.vault_bytes(), before);
    // Refused also where there is no vault to read.
    let empty = Sandbox::empty();
    let out = run(&empty, &["set", "a", &value]);
    assert_clean_failure(&out, 2, &[&value]);
}

// ------------------------------------------------------------------ the filesystem

/// A mount that is unmounted when dropped, even when the test fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Mounts a tmpfs of `size` at `dir` (root only); fails the test when that is refused.
fn mount_tmpfs(dir: &Path, size: &str) -> Mount {
    fs::create_dir_all(dir).unwrap();
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
        .arg(dir)
        .output()
        .expect("the mount command must be installed");
    assert!(
        out.status.success(),
        "cannot mount a tmpfs: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Mount(dir.to_owned())
}

/// Copies the repo's config and vault into `dir`.
fn copy_repo(sb: &Sandbox, dir: &Path) {
    for name in [".agevault.toml", "secrets.json.age", "secrets.json.age.sig"] {
        fs::copy(sb.repo().join(name), dir.join(name)).unwrap();
    }
}

#[test]
fn a_read_only_directory_fails_cleanly() {
    let value = unique("ro-old");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let dir = sb.root.path().join("ro");
    // Root writes through permission bits, so for root the directory is a read-only
    // mount; for anyone else a directory without write permission.
    let _mount = if is_root() {
        let m = mount_tmpfs(&dir, "1m");
        copy_repo(&sb, &dir);
        let st = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "cannot remount {} read-only", dir.display());
        Some(m)
    } else {
        fs::create_dir_all(&dir).unwrap();
        copy_repo(&sb, &dir);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        None
    };
    let vault = dir.join("secrets.json.age");
    let before = fs::read(&vault).unwrap();
    let new = unique("ro-new");

    let out = sb.test(&["set", "a"]).current_dir(&dir).stdin(new.as_str()).run();
    let err = assert_clean_failure(&out, 1, &[&value, &new]);
    assert!(
        err.contains(dir.to_str().unwrap()),
        "the directory is not named: {err}"
    );
    assert!(
        err.contains("Read-only file system") || err.contains("Permission denied"),
        "{err}"
    );
    let out = sb.test(&["rm", "a"]).current_dir(&dir).run();
    assert_clean_failure(&out, 1, &[&value]);
    let out = sb.test(&["edit"]).current_dir(&dir).env("EDITOR", "true").run();
    assert_clean_failure(&out, 1, &[&value]);
    assert_eq!(fs::read(&vault).unwrap(), before);
    // Reading needs no write access.
    let out = sb.test(&["get", "a"]).current_dir(&dir).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    if !is_root() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_full_disk_fails_cleanly_and_leaves_no_temp_file() {
    common::require_root("a full disk is a small tmpfs mount");
    let value = unique("full-old");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let dir = sb.root.path().join("full");
    let _mount = mount_tmpfs(&dir, "40k");
    copy_repo(&sb, &dir);
    let vault = dir.join("secrets.json.age");
    let before = fs::read(&vault).unwrap();
    // Fill every remaining block.
    let filler = dir.join("filler");
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 1048576 /dev/zero > '{}' 2>/dev/null",
            filler.display()
        ))
        .status();
    assert!(fs::metadata(&filler).unwrap().len() > 0);

    let big = format!("{}{}", unique("full-new"), "z".repeat(64 * 1024));
    let out = sb
        .test(&["set", "big"])
        .current_dir(&dir)
        .stdin(big.as_str())
        .run();
    let err = assert_clean_failure(&out, 1, &[&value, &big[..30]]);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("secrets.json.age"), "{err}");
    assert_eq!(fs::read(&vault).unwrap(), before);
    let leftovers: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".secrets.json.age.new-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    // Once there is room again, the same write works.
    fs::remove_file(&filler).unwrap();
    let out = sb.test(&["set", "a"]).current_dir(&dir).stdin("after-full").run();
    assert!(out.status.success(), "{}", all_output(&out));
}

// ------------------------------------------------------------------ recipients

#[test]
fn a_hand_added_recipient_is_refused_until_applied() {
    let value = unique("drift");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    let mut config = fs::read_to_string(sb.config()).unwrap();
    config.push_str(&format!(
        "\n[recipients.bob]\nkey = \"{bob}\"\nrole = \"developer\"\n"
    ));
    fs::write(sb.config(), config).unwrap();

    let new = unique("drift-new");
    let out = set(&sb, "a", &new);
    let err = assert_clean_failure(&out, 1, &[&value, &new]);
    assert!(err.contains("agevault trust sign"), "{err}");
    assert!(err.contains(".agevault.toml"), "{err}");
    let out = run(&sb, &["rm", "a"]);
    assert_clean_failure(&out, 1, &[&value]);
    assert_eq!(sb.vault_bytes(), before);
    // bob was never given the secrets.
    let bob_reads = || {
        std::process::Command::new("age")
            .args(["-d", "-i"])
            .arg(sb.root.path().join("bob.txt"))
            .arg(sb.vault())
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!bob_reads());
    // An unsigned config is not trusted even for reading.
    assert_clean_failure(&run(&sb, &["get", "a"]), 1, &[&value]);
    // A writer who reviewed the edit signs it: that applies the new recipient.
    let out = run(&sb, &["trust", "sign"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`bob`"));
    assert!(bob_reads());
    assert_eq!(sb.get("a"), value);
}

#[test]
fn a_hand_replaced_recipient_is_refused() {
    let value = unique("drift-replace");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let alice = public_key(&sb.identity());
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    let config = fs::read_to_string(sb.config()).unwrap().replace(&alice, &bob);
    fs::write(sb.config(), config).unwrap();
    let out = set(&sb, "a", &unique("x"));
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("agevault trust sign"), "{err}");
    // Signing does not apply a removal: that is `recipients remove`, with its offboarding record.
    let out = run(&sb, &["trust", "sign"]);
    let err = assert_clean_failure(&out, 1, &[&value]);
    assert!(err.contains("agevault recipients"), "{err}");
    assert!(err.contains(&alice), "{err}");
    assert_eq!(sb.vault_bytes(), before);
}
