//! Secrets stay secret (issue 6): document plaintext never reaches an
//! archive's disk, and secret keys never appear in any output, bundle, report
//! or stored file. Each test tries to make them leak and scans for them.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::hash::Digest;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every regular file under `root` (symlinks not followed).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// (file, what) for every needle found in a file under one of `roots`.
fn hits(roots: &[&Path], needles: &[(&str, Vec<u8>)]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut scanned = 0;
    for root in roots {
        for f in files_under(root) {
            let bytes = fs::read(&f).unwrap();
            scanned += 1;
            for (what, n) in needles {
                if contains(&bytes, n) {
                    found.push((f.clone(), what.to_string()));
                }
            }
        }
    }
    assert!(scanned > 0, "nothing scanned under {roots:?}");
    found
}

/// A unique marker: what an attacker would grep a seized disk for.
fn marker() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).unwrap();
    format!("MARKER-{}-SOURCE", hex::encode(b))
}

#[test]
fn plaintext_never_reaches_the_archive_disk() {
    let m = marker();
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let scratch = tempfile::tempdir().unwrap();
    let tmpdir = scratch.path().join("tmp");
    fs::create_dir(&tmpdir).unwrap();
    let inbox = scratch.path().join(format!("inbox-{m}"));
    fs::create_dir(&inbox).unwrap();
    // A small file, a file over the pipelined threshold (several MiB, the
    // marker in every 64 KiB chunk), and a file whose *name* is the marker.
    let small = format!("memo\n{m}\nend\n").into_bytes();
    let mut big = Vec::new();
    while big.len() < (5 << 20) + 123 {
        big.extend_from_slice(m.as_bytes());
        big.extend(std::iter::repeat_n(b'.', 65536 - m.len()));
    }
    let named = b"the name is the secret here\n".to_vec();
    fs::write(inbox.join("small.txt"), &small).unwrap();
    fs::write(inbox.join("big.bin"), &big).unwrap();
    fs::write(inbox.join(format!("{m}.txt")), &named).unwrap();
    let derived = scratch.path().join("translation.txt");
    fs::write(&derived, format!("traduction {m}\n")).unwrap();
    let plaintexts = [&small, &big, &named, &fs::read(&derived).unwrap()];

    let with_tmp = |f: &Fixture, args: &[&str]| {
        let mut c = f.cmd();
        c.env("TMPDIR", &tmpdir).args(args);
        let r = run(c);
        r.ok();
        r
    };
    with_tmp(&ds, &["ingest", s(&inbox), "--note", &m, "--source", &m]);
    // The first two documents (records 0 and 1 are the admin and the configuration).
    let (first, second) = (INIT_RECORDS.to_string(), (INIT_RECORDS + 1).to_string());
    with_tmp(
        &ds,
        &["derive", &first, s(&derived), "--relation", "translation"],
    );
    with_tmp(&ds, &["annotate", &second, &format!("note: {m}")]);
    let bundle = scratch.path().join("share.bundle");
    let big_index = ds
        .json_lines(&["log"])
        .iter()
        .find(|r| r["blob_size"].as_u64().unwrap_or(0) > 5 << 20)
        .map(|r| r["index"].to_string())
        .unwrap();
    with_tmp(
        &ds,
        &[
            "share",
            &big_index,
            "--to",
            s(&gu.keys.join("recipient.txt")),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&bundle),
        ],
    );
    with_tmp(
        &gu,
        &[
            "receive",
            s(&bundle),
            "-i",
            s(&gu.identity()),
            "--trust",
            s(&ds.vkey()),
        ],
    );
    // Reading back works (so the scan below is not vacuous)...
    let out = scratch.path().join("out.bin");
    with_tmp(
        &ds,
        &[
            "extract",
            &big_index,
            "-i",
            s(&ds.identity()),
            "-o",
            s(&out),
        ],
    );
    assert_eq!(fs::read(&out).unwrap(), big);
    ds.assert_verified();
    gu.assert_verified();

    // ... and nothing under either archive, in the bundle or in TMPDIR holds
    // the marker, a plaintext's SHA-256 (hex or raw), or a file name.
    let mut needles: Vec<(&str, Vec<u8>)> = vec![("marker", m.as_bytes().to_vec())];
    let digests: Vec<Digest> = plaintexts.iter().map(|p| Digest::of(p)).collect();
    for d in &digests {
        needles.push(("plaintext sha256 (hex)", d.to_hex().into_bytes()));
        needles.push(("plaintext sha256 (raw)", d.as_bytes().to_vec()));
    }
    needles.push(("file name", b"small.txt".to_vec()));
    needles.push(("file name", b"translation.txt".to_vec()));
    // The scan finds what it looks for where it is (the inbox, the output).
    assert_eq!(hits(&[&inbox], &needles).len(), 2, "small.txt and big.bin");
    let found = hits(&[&ds.dir, &gu.dir, &tmpdir, &bundle], &needles);
    assert!(found.is_empty(), "plaintext on disk: {found:?}");
}

/// The secret lines and their base64 payloads of an outlet's key files.
fn secrets_of(keys: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["signing.key", "identity.age", "witness.key", "admin.key"] {
        let text = fs::read_to_string(keys.join(name)).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            out.push((format!("{name} line"), line.as_bytes().to_vec()));
            // The key material alone, wherever it sits in the line.
            for part in line.split('+') {
                if part.len() >= 40 {
                    out.push((format!("{name} key material"), part.as_bytes().to_vec()));
                }
            }
            // An age identity's Bech32 data, case-insensitively.
            if let Some(rest) = line.strip_prefix("AGE-SECRET-KEY-1") {
                out.push((format!("{name} bech32"), rest.as_bytes().to_vec()));
                out.push((
                    format!("{name} bech32 (lower case)"),
                    rest.to_ascii_lowercase().into_bytes(),
                ));
            }
        }
    }
    assert!(out.len() >= 6, "{out:?}");
    out
}

#[test]
fn secret_keys_never_appear_in_outputs_bundles_reports_or_archives() {
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let scratch = tempfile::tempdir().unwrap();
    let mut secrets = secrets_of(&ds.keys);
    secrets.extend(secrets_of(&gu.keys));
    let needles: Vec<(&str, Vec<u8>)> = secrets
        .iter()
        .map(|(w, b)| (w.as_str(), b.clone()))
        .collect();
    let mut outputs = String::new();
    let mut record = |r: Run| {
        outputs.push_str(&r.stdout);
        outputs.push_str(&r.stderr);
        r
    };
    let id = s(&ds.identity()).to_string();
    // Documents of the ingest below (records 0 and 1 are the admin and the configuration).
    let doc = |k: u64| (INIT_RECORDS + k).to_string();
    let bundle = scratch.path().join("b.bundle");
    let report = scratch.path().join("report.html");
    let steps: Vec<Vec<String>> = vec![
        vec!["ingest".into(), s(&sample_leak()).into()],
        vec!["status".into()],
        vec!["log".into()],
        vec!["show".into(), doc(2), "-i".into(), id.clone()],
        vec!["verify".into(), "--deep".into(), "-i".into(), id.clone()],
        vec!["checkpoint".into()],
        vec!["prove".into(), doc(3)],
        vec![
            "share".into(),
            doc(2),
            "--to".into(),
            s(&gu.keys.join("recipient.txt")).into(),
            "-i".into(),
            id.clone(),
            "-o".into(),
            s(&bundle).into(),
        ],
        vec!["trace".into(), doc(2)],
        vec![
            "audit".into(),
            doc(2),
            "-i".into(),
            id.clone(),
            "--format".into(),
            "html".into(),
            "-o".into(),
            s(&report).into(),
        ],
        vec![
            "audit".into(),
            doc(2),
            "-i".into(),
            id.clone(),
            "--format".into(),
            "json".into(),
        ],
    ];
    for args in &steps {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = record(ds.run(&a));
        // An audit of a document without approvals reports findings (exit 1).
        let want = if a[0] == "audit" { FINDING } else { OK };
        r.code(want);
        let mut with_json = a.clone();
        with_json.push("--json");
        if !matches!(a[0], "audit" | "share") {
            record(ds.run(&with_json)).ok();
        }
    }
    record(gu.run(&[
        "receive",
        s(&bundle),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ]))
    .ok();
    let mut c = custody();
    c.args(["verify-bundle", s(&bundle), "--trust", s(&ds.vkey())]);
    record(run(c)).ok();
    // The witness key, in use.
    let note = scratch.path().join("cp.txt");
    let cp = ds.run(&["checkpoint"]);
    fs::write(&note, &cp.stdout).unwrap();
    record(gu.run(&["witness", "add-log", s(&ds.vkey())]));
    record(gu.run(&[
        "witness",
        "cosign",
        s(&note),
        "--witness-key",
        s(&gu.keys.join("witness.key")),
    ]));

    // Errors that handle the secret files themselves.
    let broken = scratch.path().join("broken.key");
    let key = fs::read_to_string(ds.signing_key()).unwrap();
    fs::write(&broken, key.replacen('A', "!", 1).replacen('B', "?", 1)).unwrap();
    fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    record(ds.run(&["checkpoint", "--sign", "--signing-key", s(&broken)])).code(ERROR);
    let open = scratch.path().join("open.key");
    fs::copy(ds.signing_key(), &open).unwrap();
    fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    record(ds.run(&["checkpoint", "--sign", "--signing-key", s(&open)])).code(ERROR);
    // A secret file where a public key is expected.
    record(ds.run(&[
        "share",
        &doc(2),
        "--to",
        s(&ds.identity()),
        "-i",
        &id,
        "-o",
        s(&scratch.path().join("x.bundle")),
    ]))
    .code(ERROR);
    record(ds.run(&["trust", "add", s(&ds.signing_key())]));
    // The wrong secret: another outlet's signing key.
    record(ds.run(&[
        "checkpoint",
        "--sign",
        "--signing-key",
        s(&gu.signing_key()),
    ]))
    .code(ERROR);

    for (what, n) in &needles {
        assert!(
            !contains(outputs.as_bytes(), n),
            "{what} printed by a command"
        );
    }
    assert!(outputs.len() > 5000, "the journey printed too little");
    // The scan finds the secrets where they are (the key folders).
    for (what, n) in needles.iter().filter(|(w, _)| !w.ends_with("(lower case)")) {
        assert!(
            !hits(&[&ds.keys, &gu.keys], &[(what, n.clone())]).is_empty(),
            "{what} not found in the key folders"
        );
    }
    let found = hits(&[&ds.dir, &gu.dir, &bundle, &report], &needles);
    assert!(found.is_empty(), "secret key material stored: {found:?}");
}
