//! The `.agevault.toml` parser (unknown-key check, rules, durations, recipients, writers).
#![no_main]

use agevault::fuzzing::ConfigFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ConfigFile::parse_with_digest(text);
    }
});
