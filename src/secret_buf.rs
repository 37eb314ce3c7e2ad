//! A growable byte buffer for plaintext that never leaves un-zeroized copies behind.

use std::io::{self, Read, Write};
use zeroize::Zeroize;

/// Plaintext bytes. Growing moves the contents into a bigger allocation
/// and zeroizes the old one, which a plain `Vec` reallocation would leave
/// behind in freed memory (FIELD-NOTES: zeroize cannot erase those copies).
#[derive(Default)]
pub struct SecretBuf {
    bytes: Vec<u8>,
}

impl SecretBuf {
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        SecretBuf {
            bytes: Vec::with_capacity(capacity),
        }
    }

    /// The plaintext.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends bytes, growing without leaving copies.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        let needed = self.bytes.len() + data.len();
        if needed > self.bytes.capacity() {
            let mut grown = Vec::with_capacity(needed.max(self.bytes.capacity() * 2).max(256));
            grown.extend_from_slice(&self.bytes);
            self.bytes.zeroize();
            self.bytes = grown;
        }
        self.bytes.extend_from_slice(data);
    }

    /// Reads `reader` to its end into a new buffer.
    pub fn read_all(mut reader: impl Read, size_hint: usize) -> io::Result<Self> {
        let mut buf = SecretBuf::with_capacity(size_hint.max(1024));
        let mut chunk = zeroize::Zeroizing::new([0u8; 8192]);
        loop {
            match reader.read(&mut chunk[..]) {
                Ok(0) => return Ok(buf),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for SecretBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl PartialEq for SecretBuf {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_keeps_contents() {
        let mut buf = SecretBuf::with_capacity(1);
        for i in 0..1000u32 {
            buf.extend_from_slice(&i.to_le_bytes());
        }
        assert_eq!(buf.as_slice().len(), 4000);
        assert_eq!(&buf.as_slice()[4..8], &1u32.to_le_bytes());
    }

    #[test]
    fn reads_everything() {
        let data = vec![7u8; 100_000];
        let buf = SecretBuf::read_all(&data[..], 10).unwrap();
        assert_eq!(buf.as_slice(), &data[..]);
    }
}
