//! An archive made by the previous release (commit 0faf8cc, before version 2
//! records: `actor`, `access`, `grant` and `share` records name people,
//! reasons and partners in clear) keeps working with this one: it verifies,
//! its version 1 records keep their names, new records about the same
//! people are version 2 (FORMAT.md §4.14, §4.16, §5.4), and a partner
//! receives the bundle that release made. The fixture and the keys are in
//! tests/data/archive-v2 and tests/data/archive-v2-keys (README.md there
//! says how they were made).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Access, Approve, DocRef, Payload, Purpose, Record, RecordBody};

const ORIGIN: &str = "dropsite.example/leaks";
/// Where custody.toml's remembered keys (`signing_key`, `key`) were when the
/// fixture was made; rewritten to the fixture's copy of keys-example/dropsite.
const MADE_WITH: &str = "/tmp/custody-v2-fixture/keys/dropsite/";
/// Records of the fixture: 0 admin, 1 config, 2-4 alice, ed, carol, 5 and 6
/// the memos, 7 alice's access, 8 grant to carol, 9 approve, 10 carol's
/// revocation, 11 share to the guardian.
const RECORDS: u64 = 12;
const ALICE: u64 = 2;
const ED: u64 = 3;
const CAROL: u64 = 4;
const MEMO_ONE: u64 = 5;
const MEMO_TWO: u64 = 6;
const SHARE: u64 = 11;

/// Kind bytes of the kinds that have a version 2 (FORMAT.md §4.2, §4.16).
const KIND_SHARE: u8 = 0x02;
const KIND_ACTOR: u8 = 0x04;
const KIND_ACCESS: u8 = 0x05;
const KIND_GRANT: u8 = 0x09;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The previous release's archive in a temp dir, with the dropsite keys
/// (custody.toml's remembered keys pointing at them) and alice's, ed's and
/// carol's keys (0600) in the returned directory.
fn previous() -> (Fixture, PathBuf) {
    let f = Fixture::uninit();
    copy_dir(&repo().join("tests/data/archive-v2"), &f.dir);
    let toml = f.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    assert!(text.contains(MADE_WITH), "{text}");
    let here = format!("{}/", s(&f.keys));
    fs::write(&toml, text.replace(MADE_WITH, &here)).unwrap();
    let keys = f.path().join("v2-keys");
    copy_dir(&repo().join("tests/data/archive-v2-keys"), &keys);
    for p in ["alice", "ed", "carol"] {
        set_mode(&keys.join(format!("{p}.key")), 0o600);
    }
    (f, keys)
}

/// The fixture's ledger/records as the previous release wrote it.
fn fixture_records() -> Vec<u8> {
    fs::read(repo().join("tests/data/archive-v2/ledger/records")).unwrap()
}

/// The record bodies of a ledger/records file, in order.
fn bodies(bytes: &[u8]) -> Vec<Vec<u8>> {
    frames(bytes)
        .into_iter()
        .map(|(off, len)| bytes[off + 4..off + 4 + len].to_vec())
        .collect()
}

/// The archive's records as bytes, each checked to decode at its index.
fn records(f: &Fixture) -> Vec<Vec<u8>> {
    let all = bodies(&fs::read(f.ledger("records")).unwrap());
    for (i, b) in all.iter().enumerate() {
        let r = Record::decode(b).unwrap_or_else(|e| panic!("record {i}: {e:?}"));
        assert_eq!(r.body.index, i as u64);
    }
    all
}

/// A personal key `dropsite.example/NAME` made with `custody keygen`.
fn person(f: &Fixture, name: &str) -> (PathBuf, PathBuf) {
    let dir = f.path().join("people").join(name);
    custody()
        .args([
            "keygen",
            "--name",
            &format!("dropsite.example/{name}"),
            "-o",
        ])
        .arg(&dir)
        .assert()
        .success();
    (dir.join("signing.key"), dir.join("signing.vkey"))
}

fn key_of(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// `verify` and `verify --deep -i IDENTITY` both pass.
#[track_caller]
fn check(f: &Fixture) {
    f.assert_verified();
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "verify --deep: {v}");
}

/// Runs a writing command (`--json`) and returns the index of the record it
/// appended, after checking that it is the next one and that the archive
/// verifies (shallow and deep).
#[track_caller]
fn write(f: &Fixture, args: &[&str]) -> u64 {
    let before = f.records();
    let mut c = f.cmd();
    c.args(args).arg("--json");
    run(c).ok();
    assert_eq!(f.records(), before + 1, "{args:?} appended no record");
    check(f);
    before
}

fn commitment(f: &Fixture, index: u64) -> Digest {
    let v = f.show(&index.to_string());
    Digest::from_hex(v["commitment"].as_str().unwrap()).unwrap()
}

/// A record signed by `key` appended at the end of the log, as a holder of
/// that key could write it without custody.
fn forge(f: &Fixture, key: &SignerKey, payload: Payload) -> u64 {
    let index = f.records();
    let rec = RecordBody {
        index,
        time_ms: 1_900_000_000_000,
        origin: ORIGIN.into(),
        signer: f.record_signer(key),
        payload,
    }
    .sign(key)
    .unwrap();
    f.append_record(&rec);
    index
}

#[test]
fn the_previous_releases_archive_verifies_with_its_names_in_clear() {
    let (f, keys) = previous();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, OK, "{v}");
    assert_eq!(v["report"]["coverage"]["records"], RECORDS);
    check(&f);
    // Every record is version 1, as that release wrote it.
    let all = records(&f);
    assert_eq!(all.len() as u64, RECORDS);
    for (i, b) in all.iter().enumerate() {
        assert_eq!(b[0], 0x01, "record {i} is not version 1");
    }
    // The names, reasons and partner's fingerprint were written in clear,
    // and `log` shows them without any key.
    let log = f.json_lines(&["log"]);
    for (i, name) in [(ALICE, "alice"), (ED, "ed"), (CAROL, "carol")] {
        let r = &log[i as usize];
        assert_eq!(r["kind"], "actor", "{r}");
        assert_eq!(r["action"], "add", "{r}");
        assert_eq!(r["name"], name, "{r}");
        assert_eq!(r["key_name"], format!("dropsite.example/{name}"), "{r}");
        assert!(r["sealed"].is_null(), "{r}");
    }
    assert_eq!(log[7]["kind"], "access");
    assert_eq!(log[7]["reason"], "fact-check");
    assert_eq!(log[8]["kind"], "grant");
    assert_eq!(log[8]["actor"]["name"], "carol");
    assert_eq!(log[10]["action"], "revoke");
    assert_eq!(log[10]["name"], "carol");
    assert_eq!(log[10]["reason"], "left the outlet");
    assert_eq!(log[SHARE as usize]["kind"], "share");
    assert_eq!(
        log[SHARE as usize]["recipients"].as_array().unwrap().len(),
        1
    );
    let text = f.run(&["log"]);
    text.ok();
    for needle in ["alice", "carol", "fact-check", "left the outlet"] {
        assert!(text.stdout.contains(needle), "{needle}:\n{}", text.stdout);
    }
    // Actors added by version 1 records are known by their names.
    let actors = f.json(&["actor", "list"]);
    let by = |label: &str| {
        actors
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {actors}"))
            .clone()
    };
    assert_eq!(by("alice")["name"], "alice");
    assert_eq!(by("alice")["revoked"], serde_json::Value::Null);
    assert_eq!(by("ed")["role"], "editor");
    assert_eq!(by("carol")["revoked"], 10);
    // The documents decrypt as they were ingested (this appends an access
    // record, version 2).
    let out = f.path().join("memo-two.txt");
    let i = write(
        &f,
        &[
            "--key",
            s(&keys.join("ed.key")),
            "extract",
            &MEMO_TWO.to_string(),
            "-i",
            s(&f.identity()),
            "-o",
            s(&out),
        ],
    );
    assert_eq!(fs::read(&out).unwrap(), b"memo two\n");
    let all = records(&f);
    assert_eq!(all[i as usize][..2], [0x02, KIND_ACCESS]);
}

#[test]
fn the_previous_releases_database_is_rebuilt_by_reindex() {
    let (f, _) = previous();
    f.run(&["reindex"]).ok();
    check(&f);
    assert_eq!(f.records(), RECORDS);
}

#[test]
fn the_current_release_continues_it_with_version_2_records() {
    let (f, keys) = previous();
    let id = f.identity();
    let id = s(&id);
    let alice = keys.join("alice.key");
    let ed = keys.join("ed.key");
    let carol = keys.join("carol.key");
    let memo_one = MEMO_ONE.to_string();
    let memo_two = MEMO_TWO.to_string();

    // The admin revokes alice, an actor a version 1 record named, by name.
    let revoke_alice = write(&f, &["actor", "revoke", "alice", "--reason", "x"]);
    assert_eq!(revoke_alice, RECORDS);
    let log = f.json_lines(&["log", "--from", &revoke_alice.to_string()]);
    assert_eq!(log[0]["sealed"]["actor"], ALICE, "{}", log[0]);
    // A new actor is labelled by the record that added it.
    let (dana, dana_vkey) = person(&f, "dana");
    let add_dana = write(
        &f,
        &[
            "actor",
            "add",
            "dana",
            s(&dana_vkey),
            "--role",
            "journalist",
        ],
    );
    let label = format!("#{add_dana}");
    let actors = f.json(&["actor", "list"]);
    let entry = actors
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == label.as_str())
        .unwrap_or_else(|| panic!("no {label} in {actors}"))
        .clone();
    assert!(entry["name"].is_null(), "{entry}");
    let actors = f.json(&["actor", "list", "-i", id]);
    assert!(
        actors
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["label"] == label.as_str() && a["name"] == "dana"),
        "{actors}"
    );
    // ed (version 1) grants dana (version 2) the first memo by label, and
    // the second by name with the identity; without it the name is refused.
    let grant_one = write(&f, &["--key", s(&ed), "grant", &memo_one, &label]);
    let mut c = f.cmd();
    c.args(["--key", s(&ed), "grant", &memo_two, "dana"]);
    run(c).code(ERROR).error(&["#N"]);
    let grant_two = write(&f, &["--key", s(&ed), "grant", &memo_two, "dana", "-i", id]);
    // dana decrypts the first memo and shares it with the guardian.
    let out = f.path().join("memo-one.txt");
    let access = write(
        &f,
        &[
            "--key",
            s(&dana),
            "extract",
            &memo_one,
            "-i",
            id,
            "-o",
            s(&out),
            "--reason",
            "second look",
        ],
    );
    assert_eq!(fs::read(&out).unwrap(), b"memo one\n");
    let guardian = f.other_keys("guardian");
    let bundle = f.path().join("dana.bundle");
    let share = write(
        &f,
        &[
            "--key",
            s(&dana),
            "share",
            &memo_one,
            "--to",
            s(&guardian.join("recipient.txt")),
            "-i",
            id,
            "-o",
            s(&bundle),
        ],
    );
    // ed approves with the key a version 1 record added.
    write(&f, &["--key", s(&ed), "approve", &memo_two]);
    // The admin revokes dana by name, with the identity.
    let revoke_dana = write(
        &f,
        &[
            "actor",
            "revoke",
            "dana",
            "-i",
            id,
            "--reason",
            "contract ended",
        ],
    );

    // Revoked people sign nothing more: alice (revoked by a version 2
    // record), carol (by a version 1 record), dana (added and revoked by
    // version 2 records).
    let before = f.snapshot();
    let outside = f.path().join("refused.txt");
    for key in [&alice, &carol, &dana] {
        for args in [
            vec!["--key", s(key), "ingest", "README.md"],
            vec![
                "--key",
                s(key),
                "extract",
                &memo_one,
                "-i",
                id,
                "-o",
                s(&outside),
            ],
        ] {
            let mut c = f.cmd();
            c.current_dir(repo()).args(&args);
            run(c).code(ERROR).error(&["not authorized"]);
            f.assert_unchanged(&before);
        }
    }
    assert!(!outside.exists());

    // The previous release's records are untouched, byte for byte; the new
    // records of the four kinds are version 2.
    let old = bodies(&fixture_records());
    let all = records(&f);
    assert_eq!(all[..old.len()], old[..]);
    let v2 = [
        (revoke_alice, KIND_ACTOR),
        (add_dana, KIND_ACTOR),
        (grant_one, KIND_GRANT),
        (grant_two, KIND_GRANT),
        (access, KIND_ACCESS),
        (share, KIND_SHARE),
        (revoke_dana, KIND_ACTOR),
    ];
    for (i, kind) in v2 {
        assert_eq!(all[i as usize][..2], [0x02, kind], "record {i}");
    }
    for (i, b) in all.iter().enumerate().skip(old.len()) {
        if [KIND_SHARE, KIND_ACTOR, KIND_ACCESS, KIND_GRANT].contains(&b[1]) {
            assert_eq!(b[0], 0x02, "record {i} (kind {:#04x})", b[1]);
        }
    }
    // The new records name no one and no partner...
    let partner = fs::read_to_string(guardian.join("recipient.txt")).unwrap();
    let new: Vec<u8> = all[old.len()..].concat();
    for needle in [
        "alice",
        "dana",
        "dropsite.example/dana",
        "second look",
        "contract ended",
        partner.trim(),
    ] {
        assert!(
            !new.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle:?} in a new record"
        );
    }
    // ...while the version 1 records keep their names, and with the
    // identity the sealed details read back.
    let log = f.json_lines(&["log", "-i", id]);
    assert_eq!(log[ALICE as usize]["name"], "alice");
    assert_eq!(log[10]["reason"], "left the outlet");
    let details = |i: u64| log[i as usize]["details"].to_string();
    assert!(
        details(revoke_alice).contains("\"x\""),
        "{}",
        details(revoke_alice)
    );
    assert!(details(add_dana).contains("dana"), "{}", details(add_dana));
    assert!(
        details(access).contains("second look"),
        "{}",
        details(access)
    );
    assert!(
        details(share).contains(partner.trim()),
        "{}",
        details(share)
    );
    assert!(
        details(revoke_dana).contains("contract ended"),
        "{}",
        details(revoke_dana)
    );
    let actors = f.json(&["actor", "list"]);
    let revoked = |label: &str| {
        actors
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {actors}"))["revoked"]
            .clone()
    };
    assert_eq!(revoked("alice"), revoke_alice);
    assert_eq!(revoked("carol"), 10);
    assert_eq!(revoked(&label), revoke_dana);
    assert_eq!(revoked("ed"), serde_json::Value::Null);
}

#[test]
fn a_record_signed_after_a_version_2_revocation_is_a_finding() {
    let (f, keys) = previous();
    let at = write(&f, &["actor", "revoke", "alice", "--reason", "x"]);
    let forged = forge(
        &f,
        &key_of(&keys.join("alice.key")),
        Payload::Access(Access {
            about: DocRef {
                document: MEMO_ONE,
                commitment: commitment(&f, MEMO_ONE),
            },
            reason: "after hours".into(),
            sealed: None,
        }),
    );
    assert_eq!(forged, at + 1);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    assert_eq!(findings_of(&v, "actor_revoked")[0]["subject"]["id"], forged);
}

/// ed was added by a version 1 record; a version 2 `rotate` names him by
/// the index of that record (FORMAT.md §4.16). His new key signs from then
/// on, his old one no longer.
#[test]
fn a_version_1_actor_rotated_by_a_version_2_record_signs_with_the_new_key() {
    let (f, keys) = previous();
    let old = keys.join("ed.key");
    let (new, new_vkey) = person(&f, "ed-2027");
    let rotate = write(&f, &["actor", "rotate", "ed", s(&new_vkey)]);
    let all = records(&f);
    assert_eq!(all[rotate as usize][..2], [0x02, KIND_ACTOR]);
    let log = f.json_lines(&["log", "--from", &rotate.to_string()]);
    assert_eq!(log[0]["sealed"]["actor"], ED, "{}", log[0]);
    let memo_two = MEMO_TWO.to_string();
    let before = f.snapshot();
    let mut c = f.cmd();
    c.args(["--key", s(&old), "approve", &memo_two]);
    run(c).code(ERROR).error(&["not authorized"]);
    f.assert_unchanged(&before);
    // A record signed by the new key verifies (written without custody, so
    // that the verifier is checked on its own)...
    let forged = forge(
        &f,
        &key_of(&new),
        Payload::Approve(Approve {
            about: DocRef {
                document: MEMO_TWO,
                commitment: commitment(&f, MEMO_TWO),
            },
            purpose: Purpose::Publication,
        }),
    );
    // (not yet covered by a checkpoint: the log key's holder signs one only
    // over records that verify)
    let (_, v) = f.verify(&[]);
    assert_eq!(
        checks(&v),
        ["checkpoint_missing"],
        "a record signed by ed's new key: {v}"
    );
    f.run(&["checkpoint", "--sign"]).ok();
    check(&f);
    assert_eq!(f.records(), forged + 1);
    // ...and custody signs with it.
    write(&f, &["--key", s(&new), "grant", &memo_two, "alice"]);
    // A later revocation of ed ends the new key too.
    write(&f, &["actor", "revoke", "ed", "--reason", "moved on"]);
    let before = f.snapshot();
    let mut c = f.cmd();
    c.args(["--key", s(&new), "approve", &memo_two]);
    run(c).code(ERROR).error(&["not authorized"]);
    f.assert_unchanged(&before);
}

#[test]
fn the_guardian_receives_the_previous_releases_bundle() {
    let g = Fixture::new_as("guardian");
    let dropsite = repo_key("dropsite", "signing.vkey");
    let old = repo().join("tests/data/archive-v2-keys/memo.bundle");
    let gid = g.identity();
    let gid = s(&gid);
    let v = g.json(&["verify-bundle", s(&old), "-i", gid, "--trust", s(&dropsite)]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["report"]["decrypted"], true, "{v}");
    let at = g.records();
    g.run(&["receive", s(&old), "-i", gid, "--trust", s(&dropsite)])
        .ok();
    assert_eq!(g.records(), at + 1);
    check(&g);
    let out = g.path().join("memo-one.txt");
    g.run(&[
        "extract",
        &at.to_string(),
        "-i",
        gid,
        "-o",
        s(&out),
        "--reason",
        "received",
    ])
    .ok();
    assert_eq!(fs::read(&out).unwrap(), b"memo one\n");
    g.run(&["trace", &at.to_string(), "--trust", s(&dropsite)])
        .ok();
    check(&g);

    // A bundle of the same archive continued by this release (its share
    // record is version 2) is received too.
    let (f, keys) = previous();
    let bundle = f.path().join("memo-two.bundle");
    write(
        &f,
        &[
            "--key",
            s(&keys.join("ed.key")),
            "share",
            &MEMO_TWO.to_string(),
            "--to",
            s(&g.keys.join("recipient.txt")),
            "-i",
            s(&f.identity()),
            "-o",
            s(&bundle),
        ],
    );
    let at = g.records();
    g.run(&["receive", s(&bundle), "-i", gid, "--trust", s(&dropsite)])
        .ok();
    assert_eq!(g.records(), at + 1);
    check(&g);
    let out = g.path().join("memo-two.txt");
    g.run(&["extract", &at.to_string(), "-i", gid, "-o", s(&out)])
        .ok();
    assert_eq!(fs::read(&out).unwrap(), b"memo two\n");
}
