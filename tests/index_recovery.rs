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
        let mut c = custody_std();
        c.arg("-A")
            .arg(&f.dir)
            .arg(["verify", "status", "log"][k as usize % 3]);
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
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        f.status();
        f.assert_verified();
        assert!(leftovers(&f).is_empty(), "kill {k}: {:?}", leftovers(&f));
    }
    eprintln!("{killed} of {kills} runs killed before they finished");
}
