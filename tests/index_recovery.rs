//! Issue 15, item 3 (in part): a read-only command cannot leave the index
//! unusable. sled writes a snapshot when it opens (`db/snap.*.generating`,
//! renamed when complete); a process killed while writing one, or a full
//! disk, left that file behind, and every later command stopped with "the
//! archive database is damaged" until `reindex`. custody now removes such
//! leftovers under the archive lock before sled opens (FORMAT.md §7.2.5).

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::*;

/// The files of `db/` whose names mark a half-written snapshot.
fn leftovers(f: &Fixture) -> Vec<String> {
    fs::read_dir(f.dir.join("db"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snap.") && n.ends_with(".generating"))
        .collect()
}

/// Runs `custody -A DIR CMD` and kills it with SIGKILL after `delay`
/// unless it finished first; true if it was killed.
fn run_killed_at(f: &Fixture, cmd: &str, delay: Duration) -> bool {
    let mut c = custody_std();
    c.arg("-A").arg(&f.dir).arg(cmd);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while started.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap(); // SIGKILL
    }
    child.wait().unwrap();
    killed
}

#[test]
fn a_half_written_snapshot_is_removed_and_every_command_works() {
    let f = Fixture::with_samples();
    // Empty (a full disk) and garbage (a kill mid-write): both stopped every
    // command before.
    for content in [Vec::new(), vec![0xa5; 4096]] {
        fs::write(f.dir.join("db/snap.00000000000099FF.generating"), &content).unwrap();
        f.status();
        assert!(leftovers(&f).is_empty());
        f.assert_verified();
    }
}

/// Kills the first read-only command after `init` (the one that writes
/// sled's first snapshot) at spread-out moments; after each kill, `status`
/// and `verify` work with no `reindex`.
#[test]
fn killed_read_only_commands_never_need_a_reindex() {
    let base = Fixture::new();
    let kills: u64 = std::env::var("CUSTODY_SNAPSHOT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut killed = 0;
    for k in 0..kills {
        let f = base.duplicate();
        let delay = Duration::from_micros(500 + k * 2_500);
        if run_killed_at(&f, ["verify", "status", "log"][k as usize % 3], delay) {
            killed += 1;
        }
        f.status();
        f.assert_verified();
        assert!(leftovers(&f).is_empty(), "kill {k}: {:?}", leftovers(&f));
    }
    eprintln!("{killed} of {kills} runs killed before they finished");
}

/// The index files of an archive (derived, FORMAT.md §7.2).
fn flat(f: &Fixture) -> [Vec<u8>; 3] {
    ["index", "tree", "checkpoint"].map(|n| fs::read(f.dir.join("ledger").join(n)).unwrap())
}

/// A lost or damaged index is rebuilt by the next command, whatever it is,
/// with a note; a rebuild killed at any moment (it leaves `reindex.pending`)
/// is done again by the command after it (FORMAT.md §7.2.5). Never a
/// `reindex` by hand, and the ledger files are never changed.
#[test]
fn a_lost_index_is_rebuilt_by_the_next_command_even_after_a_kill() {
    let base = Fixture::with_samples();
    // A longer log, so that a rebuild takes long enough to be killed in.
    let inbox = base.path().join("inbox");
    fs::create_dir(&inbox).unwrap();
    for i in 0..300 {
        fs::write(inbox.join(format!("note-{i}.txt")), format!("note {i}\n")).unwrap();
    }
    base.ingest_json(&[inbox.to_str().unwrap()]);
    let before = base.snapshot();
    let want = flat(&base);
    let status = base.status();

    // By hand: an interrupted rebuild's marker, with garbage flat files.
    let f = base.duplicate();
    fs::write(f.dir.join("reindex.pending"), b"").unwrap();
    fs::write(f.dir.join("ledger/tree"), vec![0u8; 96]).unwrap();
    let r = f.run(&["log", "--json"]);
    r.ok();
    assert!(
        r.stderr.contains("rebuild of the index was interrupted"),
        "{}",
        r.stderr
    );
    assert!(!f.dir.join("reindex.pending").exists());
    assert_eq!(flat(&f), want);

    let kills: u64 = std::env::var("CUSTODY_SNAPSHOT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let (mut killed, mut pending) = (0, 0);
    for k in 0..kills {
        let f = base.duplicate();
        fs::remove_dir_all(f.dir.join("db")).unwrap();
        let delay = Duration::from_micros(1_000 + k * 4_000);
        if run_killed_at(&f, ["status", "verify", "log"][k as usize % 3], delay) {
            killed += 1;
        }
        if f.dir.join("reindex.pending").exists() {
            pending += 1;
        }
        let r = f.run(&["status", "--json"]);
        r.ok();
        assert_eq!(f.status()["records"], status["records"], "kill {k}");
        f.assert_verified();
        assert!(!f.dir.join("reindex.pending").exists(), "kill {k}");
        assert_eq!(flat(&f), want, "kill {k}: the index files differ");
        f.assert_unchanged(&before);
    }
    eprintln!("{killed} of {kills} rebuilds killed ({pending} left reindex.pending), none needed a reindex by hand");
}

/// A read-only command that finds a wrong `ledger/index` entry while it reads
/// (not at open: the files have the right lengths) rebuilds the index and runs
/// again, with the note; before, `log` stopped with "index files are damaged".
#[test]
fn a_reader_that_meets_a_wrong_index_entry_rebuilds_and_answers() {
    let base = Fixture::with_samples();
    let want = base.run(&["log", "--json"]).ok().stdout.clone();
    let last = (INIT_RECORDS + 7).to_string();
    for args in [&["log", "--json"][..], &["show", &last, "--json"]] {
        let f = base.duplicate();
        let idx = f.dir.join("ledger/index");
        let len = fs::metadata(&idx).unwrap().len() as usize;
        // The length field of the last record's entry (u64 offset, u32 length).
        flip_byte(&idx, len - 1);
        // `show` meets it before printing and answers; `log` had printed the
        // records before it, so it says so, and the next run answers.
        let r = f.run(args);
        assert!(
            r.stderr.contains("index was rebuilt"),
            "{args:?}: {}",
            r.stderr
        );
        if args[0] == "log" {
            r.code(ERROR);
            assert!(
                r.stderr.contains("run the same command again"),
                "{}",
                r.stderr
            );
            assert!(!r.stderr.contains("custody help"), "{}", r.stderr);
            let again = f.run(args);
            assert_eq!(again.ok().stdout, want);
            assert!(!again.stderr.contains("rebuilt"), "{}", again.stderr);
        } else {
            r.ok();
        }
        f.assert_verified();
    }
}

/// Issue 15, F1: records cut off the end of `ledger/records` and
/// `ledger/checkpoints` (an earlier copy of both put back) cannot hide behind
/// a deleted index. Before, the automatic rebuild took the shorter log, and
/// the next writer had the log key sign a second checkpoint of the same size
/// with another root. Now every command, `reindex` included, refuses with
/// exit 1 and writes nothing, as long as a checkpoint the log key signed at
/// the longer size is kept beside the ledger: `ledger/checkpoint`, or the
/// database's own copy (FORMAT.md §7.2.6).
#[test]
fn a_ledger_cut_short_is_refused_when_the_index_is_deleted() {
    let base = Fixture::with_samples();
    let earlier = base.duplicate();
    let extra = base.dir.parent().unwrap().join("later.txt");
    fs::write(&extra, b"a later document").unwrap();
    base.ingest_json(&[extra.to_str().unwrap()]);
    let size = base.records();
    let ledger = |f: &Fixture, n: &str| f.dir.join("ledger").join(n);
    // What is removed: the index (db/), and in the second case
    // ledger/checkpoint too (the database still holds the checkpoint).
    for remove_checkpoint_file in [false, true] {
        let f = base.duplicate();
        for n in ["records", "checkpoints"] {
            fs::copy(ledger(&earlier, n), ledger(&f, n)).unwrap();
        }
        if remove_checkpoint_file {
            fs::remove_file(ledger(&f, "checkpoint")).unwrap();
        } else {
            fs::remove_dir_all(f.dir.join("db")).unwrap();
        }
        let before = ledger_files(&f);
        let extra = extra.to_str().unwrap();
        // With the database kept, custody sees the ledger behind its index
        // (writing was refused already); `reindex` is what would have taken
        // the shorter log, and it refuses now, as does every command after.
        let cmds: &[&[&str]] = if remove_checkpoint_file {
            &[&["reindex"], &["status"], &["verify"], &["ingest", extra]]
        } else {
            &[&["status"], &["reindex"], &["verify"], &["ingest", extra]]
        };
        for &args in cmds {
            let r = f.run(args);
            r.code(FINDING);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            for want in [
                "cut off",
                &format!("at size {size}"),
                "restore",
                "nothing was changed",
            ] {
                assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
            }
            assert!(ledger_files(&f) == before, "{args:?} changed ledger/");
        }
    }
    // A whole earlier copy (every file of the same moment) still opens: a
    // restored backup is not a rollback custody can see; witnesses and
    // `verify --since-checkpoint` are the defence there.
    earlier.status();
    earlier.assert_verified();
}

/// Every file of `ledger/`, by name.
fn ledger_files(f: &Fixture) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(f.dir.join("ledger"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// FORMAT.md §7.2.6: a ledger at least as long as the kept checkpoint but
/// with another tree at its size (here: `ledger/checkpoint` of another
/// archive under the same log key, then `db/` deleted) is refused as another
/// history, exit 1, nothing written; the archive's own checkpoint put back
/// makes it whole again.
#[test]
fn a_ledger_of_another_history_than_the_kept_checkpoint_is_refused() {
    let f = Fixture::with_samples();
    let other = Fixture::new();
    let own = fs::read(f.dir.join("ledger/checkpoint")).unwrap();
    fs::copy(
        other.dir.join("ledger/checkpoint"),
        f.dir.join("ledger/checkpoint"),
    )
    .unwrap();
    fs::remove_dir_all(f.dir.join("db")).unwrap();
    let before = ledger_files(&f);
    for args in [&["status"][..], &["reindex"]] {
        let r = f.run(args);
        r.code(FINDING);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains("another history"), "{}", r.stderr);
        assert!(ledger_files(&f) == before, "{args:?} changed ledger/");
    }
    fs::write(f.dir.join("ledger/checkpoint"), own).unwrap();
    f.status();
    f.assert_verified();
}
