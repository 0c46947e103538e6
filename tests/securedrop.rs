//! A leak received through SecureDrop (issue 19 item 6): `ingest
//! --securedrop` on a SecureDrop Workstation export keeps, encrypted, each
//! file's submission (number, kind), the source's journalist designation and
//! the file time; a file not named as a submission refuses the ingest.

mod common;

use std::fs;

use common::*;

#[test]
fn a_securedrop_export_keeps_its_submissions() {
    let f = Fixture::new();
    let export = f.path().join("sd-export-20261201/export_data");
    fs::create_dir_all(export.join("2-abject_elephant-doc")).unwrap();
    fs::write(
        export.join("1-abject_elephant-msg.txt"),
        "Look at the memo.\n",
    )
    .unwrap();
    fs::write(
        export.join("2-abject_elephant-doc/memo.pdf"),
        "%PDF-1.4 memo\n",
    )
    .unwrap();
    let lines = f.ingest_json(&[export.to_str().unwrap(), "--securedrop", "--case", "C-17"]);
    assert_eq!(lines.len(), 2);
    let id = f.identity();
    let by_name = |name: &str| {
        let l = lines
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(name))
            .unwrap();
        f.json(&["show", &l["index"].to_string(), "-i", id.to_str().unwrap()])
    };
    let memo = by_name("memo.pdf");
    let m = &memo["metadata"];
    assert_eq!(m["source"], "SecureDrop: abject elephant", "{memo}");
    assert_eq!(m["case"], "C-17");
    let note = m["note"].as_str().unwrap();
    assert!(
        note.contains("SecureDrop submission 2 (document)"),
        "{note}"
    );
    assert!(note.contains("file time 20"), "{note}");
    let msg = by_name("1-abject_elephant-msg.txt");
    assert!(msg["metadata"]["note"]
        .as_str()
        .unwrap()
        .contains("submission 1 (message)"));
    // Nothing of it in the ledger in clear.
    let records = fs::read(f.dir.join("ledger/records")).unwrap();
    assert!(!records.windows(6).any(|w| w == b"abject"));
    f.assert_verified();
}

#[test]
fn a_file_not_named_as_a_submission_refuses_the_ingest() {
    let f = Fixture::new();
    let export = f.path().join("export_data");
    fs::create_dir_all(&export).unwrap();
    fs::write(export.join("1-abject_elephant-msg.txt"), "hello\n").unwrap();
    fs::write(export.join("notes.txt"), "mine\n").unwrap();
    let before = f.snapshot();
    let r = f.run(&["ingest", export.to_str().unwrap(), "--securedrop"]);
    r.error(&[
        "not named as SecureDrop submissions",
        "notes.txt",
        "without --securedrop",
    ]);
    f.assert_unchanged(&before);
    // --source and --securedrop together: a usage error.
    f.run(&[
        "ingest",
        export.to_str().unwrap(),
        "--securedrop",
        "--source",
        "x",
    ])
    .code(ERROR);
    f.assert_unchanged(&before);
}
