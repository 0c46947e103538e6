//! Attacks on rekey, padding, post-quantum recipients and plugins:
//! the promises of README "Changing who can decrypt", FORMAT.md
//! §4.17, §6.2. Each test states the attack and the promise that holds; the
//! ignored ones show a documented limit (FORMAT.md §4.17).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::age_cli::*;
use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::padding::bucket;
use custody::core::record::{Payload, RecordBody, Rekey};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Puts `bytes` in the archive's `blobs/` at their address.
fn put_blob(f: &Fixture, bytes: &[u8]) -> Digest {
    let d = Digest::of(bytes);
    let p = f.blob_path(&d.to_string());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
    d
}

/// An archive encrypted to Drop Site's and the Guardian's keys (the Guardian
/// standing for a lost laptop), with the samples and a note on record 2.
fn two_recipients() -> (Fixture, PathBuf) {
    let f = Fixture::uninit();
    let gu = f.other_keys("guardian");
    f.init_with(&["--recipient", s(&gu.join("recipient.txt"))])
        .ok();
    f.ingest_samples();
    f.run(&[
        "annotate",
        &INIT_RECORDS.to_string(),
        "call the source back",
    ])
    .ok();
    (f, gu.join("identity.age"))
}

/// `config set` to Drop Site's key alone.
fn drop_guardian(f: &Fixture) {
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
    ])
    .ok();
}

fn key(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// A record signed at the next index by `key`, appended as a rogue tool would.
fn forge(f: &Fixture, key: &SignerKey, payload: Payload) {
    let rec = RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(key),
        payload,
    }
    .sign(key)
    .unwrap();
    f.append_record(&rec);
}

/// The configuration's recipient fingerprints (`config show`).
fn config_fps(f: &Fixture) -> Vec<Digest> {
    f.json(&["config", "show"])["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Digest::from_hex(r.as_str().unwrap()).unwrap())
        .collect()
}

/// `log --json`, one value per record.
fn log(f: &Fixture) -> Vec<Value> {
    f.json_lines(&["log"])
}

fn digest(v: &Value) -> Digest {
    Digest::from_hex(v.as_str().unwrap()).unwrap()
}

// ---------------------------------------------------------------------------
// Rekey: blobs it misses
// ---------------------------------------------------------------------------

/// Migrated to an object store (a directory) without `--delete-local`, the
/// archive keeps its document blobs in `blobs/` too. After `config set` and
/// `rekey`, those local copies are still encrypted to the removed key.
#[test]
fn rekey_after_migrate_leaves_no_local_copy_for_the_removed_key() {
    // rekey removes a replaced document's object and the copy `migrate`
    // left in blobs/ (Archive::remove_replaced, src/store/ops/rekey.rs).
    require_tool("age");
    let (f, lost) = two_recipients();
    let store = f.path().join("store");
    f.run(&["migrate", "--to", s(&store)]).ok();
    drop_guardian(&f);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    // The store holds only new files.
    for b in digest_files(&store) {
        assert!(
            !age_opens(&lost, &b),
            "store: {b:?} opens with the removed key"
        );
    }
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    let readable: Vec<_> = blob_files(&f.dir)
        .into_iter()
        .filter(|b| age_opens(&lost, b))
        .collect();
    assert!(
        readable.is_empty(),
        "after rekey, {} file(s) of blobs/ still open with the removed key \
         (verify exit {code}: {:?}): {readable:?}",
        readable.len(),
        checks(&v)
    );
}

/// A document blob written by an ingest killed before its record (left "for
/// gc"), then `config set` and `rekey`: the removed key still opens it.
#[test]
fn rekey_leaves_no_unrecorded_blob_for_the_removed_key() {
    // rekey ends by removing what no record names, as `gc` does: an
    // interrupted ingest's blob, written to the old recipients.
    require_tool("age");
    let (f, lost) = two_recipients();
    let secret = f.path().join("new-leak.txt");
    fs::write(&secret, b"a source's unrecorded document").unwrap();
    let mut c = f.cmd();
    c.args(["ingest", s(&secret)])
        .env("CUSTODY_FAULT", "kill-write:4");
    let killed = run(c);
    assert_ne!(killed.code, 0, "not killed");
    drop_guardian(&f);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let readable: Vec<_> = blob_files(&f.dir)
        .into_iter()
        .filter(|b| age_opens(&lost, b))
        .collect();
    assert!(
        readable.is_empty(),
        "after rekey, still opened by the removed key: {readable:?} ({:?})",
        readable
            .iter()
            .map(|b| String::from_utf8_lossy(&age_decrypt(&lost, b)).into_owned())
            .collect::<Vec<_>>()
    );
}

/// A share killed while it reports keeps its marker in pending/ (FORMAT.md
/// §7.8), with the output path and the partner's recipients sealed to the
/// archive's recipients at the time. rekey refuses to run until the share is
/// finished (it would leave the marker open to the removed key); once it is,
/// nothing in pending/ opens with the removed key.
#[test]
fn rekey_leaves_no_pending_share_marker_for_the_removed_key() {
    require_tool("age");
    let (f, lost) = two_recipients();
    let partner = f.other_keys("localcall").join("recipient.txt");
    let out = f.path().join("to-localcall-secret-investigation.bundle");
    let mut c = f.cmd();
    c.args([
        "share",
        &INIT_RECORDS.to_string(),
        "--to",
        s(&partner),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ])
    .env("CUSTODY_FAULT", "kill-report:1");
    assert_ne!(run(c).code, 0, "not killed");
    drop_guardian(&f);
    let refused = f.run(&["rekey", "-i", s(&f.identity())]);
    refused.code(2);
    assert!(refused.stderr.contains("pending"), "{}", refused.stderr);
    f.run(&[
        "share",
        &INIT_RECORDS.to_string(),
        "--to",
        s(&partner),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ])
    .ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let mut leaked = Vec::new();
    if let Ok(rd) = fs::read_dir(f.dir.join("pending")) {
        for e in rd {
            let p = e.unwrap().path();
            let bytes = fs::read(&p).unwrap();
            let Some(at) = bytes
                .windows(21)
                .position(|w| w == b"age-encryption.org/v1")
            else {
                continue;
            };
            let sealed = f.path().join("sealed.age");
            fs::write(&sealed, &bytes[at..]).unwrap();
            if age_opens(&lost, &sealed) {
                leaked.push(String::from_utf8_lossy(&age_decrypt(&lost, &sealed)).into_owned());
            }
        }
    }
    assert!(
        leaked.is_empty(),
        "after rekey the removed key opens a pending share marker: {leaked:?}"
    );
}

/// Blobs of a received document (payload re-encrypted, envelope) and the
/// ones written between `config set` and `rekey` are handled; the received
/// document is shared onward after the rekey.
#[test]
fn received_documents_and_later_writes_are_rekeyed() {
    require_tool("age");
    // Drop Site shares to the Guardian, whose archive has two recipients
    // (its own and Local Call's, standing for a journalist who leaves).
    let ds = Fixture::with_samples();
    let gu = Fixture::uninit_as("guardian");
    let lc = gu.other_keys("localcall");
    let mut c = custody();
    c.arg("init")
        .arg(&gu.dir)
        .arg("--signing-key")
        .arg(gu.signing_key())
        .arg("--admin-key")
        .arg(gu.admin_key())
        .arg("--identity")
        .arg(gu.identity())
        .arg("--recipient")
        .arg(gu.keys.join("recipient.txt"))
        .arg("--recipient")
        .arg(lc.join("recipient.txt"));
    run(c).ok();
    let bundle = gu.path().join("memo.bundle");
    ds.share_to(&INIT_RECORDS.to_string(), &gu, &bundle);
    let mut c = gu.cmd();
    c.env("CUSTODY_TRUST_STORE", gu.path().join("trust.toml"))
        .args(["trust", "add", "dropsite", s(&ds.vkey())]);
    run(c).ok();
    let mut c = gu.cmd();
    c.env("CUSTODY_TRUST_STORE", gu.path().join("trust.toml"))
        .args(["receive", s(&bundle), "-i", s(&gu.identity())]);
    run(c).ok();
    let lost = lc.join("identity.age");
    assert!(blob_files(&gu.dir).iter().all(|b| age_opens(&lost, b)));
    gu.run(&[
        "config",
        "set",
        "--recipient",
        s(&gu.keys.join("recipient.txt")),
    ])
    .ok();
    // Written between config set and rekey: encrypted to the new set already.
    gu.run(&["annotate", &INIT_RECORDS.to_string(), "between"])
        .ok();
    gu.run(&["rekey", "-i", s(&gu.identity())]).ok();
    for b in blob_files(&gu.dir) {
        assert!(!age_opens(&lost, &b), "{b:?}");
        assert!(age_opens(&gu.identity(), &b), "{b:?}");
    }
    let mut c = gu.cmd();
    c.env("CUSTODY_TRUST_STORE", gu.path().join("trust.toml"))
        .args(["verify", "--deep", "-i", s(&gu.identity()), "--json"]);
    let v = run(c);
    assert_eq!(v.code, 0, "{}", v.stdout);
    // Shared onward after the rekey: the bundle verifies for the partner.
    let onward = gu.path().join("onward.bundle");
    let r = gu.run(&[
        "share",
        &INIT_RECORDS.to_string(),
        "--to",
        s(&lc.join("recipient.txt")),
        "-i",
        s(&gu.identity()),
        "-o",
        s(&onward),
    ]);
    r.ok();
    let mut c = custody();
    c.args([
        "verify-bundle",
        s(&onward),
        "--trust",
        s(&ds.vkey()),
        "--trust",
        s(&gu.vkey()),
        "-i",
        s(&lost),
    ]);
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// Content already stored, ingested again after `config set` but before
/// `rekey`: stored again (to the new recipients), never the old blob reused.
#[test]
fn deduplication_never_reuses_a_blob_of_the_old_recipients() {
    require_tool("age");
    let (f, lost) = two_recipients();
    drop_guardian(&f);
    // --again: its path and content are recorded already (FORMAT.md §7.3).
    let again = f.ingest_json(&[
        "--again",
        s(&sample_leak().join("memos/2026-03-14-board-memo.txt")),
    ]);
    assert_eq!(again[0]["deduplicated"], false, "{}", again[0]);
    let b = f.blob_path(again[0]["blob"].as_str().unwrap());
    assert!(!age_opens(&lost, &b));
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    // After the rekey too (the old blob is gone; the new one's record lists
    // the recipients in force).
    let third = f.ingest_json(&[
        "--again",
        s(&sample_leak().join("memos/2026-03-14-board-memo.txt")),
    ]);
    let b = f.blob_path(third[0]["blob"].as_str().unwrap());
    assert!(b.exists() && !age_opens(&lost, &b));
    f.assert_verified();
}

/// One unreadable blob (a missing file on a damaged disk) does not stop the
/// rekey of the others: it is listed and the exit code is 1.
#[test]
fn one_missing_blob_does_not_block_the_revocation_of_the_others() {
    // rekey skips and lists a blob it cannot read, re-encrypts the others
    // and exits 1 (src/store/ops/rekey.rs, about_the_blob).
    require_tool("age");
    let (f, lost) = two_recipients();
    drop_guardian(&f);
    let first_doc = f.show(&INIT_RECORDS.to_string());
    fs::remove_file(f.blob_path(first_doc["blob"].as_str().unwrap())).unwrap();
    let r = f.run(&["rekey", "-i", s(&f.identity())]);
    r.code(1);
    let missing = first_doc["blob"].as_str().unwrap();
    assert!(
        r.stdout.contains(&format!("blob {missing} left as it was")),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("restore them"), "{}", r.stderr);
    let readable = blob_files(&f.dir)
        .into_iter()
        .filter(|b| age_opens(&lost, b))
        .count();
    assert_eq!(
        readable,
        0,
        "rekey exit {} ({}): {readable} file(s) still open with the removed key",
        r.code,
        r.stderr.trim()
    );
}

// ---------------------------------------------------------------------------
// Rekey: forged and replayed records
// ---------------------------------------------------------------------------

/// A rogue administrator replaces a journalist's annotation by another text
/// with a `rekey` record: the records are never rewritten, yet the note now
/// reads differently and `verify --deep` finds nothing.
#[test]
#[ignore = "known limit, FORMAT.md §4.17: a note's plaintext is bound only by its ciphertext digest, which a rekey replaces"]
fn a_rekey_cannot_change_what_a_note_says() {
    // Known limit (FORMAT.md §4.17, docs/SECURITY.md): a rekey record asserts
    // "same plaintext" but nothing checks it for
    // notes (annotate), metadata envelopes or sealed details: only document
    // blobs are bound to their plaintext (the content commitment). Before
    // rekey existed, a note was bound to the journalist's signed record by
    // its ciphertext digest; now any admin rewrites it undetectably
    // (`verify --deep` exit 0, `audit` shows the new text as the
    // journalist's). Fix: bind the plaintext, e.g. a salted plaintext
    // commitment in the annotate record / envelope (new records) and, for a
    // rekey, a plaintext digest of old checked by `rekey` before it removes
    // `old`, and by `verify --deep` against a commitment the original
    // signer made (src/core/record/rekey.rs, src/store/ops/verify.rs
    // check_deep / check_sealed).
    require_tool("age");
    let f = Fixture::with_samples();
    let journalist = person(&f, "jo");
    f.run(&[
        "actor",
        "add",
        "jo",
        s(&journalist.join("signing.vkey")),
        "--role",
        "journalist",
    ])
    .ok();
    let mut c = f.cmd();
    c.arg("--key").arg(journalist.join("signing.key")).args([
        "annotate",
        &INIT_RECORDS.to_string(),
        "source is reliable",
    ]);
    run(c).ok();
    let note = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "annotate")
        .unwrap();
    let old = digest(&note["note"]);
    let forged_plain = br#"{"v":1,"text":"source is NOT reliable, do not publish"}"#;
    let new_file = age_encrypt(&f.keys.join("recipient.txt"), forged_plain);
    let new = put_blob(&f, &new_file);
    forge(
        &f,
        &key(&f.admin_key()),
        Payload::Rekey(Rekey {
            old,
            new,
            new_size: new_file.len() as u64,
            recipients: config_fps(&f),
        }),
    );
    fs::remove_file(f.blob_path(&old.to_string())).unwrap();
    f.run(&["checkpoint", "--sign"]).ok();
    let audit = f.run(&["audit", &INIT_RECORDS.to_string(), "-i", s(&f.identity())]);
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert!(
        code != 0 || !audit.stdout.contains("NOT reliable"),
        "the journalist's note now reads {:?} and verify --deep passes: {v}",
        audit
            .stdout
            .lines()
            .find(|l| l.contains("annotate"))
            .unwrap_or("")
    );
}

/// The same with a document's metadata envelope: its source changed.
#[test]
#[ignore = "known limit, FORMAT.md §4.17: an envelope's fields are bound only by its ciphertext digest, which a rekey replaces"]
fn a_rekey_cannot_change_a_documents_source() {
    // Known limit, same cause as a_rekey_cannot_change_what_a_note_says: a metadata
    // envelope's name, path, source, case and note are not covered by the
    // content commitment, so a rekey of the envelope rewrites them and
    // `verify --deep` (which opens the commitment with the new envelope's
    // sha256 and salt, unchanged) passes.
    require_tool("age");
    let f = Fixture::new();
    let doc = f.path().join("memo.txt");
    fs::write(&doc, b"the memo").unwrap();
    f.ingest_json(&[s(&doc), "--source", "source A", "--case", "C-17"]);
    let rec = f.show(&INIT_RECORDS.to_string());
    let meta = f.blob_path(rec["meta"].as_str().unwrap());
    let plain = String::from_utf8(age_decrypt(&f.identity(), &meta)).unwrap();
    assert!(plain.contains("source A"), "{plain}");
    let changed = plain.replace("source A", "source Z");
    let new_file = age_encrypt(&f.keys.join("recipient.txt"), changed.as_bytes());
    let new = put_blob(&f, &new_file);
    forge(
        &f,
        &key(&f.admin_key()),
        Payload::Rekey(Rekey {
            old: digest(&rec["meta"]),
            new,
            new_size: new_file.len() as u64,
            recipients: config_fps(&f),
        }),
    );
    fs::remove_file(&meta).unwrap();
    f.run(&["checkpoint", "--sign"]).ok();
    let shown = f.json(&["show", &INIT_RECORDS.to_string(), "-i", s(&f.identity())]);
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert!(
        code != 0 || shown["metadata"]["source"] != "source Z",
        "the document's source now reads {} and verify --deep passes: {v}",
        shown["metadata"]["source"]
    );
}

/// A rekey whose new file holds another document: `verify --deep` finds it
/// (the content commitment binds a document's plaintext).
#[test]
fn a_rekey_to_other_document_bytes_is_a_deep_finding() {
    require_tool("age");
    let f = Fixture::with_samples();
    let rec = f.show(&INIT_RECORDS.to_string());
    let new_file = age_encrypt(&f.keys.join("recipient.txt"), b"forged document bytes");
    let new = put_blob(&f, &new_file);
    forge(
        &f,
        &key(&f.admin_key()),
        Payload::Rekey(Rekey {
            old: digest(&rec["blob"]),
            new,
            new_size: new_file.len() as u64,
            recipients: config_fps(&f),
        }),
    );
    fs::remove_file(f.blob_path(rec["blob"].as_str().unwrap())).unwrap();
    f.run(&["checkpoint", "--sign"]).ok();
    let (code, _) = f.verify(&[]);
    assert_eq!(code, 0, "without an identity nothing shows");
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 1, "{v}");
    assert_checks(&v, &["content"]);
}

/// Rekey records by a journalist, by a revoked admin, replayed (an `old`
/// already replaced), or naming another document's blob as `new`: findings.
#[test]
fn forged_and_replayed_rekey_records_are_findings() {
    let (f, _) = two_recipients();
    drop_guardian(&f);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let fps = config_fps(&f);
    let first = log(&f).into_iter().find(|r| r["kind"] == "rekey").unwrap();
    let old = digest(&first["old"]);
    let docs: Vec<Value> = log(&f)
        .into_iter()
        .filter(|r| r["kind"] == "ingest")
        .collect();
    let check = |g: &Fixture, want: &str| {
        let (code, v) = g.verify(&[]);
        assert_eq!(code, 1, "{want}: {v}");
        assert_checks(&v, &[want]);
    };
    // Replayed: the same rekey again, re-signed by the admin at a new index.
    let g = f.duplicate();
    forge(
        &g,
        &key(&g.admin_key()),
        Payload::Rekey(Rekey {
            old,
            new: digest(&first["new"]),
            new_size: first["new_size"].as_u64().unwrap(),
            recipients: fps.clone(),
        }),
    );
    check(&g, "rekey_ref");
    // `new` is the (current) blob of another document.
    let g = f.duplicate();
    let cur_new: Vec<Value> = log(&g)
        .into_iter()
        .filter(|r| r["kind"] == "rekey")
        .collect();
    forge(
        &g,
        &key(&g.admin_key()),
        Payload::Rekey(Rekey {
            old: digest(&cur_new[0]["new"]),
            new: digest(&cur_new[1]["new"]),
            new_size: 10,
            recipients: fps.clone(),
        }),
    );
    check(&g, "rekey_ref");
    // By a journalist.
    let g = f.duplicate();
    let jo = person(&g, "jo");
    g.run(&[
        "actor",
        "add",
        "jo",
        s(&jo.join("signing.vkey")),
        "--role",
        "journalist",
    ])
    .ok();
    forge(
        &g,
        &key(&jo.join("signing.key")),
        Payload::Rekey(Rekey {
            old: digest(&cur_new[0]["new"]),
            new: Digest::of(b"x"),
            new_size: 10,
            recipients: fps.clone(),
        }),
    );
    check(&g, "actor_role");
    // By a revoked admin.
    let g = f.duplicate();
    let ad = person(&g, "ad");
    g.run(&[
        "actor",
        "add",
        "ad",
        s(&ad.join("signing.vkey")),
        "--role",
        "admin",
    ])
    .ok();
    g.run(&["actor", "revoke", "ad", "--reason", "left"]).ok();
    forge(
        &g,
        &key(&ad.join("signing.key")),
        Payload::Rekey(Rekey {
            old: digest(&cur_new[0]["new"]),
            new: Digest::of(b"x"),
            new_size: 10,
            recipients: fps.clone(),
        }),
    );
    let (code, v) = g.verify(&[]);
    assert_eq!(code, 1, "{v}");
    let _ = docs;
}

/// A cycle of rekeys (A → B, then B → A) by an administrator: readers
/// cannot follow it; `verify` must say so.
#[test]
fn a_rekey_cycle_is_a_finding() {
    // A rekey's `new` must never have been named or replaced before
    // (note_rekey, src/store/ops/verify_records.rs): B → A after A → B is a
    // rekey_ref finding, and every writing command refuses the archive.
    require_tool("age");
    let f = Fixture::with_samples();
    let rec = f.show(&INIT_RECORDS.to_string());
    let a = digest(&rec["blob"]);
    let a_path = f.blob_path(&a.to_string());
    let a_bytes = fs::read(&a_path).unwrap();
    let b_plain = age_decrypt(&f.identity(), &a_path);
    let b_file = age_encrypt(&f.keys.join("recipient.txt"), &b_plain);
    let b = put_blob(&f, &b_file);
    let fps = config_fps(&f);
    let admin = key(&f.admin_key());
    forge(
        &f,
        &admin,
        Payload::Rekey(Rekey {
            old: a,
            new: b,
            new_size: b_file.len() as u64,
            recipients: fps.clone(),
        }),
    );
    forge(
        &f,
        &admin,
        Payload::Rekey(Rekey {
            old: b,
            new: a,
            new_size: a_bytes.len() as u64,
            recipients: fps.clone(),
        }),
    );
    fs::remove_file(f.blob_path(&b.to_string())).unwrap();
    f.run(&["checkpoint", "--sign"]).code(2);
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 1, "{v}");
    assert_checks(&v, &["rekey_ref"]);
}

/// After the same forged cycle (A → B → A, B's file gone), the next
/// `custody rekey` run deletes A, the only file of the document.
#[test]
fn a_rekey_run_never_deletes_the_file_a_record_needs() {
    // rekey refuses an archive that does not verify (the cycle is a
    // finding), and its removal of replaced files skips every blob the log
    // names now (remove_replaced, src/store/ops/rekey.rs).
    require_tool("age");
    let f = Fixture::with_samples();
    let rec = f.show(&INIT_RECORDS.to_string());
    let a = digest(&rec["blob"]);
    let a_path = f.blob_path(&a.to_string());
    let a_len = fs::metadata(&a_path).unwrap().len();
    let b_file = age_encrypt(
        &f.keys.join("recipient.txt"),
        &age_decrypt(&f.identity(), &a_path),
    );
    let b = put_blob(&f, &b_file);
    let fps = config_fps(&f);
    let admin = key(&f.admin_key());
    for (old, new, size) in [(a, b, b_file.len() as u64), (b, a, a_len)] {
        forge(
            &f,
            &admin,
            Payload::Rekey(Rekey {
                old,
                new,
                new_size: size,
                recipients: fps.clone(),
            }),
        );
    }
    fs::remove_file(f.blob_path(&b.to_string())).unwrap();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1, "verify accepts the cycle: {v}");
    let r = f.run(&["rekey", "-i", s(&f.identity())]);
    r.code(2);
    assert!(
        a_path.exists(),
        "rekey (exit {}) deleted {a}, the only file of document {INIT_RECORDS}",
        r.code
    );
}

/// A rekey run with a wrong identity prints no secret (the identity file's
/// key, the plaintext) in its error.
#[test]
fn rekey_errors_print_no_secret() {
    let (f, _) = two_recipients();
    drop_guardian(&f);
    let stranger = f.other_keys("localcall").join("identity.age");
    let r = f.run(&["rekey", "-i", s(&stranger)]);
    r.code(2);
    let secret = fs::read_to_string(&stranger).unwrap();
    for line in secret.lines().filter(|l| l.starts_with("AGE-SECRET")) {
        assert!(!r.stderr.contains(line) && !r.stdout.contains(line));
    }
    assert!(!r.stderr.contains("AGE-SECRET-KEY"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------
// Padding
// ---------------------------------------------------------------------------

/// Every file custody wrote (blobs of every kind, rekeyed ones, bundle
/// payload and envelope, received document) has a bucket length, and so
/// does every size a record states.
#[test]
fn every_written_file_and_every_stated_size_is_a_bucket_length() {
    let (f, _) = two_recipients();
    let partner = Fixture::new_as("guardian");
    let bundle = f.path().join("b.bundle");
    f.share_to(&INIT_RECORDS.to_string(), &partner, &bundle);
    let out = f.path().join("out");
    f.run(&[
        "extract",
        &INIT_RECORDS.to_string(),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ])
    .ok();
    drop_guardian(&f);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    for b in blob_files(&f.dir) {
        let n = fs::metadata(&b).unwrap().len();
        assert_eq!(bucket(n), n, "{b:?}: {n} bytes is not a bucket length");
    }
    for r in log(&f) {
        for k in [
            "blob_size",
            "meta_size",
            "note_size",
            "sealed_size",
            "payload_size",
            "new_size",
        ] {
            if let Some(n) = r[k].as_u64() {
                assert_eq!(bucket(n), n, "record {}: {k} {n}", r["index"]);
            }
        }
    }
    // The bundle's envelope and payload (FORMAT.md §10.1).
    let bytes = fs::read(&bundle).unwrap();
    let mut at = 18;
    let ev = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    at += 4 + ev;
    let env = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
    at += 4 + env as usize;
    let pay = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(bucket(env), env, "envelope");
    assert_eq!(bucket(pay), pay, "payload");
}

/// Documents of lengths at and around the 64 KiB chunk boundary, padded:
/// the `age` CLI (Go, 1.1.1) and custody decrypt them to the exact bytes.
#[test]
fn padded_files_at_chunk_boundaries_open_with_the_age_cli() {
    require_tool("age");
    let f = Fixture::new();
    let dir = f.path().join("in");
    fs::create_dir_all(&dir).unwrap();
    let sizes = [
        0usize,
        1,
        65_535,
        65_536,
        65_537,
        131_072,
        131_073,
        262_144 + 5,
    ];
    for n in sizes {
        let data: Vec<u8> = (0..n).map(|i| (i * 7 % 253) as u8).collect();
        fs::write(dir.join(format!("f{n}")), &data).unwrap();
    }
    let lines = f.ingest_json(&[s(&dir)]);
    for l in lines {
        let n: usize = l["size"].as_u64().unwrap() as usize;
        let blob = f.blob_path(l["blob"].as_str().unwrap());
        let len = fs::metadata(&blob).unwrap().len();
        assert_eq!(bucket(len), len, "{n}");
        let data: Vec<u8> = (0..n).map(|i| (i * 7 % 253) as u8).collect();
        assert!(
            age_decrypt(&f.identity(), &blob) == data,
            "age CLI, size {n}"
        );
    }
    f.assert_verified();
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

/// A file that grows while it is ingested is refused, nothing stored
/// (its blob would have its exact length).
#[test]
fn a_file_growing_during_ingest_is_refused() {
    let f = Fixture::new();
    let p = f.path().join("growing.bin");
    fs::write(&p, vec![0u8; 8 << 20]).unwrap();
    let before = f.records();
    let mut c = f.cmd();
    c.args(["ingest", s(&p)]);
    let mut child = {
        let mut std = custody_std();
        std.arg("-A").arg(&f.dir).args(["ingest", s(&p)]);
        std.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Append while it reads.
    use std::io::Write;
    let mut w = fs::OpenOptions::new().append(true).open(&p).unwrap();
    for _ in 0..200 {
        w.write_all(&[1u8; 4096]).unwrap();
    }
    let st = child.wait().unwrap();
    drop(c);
    if st.success() {
        // It read the whole file before the append: then the stored size
        // must be a bucket length and match a consistent length.
        let last = f.show(&before.to_string());
        let n = last["blob_size"].as_u64().unwrap();
        assert_eq!(bucket(n), n);
    } else {
        assert_eq!(f.records(), before, "a record was written");
    }
}

/// A partner controls the age header of a bundle's payload (no length
/// limit) and envelope (up to 1 MiB). The `age` crate 0.13 reads a header in
/// time quadratic in its length (FORMAT.md §6.2 measures 85 s for 1 MiB),
/// and custody hands it partner headers unbounded (payload_pass,
/// decrypt_envelope): `verify-bundle` / `receive` of a hostile bundle.
#[test]
fn a_partners_oversized_age_header_is_refused_quickly() {
    // crypto::decrypt_from reads at most MAX_HEADER of header before the
    // age crate parses it (quadratic in the header's length, FORMAT.md
    // §6.2), so a hostile bundle's multi-MiB stanza is refused at once.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut hdr = b"age-encryption.org/v1\n-> X25519 ".to_vec();
    hdr.extend(b64.encode([7u8; 32]).as_bytes());
    hdr.extend(b"\n");
    hdr.extend(b64.encode([9u8; 32]).as_bytes());
    hdr.extend(b"\n-> grease\n");
    let body = b64.encode(vec![5u8; 48 * (2048 * 1024 / 65)]);
    for c in body.as_bytes().chunks(64) {
        hdr.extend(c);
        hdr.push(b'\n');
    }
    hdr.extend(b"\n--- ");
    hdr.extend([b'A'; 43]);
    hdr.extend(b"\n");
    hdr.extend([0u8; 64]);
    let ids = custody::core::crypto::Identities::parse(
        &fs::read(repo_key("dropsite", "identity.age")).unwrap(),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let t = std::time::Instant::now();
        let r = custody::core::crypto::decrypt_from(&ids, &hdr[..]).map(|_| ());
        let _ = tx.send((t.elapsed(), r.is_err()));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok((took, refused)) => {
            eprintln!("took {took:?}");
            assert!(refused, "accepted ({took:?})")
        }
        Err(_) => panic!("a 2 MiB age header from a partner is still being parsed after 10 s"),
    }
}
