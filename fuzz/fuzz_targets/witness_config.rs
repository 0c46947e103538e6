//! `witness/config.toml` (FORMAT.md §11.2), the logs an archive witnesses:
//! `WitnessConfig::parse` never panics, bounds its input and checks that each
//! log's key is alg 0x01 named as its origin. TOML is not canonical, so the
//! property is parse(to_toml(c)) == c, with the serialisation `witness
//! add-log` writes (`toml::to_string_pretty`).
#![no_main]

use std::path::Path;

use custody::store::ops::witness::WitnessConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("config.toml");
    let Ok(c) = WitnessConfig::parse(path, text) else {
        return;
    };
    let written = toml::to_string_pretty(&c).expect("a parsed config serialises");
    let again = WitnessConfig::parse(path, &written).expect("the written config parses");
    assert_eq!(again, c, "parse(to_toml(c)) == c");
});
