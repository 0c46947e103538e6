//! Property tests: the note, key, checkpoint, cosignature and tlog-proof parsers never panic, and encoders round-trip.

use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
use custody::core::cosignature;
use custody::core::hash::Digest;
use custody::core::keys::{SignerKey, VerifierKey};
use custody::core::note::{self, Note, NoteSignature};
use custody::core::tlog_proof::TlogProof;
use proptest::prelude::*;

fn log_key() -> SignerKey {
    SignerKey::from_seed("custody.example/log", &[1; 32]).unwrap()
}
fn witness() -> SignerKey {
    SignerKey::from_seed("w.example", &[2; 32]).unwrap()
}

fn sample_checkpoint() -> String {
    let cp = Checkpoint::new("custody.example/log", 1234, Digest::of(b"root")).unwrap();
    let mut sc = SignedCheckpoint::sign(&cp, &log_key()).unwrap();
    sc.add_cosignature(&witness(), 1_700_000_000).unwrap();
    sc.encode()
}

/// Runs every parser on `bytes`; the only requirement is not panicking.
fn exercise(bytes: &[u8]) {
    let known = [log_key().verifier(), witness().cosigner_verifier()];
    let _ = Note::parse(bytes);
    let _ = note::open(bytes, &known);
    let _ = SignedCheckpoint::parse(bytes);
    let _ = SignedCheckpoint::open(bytes, &known[0], &known[1..]);
    let _ = TlogProof::parse(bytes);
    let _ = cosignature::parse_timestamp(bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = Checkpoint::parse_body(&text);
    let _ = VerifierKey::parse(&text);
    let _ = SignerKey::parse(&text);
    let _ = NoteSignature::parse_line(&text);
    if let Ok(sig) = NoteSignature::parse_line(&text) {
        let _ = cosignature::verify_cosignature("a\n1\nb\n", &known[1], &sig);
    }
}

/// Strings made of the tokens the grammars care about.
fn tokens() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        Just("\u{2014} ".to_string()),
        Just("\u{2014}".to_string()),
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just(" ".to_string()),
        Just("+".to_string()),
        Just("=".to_string()),
        Just("PRIVATE+KEY+".to_string()),
        Just("c2sp.org/tlog-proof@v1\n".to_string()),
        Just("index ".to_string()),
        Just("extra ".to_string()),
        Just("AAAA".to_string()),
        Just("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string()),
        "[0-9]{1,21}",
        "[A-Za-z0-9+/]{1,12}",
        "[a-f0-9]{8}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(tok, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&bytes);
    }

    #[test]
    fn token_soup_never_panics(s in tokens()) {
        exercise(s.as_bytes());
    }

    #[test]
    fn mutated_checkpoint_never_authenticates_other_content(
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        op in 0u8..3,
    ) {
        let good = sample_checkpoint();
        let mut b = good.clone().into_bytes();
        let i = pos.index(b.len());
        match op {
            0 => b[i] = byte,
            1 => { b.remove(i); }
            _ => b.insert(i, byte),
        }
        exercise(&b);
        let (lk, wk) = (log_key().verifier(), witness().cosigner_verifier());
        if let Ok(o) = SignedCheckpoint::open(&b, &lk, std::slice::from_ref(&wk)) {
            // Whatever was accepted, it authenticates the original content.
            let orig = SignedCheckpoint::parse(good.as_bytes()).unwrap();
            prop_assert_eq!(&o.checkpoint, orig.checkpoint());
            for w in &o.witness_cosignatures {
                prop_assert_eq!(w.timestamp, 1_700_000_000);
            }
        }
    }

    #[test]
    fn checkpoint_body_round_trip(
        origin in "[^\\x00-\\x1f]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        ext in prop::collection::vec("[^\\x00-\\x1f]{1,20}", 0..3),
    ) {
        let cp = Checkpoint { origin, size, root: Digest(root), extensions: ext };
        prop_assert!(cp.validate().is_ok());
        prop_assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
    }

    #[test]
    fn signed_note_round_trip(text in "([^\\x00-\\x1f]{0,20}\n){1,5}", seed in any::<[u8; 32]>()) {
        let k = SignerKey::from_seed("k.example", &seed).unwrap();
        let n = note::sign(&text, &k).unwrap();
        let enc = n.encode();
        prop_assert_eq!(&Note::parse(enc.as_bytes()).unwrap(), &n);
        let o = note::open(enc.as_bytes(), &[k.verifier()]).unwrap();
        prop_assert_eq!(o.text, text);
    }

    #[test]
    fn tlog_proof_round_trip(
        index in any::<u64>(),
        hashes in prop::collection::vec(any::<[u8; 32]>(), 0..64),
        extra in prop::option::of(prop::collection::vec(any::<u8>(), 1..50)),
    ) {
        let cp = sample_checkpoint();
        let hashes: Vec<Digest> = hashes.into_iter().map(Digest).collect();
        let p = TlogProof::new(index, hashes, extra, &cp).unwrap();
        let enc = p.encode();
        prop_assert_eq!(&TlogProof::parse(enc.as_bytes()).unwrap(), &p);
    }

    #[test]
    fn vkey_round_trip(seed in any::<[u8; 32]>(), name in "[!-*,-~]{1,30}") {
        let k = SignerKey::from_seed(&name, &seed).unwrap();
        for v in [k.verifier(), k.cosigner_verifier()] {
            prop_assert_eq!(VerifierKey::parse(&v.encode()).unwrap(), v);
        }
        let again = SignerKey::parse(&k.encode()).unwrap();
        prop_assert_eq!(again.public_bytes(), k.public_bytes());
    }
}
