//! `TlogProof::parse` (C2SP tlog-proof, FORMAT.md §3.9 and §8.1) on hostile
//! bytes: never panics; the format is canonical, so an accepted proof
//! re-encodes to exactly the input and rebuilds from its parts to an equal
//! proof. What `verify-proof` does next (decode the record in `extra`, open
//! the checkpoint, check the inclusion path) must not panic either.
#![no_main]

mod common;

use custody::core::checkpoint::SignedCheckpoint;
use custody::core::merkle::{self, LeafIndex, TreeSize};
use custody::core::record::Record;
use custody::core::tlog_proof::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = TlogProof::parse(data) else {
        return;
    };
    assert_eq!(p.encode().as_bytes(), data, "encode(parse(bytes)) == bytes");
    let rebuilt = TlogProof::new(
        p.index(),
        p.hashes().to_vec(),
        p.extra().map(<[u8]>::to_vec),
        p.checkpoint_note(),
    )
    .expect("the parts of a parsed proof are valid");
    assert_eq!(rebuilt, p);
    let leaf = match p.extra().map(Record::decode) {
        Some(Ok(rec)) => rec.leaf_hash(),
        _ => merkle::leaf_hash(p.extra().unwrap_or_default()),
    };
    let sc = SignedCheckpoint::parse(p.checkpoint_note().as_bytes())
        .expect("a parsed proof carries a parsed checkpoint");
    let _ = SignedCheckpoint::open(p.checkpoint_note().as_bytes(), &common::DROPSITE_LOG, &[]);
    let cp = sc.checkpoint();
    let _ = merkle::verify_inclusion(
        LeafIndex(p.index()),
        TreeSize(cp.size),
        &leaf,
        p.hashes(),
        &cp.root,
    );
});
