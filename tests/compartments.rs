//! Compartments (FORMAT.md §4.18, README "People and roles"): a
//! compartment's documents, their envelopes, notes and derived documents
//! open only with its members' and the escrow's identities (the `age` CLI);
//! its name is not in the ledger; after its members change, `rekey` leaves
//! a removed member opening none of them, and the rest of the archive as it
//! was; `verify --deep` passes throughout.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::age_cli::*;
use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn opens(person: &Path, file: &Path) -> bool {
    Command::new(require_tool("age"))
        .arg("-d")
        .arg("-i")
        .arg(person.join("identity.age"))
        .arg(file)
        .output()
        .unwrap()
        .status
        .success()
}

fn log(f: &Fixture) -> Vec<Value> {
    f.json_lines(&["log"])
}

/// The file that holds what blob `d` held, after every rekey.
fn current(f: &Fixture, d: &str) -> PathBuf {
    let mut at = d.to_string();
    for r in log(f) {
        if r["kind"] == "rekey" && r["old"] == at.as_str() {
            at = r["new"].as_str().unwrap().to_string();
        }
    }
    f.blob_path(&at)
}

/// The files of a document's record (blob and envelope), as they are now.
fn files_of(f: &Fixture, index: &str) -> Vec<PathBuf> {
    let v = f.json(&["show", index]);
    vec![
        current(f, v["blob"].as_str().unwrap()),
        current(f, v["meta"].as_str().unwrap()),
    ]
}

#[test]
fn only_a_compartments_members_and_the_escrow_decrypt_its_documents() {
    require_tool("age");
    let f = Fixture::new();
    let (jo, al, bo) = (person(&f, "jo"), person(&f, "al"), person(&f, "bo"));
    let escrow = f.keys.clone();
    // The configuration: the escrow and bo, who works on everything else.
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&escrow.join("recipient.txt")),
        "--recipient",
        s(&bo.join("recipient.txt")),
    ])
    .ok();
    let set = f.run(&[
        "compartment",
        "set",
        "c-17",
        "--recipient",
        s(&escrow.join("recipient.txt")),
        "--recipient",
        s(&jo.join("recipient.txt")),
        "--recipient",
        s(&al.join("recipient.txt")),
        "-i",
        s(&f.identity()),
    ]);
    set.ok();
    assert!(set.stdout.contains("#1"), "{}", set.stdout);
    let listed = f.json(&["compartment", "list", "-i", s(&f.identity())]);
    assert_eq!(listed[0]["name"], "c-17", "{listed}");
    assert_eq!(listed[0]["cached"], true, "{listed}");
    // The name is sealed: not in the ledger, not listed without an identity.
    let records = fs::read(f.dir.join("ledger/records")).unwrap();
    assert!(!records.windows(4).any(|w| w == b"c-17"));

    let secret = f.path().join("source-notes.txt");
    fs::write(&secret, b"what the source said, and who the source is").unwrap();
    let ing = f.ingest_json(&[s(&secret), "--compartment", "c-17"]);
    let doc = ing[0]["index"].as_u64().unwrap().to_string();
    let other = f.path().join("press-release.txt");
    fs::write(&other, b"a public statement").unwrap();
    let ing2 = f.ingest_json(&[s(&other), "--compartment", "#1"]);
    let doc_by_number = ing2[0]["index"].as_u64().unwrap().to_string();
    let plain = f.path().join("general.txt");
    fs::write(&plain, b"not in any compartment").unwrap();
    let general = f.ingest_json(&[s(&plain)])[0]["index"]
        .as_u64()
        .unwrap()
        .to_string();
    for file in files_of(&f, &doc)
        .iter()
        .chain(&files_of(&f, &doc_by_number))
    {
        assert!(opens(&jo, file) && opens(&al, file) && opens(&escrow, file));
        assert!(!opens(&bo, file), "bo, outside c-17, opens {file:?}");
    }
    for file in files_of(&f, &general) {
        assert!(opens(&bo, &file) && opens(&escrow, &file));
        assert!(!opens(&jo, &file));
    }
    // A note and a derived document stay in the compartment.
    f.run(&["annotate", &doc, "the source asked for anonymity"])
        .ok();
    let note = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "annotate")
        .unwrap();
    let note = note["note"].as_str().unwrap().to_string();
    assert!(opens(&jo, &current(&f, &note)) && !opens(&bo, &current(&f, &note)));
    let tr = f.path().join("source-notes-en.txt");
    fs::write(&tr, b"translation").unwrap();
    f.run(&["derive", &doc, s(&tr), "--relation", "translation"])
        .ok();
    let derived = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "derive")
        .unwrap()["index"]
        .as_u64()
        .unwrap()
        .to_string();
    for file in files_of(&f, &derived) {
        assert!(opens(&jo, &file) && !opens(&bo, &file));
    }
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");

    // jo leaves the compartment; rekey re-encrypts what it holds.
    f.run(&[
        "compartment",
        "set",
        "c-17",
        "--recipient",
        s(&escrow.join("recipient.txt")),
        "--recipient",
        s(&al.join("recipient.txt")),
        "-i",
        s(&f.identity()),
    ])
    .ok();
    assert_eq!(
        f.json(&["compartment", "list"]).as_array().unwrap().len(),
        1,
        "one compartment, changed"
    );
    let r = f.run(&["rekey", "-i", s(&f.identity())]);
    r.ok();
    for d in [&doc, &doc_by_number, &derived] {
        for file in files_of(&f, d) {
            assert!(!opens(&jo, &file), "jo, removed, opens {file:?}");
            assert!(opens(&al, &file) && opens(&escrow, &file) && !opens(&bo, &file));
        }
    }
    let note = current(&f, &note);
    assert!(note.exists() && !opens(&jo, &note) && opens(&al, &note));
    // The rest of the archive was not moved into or out of the compartment.
    for file in files_of(&f, &general) {
        assert!(opens(&bo, &file));
    }
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn writing_to_a_compartment_needs_its_members_in_custody_toml() {
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let escrow = f.keys.join("recipient.txt");
    f.run(&[
        "compartment",
        "set",
        "c-17",
        "--recipient",
        s(&escrow),
        "--recipient",
        s(&jo.join("recipient.txt")),
        "-i",
        s(&f.identity()),
    ])
    .ok();
    // custody.toml without its compartments (an older copy): refused, nothing written.
    let toml = f.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let cut = text.find("[[compartments]]").unwrap();
    fs::write(&toml, &text[..cut]).unwrap();
    let before = f.snapshot();
    let doc = f.path().join("x.txt");
    fs::write(&doc, b"x").unwrap();
    f.run(&["ingest", s(&doc), "--compartment", "#1"])
        .error(&["custody.toml", "compartment set"]);
    f.assert_unchanged(&before);
    // Running compartment set again with the same members writes only the file.
    let again = f.run(&[
        "compartment",
        "set",
        "c-17",
        "--recipient",
        s(&escrow),
        "--recipient",
        s(&jo.join("recipient.txt")),
        "-i",
        s(&f.identity()),
    ]);
    again.ok();
    assert!(again.stdout.contains("already"), "{}", again.stdout);
    f.ingest_json(&[s(&doc), "--compartment", "#1"]);
    // An unknown compartment, and a name without an identity.
    f.run(&["ingest", s(&doc), "--compartment", "#9"])
        .error(&["compartment"]);
}
