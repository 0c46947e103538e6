//! People's own age recipients (FORMAT.md §5.4 version 2, README "People and
//! their keys"): an actor's recipient is sealed in their record, shown by
//! `actor list -i` with whether the archive encrypts to it; a journalist in
//! the configuration decrypts with their own identity (the `age` CLI); when
//! they are revoked, `actor revoke` says their recipient is still in force,
//! and after `config set` and `rekey` their identity opens no file of the
//! archive.

mod common;

use std::fs;
use std::path::Path;

use common::age_cli::*;
use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `actor list -i IDENTITY --json`'s entry for `name`.
fn listed(f: &Fixture, name: &str) -> Value {
    let all = f.json(&["actor", "list", "-i", s(&f.identity())]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in {all}"))
}

#[test]
fn a_revoked_journalist_with_their_own_key_opens_nothing_after_config_set_and_rekey() {
    require_tool("age");
    let f = Fixture::new();
    let jo = person(&f, "jo");
    f.run(&[
        "actor",
        "add",
        "jo",
        s(&jo.join("signing.vkey")),
        "--role",
        "journalist",
        "--recipient",
        s(&jo.join("recipient.txt")),
    ])
    .ok();
    let entry = listed(&f, "jo");
    assert_eq!(entry["recipient_in_configuration"], false, "{entry}");
    let fp = entry["recipient"].as_str().unwrap().to_string();
    // The outlet's identity stays as escrow; jo's own recipient joins it.
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&jo.join("recipient.txt")),
    ])
    .ok();
    assert_eq!(listed(&f, "jo")["recipient_in_configuration"], true);
    let text = f.run(&["actor", "list", "-i", s(&f.identity())]);
    assert!(
        text.stdout
            .contains(&format!("age recipient [{}]: among", &fp[..8])),
        "{}",
        text.stdout
    );
    // jo ingests with their own signing key and opens it with their own identity.
    let doc = f.path().join("tip.txt");
    fs::write(&doc, b"what the source said").unwrap();
    let mut c = f.cmd();
    c.arg("--key")
        .arg(jo.join("signing.key"))
        .args(["ingest", s(&doc), "--json"]);
    let ing = run(c);
    ing.ok();
    let doc_index = ing.json_lines()[0]["index"].as_u64().unwrap().to_string();
    let blob = f.blob_path(ing.json_lines()[0]["blob"].as_str().unwrap());
    assert!(age_opens(&jo.join("identity.age"), &blob));
    // `show` says who could decrypt it: the escrow recipient and jo.
    let shown = f.json(&["show", &doc_index, "-i", s(&f.identity())]);
    let readers = shown["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 1, "{shown}");
    let people: Vec<_> = readers[0]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["people"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(people, ["jo"], "{shown}");
    // Revoked: custody says their recipient is still in force.
    let r = f.run(&[
        "actor",
        "revoke",
        "jo",
        "-i",
        s(&f.identity()),
        "--reason",
        "left the outlet",
    ]);
    r.ok();
    assert!(
        r.stderr.contains("still among the archive's recipients")
            && r.stderr.contains("custody rekey"),
        "{}",
        r.stderr
    );
    // Before the rekey, jo's identity opens what was written to them.
    assert!(blob_files(&f.dir)
        .iter()
        .any(|b| age_opens(&jo.join("identity.age"), b)));
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
    ])
    .ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let open: Vec<_> = blob_files(&f.dir)
        .into_iter()
        .filter(|b| age_opens(&jo.join("identity.age"), b))
        .collect();
    assert!(open.is_empty(), "jo still opens {open:?}");
    // `show` now lists the rekey, after which jo is no reader.
    let shown = f.json(&["show", &doc_index, "-i", s(&f.identity())]);
    let readers = shown["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 2, "{shown}");
    assert_eq!(readers[1]["recipients"].as_array().unwrap().len(), 1);
    assert!(readers[1]["recipients"][0]["fingerprint"] != fp.as_str());
    let text = f.run(&["show", &doc_index, "-i", s(&f.identity())]);
    assert!(
        text.stdout.contains(&format!("recipient   {fp} (jo)"))
            && text.stdout.contains("rekeyed     at record"),
        "{}",
        text.stdout
    );
    // The audit says the same, in JSON, text and HTML.
    let mut c = f.cmd();
    c.args([
        "audit",
        &doc_index,
        "-i",
        s(&f.identity()),
        "--format",
        "json",
    ]);
    let audit = run(c);
    let report: Value = serde_json::from_str(&audit.stdout).unwrap();
    let doc = report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["target"] == true)
        .unwrap();
    let readers = doc["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 2, "{doc}");
    assert_eq!(
        readers[0]["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["people"] == serde_json::json!(["jo"]))
            .count(),
        1,
        "{doc}"
    );
    assert!(!readers[1].to_string().contains("jo"), "{doc}");
    let text = f.run(&["audit", &doc_index, "-i", s(&f.identity())]);
    assert!(
        text.stdout.contains("who could decrypt:")
            && text.stdout.contains(&format!("[{}] jo", &fp[..8]))
            && text.stdout.contains("(rekey)"),
        "{}",
        text.stdout
    );
    let html = f.path().join("audit.html");
    let mut c = f.cmd();
    c.args([
        "audit",
        &doc_index,
        "-i",
        s(&f.identity()),
        "--format",
        "html",
        "-o",
    ])
    .arg(&html);
    run(c);
    let page = fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("id=\"readers\"") && page.contains(&format!("{} jo", &fp[..8])),
        "no readers table"
    );
    assert_eq!(listed(&f, "jo")["recipient_in_configuration"], false);
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
    // A revoke after the recipient left the configuration says nothing of it.
    let bo = person(&f, "bo");
    f.run(&[
        "actor",
        "add",
        "bo",
        s(&bo.join("signing.vkey")),
        "--role",
        "journalist",
        "--recipient",
        s(&bo.join("recipient.txt")),
    ])
    .ok();
    let r = f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())]);
    r.ok();
    assert!(!r.stderr.contains("still among"), "{}", r.stderr);
}

#[test]
fn a_persons_recipient_must_be_one_public_recipient() {
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let before = f.snapshot();
    // A secret key where the recipient goes: refused, never echoed.
    let secret = fs::read_to_string(jo.join("identity.age")).unwrap();
    let line = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    for bad in [line.clone(), s(&jo.join("identity.age")).to_string()] {
        let r = f.run(&[
            "actor",
            "add",
            "jo",
            s(&jo.join("signing.vkey")),
            "--role",
            "journalist",
            "--recipient",
            &bad,
        ]);
        r.error(&["--recipient", "secret key"]);
        assert!(!r.stderr.contains(&line) && !r.stdout.contains(&line));
    }
    // Two recipients in the file: one person has one.
    let two = f.path().join("two.txt");
    let gu = f.other_keys("guardian").join("recipient.txt");
    fs::write(
        &two,
        format!(
            "{}{}",
            fs::read_to_string(jo.join("recipient.txt")).unwrap(),
            fs::read_to_string(gu).unwrap()
        ),
    )
    .unwrap();
    f.run(&[
        "actor",
        "add",
        "jo",
        s(&jo.join("signing.vkey")),
        "--role",
        "journalist",
        "--recipient",
        s(&two),
    ])
    .error(&["holds 2 recipients"]);
    f.assert_unchanged(&before);
}
