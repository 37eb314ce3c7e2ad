//! The manual: examples for `--help`, and man pages per subcommand with the sections
//! clap does not generate (EXAMPLES, EXIT STATUS, ENVIRONMENT, FILES).

use std::io::Write;

/// Examples per command path (`"exec"`, `"recipients add"`): a command line and what it does.
pub fn examples(path: &str) -> &'static [(&'static str, &'static str)] {
    match path {
        "" => &[
            ("agevault init", "create .agevault.toml and an empty vault here"),
            ("agevault exec -p samba -- smbd -F", "run smbd with the [exec.samba] profile's secrets"),
        ],
        "init" => &[
            ("agevault init", "config, vault and (if needed) your identity, named after $USER"),
            ("agevault init --name alice-laptop", "the same, with another recipient name"),
            ("agevault init --pgp 62D6C774F452AEEC0C4F8C5E53A86DF481217521", "an OpenPGP vault (secrets.json.gpg) that gpg encrypts to your key"),
        ],
        "keygen" => &[
            ("agevault keygen", "a new identity in ~/.config/agevault/identity.txt"),
            ("agevault keygen --passphrase -o ~/vault-key.age", "a passphrase-protected identity"),
        ],
        "whoami" => &[
            ("agevault whoami", "your identities and which recipient each is"),
            ("agevault whoami --json", "the same as JSON"),
        ],
        "recipients" | "recipients list" => &[
            ("agevault recipients list", "name, role and key of each recipient"),
            ("agevault recipients add bob --key-file bob.pub", "encrypt the vault to bob too"),
        ],
        "recipients add" => &[
            ("agevault recipients add bob --key-file bob.pub", "the key from bob's .pub file"),
            ("ssh pve1 cat /etc/agevault/identity.pub | agevault recipients add pve1 --key-file - --role host", "a host's key from standard input"),
            ("gpg --import bob.asc && agevault recipients add bob pgp:0123456789ABCDEF0123456789ABCDEF01234567", "an OpenPGP reader of a .gpg vault (its public key must be in your keyring)"),
        ],
        "recipients remove" => &[
            ("agevault recipients remove bob", "offboard bob; lists the secrets to rotate"),
            ("agevault recipients remove bob | xargs agevault rotate", "and rotate them (generated ones)"),
        ],
        "ls" => &[
            ("agevault ls", "every secret path you can read"),
            ("agevault ls db --json", "the paths under db/ as a JSON array"),
        ],
        "get" => &[
            ("agevault get db/password", "print one value (no newline added)"),
            ("agevault get db", "the db namespace as JSON"),
        ],
        "set" => &[
            ("agevault set db/password", "asks for the value (hidden)"),
            ("agevault set api/token --generate alnum:40", "a generated value, remembered for rotate"),
        ],
        "rm" => &[
            ("agevault rm old/token", "remove one secret"),
            ("agevault rm -r old", "remove the namespace old and everything under it"),
        ],
        "edit" => &[
            ("agevault edit", "the secrets tree as JSON in $VISUAL/$EDITOR"),
            ("EDITOR='code --wait' agevault edit", "with another editor"),
        ],
        "exec" => &[
            ("agevault exec -p samba -- smbd -F", "a profile's env and files"),
            ("agevault exec --env PGPASSWORD=db/password --file TLS_KEY=tls/key -- ./deploy", "explicit mappings"),
        ],
        "rotate" => &[
            ("agevault rotate db/password --generate password:32", "a new generated value"),
            ("agevault rotate --due", "every overdue generated secret"),
        ],
        "status" => &[
            ("agevault status", "age, policy and due date per secret"),
            ("agevault status --json", "the same as JSON"),
        ],
        "check" => &[
            ("AGEVAULT_IDENTITY=\"$CI_KEY\" agevault check", "the CI gate"),
            ("agevault check --no-decrypt --json", "only the checks that need no key, as JSON"),
        ],
        "inventory" => &[
            ("agevault inventory", "the inventory as a table"),
            ("agevault inventory --format markdown > SECRETS.md", "as Markdown"),
        ],
        "completions" => &[
            ("agevault completions bash > /etc/bash_completion.d/agevault", "bash, with secret paths, profiles, recipients and scopes"),
            ("agevault completions zsh > ~/.zfunc/_agevault", "zsh (with ~/.zfunc in fpath), also dynamic"),
        ],
        "man" => &[
            ("agevault man exec | man -l -", "read agevault-exec(1)"),
            ("agevault man --out-dir /usr/share/man/man1", "write every page"),
        ],
        "git" | "git setup" => &[
            ("agevault git setup", "diff and merge drivers and the pre-commit hook"),
            ("agevault git setup --absolute", "the same, calling this binary by its path"),
        ],
        "log" => &[
            ("agevault log -n 5", "the five newest changes to the vault"),
            ("agevault log db/password --json", "one secret's history as JSON"),
        ],
        "scan" => &[
            ("agevault scan", "the repository's files"),
            ("agevault scan --history", "every version in the history of HEAD"),
        ],
        "trust" | "trust status" => &[
            ("agevault trust status", "the signature and what this trust store pinned"),
            ("agevault trust anchor > anchor.txt", "an anchor to provision hosts with"),
        ],
        "scopes" | "scopes list" => &[
            ("agevault scopes list", "files, readers and paths of each scope"),
            ("agevault scopes add prod --paths 'prod/**' --readers pve1 alice", "a new scope"),
        ],
        _ => &[],
    }
}

/// `--help` text after the options: the examples of `path`.
pub fn after_help(path: &str) -> Option<String> {
    let list = examples(path);
    if list.is_empty() {
        return None;
    }
    let mut text = String::from("Examples:\n");
    for (cmd, what) in list {
        text.push_str(&format!("  {cmd}\n      {what}\n"));
    }
    Some(text)
}

/// The clap definition with examples attached to every command.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    attach(crate::cli::Cli::command(), "")
}

fn attach(mut cmd: clap::Command, path: &str) -> clap::Command {
    if let Some(text) = after_help(path) {
        cmd = cmd.after_help(text);
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |s| attach(s, &sub_path));
    }
    cmd
}

const EXIT_STATUS: &str = "0: success.\n\
1: error (wrong key, damaged vault, refused write, lock held with --no-wait); also findings of check and scan.\n\
2: usage error (bad flag, invalid secret path, a value given in argv).\n\
126, 127: exec: the command is not executable, or not found.\n\
N: exec: the child's exit code; 128+N when it died of signal N.";

const ENVIRONMENT: &str = "AGEVAULT_CONFIG, AGEVAULT_VAULT: like --config and --vault.\n\
AGEVAULT_IDENTITY: an identity's text (for CI secrets). AGEVAULT_IDENTITY_FILE: an identity file.\n\
AGEVAULT_SIGNING_KEY: like --signing-key.\n\
AGEVAULT_TRUST_DIR: the trust store directory.\n\
AGEVAULT_EXEC_EXPLICIT_ONLY=1: exec injects only explicit mappings (host setting).\n\
AGEVAULT_SAFE_DIRECTORIES: directories whose config and vault may be owned by another user.\n\
AGEVAULT_GPG: the gpg program for OpenPGP (.gpg) vault files (default: gpg on PATH). GNUPGHOME: gpg's keyring; \
GPG_TTY: the terminal gpg-agent's pinentry asks on (set from agevault's own terminal when unset).\n\
NO_COLOR (non-empty): no colour on stderr; CLICOLOR_FORCE=1: colour even on a pipe (--color overrides both).\n\
VISUAL, EDITOR: the editor of edit. XDG_CONFIG_HOME, XDG_STATE_HOME, XDG_RUNTIME_DIR, HOME: where keys, \
the trust store and memory files live.";

const FILES: &str = ".agevault.toml: the configuration (found upwards from the current directory).\n\
secrets.json.age, secrets.json.age.sig: the vault and its signature; secrets.SCOPE.json.age per scope.\n\
secrets.json.gpg: an OpenPGP vault (any vault or scope file whose name ends in .gpg), encrypted by gpg.\n\
.secrets.json.age.lock: the lock writers take.\n\
~/.config/agevault/identity.txt, /etc/agevault/identity.txt, ~/.ssh/id_ed25519, ~/.ssh/id_rsa: identities.\n\
~/.config/agevault/signing-key: the writer's signing key.\n\
~/.local/state/agevault/trust/, /var/lib/agevault/trust/: trust stores.";

/// Escapes text for a roff line: backslashes, and a leading `.` or `'` (control characters).
fn roff_text(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// A section of `TERM: text` lines as a roff tagged list.
fn section(out: &mut Vec<u8>, title: &str, body: &str) {
    let _ = writeln!(out, ".SH \"{title}\"");
    for line in body.lines() {
        let (tag, text) = line.split_once(": ").unwrap_or((line, ""));
        let _ = writeln!(out, ".TP\n.B {}\n{}", roff_text(tag), roff_text(text));
    }
}

/// The man page of `words` (empty: `agevault(1)`; `["recipients", "add"]`: `agevault-recipients-add(1)`).
pub fn page(words: &[String]) -> Result<(String, Vec<u8>), String> {
    let mut cmd = command();
    for w in words {
        let sub = cmd
            .find_subcommand(w)
            .filter(|s| !s.is_hide_set())
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no command `{}` to show a man page for",
                    crate::terminal::sanitize(&words.join(" "))
                )
            })?;
        cmd = sub;
    }
    let name = if words.is_empty() {
        "agevault".to_owned()
    } else {
        format!("agevault-{}", words.join("-"))
    };
    let bin = if words.is_empty() {
        "agevault".to_owned()
    } else {
        format!("agevault {}", words.join(" "))
    };
    let path = words.join(" ");
    let cmd = cmd
        .name(name.clone())
        .display_name(name.clone())
        .bin_name(bin)
        .version(env!("CARGO_PKG_VERSION"));
    // `help` is clap's built-in subcommand, not a page of its own: `--help` covers it.
    let cmd = cmd.disable_help_subcommand(true);
    let man = clap_mangen::Man::new(
        cmd.clone()
            .after_help(None::<&'static str>)
            .after_long_help(None::<&'static str>),
    );
    let mut out = Vec::new();
    let fail = |e: std::io::Error| format!("cannot render the man page: {e}");
    man.render_title(&mut out).map_err(fail)?;
    man.render_name_section(&mut out).map_err(fail)?;
    man.render_synopsis_section(&mut out).map_err(fail)?;
    man.render_description_section(&mut out).map_err(fail)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).map_err(fail)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out).map_err(fail)?;
    }
    let examples = examples(&path);
    if !examples.is_empty() {
        let _ = writeln!(out, ".SH EXAMPLES");
        for (line, what) in examples {
            let _ = writeln!(out, ".TP\n.B {}\n{}", roff_text(line), roff_text(what));
        }
    }
    section(&mut out, "EXIT STATUS", EXIT_STATUS);
    section(&mut out, "ENVIRONMENT", ENVIRONMENT);
    section(&mut out, "FILES", FILES);
    let see_also = if words.is_empty() {
        "age(1), git(1), ssh\\-keygen(1)".to_owned()
    } else {
        "agevault(1)".to_owned()
    };
    let _ = writeln!(out, ".SH \"SEE ALSO\"\n{see_also}");
    man.render_version_section(&mut out).map_err(fail)?;
    Ok((name, out))
}

/// Every page: `agevault` and each visible subcommand, recursively.
pub fn all_pages() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            at.push(sub.get_name().to_owned());
            walk(sub, at, out);
            at.pop();
        }
    }
    let mut out = Vec::new();
    walk(&command(), &mut Vec::new(), &mut out);
    out
}
