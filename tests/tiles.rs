//! `custody publish` and `custody mirror` (issue 7): the log as C2SP
//! tlog-tiles on a directory or served over HTTP, mirrored and verified by a
//! partner; incremental and idempotent publishing; tampering, rollback and a
//! fork on the published side; a mirror interrupted and resumed; a 10^5
//! record synthetic log published and mirrored.
//!
//! The location under test is a string (`publish_to` / `mirror_from` take
//! any of a directory, `s3://bucket/prefix` or `http://…`), so the same
//! journeys can be run against an S3 server by passing its location.
#![cfg(feature = "object-store")]

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use common::*;
use serde_json::Value;

/// A loopback HTTP server of one directory (GET and HEAD), for `mirror
/// http://…`. Requests whose path contains the `fail` substring get a 500.
struct Http {
    url: String,
    fail: Arc<Mutex<Option<String>>>,
}

impl Http {
    fn serve(root: &Path) -> Http {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let fail: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let (root, f2) = (root.to_path_buf(), fail.clone());
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let (root, fail) = (root.clone(), f2.clone());
                thread::spawn(move || {
                    let _ = handle(s, &root, &fail);
                });
            }
        });
        Http { url, fail }
    }

    fn fail_on(&self, what: Option<&str>) {
        *self.fail.lock().unwrap() = what.map(str::to_string);
    }
}

fn handle(s: TcpStream, root: &Path, fail: &Mutex<Option<String>>) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let (method, path) = (method.to_string(), path.to_string());
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
        }
        let mut w = s.try_clone()?;
        let failing = fail
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|f| path.contains(f.as_str()));
        let file = root.join(path.trim_start_matches('/'));
        let body = if failing || path.contains("..") {
            None
        } else {
            fs::read(&file).ok().filter(|_| file.is_file())
        };
        let (status, body) = match body {
            _ if failing => ("500 Internal Server Error", Vec::new()),
            Some(b) => ("200 OK", b),
            None => ("404 Not Found", Vec::new()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nLast-Modified: Wed, 02 Dec 2026 00:00:00 GMT\r\nETag: \"{}\"\r\n\r\n",
            body.len(),
            body.len()
        );
        w.write_all(head.as_bytes())?;
        if method != "HEAD" {
            w.write_all(&body)?;
        }
        w.flush()?;
    }
}

/// `custody publish LOCATION --json` in `f`'s archive.
#[track_caller]
fn publish_to(f: &Fixture, loc: &str, extra: &[&str]) -> Value {
    f.json(&[&["publish", loc], extra].concat())
}

/// `custody mirror LOCATION --vkey <dropsite> --json` in `m`'s archive.
fn mirror_from(m: &Fixture, loc: &str, vkey: &Path, extra: &[&str]) -> Run {
    let mut c = m.cmd();
    c.args(["mirror", loc, "--json", "--vkey"])
        .arg(vkey)
        .args(extra);
    run(c)
}

fn checkpoint_root(f: &Fixture) -> (u64, String) {
    let v = f.json(&["checkpoint"]);
    (
        v["size"].as_u64().unwrap(),
        v["root"].as_str().unwrap().to_string(),
    )
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().to_string();
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn mirror_dir(m: &Fixture) -> PathBuf {
    m.dir.join("mirrors/dropsite.example_leaks")
}

/// The published tiles of the mirrored log, byte for byte (no staging,
/// lock or mirror.toml).
fn mirrored_tiles(m: &Fixture) -> Vec<(String, Vec<u8>)> {
    files_under(&mirror_dir(m))
        .into_iter()
        .filter(|(p, _)| p.starts_with("tile/") || p == "checkpoint")
        .collect()
}

/// 972mag's archive, witnessing `f`'s log (dropsite.example/leaks).
fn witness_of(f: &Fixture) -> Fixture {
    let w = Fixture::new_as("972mag");
    let wkey = w.keys.join("witness.key");
    w.run(&[
        "witness",
        "add-log",
        "dropsite.example/leaks",
        f.vkey().to_str().unwrap(),
        "--witness-key",
        wkey.to_str().unwrap(),
    ])
    .ok();
    w
}

/// The whole journey through locations only (no file access): publish `f`
/// to `publish_loc`, mirror it from `mirror_loc` (the same place, or a URL
/// serving it) into a fresh archive, ingest more, publish incrementally and
/// idempotently, mirror again. `extra` goes to both publish and mirror
/// (`--endpoint`/`--region` for an s3:// location; credentials come from the
/// test process's environment, see tests/common/garage.rs).
fn journey_through(f: &Fixture, publish_loc: &str, mirror_loc: &str, extra: &[&str]) {
    let (s1, r1) = checkpoint_root(f);
    let p = publish_to(f, publish_loc, extra);
    assert_eq!(p["size"], s1);
    assert_eq!(p["checkpoint_written"], true);
    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, mirror_loc, &f.vkey(), extra);
    r.ok();
    let v = r.json();
    assert_eq!(v["root"], r1.as_str(), "{v}");
    assert_eq!(v["records_verified"], s1);
    let d = f.path().join(format!("journey-{}", s1));
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("a.txt"), format!("one more after {s1}\n")).unwrap();
    f.ingest_json(&[d.to_str().unwrap()]);
    let (s2, r2) = checkpoint_root(f);
    let p = publish_to(f, publish_loc, extra);
    assert_eq!(p["previous_size"], s1);
    assert_eq!(p["bundles_written"], 1);
    let p = publish_to(f, publish_loc, extra);
    assert_eq!(p["checkpoint_written"], false);
    assert_eq!(p["bytes_written"], 0);
    let r = mirror_from(&m, mirror_loc, &f.vkey(), extra);
    r.ok();
    let v = r.json();
    assert_eq!(v["status"], "extended");
    assert_eq!(v["root"], r2.as_str());
    assert_eq!(v["records_verified"], s2 - s1);
}

#[test]
fn journey_through_a_directory_and_over_http() {
    let f = Fixture::with_samples();
    let d = f.path().join("pub-a");
    journey_through(&f, d.to_str().unwrap(), d.to_str().unwrap(), &[]);
    let d = f.path().join("pub-b");
    let http = Http::serve(&d);
    journey_through(&f, d.to_str().unwrap(), &http.url, &[]);
}

/// The same journey through a bucket of a real S3-compatible server (Garage,
/// tests/common/garage.rs; skipped with a message without a Garage binary
/// unless CUSTODY_REQUIRE_GARAGE=1). The endpoint and region are given as
/// flags, the credentials only in the environment.
#[test]
fn journey_through_an_s3_bucket() {
    let Some(g) = common::garage::garage() else {
        return;
    };
    let place = g.bucket("dropsite-log");
    let f = Fixture::with_samples();
    let extra = [
        "--endpoint",
        &place.endpoint,
        "--region",
        common::garage::REGION,
    ];
    journey_through(&f, &place.url, &place.url, &extra);
    // What went to the bucket is the C2SP layout: the checkpoint and the tiles.
    let r = custody::store::files::remote::Remote::open(
        &custody::store::files::remote::Location::parse(&place.url).unwrap(),
        &custody::store::files::remote::S3Settings {
            endpoint: Some(place.endpoint.clone()),
            region: Some(common::garage::REGION.into()),
        },
    )
    .unwrap();
    let names: Vec<String> = r.list("").unwrap().into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().any(|n| n == "checkpoint"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("tile/entries/")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("tile/0/")), "{names:?}");
    // A witness cosigns straight from the bucket.
    let w = witness_of(&f);
    let v = w.json(&[&["witness", "cosign", "--from", &place.url][..], &extra].concat());
    assert_eq!(v["accepted"], "first_use", "{v}");
}

#[test]
fn publish_then_mirror_from_a_directory_and_over_http() {
    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    let p = publish_to(&f, pubdir.to_str().unwrap(), &[]);
    let (size, root) = checkpoint_root(&f);
    assert_eq!(p["size"], size);
    assert_eq!(p["bundles_written"], 1);
    assert_eq!(p["hash_tiles_written"], 1);
    assert_eq!(p["checkpoint_written"], true);
    let published = files_under(&pubdir);
    let names: Vec<&str> = published.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "checkpoint",
            &format!("tile/0/000.p/{size}"),
            &format!("tile/entries/000.p/{size}")
        ]
    );
    // Only records: no document name appears in what is published.
    for (_, b) in &published {
        let text = String::from_utf8_lossy(b);
        assert!(!text.contains("board-memo"), "a name was published");
    }
    let ck = f.run(&["checkpoint"]).ok().stdout_bytes.clone();
    assert_eq!(fs::read(pubdir.join("checkpoint")).unwrap(), ck);

    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, pubdir.to_str().unwrap(), &f.vkey(), &[]);
    r.ok();
    let v = r.json();
    assert_eq!(v["status"], "first");
    assert_eq!(v["size"], size);
    assert_eq!(v["root"], root.as_str());
    assert_eq!(v["records_verified"], size);
    assert_eq!(mirrored_tiles(&m), published);

    // The same log over HTTP, into another archive.
    let http = Http::serve(&pubdir);
    let m2 = Fixture::new_as("guardian");
    let r = mirror_from(&m2, &http.url, &f.vkey(), &[]);
    r.ok();
    assert_eq!(r.json()["root"], root.as_str());
    assert_eq!(mirrored_tiles(&m2), published);
    // Again: unchanged.
    let r = mirror_from(&m2, &http.url, &f.vkey(), &[]);
    r.ok();
    assert_eq!(r.json()["status"], "unchanged");
    // The text output says what was verified.
    let mut c = m2.cmd();
    c.args(["mirror", &http.url, "--vkey"]).arg(f.vkey());
    let r = run(c);
    r.ok();
    assert!(r.stdout.contains("unchanged"), "{}", r.stdout);
    // The log key from the trust store instead of --vkey.
    let m4 = Fixture::new_as("guardian");
    let store = m4.path().join("trust.toml");
    let mut c = custody();
    c.env("CUSTODY_TRUST_STORE", &store)
        .args(["trust", "add", "dropsite"])
        .arg(f.vkey());
    run(c).ok();
    let mut c = m4.cmd();
    c.env("CUSTODY_TRUST_STORE", &store)
        .args(["mirror", &http.url, "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["root"], root.as_str());
    // Without a key (none in the trust store, no earlier mirror): exit 2.
    let m3 = Fixture::new_as("guardian");
    let mut c = m3.cmd();
    c.args(["mirror", &http.url]);
    run(c).error(&["no log key", "--vkey"]);
    // HTTP is read only for publish.
    f.run(&["publish", &http.url]).error(&["read only"]);
}

#[test]
fn publish_is_incremental_and_idempotent_and_recheck_repairs() {
    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    let loc = pubdir.to_str().unwrap().to_string();
    publish_to(&f, &loc, &[]);
    let (s1, _) = checkpoint_root(&f);
    let again = publish_to(&f, &loc, &[]);
    assert_eq!(again["hash_tiles_written"], 0);
    assert_eq!(again["bundles_written"], 0);
    assert_eq!(again["checkpoint_written"], false);

    let m = Fixture::new_as("guardian");
    mirror_from(&m, &loc, &f.vkey(), &[]).ok();

    // More records: only the wider partial tile and bundle are written, and
    // the ones they replace removed.
    let extra = f.path().join("more");
    fs::create_dir_all(&extra).unwrap();
    fs::write(extra.join("a.txt"), "one more document\n").unwrap();
    f.ingest_json(&[extra.to_str().unwrap()]);
    let (s2, root2) = checkpoint_root(&f);
    assert!(s2 > s1);
    let inc = publish_to(&f, &loc, &[]);
    assert_eq!(inc["previous_size"], s1);
    assert_eq!(inc["hash_tiles_written"], 1);
    assert_eq!(inc["bundles_written"], 1);
    assert_eq!(inc["partials_removed"], 2);
    assert!(!pubdir.join(format!("tile/0/000.p/{s1}")).exists());
    assert!(pubdir.join(format!("tile/0/000.p/{s2}")).exists());

    let r = mirror_from(&m, &loc, &f.vkey(), &[]);
    r.ok();
    let v = r.json();
    assert_eq!(v["status"], "extended");
    assert_eq!(v["previous_size"], s1);
    assert_eq!(v["root"], root2.as_str());
    assert_eq!(v["records_verified"], s2 - s1);
    assert_eq!(mirrored_tiles(&m), files_under(&pubdir));

    // --recheck finds a deleted and a damaged object and rewrites them.
    fs::remove_file(pubdir.join(format!("tile/entries/000.p/{s2}"))).unwrap();
    let t = pubdir.join(format!("tile/0/000.p/{s2}"));
    let mut b = fs::read(&t).unwrap();
    b[3] ^= 1;
    b.push(0); // longer than the tile may be: refused on read, rewritten
    fs::write(&t, b).unwrap();
    let plain = publish_to(&f, &loc, &[]);
    assert_eq!(
        plain["bundles_written"], 0,
        "without --recheck nothing is re-read"
    );
    let re = publish_to(&f, &loc, &["--recheck"]);
    assert_eq!(re["repaired"], 2);
    assert_eq!(re["rechecked"], 0);
    let re = publish_to(&f, &loc, &["--recheck"]);
    assert_eq!(re["repaired"], 0);
    assert_eq!(re["rechecked"], 2);
    mirror_from(&m, &loc, &f.vkey(), &[]).ok();

    // Another log's destination is refused, and left as it was.
    let other = Fixture::new_as("guardian");
    other
        .run(&["publish", &loc])
        .error(&["not a checkpoint of this log"]);
}

/// A change made to a published file.
type Edit = Box<dyn Fn(&mut Vec<u8>)>;

/// Tampering on the published side: the mirror refuses with a named
/// finding and keeps what it had.
#[test]
fn tampered_published_log_is_refused() {
    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    let loc = pubdir.to_str().unwrap().to_string();
    publish_to(&f, &loc, &[]);
    let (size, _) = checkpoint_root(&f);
    let cases: [(&str, Edit, &str); 5] = [
        (
            "tile/entries/000.p/SIZE",
            Box::new(|b: &mut Vec<u8>| {
                let n = b.len();
                b[n - 10] ^= 1;
            }),
            "tile",
        ),
        (
            "tile/0/000.p/SIZE",
            Box::new(|b: &mut Vec<u8>| b[40] ^= 1),
            "tile",
        ),
        (
            "tile/0/000.p/SIZE",
            Box::new(|b: &mut Vec<u8>| b.push(0)),
            "tile",
        ),
        (
            "tile/entries/000.p/SIZE",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 1)),
            "tile",
        ),
        (
            "checkpoint",
            Box::new(|b: &mut Vec<u8>| {
                // The root line, one base64 character changed.
                let i = b.iter().position(|&c| c == b'\n').unwrap() + 1;
                let j = i + b[i..].iter().position(|&c| c == b'\n').unwrap() + 1;
                b[j + 2] = if b[j + 2] == b'A' { b'B' } else { b'A' };
            }),
            "checkpoint_signature",
        ),
    ];
    for (rel, edit, check) in cases {
        let m = Fixture::new_as("guardian");
        let copy = m.path().join("pub");
        copy_dir(&pubdir, &copy);
        let p = copy.join(rel.replace("SIZE", &size.to_string()));
        let mut b = fs::read(&p).unwrap();
        edit(&mut b);
        fs::write(&p, b).unwrap();
        let r = mirror_from(&m, copy.to_str().unwrap(), &f.vkey(), &[]);
        r.code(FINDING);
        let v = r.json();
        assert_eq!(v["findings"][0]["check"], check, "{rel}: {v}");
        assert!(!mirror_dir(&m).join("checkpoint").exists(), "{rel}");
        assert!(!mirror_dir(&m).join("staging").exists(), "{rel}");
    }
    // The checkpoint re-signed by another key than the one trusted.
    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, &loc, &m.vkey(), &[]);
    r.code(ERROR);
    // A tile missing on the server.
    let copy = m.path().join("pub");
    copy_dir(&pubdir, &copy);
    fs::remove_file(copy.join(format!("tile/entries/000.p/{size}"))).unwrap();
    let r = mirror_from(&m, copy.to_str().unwrap(), &f.vkey(), &[]);
    r.code(FINDING);
    assert_eq!(r.json()["findings"][0]["check"], "tile");
}

#[test]
fn rollback_is_refused_and_a_fork_leaves_evidence() {
    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    let loc = pubdir.to_str().unwrap().to_string();
    publish_to(&f, &loc, &[]);
    let old_cp = fs::read(pubdir.join("checkpoint")).unwrap();
    let m = Fixture::new_as("guardian");
    let extra = f.path().join("more");
    fs::create_dir_all(&extra).unwrap();
    fs::write(extra.join("a.txt"), "one more document\n").unwrap();
    f.ingest_json(&[extra.to_str().unwrap()]);
    publish_to(&f, &loc, &[]);
    mirror_from(&m, &loc, &f.vkey(), &[]).ok();
    let before = mirrored_tiles(&m);

    // Rollback: the old checkpoint served again.
    let stale = m.path().join("stale");
    copy_dir(&pubdir, &stale);
    fs::write(stale.join("checkpoint"), &old_cp).unwrap();
    let r = mirror_from(&m, stale.to_str().unwrap(), &f.vkey(), &[]);
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["findings"][0]["check"], "rollback", "{v}");
    assert!(v["evidence"].is_null());
    assert_eq!(mirrored_tiles(&m), before);

    // A fork: the same log key signs another history (a fresh archive with
    // the same keys and other documents), published elsewhere.
    let fork2 = Fixture::new();
    let other = fork2.path().join("other");
    fs::create_dir_all(&other).unwrap();
    for i in 0..12 {
        fs::write(other.join(format!("o{i}.txt")), format!("other {i}\n")).unwrap();
    }
    fork2.ingest_json(&[other.to_str().unwrap()]);
    let fork_pub = fork2.path().join("published");
    publish_to(&fork2, fork_pub.to_str().unwrap(), &[]);
    let ev = m.path().join("fork.evidence");
    let r = mirror_from(
        &m,
        fork_pub.to_str().unwrap(),
        &f.vkey(),
        &["--evidence-out", ev.to_str().unwrap()],
    );
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["findings"][0]["check"], "checkpoint_consistency", "{v}");
    assert_eq!(v["evidence"], ev.to_str().unwrap());
    assert_eq!(mirrored_tiles(&m), before);
    let mut c = custody();
    c.args(["verify-evidence", "--json"])
        .arg(&ev)
        .arg("--trust")
        .arg(f.vkey());
    let r = run(c);
    r.ok();
    // The mirror puts the tiles' complete proof into the evidence (FORMAT.md
    // §11.4), so the fork is proven, not merely alleged.
    assert_eq!(r.json()["verdict"], "proven_inconsistent", "{}", r.stdout);

    // The same size with another root: a proven fork.
    let same = Fixture::new();
    let d = same.path().join("same");
    fs::create_dir_all(&d).unwrap();
    let (size, _) = checkpoint_root(&f);
    // The mirror holds `size` records; make a log of exactly that size (its
    // first records and `size - INIT_RECORDS` documents).
    for i in 0..size - INIT_RECORDS {
        fs::write(d.join(format!("s{i:02}.txt")), format!("same {i}\n")).unwrap();
    }
    same.ingest_json(&[d.to_str().unwrap()]);
    assert_eq!(checkpoint_root(&same).0, size);
    let same_pub = same.path().join("published");
    publish_to(&same, same_pub.to_str().unwrap(), &[]);
    let r = mirror_from(&m, same_pub.to_str().unwrap(), &f.vkey(), &[]);
    r.code(FINDING);
    let ev = PathBuf::from(r.json()["evidence"].as_str().unwrap());
    assert!(ev.starts_with(mirror_dir(&m)));
    let mut c = custody();
    c.args(["verify-evidence", "--json"]).arg(&ev);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["verdict"], "proven_fork");
}

/// A mirror cut short (the server fails part way) keeps what it fetched in
/// staging/ and the next run resumes from there.
#[test]
fn interrupted_mirror_resumes() {
    let f = Fixture::new();
    let d = f.path().join("docs");
    fs::create_dir_all(&d).unwrap();
    for i in 0..300 {
        fs::write(d.join(format!("d{i:03}.txt")), format!("document {i}\n")).unwrap();
    }
    f.ingest_json(&[d.to_str().unwrap()]);
    let pubdir = f.path().join("published");
    publish_to(&f, pubdir.to_str().unwrap(), &[]);
    let (size, root) = checkpoint_root(&f);
    assert!(size > 256);
    let http = Http::serve(&pubdir);
    http.fail_on(Some("tile/entries/001"));
    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, &http.url, &f.vkey(), &[]);
    r.code(ERROR);
    assert!(!mirror_dir(&m).join("checkpoint").exists());
    let staged = files_under(&mirror_dir(&m).join("staging"));
    assert!(!staged.is_empty());
    http.fail_on(None);
    let r = mirror_from(&m, &http.url, &f.vkey(), &[]);
    r.ok();
    let v = r.json();
    assert_eq!(v["root"], root.as_str());
    assert_eq!(v["reused_staged"].as_u64().unwrap(), staged.len() as u64);
    assert_eq!(mirrored_tiles(&m), files_under(&pubdir));
}

/// A witness cosigns straight from a published log: first use, then an
/// extension proven from the tiles.
#[test]
fn witness_cosigns_from_a_published_log() {
    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    let loc = pubdir.to_str().unwrap().to_string();
    publish_to(&f, &loc, &[]);
    let w = witness_of(&f);
    let v = w.json(&["witness", "cosign", "--from", &loc]);
    assert_eq!(v["accepted"], "first_use");
    let d = f.path().join("more");
    fs::create_dir_all(&d).unwrap();
    for i in 0..300 {
        fs::write(d.join(format!("d{i:03}.txt")), format!("document {i}\n")).unwrap();
    }
    f.ingest_json(&[d.to_str().unwrap()]);
    publish_to(&f, &loc, &[]);
    // A published tile that lies gives a proof that fails: refused, and no
    // evidence, since a failing proof proves nothing against the log (a CDN
    // or a mirror could have altered the tile; issue 14).
    let (size, _) = checkpoint_root(&f);
    let bad = f.path().join("bad-pub");
    copy_dir(&pubdir, &bad);
    let t = bad.join("tile/0/000");
    let mut b = fs::read(&t).unwrap();
    b[32 * 100] ^= 1;
    fs::write(&t, b).unwrap();
    let ev = w.path().join("lying-tiles.evidence");
    let r = w.run(&[
        "witness",
        "cosign",
        "--from",
        bad.to_str().unwrap(),
        "--evidence-out",
        ev.to_str().unwrap(),
        "--json",
    ]);
    r.code(FINDING);
    assert_eq!(r.json()["reason"], "bad_proof", "{}", r.stdout);
    assert!(r.json()["evidence"].is_null(), "{}", r.stdout);
    assert!(!ev.exists());
    assert!(size > 256);
    // A fork published under the same key (other documents, a larger size):
    // the proof from the tiles opens its root and shows another root at the
    // cosigned size, so the refusal comes with evidence that proves it.
    let fork = Fixture::new();
    let fd = fork.path().join("other");
    fs::create_dir_all(&fd).unwrap();
    for i in 0..20 {
        fs::write(fd.join(format!("o{i:02}.txt")), format!("other {i}\n")).unwrap();
    }
    fork.ingest_json(&[fd.to_str().unwrap()]);
    let fork_pub = fork.path().join("published");
    publish_to(&fork, fork_pub.to_str().unwrap(), &[]);
    let fev = w.path().join("published-fork.evidence");
    let r = w.run(&[
        "witness",
        "cosign",
        "--from",
        fork_pub.to_str().unwrap(),
        "--evidence-out",
        fev.to_str().unwrap(),
        "--json",
    ]);
    r.code(FINDING);
    assert_eq!(r.json()["reason"], "inconsistent", "{}", r.stdout);
    let mut c = custody();
    c.args(["verify-evidence", "--json"]).arg(&fev);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["verdict"], "proven_inconsistent", "{}", r.stdout);

    let http = Http::serve(&pubdir);
    let v = w.json(&["witness", "cosign", "--from", &http.url]);
    assert_eq!(v["accepted"], "extended");
    // The cosignature goes back into the log and is published with it.
    let line = v["cosignature"].as_str().unwrap().to_string();
    let cos = f.path().join("w.cosig");
    fs::write(&cos, format!("{line}\n")).unwrap();
    f.run(&[
        "checkpoint",
        "add-cosignature",
        cos.to_str().unwrap(),
        "--witness",
        w.keys.join("witness.vkey").to_str().unwrap(),
    ])
    .ok();
    let p = publish_to(&f, &loc, &[]);
    assert_eq!(p["checkpoint_written"], true);
    let m = Fixture::new_as("guardian");
    let wv = w.keys.join("witness.vkey");
    let r = mirror_from(&m, &loc, &f.vkey(), &["--witness", wv.to_str().unwrap()]);
    r.ok();
    assert_eq!(r.json()["cosigned_by"].as_array().unwrap().len(), 1);
    // A quorum the checkpoint does not meet is a finding.
    let gw = m.keys.join("witness.vkey");
    let r = mirror_from(&m, &loc, &f.vkey(), &["--witness", gw.to_str().unwrap()]);
    r.code(FINDING);
    assert_eq!(r.json()["findings"][0]["check"], "witness_quorum");
}

/// Issue 7 "Scale": a 10^5-record synthetic log published and mirrored; the
/// mirror's root is the archive's.
#[test]
fn synthetic_100k_log_published_and_mirrored() {
    let f = Fixture::uninit();
    let mut c = custody();
    c.arg("gen-archive")
        .arg(&f.dir)
        .args(["--records", "100000", "--documents", "1", "--signing-key"])
        .arg(f.signing_key())
        .arg("--admin-key")
        .arg(f.admin_key())
        .arg("-r")
        .arg(f.keys.join("recipient.txt"));
    run(c).ok();
    let (size, root) = checkpoint_root(&f);
    assert!(size >= 100_000);
    let pubdir = f.path().join("published");
    let p = publish_to(&f, pubdir.to_str().unwrap(), &[]);
    assert_eq!(p["bundles_written"].as_u64().unwrap(), size.div_ceil(256));
    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, pubdir.to_str().unwrap(), &f.vkey(), &[]);
    r.ok();
    let v = r.json();
    assert_eq!(v["root"], root.as_str());
    assert_eq!(v["size"], size);
    assert_eq!(v["records_verified"], size);
}

/// `verify-bundle` and `trace` in an archive that mirrors the sender's log
/// say whether the hop's checkpoint is in the mirrored log; a bundle from a
/// forked history is a finding.
#[test]
fn verify_bundle_uses_the_mirror() {
    let f = Fixture::with_samples();
    let g = Fixture::new_as("guardian");
    let bundle = f.path().join("memo.bundle");
    f.json(&[
        "share",
        &(INIT_RECORDS + 2).to_string(),
        "--to",
        g.keys.join("recipient.txt").to_str().unwrap(),
        "-i",
        f.identity().to_str().unwrap(),
        "-o",
        bundle.to_str().unwrap(),
    ]);
    let verify = |extra: &[&str]| {
        let mut c = g.cmd();
        c.arg("verify-bundle")
            .arg(&bundle)
            .args(["--json", "--trust"])
            .arg(f.vkey())
            .args(extra);
        run(c)
    };
    // No mirror: nothing said.
    let r = verify(&[]);
    r.ok();
    assert_eq!(r.json()["mirrored"], serde_json::json!([]));
    let pubdir = f.path().join("published");
    publish_to(&f, pubdir.to_str().unwrap(), &[]);
    mirror_from(&g, pubdir.to_str().unwrap(), &f.vkey(), &[]).ok();
    let r = verify(&[]);
    r.ok();
    let m = &r.json()["mirrored"][0];
    assert_eq!(m["status"], "included", "{m}");
    assert_eq!(m["hop"], 1);
    // Received, the trace says the same.
    let mut c = g.cmd();
    c.arg("receive")
        .arg(&bundle)
        .arg("-i")
        .arg(g.identity())
        .arg("--trust")
        .arg(f.vkey());
    run(c).ok();
    let mut c = g.cmd();
    c.args(["trace", &INIT_RECORDS.to_string(), "--json", "--trust"])
        .arg(f.vkey());
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["mirrored"][0]["status"], "included");

    // A bundle from another history of the same log key is caught.
    let fork = Fixture::new();
    let d = fork.path().join("d");
    fs::create_dir_all(&d).unwrap();
    for i in 0..3 {
        fs::write(d.join(format!("x{i}.txt")), format!("x {i}\n")).unwrap();
    }
    fork.ingest_json(&[d.to_str().unwrap()]);
    let fb = fork.path().join("fork.bundle");
    fork.json(&[
        "share",
        &(INIT_RECORDS + 1).to_string(),
        "--to",
        g.keys.join("recipient.txt").to_str().unwrap(),
        "-i",
        fork.identity().to_str().unwrap(),
        "-o",
        fb.to_str().unwrap(),
    ]);
    let mut c = g.cmd();
    c.arg("verify-bundle")
        .arg(&fb)
        .args(["--json", "--trust"])
        .arg(f.vkey());
    let r = run(c);
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["mirrored"][0]["status"], "diverges", "{v}");
    assert_eq!(
        v["report"]["findings"][0]["check"],
        "checkpoint_consistency"
    );
}

/// The log's own key signs a checkpoint over tiles that hash correctly but
/// hold a record with a broken signature: the mirror names the record.
#[test]
fn a_bad_record_under_a_valid_checkpoint_is_named() {
    use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
    use custody::core::keys::SignerKey;
    use custody::core::merkle::MemoryTree;
    use custody::core::tiles::{build_hash_tile, encode_bundle, parse_bundle, TileId};

    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    publish_to(&f, pubdir.to_str().unwrap(), &[]);
    let (size, _) = checkpoint_root(&f);
    let bid = TileId::parse_path(&format!("tile/entries/000.p/{size}")).unwrap();
    let tid = TileId::parse_path(&format!("tile/0/000.p/{size}")).unwrap();
    let bytes = fs::read(pubdir.join(bid.path())).unwrap();
    let mut entries: Vec<Vec<u8>> = parse_bundle(bid, &bytes)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    // Record 3: one byte of its signature (the last 64 bytes) flipped.
    let n = entries[3].len();
    entries[3][n - 5] ^= 1;
    let mut tree = MemoryTree::new();
    for e in &entries {
        tree.push_data(e);
    }
    fs::write(pubdir.join(bid.path()), encode_bundle(&entries).unwrap()).unwrap();
    fs::write(
        pubdir.join(tid.path()),
        build_hash_tile(&tree, tid).unwrap(),
    )
    .unwrap();
    let key = SignerKey::parse(fs::read_to_string(f.signing_key()).unwrap().trim()).unwrap();
    let cp = Checkpoint::new("dropsite.example/leaks", size, tree.root()).unwrap();
    let signed = SignedCheckpoint::sign(&cp, &key).unwrap();
    fs::write(pubdir.join("checkpoint"), signed.encode()).unwrap();

    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, pubdir.to_str().unwrap(), &f.vkey(), &[]);
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["findings"][0]["check"], "record_signature", "{v}");
    assert_eq!(v["findings"][0]["subject"]["id"]["index"], 3, "{v}");
    assert!(!mirror_dir(&m).join("checkpoint").exists());
}

/// A new log (no log is empty: it starts with the first admin and the
/// configuration) publishes its checkpoint and one partial tile of each kind,
/// and mirrors; a bundle missing on an HTTP server (404) is a `tile`
/// finding, not an error.
#[test]
fn empty_log_and_a_missing_object_over_http() {
    let f = Fixture::new();
    let pubdir = f.path().join("published");
    let p = publish_to(&f, pubdir.to_str().unwrap(), &[]);
    assert_eq!(p["size"], INIT_RECORDS);
    assert_eq!(p["hash_tiles_written"], 1);
    assert_eq!(p["bundles_written"], 1);
    let files: Vec<String> = files_under(&pubdir).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        files,
        [
            "checkpoint".to_string(),
            format!("tile/0/000.p/{INIT_RECORDS}"),
            format!("tile/entries/000.p/{INIT_RECORDS}"),
        ]
    );
    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, pubdir.to_str().unwrap(), &f.vkey(), &[]);
    r.ok();
    assert_eq!(r.json()["size"], INIT_RECORDS);
    assert_eq!(r.json()["records_verified"], INIT_RECORDS);

    let f = Fixture::with_samples();
    let pubdir = f.path().join("published");
    publish_to(&f, pubdir.to_str().unwrap(), &[]);
    let (size, _) = checkpoint_root(&f);
    fs::remove_file(pubdir.join(format!("tile/entries/000.p/{size}"))).unwrap();
    let http = Http::serve(&pubdir);
    let m = Fixture::new_as("guardian");
    let r = mirror_from(&m, &http.url, &f.vkey(), &[]);
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["findings"][0]["check"], "tile", "{v}");
    assert!(
        v["findings"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{v}"
    );
}
