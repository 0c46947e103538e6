//! Fault injection (issue 6): the durable writes, fsyncs and renames of
//! `ingest`, `share`, `receive`, `witness cosign`, `actor add`, `approve` and
//! `extract` fail one at a time with EIO (`CUSTODY_FAULT`, src/store/files/fault.rs; debug
//! builds only), and every time:
//!
//! * the command exits 2 with one `error: …; hint` line naming an I/O error,
//!   does not panic, and prints no success (an ingest prints only the files
//!   whose batch was durable, and no summary);
//! * the archive opens and `verify` finds nothing but unreferenced blobs and,
//!   when the fault fell between the last record and the closing checkpoint,
//!   `checkpoint_missing`;
//! * everything the command reported as done is there;
//! * the same command run again (without the fault) completes, stores no
//!   content twice, and leaves an archive that verifies (unreferenced blobs aside).
//!
//! The points are enumerated by a run with `CUSTODY_FAULT=count`: each write
//! (`write:N`, and `torn:N`: half written, then the error), each fsync and
//! each rename of the command is one point. CI runs a seeded subset per
//! command (`CUSTODY_FAULT_POINTS`, default 6; `CUSTODY_FAULT_SEED`); the
//! long mode runs every point:
//! `CUSTODY_FAULT_POINTS=all cargo test --test faults -- --nocapture`.
//!
//! `extract` and `share` are also killed (SIGKILL, `CUSTODY_FAULT=kill-KIND:N`)
//! just before each of their durable operations, with and without
//! `O_TMPFILE` (issue 15): no file outside the archive but the finished
//! output once the next command ran, no plaintext or its digest on any disk
//! they touched, and a re-run that completes (one share record). CI runs a
//! seeded subset (`CUSTODY_KILL_POINTS`, default 3 per case); the long mode:
//! `CUSTODY_KILL_POINTS=all cargo test --test faults killed -- --nocapture`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::durability::*;
use common::*;
use custody::core::hash::Digest;
use serde_json::Value;

/// The operations of one uninterrupted run of a command, by kind, from its trace.
#[derive(Debug, Default)]
struct Ops {
    write: u64,
    fsync: u64,
    rename: u64,
    /// Results reported once durable (`kill-report:N` only).
    report: u64,
}

fn parse_trace(text: &str) -> Ops {
    let mut ops = Ops::default();
    for l in text.lines() {
        match l.split(' ').next() {
            Some("write") => ops.write += 1,
            Some("fsync") => ops.fsync += 1,
            Some("rename") => ops.rename += 1,
            Some("report") => ops.report += 1,
            _ => panic!("unexpected trace line {l:?}"),
        }
    }
    ops
}

/// Every fault point of a command: `write:N`, `torn:N`, `fsync:N`, `rename:N`.
fn all_points(ops: &Ops) -> Vec<String> {
    let mut v = Vec::new();
    for (kind, n) in [
        ("write", ops.write),
        ("torn", ops.write),
        ("fsync", ops.fsync),
        ("rename", ops.rename),
    ] {
        v.extend((1..=n).map(|i| format!("{kind}:{i}")));
    }
    v
}

/// The points to run: all of them in the long mode (`VAR=all`), else a
/// seeded subset of `VAR` points (default `default`) with at least one
/// point of each kind.
fn choose(points: Vec<String>, name: &str, var: &str, default: usize) -> Vec<String> {
    let mode = std::env::var(var).unwrap_or_default();
    if mode == "all" {
        return points;
    }
    let want: usize = mode.parse().unwrap_or(default);
    let seed: u64 = std::env::var("CUSTODY_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xfa17_5eed);
    let mut rng = Rng((seed ^ Digest::of(name.as_bytes()).0[0] as u64) | 1);
    let mut left = points;
    let mut out = Vec::new();
    for kind in ["write:", "torn:", "fsync:", "rename:", "report:"] {
        let of: Vec<usize> = (0..left.len())
            .filter(|&i| left[i].starts_with(kind))
            .collect();
        if !of.is_empty() && out.len() < want {
            let i = of[rng.below(of.len() as u64) as usize];
            out.push(left.remove(i));
        }
    }
    while out.len() < want && !left.is_empty() {
        let i = rng.below(left.len() as u64) as usize;
        out.push(left.remove(i));
    }
    out
}

/// One command under test.
struct Scenario<'a> {
    name: &'static str,
    /// The archive it writes to; every run works on a fresh copy.
    archive: &'a Path,
    /// Its arguments, given the copy and a scratch directory for outputs.
    args: &'a dyn Fn(&Path, &Path) -> Vec<String>,
    /// A path its errors must never name: the faults are in the archive.
    input: Option<&'a Path>,
    /// Checks after the faulted run (`faulted`) and the re-run (`rerun`),
    /// given the copy and the scratch directory.
    check: &'a dyn Fn(&Path, &Path, &Ran, &Ran),
}

/// A fresh copy of `archive` in a new temp dir (with a scratch directory).
fn copy_of(archive: &Path) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("archive");
    copy_dir(archive, &dir);
    let scratch = t.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    (t, dir, scratch)
}

fn run_args(args: &[String], env: &[(&str, &str)]) -> Ran {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run_env(&a, env)
}

/// Runs every chosen fault point of `sc`; returns (points in all, points run).
fn exercise(sc: &Scenario) -> (usize, usize) {
    let start = Instant::now();
    // 1. Enumerate: one run that counts the operations.
    let (_t, dir, scratch) = copy_of(sc.archive);
    let trace = scratch.join("trace");
    let r = run_args(
        &(sc.args)(&dir, &scratch),
        &[
            ("CUSTODY_FAULT", "count"),
            ("CUSTODY_FAULT_TRACE", s(&trace)),
        ],
    );
    assert_eq!(
        r.code, OK,
        "{}: the counting run failed: {}",
        sc.name, r.stderr
    );
    let text = fs::read_to_string(&trace).unwrap_or_default();
    let ops = parse_trace(&text);
    assert!(
        ops.write > 0 && ops.fsync > 0,
        "{}: no durable operation traced:\n{text}",
        sc.name
    );
    let all = all_points(&ops);
    let total = all.len();
    let chosen = choose(all, sc.name, "CUSTODY_FAULT_POINTS", 6);
    // 2. Each point: fault, check, re-run, check.
    for point in &chosen {
        // Blob addresses differ from run to run (age encrypts with a random
        // file key), and new blobs that share a shard directory share its
        // fsync: a run can have one point fewer than the counting run. A
        // point such a run did not have is tried again on a fresh copy.
        let mut tries = 0;
        let (_t, dir, scratch, args, faulted, text) = loop {
            let (t, dir, scratch) = copy_of(sc.archive);
            let trace = scratch.join("trace");
            let args = (sc.args)(&dir, &scratch);
            let faulted = run_args(
                &args,
                &[("CUSTODY_FAULT", point), ("CUSTODY_FAULT_TRACE", s(&trace))],
            );
            let text = fs::read_to_string(&trace).unwrap_or_default();
            tries += 1;
            if tries < 5 && faulted.code == OK && !reached(&text, point) {
                continue;
            }
            break (t, dir, scratch, args, faulted, text);
        };
        let what = format!("{} with {point}", sc.name);
        let hit = text
            .lines()
            .find(|l| l.ends_with(" FAIL") || l.ends_with(" TORN"))
            .unwrap_or_else(|| panic!("{what}: the fault was not reached:\n{text}"));
        let what = format!("{what} ({hit})");
        assert_failed_clearly(&faulted, &what);
        if let Some(input) = sc.input {
            assert!(
                !faulted.stderr.contains(s(input)),
                "{what}: the error names the input, not the archive: {}",
                faulted.stderr
            );
        }
        assert_only(&dir, &ALLOWED, &what);
        let rerun = run_args(&args, &[]);
        assert!(
            !rerun.stderr.contains("panicked"),
            "{what}: the re-run panicked: {}",
            rerun.stderr
        );
        (sc.check)(&dir, &scratch, &faulted, &rerun);
        assert_only(&dir, &ALLOWED[..1], &format!("{what}, after the re-run"));
    }
    eprintln!(
        "faults: {}: {} points ({}), {} run, {:.1} s",
        sc.name,
        total,
        format_args!(
            "{} writes, {} torn writes, {} fsyncs, {} renames",
            ops.write, ops.write, ops.fsync, ops.rename
        ),
        chosen.len(),
        start.elapsed().as_secs_f64()
    );
    (total, chosen.len())
}

/// Whether a traced run got as far as `point` (`write:N`, `torn:N`,
/// `fsync:N`, `rename:N`): it has an operation of that kind numbered N.
fn reached(trace: &str, point: &str) -> bool {
    let (kind, n) = point.split_once(':').unwrap();
    let kind = if kind == "torn" { "write" } else { kind };
    trace.lines().any(|l| {
        let mut w = l.split(' ');
        w.next() == Some(kind) && w.next() == Some(n)
    })
}

/// Exit 2, one `error: …; hint` line naming the I/O error, no panic.
#[track_caller]
fn assert_failed_clearly(r: &Ran, what: &str) {
    assert!(
        !r.stderr.contains("panicked") && !r.stdout.contains("panicked"),
        "{what}: panicked: {}",
        r.stderr
    );
    assert_eq!(
        r.code, ERROR,
        "{what}: exit {} (wanted 2)\nstdout: {}\nstderr: {}",
        r.code, r.stdout, r.stderr
    );
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: not one line:\n{}", r.stderr);
    let l = lines[0];
    assert!(
        l.starts_with("error: ") && l.contains("; "),
        "{what}: not an error line with a hint: {l}"
    );
    assert!(
        l.contains("os error 5"),
        "{what}: the I/O error is not named: {l}"
    );
}

fn lines_of(stdout: &str) -> Vec<Value> {
    json_lines(stdout)
}

/// Drop Site's archive with the sample leak.
fn drop_site() -> Fixture {
    Fixture::with_samples()
}

/// The index of the `k`-th document ingested into a new archive (after the
/// records `init` writes), as a REF.
fn doc_ref(k: u64) -> String {
    (INIT_RECORDS + k).to_string()
}

/// A new person's keys (`keygen`) in `dir/NAME`.
fn person(dir: &Path, name: &str) -> PathBuf {
    let keys = dir.join(name);
    let (code, _, _) = run_full(&[
        "keygen",
        "--name",
        &format!("dropsite.example/{name}"),
        "-o",
        s(&keys),
    ]);
    assert_eq!(code, OK, "keygen {name}");
    keys
}

#[test]
fn ingest_survives_every_fault() {
    let ds = drop_site();
    let input = ds.path().join("input");
    fs::create_dir(&input).unwrap();
    let mut rng = Rng(0x1e57);
    let mut contents: BTreeSet<Digest> = SAMPLE_FILES
        .iter()
        .map(|f| Digest::of(&sample_bytes(f)))
        .collect();
    let mut files: Vec<Vec<u8>> = (0..3)
        .map(|_| {
            let n = 1 + rng.below(20_000) as usize;
            rng.bytes(n)
        })
        .collect();
    files.push(files[0].clone()); // the same content twice in one ingest
    files.push(sample_bytes(SAMPLE_FILES[2])); // a content the archive holds
    for (i, b) in files.iter().enumerate() {
        contents.insert(Digest::of(b));
        fs::write(input.join(format!("f{i}")), b).unwrap();
    }
    let args = |dir: &Path, _: &Path| -> Vec<String> {
        ["-A", s(dir), "ingest", s(&input), "--json"]
            .map(String::from)
            .to_vec()
    };
    let check = |dir: &Path, _: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(
            !faulted.stdout.contains("\"summary\""),
            "a failed ingest printed its summary: {}",
            faulted.stdout
        );
        assert_reported_present(dir, &faulted.stdout);
        assert_eq!(rerun.code, OK, "re-running the ingest: {}", rerun.stderr);
        let blobs: BTreeSet<String> = document_blobs(dir).into_iter().collect();
        assert_eq!(blobs.len(), contents.len(), "a content was stored twice");
    };
    exercise(&Scenario {
        name: "ingest",
        archive: &ds.dir,
        args: &args,
        input: Some(&input),
        check: &check,
    });
}

#[test]
fn share_survives_every_fault() {
    let ds = drop_site();
    let gu_keys = ds.other_keys("guardian");
    let (id, to, vkey) = (ds.identity(), gu_keys.join("recipient.txt"), ds.vkey());
    let memo = doc_ref(6);
    let args = |dir: &Path, scratch: &Path| -> Vec<String> {
        let out = scratch.join("memo.bundle");
        [
            "-A",
            s(dir),
            "share",
            &memo,
            "--to",
            s(&to),
            "-i",
            s(&id),
            "-o",
            s(&out),
            "--force",
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let verify_bundle = |b: &Path| run_full(&["verify-bundle", s(b), "--trust", s(&vkey)]).0;
    let needles = plaintext_needles(&sample_bytes(SAMPLE_FILES[6]));
    let check = |dir: &Path, scratch: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(faulted.stdout.is_empty(), "printed: {}", faulted.stdout);
        let found = files_holding(&[dir, scratch], &[&scratch.join("trace")], &needles);
        assert!(found.is_empty(), "plaintext on disk: {found:?}");
        let bundle = scratch.join("memo.bundle");
        // The rename done, its directory's fsync failed: the bundle is whole.
        if bundle.exists() {
            assert_eq!(verify_bundle(&bundle), OK, "a bundle left behind is whole");
        }
        // No temporary file of the bundle left beside it.
        let left: Vec<_> = fs::read_dir(scratch)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        assert_eq!(rerun.code, OK, "re-running the share: {}", rerun.stderr);
        assert_eq!(verify_bundle(&bundle), OK);
        // Completed or undone, never doubled (FORMAT.md §7.8).
        assert_eq!(shares_of(dir, INIT_RECORDS + 6), 1, "share records");
        assert!(pending(dir).is_empty(), "pending: {:?}", pending(dir));
    };
    exercise(&Scenario {
        name: "share",
        archive: &ds.dir,
        args: &args,
        input: None,
        check: &check,
    });
}

#[test]
fn receive_survives_every_fault() {
    let ds = drop_site();
    let gu = Fixture::new_as("guardian");
    let wire = tempfile::tempdir().unwrap();
    let bundle = wire.path().join("memo.bundle");
    ds.share_to(&doc_ref(6), &gu, &bundle);
    let (gid, trusted) = (gu.identity(), ds.vkey());
    let args = |dir: &Path, _: &Path| -> Vec<String> {
        [
            "-A",
            s(dir),
            "receive",
            s(&bundle),
            "-i",
            s(&gid),
            "--trust",
            s(&trusted),
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let check = |dir: &Path, _: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(faulted.stdout.is_empty(), "printed: {}", faulted.stdout);
        // exit 1: the failed run's record was durable after all (not reported).
        assert!(
            rerun.code == OK || rerun.code == FINDING,
            "re-running the receive: {}",
            rerun.stderr
        );
        let receives: Vec<Value> = log(dir)
            .into_iter()
            .filter(|r| r["kind"] == "receive")
            .collect();
        assert_eq!(receives.len(), 1, "exactly one receive of the bundle");
        assert_eq!(document_blobs(dir).len(), 1);
    };
    exercise(&Scenario {
        name: "receive",
        archive: &gu.dir,
        args: &args,
        input: Some(&bundle),
        check: &check,
    });
}

#[test]
fn witness_cosign_survives_every_fault() {
    let ds = drop_site();
    let gu = Fixture::new_as("guardian");
    let wkey = gu.keys.join("witness.key");
    gu.run(&[
        "witness",
        "add-log",
        "dropsite.example/leaks",
        s(&ds.vkey()),
        "--witness-key",
        s(&wkey),
    ])
    .ok();
    let (code, note, _) = run_full(&["-A", s(&ds.dir), "checkpoint"]);
    assert_eq!(code, OK);
    let note_path = ds.path().join("checkpoint.note");
    fs::write(&note_path, note).unwrap();
    // The cosignature goes to a file (-o): its atomic write is faulted too.
    let args = |dir: &Path, scratch: &Path| -> Vec<String> {
        let out = scratch.join("cosig");
        [
            "-A",
            s(dir),
            "witness",
            "cosign",
            s(&note_path),
            "--witness-key",
            s(&wkey),
            "-o",
            s(&out),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = |p: &Path| {
        let t = fs::read_to_string(p).unwrap();
        t.starts_with("\u{2014} theguardian.example/witness ")
            && t.ends_with('\n')
            && t.lines().count() == 1
    };
    let check = |_: &Path, scratch: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(faulted.stdout.is_empty(), "printed: {}", faulted.stdout);
        let out = scratch.join("cosig");
        // Renamed into place, its directory's fsync failed: the line is whole
        // (and the history entry it needs was durable before it was made).
        if out.exists() {
            assert!(whole(&out), "{:?}", fs::read_to_string(&out));
        }
        assert_eq!(rerun.code, OK, "re-running the cosign: {}", rerun.stderr);
        assert!(whole(&out), "{:?}", fs::read_to_string(&out));
    };
    exercise(&Scenario {
        name: "witness cosign",
        archive: &gu.dir,
        args: &args,
        input: None,
        check: &check,
    });
}

#[test]
fn actor_add_survives_every_fault() {
    let ds = Fixture::new();
    let keys = person(ds.path(), "alice");
    let vkey = keys.join("signing.vkey");
    // Actors' names are sealed (FORMAT.md §4.16): `actor list` and `log`
    // show them with the archive's identity. (`actor add` runs without one,
    // as before: a second add of the same key is refused as a key in use.)
    let id = ds.identity();
    let args = |dir: &Path, _: &Path| -> Vec<String> {
        [
            "-A",
            s(dir),
            "actor",
            "add",
            "alice",
            s(&vkey),
            "--role",
            "journalist",
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let check = |dir: &Path, _: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(faulted.stdout.is_empty(), "printed: {}", faulted.stdout);
        // A non-zero re-run only if the failed run's record was durable after all.
        let (_, list, _) = run_full(&["-A", s(dir), "actor", "list", "-i", s(&id), "--json"]);
        assert_eq!(
            list.matches("\"alice\"").count(),
            1,
            "the actor is there once (re-run exit {}: {}): {list}",
            rerun.code,
            rerun.stderr
        );
        if rerun.code != OK {
            let (code, out, _) = run_full(&["-A", s(dir), "log", "-i", s(&id), "--json"]);
            assert_eq!(code, OK, "log of {dir:?}");
            let adds = json_lines(&out)
                .iter()
                .filter(|r| r["kind"] == "actor" && r["details"]["name"] == "alice")
                .count();
            assert_eq!(adds, 1, "{}", rerun.stderr);
        }
    };
    exercise(&Scenario {
        name: "actor add",
        archive: &ds.dir,
        args: &args,
        input: None,
        check: &check,
    });
}

#[test]
fn approve_survives_every_fault() {
    let ds = drop_site();
    let keys = person(ds.path(), "ed");
    set_mode(&keys.join("signing.key"), 0o600);
    ds.run(&[
        "actor",
        "add",
        "ed",
        s(&keys.join("signing.vkey")),
        "--role",
        "editor",
    ])
    .ok();
    let key = keys.join("signing.key");
    let memo = doc_ref(6);
    let args = |dir: &Path, _: &Path| -> Vec<String> {
        ["-A", s(dir), "--key", s(&key), "approve", &memo, "--json"]
            .map(String::from)
            .to_vec()
    };
    let check = |dir: &Path, _: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(faulted.stdout.is_empty(), "printed: {}", faulted.stdout);
        assert_eq!(rerun.code, OK, "re-running the approve: {}", rerun.stderr);
        let reported = lines_of(&rerun.stdout);
        let i = reported[0]["index"].as_u64().unwrap() as usize;
        let records = log(dir);
        assert_eq!(records[i]["kind"], "approve");
        let approvals = records.iter().filter(|r| r["kind"] == "approve").count();
        // Two only when the failed run's record was durable after all.
        assert!((1..=2).contains(&approvals), "{approvals} approvals");
    };
    exercise(&Scenario {
        name: "approve",
        archive: &ds.dir,
        args: &args,
        input: None,
        check: &check,
    });
}

#[test]
fn extract_survives_every_fault() {
    let ds = drop_site();
    let id = ds.identity();
    let fourth = doc_ref(3);
    let args = |dir: &Path, scratch: &Path| -> Vec<String> {
        let out = scratch.join("plain.txt");
        [
            "-A",
            s(dir),
            "extract",
            &fourth,
            "-i",
            s(&id),
            "-o",
            s(&out),
            "--force",
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let want = sample_bytes(SAMPLE_FILES[3]);
    let needles = plaintext_needles(&want);
    let check = |dir: &Path, scratch: &Path, faulted: &Ran, rerun: &Ran| {
        assert!(faulted.stdout.is_empty(), "printed: {}", faulted.stdout);
        let out = scratch.join("plain.txt");
        let found = files_holding(&[dir, scratch], &[&out, &scratch.join("trace")], &needles);
        assert!(found.is_empty(), "plaintext on disk: {found:?}");
        // Renamed into place, its directory's fsync failed: the file is whole.
        if out.exists() {
            assert_eq!(fs::read(&out).unwrap(), want, "a partial plaintext");
        }
        let names: Vec<String> = fs::read_dir(scratch)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "temporary plaintext left: {names:?}");
        assert_eq!(rerun.code, OK, "re-running the extract: {}", rerun.stderr);
        assert_eq!(fs::read(&out).unwrap(), want);
        assert!(temp_files(scratch).is_empty(), "{:?}", temp_files(scratch));
        assert!(pending(dir).is_empty(), "pending: {:?}", pending(dir));
        let access = log(dir).iter().filter(|r| r["kind"] == "access").count();
        // Two when the failed run's access record was durable (it is written first).
        assert!((1..=2).contains(&access), "{access} access records");
    };
    exercise(&Scenario {
        name: "extract",
        archive: &ds.dir,
        args: &args,
        input: None,
        check: &check,
    });
}

/// An unparseable `CUSTODY_FAULT` fails every durable operation: a
/// mistyped plan never passes for a run without faults.
#[test]
fn an_unparseable_plan_fails_everything() {
    let ds = Fixture::new();
    let input = ds.path().join("doc.txt");
    fs::write(&input, b"a document\n").unwrap();
    let before = ds.snapshot();
    let r = run_env(
        &["-A", s(&ds.dir), "ingest", s(&input)],
        &[("CUSTODY_FAULT", "fsync-3")],
    );
    assert_failed_clearly(&r, "CUSTODY_FAULT=fsync-3");
    ds.assert_unchanged(&before);
}

/// Issue 6 regression: a disk error while writing a blob named the file
/// being ingested (or the bundle being received), as if the input were
/// unreadable, instead of the archive's `blobs/`.
#[test]
fn regression_a_blob_write_error_names_the_archive_not_the_input() {
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let doc = ds.path().join("big.bin");
    fs::write(&doc, Rng(7).bytes(2 << 20)).unwrap();
    let wire = tempfile::tempdir().unwrap();
    let trace = wire.path().join("trace");
    let fail_first_write = [
        ("CUSTODY_FAULT", "write:1"),
        ("CUSTODY_FAULT_TRACE", s(&trace)),
    ];
    let first_failed = |trace: &Path| {
        let t = fs::read_to_string(trace).unwrap();
        let l = t
            .lines()
            .find(|l| l.ends_with(" FAIL"))
            .unwrap()
            .to_string();
        fs::remove_file(trace).unwrap();
        l
    };
    let before = ds.snapshot();
    let r = run_env(&["-A", s(&ds.dir), "ingest", s(&doc)], &fail_first_write);
    assert_failed_clearly(&r, "ingest");
    assert!(first_failed(&trace).starts_with("write 1 blobs/tmp/"));
    assert!(!r.stderr.contains(s(&doc)), "{}", r.stderr);
    assert!(
        r.stderr.contains(s(&ds.dir.join("blobs"))) && r.stderr.contains("a disk error at"),
        "{}",
        r.stderr
    );
    ds.assert_unchanged(&before);
    ds.ingest_json(&[s(&doc)]);
    // receive: the blob is written while the payload is re-encrypted.
    let bundle = wire.path().join("big.bundle");
    ds.share_to(&doc_ref(0), &gu, &bundle);
    let before = gu.snapshot();
    let r = run_env(
        &[
            "-A",
            s(&gu.dir),
            "receive",
            s(&bundle),
            "-i",
            s(&gu.identity()),
            "--trust",
            s(&ds.vkey()),
        ],
        &fail_first_write,
    );
    assert_failed_clearly(&r, "receive");
    assert!(first_failed(&trace).starts_with("write 1 blobs/tmp/"));
    assert!(!r.stderr.contains(s(&bundle)), "{}", r.stderr);
    assert!(
        r.stderr.contains(s(&gu.dir.join("blobs"))) && r.stderr.contains("a disk error at"),
        "{}",
        r.stderr
    );
    gu.assert_unchanged(&before);
}

/// The number of the first write traced on a file whose name holds `needle`.
fn first_write_on(trace: &str, needle: &str) -> String {
    trace
        .lines()
        .find(|l| l.starts_with("write ") && l.contains(needle))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_else(|| panic!("no write on {needle} in:\n{trace}"))
        .to_string()
}

/// Issue 6 regression: a disk error while writing the output of `extract`
/// or `share` (a 2 MiB document: the write happens while decrypting) was
/// reported as the document failing to decrypt, with a hint to check the
/// archive for tampering. (`extract` writes an unnamed file, traced under
/// the output's name; `share` re-encrypts into the archive's `pending/`,
/// FORMAT.md §7.8, and writes the bundle only after its record.)
#[test]
fn regression_an_output_write_error_is_not_called_a_decryption_failure() {
    let ds = Fixture::new();
    let doc = ds.path().join("big.bin");
    fs::write(&doc, Rng(9).bytes(2 << 20)).unwrap();
    ds.ingest_json(&[s(&doc)]);
    let out = ds.path().join("out");
    fs::create_dir(&out).unwrap();
    let gu_keys = ds.other_keys("guardian");
    let big = doc_ref(0);
    let plain_out = out.join("plain.bin");
    let pending = ds.dir.join("pending");
    // (command, arguments, the file whose first write fails, the directory the error names)
    let commands: [(&str, Vec<String>, &str, &Path); 2] = [
        (
            "extract",
            [
                "-A",
                s(&ds.dir),
                "extract",
                &big,
                "-i",
                s(&ds.identity()),
                "-o",
                s(&plain_out),
            ]
            .map(String::from)
            .to_vec(),
            s(&plain_out),
            &out,
        ),
        (
            "share",
            [
                "-A",
                s(&ds.dir),
                "share",
                &big,
                "--to",
                s(&gu_keys.join("recipient.txt")),
                "-i",
                s(&ds.identity()),
                "-o",
                s(&out.join("big.bundle")),
            ]
            .map(String::from)
            .to_vec(),
            "pending/share-",
            &pending,
        ),
    ];
    for (what, args, needle, named) in commands {
        let trace = ds.path().join(format!("{what}.trace"));
        let (_t, copy, _) = copy_of(&ds.dir);
        let on_copy: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == s(&ds.dir) {
                    s(&copy).to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
        let r = run_args(
            &on_copy,
            &[
                ("CUSTODY_FAULT", "count"),
                ("CUSTODY_FAULT_TRACE", s(&trace)),
            ],
        );
        assert_eq!(r.code, OK, "{what}: {}", r.stderr);
        fs::remove_dir_all(&out).unwrap();
        fs::create_dir(&out).unwrap();
        let n = first_write_on(&fs::read_to_string(&trace).unwrap(), needle);
        let point = format!("write:{n}");
        let r = run_args(&args, &[("CUSTODY_FAULT", &point)]);
        assert_failed_clearly(&r, what);
        assert!(
            r.stderr.contains(s(named)) && r.stderr.contains("a disk error at"),
            "{what}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("decrypt") && !r.stderr.contains("tampered"),
            "{what}: {}",
            r.stderr
        );
        let left: Vec<_> = fs::read_dir(&out).unwrap().collect();
        assert!(
            left.is_empty(),
            "{what}: files left in the output directory"
        );
    }
    assert_only(&ds.dir, &ALLOWED[..1], "after the failed extract and share");
}

/// One command that writes a file outside the archive (`extract`, `share`),
/// killed with SIGKILL just before one of its durable operations
/// (`CUSTODY_FAULT=kill-KIND:N`, src/store/files/fault.rs): a crash at exactly
/// that point, where tests/crash.rs kills at random moments.
struct KillCase<'a> {
    name: &'static str,
    archive: &'a Path,
    /// Its arguments, given the archive's copy and the output path.
    args: &'a (dyn Fn(&Path, &Path) -> Vec<String> + Sync),
    /// A file at the output before the run (which `--force` replaces).
    existing: Option<&'a [u8]>,
    /// More environment (`CUSTODY_NO_TMPFILE`).
    env: &'a [(&'a str, &'a str)],
    /// The document's plaintext, searched for on disk.
    plain: &'a [u8],
    /// Whether the output holds the plaintext (`extract`) rather than a bundle.
    plaintext_out: bool,
    /// Whether a finished output is whole (the plaintext; a bundle that verifies).
    whole: &'a (dyn Fn(&Path) -> bool + Sync),
    /// Checks of the archive after the re-run (one share record).
    after: &'a (dyn Fn(&Path) + Sync),
}

/// What [`kill_everywhere`] saw.
#[derive(Default, Debug)]
struct KillTally {
    points: usize,
    killed: usize,
    /// Kills that left a temporary file outside the archive (each recorded
    /// in the archive's `pending/`, and removed by the next command).
    temp_left: usize,
    /// Plaintext (or its digest) found anywhere but the finished output.
    plaintext_found: usize,
}

/// A copy of the case's archive, a scratch directory with `out/` (holding
/// the existing file, if any) and `tmp/` (the commands' TMPDIR).
fn kill_setup(kc: &KillCase) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let (t, dir, scratch) = copy_of(kc.archive);
    let outdir = scratch.join("out");
    fs::create_dir(&outdir).unwrap();
    fs::create_dir(scratch.join("tmp")).unwrap();
    let out = outdir.join("output");
    if let Some(b) = kc.existing {
        fs::write(&out, b).unwrap();
    }
    (t, dir, scratch, out)
}

/// Plaintext anywhere on disk the command touched: the archive, the output's
/// directory (but a finished extract output), TMPDIR.
fn plaintext_on_disk(kc: &KillCase, dir: &Path, scratch: &Path, out: &Path) -> Vec<String> {
    let needles = plaintext_needles(kc.plain);
    let trace = scratch.join("trace");
    let mut skip = vec![trace.as_path()];
    if kc.plaintext_out {
        skip.push(out);
    }
    files_holding(
        &[dir, &scratch.join("out"), &scratch.join("tmp")],
        &skip,
        &needles,
    )
    .into_iter()
    .map(|(f, what)| format!("{what} in {}", f.display()))
    .collect()
}

/// Kills `kc` at each chosen point, then checks: every temporary file left
/// outside the archive is recorded in it; the next command (`verify`)
/// removes it; nothing but the output is then beside it, and no file
/// holds the plaintext or its digest; the output, if there, is the old
/// file or a whole new one; the command run again completes, leaving no
/// temporary file and nothing pending.
fn kill_everywhere(kc: &KillCase) -> KillTally {
    let start = Instant::now();
    let (_t, dir, scratch, out) = kill_setup(kc);
    let trace = scratch.join("trace");
    let mut env = vec![
        ("CUSTODY_FAULT", "count"),
        ("CUSTODY_FAULT_TRACE", s(&trace)),
    ];
    let tmp = scratch.join("tmp");
    env.push(("TMPDIR", s(&tmp)));
    env.extend(kc.env.iter().copied());
    let r = run_args(&(kc.args)(&dir, &out), &env);
    assert_eq!(
        r.code, OK,
        "{}: the counting run failed: {}",
        kc.name, r.stderr
    );
    let ops = parse_trace(&fs::read_to_string(&trace).unwrap());
    let mut all = Vec::new();
    for (kind, n) in [
        ("write", ops.write),
        ("fsync", ops.fsync),
        ("rename", ops.rename),
        ("report", ops.report),
    ] {
        all.extend((1..=n).map(|i| format!("{kind}:{i}")));
    }
    let mut tally = KillTally {
        points: all.len(),
        ..Default::default()
    };
    // The scan finds what it looks for where it is.
    let probe = scratch.join("probe");
    let needles = plaintext_needles(kc.plain);
    fs::write(
        &probe,
        needles
            .iter()
            .flat_map(|(_, n)| n.clone())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    assert_eq!(
        files_holding(&[&probe], &[], &needles).len(),
        needles.len(),
        "{}: the scan misses the plaintext",
        kc.name
    );
    for point in choose(all, kc.name, "CUSTODY_KILL_POINTS", 4) {
        let plan = format!("kill-{point}");
        let mut tries = 0;
        let (_t, dir, scratch, out, r, text) = loop {
            let (t, dir, scratch, out) = kill_setup(kc);
            let trace = scratch.join("trace");
            let tmp = scratch.join("tmp");
            let mut env = vec![
                ("CUSTODY_FAULT", plan.as_str()),
                ("CUSTODY_FAULT_TRACE", s(&trace)),
                ("TMPDIR", s(&tmp)),
            ];
            env.extend(kc.env.iter().copied());
            let r = run_args(&(kc.args)(&dir, &out), &env);
            let text = fs::read_to_string(&trace).unwrap_or_default();
            tries += 1;
            if tries < 5 && r.code == OK {
                continue;
            }
            break (t, dir, scratch, out, r, text);
        };
        let what = format!("{} killed before {point}", kc.name);
        assert_ne!(r.code, OK, "{what}: not reached:\n{text}");
        assert!(
            text.lines().any(|l| l.ends_with(" KILL")),
            "{what}:\n{text}"
        );
        tally.killed += 1;
        let outdir = scratch.join("out");
        // Temporary files left beside the output are recorded in the archive.
        let temps = temp_files(&outdir);
        if !temps.is_empty() {
            tally.temp_left += 1;
            let recorded: Vec<Vec<u8>> = pending(&dir)
                .iter()
                .filter(|n| n.starts_with("out-"))
                .map(|n| fs::read(dir.join("pending").join(n)).unwrap())
                .collect();
            for t in &temps {
                let abs = fs::canonicalize(t.parent().unwrap())
                    .unwrap()
                    .join(t.file_name().unwrap());
                assert!(
                    recorded
                        .iter()
                        .any(|r| r == s(&abs).as_bytes() || r == s(t).as_bytes()),
                    "{what}: {t:?} is not recorded in pending/"
                );
            }
        }
        // The next command (any: `verify` here) removes them.
        assert_only(&dir, &ALLOWED, &what);
        let left: Vec<String> = fs::read_dir(&outdir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "output")
            .collect();
        assert!(left.is_empty(), "{what}: left beside the output: {left:?}");
        assert!(
            !pending(&dir).iter().any(|n| n.starts_with("out-")),
            "{what}: temporary names still recorded: {:?}",
            pending(&dir)
        );
        if out.exists() && Some(&fs::read(&out).unwrap()[..]) != kc.existing {
            assert!((kc.whole)(&out), "{what}: a partial output");
        }
        let found = plaintext_on_disk(kc, &dir, &scratch, &out);
        tally.plaintext_found += found.len();
        assert!(found.is_empty(), "{what}: {found:?}");
        // Run again: completes, and leaves nothing behind.
        let mut args = (kc.args)(&dir, &out);
        if out.exists() && !args.iter().any(|a| a == "--force") && kc.plaintext_out {
            args.push("--force".into());
        }
        let tmp = scratch.join("tmp");
        let mut env = vec![("TMPDIR", s(&tmp))];
        env.extend(kc.env.iter().copied());
        let rerun = run_args(&args, &env);
        assert_eq!(rerun.code, OK, "{what}: the re-run: {}", rerun.stderr);
        assert!((kc.whole)(&out), "{what}: the re-run's output");
        assert!(temp_files(&outdir).is_empty(), "{what}: after the re-run");
        assert!(
            pending(&dir).is_empty(),
            "{what}: pending: {:?}",
            pending(&dir)
        );
        let found = plaintext_on_disk(kc, &dir, &scratch, &out);
        tally.plaintext_found += found.len();
        assert!(found.is_empty(), "{what}, after the re-run: {found:?}");
        (kc.after)(&dir);
        assert_only(&dir, &ALLOWED[..1], &format!("{what}, after the re-run"));
    }
    eprintln!(
        "kills: {}: {} points, {} killed, {} left a (recorded) temporary file, {} plaintext found, {:.1} s",
        kc.name,
        tally.points,
        tally.killed,
        tally.temp_left,
        tally.plaintext_found,
        start.elapsed().as_secs_f64()
    );
    tally
}

/// Issue 15: `extract` and `share` killed at each durable operation
/// (SIGKILL): no file outside the archive but the finished output, no
/// plaintext or digest of it on any disk the command touched once the next
/// command ran, and the re-run completes: one share record, a bundle that
/// verifies (FORMAT.md §7.8).
#[test]
fn extract_and_share_killed_at_every_point_leave_no_plaintext() {
    let ds = drop_site();
    let id = ds.identity();
    let gu_keys = ds.other_keys("guardian");
    let (to, vkey) = (gu_keys.join("recipient.txt"), ds.vkey());
    let fourth = doc_ref(3);
    let memo = doc_ref(6);
    let extract_plain = sample_bytes(SAMPLE_FILES[3]);
    let memo_plain = sample_bytes(SAMPLE_FILES[6]);
    let extract = |dir: &Path, out: &Path, force: bool| -> Vec<String> {
        let mut v: Vec<String> = ["-A", s(dir), "extract", &fourth, "-i", s(&id), "-o", s(out)]
            .map(String::from)
            .to_vec();
        if force {
            v.push("--force".into());
        }
        v
    };
    let share = |dir: &Path, out: &Path, force: bool| -> Vec<String> {
        let mut v = share_args(dir, &memo, &to, &id, out);
        if force {
            v.push("--force".into());
        }
        v
    };
    let is_plain = |p: &Path| fs::read(p).unwrap() == extract_plain;
    let verifies = |p: &Path| run_full(&["verify-bundle", s(p), "--trust", s(&vkey)]).0 == OK;
    let memo_index = INIT_RECORDS + 6;
    let one_share = |dir: &Path| assert_eq!(shares_of(dir, memo_index), 1, "share records");
    let no_check = |_: &Path| {};
    let e0 = |d: &Path, o: &Path| extract(d, o, false);
    let e1 = |d: &Path, o: &Path| extract(d, o, true);
    let s0 = |d: &Path, o: &Path| share(d, o, false);
    let s1 = |d: &Path, o: &Path| share(d, o, true);
    let old = b"an older file at the output\n".to_vec();
    let no_tmpfile: &[(&str, &str)] = &[("CUSTODY_NO_TMPFILE", "1")];
    type Args<'a> = &'a (dyn Fn(&Path, &Path) -> Vec<String> + Sync);
    type Env<'a> = &'a [(&'a str, &'a str)];
    // (name, arguments, a file at the output before, environment, extract?)
    type Case<'a> = (&'static str, Args<'a>, Option<&'a [u8]>, Env<'a>, bool);
    let cases: [Case; 6] = [
        ("extract", &e0, None, &[], true),
        ("extract --force over a file", &e1, Some(&old), &[], true),
        ("extract without O_TMPFILE", &e0, None, no_tmpfile, true),
        ("share", &s0, None, &[], false),
        ("share --force over a file", &s1, Some(&old), &[], false),
        ("share without O_TMPFILE", &s0, None, no_tmpfile, false),
    ];
    // The cases are independent: one thread each.
    let tallies: Vec<KillTally> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(name, args, existing, env, plaintext_out)| {
                let (ds, extract_plain, memo_plain) = (&ds, &extract_plain, &memo_plain);
                let (is_plain, verifies, one_share, no_check) =
                    (&is_plain, &verifies, &one_share, &no_check);
                sc.spawn(move || {
                    kill_everywhere(&KillCase {
                        name,
                        archive: &ds.dir,
                        args,
                        existing,
                        env,
                        plain: if plaintext_out {
                            extract_plain
                        } else {
                            memo_plain
                        },
                        plaintext_out,
                        whole: if plaintext_out { is_plain } else { verifies },
                        after: if plaintext_out { no_check } else { one_share },
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut total = KillTally::default();
    for t in tallies {
        total.points += t.points;
        total.killed += t.killed;
        total.temp_left += t.temp_left;
        total.plaintext_found += t.plaintext_found;
    }
    eprintln!("kills: in all {total:?}");
}

/// Issue 15 regression: a killed `extract` left `.custody-extract-*.tmp`,
/// the whole plaintext, beside the output, and running the extract again
/// left it there. Killed between naming the complete file with a temporary
/// name and renaming it over the old output (`--force`), and killed while
/// writing where no unnamed file can be made: the re-run, the very next
/// command, removes it.
#[test]
fn regression_rerunning_a_killed_extract_leaves_no_temporary_file() {
    let ds = drop_site();
    let id = ds.identity();
    let fourth = doc_ref(3);
    let want = sample_bytes(SAMPLE_FILES[3]);
    for (env, existing) in [(&[][..], true), (&[("CUSTODY_NO_TMPFILE", "1")][..], false)] {
        let (_t, dir, scratch) = copy_of(&ds.dir);
        let out = scratch.join("plain.txt");
        let args: Vec<String> = [
            "-A",
            s(&dir),
            "extract",
            &fourth,
            "-i",
            s(&id),
            "-o",
            s(&out),
            "--force",
        ]
        .map(String::from)
        .to_vec();
        if existing {
            fs::write(&out, b"old").unwrap();
        }
        // The operation to die before: the link onto the output (before,
        // the complete plaintext was under a temporary name then), or the
        // first write of the output's temporary file.
        let trace = scratch.join("trace");
        let mut count = vec![
            ("CUSTODY_FAULT", "count"),
            ("CUSTODY_FAULT_TRACE", s(&trace)),
        ];
        count.extend(env.iter().copied());
        assert_eq!(run_args(&args, &count).code, OK);
        let text = fs::read_to_string(&trace).unwrap();
        fs::remove_file(&trace).unwrap();
        let point = text
            .lines()
            .filter(|l| {
                if existing {
                    l.starts_with("rename ") && l.ends_with(s(&out))
                } else {
                    l.starts_with("write ") && l.contains(".custody-extract-")
                }
            })
            .map(|l| {
                let n = l.split(' ').nth(1).unwrap();
                format!("kill-{}:{n}", l.split(' ').next().unwrap())
            })
            .next_back()
            .unwrap_or_else(|| panic!("no such operation:\n{text}"));
        if existing {
            fs::write(&out, b"old").unwrap();
        } else {
            fs::remove_file(&out).unwrap();
        }
        let mut kill = vec![("CUSTODY_FAULT", point.as_str())];
        kill.extend(env.iter().copied());
        let r = run_args(&args, &kill);
        assert_ne!(r.code, OK, "{point}: not killed");
        let temps = temp_files(&scratch);
        if existing {
            // Issue 15, F7: with O_TMPFILE the plaintext is never named but
            // as the output, even when it replaces a file: the old file is
            // removed, then the new one linked. Killed there: no output.
            assert!(temps.is_empty(), "{point}: {temps:?}");
            assert!(pending(&dir).is_empty(), "{point}: {:?}", pending(&dir));
            assert!(!out.exists(), "{point}: the old file is still there");
        } else {
            assert_eq!(
                temps.len(),
                1,
                "{point}: the window this test is about: {temps:?}"
            );
            assert_eq!(pending(&dir).len(), 1, "{point}: recorded");
        }
        let r = run_args(&args, env);
        assert_eq!(r.code, OK, "{point}: the re-run: {}", r.stderr);
        assert_eq!(fs::read(&out).unwrap(), want);
        assert!(
            temp_files(&scratch).is_empty(),
            "{point}: {:?}",
            temp_files(&scratch)
        );
        assert!(pending(&dir).is_empty(), "{point}: {:?}", pending(&dir));
    }
}

/// Issue 15: a share killed between its record and its bundle is pending
/// (FORMAT.md §7.8); other commands and a share of the same document to
/// someone else leave it so, and its own re-run (to another output name)
/// completes it: no second record for it.
#[test]
fn a_pending_share_is_completed_only_by_its_own_rerun() {
    let ds = drop_site();
    let (_t, dir, scratch) = copy_of(&ds.dir);
    let id = ds.identity();
    let guardian = ds.other_keys("guardian").join("recipient.txt");
    let other = ds.other_keys("localcall").join("recipient.txt");
    let memo = doc_ref(6);
    let memo_index = INIT_RECORDS + 6;
    let share = |to: &Path, out: &Path| share_args(&dir, &memo, to, &id, out);
    // Find the link of the bundle to its name on a copy, then die just before it.
    let first = scratch.join("first.bundle");
    let (_t2, probe_dir, probe_scratch) = copy_of(&ds.dir);
    let trace = probe_scratch.join("trace");
    let probe_out = probe_scratch.join("first.bundle");
    let probe_args: Vec<String> = share(&guardian, &probe_out)
        .into_iter()
        .map(|a| {
            if a == s(&dir) {
                s(&probe_dir).to_string()
            } else {
                a
            }
        })
        .collect();
    let r = run_args(
        &probe_args,
        &[
            ("CUSTODY_FAULT", "count"),
            ("CUSTODY_FAULT_TRACE", s(&trace)),
        ],
    );
    assert_eq!(r.code, OK, "{}", r.stderr);
    let text = fs::read_to_string(&trace).unwrap();
    let n = text
        .lines()
        .find(|l| l.starts_with("rename ") && l.ends_with(s(&probe_out)))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_else(|| panic!("no link of the bundle:\n{text}"))
        .to_string();
    let killed = run_args(
        &share(&guardian, &first),
        &[("CUSTODY_FAULT", &format!("kill-rename:{n}"))],
    );
    assert_ne!(killed.code, OK);
    assert!(!first.exists());
    assert_eq!(shares_of(&dir, memo_index), 1, "the record was appended");
    // Other commands keep it; a share to someone else is a new share.
    assert_only(&dir, &ALLOWED, "after the kill");
    assert_eq!(
        pending(&dir).len(),
        2,
        "marker and payload: {:?}",
        pending(&dir)
    );
    let third = scratch.join("other.bundle");
    let r = run_args(&share(&other, &third), &[]);
    assert_eq!(r.code, OK, "{}", r.stderr);
    assert!(!json_lines(&r.stdout)[0]["completed"]
        .as_bool()
        .unwrap_or(false));
    assert_eq!(shares_of(&dir, memo_index), 2);
    assert_eq!(pending(&dir).len(), 2, "still pending: {:?}", pending(&dir));
    // Its own re-run, to another name, completes it with the record it made.
    let second = scratch.join("second.bundle");
    let r = run_args(&share(&guardian, &second), &[]);
    assert_eq!(r.code, OK, "{}", r.stderr);
    let v = &json_lines(&r.stdout)[0];
    assert_eq!(v["completed"], true, "{v}");
    assert_eq!(shares_of(&dir, memo_index), 2, "no second record for it");
    assert!(pending(&dir).is_empty(), "{:?}", pending(&dir));
    let vkey = ds.vkey();
    assert_eq!(
        run_full(&["verify-bundle", s(&second), "--trust", s(&vkey)]).0,
        OK
    );
    // Run once more: a new share (the earlier one is complete).
    let r = run_args(&share(&guardian, &scratch.join("again.bundle")), &[]);
    assert_eq!(r.code, OK, "{}", r.stderr);
    assert_eq!(shares_of(&dir, memo_index), 3);
    assert_only(&dir, &ALLOWED[..1], "at the end");
}

/// Issue 15, F6: a `share` killed after its bundle was written, while it
/// reports (the kill at its stdout writes or last unlink that the strace pass
/// placed), and run again, with or without `--force`: the re-run reports the
/// share done, with the record the killed run appended; no second record, no
/// "already exists". Before, the marker was removed before the report, and
/// the re-run made a second share record (`--force`) or refused.
#[test]
fn a_share_killed_while_it_reports_is_not_made_twice() {
    let ds = drop_site();
    let id = ds.identity();
    let guardian = ds.other_keys("guardian").join("recipient.txt");
    let memo = doc_ref(6);
    let memo_index = INIT_RECORDS + 6;
    let vkey = ds.vkey();
    for force in [false, true] {
        let (_t, dir, scratch) = copy_of(&ds.dir);
        let out = scratch.join("memo.bundle");
        let mut args = share_args(&dir, &memo, &guardian, &id, &out);
        if force {
            args.push("--force".into());
        }
        let killed = run_args(&args, &[("CUSTODY_FAULT", "kill-report:1")]);
        assert_ne!(killed.code, OK, "force {force}: not killed");
        assert!(killed.stdout.is_empty(), "{}", killed.stdout);
        let bundle = fs::read(&out).expect("the bundle was written before the report");
        assert_eq!(shares_of(&dir, memo_index), 1);
        // Another command in between keeps what the re-run needs.
        assert_only(&dir, &ALLOWED, "after the kill");
        let again = run_args(&args, &[]);
        assert_eq!(again.code, OK, "force {force}: {}", again.stderr);
        let v = &json_lines(&again.stdout)[0];
        assert_eq!(v["completed"], true, "{v}");
        assert_eq!(v["index"], shares_last(&dir, memo_index), "{v}");
        assert_eq!(
            shares_of(&dir, memo_index),
            1,
            "force {force}: a second record"
        );
        assert_eq!(
            fs::read(&out).unwrap(),
            bundle,
            "the bundle is the one written"
        );
        assert!(pending(&dir).is_empty(), "{:?}", pending(&dir));
        assert_eq!(
            run_full(&["verify-bundle", s(&out), "--trust", s(&vkey)]).0,
            OK
        );
        // A share after it is a new one.
        let mut new = args.clone();
        if !force {
            new.push("--force".into());
        }
        let r = run_args(&new, &[]);
        assert_eq!(r.code, OK, "{}", r.stderr);
        assert_eq!(shares_of(&dir, memo_index), 2);
        assert_only(&dir, &ALLOWED[..1], "at the end");
    }
}

/// The index of the last share record of document `doc`.
fn shares_last(dir: &Path, doc: u64) -> u64 {
    log(dir)
        .iter()
        .filter(|r| r["kind"] == "share" && r["document"].as_u64() == Some(doc))
        .filter_map(|r| r["index"].as_u64())
        .next_back()
        .expect("no share record")
}

/// A `share` killed while it reports, re-run to another output (the user did
/// not see where the first run wrote): reported done, with the bundle the
/// killed run wrote and its record; no second share record.
#[test]
fn a_share_killed_while_it_reports_and_rerun_elsewhere_is_not_made_twice() {
    let ds = drop_site();
    let id = ds.identity();
    let guardian = ds.other_keys("guardian").join("recipient.txt");
    let memo = doc_ref(6);
    let memo_index = INIT_RECORDS + 6;
    let (_t, dir, scratch) = copy_of(&ds.dir);
    let share = |out: &Path| share_args(&dir, &memo, &guardian, &id, out);
    let first = scratch.join("first.bundle");
    let killed = run_args(&share(&first), &[("CUSTODY_FAULT", "kill-report:1")]);
    assert_ne!(killed.code, OK);
    assert!(first.is_file());
    let other = scratch.join("other.bundle");
    let again = run_args(&share(&other), &[]);
    assert_eq!(again.code, OK, "{}", again.stderr);
    let v = &json_lines(&again.stdout)[0];
    assert_eq!(v["completed"], true, "{v}");
    let abs = fs::canonicalize(&first).unwrap();
    let said = v["bundle"].as_str().unwrap();
    assert!(
        fs::canonicalize(said).unwrap() == abs,
        "{said} is not {abs:?}"
    );
    assert!(!other.exists());
    assert_eq!(shares_of(&dir, memo_index), 1, "a second record");
    assert!(pending(&dir).is_empty(), "{:?}", pending(&dir));
}

/// `custody -A DIR share DOC --to TO -i ID -o OUT --json`.
fn share_args(dir: &Path, doc: &str, to: &Path, id: &Path, out: &Path) -> Vec<String> {
    [
        "-A",
        s(dir),
        "share",
        doc,
        "--to",
        s(to),
        "-i",
        s(id),
        "-o",
        s(out),
        "--json",
    ]
    .map(String::from)
    .to_vec()
}
