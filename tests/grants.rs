//! Grants that add a recipient (FORMAT.md §4.19, README "People and
//! roles"): `custody grant` of a compartment's document to someone outside
//! it gives them that document's file key in a new header for the same
//! payload (the `age` CLI opens it with their own identity), and nothing
//! else of the compartment; `verify` checks every `rewrap` against its grant;
//! `rekey` keeps the recipient while the grantee is active and drops it
//! after a revocation.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::age_cli::*;
use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::padding::bucket;
use custody::core::record::{DocRef, Grant, GrantTo, Payload, Rekey, Rewrap};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn log(f: &Fixture) -> Vec<Value> {
    f.json_lines(&["log"])
}

/// The file that holds what blob `d` held, after every rekey and rewrap.
fn current(f: &Fixture, d: &str) -> PathBuf {
    let mut at = d.to_string();
    for r in log(f) {
        if (r["kind"] == "rekey" || r["kind"] == "rewrap") && r["old"] == at.as_str() {
            at = r["new"].as_str().unwrap().to_string();
        }
    }
    f.blob_path(&at)
}

/// A document's (file, envelope) as they are now.
fn files_of(f: &Fixture, index: &str) -> (PathBuf, PathBuf) {
    let v = f.json(&["show", index]);
    (
        current(f, v["blob"].as_str().unwrap()),
        current(f, v["meta"].as_str().unwrap()),
    )
}

/// An archive whose configuration encrypts to the escrow alone, with
/// journalists jo (in compartment c-9 with the escrow) and bo (outside it),
/// each with their own recipient; returns it, jo's and bo's key folders.
fn newsroom() -> (Fixture, PathBuf, PathBuf) {
    require_tool("age");
    let f = Fixture::new();
    let (jo, bo) = (person(&f, "jo"), person(&f, "bo"));
    for (name, p) in [("jo", &jo), ("bo", &bo)] {
        f.run(&[
            "actor",
            "add",
            name,
            s(&p.join("signing.vkey")),
            "--role",
            "journalist",
            "--recipient",
            s(&p.join("recipient.txt")),
        ])
        .ok();
    }
    f.run(&[
        "compartment",
        "set",
        "c-9",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&jo.join("recipient.txt")),
        "-i",
        s(&f.identity()),
    ])
    .ok();
    (f, jo, bo)
}

/// Ingests `text` as a new file into compartment c-9; its record index.
fn ingest_in(f: &Fixture, name: &str, text: &[u8]) -> String {
    let p = f.path().join(name);
    fs::write(&p, text).unwrap();
    f.ingest_json(&[s(&p), "--compartment", "c-9"])[0]["index"]
        .as_u64()
        .unwrap()
        .to_string()
}

/// bo's label (`#N`): names are sealed, labels are not.
fn label(f: &Fixture, name: &str) -> String {
    let all = f.json(&["actor", "list", "-i", s(&f.identity())]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()["label"]
        .as_str()
        .unwrap()
        .to_string()
}

fn grant(f: &Fixture, doc: &str, who: &str) -> Value {
    f.json(&["grant", doc, who, "-i", s(&f.identity())])
}

#[test]
fn a_grant_gives_one_compartment_document_and_nothing_else_to_an_outsider() {
    let (f, jo, bo) = newsroom();
    let secret = b"the minutes of the meeting, as the source copied them".repeat(40);
    let doc = ingest_in(&f, "minutes.txt", &secret);
    let other = ingest_in(&f, "source-contact.txt", b"who the source is");
    let (file, envelope) = files_of(&f, &doc);
    let before = fs::read(&file).unwrap();
    assert!(!age_opens(&bo.join("identity.age"), &file));

    let g = grant(&f, &doc, "bo");
    assert_eq!(g["kind"], "grant", "{g}");
    assert_eq!(g["rewrap"]["kind"], "rewrap", "{g}");
    assert_eq!(g["document_file"]["file"], "recipient_added", "{g}");

    // bo opens the document with their own identity, to its exact bytes.
    let (file2, envelope2) = files_of(&f, &doc);
    assert_ne!(file, file2);
    assert_eq!(age_open(&bo.join("identity.age"), &file2).unwrap(), secret);
    assert_eq!(age_decrypt(&jo.join("identity.age"), &file2), secret);
    assert_eq!(age_decrypt(&f.identity(), &file2), secret);
    // The same payload: only the header changed (FORMAT.md §4.19).
    let after = fs::read(&file2).unwrap();
    let tail = |b: &[u8]| {
        let h = b.windows(4).position(|w| w == b"\n---").unwrap();
        let end = h + 1 + b[h + 1..].iter().position(|&c| c == b'\n').unwrap() + 1;
        b[end..].to_vec()
    };
    assert_eq!(tail(&before), tail(&after));
    assert_eq!(bucket(after.len() as u64), after.len() as u64);
    // The old file is gone; nothing else of the compartment opens for bo.
    assert!(!file.exists());
    assert_eq!(envelope, envelope2);
    assert!(!age_opens(&bo.join("identity.age"), &envelope2));
    let (other_file, _) = files_of(&f, &other);
    assert!(!age_opens(&bo.join("identity.age"), &other_file));
    f.assert_verified();
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");

    // Who could decrypt: the audit names bo from the rewrap on.
    // (exit 1: the document lacks the approvals publication requires)
    let audit = f.run(&["audit", &doc, "-i", s(&f.identity()), "--json"]);
    let audit = audit.code(1).json();
    let readers = audit["documents"][0]["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 2, "{audit}");
    assert_eq!(readers[0]["kind"], "ingest", "{audit}");
    assert_eq!(readers[1]["kind"], "rewrap", "{audit}");
    let shown = f.run(&["show", &doc, "-i", s(&f.identity())]);
    assert!(
        shown.stdout.contains("granted     at record"),
        "{}",
        shown.stdout
    );
    let text = f.run(&["audit", &doc, "-i", s(&f.identity())]);
    assert!(text.stdout.contains("(rewrap)"), "{}", text.stdout);
    let last = readers[1]["recipients"].to_string();
    assert!(last.contains("\"bo\"") && last.contains("\"jo\""), "{last}");
    assert!(!readers[0]["recipients"].to_string().contains("\"bo\""));

    // A document derived from it stays in the compartment, without bo.
    let tr = f.path().join("minutes-en.txt");
    fs::write(&tr, b"translated minutes").unwrap();
    f.run(&["derive", &doc, s(&tr), "--relation", "translation"])
        .ok();
    let derived = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "derive")
        .unwrap()["index"]
        .to_string();
    let (dfile, _) = files_of(&f, &derived);
    assert!(age_opens(&jo.join("identity.age"), &dfile));
    assert!(!age_opens(&bo.join("identity.age"), &dfile));

    // Granting again changes no file.
    let again = grant(&f, &doc, "bo");
    assert_eq!(
        again["document_file"]["file"], "already_recipient",
        "{again}"
    );
    assert!(again["rewrap"].is_null());
    f.assert_verified();
}

#[test]
fn rekey_keeps_a_grant_while_the_grantee_is_active_and_drops_it_after_revocation() {
    let (f, jo, bo) = newsroom();
    let secret = b"bank statements".repeat(100);
    let doc = ingest_in(&f, "statements.txt", &secret);
    grant(&f, &doc, "bo");
    let (granted_file, _) = files_of(&f, &doc);
    // Nothing to do: the grant is kept.
    let r = f.json(&["rekey", "-i", s(&f.identity())]);
    assert_eq!(r["documents"], 0, "{r}");
    assert_eq!(r["grants_kept"], 1, "{r}");
    assert_eq!(files_of(&f, &doc).0, granted_file);

    f.run(&[
        "actor",
        "revoke",
        "bo",
        "-i",
        s(&f.identity()),
        "--reason",
        "left",
    ])
    .ok();
    let r = f.json(&["rekey", "-i", s(&f.identity())]);
    assert_eq!(r["grants_dropped"], 1, "{r}");
    assert_eq!(r["documents"], 1, "{r}");
    let (file, _) = files_of(&f, &doc);
    assert!(!age_opens(&bo.join("identity.age"), &file));
    assert_eq!(age_decrypt(&jo.join("identity.age"), &file), secret);
    f.assert_verified();
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn a_grant_of_a_configuration_document_adds_the_grantees_recipient_when_asked() {
    let (f, _jo, bo) = newsroom();
    let p = f.path().join("press.txt");
    fs::write(&p, b"a statement").unwrap();
    let doc = f.ingest_json(&[s(&p)])[0]["index"].to_string();
    // Without an identity the grant is a right only, and says so.
    let bo_label = label(&f, "bo");
    f.forget_identity();
    let plain = f.run(&["grant", &doc, &bo_label]);
    plain.ok();
    assert!(plain.stdout.contains("unchanged"), "{}", plain.stdout);
    assert!(!age_opens(&bo.join("identity.age"), &files_of(&f, &doc).0));
    let g = grant(&f, &doc, "bo");
    assert_eq!(g["document_file"]["file"], "recipient_added", "{g}");
    assert_eq!(
        age_decrypt(&bo.join("identity.age"), &files_of(&f, &doc).0),
        b"a statement"
    );
    f.assert_verified();
}

#[test]
fn a_compartment_grant_without_an_identity_writes_nothing() {
    let (f, _jo, _bo) = newsroom();
    let doc = ingest_in(&f, "memo.txt", b"memo");
    let bo = label(&f, "bo");
    f.forget_identity();
    let before = f.snapshot();
    let r = f.run(&["grant", &doc, &bo]);
    r.code(2);
    assert!(r.stderr.contains("-i IDENTITY"), "{}", r.stderr);
    f.assert_unchanged(&before);
    // An identity that does not open the people's details: refused too.
    let bo_keys = f.path().join("people/bo/identity.age");
    let r = f.run(&["grant", &doc, &bo, "-i", s(&bo_keys)]);
    r.code(2);
    f.assert_unchanged(&before);
}

// ---------------------------------------------------------------------------
// Forged rewraps: a stolen editor's or admin's key adding a recipient
// ---------------------------------------------------------------------------

fn key(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn digest(v: &Value) -> Digest {
    Digest::from_hex(v.as_str().unwrap()).unwrap()
}

fn fp(recipient_file: &Path) -> Digest {
    let text = fs::read_to_string(recipient_file).unwrap();
    custody::core::crypto::RecipientKey::parse(text.trim())
        .unwrap()
        .fingerprint()
}

/// A document of c-9 and its current file's record fields.
fn target(f: &Fixture) -> (String, Digest, u64, Vec<Digest>) {
    let doc = ingest_in(f, "ledger.txt", b"payments");
    let v = f.show(&doc);
    let fps = v["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(digest)
        .collect();
    (
        doc,
        digest(&v["blob"]),
        v["blob_size"].as_u64().unwrap(),
        fps,
    )
}

/// A rewrap record whose new file is `old`'s bytes with one changed byte
/// (verify's record checks do not read it; the file exists so that only
/// the record's findings show).
fn rewrap_of(
    f: &Fixture,
    grant: u64,
    old: Digest,
    size: u64,
    fps: &[Digest],
    added: Digest,
) -> Payload {
    let mut bytes = fs::read(f.blob_path(&old.to_string())).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let new = Digest::of(&bytes);
    let p = f.blob_path(&new.to_string());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, &bytes).unwrap();
    let mut recipients = fps.to_vec();
    recipients.push(added);
    recipients.sort();
    recipients.dedup();
    Payload::Rewrap(Rewrap {
        grant,
        added,
        blob: Rekey {
            old,
            new,
            new_size: size,
            recipients,
        },
    })
}

#[test]
fn a_rewrap_without_its_grant_is_a_finding() {
    let (f, _jo, _bo) = newsroom();
    let (doc, blob, size, fps) = target(&f);
    let stranger = person(&f, "stranger");
    // An admin's stolen key adds a stranger's recipient, naming the
    // document's own record as if it were a grant.
    let p = rewrap_of(
        &f,
        doc.parse().unwrap(),
        blob,
        size,
        &fps,
        fp(&stranger.join("recipient.txt")),
    );
    f.forge(&key(&f.admin_key()), p);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert!(checks(&v).contains(&"rewrap".to_string()), "{v}");
    assert!(checks(&v).contains(&"recipients".to_string()), "{v}");
}

/// The current file of `doc`: its address, size and recipients.
fn current_file(f: &Fixture, doc: &str) -> (Digest, u64, Vec<Digest>) {
    let (file, _) = files_of(f, doc);
    let bytes = fs::read(&file).unwrap();
    let d = Digest::of(&bytes);
    let mut fps: Vec<Digest> = f.show(doc)["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(digest)
        .collect();
    for r in log(f) {
        if (r["kind"] == "rekey" || r["kind"] == "rewrap") && r["new"] == d.to_string().as_str() {
            fps = r["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .map(digest)
                .collect();
        }
    }
    (d, bytes.len() as u64, fps)
}

fn reasons(v: &Value, check: &str) -> String {
    findings_of(v, check)
        .iter()
        .map(|x| x["reason"].to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A version 2 grant of `doc` to the actor added at `actor`.
fn grant_payload(f: &Fixture, doc: &str, actor: u64) -> Payload {
    Payload::Grant(Grant {
        about: DocRef {
            document: doc.parse().unwrap(),
            commitment: digest(&f.show(doc)["commitment"]),
        },
        actor: GrantTo::Added(actor),
    })
}

fn added_at(f: &Fixture, name: &str) -> u64 {
    label(f, name)[1..].parse().unwrap()
}

#[test]
fn a_rewrap_by_another_key_than_its_grants_is_a_finding() {
    let (f, _jo, _bo) = newsroom();
    let (doc, _, _, _) = target(&f);
    let ed = person(&f, "ed");
    f.run(&[
        "actor",
        "add",
        "ed",
        s(&ed.join("signing.vkey")),
        "--role",
        "editor",
    ])
    .ok();
    let stranger = fp(&person(&f, "stranger").join("recipient.txt"));
    // The admin's grant to bo, carried out by an editor's key (allowed to
    // grant, not this grant) for a stranger's recipient.
    let bo = added_at(&f, "bo");
    f.forge(&key(&f.admin_key()), grant_payload(&f, &doc, bo));
    let (cur, size, fps) = current_file(&f, &doc);
    let at = f.records() - 1;
    let p = rewrap_of(&f, at, cur, size, &fps, stranger);
    f.forge(&key(&ed.join("signing.key")), p);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert!(reasons(&v, "rewrap").contains("another key"), "{v}");
    assert!(checks(&v).contains(&"recipients".to_string()), "{v}");
    assert!(!checks(&v).contains(&"grant_actor".to_string()), "{v}");
}

#[test]
fn a_rewrap_of_another_documents_file_is_a_finding() {
    let (f, _jo, _bo) = newsroom();
    let (doc, _, _, _) = target(&f);
    let other = ingest_in(&f, "other.txt", b"another document");
    let bo = added_at(&f, "bo");
    let stranger = fp(&person(&f, "stranger").join("recipient.txt"));
    // A grant of `doc`, carried out on the other document's file.
    f.forge(&key(&f.admin_key()), grant_payload(&f, &doc, bo));
    let (cur, size, fps) = current_file(&f, &other);
    let p = rewrap_of(&f, f.records() - 1, cur, size, &fps, stranger);
    f.forge(&key(&f.admin_key()), p);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert!(
        reasons(&v, "rewrap").contains("not the current file"),
        "{v}"
    );
}

#[test]
fn a_rewrap_for_a_revoked_actor_is_a_finding() {
    let (f, _jo, _bo) = newsroom();
    let (doc, _, _, _) = target(&f);
    let bo = added_at(&f, "bo");
    let stranger = fp(&person(&f, "stranger").join("recipient.txt"));
    f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())])
        .ok();
    f.forge(&key(&f.admin_key()), grant_payload(&f, &doc, bo));
    let (cur, size, fps) = current_file(&f, &doc);
    let p = rewrap_of(&f, f.records() - 1, cur, size, &fps, stranger);
    f.forge(&key(&f.admin_key()), p);
    let (_, v) = f.verify(&[]);
    assert!(checks(&v).contains(&"grant_actor".to_string()), "{v}");
    assert!(
        reasons(&v, "rewrap").contains("not a grant of this log to an active actor"),
        "{v}"
    );
    assert!(checks(&v).contains(&"recipients".to_string()), "{v}");
}

#[test]
fn a_rekey_that_keeps_a_revoked_grantees_recipient_is_a_finding() {
    let (f, _jo, bo) = newsroom();
    let (doc, _, _, _) = target(&f);
    grant(&f, &doc, "bo");
    f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())])
        .ok();
    let w = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "rewrap")
        .unwrap();
    let old = digest(&w["new"]);
    let recipients: Vec<Digest> = w["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(digest)
        .collect();
    assert!(recipients.contains(&fp(&bo.join("recipient.txt"))));
    let mut bytes = fs::read(f.blob_path(&old.to_string())).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let new = Digest::of(&bytes);
    fs::write(f.blob_path(&new.to_string()), &bytes).unwrap();
    f.forge(
        &key(&f.admin_key()),
        Payload::Rekey(Rekey {
            old,
            new,
            new_size: bytes.len() as u64,
            recipients,
        }),
    );
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert!(checks(&v).contains(&"recipients".to_string()), "{v}");
}

/// A stolen admin's key grants a document to bo and adds a stranger's
/// recipient in bo's name: the records pass `verify` (a verifier without
/// identities cannot see whose a recipient is), and `verify --deep` with an
/// identity that opens the actors' details finds it (FORMAT.md §4.19).
#[test]
fn a_rewrap_for_someone_elses_recipient_is_a_deep_finding() {
    let (f, _jo, _bo) = newsroom();
    let (doc, _, _, _) = target(&f);
    let bo = added_at(&f, "bo");
    let stranger = fp(&person(&f, "stranger").join("recipient.txt"));
    f.forge(&key(&f.admin_key()), grant_payload(&f, &doc, bo));
    let (cur, size, fps) = current_file(&f, &doc);
    let p = rewrap_of(&f, f.records() - 1, cur, size, &fps, stranger);
    f.forge(&key(&f.admin_key()), p);
    let (_, v) = f.verify(&[]);
    assert!(!checks(&v).contains(&"rewrap".to_string()), "{v}");
    assert!(!checks(&v).contains(&"recipients".to_string()), "{v}");
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 1);
    assert!(reasons(&v, "rewrap").contains("not one that #"), "{v}");
    // bo's own recipient, added by custody, is not a finding.
    let (g, _jo, _bo) = newsroom();
    let (doc, _, _, _) = target(&g);
    grant(&g, &doc, "bo");
    let (code, v) = g.verify(&["--deep", "-i", s(&g.identity())]);
    assert_eq!(code, 0, "{v}");
}
