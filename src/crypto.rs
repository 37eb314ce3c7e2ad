//! Reading and writing ASCII-armored age files.

use std::io::{Read, Write};

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::{Decryptor, Encryptor, Identity, Recipient};

use crate::error::Error;
use crate::secret_buf::SecretBuf;

/// The first line of every vault we write.
pub const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// Why a file did not decrypt.
#[derive(Debug)]
pub enum DecryptFailure {
    /// Not a file of its format at all (age, or OpenPGP for `.gpg`), or its header is damaged.
    Malformed(String),
    /// No identity matched a recipient stanza.
    NoMatchingKeys,
    /// A passphrase-protected identity was given the wrong passphrase.
    WrongPassphrase,
    /// The header was fine but the payload is truncated or corrupted.
    Damaged(String),
    /// A plugin was needed and failed or is missing.
    Plugin(String),
    /// gpg could not decrypt an OpenPGP vault file.
    Gpg(crate::pgp::GpgFailure),
}

impl DecryptFailure {
    /// Whether the file is simply not encrypted to any key this user holds (rather than
    /// damaged, or a key that failed): for a scope file, "not one of its readers".
    pub fn is_not_a_recipient(&self) -> bool {
        matches!(
            self,
            DecryptFailure::NoMatchingKeys | DecryptFailure::Gpg(crate::pgp::GpgFailure::NoSecretKey { .. })
        )
    }
}

impl std::fmt::Display for DecryptFailure {
    /// The failure as the end of a sentence about a vault ("the vault … ").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecryptFailure::NoMatchingKeys => f.write_str("is not encrypted to any of your identities"),
            DecryptFailure::Malformed(r) | DecryptFailure::Damaged(r) => {
                write!(f, "cannot be decrypted: {r}")
            }
            DecryptFailure::WrongPassphrase => f.write_str("cannot be decrypted: wrong passphrase"),
            DecryptFailure::Plugin(r) => write!(f, "cannot be decrypted: an age plugin failed: {r}"),
            DecryptFailure::Gpg(crate::pgp::GpgFailure::NoSecretKey { key_ids }) => write!(
                f,
                "is encrypted to OpenPGP key id(s) {}, none of which gpg holds a secret key for",
                key_ids.join(", ")
            ),
            DecryptFailure::Gpg(failure) => write!(f, "cannot be decrypted: {failure}"),
        }
    }
}

/// Whether `bytes` looks like an armored age file (only the framing is checked).
pub fn is_armored(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let trimmed_start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[trimmed_start..];
    let end = text
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    text.starts_with(ARMOR_BEGIN.as_bytes()) && text[..end].ends_with(b"-----END AGE ENCRYPTED FILE-----")
}

/// Checks, without any key, that `bytes` is an armored age file whose header parses.
pub fn check_format(bytes: &[u8]) -> Result<(), String> {
    if !is_armored(bytes) {
        return Err("it is not an ASCII-armored age file (-----BEGIN AGE ENCRYPTED FILE-----)".into());
    }
    match open(bytes) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e {
            DecryptFailure::Malformed(reason) | DecryptFailure::Damaged(reason) => reason,
            _ => "its header cannot be read".into(),
        }),
    }
}

/// Encrypts `plaintext` to `recipients` as an armored age file.
pub fn encrypt_armored(
    plaintext: &[u8],
    recipients: &[Box<dyn Recipient + Send>],
) -> crate::error::Result<Vec<u8>> {
    let encryptor = Encryptor::with_recipients(recipients.iter().map(|r| r.as_ref() as &dyn Recipient))
        .map_err(|e| Error::with_source("cannot encrypt to the configured recipients", e))?;
    write_armored(encryptor, plaintext)
}

/// Encrypts `plaintext` with `encryptor` into an armored age file in memory.
fn write_armored(encryptor: Encryptor, plaintext: &[u8]) -> crate::error::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() * 4 / 3 + 1024);
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(Error::from_cause)?;
    let mut writer = encryptor.wrap_output(armor).map_err(Error::from_cause)?;
    writer.write_all(plaintext).map_err(Error::from_cause)?;
    // Both layers must be finished or the file is truncated.
    writer
        .finish()
        .and_then(ArmoredWriter::finish)
        .map_err(|e| Error::with_source("cannot finish encryption", e))?;
    Ok(out)
}

/// Decrypts an age file (armored or binary). The plaintext is returned only
/// after the whole payload authenticated.
pub fn decrypt(ciphertext: &[u8], identities: &[Box<dyn Identity>]) -> Result<SecretBuf, DecryptFailure> {
    let identities: Vec<&dyn Identity> = identities.iter().map(AsRef::as_ref).collect();
    with_framing_reason(ciphertext, decrypt_inner(ciphertext, &identities))
}

/// age's own error for a file cut short or not age at all is a generic I/O or MAC
/// complaint; the framing says more precisely what is wrong.
fn with_framing_reason(
    ciphertext: &[u8],
    result: Result<SecretBuf, DecryptFailure>,
) -> Result<SecretBuf, DecryptFailure> {
    result.map_err(|failure| match failure {
        DecryptFailure::Malformed(_) | DecryptFailure::Damaged(_) => match framing_problem(ciphertext) {
            Some(reason) => DecryptFailure::Malformed(reason.into()),
            None => failure,
        },
        other => other,
    })
}

/// What is wrong with the framing of a file that failed to decrypt, if anything.
fn framing_problem(bytes: &[u8]) -> Option<&'static str> {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    if text.is_empty() {
        Some("it is empty")
    } else if text.starts_with(ARMOR_BEGIN.as_bytes()) {
        let end = b"-----END AGE ENCRYPTED FILE-----";
        memchr::memmem::find(text, end)
            .is_none()
            .then_some("it is truncated (its -----END AGE ENCRYPTED FILE----- line is missing)")
    } else if text.starts_with(b"age-encryption.org/") {
        None
    } else {
        Some("it is not an age file (it starts with neither -----BEGIN AGE ENCRYPTED FILE----- nor age-encryption.org/v1)")
    }
}

/// Parses the header of an age file (armored or binary).
///
/// age's own buffered reader reads the header one line at a time and re-parses
/// everything read so far after each line: quadratic in the number of recipient
/// stanzas (1,000 recipients took about a quarter of a second). [`WholeHeader`] hands
/// it the entire header in one `read_until`, so it is parsed once; the payload still
/// streams through the armor decoder (no second copy of a large file).
/// An age file being read from memory, armored or not.
type Reading<'a> = WholeHeader<ArmoredReader<std::io::BufReader<&'a [u8]>>>;

fn open(ciphertext: &[u8]) -> Result<Decryptor<Reading<'_>>, DecryptFailure> {
    Decryptor::new_buffered(WholeHeader {
        inner: ArmoredReader::new(ciphertext),
        header_read: false,
    })
    .map_err(classify)
}

/// A buffered reader whose first `read_until(b'\n')` returns the whole age header
/// (every line through the `--- MAC` line; stanza lines start with `-> `, bodies are
/// base64) instead of its first line. Everything else is the inner reader's.
struct WholeHeader<R> {
    inner: R,
    header_read: bool,
}

impl<R: std::io::BufRead> Read for WholeHeader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for WholeHeader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }

    fn read_until(&mut self, byte: u8, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        if byte != b'\n' || self.header_read {
            return self.inner.read_until(byte, buf);
        }
        self.header_read = true;
        let mut total = 0;
        loop {
            let start = buf.len();
            let n = self.inner.read_until(b'\n', buf)?;
            total += n;
            if n == 0 || buf[start..].starts_with(b"--- ") {
                return Ok(total);
            }
        }
    }
}

/// Like [`decrypt`], trying stanzas `first` before the others with the first
/// `plain` identities (those that never prompt, so trying one stanza and then all
/// of them costs nothing but arithmetic).
///
/// age cannot tell which stanza is whose: `age -d` tries each identity against every
/// stanza in order, an X25519 agreement per stanza, so a file with 1,000 recipients
/// costs on average 500 of them. agevault encrypts to the recipients in sorted key
/// order, one stanza each, so the position of a reader's key in that order is where
/// its stanza is. A wrong hint (a recipient list that drifted, a plugin recipient
/// with several stanzas) only falls back to trying them all.
pub fn decrypt_hinted(
    ciphertext: &[u8],
    identities: &[Box<dyn Identity>],
    plain: usize,
    first: &[usize],
) -> Result<SecretBuf, DecryptFailure> {
    let hinted: Vec<FirstTry<'_>> = identities
        .iter()
        .take(plain)
        .map(|inner| FirstTry {
            inner: inner.as_ref(),
            first,
        })
        .collect();
    let ordered: Vec<&dyn Identity> = hinted
        .iter()
        .map(|h| h as &dyn Identity)
        .chain(identities.iter().skip(plain).map(AsRef::as_ref))
        .collect();
    with_framing_reason(ciphertext, decrypt_inner(ciphertext, &ordered))
}

/// An identity that tries the stanzas at `first` before all of them.
struct FirstTry<'a> {
    inner: &'a dyn Identity,
    first: &'a [usize],
}

impl Identity for FirstTry<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.inner.unwrap_stanza(stanza)
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        for stanza in self.first.iter().filter_map(|&i| stanzas.get(i)) {
            if let Some(Ok(key)) = self.inner.unwrap_stanza(stanza) {
                return Some(Ok(key));
            }
        }
        self.inner.unwrap_stanzas(stanzas)
    }
}

fn decrypt_inner(ciphertext: &[u8], identities: &[&dyn Identity]) -> Result<SecretBuf, DecryptFailure> {
    let decryptor = open(ciphertext)?;
    if decryptor.is_scrypt() {
        return Err(DecryptFailure::Malformed(
            "it is passphrase-encrypted, not encrypted to recipients".into(),
        ));
    }
    let reader = decryptor.decrypt(identities.iter().copied()).map_err(classify)?;
    read_payload(reader, ciphertext)
}

/// Encrypts `plaintext` with a passphrase (age scrypt), armored.
pub fn encrypt_with_passphrase(
    plaintext: &[u8],
    passphrase: secrecy::SecretString,
) -> crate::error::Result<Vec<u8>> {
    write_armored(Encryptor::with_user_passphrase(passphrase), plaintext)
}

/// Reads the whole payload. The buffer is sized from the ciphertext so it never has to
/// grow (growing holds two copies at once): base64 armor carries 3 bytes in every 4.
fn read_payload(reader: impl Read, ciphertext: &[u8]) -> Result<SecretBuf, DecryptFailure> {
    let hint = if is_armored(ciphertext) {
        ciphertext.len() / 4 * 3
    } else {
        ciphertext.len()
    };
    SecretBuf::read_all(reader, hint).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DecryptFailure::Damaged("it is truncated".into()),
        _ => DecryptFailure::Damaged("its contents are corrupted (authentication failed)".into()),
    })
}

fn classify(e: age::DecryptError) -> DecryptFailure {
    use age::DecryptError as E;
    match e {
        E::NoMatchingKeys => DecryptFailure::NoMatchingKeys,
        E::KeyDecryptionFailed => DecryptFailure::WrongPassphrase,
        E::PluginResolve(e) => DecryptFailure::Plugin(e.to_string()),
        E::Plugin(errors) => DecryptFailure::Plugin(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        E::InvalidHeader | E::UnknownFormat => {
            DecryptFailure::Malformed("it is not an age file or its header is damaged".into())
        }
        E::InvalidMac => DecryptFailure::Malformed("its header was modified (MAC mismatch)".into()),
        E::ExcessiveWork { .. } => DecryptFailure::Malformed("its passphrase work factor is too high".into()),
        E::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecryptFailure::Malformed("it is truncated inside its header".into())
        }
        E::Io(e) => DecryptFailure::Malformed(format!("its armor or header cannot be read ({e})")),
        E::DecryptionFailed => DecryptFailure::Damaged("its contents are corrupted".into()),
        other => DecryptFailure::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures() {
        let id = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let recipients: Vec<Box<dyn Recipient + Send>> = vec![Box::new(id.to_public())];
        let ct = encrypt_armored(b"hello", &recipients).unwrap();
        assert!(is_armored(&ct));
        let ids: Vec<Box<dyn Identity>> = vec![Box::new(id)];
        assert_eq!(decrypt(&ct, &ids).unwrap().as_slice(), b"hello");
        let wrong: Vec<Box<dyn Identity>> = vec![Box::new(other)];
        assert!(matches!(
            decrypt(&ct, &wrong),
            Err(DecryptFailure::NoMatchingKeys)
        ));
        assert!(matches!(
            decrypt(b"garbage", &ids),
            Err(DecryptFailure::Malformed(_))
        ));
        let half = &ct[..ct.len() / 2];
        assert!(matches!(decrypt(half, &ids), Err(DecryptFailure::Malformed(r)) if r.contains("truncated")));
        assert!(matches!(decrypt(b"", &ids), Err(DecryptFailure::Malformed(r)) if r.contains("empty")));
        assert!(
            matches!(decrypt(b"junk\n", &ids), Err(DecryptFailure::Malformed(r)) if r.contains("not an age file"))
        );
        assert!(!is_armored(b"age-encryption.org/v1\n"));
    }

    #[test]
    fn a_header_with_many_stanzas_is_read_whole_and_still_authenticated() {
        let ids: Vec<age::x25519::Identity> = (0..300).map(|_| age::x25519::Identity::generate()).collect();
        let recipients: Vec<Box<dyn Recipient + Send>> = ids
            .iter()
            .map(|i| Box::new(i.to_public()) as Box<dyn Recipient + Send>)
            .collect();
        let ct = encrypt_armored(b"many readers", &recipients).unwrap();
        assert!(check_format(&ct).is_ok());
        let last: Vec<Box<dyn Identity>> = vec![Box::new(ids[299].clone())];
        assert_eq!(decrypt(&ct, &last).unwrap().as_slice(), b"many readers");
        // The binary form (what `age` writes without -a) goes through the same reader.
        let mut binary = Vec::new();
        ArmoredReader::new(&ct[..]).read_to_end(&mut binary).unwrap();
        assert_eq!(decrypt(&binary, &last).unwrap().as_slice(), b"many readers");
        // A header whose MAC line is gone, or whose stanza was altered, is refused.
        let mac_at = memchr::memmem::find(&binary, b"\n--- ").unwrap() + 1;
        let cut = &binary[..mac_at];
        assert!(matches!(decrypt(cut, &last), Err(DecryptFailure::Malformed(_))));
        let mut altered = binary.clone();
        let stanza = memchr::memmem::find(&altered, b"-> X25519 ").unwrap() + 10;
        altered[stanza] = if altered[stanza] == b'A' { b'B' } else { b'A' };
        assert!(decrypt(&altered, &last).is_err());
    }

    #[test]
    fn a_stanza_hint_is_only_a_first_try() {
        let ids: Vec<age::x25519::Identity> = (0..40).map(|_| age::x25519::Identity::generate()).collect();
        let recipients: Vec<Box<dyn Recipient + Send>> = ids
            .iter()
            .map(|i| Box::new(i.to_public()) as Box<dyn Recipient + Send>)
            .collect();
        let ct = encrypt_armored(b"hinted", &recipients).unwrap();
        let mine: Vec<Box<dyn Identity>> = vec![Box::new(ids[37].clone())];
        // The right position, a wrong one, one past the end, none: all decrypt.
        for first in [&[37][..], &[3], &[99], &[], &[3, 37]] {
            assert_eq!(
                decrypt_hinted(&ct, &mine, 1, first).unwrap().as_slice(),
                b"hinted"
            );
        }
        // With no plain identity the hint is unused and nothing changes.
        assert_eq!(decrypt_hinted(&ct, &mine, 0, &[3]).unwrap().as_slice(), b"hinted");
        // A stranger is still refused, whatever the hint says.
        let stranger: Vec<Box<dyn Identity>> = vec![Box::new(age::x25519::Identity::generate())];
        assert!(matches!(
            decrypt_hinted(&ct, &stranger, 1, &[0, 37]),
            Err(DecryptFailure::NoMatchingKeys)
        ));
        // The hint never skips authentication.
        let mut damaged = ct.clone();
        let at = damaged.len() - 60;
        damaged[at] = if damaged[at] == b'A' { b'B' } else { b'A' };
        assert!(decrypt_hinted(&damaged, &mine, 1, &[37]).is_err());
    }
}
