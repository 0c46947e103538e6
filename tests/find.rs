//! Issue 19, item 3, "Finding things": `custody find` and documents named
//! by their file name or stored path wherever a REF is taken.
//!
//! * every filter of `find` keeps what it should and leaves out the rest
//!   (name, path, source, case, note, since/until, kind, derived-from,
//!   media type, -I), and filters combine;
//! * globs: `*`, `?`, classes, escapes, `**/` in paths, and bad globs refused;
//! * documents the identity cannot open are counted on stderr, once;
//! * exit 0 with matches, 1 without, 2 when it cannot search; `--json`
//!   prints one object per document; names in text are escaped; find
//!   writes nothing;
//! * `show memo.pdf`, `extract docs/2024/memo.pdf`, `path:`/`name:`,
//!   ambiguity, no such name, no identity.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::age_cli::person;
use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `files` (relative path, content) under `root`.
fn tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

/// The archive the filter tests share: three ingests with different labels,
/// a note about one document, and two derives in a chain.
struct Desk {
    f: Fixture,
    /// Record index by stored path.
    by_path: std::collections::BTreeMap<String, u64>,
}

impl Desk {
    fn new() -> Desk {
        let f = Fixture::new();
        let a = f.path().join("in-a");
        tree(
            &a,
            &[
                ("drop/memo.pdf", "memo A"),
                ("drop/emails/msg-0001.eml", "mail 1"),
                ("drop/emails/msg-0002.eml", "mail 2"),
                ("drop/2024/03/budget.csv", "a,b\n1,2\n"),
            ],
        );
        let b = f.path().join("in-b");
        tree(
            &b,
            &[
                ("usb/Scan-01.PNG", "png 1"),
                ("usb/scan-02.png", "png 2"),
                ("usb/notes[draft].txt", "draft"),
                ("usb/docs/2024/memo.pdf", "memo B"),
            ],
        );
        let c = f.path().join("in-c");
        tree(&c, &[("loose/cafe", "hex name"), ("loose/2024", "digits")]);
        let mut by_path = std::collections::BTreeMap::new();
        let mut keep = |rows: Vec<Value>| {
            for r in rows {
                by_path.insert(
                    r["path"].as_str().unwrap().to_string(),
                    r["index"].as_u64().unwrap(),
                );
            }
        };
        keep(f.ingest_json(&[
            s(&a.join("drop")),
            "--source",
            "source A",
            "--case",
            "C-17",
            "--note",
            "USB stick from the parking lot",
        ]));
        keep(f.ingest_json(&[s(&b.join("usb")), "--source", "source B", "--case", "C-18"]));
        keep(f.ingest_json(&[s(&c.join("loose"))]));
        let d = Desk { f, by_path };
        d.f.run(&[
            "annotate",
            &d.idx("usb/scan-02.png"),
            "a second source confirms the scan",
        ])
        .ok();
        d
    }

    fn idx(&self, path: &str) -> String {
        self.by_path[path].to_string()
    }

    /// `find ARGS --json`: the stored paths found, in log order (exit 0 or 1).
    #[track_caller]
    fn paths(&self, args: &[&str]) -> Vec<String> {
        let mut c = self.f.cmd();
        c.arg("find").args(args).arg("--json");
        let r = run(c);
        assert!(r.code == OK || r.code == FINDING, "{args:?}: {}", r.stderr);
        r.no_panic();
        assert_eq!(r.code == FINDING, r.stdout.is_empty(), "{args:?}");
        r.json_lines()
            .iter()
            .map(|v| v["metadata"]["path"].as_str().unwrap().to_string())
            .collect()
    }
}

fn v(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn each_filter_keeps_what_matches_and_leaves_out_the_rest() {
    let d = Desk::new();
    let before = d.f.snapshot();
    assert_eq!(d.paths(&[]).len(), 10);
    // --name: the file name only; --path: the stored path.
    assert_eq!(
        d.paths(&["--name", "memo.pdf"]),
        v(&["drop/memo.pdf", "usb/docs/2024/memo.pdf"])
    );
    assert_eq!(
        d.paths(&["--name", "*.eml"]),
        v(&["drop/emails/msg-0001.eml", "drop/emails/msg-0002.eml"])
    );
    assert!(d.paths(&["--name", "drop/*"]).is_empty(), "a name has no /");
    assert_eq!(d.paths(&["--path", "drop/*"]), v(&["drop/memo.pdf"]));
    assert_eq!(
        d.paths(&["--path", "**/2024/**"]),
        v(&["drop/2024/03/budget.csv", "usb/docs/2024/memo.pdf"])
    );
    assert_eq!(
        d.paths(&["--path", "usb/**/*.pdf"]),
        v(&["usb/docs/2024/memo.pdf"])
    );
    // --source, --case: the whole text, or a glob.
    assert_eq!(d.paths(&["--source", "source B"]).len(), 4);
    assert!(d.paths(&["--source", "source"]).is_empty());
    assert_eq!(d.paths(&["--case", "C-17"]).len(), 4);
    assert!(d.paths(&["--case", "C-1"]).is_empty());
    assert_eq!(d.paths(&["--case", "C-1?"]).len(), 8);
    assert!(d.paths(&["--case", "c-17"]).is_empty());
    assert_eq!(d.paths(&["--case", "c-17", "-I"]).len(), 4);
    // --note: in the envelope's note, or in a note about the document.
    assert_eq!(d.paths(&["--note", "parking"]).len(), 4);
    assert_eq!(
        d.paths(&["--note", "second source"]),
        v(&["usb/scan-02.png"])
    );
    assert!(d.paths(&["--note", "SECOND source"]).is_empty());
    assert_eq!(
        d.paths(&["--note", "SECOND source", "--ignore-case"]),
        v(&["usb/scan-02.png"])
    );
    assert!(d.paths(&["--note", "nowhere"]).is_empty());
    // --media-type, -I on globs.
    assert_eq!(
        d.paths(&["--media-type", "application/pdf"]),
        v(&["drop/memo.pdf", "usb/docs/2024/memo.pdf"])
    );
    assert_eq!(
        d.paths(&["--media-type", "image/*"]),
        v(&["usb/Scan-01.PNG", "usb/scan-02.png"])
    );
    assert_eq!(d.paths(&["--name", "scan-*.png"]), v(&["usb/scan-02.png"]));
    assert_eq!(
        d.paths(&["--name", "scan-*.png", "-I"]),
        v(&["usb/Scan-01.PNG", "usb/scan-02.png"])
    );
    // --kind: every document here was ingested.
    assert_eq!(d.paths(&["--kind", "ingest"]).len(), 10);
    assert!(d.paths(&["--kind", "derive"]).is_empty());
    // Filters combine (AND).
    assert_eq!(
        d.paths(&["--name", "memo.pdf", "--case", "C-18"]),
        v(&["usb/docs/2024/memo.pdf"])
    );
    assert!(d
        .paths(&["--name", "memo.pdf", "--note", "second source"])
        .is_empty());
    // find writes nothing.
    d.f.assert_unchanged(&before);
}

#[test]
fn since_and_until_are_inclusive_and_take_dates_or_date_times() {
    let d = Desk::new();
    let all = d.f.json_lines(&["find"]);
    // The first record of the second ingest, and the third ingest's time.
    let first_b = all
        .iter()
        .find(|x| x["metadata"]["source"] == "source B")
        .unwrap();
    let t_b = first_b["time"].as_str().unwrap().to_string();
    let t_c = all.last().unwrap()["time"].as_str().unwrap().to_string();
    // From the second ingest on: its 4 documents and the third's 2.
    assert_eq!(d.paths(&["--since", &t_b]).len(), 6);
    // Up to that time: the first ingest's 4 and that record.
    let until_b = d.paths(&["--until", &t_b]);
    assert!(until_b.len() >= 5, "{until_b:?}");
    assert!(until_b.contains(&first_b["metadata"]["path"].as_str().unwrap().to_string()));
    assert!(!until_b.contains(&"loose/cafe".to_string()));
    // Exactly that time: the last record (and another made in the same ms).
    let at_c = d.paths(&["--since", &t_c, "--until", &t_c]);
    assert!(at_c.contains(&"loose/cafe".to_string()), "{at_c:?}");
    assert!(at_c.iter().all(|p| p.starts_with("loose/")), "{at_c:?}");
    // A date: --since from its start, --until to its end (UTC).
    let today = &t_c[..10];
    assert_eq!(d.paths(&["--since", today, "--until", today]).len(), 10);
    assert!(d.paths(&["--since", "2999-01-01"]).is_empty());
    assert!(d
        .paths(&["--until", "2000-01-01T00:00:00+01:00"])
        .is_empty());
    for bad in ["yesterday", "2026-02-30", "2026-03-14T10:00"] {
        d.f.run(&["find", "--since", bad])
            .error(&["RFC 3339", "2026-03-14T09:30:00Z"]);
    }
}

#[test]
fn derived_from_follows_the_lineage_through_two_derives() {
    let d = Desk::new();
    let f = &d.f;
    let memo = d.idx("drop/memo.pdf");
    let en = f.path().join("memo-en.pdf");
    fs::write(&en, "memo A in English").unwrap();
    let red = f.path().join("memo-en-redacted.pdf");
    fs::write(&red, "memo A in English, redacted").unwrap();
    let other = f.path().join("budget-ocr.txt");
    fs::write(&other, "1 2").unwrap();
    // The parent by its path, the next by its name.
    let tr = f.json(&[
        "derive",
        "drop/memo.pdf",
        s(&en),
        "--relation",
        "translation",
    ]);
    assert_eq!(
        tr["index"].to_string(),
        (d.by_path.len() as u64 + 3).to_string()
    );
    let rd = f.json(&["derive", "memo-en.pdf", s(&red), "--relation", "redaction"]);
    f.json(&[
        "derive",
        &d.idx("drop/2024/03/budget.csv"),
        s(&other),
        "--relation",
        "ocr",
    ]);
    let chain = v(&["memo-en.pdf", "memo-en-redacted.pdf"]);
    assert_eq!(d.paths(&["--derived-from", &memo]), chain);
    assert_eq!(d.paths(&["--derived-from", "drop/memo.pdf"]), chain);
    assert_eq!(
        d.paths(&["--derived-from", "memo-en.pdf"]),
        v(&["memo-en-redacted.pdf"])
    );
    assert!(d
        .paths(&["--derived-from", &rd["index"].to_string()])
        .is_empty());
    assert_eq!(
        d.paths(&["--kind", "derive"]),
        v(&["memo-en.pdf", "memo-en-redacted.pdf", "budget-ocr.txt"])
    );
    assert_eq!(
        d.paths(&["--derived-from", &memo, "--name", "*redacted*"]),
        v(&["memo-en-redacted.pdf"])
    );
    // A REF that names no document: exit 2, as for any command.
    f.run(&["find", "--derived-from", "nothing.pdf"])
        .error(&["no document named nothing.pdf"]);

    // --json: one object per line, with the record's and the metadata's fields.
    let rows = f.json_lines(&["find", "--derived-from", &memo]);
    assert_eq!(rows.len(), 2);
    let r = &rows[1];
    assert_eq!(r["kind"], "derive");
    assert_eq!(r["relation"], "redaction");
    assert_eq!(r["parents"], serde_json::json!([tr["index"]]));
    for k in [
        "index",
        "time",
        "blob",
        "blob_size",
        "commitment",
        "meta",
        "meta_size",
    ] {
        assert!(!r[k].is_null(), "no {k} in {r}");
    }
    let m = &r["metadata"];
    assert_eq!(m["name"], "memo-en-redacted.pdf");
    assert_eq!(m["media_type"], "application/pdf");
    assert_eq!(m["size"], 27);
    let shown = f.show(&r["index"].to_string());
    assert_eq!(shown["commitment"], r["commitment"]);
    assert_eq!(shown["metadata"], r["metadata"]);
    // The note about scan-02 is listed by its record.
    let noted = f.json_lines(&["find", "--name", "scan-02.png"]);
    assert_eq!(noted[0]["notes"].as_array().unwrap().len(), 1);
    assert!(noted[0].get("parents").is_none());
}

#[test]
fn received_documents_are_of_kind_receive() {
    let d = Desk::new();
    let g = Fixture::new_as("guardian");
    let bundle = d.f.path().join("memo.bundle");
    d.f.share_to(&d.idx("drop/memo.pdf"), &g, &bundle);
    g.run(&[
        "receive",
        s(&bundle),
        "-i",
        s(&g.identity()),
        "--trust",
        s(&d.f.vkey()),
    ])
    .ok();
    let rows = g.json_lines(&["find", "--kind", "receive"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["kind"], "receive");
    assert_eq!(rows[0]["metadata"]["name"], "memo.pdf");
    g.run(&["find", "--kind", "ingest"]).code(FINDING);
    // The received document by its name, in the receiving archive.
    assert_eq!(g.show("memo.pdf")["kind"], "receive");
}

#[test]
fn text_output_is_one_escaped_line_per_document_and_exit_1_finds_nothing() {
    let f = Fixture::new();
    let dir = f.path().join("leak");
    tree(
        &dir,
        &[
            ("invoice\u{202e}fdp.exe", "x"),
            ("red\x1b[31mname.txt", "y"),
            ("plain.txt", "z"),
        ],
    );
    let rows = f.ingest_json(&[s(&dir)]);
    let r = f.run(&["find", "--name", "*"]);
    r.ok();
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("leak/invoice\\u{202e}fdp.exe"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("leak/red\\u{1b}[31mname.txt"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{202e}') && !r.stdout.contains('\x1b'));
    // index, time, kind, short commitment, size, path.
    let line = r.stdout.lines().find(|l| l.ends_with("plain.txt")).unwrap();
    let row = rows.iter().find(|x| x["path"] == "leak/plain.txt").unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], row["index"].to_string());
    assert_eq!(words[1], row["time"].as_str().unwrap());
    assert_eq!(words[2], "ingest");
    let commitment = f.show(words[0])["commitment"].as_str().unwrap().to_string();
    assert_eq!(words[3], &commitment[..12]);
    assert_eq!(&words[4..6], ["1", "B"]);
    // JSON keeps the exact name.
    let j = f.json_lines(&["find", "--name", "*fdp.exe"]);
    assert_eq!(j[0]["metadata"]["name"], "invoice\u{202e}fdp.exe");
    // No match: exit 1, nothing printed.
    let none = f.run(&["find", "--name", "*.pdf"]);
    none.code(FINDING);
    assert!(none.stdout.is_empty() && none.stderr.is_empty(), "{none:?}");
}

#[test]
fn bad_globs_and_dates_are_refused_with_a_next_step() {
    let f = Fixture::with_samples();
    f.run(&["find", "--name", "memo["])
        .error(&["without its `]`", "\\["]);
    f.run(&["find", "--path", "[z-a]*"])
        .error(&["range", "[a-z]"]);
    f.run(&["find", "--name", "memo\\"]).error(&["backslash"]);
    f.run(&["find", "--until", "2026-13-01"])
        .error(&["RFC 3339"]);
    // Escapes and classes that are fine.
    let r = f.json_lines(&["find", "--name", "msg-000[12].eml"]);
    assert_eq!(r.len(), 2);
    f.run(&["find", "--name", "msg-000[!12].eml"]).code(FINDING);
    f.run(&["find", "--name", "\\*"]).code(FINDING);
    f.run(&["find", "--name", "README.tx?"]).ok();
    f.run(&["find", "--name", ""]).code(FINDING);
}

#[test]
fn documents_the_identity_cannot_open_are_counted_once() {
    let f = Fixture::with_samples();
    let jo = person(&f, "jo");
    // jo's identity opens none of the archive's envelopes.
    let r = f.run(&["find", "-i", s(&jo.join("identity.age"))]);
    r.code(FINDING);
    assert!(r.stdout.is_empty());
    let warn: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(warn.len(), 1, "{}", r.stderr);
    assert!(
        warn[0].contains("8 documents not readable with this identity"),
        "{}",
        r.stderr
    );

    // A compartment only jo opens: the escrow's identity reads the rest
    // and counts the compartment's document; jo's reads only that one.
    f.run(&[
        "compartment",
        "set",
        "c-1",
        "--recipient",
        s(&jo.join("recipient.txt")),
    ])
    .ok();
    let secret = f.path().join("source-notes.txt");
    fs::write(&secret, "who the source is").unwrap();
    f.ingest_json(&[s(&secret), "--compartment", "#1"]);
    let r = f.run(&["find", "--name", "*.txt"]);
    r.ok();
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
    assert!(!r.stdout.contains("source-notes"));
    assert!(
        r.stderr
            .contains("1 document not readable with this identity"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let by_jo = f.json_lines(&["find", "-i", s(&jo.join("identity.age"))]);
    assert_eq!(by_jo.len(), 1);
    assert_eq!(by_jo[0]["metadata"]["name"], "source-notes.txt");
    // A name only jo reads is no document for the escrow, and says why.
    f.run(&["show", "source-notes.txt"]).error(&[
        "no document named source-notes.txt",
        "(it cannot read 1 other document)",
    ]);
    let jo_id = jo.join("identity.age");
    let r = f.run(&["show", "source-notes.txt", "-i", s(&jo_id), "--json"]);
    r.ok();
    assert_eq!(r.json()["metadata"]["name"], "source-notes.txt");
    assert!(
        r.stderr.contains(
            "8 documents not readable with this identity were not searched for \"source-notes.txt\""
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn find_needs_an_identity() {
    let f = Fixture::with_samples();
    f.forget_identity();
    f.run(&["find", "--name", "*"])
        .error(&["custody find needs an identity", "-i FILE"]);
    let id = f.identity();
    assert_eq!(f.json_lines(&["find", "-i", s(&id)]).len(), 8);
    let mut c = f.cmd();
    c.args(["find", "--json"]).env("CUSTODY_IDENTITY", &id);
    assert_eq!(run(c).json_lines().len(), 8);
}

/// An archive with two documents named memo.pdf, one named `cafebabe` (hex
/// digits) and one named `2024` (digits).
fn named() -> (Fixture, PathBuf) {
    let f = Fixture::new();
    let dir = f.path().join("leak");
    tree(
        &dir,
        &[
            ("docs/2024/memo.pdf", "memo 2024"),
            ("docs/2025/memo.pdf", "memo 2025"),
            ("docs/letter.txt", "a letter"),
            ("cafebabe", "named in hex"),
            ("2024", "named in digits"),
        ],
    );
    f.ingest_json(&[s(&dir)]);
    (f, dir)
}

fn index_of(f: &Fixture, path: &str) -> u64 {
    f.json_lines(&["find", "--path", path])[0]["index"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_document_is_named_by_its_unique_name_or_its_path() {
    let (f, _) = named();
    let letter = index_of(&f, "leak/docs/letter.txt");
    let m24 = index_of(&f, "leak/docs/2024/memo.pdf");
    let m25 = index_of(&f, "leak/docs/2025/memo.pdf");
    assert_eq!(f.show("letter.txt")["index"], letter);
    assert_eq!(f.show("name:letter.txt")["index"], letter);
    assert_eq!(f.show("leak/docs/2024/memo.pdf")["index"], m24);
    assert_eq!(f.show("path:leak/docs/2025/memo.pdf")["index"], m25);
    // Text output as for an index.
    let r = f.run(&["show", "letter.txt"]);
    r.ok();
    assert!(
        r.stdout.contains("path        leak/docs/letter.txt"),
        "{}",
        r.stdout
    );

    // Two documents named memo.pdf.
    let e = f.run(&["show", "memo.pdf"]).error(&[
        &format!("ambiguous: 2 documents named memo.pdf (records {m24}, {m25})"),
        "give the index or the path",
    ]);
    assert!(e.contains("path:"), "{e}");
    // Nothing of that name; a partial path is not a path.
    f.run(&["show", "memo.docx"])
        .error(&["no document named memo.docx", "custody find --name"]);
    f.run(&["show", "docs/letter.txt"])
        .error(&["no document at path docs/letter.txt"]);
    // Digits stay an index, hex digits a digest prefix: name: says it is a name.
    f.run(&["show", "cafebabe"])
        .error(&["no record matches cafebabe", "name:cafebabe"]);
    assert_eq!(f.show("name:cafebabe")["metadata"]["name"], "cafebabe");
    assert_eq!(f.show("name:2024")["metadata"]["name"], "2024");
    assert_eq!(f.show("2")["index"], 2);

    // extract, annotate, prove and audit take names too.
    let out = f.path().join("memo-2024.pdf");
    f.run(&[
        "extract",
        "leak/docs/2024/memo.pdf",
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
    ])
    .ok();
    assert_eq!(fs::read(&out).unwrap(), b"memo 2024");
    let noted = f.json(&["annotate", "letter.txt", "checked"]);
    assert_eq!(f.show(&noted["index"].to_string())["document"], letter);
    let p = f.json(&["prove", "letter.txt"]);
    assert_eq!(p["index"], letter);
    let audit = f.run(&["audit", "letter.txt", "--format", "json"]);
    audit.no_panic();
    assert_eq!(audit.json()["target"], letter);
    let unchanged = f.snapshot();
    f.run(&["annotate", "memo.pdf", "x"]).error(&["ambiguous"]);
    f.assert_unchanged(&unchanged);
}

#[test]
fn a_name_without_an_identity_says_to_give_one() {
    let (f, _) = named();
    f.forget_identity();
    let before = f.snapshot();
    f.run(&["show", "letter.txt"]).error(&[
        "letter.txt (a document's name) needs an identity",
        "-i FILE",
        "index or hex digest prefix",
    ]);
    f.run(&["annotate", "leak/docs/letter.txt", "x"])
        .error(&["(a document's path) needs an identity"]);
    f.run(&["prove", "letter.txt"])
        .error(&["needs an identity"]);
    f.assert_unchanged(&before);
    // An index still needs none; -i or CUSTODY_IDENTITY opens names.
    f.run(&["show", "2"]).ok();
    f.run(&["prove", "2"]).ok();
    let id = f.identity();
    assert_eq!(
        f.json(&["show", "letter.txt", "-i", s(&id)])["metadata"]["name"],
        "letter.txt"
    );
    let mut c = f.cmd();
    c.args(["annotate", "letter.txt", "seen"])
        .env("CUSTODY_IDENTITY", &id);
    run(c).ok();
}
