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
use custody::core::record::{DocRef, Grant, GrantTo, Payload, Rekey, Rewrap};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `custody -A DIR` with a command line split at spaces (no path here has one).
fn cli(f: &Fixture, line: String) -> Run {
    f.run(&line.split_whitespace().collect::<Vec<_>>())
}

fn id(f: &Fixture) -> String {
    s(&f.identity()).to_string()
}

fn log(f: &Fixture) -> Vec<Value> {
    f.json_lines(&["log"])
}

/// The index of the latest record of `kind`.
fn last(f: &Fixture, kind: &str) -> String {
    log(f).into_iter().rfind(|r| r["kind"] == kind).unwrap()["index"].to_string()
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

/// A document's current file address.
fn file_hex(f: &Fixture, index: &str) -> String {
    current_hex(f, f.show(index)["blob"].as_str().unwrap())
}

/// A document's current file (in `blobs/`).
fn file_of(f: &Fixture, index: &str) -> PathBuf {
    f.blob_path(&file_hex(f, index))
}

/// A person with their own keys, added as an actor of `role` with their
/// own recipient (`pq`: post-quantum keys, `keygen` without --x25519).
fn actor(f: &Fixture, name: &str, role: &str, pq: bool) -> PathBuf {
    let dir = f.path().join("people").join(name);
    if pq {
        let mut c = custody();
        let n = format!("dropsite.example/{name}");
        c.args(["keygen", "--name", &n, "-o"]).arg(&dir);
        run(c).ok();
    } else {
        person(f, name);
    }
    let (vkey, rcp) = (dir.join("signing.vkey"), dir.join("recipient.txt"));
    let line = format!(
        "actor add {name} {} --role {role} --recipient {}",
        s(&vkey),
        s(&rcp)
    );
    cli(f, line).ok();
    dir
}

/// `compartment set c-9` to the escrow and `members`, -i the escrow.
fn set_c9(f: &Fixture, members: &[&Path]) {
    let mut args: Vec<String> = vec!["compartment".into(), "set".into(), "c-9".into()];
    for m in std::iter::once(&f.keys.as_path()).chain(members) {
        args.extend(["--recipient".into(), s(&m.join("recipient.txt")).into()]);
    }
    args.extend(["-i".into(), id(f)]);
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
    let args: Vec<&str> = [&[s(&p)][..], extra].concat();
    f.ingest_json(&args)[0]["index"]
        .as_u64()
        .unwrap()
        .to_string()
}

fn ingest_in(f: &Fixture, name: &str, text: &[u8]) -> String {
    ingest(f, name, text, &["--compartment", "c-9"])
}

/// Derives a translation of `doc` holding `text`; its record index.
fn derive(f: &Fixture, doc: &str, text: &[u8]) -> String {
    let tr = f.path().join(format!("tr-{}.txt", f.records()));
    fs::write(&tr, text).unwrap();
    f.run(&["derive", doc, s(&tr), "--relation", "translation"])
        .ok();
    last(f, "derive")
}

/// `custody grant DOC WHO -i escrow`; what the grant did to the file.
fn grant(f: &Fixture, doc: &str, who: &str) -> String {
    let g = f.json(&["grant", doc, who, "-i", &id(f)]);
    g["document_file"]["file"].as_str().unwrap().to_string()
}

fn revoke(f: &Fixture, who: &str) {
    f.run(&["actor", "revoke", who, "-i", &id(f)]).ok();
}

fn rekey(f: &Fixture) -> Value {
    f.json(&["rekey", "-i", &id(f)])
}

/// `verify --deep -i` the escrow: no finding.
#[track_caller]
fn deep_ok(f: &Fixture) {
    let (code, v) = f.verify(&["--deep", "-i", &id(f)]);
    assert_eq!(code, 0, "{v}");
}

/// Every file under `blobs/` (and `more`) that `who`'s identity opens
/// with the `age` CLI.
fn opens(who: &Path, f: &Fixture, more: &[&Path]) -> Vec<PathBuf> {
    let mut roots = vec![f.dir.join("blobs")];
    roots.extend(more.iter().map(|p| p.to_path_buf()));
    let id = who.join("identity.age");
    roots
        .iter()
        .flat_map(|r| digest_files(r))
        .filter(|p| age_opens(&id, p))
        .collect()
}

/// The last entry of a `readers` list, as text.
fn newest(readers: &Value) -> String {
    readers.as_array().unwrap().last().unwrap().to_string()
}

/// The ledger and the files of `blobs/`, for "nothing was written".
fn frozen(f: &Fixture) -> (Snapshot, Vec<PathBuf>) {
    (f.snapshot(), blob_files(&f.dir))
}

#[track_caller]
fn assert_frozen(f: &Fixture, before: &(Snapshot, Vec<PathBuf>)) {
    f.assert_unchanged(&before.0);
    assert_eq!(blob_files(&f.dir), before.1, "blobs/ changed");
}

fn key(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn fp(dir: &Path) -> Digest {
    let text = fs::read_to_string(dir.join("recipient.txt")).unwrap();
    custody::core::crypto::RecipientKey::parse(text.trim())
        .unwrap()
        .fingerprint()
}

fn added_at(f: &Fixture, name: &str) -> u64 {
    let all = f.json(&["actor", "list", "-i", &id(f)]);
    let a = all.as_array().unwrap().iter().find(|a| a["name"] == name);
    a.unwrap()["label"].as_str().unwrap()[1..].parse().unwrap()
}

/// A version 2 grant of `doc` to actor `who`.
fn grant_payload(f: &Fixture, doc: &str, who: &str) -> Payload {
    let c = f.show(doc)["commitment"].as_str().unwrap().to_string();
    let about = DocRef {
        document: doc.parse().unwrap(),
        commitment: Digest::from_hex(&c).unwrap(),
    };
    Payload::Grant(Grant {
        about,
        actor: GrantTo::Added(added_at(f, who)),
    })
}

/// The blob fields replacing `old` (a file of this archive) by its bytes
/// with one changed (so that only record findings show), to `fps`.
fn replace(f: &Fixture, old: &str, fps: &[Digest]) -> Rekey {
    let mut bytes = fs::read(f.blob_path(old)).unwrap();
    let end = bytes.len() - 1;
    bytes[end] ^= 1;
    let new = Digest::of(&bytes);
    let p = f.blob_path(&new.to_string());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, &bytes).unwrap();
    let mut recipients = fps.to_vec();
    recipients.sort();
    recipients.dedup();
    let old = Digest::from_hex(old).unwrap();
    Rekey {
        old,
        new,
        new_size: bytes.len() as u64,
        recipients,
    }
}

/// A forged grant of `doc` to `who` and its rewrap of blob `old`, to
/// `fps` and `who`'s recipient, signed by `k`; the rewrap's index.
fn forge_grant(f: &Fixture, k: &SignerKey, doc: &str, who: &str, old: &str, fps: &[Digest]) -> u64 {
    f.forge(k, grant_payload(f, doc, who));
    let grant = f.records() - 1;
    let added = fp(&f.path().join("people").join(who));
    let blob = replace(f, old, &[fps, &[added]].concat());
    f.forge(k, Payload::Rewrap(Rewrap { grant, added, blob }));
    grant + 1
}

/// Attack: a stolen EDITOR key (which may not sign `rekey`) signs a grant
/// of a configuration document to bo and a rewrap whose recipients are
/// compartment c-9's set plus bo: jo, whom no grant names, gets the file
/// key, and the document is now "in" c-9. Promise (a)/(b), FORMAT.md §4.19:
/// `new` is `old` with its stanzas kept and `added` only, so a rewrap's
/// recipients are exactly `old`'s plus `added`.
#[test]
fn a_rewrap_that_adds_more_than_its_grantee_is_a_finding() {
    let (f, jo, _bo) = newsroom();
    let ed = actor(&f, "ed", "editor", false);
    let doc = ingest(&f, "press.txt", b"a configuration document", &[]);
    assert_eq!(f.show(&doc)["recipients"], serde_json::json!([fp(&f.keys)]));
    let ed_key = key(&ed.join("signing.key"));
    let with_jo = [fp(&f.keys), fp(&jo)];
    let old = file_hex(&f, &doc);
    forge_grant(&f, &ed_key, &doc, "bo", &old, &with_jo);
    let (_, v) = f.verify(&[]);
    // A rewrap's recipients are its file's and the one it adds (FORMAT.md
    // §4.19, check 4): adding a whole compartment, or dropping one, with a
    // "grant" to one person is a finding.
    let c = checks(&v);
    let found = c.iter().any(|c| c == "rewrap" || c == "recipients");
    assert!(found, "a rewrap that also gives jo the key: {v}");
    let why: Vec<String> = findings_of(&v, "rewrap")
        .iter()
        .map(|x| x["reason"].to_string())
        .collect();
    assert!(
        why.iter().any(|r| r.contains("other than its file's")),
        "check 4 names the reason: {v}"
    );
}

/// Attack: a stolen admin key rewraps the document's ENVELOPE (name, path,
/// source) or a note, citing a genuine grant of the document. Promise (b):
/// a grant gives the file, never its envelope or a note; (d) verify names
/// the record, check and reason, without panicking.
#[test]
fn a_rewrap_of_an_envelope_or_a_note_is_a_finding() {
    let (f, _jo, _bo) = newsroom();
    let doc = ingest_in(&f, "minutes.txt", b"minutes of the meeting");
    f.run(&["annotate", &doc, "the source is the treasurer"])
        .ok();
    let note = log(&f)
        .into_iter()
        .rfind(|r| r["kind"] == "annotate")
        .unwrap();
    let meta = f.show(&doc)["meta"].as_str().unwrap().to_string();
    let fps = [fp(&f.keys), fp(&f.path().join("people/jo"))];
    for old in [meta, note["note"].as_str().unwrap().to_string()] {
        let g = f.duplicate();
        copy_dir(&f.path().join("people"), &g.path().join("people"));
        let admin = key(&g.admin_key());
        let at = forge_grant(&g, &admin, &doc, "bo", &old, &fps);
        let (code, v) = g.verify(&[]);
        assert_eq!(code, 1, "{v}");
        let w = findings_of(&v, "rewrap");
        assert_eq!(w.len(), 1, "{v}");
        assert_eq!(w[0]["subject"]["id"], at, "{v}");
        assert!(
            w[0]["reason"].to_string().contains("not the current file"),
            "{v}"
        );
    }
}

/// An editor's grant is signed (grant and rewrap) by the editor and
/// verifies; a journalist's attempt is refused and writes nothing; a
/// journalist's stolen key forging a grant and its rewrap is named on both
/// records (promise a, d, e).
#[test]
fn only_a_granting_role_signs_a_grant_and_its_rewrap() {
    let (f, jo, bo) = newsroom();
    let ed = actor(&f, "ed", "editor", false);
    let doc = ingest_in(&f, "memo.txt", b"memo");
    let other = ingest_in(&f, "other.txt", b"other memo");
    let as_ = |who: &Path, d: &str| {
        let k = who.join("signing.key");
        f.run(&["--key", s(&k), "grant", d, "bo", "-i", &id(&f), "--json"])
    };
    let g = as_(&ed, &doc);
    let g = g.ok().json();
    assert_eq!(g["signer"], g["rewrap"]["signer"], "{g}");
    assert!(age_opens(&bo.join("identity.age"), &file_of(&f, &doc)));
    f.assert_verified();
    let before = frozen(&f);
    as_(&jo, &other).code(2);
    assert_frozen(&f, &before);
    // The journalist's key, forging what custody refused.
    let fps = [fp(&f.keys), fp(&jo)];
    let jk = key(&jo.join("signing.key"));
    let old = file_hex(&f, &other);
    let at = forge_grant(&f, &jk, &other, "bo", &old, &fps);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1, "{v}");
    let all = v["report"]["findings"].as_array().unwrap();
    let named = |i: u64| {
        all.iter()
            .any(|x| x["subject"]["id"] == i && x["check"] == "actor_role")
    };
    assert!(named(at - 1) && named(at), "{v}");
}

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
    assert_eq!(grant(&f, &doc, "bo"), "recipient_added");
    // Work on the document after the grant: a note and a derived document.
    f.run(&["annotate", &doc, "confirmed with a second source"])
        .ok();
    derive(&f, &doc, b"translated minutes");
    assert_eq!(opens(&bo, &f, &[]), vec![file_of(&f, &doc)]);
    f.assert_verified();
    revoke(&f, "bo");
    let r = rekey(&f);
    assert_eq!(r["grants_dropped"], 1, "{r}");
    assert_eq!(opens(&bo, &f, &[]), Vec::<PathBuf>::new());
    assert_eq!(
        age_decrypt(&jo.join("identity.age"), &file_of(&f, &doc)),
        secret
    );
    deep_ok(&f);
}

/// Two grants in a row (bo, then al), bo granted twice; bo revoked.
/// Promise (c) for bo and the grant kept for al; (i) show -i, audit and
/// `rekey --dry-run` name the grantees, and the dry run writes nothing.
#[test]
fn two_grantees_one_revoked_keeps_the_other_and_readers_name_them() {
    let (f, _jo, bo) = newsroom();
    let al = actor(&f, "al", "journalist", false);
    let doc = ingest_in(&f, "ledger.txt", b"payments");
    assert_eq!(grant(&f, &doc, "bo"), "recipient_added");
    assert_eq!(grant(&f, &doc, "al"), "recipient_added");
    assert_eq!(grant(&f, &doc, "bo"), "already_recipient");
    assert!(age_opens(&bo.join("identity.age"), &file_of(&f, &doc)));
    assert!(age_opens(&al.join("identity.age"), &file_of(&f, &doc)));
    f.assert_verified();
    let shown = f.json(&["show", &doc, "-i", &id(&f)]);
    let now = newest(&shown["readers"]);
    assert!(now.contains("\"bo\"") && now.contains("\"al\""), "{shown}");

    revoke(&f, "bo");
    let before = frozen(&f);
    let dry = f.json(&["rekey", "--dry-run", "-i", &id(&f)]);
    let counts = (
        &dry["grants_kept"],
        &dry["grants_dropped"],
        &dry["documents"],
    );
    assert_eq!(counts, (&1.into(), &1.into(), &1.into()), "{dry}");
    assert_frozen(&f, &before);
    rekey(&f);
    assert!(!age_opens(&bo.join("identity.age"), &file_of(&f, &doc)));
    assert!(age_opens(&al.join("identity.age"), &file_of(&f, &doc)));
    deep_ok(&f);
    // (exit 1: the document lacks the approvals publication requires)
    let audit = f.run(&["audit", &doc, "-i", &id(&f), "--json"]);
    let readers = audit.code(1).json()["documents"][0]["readers"].clone();
    let now = newest(&readers);
    assert!(
        now.contains("\"al\"") && !now.contains("\"bo\""),
        "{readers}"
    );
}

/// bo's identity is compromised: bo rotates to new keys and a new
/// recipient. `rekey` drops the old recipient (it is no longer bo's own),
/// a new grant gives the new one; a forged rekey that brings the old one
/// back, with bo still active, is a `recipients` finding (promise c, a).
#[test]
fn a_rotated_grantee_loses_the_old_recipient_at_rekey() {
    let (f, jo, bo) = newsroom();
    let doc = ingest_in(&f, "memo.txt", b"memo");
    grant(&f, &doc, "bo");
    let bo2 = person(&f, "bo2");
    let (vkey, rcp) = (bo2.join("signing.vkey"), bo2.join("recipient.txt"));
    let line = format!(
        "actor rotate bo {} --recipient {} -i {}",
        s(&vkey),
        s(&rcp),
        id(&f)
    );
    cli(&f, line).ok();
    let r = rekey(&f);
    assert_eq!(r["grants_dropped"], 1, "{r}");
    assert!(opens(&bo, &f, &[]).is_empty());
    grant(&f, &doc, "bo");
    assert_eq!(opens(&bo2, &f, &[]), vec![file_of(&f, &doc)]);
    assert!(opens(&bo, &f, &[]).is_empty());
    deep_ok(&f);
    // An admin's stolen key re-adds the old recipient in a rekey.
    let fps = [fp(&f.keys), fp(&jo), fp(&bo2), fp(&bo)];
    let k = replace(&f, &file_hex(&f, &doc), &fps);
    f.forge(&key(&f.admin_key()), Payload::Rekey(k));
    let (_, v) = f.verify(&[]);
    assert!(checks(&v).contains(&"recipients".to_string()), "{v}");
}

/// bo is revoked (no rekey yet: the file still has bo's stanza) and comes
/// back as a new actor with the same recipient. A grant to the new actor
/// must not answer "already a recipient": the stanza is there only through
/// the revoked actor's grant, which the next rekey drops. Promise (h),
/// FORMAT.md §4.19: the grant is refused (rekey first, nothing written),
/// and after rekey it adds the recipient for the new actor, which the next
/// rekey keeps.
#[test]
fn a_grant_to_a_returning_actor_survives_the_next_rekey() {
    let (f, _jo, bo) = newsroom();
    let doc = ingest_in(&f, "memo.txt", b"memo");
    grant(&f, &doc, "bo");
    revoke(&f, "bo");
    let bo2 = person(&f, "bo2");
    let (vkey, rcp) = (bo2.join("signing.vkey"), bo.join("recipient.txt"));
    let line = format!(
        "actor add bo-again {} --role journalist --recipient {}",
        s(&vkey),
        s(&rcp)
    );
    cli(&f, line).ok();
    let before = f.snapshot();
    let r = f.run(&["grant", &doc, "bo-again", "-i", s(&f.identity())]);
    r.code(2);
    assert!(r.stderr.contains("custody rekey"), "{}", r.stderr);
    f.assert_unchanged(&before);
    rekey(&f);
    assert!(!age_opens(&bo.join("identity.age"), &file_of(&f, &doc)));
    let said = grant(&f, &doc, "bo-again");
    assert_eq!(said, "recipient_added");
    rekey(&f);
    f.assert_verified();
    let kept = age_opens(&bo.join("identity.age"), &file_of(&f, &doc));
    assert!(kept, "grant said {said}, rekey then took it away");
}

/// A configuration document granted to jo, a member of c-9 whose set is
/// the configuration's plus jo: its file's recipients are now exactly
/// c-9's, but it is still the configuration's document (§4.18: found
/// without the fingerprints grants added), so a document derived from it
/// and a note about it do not open to jo (promise b).
#[test]
fn a_grant_to_a_compartment_member_does_not_move_a_document_into_it() {
    let (f, jo, _bo) = newsroom();
    let doc = ingest(&f, "press.txt", b"a configuration document", &[]);
    // c-9's sealed name opens to jo, as to every member.
    let mut want = opens(&jo, &f, &[]);
    grant(&f, &doc, "jo");
    derive(&f, &doc, b"translated");
    f.run(&["annotate", &doc, "a note"]).ok();
    want.push(file_of(&f, &doc));
    want.sort();
    assert_eq!(opens(&jo, &f, &[]), want);
    let r = rekey(&f);
    assert_eq!(
        (&r["documents"], &r["grants_kept"]),
        (&0.into(), &1.into()),
        "{r}"
    );
    deep_ok(&f);
}

/// Attack: mix families (a post-quantum grantee on a classic file) so that
/// the classic stanza undoes the post-quantum one, or grant to a revoked
/// actor, or "grant" a record that is not a document. Promise (e)/(g):
/// exit 2, nothing written (ledger and blobs unchanged).
#[test]
fn refused_grants_write_nothing() {
    let (f, _jo, _bo) = newsroom();
    let pq = actor(&f, "pq", "journalist", true);
    assert!(fs::read_to_string(pq.join("recipient.txt"))
        .unwrap()
        .starts_with("age1pq1"));
    let doc = ingest_in(&f, "memo.txt", b"memo");
    let press = ingest(&f, "press.txt", b"statement", &[]);
    revoke(&f, "bo");
    let before = frozen(&f);
    for (d, who) in [
        (doc.as_str(), "pq"),
        (&press, "pq"),
        (&doc, "bo"),
        ("1", "pq"),
    ] {
        f.run(&["grant", d, who, "-i", &id(&f)]).code(2);
        assert_frozen(&f, &before);
    }
    assert!(opens(&pq, &f, &[]).is_empty());
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
    let before = frozen(&f);
    let r = f.run(&["grant", &doc, "bo", "-i", &id(&f)]);
    assert!(r.code(2).stderr.contains("rekey"), "{}", r.stderr);
    assert_frozen(&f, &before);
    rekey(&f);
    assert_eq!(grant(&f, &doc, "bo"), "recipient_added");
    for p in [&jo, &ka, &bo] {
        assert!(
            age_opens(&p.join("identity.age"), &file_of(&f, &doc)),
            "{p:?}"
        );
    }
    set_c9(&f, &[&jo]);
    let r = rekey(&f);
    assert_eq!(r["grants_kept"], 1, "{r}");
    assert!(opens(&ka, &f, &[]).is_empty());
    // A document derived after all this is c-9's, not bo's.
    derive(&f, &doc, b"translated memo");
    assert_eq!(opens(&bo, &f, &[]), vec![file_of(&f, &doc)]);
    deep_ok(&f);
}

/// A grant of a derived document gives it, not its parent; a document
/// received from a partner (stored to the configuration's recipients) is
/// granted, then taken back by revocation and rekey (promise b, c, h).
#[test]
fn grants_of_derived_and_received_documents() {
    let (f, _jo, bo) = newsroom();
    let parent = ingest_in(&f, "memo.txt", b"the original memo");
    let derived = derive(&f, &parent, b"translated memo");
    assert_eq!(grant(&f, &derived, "bo"), "recipient_added");
    assert_eq!(opens(&bo, &f, &[]), vec![file_of(&f, &derived)]);
    let gu = Fixture::new_as("guardian");
    let p = gu.path().join("tip.txt");
    fs::write(&p, b"a partner's tip").unwrap();
    let i = gu.ingest_json(&[s(&p)])[0]["index"].to_string();
    let bundle = gu.path().join("tip.bundle");
    gu.share_to(&i, &f, &bundle);
    let line = format!(
        "receive {} -i {} --trust {}",
        s(&bundle),
        id(&f),
        s(&gu.vkey())
    );
    cli(&f, line).ok();
    let doc = last(&f, "receive");
    assert_eq!(grant(&f, &doc, "bo"), "recipient_added");
    let tip = age_decrypt(&bo.join("identity.age"), &file_of(&f, &doc));
    assert_eq!(tip, b"a partner's tip");
    assert_eq!(opens(&bo, &f, &[]).len(), 2);
    deep_ok(&f);
    revoke(&f, "bo");
    rekey(&f);
    assert!(opens(&bo, &f, &[]).is_empty());
    deep_ok(&f);
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
    let before = digest_files(&store).len();
    assert_eq!(grant(&f, &doc, "bo"), "recipient_added");
    let opened = opens(&bo, &f, &[&store]);
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(opened[0].starts_with(&store), "{opened:?}");
    assert_eq!(digest_files(&store).len(), before, "the old file stays");
    deep_ok(&f);
    revoke(&f, "bo");
    rekey(&f);
    assert!(opens(&bo, &f, &[&store]).is_empty());
    deep_ok(&f);
}

/// A grant killed (f) after writing the new file but before its records:
/// simulated by putting the file a grant of a copy wrote into the original.
/// `verify` reports only that unreferenced file (FORMAT.md §7.1), and `gc`
/// removes it, the one file that opened to bo without a record. Killed
/// after the records but before removing the old file: simulated by
/// restoring it; the same, and `gc` removes it.
#[test]
fn a_grant_killed_midway_leaves_a_verifiable_archive() {
    let (f, _jo, bo) = newsroom();
    let doc = ingest_in(&f, "memo.txt", b"memo");
    let old = file_of(&f, &doc);
    let old_bytes = fs::read(&old).unwrap();
    let g = f.duplicate();
    grant(&g, &doc, "bo");
    let new = file_of(&g, &doc);
    let only_unreferenced = |x: &Fixture| {
        let (code, v) = x.verify(&[]);
        assert_eq!(
            (code, checks(&v)),
            (1, vec!["blob_unreferenced".to_string()]),
            "{v}"
        );
    };
    // Before the records.
    let rel = new.strip_prefix(&g.dir).unwrap();
    fs::create_dir_all(f.dir.join(rel).parent().unwrap()).unwrap();
    fs::copy(&new, f.dir.join(rel)).unwrap();
    only_unreferenced(&f);
    f.run(&["gc"]).ok();
    assert!(opens(&bo, &f, &[]).is_empty());
    f.assert_verified();
    // After the records.
    let back = g.dir.join(old.strip_prefix(&f.dir).unwrap());
    fs::write(&back, &old_bytes).unwrap();
    only_unreferenced(&g);
    g.run(&["gc"]).ok();
    assert!(!back.exists());
    deep_ok(&g);
}
