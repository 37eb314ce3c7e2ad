//! The packet structure of an OpenPGP vault file (RFC 4880 §4, §5.1): which keys it is
//! encrypted to, and that it is nothing but public-key-encrypted, integrity-protected data.
//!
//! Checked before `gpg` ever sees a file: a message that is not encrypted at all (a
//! planted literal packet), or encrypted to a passphrase, would otherwise be "decrypted"
//! by gpg without any key, or make gpg-agent ask for a passphrase nobody set.

/// What the packets of a vault file say without any key.
#[derive(Debug, PartialEq, Eq)]
pub struct Structure {
    /// The long key ids (16 upper-case hex digits) of its public-key-encrypted session
    /// key packets, in file order. All zeros is a hidden recipient (`--throw-keyids`).
    pub key_ids: Vec<String>,
}

/// Parses the binary packets (armor already removed). The error completes "it …" /
/// "its …" sentences about the file.
pub fn structure(packets: &[u8]) -> Result<Structure, String> {
    let mut key_ids = Vec::new();
    let mut rest = packets;
    let mut encrypted = false;
    while !rest.is_empty() {
        if encrypted {
            return Err(
                "it has packets after its encrypted data (it was not written by gpg --encrypt)".into(),
            );
        }
        let (tag, body, after) = packet(rest)?;
        rest = after;
        match tag {
            1 => key_ids.push(pkesk_key_id(&body)?),
            3 => return Err(
                "it is encrypted with a passphrase (symmetric encryption), not to OpenPGP keys; a vault is \
                     encrypted to its recipients' keys"
                    .into(),
            ),
            // A marker packet carries nothing (RFC 4880 §5.8).
            10 => {}
            18 | 20 => encrypted = true,
            9 => return Err(
                "its data is encrypted without integrity protection (a legacy packet that can be modified \
                     undetected); it is refused"
                    .into(),
            ),
            2 | 4 | 8 | 11 => {
                return Err("it is not encrypted (it holds signed, compressed or literal data)".into())
            }
            other => return Err(format!("it holds an unexpected OpenPGP packet (tag {other})")),
        }
    }
    if !encrypted {
        return Err("it holds no encrypted data".into());
    }
    if key_ids.is_empty() {
        return Err("it is encrypted to no public key".into());
    }
    Ok(Structure { key_ids })
}

/// One packet: its tag, body (partial lengths joined) and the bytes after it.
fn packet(bytes: &[u8]) -> Result<(u8, Vec<u8>, &[u8]), String> {
    let malformed = || "its OpenPGP packets are malformed (the file was damaged or edited)".to_owned();
    let truncated = || "it is truncated inside an OpenPGP packet".to_owned();
    let (&first, mut rest) = bytes.split_first().ok_or_else(malformed)?;
    if first & 0x80 == 0 {
        return Err(malformed());
    }
    let take = |rest: &[u8], n: usize| -> Result<(Vec<u8>, usize), String> {
        if rest.len() < n {
            return Err(truncated());
        }
        Ok((rest[..n].to_vec(), n))
    };
    if first & 0x40 == 0 {
        // Old format: tag in bits 5-2, length type in bits 1-0.
        let tag = (first >> 2) & 0x0F;
        let len = match first & 0x03 {
            0 => {
                let (&b, r) = rest.split_first().ok_or_else(truncated)?;
                rest = r;
                usize::from(b)
            }
            1 => {
                if rest.len() < 2 {
                    return Err(truncated());
                }
                let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                rest = &rest[2..];
                n
            }
            2 => {
                if rest.len() < 4 {
                    return Err(truncated());
                }
                let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                rest = &rest[4..];
                usize::try_from(n).map_err(|_| malformed())?
            }
            _ => rest.len(),
        };
        let (body, n) = take(rest, len)?;
        return Ok((tag, body, &rest[n..]));
    }
    // New format: tag in bits 5-0, then one or more length headers.
    let tag = first & 0x3F;
    let mut body = Vec::new();
    loop {
        let (&o1, r) = rest.split_first().ok_or_else(truncated)?;
        rest = r;
        let (len, partial) = match o1 {
            0..=191 => (usize::from(o1), false),
            192..=223 => {
                let (&o2, r) = rest.split_first().ok_or_else(truncated)?;
                rest = r;
                ((usize::from(o1) - 192) * 256 + usize::from(o2) + 192, false)
            }
            255 => {
                if rest.len() < 4 {
                    return Err(truncated());
                }
                let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                rest = &rest[4..];
                (usize::try_from(n).map_err(|_| malformed())?, false)
            }
            _ => (1usize << (o1 & 0x1F), true),
        };
        // Only the encrypted payload may be long; the rest of a vault's packets are
        // small, and the payload is not copied out (its bytes are gpg's to read).
        if tag == 18 || tag == 20 {
            if rest.len() < len {
                return Err(truncated());
            }
        } else {
            let (chunk, _) = take(rest, len)?;
            body.extend_from_slice(&chunk);
        }
        rest = &rest[len..];
        if !partial {
            return Ok((tag, body, rest));
        }
    }
}

/// The key id of a version 3 public-key-encrypted session key packet.
fn pkesk_key_id(body: &[u8]) -> Result<String, String> {
    match body.first() {
        Some(3) if body.len() >= 10 => Ok(body[1..9].iter().map(|b| format!("{b:02X}")).collect()),
        Some(3) => Err("it is truncated inside an OpenPGP packet".into()),
        Some(v) => Err(format!(
            "it holds an encrypted session key of version {v}; agevault reads version 3 (OpenPGP v4 keys)"
        )),
        None => Err("its OpenPGP packets are malformed (the file was damaged or edited)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_key_ids_of_a_gpg_message() {
        let packets = crate::pgp::armor::decode(crate::pgp::armor::tests::SAMPLE.as_bytes()).unwrap();
        assert_eq!(structure(&packets).unwrap().key_ids, ["7A39D1E6E694B68D"]);
        // Cut inside the encrypted payload.
        assert!(structure(&packets[..packets.len() - 5])
            .unwrap_err()
            .contains("truncated"));
    }

    #[test]
    fn refuses_what_is_not_public_key_encrypted() {
        // A literal data packet (new format, tag 11): plaintext that gpg would print.
        let literal = [0xCB, 0x06, b'b', 0, 0, 0, 0, 0];
        assert!(structure(&literal).unwrap_err().contains("not encrypted"));
        // A symmetric session key packet, then encrypted data.
        let skesk = [0xC3, 0x04, 4, 9, 0, 2, 0xD2, 0x01, 1];
        assert!(structure(&skesk).unwrap_err().contains("passphrase"));
        // Legacy encrypted data without integrity protection (old format tag 9).
        let mut sed = vec![0x84, 0x0A, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1];
        sed.extend_from_slice(&[0xA4, 0x01, 0]);
        assert!(structure(&sed).unwrap_err().contains("integrity"));
        // Encrypted data, but to nobody.
        assert!(structure(&[0xD2, 0x01, 1]).unwrap_err().contains("no public key"));
        assert!(structure(&[0x01]).is_err());
    }

    #[test]
    fn partial_lengths_are_followed() {
        // PKESK, then SEIPD in two partial chunks (2 bytes, then the final 1 byte).
        let mut bytes = vec![0xC1, 0x0A, 3, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x11, 0x22, 1];
        bytes.extend_from_slice(&[0xD2, 0xE1, 1, 2, 0x01, 3]);
        assert_eq!(structure(&bytes).unwrap().key_ids, ["AABBCCDDEEFF1122"]);
        bytes.push(0xC1);
        assert!(structure(&bytes)
            .unwrap_err()
            .contains("after its encrypted data"));
    }
}
