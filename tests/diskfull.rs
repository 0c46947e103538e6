//! A full disk (issue 6): an ingest onto a small file system fails with a
//! clear error, keeps every file it reported, leaves the archive verifiable,
//! and a later ingest after space is freed completes the work.
//!
//! Needs root to mount a tmpfs of a few MiB (CI runs as root); skipped with a
//! message otherwise.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path, size: &str) -> Option<Mount> {
        fs::create_dir_all(at).unwrap();
        let ok = Std::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .map(|st| st.success())
            .unwrap_or(false);
        ok.then(|| Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Std::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn random_file(path: &Path, len: usize) {
    let mut b = vec![0u8; len];
    getrandom::fill(&mut b).unwrap();
    fs::write(path, b).unwrap();
}

/// `custody init` of the fixture's keys in `dir/archive`.
fn init_in(f: &Fixture, dir: &Path) -> PathBuf {
    let archive = dir.join("archive");
    let mut c = custody();
    c.args(["init", s(&archive), "--signing-key"])
        .arg(f.signing_key())
        .arg("--admin-key")
        .arg(f.admin_key())
        .arg("--identity")
        .arg(f.identity())
        .arg("--recipient")
        .arg(f.keys.join("recipient.txt"));
    run(c).ok();
    archive
}

#[test]
fn ingest_onto_a_full_disk_keeps_what_it_reported_and_resumes() {
    let f = Fixture::uninit();
    let Some(mnt) = Mount::new(&f.path().join("mnt"), "16m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs this test as root)");
        return;
    };
    let archive = init_in(&f, &mnt.0);
    // Leave about 3 MiB free, then ingest 6 MiB (and after freeing 12 MiB, room to spare).
    random_file(&mnt.0.join("filler"), 12 << 20);
    let inbox = f.path().join("inbox");
    fs::create_dir(&inbox).unwrap();
    for i in 0..6 {
        random_file(&inbox.join(format!("doc{i}.bin")), 1 << 20);
    }
    let cmd = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&archive).args(args);
        run(c)
    };
    let r = cmd(&["ingest", s(&inbox), "--json"]);
    r.code(ERROR);
    let err: Vec<&str> = r.stderr.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(err.len(), 1, "one line: {}", r.stderr);
    assert!(
        err[0].contains("No space left on device")
            && err[0].contains("is full: free space there, then run the same command again"),
        "{}",
        err[0]
    );
    assert!(
        err[0].contains("archive/blobs"),
        "names the archive, not the input: {}",
        err[0]
    );
    // Every file reported was stored and is in the log.
    let reported: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("index").is_some())
        .collect();
    assert!(reported.len() < 6, "the disk cannot hold all six");
    let log: Vec<serde_json::Value> = cmd(&["log", "--json"])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for d in &reported {
        let i = d["index"].as_u64().unwrap() as usize;
        assert_eq!(log[i]["blob"], d["blob"], "{d}");
    }
    let v = cmd(&["verify"]);
    v.ok();
    assert_eq!(
        fs::read_dir(archive.join("blobs/tmp")).unwrap().count(),
        0,
        "no temp file left"
    );

    // Space freed: the same command completes the work: what it recorded is
    // listed and not recorded again (FORMAT.md §7.3, path tags), no content
    // is stored twice.
    fs::remove_file(mnt.0.join("filler")).unwrap();
    let r = cmd(&["ingest", s(&inbox), "--json"]);
    r.ok();
    let lines = r.json_lines();
    assert_eq!(lines.len(), 7, "six files and the summary");
    let again = lines
        .iter()
        .filter(|l| l.get("already_recorded").is_some())
        .count();
    assert_eq!(
        again,
        reported.len(),
        "what was recorded is not recorded again"
    );
    cmd(&["verify"]).ok();
    let mut blobs: Vec<String> = cmd(&["log", "--json"])
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["blob"].as_str().map(String::from))
        .collect();
    blobs.sort();
    blobs.dedup();
    assert_eq!(blobs.len(), 6, "each content stored once");
}

/// Fills the file system at `dir` to the last byte.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let p = dir.join("filler-all");
    let mut f = fs::File::create(&p).unwrap();
    let chunk = vec![0x5a; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let small = [0x5a; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    p
}

/// Read-only commands on a full disk (issue 15, item 3): they succeed or
/// stop with one line naming the full disk, and once space is freed every
/// command works with no `reindex` by hand — also when the database was lost
/// and its rebuild (FORMAT.md §7.2.5) hit the full disk.
#[test]
fn read_only_commands_on_a_full_disk_leave_nothing_to_repair() {
    let f = Fixture::uninit();
    let Some(mnt) = Mount::new(&f.path().join("mnt"), "16m") else {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs this test as root)");
        return;
    };
    let archive = init_in(&f, &mnt.0);
    let cmd = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&archive).args(args);
        run(c)
    };
    let one_line_or_ok = |r: &Run, what: &str| {
        r.no_panic();
        if r.code != OK {
            r.code(ERROR);
            let err: Vec<&str> = r.stderr.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(err.len(), 1, "{what}: one line: {}", r.stderr);
            assert!(
                err[0].contains("No space left on device"),
                "{what}: {}",
                err[0]
            );
        }
    };
    // The first commands after init write sled's first snapshot.
    let filler = fill(&mnt.0);
    for args in [["verify"], ["status"], ["log"]] {
        one_line_or_ok(&cmd(&args), args[0]);
    }
    fs::remove_file(&filler).unwrap();
    cmd(&["status"]).ok();
    cmd(&["verify"]).ok();

    // The database lost, and rebuilt on a full disk.
    fs::remove_dir_all(archive.join("db")).unwrap();
    let filler = fill(&mnt.0);
    for args in [["status"], ["verify"]] {
        one_line_or_ok(&cmd(&args), args[0]);
    }
    fs::remove_file(&filler).unwrap();
    let r = cmd(&["status"]);
    r.ok();
    let v = cmd(&["verify"]);
    v.ok();
    assert!(!archive.join("reindex.pending").exists());
    let snaps = fs::read_dir(archive.join("db"))
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n.to_string_lossy().ends_with(".generating")
        })
        .count();
    assert_eq!(snaps, 0, "a half-written snapshot was left");
}
