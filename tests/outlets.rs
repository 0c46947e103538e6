//! Custody between outlets, end to end with the four keys-example/ outlets in
//! four temp archives: share, verify-bundle, receive, share onward, trace; then
//! the attacks on bundles, each with the exact finding, and bad bundles.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::bundle::{read_head, write_head, BundleHead};
use custody::core::tlog_proof::TlogProof;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The index of the `k`-th record after a new archive's own first records
/// (the first admin and the configuration): of the `k`-th sample document
/// in Drop Site, of the `k`-th receive in a partner.
fn rec(k: u64) -> u64 {
    INIT_RECORDS + k
}

/// [`rec`] as a command-line argument.
fn arg(k: u64) -> String {
    rec(k).to_string()
}

/// Drop Site with the sample leak, and empty archives for the three partners.
struct Outlets {
    ds: Fixture,
    gu: Fixture,
    mag: Fixture,
    lc: Fixture,
    /// Where bundles are exchanged.
    wire: tempfile::TempDir,
}

impl Outlets {
    fn new() -> Outlets {
        let ds = Fixture::new_as("dropsite");
        ds.ingest_samples();
        Outlets {
            ds,
            gu: Fixture::new_as("guardian"),
            mag: Fixture::new_as("972mag"),
            lc: Fixture::new_as("localcall"),
            wire: tempfile::tempdir().unwrap(),
        }
    }
    fn wire(&self, name: &str) -> PathBuf {
        self.wire.path().join(name)
    }
}

/// `custody share REF --to RECIPIENT -i ID -o OUT --json` in `from`.
fn share(from: &Fixture, reference: &str, to: &Fixture, out: &Path) -> Value {
    from.json(&[
        "share",
        reference,
        "--to",
        s(&to.keys.join("recipient.txt")),
        "-i",
        s(&from.identity()),
        "-o",
        s(out),
    ])
}

/// `verify-bundle --json` with the given extra args: exit code and report.
fn verify_bundle(bundle: &Path, extra: &[&str]) -> (i32, Value) {
    let mut c = custody();
    c.arg("verify-bundle").arg(bundle).arg("--json").args(extra);
    let r = run(c);
    r.no_panic();
    assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["ok"].as_bool(), Some(r.code == OK), "{v}");
    (r.code, v)
}

fn trust(f: &Fixture) -> [String; 2] {
    ["--trust".into(), f.vkey().to_str().unwrap().into()]
}

fn load(path: &Path) -> (BundleHead, Vec<u8>) {
    let bytes = fs::read(path).unwrap();
    let mut r = &bytes[..];
    let head = read_head(&mut r).unwrap();
    (head, r.to_vec())
}

fn save(path: &Path, head: &BundleHead, payload: &[u8]) {
    let mut out = Vec::new();
    write_head(&mut out, head).unwrap();
    out.extend_from_slice(payload);
    fs::write(path, out).unwrap();
}

/// Rewrites every tlog-proof of the last hop of a bundle.
fn edit_entries(src: &Path, dst: &Path, f: impl Fn(usize, TlogProof) -> TlogProof) {
    let (mut head, payload) = load(src);
    let hop = head.evidence.hops.last_mut().unwrap();
    for (k, e) in hop.entries.iter_mut().enumerate() {
        *e = f(k, TlogProof::parse(e).unwrap()).encode().into_bytes();
    }
    save(dst, &head, &payload);
}

fn rebuild(
    p: &TlogProof,
    extra: Option<Vec<u8>>,
    hashes: Option<Vec<custody::core::hash::Digest>>,
    note: Option<&str>,
) -> TlogProof {
    TlogProof::new(
        p.index(),
        hashes.unwrap_or_else(|| p.hashes().to_vec()),
        extra.or_else(|| p.extra().map(<[u8]>::to_vec)),
        note.unwrap_or(p.checkpoint_note()),
    )
    .unwrap()
}

#[test]
fn four_outlets_share_verify_receive_share_onward_and_trace() {
    let o = Outlets::new();
    let a = o.wire("memo-for-guardian.bundle");
    let sh = share(&o.ds, &arg(2), &o.gu, &a);
    assert_eq!(sh["document"], rec(2));
    assert_eq!(
        sh["index"],
        rec(8),
        "the share is a record of the origin ledger"
    );
    assert_eq!(sh["hops"], 1);
    assert_eq!(sh["records"], 2, "the ingest and the share");
    // The hop also proves the records that say who signed them (FORMAT.md
    // §10.2): the first admin and the configuration.
    let kinds: Vec<String> = load(&a).0.evidence.hops[0]
        .entries
        .iter()
        .map(|e| {
            let p = TlogProof::parse(e).unwrap();
            o.ds.show(&p.index().to_string())["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["actor", "config", "ingest", "share"]);
    o.ds.assert_verified();
    let shown = o.ds.show(&arg(8));
    assert_eq!(shown["kind"], "share");
    assert_eq!(shown["document"], rec(2));

    // The Guardian verifies offline, with and without its identity.
    let tr = trust(&o.ds);
    let (code, v) = verify_bundle(&a, &[&tr[0], &tr[1]]);
    assert_eq!(code, OK, "{v}");
    assert_eq!(v["report"]["decrypted"], false);
    let gid = o.gu.identity();
    let (code, v) = verify_bundle(&a, &[&tr[0], &tr[1], "-i", s(&gid)]);
    assert_eq!(code, OK, "{v}");
    assert_eq!(v["report"]["decrypted"], true);
    assert_eq!(v["report"]["name"], "msg-0001.eml");
    let hops = v["report"]["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 1);
    assert_eq!(hops[0]["origin"], "dropsite.example/leaks");
    assert_eq!(hops[0]["trusted"], true);

    // It receives the document, linked to Drop Site's share record.
    let rx =
        o.gu.json(&["receive", s(&a), "-i", s(&gid), &tr[0], &tr[1]]);
    assert_eq!(rx["index"], rec(0));
    assert_eq!(rx["from"]["origin"], "dropsite.example/leaks");
    assert_eq!(rx["from"]["index"], rec(8));
    assert_eq!(rx["from"]["checkpoint_size"], rec(9));
    let shown = o.gu.show(&arg(0));
    assert_eq!(shown["kind"], "receive");
    o.gu.assert_verified();
    let ev =
        o.gu.dir
            .join("evidence")
            .join(rx["evidence"].as_str().unwrap());
    assert!(ev.is_file(), "evidence kept at {}", ev.display());

    // Receiving the same bundle twice is refused (exit 1), nothing stored.
    let before = o.gu.snapshot();
    let r = o.gu.run(&["receive", s(&a), "-i", s(&gid), &tr[0], &tr[1]]);
    r.code(FINDING);
    assert!(
        r.stderr
            .contains(&format!("already received as record {}", rec(0))),
        "{}",
        r.stderr
    );
    o.gu.assert_unchanged(&before);

    // The Guardian shares it on to +972, which receives it.
    let b = o.wire("memo-for-972.bundle");
    let sh2 = share(&o.gu, &arg(0), &o.mag, &b);
    assert_eq!(sh2["hops"], 2);
    let trg = trust(&o.gu);
    let mid = o.mag.identity();
    let both = [&tr[0][..], &tr[1], &trg[0], &trg[1]];
    let (code, v) = verify_bundle(&b, &[&both[..], &["-i", s(&mid)]].concat());
    assert_eq!(code, OK, "{v}");
    let rx2 = o
        .mag
        .json(&[&["receive", s(&b), "-i", s(&mid)], &both[..]].concat());
    assert_eq!(rx2["from"]["origin"], "theguardian.example/custody");
    assert_eq!(rx2["hops"], 2);

    // +972's trace shows Drop Site, the Guardian, +972, every record verified.
    let t = o.mag.json(&[&["trace", &arg(0)], &both[..]].concat());
    assert_eq!(t["ok"], true, "{t}");
    let hops = t["trace"]["hops"].as_array().unwrap();
    let origins: Vec<&str> = hops.iter().map(|h| h["origin"].as_str().unwrap()).collect();
    assert_eq!(
        origins,
        [
            "dropsite.example/leaks",
            "theguardian.example/custody",
            "972mag.example/custody"
        ]
    );
    let kinds: Vec<Vec<&str>> = hops
        .iter()
        .map(|h| {
            h["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    assert_eq!(e["verified"], true, "{e}");
                    e["kind"].as_str().unwrap()
                })
                .collect()
        })
        .collect();
    // Each log's first admin and configuration come first (FORMAT.md §10.2).
    assert_eq!(
        kinds,
        vec![
            vec!["actor", "config", "ingest", "share"],
            vec!["actor", "config", "receive", "share"],
            vec!["actor", "config", "receive"]
        ]
    );
    // Without trusting the Guardian, the trace says so.
    let r = o.mag.run(&["trace", &arg(0), "--json", &tr[0], &tr[1]]);
    r.code(FINDING);
    assert_checks(&parse_trace(&r.stdout), &["untrusted_log"]);

    // The bytes at the end of the chain are the bytes Drop Site ingested.
    let out = o.mag.path().join("memo.eml");
    o.mag
        .run(&["extract", &arg(0), "-i", s(&mid), "-o", s(&out)])
        .ok();
    assert_eq!(
        fs::read(&out).unwrap(),
        sample_bytes("sample-leak/emails/msg-0001.eml")
    );
    for f in [&o.ds, &o.gu, &o.mag] {
        f.assert_verified();
    }
    // An intermediate outlet cannot swap in other evidence for the first hop:
    // here the Guardian's bundle with Drop Site's evidence of another share.
    let other = o.wire("other.bundle");
    share(&o.ds, &arg(3), &o.gu, &other);
    let (donor, _) = load(&other);
    let (mut head, payload) = load(&b);
    head.evidence.hops[0] = donor.evidence.hops[0].clone();
    let swapped = o.wire("swapped.bundle");
    save(&swapped, &head, &payload);
    let (code, v) = verify_bundle(&swapped, &both);
    assert_eq!(code, FINDING);
    assert_checks(&v, &["hop_link"]);
    assert!(
        checks(&v).iter().all(|c| c == "hop_link"),
        "every other check still holds: {v}"
    );

    // The evidence +972 keeps is itself evidence: altering it is found by
    // verify and by trace.
    let kept = fs::read_dir(o.mag.dir.join("evidence"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = fs::read(&kept).unwrap();
    flip_byte(&kept, good.len() / 2);
    let (code, v) = o.mag.verify(&[]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), ["evidence"], "{v}");
    let r = o
        .mag
        .run(&[&["trace", &arg(0), "--json"], &both[..]].concat());
    r.code(FINDING);
    assert_checks(&parse_trace(&r.stdout), &["evidence"]);
    fs::write(&kept, good).unwrap();
    o.mag.assert_verified();

    // The Guardian's trace from its own archive: two hops.
    let t = o.gu.json(&["trace", &arg(0), &tr[0], &tr[1]]);
    assert_eq!(t["trace"]["hops"].as_array().unwrap().len(), 2);
    // Drop Site's trace of the original: one hop, ingest then share (after
    // the first admin and the configuration).
    let t = o.ds.json(&["trace", &arg(2)]);
    let events: Vec<&str> = t["trace"]["hops"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["actor", "config", "ingest", "share"]);
}

/// `trace --json` output wrapped like a verify report for `assert_checks`.
fn parse_trace(stdout: &str) -> Value {
    let v = parse_json(stdout);
    serde_json::json!({ "report": { "findings": v["trace"]["findings"] } })
}

#[test]
fn attacks_on_a_bundle_are_named_findings() {
    let o = Outlets::new();
    let a = o.wire("a.bundle");
    let sh = share(&o.ds, &arg(2), &o.gu, &a);
    // The entries of the hop are the first admin, the configuration (§10.2),
    // the ingest and the share.
    let ingest_index = rec(2);
    let share_index = sh["index"].as_u64().unwrap();
    let entries = load(&a).0.evidence.hops[0].entries.len();
    assert_eq!(entries, 4);
    let tr = trust(&o.ds);
    let gid = o.gu.identity();
    let with_id = [&tr[0][..], &tr[1], "-i", s(&gid)];
    let t = |name: &str| o.wire(name);

    // A flipped byte in the ciphertext.
    let (head, mut payload) = load(&a);
    let mid = payload.len() / 2;
    payload[mid] ^= 1;
    save(&t("ct.bundle"), &head, &payload);
    let (code, v) = verify_bundle(&t("ct.bundle"), &[&tr[0], &tr[1]]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), ["payload_digest"], "{v}");
    let (_, v) = verify_bundle(&t("ct.bundle"), &with_id);
    assert_checks(&v, &["payload_digest", "content"]);

    // A flipped byte in a record (the ingest's time field).
    edit_entries(&a, &t("rec.bundle"), |_, p| {
        if p.index() != ingest_index {
            return p;
        }
        let mut rec = p.extra().unwrap().to_vec();
        rec[12] ^= 1;
        rebuild(&p, Some(rec), None, None)
    });
    let (code, v) = verify_bundle(&t("rec.bundle"), &[&tr[0], &tr[1]]);
    assert_eq!(code, FINDING);
    assert_checks(&v, &["record_signature", "inclusion_proof"]);
    assert!(
        findings_of(&v, "record_signature")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{v}"
    );

    // A flipped byte in an inclusion proof (the share's).
    edit_entries(&a, &t("proof.bundle"), |_, p| {
        if p.index() != share_index {
            return p;
        }
        let mut h = p.hashes().to_vec();
        h[0].0[0] ^= 1;
        rebuild(&p, None, Some(h), None)
    });
    let (_, v) = verify_bundle(&t("proof.bundle"), &[&tr[0], &tr[1]]);
    assert_eq!(checks(&v), ["inclusion_proof"], "{v}");

    // A flipped byte in the checkpoint (its root line), in every entry.
    edit_entries(&a, &t("cp.bundle"), |_, p| {
        let note = p.checkpoint_note().to_string();
        let mut lines: Vec<String> = note.split('\n').map(str::to_string).collect();
        let root = &mut lines[2];
        let c = if root.starts_with('A') { "B" } else { "A" };
        root.replace_range(0..1, c);
        rebuild(&p, None, None, Some(&lines.join("\n")))
    });
    let (_, v) = verify_bundle(&t("cp.bundle"), &[&tr[0], &tr[1]]);
    assert_checks(&v, &["checkpoint_signature"]);

    // A bundle signed by a key the verifier does not trust.
    let trg = trust(&o.gu);
    let (code, v) = verify_bundle(&a, &[&trg[0], &trg[1]]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), ["untrusted_log"], "{v}");

    // A replayed old bundle claiming a newer checkpoint: Drop Site has since
    // shared another document; the old bundle's proofs do not fit the new root.
    share(&o.ds, &arg(3), &o.lc, &t("other.bundle"));
    let newer = o.ds.run(&["checkpoint"]);
    newer.ok();
    edit_entries(&a, &t("replay.bundle"), |_, p| {
        rebuild(&p, None, None, Some(&newer.stdout))
    });
    let (code, v) = verify_bundle(&t("replay.bundle"), &[&tr[0], &tr[1]]);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), vec!["inclusion_proof"; entries], "{v}");

    // Every tampered bundle is refused by receive, and nothing is stored.
    let before = o.gu.snapshot();
    for name in ["ct", "rec", "proof", "cp", "replay"] {
        let b = t(&format!("{name}.bundle"));
        let r = o.gu.run(&["receive", s(&b), "-i", s(&gid), &tr[0], &tr[1]]);
        r.code(FINDING);
        assert!(
            r.stderr.contains("nothing was stored"),
            "{name}: {}",
            r.stderr
        );
    }
    o.gu.assert_unchanged(&before);
    // Only the blob of its own first admin's sealed details.
    assert_eq!(
        o.gu.status()["blobs"],
        INIT_BLOBS,
        "no blob left by a refused receive"
    );

    // A bundle meant for the Guardian, received by Local Call: cannot decrypt.
    let before = o.lc.snapshot();
    let lid = o.lc.identity();
    let r = o.lc.run(&["receive", s(&a), "-i", s(&lid), &tr[0], &tr[1]]);
    r.error(&["was it shared with this identity?", "nothing was stored"]);
    o.lc.assert_unchanged(&before);
    assert_eq!(o.lc.status()["blobs"], INIT_BLOBS);
}

#[test]
fn bad_bundles_are_one_line_errors_and_change_nothing() {
    let o = Outlets::new();
    let a = o.wire("a.bundle");
    share(&o.ds, &arg(2), &o.gu, &a);
    let good = fs::read(&a).unwrap();
    let tr = trust(&o.ds);
    let gid = o.gu.identity();
    let mut huge = b"custody-bundle/v1\n".to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    let mut v2 = b"custody-bundle/v2\n".to_vec();
    v2.extend_from_slice(&good[18..]);
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated-head", good[..200].to_vec(), "truncated"),
        (
            "truncated-payload",
            good[..good.len() - 10].to_vec(),
            "truncated",
        ),
        ("other-version", v2, "unsupported format version"),
        ("huge", huge, "over the limit"),
        (
            "garbage",
            b"this is not a bundle at all\n".to_vec(),
            "not a custody bundle",
        ),
        ("empty", Vec::new(), "not a custody bundle"),
        ("trailing", trailing, "after the payload"),
    ];
    let before = o.gu.snapshot();
    for (name, bytes, needle) in cases {
        let p = o.wire(&format!("{name}.bundle"));
        fs::write(&p, bytes).unwrap();
        let mut c = custody();
        c.arg("verify-bundle").arg(&p).args(&tr);
        run(c).error(&[needle]);
        o.gu.run(&["receive", s(&p), "-i", s(&gid), &tr[0], &tr[1]])
            .error(&[needle]);
    }
    let missing = o.wire("missing.bundle");
    let mut c = custody();
    c.arg("verify-bundle").arg(&missing).args(&tr);
    run(c).error(&["missing.bundle"]);
    o.gu.assert_unchanged(&before);
}

fn text(p: &Path) -> String {
    fs::read_to_string(p).unwrap().trim().to_string()
}

/// Runs `custody` in `f`'s archive with its own trust store.
fn with_store(f: &Fixture, args: &[&str]) -> Run {
    let mut c = f.cmd();
    c.env("CUSTODY_TRUST_STORE", f.path().join("trust.toml"))
        .args(args);
    run(c)
}

#[test]
fn partners_witness_drop_site_and_bundles_meet_the_quorum() {
    let o = Outlets::new();
    let dsv = o.ds.vkey();
    let witnesses = [&o.gu, &o.mag, &o.lc];
    for w in witnesses {
        w.run(&[
            "witness",
            "add-log",
            "dropsite.example/leaks",
            s(&dsv),
            "--witness-key",
            s(&w.keys.join("witness.key")),
        ])
        .ok();
    }
    // Every partner cosigns Drop Site's first checkpoint (trust on first
    // use), at size rec(8): the sample leak after the first records.
    let cp8 = o.wire("cp8");
    fs::write(&cp8, &o.ds.run(&["checkpoint"]).ok().stdout_bytes).unwrap();
    let mut cos = Vec::new();
    for (n, w) in witnesses.iter().enumerate() {
        let out = o.wire(&format!("cos8-{n}"));
        w.run(&["witness", "cosign", s(&cp8), "-o", s(&out)]).ok();
        cos.push(out);
    }
    let wv: Vec<String> = witnesses
        .iter()
        .map(|w| text(&w.keys.join("witness.vkey")))
        .collect();
    let mut add = vec!["checkpoint", "add-cosignature"];
    add.extend(cos.iter().map(|p| s(p)));
    for v in &wv {
        add.extend(["--witness", v.as_str()]);
    }
    o.ds.run(&add).ok();

    // A new share makes a new checkpoint, which no witness has seen yet.
    let a = o.wire("a.bundle");
    let sh = share(&o.ds, &arg(2), &o.gu, &a);
    assert_eq!(sh["cosignatures"], 0);
    let tr = trust(&o.ds);
    let quorum = [
        &tr[0][..],
        &tr[1],
        "--witness",
        &wv[1],
        "--witness",
        &wv[2],
        "--quorum",
        "2",
    ];
    let (code, v) = verify_bundle(&a, &quorum);
    assert_eq!(code, FINDING);
    assert_eq!(checks(&v), ["witness_quorum"], "{v}");

    // +972 and Local Call cosign it, given Drop Site's consistency proof.
    let body = o.wire("consistency-8");
    fs::write(
        &body,
        &o.ds
            .run(&["prove", "--consistency", &arg(8)])
            .ok()
            .stdout_bytes,
    )
    .unwrap();
    let mut add = vec!["checkpoint", "add-cosignature"];
    let outs: Vec<PathBuf> = (1..3).map(|n| o.wire(&format!("cos9-{n}"))).collect();
    for (w, out) in [&o.mag, &o.lc].into_iter().zip(&outs) {
        w.run(&["witness", "cosign", s(&body), "-o", s(out)]).ok();
        add.push(s(out));
    }
    for v in &wv {
        add.extend(["--witness", v.as_str()]);
    }
    o.ds.run(&add).ok();
    let r = o.ds.json(&["refresh-bundle", s(&a)]);
    assert_eq!(r["cosignatures"], 2, "{r}");
    assert_eq!(r["checkpoint_size"], rec(9));
    let (code, v) = verify_bundle(&a, &quorum);
    assert_eq!(code, OK, "{v}");
    let cosigned = v["report"]["hops"][0]["cosigned_by"].as_array().unwrap();
    assert_eq!(cosigned.len(), 2, "{v}");

    // The same rule as a C2SP tlog-policy file, which also names the trusted log.
    let policy = o.wire("partners.policy");
    fs::write(
        &policy,
        format!(
            "log {}\nwitness mag {}\nwitness localcall {}\ngroup both all mag localcall\nquorum both\n",
            text(&dsv),
            wv[1],
            wv[2]
        ),
    )
    .unwrap();
    let (code, v) = verify_bundle(&a, &["--policy", s(&policy)]);
    assert_eq!(code, OK, "{v}");

    // The Guardian keeps the keys in its trust store instead, and receives.
    with_store(&o.gu, &["trust", "add", "dropsite", s(&dsv)]).ok();
    with_store(&o.gu, &["trust", "add", "972mag-witness", &wv[1]]).ok();
    with_store(&o.gu, &["trust", "add", "localcall-witness", &wv[2]]).ok();
    let gid = o.gu.identity();
    let r = with_store(
        &o.gu,
        &["receive", s(&a), "-i", s(&gid), "--quorum", "2", "--json"],
    );
    r.ok();
    assert_eq!(r.json()["from"]["checkpoint_size"], rec(9));
    // The quorum applies to the other outlets' hops, not to the Guardian's own log.
    let t = with_store(&o.gu, &["trace", &arg(0), "--quorum", "2", "--json"]);
    t.ok();
    assert_eq!(
        t.json()["trace"]["hops"][0]["cosigned_by"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Drop Site rewrites its history: an archive re-created with the same log
    // key and other documents, at the size the witnesses last cosigned
    // (its own first records and nine documents: rec(9)).
    let fork = Fixture::new_as("dropsite");
    let src = fork.path().join("rewritten");
    fs::create_dir_all(&src).unwrap();
    for n in 0..9 {
        fs::write(
            src.join(format!("doc-{n}.txt")),
            format!("not the leak {n}\n"),
        )
        .unwrap();
    }
    fork.ingest_json(&[s(&src)]);
    let fcp = o.wire("fork-cp9");
    fs::write(&fcp, &fork.run(&["checkpoint"]).ok().stdout_bytes).unwrap();
    let ev = o.wire("split-view.evidence");
    let r = o
        .mag
        .run(&["witness", "cosign", s(&fcp), "--evidence-out", s(&ev)]);
    r.code(FINDING);
    assert!(
        r.stdout.is_empty(),
        "no cosignature is emitted: {}",
        r.stdout
    );
    let mut c = custody();
    c.args(["verify-evidence", s(&ev), "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["verdict"], "proven_fork", "{}", r.stdout);
}
