//! Keys shared by the targets: the TEST-ONLY example outlets of
//! `keys-example/` (their vkeys are public), so that checkpoints, records and
//! cosignatures in the seed corpus (made by `fuzz/make-seeds.sh` with those
//! keys) reach the signature checks instead of stopping at "unknown key".
#![allow(dead_code)]

use std::sync::LazyLock;

use custody::core::keys::VerifierKey;

fn vkey(text: &str) -> VerifierKey {
    VerifierKey::parse(text.trim()).expect("keys-example vkeys parse")
}

/// Drop Site's log key (alg 0x01), name `dropsite.example/leaks`.
pub static DROPSITE_LOG: LazyLock<VerifierKey> =
    LazyLock::new(|| vkey(include_str!("../../keys-example/dropsite/signing.vkey")));

/// The Guardian's log key (alg 0x01), name `theguardian.example/custody`.
pub static GUARDIAN_LOG: LazyLock<VerifierKey> =
    LazyLock::new(|| vkey(include_str!("../../keys-example/guardian/signing.vkey")));

/// +972's witness key (alg 0x04), which cosigns Drop Site's checkpoints in the seeds.
pub static MAG972_WITNESS: LazyLock<VerifierKey> =
    LazyLock::new(|| vkey(include_str!("../../keys-example/972mag/witness.vkey")));
