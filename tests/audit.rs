//! People, lineage and the audit before publication (issue 4): a realistic
//! history across two outlets, with actors and roles, decryptions, a
//! translation and a redaction (a diamond), a share and a receive, approvals,
//! a journalist revoked who signs anyway; the audit's findings asserted
//! exactly, in JSON.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A person's keys made by `custody keygen` in the fixture's temp dir.
fn person(f: &Fixture, name: &str) -> PathBuf {
    let dir = f.path().join("people").join(name);
    let mut c = custody();
    c.args([
        "keygen",
        "--name",
        &format!("dropsite.example/{name}"),
        "-o",
    ])
    .arg(&dir);
    run(c).ok();
    dir
}

/// `custody --key PERSON/signing.key ARGS…` in the fixture's archive.
fn as_person(f: &Fixture, who: &Path, args: &[&str]) -> Run {
    let mut c = f.cmd();
    c.arg("--key").arg(who.join("signing.key")).args(args);
    run(c)
}

fn as_json(f: &Fixture, who: &Path, args: &[&str]) -> Value {
    let r = as_person(f, who, &[args, &["--json"]].concat());
    r.ok();
    r.json()
}

fn audit(f: &Fixture, args: &[&str]) -> (i32, Value) {
    let r = f.run(&[&["audit", "--format", "json"], args].concat());
    r.no_panic();
    assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["ok"].as_bool(), Some(r.code == OK));
    (r.code, v)
}

/// (check, subject) of every finding, sorted.
fn findings(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                format!(
                    "{}:{}",
                    f["subject"]["type"].as_str().unwrap(),
                    f["subject"]["id"]
                ),
            )
        })
        .collect();
    out.sort();
    out
}

fn write(f: &Fixture, name: &str, text: &str) -> PathBuf {
    let p = f.path().join("work").join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn audit_of_a_redacted_translation_across_two_outlets() {
    let ds = Fixture::new();
    let (alice, bob, ed, lex, carol) = (
        person(&ds, "alice"),
        person(&ds, "bob"),
        person(&ds, "ed"),
        person(&ds, "lex"),
        person(&ds, "carol"),
    );
    // The first admin (the fixture's default key) adds the newsroom.
    for (name, dir, role) in [
        ("alice", &alice, "journalist"),
        ("bob", &bob, "journalist"),
        ("ed", &ed, "editor"),
        ("lex", &lex, "legal"),
        ("carol", &carol, "journalist"),
    ] {
        ds.run(&[
            "actor",
            "add",
            name,
            s(&dir.join("signing.vkey")),
            "--role",
            role,
        ])
        .ok();
    }
    // The five and the first admin. Actors are labelled by the record that
    // added them: the admin #0, alice #2, bob #3, ed #4, lex #5, carol #6.
    assert_eq!(ds.json(&["actor", "list"]).as_array().unwrap().len(), 6);

    // Alice ingests the leak: records INIT_RECORDS + 5.. (after the five
    // actor records); the board memo is the seventh of them.
    let lines = as_person(&ds, &alice, &["ingest", s(&sample_leak()), "--json"]);
    lines.ok();
    let memo = INIT_RECORDS + 5 + 6;
    assert_eq!(ds.show(&memo.to_string())["kind"], "ingest");
    assert_eq!(ds.show(&memo.to_string())["signer"], as_key_id(&alice));

    // She decrypts it (an access record), translates and redacts it.
    let out = ds.path().join("plain-memo.txt");
    let x = as_json(
        &ds,
        &alice,
        &[
            "extract",
            &memo.to_string(),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&out),
            "--reason",
            "translation",
        ],
    );
    let access = x["access_record"].as_u64().unwrap();
    let en = write(&ds, "memo-en.txt", "Board memo, English translation.\n");
    let tr = as_json(
        &ds,
        &alice,
        &[
            "derive",
            &memo.to_string(),
            s(&en),
            "--relation",
            "translation",
            "--note",
            "EN by alice",
        ],
    );
    let tr_i = tr["index"].as_u64().unwrap();
    let red = write(
        &ds,
        "memo-en-redacted.txt",
        "Board memo, English, [REDACTED].\n",
    );
    let rd = as_json(
        &ds,
        &alice,
        &[
            "derive",
            &tr_i.to_string(),
            s(&red),
            "--relation",
            "redaction",
            "--parent",
            &memo.to_string(),
        ],
    );
    let rd_i = rd["index"].as_u64().unwrap();
    assert_eq!(ds.show(&rd_i.to_string())["kind"], "derive");

    // Bob decrypts the original without having been given it; the editor
    // then grants him the translation, which he decrypts.
    as_person(
        &ds,
        &bob,
        &[
            "extract",
            &memo.to_string(),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&ds.path().join("b1")),
            "--reason",
            "curious",
        ],
    )
    .ok();
    // Names are sealed: the editor names Bob with the archive's identity
    // (Bob was added by record INIT_RECORDS + 1, so he is also `#3`).
    as_person(
        &ds,
        &ed,
        &["grant", &tr_i.to_string(), "bob", "-i", s(&ds.identity())],
    )
    .ok();
    as_person(
        &ds,
        &bob,
        &[
            "extract",
            &tr_i.to_string(),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&ds.path().join("b2")),
            "--reason",
            "copy-edit",
        ],
    )
    .ok();
    as_person(
        &ds,
        &alice,
        &[
            "annotate",
            &memo.to_string(),
            "authenticity confirmed with a second source",
        ],
    )
    .ok();

    // A journalist may not approve; the editor may.
    let before = ds.snapshot();
    as_person(
        &ds,
        &alice,
        &["approve", &rd_i.to_string(), "--for", "publication"],
    )
    .error(&[
        "not authorized",
        "#2 (journalist) may not sign approve records",
    ]);
    ds.assert_unchanged(&before);
    as_person(
        &ds,
        &ed,
        &["approve", &rd_i.to_string(), "--for", "publication"],
    )
    .ok();

    // The redacted translation goes to the Guardian, which receives it.
    let gu = Fixture::new_as("guardian");
    let bundle = ds.path().join("redacted.bundle");
    as_person(
        &ds,
        &alice,
        &[
            "share",
            &rd_i.to_string(),
            "--to",
            s(&gu.keys.join("recipient.txt")),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&bundle),
        ],
    )
    .ok();
    gu.run(&[
        "receive",
        s(&bundle),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ])
    .ok();
    let t = gu.json(&["trace", &INIT_RECORDS.to_string(), "--trust", s(&ds.vkey())]);
    let signers: Vec<&str> = t["trace"]["hops"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["signed_by"].as_str().unwrap())
        .collect();
    // The ledger names no one: Alice is the actor added by record 2.
    assert!(signers.contains(&"#2 (journalist)"), "{signers:?}");

    // Carol leaves.
    ds.run(&["actor", "revoke", "#6", "--reason", "left the outlet"])
        .ok();
    as_person(&ds, &carol, &["annotate", &memo.to_string(), "x"])
        .error(&["not the key of an active actor"]);
    ds.assert_verified();

    // The audit of the redacted translation, found by its content.
    let (code, v) = audit(&ds, &["--file", s(&red), "-i", s(&ds.identity())]);
    assert_eq!(code, FINDING);
    assert_eq!(v["schema"], "custody-audit/v1");
    assert_eq!(v["target"], rd_i);
    assert_eq!(v["selected_by"], "file");
    assert_eq!(v["derivation_path"], serde_json::json!([memo, tr_i, rd_i]));
    let docs: Vec<u64> = v["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(docs, [memo, tr_i, rd_i]);
    assert_eq!(
        v["lineage"].as_array().unwrap().len(),
        3,
        "a diamond: {}",
        v["lineage"]
    );
    assert_eq!(
        findings(&v),
        [
            (
                "access_unshared".to_string(),
                format!("record:{}", access + 3)
            ),
            ("approval_missing".to_string(), format!("record:{rd_i}")),
        ]
    );
    assert_eq!(v["approvals"]["missing"], serde_json::json!(["legal"]));
    assert_eq!(v["approvals"]["present"][0]["actor"], "ed (#4)"); // named: the audit has -i
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "ingest", "access", "derive", "grant", "annotate", "approve", "share",
    ] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    let note = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "annotate")
        .unwrap();
    assert!(
        note["summary"].as_str().unwrap().contains("second source"),
        "{note}"
    );
    assert_eq!(note["actor"], "alice (#2)");
    assert_eq!(note["role"], "journalist");

    // Legal approves: only Bob's decryption remains; the audit is recorded.
    as_person(&ds, &lex, &["approve", &rd_i.to_string()]).ok();
    let (_, v) = audit(&ds, &[&rd_i.to_string()]);
    assert_eq!(
        findings(&v),
        [(
            "access_unshared".to_string(),
            format!("record:{}", access + 3)
        )]
    );
    let r = as_person(
        &ds,
        &ed,
        &["audit", &rd_i.to_string(), "--format", "json", "--sign"],
    );
    r.code(FINDING);
    let digest = custody::core::hash::Digest::of(&r.stdout_bytes);
    let last = ds.records() - 1;
    let rec = ds.show(&last.to_string());
    assert_eq!(rec["kind"], "audit");
    assert_eq!(
        rec["report"],
        digest.to_hex(),
        "the record commits to the printed JSON"
    );
    assert_eq!(rec["findings"], 1);
    ds.assert_verified();

    // A checkpoint without the witness quorum the reader asks for.
    let wv = ds.other_keys("972mag").join("witness.vkey");
    let (_, v) = audit(
        &ds,
        &[&rd_i.to_string(), "--witness", s(&wv), "--quorum", "1"],
    );
    assert!(
        findings(&v)
            .iter()
            .any(|(c, subj)| c == "witness_quorum" && subj.starts_with("checkpoint:")),
        "{:?}",
        findings(&v)
    );

    // An insider with disk access and Carol's revoked key appends a record
    // signed by her: verify and the audit both name it.
    forge_annotation(&ds, &carol, memo);
    // The archive no longer verifies: it is read-only, a checkpoint over
    // the forged record is refused.
    let before = ds.snapshot();
    ds.run(&["checkpoint", "--sign"]).error(&[
        "does not verify",
        "actor_revoked",
        "nothing was written",
    ]);
    let after = ds.snapshot();
    assert_eq!(after.count, before.count);
    assert!(after.records == before.records && after.checkpoints == before.checkpoints);
    // So no checkpoint covers it either.
    let (code, vv) = ds.verify(&[]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&vv), ["actor_revoked", "checkpoint_missing"], "{vv}");
    let (_, v) = audit(&ds, &[&rd_i.to_string()]);
    assert!(
        findings(&v).contains(&(
            "actor_revoked".to_string(),
            format!("record:{}", ds.records() - 1)
        )),
        "{:?}",
        findings(&v)
    );
}

/// The key ID the records of the actor whose keys are in `dir` carry: under
/// the actor key name, since a version 2 record added them (FORMAT.md §4.16).
fn as_key_id(dir: &Path) -> String {
    let v = fs::read_to_string(dir.join("signing.vkey")).unwrap();
    let v = custody::core::keys::VerifierKey::parse(v.trim()).unwrap();
    custody::core::record::actor_key_id(&v.public_bytes()).to_string()
}

/// Appends to ledger/records a record signed with `who`'s key (as a rogue
/// tool would), at the next index; the archive indexes it on the next open.
fn forge_annotation(f: &Fixture, who: &Path, doc: u64) {
    use custody::core::keys::SignerKey;
    use custody::core::record::{Annotate, DocRef, Payload, RecordBody};
    let key =
        SignerKey::parse(fs::read_to_string(who.join("signing.key")).unwrap().trim()).unwrap();
    let memo = f.show(&doc.to_string());
    let commitment =
        custody::core::hash::Digest::from_hex(memo["commitment"].as_str().unwrap()).unwrap();
    let blob = custody::core::hash::Digest::from_hex(memo["meta"].as_str().unwrap()).unwrap();
    let rec = RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(&key),
        payload: Payload::Annotate(Annotate {
            about: DocRef {
                document: doc,
                commitment,
            },
            note: blob,
            note_size: memo["meta_size"].as_u64().unwrap(),
        }),
    }
    .sign(&key)
    .unwrap();
    f.append_record(&rec);
}

#[test]
fn bad_input_changes_nothing() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    let stranger = person(&f, "stranger");
    f.run(&["audit", "999"]).error(&["no record matches"]);
    let other = write(&f, "nothing.txt", "matches no document\n");
    f.run(&["audit", "--file", s(&other)])
        .error(&["a document whose content is"]);
    let doc = (INIT_RECORDS + 2).to_string();
    as_person(&f, &stranger, &["annotate", &doc, "hello"])
        .error(&["not the key of an active actor"]);
    f.run(&["actor", "revoke", "nobody"])
        .error(&["active actor \"nobody\""]);
    f.run(&[
        "actor",
        "add",
        "Bad Name",
        s(&stranger.join("signing.vkey")),
        "--role",
        "editor",
    ])
    .error(&["actor name"]);
    // Approval needs a person with role editor or legal: not the admin (the
    // fixture's default key), and not the log key, which signs only
    // checkpoints.
    f.run(&["approve", &doc])
        .error(&["not authorized", "#0 (admin) may not sign approve records"]);
    f.run(&["approve", &doc, "--key", s(&f.signing_key())])
        .error(&["signs only checkpoints"]);
    f.run(&["derive", &doc, s(&other), "--relation", "poem"])
        .code(ERROR);
    f.assert_unchanged(&before);
}

/// A record appended by a rogue tool, signed by the admin's key, that names a
/// document with the wrong commitment (or a record that is no document):
/// verify names it `document_ref`.
#[test]
fn records_naming_a_wrong_document_are_document_ref_findings() {
    use custody::core::hash::Digest;
    use custody::core::keys::SignerKey;
    use custody::core::record::{Approve, DocRef, Payload, Purpose, RecordBody};
    let f = Fixture::with_samples();
    let key = SignerKey::parse(fs::read_to_string(f.admin_key()).unwrap().trim()).unwrap();
    let doc = INIT_RECORDS + 2;
    let real = Digest::from_hex(f.show(&doc.to_string())["commitment"].as_str().unwrap()).unwrap();
    for (document, commitment) in [(doc, Digest([7; 32])), (99, real)] {
        let rec = RecordBody {
            index: f.records(),
            time_ms: 1_900_000_000_000,
            origin: "dropsite.example/leaks".into(),
            signer: f.record_signer(&key),
            payload: Payload::Approve(Approve {
                about: DocRef {
                    document,
                    commitment,
                },
                purpose: Purpose::Publication,
            }),
        }
        .sign(&key)
        .unwrap();
        f.append_record(&rec);
        // The archive no longer verifies: no checkpoint is signed over it.
        f.run(&["checkpoint", "--sign"])
            .error(&["does not verify", "nothing was written"]);
    }
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING);
    // The admin may not approve either: each forged record is also
    // actor_role; and no checkpoint covers them.
    let mut got = checks(&v);
    got.sort();
    assert_eq!(
        got,
        [
            "actor_role",
            "actor_role",
            "checkpoint_missing",
            "document_ref",
            "document_ref"
        ],
        "{v}"
    );
}

/// A blob named by several records (here the envelope shared by one ingest
/// batch) must have one length: a rogue record that names it with another
/// length is a `blob_hash` finding of that record.
#[test]
fn a_shared_blob_named_with_another_length_is_a_finding() {
    use custody::core::hash::Digest;
    use custody::core::keys::SignerKey;
    use custody::core::record::{Annotate, DocRef, Payload, RecordBody};
    let f = Fixture::with_samples();
    let key = SignerKey::parse(fs::read_to_string(f.admin_key()).unwrap().trim()).unwrap();
    let first = INIT_RECORDS;
    let document = first + 2;
    let doc = f.show(&document.to_string());
    let meta = doc["meta"].as_str().unwrap();
    let size = doc["meta_size"].as_u64().unwrap();
    let rec = RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(&key),
        payload: Payload::Annotate(Annotate {
            about: DocRef {
                document,
                commitment: Digest::from_hex(doc["commitment"].as_str().unwrap()).unwrap(),
            },
            note: Digest::from_hex(meta).unwrap(),
            note_size: size + 1,
        }),
    }
    .sign(&key)
    .unwrap();
    let forged = rec.body.index;
    assert_eq!(forged, INIT_RECORDS + 8);
    f.append_record(&rec);
    f.run(&["checkpoint", "--sign"]).error(&[
        "does not verify",
        "blob_hash",
        "nothing was written",
    ]);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), ["blob_hash", "checkpoint_missing"], "{v}");
    let found = findings_of(&v, "blob_hash");
    assert_eq!(found.len(), 1, "{v}");
    assert_eq!(found[0]["subject"]["id"], forged, "{v}");
    // The first record naming the envelope: the first ingest of the batch.
    let reason = found[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(meta) && reason.contains(&format!("record {first} says {size}")),
        "{reason}"
    );
}
