//! The merge driver's three-way merge: the input is split at 0xFF bytes into base, ours
//! and theirs documents; whatever merges must write a document that parses again (the
//! merged vault must always decrypt to something agevault can read).
#![no_main]

use agevault::fuzzing::{merge_documents, VaultDocument};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let (Some(base), Some(ours), Some(theirs)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (Ok(ours), Ok(theirs)) = (VaultDocument::parse(ours), VaultDocument::parse(theirs)) else {
        return;
    };
    let base = VaultDocument::parse(base).ok();
    if let Ok(outcome) = merge_documents(base.as_ref(), &ours, &theirs) {
        let text = outcome.doc.to_plaintext();
        if let Err(e) = VaultDocument::parse(text.as_slice()) {
            panic!("the merged document does not parse: {e}");
        }
    }
});
