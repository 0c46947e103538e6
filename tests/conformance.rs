//! The conformance kit (issue 16, item 3): `tests/data/conformance/` holds
//! inputs (archives, tlog-proofs, bundles, split-view evidence) and the
//! verdict custody reaches on each, valid or the findings: the test vectors
//! an implementer of docs/FORMAT.md runs (FORMAT.md §14,
//! tests/data/conformance/README.md).
//!
//! * `every_case_of_the_kit_gets_its_verdict` runs custody on every case of
//!   every area the index `tests/data/conformance/cases.json` lists, from the
//!   committed files only, and checks the exit code and the exact set of
//!   checks of the `--json` output (for archives, also which records the
//!   findings name).
//! * `kit_is_generated_from_the_test_keys` generates the areas `records/`,
//!   `bundles/` and `evidence/` again (`proofs/` is made by
//!   tests/conformance_proofs.rs) in a temporary directory, from the test
//!   keys of keys-example/ and the committed archives tests/data/archive-v1
//!   and tests/data/archive-v2, and checks that the committed kit is what
//!   the generator makes. Age encryption is randomized, so a file that holds
//!   or names a new age file (a blob, an envelope, a bundle, a record naming
//!   one) cannot be made again byte for byte: the test compares the
//!   `cases.json` files byte for byte, the files of the areas (blobs counted,
//!   their random names aside), byte for byte every file the generator makes
//!   deterministically (marked so by the generator: forged records that name
//!   no new blob are signed with fixed times by the test keys, whose Ed25519
//!   signatures are deterministic), and runs every case on the regenerated
//!   files, which must give the same verdicts. After a deliberate change:
//!
//! ```sh
//! CUSTODY_REGENERATE_KIT=1 cargo test --test conformance kit_is_generated
//! ```

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::*;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use custody::core::bundle::{read_head, write_head, BundleHead};
use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
use custody::core::crypto::{self, Identities, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::{KeyId, SignerKey};
use custody::core::merkle::{self, MemoryTree, TreeSize};
use custody::core::meta::{self, Metadata};
use custody::core::record::{
    actor_key_id, Access, ActorAction, ActorChange, Annotate, Approve, Grant, GrantTo, Ingest,
    Payload, Purpose, Record, RecordBody, Role, Sealed, SealedActor, Share,
};
use custody::core::tlog_proof::TlogProof;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha512};

const ORIGIN: &str = "dropsite.example/leaks";

/// The areas this file generates (`proofs/` is tests/conformance_proofs.rs's).
const GENERATED: [&str; 3] = ["records", "bundles", "evidence"];

/// `time_ms` of the first forged record: just after the last record of
/// tests/data/archive-v2 (2026-12-07T03:45:57Z); each forged record is dated
/// one second per index later.
const T0: u64 = 1_796_615_200_000;

/// The cosignature timestamp of the generated cosignatures.
const COSIGNED_AT: u64 = 1_796_615_300;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn kit_root() -> PathBuf {
    repo().join("tests/data/conformance")
}

fn key_of(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// A key of its own for an actor the generator adds: the same every run.
fn seeded(name: &str) -> SignerKey {
    let seed = Digest::of(format!("custody-conformance-{name}").as_bytes()).0;
    SignerKey::from_seed(&format!("dropsite.example/{name}"), &seed).unwrap()
}

// ---------------------------------------------------------------------------
// Cases and manifests.

/// One case: a custody command on files of the kit and the verdict it gives.
#[derive(Clone)]
struct Case {
    name: String,
    /// The point of issue 16, item 1 it settles (or what it is a baseline of).
    point: &'static str,
    /// The sections of FORMAT.md that decide it.
    format: &'static str,
    description: String,
    /// For an archive case: its directory in the area.
    archive: Option<String>,
    command: Vec<String>,
    exit: i32,
    /// The set of check names of the findings.
    checks: Vec<String>,
    /// For an archive case: the exact set of (check, record) of the findings.
    findings: Option<Vec<(String, Option<u64>)>>,
    /// Checks custody may report besides, about its own index (§7.2),
    /// which the kit does not hold: no part of the verdict.
    custody_only: Vec<&'static str>,
    /// Members the `--json` output must have.
    json: Value,
}

impl Case {
    fn new(name: &str, point: &'static str, format: &'static str, what: &str) -> Case {
        Case {
            name: name.into(),
            point,
            format,
            description: what.into(),
            archive: None,
            command: Vec::new(),
            exit: OK,
            checks: Vec::new(),
            findings: None,
            custody_only: Vec::new(),
            json: json!({}),
        }
    }

    /// `custody -A {archive} ARGS…` on the archive directory `archive`.
    fn on(mut self, archive: &str, args: &[&str]) -> Case {
        self.archive = Some(archive.into());
        self.command = ["-A", "{archive}"]
            .iter()
            .chain(args)
            .map(|a| a.to_string())
            .collect();
        self
    }

    /// `custody ARGS…`.
    fn run(mut self, args: &[&str]) -> Case {
        self.command = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// The findings, each naming a record: exit 1, or 0 when there is none.
    fn finds(mut self, findings: &[(&str, u64)]) -> Case {
        let mut f: Vec<(String, Option<u64>)> = findings
            .iter()
            .map(|(c, i)| (c.to_string(), Some(*i)))
            .collect();
        f.sort();
        f.dedup();
        self.exit = if f.is_empty() { OK } else { FINDING };
        self.checks = f.iter().map(|(c, _)| c.clone()).collect();
        self.checks.sort();
        self.checks.dedup();
        // custody does not index an archive past a record that does not
        // decode (FORMAT.md §7.2.5): its index then disagrees with the ledger.
        if self.checks.iter().any(|c| c == "record_decode") {
            self.custody_only = vec!["index_mismatch"];
        }
        self.findings = Some(f);
        self
    }

    /// Exit `exit` with findings of these checks.
    fn fails(mut self, exit: i32, checks: &[&str]) -> Case {
        self.exit = exit;
        self.checks = checks.iter().map(|c| c.to_string()).collect();
        self.checks.sort();
        self.checks.dedup();
        self
    }

    fn json(mut self, v: Value) -> Case {
        self.json = v;
        self
    }

    fn manifest(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "point": self.point,
            "format": self.format,
            "description": self.description,
            "command": self.command,
            "exit": self.exit,
            "checks": self.checks,
            "json": self.json,
        });
        if let Some(a) = &self.archive {
            v["archive"] = json!(a);
        }
        if !self.custody_only.is_empty() {
            v["custody_only"] = json!(self.custody_only);
        }
        if let Some(f) = &self.findings {
            v["findings"] = f
                .iter()
                .map(|(c, r)| json!({"check": c, "record": r}))
                .collect();
        }
        v
    }
}

const ABOUT: [(&str, &str); 3] = [
    (
        "records",
        "custody conformance cases for records and envelopes (FORMAT.md §4, §5): archive directories, each checked with `custody -A {archive} verify` (or `audit`); see README.md",
    ),
    (
        "bundles",
        "custody conformance cases for bundles (FORMAT.md §10): the share envelope's JSON rules, the first hop of a derived document, the witness quorum per hop; see README.md",
    ),
    (
        "evidence",
        "custody conformance cases for split-view evidence (FORMAT.md §11.4), checked with `custody verify-evidence`; see README.md",
    ),
];

fn manifest_bytes(area: &str, cases: &[Case]) -> Vec<u8> {
    let about = ABOUT.iter().find(|(a, _)| *a == area).unwrap().1;
    let mut out = serde_json::to_vec_pretty(&json!({
        "about": about,
        "cases": cases.iter().map(Case::manifest).collect::<Vec<_>>(),
    }))
    .unwrap();
    out.push(b'\n');
    out
}

/// The index of the kit: its areas and how a case runs.
fn index_bytes() -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(&json!({
        "about": "custody's conformance kit: inputs and the verdict a verifier written from docs/FORMAT.md must reach on each (FORMAT.md §14). TEST-ONLY: every signature is made with the published keys of keys-example/ and tests/data/archive-v*-keys/. See README.md.",
        "run": "custody COMMAND… --json, with the placeholders of `command` replaced; the exit code must be `exit` (0 valid, 1 findings, 2 the command could not judge) and, unless it is 2, the set of check names of the output's findings must be `checks` (and, where given, the set of (check, record) must be `findings`)",
        "placeholders": {
            "{kit}": "the area's directory, e.g. tests/data/conformance/records",
            "{archive}": "a copy of the case's `archive` directory in the area (custody writes its index and lock into an archive it opens)",
            "{keys}": "keys-example/ (custody refuses secret key files readable by others: use a copy whose secret files are mode 0600)",
            "{data}": "tests/data/",
        },
        "areas": [
            {"dir": "proofs", "cases": "proofs/cases.json", "generator": "tests/conformance_proofs.rs", "what": "tlog-proofs, checkpoints, cosignatures and the evidence of bundles (§3.9, §8, §10.2, §10.4)"},
            {"dir": "records", "cases": "records/cases.json", "generator": "tests/conformance.rs", "what": "archives: records and the envelopes they commit to (§4, §5)"},
            {"dir": "bundles", "cases": "bundles/cases.json", "generator": "tests/conformance.rs", "what": "bundles: share envelopes, hops, quorums (§10)"},
            {"dir": "evidence", "cases": "evidence/cases.json", "generator": "tests/conformance.rs", "what": "split-view evidence (§11.4)"},
        ],
    }))
    .unwrap();
    out.push(b'\n');
    out
}

/// What the generator makes.
#[derive(Default)]
struct Kit {
    /// Files, by their path relative to tests/data/conformance.
    files: BTreeMap<String, Vec<u8>>,
    /// The files made byte for byte the same on every run.
    exact: BTreeSet<String>,
    cases: BTreeMap<&'static str, Vec<Case>>,
}

impl Kit {
    fn file(&mut self, area: &str, name: &str, bytes: Vec<u8>, exact: bool) {
        let p = format!("{area}/{name}");
        assert!(!self.files.contains_key(&p), "{p} made twice");
        if exact {
            self.exact.insert(p.clone());
        }
        self.files.insert(p, bytes);
    }

    fn case(&mut self, area: &'static str, c: Case) {
        self.cases.entry(area).or_default().push(c);
    }

    /// Takes the evidence files of the working archive `f` (after a
    /// checkpoint of all its records, signed by the log key if custody did
    /// not sign one) as `records/NAME/`.
    fn archive(&mut self, name: &str, f: &Fixture, exact: bool) {
        sign_checkpoint(f);
        for (rel, bytes) in archive_files(f) {
            self.file("records", &format!("{name}/{rel}"), bytes, exact);
        }
    }

    /// Every file the kit holds, the manifests and the index included.
    fn all_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut all = self.files.clone();
        for (area, cases) in &self.cases {
            all.insert(format!("{area}/cases.json"), manifest_bytes(area, cases));
        }
        all.insert("cases.json".into(), index_bytes());
        all
    }
}

/// The files of an archive a verifier reads (FORMAT.md §7: the evidence
/// files and custody.toml without its local paths), by relative path.
fn archive_files(f: &Fixture) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let toml = fs::read_to_string(f.dir.join("custody.toml")).unwrap();
    out.insert("custody.toml".into(), strip_local(&toml).into_bytes());
    for l in ["records", "checkpoints", "cosignatures"] {
        let p = f.ledger(l);
        if p.is_file() && fs::metadata(&p).unwrap().len() > 0 {
            out.insert(format!("ledger/{l}"), fs::read(&p).unwrap());
        }
    }
    for e in fs::read_dir(f.dir.join("blobs")).unwrap() {
        let e = e.unwrap();
        let shard = e.file_name().into_string().unwrap();
        if shard.len() != 2 || !e.file_type().unwrap().is_dir() {
            continue;
        }
        for b in fs::read_dir(e.path()).unwrap() {
            let b = b.unwrap();
            let n = b.file_name().into_string().unwrap();
            out.insert(format!("blobs/{shard}/{n}"), fs::read(b.path()).unwrap());
        }
    }
    let ev = f.dir.join("evidence");
    if ev.is_dir() {
        for e in fs::read_dir(&ev).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                let n = e.file_name().into_string().unwrap();
                out.insert(format!("evidence/{n}"), fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// custody.toml without the keys that name files of the machine that made
/// it (`signing_key`, `key`, `identity`: all optional, FORMAT.md §7.4).
fn strip_local(toml: &str) -> String {
    toml.lines()
        .filter(|l| {
            let k = l.split('=').next().unwrap().trim();
            !matches!(k, "signing_key" | "key" | "identity")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

// ---------------------------------------------------------------------------
// Working archives and forged records.

/// A working copy of tests/data/archive-v1 or -v2 (made with the dropsite
/// keys), its custody.toml naming the fixture's copies of those keys.
fn working_copy(src: &str) -> Fixture {
    let f = Fixture::uninit();
    copy_dir(&repo().join("tests/data").join(src), &f.dir);
    let toml = f.dir.join("custody.toml");
    let mut text = strip_local(&fs::read_to_string(&toml).unwrap());
    // Top-level keys (the file has no table).
    text = format!(
        "signing_key = {:?}\nkey = {:?}\n{text}",
        s(&f.signing_key()),
        s(&f.admin_key())
    );
    fs::write(&toml, text).unwrap();
    f
}

/// The records of `ledger/records`, as framed (some may not decode).
fn raw_records(f: &Fixture) -> Vec<Vec<u8>> {
    let b = fs::read(f.ledger("records")).unwrap();
    frames(&b)
        .into_iter()
        .map(|(o, l)| b[o + 4..o + 4 + l].to_vec())
        .collect()
}

fn record_at(f: &Fixture, index: u64) -> Record {
    Record::decode(&raw_records(f)[index as usize]).unwrap()
}

fn next_index(f: &Fixture) -> u64 {
    raw_records(f).len() as u64
}

/// Appends a checkpoint of every record, signed by the log key, unless the
/// latest checkpoint has them all.
fn sign_checkpoint(f: &Fixture) {
    let records = raw_records(f);
    let cps = fs::read(f.ledger("checkpoints")).unwrap();
    let latest = frames(&cps)
        .last()
        .map(|(o, l)| {
            SignedCheckpoint::parse(&cps[o + 4..o + 4 + l])
                .unwrap()
                .checkpoint()
                .size
        })
        .unwrap_or(0);
    if latest == records.len() as u64 {
        return;
    }
    let tree = MemoryTree::from_leaf_hashes(records.iter().map(|r| merkle::leaf_hash(r)));
    let c = Checkpoint::new(ORIGIN, records.len() as u64, tree.root()).unwrap();
    let note = SignedCheckpoint::sign(&c, &key_of(&f.signing_key()))
        .unwrap()
        .encode();
    let mut out = cps;
    out.extend_from_slice(&(note.len() as u32).to_be_bytes());
    out.extend_from_slice(note.as_bytes());
    fs::write(f.ledger("checkpoints"), out).unwrap();
}

/// The archive's first administrator (keys-example/dropsite/admin.key) and
/// the key ID its records carry: the actor key ID if record 0 added it by a
/// version 2 record, else its own (FORMAT.md §4.16).
fn admin(f: &Fixture) -> (SignerKey, KeyId) {
    let k = key_of(&f.admin_key());
    let id = match &record_at(f, 0).body.payload {
        Payload::Actor(a) if a.sealed.is_some() => actor_key_id(&k.public_bytes()),
        _ => k.key_id(),
    };
    (k, id)
}

fn body(f: &Fixture, signer: KeyId, payload: Payload) -> RecordBody {
    let index = next_index(f);
    RecordBody {
        index,
        time_ms: T0 + 1000 * index,
        origin: ORIGIN.into(),
        signer,
        payload,
    }
}

/// Signs and appends a record body; returns its index.
fn forge_body(f: &Fixture, key: &SignerKey, mut b: RecordBody) -> u64 {
    let i = b.index;
    b.place(i);
    let rec = b.sign(key).unwrap();
    f.append_record(&rec);
    i
}

fn forge(f: &Fixture, key: &SignerKey, signer: KeyId, payload: Payload) -> u64 {
    forge_body(f, key, body(f, signer, payload))
}

/// Signs `body_bytes` as they are (whatever they say) and appends the
/// record, as a rogue tool holding `key` would.
fn forge_raw(f: &Fixture, key: &SignerKey, body_bytes: &[u8]) -> u64 {
    append_signed(
        f,
        body_bytes,
        &key.sign(&RecordBody::signed_message(body_bytes)),
    )
}

/// Appends the record `body_bytes || signature`.
fn append_signed(f: &Fixture, body_bytes: &[u8], signature: &[u8; 64]) -> u64 {
    let i = next_index(f);
    let mut bytes = body_bytes.to_vec();
    bytes.extend_from_slice(signature);
    let mut all = fs::read(f.ledger("records")).unwrap();
    all.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    all.extend_from_slice(&bytes);
    fs::write(f.ledger("records"), all).unwrap();
    i
}

/// The encoded body of `payload` with the bytes that end it (a reason, a
/// name, a purpose) replaced by `tail` (of the length the encoder wrote).
fn body_ending_with(f: &Fixture, signer: KeyId, payload: Payload, tail: &[u8]) -> Vec<u8> {
    let mut b = body(f, signer, payload).encode();
    let n = b.len();
    b[n - tail.len()..].copy_from_slice(tail);
    b
}

fn recipients(keys: &Path) -> Vec<RecipientKey> {
    fs::read_to_string(keys.join("recipient.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| RecipientKey::parse(l).unwrap())
        .collect()
}

fn identities(keys: &Path) -> Identities {
    Identities::parse(&fs::read(keys.join("identity.age")).unwrap()).unwrap()
}

/// Encrypts `plain` to the archive's recipient and stores it as a blob.
fn put_blob(f: &Fixture, plain: &[u8]) -> Sealed {
    let enc = crypto::encrypt_bytes(&recipients(&f.keys), plain).unwrap();
    let d = Digest::of(&enc);
    let p = f.blob_path(&d.to_hex());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, &enc).unwrap();
    Sealed {
        digest: d,
        size: enc.len() as u64,
    }
}

fn doc_ref(f: &Fixture, index: u64) -> custody::core::record::DocRef {
    custody::core::record::DocRef {
        document: index,
        commitment: *record_at(f, index).commitment().unwrap(),
    }
}

/// A document record's ingest fields and its metadata entry (§5.2) as JSON.
fn entry_of(f: &Fixture, index: u64) -> (Ingest, String) {
    let ing = record_at(f, index).document().unwrap().clone();
    let data = fs::read(f.blob_path(&ing.meta.to_hex())).unwrap();
    let plain = crypto::decrypt_bytes(&identities(&f.keys), &data, meta::MAX_META_LEN).unwrap();
    let m = meta::open_envelope(&plain, &ing.commitment).unwrap();
    (ing, String::from_utf8(m.to_json()).unwrap())
}

/// Appends an ingest record storing the document of record `index` again
/// (same blob, same commitment) with the metadata envelope `plain`.
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

/// A version 2 `add` of `key` with the sealed `details`.
fn sealed_add(key: &[u8; 32], role: Role, details: Sealed) -> Payload {
    Payload::Actor(ActorChange {
        action: ActorAction::Add,
        name: String::new(),
        role,
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

/// A version 1 actor change of `name` to `key` (named in clear).
fn v1_change(action: ActorAction, name: &str, key: &SignerKey, reason: &str) -> Payload {
    Payload::Actor(ActorChange {
        action,
        name: name.into(),
        role: Role::Journalist,
        key_name: key.name().into(),
        key: key.public_bytes(),
        reason: reason.into(),
        sealed: None,
    })
}

fn v1_access(f: &Fixture, reason: &str) -> Payload {
    Payload::Access(Access {
        about: doc_ref(f, DOC),
        reason: reason.into(),
        sealed: None,
    })
}

/// The first document of tests/data/archive-v2 (`memo-one.txt`, by alice).
const DOC: u64 = 5;

/// `verify --deep` with the archive's identity.
const DEEP: [&str; 4] = ["verify", "--deep", "-i", "{keys}/dropsite/identity.age"];

// ---------------------------------------------------------------------------
// records/: archives.

fn records(k: &mut Kit) {
    // The baseline: archive-v2 as committed, which every exact case extends.
    let f = working_copy("archive-v2");
    k.archive("valid", &f, true);
    k.case(
        "records",
        Case::new(
            "valid",
            "baseline",
            "§4, §7",
            "tests/data/archive-v2 (12 records: actor, config, ingest, access, grant, approve, share of version 1): valid",
        )
        .on("valid", &["verify"])
        .finds(&[]),
    );
    k.case(
        "records",
        Case::new(
            "valid-deep",
            "baseline",
            "§5, §6",
            "the same with --deep and the archive's identity: every blob decrypts, every commitment opens",
        )
        .on("valid", &DEEP)
        .finds(&[]),
    );

    share_of_derive(k);
    share_of_non_document(k);
    share_details(k);
    access_reasons(k);
    actor_reasons(k);
    grants(k);
    rewraps(k);
    uppercase_hex(k);
    two_entries(k);
    note_order(k);
    actor_keys(k);
    revoke_key_name(k);
    key_id_collision(k);
    purposes(k);
    grant_names(k);
    metadata_json(k);
    name_path(k);
    unknown_recipients(k);
    time_backwards(k);
    ed25519(k);
    every_kind(k);
}

/// §4.5: a share names an ingest, receive or derive record.
fn share_of_derive(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let gu = Fixture::uninit_as("guardian");
    let file = f.path().join("memo-en.txt");
    fs::write(&file, b"memo one, in English\n").unwrap();
    f.json(&[
        "derive",
        &DOC.to_string(),
        s(&file),
        "--relation",
        "translation",
    ]);
    let derived = next_index(&f) - 1;
    assert_eq!(
        record_at(&f, derived).body.payload.kind().as_str(),
        "derive"
    );
    let bundle = f.path().join("share.bundle");
    f.share_to(&derived.to_string(), &gu, &bundle);
    k.archive("share-of-derive", &f, false);
    k.case(
        "records",
        Case::new(
            "share-of-derive",
            "§4.5: share of a derive record",
            "§4.5",
            &format!(
                "record {derived} derives a translation of document 5, record {} shares it: valid",
                derived + 1
            ),
        )
        .on("share-of-derive", &DEEP)
        .finds(&[]),
    );
    k.file(
        "bundles",
        "share-of-derive.bundle",
        fs::read(&bundle).unwrap(),
        false,
    );
    k.case(
        "bundles",
        Case::new(
            "share-of-derive-bundle",
            "§4.5: share of a derive record",
            "§4.5, §10.4",
            "the bundle of the share of records/share-of-derive (its first hop starts at the derive record), with the Guardian's identity: valid",
        )
        .run(&[
            "verify-bundle",
            "{kit}/share-of-derive.bundle",
            "--trust",
            "{keys}/dropsite/signing.vkey",
            "-i",
            "{keys}/guardian/identity.age",
        ]),
    );
}

fn share_of_non_document(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let i = forge(
        &f,
        &key,
        id,
        Payload::Share(Share {
            document: 0,
            commitment: doc_ref(&f, DOC).commitment,
            payload: Digest([1; 32]),
            payload_size: 1,
            envelope: Digest([2; 32]),
            recipients: vec![Digest([3; 32])],
            sealed: None,
        }),
    );
    k.archive("share-of-non-document", &f, true);
    k.case(
        "records",
        Case::new(
            "share-of-non-document",
            "§4.5: share of a derive record",
            "§4.5, §4.14",
            &format!(
                "record {i}, a version 1 share whose `document` is record 0 (an actor record)"
            ),
        )
        .on("share-of-non-document", &["verify"])
        .finds(&[("document_ref", i)]),
    );
}

/// §5.4: share details of version 1 and 2 (the partner's name, a note),
/// read strictly.
fn share_details(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let gu = recipients(&repo().join("keys-example/guardian"))[0].canonical();
    let base = format!(
        r#"{{"kind":"share","v":2,"recipients":["{gu}"],"partner":"guardian","note":"for the desk"}}"#
    );
    let forms = [
        base.clone(),
        format!(r#"{{"kind":"share","v":1,"recipients":["{gu}"]}}"#),
        base.replace(r#""v":2"#, r#""v":1"#),
        base.replace(r#""for the desk"}"#, r#""for the desk","desk":"gaza"}"#),
        base.replace(r#""for the desk""#, &format!(r#""{}""#, "x".repeat(1025))),
        base.replace(r#","partner":"guardian","note":"for the desk""#, ""),
        base.replace(r#""guardian""#, r#""The Guardian""#),
        base.replace(r#""guardian""#, "null"),
    ];
    let mut at = Vec::new();
    for (n, plain) in forms.iter().enumerate() {
        let sealed = put_blob(&f, plain.as_bytes());
        at.push(forge(
            &f,
            &key,
            id,
            Payload::Share(Share {
                document: DOC,
                commitment: doc_ref(&f, DOC).commitment,
                payload: Digest([0x50 + n as u8; 32]),
                payload_size: 4096,
                envelope: Digest([0x60 + n as u8; 32]),
                recipients: Vec::new(),
                sealed: Some(sealed),
            }),
        ));
    }
    k.archive("sealed-share-details", &f, false);
    k.case(
        "records",
        Case::new(
            "sealed-share-details",
            "§5.4: share details of version 2 (issue 19)",
            "§4.16, §5.4",
            &format!(
                "records {}: version 2 shares of document 5 whose sealed details are: v 2 with partner `guardian` and a note; v 1 (recipients only); v 1 with partner and note; an unknown member; a note of 1,025 bytes; v 2 with neither partner nor note; partner `The Guardian`; partner null. Without --deep nothing sealed is read: valid",
                join(&at)
            ),
        )
        .on("sealed-share-details", &["verify"])
        .finds(&[]),
    );
    k.case(
        "records",
        Case::new(
            "sealed-share-details-deep",
            "§5.4: share details of version 2 (issue 19)",
            "§4.16, §5.4",
            "the same with --deep: the first two are valid, each of the others breaks a rule",
        )
        .on("sealed-share-details", &DEEP)
        .finds(&at[2..].iter().map(|&i| ("sealed", i)).collect::<Vec<_>>()),
    );
}

/// §4.8: an access reason is UTF-8 without control characters but `\n`.
fn access_reasons(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let mut bad = Vec::new();
    for reason in ["a\u{1b}[2Jb", "a\u{7f}b", "a\u{85}b", "tab\there"] {
        let placeholder = "x".repeat(reason.len());
        let b = body_ending_with(&f, id, v1_access(&f, &placeholder), reason.as_bytes());
        bad.push(forge_raw(&f, &key, &b));
    }
    k.archive("access-reason-control", &f, true);
    k.case(
        "records",
        Case::new(
            "access-reason-control",
            "§4.8: access reason with a control character",
            "§4.1, §4.8",
            &format!(
                "records {}: version 1 access records whose reasons hold ESC (`a\\x1b[2Jb`), DEL, NEL (U+0085) and TAB",
                join(&bad)
            ),
        )
        .on("access-reason-control", &["verify"])
        .finds(&bad.iter().map(|&i| ("record_decode", i)).collect::<Vec<_>>()),
    );

    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let i = forge(&f, &key, id, v1_access(&f, "fact-check\nsecond line — é ✓"));
    k.archive("access-reason-newline", &f, true);
    k.case(
        "records",
        Case::new(
            "access-reason-newline",
            "§4.8: access reason with a control character",
            "§4.8",
            &format!("record {i}: a version 1 access whose reason is `fact-check\\nsecond line — é ✓`: valid"),
        )
        .on("access-reason-newline", &["verify"])
        .finds(&[]),
    );

    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let sealed = put_blob(&f, br#"{"kind":"access","v":1,"reason":"a\u001b[2Jb"}"#);
    let i = forge(
        &f,
        &key,
        id,
        Payload::Access(Access {
            about: doc_ref(&f, DOC),
            reason: String::new(),
            sealed: Some(sealed),
        }),
    );
    k.archive("sealed-access-reason-control", &f, false);
    k.case(
        "records",
        Case::new(
            "sealed-access-reason-control",
            "§4.8: access reason with a control character",
            "§4.8, §5.4",
            &format!("record {i}: a version 2 access whose sealed details' reason holds ESC; without --deep nothing of the reason is read: valid"),
        )
        .on("sealed-access-reason-control", &["verify"])
        .finds(&[]),
    );
    k.case(
        "records",
        Case::new(
            "sealed-access-reason-control-deep",
            "§4.8: access reason with a control character",
            "§4.8, §5.4",
            "the same with --deep: the sealed details break the rule",
        )
        .on("sealed-access-reason-control", &DEEP)
        .finds(&[("sealed", i)]),
    );
}

fn join(v: &[u64]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// §4.7: only a revocation has a reason.
fn actor_reasons(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let walt = seeded("walt");
    let ok = forge(&f, &key, id, v1_change(ActorAction::Add, "walt", &walt, ""));
    let vera = seeded("vera");
    let b = body(&f, id, v1_change(ActorAction::Add, "vera", &vera, "hired")).encode();
    let add = forge_raw(&f, &key, &b);
    let walt2 = seeded("walt2");
    let b = body(
        &f,
        id,
        v1_change(ActorAction::Rotate, "walt", &walt2, "new laptop"),
    )
    .encode();
    let rotate = forge_raw(&f, &key, &b);
    k.archive("actor-change-with-reason", &f, true);
    k.case(
        "records",
        Case::new(
            "actor-change-with-reason",
            "§4.7: actor add with a reason",
            "§4.7",
            &format!("version 1 actor records: {ok} adds walt (valid), {add} adds vera with the reason `hired`, {rotate} rotates walt's key with the reason `new laptop`"),
        )
        .on("actor-change-with-reason", &["verify"])
        .finds(&[("record_decode", add), ("record_decode", rotate)]),
    );

    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let xena = seeded("xena");
    let details = put_blob(
        &f,
        br#"{"kind":"actor","v":1,"name":"xena","key_name":"dropsite.example/xena","reason":"hired for the leak"}"#,
    );
    let i = forge(
        &f,
        &key,
        id,
        sealed_add(&xena.public_bytes(), Role::Journalist, details),
    );
    k.archive("sealed-actor-add-with-reason", &f, false);
    k.case(
        "records",
        Case::new(
            "sealed-actor-add-with-reason",
            "§4.7: actor add with a reason",
            "§4.7, §5.4",
            &format!("record {i}: a version 2 add whose sealed details have the reason `hired for the leak`; without --deep: valid"),
        )
        .on("sealed-actor-add-with-reason", &["verify"])
        .finds(&[]),
    );
    k.case(
        "records",
        Case::new(
            "sealed-actor-add-with-reason-deep",
            "§4.7: actor add with a reason",
            "§4.7, §5.4",
            "the same with --deep",
        )
        .on("sealed-actor-add-with-reason", &DEEP)
        .finds(&[("sealed", i)]),
    );
}

/// Blob `d` moved to a new address: its bytes and one more (deterministic;
/// what a forged `new` names, for `verify` without --deep, which reads no
/// plaintext), the old file removed as the tool that replaces it does.
fn altered_copy(f: &Fixture, d: &Digest) -> (Digest, u64) {
    let old = f.blob_path(&d.to_hex());
    let mut bytes = fs::read(&old).unwrap();
    bytes.push(0);
    let new = Digest::of(&bytes);
    let p = f.blob_path(&new.to_hex());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, &bytes).unwrap();
    fs::remove_file(old).unwrap();
    (new, bytes.len() as u64)
}

/// `fps` with `more`, ascending.
fn with(fps: &[Digest], more: &[Digest]) -> Vec<Digest> {
    let mut v: Vec<Digest> = fps.iter().chain(more).copied().collect();
    v.sort();
    v.dedup();
    v
}

/// §4.19: rewraps carry out the grant just before them; beyond a set in
/// force, a file keeps only recipients grants gave to active actors.
fn rewraps(k: &mut Kit) {
    use custody::core::record::{Rekey, Rewrap};
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let fp = |outlet: &str| {
        RecipientKey::parse(
            fs::read_to_string(repo_key(outlet, "recipient.txt"))
                .unwrap()
                .trim(),
        )
        .unwrap()
        .fingerprint()
    };
    let (gu, mag, lc) = (fp("guardian"), fp("972mag"), fp("localcall"));
    let doc = record_at(&f, DOC).document().unwrap().clone();
    let other = record_at(&f, DOC + 1).document().unwrap().clone();
    // alice: added by record 2, active.
    let grant = Payload::Grant(Grant {
        about: doc_ref(&f, DOC),
        actor: GrantTo::Added(2),
    });
    let rewrap = |grant: u64, added: Digest, old: Digest, fps: &[Digest]| {
        let (new, new_size) = altered_copy(&f, &old);
        Payload::Rewrap(Rewrap {
            grant,
            added,
            blob: Rekey {
                old,
                new,
                new_size,
                recipients: with(fps, &[added]),
            },
        })
    };
    let g1 = forge(&f, &key, id, grant.clone());
    let w1 = forge(&f, &key, id, rewrap(g1, gu, doc.blob, &doc.recipients));
    let now = match &record_at(&f, w1).body.payload {
        Payload::Rewrap(w) => w.blob.clone(),
        _ => unreachable!(),
    };
    let g2 = forge(&f, &key, id, grant);
    let w2 = forge(&f, &key, id, rewrap(g2, mag, other.blob, &other.recipients));
    let w3 = forge(&f, &key, id, rewrap(w2, lc, now.new, &now.recipients));
    let after = match &record_at(&f, w3).body.payload {
        Payload::Rewrap(w) => w.blob.clone(),
        _ => unreachable!(),
    };
    // A rekey of document 5's file (as w3 left it) to the configuration's
    // recipients, the Guardian's kept (granted to alice, active) and
    // +972's (granted by no valid rewrap).
    let (new, new_size) = altered_copy(&f, &after.new);
    let r4 = forge(
        &f,
        &key,
        id,
        Payload::Rekey(Rekey {
            old: after.new,
            new,
            new_size,
            recipients: with(&doc.recipients, &[gu, mag]),
        }),
    );
    k.archive("rewrap-forgeries", &f, true);
    k.case(
        "records",
        Case::new(
            "rewrap-forgeries",
            "§4.19: rewraps and the recipients grants add",
            "§4.17, §4.19",
            &format!("record {g1}: a grant of document {DOC} to alice (record 2, active), {w1}: its rewrap of the document's file adding the Guardian's recipient (valid); {g2}: the same grant, {w2}: a rewrap of document {}'s file instead (`rewrap`; +972's recipient not granted: `recipients`); {w3}: a rewrap of document {DOC}'s file after a record that is not a grant (`rewrap`, `recipients`); {r4}: a rekey of that file keeping the Guardian's recipient (valid alone) and +972's (`recipients`). The new files are the old ones and a zero byte (the old removed): without --deep, which would open them", DOC + 1),
        )
        .on("rewrap-forgeries", &["verify"])
        .finds(&[
            ("rewrap", w2),
            ("recipients", w2),
            ("rewrap", w3),
            ("recipients", w3),
            ("recipients", r4),
        ]),
    );
}

/// §4.12: a grant names an active actor.
fn grants(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let grant = |to: GrantTo| {
        Payload::Grant(Grant {
            about: doc_ref(&f, DOC),
            actor: to,
        })
    };
    // carol: added by record 4, revoked by record 10.
    let revoked = forge(&f, &key, id, grant(GrantTo::Added(4)));
    let not_an_actor = forge(&f, &key, id, grant(GrantTo::Added(DOC)));
    let unknown = forge(&f, &key, id, grant(GrantTo::Name("nobody".into())));
    k.archive("grant-to-inactive-actor", &f, true);
    k.case(
        "records",
        Case::new(
            "grant-to-inactive-actor",
            "§4.12: grants to an unknown name and to a revoked actor",
            "§4.12",
            &format!("record {revoked}: a version 2 grant to the actor added by record 4 (carol, revoked by record 10); {not_an_actor}: to record 5 (an ingest); {unknown}: a version 1 grant to `nobody`. Record 8, the grant to carol before her revocation, is valid"),
        )
        .on("grant-to-inactive-actor", &["verify"])
        .finds(&[
            ("grant_actor", revoked),
            ("grant_actor", not_an_actor),
            ("grant_actor", unknown),
        ]),
    );
}

/// §5.2: lowercase hex.
fn uppercase_hex(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (_, entry) = entry_of(&f, DOC);
    let same = forge_with_envelope(&f, DOC, format!("{entry}\n").as_bytes());
    let m = Metadata::from_json(entry.as_bytes()).unwrap();
    let upper = entry.replace(&m.sha256.to_hex(), &m.sha256.to_hex().to_uppercase());
    assert_ne!(upper, entry);
    let bad = forge_with_envelope(&f, DOC, format!("{upper}\n").as_bytes());
    let upper_salt = entry.replace(&m.salt.to_hex(), &m.salt.to_hex().to_uppercase());
    let bad_salt = forge_with_envelope(&f, DOC, upper_salt.as_bytes());
    k.archive("uppercase-hex-metadata", &f, false);
    k.case(
        "records",
        Case::new(
            "uppercase-hex-metadata",
            "§5.2, §10.3: uppercase hex",
            "§5.2",
            &format!("ingest records storing document 5 again with a new metadata envelope: {same} its entry as is (valid), {bad} with `sha256` in uppercase, {bad_salt} with `salt` in uppercase"),
        )
        .on("uppercase-hex-metadata", &DEEP)
        .finds(&[("metadata_decrypt", bad), ("metadata_decrypt", bad_salt)]),
    );
}

/// §5.2: two entries opening one commitment.
fn two_entries(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (_, entry) = entry_of(&f, DOC);
    let twice = forge_with_envelope(&f, DOC, format!("{entry}\n{entry}\n").as_bytes());
    let (_, other) = entry_of(&f, DOC + 1);
    let beside = forge_with_envelope(&f, DOC, format!("{other}\n{entry}\n").as_bytes());
    k.archive("two-entries-one-commitment", &f, false);
    k.case(
        "records",
        Case::new(
            "two-entries-one-commitment",
            "§5.2: two entries opening one commitment",
            "§5.2",
            &format!("ingest records storing document 5 again: {twice} with an envelope holding its entry twice; {beside} with document 6's entry beside its own (valid)"),
        )
        .on("two-entries-one-commitment", &DEEP)
        .finds(&[("commitment", twice)]),
    );
}

/// §4.10: the note envelope.
fn note_order(k: &mut Kit) {
    let f = working_copy("archive-v2");
    f.json(&["annotate", &DOC.to_string(), "source confirmed by phone"]);
    let written = next_index(&f) - 1;
    let (key, id) = admin(&f);
    let old = put_blob(&f, br#"{"text":"written by custody 0.1","v":1}"#);
    let i = forge(
        &f,
        &key,
        id,
        Payload::Annotate(Annotate {
            about: doc_ref(&f, DOC),
            note: old.digest,
            note_size: old.size,
        }),
    );
    k.archive("note-envelope-order", &f, false);
    k.case(
        "records",
        Case::new(
            "note-envelope-order",
            "§4.10: the note envelope's member order",
            "§4.10",
            &format!("record {written}: a note written by custody (`{{\"v\":1,\"text\":\"source confirmed by phone\"}}`); record {i}: a note `{{\"text\":\"written by custody 0.1\",\"v\":1}}`: both valid"),
        )
        .on("note-envelope-order", &DEEP)
        .finds(&[]),
    );
}

/// §4.7: an actor key is the canonical encoding of a point not of small order.
fn actor_keys(k: &mut Kit) {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let order_4 = [0u8; 32];
    let mut not_on_curve = [0u8; 32];
    not_on_curve[0] = 2;
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xf0;
    non_canonical[31] = 0x7f;
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let mut forged = Vec::new();
    for (n, pk) in [identity, order_4, not_on_curve, non_canonical]
        .iter()
        .enumerate()
    {
        let details = add_details(&f, &format!("bad{n}"));
        forged.push(forge(
            &f,
            &key,
            id,
            sealed_add(pk, Role::Journalist, details),
        ));
    }
    k.archive("actor-key-not-a-valid-point", &f, false);
    k.case(
        "records",
        Case::new(
            "actor-key-not-a-valid-point",
            "guess: an actor key a valid point not of small order",
            "§4.7",
            &format!("version 2 adds of keys: {} the identity (y = 1), {} the point of order 4 (y = 0), {} y = 2 (not on the curve), {} y = 3 encoded as 3 + p (not canonical)", forged[0], forged[1], forged[2], forged[3]),
        )
        .on("actor-key-not-a-valid-point", &["verify"])
        .finds(&forged.iter().map(|&i| ("actor_change", i)).collect::<Vec<_>>()),
    );
}

/// §4.7: a version 1 revoke repeats the current key's name.
fn revoke_key_name(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let vera = seeded("vera");
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
    let add = forge(&f, &key, id, change(ActorAction::Add, vera.name(), ""));
    let wrong = forge(
        &f,
        &key,
        id,
        change(ActorAction::Revoke, "dropsite.example/not-vera", "left"),
    );
    let still = forge(&f, &vera, vera.key_id(), v1_access(&f, "still here"));
    let right = forge(
        &f,
        &key,
        id,
        change(ActorAction::Revoke, vera.name(), "left"),
    );
    let after = forge(&f, &vera, vera.key_id(), v1_access(&f, "after"));
    k.archive("revoke-with-another-key-name", &f, true);
    k.case(
        "records",
        Case::new(
            "revoke-with-another-key-name",
            "guess: whether a revoke repeats the key name",
            "§4.7",
            &format!("version 1: {add} adds vera, {wrong} revokes her key under the key name dropsite.example/not-vera (no effect), {still} is her access (valid), {right} revokes her, {after} is her access after it"),
        )
        .on("revoke-with-another-key-name", &["verify"])
        .finds(&[("actor_change", wrong), ("actor_revoked", after)]),
    );
}

/// §4.7: one key ID, one key. Two seeds whose keys have the same version 2
/// actor key ID (22e9da57), found by a birthday search over
/// SHA-256("custody-conformance-collision-N").
fn key_id_collision(k: &mut Kit) {
    let seed = |n: u32| Digest::of(format!("custody-conformance-collision-{n}").as_bytes()).0;
    let anna = SignerKey::from_seed("dropsite.example/anna", &seed(39328)).unwrap();
    let bert = SignerKey::from_seed("dropsite.example/bert", &seed(69011)).unwrap();
    assert_eq!(
        actor_key_id(&anna.public_bytes()),
        actor_key_id(&bert.public_bytes())
    );
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let d = add_details(&f, "anna");
    let anna_at = forge(
        &f,
        &key,
        id,
        sealed_add(&anna.public_bytes(), Role::Editor, d),
    );
    let d = add_details(&f, "bert");
    let bert_at = forge(
        &f,
        &key,
        id,
        sealed_add(&bert.public_bytes(), Role::Editor, d),
    );
    let approve = Payload::Approve(Approve {
        about: doc_ref(&f, DOC),
        purpose: Purpose::Publication,
    });
    let kid = actor_key_id(&anna.public_bytes());
    let by_bert = forge(&f, &bert, kid, approve.clone());
    let by_anna = forge(&f, &anna, kid, approve);
    k.archive("two-actor-keys-one-key-id", &f, false);
    k.case(
        "records",
        Case::new(
            "two-actor-keys-one-key-id",
            "guess: two actor keys with the same key ID",
            "§4.7, §4.16",
            &format!("version 2 adds of anna ({anna_at}) and bert ({bert_at}), whose keys have one actor key ID, 22e9da57 (seeds SHA-256(`custody-conformance-collision-39328`) and (`…-69011`)); approvals by bert ({by_bert}) and anna ({by_anna}, valid)"),
        )
        .on("two-actor-keys-one-key-id", &["verify"])
        .finds(&[("actor_change", bert_at), ("record_signature", by_bert)]),
    );
}

/// §4.11: every purpose but 0x01 is reserved.
fn purposes(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let approve = Payload::Approve(Approve {
        about: doc_ref(&f, DOC),
        purpose: Purpose::Publication,
    });
    let mut bad = Vec::new();
    for purpose in [0x00u8, 0x02, 0xff] {
        let b = body_ending_with(&f, id, approve.clone(), &[purpose]);
        bad.push(forge_raw(&f, &key, &b));
    }
    k.archive("reserved-purpose", &f, true);
    k.case(
        "records",
        Case::new(
            "reserved-purpose",
            "guess: which purposes §4.11 reserves",
            "§4.11",
            &format!(
                "approve records {} with the purposes 0x00, 0x02 and 0xff",
                join(&bad)
            ),
        )
        .on("reserved-purpose", &["verify"])
        .finds(
            &bad.iter()
                .map(|&i| ("record_decode", i))
                .collect::<Vec<_>>(),
        ),
    );
}

/// §4.12: a version 1 grant's name has the syntax of an actor's name.
fn grant_names(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let mut bad = Vec::new();
    for name in ["Vera", "#3", "-x", ".x", "a b", "vé"] {
        let g = Payload::Grant(Grant {
            about: doc_ref(&f, DOC),
            actor: GrantTo::Name("x".repeat(name.len())),
        });
        let b = body_ending_with(&f, id, g, name.as_bytes());
        bad.push(forge_raw(&f, &key, &b));
    }
    let g = Payload::Grant(Grant {
        about: doc_ref(&f, DOC),
        actor: GrantTo::Name("a".repeat(65)),
    });
    let b = body(&f, id, g).encode();
    bad.push(forge_raw(&f, &key, &b));
    k.archive("grant-name-syntax", &f, true);
    k.case(
        "records",
        Case::new(
            "grant-name-syntax",
            "guess: the syntax of a grant's name",
            "§4.7, §4.12",
            &format!(
                "version 1 grants {} to `Vera`, `#3`, `-x`, `.x`, `a b`, `vé` and 65 × `a`",
                join(&bad)
            ),
        )
        .on("grant-name-syntax", &["verify"])
        .finds(
            &bad.iter()
                .map(|&i| ("record_decode", i))
                .collect::<Vec<_>>(),
        ),
    );
}

/// Variants of a JSON object's text that the rules of FORMAT.md §5.2 refuse.
fn json_forgeries(json: &str, member: &str) -> Vec<(&'static str, &'static str, String)> {
    let v: Value = serde_json::from_str(json).unwrap();
    let mut missing = v.clone();
    missing.as_object_mut().unwrap().remove(member);
    let mut null = v.clone();
    null["note"] = Value::Null;
    let mut negative = v.clone();
    negative["size"] = json!(-1);
    let mut float = v.clone();
    float["size"] = json!(3.0);
    vec![
        (
            "bom",
            "a byte order mark before the object",
            format!("\u{feff}{json}"),
        ),
        (
            "duplicate",
            "the member `v` twice",
            json.replacen(r#"{"v":1,"#, r#"{"v":1,"v":1,"#, 1),
        ),
        ("missing", "no `media_type`", missing.to_string()),
        ("null", "`\"note\":null`", null.to_string()),
        ("negative", "`size` -1", negative.to_string()),
        ("float", "`size` 3.0", float.to_string()),
        (
            "too-large",
            "`size` 2^64",
            json.replacen(
                &format!(r#""size":{}"#, v["size"]),
                r#""size":18446744073709551616"#,
                1,
            ),
        ),
        ("v2", "`v` 2", json.replacen(r#"{"v":1,"#, r#"{"v":2,"#, 1)),
    ]
}

/// §5.2: the JSON rules of the metadata entries.
fn metadata_json(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (_, entry) = entry_of(&f, DOC);
    let mut forged = Vec::new();
    let mut what = Vec::new();
    for (_, desc, bad) in json_forgeries(&entry, "media_type") {
        let i = forge_with_envelope(&f, DOC, format!("{bad}\n").as_bytes());
        forged.push(i);
        what.push(format!("{i} {desc}"));
    }
    k.archive("metadata-envelope-json", &f, false);
    k.case(
        "records",
        Case::new(
            "metadata-envelope-json",
            "guess: required members, duplicate keys, a BOM, integer ranges in the JSON envelopes",
            "§5.2",
            &format!(
                "ingest records storing document 5 again, each with its entry changed: {}",
                what.join("; ")
            ),
        )
        .on("metadata-envelope-json", &DEEP)
        .finds(
            &forged
                .iter()
                .map(|&i| ("metadata_decrypt", i))
                .collect::<Vec<_>>(),
        ),
    );
}

/// §5.2: `name` is the last component of `path`.
fn name_path(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (_, entry) = entry_of(&f, DOC);
    let m = Metadata::from_json(entry.as_bytes()).unwrap();
    let renamed = entry.replace(
        &format!(r#""name":"{}""#, m.name),
        r#""name":"invoice.pdf""#,
    );
    assert_ne!(renamed, entry);
    let bad = forge_with_envelope(&f, DOC, renamed.as_bytes());
    k.archive("name-not-last-path-component", &f, false);
    k.case(
        "records",
        Case::new(
            "name-not-last-path-component",
            "guess: whether `name` is the last component of `path`",
            "§5.2",
            &format!("record {bad} stores document 5 again with an entry whose `name` is `invoice.pdf`, its `path` `{}`", m.path),
        )
        .on("name-not-last-path-component", &DEEP)
        .finds(&[("metadata_decrypt", bad)]),
    );
}

/// §5.3: unknown recipient fingerprints.
fn unknown_recipients(k: &mut Kit) {
    // Before separation of duties: no configuration record, the log key
    // signs records, and the fingerprints are not checked.
    let f = working_copy("archive-v1");
    let log = key_of(&f.signing_key());
    let first = (0..next_index(&f))
        .map(|i| record_at(&f, i))
        .find(|r| r.ingest().is_some())
        .unwrap();
    let mut ing = first.ingest().unwrap().clone();
    ing.recipients = vec![Digest([0x42; 32])];
    let i = forge(&f, &log, log.key_id(), Payload::Ingest(ing));
    k.archive("unknown-recipient-unconfigured", &f, true);
    k.case(
        "records",
        Case::new(
            "unknown-recipient-unconfigured",
            "guess: unknown recipient fingerprints",
            "§4.4, §5.3",
            &format!("tests/data/archive-v1 (made before separation of duties: no config record) and record {i}, an ingest by the log key of its first document again, listing the fingerprint 42…42 only: valid"),
        )
        .on("unknown-recipient-unconfigured", &DEEP)
        .finds(&[]),
    );

    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let (mut ing, _) = entry_of(&f, DOC);
    ing.recipients.push(Digest([0xff; 32]));
    let i = forge(&f, &key, id, Payload::Ingest(ing));
    k.archive("unknown-recipient-configured", &f, true);
    k.case(
        "records",
        Case::new(
            "unknown-recipient-configured",
            "guess: unknown recipient fingerprints",
            "§4.4, §4.15, §5.3",
            &format!("record {i}: document 5 stored again, listing the fingerprint ff…ff besides the configured one"),
        )
        .on("unknown-recipient-configured", &["verify"])
        .finds(&[("recipients", i)]),
    );
}

/// §4.2: time_ms that goes backwards.
fn time_backwards(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let mut b = body(&f, id, v1_access(&f, "dated 1970"));
    b.time_ms = 1_000;
    let i = forge_body(&f, &key, b);
    k.archive("time-goes-backwards", &f, true);
    k.case(
        "records",
        Case::new(
            "time-goes-backwards",
            "guess: time_ms that goes backwards",
            "§4.2",
            &format!("record {i}: an access to document 5 dated 1970-01-01T00:00:01Z, after records of 2026: valid"),
        )
        .on("time-goes-backwards", &["verify"])
        .finds(&[]),
    );
    k.case(
        "records",
        Case::new(
            "time-goes-backwards-audit",
            "guess: time_ms that goes backwards",
            "§4.2, §12",
            "`audit 5 --format json` of the same archive: a custody gap at that record (and, as in tests/data/archive-v2, the legal approval that document 5 lacks)",
        )
        .on("time-goes-backwards", &["audit", "5", "--format", "json"])
        .finds(&[("custody_gap", i), ("approval_missing", DOC)]),
    );
}

/// The secret scalar, the nonce prefix and the public key of a key file
/// (RFC 8032 §5.1.5), to make signatures that RFC 8032 signing never makes.
fn expanded(path: &Path) -> (Scalar, [u8; 32], [u8; 32]) {
    let text = fs::read_to_string(path).unwrap();
    let rest = text.trim().strip_prefix("PRIVATE+KEY+").unwrap();
    let (_, rest) = rest.split_once('+').unwrap();
    let (_, b) = rest.split_once('+').unwrap();
    let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
    assert_eq!((raw[0], raw.len()), (0x01, 33));
    let h: [u8; 64] = Sha512::digest(&raw[1..]).into();
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let mut prefix = [0u8; 32];
    prefix.copy_from_slice(&h[32..]);
    (
        Scalar::from_bytes_mod_order(a),
        prefix,
        key_of(path).public_bytes(),
    )
}

/// k = SHA-512(R || A || M) mod L.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// §4.3: the Ed25519 rule, on records. A point of order 8.
fn ed25519(k: &mut Kit) {
    let t8 = curve25519_dalek::constants::EIGHT_TORSION[1];
    assert!(!t8.is_identity() && t8.mul_by_cofactor().is_identity());
    let b = curve25519_dalek::constants::ED25519_BASEPOINT_POINT;

    // R with a component of order 8: valid by the cofactored equation,
    // refused by cofactorless verifiers.
    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    let (a, prefix, a_bytes) = expanded(&f.admin_key());
    assert_eq!(a_bytes, key.public_bytes());
    let body_bytes = body(&f, id, v1_access(&f, "signed with a torsioned R")).encode();
    let msg = RecordBody::signed_message(&body_bytes);
    let mut h = Sha512::new();
    h.update(prefix);
    h.update(&msg);
    let r = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let big_r = (b * r + t8).compress().to_bytes();
    let s = r + challenge(&big_r, &a_bytes, &msg) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    let i = append_signed(&f, &body_bytes, &sig);
    k.archive("signature-cofactored-only", &f, true);
    k.case(
        "records",
        Case::new(
            "signature-cofactored-only",
            "guess: \"strict\" Ed25519 defined by one library's behaviour",
            "§4.3",
            &format!("record {i}: an access by the administrator whose signature's R is rB plus a point of order 8 (S = r + k·a): [8]([S]B − R − [k]A) = O holds, [S]B = R + [k]A does not: valid (cofactorless verifiers such as verify_strict refuse it)"),
        )
        .on("signature-cofactored-only", &["verify"])
        .finds(&[]),
    );

    let f = working_copy("archive-v2");
    let (key, id) = admin(&f);
    // R of small order (the point of order 8), S = k·a: the equation holds.
    let body_bytes = body(&f, id, v1_access(&f, "signed with R of small order")).encode();
    let msg = RecordBody::signed_message(&body_bytes);
    let small_r = t8.compress().to_bytes();
    let s = challenge(&small_r, &a_bytes, &msg) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&small_r);
    sig[32..].copy_from_slice(s.as_bytes());
    let small = append_signed(&f, &body_bytes, &sig);
    // S + L: the same signature as RFC 8032 makes it, S not reduced.
    let body_bytes = body(&f, id, v1_access(&f, "signed with S + L")).encode();
    let mut sig = key.sign(&RecordBody::signed_message(&body_bytes));
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (j, l) in L.iter().enumerate() {
        let v = sig[32 + j] as u16 + *l as u16 + carry;
        sig[32 + j] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    let unreduced = append_signed(&f, &body_bytes, &sig);
    k.archive("signature-refused", &f, true);
    k.case(
        "records",
        Case::new(
            "signature-refused",
            "guess: \"strict\" Ed25519 defined by one library's behaviour",
            "§4.3",
            &format!("accesses by the administrator: {small} signed with R the point of order 8 and S = k·a (the equation holds; R is of small order), {unreduced} with an RFC 8032 signature whose S has L added (S ≥ L)"),
        )
        .on("signature-refused", &["verify"])
        .finds(&[("record_signature", small), ("record_signature", unreduced)]),
    );
}

/// Who decrypts (FORMAT.md §4.17 to §4.19), in the archive of `every_kind`:
/// a compartment (the escrow and the Guardian's key standing for a member),
/// a document in it, a grant of it to an actor whose own recipient is
/// +972's key (a rewrap), the compartment changed (Local Call's key
/// instead of the Guardian's) and `rekey`.
fn who_decrypts(f: &Fixture) {
    let recipient = |outlet: &str| repo_key(outlet, "recipient.txt");
    let id = f.identity();
    f.json(&[
        "compartment",
        "set",
        "c-1",
        "--recipient",
        s(&recipient("dropsite")),
        "--recipient",
        s(&recipient("guardian")),
        "-i",
        s(&id),
    ]);
    let doc = f.path().join("contract.txt");
    fs::write(&doc, b"the contract\n").unwrap();
    let at = f.ingest_json(&[s(&doc), "--compartment", "c-1"])[0]["index"].to_string();
    let rae = seeded("rae");
    let rae_at = next_index(f).to_string();
    f.json(&[
        "actor",
        "add",
        "rae",
        &rae.verifier().encode(),
        "--role",
        "journalist",
        "--recipient",
        s(&recipient("972mag")),
        "-i",
        s(&id),
    ]);
    let g = f.json(&["grant", &at, &format!("#{rae_at}"), "-i", s(&id)]);
    assert_eq!(g["rewrap"]["kind"], "rewrap", "{g}");
    f.json(&[
        "compartment",
        "set",
        "c-1",
        "--recipient",
        s(&recipient("dropsite")),
        "--recipient",
        s(&recipient("localcall")),
        "-i",
        s(&id),
    ]);
    let r = f.json(&["rekey", "-i", s(&id)]);
    assert!(r["records"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["grants_kept"], 1, "{r}");
}

/// §4: one record of every kind (FORMAT.md §4.4 to §4.19), as the current
/// custody writes them (version 2 where there is one).
fn every_kind(k: &mut Kit) {
    let f = Fixture::new();
    let doc = f.path().join("memo.txt");
    fs::write(&doc, b"the board memo\n").unwrap();
    f.ingest_json(&[s(&doc)]);
    let d = INIT_RECORDS.to_string();
    let en = f.path().join("memo-en.txt");
    fs::write(&en, b"the board memo, translated\n").unwrap();
    f.json(&["derive", &d, s(&en), "--relation", "translation"]);
    f.json(&["annotate", &d, "source confirmed"]);
    let vera = seeded("vera");
    let vera_key = f.path().join("vera.key");
    fs::write(&vera_key, format!("{}\n", vera.encode().as_str())).unwrap();
    set_mode(&vera_key, 0o600);
    let vera_at = next_index(&f).to_string();
    f.json(&[
        "actor",
        "add",
        "vera",
        &vera.verifier().encode(),
        "--role",
        "editor",
    ]);
    f.json(&["approve", &d, "--key", s(&vera_key)]);
    f.json(&["grant", &d, &format!("#{vera_at}")]);
    let out = f.path().join("out.txt");
    f.json(&[
        "extract",
        &d,
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
        "--reason",
        "fact-check",
    ]);
    let gu = Fixture::new_as("guardian");
    f.share_to(&d, &gu, &f.path().join("memo.bundle"));
    let vera2 = seeded("vera2");
    f.json(&[
        "actor",
        "rotate",
        &format!("#{vera_at}"),
        &vera2.verifier().encode(),
    ]);
    f.json(&[
        "actor",
        "revoke",
        &format!("#{vera_at}"),
        "--reason",
        "left",
    ]);
    f.json(&["config", "set", "--approvals", "editor"]);
    // A document received from the Guardian.
    let theirs = gu.path().join("tip.txt");
    fs::write(&theirs, b"a tip\n").unwrap();
    gu.ingest_json(&[s(&theirs)]);
    let gb = gu.path().join("tip.bundle");
    gu.share_to(&INIT_RECORDS.to_string(), &f, &gb);
    f.json(&[
        "receive",
        s(&gb),
        "-i",
        s(&f.identity()),
        "--trust",
        s(&gu.vkey()),
    ]);
    who_decrypts(&f);
    let r = f.run(&["audit", &d, "--sign", "--format", "json"]);
    assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
    let kinds: BTreeSet<String> = (0..next_index(&f))
        .map(|i| record_at(&f, i).body.payload.kind().as_str().to_string())
        .collect();
    assert_eq!(kinds.len(), 14, "{kinds:?}");
    k.archive("every-kind", &f, false);
    k.case(
        "records",
        Case::new(
            "every-kind",
            "guess: the sizes of the record kinds and u16",
            "§4",
            "a new archive with one record or more of each of the 14 kinds, as custody writes them (actor add, rotate, revoke; config; ingest; derive; annotate; approve; grant; access; share; receive with its evidence file; compartment, a document in it, a grant of it to an actor with a recipient of their own and its rewrap, the compartment changed and rekey; audit): valid (each record has the length §4 gives its kind and version; every document and rekeyed or rewrapped file opens its commitment)",
        )
        .on("every-kind", &DEEP)
        .finds(&[]),
    );
}

// ---------------------------------------------------------------------------
// bundles/.

fn load(bytes: &[u8]) -> (BundleHead, Vec<u8>) {
    let mut r = bytes;
    let head = read_head(&mut r).unwrap();
    (head, r.to_vec())
}

fn save(head: &BundleHead, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_head(&mut out, head).unwrap();
    out.extend_from_slice(payload);
    out
}

fn verify_bundle(file: &str, identity: Option<&str>) -> Vec<String> {
    let mut c: Vec<String> = [
        "verify-bundle",
        &format!("{{kit}}/{file}"),
        "--trust",
        "{keys}/dropsite/signing.vkey",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    if let Some(i) = identity {
        c.extend(["-i".to_string(), format!("{{keys}}/{i}/identity.age")]);
    }
    c
}

fn bundles(k: &mut Kit) {
    let ds = Fixture::new_as("dropsite");
    let doc = ds.path().join("memo.txt");
    fs::write(&doc, b"the board memo\n").unwrap();
    ds.ingest_json(&[s(&doc)]);
    let gu = Fixture::uninit_as("guardian");
    let made = ds.path().join("share.bundle");
    ds.share_to(&INIT_RECORDS.to_string(), &gu, &made);
    let made = fs::read(&made).unwrap();
    let (head, _) = load(&made);
    let plain = crypto::decrypt_bytes(&identities(&gu.keys), &head.envelope, 1 << 20).unwrap();
    let envelope = String::from_utf8(plain.to_vec()).unwrap();
    k.file("bundles", "share-as-made.bundle", made.clone(), false);
    let c = |name: &str, point, format, what: &str, file: &str, id: Option<&str>| {
        Case::new(name, point, format, what).run(
            &verify_bundle(file, id)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
    };
    k.case(
        "bundles",
        c(
            "share-as-made",
            "baseline",
            "§10",
            "a bundle of a new archive's document 2 to the Guardian, as `custody share` made it",
            "share-as-made.bundle",
            None,
        ),
    );
    k.case(
        "bundles",
        c(
            "share-as-made-with-identity",
            "baseline",
            "§10.3, §10.4",
            "the same with the Guardian's identity: the envelope opens the commitment",
            "share-as-made.bundle",
            Some("guardian"),
        ),
    );
    k.case(
        "bundles",
        c(
            "identity-decrypts-nothing",
            "guess: exit 1 or 2 for a malformed envelope",
            "§10.4",
            "the same with Drop Site's own identity, which decrypts no envelope: the command cannot judge (exit 2), no finding",
            "share-as-made.bundle",
            Some("dropsite"),
        )
        .fails(ERROR, &[]),
    );

    // A bundle whose envelope's plaintext is `plain`: a new share record,
    // signed by Drop Site's administrator, names it, and `refresh-bundle`
    // proves the hop against a new checkpoint.
    let forged = |plain: &[u8]| -> Vec<u8> {
        let (mut head, payload) = load(&made);
        let hop = head.evidence.hops.last_mut().unwrap();
        let last = TlogProof::parse(hop.entries.last().unwrap()).unwrap();
        let shared = Record::decode(last.extra().unwrap()).unwrap();
        let env = crypto::encrypt_bytes(&recipients(&gu.keys), plain).unwrap();
        let Payload::Share(mut sh) = shared.body.payload.clone() else {
            panic!("the bundle's last record is not a share")
        };
        sh.envelope = Digest::of(&env);
        let (key, id) = admin(&ds);
        let i = forge(&ds, &key, id, Payload::Share(sh));
        ds.run(&["checkpoint", "--sign"]).ok();
        let rec = record_at(&ds, i);
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
        let out = ds.path().join("forged.bundle");
        fs::write(&out, save(&head, &payload)).unwrap();
        ds.run(&["refresh-bundle", s(&out)]).ok();
        fs::read(&out).unwrap()
    };
    k.file(
        "bundles",
        "same-envelope.bundle",
        forged(envelope.as_bytes()),
        false,
    );
    k.case(
        "bundles",
        c(
            "same-envelope",
            "baseline",
            "§10.3",
            "the envelope as made, encrypted again, named by a new share record (signed by Drop Site's administrator): valid with the Guardian's identity (the forgeries below are made the same way)",
            "same-envelope.bundle",
            Some("guardian"),
        ),
    );
    let e = custody::core::bundle::ShareEnvelope::from_json(envelope.as_bytes()).unwrap();
    let hex = e.sha256.to_hex();
    let upper = envelope.replace(&hex, &hex.to_uppercase());
    assert_ne!(upper, envelope);
    let mut variants = vec![(
        "uppercase-sha256",
        "§5.2, §10.3: uppercase hex",
        "`sha256` in uppercase",
        upper,
    )];
    for (name, what, bad) in json_forgeries(&envelope, "media_type") {
        let point =
            "guess: required members, duplicate keys, a BOM, integer ranges in the JSON envelopes";
        variants.push((
            Box::leak(format!("envelope-{name}").into_boxed_str()),
            point,
            what,
            bad,
        ));
    }
    for (name, point, what, bad) in variants {
        let file = format!("{name}.bundle");
        k.file("bundles", &file, forged(bad.as_bytes()), false);
        k.case(
            "bundles",
            c(
                name,
                point,
                "§10.3, §5.2",
                &format!("a share envelope with {what}, with the Guardian's identity"),
                &file,
                Some("guardian"),
            )
            .fails(FINDING, &["commitment"]),
        );
        k.case(
            "bundles",
            c(
                &format!("{name}-without-identity"),
                point,
                "§10.4",
                "the same without an identity: the checks that need no key pass",
                &file,
                None,
            ),
        );
    }
    quorum_per_hop(k);
}

/// §10.4 step 2: the witness quorum applies to each hop on its own.
fn quorum_per_hop(k: &mut Kit) {
    let ds = Fixture::new_as("dropsite");
    let gu = Fixture::new_as("guardian");
    let mag = Fixture::uninit_as("972mag");
    let doc = ds.path().join("memo.txt");
    fs::write(&doc, b"a memo\n").unwrap();
    ds.ingest_json(&[s(&doc)]);
    let w = key_of(&repo_key("localcall", "witness.key"));
    let wv = repo_key("localcall", "witness.vkey");
    let cosign_latest = |f: &Fixture| {
        let note = f.run(&["checkpoint"]).ok().stdout.clone();
        let mut sc = SignedCheckpoint::parse(note.as_bytes()).unwrap();
        sc.add_cosignature(&w, COSIGNED_AT).unwrap();
        let line = sc.encode().lines().last().unwrap().to_string();
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
    gu.run(&[
        "receive",
        s(&a),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ])
    .ok();
    let b = gu.path().join("b.bundle");
    gu.share_to(&INIT_RECORDS.to_string(), &mag, &b);
    k.file(
        "bundles",
        "two-hops-second-not-cosigned.bundle",
        fs::read(&b).unwrap(),
        false,
    );
    cosign_latest(&gu);
    gu.json(&["refresh-bundle", s(&b)]);
    k.file(
        "bundles",
        "two-hops-cosigned.bundle",
        fs::read(&b).unwrap(),
        false,
    );
    let cmd = |file: &str| {
        [
            "verify-bundle".to_string(),
            format!("{{kit}}/{file}"),
            "--trust".into(),
            "{keys}/dropsite/signing.vkey".into(),
            "--trust".into(),
            "{keys}/guardian/signing.vkey".into(),
            "--witness".into(),
            "{keys}/localcall/witness.vkey".into(),
            "--quorum".into(),
            "1".into(),
        ]
    };
    let point = "guess: whether a quorum applies per hop";
    let c = cmd("two-hops-second-not-cosigned.bundle");
    k.case(
        "bundles",
        Case::new(
            "quorum-second-hop-not-cosigned",
            point,
            "§10.4",
            "Drop Site → Guardian → +972: the first hop's checkpoint is cosigned by Local Call's witness, the second's is not; --witness Local Call --quorum 1",
        )
        .run(&c.iter().map(String::as_str).collect::<Vec<_>>())
        .fails(FINDING, &["witness_quorum"]),
    );
    let c = cmd("two-hops-cosigned.bundle");
    k.case(
        "bundles",
        Case::new(
            "quorum-every-hop-cosigned",
            point,
            "§10.4",
            "the same chain after the Guardian's checkpoint is cosigned too: valid",
        )
        .run(&c.iter().map(String::as_str).collect::<Vec<_>>()),
    );
}

// ---------------------------------------------------------------------------
// evidence/: split-view evidence (§11.4), from the log of archive-v2.

/// Split-view evidence bytes (FORMAT.md §11.4).
fn evidence_bytes(cosigned: &str, offending: &str, proof: Option<&str>) -> Vec<u8> {
    let vkey = fs::read_to_string(repo_key("dropsite", "signing.vkey")).unwrap();
    let mut b = format!(
        "custody split-view evidence v1\nlog {}\ncosigned {}\n{cosigned}offending {}\n{offending}",
        vkey.trim(),
        cosigned.len(),
        offending.len()
    );
    if let Some(p) = proof {
        b.push_str(&format!("proof {}\n{p}", p.len()));
    }
    b.into_bytes()
}

/// `old M` and one base64 hash per line.
fn proof_text(old: u64, hashes: &[Digest]) -> String {
    let mut t = format!("old {old}\n");
    for h in hashes {
        t.push_str(&b64(h.as_bytes()));
        t.push('\n');
    }
    t
}

/// archive-v2's records, with record `edit` changed (a log forked there).
fn fork_of(records: &[Vec<u8>], edit: usize) -> Vec<Vec<u8>> {
    let mut r = records.to_vec();
    let n = r[edit].len();
    r[edit][n - 1] ^= 0x01;
    r
}

fn tree_of(records: &[Vec<u8>]) -> MemoryTree {
    MemoryTree::from_leaf_hashes(records.iter().map(|r| merkle::leaf_hash(r)))
}

fn note_of(tree: &MemoryTree, size: u64, log: &SignerKey) -> String {
    let root = tree.root_at(TreeSize(size)).unwrap();
    let c = Checkpoint::new(ORIGIN, size, root).unwrap();
    SignedCheckpoint::sign(&c, log).unwrap().encode()
}

/// A witness (the Guardian's archive and witness key) of Drop Site's log.
fn witness() -> Fixture {
    let w = Fixture::new_as("guardian");
    w.run(&[
        "witness",
        "add-log",
        ORIGIN,
        s(&repo_key("dropsite", "signing.vkey")),
        "--witness-key",
        s(&w.keys.join("witness.key")),
    ])
    .ok();
    w
}

/// `witness cosign FILE` refusing `body` with evidence: its bytes.
fn refused_with_evidence(w: &Fixture, body: &str, reason: &str) -> Vec<u8> {
    let file = w.path().join("body");
    fs::write(&file, body).unwrap();
    let ev = w.path().join("split.evidence");
    let _ = fs::remove_file(&ev);
    let r = w.run(&[
        "witness",
        "cosign",
        s(&file),
        "--evidence-out",
        s(&ev),
        "--json",
    ]);
    r.code(FINDING);
    assert_eq!(r.json()["reason"], reason, "{}", r.stdout);
    fs::read(&ev).unwrap()
}

fn cosign(w: &Fixture, note: &str) {
    let file = w.path().join("note");
    fs::write(&file, note).unwrap();
    w.run(&["witness", "cosign", s(&file)]).ok();
}

fn evidence(k: &mut Kit) {
    let f = working_copy("archive-v2");
    let records = raw_records(&f);
    let log = key_of(&repo_key("dropsite", "signing.key"));
    let real = tree_of(&records);
    let note = |size| note_of(&real, size, &log);
    let n12 = note(12);
    let evc = |name: &str, point, what: &str, extra: &[&str]| {
        let file = name.strip_suffix("-other-log-key").unwrap_or(name);
        let mut c = vec![
            "verify-evidence".to_string(),
            format!("{{kit}}/{file}.evidence"),
        ];
        c.extend(extra.iter().map(|a| a.to_string()));
        Case::new(name, point, "§11.4", what).run(&c.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let point = "split-view evidence";
    let tr = ["--trust", "{keys}/dropsite/signing.vkey"];

    // A fork: the witness cosigned size 12, then is shown another root at 12.
    let w = witness();
    cosign(&w, &n12);
    let fork = tree_of(&fork_of(&records, 11));
    let fork12 = note_of(&fork, 12, &log);
    let ev = refused_with_evidence(&w, &fork12, "fork");
    k.file("evidence", "fork.evidence", ev, true);
    k.case(
        "evidence",
        evc(
            "fork",
            point,
            "written by `witness cosign` (the Guardian's witness, having cosigned Drop Site's size-12 checkpoint) when shown a checkpoint of size 12 with another root, both signed by Drop Site's log key: proven fork",
            &tr,
        )
        .json(json!({"verdict": "proven_fork", "check": null})),
    );
    k.case(
        "evidence",
        evc(
            "fork-other-log-key",
            point,
            "the same checked with the Guardian's log key: the notes do not open",
            &["--trust", "{keys}/guardian/signing.vkey"],
        )
        .fails(FINDING, &["log_signature"])
        .json(json!({"verdict": "bad_signature"})),
    );
    // The same evidence with the offending root altered: the signature fails.
    let lines: Vec<&str> = fork12.split('\n').collect();
    let mut root = lines[2].to_string().into_bytes();
    root[0] = if root[0] == b'A' { b'B' } else { b'A' };
    let altered = fork12.replacen(lines[2], std::str::from_utf8(&root).unwrap(), 1);
    k.file(
        "evidence",
        "forged-root.evidence",
        evidence_bytes(&n12, &altered, None),
        true,
    );
    k.case(
        "evidence",
        evc(
            "forged-root",
            point,
            "the fork with the offending checkpoint's root changed after signing (forged): not evidence",
            &tr,
        )
        .fails(FINDING, &["log_signature"])
        .json(json!({"verdict": "bad_signature"})),
    );

    // Inconsistent: the witness cosigned size 5, then is sent a larger
    // checkpoint of a log forked at record 2 with that log's own proof.
    let w = witness();
    let n5 = note(5);
    cosign(&w, &n5);
    let fork2 = fork_of(&records, 2);
    let ft = tree_of(&fork2);
    let proof = ft.consistency_proof(TreeSize(5), TreeSize(12)).unwrap();
    let body = format!("{}\n{}", proof_text(5, &proof), note_of(&ft, 12, &log));
    let ev = refused_with_evidence(&w, &body, "inconsistent");
    k.file("evidence", "inconsistent.evidence", ev, true);
    k.case(
        "evidence",
        evc(
            "inconsistent",
            point,
            "written by `witness cosign` (having cosigned size 5) when sent a size-12 checkpoint of a log forked at record 2 with that log's consistency proof from 5: the proof opens the size-12 root and shows another root at 5: proven inconsistent",
            &tr,
        )
        .json(json!({"verdict": "proven_inconsistent", "check": null})),
    );

    // Power of two (4): the RFC 9162 proof alone cannot show the conflict,
    // the complete proof can.
    let fork1 = tree_of(&fork_of(&records, 1));
    let f12 = note_of(&fork1, 12, &log);
    let rfc = fork1.consistency_proof(TreeSize(4), TreeSize(12)).unwrap();
    let complete = merkle::complete_consistency_proof(
        TreeSize(4),
        fork1.root_at(TreeSize(4)).unwrap(),
        rfc.clone(),
    );
    assert_eq!(complete.len(), rfc.len() + 1);
    k.file(
        "evidence",
        "power-of-two-rfc-proof.evidence",
        evidence_bytes(&note(4), &f12, Some(&proof_text(4, &rfc))),
        true,
    );
    k.case(
        "evidence",
        evc(
            "power-of-two-rfc-proof",
            point,
            "Drop Site's size-4 checkpoint and a size-12 checkpoint of a log forked at record 1, with that log's RFC 9162 consistency proof from 4 (which leaves out the root of the first 4 leaves): unproven",
            &tr,
        )
        .fails(FINDING, &["inconsistency_proof"])
        .json(json!({"verdict": "unproven"})),
    );
    k.file(
        "evidence",
        "power-of-two-complete-proof.evidence",
        evidence_bytes(&note(4), &f12, Some(&proof_text(4, &complete))),
        true,
    );
    k.case(
        "evidence",
        evc(
            "power-of-two-complete-proof",
            point,
            "the same with the complete proof (that root prepended): proven inconsistent",
            &tr,
        )
        .json(json!({"verdict": "proven_inconsistent", "check": null})),
    );

    // From size 0 (RFC 9162 has no proof from 0; §11.4 decides it by the
    // empty tree's root).
    let zero = |root: Digest| {
        let c = Checkpoint::new(ORIGIN, 0, root).unwrap();
        SignedCheckpoint::sign(&c, &log).unwrap().encode()
    };
    k.file(
        "evidence",
        "from-zero-empty-root.evidence",
        evidence_bytes(&zero(merkle::empty_root()), &n12, None),
        true,
    );
    k.case(
        "evidence",
        evc(
            "from-zero-empty-root",
            point,
            "a size-0 checkpoint whose root is SHA-256(\"\") and Drop Site's size-12 checkpoint, no proof: the empty proof from 0 is valid",
            &tr,
        )
        .fails(FINDING, &["consistency"])
        .json(json!({"verdict": "refuted"})),
    );
    k.file(
        "evidence",
        "from-zero-other-root.evidence",
        evidence_bytes(&zero(Digest::of(b"not the empty tree")), &n12, None),
        true,
    );
    k.case(
        "evidence",
        evc(
            "from-zero-other-root",
            point,
            "a size-0 checkpoint with another root, signed by the log key, and the size-12 checkpoint: no tree of size 0 has that root",
            &tr,
        )
        .json(json!({"verdict": "proven_inconsistent", "check": null})),
    );

    // Not evidence.
    k.file(
        "evidence",
        "identical.evidence",
        evidence_bytes(&n12, &n12, None),
        true,
    );
    k.case(
        "evidence",
        evc(
            "identical",
            point,
            "Drop Site's size-12 checkpoint twice",
            &tr,
        )
        .fails(FINDING, &["conflict"])
        .json(json!({"verdict": "identical"})),
    );
    k.file(
        "evidence",
        "unproven.evidence",
        evidence_bytes(&n5, &n12, None),
        true,
    );
    k.case(
        "evidence",
        evc(
            "unproven",
            point,
            "Drop Site's size-5 and size-12 checkpoints, no proof: an honest log's older checkpoint looks the same",
            &tr,
        )
        .fails(FINDING, &["inconsistency_proof"])
        .json(json!({"verdict": "unproven"})),
    );
    let good = real.consistency_proof(TreeSize(5), TreeSize(12)).unwrap();
    k.file(
        "evidence",
        "refuted.evidence",
        evidence_bytes(&n5, &n12, Some(&proof_text(5, &good))),
        true,
    );
    k.case(
        "evidence",
        evc(
            "refuted",
            point,
            "the same with the log's valid consistency proof from 5 to 12",
            &tr,
        )
        .fails(FINDING, &["consistency"])
        .json(json!({"verdict": "refuted"})),
    );
    // The real root under another origin, signed by the log key.
    let other = format!(
        "dropsite.example/other\n12\n{}\n",
        b64(real.root().as_bytes())
    );
    let mut sig = log.key_id().to_be_bytes().to_vec();
    sig.extend_from_slice(&log.sign(other.as_bytes()));
    let other_note = format!("{other}\n— {} {}\n", log.name(), b64(&sig));
    k.file(
        "evidence",
        "other-origin.evidence",
        evidence_bytes(&n12, &other_note, None),
        true,
    );
    k.case(
        "evidence",
        evc(
            "other-origin",
            point,
            "Drop Site's size-12 checkpoint and the same root under the origin dropsite.example/other, signed by its log key",
            &tr,
        )
        .fails(FINDING, &["origin"])
        .json(json!({"verdict": "origin_mismatch"})),
    );
    let mut trailing = evidence_bytes(&n12, &fork12, None);
    trailing.extend_from_slice(b"x");
    k.file("evidence", "trailing-bytes.evidence", trailing, true);
    k.case(
        "evidence",
        evc(
            "trailing-bytes",
            point,
            "the fork's two checkpoints with a byte after the last section: malformed, a finding (exit 1) as for a tlog-proof that does not parse",
            &tr,
        )
        .fails(FINDING, &["evidence"])
        .json(json!({"verdict": "malformed"})),
    );
}

/// The whole generated part of the kit.
fn generate() -> Kit {
    let mut k = Kit::default();
    records(&mut k);
    bundles(&mut k);
    evidence(&mut k);
    k
}

// ---------------------------------------------------------------------------
// Running the kit.

/// Copies keys-example/ into `dir`, the secret files mode 0600 (as custody
/// requires of key files).
fn keys_copy(dir: &Path) -> PathBuf {
    let keys = dir.join("keys");
    for e in fs::read_dir(repo().join("keys-example")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_keys(&keys, e.file_name().to_str().unwrap());
        }
    }
    keys
}

/// The check names of a command's `--json` output: `report.findings` of
/// `verify` and `verify-bundle`, `findings` of `audit` (objects) and of
/// `verify-proof` (strings `check: reason`), `check` of `verify-evidence`.
fn checks_of(v: &Value) -> Vec<String> {
    let list = match (v["report"]["findings"].as_array(), v["findings"].as_array()) {
        (Some(a), _) | (None, Some(a)) => a,
        _ => {
            return v["check"]
                .as_str()
                .map(|c| vec![c.to_string()])
                .unwrap_or_default()
        }
    };
    let mut out: Vec<String> = list
        .iter()
        .map(|f| match f {
            Value::String(t) => t.split(':').next().unwrap().to_string(),
            _ => f["check"].as_str().unwrap().to_string(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// (check, record) of each finding object.
fn findings_of_output(v: &Value) -> Vec<(String, Option<u64>)> {
    let list = v["report"]["findings"]
        .as_array()
        .or(v["findings"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<(String, Option<u64>)> = list
        .iter()
        .map(|f| {
            let record = if f["subject"]["type"] == "record" {
                f["subject"]["id"].as_u64()
            } else {
                None
            };
            (f["check"].as_str().unwrap_or("").to_string(), record)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Runs one case of the manifest of `area` in the kit at `root`; returns
/// what is wrong, if anything.
fn run_case(root: &Path, area: &str, case: &Value, keys: &Path) -> Result<(), String> {
    let name = case["name"].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kit = root.join(area);
    let archive = case["archive"].as_str().map(|a| {
        let to = tmp.path().join(a);
        copy_dir(&kit.join(a), &to);
        to
    });
    let mut cmd = custody();
    cmd.current_dir(tmp.path());
    for a in case["command"].as_array().unwrap() {
        let mut a = a
            .as_str()
            .unwrap()
            .replace("{kit}", s(&kit))
            .replace("{keys}", s(keys))
            .replace("{data}", s(&repo().join("tests/data")));
        if let Some(arch) = &archive {
            a = a.replace("{archive}", s(arch));
        }
        assert!(!a.contains('{'), "{area}/{name}: placeholder left in {a}");
        cmd.arg(a);
    }
    cmd.arg("--json");
    let r = run(cmd);
    let exit = case["exit"].as_i64().unwrap() as i32;
    let ctx = || format!("{area}/{name}:\n{}\n{}", r.stdout, r.stderr);
    if r.stderr.contains("panicked") {
        return Err(format!("panic: {}", ctx()));
    }
    if r.code != exit {
        return Err(format!("exit {} (wanted {exit}): {}", r.code, ctx()));
    }
    if exit == ERROR {
        return Ok(());
    }
    let v: Value =
        serde_json::from_str(r.stdout.trim()).map_err(|e| format!("not JSON ({e}): {}", ctx()))?;
    if v["ok"] != (exit == OK) {
        return Err(format!("`ok` is not {}: {}", exit == OK, ctx()));
    }
    let want: Vec<String> = case["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let custody_only: Vec<&str> = case["custody_only"]
        .as_array()
        .map(|a| a.iter().map(|c| c.as_str().unwrap()).collect())
        .unwrap_or_default();
    let mut got = checks_of(&v);
    got.retain(|c| !custody_only.contains(&c.as_str()));
    if got != want {
        return Err(format!("checks {got:?} (wanted {want:?}): {}", ctx()));
    }
    if let Some(f) = case["findings"].as_array() {
        let mut want: Vec<(String, Option<u64>)> = f
            .iter()
            .map(|x| {
                (
                    x["check"].as_str().unwrap().to_string(),
                    x["record"].as_u64(),
                )
            })
            .collect();
        want.sort();
        let mut got = findings_of_output(&v);
        got.retain(|(c, _)| !custody_only.contains(&c.as_str()));
        if got != want {
            return Err(format!("findings {got:?} (wanted {want:?}): {}", ctx()));
        }
    }
    for (key, want) in case["json"].as_object().unwrap() {
        if &v[key] != want {
            return Err(format!("{key} is {} (wanted {want}): {}", v[key], ctx()));
        }
    }
    Ok(())
}

/// Runs every case of every area of the index at `root` (areas limited to
/// `only` if given); returns the number run.
fn run_kit(root: &Path, only: Option<&[&str]>) -> usize {
    let index: Value = serde_json::from_slice(&fs::read(root.join("cases.json")).unwrap()).unwrap();
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_copy(keys_dir.path());
    let mut failures = Vec::new();
    let mut n = 0;
    for a in index["areas"].as_array().unwrap() {
        let area = a["dir"].as_str().unwrap();
        if only.is_some_and(|o| !o.contains(&area)) {
            continue;
        }
        let m: Value =
            serde_json::from_slice(&fs::read(root.join(a["cases"].as_str().unwrap())).unwrap())
                .unwrap();
        let cases = m["cases"].as_array().unwrap();
        assert!(!cases.is_empty(), "{area}: no case");
        for c in cases {
            n += 1;
            if let Err(e) = run_case(root, area, c, &keys) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    n
}

/// Every case of the kit, from the committed files: its exit code and the
/// exact set of checks (and of findings, where given).
#[test]
fn every_case_of_the_kit_gets_its_verdict() {
    let n = run_kit(&kit_root(), None);
    // Case names are unique across the kit.
    let index: Value =
        serde_json::from_slice(&fs::read(kit_root().join("cases.json")).unwrap()).unwrap();
    let mut names = BTreeSet::new();
    for a in index["areas"].as_array().unwrap() {
        let m: Value = serde_json::from_slice(
            &fs::read(kit_root().join(a["cases"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        for c in m["cases"].as_array().unwrap() {
            assert!(
                names.insert(c["name"].as_str().unwrap().to_string()),
                "case {} twice",
                c["name"]
            );
        }
    }
    assert_eq!(names.len(), n);
}

/// The committed files of the kit under `dir`, by relative path.
fn files_under(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let n = e.file_name().into_string().unwrap();
        let r = if rel.is_empty() {
            n.clone()
        } else {
            format!("{rel}/{n}")
        };
        if e.file_type().unwrap().is_dir() {
            files_under(&e.path(), &r, out);
        } else {
            out.insert(r, fs::read(e.path()).unwrap());
        }
    }
}

/// A path with the random part of its name (a blob's or an evidence
/// file's address) left out.
fn shape(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [area, archive, "blobs", _, _] => format!("{area}/{archive}/blobs/*"),
        [area, archive, "evidence", _] => format!("{area}/{archive}/evidence/*"),
        _ => p.to_string(),
    }
}

fn shapes<'a>(paths: impl Iterator<Item = &'a String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in paths {
        *m.entry(shape(p)).or_insert(0) += 1;
    }
    m
}

/// The committed areas records/, bundles/ and evidence/ are what the
/// generator makes (or, with CUSTODY_REGENERATE_KIT=1, become it).
#[test]
fn kit_is_generated_from_the_test_keys() {
    let k = generate();
    let want = k.all_files();
    let root = kit_root();
    if std::env::var_os("CUSTODY_REGENERATE_KIT").is_some() {
        for area in GENERATED {
            let d = root.join(area);
            if d.is_dir() {
                for e in fs::read_dir(&d).unwrap() {
                    let e = e.unwrap();
                    if e.file_name() == "README.md" {
                        continue;
                    }
                    if e.file_type().unwrap().is_dir() {
                        fs::remove_dir_all(e.path()).unwrap();
                    } else {
                        fs::remove_file(e.path()).unwrap();
                    }
                }
            }
        }
        for (p, bytes) in &want {
            let to = root.join(p);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::write(to, bytes).unwrap();
        }
    }
    // The committed files: the same shape, the manifests and the
    // deterministic files byte for byte.
    let mut committed = BTreeMap::new();
    for area in GENERATED {
        files_under(&root.join(area), area, &mut committed);
        committed.remove(&format!("{area}/README.md"));
    }
    committed.insert(
        "cases.json".into(),
        fs::read(root.join("cases.json")).unwrap(),
    );
    assert_eq!(
        shapes(committed.keys()),
        shapes(want.keys()),
        "the files of the kit differ from what the generator makes: regenerate (see the top of tests/conformance.rs)"
    );
    for (p, bytes) in &want {
        if p.ends_with("cases.json") || k.exact.contains(p) {
            assert!(
                committed.get(p) == Some(bytes),
                "{p} is not what the generator makes: regenerate (see the top of tests/conformance.rs)"
            );
        }
    }
    // Every case is described in its area's README.
    for (area, cases) in &k.cases {
        let readme = fs::read_to_string(root.join(area).join("README.md")).unwrap();
        for c in cases {
            assert!(
                readme.contains(&format!("`{}`", c.name)),
                "{area}/README.md lacks {}",
                c.name
            );
        }
    }
    // The regenerated files give the same verdicts (their manifests are
    // the committed ones).
    let tmp = tempfile::tempdir().unwrap();
    for (p, bytes) in &want {
        let to = tmp.path().join(p);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::write(to, bytes).unwrap();
    }
    run_kit(tmp.path(), Some(&GENERATED));
}
