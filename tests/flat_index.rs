//! The flat index files and the lock-free read path (FORMAT.md §7.2):
//! crash leftovers in `ledger/index` and `ledger/tree` are cut back, a
//! flipped byte in them is an `index_mismatch` that `reindex` repairs,
//! `prove` and `checkpoint` answer without the lock byte for byte as the
//! locked path does, a reader never looks past its checkpoint, and a
//! database of the old layout asks for `custody reindex`.

mod common;

use std::fs::{self, File, OpenOptions};
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

/// Takes the archive's lock as a writer would (released on drop).
fn hold_lock(f: &Fixture) -> File {
    let l = OpenOptions::new()
        .read(true)
        .write(true)
        .open(f.dir.join("lock"))
        .unwrap();
    l.try_lock().unwrap();
    l
}

/// The bytes of `ledger/index`, `ledger/tree` and `ledger/checkpoint`.
fn flat_files(f: &Fixture) -> [Vec<u8>; 3] {
    ["index", "tree", "checkpoint"].map(|n| fs::read(f.ledger(n)).unwrap())
}

/// Records of `Fixture::with_samples()`: those `init` writes and the eight
/// sample documents. Its checkpoints are at sizes `INIT_RECORDS` and `SAMPLES`.
const SAMPLES: u64 = INIT_RECORDS + 8;

/// Stored Merkle nodes of a tree of `m` leaves (FORMAT.md §7.2.2).
fn nodes(m: u64) -> u64 {
    2 * m - u64::from(m.count_ones())
}

/// Read-only requests the lock-free view answers, and what they print:
/// proofs of the first, a middle and the last record (one REF with leading
/// zeros), and consistency proofs from the first checkpoint.
fn view_requests() -> Vec<Vec<String>> {
    let (first, last) = (INIT_RECORDS.to_string(), SAMPLES.to_string());
    let reqs: Vec<Vec<String>> = vec![
        vec!["checkpoint".into()],
        vec!["checkpoint".into(), "--json".into()],
        vec!["prove".into(), "0".into()],
        vec!["prove".into(), (INIT_RECORDS + 3).to_string()],
        vec!["prove".into(), (SAMPLES - 1).to_string()],
        vec!["prove".into(), format!("{:05}", INIT_RECORDS + 5)],
        vec![
            "prove".into(),
            (INIT_RECORDS + 6).to_string(),
            "--json".into(),
        ],
        vec!["prove".into(), "--consistency".into(), first.clone()],
        vec!["prove".into(), "--consistency".into(), last.clone()],
        vec![
            "prove".into(),
            "--consistency".into(),
            first,
            last,
            "--json".into(),
        ],
    ];
    reqs
}

fn outputs(f: &Fixture) -> Vec<Vec<u8>> {
    view_requests()
        .iter()
        .map(|a| {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            f.run(&a).ok().stdout_bytes.clone()
        })
        .collect()
}

/// Entries a crashed writer appended after its last database commit (whole
/// ones, and a partial one) are cut back by the next open.
#[test]
fn crash_leftovers_in_the_flat_files_are_cut_back() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    let flat = flat_files(&f);
    // Real entries of records the database never got: those of an archive
    // that went on to ingest one more document.
    let g = f.duplicate();
    g.ingest_json(&[s(&sample_leak().join("README.txt"))]);
    for n in ["index", "tree"] {
        fs::copy(g.ledger(n), f.ledger(n)).unwrap();
        assert!(fs::metadata(f.ledger(n)).unwrap().len() > 0);
    }
    append(&f.ledger("index"), &[7; 5]);
    append(&f.ledger("tree"), &[9; 40]);
    assert_eq!(f.records(), SAMPLES);
    assert_eq!(flat_files(&f), flat, "the leftovers were not cut back");
    f.assert_unchanged(&before);
    // The archive takes new records right after the cut, where they belong.
    f.ingest_json(&[s(&sample_leak().join("README.txt"))]);
    f.assert_verified();
    for (k, n) in ["index", "tree"].iter().enumerate() {
        let now = fs::read(f.ledger(n)).unwrap();
        assert_eq!(now.len(), fs::read(g.ledger(n)).unwrap().len(), "{n}");
        assert_eq!(now[..flat[k].len()], flat[k][..], "{n}");
    }
}

/// A flipped byte anywhere in `ledger/index` or `ledger/tree` is reported by
/// `verify` as `index_mismatch` (and nothing else), naming the record; a
/// proof that would use it is refused, not printed; `reindex` rebuilds the
/// files byte for byte.
#[test]
fn flipped_byte_in_the_flat_files_is_an_index_mismatch_fixed_by_reindex() {
    let pristine = Fixture::with_samples();
    let flat = flat_files(&pristine);
    let proofs = outputs(&pristine);
    let tree_len = flat[1].len();
    assert_eq!(flat[0].len() as u64, SAMPLES * 12);
    assert_eq!(tree_len as u64, nodes(SAMPLES) * 32);
    // Post-order positions for 10 records (FORMAT.md §7.2.2): 0 (0,0);
    // 1 (0,1); 2 (1,0); 3 (0,2); 4 (0,3); 5 (1,1); 6 (2,0); … 14 (3,0);
    // 15 (0,8); 16 (0,9); 17 (1,4). The root, (3,0) hashed with (1,4), is not
    // stored, and every stored node is in some record's proof.
    assert_eq!(SAMPLES, 10, "the positions below are those of 10 records");
    // (file, byte, the record named by the finding, a record whose proof reads it)
    let cases = [
        ("index", 3 * 12 + 7, 3u64, Some(3)), // record 3's frame offset
        ("index", 5 * 12 + 10, 5, Some(5)),   // record 5's length
        ("tree", 0, 0, Some(1)),              // leaf 0, record 1's sibling
        ("tree", 5 * 32 + 31, 3, Some(0)),    // node (1, 1), completed by record 3
        ("tree", 14 * 32, 7, Some(8)),        // node (3, 0), record 8's sibling subtree
        ("tree", tree_len - 1, 9, Some(0)),   // node (1, 4), the last one stored
    ];
    for (file, off, rec, proof_of) in cases {
        let f = pristine.duplicate();
        flip_byte(&f.ledger(file), off);
        let (code, v) = f.verify(&[]);
        assert_eq!(code, FINDING, "{file}@{off}: {v}");
        assert_eq!(checks(&v), ["index_mismatch"], "{file}@{off}: {v}");
        let found = &findings_of(&v, "index_mismatch")[0];
        assert_eq!(found["subject"]["type"], "record", "{file}@{off}: {found}");
        assert_eq!(found["subject"]["id"], rec, "{file}@{off}: {found}");
        assert!(
            found["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("ledger/{file}")),
            "{found}"
        );
        // A proof through the damaged entry is never printed wrong:
        // it rebuilds the index from the ledger files and proves again.
        if let Some(i) = proof_of {
            let r = f.run(&["prove", &i.to_string()]);
            r.ok();
            assert!(r.stderr.contains("index was rebuilt"), "{}", r.stderr);
            assert!(r.stdout.starts_with("c2sp.org/tlog-proof"), "{}", r.stdout);
            f.assert_verified();
            assert_eq!(flat_files(&f), flat, "{file}@{off}: not rebuilt");
            continue;
        }
        let re = f.json(&["reindex"]);
        assert_eq!(re["records"], SAMPLES, "{re}");
        f.assert_verified();
        assert_eq!(flat_files(&f), flat, "{file}@{off}: not rebuilt");
        assert_eq!(outputs(&f), proofs, "{file}@{off}");
    }
}

/// `checkpoint` and `prove` by index or `--consistency` print the same bytes
/// whether the lock-free view answers (even while a writer holds the lock)
/// or the locked path does (forced by removing `ledger/checkpoint`, which
/// that open restores).
#[test]
fn lock_free_prove_and_checkpoint_match_the_locked_path() {
    let f = Fixture::with_samples();
    let view = outputs(&f);
    let cp = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    assert_eq!(cp, fs::read(f.ledger("checkpoint")).unwrap());
    // view[3] is the proof of this record.
    let mid = (INIT_RECORDS + 3).to_string();
    let size = SAMPLES.to_string();
    {
        let _writer = hold_lock(&f);
        assert_eq!(outputs(&f), view, "with the lock held");
        f.run(&["status"]).error(&["in use"]);
        // What the view cannot answer goes to the locked path, which waits its turn.
        f.run(&["prove", &mid, "--size", &size]).error(&["in use"]);
        f.run(&["checkpoint", "--all"]).error(&["in use"]);
    }
    for (args, want) in view_requests().iter().zip(&view) {
        fs::remove_file(f.ledger("checkpoint")).unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = f.run(&args);
        r.ok();
        assert_eq!(&r.stdout_bytes, want, "{args:?} by the locked path");
        assert_eq!(fs::read(f.ledger("checkpoint")).unwrap(), cp, "restored");
    }
    // The locked path, asked explicitly for the latest size, agrees too.
    assert_eq!(
        f.run(&["prove", &mid, "--size", &size]).ok().stdout_bytes,
        view[3]
    );
    // Requests the view leaves to the locked path behave as before.
    f.run(&["prove", &size]).error(&[
        &format!("record {SAMPLES}"),
        &format!("the log has {SAMPLES} records"),
    ]);
    let leaf = f.show(&mid)["leaf_hash"].as_str().unwrap().to_string();
    assert_eq!(
        f.run(&["prove", &hex_ref(&leaf, 8)]).ok().stdout_bytes,
        view[3]
    );
    // A consistency proof from a size the log signed no checkpoint at
    // (FORMAT.md §8.2): the view and the locked path agree.
    let between = (INIT_RECORDS + 5).to_string();
    let by_view = f
        .run(&["prove", "--consistency", &between, "--json"])
        .ok()
        .stdout_bytes
        .clone();
    assert!(String::from_utf8_lossy(&by_view).contains("\"old_checkpoint\":null"));
    fs::remove_file(f.ledger("checkpoint")).unwrap();
    let locked = f.run(&["prove", "--consistency", &between, "--json"]);
    assert_eq!(locked.ok().stdout_bytes, by_view, "by the locked path");
}

/// A writer has appended records, their index entries and nodes (and is
/// still writing) but has not committed them or signed a checkpoint: a
/// reader answers exactly as before, from the checkpoint it reads.
#[test]
fn a_reader_never_sees_entries_beyond_its_checkpoint() {
    let f = Fixture::with_samples();
    let view = outputs(&f);
    let g = f.duplicate();
    let more = f.path().join("more");
    fs::create_dir(&more).unwrap();
    for i in 0..5 {
        fs::write(more.join(format!("{i}.txt")), format!("more {i}\n")).unwrap();
    }
    g.ingest_json(&[s(&more)]);
    let _writer = hold_lock(&f);
    for n in ["records", "index", "tree"] {
        fs::copy(g.ledger(n), f.ledger(n)).unwrap();
    }
    // and the start of the next batch
    append(&f.ledger("index"), &[0xff; 12 * 3 + 1]);
    append(&f.ledger("tree"), &[0xff; 32 * 4 + 3]);
    assert_eq!(outputs(&f), view);
    // Records beyond the checkpoint are not the view's to prove.
    f.run(&["prove", &SAMPLES.to_string()]).error(&["in use"]);
    f.run(&[
        "prove",
        "--consistency",
        &INIT_RECORDS.to_string(),
        &(SAMPLES + 5).to_string(),
    ])
    .error(&["in use"]);
}

/// A database of layout 1 (record locations and nodes in sled, no flat
/// files) is rebuilt as this layout by the first command, which says so in a
/// note naming the layout; the ledger files are not changed and the
/// deduplication index is kept (FORMAT.md §7.2.5).
#[test]
fn old_layout_database_is_rebuilt_on_open() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    let view = outputs(&f);
    {
        let db = sled::open(f.dir.join("db")).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("layout", &1u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    for n in ["index", "tree", "checkpoint"] {
        fs::remove_file(f.ledger(n)).unwrap();
    }
    let doc = sample_leak().join("README.txt");
    let r = f.run(&["status"]);
    r.ok();
    assert!(
        r.stderr.contains("index was rebuilt") && r.stderr.contains("layout 1"),
        "{}",
        r.stderr
    );
    for n in ["index", "tree", "checkpoint"] {
        assert!(f.ledger(n).exists(), "{n} was not rebuilt");
    }
    f.assert_unchanged(&before);
    assert_eq!(outputs(&f), view);
    let again = f.run(&["status"]);
    assert!(!again.ok().stderr.contains("rebuilt"), "{}", again.stderr);
    // Content ingested again is still recognised (the index was kept).
    let again = f.ingest_json(&[s(&doc)]);
    assert_eq!(again[0]["deduplicated"], true, "{}", again[0]);
}

/// `ledger/checkpoint` left behind by a crash (an earlier checkpoint, or
/// missing) is rewritten by the next open; damaged or edited, it is rewritten
/// by the next command that takes the lock, with a note (FORMAT.md §7.2.5),
/// and the lock-free view never serves it.
#[test]
fn checkpoint_file_stale_missing_or_damaged() {
    let f = Fixture::with_samples();
    let cp = fs::read(f.ledger("checkpoint")).unwrap();
    let checkpoints = fs::read(f.ledger("checkpoints")).unwrap();
    let (off, len) = frames(&checkpoints)[0];
    let first = &checkpoints[off + 4..off + 4 + len];
    assert!(first.starts_with(format!("dropsite.example/leaks\n{INIT_RECORDS}\n").as_bytes()));
    // Stale (a crash before the file was replaced), then missing.
    fs::write(f.ledger("checkpoint"), first).unwrap();
    assert_eq!(f.records(), SAMPLES);
    assert_eq!(fs::read(f.ledger("checkpoint")).unwrap(), cp);
    fs::remove_file(f.ledger("checkpoint")).unwrap();
    f.assert_verified();
    assert_eq!(fs::read(f.ledger("checkpoint")).unwrap(), cp);
    // Damaged: one flipped byte in the signature, or a checkpoint of the
    // right size that is not the one stored.
    let sig = cp.len() - 10;
    for damage in [0usize, sig] {
        flip_byte(&f.ledger("checkpoint"), damage);
        let r = f.run(&["checkpoint"]);
        assert_eq!(r.ok().stdout_bytes, cp);
        assert!(
            r.stderr.contains("index was rebuilt") && r.stderr.contains("ledger/checkpoint"),
            "{}",
            r.stderr
        );
        assert_eq!(fs::read(f.ledger("checkpoint")).unwrap(), cp);
        f.assert_verified();
        // And when `verify` is the first command after the damage.
        flip_byte(&f.ledger("checkpoint"), damage);
        let (code, v) = f.verify(&[]);
        assert_eq!(code, OK, "{v}");
        assert_eq!(fs::read(f.ledger("checkpoint")).unwrap(), cp);
    }
}

/// Flat files shorter than the database (lost, or cut) are index damage:
/// the next command, reading or writing, rebuilds them from the ledger files
/// with a note, and the ledger files are not changed (FORMAT.md §7.2.5).
#[test]
fn missing_or_short_flat_files_are_rebuilt_on_open() {
    let pristine = Fixture::with_samples();
    let before = pristine.snapshot();
    let flat = flat_files(&pristine);
    let doc = sample_leak().join("README.txt");

    let f = pristine.duplicate();
    fs::remove_file(f.ledger("tree")).unwrap();
    let r = f.run(&["status"]);
    r.ok();
    assert!(
        r.stderr.contains("index was rebuilt") && r.stderr.contains("ledger/tree is missing"),
        "{}",
        r.stderr
    );
    f.assert_unchanged(&before);
    assert_eq!(flat_files(&f), flat);

    let f = pristine.duplicate();
    let tree = f.ledger("tree");
    let len = fs::metadata(&tree).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&tree)
        .unwrap()
        .set_len(len - 32)
        .unwrap();
    let r = f.run(&["ingest", s(&doc)]);
    r.ok();
    assert!(
        r.stderr.contains(&format!(
            "ledger/tree holds {} Merkle nodes but {SAMPLES} records need {}",
            nodes(SAMPLES) - 1,
            nodes(SAMPLES)
        )),
        "{}",
        r.stderr
    );
    f.assert_verified();
    assert_eq!(f.records(), SAMPLES + 1);
}

/// Flat files of garbage (right lengths, wrong bytes) give a bounded report:
/// 16 findings naming records, then one counting the rest.
#[test]
fn garbage_flat_files_give_a_bounded_report() {
    let f = Fixture::with_samples();
    let before = f.snapshot();
    for n in ["index", "tree"] {
        let len = fs::metadata(f.ledger(n)).unwrap().len() as usize;
        fs::write(f.ledger(n), vec![0x5a; len]).unwrap();
    }
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING);
    let found = findings_of(&v, "index_mismatch");
    assert_eq!(checks(&v).len(), found.len(), "{v}");
    // 10 index entries and 18 nodes differ: 16 listed, 12 counted.
    let differ = SAMPLES + nodes(SAMPLES);
    assert_eq!(found.len(), 17, "{v}");
    assert!(found[..16].iter().all(|x| x["subject"]["type"] == "record"));
    assert_eq!(found[16]["subject"]["type"], "archive");
    assert!(
        found[16]["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} more entries", differ - 16)),
        "{v}"
    );
    f.run(&["reindex"]).ok();
    f.assert_unchanged(&before);
}
