//! Issue 16, item 4: names are data, never terminal commands. File names
//! (and notes, sources, cases, reasons, a log's origin) holding ANSI escapes,
//! newlines, tabs, BEL or Unicode direction controls are printed escaped
//! (`\u{1b}`, `\u{a}`, `\u{202e}`…, FORMAT.md §1.2) by the text output of
//! `ingest`, `log`, `show`, `extract`, `trace` and `audit`, and key, log and
//! witness names by `keygen`, `witness add-log`, `checkpoint
//! add-cosignature`, `verify-proof` and `trust`, whose text output then holds
//! no raw control or direction character at all; `--json` keeps them exact,
//! and a signed artifact written to a file or a pipe (`prove`, `checkpoint`,
//! `witness cosign`) keeps its exact bytes.

mod common;

use std::fs;

use common::*;
use serde_json::Value;

/// (file name, how text output shows it).
const NAMES: [(&str, &str); 5] = [
    ("red\x1b[31mname.txt", "red\\u{1b}[31mname.txt"),
    ("new\nline.txt", "new\\u{a}line.txt"),
    ("tab\there.txt", "tab\\u{9}here.txt"),
    ("invoice\u{202e}fdp.exe", "invoice\\u{202e}fdp.exe"),
    ("bell\x07.txt", "bell\\u{7}.txt"),
];

/// Ingest options: text fields allow newlines and direction controls.
const NOTE: (&str, &str) = ("note\u{202e}x\ny", "note\\u{202e}x\\u{a}y");
const SOURCE: (&str, &str) = ("src\u{2066}s", "src\\u{2066}s");
const CASE: (&str, &str) = ("c\u{200f}17", "c\\u{200f}17");
const REASON: (&str, &str) = ("why\u{202e}not\nnow", "why\\u{202e}not\\u{a}now");

/// A character that must never reach a terminal raw.
fn is_raw(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

#[track_caller]
fn assert_clean(what: &str, r: &Run) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if let Some(c) = text.chars().find(|&c| is_raw(c)) {
            panic!("{what}: raw U+{:04X} on {stream}:\n{text}", c as u32);
        }
    }
}

#[track_caller]
fn assert_shows(what: &str, r: &Run, shown: &str) {
    assert!(
        r.stdout.contains(shown),
        "{what}: {shown:?} not in\n{}",
        r.stdout
    );
}

/// A directory holding one small file per hostile name.
fn hostile_dir(f: &Fixture) -> std::path::PathBuf {
    let d = f.path().join("in");
    fs::create_dir_all(&d).unwrap();
    for (i, (name, _)) in NAMES.iter().enumerate() {
        fs::write(d.join(name), format!("document {i}\n")).unwrap();
    }
    d
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn hostile_names_are_escaped_in_text_and_exact_in_json() {
    let f = Fixture::new();
    let d = hostile_dir(&f);
    let id = f.identity();
    let r = f.run(&[
        "ingest",
        s(&d),
        "--note",
        NOTE.0,
        "--source",
        SOURCE.0,
        "--case",
        CASE.0,
    ]);
    r.ok();
    assert_clean("ingest", &r);
    for (_, shown) in NAMES {
        assert_shows("ingest", &r, &format!("in/{shown}"));
    }

    // log: escaped in text, exact in JSON.
    let r = f.run(&["log", "-i", s(&id)]);
    r.ok();
    assert_clean("log", &r);
    for (_, shown) in NAMES {
        assert_shows("log", &r, &format!("in/{shown}"));
    }
    let lines = f.json_lines(&["log", "-i", s(&id)]);
    let docs: Vec<(u64, String)> = lines
        .iter()
        .filter(|v| v["kind"] == "ingest")
        .map(|v| {
            (
                v["index"].as_u64().unwrap(),
                v["metadata"]["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut paths: Vec<&str> = docs.iter().map(|(_, p)| p.as_str()).collect();
    let mut want: Vec<String> = NAMES.iter().map(|(n, _)| format!("in/{n}")).collect();
    paths.sort();
    want.sort();
    assert_eq!(paths, want);

    // show: every document, its path and the notes.
    for (index, path) in &docs {
        let (raw, shown) = NAMES
            .iter()
            .find(|(n, _)| path.ends_with(n))
            .copied()
            .unwrap();
        let r = f.run(&["show", &index.to_string(), "-i", s(&id)]);
        r.ok();
        assert_clean("show", &r);
        assert_shows("show", &r, &format!("path        in/{shown}"));
        assert_shows("show", &r, &format!("note        {}", NOTE.1));
        assert_shows("show", &r, &format!("source      {}", SOURCE.1));
        assert_shows("show", &r, &format!("case        {}", CASE.1));
        let v = f.json(&["show", &index.to_string(), "-i", s(&id)]);
        assert_eq!(v["metadata"]["path"], format!("in/{raw}"));
        assert_eq!(v["metadata"]["name"], raw);
        assert_eq!(v["metadata"]["note"], NOTE.0);
        assert_eq!(v["metadata"]["source"], SOURCE.0);
        assert_eq!(v["metadata"]["case"], CASE.0);
    }

    // extract (an access record with a hostile reason), then audit.
    let (index, path) = docs.iter().find(|(_, p)| p.ends_with(NAMES[3].0)).unwrap();
    let out = f.path().join("out.bin");
    let r = f.run(&[
        "extract",
        &index.to_string(),
        "-i",
        s(&id),
        "-o",
        s(&out),
        "--reason",
        REASON.0,
    ]);
    r.ok();
    assert_clean("extract", &r);
    assert_shows("extract", &r, &format!("in/{}", NAMES[3].1));
    let r = f.run(&["log", "-i", s(&id)]);
    assert_clean("log", &r);
    assert_shows("log", &r, REASON.1);

    let r = f.run(&["audit", &index.to_string(), "-i", s(&id)]);
    assert_clean("audit", &r);
    assert_shows("audit", &r, &format!("ingest {}", NAMES[3].1));
    assert_shows("audit", &r, REASON.1);
    let a = f.run(&[
        "audit",
        &index.to_string(),
        "-i",
        s(&id),
        "--format",
        "json",
    ]);
    let a: Value = serde_json::from_str(&a.stdout).unwrap();
    let target = a["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["index"].as_u64() == Some(*index))
        .unwrap();
    assert_eq!(target["name"], NAMES[3].0);
    assert!(
        a["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["summary"].as_str().unwrap().contains(REASON.0)),
        "{a}"
    );
    assert!(path.ends_with(NAMES[3].0));

    // ingest --json: the exact path.
    let f2 = Fixture::new();
    let d2 = hostile_dir(&f2);
    let mut got: Vec<String> = f2
        .ingest_json(&[s(&d2)])
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, want);
}

/// A log whose key name (its origin) holds U+202E: FORMAT.md §3.2 allows it
/// in a key name. `trace`, `ingest`, `show` and `status` show it escaped;
/// `trace --json` keeps it.
#[test]
fn a_hostile_origin_is_escaped_by_trace() {
    let t = tempfile::tempdir().unwrap();
    let origin = "evil\u{202e}gro.elpmaxe/log";
    let shown = "evil\\u{202e}gro.elpmaxe/log";
    let k = t.path().join("k");
    let mut c = custody();
    c.args(["keygen", "--name", origin, "-o", s(&k)]);
    let r = run(c);
    r.ok();
    assert_clean("keygen", &r);
    assert_shows("keygen", &r, shown);
    let dir = t.path().join("a");
    let mut c = custody();
    c.arg("init")
        .arg(&dir)
        .arg("--signing-key")
        .arg(k.join("signing.key"))
        .arg("--admin-key")
        .arg(k.join("admin.key"))
        .arg("--identity")
        .arg(k.join("identity.age"))
        .arg("--recipient")
        .arg(k.join("recipient.txt"));
    let r = run(c);
    r.ok();
    assert_clean("init", &r);
    assert_shows("init", &r, shown);
    let file = t.path().join(NAMES[0].0);
    fs::write(&file, "a document\n").unwrap();
    let a = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&dir).args(args);
        run(c)
    };
    let r = a(&["ingest", s(&file)]);
    r.ok();
    assert_clean("ingest", &r);
    assert_shows("ingest", &r, shown);
    assert_shows("ingest", &r, NAMES[0].1);
    let vkey = k.join("signing.vkey");
    let r = a(&["trace", "2", "--trust", s(&vkey)]);
    r.ok();
    assert_clean("trace", &r);
    assert_shows("trace", &r, &format!("hop 1  {shown}+"));
    let r = a(&["trace", "2", "--trust", s(&vkey), "--json"]);
    r.ok();
    assert_eq!(r.json()["trace"]["hops"][0]["origin"], origin);
    for args in [&["show", "2"][..], &["status"]] {
        let r = a(args);
        r.ok();
        assert_clean(args[0], &r);
        assert_shows(args[0], &r, shown);
    }
    let r = a(&["show", "2", "--json"]);
    assert_eq!(r.json()["origin"], origin);
}

/// Key, log and witness names (FORMAT.md §3.2 allows U+202E in them, not
/// ESC) in the text output of `keygen`, `witness add-log`, `checkpoint
/// add-cosignature`, `verify-proof` and `trust`: escaped, and exact in
/// `--json`. A name with ESC is refused in one escaped error line. A signed
/// artifact on a pipe (`prove`, `witness cosign`) keeps its exact bytes: its
/// signatures cover them.
#[test]
fn hostile_key_and_log_names_are_escaped_by_keygen_witness_and_verify_proof() {
    let t = tempfile::tempdir().unwrap();
    let origin = "evil\u{202e}gro.elpmaxe/log";
    let shown = "evil\\u{202e}gro.elpmaxe/log";
    let wname = "wit\u{202e}ness.example/w";
    let wshown = "wit\\u{202e}ness.example/w";
    let k = t.path().join("k");
    let keygen = |name: &str, out: &std::path::Path, json: bool| {
        let mut c = custody();
        c.args([
            "keygen",
            "--name",
            name,
            "--witness-name",
            wname,
            "-o",
            s(out),
        ]);
        if json {
            c.arg("--json");
        }
        run(c)
    };
    let r = keygen(origin, &k, false);
    r.ok();
    assert_clean("keygen", &r);
    assert_shows("keygen", &r, &format!("verifier key: {shown}+"));
    assert_shows("keygen", &r, &format!("witness key:  {wshown}+"));
    let r = keygen(origin, &t.path().join("k2"), true);
    r.ok();
    assert_eq!(r.json()["name"], origin);
    assert!(r.json()["vkey"].as_str().unwrap().starts_with(origin));
    // ESC is no key name: refused, the error line escaped.
    let r = keygen("evil\x1b[2Jlog", &t.path().join("k3"), false);
    r.error(&["evil\\u{1b}[2Jlog"]);
    assert_clean("keygen ESC", &r);

    // The log: an archive under that key, one document.
    let dir = t.path().join("a");
    let mut c = custody();
    c.arg("init")
        .arg(&dir)
        .arg("--signing-key")
        .arg(k.join("signing.key"))
        .arg("--admin-key")
        .arg(k.join("admin.key"))
        .arg("--identity")
        .arg(k.join("identity.age"))
        .arg("--recipient")
        .arg(k.join("recipient.txt"));
    run(c).ok();
    let a = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&dir).args(args);
        run(c)
    };
    let file = t.path().join("doc.txt");
    fs::write(&file, "a document\n").unwrap();
    a(&["ingest", s(&file)]).ok();
    let vkey = k.join("signing.vkey");
    let wvkey = k.join("witness.vkey");

    // A witness (another archive) witnesses it with the hostile witness key.
    let w = Fixture::new();
    let r = w.run(&[
        "witness",
        "add-log",
        origin,
        s(&vkey),
        "--witness-key",
        s(&k.join("witness.key")),
    ]);
    r.ok();
    assert_clean("witness add-log", &r);
    assert_shows(
        "witness add-log",
        &r,
        &format!("witnessing {shown} with log key {shown}+"),
    );
    let r = w.run(&["witness", "add-log", origin, s(&vkey)]);
    r.ok();
    assert_clean("witness add-log again", &r);
    assert_shows(
        "witness add-log again",
        &r,
        &format!("already witnessing {shown}"),
    );
    let r = w.run(&["witness", "add-log", origin, s(&vkey), "--json"]);
    assert_eq!(r.json()["origin"], origin);
    let r = w.run(&["witness", "add-log", "evil\x1b[2Jlog", s(&vkey)]);
    r.error(&["evil\\u{1b}[2Jlog"]);
    assert_clean("witness add-log ESC", &r);

    // `checkpoint` on a pipe: the signed note, exact. `witness cosign` on a
    // pipe: the cosignature line, exact.
    let r = a(&["checkpoint"]);
    r.ok();
    assert!(r.stdout.starts_with(&format!("{origin}\n")), "{}", r.stdout);
    let cp = t.path().join("cp");
    fs::write(&cp, &r.stdout_bytes).unwrap();
    let r = w.run(&["witness", "cosign", s(&cp)]);
    r.ok();
    assert!(
        r.stdout.starts_with(&format!("\u{2014} {wname} ")),
        "{}",
        r.stdout
    );
    let cosig = t.path().join("cosig");
    fs::write(&cosig, &r.stdout_bytes).unwrap();
    let r = a(&[
        "checkpoint",
        "add-cosignature",
        s(&cosig),
        "--witness",
        s(&wvkey),
    ]);
    r.ok();
    assert_clean("checkpoint add-cosignature", &r);
    assert_shows(
        "checkpoint add-cosignature",
        &r,
        &format!("stored cosignature by {wshown} "),
    );

    // `prove` on a pipe: the tlog-proof, exact; `verify-proof` shows the
    // log's and the witness's names escaped, `--json` exact.
    let r = a(&["prove", "2"]);
    r.ok();
    assert!(
        r.stdout.contains(&format!("\n\n{origin}\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("\u{2014} {wname} ")),
        "{}",
        r.stdout
    );
    let proof = t.path().join("p.tlog-proof");
    fs::write(&proof, &r.stdout_bytes).unwrap();
    let vp = |extra: &[&str]| {
        let mut c = custody();
        c.args(["verify-proof", s(&proof), "--trust", s(&vkey)])
            .args(extra);
        run(c)
    };
    let r = vp(&["--witness", s(&wvkey)]);
    r.ok();
    assert_clean("verify-proof", &r);
    assert_shows(
        "verify-proof",
        &r,
        &format!("record 2 is included in {shown} at size"),
    );
    assert_shows("verify-proof", &r, &format!("cosigned by {wshown}"));
    let r = vp(&["--witness", s(&wvkey), "--json"]);
    r.ok();
    assert_eq!(r.json()["cosigned_by"][0], wname);
    // A finding that quotes the names: escaped too.
    let stranger = w.vkey();
    let mut c = custody();
    c.args(["verify-proof", s(&proof), "--trust", s(&stranger)]);
    let r = run(c);
    r.code(FINDING);
    assert_clean("verify-proof FAIL", &r);
    assert!(r.stdout.contains("FAIL record 2: "), "{}", r.stdout);

    // `trust`: names and vkeys escaped in add, list and remove.
    let store = t.path().join("trust.toml");
    let tr = |args: &[&str]| {
        let mut c = custody();
        c.env("CUSTODY_TRUST_STORE", &store).arg("trust").args(args);
        run(c)
    };
    let name = "part\u{202e}ner";
    for (args, want) in [
        (
            vec!["add", name, s(&vkey)],
            format!("trusted part\\u{{202e}}ner as log key {shown}+"),
        ),
        (vec!["list"], format!("part\\u{{202e}}ner\tlog\t{shown}+")),
        (
            vec!["remove", name],
            format!("removed part\\u{{202e}}ner ({shown}+"),
        ),
    ] {
        let mut r = tr(&args);
        r.ok();
        assert_shows(args[0], &r, &want);
        // `trust list` separates its columns with tabs, its only raw controls.
        r.stdout = r.stdout.replace('\t', " ");
        assert_clean(args[0], &r);
    }
}
