//! The bundle reader (FORMAT.md §10.1, §10.2) on hostile bytes: it must never
//! panic or allocate without bound (every declared length is checked against
//! its limit before anything is read), and what it accepts must re-encode to
//! the same bytes (the head is canonical); the chain-of-custody checker must
//! not panic on what it accepts.
#![no_main]

use custody::core::bundle::{check_evidence, read_head, write_head, Evidence, Trust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = Evidence::parse(data) {
        assert_eq!(ev.encode(), data, "evidence is canonical");
        let _ = check_evidence(
            &ev,
            &Trust {
                logs: &[],
                witnesses: &[],
                quorum: None,
            },
        );
    }
    let mut r = data;
    if let Ok(head) = read_head(&mut r) {
        let consumed = data.len() - r.len();
        let mut out = Vec::new();
        write_head(&mut out, &head).expect("an accepted head re-encodes");
        assert_eq!(&out[..], &data[..consumed], "head is canonical");
        assert_eq!(head.encoded_len(), consumed as u64);
    }
});
