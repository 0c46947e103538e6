//! Split-view evidence (FORMAT.md §11.4), as `custody verify-evidence` reads
//! it: `SplitViewEvidence::parse` never panics; the format is canonical, so
//! accepted evidence re-encodes to exactly the input. Assessing it (open both
//! notes, compare, check the offered consistency proof) must not panic.
#![no_main]

mod common;

use custody::core::evidence::SplitViewEvidence;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = SplitViewEvidence::parse(data) else {
        return;
    };
    assert_eq!(ev.encode(), data, "encode(parse(bytes)) == bytes");
    let _ = ev.assess(&ev.log_key, None);
    let _ = ev.assess(&common::DROPSITE_LOG, ev.proof.as_ref());
});
