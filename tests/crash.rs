//! Crash safety, proven by killing it (issue 6).
//!
//! Drop Site's archive ingests, shares, adds actors; the Guardian receives
//! and witnesses. Each command is killed with SIGKILL at a random moment
//! (seeded, reproducible) within the time an uninterrupted run of it takes.
//! After every kill:
//!
//! * the archive opens and `verify` finds nothing but unreferenced blobs
//!   (what a cut-short batch leaves) and, when the kill fell between the last
//!   record and the command's closing checkpoint, `checkpoint_missing`;
//! * everything the killed command had reported as done is there;
//! * running the same command again completes the work, stores no content
//!   twice, and leaves an archive that verifies (unreferenced blobs aside).
//!
//! `extract` and `share` write outside the archive (issue 15, FORMAT.md
//! §7.8): after each kill and the next command, nothing but finished
//! outputs is beside them, no file (outputs, archive, TMPDIR) holds the
//! document's plaintext or its SHA-256, and the re-run completes: the
//! plaintext, or exactly one more share record and a bundle that verifies.
//!
//! Bounded for CI (`CUSTODY_CRASH_KILLS`, default 25); the long mode is
//! `CUSTODY_CRASH_KILLS=200 cargo test --release --test crash -- --nocapture`
//! (docs/TESTING.md, "Reliability"). `CUSTODY_CRASH_SEED` picks another sequence.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::durability::*;
use common::*;
use custody::core::hash::Digest;

/// The TMPDIR of every command run here (scanned for plaintext).
static TMPDIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn tmpdir() -> &'static Path {
    TMPDIR.get().expect("TMPDIR set")
}

/// Runs `custody ARGS` to completion with TMPDIR set; (exit code, stdout, duration).
fn run_full(args: &[&str]) -> (i32, String, Duration) {
    let r = run_env(args, &[("TMPDIR", s(tmpdir()))]);
    (r.code, r.stdout, r.took)
}

/// What a killed (or finished) command printed, and whether it finished.
struct Outcome {
    stdout: String,
    finished: Option<i32>,
}

/// Runs `custody ARGS` and kills it with SIGKILL after `after` unless it ends first.
fn run_killed(args: &[&str], after: Duration) -> Outcome {
    let mut child = custody_std()
        .env("TMPDIR", tmpdir())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let finished = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() >= after {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_micros(300));
    };
    Outcome {
        stdout: reader.join().unwrap(),
        finished,
    }
}

struct Harness {
    rng: Rng,
    ds: Fixture,
    gu: Fixture,
    wire: tempfile::TempDir,
    /// SHA-256 of every content given to ingest so far.
    contents: BTreeSet<Digest>,
    /// Typical uninterrupted duration of each step, measured on its first run.
    calib: std::collections::HashMap<&'static str, Duration>,
    /// Commands killed while running.
    kills: u32,
    /// The same, by step.
    kills_of: std::collections::BTreeMap<&'static str, u32>,
    /// Commands that ended before their kill time came (not counted as kills).
    finished_before_kill: u32,
    cosigned: u64,
    /// Bundles the Guardian has received.
    received: u32,
    /// The big documents ingested, in order (the ones shared and extracted).
    big: Vec<Vec<u8>>,
    /// Where bundles and extracted documents go (outside both archives).
    out: std::path::PathBuf,
    /// Kills after which a temporary file was beside an output (each
    /// recorded in the archive, and removed by the next command).
    temp_left: u32,
}

impl Harness {
    fn delay(&mut self, step: &'static str) -> Duration {
        let full = self
            .calib
            .get(step)
            .copied()
            .unwrap_or(Duration::from_secs(1));
        // Uniform over the run (start-up and the closing checkpoint included).
        let us = full.as_micros() as u64;
        Duration::from_micros(self.rng.below(us.max(1000)))
    }

    /// Kills `args` at a random moment; if the step has not been calibrated
    /// yet, runs it once to completion instead (that run is the calibration).
    fn attempt(&mut self, step: &'static str, args: &[&str]) -> Outcome {
        if !self.calib.contains_key(step) {
            let (code, out, took) = run_full(args);
            self.calib.insert(step, took);
            return Outcome {
                stdout: out,
                finished: Some(code),
            };
        }
        let d = self.delay(step);
        let o = run_killed(args, d);
        if o.finished.is_some() {
            self.finished_before_kill += 1;
        } else {
            self.kills += 1;
            *self.kills_of.entry(step).or_default() += 1;
        }
        o
    }

    /// Runs `args` to completion (the re-run after a kill), keeping its
    /// duration as the step's calibration.
    fn complete(&mut self, step: &'static str, args: &[&str]) -> (i32, String) {
        let (code, out, took) = run_full(args);
        self.calib.insert(step, took);
        (code, out)
    }

    fn ingest(&mut self, k: u32) {
        let dir = self.wire.path().join(format!("in{k}"));
        fs::create_dir(&dir).unwrap();
        let n = 20 + self.rng.below(60) as usize;
        for i in 0..n {
            // Some contents repeat an earlier file of this batch (deduplication).
            let body = if i > 0 && self.rng.below(8) == 0 {
                fs::read(dir.join(format!("f{:03}", i - 1))).unwrap()
            } else {
                let len = 1 + self.rng.below(20_000) as usize;
                self.rng.bytes(len)
            };
            self.contents.insert(Digest::of(&body));
            fs::write(dir.join(format!("f{i:03}")), body).unwrap();
        }
        if k.is_multiple_of(3) {
            let big = self.rng.bytes(6 << 20);
            self.contents.insert(Digest::of(&big));
            fs::write(dir.join("big.bin"), &big).unwrap();
            self.big.push(big);
        }
        let a = self.ds.dir.clone();
        let args = ["-A", s(&a), "ingest", s(&dir), "--json"];
        let o = self.attempt("ingest", &args);
        assert_only(&a, &ALLOWED, "after a killed ingest");
        assert_reported_present(&a, &o.stdout);
        let (code, _) = self.complete("ingest", &args);
        assert_eq!(code, OK, "re-running the ingest");
        assert_only(&a, &ALLOWED[..1], "after re-running the ingest");
        // No content stored twice: distinct blobs of document records equal
        // distinct contents ingested.
        let blobs: BTreeSet<String> = document_blobs(&a).into_iter().collect();
        assert_eq!(
            blobs.len(),
            self.contents.len(),
            "a content was stored twice"
        );
    }

    /// Shares the latest big document with the Guardian, then the Guardian
    /// receives it: both killed.
    fn share_and_receive(&mut self, k: u32) {
        let a = self.ds.dir.clone();
        let records = log(&a);
        let doc = records
            .iter()
            .rev()
            .find(|r| r["kind"] == "ingest" && r["blob_size"].as_u64().unwrap_or(0) > 1 << 20)
            .or_else(|| records.iter().rev().find(|r| r["kind"] == "ingest"))
            .map(|r| r["index"].to_string())
            .unwrap();
        let bundle = self.out.join(format!("b{k}.bundle"));
        let doc_index: u64 = doc.parse().unwrap();
        let shares_before = shares_of(&a, doc_index);
        let (id, to) = (self.ds.identity(), self.gu.keys.join("recipient.txt"));
        let args = [
            "-A",
            s(&a),
            "share",
            &doc,
            "--to",
            s(&to),
            "-i",
            s(&id),
            "-o",
            s(&bundle),
            "--json",
        ];
        let o = self.attempt("share", &args);
        self.temp_left += u32::from(!temp_files(&self.out).is_empty());
        // The next command removes what the kill left outside the archive.
        assert_only(&a, &ALLOWED, "after a killed share");
        self.assert_outputs_clean("after a killed share", &a);
        let ds_vkey = self.ds.vkey();
        let vb = |b: &Path| run_full(&["verify-bundle", s(b), "--trust", s(&ds_vkey)]).0;
        if !json_lines(&o.stdout).is_empty() {
            assert_eq!(vb(&bundle), OK, "a reported bundle verifies");
        } else if bundle.exists() {
            assert_eq!(vb(&bundle), OK, "a bundle that exists is whole");
        }
        // Run again: completes an interrupted share (its record appended)
        // or makes it anew, never a second record; a share that had
        // finished is refused (the bundle exists).
        let existed = bundle.exists() && pending(&a).is_empty();
        let (code, out) = self.complete("share", &args);
        if existed {
            assert_eq!(code, ERROR, "re-running a finished share: {out}");
        } else {
            assert_eq!(code, OK, "re-running the share");
        }
        assert_eq!(vb(&bundle), OK);
        assert_eq!(
            shares_of(&a, doc_index),
            shares_before + 1,
            "exactly one share record"
        );
        assert!(pending(&a).is_empty(), "pending: {:?}", pending(&a));
        assert_only(&a, &ALLOWED[..1], "after re-running the share");
        self.assert_outputs_clean("after re-running the share", &a);

        let g = self.gu.dir.clone();
        let (gid, trusted) = (self.gu.identity(), self.ds.vkey());
        let args = [
            "-A",
            s(&g),
            "receive",
            s(&bundle),
            "-i",
            s(&gid),
            "--trust",
            s(&trusted),
            "--json",
        ];
        let o = self.attempt("receive", &args);
        assert_only(&g, &ALLOWED, "after a killed receive");
        let reported = json_lines(&o.stdout);
        let (code, _) = self.complete("receive", &args);
        if reported.is_empty() {
            // Done before the kill but not yet said (exit 1: already received), or not done.
            assert!(
                code == OK || code == FINDING,
                "re-running the receive: {code}"
            );
        } else {
            assert_eq!(
                code, FINDING,
                "a reported receive is refused the second time"
            );
        }
        let receives = log(&g).iter().filter(|r| r["kind"] == "receive").count();
        assert_eq!(
            receives as u32,
            self.received + 1,
            "exactly one receive per bundle"
        );
        self.received += 1;
        assert_only(&g, &ALLOWED[..1], "after re-running the receive");
    }

    /// Extracts the latest big document (killed), to a new name or, every
    /// other time, with `--force` over an existing file.
    fn extract(&mut self, k: u32) {
        let a = self.ds.dir.clone();
        let records = log(&a);
        let doc = records
            .iter()
            .rev()
            .find(|r| r["kind"] == "ingest" && r["blob_size"].as_u64().unwrap_or(0) > 1 << 20)
            .map(|r| r["index"].to_string())
            .unwrap();
        let out = self.out.join(format!("x{k}.bin"));
        let force = k % 4 == 1;
        if force {
            fs::write(&out, b"an earlier file").unwrap();
        }
        let id = self.ds.identity();
        let mut args = vec!["-A", s(&a), "extract", &doc, "-i", s(&id), "-o", s(&out)];
        if force {
            args.push("--force");
        }
        self.attempt("extract", &args);
        self.temp_left += u32::from(!temp_files(&self.out).is_empty());
        assert_only(&a, &ALLOWED, "after a killed extract");
        self.assert_outputs_clean("after a killed extract", &a);
        // Run again (over what the killed run may have finished): completes.
        if !force {
            args.push("--force");
        }
        let (code, _) = self.complete("extract", &args);
        assert_eq!(code, OK, "re-running the extract");
        assert!(
            fs::read(&out).unwrap() == *self.big.last().unwrap(),
            "the extracted document"
        );
        assert!(pending(&a).is_empty(), "pending: {:?}", pending(&a));
        self.assert_outputs_clean("after re-running the extract", &a);
    }

    /// Nothing but finished outputs beside the outputs (no temporary file,
    /// no partial file), and no file (the outputs but extracted documents,
    /// the archive but its blobs, TMPDIR) holding a big document's
    /// plaintext or its SHA-256.
    #[track_caller]
    fn assert_outputs_clean(&self, what: &str, archive: &Path) {
        let temps = temp_files(&self.out);
        assert!(temps.is_empty(), "{what}: {temps:?}");
        let mut skip: Vec<std::path::PathBuf> = (0..=255u8)
            .map(|i| archive.join("blobs").join(format!("{i:02x}")))
            .collect();
        for e in fs::read_dir(&self.out).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".bin") {
                // An extracted document: the whole plaintext, or the earlier file.
                let b = fs::read(&p).unwrap();
                assert!(
                    b == b"an earlier file" || self.big.contains(&b),
                    "{what}: {name} is a partial document"
                );
                skip.push(p);
            }
        }
        let skip: Vec<&Path> = skip.iter().map(|p| p.as_path()).collect();
        let mut needles = Vec::new();
        for b in self.big.iter().rev().take(2) {
            needles.extend(plaintext_needles(b));
        }
        let found = files_holding(&[&self.out, archive, tmpdir()], &skip, &needles);
        assert!(found.is_empty(), "{what}: plaintext on disk: {found:?}");
    }

    /// The Guardian cosigns Drop Site's latest checkpoint (killed), with the
    /// consistency proof from the last size it cosigned.
    fn cosign(&mut self, k: u32) {
        let a = self.ds.dir.clone();
        let (code, note, _) = run_full(&["-A", s(&a), "checkpoint"]);
        assert_eq!(code, OK);
        let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        let note_path = self.wire.path().join(format!("cp{k}"));
        fs::write(&note_path, &note).unwrap();
        let proof_path = self.wire.path().join(format!("proof{k}"));
        let mut args: Vec<String> = vec![
            "-A".into(),
            s(&self.gu.dir).into(),
            "witness".into(),
            "cosign".into(),
            s(&note_path).into(),
            "--witness-key".into(),
            s(&self.gu.keys.join("witness.key")).into(),
        ];
        if self.cosigned > 0 && self.cosigned < size {
            let (code, proof, _) = run_full(&[
                "-A",
                s(&a),
                "prove",
                "--consistency",
                &self.cosigned.to_string(),
            ]);
            assert_eq!(code, OK);
            fs::write(&proof_path, proof).unwrap();
            args.extend(["--proof".into(), s(&proof_path).into()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        self.attempt("cosign", &argv);
        let (code, out) = self.complete("cosign", &argv);
        assert_eq!(code, OK, "re-running the cosign: {out}");
        assert!(out.contains(" theguardian.example/witness "), "{out}");
        self.cosigned = size;
        assert_only(
            &self.gu.dir,
            &ALLOWED[..1],
            "the witness's archive after a killed cosign",
        );
    }

    /// Adds an actor (a new key each time), killed.
    fn actor(&mut self, k: u32) {
        let a = self.ds.dir.clone();
        let keys = self.wire.path().join(format!("person{k}"));
        let name = format!("person{k}");
        let (code, _, _) = run_full(&[
            "keygen",
            "--name",
            &format!("dropsite.example/{name}"),
            "-o",
            s(&keys),
        ]);
        assert_eq!(code, OK, "keygen");
        let vkey = keys.join("signing.vkey");
        let args = [
            "-A",
            s(&a),
            "actor",
            "add",
            &name,
            s(&vkey),
            "--role",
            "journalist",
            "--json",
        ];
        let o = self.attempt("actor", &args);
        assert_only(&a, &ALLOWED, "after a killed actor add");
        let reported = !json_lines(&o.stdout).is_empty();
        let (code, _) = self.complete("actor", &args);
        if reported {
            assert_ne!(code, OK, "an actor added and reported is not added twice");
        }
        // Names are sealed: the archive's identity shows them.
        let id = self.ds.identity();
        let (_, list, _) = run_full(&["-A", s(&a), "actor", "list", "-i", s(&id), "--json"]);
        assert_eq!(
            list.matches(&format!("\"{name}\"")).count(),
            1,
            "the actor is there once: {list}"
        );
        assert_only(&a, &ALLOWED[..1], "after re-running actor add");
    }
}

#[test]
fn killed_commands_lose_nothing_they_reported_and_resume() {
    let kills: u32 = std::env::var("CUSTODY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("CUSTODY_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_c0de);
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let wire = tempfile::tempdir().unwrap();
    let tmp = wire.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    TMPDIR.set(tmp).unwrap();
    let out = wire.path().join("out");
    fs::create_dir(&out).unwrap();
    // The Guardian witnesses Drop Site's log.
    gu.run(&[
        "witness",
        "add-log",
        "dropsite.example/leaks",
        s(&ds.vkey()),
        "--witness-key",
        s(&gu.keys.join("witness.key")),
    ])
    .ok();
    let mut h = Harness {
        rng: Rng(seed | 1),
        ds,
        gu,
        wire,
        contents: BTreeSet::new(),
        calib: Default::default(),
        kills: 0,
        kills_of: Default::default(),
        finished_before_kill: 0,
        cosigned: 0,
        received: 0,
        big: Vec::new(),
        out,
        temp_left: 0,
    };
    let start = Instant::now();
    let mut k = 0;
    while h.kills < kills {
        match k % 6 {
            0 | 2 => h.ingest(k),
            1 => h.share_and_receive(k),
            3 => h.cosign(k),
            4 => h.extract(k),
            _ => h.actor(k),
        }
        k += 1;
    }
    h.ds.run(&["checkpoint", "--sign"]).ok();
    h.gu.run(&["checkpoint", "--sign"]).ok();
    assert_only(&h.ds.dir, &ALLOWED[..1], "at the end");
    assert_only(&h.gu.dir, &ALLOWED[..1], "the Guardian at the end");
    eprintln!(
        "crash harness: seed {seed:#x}, {} kills {:?} (and {} commands that finished before their kill time), {} steps, {} kills left a (recorded) temporary file beside an output, {:.1} s",
        h.kills,
        h.kills_of,
        h.finished_before_kill,
        k,
        h.temp_left,
        start.elapsed().as_secs_f64()
    );
}
