//! Issue 16, item 1 (records and envelopes): each point where an
//! implementation written from docs/FORMAT.md alone could disagree with
//! custody, with the decision FORMAT.md now states. Every test makes its
//! inputs from the test keys (keys-example/): a record forged into
//! `ledger/records` is validly signed by the archive's administrator (or the
//! log key, for an archive made before separation of duties), so that what
//! is found is the rule under test, not a bad signature. The cases and their
//! verdicts are listed in tests/data/conformance/records/README.md.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::bundle::{read_head, write_head, BundleHead, ShareEnvelope};
use custody::core::crypto::{self, Identities, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::{KeyId, SignerKey};
use custody::core::meta::{self, Metadata, NoteEnvelope};
use custody::core::record::{
    actor_key_id, valid_actor_key, Access, ActorAction, ActorChange, Annotate, Approve,
    ArchiveConfig, AuditDone, Derive, DocRef, Grant, GrantTo, Ingest, Link, Payload, PolicySource,
    Purpose, Receive, ReceivePolicy, Record, RecordBody, Relation, Role, Sealed, SealedActor,
    Share,
};
use custody::core::tlog_proof::TlogProof;
use serde_json::Value;

const ORIGIN: &str = "dropsite.example/leaks";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn key_of(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// The archive's first administrator (custody.toml's `key`) and the key ID
/// its records carry.
fn admin(f: &Fixture) -> (SignerKey, KeyId) {
    let k = key_of(&f.admin_key());
    let id = f.record_signer(&k);
    (k, id)
}

/// Record `index` of `ledger/records`, decoded.
fn record_at(f: &Fixture, index: u64) -> Record {
    let b = fs::read(f.ledger("records")).unwrap();
    let (o, l) = frames(&b)[index as usize];
    Record::decode(&b[o + 4..o + 4 + l]).unwrap()
}

/// The index the next appended record takes: the frames of
/// `ledger/records` (some of which may not decode).
fn next_index(f: &Fixture) -> u64 {
    frames(&fs::read(f.ledger("records")).unwrap()).len() as u64
}

fn body(f: &Fixture, signer: KeyId, payload: Payload) -> RecordBody {
    RecordBody {
        index: next_index(f),
        time_ms: 1_900_000_000_000,
        origin: ORIGIN.into(),
        signer,
        payload,
    }
}

/// Signs and appends a valid record body; returns its index.
fn forge(f: &Fixture, key: &SignerKey, signer: KeyId, payload: Payload) -> u64 {
    let mut b = body(f, signer, payload);
    let i = b.index;
    b.place(i);
    let rec = b.sign(key).unwrap();
    f.append_record(&rec);
    i
}

/// Signs `body_bytes` as they are (FORMAT.md §4.3, whatever they say) and
/// appends the record, as a rogue tool holding `key` would.
fn forge_raw(f: &Fixture, key: &SignerKey, body_bytes: &[u8]) -> u64 {
    use std::io::Write;
    let i = next_index(f);
    let mut bytes = body_bytes.to_vec();
    bytes.extend_from_slice(&key.sign(&RecordBody::signed_message(body_bytes)));
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(f.ledger("records"))
        .unwrap();
    file.write_all(&(bytes.len() as u32).to_be_bytes()).unwrap();
    file.write_all(&bytes).unwrap();
    file.sync_all().unwrap();
    i
}

/// The encoded body of `payload` at the next index, with the text field
/// that ends it (a reason, a name) replaced by `tail`: the encoder is given
/// a placeholder of the same length, which `tail` then overwrites.
fn body_ending_with(f: &Fixture, signer: KeyId, payload: Payload, tail: &[u8]) -> Vec<u8> {
    let mut b = body(f, signer, payload).encode();
    let n = b.len();
    b[n - tail.len()..].copy_from_slice(tail);
    b
}

fn recipients(f: &Fixture) -> Vec<RecipientKey> {
    fs::read_to_string(f.keys.join("recipient.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| RecipientKey::parse(l).unwrap())
        .collect()
}

fn identities(f: &Fixture) -> Identities {
    Identities::parse(&fs::read(f.identity()).unwrap()).unwrap()
}

/// Encrypts `plain` to the archive's recipients and stores it as a blob, as
/// custody stores envelopes and sealed details (FORMAT.md §5.4, §6).
fn put_blob(f: &Fixture, plain: &[u8]) -> Sealed {
    let enc = crypto::encrypt_bytes(&recipients(f), plain).unwrap();
    let d = Digest::of(&enc);
    let p = f.blob_path(&d.to_hex());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, &enc).unwrap();
    Sealed {
        digest: d,
        size: enc.len() as u64,
    }
}

fn doc_ref(f: &Fixture, index: u64) -> DocRef {
    DocRef {
        document: index,
        commitment: *record_at(f, index).commitment().unwrap(),
    }
}

/// The check names of the findings that name record `index`.
fn on(v: &Value, index: u64) -> Vec<String> {
    v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["subject"]["type"] == "record" && x["subject"]["id"] == index)
        .map(|x| x["check"].as_str().unwrap().to_string())
        .collect()
}

/// Every finding is `checkpoint_missing` (forged records are appended
/// without a checkpoint) or names one of `indices` with the listed check.
/// A record that does not decode is not indexed either: where
/// `record_decode` is wanted, `index_mismatch` findings come with it.
#[track_caller]
fn only(v: &Value, want: &[(u64, &str)]) {
    let undecodable = want.iter().any(|(_, w)| *w == "record_decode");
    for x in v["report"]["findings"].as_array().unwrap() {
        let c = x["check"].as_str().unwrap();
        if c == "checkpoint_missing" || (undecodable && c == "index_mismatch") {
            continue;
        }
        let id = x["subject"]["id"].as_u64();
        assert!(
            want.iter().any(|(i, w)| Some(*i) == id && *w == c),
            "unexpected finding {x} in {v}"
        );
    }
    for (i, w) in want {
        assert!(
            on(v, *i).iter().any(|c| c == w),
            "no {w} finding on record {i}: {v}"
        );
    }
}

fn deep(f: &Fixture) -> Value {
    f.verify(&["--deep", "-i", s(&f.identity())]).1
}

/// The metadata entry (FORMAT.md §5.2) of document record `index`, as JSON text.
fn entry_of(f: &Fixture, index: u64) -> (Ingest, String) {
    let rec = &record_at(f, index);
    let ing = rec.document().unwrap().clone();
    let data = fs::read(f.blob_path(&ing.meta.to_hex())).unwrap();
    let plain = crypto::decrypt_bytes(&identities(f), &data, meta::MAX_META_LEN).unwrap();
    let m = meta::open_envelope(&plain, &ing.commitment).unwrap();
    (ing, String::from_utf8(m.to_json()).unwrap())
}

/// Appends an ingest record that stores the document of record `index`
/// again (same blob and commitment) with the metadata envelope `plain`.
fn forge_with_envelope(f: &Fixture, index: u64, plain: &[u8]) -> u64 {
    let (ing, _) = entry_of(f, index);
    let m = put_blob(f, plain);
    let (k, id) = admin(f);
    forge(
        f,
        &k,
        id,
        Payload::Ingest(Ingest {
            meta: m.digest,
            meta_size: m.size,
            ..ing
        }),
    )
}

/// The first ingested sample (records 0 and 1 are the first admin and the
/// configuration).
const DOC: u64 = INIT_RECORDS;

// ---------------------------------------------------------------------------
// §4.5: a share names an ingest, receive or derive record.

#[test]
fn share_of_a_derived_document_is_valid() {
    let ds = Fixture::new_as("dropsite");
    ds.ingest_samples();
    let gu = Fixture::new_as("guardian");
    let tr = ["--trust", s(&ds.vkey())].map(String::from);
    // A translation of document 2, shared with the Guardian.
    let file = ds.path().join("memo-en.txt");
    fs::write(&file, b"The board memo, in English.\n").unwrap();
    ds.json(&[
        "derive",
        &DOC.to_string(),
        s(&file),
        "--relation",
        "translation",
    ]);
    let derived = ds.records() - 1;
    assert_eq!(ds.show(&derived.to_string())["kind"], "derive");
    let bundle = ds.path().join("translation.bundle");
    let sh = ds.share_to(&derived.to_string(), &gu, &bundle);
    assert_eq!(sh["document"], derived);
    ds.assert_verified();
    // The partner verifies it (the first hop starts at the derive record)
    // and receives it.
    let mut c = custody();
    c.arg("verify-bundle")
        .arg(&bundle)
        .args(&tr)
        .args(["-i", s(&gu.identity()), "--json"]);
    let r = run(c);
    r.ok();
    let v = r.json();
    let kinds: Vec<&str> = v["report"]["hops"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| *k != "actor" && *k != "config")
        .collect();
    assert_eq!(kinds, ["derive", "share"], "{v}");
    gu.json(&[
        "receive",
        s(&bundle),
        "-i",
        s(&gu.identity()),
        &tr[0],
        &tr[1],
    ]);
    gu.assert_verified();
    // A share naming a record that holds no document (the first admin's
    // actor record) is a document_ref finding.
    let (k, id) = admin(&ds);
    let i = forge(
        &ds,
        &k,
        id,
        Payload::Share(Share {
            document: 0,
            commitment: doc_ref(&ds, derived).commitment,
            payload: Digest([1; 32]),
            payload_size: 1,
            envelope: Digest([2; 32]),
            recipients: vec![Digest([3; 32])],
            sealed: None,
        }),
    );
    only(&ds.verify(&[]).1, &[(i, "document_ref")]);
}

// ---------------------------------------------------------------------------
// §4.8: an access reason is UTF-8 without control characters but \n.

#[test]
fn access_reason_with_a_control_character_is_record_decode() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let about = doc_ref(&f, DOC);
    let access = |reason: &str| {
        Payload::Access(Access {
            about,
            reason: reason.into(),
            sealed: None,
        })
    };
    // A line feed and any other character are allowed. (First, and indexed
    // by the next command: an archive whose records do not all decode is
    // not indexed further.)
    let good = forge(&f, &k, id, access("fact-check\nsecond line — é ✓"));
    assert_eq!(f.records(), good + 1);
    // Version 1, the reason in clear: C0 (ESC), DEL and C1 (NEL) controls.
    let mut bad = Vec::new();
    for reason in ["a\u{1b}[2Jb", "a\u{7f}b", "a\u{85}b", "tab\there"] {
        let placeholder = "x".repeat(reason.len());
        let b = body_ending_with(&f, id, access(&placeholder), reason.as_bytes());
        bad.push(forge_raw(&f, &k, &b));
    }
    let (_, v) = f.verify(&[]);
    let want: Vec<(u64, &str)> = bad.iter().map(|&i| (i, "record_decode")).collect();
    only(&v, &want);
    assert!(on(&v, good).is_empty(), "{v}");
    // Version 2 seals the reason under the same rule: the record decodes
    // (nothing of the reason is in it), and `verify --deep` reports the
    // sealed details as `sealed`.
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let sealed = put_blob(&f, br#"{"kind":"access","v":1,"reason":"a\u001b[2Jb"}"#);
    let i = forge(
        &f,
        &k,
        id,
        Payload::Access(Access {
            about: doc_ref(&f, DOC),
            reason: String::new(),
            sealed: Some(sealed),
        }),
    );
    only(&f.verify(&[]).1, &[]);
    only(&deep(&f), &[(i, "sealed")]);
    // custody never writes one (exit 2, nothing written).
    let before = f.records();
    let out = f.path().join("out.txt");
    f.run(&[
        "extract",
        &DOC.to_string(),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
        "--reason",
        "a\u{1b}[2Jb",
    ])
    .code(ERROR);
    assert_eq!(f.records(), before);
}

// ---------------------------------------------------------------------------
// §4.7: only a revocation has a reason.

#[test]
fn actor_add_with_a_reason_is_a_finding() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let change = |action, name: &str, key: &SignerKey, reason: &str| {
        Payload::Actor(ActorChange {
            action,
            name: name.into(),
            role: Role::Journalist,
            key_name: key.name().into(),
            key: key.public_bytes(),
            reason: reason.into(),
            sealed: None,
        })
    };
    // A valid add (first, and indexed: see the access test above).
    let walt = SignerKey::generate("dropsite.example/walt").unwrap();
    let ok = forge(&f, &k, id, change(ActorAction::Add, "walt", &walt, ""));
    assert_eq!(f.records(), ok + 1);
    // Version 1: the encoder refuses it; signed anyway, it does not decode.
    let vera = SignerKey::generate("dropsite.example/vera").unwrap();
    assert!(
        body(&f, id, change(ActorAction::Add, "vera", &vera, "hired"))
            .sign(&k)
            .is_err()
    );
    let b = body(&f, id, change(ActorAction::Add, "vera", &vera, "hired")).encode();
    let add = forge_raw(&f, &k, &b);
    // Then a rotate with a reason.
    let walt2 = SignerKey::generate("dropsite.example/walt2").unwrap();
    let b = body(
        &f,
        id,
        change(ActorAction::Rotate, "walt", &walt2, "new laptop"),
    )
    .encode();
    let rotate = forge_raw(&f, &k, &b);
    only(
        &f.verify(&[]).1,
        &[(add, "record_decode"), (rotate, "record_decode")],
    );
    assert!(on(&f.verify(&[]).1, ok).is_empty());
    // Version 2: the reason is sealed; an add whose sealed details carry one
    // is `sealed` under `verify --deep`.
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let xena = SignerKey::generate("dropsite.example/xena").unwrap();
    let details = put_blob(
        &f,
        br#"{"kind":"actor","v":1,"name":"xena","key_name":"dropsite.example/xena","reason":"hired for the leak"}"#,
    );
    let i = forge(&f, &k, id, sealed_add(&xena.public_bytes(), details));
    only(&f.verify(&[]).1, &[]);
    only(&deep(&f), &[(i, "sealed")]);
}

/// A version 2 `add` of `key` (placed at its index by [`forge`]).
fn sealed_add(key: &[u8; 32], details: Sealed) -> Payload {
    Payload::Actor(ActorChange {
        action: ActorAction::Add,
        name: String::new(),
        role: Role::Journalist,
        key_name: String::new(),
        key: *key,
        reason: String::new(),
        sealed: Some(SealedActor {
            actor: 0,
            key_id: actor_key_id(key),
            details,
        }),
    })
}

/// Sealed details of a version 2 add of `name` (FORMAT.md §5.4).
fn add_details(f: &Fixture, name: &str) -> Sealed {
    put_blob(
        f,
        format!(
            r#"{{"kind":"actor","v":1,"name":"{name}","key_name":"dropsite.example/{name}","reason":""}}"#
        )
        .as_bytes(),
    )
}

// ---------------------------------------------------------------------------
// §4.12: a grant names an active actor.

#[test]
fn grant_to_an_unknown_or_revoked_actor_is_grant_actor() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let ed = SignerKey::generate("dropsite.example/ed").unwrap();
    let label = format!("#{}", f.records());
    let added: u64 = label[1..].parse().unwrap();
    f.run(&[
        "actor",
        "add",
        "ed",
        &ed.verifier().encode(),
        "--role",
        "editor",
    ])
    .ok();
    // custody's own grant to the active actor: no finding.
    f.run(&["grant", &DOC.to_string(), &label]).ok();
    let granted = f.records() - 1;
    f.run(&["actor", "revoke", &label, "--reason", "left"]).ok();
    f.assert_verified();
    // custody refuses a grant to the revoked actor.
    f.run(&["grant", &DOC.to_string(), &label]).code(ERROR);
    let grant = |to: GrantTo| {
        Payload::Grant(Grant {
            about: doc_ref(&f, DOC),
            actor: to,
        })
    };
    let revoked = forge(&f, &k, id, grant(GrantTo::Added(added)));
    // Record 2 is an ingest: no actor was added by it.
    let not_an_actor = forge(&f, &k, id, grant(GrantTo::Added(DOC)));
    // Version 1: a name no actor has.
    let unknown = forge(&f, &k, id, grant(GrantTo::Name("nobody".into())));
    let (_, v) = f.verify(&[]);
    only(
        &v,
        &[
            (revoked, "grant_actor"),
            (not_an_actor, "grant_actor"),
            (unknown, "grant_actor"),
        ],
    );
    assert!(on(&v, granted).is_empty());
}

// ---------------------------------------------------------------------------
// §5.2, §10.3: lowercase hex.

#[test]
fn uppercase_hex_in_a_metadata_envelope_is_metadata_decrypt() {
    let f = Fixture::with_samples();
    let (ing, entry) = entry_of(&f, DOC);
    // The harness: the same entry, encrypted again, is a valid envelope.
    let same = forge_with_envelope(&f, DOC, format!("{entry}\n").as_bytes());
    let m = Metadata::from_json(entry.as_bytes()).unwrap();
    let upper = entry.replace(&m.sha256.to_hex(), &m.sha256.to_hex().to_uppercase());
    assert_ne!(upper, entry);
    let bad = forge_with_envelope(&f, DOC, format!("{upper}\n").as_bytes());
    let upper_salt = entry.replace(&m.salt.to_hex(), &m.salt.to_hex().to_uppercase());
    let bad_salt = forge_with_envelope(&f, DOC, upper_salt.as_bytes());
    let v = deep(&f);
    only(
        &v,
        &[(bad, "metadata_decrypt"), (bad_salt, "metadata_decrypt")],
    );
    assert!(on(&v, same).is_empty());
    assert_eq!(ing.commitment, m.commitment());
}

/// A bundle of Drop Site's document 2 to the Guardian, whose share
/// envelope is forgeries of the original's, each in a bundle whose share
/// record (signed by Drop Site's administrator) names it.
struct Bundles {
    ds: Fixture,
    gu: Fixture,
    /// The original bundle.
    bundle: PathBuf,
    /// Its envelope's plaintext.
    envelope: String,
}

impl Bundles {
    fn new() -> Bundles {
        let ds = Fixture::new_as("dropsite");
        ds.ingest_samples();
        let gu = Fixture::new_as("guardian");
        let bundle = ds.path().join("memo.bundle");
        ds.share_to(&DOC.to_string(), &gu, &bundle);
        let (head, _) = load(&bundle);
        let plain = crypto::decrypt_bytes(&identities(&gu), &head.envelope, 1 << 20).unwrap();
        let envelope = String::from_utf8(plain.to_vec()).unwrap();
        Bundles {
            ds,
            gu,
            bundle,
            envelope,
        }
    }

    fn trust(&self) -> [String; 2] {
        ["--trust".into(), s(&self.ds.vkey()).into()]
    }

    /// A bundle whose envelope's plaintext is `plain`: a new share record
    /// names it; `refresh-bundle` proves the hop against a new checkpoint.
    fn forged(&self, name: &str, plain: &[u8]) -> PathBuf {
        let ds = &self.ds;
        let (mut head, payload) = load(&self.bundle);
        let hop = head.evidence.hops.last_mut().unwrap();
        let last = TlogProof::parse(hop.entries.last().unwrap()).unwrap();
        let shared = Record::decode(last.extra().unwrap()).unwrap();
        let env = crypto::encrypt_bytes(&recipients(&self.gu), plain).unwrap();
        let Payload::Share(mut sh) = shared.body.payload.clone() else {
            panic!("the bundle's last record is not a share")
        };
        sh.envelope = Digest::of(&env);
        let (k, id) = admin(ds);
        let i = forge(ds, &k, id, Payload::Share(sh));
        ds.run(&["checkpoint", "--sign"]).ok();
        let rec = record_at(ds, i);
        *hop.entries.last_mut().unwrap() = TlogProof::new(
            i,
            Vec::new(),
            Some(rec.bytes().to_vec()),
            last.checkpoint_note(),
        )
        .unwrap()
        .encode()
        .into_bytes();
        head.envelope = env;
        let out = ds.path().join(format!("{name}.bundle"));
        save(&out, &head, &payload);
        ds.run(&["refresh-bundle", s(&out)]).ok();
        out
    }

    /// `verify-bundle` with the Guardian's identity: exit code and report.
    fn verify(&self, bundle: &Path, identity: &Path) -> (i32, Value) {
        let mut c = custody();
        c.arg("verify-bundle")
            .arg(bundle)
            .args(self.trust())
            .args(["-i", s(identity), "--json"]);
        let r = run(c);
        r.no_panic();
        (
            r.code,
            if r.code == ERROR {
                Value::Null
            } else {
                r.json()
            },
        )
    }
}

fn load(path: &Path) -> (BundleHead, Vec<u8>) {
    let bytes = fs::read(path).unwrap();
    let mut r = &bytes[..];
    let head = read_head(&mut r).unwrap();
    (head, r.to_vec())
}

fn save(path: &Path, head: &BundleHead, payload: &[u8]) {
    let mut out = Vec::new();
    write_head(&mut out, head).unwrap();
    out.extend_from_slice(payload);
    fs::write(path, out).unwrap();
}

fn bundle_checks(v: &Value) -> Vec<String> {
    v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn uppercase_hex_in_a_share_envelope_is_a_commitment_finding() {
    let b = Bundles::new();
    let gid = b.gu.identity();
    // The harness: the original envelope in a forged share record verifies.
    let same = b.forged("same", b.envelope.as_bytes());
    let (code, v) = b.verify(&same, &gid);
    assert_eq!(code, OK, "{v}");
    let e = ShareEnvelope::from_json(b.envelope.as_bytes()).unwrap();
    let hex = e.sha256.to_hex();
    let upper = b.envelope.replace(&hex, &hex.to_uppercase());
    assert_ne!(upper, b.envelope);
    let bad = b.forged("upper", upper.as_bytes());
    let (code, v) = b.verify(&bad, &gid);
    assert_eq!(code, FINDING, "{v}");
    assert_eq!(bundle_checks(&v), ["commitment"], "{v}");
    // receive refuses what verify-bundle reports (exit 1, nothing stored).
    let before = b.gu.snapshot();
    let tr = b.trust();
    let r =
        b.gu.run(&["receive", s(&bad), "-i", s(&gid), &tr[0], &tr[1], "--json"]);
    r.code(FINDING);
    b.gu.assert_unchanged(&before);
    b.gu.json(&["receive", s(&same), "-i", s(&gid), &tr[0], &tr[1]]);
}

// ---------------------------------------------------------------------------
// §5.2: two entries opening one commitment.

#[test]
fn two_entries_opening_one_commitment_is_a_commitment_finding() {
    let f = Fixture::with_samples();
    let (_, entry) = entry_of(&f, DOC);
    let twice = forge_with_envelope(&f, DOC, format!("{entry}\n{entry}\n").as_bytes());
    // Another document's entry beside it is fine: it opens another commitment.
    let (_, other) = entry_of(&f, DOC + 1);
    let beside = forge_with_envelope(&f, DOC, format!("{other}\n{entry}\n").as_bytes());
    let v = deep(&f);
    only(&v, &[(twice, "commitment")]);
    assert!(on(&v, beside).is_empty());
    // extract says so too, and writes nothing.
    let out = f.path().join("out");
    let r = f.run(&[
        "extract",
        &twice.to_string(),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ]);
    assert_ne!(r.code, OK);
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------
// §4.10: the note envelope is written {"v":1,"text":…}.

#[test]
fn note_envelope_is_written_v_first_and_read_in_any_order() {
    let f = Fixture::with_samples();
    f.run(&["annotate", &DOC.to_string(), "source confirmed by phone"])
        .ok();
    let i = f.records() - 1;
    let Payload::Annotate(a) = record_at(&f, i).body.payload.clone() else {
        panic!("not an annotate record")
    };
    let data = fs::read(f.blob_path(&a.note.to_hex())).unwrap();
    let plain = crypto::decrypt_bytes(&identities(&f), &data, 1 << 20).unwrap();
    assert_eq!(&plain[..], br#"{"v":1,"text":"source confirmed by phone"}"#);
    // A note written by an earlier custody, members the other way round,
    // still reads (the audit shows its text).
    let (k, id) = admin(&f);
    let old = put_blob(&f, br#"{"text":"written by custody 0.1","v":1}"#);
    forge(
        &f,
        &k,
        id,
        Payload::Annotate(Annotate {
            about: doc_ref(&f, DOC),
            note: old.digest,
            note_size: old.size,
        }),
    );
    f.run(&["checkpoint", "--sign"]).ok();
    f.assert_verified();
    let r = f.run(&[
        "audit",
        &DOC.to_string(),
        "--format",
        "json",
        "-i",
        s(&f.identity()),
    ]);
    assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
    let v = r.json();
    let summaries: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    for t in [
        "note: source confirmed by phone",
        "note: written by custody 0.1",
    ] {
        assert!(summaries.contains(&t), "{t} not in {summaries:?}");
    }
}

// ---------------------------------------------------------------------------
// §4.1: u16, and the size of every kind.

#[test]
fn u16_and_the_size_of_every_record_kind() {
    let k = SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap();
    let o = ORIGIN.len();
    let d = |b: u8| Digest([b; 32]);
    let about = DocRef {
        document: 0,
        commitment: d(1),
    };
    let stored = |n: usize| Ingest {
        blob: d(1),
        blob_size: 1,
        commitment: d(2),
        meta: d(3),
        meta_size: 1,
        recipients: (0..n as u8).map(|i| d(10 + i)).collect(),
    };
    let sealed = Sealed {
        digest: d(4),
        size: 256,
    };
    let link = |from: &str| Link {
        origin: from.into(),
        key_id: KeyId(7),
        index: 3,
        leaf_hash: d(5),
        checkpoint_size: 4,
        checkpoint_root: d(6),
    };
    let reason = "r".repeat(300);
    let key = k.public_bytes();
    let cases: Vec<(Payload, usize)> = vec![
        (Payload::Ingest(stored(3)), 200 + o + 32 * 3),
        (
            Payload::Share(Share {
                document: 0,
                commitment: d(1),
                payload: d(2),
                payload_size: 1,
                envelope: d(3),
                recipients: vec![d(7), d(8)],
                sealed: None,
            }),
            200 + o + 32 * 2,
        ),
        (
            Payload::Share(Share {
                document: 0,
                commitment: d(1),
                payload: d(2),
                payload_size: 1,
                envelope: d(3),
                recipients: Vec::new(),
                sealed: Some(sealed),
            }),
            239 + o,
        ),
        (
            Payload::Receive(Receive {
                stored: stored(2),
                from: link("other.example/log"),
                evidence: d(7),
                evidence_size: 9,
                policy: None,
            }),
            325 + o + 32 * 2 + "other.example/log".len(),
        ),
        (
            Payload::Receive(Receive {
                stored: stored(2),
                from: link("other.example/log"),
                evidence: d(7),
                evidence_size: 9,
                policy: Some(ReceivePolicy {
                    source: PolicySource::Config,
                    digest: d(9),
                }),
            }),
            358 + o + 32 * 2 + "other.example/log".len(),
        ),
        (
            Payload::Actor(ActorChange {
                action: ActorAction::Revoke,
                name: "vera".into(),
                role: Role::Editor,
                key_name: "dropsite.example/vera".into(),
                key,
                reason: reason.clone(),
                sealed: None,
            }),
            125 + o + 4 + "dropsite.example/vera".len() + 300,
        ),
        (
            Payload::Actor(ActorChange {
                action: ActorAction::Revoke,
                name: "#0".into(),
                role: Role::Editor,
                key_name: String::new(),
                key,
                reason: String::new(),
                sealed: Some(SealedActor {
                    actor: 0,
                    key_id: actor_key_id(&key),
                    details: sealed,
                }),
            }),
            169 + o,
        ),
        (
            Payload::Access(Access {
                about,
                reason: reason.clone(),
                sealed: None,
            }),
            129 + o + 300,
        ),
        (
            Payload::Access(Access {
                about,
                reason: String::new(),
                sealed: Some(sealed),
            }),
            167 + o,
        ),
        (
            Payload::Derive(Derive {
                stored: stored(2),
                relation: Relation::Translation,
                parents: vec![
                    about,
                    DocRef {
                        document: 1,
                        commitment: d(2),
                    },
                ],
            }),
            202 + o + 32 * 2 + 40 * 2,
        ),
        (
            Payload::Annotate(Annotate {
                about,
                note: d(3),
                note_size: 1,
            }),
            167 + o,
        ),
        (
            Payload::Approve(Approve {
                about,
                purpose: Purpose::Publication,
            }),
            128 + o,
        ),
        (
            Payload::Grant(Grant {
                about,
                actor: GrantTo::Name("vera".into()),
            }),
            128 + o + 4,
        ),
        (
            Payload::Grant(Grant {
                about,
                actor: GrantTo::Added(0),
            }),
            135 + o,
        ),
        (
            Payload::Audit(AuditDone {
                about,
                report: d(3),
                findings: 0,
            }),
            163 + o,
        ),
        (
            Payload::Config(ArchiveConfig {
                recipients: vec![d(1), d(2)],
                approvals: vec![Role::Editor, Role::Legal],
                partner_policy: "p".repeat(10),
                own_policy: "q".repeat(20),
                sealed: None,
            }),
            93 + o + 32 * 2 + 2 + 10 + 20,
        ),
        (
            Payload::Config(ArchiveConfig {
                recipients: vec![d(1)],
                approvals: Vec::new(),
                partner_policy: String::new(),
                own_policy: String::new(),
                sealed: Some(sealed),
            }),
            133 + o + 32,
        ),
    ];
    for (payload, size) in cases {
        let kind = payload.kind().as_str();
        let rec = RecordBody {
            index: 5,
            time_ms: 1,
            origin: ORIGIN.into(),
            signer: k.key_id(),
            payload,
        }
        .sign(&k)
        .unwrap();
        assert_eq!(rec.bytes().len(), size, "{kind} v{}", rec.bytes()[0]);
        assert_eq!(Record::decode(rec.bytes()).unwrap(), rec);
    }
    // u16 is 2 bytes, big-endian: the reason length 300 is 0x01 0x2c, right
    // before the reason (the last field of a version 1 access body).
    let rec = RecordBody {
        index: 5,
        time_ms: 1,
        origin: ORIGIN.into(),
        signer: k.key_id(),
        payload: Payload::Access(Access {
            about,
            reason,
            sealed: None,
        }),
    }
    .sign(&k)
    .unwrap();
    let b = rec.body_bytes();
    assert_eq!(&b[b.len() - 302..b.len() - 300], &[0x01, 0x2c]);
}

// ---------------------------------------------------------------------------
// §4.7: an actor key is the canonical encoding of a point not of small order.

/// A vkey (§3.4) for raw key bytes, valid or not as a point.
fn raw_vkey(name: &str, key: &[u8; 32]) -> String {
    use base64::Engine as _;
    let mut m = vec![0x01];
    m.extend_from_slice(key);
    format!(
        "{name}+{}+{}",
        KeyId::compute(name, 0x01, key),
        base64::engine::general_purpose::STANDARD.encode(m)
    )
}

#[test]
fn actor_key_must_be_a_canonical_point_not_of_small_order() {
    let identity = {
        let mut k = [0u8; 32];
        k[0] = 1;
        k
    };
    let order_4 = [0u8; 32]; // y = 0: a point of order 4
    let not_on_curve = {
        let mut k = [0u8; 32];
        k[0] = 2;
        k
    };
    // y = 3 is a point of large order; 3 + p = 2^255 - 16 encodes it again.
    let non_canonical = {
        let mut k = [0xffu8; 32];
        k[0] = 0xf0;
        k[31] = 0x7f;
        k
    };
    let mut canonical_3 = [0u8; 32];
    canonical_3[0] = 3;
    assert!(valid_actor_key(&canonical_3));
    // A decoder that reduces y mod p (ed25519-dalek's, Go's) takes 3 + p
    // for the point y = 3, which is of large order: only the canonical
    // check refuses it.
    let p = curve25519_dalek::edwards::CompressedEdwardsY(non_canonical)
        .decompress()
        .expect("y = 3 + p decodes");
    assert!(!p.is_small_order());
    assert_eq!(p.compress().to_bytes(), canonical_3);
    let bad = [identity, order_4, not_on_curve, non_canonical];
    for k in &bad {
        assert!(!valid_actor_key(k), "{k:?}");
    }
    let f = Fixture::with_samples();
    let before = f.snapshot();
    for (n, k) in bad.iter().enumerate() {
        let r = f.run(&[
            "actor",
            "add",
            &format!("bad{n}"),
            &raw_vkey(&format!("dropsite.example/bad{n}"), k),
            "--role",
            "journalist",
        ]);
        r.code(ERROR);
        f.assert_unchanged(&before);
    }
    // Forged (as a version 2 add), each is an actor_change finding: the
    // actor is not added.
    let (sk, id) = admin(&f);
    let mut forged = Vec::new();
    for (n, k) in bad.iter().enumerate() {
        let details = add_details(&f, &format!("bad{n}"));
        forged.push(forge(&f, &sk, id, sealed_add(k, details)));
    }
    let want: Vec<(u64, &str)> = forged.iter().map(|&i| (i, "actor_change")).collect();
    only(&f.verify(&[]).1, &want);
}

// ---------------------------------------------------------------------------
// §4.7: a version 1 revoke repeats the current key's name.

#[test]
fn a_revoke_repeats_the_key_name() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let vera = SignerKey::generate("dropsite.example/vera").unwrap();
    let change = |action, key_name: &str, reason: &str| {
        Payload::Actor(ActorChange {
            action,
            name: "vera".into(),
            role: Role::Journalist,
            key_name: key_name.into(),
            key: vera.public_bytes(),
            reason: reason.into(),
            sealed: None,
        })
    };
    let add = forge(&f, &k, id, change(ActorAction::Add, vera.name(), ""));
    // Same key, another key name: another key ID. No effect.
    let wrong = forge(
        &f,
        &k,
        id,
        change(ActorAction::Revoke, "dropsite.example/not-vera", "left"),
    );
    // vera still signs.
    let before_revoke = forge(
        &f,
        &vera,
        vera.key_id(),
        Payload::Access(Access {
            about: doc_ref(&f, DOC),
            reason: "still here".into(),
            sealed: None,
        }),
    );
    let right = forge(&f, &k, id, change(ActorAction::Revoke, vera.name(), "left"));
    let after = forge(
        &f,
        &vera,
        vera.key_id(),
        Payload::Access(Access {
            about: doc_ref(&f, DOC),
            reason: "after".into(),
            sealed: None,
        }),
    );
    let (_, v) = f.verify(&[]);
    only(&v, &[(wrong, "actor_change"), (after, "actor_revoked")]);
    for i in [add, before_revoke, right] {
        assert!(on(&v, i).is_empty(), "{i}: {v}");
    }
}

// ---------------------------------------------------------------------------
// §4.7: one key ID, one key.

/// Two seeds whose keys have the same version 2 actor key ID (22e9da57),
/// found by a birthday search over `SHA-256("custody-conformance-collision-N")`.
fn colliding() -> (SignerKey, SignerKey) {
    let seed = |n: u32| Digest::of(format!("custody-conformance-collision-{n}").as_bytes()).0;
    let a = SignerKey::from_seed("dropsite.example/anna", &seed(39328)).unwrap();
    let b = SignerKey::from_seed("dropsite.example/bert", &seed(69011)).unwrap();
    assert_ne!(a.public_bytes(), b.public_bytes());
    assert_eq!(
        actor_key_id(&a.public_bytes()),
        actor_key_id(&b.public_bytes())
    );
    assert_eq!(actor_key_id(&a.public_bytes()).to_string(), "22e9da57");
    (a, b)
}

#[test]
fn two_actor_keys_with_one_key_id_are_refused() {
    let (anna, bert) = colliding();
    let f = Fixture::with_samples();
    let anna_at = f.records();
    f.run(&[
        "actor",
        "add",
        "anna",
        &anna.verifier().encode(),
        "--role",
        "editor",
    ])
    .ok();
    let before = f.snapshot();
    f.run(&[
        "actor",
        "add",
        "bert",
        &bert.verifier().encode(),
        "--role",
        "editor",
    ])
    .code(ERROR);
    f.assert_unchanged(&before);
    // Forged, the second key is an actor_change finding and signs nothing.
    let (k, id) = admin(&f);
    let details = add_details(&f, "bert");
    let mut add = sealed_add(&bert.public_bytes(), details);
    if let Payload::Actor(a) = &mut add {
        a.role = Role::Editor;
    }
    let bert_at = forge(&f, &k, id, add);
    let by_bert = forge(
        &f,
        &bert,
        actor_key_id(&bert.public_bytes()),
        Payload::Approve(Approve {
            about: doc_ref(&f, DOC),
            purpose: Purpose::Publication,
        }),
    );
    let by_anna = forge(
        &f,
        &anna,
        actor_key_id(&anna.public_bytes()),
        Payload::Approve(Approve {
            about: doc_ref(&f, DOC),
            purpose: Purpose::Publication,
        }),
    );
    let (_, v) = f.verify(&[]);
    only(
        &v,
        &[(bert_at, "actor_change"), (by_bert, "record_signature")],
    );
    assert!(on(&v, by_anna).is_empty(), "{v}");
    assert!(anna_at < bert_at);
}

// ---------------------------------------------------------------------------
// §4.11: every purpose but 0x01 is reserved.

#[test]
fn reserved_approval_purposes_are_record_decode() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let approve = Payload::Approve(Approve {
        about: doc_ref(&f, DOC),
        purpose: Purpose::Publication,
    });
    let mut bad = Vec::new();
    for purpose in [0x00u8, 0x02, 0xff] {
        let b = body_ending_with(&f, id, approve.clone(), &[purpose]);
        bad.push(forge_raw(&f, &k, &b));
    }
    let want: Vec<(u64, &str)> = bad.iter().map(|&i| (i, "record_decode")).collect();
    only(&f.verify(&[]).1, &want);
}

// ---------------------------------------------------------------------------
// §4.12: a version 1 grant's name has the syntax of an actor's name.

#[test]
fn a_grant_name_outside_the_actor_name_syntax_is_record_decode() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let mut bad = Vec::new();
    for name in ["Vera", "#3", "-x", ".x", "a b", "vé"] {
        let placeholder = "x".repeat(name.len());
        let g = Payload::Grant(Grant {
            about: doc_ref(&f, DOC),
            actor: GrantTo::Name(placeholder),
        });
        let b = body_ending_with(&f, id, g, name.as_bytes());
        bad.push(forge_raw(&f, &k, &b));
    }
    let long = "a".repeat(65);
    let g = Payload::Grant(Grant {
        about: doc_ref(&f, DOC),
        actor: GrantTo::Name(long),
    });
    let b = body(&f, id, g).encode();
    bad.push(forge_raw(&f, &k, &b));
    let want: Vec<(u64, &str)> = bad.iter().map(|&i| (i, "record_decode")).collect();
    only(&f.verify(&[]).1, &want);
}

// ---------------------------------------------------------------------------
// §5.2, §10.3: the JSON rules, and the exit code of a malformed envelope.

/// Variants of a JSON object's text that the rules of FORMAT.md §5.2 refuse.
fn json_forgeries(json: &str, member: &str) -> Vec<(&'static str, String)> {
    let v: Value = serde_json::from_str(json).unwrap();
    let mut missing = v.clone();
    missing.as_object_mut().unwrap().remove(member);
    let mut null = v.clone();
    null["note"] = Value::Null;
    let mut negative = v.clone();
    negative["size"] = serde_json::json!(-1);
    let mut float = v.clone();
    float["size"] = serde_json::json!(3.0);
    vec![
        ("bom", format!("\u{feff}{json}")),
        (
            "duplicate",
            json.replacen(r#"{"v":1,"#, r#"{"v":1,"v":1,"#, 1),
        ),
        ("missing", missing.to_string()),
        ("null", null.to_string()),
        ("negative", negative.to_string()),
        ("float", float.to_string()),
        (
            "too-large",
            json.replacen(
                &format!(r#""size":{}"#, v["size"]),
                r#""size":18446744073709551616"#,
                1,
            ),
        ),
        ("v2", json.replacen(r#"{"v":1,"#, r#"{"v":2,"#, 1)),
    ]
}

#[test]
fn json_envelopes_are_strict() {
    // Metadata entries (§5.2) and notes (§4.10), as parsed.
    let m = Metadata {
        v: 1,
        path: "leak/memo.pdf".into(),
        name: "memo.pdf".into(),
        size: 3,
        sha256: Digest::of(b"abc"),
        salt: Digest([7; 32]),
        media_type: "application/pdf".into(),
        source: None,
        case: None,
        note: None,
    };
    let j = String::from_utf8(m.to_json()).unwrap();
    assert!(j.starts_with(r#"{"v":1,"#), "{j}");
    assert!(Metadata::from_json(j.as_bytes()).is_ok());
    for (what, bad) in json_forgeries(&j, "media_type") {
        assert!(
            Metadata::from_json(bad.as_bytes()).is_err(),
            "{what}: {bad}"
        );
    }
    assert!(NoteEnvelope::from_json(br#"{"v":1,"text":"a","v":1}"#).is_err());
    // In a bundle (§10.3): each is a commitment finding (exit 1) with the
    // partner's identity, and passes the checks that need no key.
    let b = Bundles::new();
    let gid = b.gu.identity();
    for (what, bad) in json_forgeries(&b.envelope, "media_type") {
        assert!(
            ShareEnvelope::from_json(bad.as_bytes()).is_err(),
            "{what}: {bad}"
        );
        let bundle = b.forged(what, bad.as_bytes());
        let (code, v) = b.verify(&bundle, &gid);
        assert_eq!(code, FINDING, "{what}: {v}");
        assert_eq!(bundle_checks(&v), ["commitment"], "{what}: {v}");
        let mut c = custody();
        c.arg("verify-bundle").arg(&bundle).args(b.trust());
        run(c).ok();
    }
    // An identity that decrypts no envelope is an error (exit 2), not a finding.
    let (code, _) = b.verify(&b.bundle, &b.ds.identity());
    assert_eq!(code, ERROR);
}

// ---------------------------------------------------------------------------
// §5.2: `name` is the last component of `path`.

#[test]
fn name_must_be_the_last_component_of_path() {
    let f = Fixture::with_samples();
    let (_, entry) = entry_of(&f, DOC);
    let m = Metadata::from_json(entry.as_bytes()).unwrap();
    assert_eq!(m.path.rsplit('/').next(), Some(m.name.as_str()));
    let renamed = entry.replace(
        &format!(r#""name":"{}""#, m.name),
        r#""name":"invoice.pdf""#,
    );
    assert_ne!(renamed, entry);
    let bad = forge_with_envelope(&f, DOC, renamed.as_bytes());
    only(&deep(&f), &[(bad, "metadata_decrypt")]);
}

// ---------------------------------------------------------------------------
// §5.3: unknown recipient fingerprints.

#[test]
fn unknown_recipient_fingerprints_are_checked_only_against_the_configuration() {
    // An archive made before separation of duties: no configuration record,
    // so the fingerprints are not checked.
    let f = Fixture::uninit();
    copy_dir(&repo().join("tests/data/archive-v1"), &f.dir);
    let log = key_of(&f.signing_key());
    let first = (0..next_index(&f))
        .map(|i| record_at(&f, i))
        .find(|r| r.ingest().is_some())
        .unwrap();
    let mut ing = first.ingest().unwrap().clone();
    ing.recipients = vec![Digest([0x42; 32])];
    let i = forge(&f, &log, log.key_id(), Payload::Ingest(ing.clone()));
    let v = deep(&f);
    only(&v, &[]);
    assert!(on(&v, i).is_empty());
    // A configured archive: the document record must list the configuration's.
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let (mut ing, _) = entry_of(&f, DOC);
    ing.recipients.push(Digest([0xff; 32]));
    let i = forge(&f, &k, id, Payload::Ingest(ing));
    only(&f.verify(&[]).1, &[(i, "recipients")]);
}

// ---------------------------------------------------------------------------
// §4.2: time_ms that goes backwards.

#[test]
fn time_that_goes_backwards_is_not_a_verify_finding_but_an_audit_gap() {
    let f = Fixture::with_samples();
    let (k, id) = admin(&f);
    let mut b = body(
        &f,
        id,
        Payload::Access(Access {
            about: doc_ref(&f, DOC),
            reason: "dated 1970".into(),
            sealed: None,
        }),
    );
    b.time_ms = 1_000;
    let i = b.index;
    let rec = b.sign(&k).unwrap();
    f.append_record(&rec);
    f.run(&["checkpoint", "--sign"]).ok();
    f.assert_verified();
    let r = f.run(&["audit", &DOC.to_string(), "--format", "json"]);
    r.code(FINDING);
    let v = r.json();
    let gaps: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["check"] == "custody_gap")
        .collect();
    assert_eq!(gaps.len(), 1, "{v}");
    assert_eq!(gaps[0]["subject"]["id"], i, "{v}");
}
