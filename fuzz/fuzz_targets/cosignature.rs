//! A cosignature line (C2SP tlog-cosignature, FORMAT.md §3.8), as `custody
//! checkpoint add-cosignature` reads it from a witness: `NoteSignature::parse_line`
//! never panics and is canonical (an accepted line re-encodes to exactly the
//! input); the `cosignature/v1` field checks (length, timestamp range,
//! Ed25519 over the checkpoint body) never panic on what it accepts.
#![no_main]

mod common;

use custody::core::cosignature::{parse_timestamp, verify_cosignature, COSIGNATURE_V1_LEN};
use custody::core::note::NoteSignature;
use libfuzzer_sys::fuzz_target;

/// A checkpoint body of the seeds' log (any body will do: the signature
/// check runs either way).
const BODY: &str = "dropsite.example/leaks\n8\n6G3GevUf5vZnIwhViaDckJBzIZTR6rSNdpxmZiODhJ0=\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let line = text.strip_suffix('\n').unwrap_or(text);
    let Ok(sig) = NoteSignature::parse_line(line) else {
        return;
    };
    assert_eq!(
        sig.to_line(),
        format!("{line}\n"),
        "to_line(parse(line)) == line"
    );
    let ts = parse_timestamp(&sig.sig);
    if sig.sig.len() != COSIGNATURE_V1_LEN {
        assert!(ts.is_err());
    }
    let witness = &*common::MAG972_WITNESS;
    let _ = verify_cosignature(BODY, witness, &sig);
    // The same field under the witness's own name and key ID, so the length,
    // timestamp and Ed25519 checks run on every accepted line.
    let as_witness = NoteSignature {
        name: witness.name().to_owned(),
        key_id: witness.key_id(),
        sig: sig.sig.clone(),
    };
    if let Ok(t) = verify_cosignature(BODY, witness, &as_witness) {
        assert_eq!(Ok(t), ts);
    }
});
