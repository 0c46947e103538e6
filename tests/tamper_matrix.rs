//! The tamper matrix of issue 6: for every kind of stored object (record,
//! record location, Merkle node, checkpoint, latest-checkpoint file,
//! cosignature, blob, metadata envelope, config, database, evidence, witness
//! state, bundle) and every mutation (flip a byte, truncate, reorder, delete,
//! duplicate, roll back to an older copy), damage a fresh copy of one prepared
//! fixture and assert exactly what `verify` (or `verify-bundle`) says: the set
//! of findings by check name, or a one-line error with exit 2. A panic or a
//! silent pass is a failure; the few mutations that `verify` alone cannot see
//! are listed as [`Expect::Undetected`] with the reason (a whole-archive
//! rollback is caught by `verify --since-checkpoint`, tested at the end).
//!
//! `cargo test --test tamper_matrix -- --nocapture` prints every case and the
//! counts of cases tried, detected and expected-undetected.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::bundle::{read_head, write_head, BundleHead, Evidence};
use tempfile::TempDir;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Records of an archive after `init` and the eight sample documents: the
/// size of Drop Site's checkpoint after its first ingest.
const SAMPLES: u64 = INIT_RECORDS + 8;

/// The index of the `k`-th document ingested into a new archive (after the
/// records `init` writes).
fn doc(k: usize) -> usize {
    INIT_RECORDS as usize + k
}

/// A case label made at run time (labels are `&'static str`).
fn label(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The prepared fixture: Drop Site's archive (`ds`) with two ingests, a share
/// to the Guardian, and the cosignatures of two witnesses on two of its
/// checkpoints; the Guardian's archive (`gu`), which witnesses Drop Site and
/// received the shared document (kept evidence); the bundle; and older copies
/// of both archives and of the bundle, for the rollback cases.
struct World {
    ds: Fixture,
    gu: Fixture,
    /// Drop Site's archive after its first ingest and first cosignatures.
    ds_old: PathBuf,
    /// The Guardian's archive after it cosigned Drop Site's first checkpoint.
    gu_old: PathBuf,
    /// The bundle Drop Site made for the Guardian, refreshed with cosignatures.
    bundle: PathBuf,
    /// The same bundle before `refresh-bundle`.
    bundle_old: PathBuf,
    /// A trust store with Drop Site's log key and both witness keys.
    trust: PathBuf,
    /// Checkpoints Drop Site gave out (`custody checkpoint`): size `SAMPLES`
    /// and the latest, size `SAMPLES + 2`, with its two cosignature lines.
    given_out: [PathBuf; 2],
    /// Record `doc(3)`'s document blob (and `doc(4)`'s), the first batch's
    /// envelope (records `doc(0)` to `doc(7)`) and the second's (record
    /// `doc(8)`), as hex addresses.
    doc_blob: String,
    doc_blob_2: String,
    meta_1: String,
    meta_2: String,
    scratch: TempDir,
}

impl World {
    fn new() -> World {
        let ds = Fixture::new_as("dropsite");
        let gu = Fixture::new_as("guardian");
        let mag = Fixture::new_as("972mag");
        let scratch = tempfile::tempdir().unwrap();
        let wire = |n: &str| scratch.path().join(n);
        let trust = wire("trust.toml");
        let with_trust = |f: &Fixture, args: &[&str]| {
            let mut c = f.cmd();
            c.env("CUSTODY_TRUST_STORE", &trust).args(args);
            run(c)
        };
        with_trust(&ds, &["trust", "add", "dropsite", s(&ds.vkey())]).ok();
        for (n, w) in [("guardian-witness", &gu), ("972mag-witness", &mag)] {
            with_trust(&ds, &["trust", "add", n, s(&w.keys.join("witness.vkey"))]).ok();
            w.run(&[
                "witness",
                "add-log",
                "dropsite.example/leaks",
                s(&ds.vkey()),
                "--witness-key",
                s(&w.keys.join("witness.key")),
            ])
            .ok();
        }
        ds.ingest_samples();
        // Both witnesses cosign checkpoint SAMPLES (trust on first use).
        let cp_samples = wire("cp-samples");
        let note = ds.run(&["checkpoint"]).ok().stdout.clone();
        assert!(
            note.starts_with(&format!("dropsite.example/leaks\n{SAMPLES}\n")),
            "{note}"
        );
        fs::write(&cp_samples, note).unwrap();
        let cosign = |w: &Fixture, input: &Path, out: &str| {
            let o = wire(out);
            w.run(&["witness", "cosign", s(input), "-o", s(&o)]).ok();
            o
        };
        let c1 = cosign(&gu, &cp_samples, "gu-samples.cosig");
        let c2 = cosign(&mag, &cp_samples, "mag-samples.cosig");
        with_trust(&ds, &["checkpoint", "add-cosignature", s(&c1), s(&c2)]).ok();
        let ds_old = scratch.path().join("ds-old");
        copy_dir(&ds.dir, &ds_old);
        let gu_old = scratch.path().join("gu-old");
        copy_dir(&gu.dir, &gu_old);

        // A second ingest, then a share of document 2 to the Guardian.
        let extra = wire("later.txt");
        fs::write(&extra, b"a document that came later\n").unwrap();
        ds.ingest_json(&[s(&extra)]);
        let bundle = wire("memo.bundle");
        ds.share_to(&doc(2).to_string(), &gu, &bundle);
        let bundle_old = wire("memo-before-refresh.bundle");
        fs::copy(&bundle, &bundle_old).unwrap();
        // Both witnesses cosign the latest checkpoint (SAMPLES + 2) given the
        // consistency proof from SAMPLES.
        let proof = wire("consistency-samples");
        fs::write(
            &proof,
            &ds.run(&["prove", "--consistency", &SAMPLES.to_string()])
                .ok()
                .stdout_bytes,
        )
        .unwrap();
        let c3 = cosign(&gu, &proof, "gu-latest.cosig");
        let c4 = cosign(&mag, &proof, "mag-latest.cosig");
        with_trust(&ds, &["checkpoint", "add-cosignature", s(&c3), s(&c4)]).ok();
        with_trust(&ds, &["refresh-bundle", s(&bundle)]).ok();
        with_trust(
            &gu,
            &[
                "receive",
                s(&bundle),
                "-i",
                s(&gu.identity()),
                "--quorum",
                "2",
            ],
        )
        .ok();

        let cp_latest = wire("cp-latest");
        let latest = ds.run(&["checkpoint"]).ok().stdout.clone();
        assert!(
            latest.starts_with(&format!("dropsite.example/leaks\n{}\n", SAMPLES + 2)),
            "{latest}"
        );
        assert_eq!(latest.matches("\n\u{2014} ").count(), 3, "{latest}");
        fs::write(&cp_latest, latest).unwrap();
        let show = |k: usize, field: &str| {
            ds.show(&doc(k).to_string())[field]
                .as_str()
                .unwrap()
                .to_string()
        };
        let doc_blob = show(3, "blob");
        let doc_blob_2 = show(4, "blob");
        let meta_1 = show(3, "meta");
        let meta_2 = show(8, "meta");
        assert_ne!(meta_1, meta_2);
        let w = World {
            ds,
            gu,
            ds_old,
            gu_old,
            bundle,
            bundle_old,
            trust,
            given_out: [cp_samples, cp_latest],
            doc_blob,
            doc_blob_2,
            meta_1,
            meta_2,
            scratch,
        };
        for t in [Target::Ds, Target::DsSince, Target::Gu, Target::Bundle] {
            let copy = w.copy_of(t);
            let o = w.check(t, copy.path());
            assert_eq!(
                o,
                Outcome::Passed,
                "the pristine fixture ({t:?}) does not verify"
            );
        }
        w
    }

    /// A fresh copy of the target in a new temp dir: the archive directory
    /// (or the bundle file) at `copy/target`.
    fn copy_of(&self, t: Target) -> TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let dst = tmp.path().join("target");
        match t {
            Target::Ds | Target::DsSince => copy_dir(&self.ds.dir, &dst),
            Target::Gu => copy_dir(&self.gu.dir, &dst),
            Target::Bundle => {
                fs::copy(&self.bundle, &dst).unwrap();
            }
        }
        tmp
    }

    /// Runs the check for the target (`verify --json`, or `verify-bundle
    /// --json --quorum 2 -i` the Guardian's identity) and classifies it.
    fn check(&self, t: Target, tmp: &Path) -> Outcome {
        let target = tmp.join("target");
        let mut c = custody();
        c.env("CUSTODY_TRUST_STORE", &self.trust);
        match t {
            Target::Ds | Target::Gu => {
                c.arg("-A").arg(&target).args(["verify", "--json"]);
            }
            Target::DsSince => {
                c.arg("-A").arg(&target).args(["verify", "--json"]);
                for cp in &self.given_out {
                    c.arg("--since-checkpoint").arg(cp);
                }
            }
            Target::Bundle => {
                c.arg("verify-bundle")
                    .arg(&target)
                    .args(["--json", "--quorum", "2", "-i"])
                    .arg(self.gu.identity());
            }
        }
        classify(&run(c))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Drop Site's archive.
    Ds,
    /// Drop Site's archive, checked with `verify --since-checkpoint` and the
    /// checkpoints it gave out (`SAMPLES`, and the latest, `SAMPLES + 2`,
    /// with its cosignatures).
    DsSince,
    /// The Guardian's archive (received document, witness state).
    Gu,
    /// The bundle file, checked by `verify-bundle`.
    Bundle,
}

/// What a check run did.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    /// Exit 1: the sorted, de-duplicated check names of the findings.
    Findings(Vec<String>),
    /// Exit 2 with one `error: …; hint` line.
    Error(String),
    /// Anything else: a panic, another exit code, several stderr lines, bad JSON.
    Broken(String),
}

fn classify(r: &Run) -> Outcome {
    let panicked = r.stderr.contains("panicked") || r.stdout.contains("panicked");
    match r.code {
        _ if panicked => Outcome::Broken(format!("panic (exit {}): {}", r.code, r.stderr)),
        OK | FINDING => {
            let v: serde_json::Value = match serde_json::from_str(&r.stdout) {
                Ok(v) => v,
                Err(e) => return Outcome::Broken(format!("not JSON ({e}): {}", r.stdout)),
            };
            if v["ok"].as_bool() != Some(r.code == OK) {
                return Outcome::Broken(format!("ok vs exit {}: {v}", r.code));
            }
            if r.code == OK {
                return Outcome::Passed;
            }
            let list = v["report"]["findings"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut names: Vec<String> = list
                .iter()
                .filter_map(|f| f["check"].as_str().map(str::to_string))
                .collect();
            names.sort();
            names.dedup();
            if names.is_empty() {
                return Outcome::Broken(format!("exit 1 without findings: {v}"));
            }
            Outcome::Findings(names)
        }
        ERROR => {
            let lines: Vec<&str> = r.stderr.lines().collect();
            match lines.as_slice() {
                [l] if l.starts_with("error: ") && l.contains("; ") => {
                    Outcome::Error(l.to_string())
                }
                _ => Outcome::Broken(format!("exit 2 without one error line: {}", r.stderr)),
            }
        }
        c => Outcome::Broken(format!("exit {c}: {}", r.stderr)),
    }
}

/// What a case must produce.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exit 1 with exactly these checks (as a set).
    Finds(&'static [&'static str]),
    /// Exit 2 with one error line containing every needle.
    Fails(&'static [&'static str]),
    /// Verify alone passes; the reason says why that is right, or what does
    /// catch it.
    Undetected(&'static str),
    /// Verify passes because opening the archive put this derived file
    /// (path in the archive) back as it was; the reason says why that is right.
    Repaired(&'static str, &'static str),
}

/// The mutations of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mutation {
    Flip,
    Truncate,
    Reorder,
    Delete,
    Duplicate,
    Rollback,
}

/// The context a mutation gets: the copy, and the fixture for lookups.
struct Ctx<'a> {
    w: &'a World,
    /// The target in the copy: an archive directory or the bundle file.
    at: PathBuf,
}

impl Ctx<'_> {
    fn p(&self, rel: &str) -> PathBuf {
        self.at.join(rel)
    }
    fn blob(&self, hex: &str) -> PathBuf {
        self.at.join("blobs").join(&hex[..2]).join(hex)
    }
    /// The same file in the older copy of the archive.
    fn old(&self, t: Target, rel: &str) -> PathBuf {
        match t {
            Target::Ds | Target::DsSince => self.w.ds_old.join(rel),
            Target::Gu => self.w.gu_old.join(rel),
            Target::Bundle => self.w.bundle_old.clone(),
        }
    }
    /// The only file in `evidence/`.
    fn evidence(&self) -> PathBuf {
        let mut v: Vec<PathBuf> = fs::read_dir(self.p("evidence"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(v.len(), 1);
        v.pop().unwrap()
    }
}

struct Case {
    kind: &'static str,
    mutation: Mutation,
    what: &'static str,
    target: Target,
    apply: Box<dyn Fn(&Ctx)>,
    expect: Expect,
}

// ---- byte-level helpers -------------------------------------------------

fn flip_at(p: &Path, at: impl Fn(usize) -> usize) {
    let n = fs::metadata(p).unwrap().len() as usize;
    flip_byte(p, at(n));
}

fn truncate_by(p: &Path, cut: u64) {
    let n = fs::metadata(p).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(p).unwrap();
    f.set_len(n - cut).unwrap();
}

/// The frame bodies of a framed file (FORMAT.md §7.1).
fn frame_bodies(p: &Path) -> Vec<Vec<u8>> {
    let b = fs::read(p).unwrap();
    frames(&b)
        .into_iter()
        .map(|(o, l)| b[o + 4..o + 4 + l].to_vec())
        .collect()
}

fn write_frames(p: &Path, bodies: &[Vec<u8>]) {
    let mut out = Vec::new();
    for b in bodies {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    }
    fs::write(p, out).unwrap();
}

fn edit_frames(p: &Path, f: impl Fn(&mut Vec<Vec<u8>>)) {
    let mut v = frame_bodies(p);
    f(&mut v);
    write_frames(p, &v);
}

/// Flips a byte in the middle of frame `i`'s body.
fn flip_frame(p: &Path, i: usize) {
    let b = fs::read(p).unwrap();
    let (o, l) = frames(&b)[i];
    flip_byte(p, o + 4 + l / 2);
}

/// Swaps fixed-width entries `i` and `j` of a file.
fn swap_entries(p: &Path, width: usize, i: usize, j: usize) {
    let mut b = fs::read(p).unwrap();
    let (a, c) = (
        b[i * width..(i + 1) * width].to_vec(),
        b[j * width..(j + 1) * width].to_vec(),
    );
    b[i * width..(i + 1) * width].copy_from_slice(&c);
    b[j * width..(j + 1) * width].copy_from_slice(&a);
    fs::write(p, b).unwrap();
}

/// Appends a copy of fixed-width entry `i`.
fn dup_entry(p: &Path, width: usize, i: usize) {
    let mut b = fs::read(p).unwrap();
    let e = b[i * width..(i + 1) * width].to_vec();
    b.extend_from_slice(&e);
    fs::write(p, b).unwrap();
}

fn copy_over(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::remove_dir_all(to).unwrap();
        copy_dir(from, to);
    } else {
        fs::copy(from, to).unwrap();
    }
}

fn rm(p: &Path) {
    if p.is_dir() {
        fs::remove_dir_all(p).unwrap();
    } else {
        fs::remove_file(p).unwrap();
    }
}

/// Swaps the last two entries of a hop: the document's ingest and share
/// records (those before them are the actor and configuration records that
/// carry the signers' keys).
fn swap_last_two(entries: &mut [Vec<u8>]) {
    let n = entries.len();
    assert!(n >= 4, "a hop of {n} entries");
    entries.swap(n - 2, n - 1);
}

/// Rewrites the bundle's head (its evidence and envelope), keeping the payload.
fn edit_bundle(p: &Path, f: impl Fn(&mut BundleHead)) {
    let bytes = fs::read(p).unwrap();
    let mut r = &bytes[..];
    let mut head = read_head(&mut r).unwrap();
    let payload = r.to_vec();
    f(&mut head);
    let mut out = Vec::new();
    write_head(&mut out, &head).unwrap();
    out.extend_from_slice(&payload);
    fs::write(p, out).unwrap();
}

// ---- the matrix -----------------------------------------------------------

/// Why extra entries past the end of a flat index file pass.
const CRASH_TAIL: &str = "bytes past what the database committed are what a crash between the flat files and the database leaves: every open cuts them back (FORMAT.md §7.2.5); the file is derived";
/// Why an earlier or missing `ledger/checkpoint` passes.
const EARLIER_STATE: &str = "a derived file that a crash can leave missing or in an earlier state (a stored checkpoint with some of its stored cosignatures): every open rewrites it from ledger/checkpoints and the stored cosignatures (FORMAT.md §7.2.5)";
/// Why a torn end of witness/history passes.
const TORN_HISTORY: &str = "a torn final frame is what a crash mid-append leaves, and is cut back before the next append (FORMAT.md §11.2); that the witness forgot its latest cosigned checkpoint, like a rollback of its state, shows only against the cosignatures it gave out";
/// Why an older or empty witness history passes.
const WITNESS_FORGETS: &str = "a consistent older witness state (or none): the witness forgot checkpoints it cosigned, which only the logs holding its cosignatures can show; nothing in the archive contradicts it";

fn cases() -> Vec<Case> {
    use Expect::*;
    use Mutation::*;
    use Target::*;
    let mut v: Vec<Case> = Vec::new();
    let mut add = |kind, mutation, what, target, expect, apply: Box<dyn Fn(&Ctx)>| {
        v.push(Case {
            kind,
            mutation,
            what,
            target,
            apply,
            expect,
        })
    };

    // Records: ledger/records (12 frames: the actor and config records of
    // init, 8 + 1 ingests, 1 share). Damage goes to document records.
    let rec = "ledger/records";
    add(
        "record",
        Flip,
        label(format!("a byte in record {}", doc(1))),
        Ds,
        Finds(&[
            "blob_missing",
            "checkpoint_root",
            "index_mismatch",
            "record_signature",
        ]),
        Box::new(|c| flip_frame(&c.p(rec), doc(1))),
    );
    add(
        "record",
        Truncate,
        "the last 10 bytes",
        Ds,
        // The last record is the share: the blob of its sealed details
        // (FORMAT.md §5.4) is no longer named by any record.
        Finds(&[
            "blob_unreferenced",
            "checkpoint_root",
            "index_mismatch",
            "record_frame",
        ]),
        Box::new(|c| truncate_by(&c.p(rec), 10)),
    );
    add(
        "record",
        Truncate,
        "the last record, at a frame boundary",
        Ds,
        // As above: the share's sealed details are left unreferenced.
        Finds(&["blob_unreferenced", "checkpoint_root", "index_mismatch"]),
        Box::new(|c| {
            edit_frames(&c.p(rec), |v| {
                v.pop();
            })
        }),
    );
    add(
        "record",
        Reorder,
        label(format!("records {} and {} swapped", doc(1), doc(2))),
        Ds,
        Finds(&[
            "checkpoint_root",
            "document_ref",
            "index_mismatch",
            "record_index",
        ]),
        Box::new(|c| edit_frames(&c.p(rec), |v| v.swap(doc(1), doc(2)))),
    );
    add(
        "record",
        Delete,
        "ledger/records removed",
        Ds,
        Fails(&["ledger/records is missing"]),
        Box::new(|c| rm(&c.p(rec))),
    );
    add(
        "record",
        Delete,
        label(format!("record {} cut out", doc(4))),
        Ds,
        Finds(&[
            "blob_unreferenced",
            "checkpoint_root",
            "index_mismatch",
            "record_index",
        ]),
        Box::new(|c| {
            edit_frames(&c.p(rec), |v| {
                v.remove(doc(4));
            })
        }),
    );
    add(
        "record",
        Duplicate,
        label(format!("record {} appended again", doc(3))),
        Ds,
        Finds(&["checkpoint_missing", "index_mismatch", "record_index"]),
        Box::new(|c| {
            edit_frames(&c.p(rec), |v| {
                let r = v[doc(3)].clone();
                v.push(r);
            })
        }),
    );
    add(
        "record",
        Rollback,
        "ledger/records from the older copy",
        Ds,
        Finds(&["blob_unreferenced", "checkpoint_root", "index_mismatch"]),
        Box::new(|c| copy_over(&c.old(Ds, rec), &c.p(rec))),
    );

    // Record locations: ledger/index (12-byte entries).
    let idx = "ledger/index";
    add(
        "record location",
        Flip,
        label(format!("a byte of entry {}", doc(2))),
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| flip_byte(&c.p(idx), 12 * doc(2) + 7)),
    );
    add(
        "record location",
        Truncate,
        "the last entry",
        Ds,
        Repaired("ledger/index", "a flat file shorter than the database is index damage, rebuilt from the ledger files on open with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| truncate_by(&c.p(idx), 12)),
    );
    add(
        "record location",
        Reorder,
        label(format!("entries {} and {} swapped", doc(1), doc(2))),
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| swap_entries(&c.p(idx), 12, doc(1), doc(2))),
    );
    add(
        "record location",
        Delete,
        "ledger/index removed",
        Ds,
        Repaired("ledger/index", "the index is rebuilt from the ledger files on open, with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| rm(&c.p(idx))),
    );
    add(
        "record location",
        Duplicate,
        label(format!("entry {} appended again", doc(3))),
        Ds,
        Repaired("ledger/index", CRASH_TAIL),
        Box::new(|c| dup_entry(&c.p(idx), 12, doc(3))),
    );
    add(
        "record location",
        Rollback,
        "ledger/index from the older copy",
        Ds,
        Repaired("ledger/index", "a flat file shorter than the database is index damage, rebuilt from the ledger files on open with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| copy_over(&c.old(Ds, idx), &c.p(idx))),
    );

    // Merkle nodes: ledger/tree (32-byte nodes in post-order).
    let tree = "ledger/tree";
    add(
        "merkle node",
        Flip,
        "a byte of node 5",
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| flip_byte(&c.p(tree), 32 * 5 + 3)),
    );
    add(
        "merkle node",
        Truncate,
        "the last node",
        Ds,
        Repaired("ledger/tree", "a flat file shorter than the database is index damage, rebuilt from the ledger files on open with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| truncate_by(&c.p(tree), 32)),
    );
    add(
        "merkle node",
        Reorder,
        "nodes 0 and 1 swapped",
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| swap_entries(&c.p(tree), 32, 0, 1)),
    );
    add(
        "merkle node",
        Delete,
        "ledger/tree removed",
        Ds,
        Repaired("ledger/tree", "the index is rebuilt from the ledger files on open, with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| rm(&c.p(tree))),
    );
    add(
        "merkle node",
        Duplicate,
        "node 2 appended again",
        Ds,
        Repaired("ledger/tree", CRASH_TAIL),
        Box::new(|c| dup_entry(&c.p(tree), 32, 2)),
    );
    add(
        "merkle node",
        Rollback,
        "ledger/tree from the older copy",
        Ds,
        Repaired("ledger/tree", "a flat file shorter than the database is index damage, rebuilt from the ledger files on open with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| copy_over(&c.old(Ds, tree), &c.p(tree))),
    );

    // Checkpoints: ledger/checkpoints (sizes INIT_RECORDS, SAMPLES,
    // SAMPLES + 1, SAMPLES + 2).
    let cps = "ledger/checkpoints";
    add(
        "checkpoint",
        Flip,
        label(format!("a byte of checkpoint {SAMPLES}'s note")),
        Ds,
        Finds(&["checkpoint_signature", "index_mismatch"]),
        Box::new(|c| flip_frame(&c.p(cps), 1)),
    );
    add(
        "checkpoint",
        Truncate,
        "the last 10 bytes",
        Ds,
        Finds(&[
            "checkpoint_missing",
            "checkpoint_signature",
            "index_mismatch",
        ]),
        Box::new(|c| truncate_by(&c.p(cps), 10)),
    );
    add(
        "checkpoint",
        Truncate,
        "the last checkpoint, at a frame boundary",
        Ds,
        Finds(&["checkpoint_missing", "index_mismatch"]),
        Box::new(|c| {
            edit_frames(&c.p(cps), |v| {
                v.pop();
            })
        }),
    );
    add(
        "checkpoint",
        Reorder,
        label(format!("checkpoints {SAMPLES} and {} swapped", SAMPLES + 1)),
        Ds,
        Finds(&["checkpoint_consistency", "index_mismatch"]),
        Box::new(|c| edit_frames(&c.p(cps), |v| v.swap(1, 2))),
    );
    add(
        "checkpoint",
        Delete,
        "ledger/checkpoints removed",
        Ds,
        Fails(&["ledger/checkpoints is missing"]),
        Box::new(|c| rm(&c.p(cps))),
    );
    add(
        "checkpoint",
        Delete,
        label(format!("checkpoint {} cut out", SAMPLES + 1)),
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| {
            edit_frames(&c.p(cps), |v| {
                v.remove(2);
            })
        }),
    );
    add(
        "checkpoint",
        Duplicate,
        label(format!("checkpoint {SAMPLES} appended again")),
        Ds,
        Finds(&["checkpoint_consistency", "index_mismatch"]),
        Box::new(|c| {
            edit_frames(&c.p(cps), |v| {
                let x = v[1].clone();
                v.push(x);
            })
        }),
    );
    add(
        "checkpoint",
        Rollback,
        "ledger/checkpoints from the older copy",
        Ds,
        Finds(&["checkpoint_missing", "index_mismatch"]),
        Box::new(|c| copy_over(&c.old(Ds, cps), &c.p(cps))),
    );

    // The latest checkpoint with its cosignatures: ledger/checkpoint.
    let latest = "ledger/checkpoint";
    add(
        "latest checkpoint",
        Flip,
        "a byte of the root line",
        Ds,
        Repaired("ledger/checkpoint", "a derived file: a damaged or edited one is rewritten on open from ledger/checkpoints and the stored cosignatures, with a note (FORMAT.md §7.2.5)"),
        Box::new(|c| {
            let head = format!("dropsite.example/leaks\n{}\n", SAMPLES + 2);
            flip_byte(&c.p(latest), head.len() + 4)
        }),
    );
    add(
        "latest checkpoint",
        Truncate,
        "the last cosignature line",
        Ds,
        Repaired("ledger/checkpoint", EARLIER_STATE),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(latest)).unwrap();
            let cut = t[..t.len() - 1].rfind('\n').unwrap() + 1;
            fs::write(c.p(latest), &t[..cut]).unwrap();
        }),
    );
    add(
        "latest checkpoint",
        Reorder,
        "the two cosignature lines swapped",
        Ds,
        Repaired("ledger/checkpoint", EARLIER_STATE),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(latest)).unwrap();
            let mut l: Vec<&str> = t.lines().collect();
            let n = l.len();
            l.swap(n - 1, n - 2);
            fs::write(c.p(latest), format!("{}\n", l.join("\n"))).unwrap();
        }),
    );
    add(
        "latest checkpoint",
        Delete,
        "ledger/checkpoint removed",
        Ds,
        Repaired("ledger/checkpoint", EARLIER_STATE),
        Box::new(|c| rm(&c.p(latest))),
    );
    add(
        "latest checkpoint",
        Duplicate,
        "a cosignature line twice",
        Ds,
        Repaired("ledger/checkpoint", EARLIER_STATE),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(latest)).unwrap();
            let last = t.lines().last().unwrap().to_string();
            fs::write(c.p(latest), format!("{t}{last}\n")).unwrap();
        }),
    );
    add(
        "latest checkpoint",
        Rollback,
        "ledger/checkpoint from the older copy",
        Ds,
        Repaired("ledger/checkpoint", EARLIER_STATE),
        Box::new(|c| copy_over(&c.old(Ds, latest), &c.p(latest))),
    );

    // Witness cosignatures: ledger/cosignatures (4 frames: sizes SAMPLES,
    // SAMPLES, SAMPLES + 2, SAMPLES + 2).
    let cos = "ledger/cosignatures";
    add(
        "cosignature",
        Flip,
        "a byte of a signature (frame 2)",
        Ds,
        Finds(&["cosignature", "index_mismatch"]),
        Box::new(|c| {
            let b = fs::read(c.p(cos)).unwrap();
            let (o, l) = frames(&b)[2];
            // Inside the base64 of the signature: near the end of the line.
            let at = o + 4 + l - 10;
            let mut b = b;
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            fs::write(c.p(cos), b).unwrap();
        }),
    );
    add(
        "cosignature",
        Flip,
        "a byte of the tree size (frame 0)",
        Ds,
        Finds(&["cosignature", "index_mismatch"]),
        Box::new(|c| flip_byte(&c.p(cos), 4 + 7)),
    );
    add(
        "cosignature",
        Truncate,
        "the last 10 bytes",
        Ds,
        Finds(&["cosignature", "index_mismatch"]),
        Box::new(|c| truncate_by(&c.p(cos), 10)),
    );
    add(
        "cosignature",
        Truncate,
        "the last frame, at a frame boundary",
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| {
            edit_frames(&c.p(cos), |v| {
                v.pop();
            })
        }),
    );
    add("cosignature", Reorder, "frames 1 and 2 swapped", Ds, Undetected("ledger/cosignatures is indexed by size, key ID and name (FORMAT.md §11.3): the order of its frames carries no meaning, and every line is still verified"),
        Box::new(|c| edit_frames(&c.p(cos), |v| v.swap(1, 2))));
    add(
        "cosignature",
        Delete,
        "ledger/cosignatures removed",
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| rm(&c.p(cos))),
    );
    add(
        "cosignature",
        Duplicate,
        "frame 2 appended again",
        Ds,
        Finds(&["cosignature"]),
        Box::new(|c| {
            edit_frames(&c.p(cos), |v| {
                let x = v[2].clone();
                v.push(x);
            })
        }),
    );
    add(
        "cosignature",
        Rollback,
        "ledger/cosignatures from the older copy",
        Ds,
        Finds(&["index_mismatch"]),
        Box::new(|c| copy_over(&c.old(Ds, cos), &c.p(cos))),
    );

    // Document blobs.
    add(
        "blob",
        Flip,
        label(format!("a byte of record {}'s blob", doc(3))),
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| flip_at(&c.blob(&c.w.doc_blob), |n| n / 2)),
    );
    add(
        "blob",
        Truncate,
        label(format!("the last 16 bytes of record {}'s blob", doc(3))),
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| truncate_by(&c.blob(&c.w.doc_blob), 16)),
    );
    add(
        "blob",
        Reorder,
        label(format!(
            "the blobs of records {} and {} swapped",
            doc(3),
            doc(4)
        )),
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| {
            let (a, b) = (c.blob(&c.w.doc_blob), c.blob(&c.w.doc_blob_2));
            let (x, y) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
            fs::write(&a, y).unwrap();
            fs::write(&b, x).unwrap();
        }),
    );
    add(
        "blob",
        Delete,
        label(format!("record {}'s blob removed", doc(3))),
        Ds,
        Finds(&["blob_missing"]),
        Box::new(|c| rm(&c.blob(&c.w.doc_blob))),
    );
    add(
        "blob",
        Duplicate,
        label(format!(
            "record {}'s blob copied under a stray name",
            doc(3)
        )),
        Ds,
        Finds(&["blob_unreferenced"]),
        Box::new(|c| {
            let a = c.blob(&c.w.doc_blob);
            fs::copy(&a, a.with_file_name(format!("{}.copy", c.w.doc_blob))).unwrap();
        }),
    );
    add(
        "blob",
        Rollback,
        "blobs/ from the older copy",
        Ds,
        Finds(&["blob_missing"]),
        Box::new(|c| copy_over(&c.old(Ds, "blobs"), &c.p("blobs"))),
    );

    // Metadata envelopes (age files in the blob store).
    add(
        "metadata envelope",
        Flip,
        "a byte of the first batch's envelope",
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| flip_at(&c.blob(&c.w.meta_1), |n| n / 2)),
    );
    add(
        "metadata envelope",
        Truncate,
        "the last 16 bytes of the envelope",
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| truncate_by(&c.blob(&c.w.meta_1), 16)),
    );
    add(
        "metadata envelope",
        Reorder,
        "the two batches' envelopes swapped",
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| {
            let (a, b) = (c.blob(&c.w.meta_1), c.blob(&c.w.meta_2));
            let (x, y) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
            fs::write(&a, y).unwrap();
            fs::write(&b, x).unwrap();
        }),
    );
    add(
        "metadata envelope",
        Delete,
        "the second batch's envelope removed",
        Ds,
        Finds(&["blob_missing"]),
        Box::new(|c| rm(&c.blob(&c.w.meta_2))),
    );
    add(
        "metadata envelope",
        Duplicate,
        "the second envelope copied over the first",
        Ds,
        Finds(&["blob_hash"]),
        Box::new(|c| copy_over(&c.blob(&c.w.meta_2), &c.blob(&c.w.meta_1))),
    );
    add(
        "metadata envelope",
        Rollback,
        "the second envelope from the older copy (absent there)",
        Ds,
        Finds(&["blob_missing"]),
        Box::new(|c| {
            let old = c.old(Ds, &format!("blobs/{}/{}", &c.w.meta_2[..2], c.w.meta_2));
            assert!(!old.exists());
            rm(&c.blob(&c.w.meta_2));
        }),
    );

    // custody.toml.
    let toml = "custody.toml";
    add(
        "config",
        Flip,
        "a byte of the log key",
        Ds,
        Fails(&["custody.toml", "not UTF-8"]),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(toml)).unwrap();
            let at = t.find("log_key").unwrap()
                + t[t.find("log_key").unwrap()..].find('+').unwrap()
                + 12;
            flip_byte(&c.p(toml), at);
        }),
    );
    add(
        "config",
        Truncate,
        "cut in half",
        Ds,
        Fails(&["custody.toml", "line "]),
        Box::new(|c| {
            let n = fs::metadata(c.p(toml)).unwrap().len();
            truncate_by(&c.p(toml), n / 2);
        }),
    );
    add(
        "config",
        Reorder,
        "its lines in reverse order",
        Ds,
        Fails(&["custody.toml", "line 1"]),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(toml)).unwrap();
            let l: Vec<&str> = t.lines().rev().collect();
            fs::write(c.p(toml), format!("{}\n", l.join("\n"))).unwrap();
        }),
    );
    add(
        "config",
        Delete,
        "custody.toml removed",
        Ds,
        Fails(&["no custody archive found"]),
        Box::new(|c| rm(&c.p(toml))),
    );
    add(
        "config",
        Duplicate,
        "the origin line twice",
        Ds,
        Fails(&["custody.toml", "duplicate key"]),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(toml)).unwrap();
            let line = t
                .lines()
                .find(|l| l.starts_with("origin"))
                .unwrap()
                .to_string();
            fs::write(c.p(toml), format!("{t}{line}\n")).unwrap();
        }),
    );
    add(
        "config",
        Flip,
        "a base64 character of the log key",
        Ds,
        Fails(&["custody.toml", "key ID mismatch"]),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(toml)).unwrap();
            let k = t.find("log_key").unwrap();
            let at = t[k..].find('+').unwrap() + k;
            let at = t[at + 1..].find('+').unwrap() + at + 12;
            let mut b = t.into_bytes();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            fs::write(c.p(toml), b).unwrap();
        }),
    );
    add(
        "config",
        Reorder,
        "the origin and log_key lines swapped",
        Ds,
        Undetected("TOML gives key order no meaning: the same configuration"),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(toml)).unwrap();
            let mut l: Vec<String> = t.lines().map(str::to_string).collect();
            let i = l.iter().position(|x| x.starts_with("origin")).unwrap();
            let j = l.iter().position(|x| x.starts_with("log_key")).unwrap();
            l.swap(i, j);
            fs::write(c.p(toml), format!("{}\n", l.join("\n"))).unwrap();
        }),
    );
    add("config", Rollback, "custody.toml from the older copy", Ds,
        Undetected("custody.toml is written once by init and never changed, so the older copy is the same file"),
        Box::new(|c| copy_over(&c.old(Ds, toml), &c.p(toml))));

    // The sled database.
    add(
        "database",
        Delete,
        "db/ removed",
        Ds,
        Repaired("ledger/checkpoint", "the index is rebuilt from the ledger files on open, with a note, as `custody reindex` would (FORMAT.md §7.2.5)"),
        Box::new(|c| rm(&c.p("db"))),
    );
    add("database", Rollback, "db/ from the older copy", Ds, Undetected("the database is an index: an older copy is what a crash before its flush leaves, so opening catches it up from the ledger files (FORMAT.md §7.2.5) and verify then checks it against them"),
        Box::new(|c| copy_over(&c.old(Ds, "db"), &c.p("db"))));

    // Kept evidence of the received document (the Guardian's evidence/).
    add(
        "evidence",
        Flip,
        "a byte in the middle",
        Gu,
        Finds(&["evidence"]),
        Box::new(|c| flip_at(&c.evidence(), |n| n / 2)),
    );
    add(
        "evidence",
        Truncate,
        "the last 10 bytes",
        Gu,
        Finds(&["evidence"]),
        Box::new(|c| truncate_by(&c.evidence(), 10)),
    );
    add(
        "evidence",
        Reorder,
        "the hop's ingest and share entries swapped",
        Gu,
        Finds(&["evidence"]),
        Box::new(|c| {
            let p = c.evidence();
            let mut e = Evidence::parse(&fs::read(&p).unwrap()).unwrap();
            swap_last_two(&mut e.hops[0].entries);
            fs::write(&p, e.encode()).unwrap();
        }),
    );
    add(
        "evidence",
        Delete,
        "the evidence file removed",
        Gu,
        Finds(&["evidence"]),
        Box::new(|c| rm(&c.evidence())),
    );
    add(
        "evidence",
        Duplicate,
        "the share entry twice",
        Gu,
        Finds(&["evidence"]),
        Box::new(|c| {
            let p = c.evidence();
            let mut e = Evidence::parse(&fs::read(&p).unwrap()).unwrap();
            let last = e.hops[0].entries.last().unwrap().clone();
            e.hops[0].entries.push(last);
            fs::write(&p, e.encode()).unwrap();
        }),
    );
    add(
        "evidence",
        Rollback,
        "evidence/ from the older copy (before the receive)",
        Gu,
        Finds(&["evidence"]),
        Box::new(|c| {
            let old = c.old(Gu, "evidence");
            if old.exists() {
                copy_over(&old, &c.p("evidence"));
            } else {
                rm(&c.p("evidence"));
            }
        }),
    );

    // The Guardian's witness state: witness/history (checkpoints SAMPLES and
    // SAMPLES + 2 of Drop Site) and witness/config.toml.
    let hist = "witness/history";
    let wcfg = "witness/config.toml";
    add(
        "witness state",
        Flip,
        "a byte of the first cosigned note",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| flip_frame(&c.p(hist), 0)),
    );
    add(
        "witness state",
        Flip,
        "a character of the first note's signature",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| {
            let b = fs::read(c.p(hist)).unwrap();
            let (o, l) = frames(&b)[0];
            let at = o + 4 + l - 10;
            let mut b = b;
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            fs::write(c.p(hist), b).unwrap();
        }),
    );
    add(
        "witness state",
        Flip,
        "a byte of the witnessed log's key in config.toml",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| {
            let t = fs::read_to_string(c.p(wcfg)).unwrap();
            let k = t.find("vkey").unwrap();
            let at = k + t[k..].find('+').unwrap() + 12;
            flip_byte(&c.p(wcfg), at);
        }),
    );
    add(
        "witness state",
        Truncate,
        "the last 10 bytes of the history",
        Gu,
        Undetected(TORN_HISTORY),
        Box::new(|c| truncate_by(&c.p(hist), 10)),
    );
    add(
        "witness state",
        Truncate,
        "config.toml cut in half",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| {
            let n = fs::metadata(c.p(wcfg)).unwrap().len();
            truncate_by(&c.p(wcfg), n / 2);
        }),
    );
    add(
        "witness state",
        Reorder,
        "the two cosigned checkpoints swapped",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| edit_frames(&c.p(hist), |v| v.swap(0, 1))),
    );
    add(
        "witness state",
        Delete,
        "witness/history removed",
        Gu,
        Undetected(WITNESS_FORGETS),
        Box::new(|c| rm(&c.p(hist))),
    );
    add(
        "witness state",
        Delete,
        "witness/config.toml removed",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| rm(&c.p(wcfg))),
    );
    add(
        "witness state",
        Duplicate,
        "the latest cosigned checkpoint twice",
        Gu,
        Finds(&["witness_state"]),
        Box::new(|c| {
            edit_frames(&c.p(hist), |v| {
                let x = v[1].clone();
                v.push(x);
            })
        }),
    );
    add(
        "witness state",
        Rollback,
        "witness/ from the older copy",
        Gu,
        Undetected(WITNESS_FORGETS),
        Box::new(|c| copy_over(&c.old(Gu, "witness"), &c.p("witness"))),
    );

    // The bundle, checked by verify-bundle --quorum 2 -i.
    add(
        "bundle",
        Flip,
        "a byte of the payload",
        Bundle,
        Finds(&["content", "payload_digest"]),
        Box::new(|c| flip_at(&c.at, |n| n - 100)),
    );
    add(
        "bundle",
        Flip,
        "a byte of the share envelope",
        Bundle,
        Finds(&["commitment", "payload_digest"]),
        Box::new(|c| {
            edit_bundle(&c.at, |h| {
                let n = h.envelope.len();
                h.envelope[n / 2] ^= 1;
            })
        }),
    );
    add(
        "bundle",
        Reorder,
        "the hop's ingest and share entries swapped",
        Bundle,
        Finds(&["bundle_format", "hop_link"]),
        Box::new(|c| edit_bundle(&c.at, |h| swap_last_two(&mut h.evidence.hops[0].entries))),
    );
    add(
        "bundle",
        Delete,
        "the bundle file removed",
        Bundle,
        Fails(&["No such file"]),
        Box::new(|c| rm(&c.at)),
    );
    add(
        "bundle",
        Duplicate,
        "the share entry twice",
        Bundle,
        Finds(&["bundle_format"]),
        Box::new(|c| {
            edit_bundle(&c.at, |h| {
                let x = h.evidence.hops[0].entries.last().unwrap().clone();
                h.evidence.hops[0].entries.push(x);
            })
        }),
    );
    add(
        "bundle",
        Rollback,
        "the bundle from before refresh-bundle",
        Bundle,
        Finds(&["witness_quorum"]),
        Box::new(|c| copy_over(&c.old(Bundle, ""), &c.at)),
    );

    // The whole archive directory: what verify alone cannot see, and what
    // --since-checkpoint (a checkpoint Drop Site gave out, kept outside) does.
    add("whole archive", Rollback, "the older copy of the directory", Ds,
        Undetected("a consistent older copy: every file agrees with the others; caught with --since-checkpoint (next case)"),
        Box::new(|c| copy_over(&c.w.ds_old, &c.at)));
    add(
        "whole archive",
        Rollback,
        "the older copy, verify --since-checkpoint",
        DsSince,
        Finds(&["rollback"]),
        Box::new(|c| copy_over(&c.w.ds_old, &c.at)),
    );
    add(
        "whole archive",
        Rollback,
        "the older copy, after `reindex`",
        DsSince,
        Finds(&["rollback"]),
        Box::new(|c| {
            copy_over(&c.w.ds_old, &c.at);
            rm(&c.p("db"));
            let mut r = custody();
            r.arg("-A").arg(&c.at).arg("reindex");
            run(r).ok();
        }),
    );
    v
}

#[test]
fn tamper_matrix() {
    let w = World::new();
    let cases = cases();
    let (mut detected, mut repaired, mut undetected, mut wrong) = (0, 0, 0, Vec::new());
    for case in &cases {
        let tmp = w.copy_of(case.target);
        let ctx = Ctx {
            w: &w,
            at: tmp.path().join("target"),
        };
        (case.apply)(&ctx);
        let got = w.check(case.target, tmp.path());
        let ok = match (&case.expect, &got) {
            (Expect::Finds(want), Outcome::Findings(names)) => {
                let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                want.sort();
                want.dedup();
                want == *names
            }
            (Expect::Fails(needles), Outcome::Error(line)) => {
                needles.iter().all(|n| line.contains(n))
            }
            (Expect::Undetected(_), Outcome::Passed) => true,
            (Expect::Repaired(rel, _), Outcome::Passed) => {
                fs::read(ctx.at.join(rel)).unwrap() == fs::read(w.ds.dir.join(rel)).unwrap()
            }
            _ => false,
        };
        let label = format!(
            "{} / {:?} / {} ({:?})",
            case.kind, case.mutation, case.what, case.target
        );
        println!("{label}: {got:?}");
        if let Expect::Undetected(why) | Expect::Repaired(_, why) = case.expect {
            println!("    expected, since {why}");
        }
        if !ok {
            wrong.push(format!(
                "{label}\n    want {:?}\n    got  {got:?}",
                case.expect
            ));
        } else if matches!(case.expect, Expect::Undetected(_)) {
            undetected += 1;
        } else if matches!(case.expect, Expect::Repaired(..)) {
            repaired += 1;
        } else {
            detected += 1;
        }
    }
    println!(
        "tamper matrix: {} cases tried, {detected} detected, {repaired} repaired on open, {undetected} expected-undetected, {} wrong",
        cases.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} cases went wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    drop(w.scratch);
}

// ---- verify --since-checkpoint ---------------------------------------------

/// `custody checkpoint` of the fixture, saved to `name` in its temp dir.
fn save_checkpoint(f: &Fixture, name: &str) -> PathBuf {
    let p = f.path().join(name);
    fs::write(&p, &f.run(&["checkpoint"]).ok().stdout_bytes).unwrap();
    p
}

/// Files with one line each, ingested as one batch.
fn ingest_docs(f: &Fixture, dir: &str, docs: &[&str]) {
    let d = f.path().join(dir);
    fs::create_dir_all(&d).unwrap();
    for (i, text) in docs.iter().enumerate() {
        fs::write(d.join(format!("doc-{i}.txt")), format!("{text}\n")).unwrap();
    }
    f.ingest_json(&[s(&d)]);
}

/// `verify --json --since-checkpoint FILE…`: (exit code, report).
fn verify_since(f: &Fixture, files: &[&Path]) -> (i32, serde_json::Value) {
    let mut args = Vec::new();
    for p in files {
        args.push("--since-checkpoint");
        args.push(s(p));
    }
    f.verify(&args)
}

#[test]
fn since_checkpoint_catches_a_whole_archive_rolled_back() {
    let f = Fixture::with_samples();
    let (old, new) = (SAMPLES, SAMPLES + 2);
    let cp_old = save_checkpoint(&f, "cp-old");
    let aside = f.path().join("aside");
    copy_dir(&f.dir, &aside);
    ingest_docs(&f, "later", &["a later document", "and another"]);
    let cp_new = save_checkpoint(&f, "cp-new");
    // The archive holds both checkpoints it gave out.
    let (code, v) = verify_since(&f, &[&cp_old, &cp_new]);
    assert_eq!(code, OK, "{v}");

    // Restore the old copy: every file agrees with the others.
    fs::remove_dir_all(&f.dir).unwrap();
    copy_dir(&aside, &f.dir);
    f.assert_verified();
    let (code, v) = verify_since(&f, &[&cp_old]);
    assert_eq!(code, OK, "the old copy does hold checkpoint {old}: {v}");
    let (code, v) = verify_since(&f, &[&cp_old, &cp_new]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), ["rollback"], "{v}");
    let fnd = findings_of(&v, "rollback")[0];
    assert_eq!(
        fnd["subject"],
        serde_json::json!({"type": "checkpoint", "id": new})
    );
    let reason = fnd["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("covers {new} records, the archive holds {old}")),
        "{reason}"
    );
    let r = f.run(&["verify", "--since-checkpoint", s(&cp_new)]);
    r.code(FINDING);
    assert!(
        r.stdout
            .contains(&format!("FAIL checkpoint at size {new}: rollback: ")),
        "{}",
        r.stdout
    );

    // Records restored but the checkpoints rolled back (the files of the
    // newer archive with the older ledger/checkpoints, reindexed): the tree
    // is there, but the latest checkpoint does not extend the given one.
    let g = Fixture::with_samples();
    let old_cps = fs::read(g.ledger("checkpoints")).unwrap();
    ingest_docs(&g, "later", &["a later document"]);
    let cp_later = save_checkpoint(&g, "cp-later");
    fs::write(g.ledger("checkpoints"), old_cps).unwrap();
    fs::remove_dir_all(g.dir.join("db")).unwrap();
    g.run(&["reindex"]).ok();
    let (code, v) = verify_since(&g, &[&cp_later]);
    assert_eq!(code, FINDING);
    let mut got = checks(&v);
    got.sort();
    assert_eq!(got, ["checkpoint_missing", "rollback"], "{v}");
    let reason = findings_of(&v, "rollback")[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains(&format!("latest checkpoint (size {old}) is older")),
        "{reason}"
    );
}

#[test]
fn since_checkpoint_catches_a_fork() {
    let f = Fixture::with_samples();
    ingest_docs(&f, "later", &["the ninth document"]);
    let cp9 = save_checkpoint(&f, "cp9");
    // The same log key, other records: as many, and more.
    let others: Vec<String> = (0..12).map(|i| format!("not the leak {i}")).collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    for n in [9, 12] {
        let fork = Fixture::new_as("dropsite");
        ingest_docs(&fork, "rewritten", &others[..n]);
        fork.assert_verified();
        let (code, v) = verify_since(&fork, &[&cp9]);
        assert_eq!(code, FINDING, "fork of size {n}: {v}");
        assert_eq!(checks(&v), ["rollback"], "{v}");
        let reason = findings_of(&v, "rollback")[0]["reason"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(reason.contains("history was rewritten"), "{reason}");
    }
}

#[test]
fn since_checkpoint_of_another_log_or_not_signed_is_an_error() {
    let f = Fixture::with_samples();
    let other = Fixture::new_as("guardian");
    let theirs = save_checkpoint(&other, "guardian-cp");
    let r = f.run(&["verify", "--since-checkpoint", s(&theirs)]);
    r.error(&["guardian-cp", "not of this archive's log"]);
    // This log's checkpoint with its signature altered.
    let mine = save_checkpoint(&f, "cp-samples");
    let mut forged = fs::read_to_string(&mine).unwrap().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged_p = f.path().join("forged");
    fs::write(&forged_p, forged).unwrap();
    f.run(&["verify", "--since-checkpoint", s(&forged_p)])
        .error(&["forged", "not signed by this archive's log key"]);
    let garbage = f.path().join("garbage");
    fs::write(&garbage, b"this is not a checkpoint\n").unwrap();
    f.run(&["verify", "--since-checkpoint", s(&garbage)])
        .error(&["garbage", "not a signed checkpoint note"]);
    f.run(&["verify", "--since-checkpoint", s(&f.path().join("missing"))])
        .error(&["missing"]);
    let huge = f.path().join("huge");
    fs::write(&huge, vec![b'x'; (1 << 20) + 1]).unwrap();
    f.run(&["verify", "--since-checkpoint", s(&huge)])
        .error(&["huge", "too large for a checkpoint note"]);
    // The good one still passes next to nothing else.
    let (code, v) = verify_since(&f, &[&mine]);
    assert_eq!(code, OK, "{v}");
}
