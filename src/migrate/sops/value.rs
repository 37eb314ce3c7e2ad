//! One encrypted sops value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
//!
//! AES-256-GCM with the file's 32-byte data key, a 32-byte IV (sops' choice, not
//! GCM's usual 12), a 16-byte tag, and as additional data the value's key path
//! joined and ended with `:` (`db:user:`), so a value moved to another key
//! does not authenticate. `data` and `tag` are the ciphertext and the tag apart;
//! `type` says how sops turns the plaintext back into a value (str, int, float,
//! bool, bytes, time, comment).

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

/// The length of a sops data key.
pub const KEY_LEN: usize = 32;

/// The IV length sops writes.
const IV_LEN: usize = 32;

/// The GCM tag length.
const TAG_LEN: usize = 16;

const PREFIX: &str = "ENC[AES256_GCM,";

/// A parsed `ENC[…]` value.
pub struct Encrypted<'a> {
    data: Zeroizing<Vec<u8>>,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
    /// The `type:` field.
    pub kind: &'a str,
}

/// Why a string is not a usable `ENC[…]` value (for the error message).
#[derive(Debug, PartialEq, Eq)]
pub enum Malformed {
    /// It does not start with `ENC[AES256_GCM,`: a plaintext value where sops encrypts.
    NotEncrypted,
    /// It does, but its fields are damaged.
    Damaged(&'static str),
}

/// Parses `ENC[AES256_GCM,data:B64,iv:B64,tag:B64,type:NAME]`.
pub fn parse(text: &str) -> Result<Encrypted<'_>, Malformed> {
    let body = text
        .strip_prefix(PREFIX)
        .ok_or(Malformed::NotEncrypted)?
        .strip_suffix(']')
        .ok_or(Malformed::Damaged("it does not end with `]`"))?;
    let mut fields = body.splitn(4, ',');
    let mut field = |name: &'static str| {
        fields
            .next()
            .and_then(|f| f.strip_prefix(name))
            .ok_or(Malformed::Damaged(
                "its data, iv, tag and type fields are not all there",
            ))
    };
    let (data, iv, tag, kind) = (field("data:")?, field("iv:")?, field("tag:")?, field("type:")?);
    let decode = |b64: &str, what: &'static str| {
        STANDARD
            .decode(b64)
            .map(Zeroizing::new)
            .map_err(|_| Malformed::Damaged(what))
    };
    let data = decode(data, "its data is not base64")?;
    let iv = decode(iv, "its iv is not base64")?;
    let tag = decode(tag, "its tag is not base64")?;
    let iv: [u8; IV_LEN] = iv[..]
        .try_into()
        .map_err(|_| Malformed::Damaged("its iv is not 32 bytes long"))?;
    let tag: [u8; TAG_LEN] = tag[..]
        .try_into()
        .map_err(|_| Malformed::Damaged("its tag is not 16 bytes long"))?;
    Ok(Encrypted { data, iv, tag, kind })
}

/// AES-256-GCM with sops' 32-byte IVs, keyed with one file's data key.
pub struct Cipher {
    aead: AesGcm<Aes256, U32>,
}

impl Cipher {
    /// A cipher for the data key.
    pub fn new(key: &[u8; KEY_LEN]) -> Cipher {
        Cipher {
            aead: AesGcm::new(GenericArray::from_slice(key)),
        }
    }

    /// Decrypts and authenticates one value under `aad`; `None` when it does not authenticate.
    pub fn open(&self, value: Encrypted<'_>, aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let Encrypted {
            mut data, iv, tag, ..
        } = value;
        self.aead
            .decrypt_in_place_detached(
                GenericArray::from_slice(&iv),
                aad,
                &mut data,
                GenericArray::from_slice(&tag),
            )
            .ok()?;
        Some(data)
    }

    /// Encrypts (for tests, which build sops values of every type without the sops binary).
    #[cfg(test)]
    pub fn seal(&self, plaintext: &[u8], iv: [u8; IV_LEN], aad: &[u8], kind: &str) -> String {
        let mut data = plaintext.to_vec();
        let tag = self
            .aead
            .encrypt_in_place_detached(GenericArray::from_slice(&iv), aad, &mut data)
            .unwrap();
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            STANDARD.encode(&data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_what_it_seals_under_the_same_path_only() {
        let cipher = Cipher::new(&[7; KEY_LEN]);
        let text = cipher.seal(b"s3cret-7", [1; IV_LEN], b"db:user:", "str");
        let value = parse(&text).unwrap();
        assert_eq!(value.kind, "str");
        assert_eq!(cipher.open(value, b"db:user:").unwrap().as_slice(), b"s3cret-7");
        assert!(cipher.open(parse(&text).unwrap(), b"db:host:").is_none());
        let other = Cipher::new(&[8; KEY_LEN]);
        assert!(other.open(parse(&text).unwrap(), b"db:user:").is_none());
    }

    #[test]
    fn damaged_values_say_what_is_wrong() {
        assert_eq!(parse("hunter2").err(), Some(Malformed::NotEncrypted));
        for (text, want) in [
            ("ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str", "`]`"),
            ("ENC[AES256_GCM,data:AA==,tag:AA==,type:str]", "not all there"),
            (
                "ENC[AES256_GCM,data:*,iv:AA==,tag:AA==,type:str]",
                "data is not base64",
            ),
            (
                "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
                "iv is not 32",
            ),
        ] {
            match parse(text) {
                Err(Malformed::Damaged(why)) => assert!(why.contains(want), "{why}"),
                _ => panic!("{text} must be damaged"),
            }
        }
    }
}
