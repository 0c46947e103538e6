//! C2SP tlog-policy files (`--policy FILE`, FORMAT.md §11.6): `Policy::parse`
//! never panics. The text is not canonical (comments, spacing, `all`/`any`,
//! statement order), so the property is parse(encode(p)) == p for every
//! accepted policy, and evaluating its quorum rule never panics.
#![no_main]

use custody::core::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = Policy::parse(text) else {
        return;
    };
    let encoded = p.encode();
    assert_eq!(
        Policy::parse(&encoded).as_ref(),
        Ok(&p),
        "parse(encode(p)) == p"
    );
    let _ = p.evaluate(&[]);
    let _ = p.describe();
});
