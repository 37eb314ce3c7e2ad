//! Hostile input, hostile repositories and crashes (issue 9): nothing lost, nothing leaked, no crash.

mod common;
mod gitutil;

use common::{all_output, stderr, Outcome, Sandbox, Test};

// ------------------------------------------------------------ empty values

#[test]
fn set_refuses_an_empty_value_from_a_pipe_or_closed_stdin() {
    let sb = Sandbox::with_secrets(&[("api/key", "kept-value-0001")]);
    let before = sb.vault_bytes();
    for input in ["", "\n", "\r\n"] {
        let out = sb.test(&["set", "api/key"]).stdin(input).run();
        assert_eq!(out.status.code(), Some(1), "{input:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("empty value for `api/key`"), "{err}");
        assert!(err.contains("--allow-empty"), "{err}");
        common::error_and_hint(&err);
    }
    // A closed stdin reads like /dev/null.
    let out = sb.test(&["set", "api/key"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        sb.vault_bytes(),
        before,
        "a refused empty value changed the vault"
    );
    assert_eq!(sb.get("api/key"), "kept-value-0001");

    sb.test(&["set", "api/key", "--allow-empty"])
        .stdin("")
        .run()
        .success();
    assert_eq!(sb.get("api/key"), "");
}

#[test]
fn rotate_without_generator_and_without_a_value_refuses() {
    let sb = Sandbox::with_secrets(&[("api/key", "kept-value-0002")]);
    let before = sb.vault_bytes();
    let out = sb.test(&["rotate", "api/key"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(err.contains("`api/key`") && err.contains("no generator"), "{err}");
    assert!(!all_output(&out).contains("rotated"), "{}", all_output(&out));
    common::error_and_hint(&err);
    assert_eq!(sb.vault_bytes(), before);
    assert_eq!(sb.get("api/key"), "kept-value-0002");
    // A piped value still rotates.
    sb.test(&["rotate", "api/key"])
        .stdin("new-value-0002\n")
        .run()
        .success();
    assert_eq!(sb.get("api/key"), "new-value-0002");
}

// ------------------------------------------------------------ path depth and length

/// A document whose `secrets` hold `ok/value` and a chain of `depth` namespaces `a`.
fn deep_document(depth: usize) -> String {
    format!(
        r#"{{"version":1,"secrets":{{"ok":{{"value":"still-here-0003"}},"a":{}"leaf"{}}}}}"#,
        "{\"a\":".repeat(depth - 1),
        "}".repeat(depth - 1)
    )
}

fn assert_clear_depth_error(out: &std::process::Output, what: &str) {
    let text = all_output(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {text}");
    assert!(text.contains("more than 32 segments"), "{what}: {text}");
    assert!(!text.contains("recursion limit"), "{what}: {text}");
    assert!(
        text.len() < 2000,
        "{what}: an error should be a line, got {} bytes",
        text.len()
    );
}

#[test]
fn set_refuses_paths_over_the_depth_and_length_caps() {
    let sb = Sandbox::with_secrets(&[("ok", "value-0004")]);
    let before = sb.vault_bytes();
    let p130 = vec!["s"; 130].join("/");
    let p50k = vec!["s"; 50_000].join("/");
    let long = "x".repeat(300);
    for (path, want) in [
        (p130.as_str(), "more than 32 segments"),
        (p50k.as_str(), "longer than 1024 bytes"),
        (long.as_str(), "255 bytes"),
    ] {
        let out = sb.test(&["set", path]).stdin("v").run();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(want), "{}", stderr(&out));
        assert!(stderr(&out).len() < 400, "{}", stderr(&out));
    }
    let p32 = vec!["s"; 32].join("/");
    sb.set(&p32, "deep-but-allowed");
    assert_eq!(sb.get(&p32), "deep-but-allowed");
    sb.test(&["exec", "--", "true"]).run().success();
    sb.test(&["rm", &p32]).run().success();
    assert_ne!(sb.vault_bytes(), before);
    assert_eq!(sb.get("ok"), "value-0004");
}

#[test]
fn a_50000_deep_vault_from_stock_age_fails_clearly_and_rm_repairs_it() {
    let sb = Sandbox::init();
    sb.age_encrypt_vault(deep_document(50_000).as_bytes());
    for args in [
        &["ls"][..],
        &["get", "ok/value"],
        &["exec", "--", "true"],
        &["check"],
        &["status"],
    ] {
        let out = sb.test(args).run();
        assert_clear_depth_error(&out, &args.join(" "));
    }
    let out = sb.test(&["ls"]).run();
    let prefix = vec!["a"; 32].join("/");
    assert!(
        stderr(&out).contains(&format!("agevault rm -r {prefix}")),
        "{}",
        stderr(&out)
    );
    // The repair the error names works and removes nothing else.
    sb.test(&["rm", "-r", &prefix]).run().success();
    let out = sb.test(&["ls"]).run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok/value");
    assert_eq!(sb.get("ok/value"), "still-here-0003");
    sb.test(&["check"]).run().success();
}

#[test]
fn edit_repairs_a_too_deep_vault_and_refuses_too_deep_input() {
    let sb = Sandbox::init();
    sb.age_encrypt_vault(deep_document(40).as_bytes());
    let out = sb.test(&["get", "ok/value"]).run();
    assert_clear_depth_error(&out, "get");
    // Saving unchanged drops the too-deep path (and says so before the editor opens).
    let out = sb.test(&["edit"]).env("EDITOR", "true").run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("saving removes it"), "{}", stderr(&out));
    assert_eq!(sb.get("ok/value"), "still-here-0003");
    sb.test(&["check"]).run().success();

    // An editor that writes a too-deep tree is refused; nothing changes.
    let before = sb.vault_bytes();
    let script = sb.root.path().join("deepen.sh");
    let deep_tree = format!("{}\"x\"{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    std::fs::write(sb.root.path().join("deep.json"), deep_tree).unwrap();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncp {} \"$1\"\n",
            sb.root.path().join("deep.json").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = sb.test(&["edit"]).env("EDITOR", &script).run();
    assert_clear_depth_error(&out, "edit");
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn the_merge_driver_refuses_a_too_deep_side() {
    let sb = Sandbox::with_secrets(&[("ok/value", "merge-base-0005")]);
    // A writer's deep version (signed, so the driver gets as far as parsing it).
    sb.age_encrypt_vault(deep_document(50_000).as_bytes());
    let base = sb.root.path().join("base.age");
    std::fs::copy(sb.vault(), &base).unwrap();
    let theirs = sb.root.path().join("theirs.age");
    std::fs::copy(sb.vault(), &theirs).unwrap();
    let ours = sb.vault();
    let out = sb
        .test(&["git", "merge-driver"])
        .arg(&base)
        .arg(&ours)
        .arg(&theirs)
        .arg("secrets.json.age")
        .run();
    assert_clear_depth_error(&out, "merge-driver");
    assert!(stderr(&out).contains("cannot merge"), "{}", stderr(&out));
}

// ------------------------------------------------------------ hostile files

/// Runs `cmd` and fails the test if it has not finished within 10 s (a blocked open).
fn output_within_10s(test: Test) -> Outcome {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(test.run());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("agevault blocked on a non-regular file")
}

fn mkfifo(path: &std::path::Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

#[test]
fn a_symlinked_or_fifo_lock_file_is_refused() {
    let sb = Sandbox::with_secrets(&[("k", "lock-value-0006")]);
    let before = sb.vault_bytes();
    let lock = sb.repo().join(".secrets.json.age.lock");
    let _ = std::fs::remove_file(&lock);
    let target = sb.root.path().join("planted-by-the-lock");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let out = sb.test(&["set", "k"]).stdin("new").run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a regular file"), "{}", stderr(&out));
    assert!(!target.exists(), "the lock symlink was followed");
    assert_eq!(sb.vault_bytes(), before);

    std::fs::remove_file(&lock).unwrap();
    mkfifo(&lock);
    let out = output_within_10s(sb.test(&["set", "k"]).stdin("new"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a regular file"), "{}", stderr(&out));
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn devices_fifos_and_oversized_vaults_and_configs_are_refused() {
    let sb = Sandbox::with_secrets(&[("k", "file-value-0007")]);
    let fifo = sb.root.path().join("fifo");
    mkfifo(&fifo);
    let big = sb.root.path().join("big.age");
    std::fs::File::create(&big).unwrap().set_len(65 << 20).unwrap();
    for (vault, want) in [
        ("/dev/zero", "is a device"),
        (fifo.to_str().unwrap(), "is a FIFO"),
        (big.to_str().unwrap(), "larger than 64 MiB"),
    ] {
        for args in [
            &["ls"][..],
            &["check", "--no-decrypt"],
            &["git", "textconv", vault],
        ] {
            let out = output_within_10s(sb.test(args).args(["--vault", vault]));
            assert!(
                all_output(&out).contains(want),
                "{args:?} {vault}: {}",
                all_output(&out)
            );
        }
    }
    // A config naming such a vault.
    let config = std::fs::read_to_string(sb.config()).unwrap();
    std::fs::write(
        sb.config(),
        config.replace("vault = \"secrets.json.age\"", "vault = \"/dev/zero\""),
    )
    .unwrap();
    let out = output_within_10s(sb.test(&["get", "k"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/dev/zero is a device"), "{}", stderr(&out));
    // The config itself.
    for config in ["/dev/zero", fifo.to_str().unwrap()] {
        let out = output_within_10s(sb.test(&["--config", config, "ls"]));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("not a regular file"), "{}", stderr(&out));
    }
}

// ------------------------------------------------------------ ownership (git's safe.directory rule)

fn chown(path: &std::path::Path, uid: u32) {
    nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(uid)), None).unwrap();
}

fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

#[test]
fn group_or_world_writable_config_and_vault_are_refused_unless_trusted() {
    let sb = Sandbox::with_secrets(&[("k", "owned-value-0008")]);
    for (file, what) in [(sb.config(), "config"), (sb.vault(), "vault")] {
        for mode in [0o664, 0o646] {
            chmod(&file, mode);
            let out = sb.test(&["get", "k"]).run();
            assert_eq!(out.status.code(), Some(1), "{what} {mode:o}");
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{what} ")) && err.contains("writable by group or others"),
                "{err}"
            );
            assert!(
                err.contains("chmod go-w") && err.contains("AGEVAULT_SAFE_DIRECTORIES="),
                "{err}"
            );
            assert!(!all_output(&out).contains("owned-value-0008"));
            // The override, by directory or for everything.
            for trust in [sb.repo().display().to_string(), "/nonexistent:*".into()] {
                let out = sb
                    .test(&["get", "k"])
                    .env("AGEVAULT_SAFE_DIRECTORIES", &trust)
                    .run();
                assert!(out.status.success(), "{trust}: {}", stderr(&out));
            }
            let other = sb.root.path().join("elsewhere");
            let out = sb
                .test(&["get", "k"])
                .env("AGEVAULT_SAFE_DIRECTORIES", &other)
                .run();
            assert_eq!(out.status.code(), Some(1));
        }
        chmod(&file, 0o644);
    }
    sb.test(&["get", "k"]).run().success();
}

#[test]
fn a_config_or_vault_owned_by_another_user_is_refused() {
    common::require_root("giving files to another user");
    // A config planted in a shared parent directory by another user.
    let sb = Sandbox::with_secrets(&[("k", "owned-value-0009")]);
    let below = sb.repo().join("sub");
    std::fs::create_dir(&below).unwrap();
    chown(&sb.config(), 4242);
    let out = sb.test(&["exec", "--", "true"]).current_dir(&below).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is owned by uid 4242"), "{}", stderr(&out));
    sb.test(&["exec", "--", "true"])
        .current_dir(&below)
        .env("AGEVAULT_SAFE_DIRECTORIES", sb.repo())
        .run()
        .success();
    chown(&sb.config(), 0);
    chown(&sb.vault(), 4242);
    let out = sb.test(&["get", "k"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("vault ") && stderr(&out).contains("uid 4242"),
        "{}",
        stderr(&out)
    );
    sb.test(&["get", "k"])
        .env("AGEVAULT_SAFE_DIRECTORIES", "*")
        .run()
        .success();
}

// ------------------------------------------------------------ git history with a malformed date

#[test]
fn a_commit_with_a_malformed_author_date_shows_an_unknown_date() {
    let sb = gitutil::repo_with_setup(&[("db/pw", "history-value-0010")]);
    sb.set("db/pw", "history-value-0011");
    gitutil::git_ok(&sb, &["add", "-A"]);
    let tree = gitutil::git_ok(&sb, &["write-tree"]);
    let parent = gitutil::git_ok(&sb, &["rev-parse", "HEAD"]);
    let raw = format!(
        "tree {}\nparent {}\nauthor Mallory <m@example.org> notadate +0000\ncommitter Mallory <m@example.org> 1700000000 +0000\n\nbad date\n",
        tree.trim(),
        parent.trim()
    );
    let object = sb.root.path().join("commit.txt");
    std::fs::write(&object, raw).unwrap();
    let id = gitutil::git_ok(
        &sb,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            object.to_str().unwrap(),
        ],
    );
    gitutil::git_ok(&sb, &["update-ref", "HEAD", id.trim()]);
    // git itself accepts it.
    gitutil::git_ok(&sb, &["log", "--format=%an"]);

    let out = gitutil::agevault(&sb, &["log"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unknown date") && text.contains("Mallory"),
        "{text}"
    );
    assert!(text.contains("db/pw"), "{text}");
    let out = gitutil::agevault(&sb, &["log", "--json"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let out = gitutil::agevault(&sb, &["scan", "--history"]).run();
    assert!(
        !stderr(&out).contains("cannot read the git repository"),
        "{}",
        all_output(&out)
    );
    assert!(out.status.success(), "{}", all_output(&out));
}

// ------------------------------------------------------------ unknown config keys

#[test]
fn misspelled_config_tables_and_keys_are_errors_naming_the_line_and_the_nearest_key() {
    let sb = Sandbox::with_secrets(&[("api/key", "typo-value-0010")]);
    let original = std::fs::read_to_string(sb.config()).unwrap();
    let appended_at = original.lines().count() + 1;
    let cases = [
        // (new config text, line, key, suggestion)
        (
            format!("{original}[rotaton]\n\"api/*\" = \"1s\"\n"),
            appended_at,
            "rotaton",
            "rotation",
        ),
        (
            format!("{original}\n# a policy\n[validte]\n\"api/key\" = \"min-length:64\"\n"),
            appended_at + 2,
            "validte",
            "validate",
        ),
        (
            format!("valut = \"elsewhere.age\"\n{original}"),
            1,
            "valut",
            "vault",
        ),
        (
            format!("{original}[exec.web]\nenv = {{ API_KEY = \"api/key\" }}\ncleen_env = true\n"),
            appended_at + 2,
            "cleen_env",
            "clean_env",
        ),
        (
            format!("{original}[secrets.\"api/*\"]\nowner = \"ops\"\nclas = \"restricted\"\n"),
            appended_at + 2,
            "clas",
            "class",
        ),
    ];
    for (text, line, key, near) in &cases {
        std::fs::write(sb.config(), text).unwrap();
        let want = format!("line {line}: unknown key `{key}`; did you mean `{near}`?");
        for args in [&["check"][..], &["get", "api/key"]] {
            let out = sb.test(args).run();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{args:?} with {key}: {}",
                all_output(&out)
            );
            // `check` reports it as a failed check on stdout, other commands as their error.
            let text = all_output(&out);
            assert!(text.contains(&want), "{args:?}: want {want:?}, got {text}");
            assert!(text.contains(".agevault.toml"), "{text}");
            if args[0] == "get" {
                common::error_and_hint(&stderr(&out));
                assert!(out.stdout.is_empty(), "get printed {text:?}");
            }
            common::assert_no_leak(&out, "typo-value-0010");
        }
    }
    // A key with no near neighbour lists the known ones.
    std::fs::write(sb.config(), format!("{original}[recipients.alice.extra]\n")).unwrap();
    let out = sb.test(&["get", "api/key"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown key `extra`; known keys here: key, role"),
        "{}",
        stderr(&out)
    );
    // Tables other features own are accepted as they are, and the original still works.
    std::fs::write(
        sb.config(),
        format!("{original}[scopes.ci]\nany = 1\n[openbao]\naddress = \"x\"\n[trust]\nmode = \"y\"\n"),
    )
    .unwrap();
    let out = sb.test(&["ls"]).run();
    assert!(
        !stderr(&out).contains("unknown key"),
        "reserved tables refused: {}",
        stderr(&out)
    );
    std::fs::write(sb.config(), &original).unwrap();
    sb.test(&["check"]).run().success();
    assert_eq!(sb.get("api/key"), "typo-value-0010");
}

// ------------------------------------------------------------ writers killed mid-write

/// Temporary files a killed writer may leave beside the vault.
fn stray_files(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".new-"))
        .collect();
    names.sort();
    names
}

/// The `vault-sha256` the signature file's current manifest names.
fn signed_sha256(sb: &Sandbox) -> String {
    let sig = std::fs::read_to_string(sb.sig()).unwrap();
    sig.lines()
        .find_map(|l| l.strip_prefix("vault-sha256: "))
        .expect("the signature names the vault's digest")
        .to_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn writers_killed_at_random_instants_leave_the_old_or_the_new_vault_and_no_stray_files() {
    use rand::Rng;
    use std::io::Write;

    const TRIALS: usize = 200;
    let sb = Sandbox::with_secrets(&[("k", "crash-value-init")]);
    let gitignore = std::fs::read_to_string(sb.repo().join(".gitignore")).unwrap();
    assert!(
        gitignore.contains(".secrets.json.age.new-*") && gitignore.contains(".secrets.json.age.sig.new-*"),
        "init keeps temporary files out of git: {gitignore}"
    );
    // Kill instants span one whole write (measured here, so a slow debug build or a busy
    // machine still gets kills inside the write, not only before it starts).
    let started = std::time::Instant::now();
    sb.set("k", "crash-value-0");
    let write_micros = u64::try_from(started.elapsed().as_micros()).unwrap();
    let mut rng = rand::thread_rng();
    let mut current = "crash-value-0".to_owned();
    let (mut completed, mut unchanged, mut replaced, mut between, mut left_stray) = (0, 0, 0, 0, 0);
    for trial in 1..=TRIALS {
        let next = format!("crash-value-{trial}");
        let mut cmd: std::process::Command = std::process::Command::new(env!("CARGO_BIN_EXE_agevault"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", sb.home())
            .env("USER", common::USER)
            .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
            .current_dir(sb.repo())
            .args(["set", "k"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(next.as_bytes()).unwrap();
        drop(stdin);
        std::thread::sleep(std::time::Duration::from_micros(
            rng.gen_range(0..write_micros * 5 / 4),
        ));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if status.success() {
            completed += 1;
        }

        // The stock age CLI decrypts the vault to the old or the new document.
        let doc: serde_json::Value = serde_json::from_str(&sb.age_decrypt()).unwrap();
        let value = doc["secrets"]["k"].as_str().unwrap().to_owned();
        assert!(
            value == current || value == next,
            "trial {trial}: the vault holds {value:?}, neither {current:?} nor {next:?}"
        );
        if status.success() {
            assert_eq!(value, next, "trial {trial}: set succeeded but the vault is old");
        }
        if value == next {
            replaced += 1;
        } else {
            unchanged += 1;
        }
        // Killed between the signature and the vault: the signature's previous manifest
        // still covers the old vault, so readers verify it.
        if signed_sha256(&sb) != sha256_hex(&sb.vault_bytes()) {
            between += 1;
        }
        let out = sb.test(&["get", "k"]).run();
        assert!(
            out.status.success(),
            "trial {trial}: get after a kill (signature {} the vault): {}",
            if signed_sha256(&sb) == sha256_hex(&sb.vault_bytes()) {
                "matches"
            } else {
                "is ahead of"
            },
            stderr(&out)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), value, "trial {trial}");
        current = value;

        // The next successful write removes what the killed one left, beside the vault
        // and in the trust store (whose pins file is replaced the same way).
        if !stray_files(&sb.repo()).is_empty() || !stray_files(&sb.trust_dir()).is_empty() {
            left_stray += 1;
            current = format!("crash-value-{trial}-after");
            sb.set("k", &current);
            for dir in [sb.repo(), sb.trust_dir()] {
                assert_eq!(
                    stray_files(&dir),
                    Vec::<String>::new(),
                    "trial {trial}: the next write left stray files in {}",
                    dir.display()
                );
            }
        }
    }
    sb.set("k", "crash-value-final");
    assert_eq!(stray_files(&sb.repo()), Vec::<String>::new());
    assert_eq!(stray_files(&sb.trust_dir()), Vec::<String>::new());
    assert_eq!(sb.get("k"), "crash-value-final");
    eprintln!(
        "{TRIALS} kills within {write_micros} us: {completed} completed, {replaced} new, {unchanged} old, \
         {between} ended with the signature ahead of the vault, {left_stray} left stray files"
    );
    // The kills must have landed inside writes, not only before or after them: some
    // between the signature and the vault, some leaving a temporary file.
    assert!(
        between > 0 && left_stray > 0 && unchanged > 0,
        "kills never hit a write in progress"
    );
}
