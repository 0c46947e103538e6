//! What a witness reads from a log (C2SP tlog-witness add-checkpoint, FORMAT.md
//! §8.2 and §11.2): `parse_add_checkpoint` and `OfferedProof::parse` never
//! panic; both are canonical, so an accepted body re-encodes (`old N`, the
//! hash lines, the empty line, the checkpoint bytes) to exactly the input,
//! and so does an accepted proof. The witness's decision (`decide`, with a
//! fixed history of the same log) runs on what they accept.
#![no_main]

use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
use custody::core::witness::{decide, parse_add_checkpoint, OfferedProof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((proof, cp)) = parse_add_checkpoint(data) {
        let mut again = proof.encode().into_bytes();
        again.push(b'\n');
        again.extend_from_slice(cp);
        assert_eq!(again, data, "encode(parse(body)) == body");
        if let Ok(sc) = SignedCheckpoint::parse(cp) {
            let history = [
                Checkpoint::parse_body(
                    "dropsite.example/leaks\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                )
                .expect("fixed body"),
                Checkpoint::parse_body(
                    "dropsite.example/leaks\n8\n6G3GevUf5vZnIwhViaDckJBzIZTR6rSNdpxmZiODhJ0=\n",
                )
                .expect("fixed body"),
            ];
            let _ = decide(&history, sc.checkpoint(), Some(&proof));
            let _ = decide(&history[..1], sc.checkpoint(), Some(&proof));
            let _ = decide(&[], sc.checkpoint(), None);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = OfferedProof::parse(text) {
            assert_eq!(p.encode(), text, "encode(parse(proof)) == proof");
        }
    }
});
