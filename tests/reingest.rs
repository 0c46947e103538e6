//! Re-ingesting a tree (issue 19 item 5, FORMAT.md §7.3 path tags): a file
//! whose path and content are already recorded gets no new record, and the
//! ingest says so; `--again` records it again; a changed file, a moved file
//! and a new file are recorded; without the identity that opens the
//! deduplication secret nothing can be recognised, and everything is
//! recorded, as the ingest says.

mod common;

use std::fs;

use common::*;
use serde_json::Value;

fn ingest(f: &Fixture, dir: &std::path::Path, extra: &[&str]) -> (Vec<Value>, Value) {
    let mut v = f.json_lines(&[&["ingest", dir.to_str().unwrap()], extra].concat());
    let summary = v.pop().unwrap();
    (v, summary)
}

#[test]
fn a_tree_ingested_again_records_only_what_changed() {
    let f = Fixture::new();
    let tree = f.path().join("drive");
    fs::create_dir_all(tree.join("mail")).unwrap();
    fs::write(tree.join("mail/a.eml"), "first\n").unwrap();
    fs::write(tree.join("mail/b.eml"), "second\n").unwrap();
    fs::write(tree.join("c.txt"), "third\n").unwrap();
    let (lines, s) = ingest(&f, &tree, &[]);
    assert_eq!(lines.len(), 3);
    assert_eq!(s["summary"]["files"], 3);
    let records = f.records();

    // The same tree again: nothing recorded, each file reported.
    let (lines, s) = ingest(&f, &tree, &[]);
    assert_eq!(s["summary"]["files"], 0, "{s}");
    assert_eq!(s["summary"]["already_recorded"], 3, "{s}");
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let a = &l["already_recorded"];
        assert!(a["path"].is_string() && a["record"].is_u64(), "{l}");
    }
    assert_eq!(f.records(), records, "no record appended");
    f.assert_verified();
    // Text output says so, with the way out.
    let r = f.run(&["ingest", tree.to_str().unwrap()]);
    r.ok();
    assert!(
        r.stdout
            .contains("already recorded with this path and content"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("3 file(s) not recorded again"),
        "{}",
        r.stdout
    );

    // A changed file, a file moved, a new file: recorded; the rest not.
    fs::write(tree.join("c.txt"), "third, edited\n").unwrap();
    fs::rename(tree.join("mail/b.eml"), tree.join("b-moved.eml")).unwrap();
    fs::write(tree.join("mail/d.eml"), "fourth\n").unwrap();
    let (lines, s) = ingest(&f, &tree, &[]);
    assert_eq!(s["summary"]["files"], 3, "{s}");
    assert_eq!(s["summary"]["already_recorded"], 1, "{s}");
    let recorded: Vec<&str> = lines.iter().filter_map(|l| l["path"].as_str()).collect();
    let mut recorded = recorded;
    recorded.sort();
    assert_eq!(
        recorded,
        ["drive/b-moved.eml", "drive/c.txt", "drive/mail/d.eml"]
    );

    // --again records everything again.
    let (_, s) = ingest(&f, &tree, &["--again"]);
    assert_eq!(s["summary"]["files"], 4, "{s}");
    assert_eq!(s["summary"]["already_recorded"], 0);
    f.assert_verified();
}

/// Without the identity that opens the deduplication secret, the ingest
/// cannot recognise what is recorded: it records everything, and says that
/// content already stored is stored again.
#[test]
fn without_the_identity_everything_is_recorded() {
    let f = Fixture::new();
    let tree = f.path().join("drive");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("a.txt"), "one\n").unwrap();
    ingest(&f, &tree, &[]);
    f.forget_identity();
    let r = f.run(&["ingest", tree.to_str().unwrap()]);
    r.ok();
    assert!(!r.stdout.contains("already recorded"), "{}", r.stdout);
    assert!(r.stdout.contains("ingested 1 files"), "{}", r.stdout);
}

/// The path tags live in `ledger/dedup` like content tags: a rebuilt index
/// (`reindex`) still recognises the tree.
#[test]
fn path_tags_survive_a_reindex() {
    let f = Fixture::new();
    let tree = f.path().join("drive");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("a.txt"), "one\n").unwrap();
    ingest(&f, &tree, &[]);
    f.run(&["reindex"]).ok();
    let (_, s) = ingest(&f, &tree, &[]);
    assert_eq!(s["summary"]["already_recorded"], 1, "{s}");
    assert_eq!(s["summary"]["files"], 0);
}
