//! Bundle evidence, `custody-evidence/v1` (FORMAT.md §10.2), as `receive`
//! keeps it and `verify` re-reads it from `evidence/<hex>`: `Evidence::parse`
//! never panics or allocates without bound; the encoding is canonical, so
//! accepted evidence re-encodes to exactly the input and passes the writer's
//! limits. The chain-of-custody checker (§10.4) runs on what it accepts, with
//! the seeds' log keys trusted and +972 as the witness of a quorum of one, so
//! that hostile evidence reaches the record, proof and hop-link checks.
#![no_main]

mod common;

use custody::core::bundle::{check_evidence, Evidence, Trust};
use custody::core::checkpoint::WitnessCosignature;
use libfuzzer_sys::fuzz_target;

fn one_witness(c: &[WitnessCosignature]) -> (bool, String) {
    (!c.is_empty(), "1 of 1 witnesses".into())
}

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = Evidence::parse(data) else {
        return;
    };
    assert_eq!(ev.encode(), data, "encode(parse(bytes)) == bytes");
    ev.validate()
        .expect("parsed evidence is within the writer's limits");
    for n in 1..=ev.hops.len() {
        let prefix = ev.prefix(n).encode();
        assert_eq!(Evidence::parse(&prefix).as_ref().ok(), Some(&ev.prefix(n)));
    }
    let logs = [common::DROPSITE_LOG.clone(), common::GUARDIAN_LOG.clone()];
    let witnesses = [common::MAG972_WITNESS.clone()];
    let checked = check_evidence(
        &ev,
        &Trust {
            logs: &logs,
            witnesses: &witnesses,
            quorum: Some(&one_witness),
        },
    );
    assert!(checked.hops.len() <= ev.hops.len());
});
