//! The journey of an archive through the command line: init, ingest, verify,
//! log, show, status, checkpoint, prove, verify-proof, extract; ingest order
//! and deduplication; `--json` everywhere; archive discovery; completions.

mod common;

use std::fs;

use base64::Engine as _;
use common::*;
use custody::core::checkpoint::SignedCheckpoint;
use custody::core::hash::Digest;
use custody::core::keys::VerifierKey;
use custody::core::merkle::{self, TreeSize};
use serde_json::Value;

const ORIGIN: &str = "dropsite.example/leaks";

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s:?}"))
}

fn vkey(path: &std::path::Path) -> VerifierKey {
    VerifierKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// The index of the `k`-th document ingested into a new archive, as a REF.
fn doc(k: u64) -> String {
    (INIT_RECORDS + k).to_string()
}

/// The number of records of `Fixture::with_samples()`.
const WITH_SAMPLES: u64 = INIT_RECORDS + 8;

/// init, ingest with --source/--case/--note, verify and verify --deep, and the
/// metadata given on the command line comes back decrypted.
#[test]
fn init_ingest_verify_and_metadata() {
    let f = Fixture::uninit();
    let r = f.init_with(&[]);
    r.ok();
    assert!(
        r.stdout.contains(&format!("origin:     {ORIGIN}")),
        "{}",
        r.stdout
    );
    assert!(f.dir.join("custody.toml").is_file());
    // The log of a new archive (its first admin and configuration) is
    // checkpointed at init.
    assert_eq!(f.records(), INIT_RECORDS);
    assert!(f
        .latest_checkpoint()
        .starts_with(&format!("{ORIGIN}\n{INIT_RECORDS}\n")));

    let mut c = f.cmd();
    c.arg("ingest").arg(sample_leak()).args([
        "--source",
        "source A",
        "--case",
        "C-17",
        "--note",
        "USB stick",
    ]);
    let r = run(c);
    r.ok();
    assert!(
        r.stdout.contains("ingested 8 files") && r.stdout.contains("1 with content already stored"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("{ORIGIN}\n{WITH_SAMPLES}\n")),
        "{}",
        r.stdout
    );

    let r = f.run(&["verify"]);
    r.ok();
    assert!(
        r.stdout.starts_with(&format!(
            "verified: {WITH_SAMPLES} records, 2 checkpoints, {} blobs",
            8 + INIT_BLOBS
        )),
        "{}",
        r.stdout
    );

    let id = f.identity();
    let r = f.run(&["verify", "--deep", "-i", id.to_str().unwrap()]);
    r.ok();
    assert!(r.stdout.contains("8 documents decrypted"), "{}", r.stdout);
    let (code, v) = f.verify(&["--deep", "-i", id.to_str().unwrap()]);
    assert_eq!(code, OK);
    assert_eq!(v["report"]["deep"], true);
    assert_eq!(v["report"]["coverage"]["decrypted"], 8);
    assert_eq!(v["report"]["coverage"]["records"], WITH_SAMPLES);

    for (i, rel) in SAMPLE_FILES.iter().enumerate() {
        let s = f.json(&["show", &doc(i as u64), "-i", id.to_str().unwrap()]);
        let m = &s["metadata"];
        let bytes = sample_bytes(rel);
        assert_eq!(m["path"], *rel, "{s}");
        assert_eq!(m["name"], rel.rsplit('/').next().unwrap());
        assert_eq!(m["source"], "source A");
        assert_eq!(m["case"], "C-17");
        assert_eq!(m["note"], "USB stick");
        assert_eq!(m["size"], bytes.len() as u64);
        assert_eq!(m["sha256"], Digest::of(&bytes).to_hex());
    }
    let r = f.run(&["show", &doc(0), "-i", id.to_str().unwrap()]);
    r.ok();
    for want in [
        "source      source A",
        "case        C-17",
        "note        USB stick",
    ] {
        assert!(r.stdout.contains(want), "{want:?} not in {}", r.stdout);
    }
}

#[test]
fn log_shows_names_only_with_identity() {
    let f = Fixture::with_samples();
    let r = f.run(&["log"]);
    r.ok();
    assert_eq!(
        r.stdout.lines().count() as u64,
        WITH_SAMPLES,
        "{}",
        r.stdout
    );
    for p in SAMPLE_FILES {
        let name = p.rsplit('/').next().unwrap();
        assert!(
            !r.stdout.contains(name),
            "{name} leaked without identity:\n{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains("sample-leak"), "{}", r.stdout);
    // Nor the first admin's key name (its name is sealed too).
    assert!(!r.stdout.contains("dropsite.example/admin"), "{}", r.stdout);
    assert!(
        r.stdout.lines().next().unwrap().contains("add #0 as admin")
            && r.stdout.contains("name sealed"),
        "{}",
        r.stdout
    );
    let lines = f.json_lines(&["log"]);
    assert_eq!(lines.len() as u64, WITH_SAMPLES);
    // The first admin and the configuration come first.
    assert_eq!(lines[0]["kind"], "actor", "{}", lines[0]);
    assert_eq!(lines[0]["name"], "#0", "{}", lines[0]);
    assert!(lines[0].get("details").is_none(), "{}", lines[0]);
    assert!(
        !lines[0].to_string().contains("dropsite.example/admin"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["kind"], "config", "{}", lines[1]);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i as u64);
        assert!(l.get("metadata").is_none(), "{l}");
        assert!(!l.to_string().contains("sample-leak"), "{l}");
    }

    let id = f.identity();
    let r = f.run(&["log", "-i", id.to_str().unwrap()]);
    r.ok();
    let out: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(out.len() as u64, WITH_SAMPLES);
    // The first admin's name and key name are sealed: shown with -i only.
    assert!(
        out[0].contains("add #0 as admin")
            && out[0].contains("name admin, key name dropsite.example/admin"),
        "{}",
        out[0]
    );
    assert!(out[1].contains("config"), "{}", out[1]);
    for (line, p) in out[INIT_RECORDS as usize..].iter().zip(SAMPLE_FILES) {
        assert!(line.contains(p), "{p} not in {line}");
    }
    // --from / --limit
    let some = f.json_lines(&[
        "log",
        "--from",
        &doc(2),
        "--limit",
        "3",
        "-i",
        id.to_str().unwrap(),
    ]);
    let idx: Vec<u64> = some.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, [INIT_RECORDS + 2, INIT_RECORDS + 3, INIT_RECORDS + 4]);
    assert_eq!(some[0]["metadata"]["path"], SAMPLE_FILES[2]);
}

#[test]
fn show_by_index_and_by_leaf_hash_prefix() {
    let f = Fixture::with_samples();
    let by_index = f.show(&doc(3));
    assert_eq!(by_index["index"], INIT_RECORDS + 3);
    assert_eq!(by_index["origin"], ORIGIN);
    assert_eq!(by_index["kind"], "ingest");
    let leaf = by_index["leaf_hash"].as_str().unwrap().to_string();
    assert_eq!(leaf.len(), 64);
    for n in [8, 12, 64] {
        let by_prefix = f.show(&hex_ref(&leaf, n));
        assert_eq!(by_prefix, by_index, "prefix of {n} digits");
    }
    // Upper case hex works too, and so do blob and envelope addresses.
    assert_eq!(
        f.show(&hex_ref(&leaf, 10).to_uppercase())["index"],
        INIT_RECORDS + 3
    );
    // The envelope is shared by the 8 files of the ingest: its address names
    // all of them, so as a REF it is ambiguous.
    let meta = by_index["meta"].as_str().unwrap();
    let r = f.run(&["show", &hex_ref(meta, 10)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("matches 8 records"), "{}", r.stderr);
    let blob = by_index["blob"].as_str().unwrap();
    assert_eq!(f.show(&hex_ref(blob, 10))["index"], INIT_RECORDS + 3);
    // Text output names the same record.
    let r = f.run(&["show", &hex_ref(&leaf, 8)]);
    r.ok();
    assert!(
        r.stdout
            .starts_with(&format!("record      {}\n", INIT_RECORDS + 3)),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("leaf hash   {leaf}")),
        "{}",
        r.stdout
    );
    // custody.toml's identity opens the name and path: no hint to give -i.
    assert!(r.stdout.contains("path        "), "{}", r.stdout);
    assert!(!r.stderr.contains("give -i IDENTITY"), "{}", r.stderr);
    // The leaf hash is the RFC 6962 hash of the record bytes from `prove --json`.
    let p = f.json(&["prove", &doc(3)]);
    let rec = b64(p["record"].as_str().unwrap());
    assert_eq!(merkle::leaf_hash(&rec).to_hex(), leaf);
}

#[test]
fn status_json() {
    let f = Fixture::with_samples();
    let s = f.status();
    assert_eq!(s["format"], 1);
    assert_eq!(s["origin"], ORIGIN);
    assert_eq!(s["records"], WITH_SAMPLES);
    // 7 distinct contents + 1 metadata envelope for the 8 files of one
    // ingest, and the first admin's sealed details.
    assert_eq!(s["blobs"], 8 + INIT_BLOBS);
    assert_eq!(s["checkpoints"], 2);
    assert_eq!(
        s["log_key"],
        fs::read_to_string(f.vkey()).unwrap().trim(),
        "{s}"
    );
    assert_eq!(
        s["recipients"],
        serde_json::json!([fs::read_to_string(f.keys.join("recipient.txt"))
            .unwrap()
            .trim()])
    );
    assert_eq!(
        fs::canonicalize(s["path"].as_str().unwrap()).unwrap(),
        fs::canonicalize(&f.dir).unwrap()
    );
    let blob_bytes: u64 = walk_files(&f.dir.join("blobs"))
        .iter()
        .filter(|p| !p.starts_with(f.dir.join("blobs/tmp")))
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(s["blob_bytes"], blob_bytes);
    assert!(s["latest_checkpoint"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ORIGIN}\n{WITH_SAMPLES}\n")));
    let r = f.run(&["status"]);
    r.ok();
    assert!(
        r.stdout.contains(&format!("records:     {WITH_SAMPLES}\n")),
        "{}",
        r.stdout
    );
}

fn walk_files(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `custody checkpoint` prints exactly a C2SP signed checkpoint note.
#[test]
fn checkpoint_is_exact_c2sp_text() {
    let f = Fixture::with_samples();
    let r = f.run(&["checkpoint"]);
    r.ok();
    let text = String::from_utf8(r.stdout_bytes.clone()).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 6, "{text:?}");
    assert_eq!(lines[0], ORIGIN);
    assert_eq!(lines[1], WITH_SAMPLES.to_string());
    let root = b64(lines[2]);
    assert_eq!(root.len(), 32);
    assert_eq!(lines[3], "");
    let prefix = format!("— {ORIGIN} ");
    assert!(lines[4].starts_with(&prefix), "{:?}", lines[4]);
    let sig = b64(&lines[4][prefix.len()..]);
    assert_eq!(sig.len(), 4 + 64, "key ID + Ed25519 signature");
    assert_eq!(lines[5], "");
    let vk = vkey(&f.vkey());
    assert_eq!(sig[..4], vk.key_id().to_be_bytes());
    // The signature verifies with the log's public key, and the root is the
    // Merkle root of the records (as recomputed by `reindex`).
    let opened = SignedCheckpoint::open(text.as_bytes(), &vk, &[]).unwrap();
    assert_eq!(opened.checkpoint.size, WITH_SAMPLES);
    assert_eq!(opened.checkpoint.root.as_bytes()[..], root[..]);
    assert_eq!(text, f.latest_checkpoint());
    let j = f.json(&["checkpoint"]);
    assert_eq!(j["size"], WITH_SAMPLES);
    assert_eq!(j["root"], lines[2]);
    assert_eq!(j["note"], text);
    let all = f.json_lines(&["checkpoint", "--all"]);
    let sizes: Vec<u64> = all.iter().map(|c| c["size"].as_u64().unwrap()).collect();
    // The first checkpoint is init's, over the first admin and the configuration.
    assert_eq!(sizes, [INIT_RECORDS, WITH_SAMPLES]);
    let init_leaves = (0..INIT_RECORDS)
        .map(|i| Digest::from_hex(f.show(&i.to_string())["leaf_hash"].as_str().unwrap()).unwrap());
    assert_eq!(
        all[0]["root"],
        base64::engine::general_purpose::STANDARD.encode(
            merkle::MemoryTree::from_leaf_hashes(init_leaves)
                .root()
                .as_bytes()
        )
    );
    let at_init = f.run(&["checkpoint", "--size", &INIT_RECORDS.to_string()]);
    at_init.ok();
    assert!(at_init
        .stdout
        .starts_with(&format!("{ORIGIN}\n{INIT_RECORDS}\n")));
    // There is no checkpoint of the empty log any more.
    f.run(&["checkpoint", "--size", "0"])
        .error(&["no checkpoint at tree size 0"]);
    f.run(&["checkpoint", "--size", "5"])
        .error(&["no checkpoint at tree size 5"]);
    let re = f.json(&["reindex"]);
    assert_eq!(re["root"], Digest::from_slice(&root).unwrap().to_hex());
    // --sign with nothing new signs nothing.
    let r = f.run(&["checkpoint", "--sign"]);
    r.ok();
    assert_eq!(r.stdout, text);
    assert_eq!(f.status()["checkpoints"], 2);
}

/// prove N > file; verify-proof with the right key, another key, a tampered file.
#[test]
fn prove_and_verify_proof() {
    let f = Fixture::with_samples();
    let r = f.run(&["prove", &doc(5)]);
    r.ok();
    let proof = f.path().join("record-5.tlog-proof");
    fs::write(&proof, &r.stdout_bytes).unwrap();
    let text = r.stdout.clone();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    assert!(text.contains(&format!("\nindex {}\n", doc(5))), "{text}");
    assert!(text.ends_with(&f.latest_checkpoint()), "{text}");

    let check = |trust: &str, file: &std::path::Path| {
        let mut c = custody();
        c.arg("verify-proof").arg(file).arg("--trust").arg(trust);
        run(c)
    };
    // The record is the admin's: without its key, the output says the
    // signature was not checked; with --signer, that it verifies.
    // (its records carry the actor key ID, FORMAT.md §4.16)
    let admin = custody::core::keys::VerifierKey::parse(
        fs::read_to_string(f.keys.join("admin.vkey"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let admin_id = custody::core::record::actor_key_id(&admin.public_bytes()).to_string();
    let ok = check(f.vkey().to_str().unwrap(), &proof);
    ok.ok();
    assert_eq!(
        ok.stdout,
        format!(
            "verified: record {} is included in {ORIGIN} at size {WITH_SAMPLES}\nits signature by key ID {admin_id} (an actor's) was not checked: give --signer VKEY to check it\n",
            doc(5)
        )
    );
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&proof)
        .arg("--trust")
        .arg(f.vkey())
        .arg("--signer")
        .arg(f.keys.join("admin.vkey"))
        .arg("--json");
    let j = run(c).ok().json();
    assert_eq!(j["signature_checked"], true, "{j}");
    // A spoiled record signature is a record_signature finding with --signer.
    let lines: Vec<&str> = text.split('\n').collect();
    let mut rec = b64(lines[1].strip_prefix("extra ").unwrap());
    let n = rec.len();
    rec[n - 10] ^= 1;
    let mut spoiled: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    spoiled[1] = format!(
        "extra {}",
        base64::engine::general_purpose::STANDARD.encode(&rec)
    );
    let sp = f.path().join("spoiled.tlog-proof");
    fs::write(&sp, spoiled.join("\n")).unwrap();
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&sp)
        .arg("--trust")
        .arg(f.vkey())
        .arg("--signer")
        .arg(f.keys.join("admin.vkey"));
    let r = run(c);
    r.code(FINDING);
    assert!(r.stdout.contains("record_signature"), "{}", r.stdout);
    // The vkey given as text works as well.
    let vtext = fs::read_to_string(f.vkey()).unwrap();
    check(vtext.trim(), &proof).ok();

    // Another outlet's key.
    let guardian = f.other_keys("guardian").join("signing.vkey");
    let bad = check(guardian.to_str().unwrap(), &proof);
    bad.code(FINDING);
    assert!(
        bad.stdout.contains("checkpoint_signature"),
        "{}",
        bad.stdout
    );
    // (the record is not the Guardian's key's: its signature is not checked)
    assert!(!bad.stdout.contains("record_signature"), "{}", bad.stdout);

    // A tampered proof hash.
    let lines: Vec<&str> = text.split('\n').collect();
    let hash_line = lines.iter().position(|l| l.starts_with("index ")).unwrap() + 1;
    let mut h = b64(lines[hash_line]);
    h[0] ^= 1;
    let mut tampered: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    tampered[hash_line] = base64::engine::general_purpose::STANDARD.encode(&h);
    let tp = f.path().join("tampered.tlog-proof");
    fs::write(&tp, tampered.join("\n")).unwrap();
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&tp)
        .arg("--trust")
        .arg(f.vkey())
        .arg("--json");
    let r = run(c);
    r.code(FINDING);
    let j = r.json();
    assert_eq!(j["ok"], false);
    let findings = j["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|x| x.as_str().unwrap().starts_with("inclusion_proof")),
        "{j}"
    );

    // A proof claiming another index for the same record.
    let moved = text.replace(
        &format!("\nindex {}\n", doc(5)),
        &format!("\nindex {}\n", doc(4)),
    );
    let mp = f.path().join("moved.tlog-proof");
    fs::write(&mp, moved).unwrap();
    let r = check(f.vkey().to_str().unwrap(), &mp);
    r.code(FINDING);
    assert!(r.stdout.contains("record_index"), "{}", r.stdout);

    // --json of a good proof.
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&proof)
        .arg("--trust")
        .arg(f.vkey())
        .arg("--json");
    let r = run(c);
    r.ok();
    let j = r.json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["index"], INIT_RECORDS + 5);
    assert_eq!(j["size"], WITH_SAMPLES);

    // prove --json agrees with the library's proof verification.
    let p = f.json(&["prove", &doc(5)]);
    let leaf = merkle::leaf_hash(&b64(p["record"].as_str().unwrap()));
    assert_eq!(
        p["leaf_hash"],
        base64::engine::general_purpose::STANDARD.encode(leaf.as_bytes())
    );
    let hashes: Vec<Digest> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Digest::from_slice(&b64(h.as_str().unwrap())).unwrap())
        .collect();
    let cp = SignedCheckpoint::open(
        p["checkpoint"].as_str().unwrap().as_bytes(),
        &vkey(&f.vkey()),
        &[],
    )
    .unwrap()
    .checkpoint;
    merkle::verify_inclusion(
        merkle::LeafIndex(INIT_RECORDS + 5),
        TreeSize(WITH_SAMPLES),
        &leaf,
        &hashes,
        &cp.root,
    )
    .unwrap();
    // A record not covered by a checkpoint / out of range.
    f.run(&["prove", &doc(8)]).error(&["no record matches"]);
}

/// prove --consistency OLD: `old N`, the hashes, a blank line, the checkpoint.
#[test]
fn prove_consistency() {
    let f = Fixture::with_samples();
    let old_size = WITH_SAMPLES.to_string();
    let old_root = f.json(&["checkpoint", "--size", &old_size])["root"]
        .as_str()
        .unwrap()
        .to_string();
    let extra = f.path().join("extra.txt");
    fs::write(&extra, b"one more document\n").unwrap();
    f.ingest_json(&[extra.to_str().unwrap()]);
    let r = f.run(&["prove", "--consistency", &old_size]);
    r.ok();
    let latest = f.latest_checkpoint();
    assert!(latest.starts_with(&format!("{ORIGIN}\n{}\n", WITH_SAMPLES + 1)));
    let old_line = format!("old {WITH_SAMPLES}\n");
    assert!(r.stdout.starts_with(&old_line), "{}", r.stdout);
    assert!(r.stdout.ends_with(&latest), "{}", r.stdout);
    let head = &r.stdout[..r.stdout.len() - latest.len()];
    assert!(head.ends_with("\n\n"), "{head:?}");
    let hashes: Vec<Digest> = head[old_line.len()..head.len() - 2]
        .lines()
        .map(|l| Digest::from_slice(&b64(l)).unwrap())
        .collect();
    assert!(!hashes.is_empty());
    let new_cp = SignedCheckpoint::open(latest.as_bytes(), &vkey(&f.vkey()), &[])
        .unwrap()
        .checkpoint;
    let old = Digest::from_slice(&b64(&old_root)).unwrap();
    merkle::verify_consistency(
        TreeSize(WITH_SAMPLES),
        TreeSize(WITH_SAMPLES + 1),
        &old,
        &new_cp.root,
        &hashes,
    )
    .unwrap();
    let j = f.json(&["prove", "--consistency", &old_size]);
    assert_eq!(j["old_size"], WITH_SAMPLES);
    assert_eq!(j["new_size"], WITH_SAMPLES + 1);
    assert_eq!(j["old_root"], old_root);
    assert_eq!(j["checkpoint"], latest);
    assert_eq!(j["proof"].as_array().unwrap().len(), hashes.len());
    // OLD need not be a checkpointed size (FORMAT.md §8.2): from 0, the
    // empty proof (a witness's first request), though the oldest checkpoint
    // is init's.
    let r = f.run(&["prove", "--consistency", "0", &old_size]);
    r.ok();
    assert!(
        r.stdout
            .starts_with(&format!("old 0\n\n{ORIGIN}\n{WITH_SAMPLES}\n")),
        "{}",
        r.stdout
    );
    let j = f.json(&["prove", "--consistency", "0", &old_size]);
    assert_eq!(j["old_checkpoint"], Value::Null, "{j}");
    assert_eq!(j["proof"].as_array().unwrap().len(), 0, "{j}");
    let init_size = INIT_RECORDS.to_string();
    let r = f.run(&["prove", "--consistency", &init_size, &old_size]);
    r.ok();
    assert!(
        r.stdout.starts_with(&format!("old {INIT_RECORDS}\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("\n\n{ORIGIN}\n{WITH_SAMPLES}\n")),
        "{}",
        r.stdout
    );
    let j = f.json(&["prove", "--consistency", &init_size, &old_size]);
    let init_root = f.json(&["checkpoint", "--size", &init_size])["root"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(j["old_root"], init_root);
    let hashes: Vec<Digest> = j["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Digest::from_slice(&b64(h.as_str().unwrap())).unwrap())
        .collect();
    merkle::verify_consistency(
        TreeSize(INIT_RECORDS),
        TreeSize(WITH_SAMPLES),
        &Digest::from_slice(&b64(&init_root)).unwrap(),
        &old,
        &hashes,
    )
    .unwrap();
    // From a size the log signed no checkpoint at: the proof checks out
    // against the latest checkpoint; NEW must be a checkpointed size.
    let j = f.json(&["prove", "--consistency", "5"]);
    assert_eq!(j["old_checkpoint"], Value::Null, "{j}");
    let hashes: Vec<Digest> = j["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Digest::from_slice(&b64(h.as_str().unwrap())).unwrap())
        .collect();
    merkle::verify_consistency(
        TreeSize(5),
        TreeSize(WITH_SAMPLES + 1),
        &Digest::from_slice(&b64(j["old_root"].as_str().unwrap())).unwrap(),
        &new_cp.root,
        &hashes,
    )
    .unwrap();
    f.run(&["prove", "--consistency", "3", "5"])
        .error(&["no checkpoint at tree size 5"]);
    f.run(&["prove", "--consistency", &old_size, "2"])
        .error(&["larger than"]);
}

#[test]
fn extract_roundtrip_and_refusals() {
    let f = Fixture::with_samples();
    let id = f.identity();
    let id = id.to_str().unwrap();
    let outdir = f.path().join("out");
    fs::create_dir(&outdir).unwrap();
    for (i, p) in SAMPLE_FILES.iter().enumerate() {
        let out = outdir.join(format!("doc-{i}"));
        let j = f.json(&[
            "extract",
            &doc(i as u64),
            "-i",
            id,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(j["index"], INIT_RECORDS + i as u64);
        assert_eq!(j["original_path"], *p);
        assert_eq!(fs::read(&out).unwrap(), sample_bytes(p), "{p}");
        assert_eq!(j["size"], sample_bytes(p).len() as u64);
    }
    // Text output.
    let out = outdir.join("memo.txt");
    let r = f.run(&["extract", &doc(6), "-i", id, "-o", out.to_str().unwrap()]);
    r.ok();
    assert!(r.stdout.contains("matches the commitment"), "{}", r.stdout);

    // Refuses to overwrite without --force; the file is unchanged.
    let precious = outdir.join("precious.txt");
    fs::write(&precious, b"do not touch").unwrap();
    f.run(&[
        "extract",
        &doc(3),
        "-i",
        id,
        "-o",
        precious.to_str().unwrap(),
    ])
    .error(&["already exists", "--force"]);
    assert_eq!(fs::read(&precious).unwrap(), b"do not touch");
    f.run(&[
        "extract",
        &doc(3),
        "-i",
        id,
        "-o",
        precious.to_str().unwrap(),
        "--force",
    ])
    .ok();
    assert_eq!(fs::read(&precious).unwrap(), sample_bytes(SAMPLE_FILES[3]));

    // Never into the archive.
    for inside in [f.dir.join("plain.txt"), f.dir.join("blobs/plain.txt")] {
        f.run(&["extract", &doc(3), "-i", id, "-o", inside.to_str().unwrap()])
            .error(&["inside the archive"]);
        assert!(!inside.exists());
    }
    // No temporary plaintext left anywhere.
    let left: Vec<_> = fs::read_dir(&outdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    f.assert_verified();
}

/// Ingest walks in sorted order; the empty file is fine; equal contents are
/// stored once; ingesting the same file again makes a new record.
#[test]
fn ingest_order_empty_and_duplicates() {
    let f = Fixture::new();
    let lines = f.ingest_samples();
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, SAMPLE_FILES);
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], INIT_RECORDS + i as u64);
        let bytes = sample_bytes(SAMPLE_FILES[i]);
        assert_eq!(l["size"], bytes.len() as u64);
        assert_eq!(l["sha256"], Digest::of(&bytes).to_hex());
    }
    // The empty file.
    assert_eq!(lines[4]["size"], 0);
    assert_eq!(lines[4]["sha256"], Digest::of(b"").to_hex());
    // attachment-board-memo.txt and 2026-03-14-board-memo.txt have equal content.
    assert_eq!(lines[1]["sha256"], lines[6]["sha256"]);
    assert_eq!(lines[1]["blob"], lines[6]["blob"]);
    assert_eq!(lines[1]["deduplicated"], false);
    assert_eq!(lines[6]["deduplicated"], true);
    let dedups = lines.iter().filter(|l| l["deduplicated"] == true).count();
    assert_eq!(dedups, 1);
    let (b1, b6) = (f.show(&doc(1)), f.show(&doc(6)));
    assert_eq!(b1["blob"], b6["blob"]);
    assert_eq!(
        b1["meta"], b6["meta"],
        "the files of one ingest batch share an envelope"
    );
    assert_eq!(f.status()["blobs"], 7 + 1 + INIT_BLOBS);
    let blob = b1["blob"].as_str().unwrap();
    assert!(f.blob_path(blob).is_file());

    // Ingest the same file twice (--again: the same path and content): two
    // records, one blob more each (its envelope).
    let one = sample_leak().join("emails/msg-0001.eml");
    let a = f.ingest_json(&[one.to_str().unwrap()]);
    let b = f.ingest_json(&["--again", one.to_str().unwrap()]);
    assert_eq!(a.len(), 1);
    assert_eq!(b.len(), 1);
    assert_eq!(a[0]["index"], INIT_RECORDS + 8);
    assert_eq!(b[0]["index"], INIT_RECORDS + 9);
    assert_eq!(a[0]["path"], "msg-0001.eml");
    assert_eq!(a[0]["blob"], lines[2]["blob"]);
    assert_eq!(b[0]["blob"], lines[2]["blob"]);
    assert_eq!(a[0]["deduplicated"], true);
    assert_ne!(a[0]["leaf_hash"], b[0]["leaf_hash"]);
    let s = f.status();
    assert_eq!(s["records"], INIT_RECORDS + 10);
    assert_eq!(s["blobs"], 7 + 3 + INIT_BLOBS);
    assert_eq!(s["checkpoints"], 4);
    f.assert_verified();
}

/// Every reporting command's --json output is JSON (one value per line).
#[test]
fn json_on_every_reporting_command() {
    let f = Fixture::uninit();
    let mut c = custody();
    c.arg("init")
        .arg(&f.dir)
        .arg("--signing-key")
        .arg(f.signing_key())
        .arg("--admin-key")
        .arg(f.admin_key())
        .arg("--recipient")
        .arg(f.keys.join("recipient.txt"))
        .arg("--json");
    let r = run(c);
    r.ok();
    let init = r.json();
    assert_eq!(init["origin"], ORIGIN);
    assert!(init["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ORIGIN}\n{INIT_RECORDS}\n")));

    let mut c = f.cmd();
    c.arg("ingest").arg(sample_leak()).arg("--json");
    let r = run(c);
    r.ok();
    let lines = r.json_lines();
    assert_eq!(lines.len(), 9);
    let summary = &lines[8]["summary"];
    assert_eq!(summary["files"], 8);
    assert_eq!(summary["deduplicated"], 1);
    assert_eq!(
        summary["bytes"],
        SAMPLE_FILES
            .iter()
            .map(|p| sample_bytes(p).len() as u64)
            .sum::<u64>()
    );
    assert_eq!(summary["tree_size"], WITH_SAMPLES);

    let id = f.identity();
    let id = id.to_str().unwrap();
    let out = f.path().join("x.out");
    let proof = f.path().join("p");
    let first = doc(0);
    let init_size = INIT_RECORDS.to_string();
    let cmds: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["verify"],
        vec!["verify", "--deep", "-i", id],
        vec!["log"],
        vec!["log", "-i", id],
        vec!["show", &first],
        vec!["show", &first, "-i", id],
        vec!["checkpoint"],
        vec!["checkpoint", "--all"],
        vec!["checkpoint", "--sign"],
        vec!["prove", &first],
        vec!["prove", "--consistency", &init_size],
        vec!["extract", &first, "-i", id, "-o", out.to_str().unwrap()],
        vec!["reindex"],
    ];
    for args in cmds {
        let mut c = f.cmd();
        c.args(&args).arg("--json");
        let r = run(c);
        r.ok();
        assert!(!r.stdout.is_empty(), "{args:?} printed nothing");
        let values = r.json_lines();
        assert!(
            values.iter().all(Value::is_object),
            "{args:?}: {}",
            r.stdout
        );
    }
    let r = f.run(&["prove", &first]);
    fs::write(&proof, &r.stdout_bytes).unwrap();
    let mut c = custody();
    c.arg("verify-proof")
        .arg(&proof)
        .arg("--trust")
        .arg(f.vkey())
        .arg("--json");
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["ok"], true);

    let mut c = custody();
    let kdir = f.path().join("newkeys");
    c.arg("keygen")
        .args(["--name", "test.example/log", "-o"])
        .arg(&kdir)
        .arg("--json");
    let r = run(c);
    r.ok();
    let k = r.json();
    assert!(k["vkey"].as_str().unwrap().starts_with("test.example/log+"));
    assert!(k["recipient"].as_str().unwrap().starts_with("age1"));
    assert_eq!(k["passphrase_protected"], false);
}

#[test]
fn discovery_from_a_subdirectory() {
    let f = Fixture::with_samples();
    for sub in ["ledger", "blobs/ab", "db"] {
        let mut c = custody();
        c.current_dir(f.dir.join(sub)).args(["status", "--json"]);
        let r = run(c);
        r.ok();
        let s = r.json();
        assert_eq!(s["records"], WITH_SAMPLES);
        assert_eq!(
            fs::canonicalize(s["path"].as_str().unwrap()).unwrap(),
            fs::canonicalize(&f.dir).unwrap()
        );
    }
    let mut c = custody();
    c.current_dir(f.dir.join("ledger")).args(["verify"]);
    run(c).ok();
}

#[test]
fn discovery_from_custody_archive_env() {
    let f = Fixture::with_samples();
    let elsewhere = tempfile::tempdir().unwrap();
    let mut c = custody();
    c.current_dir(elsewhere.path())
        .env("CUSTODY_ARCHIVE", &f.dir)
        .args(["status", "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["records"], WITH_SAMPLES);
    // -A wins over the environment.
    let other = Fixture::new();
    let mut c = custody();
    c.current_dir(elsewhere.path())
        .env("CUSTODY_ARCHIVE", &f.dir)
        .arg("-A")
        .arg(&other.dir)
        .args(["status", "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["records"], INIT_RECORDS);
    // A CUSTODY_ARCHIVE that is not an archive is an error, not a search.
    let mut c = custody();
    c.current_dir(f.dir.join("ledger"))
        .env("CUSTODY_ARCHIVE", elsewhere.path())
        .arg("status");
    run(c).error(&["no custody archive", "CUSTODY_ARCHIVE"]);
}

#[test]
fn discovery_outside_any_archive() {
    let elsewhere = tempfile::tempdir().unwrap();
    for cmd in [&["status"][..], &["verify"], &["log"], &["checkpoint"]] {
        let mut c = custody();
        c.current_dir(elsewhere.path()).args(cmd);
        let line = run(c).error(&["no custody archive"]);
        assert!(line.contains("custody init"), "{line}");
    }
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn completions_bash() {
    let mut c = custody();
    c.args(["completions", "bash"]);
    let r = run(c);
    r.ok();
    assert!(
        r.stdout.contains("_custody()"),
        "{}",
        &r.stdout[..r.stdout.len().min(500)]
    );
    assert!(r.stdout.contains("complete -F _custody"));
    for sub in ["ingest", "verify-proof", "extract", "reindex"] {
        assert!(r.stdout.contains(sub), "{sub}");
    }
    let mut c = custody();
    c.args(["completions", "nosuchshell"]);
    assert_eq!(run(c).code, ERROR);
}

#[test]
fn help_texts() {
    let mut c = custody();
    c.args(["ingest", "--help"]);
    let r = run(c);
    r.ok();
    assert!(r.stdout.contains("Examples:"), "{}", r.stdout);
    assert!(r.stdout.contains("custody ingest "), "{}", r.stdout);
    for flag in [
        "--source",
        "--case",
        "--note",
        "--follow-symlinks",
        "--signing-key",
    ] {
        assert!(r.stdout.contains(flag), "{flag}");
    }
    let mut c = custody();
    c.arg("--help");
    let r = run(c);
    r.ok();
    assert!(r
        .stdout
        .contains("Exit codes: 0 success/verified, 1 verification finding, 2 could not complete"));
    let mut c = custody();
    c.arg("--version");
    let r = run(c);
    r.ok();
    assert!(r.stdout.starts_with("custody "));
    // A usage error exits 2.
    let mut c = custody();
    c.args(["ingest"]);
    assert_eq!(run(c).code, ERROR);
}
