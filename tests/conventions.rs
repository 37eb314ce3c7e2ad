//! The rough edges a new user hits, each as the user meets it: a writer waiting for the
//! lock, `log -n`, `rm -r`, "did you mean", `recipients add --key-file`, removing your
//! own last key, `init`'s next steps, a merge without `git setup`, a passphrase identity
//! without a terminal, `exec` over a conflicted vault, recipient names in `log`.

mod common;
mod gitutil;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{age_keygen, all_output, assert_no_leak, hidden, stderr, Sandbox};
use gitutil::{agevault, git, git_ok, repo_with_setup};

fn write_exec(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The binary as a plain `std` command with the sandbox's environment (for running
/// it in the background or under `setsid`).
fn background(sb: &Sandbox, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("LANG", "C.UTF-8")
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .current_dir(sb.repo())
        .args(args);
    cmd
}

/// Waits (at most 20 s) until `path` exists.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------ the lock

#[test]
fn a_writer_behind_an_open_edit_says_it_waits_within_a_second_then_proceeds() {
    let sb = Sandbox::with_secrets(&[("db/password", "lock-wait-value-1")]);
    let opened = sb.root.path().join("editor-opened");
    let release = sb.root.path().join("release-editor");
    let editor = sb.root.path().join("slow-editor.sh");
    write_exec(
        &editor,
        &format!(
            "#!/bin/sh\ntouch '{}'\ni=0\nwhile [ ! -e '{}' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n",
            opened.display(),
            release.display()
        ),
    );
    let bin = env!("CARGO_BIN_EXE_agevault");
    let mut edit = background(&sb, bin, &["edit"])
        .env("EDITOR", &editor)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&opened);

    // --no-wait fails at once, changing nothing.
    let before = sb.vault_bytes();
    let started = Instant::now();
    let out = sb
        .test(&["--no-wait", "set", "db/user"])
        .stdin("lock-wait-user-2")
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        stderr(&out).contains("is locked by another writer") && stderr(&out).contains("--no-wait"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sb.vault_bytes(), before);

    // --wait=DURATION gives up after it.
    let started = Instant::now();
    let out = sb
        .test(&["--wait=1s", "set", "db/user"])
        .stdin("lock-wait-user-2")
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("gave up after waiting 1s"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sb.vault_bytes(), before);

    // By default the writer says at once that it waits, and proceeds when the edit ends.
    let mut set = background(&sb, bin, &["set", "db/user"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = set.stdin.take().unwrap();
        stdin.write_all(b"lock-wait-user-2").unwrap();
    }
    let mut err = BufReader::new(set.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = String::new();
        let _ = err.read_line(&mut first);
        let _ = tx.send(first.clone());
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        first + &rest
    });
    let started = Instant::now();
    let first = rx
        .recv_timeout(Duration::from_secs(1))
        .expect("no message within a second while waiting for the lock");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        first.contains("waiting for the lock on") && first.contains("secrets.json.age"),
        "{first}"
    );
    assert!(set.try_wait().unwrap().is_none(), "set did not wait for the lock");
    fs::write(&release, "").unwrap();
    assert!(edit.wait().unwrap().success());
    assert!(set.wait().unwrap().success());
    let all = reader.join().unwrap();
    assert!(!all.contains("lock-wait"), "a value leaked: {all}");
    assert_eq!(sb.get("db/user"), "lock-wait-user-2");
    assert_eq!(sb.get("db/password"), "lock-wait-value-1");
}

#[test]
fn wait_and_no_wait_are_validated() {
    let sb = Sandbox::with_secrets(&[("a", "wait-usage-1")]);
    let out = sb.test(&["--wait=soon", "rm", "a"]).run();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(stderr(&out).contains("--wait=soon"), "{}", stderr(&out));
    let out = sb.test(&["--wait", "--no-wait", "rm", "a"]).run();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    // Without contention the flags change nothing.
    sb.test(&["--no-wait", "set", "b"])
        .stdin("wait-usage-2")
        .run()
        .success();
    sb.test(&["--wait", "rm", "a"]).run().success();
    assert_eq!(sb.get("b"), "wait-usage-2");
}

// ------------------------------------------------------------------ rm, get

#[test]
fn rm_of_a_namespace_needs_r() {
    let sb = Sandbox::with_secrets(&[
        ("db/password", "rm-r-pw-1"),
        ("db/user", "rm-r-user-2"),
        ("keep", "rm-r-keep-3"),
    ]);
    let before = sb.vault_bytes();
    let out = sb.test(&["rm", "db"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`db` is a namespace holding 2 secret(s)") && err.contains("agevault rm -r db"),
        "{err}"
    );
    common::error_and_hint(&err);
    assert_no_leak(&out, "rm-r-pw-1");
    assert_eq!(sb.vault_bytes(), before, "rm without -r changed the vault");

    sb.test(&["rm", "db/user"]).run().success();
    sb.test(&["rm", "-r", "db"]).run().success();
    let out = sb.test(&["ls"]).run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "keep\n");
    // -r on a single secret is harmless.
    sb.test(&["rm", "--recursive", "keep"]).run().success();
}

#[test]
fn get_and_rm_of_a_mistyped_path_suggest_the_closest() {
    let sb = Sandbox::with_secrets(&[("db/password", "typo-pw-1"), ("samba/user", "typo-user-2")]);
    let before = sb.vault_bytes();
    for cmd in ["get", "rm"] {
        let out = sb.test(&[cmd, "db/pasword"]).run();
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", all_output(&out));
        assert_eq!(
            stderr(&out),
            "agevault: error: no secret `db/pasword` in the vault\n\
             hint: did you mean `db/password`? (`agevault ls` lists them)\n",
            "{cmd}"
        );
        assert_no_leak(&out, "typo-pw-1");
    }
    // A namespace is a candidate too; a stranger gets no suggestion.
    let out = sb.test(&["get", "smba"]).run();
    let (_, hint) = common::error_and_hint(&stderr(&out));
    assert_eq!(
        hint.as_deref(),
        Some("did you mean `samba`? (`agevault ls` lists them)")
    );
    let out = sb.test(&["get", "web/token"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "agevault: error: no secret `web/token` in the vault\n\
         hint: `agevault ls` lists the secrets you can read\n"
    );
    assert_eq!(sb.vault_bytes(), before);
}

// ------------------------------------------------------------------ recipients

#[test]
fn recipients_add_reads_the_key_from_a_file_or_standard_input() {
    let sb = Sandbox::with_secrets(&[("k", "key-file-value-1")]);
    let bob_id = sb.root.path().join("bob.txt");
    let bob = age_keygen(&bob_id);
    let bob_pub = sb.root.path().join("bob.pub");
    fs::write(&bob_pub, format!("# bob's laptop\n\n{bob}\n")).unwrap();
    sb.test(&[
        "recipients",
        "add",
        "bob",
        "--key-file",
        bob_pub.to_str().unwrap(),
    ])
    .run()
    .success();
    let carol_id = sb.root.path().join("carol.txt");
    let carol = age_keygen(&carol_id);
    sb.test(&["recipients", "add", "carol", "--key-file", "-", "--role", "host"])
        .stdin(format!("{carol}\n"))
        .run()
        .success();
    let out = sb.test(&["recipients", "list"]).run();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains(&format!("bob\tdeveloper\t{bob}")), "{list}");
    assert!(list.contains(&format!("carol\thost\t{carol}")), "{list}");
    // Both can read the vault now.
    for id in [&bob_id, &carol_id] {
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(id)
            .arg(sb.vault())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // A private key file is refused without echoing it; a key and a file together are a usage error.
    let before = sb.vault_bytes();
    let dave_id = sb.root.path().join("dave.txt");
    age_keygen(&dave_id);
    let out = sb
        .test(&[
            "recipients",
            "add",
            "dave",
            "--key-file",
            dave_id.to_str().unwrap(),
        ])
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(stderr(&out).contains("PRIVATE key"), "{}", stderr(&out));
    assert!(
        !all_output(&out).contains("AGE-SECRET-KEY-1"),
        "{}",
        all_output(&out)
    );
    let out = sb
        .test(&[
            "recipients",
            "add",
            "dave",
            &bob,
            "--key-file",
            bob_pub.to_str().unwrap(),
        ])
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    let out = sb
        .test(&["recipients", "add", "dave", "--key-file", "-"])
        .stdin("\n# nothing\n")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(
        stderr(&out).contains("standard input holds no public key"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn removing_your_own_last_key_is_refused_unless_forced() {
    let sb = Sandbox::with_secrets(&[("k", "own-key-value-1")]);
    let bob_id = sb.root.path().join("bob.txt");
    let bob = age_keygen(&bob_id);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    let before = sb.vault_bytes();
    let config_before = fs::read_to_string(sb.config()).unwrap();

    let out = sb.test(&["recipients", "remove", "alice"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`alice` is your own key")
            && err.contains("--force")
            && err.contains("could not decrypt"),
        "{err}"
    );
    assert_eq!(sb.vault_bytes(), before);
    assert_eq!(fs::read_to_string(sb.config()).unwrap(), config_before);

    // Removing someone else's key needs no --force.
    sb.test(&["recipients", "remove", "bob"]).run().success();
    sb.test(&["recipients", "add", "bob", &bob]).run().success();

    // With another of your keys still a recipient, removing one is fine.
    let laptop_id = sb.root.path().join("laptop.txt");
    let laptop = age_keygen(&laptop_id);
    sb.test(&["recipients", "add", "alice-laptop", &laptop])
        .run()
        .success();
    sb.test(&[
        "--identity",
        laptop_id.to_str().unwrap(),
        "recipients",
        "remove",
        "alice",
    ])
    .run()
    .success();
    assert_eq!(
        String::from_utf8_lossy(
            &sb.test(&["--identity", laptop_id.to_str().unwrap(), "get", "k"])
                .run()
                .stdout
        ),
        "own-key-value-1"
    );

    // --force does what it says: the last key of yours goes, and you are locked out.
    sb.test(&[
        "--identity",
        laptop_id.to_str().unwrap(),
        "recipients",
        "remove",
        "alice-laptop",
        "--force",
    ])
    .run()
    .success();
    let out = sb
        .test(&["--identity", laptop_id.to_str().unwrap(), "get", "k"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    let out = sb
        .test(&["--identity", bob_id.to_str().unwrap(), "get", "k"])
        .run();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "own-key-value-1");
}

// ------------------------------------------------------------------ init

#[test]
fn init_suggests_git_setup_and_the_next_steps() {
    let sb = Sandbox::empty();
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    let out = sb.test(&["init"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(err.contains("next steps:"), "{err}");
    assert!(err.contains("  agevault git setup"), "{err}");
    assert!(err.contains("agevault set db/password"), "{err}");
    assert!(err.contains("git add .agevault.toml"), "{err}");
    assert!(out.stdout.is_empty());

    let outside = Sandbox::empty();
    let out = outside.test(&["init"]).run();
    assert!(
        stderr(&out).contains("git init && agevault git setup"),
        "{}",
        stderr(&out)
    );

    let quiet = Sandbox::empty();
    let out = quiet.test(&["-q", "init"]).run();
    assert!(out.status.success());
    assert!(!stderr(&out).contains("next steps"), "{}", stderr(&out));
}

// ------------------------------------------------------------------ merges

/// A repository whose clone never ran `git setup`: init commits the attributes, but
/// git has no `merge.agevault` driver and merges the armored text line by line.
fn two_branches_without_setup(sb: &Sandbox) {
    git_ok(sb, &["init", "-q", "-b", "main"]);
    git_ok(sb, &["add", "-A"]);
    git_ok(sb, &["commit", "-q", "-m", "initial"]);
    git_ok(sb, &["checkout", "-q", "-b", "theirs"]);
    sb.set("api/token", "nosetup-theirs-2");
    git_ok(sb, &["commit", "-qam", "theirs"]);
    git_ok(sb, &["checkout", "-q", "main"]);
    sb.set("db/password", "nosetup-ours-3");
    git_ok(sb, &["commit", "-qam", "ours"]);
}

#[test]
fn a_merge_without_git_setup_names_the_recovery_and_the_recovery_works() {
    let sb = Sandbox::with_secrets(&[("db/password", "nosetup-base-1")]);
    two_branches_without_setup(&sb);
    let out = git(&sb, &["merge", "--no-edit", "theirs"]);
    assert!(!out.status.success(), "{}", all_output(&out));
    let armored = fs::read_to_string(sb.vault()).unwrap();
    assert!(armored.contains("<<<<<<<"), "git did not write conflict markers");

    for args in [
        &["get", "db/password"][..],
        &["ls"],
        &["exec", "--", "true"],
        &["set", "x"],
    ] {
        let out = agevault(&sb, args).stdin("v").run();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", all_output(&out));
        let err = stderr(&out);
        assert!(err.contains("conflict markers"), "{args:?}: {err}");
        assert!(err.contains("git merge --abort"), "{args:?}: {err}");
        assert!(err.contains("agevault git setup"), "{args:?}: {err}");
        assert!(!err.contains("git checkout -- "), "{args:?}: {err}");
        let (message, hint) = common::error_and_hint(&err);
        assert!(message.ends_with("nothing was read"), "{message}");
        assert_eq!(
            hint.as_deref(),
            Some(
                "recover with `git merge --abort`, then `agevault git setup` and merge again (agevault then \
                 merges per secret)"
            ),
            "{args:?}"
        );
    }
    let check = agevault(&sb, &["check"]).run();
    assert_eq!(check.status.code(), Some(1));
    assert!(
        all_output(&check).contains("git merge --abort"),
        "{}",
        all_output(&check)
    );

    // The recovery it names: abort, set up, merge again.
    git_ok(&sb, &["merge", "--abort"]);
    agevault(&sb, &["git", "setup"]).run().success();
    let out = git(&sb, &["merge", "--no-edit", "theirs"]);
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(sb.get("db/password"), "nosetup-ours-3");
    assert_eq!(sb.get("api/token"), "nosetup-theirs-2");
}

/// Taking one side whole (`git checkout --theirs`) brings back a generation older than
/// the one this clone wrote last: the trust store calls that a rollback, which is why
/// the message recommends aborting and merging again after `git setup`.
#[test]
fn taking_their_side_whole_is_a_rollback_for_the_writer_who_went_further() {
    let sb = Sandbox::with_secrets(&[("db/password", "nosetup-base-1")]);
    two_branches_without_setup(&sb);
    assert!(!git(&sb, &["merge", "--no-edit", "theirs"]).status.success());
    git_ok(
        &sb,
        &[
            "checkout",
            "--theirs",
            "--",
            "secrets.json.age",
            "secrets.json.age.sig",
        ],
    );
    let out = agevault(&sb, &["get", "api/token"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("rollback"), "{}", stderr(&out));
}

#[test]
fn exec_refuses_a_selection_that_touches_an_unresolved_conflict() {
    let sb = repo_with_setup(&[
        ("db/password", "exec-conflict-base-0"),
        ("db/user", "exec-conflict-user-0"),
    ]);
    git_ok(&sb, &["checkout", "-q", "-b", "theirs"]);
    sb.set("db/password", "exec-conflict-theirs-2");
    git_ok(&sb, &["commit", "-qam", "theirs"]);
    git_ok(&sb, &["checkout", "-q", "main"]);
    sb.set("db/password", "exec-conflict-ours-1");
    git_ok(&sb, &["commit", "-qam", "ours"]);
    assert!(!git(&sb, &["merge", "--no-edit", "theirs"]).status.success());

    let ran = sb.root.path().join("child-ran");
    let child = format!("touch '{}'", ran.display());
    for args in [
        vec!["exec", "--", "sh", "-c", child.as_str()],
        vec!["exec", "--only", "db", "--", "sh", "-c", child.as_str()],
        vec!["exec", "--env", "P=db/password", "--", "sh", "-c", child.as_str()],
    ] {
        let out = agevault(&sb, &args).run();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", all_output(&out));
        let err = stderr(&out);
        assert!(
            err.contains("`db/password` has an unresolved merge conflict") && err.contains("agevault edit"),
            "{args:?}: {err}"
        );
        assert!(!ran.exists(), "{args:?}: the child ran");
        for v in [
            "exec-conflict-base-0",
            "exec-conflict-ours-1",
            "exec-conflict-theirs-2",
        ] {
            assert_no_leak(&out, v);
        }
    }
    // What the conflict does not touch still runs; `get` says why a path is missing.
    let out = agevault(
        &sb,
        &["exec", "--env", "U=db/user", "--", "sh", "-c", "printf %s \"$U\""],
    )
    .run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "exec-conflict-user-0");
    let out = agevault(&sb, &["get", "db/password"]).run();
    assert!(
        stderr(&out).contains("unresolved merge conflict"),
        "{}",
        stderr(&out)
    );
}

// ------------------------------------------------------------------ identities

#[test]
fn a_passphrase_identity_without_a_terminal_says_so_instead_of_asking_to_be_added() {
    let sb = Sandbox::with_secrets(&[("p/secret", "no-tty-value-1")]);
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
    // setsid: no controlling terminal at all, as under cron, systemd or CI.
    let out = background(
        &sb,
        "setsid",
        &[
            "-w",
            bin,
            "--identity",
            protected.to_str().unwrap(),
            "get",
            "p/secret",
        ],
    )
    .stdin(Stdio::null())
    .output()
    .expect("setsid (util-linux) must be installed");
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(
        err.contains("needs a terminal to ask for its passphrase"),
        "{err}"
    );
    assert!(err.contains("no terminal to ask for the passphrase"), "{err}");
    assert!(!err.contains("ask a recipient to add your public key"), "{err}");
    assert!(!err.contains("wrong passphrase"), "{err}");
    assert_no_leak(&out, "no-tty-value-1");
}

// ------------------------------------------------------------------ log

#[test]
fn log_n_shows_only_the_newest_commits() {
    let sb = Sandbox::with_secrets(&[("a", "log-n-1")]);
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "one"]);
    sb.set("b", "log-n-2");
    git_ok(&sb, &["commit", "-qam", "two"]);
    sb.set("c", "log-n-3");
    git_ok(&sb, &["commit", "-qam", "three"]);

    let out = agevault(&sb, &["log", "-n", "1"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let headers: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(headers.len(), 1, "{text}");
    assert!(headers[0].contains("three"), "{text}");
    assert!(text.contains("added    c"), "{text}");

    let out = agevault(&sb, &["log", "--max-count", "2", "--json"]).run();
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summaries: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["three", "two"]);
    let out = agevault(&sb, &["log", "-n", "many"]).run();
    assert_eq!(out.status.code(), Some(2));
    for v in ["log-n-1", "log-n-2", "log-n-3"] {
        assert_no_leak(&out, v);
    }
}

#[test]
fn log_names_recipients_instead_of_printing_their_keys() {
    let sb = Sandbox::with_secrets(&[("a", "log-names-1")]);
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "one"]);
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    git_ok(&sb, &["commit", "-qam", "add bob"]);
    sb.test(&["recipients", "remove", "bob"]).run().success();
    git_ok(&sb, &["commit", "-qam", "remove bob"]);

    let out = agevault(&sb, &["log"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // bob is gone from the config: his name comes from the vault's offboarding record.
    assert!(text.contains("recipient removed  bob (age1"), "{text}");
    assert!(text.contains("recipient added    bob (age1"), "{text}");
    assert!(text.contains("recipient added    alice (age1"), "{text}");
    assert!(!text.contains(&bob), "a whole key is printed: {text}");

    let out = agevault(&sb, &["log", "--json"]).run();
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries[0]["recipients_removed"][0]["name"], "bob");
    assert_eq!(entries[0]["recipients_removed"][0]["key"], bob.as_str());
    assert_eq!(entries[1]["recipients_added"][0]["name"], "bob");
}

// ------------------------------------------------------------------ output

#[test]
fn every_listing_accepts_json() {
    let sb = Sandbox::with_secrets(&[("db/password", "json-listing-1")]);
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "one"]);
    for args in [
        &["ls", "--json"][..],
        &["recipients", "list", "--json"],
        &["scopes", "list", "--json"],
        &["log", "--json"],
        &["status", "--json"],
        &["inventory", "--json"],
        &["check", "--json"],
        &["whoami", "--json"],
    ] {
        let out = agevault(&sb, args).run();
        assert!(out.status.success(), "{args:?}: {}", all_output(&out));
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out.stdout);
        assert!(
            parsed.is_ok(),
            "{args:?} printed no JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_no_leak(&out, "json-listing-1");
    }
    let out = agevault(&sb, &["inventory", "--json", "--format", "csv"]).run();
    assert_eq!(out.status.code(), Some(2));
}
