//! Document blobs on an object store (FORMAT.md §7.7): against a real
//! S3-compatible server (Garage, tests/common/garage.rs; skipped with a
//! message when no Garage binary is present, unless CUSTODY_REQUIRE_GARAGE=1)
//! and against a directory location (always runs). The Garage tests need
//! the `object-store` cargo feature (the default); without it, the test here
//! is that an `s3://` archive is refused with a hint to rebuild.
//!
//! Ingest (small and multipart), extract, `age -d` of a downloaded object,
//! verify (clean, --sample), a killed upload, objects deleted or altered on
//! the server, wrong credentials, receive into an object-store archive,
//! migrate (interrupted, resumed, --delete-local) and gc.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::garage::REGION;
#[cfg(feature = "object-store")]
use common::garage::{garage, S3Place};
use common::*;
use custody::store::files::remote::{Location, Remote, S3Settings};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Deterministic pseudo-random bytes (incompressible, distinct per seed).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Appends a `[blobs]` table to the archive's custody.toml.
fn set_blobs(f: &Fixture, url: &str, endpoint: Option<&str>) {
    let p = f.dir.join("custody.toml");
    let mut t = fs::read_to_string(&p).unwrap();
    t.push_str(&format!("\n[blobs]\nurl = {url:?}\n"));
    if let Some(e) = endpoint {
        t.push_str(&format!("endpoint = {e:?}\nregion = {REGION:?}\n"));
    }
    fs::write(p, t).unwrap();
}

/// The test's own client of a store (credentials from this process's
/// environment, set by the Garage fixture).
fn client(url: &str, endpoint: Option<&str>) -> Remote {
    Remote::open(
        &Location::parse(url).unwrap(),
        &S3Settings {
            endpoint: endpoint.map(str::to_string),
            region: endpoint.map(|_| REGION.to_string()),
        },
    )
    .unwrap()
}

fn object_name(hex: &str) -> String {
    format!("{}/{hex}", &hex[..2])
}

/// Document blob addresses of an ingest's JSON lines.
fn blobs_of(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["blob"].as_str().unwrap().to_string())
        .collect()
}

/// Findings of a verify report as (check, subject) strings.
fn findings(v: &Value) -> Vec<(String, String, String)> {
    v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap_or_default().to_string(),
                f["subject"].to_string(),
                f["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Bytes read so far by process `pid` (`/proc/PID/io`, rchar).
fn read_so_far(pid: u32) -> Option<u64> {
    let t = fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    t.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs `c`, SIGKILLs it once it has read `at` bytes (or after `max`);
/// returns whether it was still running when killed.
fn kill_after_reading(mut c: std::process::Command, at: u64, max: Duration) -> bool {
    let mut child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if read_so_far(child.id()).is_some_and(|n| n >= at) || start.elapsed() > max {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The record index of the `k`-th document ingested into a new archive (or
/// received into a partner's), after its first records.
fn doc(k: u64) -> String {
    (INIT_RECORDS + k).to_string()
}

/// An archive whose document blobs go to `url`.
fn archive_on(url: &str, endpoint: Option<&str>) -> Fixture {
    let f = Fixture::new();
    set_blobs(&f, url, endpoint);
    f
}

/// Ingest, extract, verify, `age -d` of the stored object, sample, dedup,
/// on `url`.
fn round_trip(url: &str, endpoint: Option<&str>) {
    let f = archive_on(url, endpoint);
    let big = f.path().join("in/video.bin");
    fs::create_dir_all(big.parent().unwrap()).unwrap();
    // Two parts of the 8 MiB multipart upload and a short last one.
    let data = noise(18 << 20, 1);
    fs::write(&big, &data).unwrap();
    let mut lines = f.ingest_samples();
    lines.extend(f.ingest_json(&[s(&big)]));
    assert_eq!(lines.len(), 9);
    let docs = blobs_of(&lines);
    let remote = client(url, endpoint);
    let listed = remote.list("").unwrap();
    // Every document blob is on the store, nothing is left under incoming/,
    // and blobs/ holds no document blob (only envelopes).
    for d in &docs {
        assert!(
            listed.iter().any(|(n, _)| *n == object_name(d)),
            "{d} not on the store: {listed:?}"
        );
        assert!(!f.blob_path(d).exists(), "{d} also in blobs/");
    }
    assert!(listed.iter().all(|(n, _)| !n.starts_with("incoming/")));
    f.assert_verified();

    // Extract reads it back from the store.
    let out = f.path().join("out.bin");
    f.run(&["extract", &doc(8), "-i", s(&f.identity()), "-o", s(&out)])
        .ok();
    assert!(fs::read(&out).unwrap() == data, "extracted bytes differ");

    // The object is exactly an age file: `age -d` with the outlet's identity.
    let obj = remote
        .get(&object_name(&docs[8]), 64 << 20)
        .unwrap()
        .unwrap();
    let objf = f.path().join("object.age");
    fs::write(&objf, &obj).unwrap();
    let plain = f.path().join("age-plain.bin");
    let mut c = assert_cmd::Command::new(require_tool("age"));
    c.arg("-d")
        .arg("-i")
        .arg(f.identity())
        .arg("-o")
        .arg(&plain)
        .arg(&objf);
    run(c).ok();
    assert!(fs::read(&plain).unwrap() == data, "age -d differs");

    // --deep decrypts every document as it streams from the store.
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "{v}");
    assert_eq!(v["report"]["coverage"]["decrypted"], 9, "{v}");

    // --sample: only that many contents checked, and listed.
    let (code, v) = f.verify(&["--sample", "3"]);
    assert_eq!(code, OK, "{v}");
    let sampled = v["report"]["sampled"].as_array().unwrap();
    assert_eq!(sampled.len(), 3, "{v}");
    for d in sampled {
        assert!(docs.contains(&d.as_str().unwrap().to_string()), "{d}");
    }

    // The same content again (--again: the same path too): deduplicated,
    // nothing uploaded.
    let before = remote.list("").unwrap();
    let again = f.ingest_json(&["--again", s(&big)]);
    assert_eq!(again[0]["deduplicated"], true, "{:?}", again);
    assert_eq!(again[0]["blob"], lines[8]["blob"]);
    assert_eq!(remote.list("").unwrap(), before);
    f.assert_verified();
}

#[cfg(feature = "object-store")]
#[test]
fn garage_ingest_extract_age_verify_sample_dedup() {
    let Some(g) = garage() else { return };
    let p = g.bucket("dropsite/blobs");
    round_trip(&p.url, Some(&p.endpoint));
}

#[test]
fn directory_store_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let url = format!("file://{}", t.path().join("store").display());
    round_trip(&url, None);
}

/// An object deleted and one altered on the store are named by verify.
fn tampered(url: &str, endpoint: Option<&str>) {
    let f = archive_on(url, endpoint);
    let lines = f.ingest_samples();
    let docs = blobs_of(&lines);
    let remote = client(url, endpoint);
    remote.delete(&object_name(&docs[1])).unwrap();
    let mut altered = remote
        .get(&object_name(&docs[2]), 1 << 20)
        .unwrap()
        .unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    remote.put(&object_name(&docs[2]), altered).unwrap();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    let fs_ = findings(&v);
    assert!(
        fs_.iter().any(|(c, subj, r)| c == "blob_missing"
            && subj.contains(&format!("\"id\":{},", doc(1)))
            && r.contains(&docs[1])),
        "{fs_:?}"
    );
    assert!(
        fs_.iter()
            .any(|(c, subj, _)| c == "blob_hash" && subj.contains(&docs[2])),
        "{fs_:?}"
    );
    assert_eq!(fs_.len(), 2, "{fs_:?}");
    // Extract refuses the altered one.
    let out = f.path().join("x.out");
    let r = f.run(&["extract", &doc(2), "-i", s(&f.identity()), "-o", s(&out)]);
    assert_ne!(r.code, OK);
    assert!(!out.exists());
}

#[cfg(feature = "object-store")]
#[test]
fn garage_deleted_and_altered_objects_are_found() {
    let Some(g) = garage() else { return };
    let p = g.bucket("b");
    tampered(&p.url, Some(&p.endpoint));
}

#[test]
fn directory_deleted_and_altered_objects_are_found() {
    let t = tempfile::tempdir().unwrap();
    tampered(&format!("file://{}", t.path().display()), None);
}

#[cfg(feature = "object-store")]
#[test]
fn garage_wrong_credentials_clear_error_archive_unchanged() {
    let Some(g) = garage() else { return };
    let p = g.bucket("");
    let f = archive_on(&p.url, Some(&p.endpoint));
    f.ingest_samples();
    let before = f.snapshot();
    let toml = fs::read(f.dir.join("custody.toml")).unwrap();
    let extra = f.path().join("extra.txt");
    fs::write(&extra, b"one more document").unwrap();
    let bad = S3Place {
        env: p
            .env
            .iter()
            .map(|(k, v)| {
                let v = if k == "AWS_SECRET_ACCESS_KEY" {
                    "0".repeat(64)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        ..p
    };
    let mut c = f.cmd();
    bad.apply(&mut c).arg("ingest").arg(&extra);
    let line = run(c).error(&["credentials"]);
    assert!(line.contains("AWS_ACCESS_KEY_ID"), "{line}");
    let mut c = f.cmd();
    bad.apply(&mut c).arg("verify");
    run(c).error(&["credentials"]);
    f.assert_unchanged(&before);
    assert_eq!(fs::read(f.dir.join("custody.toml")).unwrap(), toml);

    // A bucket that does not exist: one line naming it, nothing stored.
    let g2 = archive_on("s3://no-such-bucket-here/x", Some(&bad.endpoint));
    let line = g2
        .run(&["ingest", s(&extra)])
        .error(&["no-such-bucket-here", "bucket"]);
    assert!(!line.contains(SECRET_HINT), "{line}");
    assert_eq!(g2.records(), INIT_RECORDS);
    g2.run(&["verify"]).error(&["no-such-bucket-here"]);
}

/// Never part of an error message: the fixture's secret starts so.
#[cfg(feature = "object-store")]
const SECRET_HINT: &str = "0f1e2d3c4b5a";

#[cfg(feature = "object-store")]
#[test]
fn garage_killed_upload_leaves_only_unreferenced_objects() {
    let Some(g) = garage() else { return };
    let p = g.bucket("k");
    killed_upload(&p.url, Some(&p.endpoint));
}

#[test]
fn directory_killed_upload_leaves_only_unreferenced_objects() {
    let t = tempfile::tempdir().unwrap();
    killed_upload(&format!("file://{}", t.path().display()), None);
}

fn killed_upload(url: &str, endpoint: Option<&str>) {
    let f = archive_on(url, endpoint);
    f.ingest_samples();
    let before = f.snapshot();
    let big = f.path().join("in/big.bin");
    fs::create_dir_all(big.parent().unwrap()).unwrap();
    fs::write(&big, noise(24 << 20, 7)).unwrap();
    // Killed mid-upload: the file is hashed first (one read, FORMAT.md
    // §7.7), then read again as it is encrypted and uploaded; killed once
    // 12 MiB of that second read are done (more than one 8 MiB part).
    let mut c = custody_std();
    c.arg("-A").arg(&f.dir).arg("ingest").arg(&big);
    let killed = kill_after_reading(c, 36 << 20, Duration::from_secs(30));
    assert!(killed, "the ingest finished before it could be killed");
    // ... the archive verifies, with at most unreferenced objects.
    let (code, v) = f.verify(&[]);
    let fs_ = findings(&v);
    assert!(
        fs_.iter().all(|(c, _, _)| c == "blob_unreferenced"),
        "exit {code}: {fs_:?}"
    );
    assert_eq!(f.records(), before.count);
    // A leftover under incoming/ (as a kill between upload and rename leaves).
    let remote = client(url, endpoint);
    remote
        .put(
            "incoming/0123456789abcdef0123456789abcdef",
            b"partial".to_vec(),
        )
        .unwrap();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING);
    assert!(findings(&v)
        .iter()
        .any(|(c, subj, _)| c == "blob_unreferenced" && subj.contains("incoming/")));
    // gc removes them, never a referenced blob; then a re-ingest works.
    let dry = f.json(&["gc", "--dry-run"]);
    assert!(!dry["removed"].as_array().unwrap().is_empty(), "{dry}");
    assert!(remote
        .head("incoming/0123456789abcdef0123456789abcdef")
        .unwrap()
        .is_some());
    let gc = f.json(&["gc"]);
    assert_eq!(gc["removed"], dry["removed"]);
    // The 7 distinct document blobs of the samples, their envelope and the
    // first admin's sealed details.
    assert_eq!(gc["referenced"], 8 + INIT_BLOBS, "{gc}");
    f.assert_verified();
    let again = f.ingest_json(&[s(&big)]);
    assert_eq!(again.len(), 1);
    f.assert_verified();
    let out = f.path().join("big.out");
    f.run(&["extract", &doc(8), "-i", s(&f.identity()), "-o", s(&out)])
        .ok();
    assert!(fs::read(&out).unwrap() == fs::read(&big).unwrap());
}

#[cfg(feature = "object-store")]
#[test]
fn garage_receive_into_an_object_store_archive() {
    let Some(g) = garage() else { return };
    let p = g.bucket("guardian");
    let ds = Fixture::with_samples();
    let gu = Fixture::new_as("guardian");
    set_blobs(&gu, &p.url, Some(&p.endpoint));
    let bundle = ds.path().join("memo.bundle");
    ds.share_to(&doc(2), &gu, &bundle);
    let rx = gu.json(&[
        "receive",
        s(&bundle),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ]);
    assert_eq!(rx["index"], INIT_RECORDS);
    let blob = gu.show(&doc(0))["blob"].as_str().unwrap().to_string();
    let remote = client(&p.url, Some(&p.endpoint));
    assert!(remote.head(&object_name(&blob)).unwrap().is_some());
    gu.assert_verified();
    let out = gu.path().join("memo.out");
    gu.run(&["extract", &doc(0), "-i", s(&gu.identity()), "-o", s(&out)])
        .ok();
    assert_eq!(
        fs::read(&out).unwrap(),
        sample_bytes("sample-leak/emails/msg-0001.eml")
    );
    // Sharing it on reads the blob from the store (digest and commitment checked).
    let mag = gu.other_keys("972mag");
    let onward = gu.path().join("onward.bundle");
    let sh = gu.json(&[
        "share",
        &doc(0),
        "--to",
        s(&mag.join("recipient.txt")),
        "-i",
        s(&gu.identity()),
        "-o",
        s(&onward),
    ]);
    assert_eq!(sh["hops"], 2, "{sh}");
    let mut c = custody();
    c.args([
        "verify-bundle",
        s(&onward),
        "-i",
        s(&mag.join("identity.age")),
    ])
    .args(["--trust", s(&ds.vkey()), "--trust", s(&gu.vkey())]);
    run(c).ok();
}

/// Document blobs of a local archive (from `log --json`).
fn doc_blobs(f: &Fixture) -> Vec<String> {
    f.json_lines(&["log"])
        .iter()
        .filter_map(|r| r["blob"].as_str().map(str::to_string))
        .collect()
}

fn migrate(url: &str, endpoint: Option<&str>) {
    let f = Fixture::with_samples();
    let big = f.path().join("in/big.bin");
    fs::create_dir_all(big.parent().unwrap()).unwrap();
    fs::write(&big, noise(24 << 20, 3)).unwrap();
    f.ingest_json(&[s(&big)]);
    let mut docs = doc_blobs(&f);
    assert_eq!(docs.len(), 9);
    // Two sample documents have the same content: one blob.
    docs.sort();
    docs.dedup();
    let n = docs.len() as u64;
    assert_eq!(n, 8);
    let toml = fs::read_to_string(f.dir.join("custody.toml")).unwrap();
    let mut args = vec!["migrate", "--to", url];
    if let Some(e) = endpoint {
        args.extend(["--endpoint", e, "--region", REGION]);
    }
    // Interrupted in the middle of the large blob: nothing switched.
    let mut c = custody_std();
    c.arg("-A").arg(&f.dir).args(&args);
    let killed = kill_after_reading(c, 12 << 20, Duration::from_secs(30));
    assert!(killed, "migrate finished before it could be killed");
    assert_eq!(
        fs::read_to_string(f.dir.join("custody.toml")).unwrap(),
        toml,
        "custody.toml changed by an interrupted migrate"
    );
    f.assert_verified();
    // Resumed: what was copied is checked and kept, the rest copied.
    let rep = f.json(&args);
    assert_eq!(
        rep["copied"].as_u64().unwrap() + rep["present"].as_u64().unwrap(),
        n,
        "{rep}"
    );
    assert_eq!(rep["deleted_local"], 0);
    let t = fs::read_to_string(f.dir.join("custody.toml")).unwrap();
    assert!(t.contains("[blobs]") && t.contains(url), "{t}");
    // Local copies are kept; the store is what verify checks now.
    assert!(docs.iter().all(|d| f.blob_path(d).is_file()));
    let remote = client(url, endpoint);
    remote.delete(&object_name(&docs[0])).unwrap();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    assert!(findings(&v)
        .iter()
        .any(|(c, _, r)| c == "blob_missing" && r.contains(&docs[0])));
    // Run again with --delete-local: the missing one is copied again, then
    // the local copies go.
    // (endpoint and region are kept from custody.toml when not given again)
    let args2 = vec!["migrate", "--to", url, "--delete-local"];
    let rep = f.json(&args2);
    assert_eq!(rep["copied"], 1, "{rep}");
    assert_eq!(rep["present"], n - 1, "{rep}");
    assert_eq!(rep["deleted_local"], n, "{rep}");
    assert!(docs.iter().all(|d| !f.blob_path(d).exists()));
    // Only what the interrupted run left under incoming/ (on a directory, the
    // killed writer's temporary file) is reported.
    let (_, v) = f.verify(&[]);
    assert!(
        findings(&v)
            .iter()
            .all(|(c, subj, _)| c == "blob_unreferenced" && subj.contains("incoming/")),
        "{v}"
    );
    let out = f.path().join("big.out");
    f.run(&["extract", &doc(8), "-i", s(&f.identity()), "-o", s(&out)])
        .ok();
    assert!(fs::read(&out).unwrap() == fs::read(&big).unwrap());
    // Unreferenced leftovers of the interrupted run (if any) go with gc.
    f.json(&["gc"]);
    assert!(remote
        .list("")
        .unwrap()
        .iter()
        .all(|(n, _)| !n.starts_with("incoming/")));
    f.assert_verified();
}

#[cfg(feature = "object-store")]
#[test]
fn garage_migrate_interrupted_resumed_delete_local() {
    let Some(g) = garage() else { return };
    let p = g.bucket("m");
    migrate(&p.url, Some(&p.endpoint));
}

#[test]
fn directory_migrate_interrupted_resumed_delete_local() {
    let t = tempfile::tempdir().unwrap();
    migrate(
        &format!("file://{}", t.path().join("store").display()),
        None,
    );
}

#[test]
fn gc_on_a_local_archive_removes_only_unreferenced_blobs() {
    let f = Fixture::with_samples();
    let stray_digest = "ab".to_string() + &"0".repeat(62);
    let unref = f.blob_path(&stray_digest);
    fs::write(&unref, b"left by a crash").unwrap();
    let stray = f.dir.join("blobs/ab/not-a-digest");
    fs::write(&stray, b"x").unwrap();
    let (code, _) = f.verify(&[]);
    assert_eq!(code, FINDING);
    let dry = f.json(&["gc", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["removed"].as_array().unwrap().len(), 2, "{dry}");
    assert!(unref.exists() && stray.exists());
    let text = f.run(&["gc"]);
    text.ok();
    assert!(
        text.stdout.contains("removed 2 object(s)"),
        "{}",
        text.stdout
    );
    assert!(!unref.exists() && !stray.exists());
    f.assert_verified();
    // Nothing left to remove.
    let again = f.json(&["gc"]);
    assert_eq!(again["removed"].as_array().unwrap().len(), 0);
    assert_eq!(again["referenced"], dry["referenced"]);
}

#[test]
fn blobs_table_refuses_credentials_and_bad_urls() {
    let f = Fixture::new();
    let p = f.dir.join("custody.toml");
    let orig = fs::read_to_string(&p).unwrap();
    fs::write(
        &p,
        format!("{orig}\n[blobs]\nurl = \"s3://b/p\"\nsecret_access_key = \"abc\"\n"),
    )
    .unwrap();
    let line = f
        .run(&["status"])
        .error(&["secret_access_key", "credential"]);
    assert!(!line.contains("abc"), "the secret is echoed: {line}");
    fs::write(
        &p,
        format!("{orig}\n[blobs]\nurl = \"https://example.org/x\"\n"),
    )
    .unwrap();
    f.run(&["status"]).error(&["[blobs]"]);
    fs::write(
        &p,
        format!("{orig}\n[blobs]\nurl = \"s3://b\"\nbucket = \"x\"\n"),
    )
    .unwrap();
    f.run(&["status"]).error(&["bucket"]);
    // A directory inside the archive (a relative one is taken from the archive).
    fs::write(&p, format!("{orig}\n[blobs]\nurl = \"blobs\"\n")).unwrap();
    f.run(&["status"]).error(&["inside the archive"]);
}

/// Built without the `object-store` feature, custody refuses an archive whose
/// blobs are on `s3://` in one line that says how to rebuild.
#[cfg(not(feature = "object-store"))]
#[test]
fn without_object_store_support_s3_blobs_are_refused() {
    let f = archive_on("s3://leak-2026/blobs", None);
    let doc = f.path().join("in/a.txt");
    fs::create_dir_all(doc.parent().unwrap()).unwrap();
    fs::write(&doc, b"a document").unwrap();
    let line = f.run(&["ingest", s(&doc)]).error(&[
        "s3://leak-2026/blobs",
        "without object-store support",
        "object-store",
    ]);
    assert!(line.contains("cargo install"), "no rebuild hint: {line}");
    // Reading needs the blobs too: refused the same way.
    f.run(&["status"]).error(&["without object-store support"]);
}

/// `rekey` on an archive whose documents are on `url` (FORMAT.md §4.17):
/// the store then holds only files the removed identity does not open, each
/// named by a record (gc removes nothing), and `verify --deep` passes.
fn rekey_on(url: &str, endpoint: Option<&str>) {
    let f = Fixture::uninit();
    let gu = f.other_keys("guardian");
    f.init_with(&["--recipient", s(&gu.join("recipient.txt"))])
        .ok();
    set_blobs(&f, url, endpoint);
    f.ingest_samples();
    let store = client(url, endpoint);
    let before: Vec<String> = store
        .list("")
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(before.len() >= 7, "{before:?}");
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
    ])
    .ok();
    let r = f.json(&["rekey", "-i", s(&f.identity())]);
    assert_eq!(r["documents"], 7, "{r}");
    let lost =
        custody::core::crypto::Identities::parse(&fs::read(gu.join("identity.age")).unwrap())
            .unwrap();
    let kept = custody::core::crypto::Identities::parse(&fs::read(f.identity()).unwrap()).unwrap();
    let after: Vec<String> = store
        .list("")
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(after.len(), before.len(), "{after:?}");
    for name in &after {
        assert!(!before.contains(name), "{name} was not replaced");
        let bytes = store.get(name, 1 << 30).unwrap().unwrap();
        assert!(matches!(
            custody::core::crypto::decrypt_bytes(&lost, &bytes, 1 << 30),
            Err(custody::core::crypto::CryptoError::NoMatchingKeys)
        ));
        custody::core::crypto::decrypt_bytes(&kept, &bytes, 1 << 30).unwrap();
    }
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
    let gc = f.json(&["gc", "--dry-run"]);
    assert_eq!(gc["removed"].as_array().unwrap().len(), 0, "{gc}");
}

#[cfg(feature = "object-store")]
#[test]
fn garage_rekey_replaces_every_object() {
    let Some(g) = garage() else { return };
    let p = g.bucket("dropsite/rekey");
    rekey_on(&p.url, Some(&p.endpoint));
}

#[test]
fn directory_store_rekey_replaces_every_object() {
    let t = tempfile::tempdir().unwrap();
    let url = format!("file://{}", t.path().join("store").display());
    rekey_on(&url, None);
}
