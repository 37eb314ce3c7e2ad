//! Help, man pages and shell completion, as a user reads and uses them: `--help` with
//! examples and global options apart, a man page per command with the standard
//! sections, and bash completion that knows the vault's paths and the config's names.

mod common;

use std::fs;
use std::process::Output;

use common::{age_keygen, all_output, assert_no_leak, Sandbox};

#[test]
fn help_puts_global_options_apart_and_shows_examples() {
    let sb = Sandbox::empty();
    for (cmd, example) in [
        (vec!["get", "--help"], "agevault get db/password"),
        (vec!["exec", "--help"], "agevault exec -p samba -- smbd -F"),
        (vec!["recipients", "add", "--help"], "--key-file bob.pub"),
        (vec!["rm", "-h"], "agevault rm -r old"),
    ] {
        let out = sb.test(&cmd).run();
        assert!(out.status.success(), "{cmd:?}: {}", all_output(&out));
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let own = help.find("Options:").expect("an Options heading");
        let global = help.find("Global options:").expect("a Global options heading");
        assert!(own < global, "{cmd:?}: {help}");
        assert!(
            !help[own..global].contains("--config") && help[global..].contains("--config"),
            "{cmd:?}: global options mixed into the command's own:\n{help}"
        );
        let examples = help.find("Examples:").expect("an Examples section");
        assert!(help[examples..].contains(example), "{cmd:?}: {help}");
        let shown = help[examples..]
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("      "))
            .count();
        assert!(shown >= 2, "{cmd:?}: fewer than two examples:\n{help}");
    }
}

#[test]
fn every_man_page_the_main_page_names_exists_and_has_the_standard_sections() {
    let sb = Sandbox::empty();
    let dir = sb.root.path().join("man1");
    let out = sb.test(&["man", "--out-dir", dir.to_str().unwrap()]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    let main = fs::read_to_string(dir.join("agevault.1")).unwrap();
    let named: Vec<String> = regex_pages(&main);
    assert!(named.iter().any(|p| p == "agevault-exec"), "{named:?}");
    assert!(named.len() >= 15, "{named:?}");
    for page in &named {
        let file = dir.join(format!("{page}.1"));
        assert!(
            file.exists(),
            "agevault(1) names {page}(1), which was not generated"
        );
    }
    for page in named
        .iter()
        .map(String::as_str)
        .chain(["agevault", "agevault-recipients-add"])
    {
        let text = fs::read_to_string(dir.join(format!("{page}.1"))).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(&format!(".TH {page} 1")),
            "{page}: {text}"
        );
        for section in [
            ".SH \"EXIT STATUS\"",
            ".SH \"ENVIRONMENT\"",
            ".SH \"FILES\"",
            ".SH SYNOPSIS",
        ] {
            assert!(text.contains(section), "{page} lacks {section}");
        }
    }
    let exec = fs::read_to_string(dir.join("agevault-exec.1")).unwrap();
    assert!(exec.contains(".SH EXAMPLES") && exec.contains("smbd"), "{exec}");
    assert!(exec.contains("files\\-as"), "{exec}");

    // One page to stdout, like `man -l -` reads it; an unknown command is a usage error.
    let out = sb.test(&["man", "recipients", "add"]).run();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH agevault-recipients-add 1"));
    let out = sb.test(&["man", "nope"]).run();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    // man(1) itself renders it when it is installed.
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("man")
            .arg("-l")
            .arg(dir.join("agevault-exec.1"))
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("EXIT STATUS") && text.contains("EXAMPLES"),
            "{text}"
        );
    }
}

/// The `agevault-NAME(1)` references in a roff page.
fn regex_pages(roff: &str) -> Vec<String> {
    let re = regex_lite(roff);
    let mut pages: Vec<String> = re.into_iter().filter(|p| p != "agevault").collect();
    pages.sort();
    pages.dedup();
    pages
}

/// Words of the form `agevault-…(1)` (roff escapes `-` as `\-`).
fn regex_lite(roff: &str) -> Vec<String> {
    let text = roff.replace("\\-", "-");
    let mut out = Vec::new();
    for (i, _) in text.match_indices("agevault-") {
        let rest = &text[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with("(1)") {
            out.push(rest[..end].to_owned());
        }
    }
    out
}

/// Runs bash's completion for the words `line` (the cursor after the last word, or on
/// an empty new word when `line` ends with a space) and returns the candidates.
fn complete(sb: &Sandbox, line: &str) -> (Vec<String>, Output) {
    let script = sb.root.path().join("agevault.bash");
    if !script.exists() {
        let out = sb.test(&["completions", "bash"]).run();
        assert!(out.status.success());
        fs::write(&script, &out.stdout).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_agevault");
    let mut words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    if line.ends_with(' ') {
        words.push(String::new());
    }
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=('{bin}' {}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         _agevault_dynamic \"${{COMP_WORDS[0]}}\" \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(program)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .current_dir(sb.repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{line}: {}", all_output(&out));
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    found.sort();
    (found, out)
}

#[test]
fn bash_completion_offers_secret_paths_profiles_recipients_and_scopes() {
    let sb = Sandbox::with_secrets(&[
        ("db/password", "complete-db-pw-1"),
        ("db/user", "complete-db-user-2"),
        ("prod/api/token", "complete-token-3"),
        ("samba/password", "complete-samba-4"),
    ]);
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    sb.test(&[
        "scopes",
        "add",
        "prod",
        "--paths",
        "prod/**",
        "--readers",
        "alice",
    ])
    .run()
    .success();
    sb.append_config("[exec.samba]\nenv = { SMB_PASSWORD = \"samba/password\" }\n\n[exec.deploy]\nenv = { T = \"prod/api/token\" }\n");

    let (found, out) = complete(&sb, "get db/");
    assert_eq!(found, ["db/password", "db/user"]);
    for v in ["complete-db-pw-1", "complete-db-user-2"] {
        assert_no_leak(&out, v);
    }
    // Paths from a scope file too; `rm`, `ls`, `rotate` complete paths as well.
    let (found, _) = complete(&sb, "rm pr");
    assert_eq!(found, ["prod/api/token"]);
    let (found, _) = complete(&sb, "rotate db/password s");
    assert_eq!(found, ["samba/password"]);
    let (found, _) = complete(&sb, "exec -p ");
    assert_eq!(found, ["deploy", "samba"]);
    let (found, _) = complete(&sb, "exec --profile s");
    assert_eq!(found, ["samba"]);
    let (found, _) = complete(&sb, "recipients remove ");
    assert_eq!(found, ["alice", "bob"]);
    let (found, _) = complete(&sb, "scopes grant ");
    assert_eq!(found, ["prod"]);
    let (found, _) = complete(&sb, "scopes grant prod b");
    assert_eq!(found, ["bob"]);
    // Everything else is clap's static completion: subcommands and flags.
    let (found, _) = complete(&sb, "recip");
    assert_eq!(found, ["recipients"]);
    let (found, _) = complete(&sb, "rm --rec");
    assert_eq!(found, ["--recursive"]);

    // Without a key there is nothing to offer, and no prompt, no error.
    fs::remove_file(sb.identity()).unwrap();
    let (found, out) = complete(&sb, "get db/");
    assert!(found.is_empty(), "{found:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{}",
        all_output(&out)
    );
}
