//! Issue 19, item 7: the smaller points the four-outlet journey found, one
//! test each.
//!
//! 1. an `access_unshared` finding goes once a grant ratifies the
//!    decryption (an editor's grant recorded afterwards), and stays without
//!    one;
//! 2. `show -i` lists the notes about a document, and `show`/`log` of an
//!    `annotate` record give its text;
//! 3. `show` opens names with the identity `custody.toml` names, without
//!    the "(give -i IDENTITY…)" hint; the hint stays when there is none;
//! 4. cosignature times are RFC 3339 (tests/witness.rs, `add-cosignature`);
//! 5. `audit -o FILE` says on stderr that there are findings;
//! 6. a second key for an origin already trusted is added with a warning.

mod common;

use std::fs;
use std::path::Path;

use common::age_cli::person;
use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn as_person(f: &Fixture, who: &Path, args: &[&str]) -> Run {
    let mut c = f.cmd();
    c.arg("--key").arg(who.join("signing.key")).args(args);
    run(c)
}

fn audit_findings(f: &Fixture, doc: &str) -> Vec<String> {
    let r = f.run(&["audit", doc, "--format", "json"]);
    r.no_panic();
    let v: Value = r.json();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{}:{}", x["check"].as_str().unwrap(), x["subject"]["id"]))
        .collect()
}

/// Point 1.
#[test]
fn a_later_grant_ratifies_a_decryption() {
    let f = Fixture::new();
    let jo = person(&f, "jo");
    f.run(&[
        "actor",
        "add",
        "jo",
        s(&jo.join("signing.vkey")),
        "--role",
        "journalist",
    ])
    .ok();
    let p = f.path().join("memo.txt");
    fs::write(&p, b"memo").unwrap();
    let doc = f.ingest_json(&[s(&p)])[0]["index"].to_string();
    let out = f.path().join("out.txt");
    let r = as_person(
        &f,
        &jo,
        &[
            "extract",
            &doc,
            "-i",
            s(&f.identity()),
            "-o",
            s(&out),
            "--reason",
            "translation",
            "--json",
        ],
    );
    r.ok();
    let access = f.records() - 1;
    let unshared = format!("access_unshared:{access}");
    assert!(audit_findings(&f, &doc).contains(&unshared));
    // The editor's grant afterwards ratifies it.
    f.run(&["grant", &doc, "jo", "-i", s(&f.identity())]).ok();
    let after = audit_findings(&f, &doc);
    assert!(!after.contains(&unshared), "{after:?}");
    // A decryption of another document, never granted, stays a finding.
    let q = f.path().join("other.txt");
    fs::write(&q, b"other").unwrap();
    let other = f.ingest_json(&[s(&q)])[0]["index"].to_string();
    let out2 = f.path().join("out2.txt");
    as_person(
        &f,
        &jo,
        &[
            "extract",
            &other,
            "-i",
            s(&f.identity()),
            "-o",
            s(&out2),
            "--reason",
            "curiosity",
        ],
    )
    .ok();
    let at = f.records() - 1;
    assert!(audit_findings(&f, &other).contains(&format!("access_unshared:{at}")));
}

/// Points 2 and 3.
#[test]
fn show_lists_notes_and_opens_names_with_the_configured_identity() {
    let f = Fixture::new();
    let p = f.path().join("memo.txt");
    fs::write(&p, b"memo").unwrap();
    let doc = f.ingest_json(&[s(&p)])[0]["index"].to_string();
    let n = f.json(&["annotate", &doc, "confirmed with a second source"]);
    let note_at = n["index"].to_string();
    // custody.toml names the identity: names and notes without -i.
    let r = f.run(&["show", &doc]);
    r.ok();
    assert!(r.stdout.contains("path        memo.txt"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("note        #{note_at} "))
            && r.stdout.contains("second source"),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("give -i"), "{}", r.stderr);
    let v = f.json(&["show", &doc]);
    assert_eq!(
        v["notes"][0]["text"], "confirmed with a second source",
        "{v}"
    );
    // The annotate record itself, in show and in log -i.
    let r = f.run(&["show", &note_at]);
    assert!(r.stdout.contains("note        confirmed"), "{}", r.stdout);
    let r = f.run(&["log", "-i", s(&f.identity())]);
    assert!(r.stdout.contains("second source"), "{}", r.stdout);
    // Without custody.toml's identity: digests only, and the hint.
    f.forget_identity();
    let r = f.run(&["show", &doc]);
    r.ok();
    assert!(!r.stdout.contains("memo.txt"), "{}", r.stdout);
    assert!(!r.stdout.contains("second source"), "{}", r.stdout);
    assert!(r.stderr.contains("give -i IDENTITY"), "{}", r.stderr);
}

/// Point 5.
#[test]
fn audit_to_a_file_says_there_are_findings() {
    let f = Fixture::new();
    let p = f.path().join("memo.txt");
    fs::write(&p, b"memo").unwrap();
    let doc = f.ingest_json(&[s(&p)])[0]["index"].to_string();
    let out = f.path().join("audit.html");
    let r = f.run(&["audit", &doc, "--format", "html", "-o", s(&out)]);
    r.code(1);
    assert!(
        r.stderr.contains("finding(s) (approval_missing)"),
        "{}",
        r.stderr
    );
    assert!(out.exists());
}

/// Point 6.
#[test]
fn a_second_key_for_a_trusted_origin_is_warned_about() {
    let f = Fixture::new();
    let store = f.path().join("trust.toml");
    let trust = |args: &[&str]| {
        let mut c = custody();
        c.env("CUSTODY_TRUST_STORE", &store).arg("trust").args(args);
        run(c)
    };
    trust(&["add", "dropsite", s(&repo_key("dropsite", "signing.vkey"))]).ok();
    // Another key under the same key name (origin): a forged log's key.
    let other = f.path().join("other");
    let mut c = custody();
    c.args(["keygen", "--name", "dropsite.example/leaks", "-o"])
        .arg(&other);
    run(c).ok();
    let r = trust(&["add", "dropsite-2", s(&other.join("signing.vkey"))]);
    r.ok();
    assert!(
        r.stderr.contains("already trusts another key named") && r.stderr.contains("dropsite"),
        "{}",
        r.stderr
    );
    // A key of another name: no warning.
    let r = trust(&["add", "guardian", s(&repo_key("guardian", "signing.vkey"))]);
    r.ok();
    assert!(!r.stderr.contains("already trusts"), "{}", r.stderr);
}
