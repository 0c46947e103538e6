//! The per-user trust store (FORMAT.md §11.5): `TrustStore::parse` never
//! panics, bounds its input and checks every entry (names, kinds, duplicate
//! names and keys). TOML is not canonical, so the property is
//! parse(to_toml(s)) == s, with the text `custody trust add` writes.
#![no_main]

use std::path::Path;

use custody::store::ops::trust::TrustStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("trust.toml");
    let Ok(s) = TrustStore::parse(path, text) else {
        return;
    };
    let written = s.to_toml().expect("a parsed store serialises");
    let again = TrustStore::parse(path, &written).expect("the written store parses");
    assert_eq!(again, s, "parse(to_toml(s)) == s");
});
