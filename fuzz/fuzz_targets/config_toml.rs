//! `custody.toml` (FORMAT.md §7.4), which an adversary with write access to
//! the archive can edit: `parse_config` never panics and bounds its input.
//! TOML is not canonical, so the property is parse(to_toml(c)) == c, with
//! the text `custody init` writes (`toml::to_string_pretty`). The log key and
//! recipients it names go through their parsers as `Archive::open` does.
#![no_main]

use std::path::Path;

use custody::core::crypto::RecipientKey;
use custody::core::keys::VerifierKey;
use custody::store::archive::parse_config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("custody.toml");
    let Ok(c) = parse_config(path, text) else {
        return;
    };
    let written = toml::to_string_pretty(&c).expect("a parsed config serialises");
    let again = parse_config(path, &written).expect("the written config parses");
    assert_eq!(again, c, "parse(to_toml(c)) == c");
    let _ = VerifierKey::parse(&c.log_key);
    for r in &c.recipients {
        let _ = RecipientKey::parse(r);
    }
});
