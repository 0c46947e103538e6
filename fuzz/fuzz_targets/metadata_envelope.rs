//! The metadata envelope, decrypted (FORMAT.md §5.2): `Metadata::from_json`
//! and `open_envelope` never panic and bound their input. JSON is not
//! canonical, so the properties are from_json(to_json(m)) == m, and an
//! envelope of one accepted entry opens that entry by its commitment; what
//! `open_envelope` returns always opens the commitment it was asked for.
#![no_main]

use custody::core::hash::Digest;
use custody::core::meta::{encode_envelope, open_envelope, Metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Metadata::from_json(data) {
        let again = Metadata::from_json(&m.to_json()).expect("to_json output parses");
        assert_eq!(again, m, "from_json(to_json(m)) == m");
        let env = encode_envelope(std::slice::from_ref(&m));
        let opened = open_envelope(&env, &m.commitment()).expect("its own envelope opens");
        assert_eq!(opened, m);
    }
    // Ask for the commitment of the first entry, if it parses, so that
    // multi-entry inputs get past the first line.
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let want = Metadata::from_json(first)
        .map(|m| m.commitment())
        .unwrap_or(Digest([0; 32]));
    if let Ok(m) = open_envelope(data, &want) {
        assert_eq!(m.commitment(), want);
    }
});
