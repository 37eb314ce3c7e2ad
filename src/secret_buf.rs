//! A growable byte buffer for plaintext that never leaves un-zeroized copies behind.

use std::io::{self, Read, Write};
use zeroize::Zeroize;

/// Plaintext bytes. Growing moves the contents into a bigger allocation
/// and zeroizes the old one, which a plain `Vec` reallocation would leave
/// behind in freed memory, where `zeroize` cannot reach them.
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

    /// Drops the first `n` bytes (all of them when `n` is past the end), zeroizing
    /// the bytes freed at the end; the allocation is kept.
    pub fn drop_front(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.copy_within(n.., 0);
        let len = self.bytes.len() - n;
        self.bytes[len..].zeroize();
        self.bytes.truncate(len);
    }

    /// Empties the buffer, zeroizing its contents; the allocation is kept.
    pub fn clear(&mut self) {
        self.drop_front(self.bytes.len());
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

impl Clone for SecretBuf {
    fn clone(&self) -> Self {
        let mut copy = SecretBuf::with_capacity(self.bytes.capacity());
        copy.extend_from_slice(&self.bytes);
        copy
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
    fn drops_a_prefix_and_clears_in_place() {
        let mut buf = SecretBuf::with_capacity(16);
        buf.extend_from_slice(b"abcdef");
        buf.drop_front(2);
        assert_eq!(buf.as_slice(), b"cdef");
        buf.drop_front(10);
        assert_eq!(buf.as_slice(), b"");
        buf.extend_from_slice(b"xyz");
        buf.clear();
        assert_eq!(buf.as_slice(), b"");
        assert_eq!(buf.bytes.capacity(), 16);
    }

    #[test]
    fn reads_everything() {
        let data = vec![7u8; 100_000];
        let buf = SecretBuf::read_all(&data[..], 10).unwrap();
        assert_eq!(buf.as_slice(), &data[..]);
    }
}

/// Test-only: a global allocator that looks into every block freed while armed for a
/// marker, so a test can check that a code path leaves no un-zeroized copy of a value
/// behind in freed memory (a `Vec`/`String` that grew, a buffer dropped unwiped).
#[cfg(test)]
pub(crate) mod canary {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
    use std::sync::Mutex;

    const MAX: usize = 64;
    static ARMED: AtomicBool = AtomicBool::new(false);
    static HITS: AtomicUsize = AtomicUsize::new(0);
    static LEN: AtomicUsize = AtomicUsize::new(0);
    static MARKER: [AtomicU8; MAX] = [const { AtomicU8::new(0) }; MAX];
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    struct Checking;

    /// Checks a block about to be freed. Allocation-free: it runs inside the allocator.
    fn check(block: &[u8]) {
        let len = LEN.load(Ordering::Relaxed);
        if len == 0 || block.len() < len {
            return;
        }
        let first = MARKER[0].load(Ordering::Relaxed);
        let found = (0..=block.len() - len).any(|at| {
            block[at] == first && (1..len).all(|i| block[at + i] == MARKER[i].load(Ordering::Relaxed))
        });
        if found {
            HITS.fetch_add(1, Ordering::Relaxed);
        }
    }

    // SAFETY: every call is forwarded unchanged to the system allocator; `dealloc`
    // only reads the block it is handed (valid for `layout.size()` bytes until it is
    // freed) before freeing it. `realloc` keeps the trait's default (allocate, copy,
    // `dealloc`), so a block a reallocation leaves behind is checked too.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Checking {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            System.alloc(layout)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if ARMED.load(Ordering::Relaxed) && !ptr.is_null() {
                check(std::slice::from_raw_parts(ptr, layout.size()));
            }
            System.dealloc(ptr, layout);
        }
    }

    #[global_allocator]
    static GLOBAL: Checking = Checking;

    /// Runs `f` and returns how many blocks freed meanwhile still held `marker`
    /// (1 to 64 bytes). Build the inputs before and drop the results after, so only
    /// the path under test runs armed; tests that use this run one at a time.
    pub(crate) fn freed_copies(marker: &[u8], f: impl FnOnce()) -> usize {
        assert!(!marker.is_empty() && marker.len() <= MAX);
        let _one = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (slot, b) in MARKER.iter().zip(marker) {
            slot.store(*b, Ordering::Relaxed);
        }
        LEN.store(marker.len(), Ordering::Relaxed);
        HITS.store(0, Ordering::Relaxed);
        ARMED.store(true, Ordering::SeqCst);
        f();
        ARMED.store(false, Ordering::SeqCst);
        HITS.load(Ordering::Relaxed)
    }

    #[test]
    fn sees_a_copy_a_growing_vec_leaves_and_none_a_secret_buf_leaves() {
        let marker = b"canary-Vd3kq9Xw";
        let mut plain = Vec::with_capacity(marker.len());
        plain.extend_from_slice(marker);
        assert_eq!(
            freed_copies(marker, || plain.extend_from_slice(&[0u8; 4096])),
            1,
            "the block a Vec grew out of"
        );
        let mut buf = super::SecretBuf::with_capacity(marker.len());
        buf.extend_from_slice(marker);
        assert_eq!(freed_copies(marker, || buf.extend_from_slice(&[0u8; 4096])), 0);
        assert_eq!(freed_copies(marker, move || drop(buf)), 0);
        assert_eq!(freed_copies(marker, move || drop(plain)), 1);
    }
}
