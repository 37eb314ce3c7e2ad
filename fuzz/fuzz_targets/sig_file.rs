//! The signature file parser (nothing is verified): parse or refuse, and a parsed file
//! renders to text that parses to the same manifests.
#![no_main]

use agevault::fuzzing::SigFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sig) = SigFile::parse(data) {
        let rendered = sig.render();
        let again = SigFile::parse(rendered.as_bytes()).expect("a rendered signature file parses");
        assert_eq!(again.current.body, sig.current.body);
        assert_eq!(again.previous.map(|p| p.body), sig.previous.map(|p| p.body));
    }
});
