//! `custody export` (FORMAT.md §15): the evidence package, checked by its own
//! Python script with no custody binary on PATH, by standard tools (sha256sum,
//! the age CLI) and by `custody verify-proof --file`; what a tampered package
//! shows; and what the command refuses.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::chain::*;
use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Drop Site ingests and shares a document to the Guardian, which receives
/// it and translates it: the translation's package holds records of both
/// outlets (the lineage), and the received original's.
struct Setup {
    ds: Fixture,
    gu: Fixture,
    received: u64,
    translation: u64,
    out: tempfile::TempDir,
}

fn setup() -> Setup {
    let ds = Fixture::new_as("dropsite");
    ds.ingest_samples();
    let gu = Fixture::new_as("guardian");
    let out = tempfile::tempdir().unwrap();
    let b = out.path().join("a.bundle");
    ds.share_to(&INIT_RECORDS.to_string(), &gu, &b);
    let rx = gu.json(&[
        "receive",
        s(&b),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ]);
    let received = rx["index"].as_u64().unwrap();
    let t = out.path().join("memo-en.txt");
    fs::write(&t, "The memo, in English.\n").unwrap();
    let translation = gu.json(&[
        "derive",
        &received.to_string(),
        s(&t),
        "--relation",
        "translation",
        "-i",
        s(&gu.identity()),
    ])["index"]
        .as_u64()
        .unwrap();
    Setup {
        ds,
        gu,
        received,
        translation,
        out,
    }
}

fn export(f: &Fixture, extra: &[&str]) -> Run {
    let mut args = vec!["export"];
    args.extend_from_slice(extra);
    f.run(&args)
}

fn sha256_hex(p: &Path) -> String {
    custody::core::hash::Digest::of(&fs::read(p).unwrap()).to_hex()
}

#[test]
fn a_package_checks_without_custody() {
    let x = setup();
    let dir = x.out.path().join("package");
    let gid = x.gu.identity();
    let r = export(
        &x.gu,
        &[
            &x.translation.to_string(),
            "-o",
            s(&dir),
            "-i",
            s(&gid),
            "--trust",
            s(&x.ds.vkey()),
            "--json",
        ],
    );
    r.ok();
    let v: Value = r.json();
    let doc = &v["documents"][0];
    assert_eq!(doc["index"], x.translation);
    assert_eq!(doc["name"], "memo-en.txt");
    // Every record of its custody: the derive here, and the parent's at
    // Drop Site (ingest, share) and here (receive).
    let kinds: Vec<(String, &str)> = doc["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["origin"].as_str().unwrap().to_string(),
                p["kind"].as_str().unwrap(),
            )
        })
        .filter(|(_, k)| *k != "actor" && *k != "config")
        .collect();
    assert_eq!(
        kinds,
        [
            ("theguardian.example/custody".to_string(), "derive"),
            ("dropsite.example/leaks".to_string(), "ingest"),
            ("dropsite.example/leaks".to_string(), "share"),
            ("theguardian.example/custody".to_string(), "receive"),
        ],
        "{v}"
    );

    // The script, with python3 alone on PATH.
    if let Some((code, out)) = run_script(&dir) {
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("every check passed"), "{out}");
        assert!(out.contains("dropsite.example/leaks record"), "{out}");
        assert!(!out.contains("FAIL"), "{out}");
    }

    // Standard tools: sha256sum of the document is the opening's; the
    // stored age file decrypts (age CLI) to the same bytes.
    let opening: Value =
        serde_json::from_slice(&fs::read(dir.join(doc["opening"].as_str().unwrap())).unwrap())
            .unwrap();
    let document = dir.join(doc["document"].as_str().unwrap());
    assert_eq!(sha256_hex(&document), opening["sha256"].as_str().unwrap());
    let plain = common::age_cli::age_decrypt(&gid, &dir.join(doc["ciphertext"].as_str().unwrap()));
    assert_eq!(plain, fs::read(&document).unwrap());

    // custody verify-proof --file: the document against the derive record.
    let derive_proof = dir.join(
        doc["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "derive")
            .unwrap()["file"]
            .as_str()
            .unwrap(),
    );
    let opening_file = dir.join(doc["opening"].as_str().unwrap());
    let vp = |file: &Path| {
        let mut c = custody();
        c.args([
            "verify-proof",
            s(&derive_proof),
            "--trust",
            s(&x.gu.vkey()),
            "--file",
            s(file),
            "--opening",
            s(&opening_file),
            "--json",
        ]);
        run(c)
    };
    let ok = vp(&document);
    ok.ok();
    assert_eq!(ok.json()["document_sha256"], opening["sha256"]);
    let other = x.out.path().join("other.txt");
    fs::write(&other, "Another text.\n").unwrap();
    let bad = vp(&other);
    bad.code(FINDING);
    assert!(bad.stdout.contains("content:"), "{}", bad.stdout);
    // The original's ingest record is another document: its commitment differs.
    let ingest_proof = dir.join(
        doc["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "ingest")
            .unwrap()["file"]
            .as_str()
            .unwrap(),
    );
    let mut c = custody();
    c.args([
        "verify-proof",
        s(&ingest_proof),
        "--trust",
        s(&x.ds.vkey()),
        "--file",
        s(&document),
        "--opening",
        s(&opening_file),
        "--json",
    ]);
    let r = run(c);
    r.code(FINDING);
    assert!(r.stdout.contains("commitment:"), "{}", r.stdout);

    // verify-bundle checks the evidence file whole, lineage included.
    let mut c = custody();
    c.args([
        "verify-bundle",
        s(&dir.join(doc["evidence"].as_str().unwrap())),
        "--trust",
        s(&x.ds.vkey()),
        "--trust",
        s(&x.gu.vkey()),
        "--json",
    ]);
    let r = run(c);
    r.ok();
    let v = r.json();
    assert_eq!(v["report"]["lineage"][0]["relation"], "translation", "{v}");

    // The audit is in the package, in both forms.
    let audit: Value =
        serde_json::from_slice(&fs::read(dir.join(doc["audit_json"].as_str().unwrap())).unwrap())
            .unwrap();
    assert_eq!(audit["target"], x.translation);
    assert!(
        fs::read_to_string(dir.join(doc["audit_html"].as_str().unwrap()))
            .unwrap()
            .contains("<!DOCTYPE html>")
    );
    let readme = fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("python3 verify.py") && readme.contains("sha256sum"));
}

/// What the script reports on a tampered package: the document, the
/// opening, a record, a checkpoint signature, each named, exit 1.
#[test]
fn the_script_finds_tampering() {
    let x = setup();
    let dir = x.out.path().join("package");
    export(
        &x.gu,
        &[
            &x.received.to_string(),
            "-o",
            s(&dir),
            "-i",
            s(&x.gu.identity()),
        ],
    )
    .ok();
    if run_script(&dir).is_none() {
        return;
    }
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let doc = &m["documents"][0];
    let file = |k: &str| dir.join(doc[k].as_str().unwrap());
    let tamper = |path: &Path, edit: &dyn Fn(&mut Vec<u8>), want: &str| {
        let keep = fs::read(path).unwrap();
        let mut b = keep.clone();
        edit(&mut b);
        fs::write(path, &b).unwrap();
        let (code, out) = run_script(&dir).unwrap();
        assert_eq!(code, 1, "{want}: {out}");
        assert!(
            out.contains(&format!("FAIL  {want}")),
            "want FAIL {want}: {out}"
        );
        fs::write(path, keep).unwrap();
    };
    // One byte of the document.
    tamper(&file("document"), &|b| b[0] ^= 1, "documents/");
    // The opening's salt: it no longer opens the commitment.
    tamper(
        &file("opening"),
        &|b| {
            let t = String::from_utf8(b.clone()).unwrap();
            let v: Value = serde_json::from_str(&t).unwrap();
            let salt = v["salt"].as_str().unwrap();
            let flipped = format!(
                "{}{}",
                if salt.starts_with('0') { "1" } else { "0" },
                &salt[1..]
            );
            *b = t.replace(salt, &flipped).into_bytes();
        },
        "the opening opens the commitment",
    );
    // A record's time inside its tlog-proof: neither included nor signed.
    let ingest = doc["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "ingest")
        .unwrap()["file"]
        .as_str()
        .unwrap()
        .to_string();
    tamper(
        &dir.join(&ingest),
        &|b| {
            use base64::Engine as _;
            let t = String::from_utf8(b.clone()).unwrap();
            let line = t.lines().nth(1).unwrap().to_string();
            let mut rec = base64::engine::general_purpose::STANDARD
                .decode(&line[6..])
                .unwrap();
            rec[17] ^= 1;
            let new = format!(
                "extra {}",
                base64::engine::general_purpose::STANDARD.encode(rec)
            );
            *b = t.replacen(&line, &new, 1).into_bytes();
        },
        "dropsite.example/leaks record",
    );
    // The checkpoint's signature line in a proof.
    tamper(
        &dir.join(&ingest),
        &|b| {
            let t = String::from_utf8(b.clone()).unwrap();
            let at = t.rfind("\u{2014} ").unwrap();
            let sig_at = t[at..].rfind(' ').unwrap() + at + 10;
            let mut v = t.into_bytes();
            v[sig_at] = if v[sig_at] == b'A' { b'B' } else { b'A' };
            *b = v;
        },
        "dropsite.example/leaks record",
    );
}

#[test]
fn digest_only_and_refusals() {
    let x = setup();
    let dir = x.out.path().join("digest-only");
    let r = export(
        &x.gu,
        &[
            &x.received.to_string(),
            "--digest-only",
            "-o",
            s(&dir),
            "-i",
            s(&x.gu.identity()),
            "--json",
        ],
    );
    r.ok();
    assert!(r.json()["documents"][0]["document"].is_null());
    // No plaintext anywhere in the package.
    let plain = x.out.path().join("plain");
    x.gu.run(&[
        "extract",
        &x.received.to_string(),
        "-o",
        s(&plain),
        "-i",
        s(&x.gu.identity()),
    ])
    .ok();
    let sample = fs::read(&plain).unwrap();
    fs::remove_file(&plain).unwrap();
    for e in walk(&dir) {
        let b = fs::read(&e).unwrap();
        assert!(
            !b.windows(sample.len().min(64))
                .any(|w| w == &sample[..sample.len().min(64)]),
            "{} holds plaintext",
            e.display()
        );
    }
    if let Some((code, out)) = run_script(&dir) {
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("digest only"), "{out}");
    }
    // An existing directory, one inside the archive, no identity: exit 2,
    // nothing written.
    let before = x.gu.snapshot();
    export(
        &x.gu,
        &[
            &x.received.to_string(),
            "-o",
            s(&dir),
            "-i",
            s(&x.gu.identity()),
        ],
    )
    .code(ERROR);
    let inside = x.gu.dir.join("pkg");
    export(
        &x.gu,
        &[
            &x.received.to_string(),
            "-o",
            s(&inside),
            "-i",
            s(&x.gu.identity()),
        ],
    )
    .code(ERROR);
    assert!(!inside.exists());
    x.gu.forget_identity();
    let none = x.out.path().join("none");
    let r = export(&x.gu, &[&x.received.to_string(), "-o", s(&none)]);
    r.code(ERROR);
    assert!(r.stderr.contains("-i IDENTITY"), "{}", r.stderr);
    assert!(!none.exists());
    let leftovers: Vec<_> = fs::read_dir(x.out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".custody-export-")
        })
        .collect();
    assert!(leftovers.is_empty(), "a failed export leaves nothing");
    x.gu.assert_unchanged(&before);
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The script's Ed25519 follows FORMAT.md §4.3's rule on every C2SP CCTV
/// vector, as custody does (tests/ed25519_rules.rs): exactly the vectors
/// flagged none of the refused edge cases are valid.
#[test]
fn the_scripts_ed25519_agrees_with_the_rule() {
    let vectors = repo().join("tests/data/cctv-ed25519/ed25519vectors.json");
    // The module is the script itself, imported under the name `verify`.
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(
        repo().join("src/core/export_verify.py"),
        tmp.path().join("verify.py"),
    )
    .unwrap();
    let code = format!(
        r#"
import json, sys
sys.path.insert(0, {dir:?})
import verify
refused = {{"low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R"}}
bad = []
for v in json.load(open({vectors:?})):
    v["flags"] = v["flags"] or []
    want = not (set(v["flags"]) & refused)
    got = verify.ed25519_verify(bytes.fromhex(v["key"]), v["msg"].encode(), bytes.fromhex(v["sig"]))
    if got != want:
        bad.append(v["number"])
print("disagree", bad)
"#,
        dir = tmp.path().display().to_string(),
        vectors = vectors.display().to_string()
    );
    let Some((code, out)) = run_python(&["-c", &code]) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "disagree []");
}

/// `--format ftm`: the documents, decrypted, in the FollowTheMoney
/// lakehouse layout, each entity naming its custody record and commitment.
#[test]
fn ftm_export_for_the_newsroom_tools() {
    let x = setup();
    let dir = x.out.path().join("lake");
    let r = export(
        &x.gu,
        &[
            &x.received.to_string(),
            &x.translation.to_string(),
            "--format",
            "ftm",
            "--dataset",
            "memos",
            "-o",
            s(&dir),
            "-i",
            s(&x.gu.identity()),
            "--json",
        ],
    );
    r.ok();
    let v = r.json();
    assert_eq!(v["documents"].as_array().unwrap().len(), 2, "{v}");
    let lines: Vec<Value> = fs::read_to_string(dir.join("memos/entities.ftm.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (e, d) in lines.iter().zip(v["documents"].as_array().unwrap()) {
        assert_eq!(e["schema"], "Document");
        assert_eq!(e["id"], d["entity"]);
        let sha = e["properties"]["contentHash"][0].as_str().unwrap();
        assert_eq!(sha, d["sha256"].as_str().unwrap());
        // The file is at archive/ab/cd/ef/<sha256>/blob, and hashes to it.
        let blob = dir
            .join("memos/archive")
            .join(&sha[0..2])
            .join(&sha[2..4])
            .join(&sha[4..6])
            .join(sha)
            .join("blob");
        assert_eq!(sha256_hex(&blob), sha);
        let note = e["properties"]["notes"][0].as_str().unwrap();
        assert!(
            note.contains(&format!(
                "record {} of theguardian.example/custody",
                d["index"]
            )),
            "{note}"
        );
        let kw = e["properties"]["keywords"].as_array().unwrap();
        assert!(kw
            .iter()
            .any(|k| k.as_str().unwrap().starts_with("custody-commitment:")));
    }
    // The translation names its parent.
    assert!(lines[1]["properties"]["notes"][1]
        .as_str()
        .unwrap()
        .contains(&format!("derived from record {}", x.received)));
    // A dataset name that is not one: exit 2, nothing written.
    let bad = x.out.path().join("bad");
    export(
        &x.gu,
        &[
            &x.received.to_string(),
            "--format",
            "ftm",
            "--dataset",
            "../x",
            "-o",
            s(&bad),
            "-i",
            s(&x.gu.identity()),
        ],
    )
    .code(ERROR);
    assert!(!bad.exists());
}

/// An export killed while it fills its hidden directory leaves it recorded
/// in the archive (`pending/out-*`, FORMAT.md §7.8): the next command that
/// opens the archive removes it, plaintext included. A record naming a
/// directory that is not custody's own is dropped, the directory kept.
#[test]
fn a_killed_exports_directory_is_removed_by_the_next_command() {
    let x = setup();
    let left = x.out.path().join(".custody-export-0123456789abcdef.tmp");
    fs::create_dir_all(left.join("documents/2")).unwrap();
    fs::write(left.join("documents/2/memo.txt"), "plaintext\n").unwrap();
    let mine = x.out.path().join("my-folder");
    fs::create_dir_all(&mine).unwrap();
    let pending = x.gu.dir.join("pending");
    fs::create_dir_all(&pending).unwrap();
    fs::write(pending.join("out-00000000000000aa"), left.to_str().unwrap()).unwrap();
    fs::write(pending.join("out-00000000000000bb"), mine.to_str().unwrap()).unwrap();
    x.gu.run(&["status"]).ok();
    assert!(!left.exists(), "the killed export's directory is removed");
    assert!(mine.is_dir(), "a directory that is not custody's is kept");
    assert!(!pending.join("out-00000000000000aa").exists());
    assert!(!pending.join("out-00000000000000bb").exists());
}
