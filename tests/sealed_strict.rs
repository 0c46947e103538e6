//! Issue 16 (leftover of the JSON points): sealed details (FORMAT.md §5.4)
//! are read under the JSON rules of the envelopes (§5.2). A validly signed
//! `access` record whose sealed blob, encrypted to the archive's own
//! recipient, holds JSON that breaks one of those rules (a byte order mark,
//! a member twice, `kind` twice, a member missing, an unknown member, `null`,
//! `v` other than 1, written with a fraction or out of range, bytes that are
//! not UTF-8, a second value) passes plain `verify` (the blob exists and
//! hashes to its address) and is one `sealed` finding of `verify --deep`,
//! naming the record; the same record with well-formed details is none.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use custody::core::crypto::{encrypt_bytes, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Access, DocRef, Payload, RecordBody, Sealed};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (what, plaintext, a word the finding's reason must hold). `None`: the
/// details are well formed (padded with spaces, as writers do).
fn cases() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let padded = {
        let mut j = br#"{"kind":"access","v":1,"reason":"checked"}"#.to_vec();
        j.resize(256, b' ');
        j
    };
    let bom = [
        b"\xef\xbb\xbf".as_slice(),
        br#"{"kind":"access","v":1,"reason":"r"}"#,
    ]
    .concat();
    let t = |j: &str| j.as_bytes().to_vec();
    vec![
        ("well formed", padded, None),
        ("byte order mark", bom, Some("byte order mark")),
        (
            "v twice",
            t(r#"{"kind":"access","v":1,"v":1,"reason":"r"}"#),
            Some("duplicate field `v`"),
        ),
        (
            "kind twice",
            t(r#"{"kind":"access","v":1,"reason":"r","kind":"access"}"#),
            Some("duplicate field `kind`"),
        ),
        (
            "reason twice",
            t(r#"{"kind":"access","v":1,"reason":"r","reason":"s"}"#),
            Some("duplicate field `reason`"),
        ),
        (
            "reason missing",
            t(r#"{"kind":"access","v":1}"#),
            Some("missing field `reason`"),
        ),
        (
            "unknown member",
            t(r#"{"kind":"access","v":1,"reason":"r","why":"x"}"#),
            Some("unknown field `why`"),
        ),
        (
            "null",
            t(r#"{"kind":"access","v":1,"reason":null}"#),
            Some("null"),
        ),
        (
            "v = 2",
            t(r#"{"kind":"access","v":2,"reason":"r"}"#),
            Some("version 2"),
        ),
        (
            "v = 1.0",
            t(r#"{"kind":"access","v":1.0,"reason":"r"}"#),
            Some("floating point"),
        ),
        (
            "v out of range",
            t(r#"{"kind":"access","v":4294967297,"reason":"r"}"#),
            Some("4294967297"),
        ),
        (
            "not UTF-8",
            [
                br#"{"kind":"access","v":1,"reason":"a"#.as_slice(),
                b"\xff",
                br#""}"#,
            ]
            .concat(),
            Some("sealed details"),
        ),
        (
            "two values",
            t(r#"{"kind":"access","v":1,"reason":"r"}{}"#),
            Some("trailing characters"),
        ),
    ]
}

#[test]
fn sealed_details_breaking_the_json_rules_are_sealed_findings() {
    let f = Fixture::with_samples();
    let recipient = fs::read_to_string(f.keys.join("recipient.txt")).unwrap();
    let recipient = RecipientKey::parse(recipient.trim()).unwrap();
    let admin = SignerKey::parse(fs::read_to_string(f.admin_key()).unwrap().trim()).unwrap();
    let signer = f.record_signer(&admin);
    let doc = f.show(&INIT_RECORDS.to_string());
    let about = DocRef {
        document: INIT_RECORDS,
        commitment: Digest::from_hex(doc["commitment"].as_str().unwrap()).unwrap(),
    };
    let first = f.records();
    let cases = cases();
    for (i, (_, plain, _)) in cases.iter().enumerate() {
        // A sealed blob as a rogue tool would write it: the hostile JSON
        // age-encrypted to the archive's recipient, stored at its address.
        let enc = encrypt_bytes(std::slice::from_ref(&recipient), plain).unwrap();
        let digest = Digest::of(&enc);
        let path = f.blob_path(&digest.to_hex());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &enc).unwrap();
        let rec = RecordBody {
            index: first + i as u64,
            time_ms: 1_900_000_000_000 + i as u64,
            origin: "dropsite.example/leaks".into(),
            signer,
            payload: Payload::Access(Access {
                about,
                reason: String::new(),
                sealed: Some(Sealed {
                    digest,
                    size: enc.len() as u64,
                }),
            }),
        }
        .sign(&admin)
        .unwrap();
        f.append_record(&rec);
    }
    // Without an identity the blobs exist and hash right: no finding but
    // the records' missing checkpoint.
    let (_, v) = f.verify(&[]);
    let checks: Vec<&str> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["checkpoint_missing"], "{v}");
    // With it, every hostile blob is one `sealed` finding of its record.
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, FINDING, "{v}");
    let sealed: Vec<&Value> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["check"] == "sealed")
        .collect();
    for (i, (what, _, reason)) in cases.iter().enumerate() {
        let index = first + i as u64;
        let got: Vec<&&Value> = sealed
            .iter()
            .filter(|x| x["subject"]["id"] == index)
            .collect();
        match reason {
            None => assert!(got.is_empty(), "{what}: {got:?}"),
            Some(word) => {
                assert_eq!(got.len(), 1, "{what}: {v}");
                let r = got[0]["reason"].as_str().unwrap();
                assert!(r.contains(word), "{what}: {word:?} not in {r:?}");
            }
        }
    }
    assert_eq!(sealed.len(), cases.len() - 1, "{v}");
    // `show` of a hostile record says its details are unreadable, exit 0.
    let r = f.run(&["show", &(first + 1).to_string(), "-i", s(&f.identity())]);
    r.ok();
    assert!(r.stdout.contains("unreadable"), "{}", r.stdout);
}
