//! Tamper matrix: damage one thing in an archive and check that `verify --json`
//! names it with the right `check`, that nothing panics, and that the database
//! (which only indexes the ledger files) can be rebuilt with `reindex`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::*;
use custody::core::crypto::{self, RecipientKey};
use custody::core::hash::Digest;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Verify must find something: exit 1, `ok: false`.
#[track_caller]
fn verify_fails(f: &Fixture, extra: &[&str]) -> Value {
    let (code, v) = f.verify(extra);
    assert_eq!(code, FINDING, "verify passed a tampered archive: {v}");
    assert!(!checks(&v).is_empty());
    v
}

/// The subjects (`{"type":…,"id":…}`) of one check's findings.
fn subjects(v: &Value, check: &str) -> Vec<Value> {
    findings_of(v, check)
        .into_iter()
        .map(|f| f["subject"].clone())
        .collect()
}

fn record_subject(i: u64) -> Value {
    serde_json::json!({"type": "record", "id": i})
}

/// The index of the `k`-th sample document of `Fixture::with_samples()`
/// (after the records `init` writes).
fn doc_index(k: u64) -> u64 {
    INIT_RECORDS + k
}

/// [`doc_index`] as a REF.
fn doc_ref(k: u64) -> String {
    doc_index(k).to_string()
}

/// The latest checkpoint's root as lower-case hex.
fn latest_root_hex(f: &Fixture) -> String {
    let root = f.json(&["checkpoint"])["root"]
        .as_str()
        .unwrap()
        .to_string();
    let b = base64::engine::general_purpose::STANDARD
        .decode(root)
        .unwrap();
    Digest::from_slice(&b).unwrap().to_hex()
}

#[test]
fn flipped_byte_in_a_record() {
    let f = Fixture::with_samples();
    let path = f.ledger("records");
    let bytes = fs::read(&path).unwrap();
    let fr = frames(&bytes);
    assert_eq!(fr.len() as u64, doc_index(8));
    let (off, len) = fr[doc_index(1) as usize];
    flip_byte(&path, off + 4 + len / 2);
    let v = verify_fails(&f, &[]);
    let got = checks(&v);
    assert!(
        got.iter()
            .any(|c| c == "record_signature" || c == "record_decode"),
        "{v}"
    );
    assert_checks(&v, &["index_mismatch", "checkpoint_root"]);
    let bad: Vec<Value> = ["record_signature", "record_decode"]
        .iter()
        .flat_map(|c| subjects(&v, c))
        .collect();
    assert_eq!(bad, [record_subject(doc_index(1))], "{v}");
    assert!(subjects(&v, "index_mismatch").contains(&record_subject(doc_index(1))));
    // Text output lists it as FAIL.
    let r = f.run(&["verify"]);
    r.code(FINDING);
    assert!(
        r.stdout
            .contains(&format!("FAIL record {}: ", doc_index(1))),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("NOT VERIFIED:"), "{}", r.stdout);
    // Later writes never launder the tampering: though the damage is inside
    // an indexed frame, which opening does not re-read, a writer verifies the
    // whole ledger first and refuses to sign on top of it.
    let before = fs::read(&path).unwrap();
    let doc = sample_leak().join("README.txt");
    f.run(&["ingest", s(&doc)])
        .error(&["does not verify", "writing is refused"]);
    assert_eq!(fs::read(&path).unwrap(), before);
    let v = verify_fails(&f, &[]);
    let bad: Vec<Value> = ["record_signature", "record_decode"]
        .iter()
        .flat_map(|c| subjects(&v, c))
        .collect();
    assert_eq!(bad, [record_subject(doc_index(1))], "{v}");
}

#[test]
fn flipped_byte_in_a_blob() {
    let f = Fixture::with_samples();
    let blob = f.show(&doc_ref(3))["blob"].as_str().unwrap().to_string();
    let p = f.blob_path(&blob);
    let n = fs::metadata(&p).unwrap().len() as usize;
    flip_byte(&p, n / 2);
    let v = verify_fails(&f, &[]);
    assert_eq!(checks(&v), ["blob_hash"], "{v}");
    let fnd = findings_of(&v, "blob_hash")[0];
    assert_eq!(
        fnd["subject"],
        serde_json::json!({"type": "blob", "id": blob})
    );
    assert!(
        fnd["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("record {}", doc_index(3))),
        "{fnd}"
    );
    // Deep verification also fails to decrypt it; extract refuses it.
    let v = verify_fails(&f, &["--deep", "-i", s(&f.identity())]);
    assert_checks(&v, &["blob_hash", "content"]);
    let out = f.path().join("out");
    f.run(&[
        "extract",
        &doc_ref(3),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ])
    .error(&[]);
    assert!(!out.exists());
}

/// Replaces one base64 character of the signature line of the last checkpoint.
#[test]
fn flipped_byte_in_a_checkpoint_signature() {
    let f = Fixture::with_samples();
    let path = f.ledger("checkpoints");
    let mut bytes = fs::read(&path).unwrap();
    let fr = frames(&bytes);
    assert_eq!(fr.len(), 2);
    let (off, len) = fr[1];
    let body = &bytes[off + 4..off + 4 + len];
    let sig_line = body[..len - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    assert!(body[sig_line..].starts_with("— ".as_bytes()));
    // A character in the middle of the signature's base64 (past the key ID).
    let at = off + 4 + len - 30;
    let c = bytes[at];
    assert!(c.is_ascii_alphanumeric() || c == b'+' || c == b'/');
    bytes[at] = if c == b'A' { b'B' } else { b'A' };
    fs::write(&path, &bytes).unwrap();
    let v = verify_fails(&f, &[]);
    assert_checks(&v, &["checkpoint_signature", "index_mismatch"]);
    for c in checks(&v) {
        assert!(
            [
                "checkpoint_signature",
                "index_mismatch",
                "checkpoint_missing"
            ]
            .contains(&c.as_str()),
            "unexpected {c}: {v}"
        );
    }
    // A byte that makes the note invalid UTF-8.
    let f = Fixture::with_samples();
    let path = f.ledger("checkpoints");
    let (off, len) = frames(&fs::read(&path).unwrap())[1];
    flip_byte(&path, off + 4 + len - 30);
    let v = verify_fails(&f, &[]);
    assert_checks(&v, &["checkpoint_signature"]);
}

#[test]
fn deleted_blob() {
    let f = Fixture::with_samples();
    let show = f.show(&doc_ref(3));
    let blob = show["blob"].as_str().unwrap();
    fs::remove_file(f.blob_path(blob)).unwrap();
    let v = verify_fails(&f, &[]);
    assert_eq!(checks(&v), ["blob_missing"], "{v}");
    let fnd = findings_of(&v, "blob_missing")[0];
    assert_eq!(fnd["subject"], record_subject(doc_index(3)));
    assert!(fnd["reason"].as_str().unwrap().contains(blob), "{fnd}");
    let r = f.run(&["verify"]);
    assert!(
        r.stdout
            .contains(&format!("FAIL record {}: blob_missing: ", doc_index(3))),
        "{}",
        r.stdout
    );
    // Deep verification skips what is missing but still decrypts the rest.
    let v = verify_fails(&f, &["--deep", "-i", s(&f.identity())]);
    assert_eq!(checks(&v), ["blob_missing"], "{v}");
    assert_eq!(v["report"]["coverage"]["decrypted"], 7);
    // The envelope too: the 8 files of the ingest share it, and it is
    // reported once, under the first record that names it.
    let meta = show["meta"].as_str().unwrap();
    assert_eq!(f.show(&doc_ref(0))["meta"].as_str().unwrap(), meta);
    fs::remove_file(f.blob_path(meta)).unwrap();
    let v = verify_fails(&f, &[]);
    assert_eq!(
        subjects(&v, "blob_missing"),
        [record_subject(doc_index(0)), record_subject(doc_index(3))]
    );
    let v = verify_fails(&f, &["--deep", "-i", s(&f.identity())]);
    assert_eq!(checks(&v), ["blob_missing", "blob_missing"], "{v}");
    assert_eq!(v["report"]["coverage"]["decrypted"], 0);
}

#[test]
fn stray_files_in_the_blob_store() {
    let f = Fixture::with_samples();
    // A file whose name is not a digest.
    fs::write(f.dir.join("blobs/ab/stray"), b"not a blob").unwrap();
    let v = verify_fails(&f, &[]);
    assert_eq!(checks(&v), ["blob_unreferenced"], "{v}");
    assert_eq!(
        findings_of(&v, "blob_unreferenced")[0]["subject"],
        serde_json::json!({"type": "blob", "id": "stray"})
    );
    fs::remove_file(f.dir.join("blobs/ab/stray")).unwrap();
    f.assert_verified();
    // A well-formed blob (named by its own SHA-256) that no record references.
    let (data, d) = (0u32..)
        .map(|i| {
            let data = format!("stray blob {i}").into_bytes();
            let d = Digest::of(&data);
            (data, d)
        })
        .find(|(_, d)| d.as_bytes()[0] == 0xab)
        .unwrap();
    fs::write(f.blob_path(&d.to_hex()), &data).unwrap();
    let v = verify_fails(&f, &[]);
    assert_eq!(checks(&v), ["blob_unreferenced"], "{v}");
    assert_eq!(
        findings_of(&v, "blob_unreferenced")[0]["subject"],
        serde_json::json!({"type": "blob", "id": d.to_hex()})
    );
    // Cut short, as a crash during a batched ingest can leave it (FORMAT.md
    // §7.1): still one finding, which says the content does not match.
    fs::write(f.blob_path(&d.to_hex()), &data[..4]).unwrap();
    let v = verify_fails(&f, &[]);
    assert_eq!(checks(&v), ["blob_unreferenced"], "{v}");
    let reason = findings_of(&v, "blob_unreferenced")[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains(&Digest::of(&data[..4]).to_hex()),
        "{reason}"
    );
}

#[test]
fn truncated_record_file() {
    let f = Fixture::with_samples();
    let path = f.ledger("records");
    let len = fs::metadata(&path).unwrap().len();
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 10).unwrap();
    drop(file);
    let v = verify_fails(&f, &[]);
    assert_checks(&v, &["record_frame", "checkpoint_root"]);
    assert_eq!(subjects(&v, "record_frame"), [record_subject(doc_index(7))]);
    assert_eq!(v["report"]["coverage"]["records"], doc_index(7));
    // A damaged ledger is evidence: it is not "repaired" by cutting it back,
    // and nothing is written on top of it.
    assert_eq!(fs::metadata(&path).unwrap().len(), len - 10);
    let doc = sample_leak().join("README.txt");
    f.run(&["ingest", s(&doc)]).error(&["writing is refused"]);
    assert_eq!(fs::metadata(&path).unwrap().len(), len - 10);
    // Reading still works for what is intact.
    assert_eq!(f.show(&doc_ref(2))["index"], doc_index(2));
}

/// The last non-zero byte of a file, plus one.
fn used_len(p: &Path) -> usize {
    let b = fs::read(p).unwrap();
    b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1)
}

fn largest_file(dir: &Path) -> PathBuf {
    let mut best: Option<(u64, PathBuf)> = None;
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            let n = e.metadata().unwrap().len();
            if best.as_ref().is_none_or(|(m, _)| n > *m) {
                best = Some((n, e.path()));
            }
        }
    }
    best.unwrap().1
}

/// Damaged sled files: verify either rebuilds the database from the ledger
/// files by itself (with a note) or reports index_mismatch; `reindex`
/// rebuilds it with the same root.
#[test]
fn damaged_database_and_reindex() {
    let pristine = Fixture::with_samples();
    let root = latest_root_hex(&pristine);
    let latest = pristine.latest_checkpoint();
    let db = largest_file(&pristine.dir.join("db"));
    let used = used_len(&db);
    assert!(used > 100, "sled file {} looks empty", db.display());
    let offsets: Vec<usize> = [1, 2, 3].iter().map(|q| used * q / 4).collect();
    let mut cases: Vec<Vec<usize>> = offsets.iter().map(|&o| vec![o]).collect();
    cases.push(offsets.clone());
    for case in cases {
        let f = pristine.duplicate();
        let file = f.dir.join("db").join(db.file_name().unwrap());
        for &o in &case {
            flip_byte(&file, o);
        }
        let r = f.run(&["verify", "--json"]);
        r.no_panic();
        match r.code {
            // A database sled cannot open is rebuilt from the ledger files,
            // with a note, and the ledger verified (FORMAT.md §7.2.5).
            0 => {
                assert!(r.stderr.contains("index was rebuilt"), "{}", r.stderr);
                assert!(r.stderr.contains("database is damaged"), "{}", r.stderr);
            }
            FINDING => assert_checks(&r.json(), &["index_mismatch"]),
            _ => panic!(
                "offsets {case:?}: verify did not notice ({}): {}{}",
                r.code, r.stdout, r.stderr
            ),
        }
        let re = f.json(&["reindex"]);
        assert_eq!(re["records"], doc_index(8), "{re}");
        assert_eq!(re["checkpoints"], 2);
        assert_eq!(re["root"], root.as_str());
        f.assert_verified();
        assert_eq!(f.latest_checkpoint(), latest);
        assert_eq!(latest_root_hex(&f), root);
        assert!(!f.dir.join("db.reindex-old").exists());
    }
}

#[test]
fn deleted_database_and_reindex() {
    let f = Fixture::with_samples();
    let root = latest_root_hex(&f);
    let latest = f.latest_checkpoint();
    let before = f.snapshot();
    fs::remove_dir_all(f.dir.join("db")).unwrap();
    // The first command rebuilds it from the ledger files, with a note
    // (FORMAT.md §7.2.5); the ledger files are not changed.
    let v = f.run(&["verify"]);
    v.ok();
    assert!(
        v.stderr.contains("index was rebuilt") && v.stderr.contains("is missing"),
        "{}",
        v.stderr
    );
    assert!(v.stdout.starts_with("verified"), "{}", v.stdout);
    f.assert_unchanged(&before);
    let st = f.run(&["status"]);
    st.ok();
    assert!(
        !st.stderr.contains("rebuilt"),
        "rebuilt twice: {}",
        st.stderr
    );
    // `reindex` by hand still works, and gives the same.
    fs::remove_dir_all(f.dir.join("db")).unwrap();
    let r = f.run(&["reindex"]);
    r.ok();
    assert!(
        r.stdout
            .contains(&format!("{} records, 2 checkpoints", doc_index(8))),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&root), "{}", r.stdout);
    f.assert_unchanged(&before);
    assert_eq!(f.latest_checkpoint(), latest);
    // Lookups by digest work again, and the archive takes new records.
    let leaf = f.show(&doc_ref(4))["leaf_hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(f.show(&hex_ref(&leaf, 8))["index"], doc_index(4));
    // The deduplication index came back from ledger/dedup (FORMAT.md §7.3.1),
    // though the database holding it was deleted.
    assert!(
        r.stderr.contains("deduplication index was rebuilt"),
        "{}",
        r.stderr
    );
    let doc = sample_leak().join("README.txt");
    let again = f.ingest_json(&[s(&doc)]);
    assert_eq!(again[0]["deduplicated"], true, "{}", again[0]);
    f.assert_verified();
    assert_eq!(f.records(), doc_index(9));
}

/// The envelope of the first ingest (its records `doc_index(0)` to `doc_index(7)`)
/// replaced by that of a later ingest (record `doc_index(8)`): the file no longer
/// matches its name.
#[test]
fn swapped_metadata_envelope() {
    let f = Fixture::with_samples();
    f.ingest_json(&[s(&sample_leak().join("README.txt"))]);
    let (m2, m3) = (
        f.show(&doc_ref(8))["meta"].clone(),
        f.show(&doc_ref(3))["meta"].clone(),
    );
    let (m2, m3) = (m2.as_str().unwrap(), m3.as_str().unwrap());
    assert_ne!(m2, m3);
    fs::copy(f.blob_path(m2), f.blob_path(m3)).unwrap();
    let v = verify_fails(&f, &[]);
    assert_eq!(
        checks(&v).iter().filter(|c| *c != "blob_hash").count(),
        0,
        "{v}"
    );
    let hashes = findings_of(&v, "blob_hash");
    assert!(
        hashes.iter().any(|h| h["subject"]["id"] == m3
            && h["reason"].as_str().unwrap().contains(m2)
            && h["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("record {}", doc_index(0)))),
        "{v}"
    );
    let v = verify_fails(&f, &["--deep", "-i", s(&f.identity())]);
    assert_checks(&v, &["blob_hash", "metadata_decrypt"]);
    let group: Vec<_> = (doc_index(0)..doc_index(8)).map(record_subject).collect();
    assert_eq!(subjects(&v, "metadata_decrypt"), group);
    // show -i reports the envelope as unreadable instead of a wrong name.
    let sh = f.json(&["show", &doc_ref(3), "-i", s(&f.identity())]);
    assert!(sh.get("metadata").is_none(), "{sh}");
    assert!(
        sh["metadata_error"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{sh}"
    );
}

/// Record `doc_index(3)`'s blob replaced by a valid age file of other content, encrypted
/// to the archive's own recipient, under the original blob's name.
#[test]
fn blob_replaced_by_other_valid_ciphertext() {
    let f = Fixture::with_samples();
    let blob = f.show(&doc_ref(3))["blob"].as_str().unwrap().to_string();
    let recipient = fs::read_to_string(f.keys.join("recipient.txt")).unwrap();
    let r = RecipientKey::parse(recipient.trim()).unwrap();
    let forged = crypto::encrypt_bytes(&[r], b"a forged document\n").unwrap();
    fs::write(f.blob_path(&blob), forged).unwrap();
    let v = verify_fails(&f, &[]);
    assert!(
        findings_of(&v, "blob_hash")
            .iter()
            .any(|h| h["subject"]["id"] == blob.as_str()),
        "{v}"
    );
    let v = verify_fails(&f, &["--deep", "-i", s(&f.identity())]);
    assert_checks(&v, &["blob_hash", "content"]);
    assert_eq!(subjects(&v, "content"), [record_subject(doc_index(3))]);
    // extract decrypts it but refuses to hand it out.
    let out = f.path().join("out.txt");
    f.run(&[
        "extract",
        &doc_ref(3),
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ])
    .error(&["content check failed", "does not hash to its address"]);
    assert!(!out.exists());
}

/// custody.toml's log key replaced by another outlet's: no record or
/// checkpoint signature verifies any more (record 0, which adds the admin,
/// is the log key's; without it the admin's records name an unknown key).
#[test]
fn edited_config_log_key() {
    let f = Fixture::with_samples();
    let toml = f.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let mine = fs::read_to_string(f.vkey()).unwrap();
    let theirs = fs::read_to_string(f.other_keys("guardian").join("signing.vkey")).unwrap();
    fs::write(&toml, text.replace(mine.trim(), theirs.trim())).unwrap();
    let v = verify_fails(&f, &[]);
    assert_checks(&v, &["record_signature", "checkpoint_signature"]);
    assert_eq!(
        subjects(&v, "record_signature"),
        (0..doc_index(8)).map(record_subject).collect::<Vec<_>>()
    );
}
