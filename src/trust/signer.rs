//! Signing keys: discovery (files and ssh-agent), generation, and SSHSIG signatures.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::trust::sigfile::canonical_signing_key;

/// Where `keygen` and `init` put the user's signing key.
pub fn default_signing_key_path() -> Option<PathBuf> {
    crate::keys::default_identity_path().map(|p| p.with_file_name("signing-key"))
}

/// The comment new signing keys carry: `agevault USER@HOST`.
pub fn default_comment() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "host".into(), |h| h.trim().to_owned());
    format!("agevault {user}@{host}")
}

/// A key that can sign: a private key file, or a key held by ssh-agent.
pub enum Signer {
    /// An unencrypted (or already decrypted) OpenSSH private key.
    File {
        /// Where it came from.
        path: PathBuf,
        /// The key.
        key: Box<PrivateKey>,
    },
    /// A key held by the agent at `socket`.
    Agent {
        /// `$SSH_AUTH_SOCK`.
        socket: PathBuf,
        /// The key.
        public: PublicKey,
    },
}

/// A candidate signing key, before it is unlocked.
pub struct Candidate {
    /// `FILE` or `ssh-agent`.
    pub source: String,
    /// The canonical public key.
    pub public: String,
    load: Load,
}

enum Load {
    File(PathBuf),
    Agent(PathBuf, PublicKey),
}

impl Candidate {
    /// Unlocks the key (asking for a passphrase on the terminal when it is encrypted).
    pub fn unlock(self) -> Result<Signer> {
        match self.load {
            Load::Agent(socket, public) => Ok(Signer::Agent { socket, public }),
            Load::File(path) => {
                let key = read_private(&path)?;
                let key = if key.is_encrypted() {
                    let pass = crate::terminal::prompt_hidden(&format!(
                        "Passphrase for signing key {}: ",
                        path.display()
                    ))?;
                    key.decrypt(secrecy::ExposeSecret::expose_secret(&pass).as_bytes())
                        .map_err(|_| {
                            Error::msg(format!(
                                "cannot unlock signing key {}: wrong passphrase",
                                path.display()
                            ))
                        })?
                } else {
                    key
                };
                Ok(Signer::File {
                    path,
                    key: Box::new(key),
                })
            }
        }
    }
}

impl Signer {
    /// Signs `message` in `namespace` and returns the SSHSIG armor.
    pub fn sign(&self, namespace: &str, message: &[u8]) -> Result<String> {
        let sig = match self {
            Signer::File { key, path } => key
                .sign(namespace, HashAlg::Sha512, message)
                .map_err(|e| Error::with_source(format!("cannot sign with {}", path.display()), e))?,
            Signer::Agent { socket, public } => agent_sign(socket, public, namespace, message)?,
        };
        sig.to_pem(LineEnding::LF)
            .map_err(|e| Error::with_source("cannot encode a signature", e))
    }
}

fn read_private(path: &Path) -> Result<PrivateKey> {
    let text = Zeroizing::new(read_small(path)?);
    PrivateKey::from_openssh(text.as_bytes()).map_err(|_| {
        Error::msg(format!(
            "{} is not an OpenSSH private key (`agevault trust keygen` makes one)",
            path.display()
        ))
    })
}

fn read_small(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("reading signing key", path, e))?;
    let mut text = String::new();
    file.take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Error::io("reading signing key", path, e))?;
    Ok(text)
}

/// The public key of a key file, from `FILE.pub` when present (no passphrase needed).
fn public_of_file(path: &Path) -> Result<String> {
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    if let Ok(text) = std::fs::read_to_string(&pub_path) {
        if let Ok(key) = canonical_signing_key(&text) {
            return Ok(key);
        }
    }
    let key = read_private(path)?;
    let text = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::with_source(path.display().to_string(), e))?;
    canonical_signing_key(&text).map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

/// Every signing key found, in order: `explicit` files, `$AGEVAULT_SIGNING_KEY`,
/// the default signing key, `~/.ssh/id_ed25519`, then ssh-agent's Ed25519 keys.
/// Unusable defaults are skipped; an explicit file that cannot be read is an error.
pub fn discover(explicit: &[PathBuf]) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    let mut files: Vec<(PathBuf, bool)> = explicit.iter().map(|p| (p.clone(), true)).collect();
    if let Some(p) = std::env::var_os("AGEVAULT_SIGNING_KEY").filter(|v| !v.is_empty()) {
        files.push((PathBuf::from(p), true));
    }
    if let Some(p) = default_signing_key_path() {
        files.push((p, false));
    }
    if let Some(home) = crate::keys::home_dir() {
        files.push((home.join(".ssh/id_ed25519"), false));
    }
    for (path, required) in files {
        if !required && !path.exists() {
            continue;
        }
        match public_of_file(&path) {
            Ok(public) => out.push(Candidate {
                source: path.display().to_string(),
                public,
                load: Load::File(path),
            }),
            Err(e) if required => return Err(e),
            Err(_) => {}
        }
    }
    if let Some(socket) = std::env::var_os("SSH_AUTH_SOCK").filter(|v| !v.is_empty()) {
        let socket = PathBuf::from(socket);
        for public in agent_keys(&socket).unwrap_or_default() {
            if let Ok(text) = public.to_openssh() {
                if let Ok(canonical) = canonical_signing_key(&text) {
                    out.push(Candidate {
                        source: "ssh-agent".into(),
                        public: canonical,
                        load: Load::Agent(socket.clone(), public),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// A fresh Ed25519 signing key: the OpenSSH private key text and the public key line.
pub fn generate(comment: &str) -> Result<(Zeroizing<String>, String)> {
    let mut key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519)
        .map_err(|e| Error::with_source("cannot generate a signing key", e))?;
    key.set_comment(comment);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::with_source("cannot encode a signing key", e))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::with_source("cannot encode a signing key", e))?;
    Ok((Zeroizing::new(private.to_string()), public))
}

/// Writes a new signing key pair (`PATH` 0600 and `PATH.pub`); never overwrites.
pub fn write_new(path: &Path, comment: &str) -> Result<String> {
    let (private, public) = generate(comment)?;
    crate::keys::write_private_file(path, private.as_bytes())?;
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    std::fs::write(&pub_path, format!("{public}\n")).map_err(|e| Error::io("writing", &pub_path, e))?;
    canonical_signing_key(&public).map_err(Error::msg)
}

// ---- ssh-agent protocol (draft-miller-ssh-agent): list identities, sign ----

const AGENT_FAILURE: u8 = 5;
const AGENTC_REQUEST_IDENTITIES: u8 = 11;
const AGENT_IDENTITIES_ANSWER: u8 = 12;
const AGENTC_SIGN_REQUEST: u8 = 13;
const AGENT_SIGN_RESPONSE: u8 = 14;
const MAX_AGENT_REPLY: usize = 256 * 1024;

fn agent_call(socket: &Path, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut framed = Vec::with_capacity(request.len() + 4);
    framed.extend_from_slice(&u32::try_from(request.len()).unwrap_or(u32::MAX).to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_AGENT_REPLY {
        return Err(std::io::Error::other("bad agent reply length"));
    }
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply)?;
    Ok(reply)
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

fn take_u32(buf: &mut &[u8]) -> Option<u32> {
    let (head, rest) = buf.split_first_chunk::<4>()?;
    *buf = rest;
    Some(u32::from_be_bytes(*head))
}

fn take_string<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take_u32(buf)? as usize;
    if buf.len() < len {
        return None;
    }
    let (s, rest) = buf.split_at(len);
    *buf = rest;
    Some(s)
}

fn agent_keys(socket: &Path) -> std::io::Result<Vec<PublicKey>> {
    let reply = agent_call(socket, &[AGENTC_REQUEST_IDENTITIES])?;
    let bad = || std::io::Error::other("malformed agent reply");
    let (&kind, mut rest) = reply.split_first().ok_or_else(bad)?;
    if kind != AGENT_IDENTITIES_ANSWER {
        return Err(bad());
    }
    let count = take_u32(&mut rest).ok_or_else(bad)?;
    let mut keys = Vec::new();
    for _ in 0..count.min(1024) {
        let blob = take_string(&mut rest).ok_or_else(bad)?;
        take_string(&mut rest).ok_or_else(bad)?;
        if let Ok(key) = PublicKey::from_bytes(blob) {
            if key.algorithm() == Algorithm::Ed25519 {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

fn agent_sign(socket: &Path, public: &PublicKey, namespace: &str, message: &[u8]) -> Result<SshSig> {
    let fail = |why: String| Error::msg(format!("ssh-agent could not sign: {why}"));
    let data = SshSig::signed_data(namespace, HashAlg::Sha512, message).map_err(|e| fail(e.to_string()))?;
    let blob = public.to_bytes().map_err(|e| fail(e.to_string()))?;
    let mut request = vec![AGENTC_SIGN_REQUEST];
    put_string(&mut request, &blob);
    put_string(&mut request, &data);
    request.extend_from_slice(&0u32.to_be_bytes());
    let reply = agent_call(socket, &request).map_err(|e| fail(e.to_string()))?;
    match reply.split_first() {
        Some((&AGENT_SIGN_RESPONSE, mut rest)) => {
            let mut sig = take_string(&mut rest).ok_or_else(|| fail("malformed reply".into()))?;
            let algo = take_string(&mut sig).ok_or_else(|| fail("malformed reply".into()))?;
            let bytes = take_string(&mut sig).ok_or_else(|| fail("malformed reply".into()))?;
            if algo != b"ssh-ed25519" {
                return Err(fail("unexpected signature algorithm".into()));
            }
            let signature = ssh_key::Signature::new(Algorithm::Ed25519, bytes.to_vec())
                .map_err(|e| fail(e.to_string()))?;
            SshSig::new(public.key_data().clone(), namespace, HashAlg::Sha512, signature)
                .map_err(|e| fail(e.to_string()))
        }
        Some((&AGENT_FAILURE, _)) => Err(fail("the agent refused (is the key still loaded?)".into())),
        _ => Err(fail("unexpected reply".into())),
    }
}
