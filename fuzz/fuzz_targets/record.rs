//! `Record::decode` (FORMAT.md §4) on hostile bytes: never panics, and the
//! encoding is canonical, so an accepted record re-encodes (body encoding,
//! then the signature) to exactly the input, decodes again to an equal
//! record, and passes the encoder's own validation.
#![no_main]

mod common;

use custody::core::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = Record::decode(data) else {
        return;
    };
    let mut again = rec.body.encode();
    again.extend_from_slice(&rec.signature);
    assert_eq!(again, data, "encode(decode(bytes)) == bytes");
    assert_eq!(rec.bytes(), data);
    assert_eq!(
        Record::decode(&again).as_ref(),
        Ok(&rec),
        "decode(encode(r)) == r"
    );
    rec.body
        .validate()
        .expect("a decoded body passes the encoder's checks");
    let _ = rec.body.payload.summary();
    let _ = rec.body.payload.kind().as_str();
    let _ = (
        rec.leaf_hash(),
        rec.about(),
        rec.commitment(),
        rec.document(),
    );
    let key = &*common::DROPSITE_LOG;
    let _ = rec.verify_signature(key.verifying_key(), key.key_id());
});
