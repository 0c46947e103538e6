//! `custody rekey` (issue 18 item 3, FORMAT.md §4.17): after a recipient is
//! removed from the configuration, every blob is encrypted again to the
//! recipients in force and recorded; the removed identity then opens nothing
//! the archive holds (checked with the `age` CLI), the remaining one opens
//! everything, `verify --deep` opens every commitment, and documents, notes
//! and metadata read as before. Killed at every durable operation, a re-run
//! finishes the job. Forged `rekey` records are findings.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Payload, RecordBody, Rekey};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file named by a digest under `blobs/`.
fn blob_files(archive: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in fs::read_dir(archive.join("blobs")).unwrap() {
        let d = d.unwrap().path();
        if d.file_name().unwrap().len() != 2 {
            continue;
        }
        for f in fs::read_dir(&d).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

/// Does `age -d -i identity` open `file`?
fn age_opens(identity: &Path, file: &Path) -> bool {
    Command::new(require_tool("age"))
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap()
        .status
        .success()
}

/// An archive encrypted to Drop Site's and the Guardian's keys (the Guardian
/// standing for a journalist whose laptop is lost), with the sample leak and
/// a note; then the configuration drops the Guardian's key.
fn two_recipients_then_one() -> (Fixture, PathBuf) {
    let f = Fixture::uninit();
    let gu = f.other_keys("guardian");
    f.init_with(&["--recipient", s(&gu.join("recipient.txt"))])
        .ok();
    f.ingest_samples();
    f.run(&[
        "annotate",
        &INIT_RECORDS.to_string(),
        "call the source back",
    ])
    .ok();
    let id = gu.join("identity.age");
    for b in blob_files(&f.dir) {
        assert!(age_opens(&id, &b), "{b:?} is not encrypted to the Guardian");
    }
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
    ])
    .ok();
    (f, id)
}

#[test]
fn a_removed_identity_opens_nothing_after_a_rekey() {
    require_tool("age");
    let (f, lost) = two_recipients_then_one();
    let id = f.identity();
    let dry = f.json(&["rekey", "--dry-run", "-i", s(&id)]);
    // 7 distinct contents (one is stored twice); the envelope, the note, and
    // the sealed details of the first admin and the first configuration (the
    // second configuration's are sealed to the recipients in force).
    assert_eq!(dry["documents"], 7, "{dry}");
    assert_eq!(dry["small"], 4, "{dry}");
    assert_eq!(dry["current"], 1, "{dry}");
    let before = f.records();
    let r = f.json(&["rekey", "-i", s(&id)]);
    assert_eq!(r["records"], 11, "{r}");
    assert_eq!(r["removed"], 11, "{r}");
    assert_eq!(f.records(), before + 11);

    // The removed identity opens no file of the archive; the one in force opens all.
    let files = blob_files(&f.dir);
    assert_eq!(files.len(), 12, "{files:?}");
    for b in &files {
        assert!(
            !age_opens(&lost, b),
            "{b:?} still opens with the removed key"
        );
        assert!(
            age_opens(&id, b),
            "{b:?} does not open with the key in force"
        );
    }
    let (code, v) = f.verify(&["--deep", "-i", s(&id)]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["report"]["coverage"]["decrypted"], 8, "{v}");

    // Documents, their metadata and the note read as before.
    let doc = INIT_RECORDS.to_string();
    let shown = f.json(&["show", &doc, "-i", s(&id)]);
    let rel = shown["metadata"]["path"].as_str().unwrap();
    let out = f.path().join("out");
    f.run(&["extract", &doc, "-i", s(&id), "-o", s(&out)]).ok();
    assert_eq!(fs::read(&out).unwrap(), sample_bytes(rel));
    let audit = f.run(&["audit", &doc, "-i", s(&id)]);
    assert!(
        audit.stdout.contains("call the source back"),
        "{}",
        audit.stdout
    );

    // Nothing left to do (the 12 files and the access record's sealed
    // reason, written since); nothing for gc to remove.
    let again = f.json(&["rekey", "-i", s(&id)]);
    assert_eq!(
        (again["records"].as_u64(), again["current"].as_u64()),
        (Some(0), Some(13))
    );
    let gc = f.json(&["gc", "--dry-run"]);
    assert_eq!(gc["removed"].as_array().unwrap().len(), 0, "{gc}");
}

#[test]
fn rekey_refuses_without_a_working_identity_and_writes_nothing() {
    let (f, lost) = two_recipients_then_one();
    let before = f.snapshot();
    let files = blob_files(&f.dir);
    // An identity of no recipient: the first blob does not open.
    let stranger = f.other_keys("localcall");
    let r = f.run(&["rekey", "-i", s(&stranger.join("identity.age"))]);
    r.code(2);
    r.error(&["is this identity a recipient"]);
    assert_eq!(blob_files(&f.dir), files);
    f.assert_unchanged(&before);
    // The removed key still opens the old blobs: rekey with it works, and
    // then it no longer does.
    f.run(&["rekey", "-i", s(&lost)]).ok();
    for b in blob_files(&f.dir) {
        assert!(!age_opens(&lost, &b), "{b:?}");
    }
}

/// Killed (SIGKILL) before each durable write, fsync and rename of a rekey,
/// a re-run finishes it: every file then opens only with the key in force,
/// `verify --deep` passes, and `gc` leaves only what a record names.
#[test]
fn a_killed_rekey_is_finished_by_a_rerun() {
    require_tool("age");
    let (f, lost) = two_recipients_then_one();
    let id = f.identity();
    let trace = f.path().join("trace");
    let copy = tempfile::tempdir().unwrap();
    let counted = copy.path().join("a");
    copy_dir(&f.dir, &counted);
    let mut c = custody();
    c.arg("-A")
        .arg(&counted)
        .args(["rekey", "-i", s(&id)])
        .env("CUSTODY_FAULT", "count")
        .env("CUSTODY_FAULT_TRACE", &trace);
    run(c).ok();
    let mut points: Vec<String> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for line in fs::read_to_string(&trace).unwrap().lines() {
        let kind = line.split(' ').next().unwrap().to_string();
        let n = seen.entry(kind.clone()).or_insert(0u32);
        *n += 1;
        points.push(format!("kill-{kind}:{n}"));
    }
    assert!(points.len() > 20, "{points:?}");
    for p in &points {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a");
        copy_dir(&f.dir, &dir);
        let mut c = custody();
        c.arg("-A")
            .arg(&dir)
            .args(["rekey", "-i", s(&id)])
            .env("CUSTODY_FAULT", p);
        let killed = run(c);
        assert_ne!(killed.code, 0, "{p}: not killed");
        let mut c = custody();
        c.arg("-A").arg(&dir).args(["rekey", "-i", s(&id)]);
        run(c).ok();
        let mut c = custody();
        c.arg("-A").arg(&dir).args(["gc"]);
        run(c).ok();
        let mut c = custody();
        c.arg("-A")
            .arg(&dir)
            .args(["verify", "--deep", "-i", s(&id)]);
        let v = run(c);
        assert_eq!(v.code, 0, "{p}: {}{}", v.stdout, v.stderr);
        for b in blob_files(&dir) {
            assert!(
                !age_opens(&lost, &b),
                "{p}: {b:?} still opens with the removed key"
            );
        }
    }
}

/// A `rekey` record signed at the next index by `key` (a rogue tool's).
fn forge(f: &Fixture, key: &SignerKey, k: Rekey) {
    let rec = RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(key),
        payload: Payload::Rekey(k),
    }
    .sign(key)
    .unwrap();
    f.append_record(&rec);
}

fn key(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

#[test]
fn forged_rekey_records_are_findings() {
    let f = Fixture::with_samples();
    let config = f.json(&["config", "show"]);
    let fps: Vec<Digest> = config["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Digest::from_hex(r.as_str().unwrap()).unwrap())
        .collect();
    let doc = f.show(&INIT_RECORDS.to_string());
    let blob = Digest::from_hex(doc["blob"].as_str().unwrap()).unwrap();
    let check = |f: &Fixture, want: &str| {
        let (code, v) = f.verify(&[]);
        assert_eq!(code, 1, "{v}");
        assert!(v.to_string().contains(want), "{want}: {v}");
    };

    // A blob no record names.
    let g = f.duplicate();
    forge(
        &g,
        &key(&g.admin_key()),
        Rekey {
            old: Digest::of(b"nothing"),
            new: Digest::of(b"new"),
            new_size: 10,
            recipients: fps.clone(),
        },
    );
    check(&g, "rekey_ref");

    // Recipients other than the configuration's.
    let g = f.duplicate();
    forge(
        &g,
        &key(&g.admin_key()),
        Rekey {
            old: blob,
            new: Digest::of(b"new"),
            new_size: 10,
            recipients: vec![Digest::of(b"someone else")],
        },
    );
    check(&g, "recipients");

    // Signed by the log key, which signs no record in a configured archive.
    let g = f.duplicate();
    forge(
        &g,
        &key(&g.signing_key()),
        Rekey {
            old: blob,
            new: Digest::of(b"new"),
            new_size: 10,
            recipients: fps.clone(),
        },
    );
    check(&g, "actor_role");

    // A real rekey whose new file is then deleted: blob_missing, and the
    // document no longer opens.
    let g = f.duplicate();
    let gid = g.identity();
    let gu = g.other_keys("guardian");
    g.run(&[
        "config",
        "set",
        "--recipient",
        s(&g.keys.join("recipient.txt")),
        "--recipient",
        s(&gu.join("recipient.txt")),
    ])
    .ok();
    g.run(&["rekey", "-i", s(&gid)]).ok();
    let now = g.show(&INIT_RECORDS.to_string());
    assert_eq!(now["blob"], doc["blob"], "records are never rewritten");
    let moved: Vec<PathBuf> = blob_files(&g.dir);
    assert!(!moved
        .iter()
        .any(|p| p.ends_with(doc["blob"].as_str().unwrap())));
    for p in &moved {
        fs::remove_file(p).unwrap();
    }
    check(&g, "blob_missing");
}
