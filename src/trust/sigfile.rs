//! The signature file beside each vault (`secrets.json.age.sig`): signed manifests and the
//! writer-change chain, in a text format whose first section `ssh-keygen -Y verify` checks.
//!
//! ```text
//! agevault-signature 1            ← the current manifest (namespace "agevault")
//! vault-id: 32 hex
//! file: secrets.json.age
//! generation: 7
//! vault-sha256: 64 hex
//! config-sha256: 64 hex
//! writer: alice ssh-ed25519 AAAA…
//! signer: ssh-ed25519 AAAA…
//! -----BEGIN SSH SIGNATURE-----
//! …
//! -----END SSH SIGNATURE-----
//! agevault-signature 1            ← optional: the previous manifest (crash safety, see trust::sign)
//! …
//! agevault-writer-change 1        ← zero or more links, oldest first (namespace "agevault-writers")
//! vault-id: …
//! previous-writers-sha256: 64 hex
//! writer: …
//! signer: ssh-ed25519 AAAA…        (a writer of the previous set)
//! -----BEGIN SSH SIGNATURE-----
//! …
//! ```
//!
//! The signed message of a section is its header lines, each ending in `\n`.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use ssh_key::{PublicKey, SshSig};

/// SSHSIG namespace of manifests.
pub const NAMESPACE_VAULT: &str = "agevault";
/// SSHSIG namespace of writer-change links.
pub const NAMESPACE_WRITERS: &str = "agevault-writers";
/// Signature files larger than this are refused before parsing.
pub const MAX_SIG_FILE: usize = 1 << 20;
/// At most this many writers in one set.
pub const MAX_WRITERS: usize = 256;
/// At most this many writer changes in a chain.
pub const MAX_CHAIN: usize = 1024;

const MANIFEST_HEADER: &str = "agevault-signature 1";
const CHANGE_HEADER: &str = "agevault-writer-change 1";
const SIG_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const SIG_END: &str = "-----END SSH SIGNATURE-----";

/// Lower-case hex of SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(bytes))
}

/// A writer's public signing key in canonical form (`ssh-ed25519 BASE64`, no comment).
pub fn canonical_signing_key(text: &str) -> Result<String, String> {
    let key = PublicKey::from_openssh(text.trim())
        .map_err(|_| "it is not an OpenSSH public key (`ssh-ed25519 AAAA…`)".to_owned())?;
    if key.algorithm() != ssh_key::Algorithm::Ed25519 {
        return Err(format!(
            "signing keys must be ssh-ed25519, not {}",
            key.algorithm().as_str()
        ));
    }
    let mut plain = PublicKey::new(key.key_data().clone(), "");
    plain.set_comment("");
    plain
        .to_openssh()
        .map(|s| s.trim().to_owned())
        .map_err(|_| "it cannot be encoded".to_owned())
}

/// A set of writers: name → canonical signing key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterSet(BTreeMap<String, String>);

impl WriterSet {
    /// Builds a set, checking names and keys; keys must be unique.
    pub fn new(entries: impl IntoIterator<Item = (String, String)>) -> Result<WriterSet, String> {
        let mut map = BTreeMap::new();
        let mut keys = BTreeMap::new();
        for (name, key) in entries {
            if let Some(problem) = crate::secret_path::segment_problem(&name) {
                return Err(format!(
                    "writer name `{}` {problem}",
                    crate::terminal::sanitize(&name)
                ));
            }
            let key = canonical_signing_key(&key)
                .map_err(|e| format!("the key of writer `{name}` is invalid: {e}"))?;
            if let Some(other) = keys.insert(key.clone(), name.clone()) {
                return Err(format!("writers `{other}` and `{name}` have the same key"));
            }
            if map.insert(name.clone(), key).is_some() {
                return Err(format!("writer `{name}` appears twice"));
            }
        }
        if map.len() > MAX_WRITERS {
            return Err(format!("more than {MAX_WRITERS} writers"));
        }
        Ok(WriterSet(map))
    }

    /// Whether there is no writer.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Name → key, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// The name of the writer holding `key`.
    pub fn name_of(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(_, k)| *k == key).map(|(n, _)| n.as_str())
    }

    /// Whether `key` is a writer's key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.name_of(key).is_some()
    }

    /// The SHA-256 of the set's canonical lines: what a writer change refers to.
    pub fn digest(&self) -> String {
        let mut text = String::new();
        for (name, key) in &self.0 {
            text.push_str(name);
            text.push(' ');
            text.push_str(key);
            text.push('\n');
        }
        sha256_hex(text.as_bytes())
    }

    /// `alice, bob`.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.0.keys().map(String::as_str).collect();
        if names.is_empty() {
            "(none)".into()
        } else {
            names.join(", ")
        }
    }

    fn write_lines(&self, out: &mut String) {
        for (name, key) in &self.0 {
            out.push_str("writer: ");
            out.push_str(name);
            out.push(' ');
            out.push_str(key);
            out.push('\n');
        }
    }
}

/// What a manifest states about one version of one vault file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The vault's random id (32 hex), fixed at its first signature.
    pub vault_id: String,
    /// The vault file's name (no directory), so files cannot be swapped.
    pub file: String,
    /// Incremented by every write.
    pub generation: u64,
    /// SHA-256 of the vault file's bytes.
    pub vault_sha256: String,
    /// SHA-256 of the canonical config (see `ConfigFile::parse_with_digest`).
    pub config_sha256: String,
    /// Who may write this version's successor.
    pub writers: WriterSet,
    /// The key that signed this manifest.
    pub signer: String,
}

/// A change of the writer set, signed by a writer of the previous set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterChange {
    /// The vault it belongs to.
    pub vault_id: String,
    /// Its position in the chain (1 for the first change): signed, so an old link
    /// cannot be replayed at a later position.
    pub index: u64,
    /// Digest of the set it replaces.
    pub previous: String,
    /// The new set.
    pub writers: WriterSet,
    /// The key that signed it (in the previous set).
    pub signer: String,
}

/// A section with its signed text and signature.
#[derive(Clone, Debug)]
pub struct Signed<T> {
    /// What the section states.
    pub body: T,
    /// The exact signed message.
    pub message: String,
    /// The SSHSIG armor.
    pub armor: String,
}

/// A parsed signature file.
#[derive(Clone, Debug)]
pub struct SigFile {
    /// The manifest of the current version.
    pub current: Signed<Manifest>,
    /// The manifest of the version before it, when kept (a crash between writing the
    /// signature and the vault leaves the old vault, which this still covers).
    pub previous: Option<Signed<Manifest>>,
    /// Writer changes, oldest first.
    pub chain: Vec<Signed<WriterChange>>,
}

impl Manifest {
    /// The signed text.
    pub fn message(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(MANIFEST_HEADER);
        out.push('\n');
        for (k, v) in [
            ("vault-id", self.vault_id.as_str()),
            ("file", self.file.as_str()),
            ("generation", &self.generation.to_string()),
            ("vault-sha256", &self.vault_sha256),
            ("config-sha256", &self.config_sha256),
        ] {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push('\n');
        }
        self.writers.write_lines(&mut out);
        out.push_str("signer: ");
        out.push_str(&self.signer);
        out.push('\n');
        out
    }
}

impl WriterChange {
    /// The signed text.
    pub fn message(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(CHANGE_HEADER);
        out.push('\n');
        out.push_str("vault-id: ");
        out.push_str(&self.vault_id);
        out.push('\n');
        out.push_str("index: ");
        out.push_str(&self.index.to_string());
        out.push('\n');
        out.push_str("previous-writers-sha256: ");
        out.push_str(&self.previous);
        out.push('\n');
        self.writers.write_lines(&mut out);
        out.push_str("signer: ");
        out.push_str(&self.signer);
        out.push('\n');
        out
    }
}

impl<T> Signed<T> {
    /// Checks the SSHSIG over the message: made by `signer`, in `namespace`.
    pub fn verify(&self, signer: &str, namespace: &str) -> Result<(), String> {
        let key =
            PublicKey::from_openssh(signer).map_err(|_| "the signer key is not an SSH key".to_owned())?;
        let sig = SshSig::from_pem(self.armor.as_bytes())
            .map_err(|_| "the SSH signature block is malformed".to_owned())?;
        if sig.public_key() != key.key_data() {
            return Err("the signature was made by another key than the one named".into());
        }
        key.verify(namespace, self.message.as_bytes(), &sig)
            .map_err(|_| "the signature does not verify".to_owned())
    }
}

impl SigFile {
    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let sections = std::iter::once((&self.current.message, &self.current.armor))
            .chain(self.previous.iter().map(|p| (&p.message, &p.armor)))
            .chain(self.chain.iter().map(|c| (&c.message, &c.armor)));
        for (message, armor) in sections {
            out.push_str(message);
            out.push_str(armor.trim_end());
            out.push('\n');
        }
        out
    }

    /// Parses a signature file. Nothing is verified here.
    pub fn parse(bytes: &[u8]) -> Result<SigFile, String> {
        if bytes.len() > MAX_SIG_FILE {
            return Err(format!("it is larger than {} KiB", MAX_SIG_FILE / 1024));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())?;
        let mut lines = text.lines().enumerate();
        let mut manifests = Vec::new();
        let mut chain = Vec::new();
        while let Some((n, first)) = lines.next() {
            if first.trim().is_empty() {
                continue;
            }
            let Section {
                fields,
                message,
                armor,
            } = read_section(&mut lines, n, first)?;
            match first {
                MANIFEST_HEADER => {
                    if !chain.is_empty() || manifests.len() == 2 {
                        return Err(format!("line {}: unexpected manifest section", n + 1));
                    }
                    manifests.push(Signed {
                        body: parse_manifest(&fields)?,
                        message,
                        armor,
                    });
                }
                CHANGE_HEADER => {
                    if manifests.is_empty() {
                        return Err(format!("line {}: the file must start with a manifest", n + 1));
                    }
                    if chain.len() >= MAX_CHAIN {
                        return Err(format!("more than {MAX_CHAIN} writer changes"));
                    }
                    chain.push(Signed {
                        body: parse_change(&fields)?,
                        message,
                        armor,
                    });
                }
                other => {
                    return Err(format!(
                        "line {}: unknown section `{}`",
                        n + 1,
                        crate::terminal::sanitize(&other.chars().take(40).collect::<String>())
                    ))
                }
            }
        }
        let mut manifests = manifests.into_iter();
        let current = manifests.next().ok_or("it holds no manifest")?;
        let previous = manifests.next();
        check_sequence(&current, previous.as_ref(), &chain)?;
        Ok(SigFile {
            current,
            previous,
            chain,
        })
    }
}

/// One section of a signature file, as read.
struct Section {
    /// Its `key: value` fields, with their line numbers.
    fields: Vec<(usize, String, String)>,
    /// What is signed: the header line and the field lines.
    message: String,
    /// The SSH signature armor that follows.
    armor: String,
}

/// Reads the rest of the section that starts with `first` (line `n`, 0-based).
fn read_section<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    n: usize,
    first: &str,
) -> Result<Section, String> {
    let mut message = String::new();
    message.push_str(first);
    message.push('\n');
    let mut fields = Vec::new();
    loop {
        let Some((ln, line)) = lines.next() else {
            return Err(format!("line {}: the section has no signature", n + 1));
        };
        if line == SIG_BEGIN {
            break;
        }
        let (k, v) = line
            .split_once(": ")
            .ok_or_else(|| format!("line {}: expected `key: value`", ln + 1))?;
        fields.push((ln + 1, k.to_owned(), v.to_owned()));
        message.push_str(line);
        message.push('\n');
    }
    let mut armor = String::from(SIG_BEGIN);
    armor.push('\n');
    loop {
        let Some((ln, line)) = lines.next() else {
            return Err(format!("line {}: the signature block is not closed", n + 1));
        };
        armor.push_str(line);
        armor.push('\n');
        if line == SIG_END {
            break;
        }
        if armor.len() > 4096 {
            return Err(format!("line {}: the signature block is too long", ln + 1));
        }
    }
    Ok(Section {
        fields,
        message,
        armor,
    })
}

/// Checks that the sections belong together: the previous manifest precedes the current
/// one of the same vault, and the writer changes are that vault's, numbered in order.
fn check_sequence(
    current: &Signed<Manifest>,
    previous: Option<&Signed<Manifest>>,
    chain: &[Signed<WriterChange>],
) -> Result<(), String> {
    if let Some(p) = previous {
        if p.body.vault_id != current.body.vault_id || p.body.generation >= current.body.generation {
            return Err("its previous manifest does not precede the current one".into());
        }
    }
    if chain.iter().any(|c| c.body.vault_id != current.body.vault_id) {
        return Err("a writer change belongs to another vault".into());
    }
    if chain
        .iter()
        .enumerate()
        .any(|(i, c)| c.body.index != i as u64 + 1)
    {
        return Err("the writer changes are not numbered 1, 2, 3, … in order".into());
    }
    Ok(())
}

struct Fields<'a> {
    fields: &'a [(usize, String, String)],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, key: &str) -> Result<&'a str, String> {
        match self.fields.get(self.at) {
            Some((_, k, v)) if k == key => {
                self.at += 1;
                Ok(v)
            }
            Some((ln, k, _)) => Err(format!(
                "line {ln}: expected `{key}`, found `{}`",
                crate::terminal::sanitize(&k.chars().take(40).collect::<String>())
            )),
            None => Err(format!("a section lacks `{key}`")),
        }
    }

    fn writers(&mut self) -> Result<WriterSet, String> {
        let mut entries = Vec::new();
        while let Some((ln, k, v)) = self.fields.get(self.at) {
            if k != "writer" {
                break;
            }
            self.at += 1;
            let (name, key) = v
                .split_once(' ')
                .ok_or_else(|| format!("line {ln}: expected `writer: NAME KEY`"))?;
            entries.push((name.to_owned(), key.to_owned()));
        }
        let set = WriterSet::new(entries)?;
        if set.is_empty() {
            return Err("a section names no writer".into());
        }
        Ok(set)
    }

    fn end(&self) -> Result<(), String> {
        match self.fields.get(self.at) {
            None => Ok(()),
            Some((ln, _, _)) => Err(format!("line {ln}: unexpected field")),
        }
    }
}

fn hex_field(value: &str, len: usize, what: &str) -> Result<String, String> {
    if value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(value.to_owned())
    } else {
        Err(format!("{what} must be {len} lower-case hex digits"))
    }
}

fn parse_manifest(fields: &[(usize, String, String)]) -> Result<Manifest, String> {
    let mut f = Fields { fields, at: 0 };
    let vault_id = hex_field(f.take("vault-id")?, 32, "vault-id")?;
    let file = f.take("file")?.to_owned();
    if file.is_empty() || file.contains('/') || file.contains('\0') || file == "." || file == ".." {
        return Err("`file` must be a plain file name".into());
    }
    let gen_text = f.take("generation")?;
    let generation: u64 = gen_text
        .parse()
        .ok()
        .filter(|g: &u64| g.to_string() == gen_text)
        .ok_or("`generation` must be a decimal number")?;
    let vault_sha256 = hex_field(f.take("vault-sha256")?, 64, "vault-sha256")?;
    let config_sha256 = hex_field(f.take("config-sha256")?, 64, "config-sha256")?;
    let writers = f.writers()?;
    let signer = canonical_signing_key(f.take("signer")?)?;
    f.end()?;
    Ok(Manifest {
        vault_id,
        file,
        generation,
        vault_sha256,
        config_sha256,
        writers,
        signer,
    })
}

fn parse_change(fields: &[(usize, String, String)]) -> Result<WriterChange, String> {
    let mut f = Fields { fields, at: 0 };
    let vault_id = hex_field(f.take("vault-id")?, 32, "vault-id")?;
    let index_text = f.take("index")?;
    let index: u64 = index_text
        .parse()
        .ok()
        .filter(|i: &u64| i.to_string() == index_text && *i > 0)
        .ok_or("`index` must be a positive decimal number")?;
    let previous = hex_field(f.take("previous-writers-sha256")?, 64, "previous-writers-sha256")?;
    let writers = f.writers()?;
    let signer = canonical_signing_key(f.take("signer")?)?;
    f.end()?;
    Ok(WriterChange {
        vault_id,
        index,
        previous,
        writers,
        signer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (ssh_key::PrivateKey, String) {
        let k = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
        let public = canonical_signing_key(&k.public_key().to_openssh().unwrap()).unwrap();
        (k, public)
    }

    fn sign(k: &ssh_key::PrivateKey, ns: &str, msg: &str) -> String {
        k.sign(ns, ssh_key::HashAlg::Sha512, msg.as_bytes())
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap()
    }

    #[test]
    fn round_trips_and_verifies() {
        let (k, public) = key();
        let writers = WriterSet::new([("alice".to_owned(), public.clone())]).unwrap();
        let m = Manifest {
            vault_id: "0".repeat(32),
            file: "secrets.json.age".into(),
            generation: 3,
            vault_sha256: "a".repeat(64),
            config_sha256: "b".repeat(64),
            writers: writers.clone(),
            signer: public.clone(),
        };
        let message = m.message();
        let armor = sign(&k, NAMESPACE_VAULT, &message);
        let file = SigFile {
            current: Signed {
                body: m.clone(),
                message,
                armor,
            },
            previous: None,
            chain: Vec::new(),
        };
        let parsed = SigFile::parse(file.render().as_bytes()).unwrap();
        assert_eq!(parsed.current.body, m);
        parsed.current.verify(&public, NAMESPACE_VAULT).unwrap();
        assert!(parsed.current.verify(&public, NAMESPACE_WRITERS).is_err());
        let (_, other) = key();
        assert!(parsed.current.verify(&other, NAMESPACE_VAULT).is_err());
        let tampered = file.render().replace("generation: 3", "generation: 4");
        let t = SigFile::parse(tampered.as_bytes()).unwrap();
        assert!(t.current.verify(&public, NAMESPACE_VAULT).is_err());
    }

    #[test]
    fn rejects_malformed_files() {
        for bad in [
            "",
            "agevault-signature 1\nvault-id: x\n",
            "nonsense\n-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
            "agevault-signature 1\nvault-id: 00\n-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
        ] {
            assert!(SigFile::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(SigFile::parse(&vec![b'a'; MAX_SIG_FILE + 1]).is_err());
    }
}
