//! Attacks on people's own age recipients (FORMAT.md §5.4 version 2,
//! README "People and roles"): `actor add/rotate --recipient`, `actor
//! list -i`, the warning of `actor revoke`, and `show`'s `readers`. Each
//! test states the attack and the promise that holds.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::age_cli::*;
use common::*;
use custody::core::crypto::{encrypt_bytes, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{
    actor_key_id, ActorAction, ActorChange, Payload, RecordBody, Rekey, Role, Sealed, SealedActor,
};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `custody keygen` for a person: X25519 by default (the example outlets'
/// keys are), post-quantum with `pq`.
fn person_kind(f: &Fixture, name: &str, pq: bool) -> PathBuf {
    let dir = f.path().join("people").join(name);
    let mut c = custody();
    c.arg("keygen");
    if !pq {
        c.arg("--x25519");
    }
    c.args(["--name", &format!("dropsite.example/{name}"), "-o"])
        .arg(&dir);
    run(c).ok();
    dir
}

fn person(f: &Fixture, name: &str) -> PathBuf {
    person_kind(f, name, false)
}

/// The recipient text in a person's `recipient.txt`.
fn recipient_text(dir: &Path) -> String {
    fs::read_to_string(dir.join("recipient.txt"))
        .unwrap()
        .trim()
        .to_string()
}

/// FORMAT.md §5.3 fingerprint of a person's recipient, hex.
fn fp(dir: &Path) -> String {
    RecipientKey::parse(&recipient_text(dir))
        .unwrap()
        .fingerprint()
        .to_hex()
}

fn key_of(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// `actor add NAME VKEY --role journalist [--recipient DIR/recipient.txt]`;
/// returns the actor's label (#N).
fn add(f: &Fixture, name: &str, dir: &Path, recipient: Option<&Path>) -> String {
    let mut args = vec![
        "actor".to_string(),
        "add".into(),
        name.into(),
        s(&dir.join("signing.vkey")).into(),
        "--role".into(),
        "journalist".into(),
    ];
    if let Some(r) = recipient {
        args.push("--recipient".into());
        args.push(s(&r.join("recipient.txt")).into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    f.run(&a).ok();
    let list = f.json(&["actor", "list", "-i", s(&f.identity())]);
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))["label"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `config set` to the escrow (the outlet's own recipient) and `extra`.
fn config_set(f: &Fixture, extra: &[&Path]) {
    let mut args = vec![
        "config".to_string(),
        "set".into(),
        "--recipient".into(),
        s(&f.keys.join("recipient.txt")).into(),
    ];
    for d in extra {
        args.push("--recipient".into());
        args.push(s(&d.join("recipient.txt")).into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    f.run(&a).ok();
}

/// `actor list -i IDENTITY --json`'s entry for `label`.
fn listed(f: &Fixture, label: &str) -> Value {
    let all = f.json(&["actor", "list", "-i", s(&f.identity())]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == label)
        .cloned()
        .unwrap_or_else(|| panic!("{label} not in {all}"))
}

/// The (fingerprint, people joined by ", ") pairs of every entry of `show
/// --json`'s readers.
fn readers(v: &Value) -> Vec<Vec<(String, Option<String>)>> {
    v["readers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    r["recipients"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| {
                            (
                                x["fingerprint"].as_str().unwrap().to_string(),
                                x["people"].as_array().map(|p| {
                                    p.iter()
                                        .map(|n| n.as_str().unwrap())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                }),
                            )
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Sealed details as a rogue tool would write them: `json` padded with
/// spaces to 256 bytes (as writers do), age-encrypted to `to`, stored at
/// its address.
fn seal_raw(f: &Fixture, to: &[&Path], json: &str) -> Sealed {
    let mut plain = json.as_bytes().to_vec();
    while !plain.len().is_multiple_of(256) {
        plain.push(b' ');
    }
    let rs: Vec<RecipientKey> = to
        .iter()
        .map(|d| RecipientKey::parse(&recipient_text(d)).unwrap())
        .collect();
    let enc = encrypt_bytes(&rs, &plain).unwrap();
    let d = Digest::of(&enc);
    let p = f.blob_path(&d.to_hex());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, &enc).unwrap();
    Sealed {
        digest: d,
        size: enc.len() as u64,
    }
}

/// A version 2 actor record of `action` for actor `#actor` (a rotate's
/// new key, a revoke's current key), with `details`.
fn actor_payload(action: ActorAction, actor: u64, key: &[u8; 32], details: Sealed) -> Payload {
    Payload::Actor(ActorChange {
        action,
        name: if action == ActorAction::Add {
            String::new()
        } else {
            ActorChange::label(actor)
        },
        role: Role::Journalist,
        key_name: String::new(),
        key: *key,
        reason: String::new(),
        sealed: Some(SealedActor {
            actor,
            key_id: actor_key_id(key),
            details,
        }),
    })
}

/// Signs `payload` with `key` at the next index and appends it to
/// `ledger/records`, as a rogue tool would; returns its index.
fn forge(f: &Fixture, key: &SignerKey, payload: Payload) -> u64 {
    let index = f.records();
    let mut b = RecordBody {
        index,
        time_ms: 1_900_000_000_000 + index,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(key),
        payload,
    };
    b.place(index);
    f.append_record(&b.sign(key).unwrap());
    index
}

fn label_index(label: &str) -> u64 {
    label.trim_start_matches('#').parse().unwrap()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
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

/// The needles (with what they are) found in any file under `dirs`.
fn found(dirs: &[PathBuf], needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut hits = Vec::new();
    for d in dirs {
        for p in files(d) {
            let data = fs::read(&p).unwrap();
            for (what, n) in needles {
                if data.windows(n.len()).any(|w| w == &n[..]) {
                    hits.push(format!("{what} in {}", p.display()));
                }
            }
        }
    }
    hits
}

// ---------------------------------------------------------------------------
// Strict reading of version 2 details
// ---------------------------------------------------------------------------

/// What [`forged_details`] made: the fixture, jo's label and keys folder,
/// the forged records (what, index) and the well-formed control add.
struct Forged {
    f: Fixture,
    label: String,
    jo: PathBuf,
    other: String,
    cases: Vec<(&'static str, u64)>,
    control: u64,
}

/// jo (added with a recipient), then forged (admin-signed, otherwise
/// valid) actor records whose sealed details break the version 2 rules: a
/// recipient with `v` 1, a non-canonical recipient, `v` 2 without a
/// recipient, access details with a recipient on a rotate, a recipient on a
/// revoke; before them, a well-formed version 2 add (the control).
fn forged_details() -> Forged {
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let label = add(&f, "jo", &jo, Some(&jo));
    let n = label_index(&label);
    let admin = key_of(&f.admin_key());
    let escrow = f.keys.clone();
    let to = [escrow.as_path()];
    let rc = recipient_text(&jo);
    let stranger = person(&f, "stranger");
    let other = recipient_text(&stranger);
    // Control: a well-formed version 2 add.
    let xena = SignerKey::generate("dropsite.example/xena").unwrap();
    let ok = seal_raw(
        &f,
        &to,
        &format!(
            r#"{{"kind":"actor","v":2,"name":"xena","key_name":"dropsite.example/xena","reason":"","recipient":"{other}"}}"#
        ),
    );
    let control = forge(
        &f,
        &admin,
        actor_payload(ActorAction::Add, 0, &xena.public_bytes(), ok),
    );
    let mut cases: Vec<(&'static str, u64)> = Vec::new();
    let rotate = |what: &'static str, json: String, cases: &mut Vec<(&'static str, u64)>| {
        let k = SignerKey::generate("dropsite.example/jo").unwrap();
        let d = seal_raw(&f, &to, &json);
        let i = forge(
            &f,
            &admin,
            actor_payload(ActorAction::Rotate, n, &k.public_bytes(), d),
        );
        cases.push((what, i));
        k
    };
    rotate(
        "recipient with v 1",
        format!(
            r#"{{"kind":"actor","v":1,"name":"","key_name":"dropsite.example/jo","reason":"","recipient":"{other}"}}"#
        ),
        &mut cases,
    );
    rotate(
        "non-canonical recipient",
        format!(
            r#"{{"kind":"actor","v":2,"name":"","key_name":"dropsite.example/jo","reason":"","recipient":"{}"}}"#,
            other.to_uppercase()
        ),
        &mut cases,
    );
    rotate(
        "v 2 without recipient",
        r#"{"kind":"actor","v":2,"name":"","key_name":"dropsite.example/jo","reason":""}"#
            .to_string(),
        &mut cases,
    );
    let last = rotate(
        "access details with a recipient",
        format!(r#"{{"kind":"access","v":2,"reason":"","recipient":"{other}"}}"#),
        &mut cases,
    );
    let d = seal_raw(
        &f,
        &to,
        &format!(
            r#"{{"kind":"actor","v":2,"name":"","key_name":"","reason":"","recipient":"{other}"}}"#
        ),
    );
    let i = forge(
        &f,
        &admin,
        actor_payload(ActorAction::Revoke, n, &last.public_bytes(), d),
    );
    cases.push(("recipient on a revoke", i));

    assert_ne!(rc, other);
    Forged {
        f,
        label,
        jo,
        other,
        cases,
        control,
    }
}

/// The forged records of [`forged_details`]: each is one `sealed` finding
/// of `verify --deep`, the well-formed add none; `actor list -i` reads
/// around them (exit 0, no panic) and takes no recipient from them.
#[test]
fn forged_version_2_details_are_sealed_findings() {
    let Forged {
        f,
        label,
        jo,
        cases,
        control,
        ..
    } = forged_details();
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, FINDING, "{v}");
    let sealed = findings_of(&v, "sealed");
    for (what, i) in &cases {
        let on: Vec<_> = sealed.iter().filter(|x| x["subject"]["id"] == *i).collect();
        assert_eq!(on.len(), 1, "{what} (record {i}): {v}");
    }
    assert!(
        !sealed.iter().any(|x| x["subject"]["id"] == control),
        "the well-formed v2 add is a finding: {v}"
    );
    assert_eq!(sealed.len(), cases.len(), "{v}");
    // Readers go around them: jo's recipient is still the one of the add.
    f.run(&["actor", "list", "-i", s(&f.identity())]).ok();
    let entry = listed(&f, &label);
    assert_eq!(entry["recipient"], fp(&jo), "{entry}");
    for (_, i) in &cases {
        f.run(&["show", &i.to_string(), "--json", "-i", s(&f.identity())])
            .ok();
    }
}

/// `show -i` of the same forged records: details that break the version 2
/// rules are shown as unreadable (as `show` does for details that fail to
/// parse), never presented as a valid statement.
#[test]
fn show_does_not_present_a_recipient_on_a_revoke_as_valid() {
    // `show -i` checks actor details against their record (check_actor),
    // as `verify --deep` does, before it shows them.
    let Forged {
        f, other, cases, ..
    } = forged_details();
    let mut problems = Vec::new();
    for (what, i) in &cases {
        let r = f.run(&["show", &i.to_string(), "-i", s(&f.identity())]);
        r.ok();
        if !r.stdout.contains("unreadable") || r.stdout.contains("age recipient [") {
            problems.push(format!("{what}: {}", r.stdout));
        }
        let v = f.json(&["show", &i.to_string(), "-i", s(&f.identity())]);
        if v.to_string().contains(&other) {
            problems.push(format!("{what} (--json) shows the recipient: {v}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------
// Whose recipient is it?
// ---------------------------------------------------------------------------

/// Two people given one recipient (an admin's slip, or a shared
/// newsroom key): `show -i` must name both as readers, and revoking one
/// must not tell the admin to remove the recipient the other still uses
/// without saying so.
#[test]
fn two_people_with_one_recipient_are_both_named() {
    // `show -i` names everyone whose records named the recipient, and
    // `actor revoke` names the active people who share it.
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let bo = person(&f, "bo");
    add(&f, "jo", &jo, Some(&jo));
    add(&f, "bo", &bo, Some(&jo)); // bo given jo's recipient
    config_set(&f, &[&jo]);
    let doc = f.path().join("tip.txt");
    fs::write(&doc, b"what the source said").unwrap();
    let ing = f.ingest_json(&[s(&doc)]);
    let index = ing[0]["index"].as_u64().unwrap().to_string();
    let shown = f.json(&["show", &index, "-i", s(&f.identity())]);
    let mut problems = Vec::new();
    let named: Vec<String> = readers(&shown)[0]
        .iter()
        .filter(|(f, _)| *f == fp(&jo))
        .filter_map(|(_, p)| p.clone())
        .collect();
    let text = f.run(&["show", &index, "-i", s(&f.identity())]);
    if !(shown.to_string().contains("\"jo\"") && shown.to_string().contains("\"bo\"")) {
        problems.push(format!(
            "show --json names {named:?} for the recipient jo and bo both hold"
        ));
    }
    if !(text.stdout.contains("jo") && text.stdout.contains("bo")) {
        problems.push("show names only one of jo and bo".to_string());
    }
    let r = f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())]);
    r.ok();
    let warned = r.stderr.contains("still among the archive's recipients");
    if !warned {
        problems.push(format!("no warning on revoking bo: {}", r.stderr));
    } else if !r.stderr.contains("jo") {
        problems.push(format!(
            "the warning tells the admin to remove the recipient jo (active) uses, without naming jo: {}",
            r.stderr.trim()
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// jo is added with recipient R1, which the admin puts in the
/// configuration; later jo's key is rotated with a new recipient R2 (a new
/// laptop), and the configuration is not updated. jo still holds R1's
/// identity and R1 is still in force. Revoking jo must warn about R1.
#[test]
fn revoke_warns_about_a_recipient_replaced_by_a_later_rotate() {
    // Every recipient a person's records named counts (actor_recipients),
    // not only the latest: the archive may still encrypt to an earlier one.
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let jo2 = person(&f, "jo-laptop2");
    let label = add(&f, "jo", &jo, Some(&jo));
    config_set(&f, &[&jo]);
    let doc = f.path().join("tip.txt");
    fs::write(&doc, b"what the source said").unwrap();
    let ing = f.ingest_json(&[s(&doc)]);
    let index = ing[0]["index"].as_u64().unwrap().to_string();
    f.run(&[
        "actor",
        "rotate",
        &label,
        s(&jo2.join("signing.vkey")),
        "--recipient",
        s(&jo2.join("recipient.txt")),
    ])
    .ok();
    let mut problems = Vec::new();
    let shown = f.json(&["show", &index, "-i", s(&f.identity())]);
    if !readers(&shown)[0]
        .iter()
        .any(|(f, p)| *f == fp(&jo) && p.as_deref() == Some("jo"))
    {
        problems.push(format!(
            "show no longer names jo for jo's first recipient: {}",
            shown["readers"]
        ));
    }
    let r = f.run(&["actor", "revoke", &label, "-i", s(&f.identity())]);
    r.ok();
    if !(r.stderr.contains("still among the archive's recipients")
        && r.stderr.contains(&fp(&jo)[..8]))
    {
        problems.push(format!(
            "revoking jo does not warn that jo's first recipient [{}] is in force: {:?}",
            &fp(&jo)[..8],
            r.stderr
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Without any identity (none given, none in custody.toml), `actor revoke`
/// cannot read the sealed recipient: it says so in a note and claims
/// nothing; `actor list` shows no recipient and no name.
#[test]
fn revoke_without_an_identity_prints_a_note_and_claims_nothing() {
    let f = Fixture::new();
    let zoltan = person(&f, "zoltan");
    let label = add(&f, "zoltan", &zoltan, Some(&zoltan));
    config_set(&f, &[&zoltan]);
    // Forget custody.toml's identity.
    let toml = f.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("identity"))
        .collect();
    assert_ne!(kept.len(), text.lines().count(), "{text}");
    fs::write(&toml, kept.join("\n") + "\n").unwrap();
    let anon = f.run(&["actor", "list", "--json"]);
    anon.ok();
    assert!(!anon.stdout.contains("zoltan"), "{}", anon.stdout);
    let v = anon.json();
    let e = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == label.as_str())
        .unwrap();
    assert!(e["recipient"].is_null(), "{e}");
    assert!(e["recipient_in_configuration"].is_null(), "{e}");
    let r = f.run(&["actor", "revoke", &label]);
    r.ok();
    assert!(
        r.stderr.contains("without -i IDENTITY") && r.stderr.contains("custody rekey"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("still among"), "{}", r.stderr);
    assert!(!r.stderr.contains(&fp(&zoltan)[..8]), "{}", r.stderr);
}

/// An identity that opens none of the sealed details (another outlet's,
/// or a stale one) given to `actor revoke`: custody cannot tell whether the
/// person's recipient is in force, and must say so as it does without -i.
#[test]
fn revoke_with_an_identity_that_opens_nothing_is_not_silent() {
    // An identity that does not open the person's details gets the same
    // note as no identity: custody cannot tell, and says so.
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let label = add(&f, "jo", &jo, Some(&jo));
    config_set(&f, &[&jo]);
    let wrong = f.other_keys("guardian").join("identity.age");
    let r = f.run(&["actor", "revoke", &label, "-i", s(&wrong)]);
    r.ok();
    assert!(
        r.stderr.contains("still among") || r.stderr.contains("cannot tell"),
        "revoking jo (recipient in force) with an identity that opens nothing says nothing: {:?}",
        r.stderr
    );
}

/// A journalist who can write the archive's files forges, with their own
/// (non-admin) key, a `rotate` of their own actor that seals another
/// recipient (a decoy's). `verify` reports it (`actor_role`), custody's
/// actor state skips it, and writers refuse the archive until it is
/// restored (so `actor revoke` cannot run and warns about nothing). The
/// people views must skip it too: `actor list -i` must still show jo's
/// real recipient as in force, and `show -i` must still name jo.
#[test]
fn an_unauthorized_rotate_does_not_replace_a_persons_recipient() {
    // Only authorized actor records count (authorized_actor_records): a
    // rotate forged with a journalist's key changes no view.
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let decoy = person(&f, "decoy");
    let label = add(&f, "jo", &jo, Some(&jo));
    config_set(&f, &[&jo]);
    let doc = f.path().join("tip.txt");
    fs::write(&doc, b"what the source said").unwrap();
    let ing = f.ingest_json(&[s(&doc)]);
    let index = ing[0]["index"].as_u64().unwrap().to_string();
    let escrow = f.keys.clone();
    let d = seal_raw(
        &f,
        &[escrow.as_path(), jo.as_path()],
        &format!(
            r#"{{"kind":"actor","v":2,"name":"","key_name":"dropsite.example/jo","reason":"","recipient":"{}"}}"#,
            recipient_text(&decoy)
        ),
    );
    let jo_key = key_of(&jo.join("signing.key"));
    let new = SignerKey::generate("dropsite.example/jo").unwrap();
    let forged = forge(
        &f,
        &jo_key,
        actor_payload(
            ActorAction::Rotate,
            label_index(&label),
            &new.public_bytes(),
            d,
        ),
    );
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    assert!(
        findings_of(&v, "actor_role")
            .iter()
            .any(|x| x["subject"]["id"] == forged),
        "the forged rotate is no finding: {v}"
    );
    // custody's state skips it: jo's key is still the one the admin added.
    let anon = f.json(&["actor", "list"]);
    let key = anon
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == label.as_str())
        .unwrap()["key"]
        .clone();
    assert!(
        key.as_str()
            .unwrap()
            .contains(&actor_key_id(&jo_key.public_bytes()).to_string()),
        "{key}"
    );
    // Writers refuse the archive: nothing is written.
    let before = fs::read(f.ledger("records")).unwrap();
    let r = f.run(&["actor", "revoke", &label, "-i", s(&f.identity())]);
    r.code(ERROR);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert_eq!(fs::read(f.ledger("records")).unwrap(), before);
    // The people views must skip it as the actor state does.
    let mut problems = Vec::new();
    let entry = listed(&f, &label);
    if entry["recipient"] != fp(&jo).as_str() || entry["recipient_in_configuration"] != true {
        problems.push(format!(
            "actor list -i takes the unauthorized rotate's recipient (jo's own is {}): {entry}",
            &fp(&jo)[..8]
        ));
    }
    let shown = f.json(&["show", &index, "-i", s(&f.identity())]);
    if !readers(&shown)[0]
        .iter()
        .any(|(x, p)| *x == fp(&jo) && p.as_deref() == Some("jo"))
    {
        problems.push(format!("show -i no longer names jo: {}", shown["readers"]));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---------------------------------------------------------------------------
// show: readers
// ---------------------------------------------------------------------------

/// A document rekeyed twice (escrow + guardian + jo, then escrow + jo, then
/// escrow), derived, and migrated: `show -i` lists its record's recipients
/// and each rekey's, in log order, with jo named while jo's recipient is
/// among them; the blobs chain (each rekey's blob is the next's old) and
/// the last is the file that exists. A non-document record has no readers;
/// without -i the readers carry no person, and nothing names jo.
#[test]
fn show_readers_follow_every_rekey_and_name_no_one_without_an_identity() {
    require_tool("age");
    let f = Fixture::uninit();
    let gu = f.other_keys("guardian");
    f.init_with(&["--recipient", s(&gu.join("recipient.txt"))])
        .ok();
    let zoltan = person(&f, "zoltan");
    let label = add(&f, "zoltan", &zoltan, Some(&zoltan));
    config_set(&f, &[&gu, &zoltan]);
    let doc = f.path().join("tip.txt");
    fs::write(&doc, b"what the source said").unwrap();
    let ing = f.ingest_json(&[s(&doc)]);
    let index = ing[0]["index"].as_u64().unwrap();
    let first_blob = ing[0]["blob"].as_str().unwrap().to_string();
    config_set(&f, &[&zoltan]);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    config_set(&f, &[]);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();

    let shown = f.json(&["show", &index.to_string(), "-i", s(&f.identity())]);
    let rs = shown["readers"].as_array().unwrap();
    assert_eq!(rs.len(), 3, "{shown}");
    assert_eq!(rs[0]["record"], index, "{shown}");
    assert_eq!(rs[0]["blob"], first_blob.as_str(), "{shown}");
    let rekeys: Vec<Value> = f
        .json_lines(&["log"])
        .into_iter()
        .filter(|r| r["kind"] == "rekey")
        .collect();
    let mut at = first_blob.clone();
    for r in &rs[1..] {
        let k = rekeys
            .iter()
            .find(|k| k["index"] == r["record"])
            .unwrap_or_else(|| panic!("{r} is no rekey record"));
        assert_eq!(k["old"], at.as_str(), "{shown}");
        assert_eq!(k["new"], r["blob"], "{shown}");
        at = r["blob"].as_str().unwrap().to_string();
    }
    assert!(rs[1]["record"].as_u64() < rs[2]["record"].as_u64());
    assert!(f.blob_path(&at).exists(), "the last blob {at} is missing");
    assert_eq!(shown["blob"], first_blob.as_str());
    let who = readers(&shown);
    let named = |i: usize| {
        who[i]
            .iter()
            .filter_map(|(_, p)| p.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(who[0].len(), 3, "{shown}");
    assert_eq!(named(0), ["zoltan"], "{shown}");
    assert_eq!(who[1].len(), 2, "{shown}");
    assert_eq!(named(1), ["zoltan"], "{shown}");
    assert_eq!(who[2].len(), 1, "{shown}");
    assert!(named(2).is_empty(), "{shown}");
    // Without an identity (show would use custody.toml's): the same
    // fingerprints, no person, no name.
    let toml = f.dir.join("custody.toml");
    let kept = fs::read_to_string(&toml).unwrap();
    f.forget_identity();
    let anon = f.run(&["show", &index.to_string(), "--json"]);
    anon.ok();
    assert!(!anon.stdout.contains("zoltan"), "{}", anon.stdout);
    assert!(!anon.stdout.contains("\"person\""), "{}", anon.stdout);
    let v = anon.json();
    let fps = |w: Vec<Vec<(String, Option<String>)>>| -> Vec<Vec<String>> {
        w.into_iter()
            .map(|r| r.into_iter().map(|x| x.0).collect())
            .collect()
    };
    assert_eq!(fps(readers(&v)), fps(who.clone()));
    let text = f.run(&["show", &index.to_string()]);
    text.ok();
    assert!(!text.stdout.contains("zoltan"), "{}", text.stdout);
    assert_eq!(text.stdout.matches("rekeyed     at record").count(), 2);
    fs::write(&toml, kept).unwrap();
    // Non-document records: no readers.
    for r in [label_index(&label), rekeys[0]["index"].as_u64().unwrap()] {
        let v = f.json(&["show", &r.to_string(), "-i", s(&f.identity())]);
        assert!(v.get("readers").is_none(), "record {r}: {v}");
    }
    let cfg = f
        .json_lines(&["log"])
        .into_iter()
        .find(|r| r["kind"] == "config")
        .unwrap();
    let v = f.json(&["show", &cfg["index"].to_string(), "-i", s(&f.identity())]);
    assert!(v.get("readers").is_none(), "{v}");
    // A derived document: one reader set, the configuration's (escrow).
    let tr = f.path().join("tip.en.txt");
    fs::write(&tr, b"what the source said, translated").unwrap();
    let d = f.json_lines(&[
        "derive",
        "--relation",
        "translation",
        &index.to_string(),
        s(&tr),
    ]);
    let di = d[0]["index"].as_u64().unwrap();
    let v = f.json(&["show", &di.to_string(), "-i", s(&f.identity())]);
    let w = readers(&v);
    assert_eq!(w.len(), 1, "{v}");
    assert_eq!(w[0].len(), 1, "{v}");
    // After migrate: the same readers.
    f.run(&["migrate", "--to", s(&f.path().join("store"))]).ok();
    let again = f.json(&["show", &index.to_string(), "-i", s(&f.identity())]);
    assert_eq!(again["readers"], shown["readers"]);
}

/// A forged rekey cycle A → B → A on a document's blob (an admin's forgery,
/// `rekey_ref` under verify): `show` of the document is how one looks at
/// the damage. Before `readers`, `show N` (no identity) printed the record;
/// it must still print it, readers or not.
#[test]
fn show_still_prints_a_document_caught_in_a_forged_rekey_cycle() {
    // A damaged rekey chain is shown as `readers_error`; the record is
    // still printed (exit 0).
    require_tool("age");
    let f = Fixture::with_samples();
    let doc = INIT_RECORDS.to_string();
    let rec = f.show(&doc);
    let a = Digest::from_hex(rec["blob"].as_str().unwrap()).unwrap();
    let a_path = f.blob_path(&a.to_hex());
    let a_len = fs::metadata(&a_path).unwrap().len();
    let b_file = age_encrypt(
        &f.keys.join("recipient.txt"),
        &age_decrypt(&f.identity(), &a_path),
    );
    let b = Digest::of(&b_file);
    let bp = f.blob_path(&b.to_hex());
    fs::create_dir_all(bp.parent().unwrap()).unwrap();
    fs::write(&bp, &b_file).unwrap();
    let fps: Vec<Digest> = f.json(&["config", "show"])["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Digest::from_hex(r.as_str().unwrap()).unwrap())
        .collect();
    let admin = key_of(&f.admin_key());
    for (old, new, size) in [(a, b, b_file.len() as u64), (b, a, a_len)] {
        forge(
            &f,
            &admin,
            Payload::Rekey(Rekey {
                old,
                new,
                new_size: size,
                recipients: fps.clone(),
            }),
        );
    }
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    let r = f.run(&["show", &doc]);
    r.no_panic();
    assert_eq!(
        r.code, OK,
        "show of the document fails: {} {}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("commitment"), "{}", r.stdout);
}

// ---------------------------------------------------------------------------
// What someone without an identity learns
// ---------------------------------------------------------------------------

/// After `actor add --recipient`, neither the ledger, the index, nor the
/// published log holds the person's recipient or its fingerprint (text or
/// bytes), nor their name; `log`, `verify`, `status` and `actor list`
/// without an identity print neither. And (X25519) the sealed details of an
/// add with a recipient are as long as those of one without.
#[test]
fn the_ledger_and_outputs_do_not_reveal_a_persons_recipient() {
    let f = Fixture::new();
    let zoltan = person(&f, "zoltan");
    let quincy = person(&f, "quincy");
    add(&f, "quincy", &quincy, None);
    add(&f, "zoltan", &zoltan, Some(&zoltan));
    let rc = recipient_text(&zoltan);
    let d = Digest::from_hex(&fp(&zoltan)).unwrap();
    let needles: Vec<(String, Vec<u8>)> = vec![
        ("recipient".into(), rc.as_bytes().to_vec()),
        ("fingerprint hex".into(), fp(&zoltan).into_bytes()),
        ("fingerprint bytes".into(), d.0.to_vec()),
        ("name".into(), b"zoltan".to_vec()),
    ];
    let published = f.path().join("published");
    f.json(&["publish", s(&published)]);
    let hits = found(
        &[f.dir.join("ledger"), f.dir.join("db"), published.clone()],
        &needles,
    );
    assert!(files(&published).len() > 1);
    assert!(hits.is_empty(), "{hits:#?}");
    for args in [
        vec!["log", "--json"],
        vec!["log"],
        vec!["status"],
        vec!["verify"],
        vec!["actor", "list"],
        vec!["actor", "list", "--json"],
    ] {
        let r = f.run(&args);
        assert!(r.code == OK, "{args:?}: {}", r.stderr);
        for (what, n) in &needles[..2] {
            let n = String::from_utf8_lossy(n);
            assert!(
                !r.stdout.contains(&*n) && !r.stderr.contains(&*n),
                "{args:?} prints the {what}"
            );
        }
        assert!(!r.stdout.contains(&fp(&zoltan)[..8]), "{args:?}");
    }
    // The lengths the ledger states do not tell who has a recipient.
    let sizes: Vec<u64> = f
        .json_lines(&["log"])
        .into_iter()
        .filter(|r| r["kind"] == "actor" && r["action"] == "add")
        .map(|r| r["sealed"]["details"]["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
}

/// A post-quantum archive (keygen's default): a person's post-quantum
/// recipient makes their sealed details about 2 KB longer, and the record
/// states the length in the clear, so anyone holding the published log
/// learns which people have their own (post-quantum) recipient.
#[test]
fn sealed_details_lengths_do_not_tell_who_has_a_post_quantum_recipient() {
    // Actor details are padded to at least 4,096 bytes (FORMAT.md §5.4),
    // so the sealed file's length does not tell who has a recipient or a
    // post-quantum one.
    let f = Fixture::uninit();
    let admin = person_kind(&f, "pq-admin", true);
    let dir = f.path().join("pq-archive");
    let mut c = custody();
    c.arg("init")
        .arg(&dir)
        .arg("--signing-key")
        .arg(admin.join("signing.key"))
        .arg("--admin-key")
        .arg(admin.join("admin.key"))
        .arg("--identity")
        .arg(admin.join("identity.age"))
        .arg("--recipient")
        .arg(admin.join("recipient.txt"));
    run(c).ok();
    let pa = person_kind(&f, "pa", true);
    let pb = person_kind(&f, "pb", true);
    let go = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&dir).args(args);
        run(c)
    };
    go(&[
        "actor",
        "add",
        "pa",
        s(&pa.join("signing.vkey")),
        "--role",
        "journalist",
    ])
    .ok();
    go(&[
        "actor",
        "add",
        "pb",
        s(&pb.join("signing.vkey")),
        "--role",
        "journalist",
        "--recipient",
        s(&pb.join("recipient.txt")),
    ])
    .ok();
    let log = go(&["log", "--json"]);
    log.ok();
    let sizes: Vec<u64> = log
        .json_lines()
        .into_iter()
        .filter(|r| r["kind"] == "actor" && r["action"] == "add")
        .map(|r| r["sealed"]["details"]["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert!(
        sizes.windows(2).all(|w| w[0] == w[1]),
        "sealed sizes of the adds (admin, pa without, pb with a recipient): {sizes:?}"
    );
}

// ---------------------------------------------------------------------------
// What --recipient accepts
// ---------------------------------------------------------------------------

/// `--recipient` given secret keys (an age identity, a plugin identity, an
/// OpenSSH private key file, a signing key file), a directory, a FIFO with
/// no writer, /dev/zero, an upper-cased recipient: each is one line on
/// stderr, exit 2, nothing written, no secret echoed; the same for `rotate`.
#[test]
fn recipient_refuses_secrets_and_special_files() {
    let f = Fixture::new();
    let jo = person(&f, "jo");
    let label = add(&f, "jo", &jo, None);
    let zy = person(&f, "zy");
    let ssh = f.path().join("id_ed25519");
    fs::copy(repo_key("localcall", "id_ed25519"), &ssh).unwrap();
    set_mode(&ssh, 0o600);
    let fifo = f.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let age_secret = fs::read_to_string(zy.join("identity.age"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    let plugin_secret = "AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQQQQQQ".to_string();
    let ssh_secret = fs::read_to_string(&ssh).unwrap();
    let ssh_line = ssh_secret.lines().nth(1).unwrap().to_string();
    let bad = [
        age_secret.clone(),
        plugin_secret.clone(),
        s(&ssh).to_string(),
        s(&zy.join("signing.key")).to_string(),
        s(&zy.join("identity.age")).to_string(),
        s(f.path()).to_string(),
        s(&fifo).to_string(),
        "/dev/zero".to_string(),
        recipient_text(&zy).to_uppercase(),
    ];
    let before = f.snapshot();
    for b in &bad {
        for r in [
            f.run(&[
                "actor",
                "add",
                "zy",
                s(&zy.join("signing.vkey")),
                "--role",
                "journalist",
                "--recipient",
                b,
            ]),
            f.run(&[
                "actor",
                "rotate",
                &label,
                s(&zy.join("signing.vkey")),
                "--recipient",
                b,
            ]),
        ] {
            r.no_panic();
            assert_eq!(r.code, ERROR, "{b}: {} {}", r.stdout, r.stderr);
            assert_eq!(r.stderr.trim().lines().count(), 1, "{b}: {}", r.stderr);
            for secret in [&age_secret, &plugin_secret, &ssh_line] {
                assert!(
                    !r.stderr.contains(secret.as_str()) && !r.stdout.contains(secret.as_str()),
                    "{b}: a secret is echoed: {}",
                    r.stderr
                );
            }
        }
    }
    f.assert_unchanged(&before);
}

/// A post-quantum archive and a classic (X25519) person: `actor add
/// --recipient` records it (a statement, §5.4), `actor list -i` shows it
/// not in force, and `config set` refuses to mix it with the archive's
/// post-quantum recipient, naming the mix, writing nothing.
#[test]
fn a_classic_persons_recipient_in_a_post_quantum_archive_is_never_mixed_in() {
    let f = Fixture::uninit();
    let admin = person_kind(&f, "pq-admin", true);
    let dir = f.path().join("pq-archive");
    let mut c = custody();
    c.arg("init")
        .arg(&dir)
        .arg("--signing-key")
        .arg(admin.join("signing.key"))
        .arg("--admin-key")
        .arg(admin.join("admin.key"))
        .arg("--identity")
        .arg(admin.join("identity.age"))
        .arg("--recipient")
        .arg(admin.join("recipient.txt"));
    run(c).ok();
    let go = |args: &[&str]| {
        let mut c = custody();
        c.arg("-A").arg(&dir).args(args);
        run(c)
    };
    let jo = person(&f, "jo");
    go(&[
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
    let list = go(&[
        "actor",
        "list",
        "-i",
        s(&admin.join("identity.age")),
        "--json",
    ]);
    list.ok();
    let v = list.json();
    let e = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "jo")
        .unwrap()
        .clone();
    assert_eq!(e["recipient"], fp(&jo), "{e}");
    assert_eq!(e["recipient_in_configuration"], false, "{e}");
    let records = fs::read(dir.join("ledger").join("records")).unwrap();
    let r = go(&[
        "config",
        "set",
        "--recipient",
        s(&admin.join("recipient.txt")),
        "--recipient",
        s(&jo.join("recipient.txt")),
    ]);
    r.no_panic();
    assert_eq!(r.code, ERROR, "{}", r.stderr);
    assert!(
        r.stderr.contains("post-quantum") && r.stderr.contains("classic"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert_eq!(
        fs::read(dir.join("ledger").join("records")).unwrap(),
        records
    );
    // The person's recipient is still shown as not in force.
    let list = go(&["actor", "list", "-i", s(&admin.join("identity.age"))]);
    list.ok();
    assert!(
        list.stdout
            .contains(&format!("age recipient [{}]: not among", &fp(&jo)[..8])),
        "{}",
        list.stdout
    );
}
