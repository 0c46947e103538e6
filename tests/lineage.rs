//! Lineage across outlets (FORMAT.md §10.2 version 2, §10.4 step 8): a
//! derived document carries the custody of its parents, however many
//! outlets and derivations deep. The four-outlet journey: Drop Site ingests
//! the leak, the Guardian receives a document, translates it and redacts
//! the translation, +972 receives the redaction and sees Drop Site's
//! original ingest, and so does Local Call after +972 shares it on. Then
//! what a hostile sender or a tampered bundle does to that, each with its
//! finding, and bundles made before lineage was carried.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::chain::*;
use common::*;
use custody::core::bundle::{BundleHead, Evidence};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const DS: &str = "dropsite.example/leaks";
const GU: &str = "theguardian.example/custody";
const MAG: &str = "972mag.example/custody";

struct Journey {
    ds: Fixture,
    gu: Fixture,
    mag: Fixture,
    lc: Fixture,
    wire: tempfile::TempDir,
    /// The Guardian's records: the received original, the translation, the redaction.
    received: u64,
    translation: u64,
    redaction: u64,
    /// The redaction's bundle for +972.
    bundle: PathBuf,
}

/// Drop Site ingests and shares to the Guardian; the Guardian receives,
/// translates, redacts the translation and shares the redaction to +972.
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
    let t = trust_args(&[&ds]);
    let rx = gu.json(&args(&["receive", s(&a), "-i", s(&gu.identity())], &t));
    let received = rx["index"].as_u64().unwrap();

    let work = gu.path().join("desk");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("memo-en.txt"), "The memo, in English.\n").unwrap();
    fs::write(
        work.join("memo-en-redacted.txt"),
        "The memo, in English. [REDACTED]\n",
    )
    .unwrap();
    let d = |parent: u64, file: &str, relation: &str| {
        gu.json(&[
            "derive",
            &parent.to_string(),
            s(&work.join(file)),
            "--relation",
            relation,
            "-i",
            s(&gu.identity()),
        ])["index"]
            .as_u64()
            .unwrap()
    };
    let translation = d(received, "memo-en.txt", "translation");
    let redaction = d(translation, "memo-en-redacted.txt", "redaction");
    let bundle = wire.path().join("redacted.bundle");
    let sh = gu.share_to(&redaction.to_string(), &mag, &bundle);
    assert_eq!(sh["hops"], 1, "{sh}");
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

fn origins(hops: &Value) -> Vec<String> {
    hops.as_array()
        .unwrap()
        .iter()
        .map(|h| h["origin"].as_str().unwrap().to_string())
        .collect()
}

/// The kinds of the records about documents in each hop (actor and config
/// records, which every hop carries, left out).
fn kinds(hops: &Value) -> Vec<Vec<String>> {
    hops.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            h["events"]
                .as_array()
                .unwrap()
                .iter()
                .inspect(|e| assert_eq!(e["verified"], true, "{e}"))
                .map(|e| e["kind"].as_str().unwrap().to_string())
                .filter(|k| k != "actor" && k != "config")
                .collect()
        })
        .collect()
}

/// The lineage of a trace or bundle report back to the original: the
/// redaction's parent (the translation), whose parent is the received
/// original, whose custody starts with Drop Site's ingest.
fn assert_back_to_drop_site(v: &Value, j: &Journey) {
    let l = v["lineage"].as_array().expect("a lineage");
    assert_eq!(l.len(), 1, "{v}");
    assert_eq!(l[0]["relation"], "redaction");
    assert_eq!(l[0]["origin"], GU);
    assert_eq!(l[0]["document"], j.translation);
    assert_eq!(origins(&l[0]["hops"]), [GU]);
    assert_eq!(kinds(&l[0]["hops"]), [["derive"]]);
    let l2 = l[0]["lineage"]
        .as_array()
        .expect("the translation's lineage");
    assert_eq!(l2.len(), 1);
    assert_eq!(l2[0]["relation"], "translation");
    assert_eq!(l2[0]["document"], j.received);
    assert_eq!(origins(&l2[0]["hops"]), [DS, GU]);
    assert_eq!(
        kinds(&l2[0]["hops"]),
        [vec!["ingest", "share"], vec!["receive"]]
    );
    assert!(l2[0]["lineage"].is_null(), "the original has no parents");
}

/// The issue's journey: +972 and then Local Call see Drop Site's original,
/// every hop re-verified, in verify-bundle, receive, trace and audit.
#[test]
fn four_outlets_see_the_original_ingest() {
    let j = journey();
    let both = trust_args(&[&j.ds, &j.gu]);
    let mid = j.mag.identity();

    // +972 verifies the redaction's bundle: the Guardian's hop, and the
    // lineage back to Drop Site.
    let r = run({
        let mut c = custody();
        c.args(args(
            &["verify-bundle", s(&j.bundle), "--json", "-i", s(&mid)],
            &both,
        ));
        c
    });
    r.ok();
    let v = r.json();
    assert_eq!(origins(&v["report"]["hops"]), [GU]);
    assert_eq!(kinds(&v["report"]["hops"]), [["derive", "share"]]);
    assert_back_to_drop_site(&v["report"], &j);

    // Text output names every hop of the lineage.
    let r = run({
        let mut c = custody();
        c.args(args(&["verify-bundle", s(&j.bundle)], &both));
        c
    });
    r.ok();
    assert!(
        r.stdout
            .contains("redaction of theguardian.example/custody record"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("translation of theguardian.example/custody record"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(DS), "{}", r.stdout);

    // +972 receives it and traces it back to Drop Site.
    let rx = j
        .mag
        .json(&args(&["receive", s(&j.bundle), "-i", s(&mid)], &both));
    let at972 = rx["index"].as_u64().unwrap();
    let t = j.mag.json(&args(&["trace", &at972.to_string()], &both));
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(origins(&t["trace"]["hops"]), [GU, MAG]);
    assert_back_to_drop_site(&t["trace"], &j);
    j.mag.assert_verified();

    // Its audit shows Drop Site's original ingest: in JSON, text and HTML.
    let at = at972.to_string();
    let audit = |extra: &[&str]| {
        let r = j
            .mag
            .run(&args(&[&["audit", &at][..], extra].concat(), &both));
        r.no_panic();
        r
    };
    let a = audit(&["--json"]).json();
    let up = &a["upstream"];
    assert_eq!(up[0]["relation"], "redaction", "{a}");
    assert_eq!(up[0]["parents"][0]["relation"], "translation", "{a}");
    assert_eq!(origins(&up[0]["parents"][0]["hops"]), [DS, GU]);
    assert_eq!(
        kinds(&up[0]["parents"][0]["hops"]),
        [vec!["ingest", "share"], vec!["receive"]]
    );
    let text = audit(&[]).stdout;
    assert!(
        text.contains("derived at another outlet, back to each original"),
        "{text}"
    );
    assert!(text.contains(DS), "{text}");
    let html = j.mag.path().join("audit.html");
    audit(&["--format", "html", "-o", s(&html)]);
    let html = fs::read_to_string(&html).unwrap();
    assert!(html.contains(r#"<svg id="upstream""#), "the drawing");
    assert!(html.contains(DS));

    // +972 shares it on to Local Call, which sees the same lineage.
    let c = j.wire.path().join("redacted-lc.bundle");
    let sh = j.mag.share_to(&at972.to_string(), &j.lc, &c);
    assert_eq!(sh["hops"], 2);
    let all = trust_args(&[&j.ds, &j.gu, &j.mag]);
    let rx =
        j.lc.json(&args(&["receive", s(&c), "-i", s(&j.lc.identity())], &all));
    let atlc = rx["index"].as_u64().unwrap();
    let t = j.lc.json(&args(&["trace", &atlc.to_string()], &all));
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(
        origins(&t["trace"]["hops"]),
        [GU, MAG, "localcall.example/custody"]
    );
    assert_back_to_drop_site(&t["trace"], &j);
    j.lc.assert_verified();

    // The Guardian's own trace of the redaction shows the same lineage.
    let t = j.gu.json(&args(
        &["trace", &j.redaction.to_string()],
        &trust_args(&[&j.ds]),
    ));
    assert_eq!(t["ok"], true, "{t}");
    assert_back_to_drop_site(&t["trace"], &j);
}

/// Every log of the lineage is judged like the document's own: without
/// trusting Drop Site, +972 is told its hop is not trusted, and the receive
/// is refused (exit 1, nothing stored).
#[test]
fn every_log_of_the_lineage_must_be_trusted() {
    let j = journey();
    let only_gu = trust_args(&[&j.gu]);
    let r = run({
        let mut c = custody();
        c.args(args(&["verify-bundle", s(&j.bundle), "--json"], &only_gu));
        c
    });
    r.code(FINDING);
    let v = r.json();
    let f = v["report"]["findings"].as_array().unwrap();
    assert!(
        f.iter()
            .any(|f| f["check"] == "untrusted_log" && f["subject"]["id"] == DS),
        "{v}"
    );
    let before = j.mag.snapshot();
    let r = j.mag.run(&args(
        &["receive", s(&j.bundle), "-i", s(&j.mag.identity())],
        &only_gu,
    ));
    r.code(FINDING);
    j.mag.assert_unchanged(&before);
}

fn findings(bundle: &Path, trust: &[String]) -> Vec<(String, String)> {
    let r = run({
        let mut c = custody();
        c.args(args(&["verify-bundle", s(bundle), "--json"], trust));
        c
    });
    r.no_panic();
    report_findings(&r)
}

/// A tampered lineage is a `lineage_parent` finding naming what is wrong:
/// a parent's chain swapped for another document's, one dropped, one whose
/// last hop carries another checkpoint, and parents on a document that was
/// not derived.
#[test]
fn a_tampered_lineage_is_a_finding() {
    let j = journey();
    let both = trust_args(&[&j.ds, &j.gu]);
    let (head, payload) = load(&j.bundle);
    let bad = j.wire.path().join("bad.bundle");
    let check = |h: &BundleHead, want: &str| {
        save(&bad, h, &payload);
        let f = findings(&bad, &both);
        assert!(
            f.iter()
                .any(|(c, r)| c == "lineage_parent" && r.contains(want)),
            "want lineage_parent {want:?}: {f:?}"
        );
        let before = j.mag.snapshot();
        j.mag
            .run(&args(
                &["receive", s(&bad), "-i", s(&j.mag.identity())],
                &both,
            ))
            .code(FINDING);
        j.mag.assert_unchanged(&before);
    };

    // The translation's chain replaced by the original's (a real chain of
    // the Guardian's log, of another document).
    let mut h = head.clone();
    h.evidence.parents[0] = h.evidence.parents[0].parents[0].clone();
    check(&h, "ends at record");

    // A second parent's chain added.
    let mut h = head.clone();
    let extra = h.evidence.parents[0].clone();
    h.evidence.parents.push(extra);
    check(&h, "names 1 parent(s) but the evidence carries 2");

    // The translation's chain proven against another checkpoint of the
    // Guardian's log: taken from a later bundle of the translation, valid
    // on its own (its share record at its end is allowed in a parent's chain).
    let later = j.wire.path().join("translation.bundle");
    j.gu.share_to(&j.translation.to_string(), &j.lc, &later);
    let mut h = head.clone();
    h.evidence.parents[0] = load(&later).0.evidence;
    check(&h, "another checkpoint");

    // Parents on the original itself (a document that was not derived),
    // in Drop Site's bundle to the Guardian.
    let (mut h0, p0) = load(&j.wire.path().join("original.bundle"));
    h0.evidence.parents = vec![head.evidence.parents[0].clone()];
    save(&bad, &h0, &p0);
    let f = findings(&bad, &trust_args(&[&j.ds, &j.gu]));
    assert!(
        f.iter()
            .any(|(c, r)| c == "lineage_parent" && r.contains("not a derive record")),
        "{f:?}"
    );
}

/// A bundle of a derived document made before lineage was carried (version
/// 1 evidence: the same bytes without the parents) still verifies and is
/// received; the trace says the parents' custody is not carried. Kept
/// evidence of that form keeps verifying, and shares on as it is.
#[test]
fn bundles_without_lineage_still_verify() {
    let j = journey();
    let both = trust_args(&[&j.ds, &j.gu]);
    let (mut head, payload) = load(&j.bundle);
    head.evidence.parents.clear();
    let old = j.wire.path().join("v1.bundle");
    save(&old, &head, &payload);
    assert!(fs::read(&old)
        .unwrap()
        .windows(20)
        .any(|w| w == b"custody-evidence/v1\n"));
    let r = run({
        let mut c = custody();
        c.args(args(&["verify-bundle", s(&old), "--json"], &both));
        c
    });
    r.ok();
    assert_eq!(r.json()["report"]["lineage_not_carried"], true);
    let rx = j.mag.json(&args(
        &["receive", s(&old), "-i", s(&j.mag.identity())],
        &both,
    ));
    let at = rx["index"].as_u64().unwrap().to_string();
    let t = j.mag.json(&args(&["trace", &at], &both));
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["trace"]["lineage_not_carried"], true);
    j.mag.assert_verified();
    let on = j.wire.path().join("v1-on.bundle");
    j.mag.share_to(&at, &j.lc, &on);
    let all = trust_args(&[&j.ds, &j.gu, &j.mag]);
    j.lc.json(&args(&["receive", s(&on), "-i", s(&j.lc.identity())], &all));
    j.lc.assert_verified();
}

/// The evidence encoding: version 1 exactly when there are no parents,
/// canonical, and bounded in depth.
#[test]
fn evidence_v2_is_canonical_and_bounded() {
    let j = journey();
    let (head, _) = load(&j.bundle);
    let ev = head.evidence.encode();
    assert!(ev.starts_with(b"custody-evidence/v2\n"));
    assert_eq!(Evidence::parse(&ev).unwrap(), head.evidence);
    // A version 2 evidence without parents is not canonical.
    let mut v1 = head.evidence.clone();
    v1.parents.clear();
    let mut b = v1.encode();
    b[18] = b'2';
    b.push(0);
    assert!(Evidence::parse(&b).is_err());
    // Nested 17 deep: refused.
    let mut deep = v1.clone();
    for _ in 0..17 {
        deep = Evidence {
            hops: v1.hops.clone(),
            parents: vec![deep],
        };
    }
    assert!(Evidence::parse(&deep.encode()).is_err());
    assert!(deep.validate().is_err());
}
