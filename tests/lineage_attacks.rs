//! Adversarial tests of lineage across outlets (FORMAT.md §10.2 "Lineage",
//! §10.4 step 8) and of `custody export` (§15): a hostile partner or sender
//! crafting bundles and evidence, an insider editing an archive, someone
//! tampering with an evidence package handed to a court.
//!
//! Six of them first failed (a quadratic link check, an export left behind
//! on a failed rename, and verify.py: lenient parsing, the evidence file
//! unread, any ciphertext accepted, paths outside the package followed);
//! each was fixed and runs here.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::chain::*;
use common::*;
use custody::core::bundle::{BundleHead, Evidence, Hop};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const GU: &str = "theguardian.example/custody";

/// `custody verify-bundle FILE --json TRUST…` outside any archive.
fn verify_bundle(file: &Path, trust: &[String]) -> Run {
    let r = run({
        let mut c = custody();
        c.args(args(&["verify-bundle", s(file), "--json"], trust));
        c
    });
    r.no_panic();
    r
}

#[track_caller]
fn assert_finding(f: &[(String, String)], check: &str, phrases: &[&str]) {
    assert!(
        f.iter()
            .any(|(c, r)| c == check && phrases.iter().all(|p| r.contains(p))),
        "want {check} with {phrases:?}: {f:#?}"
    );
}

/// Asserts `receive` of `bundle` into `f` is refused (exit 1) and stores nothing.
#[track_caller]
fn assert_refused(f: &Fixture, bundle: &Path, trust: &[String]) {
    let before = f.snapshot();
    let r = f.run(&args(
        &["receive", s(bundle), "-i", s(&f.identity())],
        trust,
    ));
    r.code(FINDING);
    f.assert_unchanged(&before);
}

/// Drop Site ingests and shares to the Guardian; the Guardian receives,
/// translates, redacts the translation and shares the redaction to +972.
struct Journey {
    ds: Fixture,
    gu: Fixture,
    mag: Fixture,
    lc: Fixture,
    wire: tempfile::TempDir,
    received: u64,
    translation: u64,
    redaction: u64,
    /// The redaction's bundle for +972 (evidence version 2).
    bundle: PathBuf,
}

fn derive(f: &Fixture, parent: u64, file: &Path, relation: &str, more: &[String]) -> u64 {
    let p = parent.to_string();
    let id = f.identity();
    let mut a = vec!["derive", &p, s(file), "--relation", relation, "-i", s(&id)];
    for m in more {
        a.push("--parent");
        a.push(m);
    }
    f.json(&a)["index"].as_u64().unwrap()
}

fn journey() -> Journey {
    let ds = Fixture::new_as("dropsite");
    ds.ingest_samples();
    let (gu, mag, lc) = (
        Fixture::new_as("guardian"),
        Fixture::new_as("972mag"),
        Fixture::new_as("localcall"),
    );
    let wire = tempfile::tempdir().unwrap();
    let a = wire.path().join("original.bundle");
    ds.share_to(&INIT_RECORDS.to_string(), &gu, &a);
    let rx = gu.json(&args(
        &["receive", s(&a), "-i", s(&gu.identity())],
        &trust_args(&[&ds]),
    ));
    let received = rx["index"].as_u64().unwrap();
    let work = gu.path().join("desk");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("memo-en.txt"), "The memo, in English.\n").unwrap();
    fs::write(
        work.join("memo-en-redacted.txt"),
        "The memo, in English. [REDACTED]\n",
    )
    .unwrap();
    let translation = derive(&gu, received, &work.join("memo-en.txt"), "translation", &[]);
    let redaction = derive(
        &gu,
        translation,
        &work.join("memo-en-redacted.txt"),
        "redaction",
        &[],
    );
    let bundle = wire.path().join("redacted.bundle");
    gu.share_to(&redaction.to_string(), &mag, &bundle);
    Journey {
        ds,
        gu,
        mag,
        lc,
        wire,
        received,
        translation,
        redaction,
        bundle,
    }
}

/// The signed checkpoint note a hop's entries carry.
fn hop_note(h: &Hop) -> String {
    custody::core::tlog_proof::TlogProof::parse(&h.entries[0])
        .unwrap()
        .checkpoint_note()
        .to_string()
}

// ---------------------------------------------------------------------------
// Lineage (FORMAT.md §10.2, §10.4 step 8)
// ---------------------------------------------------------------------------

/// A parent chain from an impostor log that took the deriving log's name
/// (another key named theguardian.example/custody), even one the verifier
/// trusts too: its last hop is not the deriving log, `lineage_parent`.
#[test]
fn a_parent_chain_of_an_impostor_log_with_the_same_name() {
    let j = journey();
    // The impostor: a new key under the Guardian's name, its own archive.
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    custody()
        .args(["keygen", "--name", GU, "-o", s(&keys)])
        .assert()
        .success();
    let fake = Fixture {
        dir: tmp.path().join("archive"),
        keys,
        tmp,
    };
    fake.init_with(&[]).ok();
    let memo = fake.path().join("memo-en.txt");
    fs::write(&memo, "The memo, in English.\n").unwrap();
    let idx = fake.ingest_json(&[s(&memo)])[0]["index"].as_u64().unwrap();
    let fb = j.wire.path().join("fake.bundle");
    fake.share_to(&idx.to_string(), &j.mag, &fb);
    assert_ne!(
        fs::read_to_string(fake.vkey()).unwrap(),
        fs::read_to_string(j.gu.vkey()).unwrap()
    );

    let (mut head, payload) = load(&j.bundle);
    head.evidence.parents[0] = load(&fb).0.evidence;
    let bad = j.wire.path().join("impostor.bundle");
    save(&bad, &head, &payload);
    // Even trusting the impostor's key as well as the real one.
    let all = trust_args(&[&j.ds, &j.gu, &fake]);
    let r = verify_bundle(&bad, &all);
    r.code(FINDING);
    let f = report_findings(&r);
    assert_finding(
        &f,
        "lineage_parent",
        &[
            "parent chain 0: it ends in log theguardian.example/custody but the document was derived in",
        ],
    );
    assert_refused(&j.mag, &bad, &all);
}

/// A parent chain that is a valid chain but does not end at the parent's
/// arrival in the deriving log: the original's chain cut to Drop Site's hop
/// (ending at its share, the bundle Drop Site sent), and a last hop holding
/// no record about the document.
#[test]
fn a_parent_chain_that_ends_at_a_share_or_at_no_arrival() {
    let j = journey();
    let both = trust_args(&[&j.ds, &j.gu]);
    let (head, payload) = load(&j.bundle);
    let bad = j.wire.path().join("bad.bundle");

    // The translation's parent (the received original): Drop Site's hop only.
    let mut h = head.clone();
    let orig = &mut h.evidence.parents[0].parents[0];
    assert_eq!(orig.hops.len(), 2);
    orig.hops.pop();
    save(&bad, &h, &payload);
    let r = verify_bundle(&bad, &both);
    r.code(FINDING);
    let want_prefix = format!("in the lineage of {GU} record {}:", j.translation);
    assert_finding(
        &report_findings(&r),
        "lineage_parent",
        &[
            &want_prefix,
            "parent chain 0: it ends in log dropsite.example/leaks but the document was derived in theguardian.example/custody",
        ],
    );
    assert_refused(&j.mag, &bad, &both);

    // Its last hop (the Guardian's) without the receive record: only the
    // actor and config records are left.
    let mut h = head.clone();
    let last = h.evidence.parents[0].parents[0].hops.last_mut().unwrap();
    let before = last.entries.len();
    last.entries.retain(|e| {
        let p = custody::core::tlog_proof::TlogProof::parse(e).unwrap();
        let rec = custody::core::record::Record::decode(p.extra().unwrap()).unwrap();
        rec.body.index != j.received
    });
    assert_eq!(last.entries.len() + 1, before);
    save(&bad, &h, &payload);
    let r = verify_bundle(&bad, &both);
    r.code(FINDING);
    assert_finding(
        &report_findings(&r),
        "lineage_parent",
        &[
            &want_prefix,
            &format!(
                "it ends at record ? but the derive record names parent record {}",
                j.received
            ),
        ],
    );
    assert_refused(&j.mag, &bad, &both);
}

/// A document derived from two parents: its bundle verifies; with the two
/// parents' chains swapped, each is at the wrong place (`lineage_parent`
/// for both, naming the record each should end at).
#[test]
fn swapped_parents_of_a_two_parent_derive() {
    let ds = Fixture::new_as("dropsite");
    ds.ingest_samples();
    let (gu, mag) = (Fixture::new_as("guardian"), Fixture::new_as("972mag"));
    let wire = tempfile::tempdir().unwrap();
    let a = wire.path().join("a.bundle");
    ds.share_to(&INIT_RECORDS.to_string(), &gu, &a);
    let t = trust_args(&[&ds]);
    let received = gu.json(&args(&["receive", s(&a), "-i", s(&gu.identity())], &t))["index"]
        .as_u64()
        .unwrap();
    let notes = gu.path().join("notes.txt");
    fs::write(&notes, "Our own reporting notes.\n").unwrap();
    let own = gu.ingest_json(&[s(&notes)])[0]["index"].as_u64().unwrap();
    let merged = gu.path().join("merged.txt");
    fs::write(&merged, "The memo and our notes, excerpted.\n").unwrap();
    let d = derive(&gu, received, &merged, "excerpt", &[own.to_string()]);
    let b = wire.path().join("merged.bundle");
    gu.share_to(&d.to_string(), &mag, &b);

    let both = trust_args(&[&ds, &gu]);
    let r = verify_bundle(&b, &both);
    r.ok();
    let v = r.json();
    let l = v["report"]["lineage"].as_array().unwrap();
    assert_eq!(l.len(), 2, "{v}");
    assert_eq!(
        (l[0]["document"].as_u64(), l[1]["document"].as_u64()),
        (Some(received), Some(own))
    );

    let (mut head, payload) = load(&b);
    head.evidence.parents.swap(0, 1);
    let bad = wire.path().join("swapped.bundle");
    save(&bad, &head, &payload);
    let r = verify_bundle(&bad, &both);
    r.code(FINDING);
    let f = report_findings(&r);
    assert_finding(
        &f,
        "lineage_parent",
        &[&format!(
            "parent chain 0: it ends at record {own} but the derive record names parent record {received}"
        )],
    );
    assert_finding(
        &f,
        "lineage_parent",
        &[&format!(
            "parent chain 1: it ends at record {received} but the derive record names parent record {own}"
        )],
    );
    assert_refused(&mag, &bad, &both);
}

/// Parsing bounds of version 2 evidence: a parent length beyond the end, and
/// a lineage nested in itself (each level holding the previous one twice)
/// past 256 chains, are refused unread (exit 2), in a bundle and as a bare
/// evidence file, and `receive` stores nothing.
#[test]
fn v2_evidence_lengths_and_self_nesting_are_bounded() {
    let j = journey();
    let both = trust_args(&[&j.ds, &j.gu]);
    let (head, payload) = load(&j.bundle);
    let ev = head.evidence.encode();
    // The parent count follows the hops, which encode as in version 1.
    let at = Evidence {
        hops: head.evidence.hops.clone(),
        parents: Vec::new(),
    }
    .encode()
    .len();
    assert_eq!(ev[at], 1, "one parent");
    let rest = (ev.len() - at - 5) as u32;
    let mut over = ev.clone();
    over[at + 1..at + 5].copy_from_slice(&(rest + 1).to_be_bytes());
    let bad = j.wire.path().join("over.bundle");
    save_raw(&bad, &over, &head, &payload);
    verify_bundle(&bad, &both).error(&["truncated", "parent evidence"]);
    let before = j.mag.snapshot();
    j.mag
        .run(&args(
            &["receive", s(&bad), "-i", s(&j.mag.identity())],
            &both,
        ))
        .error(&["truncated", "parent evidence"]);
    j.mag.assert_unchanged(&before);
    let bare = j.wire.path().join("over.evidence");
    fs::write(&bare, &over).unwrap();
    verify_bundle(&bare, &both).error(&["truncated", "parent evidence"]);

    // A chain (3 chains) holding itself twice, seven times over: 511 chains.
    let mut e = head.evidence.clone();
    for _ in 0..7 {
        e = Evidence {
            hops: head.evidence.hops.clone(),
            parents: vec![e.clone(), e],
        };
    }
    assert_eq!(e.chains(), 511);
    let bare = j.wire.path().join("selfnested.evidence");
    fs::write(&bare, e.encode()).unwrap();
    verify_bundle(&bare, &both).error(&["256 chains"]);
    let nested = j.wire.path().join("selfnested.bundle");
    save_raw(&nested, &e.encode(), &head, &payload);
    verify_bundle(&nested, &both).error(&["256 chains"]);
}

/// Runs `custody verify-bundle FILE TRUST…` and kills it after `limit`:
/// (how long it ran, whether it finished).
fn timed_verify_bundle(file: &Path, trust: &[String], limit: Duration) -> (Duration, bool) {
    let mut c = custody_std();
    c.args(args(&["verify-bundle", s(file), "--json"], trust))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let start = Instant::now();
    let mut child = c.spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (start.elapsed(), true);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (start.elapsed(), false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The CPU a verifier spends on a bundle is about linear in its size: a
/// 64 MiB evidence whose lineage nests 16 chains deep, each chain repeating
/// a real `receive` hop 63 times above a ~50 MiB parent, takes about as long
/// as one plain 64 MiB evidence. Today each `receive` hop re-encodes and
/// re-hashes the whole evidence before it (`Evidence::prefix` clones every
/// parent's chain): 16 × 63 copies and SHA-256 passes over ~50 MiB.
#[test]
fn a_64_mib_lineage_stays_fast_to_verify() {
    let j = journey();
    let to_lc = j.wire.path().join("lc.bundle");
    let rx = j.mag.json(&args(
        &["receive", s(&j.bundle), "-i", s(&j.mag.identity())],
        &trust_args(&[&j.ds, &j.gu]),
    ));
    j.mag
        .share_to(&rx["index"].as_u64().unwrap().to_string(), &j.lc, &to_lc);
    let (head, payload) = load(&to_lc);
    assert_eq!(head.evidence.hops.len(), 2);
    let (gu_hop, mag_hop) = (head.evidence.hops[0].clone(), head.evidence.hops[1].clone());
    let chain = |parents: Vec<Evidence>| Evidence {
        hops: std::iter::once(gu_hop.clone())
            .chain(std::iter::repeat_n(mag_hop.clone(), 63))
            .collect(),
        parents,
    };
    let levels = 16;
    let overhead = chain(Vec::new()).encode().len() + 8;
    let entry = 256 << 10;
    let n = (64 << 20) - levels * overhead - (1 << 20);
    let n = n / (entry + 4);
    let bulk = Evidence {
        hops: vec![Hop {
            vkey: gu_hop.vkey.clone(),
            entries: vec![vec![b'x'; entry]; n],
        }],
        parents: Vec::new(),
    };
    // Baseline: the same bulk under one chain of one hop.
    let plain = Evidence {
        hops: vec![gu_hop.clone()],
        parents: vec![bulk.clone()],
    };
    let mut e = bulk;
    for _ in 0..levels {
        e = chain(vec![e]);
    }
    let all = trust_args(&[&j.ds, &j.gu, &j.mag]);
    let base = j.wire.path().join("plain.bundle");
    save(
        &base,
        &BundleHead {
            evidence: plain,
            envelope: head.envelope.clone(),
            payload_len: head.payload_len,
        },
        &payload,
    );
    let slow = j.wire.path().join("nested.bundle");
    // Written raw: custody refuses to write it (its links cost too much).
    assert!(e.validate().is_err());
    save_raw(&slow, &e.encode(), &head, &payload);
    assert!(fs::metadata(&slow).unwrap().len() > 60 << 20);
    let (t_base, done) = timed_verify_bundle(&base, &all, Duration::from_secs(120));
    assert!(done, "the plain 64 MiB evidence took over {t_base:?}");
    let limit = (t_base * 4).max(Duration::from_secs(20));
    let (t, done) = timed_verify_bundle(&slow, &all, limit);
    eprintln!("plain 64 MiB evidence: {t_base:?}; nested: {t:?} (finished: {done})");
    assert!(
        done,
        "verify-bundle of the nested 64 MiB lineage ran over {t:?} (the plain one: {t_base:?})"
    );
    // It is refused as evidence whose links cost too much to check (exit 2).
    let r = run({
        let mut c = custody();
        c.args(args(&["verify-bundle", s(&slow)], &all));
        c
    });
    r.error(&["checking its links would hash"]);
}

/// Drop Site's log shows two histories (a copy of its archive, same key,
/// diverging after record 9): +972 holds one of them from a direct bundle;
/// the other reaches it only inside the lineage of a document the Guardian
/// derived. `verify-bundle` in +972's archive and `receive` report
/// `checkpoint_consistency` for the lineage's hop, as for a main hop; and in
/// the other order, a lineage kept in evidence/ is a held checkpoint.
#[test]
fn a_lineage_hop_that_contradicts_a_held_checkpoint() {
    let ds = Fixture::new_as("dropsite");
    ds.ingest_samples();
    let ds2 = ds.duplicate();
    let (gu, mag) = (Fixture::new_as("guardian"), Fixture::new_as("972mag"));
    let wire = tempfile::tempdir().unwrap();
    // The real history: Drop Site shares record 2 to +972.
    let direct = wire.path().join("direct.bundle");
    let sh = ds.share_to(&INIT_RECORDS.to_string(), &mag, &direct);
    // The other: the copy shares record 2 to the Guardian, at the same index.
    let forked = wire.path().join("forked.bundle");
    let sh2 = ds2.share_to(&INIT_RECORDS.to_string(), &gu, &forked);
    assert_eq!(sh["index"], sh2["index"]);
    let t = trust_args(&[&ds]);
    let received = gu.json(&args(&["receive", s(&forked), "-i", s(&gu.identity())], &t))["index"]
        .as_u64()
        .unwrap();
    let memo = gu.path().join("memo-en.txt");
    fs::write(&memo, "The memo, in English.\n").unwrap();
    let tr = derive(&gu, received, &memo, "translation", &[]);
    let derived = wire.path().join("derived.bundle");
    gu.share_to(&tr.to_string(), &mag, &derived);
    let both = trust_args(&[&ds, &gu]);
    // Alone, the derived document's bundle verifies.
    verify_bundle(&derived, &both).ok();

    // +972 first receives Drop Site's own bundle.
    let m2 = Fixture::new_as("972mag");
    mag.json(&args(
        &["receive", s(&direct), "-i", s(&mag.identity())],
        &t,
    ));
    let r = mag.run(&args(&["verify-bundle", s(&derived), "--json"], &both));
    r.code(FINDING);
    assert_finding(
        &report_findings(&r),
        "checkpoint_consistency",
        &["cannot both be true", "split view"],
    );
    assert_refused(&mag, &derived, &both);

    // In the other order: the derived document first, then Drop Site's bundle.
    m2.json(&args(
        &["receive", s(&derived), "-i", s(&m2.identity())],
        &both,
    ));
    let r = m2.run(&args(&["verify-bundle", s(&direct), "--json"], &t));
    r.code(FINDING);
    assert_finding(
        &report_findings(&r),
        "checkpoint_consistency",
        &["cannot both be true", "split view"],
    );
    assert_refused(&m2, &direct, &t);
}

/// A partner that received a derived document cannot strip its lineage (or
/// change it) when it shares on: the next receiver's check of the receive
/// record's evidence digest fails (`hop_link`). An insider who strips the
/// kept evidence file is caught by `verify` (`evidence`), and `share` refuses.
#[test]
fn stripping_the_lineage_after_a_receive() {
    let j = journey();
    let both = trust_args(&[&j.ds, &j.gu]);
    let at = j.mag.json(&args(
        &["receive", s(&j.bundle), "-i", s(&j.mag.identity())],
        &both,
    ))["index"]
        .as_u64()
        .unwrap()
        .to_string();
    let on = j.wire.path().join("on.bundle");
    j.mag.share_to(&at, &j.lc, &on);
    let all = trust_args(&[&j.ds, &j.gu, &j.mag]);
    verify_bundle(&on, &all).ok();

    let (head, payload) = load(&on);
    let bad = j.wire.path().join("stripped.bundle");
    let mut h = head.clone();
    h.evidence.parents.clear();
    save(&bad, &h, &payload);
    let r = verify_bundle(&bad, &all);
    r.code(FINDING);
    assert_finding(
        &report_findings(&r),
        "hop_link",
        &["the evidence it commits to is not the previous hops"],
    );
    assert_refused(&j.lc, &bad, &all);
    // The lineage kept, but one level down cut: the same.
    let mut h = head.clone();
    h.evidence.parents[0].parents.clear();
    save(&bad, &h, &payload);
    let r = verify_bundle(&bad, &all);
    r.code(FINDING);
    assert_finding(
        &report_findings(&r),
        "hop_link",
        &["the evidence it commits to is not the previous hops"],
    );

    // The insider: +972's kept evidence file rewritten without the lineage.
    let kept: Vec<PathBuf> = fs::read_dir(j.mag.dir.join("evidence"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1);
    let mut ev = Evidence::parse(&fs::read(&kept[0]).unwrap()).unwrap();
    assert_eq!(ev.parents.len(), 1);
    ev.parents.clear();
    fs::write(&kept[0], ev.encode()).unwrap();
    let (code, v) = j.mag.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    assert!(
        findings_of(&v, "evidence").iter().any(|f| f["reason"]
            .as_str()
            .unwrap()
            .contains("does not match its digest")),
        "{v}"
    );
    let before = j.mag.snapshot();
    let again = j.wire.path().join("again.bundle");
    let r = j.mag.run(&[
        "share",
        &at,
        "--to",
        s(&j.lc.keys.join("recipient.txt")),
        "-i",
        s(&j.mag.identity()),
        "-o",
        s(&again),
    ]);
    r.error(&["does not match its digest"]);
    assert!(!again.exists());
    assert_eq!(j.mag.snapshot().records, before.records);
}

/// `refresh-bundle` of a derived document's bundle re-proves its parents'
/// last hops against the new checkpoint with the document's own hop; the
/// refreshed bundle verifies and is received.
#[test]
fn refresh_bundle_reproves_the_lineage() {
    let j = journey();
    let (old, _) = load(&j.bundle);
    // The Guardian's log moves on.
    let more = j.gu.path().join("later.txt");
    fs::write(&more, "later\n").unwrap();
    j.gu.ingest_json(&[s(&more)]);
    let out = j.wire.path().join("refreshed.bundle");
    j.gu.json(&["refresh-bundle", s(&j.bundle), "-o", s(&out)]);
    let (new, _) = load(&out);
    let top = hop_note(&new.evidence.hops[0]);
    assert_ne!(top, hop_note(&old.evidence.hops[0]));
    assert_eq!(hop_note(new.evidence.parents[0].hops.last().unwrap()), top);
    assert_eq!(
        hop_note(new.evidence.parents[0].parents[0].hops.last().unwrap()),
        top
    );
    let both = trust_args(&[&j.ds, &j.gu]);
    let r = verify_bundle(&out, &both);
    r.ok();
    assert_eq!(r.json()["report"]["lineage"][0]["document"], j.translation);
    let at = j.mag.json(&args(
        &["receive", s(&out), "-i", s(&j.mag.identity())],
        &both,
    ))["index"]
        .as_u64()
        .unwrap();
    let t = j.mag.json(&args(&["trace", &at.to_string()], &both));
    assert_eq!(t["ok"], true, "{t}");
    j.mag.assert_verified();
    // A version 1 bundle of the derived document, refreshed, carries the lineage.
    let (mut h, payload) = load(&j.bundle);
    h.evidence.parents.clear();
    let v1 = j.wire.path().join("v1.bundle");
    save(&v1, &h, &payload);
    let out1 = j.wire.path().join("v1-refreshed.bundle");
    j.gu.json(&["refresh-bundle", s(&v1), "-o", s(&out1)]);
    assert_eq!(load(&out1).0.evidence.parents.len(), 1);
    let r = verify_bundle(&out1, &both);
    r.ok();
    assert!(r.json()["report"]["lineage_not_carried"].is_null());
    let _ = j.redaction;
}

// ---------------------------------------------------------------------------
// custody export (FORMAT.md §15)
// ---------------------------------------------------------------------------

/// Drop Site shares two documents to the Guardian, which receives both and
/// translates the first.
struct Setup {
    ds: Fixture,
    gu: Fixture,
    received: u64,
    other: u64,
    translation: u64,
    out: tempfile::TempDir,
}

fn setup() -> Setup {
    let ds = Fixture::new_as("dropsite");
    ds.ingest_samples();
    let gu = Fixture::new_as("guardian");
    let out = tempfile::tempdir().unwrap();
    let t = trust_args(&[&ds]);
    let mut rx = Vec::new();
    for (n, doc) in [INIT_RECORDS, INIT_RECORDS + 1].iter().enumerate() {
        let b = out.path().join(format!("{n}.bundle"));
        ds.share_to(&doc.to_string(), &gu, &b);
        rx.push(
            gu.json(&args(&["receive", s(&b), "-i", s(&gu.identity())], &t))["index"]
                .as_u64()
                .unwrap(),
        );
    }
    let memo = out.path().join("memo-en.txt");
    fs::write(&memo, "The memo, in English.\n").unwrap();
    let translation = derive(&gu, rx[0], &memo, "translation", &[]);
    Setup {
        ds,
        gu,
        received: rx[0],
        other: rx[1],
        translation,
        out,
    }
}

fn export(f: &Fixture, extra: &[&str]) -> Run {
    let mut a = vec!["export"];
    a.extend_from_slice(extra);
    f.run(&a)
}

/// Exports `refs` of the Guardian's archive into `out/name`; the manifest.
fn export_ok(x: &Setup, refs: &[u64], name: &str) -> (PathBuf, Value) {
    let dir = x.out.path().join(name);
    let refs: Vec<String> = refs.iter().map(u64::to_string).collect();
    let id = x.gu.identity();
    let mut a: Vec<&str> = refs.iter().map(String::as_str).collect();
    a.extend(["-o", s(&dir), "-i", s(&id)]);
    export(&x.gu, &a).ok();
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    (dir, m)
}

fn doc_of(m: &Value, index: u64) -> &Value {
    m["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["index"] == index)
        .unwrap_or_else(|| panic!("no document {index} in {m}"))
}

fn write_manifest(dir: &Path, m: &Value) {
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(m).unwrap(),
    )
    .unwrap();
}

fn hidden_leftovers(d: &Path) -> Vec<String> {
    fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".custody-export-"))
        .collect()
}

/// Where `export -o` must not write: an existing file (kept as it was), a
/// symlink to an existing directory, a path whose parent is a symlink into
/// the archive. Exit 2, nothing written, no hidden directory left.
#[test]
fn export_refuses_existing_outputs_and_the_archive_behind_a_symlink() {
    let x = setup();
    let r = x.received.to_string();
    let id = x.gu.identity();
    let file = x.out.path().join("pkg-file");
    fs::write(&file, "keep me\n").unwrap();
    export(&x.gu, &[&r, "-o", s(&file), "-i", s(&id)]).error(&["exists"]);
    assert_eq!(fs::read(&file).unwrap(), b"keep me\n");

    let target = x.out.path().join("existing-dir");
    fs::create_dir(&target).unwrap();
    let link = x.out.path().join("link-to-dir");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    export(&x.gu, &[&r, "-o", s(&link), "-i", s(&id)]).code(ERROR);
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);

    let into = x.out.path().join("archive-link");
    std::os::unix::fs::symlink(&x.gu.dir, &into).unwrap();
    export(&x.gu, &[&r, "-o", s(&into.join("pkg")), "-i", s(&id)]).error(&["inside the archive"]);
    assert!(!x.gu.dir.join("pkg").exists());
    assert!(hidden_leftovers(x.out.path()).is_empty());
    assert!(hidden_leftovers(&x.gu.dir).is_empty());
}

/// An export to a dangling symlink: the rename onto it fails (a directory
/// cannot replace a symlink), and FORMAT.md §15 says the hidden directory,
/// which holds the plaintext, is then removed. It is left behind.
#[test]
fn export_to_a_dangling_symlink_leaves_nothing() {
    let x = setup();
    let link = x.out.path().join("dangling");
    std::os::unix::fs::symlink(x.out.path().join("nowhere"), &link).unwrap();
    let r = export(
        &x.gu,
        &[
            &x.received.to_string(),
            "-o",
            s(&link),
            "-i",
            s(&x.gu.identity()),
        ],
    );
    r.code(ERROR);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        hidden_leftovers(x.out.path()),
        Vec::<String>::new(),
        "a failed export leaves its hidden directory"
    );
}

/// Documents whose names are the package's own files, or hidden: written
/// under another name, and the package checks.
#[test]
fn export_of_documents_named_like_package_files() {
    let x = setup();
    let desk = x.out.path().join("desk");
    fs::create_dir(&desk).unwrap();
    let mut idx = Vec::new();
    for (name, want) in [
        ("opening.json", "document-opening.json"),
        ("evidence", "document-evidence"),
        (".hidden", "document"),
    ] {
        let p = desk.join(name);
        fs::write(&p, format!("a file named {name}\n")).unwrap();
        let i = x.gu.ingest_json(&[s(&p)])[0]["index"].as_u64().unwrap();
        idx.push((i, want));
    }
    let refs: Vec<u64> = idx.iter().map(|(i, _)| *i).collect();
    let (dir, m) = export_ok(&x, &refs, "names");
    for (i, want) in &idx {
        let d = doc_of(&m, *i);
        assert_eq!(d["document"], format!("documents/{i}/{want}"), "{m}");
        let opening: Value =
            serde_json::from_slice(&fs::read(dir.join(d["opening"].as_str().unwrap())).unwrap())
                .unwrap();
        assert_eq!(opening["v"], 1, "the opening is not overwritten");
    }
    if let Some((code, out)) = run_script(&dir) {
        assert_eq!(code, 0, "{out}");
    }
}

/// Tampering with a two-document package that verify.py catches: the
/// openings swapped between documents, the arrival proofs swapped.
#[test]
fn verify_py_finds_swapped_openings_and_arrival_proofs() {
    let x = setup();
    let (dir, m) = export_ok(&x, &[x.received, x.other], "two");
    if run_script(&dir).is_none() {
        return;
    }
    assert_eq!(run_script(&dir).unwrap().0, 0);
    let (a, b) = (doc_of(&m, x.received), doc_of(&m, x.other));
    let swap = |pa: &Path, pb: &Path| {
        let (ba, bb) = (fs::read(pa).unwrap(), fs::read(pb).unwrap());
        fs::write(pa, &bb).unwrap();
        fs::write(pb, &ba).unwrap();
    };
    let f = |d: &Value, k: &str| dir.join(d[k].as_str().unwrap());
    swap(&f(a, "opening"), &f(b, "opening"));
    let (code, out) = run_script(&dir).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL  record {} of {GU} carries this commitment",
            x.received
        )),
        "{out}"
    );
    swap(&f(a, "opening"), &f(b, "opening"));

    let arrival = |d: &Value| {
        let p = d["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "receive")
            .unwrap();
        dir.join(p["file"].as_str().unwrap())
    };
    swap(&arrival(a), &arrival(b));
    let (code, out) = run_script(&dir).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL  record {} of {GU} carries this commitment",
            x.other
        )),
        "{out}"
    );
}

/// `verify-proof --file DOC --opening FILE`: a document with its own
/// opening against another document's arrival record is a `commitment`
/// finding; an opening edited to name that record's commitment no longer
/// opens and is refused (exit 2).
#[test]
fn verify_proof_with_an_opening_of_another_document() {
    let x = setup();
    let (dir, m) = export_ok(&x, &[x.received, x.other], "two");
    let (a, b) = (doc_of(&m, x.received), doc_of(&m, x.other));
    let f = |d: &Value, k: &str| dir.join(d[k].as_str().unwrap());
    let arrival_b = dir.join(
        b["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "receive")
            .unwrap()["file"]
            .as_str()
            .unwrap(),
    );
    let vp = |opening: &Path| {
        let mut c = custody();
        c.args([
            "verify-proof",
            s(&arrival_b),
            "--trust",
            s(&x.gu.vkey()),
            "--file",
            s(&f(a, "document")),
            "--opening",
            s(opening),
            "--json",
        ]);
        run(c)
    };
    let r = vp(&f(a, "opening"));
    r.code(FINDING);
    assert!(
        r.json()["findings"][0]
            .as_str()
            .unwrap()
            .starts_with("commitment: the record commits to"),
        "{}",
        r.stdout
    );
    let mut o: Value = serde_json::from_slice(&fs::read(f(a, "opening")).unwrap()).unwrap();
    o["commitment"] = b["commitment"].clone();
    let forged = x.out.path().join("forged-opening.json");
    fs::write(&forged, serde_json::to_vec(&o).unwrap()).unwrap();
    vp(&forged).error(&["is not an opening", "do not open its commitment"]);
}

/// After a rekey (the document's stored file replaced), the package still
/// checks: verify.py says the ciphertext was re-encrypted, the age CLI opens
/// it with the identity in force, and `verify-bundle` of its evidence passes.
#[test]
fn export_after_a_rekey() {
    let f = Fixture::uninit();
    let gu = f.other_keys("guardian");
    f.init_with(&["--recipient", s(&gu.join("recipient.txt"))])
        .ok();
    f.ingest_samples();
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
    ])
    .ok();
    f.json(&["rekey", "-i", s(&f.identity())]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("pkg");
    let r = f.run(&[
        "export",
        &INIT_RECORDS.to_string(),
        "-o",
        s(&dir),
        "-i",
        s(&f.identity()),
        "--json",
    ]);
    r.ok();
    let doc = &r.json()["documents"][0];
    let ct = dir.join(doc["ciphertext"].as_str().unwrap());
    let plain = common::age_cli::age_decrypt(&f.identity(), &ct);
    assert_eq!(
        plain,
        fs::read(dir.join(doc["document"].as_str().unwrap())).unwrap()
    );
    let mut c = custody();
    c.args([
        "verify-bundle",
        s(&dir.join(doc["evidence"].as_str().unwrap())),
        "--trust",
        s(&f.vkey()),
        "--json",
    ]);
    run(c).ok();
    if let Some((code, out)) = run_script(&dir) {
        assert_eq!(code, 0, "{out}");
        // The rekey record is in the package, proven, and names the file.
        assert!(out.contains("replaced the document's file"), "{out}");
        assert!(out.contains(", then record "), "{out}");
    }
}

/// verify.py and custody must agree on every input. A tlog-proof whose
/// index is written `index 02` or `index +2`, or one of whose hashes is
/// base64 with its unused bits set (not canonical, FORMAT.md §3.9): custody
/// `verify-proof` refuses it (`inclusion_proof`); verify.py reads the same
/// numbers and bytes and passes.
#[test]
fn verify_py_and_custody_agree_on_a_non_canonical_proof() {
    let x = setup();
    let (dir, m) = export_ok(&x, &[x.received], "one");
    let d = doc_of(&m, x.received);
    let p = d["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "receive")
        .unwrap();
    let file = dir.join(p["file"].as_str().unwrap());
    let text = fs::read_to_string(&file).unwrap();
    let line = format!("\nindex {}\n", x.received);
    assert!(text.contains(&line));
    // The first hash of the inclusion proof with its 2 unused trailing bits set.
    let hash = text.lines().nth(3).unwrap().to_string();
    assert_eq!((hash.len(), &hash[43..]), (44, "="), "{text}");
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut h = hash.clone().into_bytes();
    let v = B64.iter().position(|&c| c == h[42]).unwrap();
    h[42] = B64[v ^ 1];
    let hash2 = String::from_utf8(h).unwrap();
    let i = x.received;
    for variant in [
        text.replacen(&line, &format!("\nindex 0{i}\n"), 1),
        text.replacen(&line, &format!("\nindex +{i}\n"), 1),
        text.replacen(&format!("\n{hash}\n"), &format!("\n{hash2}\n"), 1),
    ] {
        assert_ne!(variant, text);
        fs::write(&file, &variant).unwrap();
        let mut c = custody();
        c.args([
            "verify-proof",
            s(&file),
            "--trust",
            s(&x.gu.vkey()),
            "--json",
        ]);
        let r = run(c);
        r.code(FINDING);
        assert!(
            r.json()["findings"][0]
                .as_str()
                .unwrap()
                .starts_with("inclusion_proof: not a tlog-proof"),
            "{}",
            r.stdout
        );
        if let Some((code, out)) = run_script(&dir) {
            assert_eq!(
                code, 1,
                "verify.py accepts what custody refuses:\n{variant}\n{out}"
            );
        }
    }
}

/// verify.py and custody must agree: a package whose `evidence` file was
/// altered (one record's time changed inside the lineage) fails
/// `custody verify-bundle` of it, yet verify.py, which never reads it, says
/// every check passed.
#[test]
fn verify_py_and_custody_agree_on_a_tampered_evidence_file() {
    use base64::Engine as _;
    let x = setup();
    let (dir, m) = export_ok(&x, &[x.translation], "t");
    let d = doc_of(&m, x.translation);
    let path = dir.join(d["evidence"].as_str().unwrap());
    let mut ev = Evidence::parse(&fs::read(&path).unwrap()).unwrap();
    // Drop Site's ingest record of the parent, its time changed.
    let entry = &mut ev.parents[0].hops[0].entries[0];
    let t = String::from_utf8(entry.clone()).unwrap();
    let line = t.lines().nth(1).unwrap().to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut rec = b64.decode(&line[6..]).unwrap();
    rec[17] ^= 1;
    *entry = t
        .replacen(&line, &format!("extra {}", b64.encode(rec)), 1)
        .into_bytes();
    fs::write(&path, ev.encode()).unwrap();
    let r = verify_bundle(&path, &trust_args(&[&x.ds, &x.gu]));
    r.code(FINDING);
    if let Some((code, out)) = run_script(&dir) {
        assert_eq!(
            code, 1,
            "custody finds the evidence altered; verify.py: {out}"
        );
    }
}

/// The package's ciphertext.age replaced by another file, for a document
/// that was never rekeyed: README.txt says its SHA-256 is the blob its
/// arrival record names, yet verify.py only prints that it "was
/// re-encrypted" and passes.
#[test]
fn verify_py_finds_a_replaced_ciphertext() {
    let x = setup();
    let (dir, m) = export_ok(&x, &[x.received], "one");
    let d = doc_of(&m, x.received);
    fs::write(
        dir.join(d["ciphertext"].as_str().unwrap()),
        b"age-encryption.org/v1\nnot the stored file\n",
    )
    .unwrap();
    if let Some((code, out)) = run_script(&dir) {
        assert_eq!(code, 1, "a replaced ciphertext.age passes: {out}");
        assert!(out.contains("FAIL  documents/"), "{out}");
    }
}

/// A manifest that points outside the package (`../`, or an absolute path):
/// verify.py reads the file there and reports the package's document as
/// checked, though the package no longer holds it.
#[test]
fn verify_py_refuses_paths_outside_the_package() {
    let x = setup();
    let (dir, mut m) = export_ok(&x, &[x.received], "one");
    if run_script(&dir).is_none() {
        return;
    }
    let rel = m["documents"][0]["document"].as_str().unwrap().to_string();
    let outside = x.out.path().join("elsewhere.txt");
    fs::rename(dir.join(&rel), &outside).unwrap();
    m["documents"][0]["document"] = Value::from("../elsewhere.txt");
    write_manifest(&dir, &m);
    let (code, out) = run_script(&dir).unwrap();
    assert_eq!(
        code, 1,
        "a manifest naming ../elsewhere.txt for the document passes: {out}"
    );
    m["documents"][0]["document"] = Value::from(s(&outside));
    write_manifest(&dir, &m);
    let (code, out) = run_script(&dir).unwrap();
    assert_eq!(
        code, 1,
        "an absolute path outside the package passes: {out}"
    );
}
