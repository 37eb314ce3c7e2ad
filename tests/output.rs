//! Consistent output (issue 15, item 6): one error format, `agevault: error: MESSAGE`
//! plus a `hint: WHAT TO DO` line where there is something to do; colour only on a
//! terminal and never with NO_COLOR; `--json` on every listing, with the schema the
//! README's "JSON output" section documents.

mod common;

use std::fs;
use std::process::{Command, Output, Stdio};

use common::{age_keygen, all_output, error_and_hint, stderr, Sandbox};

/// The full stderr of a failed command, which must exit with `code`.
fn failed(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "{}", all_output(out));
    assert!(out.stdout.is_empty(), "stdout on failure: {}", all_output(out));
    stderr(out)
}

// ------------------------------------------------------------------ errors and hints

#[test]
fn no_config_says_run_init_on_the_hint_line() {
    let sb = Sandbox::empty();
    let out = sb.test(&["ls"]).run();
    assert_eq!(
        failed(&out, 1),
        format!(
            "agevault: error: no .agevault.toml found in {} or any parent directory\n\
             hint: run `agevault init` to create one here, or pass --config FILE\n",
            sb.repo().display()
        )
    );
}

#[test]
fn no_identity_lists_what_was_tried_and_hints_keygen() {
    let sb = Sandbox::with_secrets(&[("db/password", "no-identity-value-1")]);
    fs::remove_file(sb.identity()).unwrap();
    let out = sb.test(&["get", "db/password"]).run();
    let err = failed(&out, 1);
    let (message, hint) = error_and_hint(&err);
    assert!(
        message.starts_with(&format!(
            "no identity can decrypt {}; none was found (tried --identity, $AGEVAULT_IDENTITY",
            sb.vault().display()
        )),
        "{err}"
    );
    assert_eq!(
        hint.as_deref(),
        Some(
            "create an identity with `agevault keygen` and ask a recipient to add its public key with \
             `agevault recipients add NAME KEY`"
        )
    );
    // Someone with a key that is not a recipient is told to have it added.
    age_keygen(&sb.identity());
    let out = sb.test(&["get", "db/password"]).run();
    let (message, hint) = error_and_hint(&failed(&out, 1));
    assert!(message.contains("not a configured recipient"), "{message}");
    assert_eq!(
        hint.as_deref(),
        Some("ask a recipient to add your public key (`agevault whoami` shows it) with `agevault recipients add NAME KEY`")
    );
}

#[test]
fn a_reader_who_is_not_a_writer_is_told_whom_to_ask() {
    let sb = Sandbox::with_secrets(&[("app/key", "reader-value-1")]);
    let bob_home = sb.root.path().join("bob-home");
    let bob_identity = bob_home.join(".config/agevault/identity.txt");
    fs::create_dir_all(bob_identity.parent().unwrap()).unwrap();
    let bob = age_keygen(&bob_identity);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    let bob_signing = bob_home.join(".config/agevault/signing-key");
    sb.test(&["trust", "keygen", "-o", bob_signing.to_str().unwrap()])
        .run()
        .success();
    let before = sb.vault_bytes();
    let out = sb
        .test(&["set", "app/key"])
        .env("HOME", &bob_home)
        .stdin("bob-was-here")
        .run();
    let (message, hint) = error_and_hint(&failed(&out, 1));
    assert!(
        message.starts_with(
            "you are not a writer of this vault, so the write is refused: none of your signing keys"
        ),
        "{message}"
    );
    assert!(message.ends_with("is among the writers (alice)"), "{message}");
    assert_eq!(
        hint.as_deref(),
        Some(
            "readers cannot change secrets: ask a writer to make the change, or to add you with `agevault trust \
             add-writer NAME KEY`"
        )
    );
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn a_held_lock_with_no_wait_hints_how_to_wait() {
    let sb = Sandbox::with_secrets(&[("db/password", "lock-value-1")]);
    let ready = sb.root.path().join("locked");
    // util-linux flock(1) holds the writers' lock, as an open `agevault edit` would.
    let mut holder = Command::new("flock")
        .arg(sb.repo().join(".secrets.json.age.lock"))
        .args(["sh", "-c"])
        .arg(format!("touch '{}'; sleep 30", ready.display()))
        .stdout(Stdio::null())
        .spawn()
        .expect("flock(1) from util-linux must be installed");
    let start = std::time::Instant::now();
    while !ready.exists() {
        assert!(start.elapsed().as_secs() < 20, "flock never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = sb.vault_bytes();
    let out = sb
        .test(&["--no-wait", "set", "db/user"])
        .stdin("lock-value-2")
        .run();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(
        failed(&out, 1),
        format!(
            "agevault: error: vault {} is locked by another writer (an open `agevault edit`, or a running \
             `set`/`rotate`); nothing was changed\n\
             hint: try again when it has finished, or drop --no-wait to wait for it\n",
            sb.vault().display()
        )
    );
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn a_damaged_vault_hints_the_git_checkout_that_restores_it() {
    let sb = Sandbox::with_secrets(&[("a", "damaged-value-1")]);
    let bytes = sb.vault_bytes();
    fs::write(sb.vault(), &bytes[..bytes.len() / 2]).unwrap();
    sb.sign_as_is();
    let out = sb.test(&["get", "a"]).run();
    let (message, hint) = error_and_hint(&failed(&out, 1));
    assert!(
        message.starts_with(&format!("vault {} is damaged: ", sb.vault().display())),
        "{message}"
    );
    assert_eq!(
        hint,
        Some(format!(
            "restore it from git (`git checkout -- {}`)",
            sb.vault().display()
        ))
    );
}

#[test]
fn a_rollback_is_refused_with_the_way_forward_on_the_hint_line() {
    let sb = Sandbox::with_secrets(&[("db/password", "rollback-old-1")]);
    let old_vault = sb.vault_bytes();
    let old_sig = fs::read(sb.sig()).unwrap();
    sb.set("db/password", "rollback-new-2");
    fs::write(sb.vault(), &old_vault).unwrap();
    fs::write(sb.sig(), &old_sig).unwrap();
    let out = sb.test(&["get", "db/password"]).run();
    assert_eq!(
        failed(&out, 1),
        format!(
            "agevault: error: vault {} is generation 2, older than generation 3 already seen here: a rollback \
             (e.g. a reverted offboarding) is refused\n\
             hint: update your checkout (`git pull`), or pass --allow-rollback if you really mean to use the old \
             version\n",
            sb.vault().display()
        )
    );
    // The override is a warning, in the same format.
    let out = sb.test(&["--allow-rollback", "get", "db/password"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "agevault: warning: ROLLBACK ACCEPTED: using vault {} generation 2 although generation 3 was seen \
             (--allow-rollback)\n",
            sb.vault().display()
        )
    );
}

#[test]
fn an_unreadable_scope_names_who_can_grant_access() {
    let sb = Sandbox::with_secrets(&[("prod/db", "scope-value-1")]);
    let bob_home = sb.root.path().join("bob-home");
    let bob_identity = bob_home.join(".config/agevault/identity.txt");
    fs::create_dir_all(bob_identity.parent().unwrap()).unwrap();
    let bob = age_keygen(&bob_identity);
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    sb.add_scope("prod", "prod/**", &["alice"]);
    let out = sb.test(&["get", "prod/db"]).env("HOME", &bob_home).run();
    assert_eq!(
        failed(&out, 1),
        "agevault: error: scope `prod` (secrets.prod.json.age) is read only by alice, and none of your identities \
         is one of them; nothing was run or changed\n\
         hint: a writer who reads it can grant you access with `agevault scopes grant prod NAME`\n"
    );
}

#[test]
fn usage_errors_from_the_parser_use_the_same_format() {
    let sb = Sandbox::init();
    let out = sb.test(&["ls", "--bogus"]).run();
    assert_eq!(
        failed(&out, 2),
        "agevault: error: unexpected argument '--bogus' found\n\
         hint: to pass '--bogus' as a value, use '-- --bogus'\n"
    );
    let out = sb.test(&["incident"]).run();
    assert_eq!(
        failed(&out, 2),
        "agevault: error: the following required arguments were not provided: <NAME>\n\
         hint: usage: agevault incident <NAME>; see `agevault incident --help`\n"
    );
    // An invalid path is agevault's own usage error: exit 2, same format.
    let out = sb.test(&["get", "a/../b"]).run();
    error_and_hint(&failed(&out, 2));
}

// ------------------------------------------------------------------ colour

/// Runs `args` on a pseudo-terminal (stdout and stderr both the terminal) with `env`.
fn on_tty(sb: &Sandbox, args: &str, env: &[(&str, &str)]) -> String {
    let mut all = vec![("TERM", "xterm-256color")];
    all.extend_from_slice(env);
    let bin = env!("CARGO_BIN_EXE_agevault");
    let out = sb.run_on_tty(&format!("'{bin}' {args}"), &all, &[]);
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

const RED_ERROR: &str = "agevault: \x1b[1;31merror:\x1b[0m no secret `db/pasword` in the vault\n";
const CYAN_HINT: &str = "\x1b[1;36mhint:\x1b[0m did you mean `db/password`?";

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let sb = Sandbox::with_secrets(&[("db/password", "colour-value-1")]);
    // Piped: plain text, no escape code anywhere.
    let out = sb.test(&["get", "db/pasword"]).run();
    let err = failed(&out, 1);
    assert!(!err.contains('\x1b'), "{err:?}");
    error_and_hint(&err);

    // On a terminal: "error:" red, "hint:" cyan; the message itself is not coloured.
    let text = on_tty(&sb, "get db/pasword", &[]);
    assert!(text.contains(RED_ERROR), "{text:?}");
    assert!(text.contains(CYAN_HINT), "{text:?}");

    // NO_COLOR (any non-empty value) turns it off, on a terminal too; so does --color=never.
    for (args, env) in [
        ("get db/pasword", vec![("NO_COLOR", "1")]),
        ("--color=never get db/pasword", vec![]),
        ("--color never get db/pasword", vec![("CLICOLOR_FORCE", "1")]),
        ("get db/pasword", vec![("TERM", "dumb")]),
    ] {
        let text = on_tty(&sb, args, &env);
        assert!(
            text.contains("agevault: error: no secret `db/pasword` in the vault\nhint: did you mean"),
            "{args} {env:?}: {text:?}"
        );
        assert!(!text.contains('\x1b'), "{args} {env:?}: {text:?}");
    }
    // An empty NO_COLOR is no request.
    let text = on_tty(&sb, "get db/pasword", &[("NO_COLOR", "")]);
    assert!(text.contains(RED_ERROR), "{text:?}");

    // A pipe gets colour only when asked: --color=always, or CLICOLOR_FORCE.
    for (args, env) in [
        (vec!["--color=always", "get", "db/pasword"], None),
        (vec!["get", "db/pasword"], Some(("CLICOLOR_FORCE", "1"))),
    ] {
        let mut test = sb.test(&args);
        if let Some((k, v)) = env {
            test = test.env(k, v);
        }
        let err = failed(&test.run(), 1);
        assert!(err.starts_with(RED_ERROR), "{args:?}: {err:?}");
    }
    // NO_COLOR beats CLICOLOR_FORCE; an explicit --color=always beats both.
    let out = sb
        .test(&["get", "db/pasword"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .run();
    assert!(!stderr(&out).contains('\x1b'), "{}", stderr(&out));

    // A usage error from the parser follows the same rules.
    let text = on_tty(&sb, "ls --bogus", &[]);
    assert!(
        text.contains("agevault: \x1b[1;31merror:\x1b[0m unexpected argument '--bogus' found"),
        "{text:?}"
    );
    let text = on_tty(&sb, "ls --bogus", &[("NO_COLOR", "1")]);
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn warnings_are_yellow_on_a_terminal_and_plain_on_a_pipe() {
    let sb = Sandbox::with_secrets(&[("db/password", "warn-old-1")]);
    let old_vault = sb.vault_bytes();
    let old_sig = fs::read(sb.sig()).unwrap();
    sb.set("db/password", "warn-new-2");
    fs::write(sb.vault(), &old_vault).unwrap();
    fs::write(sb.sig(), &old_sig).unwrap();
    let text = on_tty(&sb, "--allow-rollback get db/password", &[]);
    assert!(
        text.contains("agevault: \x1b[1;33mwarning:\x1b[0m ROLLBACK ACCEPTED: "),
        "{text:?}"
    );
    let out = sb.test(&["--allow-rollback", "get", "db/password"]).run();
    assert!(
        stderr(&out).starts_with("agevault: warning: ROLLBACK ACCEPTED: "),
        "{}",
        stderr(&out)
    );
}
