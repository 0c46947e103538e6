//! Adversarial pass on grants that add a recipient (FORMAT.md §4.19,
//! SECURITY.md "Grants that add a recipient"): a stolen editor's or admin's
//! key, a hostile grantee, a copied or edited archive. The `age` CLI is the
//! independent judge of who opens what.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::age_cli::*;
use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{DocRef, Grant, GrantTo, Payload, RecordBody, Rekey, Rewrap};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn log(f: &Fixture) -> Vec<Value> {
    f.json_lines(&["log"])
}

/// The address blob `d` has now, after every rekey and rewrap.
fn current_hex(f: &Fixture, d: &str) -> String {
    let mut at = d.to_string();
    for r in log(f) {
        if (r["kind"] == "rekey" || r["kind"] == "rewrap") && r["old"] == at.as_str() {
            at = r["new"].as_str().unwrap().to_string();
        }
    }
    at
}

/// A document's current file (in `blobs/`).
fn file_of(f: &Fixture, index: &str) -> PathBuf {
    f.blob_path(&current_hex(f, f.show(index)["blob"].as_str().unwrap()))
}

/// A person with their own keys, added as an actor of `role` with their
/// own recipient (`pq`: post-quantum keys from `keygen` without --x25519).
fn actor(f: &Fixture, name: &str, role: &str, pq: bool) -> PathBuf {
    let dir = if pq {
        let dir = f.path().join("people").join(name);
        let mut c = custody();
        c.args([
            "keygen",
            "--name",
            &format!("dropsite.example/{name}"),
            "-o",
        ])
        .arg(&dir);
        run(c).ok();
        dir
    } else {
        person(f, name)
    };
    let (vkey, rcp) = (dir.join("signing.vkey"), dir.join("recipient.txt"));
    f.run(&[
        "actor",
        "add",
        name,
        s(&vkey),
        "--role",
        role,
        "--recipient",
        s(&rcp),
    ])
    .ok();
    dir
}

/// `compartment set c-9` to the escrow and `members`, -i the escrow.
fn set_c9(f: &Fixture, members: &[&Path]) {
    let mut args: Vec<String> = vec!["compartment".into(), "set".into(), "c-9".into()];
    for m in std::iter::once(&f.keys.as_path()).chain(members) {
        args.push("--recipient".into());
        args.push(s(&m.join("recipient.txt")).into());
    }
    args.extend(["-i".into(), s(&f.identity()).into()]);
    f.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
}

/// Escrow-only configuration; journalists jo (in c-9 with the escrow) and
/// bo (outside it), each with their own recipient.
fn newsroom() -> (Fixture, PathBuf, PathBuf) {
    require_tool("age");
    let f = Fixture::new();
    let jo = actor(&f, "jo", "journalist", false);
    let bo = actor(&f, "bo", "journalist", false);
    set_c9(&f, &[&jo]);
    (f, jo, bo)
}

fn ingest(f: &Fixture, name: &str, text: &[u8], extra: &[&str]) -> String {
    let p = f.path().join(name);
    fs::write(&p, text).unwrap();
    let mut args = vec![s(&p)];
    args.extend_from_slice(extra);
    f.ingest_json(&args)[0]["index"]
        .as_u64()
        .unwrap()
        .to_string()
}

fn ingest_in(f: &Fixture, name: &str, text: &[u8]) -> String {
    ingest(f, name, text, &["--compartment", "c-9"])
}

fn grant(f: &Fixture, doc: &str, who: &str) -> Value {
    f.json(&["grant", doc, who, "-i", s(&f.identity())])
}

/// Every file under `roots` (blobs/ and object-store directories) that
/// `identity` opens with the `age` CLI.
fn opened_by(identity: &Path, roots: &[&Path]) -> Vec<PathBuf> {
    roots
        .iter()
        .flat_map(|r| digest_files(r))
        .filter(|p| age_opens(identity, p))
        .collect()
}

fn key(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn forge(f: &Fixture, key: &SignerKey, payload: Payload) {
    let rec = RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(key),
        payload,
    }
    .sign(key)
    .unwrap();
    f.append_record(&rec);
}

fn digest(v: &Value) -> Digest {
    Digest::from_hex(v.as_str().unwrap()).unwrap()
}

fn fp(dir: &Path) -> Digest {
    let text = fs::read_to_string(dir.join("recipient.txt")).unwrap();
    custody::core::crypto::RecipientKey::parse(text.trim())
        .unwrap()
        .fingerprint()
}

fn added_at(f: &Fixture, name: &str) -> u64 {
    let all = f.json(&["actor", "list", "-i", s(&f.identity())]);
    let a = all.as_array().unwrap().iter().find(|a| a["name"] == name);
    a.unwrap()["label"].as_str().unwrap()[1..].parse().unwrap()
}

fn grant_payload(f: &Fixture, doc: &str, actor: u64) -> Payload {
    Payload::Grant(Grant {
        about: DocRef {
            document: doc.parse().unwrap(),
            commitment: digest(&f.show(doc)["commitment"]),
        },
        actor: GrantTo::Added(actor),
    })
}

/// A rewrap of blob `old` (a file of this archive) for grant `grant`,
/// listing `recipients` (with `added`); its new file is `old`'s bytes with
/// one byte changed, so that only record findings show.
fn rewrap(f: &Fixture, grant: u64, old: &str, recipients: &[Digest], added: Digest) -> Payload {
    let mut bytes = fs::read(f.blob_path(old)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let new = Digest::of(&bytes);
    let p = f.blob_path(&new.to_string());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, &bytes).unwrap();
    let mut recipients = recipients.to_vec();
    recipients.push(added);
    recipients.sort();
    recipients.dedup();
    Payload::Rewrap(Rewrap {
        grant,
        added,
        blob: Rekey {
            old: Digest::from_hex(old).unwrap(),
            new,
            new_size: bytes.len() as u64,
            recipients,
        },
    })
}

/// The files of `blobs/`, for "nothing was written".
fn files(f: &Fixture) -> Vec<PathBuf> {
    blob_files(&f.dir)
}

// ---------------------------------------------------------------------------
// Forged records (stolen keys)
// ---------------------------------------------------------------------------

/// Attack: a stolen EDITOR key (which may not sign `rekey`) signs a grant
/// of a configuration document to bo and a rewrap whose recipients are
/// compartment c-9's set plus bo: jo, whom no grant names, gets the file
/// key, and the document is now "in" c-9. Promise (a)/(b), FORMAT.md §4.19:
/// `new` is `old` with its stanzas kept and `added` only, so a rewrap's
/// recipients are exactly `old`'s plus `added`.
#[test]
fn a_rewrap_that_adds_more_than_its_grantee_is_a_finding() {
    let (f, jo, bo) = newsroom();
    let ed = actor(&f, "ed", "editor", false);
    let doc = ingest(&f, "press.txt", b"a configuration document", &[]);
    let before: Vec<Digest> = f.show(&doc)["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(digest)
        .collect();
    assert!(!before.contains(&fp(&jo)));
    let ed_key = key(&ed.join("signing.key"));
    forge(&f, &ed_key, grant_payload(&f, &doc, added_at(&f, "bo")));
    let old = current_hex(&f, f.show(&doc)["blob"].as_str().unwrap());
    let with_jo = [fp(&f.keys), fp(&jo)];
    forge(
        &f,
        &ed_key,
        rewrap(&f, f.records() - 1, &old, &with_jo, fp(&bo)),
    );
    let (code, v) = f.verify(&[]);
    // BUG: verify_records.rs check_rewrap (and note_references' Rewrap arm)
    // only asks that the recipients fit SOME set in force plus grants
    // (Actors::allows_recipients_with); it never compares them with the
    // old file's recipients + `added`. An editor can thus add a whole
    // compartment (or drop one: re-home a compartment document into the
    // configuration's set) with a "grant" to one person; verify exits 0.
    assert_eq!(code, 1, "a rewrap that also gives jo the key: {v}");
    let c = checks(&v);
    assert!(c.iter().any(|c| c == "rewrap" || c == "recipients"), "{v}");
}

/// Attack: a stolen admin key rewraps the document's ENVELOPE (name, path,
/// source) or a note, citing a genuine-looking grant of the document.
/// Promise (b): a grant gives the file, never its envelope or a note; (d)
/// verify names the record, check and reason, without panicking.
#[test]
fn a_rewrap_of_an_envelope_or_a_note_is_a_finding() {
    let (f, _jo, bo) = newsroom();
    let doc = ingest_in(&f, "minutes.txt", b"minutes of the meeting");
    f.run(&["annotate", &doc, "the source is the treasurer"])
        .ok();
    let note = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "annotate")
        .unwrap();
    let note_blob = note["blob"].as_str().map(str::to_string);
    let meta = f.show(&doc)["meta"].as_str().unwrap().to_string();
    let fps: Vec<Digest> = f.show(&doc)["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(digest)
        .collect();
    let mut targets = vec![meta];
    targets.extend(note_blob);
    for old in targets {
        let g = f.duplicate();
        let admin = key(&g.admin_key());
        forge(&g, &admin, grant_payload(&g, &doc, added_at(&g, "bo")));
        let at = g.records();
        forge(&g, &admin, rewrap(&g, at - 1, &old, &fps, fp(&bo)));
        let (code, v) = g.verify(&[]);
        assert_eq!(code, 1, "{v}");
        let w = findings_of(&v, "rewrap");
        assert_eq!(w.len(), 1, "{v}");
        assert!(w[0].to_string().contains(&at.to_string()), "{v}");
        assert!(
            w[0]["reason"].to_string().contains("not the current file"),
            "{v}"
        );
    }
}

// ---------------------------------------------------------------------------
// What a grant gives, and what revocation takes back
// ---------------------------------------------------------------------------

/// Attack: bo, granted one compartment document, tries every file of the
/// archive with their own identity (envelope, notes, derived documents,
/// other documents). Promise (b): exactly the granted document's file;
/// (c): after `actor revoke` and `rekey`, nothing at all.
#[test]
fn the_grantee_opens_exactly_one_file_until_revoked_and_then_none() {
    let (f, jo, bo) = newsroom();
    let secret = b"the minutes, as the source copied them".repeat(30);
    let doc = ingest_in(&f, "minutes.txt", &secret);
    ingest_in(&f, "contact.txt", b"who the source is");
    ingest(&f, "press.txt", b"a public statement", &[]);
    let g = grant(&f, &doc, "bo");
    assert_eq!(g["document_file"]["file"], "recipient_added", "{g}");
    // Work on the document after the grant: a note and a derived document.
    f.run(&["annotate", &doc, "confirmed with a second source"])
        .ok();
    let tr = f.path().join("minutes-en.txt");
    fs::write(&tr, b"translated minutes").unwrap();
    f.run(&["derive", &doc, s(&tr), "--relation", "translation"])
        .ok();
    let bo_id = bo.join("identity.age");
    let blobs = f.dir.join("blobs");
    assert_eq!(opened_by(&bo_id, &[&blobs]), vec![file_of(&f, &doc)]);
    f.assert_verified();

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
    assert_eq!(opened_by(&bo_id, &[&blobs]), Vec::<PathBuf>::new());
    assert_eq!(
        age_decrypt(&jo.join("identity.age"), &file_of(&f, &doc)),
        secret
    );
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

/// Two grants in a row (bo, then al), bo granted twice; bo revoked.
/// Promise (c) for bo and the grant kept for al; (i) show -i, audit and
/// `rekey --dry-run` name the grantees, and the dry run writes nothing.
#[test]
fn two_grantees_one_revoked_keeps_the_other_and_readers_name_them() {
    let (f, _jo, bo) = newsroom();
    let al = actor(&f, "al", "journalist", false);
    let doc = ingest_in(&f, "ledger.txt", b"payments");
    assert_eq!(
        grant(&f, &doc, "bo")["document_file"]["file"],
        "recipient_added"
    );
    assert_eq!(
        grant(&f, &doc, "al")["document_file"]["file"],
        "recipient_added"
    );
    let again = grant(&f, &doc, "bo");
    assert_eq!(
        again["document_file"]["file"], "already_recipient",
        "{again}"
    );
    let file = file_of(&f, &doc);
    assert!(age_opens(&bo.join("identity.age"), &file));
    assert!(age_opens(&al.join("identity.age"), &file));
    f.assert_verified();
    let shown = f.json(&["show", &doc, "-i", s(&f.identity())]);
    let last = shown["readers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .to_string();
    assert!(
        last.contains("\"bo\"") && last.contains("\"al\""),
        "{shown}"
    );

    f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())])
        .ok();
    let before = (f.snapshot(), files(&f));
    let dry = f.json(&["rekey", "--dry-run", "-i", s(&f.identity())]);
    assert_eq!(
        (dry["grants_kept"].as_u64(), dry["grants_dropped"].as_u64()),
        (Some(1), Some(1)),
        "{dry}"
    );
    assert_eq!(dry["documents"], 1, "{dry}");
    f.assert_unchanged(&before.0);
    assert_eq!(files(&f), before.1);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let file = file_of(&f, &doc);
    assert!(!age_opens(&bo.join("identity.age"), &file));
    assert!(age_opens(&al.join("identity.age"), &file));
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
    // (exit 1: the document lacks the approvals publication requires)
    let audit = f.run(&["audit", &doc, "-i", s(&f.identity()), "--json"]);
    let readers = audit.code(1).json()["documents"][0]["readers"].clone();
    let last = readers.as_array().unwrap().last().unwrap().to_string();
    assert!(
        last.contains("\"al\"") && !last.contains("\"bo\""),
        "{readers}"
    );
}

// ---------------------------------------------------------------------------
// Refusals write nothing
// ---------------------------------------------------------------------------

/// Attack: mix families (a post-quantum grantee on a classic file) so that
/// the classic stanza undoes the post-quantum one, or grant to a revoked
/// actor, or "grant" a record that is not a document. Promise (e)/(g):
/// exit 2, nothing written (ledger and blobs unchanged).
#[test]
fn refused_grants_write_nothing() {
    let (f, _jo, bo) = newsroom();
    let pq = actor(&f, "pq", "journalist", true);
    assert!(fs::read_to_string(pq.join("recipient.txt"))
        .unwrap()
        .starts_with("age1pq1"));
    let doc = ingest_in(&f, "memo.txt", b"memo");
    let press = ingest(&f, "press.txt", b"statement", &[]);
    f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())])
        .ok();
    let before = (f.snapshot(), files(&f));
    for (d, who) in [
        (&doc, "pq"),
        (&press, "pq"),
        (&doc, "bo"),
        (&"1".to_string(), "pq"),
    ] {
        let r = f.run(&["grant", d, who, "-i", s(&f.identity())]);
        r.code(2);
        f.assert_unchanged(&before.0);
        assert_eq!(files(&f), before.1, "grant {d} {who}");
    }
    assert!(opened_by(&pq.join("identity.age"), &[&f.dir.join("blobs")]).is_empty());
}

/// After compartment c-9 gains a member (no rekey yet) the file's
/// recipients are no longer a set in force: the grant is refused, writes
/// nothing; after `rekey` it works, and when c-9 then loses that member and
/// is rekeyed, bo's grant is kept and the removed member opens nothing.
/// Promises (e), (h).
#[test]
fn grants_across_compartment_membership_changes() {
    let (f, jo, bo) = newsroom();
    let ka = person(&f, "ka");
    let doc = ingest_in(&f, "memo.txt", b"memo of the board");
    set_c9(&f, &[&jo, &ka]);
    let before = (f.snapshot(), files(&f));
    let r = f.run(&["grant", &doc, "bo", "-i", s(&f.identity())]);
    r.code(2);
    assert!(r.stderr.contains("rekey"), "{}", r.stderr);
    f.assert_unchanged(&before.0);
    assert_eq!(files(&f), before.1);
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    grant(&f, &doc, "bo");
    for p in [&jo, &ka, &bo] {
        assert!(
            age_opens(&p.join("identity.age"), &file_of(&f, &doc)),
            "{p:?}"
        );
    }
    set_c9(&f, &[&jo]);
    let r = f.json(&["rekey", "-i", s(&f.identity())]);
    assert_eq!(r["grants_kept"], 1, "{r}");
    let blobs = f.dir.join("blobs");
    assert!(opened_by(&ka.join("identity.age"), &[&blobs]).is_empty());
    assert_eq!(
        opened_by(&bo.join("identity.age"), &[&blobs]),
        vec![file_of(&f, &doc)]
    );
    // Derived after all this: still c-9's, not bo's.
    let tr = f.path().join("memo-en.txt");
    fs::write(&tr, b"translated memo").unwrap();
    f.run(&["derive", &doc, s(&tr), "--relation", "translation"])
        .ok();
    assert_eq!(opened_by(&bo.join("identity.age"), &[&blobs]).len(), 1);
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

// ---------------------------------------------------------------------------
// Derived, received, migrated documents
// ---------------------------------------------------------------------------

/// A grant of a derived document gives it, not its parent (promise b, h).
#[test]
fn a_grant_of_a_derived_document_gives_it_and_not_its_parent() {
    let (f, _jo, bo) = newsroom();
    let parent = ingest_in(&f, "memo.txt", b"the original memo");
    let tr = f.path().join("memo-en.txt");
    fs::write(&tr, b"translated memo").unwrap();
    f.run(&["derive", &parent, s(&tr), "--relation", "translation"])
        .ok();
    let derived = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "derive")
        .unwrap()["index"]
        .to_string();
    grant(&f, &derived, "bo");
    let blobs = f.dir.join("blobs");
    let opened = opened_by(&bo.join("identity.age"), &[&blobs]);
    assert_eq!(opened, vec![file_of(&f, &derived)]);
    assert_eq!(
        age_decrypt(&bo.join("identity.age"), &opened[0]),
        b"translated memo"
    );
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

/// A document received from a partner (stored to the configuration's
/// recipients): grant, verify, revoke, rekey (promise c, h).
#[test]
fn a_grant_of_a_received_document_and_its_revocation() {
    let (f, _jo, bo) = newsroom();
    let gu = Fixture::new_as("guardian");
    let p = gu.path().join("tip.txt");
    fs::write(&p, b"a partner's tip").unwrap();
    let i = gu.ingest_json(&[s(&p)])[0]["index"].to_string();
    let bundle = gu.path().join("tip.bundle");
    gu.share_to(&i, &f, &bundle);
    f.run(&[
        "receive",
        s(&bundle),
        "-i",
        s(&f.identity()),
        "--trust",
        s(&gu.vkey()),
    ])
    .ok();
    let doc = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "receive")
        .unwrap()["index"]
        .to_string();
    let g = grant(&f, &doc, "bo");
    assert_eq!(g["document_file"]["file"], "recipient_added", "{g}");
    assert_eq!(
        age_decrypt(&bo.join("identity.age"), &file_of(&f, &doc)),
        b"a partner's tip"
    );
    f.assert_verified();
    f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())])
        .ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    assert!(opened_by(&bo.join("identity.age"), &[&f.dir.join("blobs")]).is_empty());
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

/// An archive whose documents live in an object-store directory (`migrate
/// --to DIR`): the grant rewraps the file there, removes the old one, and
/// revocation + rekey leave bo nothing in either place (promise c, h).
#[test]
fn a_grant_on_a_migrated_archive() {
    let (f, _jo, bo) = newsroom();
    let doc = ingest_in(&f, "memo.txt", b"memo in the store");
    ingest_in(&f, "other.txt", b"another memo");
    let store = f.path().join("store");
    f.run(&["migrate", "--to", s(&store)]).ok();
    let before = digest_files(&store);
    grant(&f, &doc, "bo");
    let blobs = f.dir.join("blobs");
    let bo_id = bo.join("identity.age");
    let opened = opened_by(&bo_id, &[&store, &blobs]);
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(opened[0].starts_with(&store), "{opened:?}");
    assert_eq!(
        digest_files(&store).len(),
        before.len(),
        "the old file stays"
    );
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
    f.run(&["actor", "revoke", "bo", "-i", s(&f.identity())])
        .ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    assert!(opened_by(&bo_id, &[&store, &blobs]).is_empty());
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, 0, "{v}");
}

// ---------------------------------------------------------------------------
// Crash safety
// ---------------------------------------------------------------------------

/// A grant killed (f) after writing the new file but before its records:
/// simulated by putting the file a grant of a copy wrote into the original.
/// The archive verifies, and `gc` removes the file that opens to bo without
/// a record. Killed after the records but before removing the old file:
/// simulated by restoring it; verifies, `gc` removes it.
#[test]
fn a_grant_killed_midway_leaves_a_verifiable_archive() {
    let (f, _jo, bo) = newsroom();
    let doc = ingest_in(&f, "memo.txt", b"memo");
    let old = file_of(&f, &doc);
    let old_bytes = fs::read(&old).unwrap();
    let g = f.duplicate();
    grant(&g, &doc, "bo");
    let new = file_of(&g, &doc);
    let rel = new.strip_prefix(&g.dir).unwrap();
    // Before the records.
    fs::create_dir_all(f.dir.join(rel).parent().unwrap()).unwrap();
    fs::copy(&new, f.dir.join(rel)).unwrap();
    f.assert_verified();
    f.run(&["gc"]).ok();
    assert!(opened_by(&bo.join("identity.age"), &[&f.dir.join("blobs")]).is_empty());
    f.assert_verified();
    // After the records.
    fs::write(g.dir.join(old.strip_prefix(&f.dir).unwrap()), &old_bytes).unwrap();
    g.assert_verified();
    g.run(&["gc"]).ok();
    assert!(!g.dir.join(old.strip_prefix(&f.dir).unwrap()).exists());
    let (code, v) = g.verify(&["--deep", "-i", s(&g.identity())]);
    assert_eq!(code, 0, "{v}");
}
