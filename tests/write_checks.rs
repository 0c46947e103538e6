//! Issue 15, item 4: every writing command checks the archive before it
//! writes, and exits 2 only when nothing was written. Before, a flipped last
//! byte of `ledger/tree` made `ingest` append a record and then fail
//! "refusing to sign" with exit 2, and a flipped `ledger/index` or
//! `ledger/checkpoint` went unnoticed. Now damage to the index (derived from
//! the ledger) is rebuilt before the write (FORMAT.md §7.2.5), and damage to
//! the ledger itself refuses every writer with no byte of the archive changed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file of the archive but the database and the lock file, by path.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel == Path::new("db") || rel == Path::new("lock") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn index_damage_is_rebuilt_before_a_write() {
    let base = Fixture::with_samples();
    let doc = base.path().join("memo.txt");
    fs::write(&doc, "a new memo\n").unwrap();
    for name in ["tree", "index", "checkpoint"] {
        let f = base.duplicate();
        let p = f.ledger(name);
        // (The snapshot runs `status`, which would repair the damage first.)
        let before = f.snapshot();
        let len = fs::metadata(&p).unwrap().len() as usize;
        flip_byte(&p, len - 1);
        let r = f.run(&["ingest", s(&doc)]);
        r.ok();
        assert!(
            r.stderr.contains("index was rebuilt")
                && (r.stderr.contains("index_mismatch") || r.stderr.contains("ledger/checkpoint")),
            "{name}: {}",
            r.stderr
        );
        f.assert_verified();
        assert_eq!(f.records(), before.count + 1, "{name}");
        assert!(f.snapshot().records.starts_with(&before.records), "{name}");
    }
}

#[test]
fn ledger_damage_refuses_every_writer_and_writes_nothing() {
    let base = Fixture::with_samples();
    let doc = base.path().join("memo.txt");
    fs::write(&doc, "a new memo\n").unwrap();
    let last_ingested = (INIT_RECORDS + 7).to_string();
    let vkey = base.vkey();
    let writers: Vec<Vec<&str>> = vec![
        vec!["ingest", s(&doc)],
        vec!["checkpoint", "--sign"],
        vec!["annotate", &last_ingested, "checked"],
        vec!["approve", &last_ingested],
        vec!["actor", "add", "carol", "--role", "journalist", s(&vkey)],
    ];
    let records = fs::read(base.ledger("records")).unwrap();
    let checkpoints = fs::read(base.ledger("checkpoints")).unwrap();
    let (rec_off, rec_len) = frames(&records)[INIT_RECORDS as usize + 3];
    let (cp_off, cp_len) = frames(&checkpoints)[1];
    let damage: [(&str, &str, usize); 3] = [
        ("a record's signature", "records", rec_off + 4 + rec_len - 5),
        ("a record's body", "records", rec_off + 4 + 20),
        (
            "a checkpoint's signature",
            "checkpoints",
            cp_off + 4 + cp_len - 10,
        ),
    ];
    let mut refused = 0;
    for (what, file, at) in damage {
        for args in &writers {
            let f = base.duplicate();
            flip_byte(&f.ledger(file), at);
            let before = files(&f.dir);
            let r = f.run(args);
            r.no_panic();
            r.code(ERROR);
            let err: Vec<&str> = r.stderr.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(err.len(), 1, "{what} / {args:?}: one line: {}", r.stderr);
            assert!(
                err[0].contains("nothing was written") || err[0].contains("refused"),
                "{what} / {args:?}: {}",
                err[0]
            );
            let after = files(&f.dir);
            let changed: Vec<_> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(*v))
                .map(|(k, _)| k.display().to_string())
                .chain(
                    before
                        .keys()
                        .filter(|k| !after.contains_key(*k))
                        .map(|k| k.display().to_string()),
                )
                .collect();
            assert!(
                changed.is_empty(),
                "{what} / {args:?}: exit 2 but wrote {changed:?}"
            );
            refused += 1;
        }
    }
    eprintln!("{refused} writes refused on a damaged ledger, none wrote a byte");
}
