//! Issue 16, item 2: a signature means one thing. Every one of the 914
//! C2SP CCTV Ed25519 edge-case vectors (`tests/data/cctv-ed25519/`) gets the
//! verdict the rule of FORMAT.md §4.3 gives it, from the one-by-one path
//! (`sigbatch::verify` and `verify_key`, the latter behind record signatures
//! and `VerifierKey::verify_ed25519`, used for notes, checkpoints and
//! cosignatures) and from the batch path
//! (`sigbatch::BatchKey`, used by `verify` and `mirror`): alone, and mixed
//! into batches with the valid signatures by the same key, on several runs
//! (fresh random coefficients each time).
//!
//! The expected verdict follows from the vector's flags (their meaning is in
//! the folder's README): the rule refuses small-order `A` and `R`
//! (`low_order_A`, `low_order_R`) and non-canonical encodings
//! (`non_canonical_A`, `non_canonical_R`; all of them are of small-order
//! points), and checks the cofactored equation, which every vector
//! satisfies; so a small-order *component* (`low_order_component_*`), a
//! residue that only the cofactor removes (`low_order_residue`) and
//! `reencoded_k` (only with a non-canonical point) do not change it. Valid
//! iff no flag of the first four.

use std::collections::BTreeMap;

use custody::core::keys::{SigAlg, VerifierKey};
use custody::core::sigbatch::{self, BatchKey, Item};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

struct Vector {
    number: u64,
    key: [u8; 32],
    sig: [u8; 64],
    msg: Vec<u8>,
    flags: Vec<String>,
}

/// The flags that make a signature invalid under FORMAT.md §4.3.
const REFUSED: [&str; 4] = [
    "low_order_A",
    "low_order_R",
    "non_canonical_A",
    "non_canonical_R",
];

impl Vector {
    fn expected(&self) -> bool {
        !self.flags.iter().any(|f| REFUSED.contains(&f.as_str()))
    }
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cctv-ed25519/ed25519vectors.json"
    );
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.iter()
        .map(|v| Vector {
            number: v["number"].as_u64().unwrap(),
            key: hex::decode(v["key"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            sig: hex::decode(v["sig"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
            msg: v["msg"].as_str().unwrap().as_bytes().to_vec(),
            flags: v["flags"]
                .as_array()
                .map(|f| f.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
        })
        .collect()
}

fn batch(key: &[u8; 32], sigs: &[&Vector]) -> Vec<bool> {
    let items: Vec<Item<'_>> = sigs
        .iter()
        .map(|v| Item {
            msg: &v.msg,
            sig: &v.sig,
        })
        .collect();
    BatchKey::from_bytes(key).verify_all(&items)
}

#[test]
fn every_cctv_vector_gets_one_verdict_single_and_batched() {
    let vs = vectors();
    assert_eq!(vs.len(), 914);
    let (mut accepted, mut rejected) = (0, 0);
    let mut by_flags: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for v in &vs {
        let want = v.expected();
        let single = sigbatch::verify(&v.key, &v.msg, &v.sig);
        assert_eq!(
            single, want,
            "vector {} {:?}: one by one",
            v.number, v.flags
        );
        for run in 0..4 {
            assert_eq!(
                batch(&v.key, &[v]),
                vec![want],
                "vector {} {:?}: batch of one, run {run}",
                v.number,
                v.flags
            );
        }
        // The path of signed notes, checkpoints and cosignatures (a key of
        // small order is refused before any signature is checked).
        if let Ok(vk) = VerifyingKey::from_bytes(&v.key) {
            assert_eq!(sigbatch::verify_key(&vk, &v.msg, &v.sig), want);
            let item = Item {
                msg: &v.msg,
                sig: &v.sig,
            };
            assert_eq!(BatchKey::new(&vk).verify_all(&[item]), vec![want]);
            if let Ok(k) = VerifierKey::new("example.org/cctv", SigAlg::Ed25519, vk) {
                assert_eq!(
                    k.verify_ed25519(&v.msg, &v.sig),
                    want,
                    "vector {}",
                    v.number
                );
            } else {
                assert!(!want, "vector {}: a refused key signs nothing", v.number);
            }
        }
        if want {
            accepted += 1;
        } else {
            rejected += 1;
        }
        let e = by_flags.entry(v.flags.join(",")).or_default();
        if want {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for (f, (a, r)) in &by_flags {
        eprintln!("{a:>3} valid {r:>3} invalid  [{f}]");
    }
    eprintln!("{accepted} valid, {rejected} invalid");
    assert_eq!((accepted, rejected), (106, 808));
}

/// Each vector inside a batch of the valid vectors by its key (each valid
/// one twice), in two orders, on several runs: every position gets the
/// vector's own verdict. Before issue 16 a batch held, half of the time,
/// for a signature that the one-by-one check refused (or the reverse).
#[test]
fn mixed_batches_agree_with_the_single_path_on_every_run() {
    let vs = vectors();
    let mut by_key: BTreeMap<[u8; 32], Vec<&Vector>> = BTreeMap::new();
    for v in &vs {
        by_key.entry(v.key).or_default().push(v);
    }
    let mut checked = 0;
    for (key, group) in &by_key {
        let valid: Vec<&Vector> = group.iter().copied().filter(|v| v.expected()).collect();
        // The whole group in one batch, as a log signed by this key would be.
        let want: Vec<bool> = group.iter().map(|v| v.expected()).collect();
        for _ in 0..8 {
            assert_eq!(batch(key, group), want, "key {}", hex::encode(key));
        }
        for v in group {
            let mut mix: Vec<&Vector> = Vec::new();
            mix.extend(&valid);
            mix.push(v);
            mix.extend(&valid);
            let want: Vec<bool> = mix.iter().map(|m| m.expected()).collect();
            for _ in 0..4 {
                assert_eq!(batch(key, &mix), want, "vector {} {:?}", v.number, v.flags);
                let rev: Vec<&Vector> = mix.iter().rev().copied().collect();
                let rwant: Vec<bool> = want.iter().rev().copied().collect();
                assert_eq!(batch(key, &rev), rwant, "vector {} {:?}", v.number, v.flags);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 914);
}

/// The rule accepts every signature that ed25519-dalek's `verify_strict`
/// accepts (cofactorless and strict) and, beyond those, only signatures
/// whose small-order parts the cofactor removes, which only the key's
/// holder can make: on these vectors 43 of the 106.
#[test]
fn the_rule_contains_verify_strict() {
    let mut strict = 0;
    for v in vectors() {
        let Ok(vk) = VerifyingKey::from_bytes(&v.key) else {
            continue;
        };
        if vk
            .verify_strict(&v.msg, &Signature::from_bytes(&v.sig))
            .is_ok()
        {
            strict += 1;
            assert!(
                sigbatch::verify(&v.key, &v.msg, &v.sig),
                "vector {}",
                v.number
            );
            assert!(
                !v.flags.iter().any(|f| f == "low_order_residue"),
                "vector {}",
                v.number
            );
        }
    }
    assert_eq!(strict, 43);
}
