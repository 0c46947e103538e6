//! Issue 16, item 1, the proof, checkpoint and evidence points: one test per
//! point, each with a forged but validly signed input (signed with the
//! TEST-ONLY keys of keys-example/) and the verdict it must get.
//!
//! The inputs are the conformance cases in tests/data/conformance/proofs/
//! (README.md there lists them; `cases.json` gives each case's command and
//! expected exit code and findings). They are generated here, byte for byte,
//! from committed data only: the log of tests/data/archive-v2 (its 12 records
//! and checkpoints), its bundle tests/data/archive-v2-keys/memo.bundle and
//! the keys of keys-example/ (Ed25519 signatures are deterministic; the
//! cosignature timestamps are fixed). `kit_is_generated_from_the_test_keys`
//! fails when the committed files differ from what the generator makes;
//! regenerate them with
//!
//! ```sh
//! CUSTODY_REGENERATE_KIT=1 cargo test --test conformance_proofs kit_is_generated
//! ```
//!
//! Points that need a live archive (cosignatures in `prove`, the quorum
//! per hop, consistency proofs from any size) run custody on temp archives.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::*;
use custody::core::bundle::{read_head, write_head};
use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::merkle::{self, LeafIndex, MemoryTree, TreeSize};
use custody::core::tlog_proof::TlogProof;
use custody::store::files::logfile::{Frame, LogFile};
use serde_json::{json, Value};

const ORIGIN: &str = "dropsite.example/leaks";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn kit_dir() -> PathBuf {
    repo().join("tests/data/conformance/proofs")
}

/// A secret key of keys-example/ (read in-process only).
fn secret(outlet: &str, file: &str) -> SignerKey {
    SignerKey::parse(fs::read_to_string(repo_key(outlet, file)).unwrap().trim()).unwrap()
}

fn vkey_text(p: &Path) -> String {
    fs::read_to_string(p).unwrap().trim().to_string()
}

/// The frames of a file of tests/data/archive-v2/ledger/.
fn frames(name: &str) -> Vec<Vec<u8>> {
    let lf = LogFile::open_read(&repo().join("tests/data/archive-v2/ledger").join(name)).unwrap();
    lf.scan(0)
        .unwrap()
        .map(|f| match f.unwrap() {
            Frame::Complete { body, .. } => body,
            other => panic!("{name}: {other:?}"),
        })
        .collect()
}

/// Signs `body` (a checkpoint text) as a C2SP signed note with `key`,
/// whatever its origin line says (`SignedCheckpoint::sign` refuses an origin
/// that is not the key's name: this is how a forger would do it).
fn sign_note(body: &str, key: &SignerKey) -> String {
    let mut sig = key.key_id().to_be_bytes().to_vec();
    sig.extend_from_slice(&key.sign(body.as_bytes()));
    format!("{body}\n— {} {}\n", key.name(), b64(&sig))
}

/// `note` with a cosignature by `witness` (an alg-0x01 secret key used as a
/// cosigner) at `time`.
fn cosigned(note: &str, witness: &SignerKey, time: u64) -> String {
    let mut sc = SignedCheckpoint::parse(note.as_bytes()).unwrap();
    sc.add_cosignature(witness, time).unwrap();
    sc.encode()
}

/// A tlog-proof of record `i` of `records` (the log's leaves), against `note`.
fn proof_of(records: &[Vec<u8>], i: u64, note: &str) -> String {
    let tree = MemoryTree::from_leaf_hashes(records.iter().map(|r| merkle::leaf_hash(r)));
    let hashes = tree.inclusion_proof(LeafIndex(i), tree.size()).unwrap();
    TlogProof::new(i, hashes, Some(records[i as usize].clone()), note)
        .unwrap()
        .encode()
}

/// A log forged from `records` (edited): its checkpoint signed by the log key.
fn forged_note(records: &[Vec<u8>]) -> String {
    let tree = MemoryTree::from_leaf_hashes(records.iter().map(|r| merkle::leaf_hash(r)));
    let c = Checkpoint::new(ORIGIN, records.len() as u64, tree.root()).unwrap();
    SignedCheckpoint::sign(&c, &secret("dropsite", "signing.key"))
        .unwrap()
        .encode()
}

/// memo.bundle with its evidence rewritten by `f`.
fn edit_bundle(f: impl FnOnce(&mut custody::core::bundle::Evidence)) -> Vec<u8> {
    let bytes = fs::read(repo().join("tests/data/archive-v2-keys/memo.bundle")).unwrap();
    let mut r = &bytes[..];
    let mut head = read_head(&mut r).unwrap();
    f(&mut head.evidence);
    let mut out = Vec::new();
    write_head(&mut out, &head).unwrap();
    out.extend_from_slice(r);
    out
}

/// One case of the kit: a command of custody on the kit's files and the
/// verdict it must give. In `command`, `{kit}` is tests/data/conformance/proofs,
/// `{keys}` keys-example and `{data}` tests/data.
struct Case {
    name: &'static str,
    point: &'static str,
    what: &'static str,
    command: Vec<String>,
    exit: i32,
    checks: Vec<&'static str>,
    /// Members the `--json` output must have (for verify-proof).
    json: Value,
}

struct Kit {
    files: BTreeMap<&'static str, Vec<u8>>,
    cases: Vec<Case>,
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Builds every file and case of the kit from committed data.
fn kit() -> Kit {
    let records = frames("records");
    assert_eq!(records.len(), 12);
    let notes: BTreeMap<u64, String> = frames("checkpoints")
        .into_iter()
        .map(|b| {
            let n = String::from_utf8(b).unwrap();
            let size = SignedCheckpoint::parse(n.as_bytes())
                .unwrap()
                .checkpoint()
                .size;
            (size, n)
        })
        .collect();
    let note12 = notes[&12].clone();
    let log = secret("dropsite", "signing.key");
    let gw = secret("guardian", "witness.key");
    let mw = secret("972mag", "witness.key");
    let mut files: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
    let mut cases = Vec::new();
    let vp = |file: &str, extra: &[&str]| {
        let mut c = args(&[
            "verify-proof",
            &format!("{{kit}}/{file}"),
            "--trust",
            "{keys}/dropsite/signing.vkey",
        ]);
        c.extend(args(extra));
        c
    };
    let vb = |file: &str, extra: &[&str]| {
        let mut c = args(&[
            "verify-bundle",
            &format!("{{kit}}/{file}"),
            "--trust",
            "{keys}/dropsite/signing.vkey",
        ]);
        c.extend(args(extra));
        c
    };

    // Point 1: a record signed by an actor's key.
    files.insert(
        "actor-record.tlog-proof",
        proof_of(&records, 5, &note12).into_bytes(),
    );
    cases.push(Case {
        name: "actor-record",
        point: "1",
        what: "record 5 (an ingest signed by the actor alice) against the log's checkpoint: valid; its signature is not checked without the actor's key",
        command: vp("actor-record.tlog-proof", &[]),
        exit: OK,
        checks: vec![],
        json: json!({"signer": "dc82133c", "signature_checked": false}),
    });
    cases.push(Case {
        name: "actor-record-with-signer",
        point: "1",
        what: "the same with --signer alice.vkey: valid, signature checked",
        command: vp(
            "actor-record.tlog-proof",
            &["--signer", "{data}/archive-v2-keys/alice.vkey"],
        ),
        exit: OK,
        checks: vec![],
        json: json!({"signature_checked": true}),
    });
    cases.push(Case {
        name: "actor-record-with-another-signer",
        point: "1",
        what: "the same with --signer ed.vkey only: the record is by none of the signers named",
        command: vp(
            "actor-record.tlog-proof",
            &["--signer", "{data}/archive-v2-keys/ed.vkey"],
        ),
        exit: FINDING,
        checks: vec!["record_signature"],
        json: json!({"signature_checked": false}),
    });
    let mut bad_sig = records.clone();
    let n = bad_sig[5].len();
    bad_sig[5][n - 40] ^= 0x01;
    files.insert(
        "actor-record-bad-signature.tlog-proof",
        proof_of(&bad_sig, 5, &forged_note(&bad_sig)).into_bytes(),
    );
    cases.push(Case {
        name: "actor-record-bad-signature",
        point: "1",
        what: "forged log whose record 5 has a spoiled signature, checkpoint signed by the log key, --signer alice.vkey",
        command: vp(
            "actor-record-bad-signature.tlog-proof",
            &["--signer", "{data}/archive-v2-keys/alice.vkey"],
        ),
        exit: FINDING,
        checks: vec!["record_signature"],
        json: json!({"signature_checked": false}),
    });
    cases.push(Case {
        name: "actor-record-bad-signature-unchecked",
        point: "1",
        what: "the same without --signer: a proof alone does not carry the actor's key, so the signature is reported unchecked (the limit of a proof)",
        command: vp("actor-record-bad-signature.tlog-proof", &[]),
        exit: OK,
        checks: vec![],
        json: json!({"signature_checked": false}),
    });

    // Point 2: the checkpoint's origin is not the trusted key's name.
    let root12 = SignedCheckpoint::parse(note12.as_bytes())
        .unwrap()
        .checkpoint()
        .root;
    let other = format!("dropsite.example/other\n12\n{}\n", b64(root12.as_bytes()));
    files.insert(
        "origin-mismatch.tlog-proof",
        proof_of(&records, 5, &sign_note(&other, &log)).into_bytes(),
    );
    cases.push(Case {
        name: "origin-mismatch",
        point: "2",
        what: "the real tree's root under the origin dropsite.example/other, signed by the log key dropsite.example/leaks",
        command: vp("origin-mismatch.tlog-proof", &[]),
        exit: FINDING,
        checks: vec!["checkpoint_signature"],
        json: json!({}),
    });
    let mut moved = records.clone();
    let at = moved[5]
        .windows(ORIGIN.len())
        .position(|w| w == ORIGIN.as_bytes())
        .unwrap();
    moved[5][at + ORIGIN.len() - 1] = b'z';
    files.insert(
        "record-origin-mismatch.tlog-proof",
        proof_of(&moved, 5, &forged_note(&moved)).into_bytes(),
    );
    cases.push(Case {
        name: "record-origin-mismatch",
        point: "2",
        what: "forged log whose record 5 names the origin dropsite.example/leakz, checkpoint signed by the log key",
        command: vp("record-origin-mismatch.tlog-proof", &[]),
        exit: FINDING,
        checks: vec!["record_origin"],
        json: json!({}),
    });

    // Point 3: cosignatures in a proof.
    let cos = cosigned(&cosigned(&note12, &gw, 1_796_615_200), &mw, 1_796_615_201);
    files.insert(
        "cosigned.tlog-proof",
        proof_of(&records, 5, &cos).into_bytes(),
    );
    for (name, what, extra, exit, checks, json) in [
        (
            "cosigned",
            "the proof of record 5 with the Guardian's and +972's cosignatures, no witness asked for",
            vec![],
            OK,
            vec![],
            json!({"cosigned_by": []}),
        ),
        (
            "cosigned-guardian",
            "the same with --witness the Guardian's witness.vkey (all given: 1 of 1)",
            vec!["--witness", "{keys}/guardian/witness.vkey"],
            OK,
            vec![],
            json!({"cosigned_by": ["theguardian.example/witness"]}),
        ),
        (
            "cosigned-two-of-two",
            "--witness Guardian --witness +972 --quorum 2",
            vec![
                "--witness",
                "{keys}/guardian/witness.vkey",
                "--witness",
                "{keys}/972mag/witness.vkey",
                "--quorum",
                "2",
            ],
            OK,
            vec![],
            json!({"cosigned_by": ["theguardian.example/witness", "972mag.example/witness"]}),
        ),
        (
            "cosigned-missing-witness",
            "--witness Local Call's witness.vkey, which did not cosign",
            vec!["--witness", "{keys}/localcall/witness.vkey"],
            FINDING,
            vec!["witness_quorum"],
            json!({"cosigned_by": []}),
        ),
        (
            "cosigned-policy",
            "--policy two-of-three.policy (C2SP tlog-policy: the log, 2 of the three partners' witnesses)",
            vec!["--policy", "{kit}/two-of-three.policy"],
            OK,
            vec![],
            json!({}),
        ),
    ] {
        cases.push(Case {
            name,
            point: "3",
            what,
            command: vp("cosigned.tlog-proof", &extra),
            exit,
            checks,
            json,
        });
    }
    files.insert(
        "two-of-three.policy",
        format!(
            "log {}\nwitness guardian {}\nwitness mag {}\nwitness localcall {}\ngroup partners 2 guardian mag localcall\nquorum partners\n",
            vkey_text(&repo_key("dropsite", "signing.vkey")),
            vkey_text(&repo_key("guardian", "witness.vkey")),
            vkey_text(&repo_key("972mag", "witness.vkey")),
            vkey_text(&repo_key("localcall", "witness.vkey")),
        )
        .into_bytes(),
    );
    // The Guardian's cosignature, its signature spoiled.
    let text = note12.split_once("\n\n").unwrap().0.to_string() + "\n";
    let mut bad = custody::core::cosignature::cosign(&text, &gw, 1_796_615_200).unwrap();
    let last = bad.sig.len() - 1;
    bad.sig[last] ^= 0x01;
    let mut sc = SignedCheckpoint::parse(note12.as_bytes()).unwrap();
    sc.add_signature(bad).unwrap();
    files.insert(
        "cosigned-bad-cosignature.tlog-proof",
        proof_of(&records, 5, &sc.encode()).into_bytes(),
    );
    cases.push(Case {
        name: "cosigned-bad-cosignature",
        point: "3",
        what: "a cosignature line by the Guardian's witness key whose signature fails, with --witness that key: the note is refused",
        command: vp(
            "cosigned-bad-cosignature.tlog-proof",
            &["--witness", "{keys}/guardian/witness.vkey"],
        ),
        exit: FINDING,
        checks: vec!["checkpoint_signature"],
        json: json!({}),
    });
    cases.push(Case {
        name: "cosigned-bad-cosignature-unknown",
        point: "3",
        what: "the same with no witness key known: the line is of an unknown key and ignored (C2SP signed-note)",
        command: vp("cosigned-bad-cosignature.tlog-proof", &[]),
        exit: OK,
        checks: vec![],
        json: json!({"cosigned_by": []}),
    });

    // Point 4: a hop's vkey followed by a newline.
    files.insert("valid.bundle", edit_bundle(|_| {}));
    cases.push(Case {
        name: "valid-bundle",
        point: "4",
        what: "memo.bundle of tests/data/archive-v2-keys as made (record 11's bundle, one hop)",
        command: vb("valid.bundle", &[]),
        exit: OK,
        checks: vec![],
        json: json!({}),
    });
    files.insert(
        "vkey-newline.bundle",
        edit_bundle(|e| e.hops[0].vkey.push('\n')),
    );
    cases.push(Case {
        name: "vkey-newline",
        point: "4",
        what: "the same bundle with a newline after the hop's vkey",
        command: vb("vkey-newline.bundle", &[]),
        exit: FINDING,
        checks: vec!["bundle_format"],
        json: json!({}),
    });

    // Point 5: one signed note, byte for byte, in every entry of a hop.
    let with_cos = |all: bool| {
        edit_bundle(|e| {
            for (k, entry) in e.hops[0].entries.iter_mut().enumerate() {
                if all || k == 0 {
                    let p = TlogProof::parse(entry).unwrap();
                    let note = cosigned(p.checkpoint_note(), &gw, 1_796_615_200);
                    *entry = TlogProof::new(
                        p.index(),
                        p.hashes().to_vec(),
                        p.extra().map(<[u8]>::to_vec),
                        &note,
                    )
                    .unwrap()
                    .encode()
                    .into_bytes();
                }
            }
        })
    };
    files.insert("note-differs-by-a-cosignature.bundle", with_cos(false));
    files.insert("note-cosigned-in-every-entry.bundle", with_cos(true));
    cases.push(Case {
        name: "note-differs-by-a-cosignature",
        point: "5",
        what: "the first entry's checkpoint carries a valid cosignature the others lack (same checkpoint text, other signature lines)",
        command: vb("note-differs-by-a-cosignature.bundle", &[]),
        exit: FINDING,
        checks: vec!["checkpoint_signature"],
        json: json!({}),
    });
    cases.push(Case {
        name: "note-cosigned-in-every-entry",
        point: "5",
        what: "every entry carries the same cosigned note; --witness the Guardian's witness.vkey",
        command: vb(
            "note-cosigned-in-every-entry.bundle",
            &["--witness", "{keys}/guardian/witness.vkey"],
        ),
        exit: OK,
        checks: vec![],
        json: json!({}),
    });

    // Point 6: 64 proof hashes, not 63.
    let hashes: Vec<Digest> = (0..64)
        .map(|i| Digest::of(format!("conformance: hash {i}").as_bytes()))
        .collect();
    // Leaf 0 of a tree of 2^63 + 1 leaves: every hash is a right sibling.
    let mut root = merkle::leaf_hash(&records[0]);
    for h in &hashes {
        root = merkle::node_hash(&root, h);
    }
    let big = Checkpoint::new(ORIGIN, (1u64 << 63) + 1, root).unwrap();
    let big_note = SignedCheckpoint::sign(&big, &log).unwrap().encode();
    let p64 = TlogProof::new(0, hashes.clone(), Some(records[0].clone()), &big_note)
        .unwrap()
        .encode();
    let extra_line = format!("{}\n", b64(Digest::of(b"conformance: hash 64").as_bytes()));
    let p65 = p64.replacen("\n\n", &format!("\n{}\n", extra_line.trim_end()), 1);
    files.insert("64-hashes.tlog-proof", p64.into_bytes());
    files.insert("65-hashes.tlog-proof", p65.into_bytes());
    cases.push(Case {
        name: "64-hashes",
        point: "6: proof hashes",
        what: "record 0 (signed by the log key) as leaf 0 of a tree of 2^63 + 1 leaves: 64 hashes, checkpoint signed by the log key",
        command: vp("64-hashes.tlog-proof", &[]),
        exit: OK,
        checks: vec![],
        json: json!({"size": (1u64 << 63) + 1, "signature_checked": true}),
    });
    cases.push(Case {
        name: "65-hashes",
        point: "6: proof hashes",
        what: "the same with a 65th hash line: malformed (a finding, exit 1)",
        command: vp("65-hashes.tlog-proof", &[]),
        exit: FINDING,
        checks: vec!["inclusion_proof"],
        json: json!({"index": null}),
    });

    // Point 6: malformed proof data is a finding (exit 1), not an error.
    let good5 = proof_of(&records, 5, &note12);
    files.insert(
        "malformed-header.tlog-proof",
        good5
            .replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1)
            .into_bytes(),
    );
    let unsigned_cp = good5.rsplit_once("\n\n").unwrap().0.to_string() + "\n";
    files.insert("malformed-checkpoint.tlog-proof", unsigned_cp.into_bytes());
    cases.push(Case {
        name: "malformed-header",
        point: "6: exit code",
        what: "a proof whose first line is c2sp.org/tlog-proof@v2",
        command: vp("malformed-header.tlog-proof", &[]),
        exit: FINDING,
        checks: vec!["inclusion_proof"],
        json: json!({"index": null}),
    });
    cases.push(Case {
        name: "malformed-checkpoint",
        point: "6: exit code",
        what: "a proof whose checkpoint has no signature line",
        command: vp("malformed-checkpoint.tlog-proof", &[]),
        exit: FINDING,
        checks: vec!["checkpoint_signature"],
        json: json!({"index": null}),
    });
    files.insert(
        "malformed-entry.bundle",
        edit_bundle(|e| {
            let entry = &mut e.hops[0].entries[1];
            let t = String::from_utf8(entry.clone()).unwrap();
            *entry = t.replacen("\nindex 1\n", "\nindex 01\n", 1).into_bytes();
        }),
    );
    cases.push(Case {
        name: "malformed-entry",
        point: "6: exit code",
        what: "memo.bundle whose entry 1 says `index 01` (not canonical decimal)",
        command: vb("malformed-entry.bundle", &[]),
        exit: FINDING,
        checks: vec!["inclusion_proof"],
        json: json!({}),
    });
    Kit { files, cases }
}

fn manifest(k: &Kit) -> Vec<u8> {
    let cases: Vec<Value> = k
        .cases
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "point": c.point,
                "description": c.what,
                "command": c.command,
                "exit": c.exit,
                "checks": c.checks,
                "json": c.json,
            })
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&json!({
        "about": "custody conformance cases for tlog-proofs (FORMAT.md §3.9, §8), checkpoints and the evidence of bundles (§10.2, §10.4); see README.md",
        "cases": cases,
    }))
    .unwrap();
    out.push(b'\n');
    out
}

/// The kit on disk is what the generator makes (or, with
/// CUSTODY_REGENERATE_KIT=1, becomes it).
#[test]
fn kit_is_generated_from_the_test_keys() {
    let k = kit();
    let dir = kit_dir();
    let mut want = k.files.clone();
    want.insert("cases.json", manifest(&k));
    if std::env::var_os("CUSTODY_REGENERATE_KIT").is_some() {
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &want {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect();
    on_disk.sort();
    let names: Vec<String> = want.keys().map(|n| n.to_string()).collect();
    assert_eq!(on_disk, names, "files in {}", dir.display());
    for (name, bytes) in &want {
        assert!(
            fs::read(dir.join(name)).unwrap() == *bytes,
            "{name} is not what the generator makes: regenerate with CUSTODY_REGENERATE_KIT=1 (see the top of this file)"
        );
    }
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    for c in &k.cases {
        assert!(
            readme.contains(&format!("`{}`", c.name)),
            "README.md lacks {}",
            c.name
        );
    }
}

/// Runs every case of `point` from the committed kit; returns the outputs.
fn run_point(point: &str) -> Vec<(String, Run)> {
    let k = kit();
    let cases: Vec<&Case> = k.cases.iter().filter(|c| c.point == point).collect();
    assert!(!cases.is_empty(), "no case for point {point}");
    let mut out = Vec::new();
    for c in cases {
        let mut cmd = custody();
        for a in &c.command {
            cmd.arg(
                a.replace("{kit}", s(&kit_dir()))
                    .replace("{keys}", s(&repo().join("keys-example")))
                    .replace("{data}", s(&repo().join("tests/data"))),
            );
        }
        cmd.arg("--json");
        let r = run(cmd);
        assert_eq!(
            r.code, c.exit,
            "{}: exit {} (wanted {})\n{}\n{}",
            c.name, r.code, c.exit, r.stdout, r.stderr
        );
        r.no_panic();
        let v = r.json();
        // The verdict is the set of checks that fail, however often each
        // is reported.
        let mut got: Vec<String> = if c.command[0] == "verify-proof" {
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().split(':').next().unwrap().to_string())
                .collect()
        } else {
            checks(&v)
        };
        got.sort();
        got.dedup();
        assert_eq!(got, c.checks, "{}: {v}", c.name);
        assert_eq!(v["ok"], c.exit == OK, "{}: {v}", c.name);
        for (key, want) in c.json.as_object().unwrap() {
            assert_eq!(&v[key], want, "{}: {key} in {v}", c.name);
        }
        out.push((c.name.to_string(), r));
    }
    out
}

/// Point 1: `prove N` of a record signed by an actor verifies against the
/// log key; its signature is checked with --signer (FORMAT.md §8.1 step 6).
#[test]
fn point_1_proof_of_an_actor_signed_record() {
    let outs = run_point("1");
    // The kit's proof is exactly what `custody prove 5` writes for that log.
    let f = Fixture::uninit();
    copy_dir(&repo().join("tests/data/archive-v2"), &f.dir);
    let r = f.run(&["prove", "5"]);
    r.ok();
    assert_eq!(
        r.stdout_bytes,
        fs::read(kit_dir().join("actor-record.tlog-proof")).unwrap()
    );
    // The text output says the signature was not checked, and how to.
    let mut c = custody();
    c.args(["verify-proof"])
        .arg(kit_dir().join("actor-record.tlog-proof"))
        .arg("--trust")
        .arg(repo_key("dropsite", "signing.vkey"));
    let r = run(c);
    r.ok();
    assert!(
        r.stdout.contains("was not checked: give --signer"),
        "{}",
        r.stdout
    );
    assert!(outs
        .iter()
        .any(|(n, r)| n == "actor-record-with-another-signer"
            && r.stdout
                .contains("neither the log key's nor a --signer key's")));
}

/// Point 2: a checkpoint whose origin is not the trusted key's name fails
/// (FORMAT.md §3.9 step 3, §8.1 step 2); so does a record of another origin.
#[test]
fn point_2_checkpoint_origin_is_the_trusted_key_name() {
    let outs = run_point("2");
    let (_, r) = outs.iter().find(|(n, _)| n == "origin-mismatch").unwrap();
    assert!(
        r.stdout.contains("is not the log key's name"),
        "{}",
        r.stdout
    );
}

/// Point 3: `prove N` carries the cosignatures stored for the checkpoint,
/// and `verify-proof` checks them against --witness/--quorum/--policy;
/// `--trust` takes a trust-store name as every other --trust does.
#[test]
fn point_3_prove_carries_cosignatures_and_verify_proof_checks_them() {
    run_point("3");
    let f = Fixture::new();
    let doc = f.path().join("doc.txt");
    fs::write(&doc, b"a document\n").unwrap();
    f.ingest_json(&[s(&doc)]);
    let note = f.run(&["checkpoint"]).ok().stdout.clone();
    let cos = cosigned(&note, &secret("guardian", "witness.key"), 1_800_000_000);
    let line = cos.lines().last().unwrap().to_string();
    assert!(line.starts_with("— theguardian.example/witness "), "{line}");
    let cosfile = f.path().join("guardian.cosig");
    fs::write(&cosfile, format!("{line}\n")).unwrap();
    let gw = repo_key("guardian", "witness.vkey");
    f.run(&[
        "checkpoint",
        "add-cosignature",
        s(&cosfile),
        "--witness",
        s(&gw),
    ])
    .ok();
    let index = INIT_RECORDS.to_string();
    let proof = f.run(&["prove", &index]).ok().stdout.clone();
    assert!(proof.ends_with(&format!("{line}\n")), "{proof}");
    assert!(proof.ends_with(&cos), "{proof}");
    let j = f.json(&["prove", &index]);
    assert_eq!(j["checkpoint"], cos.as_str());
    let pf = f.path().join("p.tlog-proof");
    fs::write(&pf, &proof).unwrap();
    // A trust store naming the log key and the witness.
    let store = f.path().join("trust.toml");
    let with_store = |a: &[&str]| {
        let mut c = custody();
        c.env("CUSTODY_TRUST_STORE", &store).args(a);
        run(c)
    };
    with_store(&["trust", "add", "dropsite", s(&f.vkey())]).ok();
    with_store(&["trust", "add", "guardian-witness", s(&gw)]).ok();
    let r = with_store(&["verify-proof", s(&pf), "--trust", "dropsite", "--json"]);
    r.ok();
    // Without a quorum, the trust store's witnesses say who cosigned.
    assert_eq!(
        r.json()["cosigned_by"],
        json!(["theguardian.example/witness"])
    );
    let r = with_store(&[
        "verify-proof",
        s(&pf),
        "--trust",
        "dropsite",
        "--witness",
        "guardian-witness",
        "--quorum",
        "1",
    ]);
    r.ok();
    assert!(
        r.stdout.contains("cosigned by theguardian.example/witness"),
        "{}",
        r.stdout
    );
    let lc = repo_key("localcall", "witness.vkey");
    let r = with_store(&[
        "verify-proof",
        s(&pf),
        "--trust",
        "dropsite",
        "--witness",
        s(&lc),
    ]);
    r.code(FINDING);
    assert!(r.stdout.contains("witness_quorum"), "{}", r.stdout);
    // A witness key is no log key; a name the store lacks is an error.
    with_store(&["verify-proof", s(&pf), "--trust", "guardian-witness"]).error(&["not a log key"]);
    with_store(&["verify-proof", s(&pf), "--trust", "nobody"]).error(&["--trust"]);
    // A policy naming another log is refused: it and --trust disagree.
    let policy = f.path().join("other.policy");
    fs::write(
        &policy,
        format!(
            "log {}\nquorum none\n",
            vkey_text(&repo_key("guardian", "signing.vkey"))
        ),
    )
    .unwrap();
    with_store(&[
        "verify-proof",
        s(&pf),
        "--trust",
        "dropsite",
        "--policy",
        s(&policy),
    ])
    .error(&["--policy names log keys"]);
    // A consistency proof's checkpoint carries them too.
    let r = f.run(&["prove", "--consistency", &INIT_RECORDS.to_string()]);
    assert!(r.ok().stdout.ends_with(&cos), "{}", r.stdout);
}

/// Point 4: a hop's vkey with a newline after it is refused (FORMAT.md §10.2).
#[test]
fn point_4_hop_vkey_has_no_newline() {
    run_point("4");
}

/// Point 5: the entries of a hop carry one signed note, signature lines
/// included, byte for byte (FORMAT.md §10.2, §10.4 step 2).
#[test]
fn point_5_hop_entries_carry_one_signed_note() {
    let outs = run_point("5");
    let (_, r) = outs
        .iter()
        .find(|(n, _)| n == "note-cosigned-in-every-entry")
        .unwrap();
    assert_eq!(
        r.json()["report"]["hops"][0]["cosigned_by"],
        json!(["theguardian.example/witness"])
    );
}

/// Point 6: a tlog-proof holds up to 64 hashes (FORMAT.md §3.9, §9.5).
#[test]
fn point_6_proofs_of_64_hashes() {
    run_point("6: proof hashes");
}

/// Point 6: proof data read within its limit that does not parse is a
/// finding, exit 1 (FORMAT.md §8.1, §10.4); what keeps the command from
/// judging is exit 2.
#[test]
fn point_6_malformed_proof_data_is_a_finding() {
    run_point("6: exit code");
    // Exit 2: a proof that cannot be read, a --trust that does not parse.
    let mut c = custody();
    c.args(["verify-proof", "/nonexistent/p.tlog-proof", "--trust"])
        .arg(repo_key("dropsite", "signing.vkey"));
    run(c).error(&["/nonexistent/p.tlog-proof"]);
    let mut c = custody();
    c.arg("verify-proof")
        .arg(kit_dir().join("actor-record.tlog-proof"))
        .args(["--trust", "not a key"]);
    run(c).error(&["--trust"]);
    // An empty file is read, and is no proof: a finding.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.tlog-proof");
    fs::write(&empty, b"").unwrap();
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&empty)
        .arg("--trust")
        .arg(repo_key("dropsite", "signing.vkey"));
    let r = run(c);
    r.code(FINDING);
    assert!(
        r.stdout
            .starts_with("FAIL the proof: inclusion_proof: not a tlog-proof"),
        "{}",
        r.stdout
    );
}

/// Point 6: the witness quorum applies to each hop on its own (FORMAT.md
/// §10.4 step 2): a chain whose first hop is cosigned and second is not
/// misses it at the second.
#[test]
fn point_6_quorum_applies_to_each_hop() {
    let ds = Fixture::new_as("dropsite");
    let gu = Fixture::new_as("guardian");
    let mag = Fixture::new_as("972mag");
    let doc = ds.path().join("memo.txt");
    fs::write(&doc, b"a memo\n").unwrap();
    ds.ingest_json(&[s(&doc)]);
    let w = secret("localcall", "witness.key");
    let wv = repo_key("localcall", "witness.vkey");
    let cosign_latest = |f: &Fixture| {
        let note = f.run(&["checkpoint"]).ok().stdout.clone();
        let line = cosigned(&note, &w, 1_800_000_000)
            .lines()
            .last()
            .unwrap()
            .to_string();
        let file = f.path().join("w.cosig");
        fs::write(&file, format!("{line}\n")).unwrap();
        f.run(&[
            "checkpoint",
            "add-cosignature",
            s(&file),
            "--witness",
            s(&wv),
        ])
        .ok();
    };
    let a = ds.path().join("a.bundle");
    ds.share_to(&INIT_RECORDS.to_string(), &gu, &a);
    cosign_latest(&ds);
    ds.json(&["refresh-bundle", s(&a)]);
    let dsv = ds.vkey();
    gu.run(&[
        "receive",
        s(&a),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&dsv),
    ])
    .ok();
    let b = gu.path().join("b.bundle");
    gu.share_to(&INIT_RECORDS.to_string(), &mag, &b);
    let quorum = |bundle: &Path| {
        let mut c = custody();
        c.arg("verify-bundle")
            .arg(bundle)
            .args(["--trust", s(&dsv), "--trust", s(&gu.vkey())])
            .args(["--witness", s(&wv), "--quorum", "1", "--json"]);
        run(c)
    };
    let r = quorum(&b);
    r.code(FINDING);
    let v = r.json();
    assert_eq!(checks(&v), ["witness_quorum"], "{v}");
    let f = &findings_of(&v, "witness_quorum")[0];
    assert_eq!(f["subject"]["id"], "theguardian.example/custody", "{f}");
    let hops = v["report"]["hops"].as_array().unwrap();
    assert_eq!(hops[0]["cosigned_by"], json!(["localcall.example/witness"]));
    assert_eq!(hops[1]["cosigned_by"], json!([]));
    // The Guardian's checkpoint cosigned too: the chain meets the quorum.
    cosign_latest(&gu);
    gu.json(&["refresh-bundle", s(&b)]);
    quorum(&b).ok();
}

/// Point 6: `prove --consistency OLD` needs no checkpoint at OLD, and from
/// size 0 it is the empty proof, valid only with the empty tree's root
/// (FORMAT.md §8.2, §9.6): what a fresh C2SP witness is sent first.
#[test]
fn point_6_consistency_from_any_size_and_from_zero() {
    let f = Fixture::new();
    for n in 0..3 {
        let doc = f.path().join(format!("doc{n}.txt"));
        fs::write(&doc, format!("document {n}\n")).unwrap();
        f.ingest_json(&[s(&doc)]);
    }
    let latest = f.json(&["checkpoint"]);
    let size = latest["size"].as_u64().unwrap();
    let new_root = Digest::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(latest["root"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    // From 0: no hash, and only the empty tree's root verifies.
    let body = f.run(&["prove", "--consistency", "0"]).ok().stdout.clone();
    assert!(body.starts_with("old 0\n\n"), "{body}");
    let empty = merkle::empty_root();
    merkle::verify_consistency(TreeSize(0), TreeSize(size), &empty, &new_root, &[]).unwrap();
    assert!(merkle::verify_consistency(
        TreeSize(0),
        TreeSize(size),
        &Digest::of(b"not empty"),
        &new_root,
        &[]
    )
    .is_err());
    assert!(merkle::verify_consistency(
        TreeSize(0),
        TreeSize(size),
        &empty,
        &new_root,
        &[new_root]
    )
    .is_err());
    // A fresh witness cosigns that body (C2SP tlog-witness: old 0).
    let wit = Fixture::new_as("guardian");
    wit.run(&[
        "witness",
        "add-log",
        ORIGIN,
        s(&f.vkey()),
        "--witness-key",
        s(&wit.keys.join("witness.key")),
    ])
    .ok();
    let bf = f.path().join("body");
    fs::write(&bf, &body).unwrap();
    let r = wit.run(&["witness", "cosign", s(&bf)]);
    r.ok();
    assert!(
        r.stdout.starts_with("— theguardian.example/witness "),
        "{}",
        r.stdout
    );
    // Between two checkpointed sizes, `old_checkpoint` is the older note.
    let j = f.json(&[
        "prove",
        "--consistency",
        &INIT_RECORDS.to_string(),
        &(INIT_RECORDS + 2).to_string(),
    ]);
    assert!(
        j["old_checkpoint"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{ORIGIN}\n{INIT_RECORDS}\n")),
        "{j}"
    );
    // Size 1 is no checkpoint of this log (init signs at INIT_RECORDS).
    let j = f.json(&["prove", "--consistency", "1"]);
    assert_eq!(j["old_checkpoint"], Value::Null, "{j}");
    let de = |v: &Value| {
        Digest::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let proof: Vec<Digest> = j["proof"].as_array().unwrap().iter().map(de).collect();
    merkle::verify_consistency(
        TreeSize(1),
        TreeSize(size),
        &de(&j["old_root"]),
        &new_root,
        &proof,
    )
    .unwrap();
    // Its old root is the log's first record's leaf hash.
    let first = f.json(&["prove", "0"]);
    assert_eq!(j["old_root"], first["leaf_hash"]);
}
