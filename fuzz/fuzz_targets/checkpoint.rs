//! `SignedCheckpoint::parse` and `Checkpoint::parse_body` (C2SP
//! tlog-checkpoint, FORMAT.md §3.7) on hostile bytes: never panic; both are
//! canonical, so an accepted checkpoint re-encodes to exactly the input and
//! its note text is exactly `body()`. Opening with the log key and a witness
//! key must not panic either.
#![no_main]

mod common;

use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sc) = SignedCheckpoint::parse(data) {
        assert_eq!(
            sc.encode().as_bytes(),
            data,
            "encode(parse(bytes)) == bytes"
        );
        assert_eq!(sc.checkpoint().body(), sc.note().text());
        sc.checkpoint()
            .validate()
            .expect("a parsed checkpoint is valid");
        if let Ok(o) = SignedCheckpoint::open(
            data,
            &common::DROPSITE_LOG,
            std::slice::from_ref(&*common::MAG972_WITNESS),
        ) {
            assert_eq!(&o.checkpoint, sc.checkpoint());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse_body(text) {
            assert_eq!(cp.body(), text, "body(parse_body(text)) == text");
            cp.validate().expect("a parsed body is valid");
            assert_eq!(Checkpoint::parse_body(&cp.body()).as_ref(), Ok(&cp));
        }
    }
});
