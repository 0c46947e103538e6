//! `receive` between outlets refuses what `verify-bundle` refuses, and what
//! the archive already knows to contradict (issue 14, item 4; FORMAT.md
//! §10.4 "Checkpoints already held"):
//!
//! * a bundle whose checkpoint a mirrored log contradicts (the mirror check
//!   `verify-bundle` ran and `receive` skipped);
//! * a split view: a restored copy of the sender's archive signs a second
//!   checkpoint at the same size (or a second record at the same index), and
//!   the partner has already received a bundle from the first history;
//! * `verify` (and `trace`) on an archive that already holds both histories.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `custody receive BUNDLE -i <to's identity> --trust <from's vkey> --json` in `to`.
fn receive(to: &Fixture, bundle: &Path, from: &Fixture) -> Run {
    let mut c = to.cmd();
    c.arg("receive")
        .arg(bundle)
        .args(["--json", "-i"])
        .arg(to.identity())
        .arg("--trust")
        .arg(from.vkey());
    run(c)
}

/// `custody verify-bundle BUNDLE --trust <from's vkey> --json` in `to`'s archive.
fn verify_bundle_in(to: &Fixture, bundle: &Path, from: &Fixture) -> Run {
    let mut c = to.cmd();
    c.arg("verify-bundle")
        .arg(bundle)
        .args(["--json", "--trust"])
        .arg(from.vkey());
    run(c)
}

/// The findings of a `verify-bundle`/refused `receive` JSON report.
fn bundle_findings(v: &Value) -> Vec<Value> {
    v["report"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {v}"))
        .clone()
}

/// Asserts a refusal: exit 1, a `checkpoint_consistency` finding whose
/// reason contains every one of `needles`, and the archive of `to` as in
/// `before` (nothing stored, not even an evidence file).
#[track_caller]
fn assert_refused(
    r: &Run,
    to: &Fixture,
    before: &Snapshot,
    evidence_before: usize,
    needles: &[&str],
) {
    r.code(FINDING);
    let v = r.json();
    assert_eq!(v["ok"], false, "{v}");
    let found: Vec<Value> = bundle_findings(&v)
        .into_iter()
        .filter(|f| f["check"] == "checkpoint_consistency")
        .collect();
    assert!(!found.is_empty(), "no checkpoint_consistency finding: {v}");
    let reason = found[0]["reason"].as_str().unwrap();
    for n in needles {
        assert!(reason.contains(n), "the reason lacks {n:?}: {reason}");
    }
    assert!(
        r.stderr
            .contains("the bundle was refused; nothing was stored"),
        "{}",
        r.stderr
    );
    to.assert_unchanged(before);
    assert_eq!(
        evidence_files(to),
        evidence_before,
        "an evidence file was kept"
    );
}

/// Receives BUNDLE into `to` as a custody from before the check of
/// checkpoints already held did: through the library's `Archive::receive`
/// (what `custody receive` runs after the writers' check of the whole
/// ledger), with `to`'s `evidence/` hidden meanwhile, so that no kept
/// checkpoint is compared. `custody receive` itself cannot be made to do
/// it: its check of the ledger before writing reads the kept evidence, and
/// refuses an archive whose evidence is missing. Returns the new record's
/// index.
fn receive_unchecked(to: &Fixture, bundle: &Path, from: &Fixture) -> u64 {
    use custody::core::bundle::Trust;
    use custody::core::crypto::Identities;
    use custody::core::keys::{SignerKey, VerifierKey};
    use custody::store::archive::Archive;
    use custody::store::ops::receive::ReceiveOutcome;

    let signer = |p: PathBuf| SignerKey::parse(fs::read_to_string(p).unwrap().trim()).unwrap();
    let vkey = VerifierKey::parse(fs::read_to_string(from.vkey()).unwrap().trim()).unwrap();
    let ids = Identities::parse(&fs::read(to.identity()).unwrap()).unwrap();
    let evdir = to.dir.join("evidence");
    let hidden = to.path().join("hidden");
    fs::rename(&evdir, &hidden).unwrap();
    let out = {
        let mut arch = Archive::open(&to.dir).unwrap();
        arch.set_actor(signer(to.admin_key())).unwrap();
        let logs = [vkey];
        let trust = Trust {
            logs: &logs,
            witnesses: &[],
            quorum: None,
        };
        arch.receive(bundle, &trust, &ids, &signer(to.signing_key()), &mut |_| {})
            .unwrap()
    };
    for e in fs::read_dir(&hidden).unwrap() {
        let e = e.unwrap();
        fs::rename(e.path(), evdir.join(e.file_name())).unwrap();
    }
    match out {
        ReceiveOutcome::Received(r) => r.index,
        ReceiveOutcome::Refused(rep) => panic!("refused: {rep:?}"),
    }
}

fn evidence_files(f: &Fixture) -> usize {
    match fs::read_dir(f.dir.join("evidence")) {
        Ok(d) => d.count(),
        Err(_) => 0,
    }
}

/// Drop Site with the sample leak (after init's two records, records
/// `INIT_RECORDS`..`size`, checkpoint `size`), a restored copy of its
/// archive (the same log key), and the Guardian.
struct Split {
    ds: Fixture,
    copy: Fixture,
    gu: Fixture,
    wire: tempfile::TempDir,
    /// Records of Drop Site (and of the copy) before the test: the size of
    /// their latest checkpoint, and the index of the next record of each.
    size: u64,
}

impl Split {
    fn new() -> Split {
        let ds = Fixture::with_samples();
        let size = ds.records();
        let copy = ds.duplicate();
        Split {
            ds,
            copy,
            gu: Fixture::new_as("guardian"),
            wire: tempfile::tempdir().unwrap(),
            size,
        }
    }
    fn wire(&self, name: &str) -> PathBuf {
        self.wire.path().join(name)
    }
}

/// The index (a string, for `share`) of the `k`-th sample document of Drop
/// Site (0-based).
fn doc(k: u64) -> String {
    (INIT_RECORDS + k).to_string()
}

/// The reported attack: two histories at the same size. Each copy appends
/// one record (a share of a different document to the Guardian), so both
/// sign a checkpoint at the same size (one more than the samples' checkpoint)
/// with different roots. The first bundle is
/// received; the second is refused, naming the record that holds the other
/// checkpoint; before this check, both were received and `verify` passed.
#[test]
fn a_second_history_at_the_same_size_is_refused() {
    let x = Split::new();
    let a = x.wire("a.bundle");
    let b = x.wire("b.bundle");
    let at = x.size + 1;
    let sa = x.ds.share_to(&doc(2), &x.gu, &a);
    let sb = x.copy.share_to(&doc(3), &x.gu, &b);
    assert_eq!(sa["checkpoint_size"], at);
    assert_eq!(sb["checkpoint_size"], at, "both histories reach size {at}");
    // Each bundle alone verifies: the split view is only visible to one who holds both.
    assert_eq!(verify_bundle_in(&x.gu, &b, &x.ds).code, OK);

    let r = receive(&x.gu, &a, &x.ds);
    r.ok();
    let first = r.json()["index"].as_u64().unwrap();
    let before = x.gu.snapshot();
    let ev = evidence_files(&x.gu);

    // verify-bundle in the Guardian's archive now says what receive says.
    let r = verify_bundle_in(&x.gu, &b, &x.ds);
    r.code(FINDING);
    let f = bundle_findings(&r.json());
    assert_eq!(f[0]["check"], "checkpoint_consistency", "{f:?}");

    let r = receive(&x.gu, &b, &x.ds);
    assert_refused(
        &r,
        &x.gu,
        &before,
        ev,
        &[
            &format!("at size {at}"),
            "different roots",
            &format!("the evidence of record {first}"),
        ],
    );
    // The human-readable refusal names the check too.
    let mut c = x.gu.cmd();
    c.arg("receive")
        .arg(&b)
        .arg("-i")
        .arg(x.gu.identity())
        .arg("--trust")
        .arg(x.ds.vkey());
    let r = run(c);
    r.code(FINDING);
    assert!(r.stdout.contains("checkpoint_consistency"), "{}", r.stdout);
    x.gu.assert_unchanged(&before);
}

/// The same attack at different sizes: the copy shares the same document to
/// another partner first, then ingests one more file, then shares to the
/// Guardian. The checkpoints (the samples' size + 2 and + 3) cannot be
/// compared, but both bundles carry the first record after the samples, and
/// it differs: refused.
#[test]
fn one_index_two_records_is_refused_at_any_size() {
    let x = Split::new();
    let lc = x.ds.other_keys("localcall");
    let mag = x.ds.other_keys("972mag");
    let to = |keys: &Path| keys.join("recipient.txt").to_str().unwrap().to_string();
    let a = x.wire("a.bundle");
    let b = x.wire("b.bundle");
    let share = |f: &Fixture, to: &str, out: &Path| {
        f.json(&[
            "share",
            &doc(2),
            "--to",
            to,
            "-i",
            s(&f.identity()),
            "-o",
            s(out),
        ])
    };
    share(&x.ds, &to(&lc), &x.wire("lc.bundle"));
    let sa = x.ds.share_to(&doc(2), &x.gu, &a);
    share(&x.copy, &to(&mag), &x.wire("mag.bundle"));
    let extra = x.copy.path().join("extra.txt");
    fs::write(&extra, "one more file\n").unwrap();
    x.copy.ingest_json(&[s(&extra)]);
    let sb = x.copy.share_to(&doc(2), &x.gu, &b);
    assert_eq!(sa["checkpoint_size"], x.size + 2);
    assert_eq!(sb["checkpoint_size"], x.size + 3);

    receive(&x.gu, &a, &x.ds).ok();
    let before = x.gu.snapshot();
    let ev = evidence_files(&x.gu);
    let r = receive(&x.gu, &b, &x.ds);
    assert_refused(
        &r,
        &x.gu,
        &before,
        ev,
        &[
            &format!("record {} of the log differs", x.size),
            &format!("at size {}", x.size + 3),
            &format!("at size {}", x.size + 2),
        ],
    );
}

/// An honest log that grows is not a split view: a later bundle of the same
/// document (a larger checkpoint, the same earlier records) is received.
#[test]
fn an_honest_later_bundle_is_received() {
    let x = Split::new();
    let a = x.wire("a.bundle");
    let c = x.wire("c.bundle");
    x.ds.share_to(&doc(2), &x.gu, &a);
    receive(&x.gu, &a, &x.ds).ok();
    let extra = x.ds.path().join("extra.txt");
    fs::write(&extra, "one more file\n").unwrap();
    x.ds.ingest_json(&[s(&extra)]);
    let sc = x.ds.share_to(&doc(2), &x.gu, &c);
    assert_eq!(sc["checkpoint_size"], x.size + 3);
    assert_eq!(
        sc["records"], 3,
        "the ingest and both shares: record {} again",
        x.size
    );
    receive(&x.gu, &c, &x.ds).ok();
    x.gu.assert_verified();
}

/// An archive that already holds both histories (received before this
/// check, made here by hiding the first evidence file during the second
/// receive, see [`receive_unchecked`]): `verify` names both records, and
/// `trace` finds it too.
#[test]
fn verify_finds_two_histories_already_held() {
    let x = Split::new();
    let a = x.wire("a.bundle");
    let b = x.wire("b.bundle");
    x.ds.share_to(&doc(2), &x.gu, &a);
    x.copy.share_to(&doc(3), &x.gu, &b);
    let ra = receive(&x.gu, &a, &x.ds);
    ra.ok();
    let first = ra.json()["index"].as_u64().unwrap();
    x.gu.assert_verified();

    let second = receive_unchecked(&x.gu, &b, &x.ds);
    assert_eq!(second, first + 1);

    let (code, v) = x.gu.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    let f = findings_of(&v, "checkpoint_consistency");
    assert_eq!(f.len(), 1, "{v}");
    let reason = f[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("record {first} and record {second}")),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("at size {} with different roots", x.size + 1)),
        "{reason}"
    );
    assert_eq!(f[0]["subject"]["type"], "record", "{v}");
    assert_eq!(f[0]["subject"]["id"], second, "{v}");

    // Both records' chains: the other history is held whichever of the two
    // evidence files `trace` reads first.
    for i in [first, second] {
        let mut c = x.gu.cmd();
        c.args(["trace", &i.to_string(), "--json", "--trust"])
            .arg(x.ds.vkey());
        let r = run(c);
        r.code(FINDING);
        let t = r.json();
        assert_eq!(
            t["trace"]["findings"][0]["check"], "checkpoint_consistency",
            "trace {i}: {t}"
        );
    }
}

/// The reported attack on the mirror check: the Guardian mirrors Drop
/// Site's published log; a bundle from another history of the same log key
/// made `verify-bundle` exit 1 (`checkpoint_consistency`) while `receive`
/// stored it. Now both refuse it, and the honest bundle is still received.
#[test]
fn receive_runs_the_mirror_check() {
    let ds = Fixture::with_samples();
    let gu = Fixture::new_as("guardian");
    let pubdir = ds.path().join("published");
    ds.json(&["publish", s(&pubdir)]);
    let mut c = gu.cmd();
    c.args(["mirror", s(&pubdir), "--json", "--vkey"])
        .arg(ds.vkey());
    run(c).ok();

    // Another history of the same log key, behind the mirror (init's two
    // records, three documents and a share: size 6 < 10).
    let mirrored = ds.records();
    let fork = Fixture::new();
    let d = fork.path().join("d");
    fs::create_dir_all(&d).unwrap();
    for i in 0..3 {
        fs::write(d.join(format!("x{i}.txt")), format!("x {i}\n")).unwrap();
    }
    fork.ingest_json(&[s(&d)]);
    let fb = fork.path().join("fork.bundle");
    let fork_size = fork.share_to(&(INIT_RECORDS + 1).to_string(), &gu, &fb)["checkpoint_size"]
        .as_u64()
        .unwrap();
    assert_eq!(fork_size, INIT_RECORDS + 4);
    assert!(fork_size < mirrored, "{fork_size} {mirrored}");

    let r = verify_bundle_in(&gu, &fb, &ds);
    r.code(FINDING);
    assert_eq!(r.json()["mirrored"][0]["status"], "diverges");

    let before = gu.snapshot();
    let r = receive(&gu, &fb, &ds);
    assert_refused(
        &r,
        &gu,
        &before,
        0,
        &["not the mirrored log's", "a split view"],
    );
    assert_eq!(r.json()["mirrored"][0]["status"], "diverges");

    // The honest bundle: in the mirrored log, received.
    let a = ds.path().join("a.bundle");
    ds.share_to(&(INIT_RECORDS + 2).to_string(), &gu, &a);
    ds.json(&["publish", s(&pubdir)]);
    let mut c = gu.cmd();
    c.args(["mirror", s(&pubdir), "--json", "--vkey"])
        .arg(ds.vkey());
    run(c).ok();
    receive(&gu, &a, &ds).ok();
    gu.assert_verified();
}

/// A document that comes back carries a hop of the receiver's own log: a
/// restored copy of Drop Site (older, or grown into another history) is
/// told, and refuses it; Drop Site itself receives it.
#[test]
fn a_document_that_comes_back_is_checked_against_the_own_log() {
    let x = Split::new();
    let older = x.ds.duplicate();
    let a = x.wire("a.bundle");
    let back = x.wire("back.bundle");
    x.ds.share_to(&doc(2), &x.gu, &a);
    let got = receive(&x.gu, &a, &x.ds);
    got.ok();
    let at_gu = got.json()["index"].as_u64().unwrap().to_string();
    let sb = x.gu.share_to(&at_gu, &x.ds, &back);
    assert_eq!(sb["hops"], 2);
    // The other history: the record after the samples is another share, so
    // the size after it has another root.
    x.copy.share_to(&doc(3), &x.gu, &x.wire("other.bundle"));

    let before = x.copy.snapshot();
    let ev = evidence_files(&x.copy);
    // The Guardian's key is trusted too: the only finding is about Drop Site's hop.
    let mut c = x.copy.cmd();
    c.arg("receive")
        .arg(&back)
        .args(["--json", "-i"])
        .arg(x.copy.identity())
        .args(["--trust", s(&x.ds.vkey()), "--trust", s(&x.gu.vkey())]);
    let r = run(c);
    assert_refused(
        &r,
        &x.copy,
        &before,
        ev,
        &[
            "hop 1",
            &format!("own log key at size {}", x.size + 1),
            "another history",
        ],
    );

    let before = older.snapshot();
    let mut c = older.cmd();
    c.arg("receive")
        .arg(&back)
        .args(["--json", "-i"])
        .arg(older.identity())
        .args(["--trust", s(&x.ds.vkey()), "--trust", s(&x.gu.vkey())]);
    let r = run(c);
    r.code(FINDING);
    let f = bundle_findings(&r.json());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["check"], "rollback", "{f:?}");
    assert!(
        f[0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("latest is at size {}", x.size)),
        "{f:?}"
    );
    older.assert_unchanged(&before);

    let mut c = x.ds.cmd();
    c.arg("receive")
        .arg(&back)
        .args(["--json", "-i"])
        .arg(x.ds.identity())
        .args(["--trust", s(&x.ds.vkey()), "--trust", s(&x.gu.vkey())]);
    run(c).ok();
    x.ds.assert_verified();
}
