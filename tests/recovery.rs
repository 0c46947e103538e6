//! Crash recovery on open: a torn tail of the record file is cut back, records
//! the database has not indexed yet are indexed, temporary blobs are removed.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn torn_tail_of_three_bytes_is_cut_back() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    append(&f.ledger("records"), &[0, 0, 1]);
    // The next command (even a reading one) cuts the torn frame off.
    assert_eq!(f.records(), INIT_RECORDS + 8);
    assert_eq!(fs::read(f.ledger("records")).unwrap(), before.records);
    f.assert_unchanged(&before);
}

#[test]
fn torn_frame_with_short_body_is_cut_back() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    // A valid length prefix (a record-sized frame) and only part of its body.
    let mut torn = 400u32.to_be_bytes().to_vec();
    torn.extend_from_slice(&[0x01; 123]);
    append(&f.ledger("records"), &torn);
    f.assert_verified();
    assert_eq!(fs::read(f.ledger("records")).unwrap(), before.records);
    // The archive takes new records right after the cut.
    let doc = sample_leak().join("README.txt");
    let lines = f.ingest_json(&[s(&doc)]);
    assert_eq!(lines[0]["index"], INIT_RECORDS + 8);
    f.assert_verified();
    let after = fs::read(f.ledger("records")).unwrap();
    assert_eq!(after[..before.records.len()], before.records[..]);
    assert_eq!(frames(&after).len() as u64, INIT_RECORDS + 9);
}

#[test]
fn torn_tail_of_the_checkpoint_file_is_cut_back() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    append(&f.ledger("checkpoints"), &[0, 0, 0, 200, b'x', b'y']);
    f.assert_unchanged(&before);
}

/// Records that reached ledger/records but not the database (a crash between
/// the file's fsync and the database flush) are indexed on the next open.
#[test]
fn unindexed_records_are_indexed_on_open() {
    let f = Fixture::with_samples();
    let old = f.duplicate();
    let old_cp = old.latest_checkpoint();
    let extra = f.path().join("batch-2");
    fs::create_dir(&extra).unwrap();
    fs::write(extra.join("one.txt"), b"first new document\n").unwrap();
    fs::write(extra.join("two.txt"), b"second new document\n").unwrap();
    let new_lines = f.ingest_json(&[s(&extra)]);
    assert_eq!(new_lines.len(), 2);
    // The new record file and blobs, but the old database and checkpoints.
    fs::copy(f.ledger("records"), old.ledger("records")).unwrap();
    fs::remove_dir_all(old.dir.join("blobs")).unwrap();
    copy_dir(&f.dir.join("blobs"), &old.dir.join("blobs"));

    assert_eq!(old.records(), INIT_RECORDS + 10);
    assert_eq!(
        old.latest_checkpoint(),
        old_cp,
        "no checkpoint was signed by reading"
    );
    for l in &new_lines {
        let i = l["index"].as_u64().unwrap();
        let shown = old.show(&i.to_string());
        assert_eq!(shown["leaf_hash"], l["leaf_hash"]);
        let leaf = l["leaf_hash"].as_str().unwrap();
        assert_eq!(
            old.show(&hex_ref(leaf, 10))["index"],
            i,
            "digest lookups were indexed"
        );
    }
    let (code, v) = old.verify(&[]);
    assert_eq!(code, FINDING);
    for c in checks(&v) {
        assert!(
            c.starts_with("checkpoint_"),
            "not a checkpoint finding: {c} in {v}"
        );
    }
    assert_checks(&v, &["checkpoint_missing"]);
    let second_new = (INIT_RECORDS + 9).to_string();
    let r = old.run(&["prove", &second_new]);
    r.error(&["not covered by the checkpoint", "custody checkpoint --sign"]);

    // Signing needs the log key.
    let r = old.run(&["checkpoint", "--sign"]);
    r.ok();
    assert!(
        r.stdout
            .starts_with(&format!("dropsite.example/leaks\n{}\n", INIT_RECORDS + 10)),
        "{}",
        r.stdout
    );
    old.assert_verified();
    // The same tree as the archive that ingested them.
    let root = |fx: &Fixture| fx.json(&["checkpoint"])["root"].clone();
    assert_eq!(root(&old), root(&f));
    let out = old.path().join("two.txt");
    old.run(&[
        "extract",
        &second_new,
        "-i",
        s(&old.identity()),
        "-o",
        s(&out),
    ])
    .ok();
    assert_eq!(fs::read(&out).unwrap(), b"second new document\n");
    // Signing again signs nothing new.
    let r = old.run(&["checkpoint", "--sign"]);
    r.ok();
    assert!(r.stderr.contains("nothing signed"), "{}", r.stderr);
    // Two from before, one signed above, one by extract (its access record).
    assert_eq!(old.status()["checkpoints"], 4);
    assert_eq!(old.show(&(INIT_RECORDS + 10).to_string())["kind"], "access");
}

/// Unindexed records plus a torn tail after them: both handled in one open.
#[test]
fn unindexed_records_then_torn_tail() {
    let f = Fixture::with_samples();
    let old = f.duplicate();
    let doc = sample_leak().join("README.txt");
    f.ingest_json(&[s(&doc)]);
    fs::copy(f.ledger("records"), old.ledger("records")).unwrap();
    fs::remove_dir_all(old.dir.join("blobs")).unwrap();
    copy_dir(&f.dir.join("blobs"), &old.dir.join("blobs"));
    let good_len = fs::metadata(old.ledger("records")).unwrap().len();
    append(&old.ledger("records"), &[0, 0]);
    assert_eq!(old.records(), INIT_RECORDS + 9);
    assert_eq!(fs::metadata(old.ledger("records")).unwrap().len(), good_len);
    let (_, v) = old.verify(&[]);
    assert_eq!(checks(&v), ["checkpoint_missing"], "{v}");
    // Signing needs the log's key: without one remembered in custody.toml,
    // --sign refuses until it is given.
    let toml = old.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("signing_key"))
        .collect();
    assert_eq!(kept.len() + 1, text.lines().count(), "{text}");
    fs::write(&toml, kept.join("\n") + "\n").unwrap();
    old.run(&["checkpoint", "--sign"])
        .error(&["no signing key", "--signing-key"]);
    let (_, v) = old.verify(&[]);
    assert_eq!(checks(&v), ["checkpoint_missing"], "{v}");
    let key = old.signing_key();
    old.run(&["checkpoint", "--sign", "--signing-key", s(&key)])
        .ok();
    old.assert_verified();
}

#[test]
fn leftover_temporary_blobs_are_removed_on_open() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    let tmp = f.dir.join("blobs/tmp");
    fs::write(tmp.join("0123456789abcdef0123456789abcdef"), b"half a blob").unwrap();
    fs::write(tmp.join("another"), b"").unwrap();
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 2);
    assert_eq!(f.records(), INIT_RECORDS + 8);
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "blobs/tmp was not cleaned"
    );
    f.assert_unchanged(&before);
    // A missing blobs/tmp is recreated.
    fs::remove_dir(&tmp).unwrap();
    f.assert_verified();
    assert!(tmp.is_dir());
    let doc = sample_leak().join("README.txt");
    f.ingest_json(&[s(&doc)]);
    f.assert_verified();
}

/// Regression (integration-test report, item 7): some file systems leave a
/// zero-filled tail after a crash mid-append; it is a torn append, cut back on
/// open, not damage that locks the archive.
#[test]
fn zero_filled_tail_is_a_torn_append() {
    let f = Fixture::new();
    let doc = sample_leak().join("README.txt");
    f.run(&["ingest", doc.to_str().unwrap()]).ok();
    let records = f.dir.join("ledger/records");
    let len = std::fs::metadata(&records).unwrap().len();
    for tail in [3usize, 4, 300] {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&records)
            .unwrap();
        std::io::Write::write_all(&mut file, &vec![0u8; tail]).unwrap();
        drop(file);
        f.assert_verified();
        assert_eq!(
            std::fs::metadata(&records).unwrap().len(),
            len,
            "tail of {tail} zero bytes cut back"
        );
    }
    // Writing still works afterwards.
    f.run(&["ingest", doc.to_str().unwrap()]).ok();
    f.assert_verified();
}
