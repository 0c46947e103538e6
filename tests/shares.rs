//! Issue 19, item 4: shares by partner. A share names its partner (from
//! `share --partner`, a recipients file's `# partner:` line, or the trust
//! store, in that order) and keeps its note, both sealed in version 2 share
//! details (FORMAT.md §5.3, §5.4, §11.5); `custody shares [PARTNER]` lists
//! what went to whom; `show -i`, `log -i`, the audit and `trace` name the
//! partner. Archives made before keep verifying and listing their shares;
//! hostile sealed details are `sealed` findings; names and notes are escaped
//! in text output and appear in no ledger or published byte.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::crypto::{encrypt_bytes, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Payload, RecordBody, Sealed, Share};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `k`-th sample document of a new archive holding the samples.
fn doc(k: u64) -> String {
    (INIT_RECORDS + k).to_string()
}

/// Drop Site with the samples, the Guardian's and Local Call's keys, and a
/// trust store of its own.
struct Desk {
    f: Fixture,
    gu: PathBuf,
    lc: PathBuf,
    trust: PathBuf,
}

impl Desk {
    fn new() -> Desk {
        let f = Fixture::new_as("dropsite");
        f.ingest_samples();
        let gu = f.other_keys("guardian");
        let lc = f.other_keys("localcall");
        let trust = f.path().join("trust.toml");
        Desk { f, gu, lc, trust }
    }

    /// `custody -A DIR ARGS…` with this desk's trust store.
    fn run(&self, args: &[&str]) -> Run {
        let mut c = self.f.cmd();
        c.env("CUSTODY_TRUST_STORE", &self.trust).args(args);
        run(c)
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let r = self.run(&a);
        r.ok();
        r.json()
    }

    /// `share DOC --to TO… -o OUT EXTRA… --json`.
    #[track_caller]
    fn share(&self, k: u64, to: &[&Path], extra: &[&str]) -> Value {
        let out = self.f.path().join(format!("share-{k}.bundle"));
        let mut a = vec!["share".to_string(), doc(k)];
        for t in to {
            a.push("--to".into());
            a.push(s(t).into());
        }
        a.extend(["-i", s(&self.f.identity()), "-o", s(&out)].map(String::from));
        a.extend(extra.iter().map(|x| x.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.json(&a)
    }

    /// A recipients file holding `outlet`'s recipient after `head`.
    fn recipients_file(&self, name: &str, head: &str, outlet: &Path) -> PathBuf {
        let p = self.f.path().join(name);
        let r = fs::read_to_string(outlet.join("recipient.txt")).unwrap();
        fs::write(&p, format!("{head}{r}")).unwrap();
        p
    }

    /// `shares ARGS… --json`'s list.
    #[track_caller]
    fn shares(&self, args: &[&str]) -> Vec<Value> {
        let v = self.json(&[&["shares"], args].concat());
        v["shares"].as_array().unwrap().clone()
    }
}

fn recipient_of(keys: &Path) -> String {
    fs::read_to_string(keys.join("recipient.txt"))
        .unwrap()
        .trim()
        .to_string()
}

fn fingerprint_of(keys: &Path) -> Digest {
    RecipientKey::parse(&recipient_of(keys))
        .unwrap()
        .fingerprint()
}

#[test]
fn names_come_from_the_option_the_recipients_file_or_the_trust_store_in_that_order() {
    let d = Desk::new();
    // The trust store names the Guardian's recipient.
    d.run(&[
        "trust",
        "add",
        "guardian",
        "--recipient",
        s(&d.gu.join("recipient.txt")),
    ])
    .ok();
    let listed = d.json(&["trust", "list"]);
    assert_eq!(listed["recipients"][0]["name"], "guardian", "{listed}");
    assert_eq!(
        listed["recipients"][0]["fingerprint"],
        fingerprint_of(&d.gu).to_hex()
    );
    let gu_file = d.gu.join("recipient.txt");
    let named = d.recipients_file("named.txt", "# partner: guardian-berlin\n", &d.gu);

    // Trust store only.
    let a = d.share(0, &[&gu_file], &[]);
    assert_eq!(a["partner"], "guardian", "{a}");
    assert_eq!(a["partner_from"], "trust_store");
    // The recipients file wins over the trust store.
    let b = d.share(1, &[&named], &[]);
    assert_eq!(b["partner"], "guardian-berlin", "{b}");
    assert_eq!(b["partner_from"], "recipients_file");
    // --partner wins over both.
    let c = d.share(2, &[&named], &["--partner", "gu-investigations"]);
    assert_eq!(c["partner"], "gu-investigations", "{c}");
    assert_eq!(c["partner_from"], "option");
    // No source: no name, the fingerprints stand for the partner.
    let e = d.share(3, &[&d.lc.join("recipient.txt")], &[]);
    assert!(e.get("partner").is_none(), "{e}");
    // A recipient the trust store does not know, with one it knows: no name.
    let both = d.share(4, &[&gu_file, &d.lc.join("recipient.txt")], &[]);
    assert!(both.get("partner").is_none(), "{both}");
    assert_eq!(both["recipients"].as_array().unwrap().len(), 2);
    let text = d.run(&[
        "share",
        &doc(5),
        "--to",
        s(&gu_file),
        "-i",
        s(&d.f.identity()),
        "-o",
        s(&d.f.path().join("text.bundle")),
    ]);
    text.ok();
    assert!(
        text.stdout
            .contains("to partner guardian (1 recipient(s), name from the trust store)"),
        "{}",
        text.stdout
    );

    // The list names them all, with the recipients' fingerprints.
    let gu_fp = fingerprint_of(&d.gu).to_hex();
    let lc_fp = fingerprint_of(&d.lc).to_hex();
    let list = d.shares(&[]);
    assert_eq!(list[4]["document"].to_string(), doc(4));
    assert!(list[4].get("partner").is_none(), "{}", list[4]);
    let got: Vec<(String, Option<&str>, Option<&str>, &str)> = list
        .iter()
        .filter(|e| e["document"] != INIT_RECORDS + 4)
        .map(|e| {
            (
                e["document"].to_string(),
                e["partner"].as_str(),
                e["partner_from"].as_str(),
                e["recipients"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (doc(0), Some("guardian"), Some("sealed"), gu_fp.as_str()),
            (doc(1), Some("guardian-berlin"), Some("sealed"), &gu_fp),
            (doc(2), Some("gu-investigations"), Some("sealed"), &gu_fp),
            (doc(3), None, None, &lc_fp),
            (doc(5), Some("guardian"), Some("sealed"), &gu_fp),
        ]
    );
    assert_eq!(list[0]["name"], "README.txt", "{}", list[0]);
    assert!(list[0]["payload_size"].as_u64().unwrap() > 0);
    assert_eq!(list[0]["sealed"], true);

    // show -i, log -i, the audit (text, JSON, HTML) and trace name the partner.
    let sh = a["index"].to_string();
    let r = d.run(&["show", &sh, "-i", s(&d.f.identity())]);
    r.ok();
    assert!(r.stdout.contains("partner     guardian\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("shared to   {gu_fp} (")),
        "{}",
        r.stdout
    );
    let v = d.json(&["show", &sh]);
    assert_eq!(v["details"]["partner"], "guardian", "{v}");
    assert_eq!(v["details"]["v"], 2);
    let log = d
        .run(&["log", "-i", s(&d.f.identity())])
        .ok()
        .stdout
        .clone();
    assert!(log.contains("to partner gu-investigations"), "{log}");
    let r = d.run(&[
        "audit",
        &doc(0),
        "--format",
        "json",
        "-i",
        s(&d.f.identity()),
    ]);
    assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
    let au = r.json();
    let ev: Vec<&Value> = au["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "share")
        .collect();
    assert_eq!(ev.len(), 1, "{au}");
    assert_eq!(ev[0]["partner"], "guardian");
    assert!(ev[0]["summary"]
        .as_str()
        .unwrap()
        .contains("to partner guardian"));
    for format in ["text", "html"] {
        let r = d.run(&[
            "audit",
            &doc(1),
            "--format",
            format,
            "-i",
            s(&d.f.identity()),
        ]);
        assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
        assert!(
            r.stdout.contains("to partner guardian-berlin"),
            "{format}: {}",
            r.stdout
        );
    }
    let tr = d.run(&["trace", &doc(2)]);
    tr.ok();
    assert!(
        tr.stdout.contains("to partner gu-investigations"),
        "{}",
        tr.stdout
    );
    d.f.assert_verified();
    let (code, v) = d.f.verify(&["--deep", "-i", s(&d.f.identity())]);
    assert_eq!(code, OK, "{v}");
}

#[test]
fn the_note_is_kept_here_listed_and_sent_but_the_name_is_never_sent() {
    let d = Desk::new();
    let out = d.f.path().join("memo.bundle");
    d.f.json(&[
        "share",
        &doc(6),
        "--to",
        s(&d.gu.join("recipient.txt")),
        "-i",
        s(&d.f.identity()),
        "-o",
        s(&out),
        "--partner",
        "guardian-desk-7",
        "--note",
        "for the Gaza desk\nsecond line",
    ]);
    let list = d.shares(&["guardian-desk-7"]);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["note"], "for the Gaza desk\nsecond line");
    let text = d.run(&["shares"]).ok().stdout.clone();
    assert!(
        text.contains("to guardian-desk-7 [")
            && text.contains("note: for the Gaza desk\\u{a}second line"),
        "{text}"
    );
    // The partner reads the note, not the name this archive gives it.
    let mut c = custody();
    c.current_dir(d.f.path())
        .args(["verify-bundle", s(&out), "--trust", s(&d.f.vkey()), "-i"])
        .arg(d.gu.join("identity.age"));
    let r = run(c);
    r.ok();
    assert!(
        r.stdout.contains("note     for the Gaza desk"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("guardian-desk-7"), "{}", r.stdout);
    let bytes = fs::read(&out).unwrap();
    assert!(!bytes.windows(15).any(|w| w == b"guardian-desk-7"));
}

#[test]
fn shares_are_filtered_by_name_recipient_file_or_fingerprint() {
    let d = Desk::new();
    d.share(
        0,
        &[&d.gu.join("recipient.txt")],
        &["--partner", "guardian"],
    );
    d.share(
        1,
        &[&d.lc.join("recipient.txt")],
        &["--partner", "localcall"],
    );
    d.share(2, &[&d.gu.join("recipient.txt")], &[]);
    let gu_fp = fingerprint_of(&d.gu).to_hex();
    let idx =
        |l: &[Value]| -> Vec<String> { l.iter().map(|e| e["document"].to_string()).collect() };
    assert_eq!(idx(&d.shares(&["guardian"])), [doc(0)]);
    assert_eq!(idx(&d.shares(&["localcall"])), [doc(1)]);
    let all_gu = [doc(0), doc(2)];
    assert_eq!(idx(&d.shares(&[&recipient_of(&d.gu)])), all_gu);
    assert_eq!(idx(&d.shares(&[s(&d.gu.join("recipient.txt"))])), all_gu);
    assert_eq!(idx(&d.shares(&[&gu_fp[..8]])), all_gu);
    assert_eq!(idx(&d.shares(&[&gu_fp.to_uppercase()])), all_gu);
    assert!(d.shares(&["972mag"]).is_empty());
    // The fingerprints stand for an unnamed partner in text.
    let text = d.run(&["shares", &gu_fp[..8]]).ok().stdout.clone();
    assert!(text.contains(&format!("to [{}]", &gu_fp[..8])), "{text}");
    assert!(
        text.contains(&format!("to guardian [{}]", &gu_fp[..8])),
        "{text}"
    );
    // A PARTNER that is none of those is bad input.
    d.run(&["shares", "The Guardian"])
        .error(&["shares PARTNER", "is not a partner's name"]);
    // Without an identity nothing sealed can be listed.
    d.f.forget_identity();
    d.run(&["shares"]).error(&["give -i IDENTITY"]);
    assert_eq!(
        d.shares(&["-i", s(&d.f.identity())]).len(),
        3,
        "-i opens them"
    );
}

#[test]
fn bad_names_and_notes_are_refused_before_anything_is_written() {
    let d = Desk::new();
    let before = d.f.snapshot();
    let blobs = || files_under(&d.f.dir.join("blobs")).len();
    let n_blobs = blobs();
    let out = d.f.path().join("x.bundle");
    let gu = d.gu.join("recipient.txt");
    let try_share = |to: &[&Path], extra: &[&str]| {
        let mut a = vec!["share".to_string(), doc(0)];
        for t in to {
            a.extend(["--to".to_string(), s(t).to_string()]);
        }
        a.extend(["-i", s(&d.f.identity()), "-o", s(&out)].map(String::from));
        a.extend(extra.iter().map(|x| x.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        d.run(&a)
    };
    try_share(&[&gu], &["--partner", "The Guardian"]).error(&["--partner", "nothing was written"]);
    try_share(&[&gu], &["--partner", "x\u{1b}[2J"]).error(&["--partner"]);
    try_share(&[&gu], &["--note", &"x".repeat(1025)]).error(&["--note is 1025 bytes"]);
    try_share(&[&gu], &["--note", "a\u{1b}[2Jb"]).error(&["control character"]);
    let bad_line = d.recipients_file("bad.txt", "# partner: The Guardian\n", &d.gu);
    try_share(&[&bad_line], &[]).error(&["line 1", "give --partner NAME"]);
    let one = d.recipients_file("one.txt", "# partner: guardian\n", &d.gu);
    let two = d.recipients_file("two.txt", "# partner: localcall\n", &d.lc);
    try_share(&[&one, &two], &[]).error(&["name 2 partners", "--partner"]);
    // The trust store naming the recipients as two partners.
    d.run(&["trust", "add", "guardian", "--recipient", s(&gu)])
        .ok();
    let lc = d.lc.join("recipient.txt");
    d.run(&["trust", "add", "localcall", "--recipient", s(&lc)])
        .ok();
    try_share(&[&gu, &lc], &[]).error(&["trust store names", "--partner"]);
    // A recipient the trust store already has, or a bad partner name there.
    d.run(&["trust", "add", "other", "--recipient", s(&gu)])
        .error(&["already trusted as partner"]);
    d.run(&["trust", "add", "Bad.Name", "--recipient", s(&gu)])
        .error(&["not a usable partner name"]);
    assert!(!out.exists());
    d.f.assert_unchanged(&before);
    assert_eq!(blobs(), n_blobs, "a sealed blob was written");
    // --partner overrides a file whose line would be refused.
    let v = d.share(0, &[&bad_line], &["--partner", "guardian"]);
    assert_eq!(v["partner"], "guardian");
    // trust remove: the key by default, the recipients with --recipient.
    d.run(&["trust", "remove", "guardian"])
        .error(&["--recipient"]);
    d.run(&["trust", "remove", "guardian", "--recipient"]).ok();
    assert_eq!(
        d.json(&["trust", "list"])["recipients"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn the_sealed_length_does_not_tell_whether_a_share_has_a_name_or_a_note() {
    let d = Desk::new();
    let gu = d.gu.join("recipient.txt");
    let plain = d.share(0, &[&gu], &[]);
    let named = d.share(
        1,
        &[&gu],
        &["--partner", &"g".repeat(64), "--note", &"\"".repeat(1024)],
    );
    let size = |v: &Value| d.f.show(&v["index"].to_string())["sealed"]["size"].clone();
    assert_eq!(size(&plain), size(&named));
    assert_eq!(d.f.show(&plain["index"].to_string())["details"]["v"], 1);
}

/// Archives made before share details had a version 2: a version 1 share
/// record (tests/data/archive-v2) and a version 2 record with version 1
/// details (the conformance kit's `every-kind`, made by the release before)
/// verify as before and list their shares, named from the trust store.
#[test]
fn shares_of_archives_made_before_verify_and_list() {
    let keys = Fixture::uninit();
    let gu = keys.other_keys("guardian");
    let trust = keys.path().join("trust.toml");
    let id = keys.identity();
    for (src, version) in [
        ("tests/data/archive-v2", false),
        ("tests/data/conformance/records/every-kind", true),
    ] {
        let dir = keys.path().join(src.replace('/', "-"));
        copy_dir(&repo().join(src), &dir);
        let go = |args: &[&str]| {
            let mut c = custody();
            c.arg("-A")
                .arg(&dir)
                .env("CUSTODY_TRUST_STORE", &trust)
                .args(args);
            run(c)
        };
        let r = go(&["verify", "--deep", "-i", s(&id)]);
        assert_eq!(r.code, OK, "{src}: {}{}", r.stdout, r.stderr);
        let r = go(&["shares", "-i", s(&id), "--json"]);
        r.ok();
        let list = r.json()["shares"].as_array().unwrap().clone();
        assert!(!list.is_empty(), "{src}");
        for e in &list {
            assert_eq!(e["sealed"], version, "{src}: {e}");
            assert!(e.get("partner").is_none(), "{src}: {e}");
            assert!(e.get("details_error").is_none(), "{src}: {e}");
            assert!(!e["recipients"].as_array().unwrap().is_empty(), "{e}");
        }
        let text = go(&["shares", "-i", s(&id)]).ok().stdout.clone();
        assert!(text.contains("to ["), "{src}: {text}");
        // Named from the trust store, marked so, when it knows the recipient.
        let fp = list[0]["recipients"][0].as_str().unwrap().to_string();
        let gu_fp = fingerprint_of(&gu).to_hex();
        if fp == gu_fp {
            let _ = fs::remove_file(&trust);
            let mut c = custody();
            c.env("CUSTODY_TRUST_STORE", &trust).args([
                "trust",
                "add",
                "guardian",
                "--recipient",
                s(&gu.join("recipient.txt")),
            ]);
            run(c).ok();
            let text = go(&["shares", "guardian", "-i", s(&id)])
                .ok()
                .stdout
                .clone();
            assert!(
                text.contains(&format!("to guardian (trust store) [{}]", &fp[..8])),
                "{src}: {text}"
            );
            let _ = fs::remove_file(&trust);
        }
    }
}

/// Hostile sealed share details (FORMAT.md §5.4), each in a validly signed
/// version 2 share record, encrypted to the archive's own recipient: plain
/// `verify` sees blobs that exist, `verify --deep -i` one `sealed` finding
/// per record naming what is wrong, and `shares` lists them marked.
#[test]
fn hostile_share_details_are_sealed_findings_of_a_deep_verify() {
    let f = Fixture::with_samples();
    let recipient = RecipientKey::parse(&recipient_of(&f.keys)).unwrap();
    let gu = recipient_of(&f.other_keys("guardian"));
    let admin = SignerKey::parse(fs::read_to_string(f.admin_key()).unwrap().trim()).unwrap();
    let signer = f.record_signer(&admin);
    let shown = f.show(&INIT_RECORDS.to_string());
    let commitment = Digest::from_hex(shown["commitment"].as_str().unwrap()).unwrap();
    let base = format!(
        r#"{{"kind":"share","v":2,"recipients":["{gu}"],"partner":"guardian","note":"n"}}"#
    );
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("well formed", base.clone(), None),
        (
            "unknown member",
            base.replace(r#""n"}"#, r#""n","desk":"gaza"}"#),
            Some("unknown field `desk`"),
        ),
        (
            "a version 2 member in version 1",
            base.replace(r#""v":2"#, r#""v":1"#),
            Some("members of version 2"),
        ),
        (
            "an over-long note",
            base.replace(r#""n"}"#, &format!(r#""{}"}}"#, "x".repeat(1025))),
            Some("the note"),
        ),
        (
            "a partner with an escape",
            base.replace("guardian", r"gu\u001b[2J"),
            Some("partner's name"),
        ),
        (
            "a null partner",
            base.replace(r#""guardian""#, "null"),
            Some("null"),
        ),
        (
            "version 2 with neither",
            base.replace(r#","partner":"guardian","note":"n""#, ""),
            Some("have a `partner` or a `note`"),
        ),
    ];
    let first = f.records();
    for (i, (_, plain, _)) in cases.iter().enumerate() {
        let enc = encrypt_bytes(std::slice::from_ref(&recipient), plain.as_bytes()).unwrap();
        let digest = Digest::of(&enc);
        let path = f.blob_path(&digest.to_hex());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &enc).unwrap();
        let rec = RecordBody {
            index: first + i as u64,
            time_ms: 1_900_000_000_000 + i as u64,
            origin: "dropsite.example/leaks".into(),
            signer,
            payload: Payload::Share(Share {
                document: INIT_RECORDS,
                commitment,
                payload: Digest([7; 32]),
                payload_size: 4096,
                envelope: Digest([8; 32]),
                recipients: Vec::new(),
                sealed: Some(Sealed {
                    digest,
                    size: enc.len() as u64,
                }),
            }),
        }
        .sign(&admin)
        .unwrap();
        f.append_record(&rec);
    }
    let (_, v) = f.verify(&[]);
    assert_eq!(checks(&v), ["checkpoint_missing"], "{v}");
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, FINDING, "{v}");
    let sealed = findings_of(&v, "sealed");
    for (i, (what, _, reason)) in cases.iter().enumerate() {
        let index = first + i as u64;
        let got: Vec<&&Value> = sealed
            .iter()
            .filter(|x| x["subject"]["id"] == index)
            .collect();
        match reason {
            None => assert!(got.is_empty(), "{what}: {got:?}"),
            Some(word) => {
                assert_eq!(got.len(), 1, "{what}: {v}");
                let r = got[0]["reason"].as_str().unwrap();
                assert!(r.contains(word), "{what}: {word:?} not in {r:?}");
            }
        }
    }
    assert_eq!(sealed.len(), cases.len() - 1, "{v}");
    // `shares` lists them all, exit 0: the well-formed one named, the
    // others marked, with what their records say in clear.
    let r = f.run(&["shares", "--json"]);
    r.ok();
    let list: Vec<Value> = r.json()["shares"].as_array().unwrap().clone();
    let hostile: Vec<&Value> = list
        .iter()
        .filter(|e| e["index"].as_u64().unwrap() >= first)
        .collect();
    assert_eq!(hostile.len(), cases.len());
    assert_eq!(hostile[0]["partner"], "guardian");
    for e in &hostile[1..] {
        assert!(e["details_error"].is_string(), "{e}");
        assert_eq!(e["payload_size"], 4096);
        assert!(e.get("partner").is_none() && e.get("note").is_none(), "{e}");
    }
    let text = f.run(&["shares"]).ok().stdout.clone();
    assert!(text.contains("to ? (sealed, NOT OPENED)"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    // Filtered, the unopened are left out and said so.
    let r = f.run(&["shares", "guardian"]);
    r.ok();
    assert!(
        r.stderr.contains("6 share record(s) whose sealed details"),
        "{}",
        r.stderr
    );
}

#[test]
fn names_and_notes_are_escaped_in_text_and_exact_in_json() {
    let d = Desk::new();
    let file = d.f.path().join("memo\u{1b}[31m\u{202e}fdp.txt");
    fs::write(&file, "a memo\n").unwrap();
    d.f.run(&["ingest", s(&file)]).ok();
    let index = (d.f.records() - 1).to_string();
    let note = "for\u{202e} the desk\nline two";
    let out = d.f.path().join("hostile.bundle");
    d.f.json(&[
        "share",
        &index,
        "--to",
        s(&d.gu.join("recipient.txt")),
        "-i",
        s(&d.f.identity()),
        "-o",
        s(&out),
        "--note",
        note,
        "--partner",
        "guardian",
    ]);
    for args in [vec!["shares"], vec!["shares", "guardian"]] {
        let r = d.run(&args);
        r.ok();
        for c in r.stdout.chars().chain(r.stderr.chars()) {
            assert!(
                c == '\n' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
                "raw U+{:04X}:\n{}",
                c as u32,
                r.stdout
            );
        }
        assert!(
            r.stdout.contains("memo\\u{1b}[31m\\u{202e}fdp.txt")
                && r.stdout
                    .contains("note: for\\u{202e} the desk\\u{a}line two"),
            "{}",
            r.stdout
        );
    }
    let list = d.shares(&["guardian"]);
    assert_eq!(list[0]["note"], note);
    assert_eq!(list[0]["name"], "memo\u{1b}[31m\u{202e}fdp.txt");
    let show = d
        .run(&["show", &list[0]["index"].to_string()])
        .ok()
        .stdout
        .clone();
    assert!(
        show.contains("note        for\\u{202e} the desk\\u{a}line two"),
        "{show}"
    );
}

#[test]
fn no_name_or_note_is_in_the_ledger_the_index_or_the_published_log() {
    let d = Desk::new();
    let named = d.recipients_file("named.txt", "# partner: partner-from-the-file\n", &d.gu);
    d.run(&[
        "trust",
        "add",
        "partner-from-the-store",
        "--recipient",
        s(&d.lc.join("recipient.txt")),
    ])
    .ok();
    d.share(
        0,
        &[&d.gu.join("recipient.txt")],
        &[
            "--partner",
            "partner-given-here",
            "--note",
            "NOTE-ABOUT-THE-SOURCE-4412",
        ],
    );
    d.share(1, &[&named], &["--note", "SECOND-NOTE-9d1"]);
    d.share(2, &[&d.lc.join("recipient.txt")], &[]);
    let published = d.f.path().join("published");
    d.f.json(&["publish", s(&published)]);
    let needles = [
        "partner-given-here",
        "partner-from-the-file",
        "partner-from-the-store",
        "NOTE-ABOUT-THE-SOURCE-4412",
        "SECOND-NOTE-9d1",
    ];
    let mut hits = Vec::new();
    for dir in [
        d.f.dir.join("ledger"),
        d.f.dir.join("db"),
        published.clone(),
    ] {
        for p in files_under(&dir) {
            let data = fs::read(&p).unwrap();
            for n in needles {
                if data.windows(n.len()).any(|w| w == n.as_bytes()) {
                    hits.push(format!("{n} in {}", p.display()));
                }
            }
        }
    }
    assert!(hits.is_empty(), "{hits:#?}");
    assert!(files_under(&published)
        .iter()
        .any(|p| p.ends_with("checkpoint")));
    // Control: with the identity, all of them read back.
    let listed = d.run(&["shares"]).ok().stdout.clone();
    for n in needles {
        assert!(listed.contains(n), "{n} not in\n{listed}");
    }
}
