//! The system `gpg`, run with `--batch` and spoken to through pipes only: plaintext goes
//! in on stdin or comes out on stdout, never through a file; `--status-fd` says which
//! key decrypted and why a run failed. gpg-agent and its pinentry ask for passphrases
//! and smartcard PINs themselves.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};

use crate::secret_buf::SecretBuf;

/// The largest output read from gpg (a decrypted vault; gpg's own limit is set the same).
const MAX_OUTPUT: u64 = crate::store::MAX_VAULT_BYTES;

/// The most of gpg's stderr (messages and status lines) kept.
const MAX_STDERR: u64 = 256 << 10;

/// Why gpg did not do what was asked. Every variant reads as the end of a sentence
/// ("cannot decrypt FILE: …"), and none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpgFailure {
    /// The gpg program could not be found.
    Missing {
        /// The program that was looked for.
        program: String,
    },
    /// gpg could not be started or talked to.
    Spawn(String),
    /// The file is encrypted to these key ids, and gpg holds none of their secret keys.
    NoSecretKey {
        /// Long key ids, as in the file.
        key_ids: Vec<String>,
    },
    /// The passphrase or PIN given at the pinentry was wrong.
    BadPassphrase,
    /// The pinentry was cancelled.
    Cancelled,
    /// No pinentry could be shown to ask for the passphrase or PIN.
    NoPinentry,
    /// A recipient's key cannot be encrypted to.
    Recipient {
        /// The recipient's fingerprint.
        fingerprint: String,
        /// Why, as a clause.
        why: String,
    },
    /// The decrypted data is larger than a vault may be.
    TooLarge,
    /// Anything else, with gpg's own last message.
    Failed(String),
}

impl std::fmt::Display for GpgFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpgFailure::Missing { program } => write!(
                f,
                "`{program}` (GnuPG) is not installed or not on PATH, and OpenPGP (.gpg) vault files need it: \
                 install GnuPG (`apt-get install gpg gpg-agent`), or set AGEVAULT_GPG to the gpg program"
            ),
            GpgFailure::Spawn(why) => write!(f, "gpg could not be run: {why}"),
            GpgFailure::NoSecretKey { key_ids } => write!(
                f,
                "it is encrypted to OpenPGP key id(s) {}, and gpg holds the secret key of none of them (`gpg \
                 --list-secret-keys` lists yours; check GNUPGHOME, or insert your smartcard)",
                key_ids.join(", ")
            ),
            GpgFailure::BadPassphrase => f.write_str("the passphrase or PIN given to gpg's pinentry was wrong"),
            GpgFailure::Cancelled => f.write_str("the passphrase or PIN prompt of gpg's pinentry was cancelled"),
            GpgFailure::NoPinentry => f.write_str(
                "gpg-agent could not show a pinentry to ask for the key's passphrase or PIN (on a terminal, run \
                 `export GPG_TTY=$(tty)`; for unattended use, a key without a passphrase or a preset one)",
            ),
            GpgFailure::Recipient { fingerprint, why } => write!(f, "OpenPGP recipient pgp:{fingerprint} {why}"),
            GpgFailure::TooLarge => write!(f, "it decrypts to more than {} MiB", MAX_OUTPUT >> 20),
            GpgFailure::Failed(why) => write!(f, "gpg failed: {why}"),
        }
    }
}

impl std::error::Error for GpgFailure {}

/// The gpg program: `$AGEVAULT_GPG`, else `gpg` on PATH.
pub fn program() -> OsString {
    std::env::var_os("AGEVAULT_GPG")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "gpg".into())
}

/// What gpg said on stderr: `[GNUPG:]` status lines and human messages, apart.
#[derive(Default)]
struct Said {
    status: Vec<Vec<String>>,
    messages: Vec<String>,
}

impl Said {
    fn parse(stderr: &[u8]) -> Said {
        let mut said = Said::default();
        for line in String::from_utf8_lossy(stderr).lines() {
            if let Some(status) = line.strip_prefix("[GNUPG:] ") {
                said.status
                    .push(status.split_whitespace().map(str::to_owned).collect());
            } else if !line.trim().is_empty() {
                said.messages.push(line.trim().to_owned());
            }
        }
        said
    }

    fn has(&self, keyword: &str) -> bool {
        self.status
            .iter()
            .any(|s| s.first().is_some_and(|k| k == keyword))
    }

    /// The arguments of every status line with this keyword.
    fn args<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a [String]> + 'a {
        self.status
            .iter()
            .filter(move |s| s.first().is_some_and(|k| k == keyword))
            .map(|s| &s[1..])
    }

    /// gpg's last complaint, for a message (sanitized: it may quote a user id).
    fn last_message(&self) -> String {
        self.messages
            .iter()
            .rev()
            .find(|m| m.starts_with("gpg:"))
            .or_else(|| self.messages.last())
            .map_or_else(
                || "it gave no reason".to_owned(),
                |m| crate::terminal::sanitize(m.trim_start_matches("gpg:").trim()),
            )
    }
}

/// Runs gpg with `args`, feeding `input` on stdin from a thread (so a full stdout pipe can
/// never deadlock against a full stdin pipe) while `read_stdout` drains stdout.
fn run<T>(
    args: &[&str],
    input: &[u8],
    read_stdout: impl FnOnce(std::process::ChildStdout) -> std::io::Result<T>,
) -> Result<(T, Said, ExitStatus), GpgFailure> {
    let program = program();
    let mut cmd = Command::new(&program);
    cmd.args(["--batch", "--no-tty", "--status-fd", "2"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // gpg's stdin is our pipe, so a curses pinentry finds the user's terminal only
    // through GPG_TTY; most users set it in their shell, this covers the others.
    if std::env::var_os("GPG_TTY").is_none() {
        if let Some(tty) = own_terminal() {
            cmd.env("GPG_TTY", tty);
        }
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            GpgFailure::Missing {
                program: program.to_string_lossy().into_owned(),
            }
        } else {
            GpgFailure::Spawn(format!("{}: {e}", program.to_string_lossy()))
        }
    })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (out, err) = std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Some(mut pipe) = stdin {
                // gpg may stop reading early (a bad recipient): its error says why.
                let _ = pipe.write_all(input);
            }
        });
        let errors = scope.spawn(move || {
            let mut text = Vec::new();
            if let Some(pipe) = stderr {
                let _ = pipe.take(MAX_STDERR).read_to_end(&mut text);
            }
            text
        });
        let out = match stdout {
            Some(pipe) => read_stdout(pipe),
            None => Err(std::io::Error::other("no stdout pipe")),
        };
        (out, errors.join().unwrap_or_default())
    });
    let status = child
        .wait()
        .map_err(|e| GpgFailure::Spawn(format!("waiting for gpg: {e}")))?;
    let out = out.map_err(|e| GpgFailure::Spawn(format!("reading gpg's output: {e}")))?;
    Ok((out, Said::parse(&err), status))
}

/// The terminal this process runs on, if any (for GPG_TTY).
fn own_terminal() -> Option<std::path::PathBuf> {
    nix::unistd::ttyname(std::io::stdin())
        .or_else(|_| nix::unistd::ttyname(std::io::stderr()))
        .ok()
}

/// Encrypts `plaintext` to the keys with these fingerprints (each gpg chooses the key's
/// encryption subkey), ASCII-armored. `--trust-model always`: the config, signed by a
/// writer, is what makes a key trusted here, not the web of trust. `--no-encrypt-to`
/// and `--no-throw-keyids` keep a user's gpg.conf from adding readers or hiding them.
pub fn encrypt(plaintext: &[u8], fingerprints: &[String]) -> Result<Vec<u8>, GpgFailure> {
    let mut args = vec![
        "--quiet",
        "--yes",
        "--armor",
        "--trust-model",
        "always",
        "--no-encrypt-to",
        "--no-throw-keyids",
        "--output",
        "-",
        "--encrypt",
    ];
    for fpr in fingerprints {
        args.push("--recipient");
        args.push(fpr);
    }
    let (out, said, status) = run(&args, plaintext, |pipe| {
        let mut out = Vec::with_capacity(plaintext.len() + 4096);
        pipe.take(MAX_OUTPUT * 2).read_to_end(&mut out).map(|_| out)
    })?;
    if let Some(bad) = said.args("INV_RECP").next() {
        let reason = bad.first().map(String::as_str).unwrap_or("0");
        let named = bad.get(1).cloned().unwrap_or_default();
        let fingerprint = fingerprints
            .iter()
            .find(|f| named.ends_with(f.as_str()) || f.ends_with(named.as_str()))
            .cloned()
            .unwrap_or(named);
        let why =
            match reason {
                "1" => "is not in your gpg keyring: import its public key first (`gpg --import KEYFILE`)"
                    .to_owned(),
                "4" => "is revoked: it cannot be encrypted to".to_owned(),
                "5" => "has expired: extend it (`gpg --quick-set-expire`) and re-import it, or replace it"
                    .to_owned(),
                "3" => "has no key that may encrypt (no usable encryption subkey)".to_owned(),
                "2" => "is ambiguous in your gpg keyring".to_owned(),
                _ => format!("cannot be encrypted to ({})", said.last_message()),
            };
        return Err(GpgFailure::Recipient { fingerprint, why });
    }
    if !status.success() || !super::armor::is_armored(&out) {
        return Err(GpgFailure::Failed(said.last_message()));
    }
    Ok(out)
}

/// A decrypted file.
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: SecretBuf,
}

/// Decrypts an armored OpenPGP message fed on stdin. The caller has checked its packet
/// structure (encrypted to public keys, integrity-protected). The plaintext is returned
/// only when gpg reports a successful, integrity-checked decryption.
pub fn decrypt(ciphertext: &[u8]) -> Result<Decrypted, GpgFailure> {
    let limit = MAX_OUTPUT.to_string();
    // Not --quiet: it also silences the NO_SECKEY status lines that tell "not a reader".
    let args = [
        // An attacker-made file that is also signed must not make gpg fetch keys.
        "--no-auto-key-retrieve",
        "--no-use-embedded-filename",
        "--max-output",
        &limit,
        "--output",
        "-",
        "--decrypt",
    ];
    let hint = ciphertext.len() / 4 * 3 * 4;
    let (plaintext, said, status) = run(&args, ciphertext, |pipe| {
        SecretBuf::read_all(pipe.take(MAX_OUTPUT + 1), hint.min(1 << 24))
    })?;
    let okay = status.success()
        && said.has("DECRYPTION_OKAY")
        && !said.has("DECRYPTION_FAILED")
        && !said.has("BADMDC");
    if okay {
        if plaintext.as_slice().len() as u64 > MAX_OUTPUT {
            return Err(GpgFailure::TooLarge);
        }
        return Ok(Decrypted { plaintext });
    }
    drop(plaintext);
    Err(classify_decryption(&said))
}

/// Why a decryption failed, from gpg's status lines.
fn classify_decryption(said: &Said) -> GpgFailure {
    // gpg-error codes (libgpg-error's err-codes.h), low 16 bits of an ERROR status.
    const BAD_PASSPHRASE: u32 = 11;
    const NO_PIN_ENTRY: u32 = 85;
    const BAD_PIN: u32 = 87;
    const CANCELED: u32 = 99;
    const FULLY_CANCELED: u32 = 198;
    for args in said.args("ERROR") {
        let code = args
            .get(1)
            .and_then(|c| c.parse::<u32>().ok())
            .map(|c| c & 0xFFFF);
        match code {
            Some(BAD_PASSPHRASE | BAD_PIN) => return GpgFailure::BadPassphrase,
            Some(CANCELED | FULLY_CANCELED) => return GpgFailure::Cancelled,
            Some(NO_PIN_ENTRY) => return GpgFailure::NoPinentry,
            _ => {}
        }
    }
    let to: Vec<String> = said.args("ENC_TO").filter_map(|a| a.first().cloned()).collect();
    let missing: Vec<&String> = said.args("NO_SECKEY").filter_map(|a| a.first()).collect();
    if !to.is_empty()
        && !said.has("DECRYPTION_KEY")
        && !said.has("ERROR")
        && to.iter().all(|k| missing.contains(&k))
    {
        return GpgFailure::NoSecretKey { key_ids: to };
    }
    GpgFailure::Failed(said.last_message())
}

/// A public key in the gpg keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The primary key's fingerprint.
    pub fingerprint: String,
    /// Its first user id (sanitized), for messages.
    pub user_id: Option<String>,
    /// Whether the key as a whole can encrypt (a valid encryption subkey), per gpg.
    pub can_encrypt: bool,
    /// gpg's validity letter of the primary key (`r` revoked, `e` expired, …).
    pub validity: char,
    /// The long key ids of the primary key and every subkey.
    pub key_ids: Vec<String>,
    /// The fingerprints of its subkeys.
    pub subkey_fingerprints: Vec<String>,
}

/// The keys with these fingerprints (primary or subkey) that the keyring holds.
pub fn list_keys(fingerprints: &[String]) -> Result<Vec<KeyInfo>, GpgFailure> {
    if fingerprints.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["--with-colons", "--fixed-list-mode", "--list-keys", "--"];
    args.extend(fingerprints.iter().map(String::as_str));
    list(&args)
}

/// Every key the keyring holds a secret (or smartcard stub) for.
pub fn list_secret_keys() -> Result<Vec<KeyInfo>, GpgFailure> {
    list(&["--with-colons", "--fixed-list-mode", "--list-secret-keys"])
}

fn list(args: &[&str]) -> Result<Vec<KeyInfo>, GpgFailure> {
    // The exit status is not looked at: gpg exits 2 when some of the keys asked for are
    // missing, and what is listed is all that matters.
    let (out, _, _) = run(args, b"", |pipe| {
        let mut out = Vec::new();
        pipe.take(16 << 20).read_to_end(&mut out).map(|_| out)
    })?;
    Ok(parse_colons(&String::from_utf8_lossy(&out)))
}

/// Parses `--with-colons` key listings (pub/sec, sub/ssb, fpr, uid records).
fn parse_colons(text: &str) -> Vec<KeyInfo> {
    let mut keys: Vec<KeyInfo> = Vec::new();
    // Which record the next `fpr` line belongs to: the primary key, or a subkey.
    let mut last_was_primary = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let field = |i: usize| fields.get(i - 1).copied().unwrap_or("");
        match field(1) {
            "pub" | "sec" => {
                keys.push(KeyInfo {
                    fingerprint: String::new(),
                    user_id: None,
                    can_encrypt: field(12).contains('E'),
                    validity: field(2).chars().next().unwrap_or('-'),
                    key_ids: vec![field(5).to_ascii_uppercase()],
                    subkey_fingerprints: Vec::new(),
                });
                last_was_primary = true;
            }
            "sub" | "ssb" => {
                if let Some(k) = keys.last_mut() {
                    k.key_ids.push(field(5).to_ascii_uppercase());
                }
                last_was_primary = false;
            }
            "fpr" => {
                if let Some(k) = keys.last_mut() {
                    let fpr = field(10).to_ascii_uppercase();
                    if last_was_primary && k.fingerprint.is_empty() {
                        k.fingerprint = fpr;
                    } else {
                        k.subkey_fingerprints.push(fpr);
                    }
                }
            }
            "uid" => {
                if let Some(k) = keys.last_mut() {
                    if k.user_id.is_none() {
                        k.user_id = Some(crate::terminal::sanitize(&unescape_colons(field(10))));
                    }
                }
            }
            _ => {}
        }
    }
    keys.retain(|k| !k.fingerprint.is_empty());
    keys
}

/// `--with-colons` escapes `:` and non-printable bytes as `\xHH`.
fn unescape_colons(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            if let Some(b) = text
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_listings() {
        let text = "tru:o:1:1796139063:1:3:1:5\n\
pub:u:255:22:164C6FB1D369BE9B:1796139063:::u:::scESC:::::ed25519:::0:\n\
fpr:::::::::E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B:\n\
uid:u::::1796139063::61921AEBFFB56BAC7025929E93D1CE71D7C5944C::Alice \\x3a x <a@x>::::::::::0:\n\
sub:u:255:18:7A39D1E6E694B68D:1796139063::::::e:::::cv25519::\n\
fpr:::::::::249CD49BF5F3B1EFD77BAAE97A39D1E6E694B68D:\n";
        let keys = parse_colons(text);
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k.fingerprint, "E4DEACDB6D500DECF6743BEA164C6FB1D369BE9B");
        assert_eq!(k.key_ids, ["164C6FB1D369BE9B", "7A39D1E6E694B68D"]);
        assert_eq!(
            k.subkey_fingerprints,
            ["249CD49BF5F3B1EFD77BAAE97A39D1E6E694B68D"]
        );
        assert!(k.can_encrypt);
        assert_eq!(k.user_id.as_deref(), Some("Alice : x <a@x>"));
    }

    #[test]
    fn classifies_failures_from_status_lines() {
        let said = Said::parse(
            b"[GNUPG:] ENC_TO 7A39D1E6E694B68D 18 0\n[GNUPG:] NO_SECKEY 7A39D1E6E694B68D\n\
[GNUPG:] BEGIN_DECRYPTION\n[GNUPG:] DECRYPTION_FAILED\ngpg: decryption failed: No secret key\n",
        );
        assert_eq!(
            classify_decryption(&said),
            GpgFailure::NoSecretKey {
                key_ids: vec!["7A39D1E6E694B68D".into()]
            }
        );
        let said = Said::parse(
            b"[GNUPG:] ENC_TO CCB88F363B7BC621 18 0\ngpg: public key decryption failed: Bad passphrase\n\
[GNUPG:] ERROR pkdecrypt_failed 67108875\n[GNUPG:] DECRYPTION_FAILED\n",
        );
        assert_eq!(classify_decryption(&said), GpgFailure::BadPassphrase);
        let said = Said::parse(b"gpg: something odd\n");
        assert_eq!(
            classify_decryption(&said),
            GpgFailure::Failed("something odd".into())
        );
    }
}
