//! Value generators (`--generate SPEC`): every value comes from the OS CSPRNG.

use std::fmt;

use base64::Engine;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::Error;

/// The specs `--generate` accepts, for error messages and help.
pub const VALID_SPECS: &str = "password:LEN, alnum:LEN, hex:BYTES, base64:BYTES, base64url:BYTES, uuid, \
     ed25519, age, rsa:2048|3072|4096, p256, x509:CN=NAME,days=N[,san=NAME]…[,key=p256|rsa:BITS][,csr]";

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// Symbols that survive shells, URLs in most places, and config files without quoting surprises.
const SYMBOLS: &str = "!#%+,-./:=@^_~";

/// A parsed generator spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generator {
    /// Letters, digits and symbols, at least one of each class.
    Password(usize),
    /// Letters and digits only.
    Alnum(usize),
    /// Random bytes as lowercase hex.
    Hex(usize),
    /// Random bytes as standard base64.
    Base64(usize),
    /// Random bytes as unpadded URL-safe base64.
    Base64Url(usize),
    /// A random (version 4) UUID.
    Uuid,
    /// An Ed25519 private key, PKCS#8 PEM; the public key goes to `PATH.pub`.
    Ed25519,
    /// An age X25519 identity; the recipient goes to `PATH.pub`.
    Age,
    /// An RSA private key of this many bits, PKCS#8 PEM; the public key goes to `PATH.pub`.
    Rsa(usize),
    /// An ECDSA P-256 private key, PKCS#8 PEM; the public key goes to `PATH.pub`.
    P256,
    /// A private key and a self-signed certificate (`PATH.crt`) or a CSR (`PATH.csr`).
    X509(X509Spec),
}

/// What `x509:` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X509Spec {
    /// The subject's common name.
    pub common_name: String,
    /// Validity in days (ignored for a CSR).
    pub days: u32,
    /// DNS names and IP addresses for subjectAltName.
    pub sans: Vec<String>,
    /// The key: `None` for P-256, `Some(bits)` for RSA.
    pub rsa_bits: Option<usize>,
    /// A certificate signing request instead of a self-signed certificate.
    pub csr: bool,
}

const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];

/// A generated value, and a public companion to store beside it if the kind has one.
pub struct Generated {
    /// The secret.
    pub value: SecretString,
    /// The public half (not secret, but kept in the vault beside it).
    pub public: Option<String>,
    /// The suffix of the public half's path: `.pub`, `.crt` or `.csr`.
    pub public_suffix: &'static str,
}

impl Generator {
    /// Parses `password:32`, `hex:32`, `uuid`, …
    pub fn parse(spec: &str) -> Result<Generator, String> {
        let bad = || format!("invalid generator `{spec}`; valid: {VALID_SPECS}");
        let (kind, arg) = match spec.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (spec, None),
        };
        let size = |min: usize, max: usize| -> Result<usize, String> {
            let n: usize = arg.ok_or_else(bad)?.parse().map_err(|_| bad())?;
            if n < min || n > max {
                return Err(format!("`{spec}`: the size must be between {min} and {max}"));
            }
            Ok(n)
        };
        Ok(match kind {
            "password" => Generator::Password(size(8, 4096)?),
            "alnum" => Generator::Alnum(size(8, 4096)?),
            "hex" => Generator::Hex(size(8, 4096)?),
            "base64" => Generator::Base64(size(8, 4096)?),
            "base64url" => Generator::Base64Url(size(8, 4096)?),
            "uuid" if arg.is_none() => Generator::Uuid,
            "ed25519" if arg.is_none() => Generator::Ed25519,
            "age" if arg.is_none() => Generator::Age,
            "p256" if arg.is_none() => Generator::P256,
            "rsa" => Generator::Rsa(rsa_bits(arg.ok_or_else(bad)?).ok_or_else(bad)?),
            "x509" => {
                Generator::X509(X509Spec::parse(arg.ok_or_else(bad)?).map_err(|e| format!("`{spec}`: {e}"))?)
            }
            _ => return Err(bad()),
        })
    }

    /// Makes a new value. Only certificate building can fail (a name the encoder refuses).
    pub fn generate(&self) -> crate::error::Result<Generated> {
        let plain = |s: Zeroizing<String>| Generated {
            value: SecretString::from(s.as_str()),
            public: None,
            public_suffix: ".pub",
        };
        Ok(match self {
            Generator::Password(len) => plain(password(*len, true)),
            Generator::Alnum(len) => plain(password(*len, false)),
            Generator::Hex(n) => plain(secret_hex(&random_bytes(*n))),
            Generator::Base64(n) => plain(Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(&*random_bytes(*n)),
            )),
            Generator::Base64Url(n) => plain(Zeroizing::new(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*random_bytes(*n)),
            )),
            Generator::Uuid => {
                let mut b = random_bytes(16);
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                plain(uuid_text(&b))
            }
            Generator::Ed25519 => {
                use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
                let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
                let public = key.verifying_key().to_public_key_pem(LineEnding::LF).ok();
                Generated {
                    value: ed25519_pkcs8_v1_pem(&key.to_bytes()),
                    public,
                    public_suffix: ".pub",
                }
            }
            Generator::Age => {
                let id = age::x25519::Identity::generate();
                Generated {
                    value: SecretString::from(id.to_string().expose_secret()),
                    public: Some(id.to_public().to_string()),
                    public_suffix: ".pub",
                }
            }
            Generator::Rsa(bits) => {
                let key = KeyPair::rsa(*bits)?;
                Generated {
                    value: key.private_pem()?,
                    public: Some(key.public_pem()?),
                    public_suffix: ".pub",
                }
            }
            Generator::P256 => {
                let key = KeyPair::p256();
                Generated {
                    value: key.private_pem()?,
                    public: Some(key.public_pem()?),
                    public_suffix: ".pub",
                }
            }
            Generator::X509(spec) => {
                let key = match spec.rsa_bits {
                    Some(bits) => KeyPair::rsa(bits)?,
                    None => KeyPair::p256(),
                };
                let (public, public_suffix) = if spec.csr {
                    (crate::lifecycle::x509::request(spec, &key)?, ".csr")
                } else {
                    (crate::lifecycle::x509::self_signed(spec, &key)?, ".crt")
                };
                Generated {
                    value: key.private_pem()?,
                    public: Some(public),
                    public_suffix,
                }
            }
        })
    }
}

fn rsa_bits(arg: &str) -> Option<usize> {
    arg.parse().ok().filter(|n| RSA_SIZES.contains(n))
}

impl X509Spec {
    /// Parses `CN=app.lan,days=90,san=app.lan,san=10.0.0.5,key=rsa:2048,csr`.
    fn parse(text: &str) -> Result<X509Spec, String> {
        let mut spec = X509Spec {
            common_name: String::new(),
            days: 0,
            sans: Vec::new(),
            rsa_bits: None,
            csr: false,
        };
        for part in text.split(',') {
            match part.split_once('=') {
                Some(("CN", v)) if !v.is_empty() => v.clone_into(&mut spec.common_name),
                Some(("days", v)) => {
                    spec.days = v
                        .parse()
                        .ok()
                        .filter(|d| (1..=36_500).contains(d))
                        .ok_or("days must be a whole number from 1 to 36500")?;
                }
                Some(("san", v)) if !v.is_empty() => spec.sans.push(v.to_owned()),
                Some(("key", "p256")) => spec.rsa_bits = None,
                Some(("key", v)) => {
                    spec.rsa_bits = Some(
                        v.strip_prefix("rsa:")
                            .and_then(rsa_bits)
                            .ok_or("key must be p256 or rsa:2048|3072|4096")?,
                    );
                }
                None if part == "csr" => spec.csr = true,
                _ => {
                    return Err(format!(
                        "unknown part `{part}` (expected CN=, days=, san=, key=, csr)"
                    ))
                }
            }
        }
        if spec.common_name.is_empty() {
            return Err("CN=NAME is required".into());
        }
        if spec.days == 0 && !spec.csr {
            return Err("days=N is required for a certificate".into());
        }
        Ok(spec)
    }
}

impl fmt::Display for X509Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CN={}", self.common_name)?;
        if self.days > 0 {
            write!(f, ",days={}", self.days)?;
        }
        for san in &self.sans {
            write!(f, ",san={san}")?;
        }
        if let Some(bits) = self.rsa_bits {
            write!(f, ",key=rsa:{bits}")?;
        }
        if self.csr {
            f.write_str(",csr")?;
        }
        Ok(())
    }
}

/// A generated asymmetric key pair.
pub enum KeyPair {
    /// RSA.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// ECDSA P-256.
    P256(Box<p256::ecdsa::SigningKey>),
}

impl KeyPair {
    fn rsa(bits: usize) -> crate::error::Result<KeyPair> {
        rsa::RsaPrivateKey::new(&mut OsRng, bits)
            .map(|k| KeyPair::Rsa(Box::new(k)))
            .map_err(|e| Error::with_source("RSA key generation failed", e))
    }

    fn p256() -> KeyPair {
        KeyPair::P256(Box::new(p256::ecdsa::SigningKey::random(&mut OsRng)))
    }

    /// PKCS#8 PEM of the private key.
    fn private_pem(&self) -> crate::error::Result<SecretString> {
        use pkcs8::{EncodePrivateKey, LineEnding};
        let pem = match self {
            KeyPair::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
            KeyPair::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| Error::with_source("cannot encode the private key", e))?;
        Ok(SecretString::from(pem.as_str()))
    }

    /// SubjectPublicKeyInfo PEM of the public key.
    fn public_pem(&self) -> crate::error::Result<String> {
        use pkcs8::{EncodePublicKey, LineEnding};
        match self {
            KeyPair::Rsa(k) => k.to_public_key().to_public_key_pem(LineEnding::LF),
            KeyPair::P256(k) => k.verifying_key().to_public_key_pem(LineEnding::LF),
        }
        .map_err(|e| Error::with_source("cannot encode the public key", e))
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn public_der(&self) -> crate::error::Result<Vec<u8>> {
        use pkcs8::EncodePublicKey;
        match self {
            KeyPair::Rsa(k) => k.to_public_key().to_public_key_der(),
            KeyPair::P256(k) => k.verifying_key().to_public_key_der(),
        }
        .map(der::Document::into_vec)
        .map_err(|e| Error::with_source("cannot encode the public key", e))
    }
}

impl fmt::Display for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Generator::Password(n) => write!(f, "password:{n}"),
            Generator::Alnum(n) => write!(f, "alnum:{n}"),
            Generator::Hex(n) => write!(f, "hex:{n}"),
            Generator::Base64(n) => write!(f, "base64:{n}"),
            Generator::Base64Url(n) => write!(f, "base64url:{n}"),
            Generator::Uuid => f.write_str("uuid"),
            Generator::Ed25519 => f.write_str("ed25519"),
            Generator::Age => f.write_str("age"),
            Generator::Rsa(bits) => write!(f, "rsa:{bits}"),
            Generator::P256 => f.write_str("p256"),
            Generator::X509(spec) => write!(f, "x509:{spec}"),
        }
    }
}

/// RFC 8410 PKCS#8 v1 (`openssl genpkey -algorithm ed25519` output). The crate's
/// encoder writes v2 (with the public key), which OpenSSL 3.0 refuses to load.
fn ed25519_pkcs8_v1_pem(seed: &[u8; 32]) -> SecretString {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    let mut der = Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&PREFIX);
    der.extend_from_slice(seed);
    let body = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*der));
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----\n";
    const END: &str = "\n-----END PRIVATE KEY-----\n";
    // Sized up front: growing a String would leave copies of the key behind.
    let mut pem = Zeroizing::new(String::with_capacity(BEGIN.len() + body.len() + END.len()));
    pem.push_str(BEGIN);
    pem.push_str(&body);
    pem.push_str(END);
    SecretString::from(pem.as_str())
}

/// The 8-4-4-4-12 text form of 16 bytes, without temporaries that outlive it unwiped.
fn uuid_text(bytes: &[u8]) -> Zeroizing<String> {
    let hex = secret_hex(bytes);
    let mut uuid = Zeroizing::new(String::with_capacity(hex.len() + 4));
    for (i, range) in [0..8, 8..12, 12..16, 16..20, 20..32].into_iter().enumerate() {
        if i > 0 {
            uuid.push('-');
        }
        uuid.push_str(&hex[range]);
    }
    uuid
}

/// Lowercase hex of secret bytes, in buffers of their final size that are zeroized on drop.
fn secret_hex(bytes: &[u8]) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes.len() * 2]);
    let mut text = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    // The buffer is exactly the encoded length, so encoding cannot fail.
    if let Ok(hex) = base16ct::lower::encode_str(bytes, &mut buf) {
        text.push_str(hex);
    }
    text
}

fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut b = Zeroizing::new(vec![0u8; n]);
    OsRng.fill_bytes(&mut b);
    b
}

/// A uniformly random password that contains every character class it draws from
/// (rejection sampling: redraw until each class appears, which keeps uniformity
/// over the accepted set).
fn password(len: usize, symbols: bool) -> Zeroizing<String> {
    let mut classes = vec![LOWER, UPPER, DIGITS];
    if symbols {
        classes.push(SYMBOLS);
    }
    let alphabet: Vec<char> = classes.concat().chars().collect();
    loop {
        let mut s = Zeroizing::new(String::with_capacity(len));
        for _ in 0..len {
            s.push(alphabet[OsRng.gen_range(0..alphabet.len())]);
        }
        if classes.iter().all(|c| s.chars().any(|ch| c.contains(ch))) {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(spec: &str) -> String {
        Generator::parse(spec)
            .unwrap()
            .generate()
            .unwrap()
            .value
            .expose_secret()
            .to_owned()
    }

    #[test]
    fn lengths_and_alphabets() {
        let p = gen("password:32");
        assert_eq!(p.chars().count(), 32);
        assert!(p.chars().any(|c| SYMBOLS.contains(c)));
        let a = gen("alnum:40");
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        let h = gen("hex:32");
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        let b = gen("base64:32");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&b)
                .unwrap()
                .len(),
            32
        );
        let u = gen("base64url:32");
        assert!(!u.contains('+') && !u.contains('/') && !u.contains('='));
        let id = gen("uuid");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }

    #[test]
    fn keys_parse() {
        let g = Generator::Ed25519.generate().unwrap();
        assert!(g.value.expose_secret().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(g.public.unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
        let g = Generator::Age.generate().unwrap();
        assert!(g.value.expose_secret().starts_with("AGE-SECRET-KEY-1"));
        assert!(g.public.unwrap().starts_with("age1"));
    }

    #[test]
    fn unique_across_calls() {
        let values: std::collections::BTreeSet<String> = (0..100).map(|_| gen("alnum:16")).collect();
        assert_eq!(values.len(), 100);
    }

    #[test]
    fn bad_specs_list_the_valid_ones() {
        for bad in [
            "password",
            "password:x",
            "password:3",
            "hex:0",
            "uuid:4",
            "nope",
            "",
        ] {
            let e = Generator::parse(bad).unwrap_err();
            assert!(e.contains(bad) || e.contains("between"), "{e}");
        }
        assert!(Generator::parse("nope").unwrap_err().contains("base64url:BYTES"));
        assert_eq!(Generator::parse("hex:16").unwrap().to_string(), "hex:16");
        assert!(Generator::parse("rsa:1024").is_err());
        assert!(Generator::parse("x509:days=3").unwrap_err().contains("CN="));
        for spec in [
            "rsa:3072",
            "p256",
            "x509:CN=app.lan,days=90,san=app.lan,san=10.0.0.5,key=rsa:2048",
            "x509:CN=app,csr",
        ] {
            assert_eq!(Generator::parse(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn hex_and_uuid_text_leave_no_copy_in_freed_memory() {
        use crate::secret_buf::canary::freed_copies;
        let bytes: [u8; 16] = *b"\x5a\x17\xc3\x9e\x01\x42\x77\x88\x10\xfe\xab\x3c\x64\x2d\x91\x0b";
        let hex = "5a17c39e01427788"; // the first half of their hex
        let mut text = None;
        assert_eq!(freed_copies(hex.as_bytes(), || text = Some(uuid_text(&bytes))), 0);
        assert_eq!(
            text.as_deref().map(String::as_str),
            Some("5a17c39e-0142-7788-10fe-ab3c642d910b")
        );
        assert_eq!(freed_copies(hex.as_bytes(), || drop(text.take())), 0);
        assert_eq!(freed_copies(hex.as_bytes(), || drop(secret_hex(&bytes))), 0);
    }
}
