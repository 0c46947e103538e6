//! Regression tests named after the findings of the first integration-test pass.

mod common;

use common::*;

/// `verify --deep` with an identity that is not a recipient could not run: exit 2
/// with a hint, not 1 with a finding per record that looks like tampering.
#[test]
fn deep_verify_with_a_foreign_identity_is_an_error_not_findings() {
    let f = Fixture::with_samples();
    let other = f.other_keys("guardian").join("identity.age");
    let r = f.run(&["verify", "--deep", "-i", other.to_str().unwrap()]);
    r.code(2);
    r.error(&["recipient"]);
}

/// A digest prefix made only of decimal digits that is not a record index of
/// this log is looked up as a digest prefix.
#[test]
fn all_digit_prefix_beyond_the_log_is_a_digest_prefix() {
    let f = Fixture::with_samples();
    let lines = f.json_lines(&["log"]);
    // Find a leaf hash whose first 4..8 hex digits are all decimal, if any; else
    // check that an out-of-range all-digit REF gives a clear "no record" error.
    let mut tried = false;
    for l in &lines {
        let h = l["leaf_hash"].as_str().unwrap();
        if let Some(n) = (4..=8).find(|&n| h[..n].bytes().all(|b| b.is_ascii_digit())) {
            if h[..n].parse::<u64>().unwrap() >= lines.len() as u64 {
                let r = f.json(&["show", &h[..n]]);
                assert_eq!(r["leaf_hash"], l["leaf_hash"]);
                tried = true;
            }
        }
    }
    if !tried {
        f.run(&["show", "99999999"])
            .code(2)
            .error(&["no record matches"]);
    }
}

/// `ingest .` records the directory's real name, not `.`.
#[test]
fn ingest_dot_uses_the_directory_name() {
    let f = Fixture::new();
    let src = f.tmp.path().join("incoming");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/f.txt"), b"x").unwrap();
    let out = run({
        let mut c = f.cmd();
        c.current_dir(src.join("sub"))
            .args(["ingest", "..", "--json"]);
        c
    });
    out.ok();
    let first = &out.json_lines()[0];
    assert_eq!(first["path"], "incoming/sub/f.txt");
}

/// keygen never overwrites keys, and its hint does not offer a --force it lacks.
#[test]
fn keygen_refuses_to_overwrite_without_offering_force() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("k");
    let ds = d.to_str().unwrap();
    run({
        let mut c = custody();
        c.args(["keygen", "--name", "example.org/x", "-o", ds]);
        c
    })
    .ok();
    let r = run({
        let mut c = custody();
        c.args(["keygen", "--name", "example.org/x", "-o", ds]);
        c
    });
    r.code(2);
    let msg = r.error(&["already exists"]);
    assert!(!msg.contains("--force"), "{msg}");
}

/// Small files are encoded by worker threads (issue 5): records must still
/// come in sorted input order, and duplicates must still be stored once
/// (the first in input order), whatever order the workers finish in.
#[test]
fn parallel_ingest_keeps_input_order_and_deduplicates() {
    let f = Fixture::new();
    let src = f.path().join("many");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..300u32 {
        // Every 7th file repeats the content of file 0; sizes vary so that
        // workers finish out of order.
        let body = if i % 7 == 0 {
            b"the same content\n".to_vec()
        } else {
            format!("file {i}\n")
                .repeat(1 + (i as usize * 37) % 900)
                .into_bytes()
        };
        std::fs::write(src.join(format!("f{i:03}.txt")), body).unwrap();
    }
    let mut c = f.cmd();
    c.env("CUSTODY_INGEST_WORKERS", "3")
        .args(["ingest", src.to_str().unwrap(), "--json"]);
    let r = run(c);
    r.ok();
    let mut lines = r.json_lines();
    let summary = lines.pop().unwrap();
    assert_eq!(summary["summary"]["files"], 300);
    assert_eq!(
        summary["summary"]["deduplicated"], 42,
        "43 copies, 42 deduplicated"
    );
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], INIT_RECORDS + i as u64);
        assert_eq!(l["path"], format!("many/f{i:03}.txt"));
        assert_eq!(l["deduplicated"], i % 7 == 0 && i > 0, "{l}");
    }
    // 258 distinct contents + the envelopes (one per ingest batch, usually
    // one here, more if a batch was cut by time); no temp file left.
    // The log starts with the first admin and the configuration (no envelope;
    // the admin's sealed details are one blob, INIT_BLOBS).
    let log = f.json_lines(&["log"]);
    assert_eq!(log.len() as u64, INIT_RECORDS + 300);
    let (init, ingested) = log.split_at(INIT_RECORDS as usize);
    assert!(init.iter().all(|r| r.get("meta").is_none()), "{init:?}");
    let envelopes: std::collections::BTreeSet<String> = ingested
        .iter()
        .map(|r| r["meta"].as_str().unwrap().to_string())
        .collect();
    assert!((1..=300).contains(&envelopes.len()));
    assert_eq!(
        f.status()["blobs"],
        258 + envelopes.len() as u64 + INIT_BLOBS
    );
    f.assert_verified();
}

/// The global `--key` (CUSTODY_KEY, a person's key for records) shared its
/// argument id with `witness cosign --witness-key`: with CUSTODY_KEY set, a
/// witness cosigned with the person's key (found by scripts/demo.sh).
#[test]
fn regression_custody_key_is_never_taken_for_the_witness_key() {
    let f = Fixture::with_samples();
    let w = Fixture::new_as("972mag");
    w.run(&[
        "witness",
        "add-log",
        "dropsite.example/leaks",
        f.vkey().to_str().unwrap(),
        "--witness-key",
        w.keys.join("witness.key").to_str().unwrap(),
    ])
    .ok();
    let cp = f.path().join("checkpoint");
    std::fs::write(&cp, f.run(&["checkpoint"]).ok().stdout_bytes.clone()).unwrap();
    let mut c = w.cmd();
    c.env("CUSTODY_KEY", w.admin_key())
        .args(["witness", "cosign"])
        .arg(&cp);
    let r = run(c);
    r.ok();
    assert!(r.stdout.contains("972mag.example/witness"), "{}", r.stdout);
    assert!(!r.stdout.contains("/admin"), "{}", r.stdout);
}
