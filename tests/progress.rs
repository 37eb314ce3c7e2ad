//! Progress bars (issue 15, item 5): long work shows a bar on a terminal — `scan
//! --history`, `log`, `rotate` running several hooks, `import` of a large file — and
//! nothing extra on a pipe or with `-q`.

mod common;
mod gitutil;

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use common::{age_keygen, all_output, stderr, Sandbox};
use gitutil::{agevault, git_ok};

/// Runs `agevault ARGS` on a pseudo-terminal in the sandbox; returns everything the
/// terminal showed (stdout and stderr), carriage returns kept.
fn on_tty(sb: &Sandbox, args: &str) -> String {
    let env = [("GIT_CONFIG_NOSYSTEM", "1"), ("TERM", "xterm-256color")];
    let bin = env!("CARGO_BIN_EXE_agevault");
    let out = sb.run_on_tty(&format!("'{bin}' {args}"), &env, &[]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `text` holds a drawn bar labelled `label` (`label [===>   ] N/M`) and the
/// escape code that clears it.
fn has_bar(text: &str, label: &str) -> bool {
    text.contains(&format!("{label} [")) && text.contains("\x1b[2K")
}

/// `count` commits in the sandbox repo, each changing one of a few files, written at
/// once with `git fast-import` (a loop of `git commit` would take minutes).
fn many_commits(sb: &Sandbox, count: usize) {
    git_ok(sb, &["init", "-q", "-b", "main"]);
    let mut stream = String::new();
    for i in 1..=count {
        let content = format!("line {i}\n");
        let message = format!("c{i}\n");
        // Later commits continue the branch: fast-import keeps its tip.
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter A <a@example.org> {} +0000\ndata {}\n{message}",
            1_700_000_000 + i,
            message.len()
        ));
        stream.push_str(&format!(
            "M 100644 inline notes/f{}.txt\ndata {}\n{content}\n",
            i % 17,
            content.len()
        ));
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(sb.repo())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stream.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    git_ok(sb, &["checkout", "-q", "main"]);
}

#[test]
fn scan_history_shows_a_bar_on_a_terminal_only() {
    let sb = Sandbox::empty();
    many_commits(&sb, 400);
    let text = on_tty(&sb, "scan --history");
    assert!(has_bar(&text, "reading commits"), "{text:?}");
    assert!(has_bar(&text, "scanning file versions"), "{text:?}");
    assert!(text.contains("/400"), "{text:?}");
    // The bar is gone at the end: the last line is the summary.
    assert!(
        text.trim_end()
            .ends_with("agevault scan: no secrets found in 400 file version(s) in history (0 binary or oversized skipped)"),
        "{text:?}"
    );

    // Piped: exactly the lines there were before, no bar, no escape code.
    let out = agevault(&sb, &["scan", "--history"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(
        stderr(&out),
        "agevault scan: no .agevault.toml found, so only secret patterns were checked (not vault values)\n\
         agevault scan: no secrets found in 400 file version(s) in history (0 binary or oversized skipped)\n"
    );
    assert!(out.stdout.is_empty());

    // -q on a terminal: nothing at all.
    let text = on_tty(&sb, "-q scan --history");
    assert!(!text.contains("reading commits"), "{text:?}");
    assert!(!text.contains('\x1b'), "{text:?}");
    assert_eq!(text.trim(), "", "{text:?}");
}

#[test]
fn log_shows_a_bar_while_it_reads_the_history() {
    let sb = Sandbox::init();
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    for i in 0..6 {
        sb.set("app/token", &format!("log-progress-value-{i}"));
        git_ok(&sb, &["add", "-A"]);
        git_ok(&sb, &["commit", "-q", "-m", &format!("token {i}")]);
    }
    let text = on_tty(&sb, "log");
    assert!(has_bar(&text, "reading the vault's history"), "{text:?}");
    assert!(text.contains("token 5"), "{text:?}");
    let out = agevault(&sb, &["log"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(stderr(&out), "", "piped: nothing on stderr");
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let text = on_tty(&sb, "-q log");
    assert!(!text.contains("reading the vault"), "{text:?}");
    assert!(!text.contains("\x1b[2K"), "{text:?}");
}

#[test]
fn rotate_with_several_hooks_shows_a_bar_that_steps_aside_for_the_hooks() {
    let sb = Sandbox::init();
    for p in ["app/a", "app/b", "app/c"] {
        sb.test(&["set", p, "--generate", "alnum:16"]).run().success();
    }
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    sb.append_config("[hooks.\"app/*\"]\nafter_rotate = 'echo \"hook ran: $AGEVAULT_PATH\" | tr / - >&2'\n");
    sb.test(&["recipients", "remove", "bob"]).run().success();
    let text = on_tty(&sb, "rotate --exposed-to bob");
    assert!(has_bar(&text, "after_rotate hooks"), "{text:?}");
    assert!(has_bar(&text, "generating new values"), "{text:?}");
    // Each hook's output is on a line of its own, not inside a bar.
    // (The path is a value the hook was given, so `tr` disguises it from the mask.)
    for p in ["app-a", "app-b", "app-c"] {
        let line = text
            .split(['\n', '\r'])
            .find(|l| l.contains(&format!("hook ran: {p}")))
            .unwrap_or_else(|| panic!("no hook output for {p}: {text:?}"));
        assert_eq!(
            line.trim_start_matches("\x1b[2K"),
            format!("hook ran: {p}"),
            "{text:?}"
        );
    }
}

#[test]
fn rotate_piped_or_quiet_shows_no_bar() {
    let sb = Sandbox::init();
    for p in ["app/a", "app/b"] {
        sb.test(&["set", p, "--generate", "alnum:16"]).run().success();
    }
    sb.append_config("[hooks.\"app/*\"]\nafter_rotate = 'true'\n");
    let out = sb.test(&["rotate", "app/a", "app/b"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(!err.contains('\x1b') && !err.contains("hooks ["), "{err:?}");
    assert!(err.contains("rotated app/a (hook succeeded)"), "{err}");
    let text = on_tty(&sb, "-q rotate app/a app/b");
    assert!(!text.contains("hooks [") && !text.contains('\x1b'), "{text:?}");
}

#[test]
fn importing_a_large_file_shows_progress_on_a_terminal_only() {
    let sb = Sandbox::init();
    let mut env = String::new();
    let mut i = 0;
    while env.len() < 300 * 1024 {
        env.push_str(&format!("IMPORTED_VALUE_{i:05}={}\n", "v".repeat(90)));
        i += 1;
    }
    let file = sb.root.path().join("big.env");
    fs::write(&file, &env).unwrap();
    let text = on_tty(&sb, &format!("import --prefix big '{}'", file.display()));
    assert!(text.contains("import") && text.contains("adding"), "{text:?}");
    assert!(text.contains("\x1b[2K"), "{text:?}");
    assert!(text.contains(&format!("imported {i} secret(s)")), "{text:?}");

    let out = sb
        .test(&["import", "--prefix", "again", file.to_str().unwrap()])
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(!err.contains('\x1b') && !err.contains("adding"), "{err:?}");
    assert!(err.starts_with(&format!("imported {i} secret(s)")), "{err}");
}
