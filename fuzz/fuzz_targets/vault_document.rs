//! The decrypted vault document parser: any bytes parse or fail cleanly, and what parses
//! writes back to a document that parses to the same text.
#![no_main]

use agevault::fuzzing::VaultDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = VaultDocument::parse(data) {
        let text = doc.to_plaintext();
        let again = VaultDocument::parse(text.as_slice()).expect("a written document parses");
        assert!(
            again.to_plaintext() == text,
            "writing a parsed document is not stable"
        );
    }
    let _ = VaultDocument::parse_repairing(data);
});
