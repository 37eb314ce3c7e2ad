//! Help, man pages and shell completion, as a user reads and uses them: `--help` with
//! examples and global options apart, a man page per command with the standard
//! sections, and bash, zsh and fish completion that know the vault's paths and the
//! config's names — each tested through the shell's own completion machinery.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// The sandbox every completion test completes in: secrets in the main vault and a
/// scope, two recipients, two exec profiles.
fn completion_sandbox() -> Sandbox {
    let sb = Sandbox::with_secrets(&[
        ("db/password", "complete-db-pw-1"),
        ("db/user", "complete-db-user-2"),
        ("prod/api/token", "complete-token-3"),
        ("samba/password", "complete-samba-4"),
    ]);
    let bob = age_keygen(&sb.root.path().join("bob.txt"));
    sb.test(&["recipients", "add", "bob", &bob]).run().success();
    sb.add_scope("prod", "prod/**", &["alice"]);
    sb.append_config("[exec.samba]\nenv = { SMB_PASSWORD = \"samba/password\" }\n\n[exec.deploy]\nenv = { T = \"prod/api/token\" }\n");
    sb
}

/// What every shell must offer for these command lines (after `agevault `; a trailing
/// space completes a new, empty word).
const CASES: &[(&str, &[&str])] = &[
    ("get db/", &["db/password", "db/user"]),
    // Paths from a scope file too; `rm`, `rotate`, `--only` complete paths as well.
    ("rm pr", &["prod/api/token"]),
    ("rotate db/password s", &["samba/password"]),
    ("exec --only d", &["db/password", "db/user"]),
    ("exec -p ", &["deploy", "samba"]),
    ("exec --profile s", &["samba"]),
    // Options with a value are skipped when finding the argument (--color never).
    ("--color never get s", &["samba/password"]),
    ("log -n 3 d", &["db/password", "db/user"]),
    ("recipients remove ", &["alice", "bob"]),
    ("scopes grant ", &["prod"]),
    ("scopes grant prod b", &["bob"]),
    ("scopes move db --to ", &["prod"]),
];

/// The script `agevault completions SHELL` prints, saved in the sandbox.
fn script(sb: &Sandbox, shell: &str) -> PathBuf {
    let path = sb.root.path().join(format!("agevault.{shell}"));
    if !path.exists() {
        let out = sb.test(&["completions", shell]).run();
        assert!(out.status.success(), "{}", all_output(&out));
        fs::write(&path, &out.stdout).unwrap();
    }
    path
}

/// A shell in the sandbox's environment, with the binary under test first on PATH as
/// `agevault` (completion rules are registered for that command name).
fn shell(sb: &Sandbox, program: &str) -> Command {
    let bin_dir = sb.root.path().join("bin");
    if !bin_dir.exists() {
        fs::create_dir_all(&bin_dir).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_agevault"), bin_dir.join("agevault")).unwrap();
    }
    let mut path = std::ffi::OsString::from(&bin_dir);
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", sb.home())
        .env("USER", common::USER)
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .current_dir(sb.repo());
    cmd
}

/// Candidates from the shell's output, one a line (fish adds a tab and a description).
fn candidates(out: &Output, what: &str) -> Vec<String> {
    assert!(out.status.success(), "{what}: {}", all_output(out));
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The words of `line` after `agevault`, plus an empty one when it ends with a space.
fn words(line: &str) -> Vec<String> {
    let mut words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    if line.ends_with(' ') {
        words.push(String::new());
    }
    words
}

/// Runs bash's completion function for `line`, as bash does on Tab (COMP_WORDS,
/// COMP_CWORD, the function `complete -F` registered).
fn complete_bash(sb: &Sandbox, line: &str) -> (Vec<String>, Output) {
    let script = script(sb, "bash");
    let words = words(line);
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=(agevault {}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         f=$(complete -p agevault | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p'); \
         $f agevault \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len()
    );
    let out = shell(sb, "bash").arg("-c").arg(program).output().unwrap();
    (candidates(&out, line), out)
}

/// Runs fish's own completion (`complete -C`) for `line` with the script loaded.
fn complete_fish(sb: &Sandbox, line: &str) -> (Vec<String>, Output) {
    let script = script(sb, "fish");
    let out = shell(sb, "fish")
        .args(["--no-config", "-c"])
        .arg(format!(
            "source '{}'; complete -C 'agevault {line}'",
            script.display()
        ))
        .output()
        .expect("fish must be installed (apt-get install fish)");
    (candidates(&out, line), out)
}

/// Runs zsh's completion function for `line`: `zsh -f` with compinit, the script
/// installed as the `_agevault` autoload file in an fpath directory (as the Debian
/// package installs it), `words`/`CURRENT`/`PREFIX` set as zsh sets them on Tab, and a
/// `compadd` that prints what would be offered (the candidates matching the prefix)
/// instead of adding them to a menu. Outside a completion widget the generated static
/// part (`_arguments`) cannot run, so falling back to it prints `STATIC`.
fn complete_zsh(sb: &Sandbox, line: &str) -> (Vec<String>, Output) {
    let fpath = zsh_fpath(sb);
    let words = words(line);
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "fpath=('{}' $fpath); autoload -U compinit; compinit -u -D
         [[ $_comps[agevault] == _agevault ]] || {{ print -u2 \"registered: $_comps[agevault]\"; exit 1 }}
         compadd() {{
             local -a found; local arr
             while (( $# )); do
                 case $1 in (-a) arr=$2; shift 2 ;; (--) shift; found+=(\"$@\"); break ;; (-*) shift ;; (*) found+=(\"$1\"); shift ;; esac
             done
             [[ -n $arr ]] && found+=(\"${{(@P)arr}}\")
             print -rl -- ${{(M)found:#${{PREFIX}}*}}
         }}
         _arguments() {{ print STATIC }}
         words=(agevault {}); CURRENT={}; PREFIX=${{words[CURRENT]}}
         _agevault",
        fpath.display(),
        quoted.join(" "),
        words.len() + 1
    );
    let out = shell(sb, "zsh")
        .args(["-f", "-c"])
        .arg(program)
        .output()
        .expect("zsh must be installed (apt-get install zsh)");
    (candidates(&out, line), out)
}

/// A directory holding `_agevault`, as /usr/share/zsh/vendor-completions does.
fn zsh_fpath(sb: &Sandbox) -> PathBuf {
    let dir = sb.root.path().join("zsh-functions");
    if !dir.exists() {
        fs::create_dir_all(&dir).unwrap();
        fs::copy(script(sb, "zsh"), dir.join("_agevault")).unwrap();
    }
    dir
}

/// Every case of [`CASES`] through `complete`, then: no values leaked, static completion
/// for the rest, and no candidates (and no prompt or error) without a key.
fn assert_completes(
    sb: &Sandbox,
    shell: &str,
    complete: fn(&Sandbox, &str) -> (Vec<String>, Output),
    static_cases: &[(&str, &[&str])],
) {
    for (line, want) in CASES {
        let (found, out) = complete(sb, line);
        assert_eq!(found, *want, "{shell}: `agevault {line}`: {}", all_output(&out));
        for v in [
            "complete-db-pw-1",
            "complete-db-user-2",
            "complete-token-3",
            "complete-samba-4",
        ] {
            assert_no_leak(&out, v);
        }
    }
    for (line, want) in static_cases {
        let (found, out) = complete(sb, line);
        assert_eq!(found, *want, "{shell}: `agevault {line}`: {}", all_output(&out));
    }
}

/// Without a key there is nothing to offer, and no prompt, no error.
fn assert_quiet_without_a_key(
    sb: &Sandbox,
    shell: &str,
    complete: fn(&Sandbox, &str) -> (Vec<String>, Output),
) {
    let (found, out) = complete(sb, "get db/");
    assert!(found.is_empty(), "{shell}: {found:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{shell}: {}",
        all_output(&out)
    );
}

#[test]
fn bash_completion_offers_secret_paths_profiles_recipients_and_scopes() {
    let sb = completion_sandbox();
    // Everything else is clap's static completion: subcommands and flags.
    assert_completes(
        &sb,
        "bash",
        complete_bash,
        &[("recip", &["recipients"]), ("rm --rec", &["--recursive"])],
    );
    fs::remove_file(sb.identity()).unwrap();
    assert_quiet_without_a_key(&sb, "bash", complete_bash);
}

#[test]
fn fish_completion_offers_secret_paths_profiles_recipients_and_scopes() {
    let sb = completion_sandbox();
    assert_completes(
        &sb,
        "fish",
        complete_fish,
        &[("recip", &["recipients"]), ("rm --rec", &["--recursive"])],
    );
    fs::remove_file(sb.identity()).unwrap();
    assert_quiet_without_a_key(&sb, "fish", complete_fish);
}

#[test]
fn zsh_completion_offers_secret_paths_profiles_recipients_and_scopes() {
    let sb = completion_sandbox();
    // Subcommands and flags go to the generated _arguments-based function.
    assert_completes(
        &sb,
        "zsh",
        complete_zsh,
        &[
            ("recip", &["STATIC"]),
            ("rm --rec", &["STATIC"]),
            ("get db/password ", &["STATIC"]),
        ],
    );
    fs::remove_file(sb.identity()).unwrap();
    assert_quiet_without_a_key(&sb, "zsh", complete_zsh);
}

#[test]
fn zsh_completion_sourced_registers_the_dynamic_function() {
    let sb = completion_sandbox();
    let script = script(&sb, "zsh");
    let out = shell(&sb, "zsh")
        .args(["-f", "-c"])
        .arg(format!(
            "autoload -U compinit; compinit -u -D; source '{}'; print -r -- $_comps[agevault]",
            script.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "_agevault_dynamic\n",
        "{}",
        all_output(&out)
    );
    let text = fs::read_to_string(&script).unwrap();
    assert!(text.starts_with("#compdef agevault\n"), "autoloadable from fpath");
    assert!(Path::new(&script).exists());
}

#[test]
fn readme_quick_start_try_command_runs_on_the_demo_vault() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    // The quick start is on the first screen: within the first 30 lines.
    let head: Vec<&str> = readme.lines().take(30).collect();
    let install = head
        .iter()
        .position(|l| l.starts_with("cargo install --locked --path ."))
        .expect("the install command on the first screen");
    let try_line = head[install + 1];
    assert!(try_line.starts_with("agevault "), "{try_line}");
    assert!(
        head[install + 2].starts_with("cargo test --locked --tests"),
        "{head:?}"
    );
    // The try command, as a newcomer runs it after installing: from the clone's root.
    let sb = Sandbox::empty();
    let out = shell(&sb, "sh")
        .arg("-c")
        .arg(try_line)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{try_line}: {}", all_output(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "user=smbadmin\nTr0ub4dor&3-demo-only\n",
        "{}",
        all_output(&out)
    );
}
