//! OpenPGP ASCII armor (RFC 4880 §6): the `-----BEGIN PGP MESSAGE-----` frame, its
//! base64 body and CRC-24 checksum.

use base64::Engine;

/// The first line of every OpenPGP vault file.
pub const BEGIN: &str = "-----BEGIN PGP MESSAGE-----";

/// The last line of every OpenPGP vault file.
pub const END: &str = "-----END PGP MESSAGE-----";

/// Whether `bytes` is framed as an armored OpenPGP message (only the frame is checked).
pub fn is_armored(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = trim_ascii(text);
    text.starts_with(BEGIN.as_bytes()) && text.ends_with(END.as_bytes())
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The binary packets inside an armored message, with the frame and checksum checked.
/// The error completes "it …" / "its …" sentences about the file.
pub fn decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(text).map_err(|_| "it is not ASCII-armored text".to_owned())?;
    let mut lines = text.lines().map(str::trim);
    let first = lines.by_ref().find(|l| !l.is_empty());
    match first {
        None => return Err("it is empty".into()),
        Some(BEGIN) => {}
        Some(l) if l.starts_with("-----BEGIN PGP ") => {
            return Err(format!(
                "it is an armored OpenPGP block of another kind ({}), not an encrypted message",
                crate::terminal::sanitize(l)
            ))
        }
        Some(l) if l.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") => {
            return Err(
                "it is an age file, but its name ends in .gpg (an OpenPGP file); rename it, or point the config at \
                 the right file"
                    .into(),
            )
        }
        Some(_) => return Err(format!("it is not an ASCII-armored OpenPGP message ({BEGIN})")),
    }
    // Armor headers (`Version: …`, `Comment: …`) run up to the first blank line.
    let mut body = String::new();
    let mut checksum: Option<&str> = None;
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        if line == END {
            ended = true;
            break;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if line.contains(": ") {
                continue;
            }
            // No header block: GnuPG always writes the blank line, but the standard
            // allows a reader to be lenient.
            in_headers = false;
        }
        if line.is_empty() {
            continue;
        }
        if checksum.is_some() {
            return Err("its armor has data after the checksum line".into());
        }
        if let Some(sum) = line.strip_prefix('=') {
            checksum = Some(sum);
            continue;
        }
        body.push_str(line);
    }
    if !ended {
        return Err(format!("it is truncated (its {END} line is missing)"));
    }
    let packets = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| "its armor is not valid base64 (the file was damaged or edited)".to_owned())?;
    if let Some(sum) = checksum {
        let expected = base64::engine::general_purpose::STANDARD
            .decode(sum.as_bytes())
            .ok()
            .filter(|b| b.len() == 3)
            .ok_or_else(|| "its armor checksum line is malformed".to_owned())?;
        let actual = crc24(&packets).to_be_bytes();
        if expected[..] != actual[1..] {
            return Err("its armor checksum does not match (the file was damaged or edited)".into());
        }
    }
    if packets.is_empty() {
        return Err("its armor holds no data".into());
    }
    Ok(packets)
}

/// The CRC-24 of RFC 4880 §6.1.
fn crc24(data: &[u8]) -> u32 {
    const INIT: u32 = 0x00B7_04CE;
    const POLY: u32 = 0x0186_4CFB;
    let mut crc = INIT;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= POLY;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Written by gpg 2.2.40 (`echo '{"a":1}' | gpg -a -e -r …`).
    pub(crate) const SAMPLE: &str = "-----BEGIN PGP MESSAGE-----\n\n\
hF4DejnR5uaUto0SAQdAUibXsOC57t4N6DKl5dUmDgNR8K109Vs/kUJiswIqcRIw\n\
//2dSdGgnlgCzj0e03pQn47ChWVaJLVqdOkPgY1Cc588KdjkUzncvK0eH5g3HorB\n\
0kMBTWn+14H+KkUMlBObftbi0IpyDP5n/QyfhCup/JkwacMDrV5nGLl7nRDAH+Sw\n\
oi27JhqwBxtGg6O9rp1+oD6wCCsv\n\
=wR81\n\
-----END PGP MESSAGE-----\n";

    #[test]
    fn decodes_gpg_output_and_checks_the_checksum() {
        assert!(is_armored(SAMPLE.as_bytes()));
        let packets = decode(SAMPLE.as_bytes()).unwrap();
        assert_eq!(packets[0], 0x84);
        let damaged = SAMPLE.replace("hF4Dej", "hF4Dek");
        assert!(decode(damaged.as_bytes()).unwrap_err().contains("checksum"));
        let cut = &SAMPLE[..SAMPLE.len() - 30];
        assert!(decode(cut.as_bytes()).unwrap_err().contains("truncated"));
        assert!(decode(b"").unwrap_err().contains("empty"));
        assert!(decode(b"-----BEGIN AGE ENCRYPTED FILE-----\nx\n")
            .unwrap_err()
            .contains("age file"));
        assert!(decode(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
            .unwrap_err()
            .contains("another kind"));
        assert!(!is_armored(
            b"-----BEGIN AGE ENCRYPTED FILE-----\n-----END AGE ENCRYPTED FILE-----\n"
        ));
    }
}
