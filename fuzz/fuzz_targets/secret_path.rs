//! Secret paths: parse or refuse, and a parsed path prints back to itself.
#![no_main]

use agevault::fuzzing::SecretPath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(path) = SecretPath::parse(text) {
            let printed = path.to_string();
            let again = SecretPath::parse(&printed).expect("a printed path parses");
            assert_eq!(again.segments(), path.segments());
        }
    }
});
