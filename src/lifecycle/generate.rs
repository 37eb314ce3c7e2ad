//! Value generators (`--generate SPEC`): every value comes from the OS CSPRNG.

use std::fmt;

use base64::Engine;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The specs `--generate` accepts, for error messages and help.
pub const VALID_SPECS: &str =
    "password:LEN, alnum:LEN, hex:BYTES, base64:BYTES, base64url:BYTES, uuid, ed25519, age";

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
}

/// A generated value, and a public companion to store at `PATH.pub` if the kind has one.
pub struct Generated {
    /// The secret.
    pub value: SecretString,
    /// The public half (not secret, but kept in the vault beside it).
    pub public: Option<String>,
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
            _ => return Err(bad()),
        })
    }

    /// Parses an optional `--generate SPEC` flag; a bad spec is a usage error.
    pub fn from_flag(spec: Option<&str>) -> crate::Result<Option<Generator>> {
        spec.map(Generator::parse)
            .transpose()
            .map_err(crate::Error::Usage)
    }

    /// Makes a new value.
    pub fn generate(&self) -> Generated {
        let plain = |s: Zeroizing<String>| Generated {
            value: SecretString::from(s.as_str()),
            public: None,
        };
        match *self {
            Generator::Password(len) => plain(password(len, true)),
            Generator::Alnum(len) => plain(password(len, false)),
            Generator::Hex(n) => {
                let bytes = random_bytes(n);
                let mut s = Zeroizing::new(String::with_capacity(n * 2));
                for b in bytes.iter() {
                    s.push_str(&format!("{b:02x}"));
                }
                plain(s)
            }
            Generator::Base64(n) => plain(Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(&*random_bytes(n)),
            )),
            Generator::Base64Url(n) => plain(Zeroizing::new(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*random_bytes(n)),
            )),
            Generator::Uuid => {
                let mut b = random_bytes(16);
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                plain(Zeroizing::new(format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )))
            }
            Generator::Ed25519 => {
                use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
                let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
                let public = key.verifying_key().to_public_key_pem(LineEnding::LF).ok();
                Generated {
                    value: ed25519_pkcs8_v1_pem(&key.to_bytes()),
                    public,
                }
            }
            Generator::Age => {
                let id = age::x25519::Identity::generate();
                Generated {
                    value: SecretString::from(id.to_string().expose_secret()),
                    public: Some(id.to_public().to_string()),
                }
            }
        }
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
    let pem = Zeroizing::new(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.as_str()
    ));
    SecretString::from(pem.as_str())
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
        let g = Generator::Ed25519.generate();
        assert!(g.value.expose_secret().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(g.public.unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
        let g = Generator::Age.generate();
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
    }
}
