//! Runs every case of the C2SP signed-note, tlog-checkpoint and tlog-cosignature vectors in tests/data (see VECTORS-README.md).
//!
//! Cases needing algorithms we do not implement (ECDSA 0x02, ML-DSA-44 0x06)
//! are counted as skipped after asserting that our parser refuses their keys;
//! the number of skips is asserted so that a changed or empty file fails.

use std::collections::HashMap;

use custody::core::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use custody::core::cosignature::{self, CosignatureError};
use custody::core::hash::Digest;
use custody::core::keys::{KeyError, KeyId, SigAlg, SignerKey, VerifierKey};
use custody::core::note::{self, Note, NoteError, NoteSignature};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("missing array {key}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key} in {v}"))
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("vector base64")
}

fn msg_bytes(case: &Value) -> Vec<u8> {
    let bytes = hex::decode(s(case, "msg_hex")).expect("msg_hex");
    if let Some(u) = case["msg_utf8"].as_str() {
        assert_eq!(u.as_bytes(), &bytes[..], "msg_utf8 and msg_hex disagree");
    }
    bytes
}

/// The signed_note.json keys by id.
fn note_keys(v: &Value) -> HashMap<String, VerifierKey> {
    arr(v, "keys")
        .iter()
        .map(|k| {
            let vk = VerifierKey::parse(s(k, "vkey")).expect("vector vkey parses");
            assert_eq!(vk.encode(), s(k, "vkey"), "vkey encodes exactly");
            (s(k, "id").to_owned(), vk)
        })
        .collect()
}

fn sig_entry(sig: &NoteSignature) -> (String, String, String) {
    (sig.name.clone(), sig.key_id.to_string(), sig.base64())
}

fn expect_entries(v: &Value) -> Vec<(String, String, String)> {
    v.as_array()
        .expect("entry list")
        .iter()
        .map(|e| {
            (
                s(e, "name").to_owned(),
                s(e, "key_id_hex").to_owned(),
                s(e, "sig_b64").to_owned(),
            )
        })
        .collect()
}

#[test]
fn signed_note_keys_and_vkey_parse_cases() {
    let v = load("signed_note.json");
    let keys = note_keys(&v);
    assert_eq!(keys.len(), 5);

    // The one signer key: derives the published vkey and re-encodes exactly.
    let mut skeys = 0;
    for k in arr(&v, "keys") {
        if let Some(sk) = k["skey"].as_str() {
            let signer = SignerKey::parse(sk).expect("skey parses");
            assert_eq!(signer.encode().as_str(), sk);
            assert_eq!(signer.verifier().encode(), s(k, "vkey"));
            skeys += 1;
        }
    }
    assert_eq!(skeys, 1);

    let cases = arr(&v, "vkey_parse_cases");
    for c in cases {
        let vkey = s(c, "vkey");
        let got = VerifierKey::parse(vkey);
        match s(c, "expect") {
            "ok" => {
                let k = got.expect("ok vkey");
                assert_eq!(k.name(), s(c, "name"));
                assert_eq!(k.key_id().to_string(), s(c, "key_id_hex"));
                assert_eq!(u64::from(k.alg().byte()), c["alg"].as_u64().unwrap());
                assert_eq!(k.encode(), vkey);
            }
            "error" => {
                let desc = s(c, "desc");
                let err = got.expect_err(desc);
                if desc.contains("wrong length") {
                    // The Go vector's base64 ends "EY==", whose unused bits
                    // are not zero: non-canonical, so our strict decoder
                    // refuses it before the length check. With the
                    // canonical spelling "EQ==" the length check fires.
                    assert_eq!(err, KeyError::BadBase64);
                    let canonical = vkey.replace("EY==", "EQ==");
                    assert_eq!(
                        VerifierKey::parse(&canonical),
                        Err(KeyError::WrongKeyLength { alg: 1, len: 36 })
                    );
                } else if desc.contains("unknown algorithm") {
                    assert_eq!(err, KeyError::UnsupportedAlgorithm(0x65));
                } else {
                    panic!("unclassified vkey error case {desc}");
                }
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    println!("vkey_parse_cases run: {}", cases.len());
    assert_eq!(cases.len(), 3);
}

#[test]
fn signed_note_sign_cases() {
    let v = load("signed_note.json");
    let cases = arr(&v, "sign_cases");
    for c in cases {
        let key = SignerKey::parse(s(c, "skey")).unwrap();
        let n = note::sign(s(c, "text"), &key).unwrap();
        assert_eq!(n.encode(), s(c, "expect_signed_note"), "{}", s(c, "desc"));
        // and signing the parsed note again replaces the line in place
        let mut again = Note::parse(s(c, "expect_signed_note").as_bytes()).unwrap();
        again.sign(&key).unwrap();
        assert_eq!(again.encode(), s(c, "expect_signed_note"));
    }
    println!("sign_cases run: {}", cases.len());
    assert_eq!(cases.len(), 1);
}

#[test]
fn signed_note_open_cases() {
    let v = load("signed_note.json");
    let keys = note_keys(&v);
    let cases = arr(&v, "open_cases");
    for c in cases {
        let desc = s(c, "desc");
        let known: Vec<VerifierKey> = arr(c, "known_verifier_keys")
            .iter()
            .map(|n| keys[n.as_str().unwrap()].clone())
            .collect();
        let msg = msg_bytes(c);
        let got = note::open(&msg, &known);
        match s(c, "expect") {
            "ok" => {
                let o = got.unwrap_or_else(|e| panic!("{desc}: {e}"));
                assert_eq!(o.text, s(c, "expect_text"), "{desc}");
                if !c["expect_verified"].is_null() {
                    let want = expect_entries(&c["expect_verified"]);
                    let have: Vec<_> = o.verified.iter().map(|v| sig_entry(&v.signature)).collect();
                    assert_eq!(have, want, "{desc}");
                    assert!(o.verified.iter().all(|v| v.alg == SigAlg::Ed25519));
                } else {
                    assert!(!o.verified.is_empty(), "{desc}");
                }
                if !c["expect_unverified"].is_null() {
                    let want = expect_entries(&c["expect_unverified"]);
                    let have: Vec<_> = o.unverified.iter().map(sig_entry).collect();
                    assert_eq!(have, want, "{desc}");
                }
                // parse/encode is the identity on valid notes without duplicates
                let n = Note::parse(&msg).unwrap();
                assert_eq!(n.encode().as_bytes(), &msg[..], "{desc}");
            }
            "error_invalid_signature" => match got {
                Err(NoteError::InvalidSignature { name, .. }) => {
                    assert!(known.iter().any(|k| k.name() == name), "{desc}")
                }
                other => panic!("{desc}: want InvalidSignature, got {other:?}"),
            },
            "error_no_verified_signature" => {
                assert_eq!(got, Err(NoteError::NoVerifiedSignature), "{desc}")
            }
            "error_malformed" => {
                assert!(
                    matches!(got, Err(NoteError::Malformed(_))),
                    "{desc}: {got:?}"
                );
                assert!(Note::parse(&msg).is_err(), "{desc}");
            }
            other => panic!("{desc}: unknown expectation {other}"),
        }
    }
    println!("open_cases run: {}", cases.len());
    assert_eq!(cases.len(), 14);
}

#[test]
fn signed_note_parse_only_cases() {
    let v = load("signed_note.json");
    let cases = arr(&v, "parse_only_cases");
    for c in cases {
        let msg = msg_bytes(c);
        let n = Note::parse(&msg).unwrap();
        assert_eq!(n.text(), s(c, "expect_text"));
        let want: Vec<(String, String)> = arr(c, "expect_signatures")
            .iter()
            .map(|e| (s(e, "name").to_owned(), s(e, "key_id_hex").to_owned()))
            .collect();
        let have: Vec<(String, String)> = n
            .signatures()
            .iter()
            .map(|x| (x.name.clone(), x.key_id.to_string()))
            .collect();
        assert_eq!(have, want);
        assert_eq!(n.encode().as_bytes(), &msg[..]);
        // no key is published: opening with no keys finds nothing verified
        assert_eq!(note::open(&msg, &[]), Err(NoteError::NoVerifiedSignature));
    }
    println!("parse_only_cases run: {}", cases.len());
    assert_eq!(cases.len(), 1);
}

/// checkpoints.json keys by id, plus example.com/foo from signed_note.json.
fn checkpoint_keys() -> HashMap<String, VerifierKey> {
    let v = load("checkpoints.json");
    let mut map = HashMap::new();
    for k in arr(&v, "keys") {
        let vk = VerifierKey::parse(s(k, "vkey")).expect("checkpoint vkey");
        assert_eq!(vk.encode(), s(k, "vkey"));
        if let Some(p) = k["ed25519_public_hex"].as_str() {
            assert_eq!(hex::encode(vk.public_bytes()), p);
        }
        if let Some(seed) = k["ed25519_seed_hex"].as_str() {
            let seed: [u8; 32] = hex::decode(seed).unwrap().try_into().unwrap();
            let signer = SignerKey::from_seed(vk.name(), &seed).unwrap();
            assert_eq!(signer.verifier(), vk);
        }
        map.insert(s(k, "id").to_owned(), vk);
    }
    assert_eq!(map.len(), 4);
    let notes = note_keys(&load("signed_note.json"));
    map.insert(
        "example.com/foo (see signed_note.json)".to_owned(),
        notes["example.com/foo"].clone(),
    );
    map
}

#[test]
fn checkpoint_cases() {
    let v = load("checkpoints.json");
    let keys = checkpoint_keys();
    let cases = arr(&v, "cases");
    let mut divergent = 0;
    for c in cases {
        let desc = s(c, "desc");
        let known = arr(c, "known_keys");
        assert_eq!(known.len(), 1, "{desc}: one log key per case");
        let log_key = &keys[known[0].as_str().unwrap()];
        let bytes = s(c, "checkpoint").as_bytes();
        let got = SignedCheckpoint::open(bytes, log_key, &[]);
        match s(c, "expect") {
            "ok" => {
                let o = got.unwrap_or_else(|e| panic!("{desc}: {e}"));
                if let Some(origin) = c["expect_origin"].as_str() {
                    assert_eq!(o.checkpoint.origin, origin, "{desc}");
                }
                if let Some(size) = c["expect_size"].as_u64() {
                    assert_eq!(o.checkpoint.size, size, "{desc}");
                }
                if let Some(root) = c["expect_root_b64"].as_str() {
                    assert_eq!(o.checkpoint.root.as_bytes().to_vec(), b64(root), "{desc}");
                }
                assert!(o.witness_cosignatures.is_empty());
                assert_eq!(o.note.text(), o.checkpoint.body(), "{desc}");
                assert_eq!(o.note.encode().as_bytes(), bytes, "{desc}");
            }
            "error_invalid_signature" => assert!(
                matches!(
                    got,
                    Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
                ),
                "{desc}: {got:?}"
            ),
            "error_no_verified_signature" => assert_eq!(
                got,
                Err(CheckpointError::Note(NoteError::NoVerifiedSignature)),
                "{desc}"
            ),
            "error_malformed" => assert!(
                matches!(
                    got,
                    Err(CheckpointError::Note(NoteError::Malformed(_)))
                        | Err(CheckpointError::MalformedBody(_))
                ),
                "{desc}: {got:?}"
            ),
            "implementation_divergent" => {
                // Recommended strict behaviour (see the case note): reject as malformed.
                assert!(s(c, "note").contains("reject as malformed"), "{desc}");
                assert!(
                    matches!(got, Err(CheckpointError::Note(NoteError::Malformed(_)))),
                    "{desc}: {got:?}"
                );
                divergent += 1;
            }
            other => panic!("{desc}: unknown expectation {other}"),
        }
    }
    println!(
        "checkpoint cases run: {} (implementation_divergent, strict: {divergent})",
        cases.len()
    );
    assert_eq!(cases.len(), 11);
    assert_eq!(divergent, 1);
}

#[test]
fn checkpoint_parse_only_cases() {
    let v = load("checkpoints.json");
    let cases = arr(&v, "parse_only_cases");
    for c in cases {
        let desc = s(c, "desc");
        let bytes = s(c, "checkpoint").as_bytes();
        let sc = SignedCheckpoint::parse(bytes).unwrap_or_else(|e| panic!("{desc}: {e}"));
        let cp = sc.checkpoint();
        assert_eq!(cp.origin, s(c, "expect_origin"));
        assert_eq!(cp.size, c["expect_size"].as_u64().unwrap());
        if let Some(root) = c["expect_root_b64"].as_str() {
            assert_eq!(cp.root.as_bytes().to_vec(), b64(root));
        }
        if let Some(root) = c["expect_root_hex"].as_str() {
            assert_eq!(cp.root.to_hex(), root);
        }
        if let Some(id) = c["expect_signature_key_id_hex"].as_str() {
            assert_eq!(sc.note().signatures()[0].key_id.to_string(), id);
        }
        assert_eq!(sc.encode().as_bytes(), bytes);
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), *cp);
    }
    println!("checkpoint parse_only_cases run: {}", cases.len());
    assert_eq!(cases.len(), 2);
}

/// The 32-byte key inside an OpenSSH `ssh-ed25519` public-key line.
fn ssh_ed25519_key(line: &str) -> [u8; 32] {
    let blob = b64(line.split(' ').nth(1).expect("ssh key blob"));
    // string "ssh-ed25519" (4-byte length + 11 bytes), then string key (4 + 32)
    assert_eq!(&blob[..4], &[0, 0, 0, 11]);
    assert_eq!(&blob[4..15], b"ssh-ed25519");
    assert_eq!(&blob[15..19], &[0, 0, 0, 32]);
    assert_eq!(blob.len(), 51);
    blob[19..51].try_into().unwrap()
}

#[test]
fn checkpoint_raw_signature_cases() {
    let v = load("checkpoints.json");
    let cases = arr(&v, "raw_signature_cases");
    for c in cases {
        let pk = ssh_ed25519_key(s(c, "ssh_ed25519_public_key"));
        let origin = format!("sigsum.org/v1/tree/{}", Digest::of(&pk).to_hex());
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        let key = VerifierKey::new(&origin, SigAlg::Ed25519, vk).unwrap();
        let root = Digest::from_hex(s(c, "root_hex")).unwrap();
        let cp = Checkpoint::new(&origin, c["size"].as_u64().unwrap(), root).unwrap();
        let sig = hex::decode(s(c, "signature_hex")).unwrap();
        let ok = key.verify_ed25519(cp.body().as_bytes(), &sig);
        assert_eq!(ok, c["expect_valid"].as_bool().unwrap(), "{}", s(c, "desc"));
        // and as a signed note, the same signature under the C2SP key ID
        let line = NoteSignature {
            name: origin.clone(),
            key_id: key.key_id(),
            sig,
        };
        let n = Note::from_parts(cp.body(), vec![line]).unwrap();
        let o = SignedCheckpoint::open(n.encode().as_bytes(), &key, &[]).unwrap();
        assert_eq!(o.checkpoint, cp);
        assert!(o.checkpoint.origin_matches_key(&key));
    }
    println!("raw_signature_cases run: {}", cases.len());
    assert_eq!(cases.len(), 1);
}

/// cosignatures.json keys we can parse, by id; counts the refused ML-DSA ones.
fn cosigner_keys(v: &Value, skipped: &mut usize) -> HashMap<String, VerifierKey> {
    let mut map = HashMap::new();
    for k in arr(v, "keys") {
        let alg = k["alg"].as_u64().unwrap();
        let got = VerifierKey::parse(s(k, "vkey"));
        if alg == 6 {
            // ML-DSA-44: out of scope. Its key ID is consistent, so the
            // refusal is about the algorithm.
            assert_eq!(got, Err(KeyError::UnsupportedAlgorithm(6)));
            *skipped += 1;
            continue;
        }
        let vk = got.expect("cosigner vkey");
        assert_eq!(u64::from(vk.alg().byte()), alg);
        assert_eq!(vk.alg(), SigAlg::CosignatureV1);
        assert_eq!(vk.encode(), s(k, "vkey"));
        if let Some(seed) = k["ed25519_seed_hex"].as_str() {
            let seed: [u8; 32] = hex::decode(seed).unwrap().try_into().unwrap();
            let signer = SignerKey::from_seed(vk.name(), &seed).unwrap();
            assert_eq!(signer.cosigner_verifier(), vk);
        }
        map.insert(s(k, "id").to_owned(), vk);
    }
    map
}

#[test]
fn cosignature_keys_and_inconsistent_vkey() {
    let v = load("cosignatures.json");
    let mut skipped = 0;
    let keys = cosigner_keys(&v, &mut skipped);
    assert_eq!(keys.len(), 2);
    assert_eq!(skipped, 1);
    let cases = arr(&v, "inconsistent_vkey_cases");
    for c in cases {
        assert_eq!(s(c, "expect_strict"), "error_key_id_mismatch");
        let got = VerifierKey::parse(s(c, "vkey"));
        assert!(
            matches!(
                got,
                Err(KeyError::KeyIdMismatch {
                    stated: KeyId(0x5893dc2c),
                    ..
                })
            ),
            "{got:?}"
        );
    }
    println!(
        "cosigner keys parsed: {}, ML-DSA keys refused (skipped): {skipped}, inconsistent vkeys rejected: {}",
        keys.len(),
        cases.len()
    );
    assert_eq!(cases.len(), 1);
}

#[test]
fn cosignature_message_layout_cases() {
    let v = load("cosignatures.json");
    let cases = arr(&v, "message_layout_cases");
    for c in cases {
        let ts = c["timestamp"].as_u64().unwrap();
        let m = cosignature::message(s(c, "checkpoint_text"), ts);
        assert_eq!(m, s(c, "expect_message").as_bytes(), "{}", s(c, "desc"));
        // the checkpoint text is a valid checkpoint body
        Checkpoint::parse_body(s(c, "checkpoint_text")).unwrap();
    }
    println!("message_layout_cases run: {}", cases.len());
    assert_eq!(cases.len(), 2);
}

#[test]
fn cosignature_verify_cases() {
    let v = load("cosignatures.json");
    let mut skipped_keys = 0;
    let keys = cosigner_keys(&v, &mut skipped_keys);
    let cases = arr(&v, "verify_cases");
    let ephemeral = SignerKey::from_seed("test.invalid/ephemeral", &[0x42; 32]).unwrap();
    let (mut run, mut skipped) = (0, 0);
    for c in cases {
        let desc = s(c, "desc");
        let Some(key) = keys.get(s(c, "cosigner_key")) else {
            // ML-DSA-44 subtree/v1: not implemented. As an unknown key its
            // line must be ignored: the log signature still opens the note.
            assert!(s(c, "cosigner_key").contains("ML-DSA"), "{desc}");
            let n = Note::parse(s(c, "checkpoint").as_bytes()).unwrap();
            let line = s(c, "signature_line");
            assert!(n
                .signatures()
                .iter()
                .any(|x| x.to_line() == format!("{line}\n")));
            let o = n.verify(&[]);
            assert_eq!(o, Err(NoteError::NoVerifiedSignature), "{desc}");
            skipped += 1;
            continue;
        };
        run += 1;
        let cp_text = s(c, "checkpoint");
        let body = if cp_text.contains("\n\n") {
            Note::parse(cp_text.as_bytes()).unwrap().text().to_owned()
        } else {
            cp_text.to_owned()
        };
        let line = s(c, "signature_line");
        let sig = NoteSignature::parse_line(line).unwrap();
        let direct = cosignature::verify_cosignature(&body, key, &sig);

        // Through the note layer: body signed by an ephemeral key plus the line.
        let mut n = note::sign(&body, &ephemeral).unwrap();
        n.add_signature(sig.clone()).unwrap();
        let via_note = n.verify(&[ephemeral.verifier(), key.clone()]);

        match s(c, "expect") {
            "ok" => {
                let ts = direct.unwrap_or_else(|e| panic!("{desc}: {e}"));
                if let Some(want) = c["expect_timestamp"].as_u64() {
                    assert_eq!(ts, want, "{desc}");
                }
                let o = via_note.unwrap();
                assert_eq!(o.verified.len(), 2);
                assert_eq!(o.verified[1].alg, SigAlg::CosignatureV1);
                assert_eq!(o.verified[1].timestamp, Some(ts));
            }
            "error_invalid_signature" => {
                assert!(
                    matches!(
                        direct,
                        Err(CosignatureError::InvalidSignature)
                            | Err(CosignatureError::WrongLength(_))
                    ),
                    "{desc}: {direct:?}"
                );
                assert_eq!(
                    via_note,
                    Err(NoteError::InvalidSignature {
                        name: key.name().to_owned(),
                        key_id: key.key_id()
                    }),
                    "{desc}"
                );
            }
            "ignored_unknown_key" => {
                assert_eq!(direct, Err(CosignatureError::NotThisKey), "{desc}");
                let o = via_note.unwrap();
                assert_eq!(o.verified.len(), 1, "{desc}");
                assert_eq!(o.unverified, vec![sig], "{desc}");
            }
            other => panic!("{desc}: unknown expectation {other}"),
        }
    }
    println!("cosignature verify_cases run: {run}, skipped (ML-DSA-44 not implemented): {skipped}");
    assert_eq!(run + skipped, cases.len());
    assert_eq!(cases.len(), 7);
    assert_eq!(skipped, 1);
}

#[test]
fn real_checkpoint_with_witnesses() {
    // The arche2025h1 checkpoint: Ed25519 log signature, an RFC 6962 (0x05)
    // log signature, and four cosignatures, one by remora.n621.de (0x04).
    let cps = load("checkpoints.json");
    let log = checkpoint_keys()["arche2025h1-staging-ct-log"].clone();
    let cos = load("cosignatures.json");
    let mut sk = 0;
    let remora = cosigner_keys(&cos, &mut sk)["remora.n621.de"].clone();
    let case = arr(&cps, "cases")
        .iter()
        .find(|c| s(c, "desc").starts_with("real CT log checkpoint"))
        .expect("arche case");
    let bytes = s(case, "checkpoint").as_bytes();
    let o = SignedCheckpoint::open(bytes, &log, std::slice::from_ref(&remora)).unwrap();
    assert_eq!(o.witness_cosignatures.len(), 1);
    let w = &o.witness_cosignatures[0];
    assert_eq!(w.name, "remora.n621.de");
    assert_eq!(w.key_id, remora.key_id());
    let line = o
        .note
        .signatures()
        .iter()
        .find(|x| x.name == "remora.n621.de")
        .unwrap();
    assert_eq!(cosignature::parse_timestamp(&line.sig), Ok(w.timestamp));
    assert!(o.checkpoint.origin_matches_key(&log));
    // the other four lines (0x05 log signature, three unknown witnesses)
    // are ignored
    let opened = o.note.verify(&[log.clone(), remora.clone()]).unwrap();
    assert_eq!(opened.verified.len(), 2);
    assert_eq!(opened.unverified.len(), 4);
    // the remora key as the log key: no log signature -> MissingLogSignature
    // is impossible (remora is a cosigner key); with remora as witness but a
    // foreign log key, nothing from the log verifies.
    let foo = note_keys(&load("signed_note.json"))["example.com/foo"].clone();
    assert!(matches!(
        SignedCheckpoint::open(bytes, &foo, std::slice::from_ref(&remora)),
        Err(CheckpointError::MissingLogSignature { .. })
    ));
}

#[test]
fn cosignature_timestamp_parse_cases() {
    let v = load("cosignatures.json");
    let cases = arr(&v, "timestamp_parse_cases");
    for c in cases {
        let sig = if let Some(b) = c["signature_b64"].as_str() {
            let raw = b64(b);
            NoteSignature {
                name: "x".into(),
                key_id: KeyId::from_be_bytes(raw[..4].try_into().unwrap()),
                sig: raw[4..].to_vec(),
            }
        } else {
            NoteSignature::parse_line(s(c, "signature_line")).unwrap()
        };
        if let Some(id) = c["expect_key_id_hex"].as_str() {
            assert_eq!(sig.key_id.to_string(), id);
        }
        let got = cosignature::parse_timestamp(&sig.sig);
        match c["expect_timestamp"].as_u64() {
            Some(ts) => assert_eq!(got, Ok(ts)),
            None => {
                assert!(s(c, "expect").starts_with("error"));
                assert_eq!(got, Err(CosignatureError::WrongLength(64)));
            }
        }
    }
    println!("timestamp_parse_cases run: {}", cases.len());
    assert_eq!(cases.len(), 3);
}

#[test]
fn other_key_id_rules_are_refused() {
    // ECDSA (0x02) uses SHA-256(DER SPKI)[:4] as key ID. We do not implement
    // ECDSA: check the vector's rule with plain SHA-256, then check that a
    // vkey built from it is refused as an unsupported algorithm.
    let v = load("cosignatures.json");
    let cases = arr(&v, "other_key_id_rules");
    let mut skipped = 0;
    for c in cases {
        let material = b64(s(c, "vkey_material_b64"));
        assert_eq!(material[0], 0x02);
        let id = &Digest::of(&material[1..]).to_hex()[..8];
        assert_eq!(id, s(c, "expect_key_id_hex"));
        let vkey = format!("{}+{}+{}", s(c, "name"), id, s(c, "vkey_material_b64"));
        assert_eq!(
            VerifierKey::parse(&vkey),
            Err(KeyError::UnsupportedAlgorithm(2))
        );
        skipped += 1;
    }
    println!("other_key_id_rules: {skipped} ECDSA keys refused (skipped: ECDSA not implemented)");
    assert_eq!(skipped, 2);
}
