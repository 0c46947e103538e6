//! The share envelope of a bundle, decrypted (FORMAT.md §10.3):
//! `ShareEnvelope::from_json` never panics and bounds its input. JSON is not
//! canonical (spacing, member order, escapes, hex case), so the property is
//! from_json(to_json(e)) == e for every accepted envelope, whose name stays
//! a safe single path component.
#![no_main]

use custody::core::bundle::{safe_file_name, ShareEnvelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(e) = ShareEnvelope::from_json(data) else {
        return;
    };
    assert!(safe_file_name(&e.name));
    let json = e.to_json();
    let again = ShareEnvelope::from_json(&json).expect("to_json output parses");
    assert_eq!(again, e, "from_json(to_json(e)) == e");
    let _ = e.commitment();
});
