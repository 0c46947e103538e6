//! Post-quantum archives (issue 18 item 4, FORMAT.md §6, §6.2): `keygen`
//! makes hybrid ML-KEM-768 + X25519 identities by default; an archive set up
//! with them ingests, verifies (records, checkpoints, `--deep` commitments)
//! and extracts as before; every blob is an age file to the `mlkem768x25519`
//! recipient, padded to a Padmé length, that the `age` crate 0.13 decrypts
//! to the exact document; a bundle to a post-quantum partner is received and
//! verified there; and no file is encrypted to post-quantum and classic keys
//! at once (`init`, `config set`, `share --to` refuse a mix, nothing written).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::crypto::{self, Identities};
use custody::core::padding::bucket;

/// `custody keygen --name NAME -o DIR --json` (post-quantum by default).
fn keygen(dir: &Path, name: &str, extra: &[&str]) -> serde_json::Value {
    let mut c = custody();
    c.arg("keygen")
        .args(["--name", name, "-o"])
        .arg(dir)
        .args(extra)
        .arg("--json");
    let r = run(c);
    r.ok();
    r.json()
}

/// A new archive at `dir` with the keys of `keys` (from `keygen`).
fn init(dir: &Path, keys: &Path, recipients: &[&Path]) -> Run {
    let mut c = custody();
    c.arg("init")
        .arg(dir)
        .arg("--signing-key")
        .arg(keys.join("signing.key"))
        .arg("--admin-key")
        .arg(keys.join("admin.key"))
        .arg("--identity")
        .arg(keys.join("identity.age"));
    for r in recipients {
        c.arg("--recipient").arg(r);
    }
    run(c)
}

fn at(dir: &Path, args: &[&str]) -> Run {
    let mut c = custody();
    c.arg("-A").arg(dir).args(args);
    run(c)
}

/// Every blob file under `dir/blobs`.
fn blobs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in fs::read_dir(dir.join("blobs")).unwrap() {
        let d = d.unwrap().path();
        if d.file_name().unwrap().len() != 2 {
            continue;
        }
        for f in fs::read_dir(&d).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out
}

#[test]
fn a_post_quantum_archive_works_as_before_and_its_blobs_open_with_the_age_crate() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let k = keygen(&keys, "pq.example/leaks", &[]);
    let recipient = k["recipient"].as_str().unwrap();
    assert!(recipient.starts_with("age1pq1"), "{recipient}");
    let id_text = fs::read_to_string(keys.join("identity.age")).unwrap();
    assert!(id_text.contains("AGE-SECRET-KEY-PQ-1"));
    let dir = tmp.path().join("archive");
    init(&dir, &keys, &[&keys.join("recipient.txt")]).ok();

    let mut c = custody();
    c.arg("-A").arg(&dir).arg("ingest").arg(sample_leak());
    run(c).ok();
    let id = keys.join("identity.age");
    let ids = id.to_str().unwrap();
    at(&dir, &["verify", "--deep", "-i", ids]).ok();

    // Every blob: post-quantum stanzas only, a Padmé length, and the age
    // crate's decryptor opens it with the identity keygen wrote.
    let identities = Identities::parse(id_text.as_bytes()).unwrap();
    let all = blobs(&dir);
    assert!(all.len() >= 8, "{all:?}");
    for b in &all {
        let bytes = fs::read(b).unwrap();
        let head = &bytes[..bytes.len().min(4096)];
        assert!(head.windows(18).any(|w| w == b"-> mlkem768x25519 "));
        assert!(!head.windows(10).any(|w| w == b"-> X25519 "));
        assert!(head
            .windows(15)
            .any(|w| w == b"-> custody-pad " || w == b"-> custody-pad\n"));
        assert_eq!(bucket(bytes.len() as u64), bytes.len() as u64, "{b:?}");
        crypto::decrypt_all(&identities, &bytes[..], std::io::sink(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
    }

    // A document comes back exact, through custody and through the crate.
    let index = INIT_RECORDS.to_string();
    let shown = at(&dir, &["show", &index, "-i", ids, "--json"]);
    shown.ok();
    let shown = shown.json();
    let rel = shown["metadata"]["path"].as_str().unwrap();
    let want = sample_bytes(rel);
    let out = tmp.path().join("doc.out");
    at(
        &dir,
        &["extract", &index, "-i", ids, "-o", out.to_str().unwrap()],
    )
    .ok();
    assert_eq!(fs::read(&out).unwrap(), want);
    let blob_hex = shown["blob"].as_str().unwrap();
    let blob = dir.join("blobs").join(&blob_hex[..2]).join(blob_hex);
    let (plain, _, _) = crypto::decrypt_all(
        &identities,
        &fs::read(blob).unwrap()[..],
        Vec::new(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(plain, want);

    // A post-quantum partner receives it and verifies the chain.
    let pkeys = tmp.path().join("partner-keys");
    keygen(&pkeys, "partner.example/leaks", &[]);
    let pdir = tmp.path().join("partner");
    init(&pdir, &pkeys, &[&pkeys.join("recipient.txt")]).ok();
    let bundle = tmp.path().join("memo.bundle");
    at(
        &dir,
        &[
            "share",
            &index,
            "--to",
            pkeys.join("recipient.txt").to_str().unwrap(),
            "-i",
            ids,
            "-o",
            bundle.to_str().unwrap(),
        ],
    )
    .ok();
    let pids = pkeys.join("identity.age");
    at(
        &pdir,
        &[
            "receive",
            bundle.to_str().unwrap(),
            "-i",
            pids.to_str().unwrap(),
            "--trust",
            keys.join("signing.vkey").to_str().unwrap(),
        ],
    )
    .ok();
    at(&pdir, &["verify", "--deep", "-i", pids.to_str().unwrap()]).ok();
    for b in blobs(&pdir) {
        let bytes = fs::read(&b).unwrap();
        assert_eq!(bucket(bytes.len() as u64), bytes.len() as u64, "{b:?}");
    }
}

#[test]
fn post_quantum_and_classic_recipients_are_never_mixed() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    keygen(&keys, "pq.example/leaks", &[]);
    let classic = tmp.path().join("classic");
    let c = keygen(&classic, "classic.example/leaks", &["--x25519"]);
    assert!(c["recipient"].as_str().unwrap().starts_with("age1"));
    assert!(!c["recipient"].as_str().unwrap().starts_with("age1pq1"));
    assert!(fs::read_to_string(classic.join("identity.age"))
        .unwrap()
        .contains("AGE-SECRET-KEY-1"));

    // init with both kinds: refused, nothing written.
    let dir = tmp.path().join("archive");
    let r = init(
        &dir,
        &keys,
        &[&keys.join("recipient.txt"), &classic.join("recipient.txt")],
    );
    r.code(2);
    r.error(&["mix post-quantum", "give only one kind"]);
    assert!(!dir.exists());

    init(&dir, &keys, &[&keys.join("recipient.txt")]).ok();
    let before = fs::read(dir.join("ledger/records")).unwrap();
    let r = at(
        &dir,
        &[
            "config",
            "set",
            "--recipient",
            keys.join("recipient.txt").to_str().unwrap(),
            "--recipient",
            classic.join("recipient.txt").to_str().unwrap(),
        ],
    );
    r.code(2);
    r.error(&["mix post-quantum"]);
    let mut c = custody();
    c.arg("-A")
        .arg(&dir)
        .arg("ingest")
        .arg(sample_leak().join("memos/2026-03-14-board-memo.txt"));
    run(c).ok();
    let after_ingest = fs::read(dir.join("ledger/records")).unwrap();
    assert!(after_ingest.len() > before.len());
    let bundle = tmp.path().join("x.bundle");
    let r = at(
        &dir,
        &[
            "share",
            &INIT_RECORDS.to_string(),
            "--to",
            classic.join("recipient.txt").to_str().unwrap(),
            "--to",
            keys.join("recipient.txt").to_str().unwrap(),
            "-i",
            keys.join("identity.age").to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ],
    );
    r.code(2);
    r.error(&["mix post-quantum"]);
    assert!(!bundle.exists());
    assert_eq!(fs::read(dir.join("ledger/records")).unwrap(), after_ingest);

    // A classic partner is still served: the share is all classic.
    at(
        &dir,
        &[
            "share",
            &INIT_RECORDS.to_string(),
            "--to",
            classic.join("recipient.txt").to_str().unwrap(),
            "-i",
            keys.join("identity.age").to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ],
    )
    .ok();
}
