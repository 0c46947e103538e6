//! Issue 14, items 1-3: separation of duties, configuration in the ledger,
//! and never signing what was not checked. Each test plays an insider (a
//! journalist's key, the log key, a revoked admin) or someone who edits the
//! archive's files, and asserts the exit code and the named finding.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{
    ActorAction, ActorChange, Approve, ArchiveConfig, DocRef, Payload, Purpose, Record, RecordBody,
    Role,
};

const ORIGIN: &str = "dropsite.example/leaks";

fn key_of(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// A personal key for a new actor, written 0600 into the fixture's keys.
fn person(f: &Fixture, name: &str) -> (PathBuf, PathBuf) {
    let dir = f.path().join("people").join(name);
    custody()
        .arg("keygen")
        .arg("--name")
        .arg(format!("dropsite.example/{name}"))
        .arg("-o")
        .arg(&dir)
        .assert()
        .success();
    (dir.join("signing.key"), dir.join("signing.vkey"))
}

/// The admin (custody.toml's `key`) adds `name` with `role`; returns the
/// actor's key and label (`#N`, N: the index of the record that added it;
/// the name is sealed, FORMAT.md §4.16).
fn add_actor(f: &Fixture, name: &str, role: &str) -> (PathBuf, String) {
    let (key, vkey) = person(f, name);
    let label = format!("#{}", f.records());
    f.run(&["actor", "add", name, vkey.to_str().unwrap(), "--role", role])
        .ok();
    (key, label)
}

fn forge(f: &Fixture, key: &SignerKey, payload: Payload) -> Record {
    let rec = RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: ORIGIN.into(),
        signer: f.record_signer(key),
        payload,
    }
    .sign(key)
    .unwrap();
    f.append_record(&rec);
    rec
}

fn doc_ref(f: &Fixture, index: u64) -> DocRef {
    let s = f.show(&index.to_string());
    DocRef {
        document: index,
        commitment: Digest::from_hex(s["commitment"].as_str().unwrap()).unwrap(),
    }
}

/// The index of the first ingested sample (records 0 and 1 are the first
/// admin and the configuration).
const DOC: u64 = 2;

/// The ledger files are byte for byte as in `before` (for an archive that
/// has findings, which `Fixture::assert_unchanged` would refuse).
#[track_caller]
fn same_files(f: &Fixture, before: &Snapshot) {
    let now = f.snapshot();
    assert!(now.records == before.records, "ledger/records changed");
    assert!(
        now.checkpoints == before.checkpoints,
        "ledger/checkpoints changed"
    );
}

fn latest_checkpoint_size(f: &Fixture) -> u64 {
    f.latest_checkpoint()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_new_archive_starts_with_its_admin_and_its_configuration() {
    let f = Fixture::new();
    let log = f.json_lines(&["log"]);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["kind"], "actor");
    assert_eq!(log[1]["kind"], "config");
    let cfg = f.json(&["config", "show"]);
    assert_eq!(cfg["record"], 1);
    assert_eq!(cfg["approvals"], serde_json::json!(["editor", "legal"]));
    assert_eq!(cfg["custody_toml_agrees"], true);
    f.assert_verified();
}

#[test]
fn init_refuses_the_log_key_as_admin() {
    let f = Fixture::uninit();
    let mut c = custody();
    c.arg("init")
        .arg(&f.dir)
        .arg("--signing-key")
        .arg(f.signing_key())
        .arg("--admin-key")
        .arg(f.signing_key())
        .arg("--recipient")
        .arg(f.keys.join("recipient.txt"));
    run(c).code(2).error(&["the admin key is the log key"]);
    assert!(!f.dir.join("custody.toml").exists());
}

#[test]
fn the_log_key_signs_no_record_once_configured() {
    let f = Fixture::with_samples();
    let (_, vkey) = person(&f, "mallory");
    let lk = f.signing_key();
    let lk = lk.to_str().unwrap();
    let before = f.snapshot();
    let tries: Vec<Vec<&str>> = vec![
        vec!["--key", lk, "ingest", "README.md"],
        vec![
            "--key",
            lk,
            "actor",
            "add",
            "mallory",
            vkey.to_str().unwrap(),
            "--role",
            "editor",
        ],
        vec!["--key", lk, "grant", "2", "#0"],
        vec!["--key", lk, "approve", "2"],
        vec!["--key", lk, "config", "set", "--approvals", "none"],
    ];
    for args in tries {
        let mut c = f.cmd();
        c.current_dir(repo()).args(&args);
        run(c)
            .code(2)
            .error(&["signs only checkpoints", "nothing was written"]);
        f.assert_unchanged(&before);
    }
}

#[test]
fn a_journalist_cannot_add_actors_grant_approve_or_configure() {
    let f = Fixture::with_samples();
    let (jo, label) = add_actor(&f, "jo", "journalist");
    let jo = jo.to_str().unwrap();
    let (_, vkey) = person(&f, "mallory");
    // A journalist may ingest.
    let mut c = f.cmd();
    c.current_dir(repo())
        .args(["--key", jo, "ingest", "README.md"]);
    run(c).ok();
    let before = f.snapshot();
    for args in [
        vec![
            "actor",
            "add",
            "mallory",
            vkey.to_str().unwrap(),
            "--role",
            "editor",
        ],
        vec!["grant", "2", &label],
        vec!["approve", "2"],
        vec!["config", "set", "--approvals", "none"],
    ] {
        let mut c = f.cmd();
        c.arg("--key").arg(jo).args(&args);
        run(c)
            .code(2)
            .error(&["not authorized", &format!("{label} (journalist)")]);
        f.assert_unchanged(&before);
    }
}

#[test]
fn a_forged_approval_is_found_and_never_covered_by_a_checkpoint() {
    // The attack of issue 14: someone with the log key adds an editor whose
    // key they hold, then approves as that editor, by appending records.
    let f = Fixture::with_samples();
    let log = key_of(&f.signing_key());
    let mallory = SignerKey::generate("dropsite.example/mallory").unwrap();
    let at = f.records();
    forge(
        &f,
        &log,
        Payload::Actor(ActorChange {
            action: ActorAction::Add,
            name: "mallory".into(),
            role: Role::Editor,
            key_name: mallory.name().into(),
            key: mallory.public_bytes(),
            reason: String::new(),
            sealed: None,
        }),
    );
    forge(
        &f,
        &mallory,
        Payload::Approve(Approve {
            about: doc_ref(&f, DOC),
            purpose: Purpose::Publication,
        }),
    );
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    let role = findings_of(&v, "actor_role");
    assert_eq!(role[0]["subject"]["id"], at, "{v}");
    assert!(role[0]["reason"]
        .as_str()
        .unwrap()
        .contains("signs only checkpoints"));
    // The approval by an actor who never was is unauthorized too.
    assert!(!findings_of(&v, "record_signature").is_empty(), "{v}");
    // Nothing covers the forged records, and no writer signs over them.
    let covered = latest_checkpoint_size(&f);
    assert_eq!(covered, at);
    let before = f.snapshot();
    for args in [
        vec!["checkpoint", "--sign"],
        vec![
            "ingest",
            repo().join("README.md").to_str().unwrap().to_owned().leak(),
        ],
    ] {
        f.run(&args)
            .code(2)
            .error(&["does not verify", "actor_role", "nothing was written"]);
        same_files(&f, &before);
    }
    assert_eq!(latest_checkpoint_size(&f), covered);
    // The audit before publication does not count the forged approval.
    let r = f.run(&["audit", "2", "--format", "json"]);
    let a = r.json();
    let checks: Vec<&str> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["check"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"approval_missing"), "{a}");
}

#[test]
fn a_record_by_a_revoked_actor_is_never_covered() {
    let f = Fixture::with_samples();
    let (jo, label) = add_actor(&f, "jo", "journalist");
    f.run(&["actor", "revoke", &label, "--reason", "laptop stolen"])
        .ok();
    let at = f.records();
    forge(
        &f,
        &key_of(&jo),
        Payload::Access(custody::core::record::Access {
            about: doc_ref(&f, DOC),
            reason: "reading".into(),
            sealed: None,
        }),
    );
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(findings_of(&v, "actor_revoked")[0]["subject"]["id"], at);
    let before = f.snapshot();
    f.run(&["checkpoint", "--sign"])
        .code(2)
        .error(&["does not verify", "actor_revoked"]);
    same_files(&f, &before);
    assert_eq!(latest_checkpoint_size(&f), at);
}

#[test]
fn a_configuration_by_a_revoked_admin_is_a_finding() {
    let f = Fixture::with_samples();
    let (second, label) = add_actor(&f, "second", "admin");
    f.run(&["actor", "revoke", &label]).ok();
    let at = f.records();
    forge(
        &f,
        &key_of(&second),
        Payload::Config(ArchiveConfig {
            recipients: vec![Digest::of(b"the thief's recipient")],
            approvals: vec![],
            partner_policy: String::new(),
            own_policy: String::new(),
            sealed: None,
        }),
    );
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(findings_of(&v, "actor_revoked")[0]["subject"]["id"], at);
    // The forged configuration is not the archive's: custody.toml still agrees.
    assert!(findings_of(&v, "config").is_empty(), "{v}");
    let cfg = f.json(&["config", "show"]);
    assert_eq!(cfg["record"], 1);
}

#[test]
fn a_flipped_byte_in_the_ledger_makes_the_archive_read_only() {
    let f = Fixture::with_samples();
    let bytes = fs::read(f.ledger("records")).unwrap();
    let fr = frames(&bytes);
    // The middle of record 4's signature.
    let (off, len) = fr[4];
    flip_byte(&f.ledger("records"), off + 4 + len - 20);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1, "{v}");
    let before = f.snapshot();
    let blobs_before = fs::read_dir(f.dir.join("blobs")).unwrap().count();
    f.run(&["ingest", repo().join("README.md").to_str().unwrap()])
        .code(2)
        .error(&["does not verify", "record 4"]);
    same_files(&f, &before);
    f.run(&["checkpoint", "--sign"]).code(2);
    same_files(&f, &before);
    assert_eq!(
        fs::read_dir(f.dir.join("blobs")).unwrap().count(),
        blobs_before
    );
}

/// Adds a recipient line to custody.toml by hand.
fn add_toml_recipient(f: &Fixture, r: &str) {
    let p = f.dir.join("custody.toml");
    let t = fs::read_to_string(&p).unwrap();
    let t = t.replacen("recipients = [", &format!("recipients = [\n    {r:?},"), 1);
    fs::write(&p, t).unwrap();
}

#[test]
fn a_recipient_added_to_custody_toml_is_a_finding_and_never_used() {
    let f = Fixture::with_samples();
    let thief = fs::read_to_string(f.other_keys("guardian").join("recipient.txt")).unwrap();
    let thief = thief.trim();
    add_toml_recipient(&f, thief);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    let c = findings_of(&v, "config");
    assert_eq!(c.len(), 1, "{v}");
    assert!(c[0]["reason"]
        .as_str()
        .unwrap()
        .contains("recipients that the configuration record 1 does not"));
    let before = f.snapshot();
    f.run(&["ingest", repo().join("README.md").to_str().unwrap()])
        .code(2)
        .error(&["does not verify", "custody config set"]);
    same_files(&f, &before);
}

#[test]
fn emptied_approvals_in_custody_toml_change_nothing() {
    let f = Fixture::with_samples();
    let p = f.dir.join("custody.toml");
    let t = fs::read_to_string(&p).unwrap();
    let start = t.find("publication_approvals").unwrap();
    let end = start + t[start..].find(']').unwrap() + 1;
    let t = format!("{}publication_approvals = []{}", &t[..start], &t[end..]);
    fs::write(&p, t).unwrap();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert_eq!(findings_of(&v, "config").len(), 1, "{v}");
    // The audit still asks for the approvals the ledger names.
    let r = f.run(&["audit", "2", "--format", "json"]);
    assert_eq!(r.code, 1);
    let a = r.json();
    assert_eq!(
        a["approvals"]["missing"],
        serde_json::json!(["editor", "legal"]),
        "{a}"
    );
}

#[test]
fn config_set_is_an_admins_signed_record_that_log_show_and_audit_see() {
    let f = Fixture::with_samples();
    let guardian = f.other_keys("guardian").join("recipient.txt");
    let own = f.keys.join("recipient.txt");
    let out = f.json(&[
        "config",
        "set",
        "--recipient",
        own.to_str().unwrap(),
        "--recipient",
        guardian.to_str().unwrap(),
        "--approvals",
        "editor",
    ]);
    let at = out["record"].as_u64().unwrap();
    assert_eq!(out["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(out["custody_toml_agrees"], true);
    let shown = f.show(&at.to_string());
    assert_eq!(shown["kind"], "config", "{shown}");
    let log = f.json_lines(&["log"]);
    assert_eq!(log[at as usize]["kind"], "config");
    // New documents go to both recipients.
    let ing = f.ingest_json(&[repo().join("README.md").to_str().unwrap()]);
    let idx = ing[0]["index"].as_u64().unwrap();
    let s = f.show(&idx.to_string());
    assert_eq!(s["recipients"].as_array().unwrap().len(), 2, "{s}");
    // The audit now asks the editor only.
    let r = f.run(&["audit", "2", "--format", "json"]);
    let a = r.json();
    assert_eq!(
        a["approvals"]["required"],
        serde_json::json!(["editor"]),
        "{a}"
    );
    assert_eq!(
        a["approvals"]["missing"],
        serde_json::json!(["editor"]),
        "{a}"
    );
    // The change of recipients and approvals shows in the audit, with its admin.
    let conf = a["configuration"].as_array().unwrap();
    assert_eq!(conf.len(), 2, "{a}");
    assert_eq!(conf[0]["index"], 1);
    assert_eq!(conf[1]["index"], at);
    // The first admin, added by record 0 (its name is sealed).
    assert_eq!(conf[1]["actor"], "#0");
    assert_eq!(conf[1]["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(conf[1]["approvals"], serde_json::json!(["editor"]));
    let text = f.run(&["audit", "2"]).stdout.clone();
    assert!(
        text.contains(&format!("#{at} ")) && text.contains("configuration (2 record(s))"),
        "{text}"
    );
    f.assert_verified();
}

#[test]
fn a_config_set_killed_after_its_record_is_finished_by_the_next_open() {
    let f = Fixture::with_samples();
    let toml = f.dir.join("custody.toml");
    let old = fs::read_to_string(&toml).unwrap();
    f.json(&["config", "set", "--approvals", "legal"]);
    let new = fs::read_to_string(&toml).unwrap();
    assert_ne!(old, new);
    // As if killed between the record and the rename: the old file, the next one beside it.
    fs::write(&toml, &old).unwrap();
    fs::write(f.dir.join("custody.toml.next"), &new).unwrap();
    f.assert_verified();
    assert_eq!(fs::read_to_string(&toml).unwrap(), new);
    assert!(!f.dir.join("custody.toml.next").exists());
    // A next file the ledger does not say (killed before the record) is dropped.
    let stale = new.replace("\"legal\"", "\"editor\"");
    fs::write(f.dir.join("custody.toml.next"), stale).unwrap();
    f.assert_verified();
    assert_eq!(fs::read_to_string(&toml).unwrap(), new);
    assert!(!f.dir.join("custody.toml.next").exists());
}

/// An archive made by custody before separation of duties (the
/// log key signed records), with an editor `ed` and a journalist `jo`.
fn legacy() -> (Fixture, PathBuf) {
    let f = Fixture::uninit();
    copy_dir(&repo().join("tests/data/archive-v1"), &f.dir);
    let keys = f.path().join("v1-keys");
    copy_dir(&repo().join("tests/data/archive-v1-keys"), &keys);
    for k in ["ed.key", "jo.key"] {
        set_mode(&keys.join(k), 0o600);
    }
    (f, keys)
}

#[test]
fn an_archive_of_format_1_verifies_read_only_until_upgraded() {
    let (f, keys) = legacy();
    let jo = keys.join("jo.key");
    let jo = jo.to_str().unwrap();
    let sk = f.signing_key();
    let sk = sk.to_str().unwrap();
    // It verifies as made: 12 records, the log key's and the actors'.
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["report"]["coverage"]["records"], 12);
    // Writing is refused, even to the log key's holder.
    let before = f.snapshot();
    for args in [
        vec!["--key", jo, "ingest", "--signing-key", sk, "README.md"],
        vec!["ingest", "--signing-key", sk, "README.md"],
    ] {
        let mut c = f.cmd();
        c.current_dir(repo()).args(&args);
        run(c)
            .code(2)
            .error(&["before separation of duties", "custody upgrade"]);
        f.assert_unchanged(&before);
    }
    // One command moves it forward.
    let up = f.json(&[
        "upgrade",
        "--admin-key",
        f.admin_key().to_str().unwrap(),
        "--signing-key",
        sk,
    ]);
    assert_eq!(up["configured_at"], 13);
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 0, "{v}");
    // What was recorded before keeps its meaning: ed's approval of record 2.
    assert_eq!(f.show("11")["kind"], "approve");
    // The journalist writes; the log key no longer does.
    let mut c = f.cmd();
    c.current_dir(repo())
        .args(["--key", jo, "ingest", "--signing-key", sk, "README.md"]);
    run(c).ok();
    let mut c = f.cmd();
    c.current_dir(repo())
        .args(["--key", sk, "ingest", "--signing-key", sk, "README.md"]);
    run(c).code(2).error(&["signs only checkpoints"]);
    f.run(&["upgrade", "--admin-key", f.admin_key().to_str().unwrap()])
        .code(2)
        .error(&["already configured"]);
    f.assert_verified();
}

/// Issue 14 item 4: the archive's configured policies apply unless a flag
/// overrides them, and an override says so.
#[test]
fn the_archives_policies_apply_by_default() {
    let f = Fixture::with_samples();
    let wv = fs::read_to_string(f.other_keys("972mag").join("witness.vkey")).unwrap();
    let dv = fs::read_to_string(f.vkey()).unwrap();
    let policy = f.path().join("witnessed.policy");
    fs::write(
        &policy,
        format!("log {}\nwitness mag {}\nquorum mag\n", dv.trim(), wv.trim()),
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    f.json(&["config", "set", "--own-policy", p, "--partner-policy", p]);
    let cfg = f.json(&["config", "show"]);
    assert!(cfg["own_policy"].as_str().unwrap().contains("quorum mag"));
    // This log's own checkpoint has no cosignature: verify now says so.
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    assert_checks(&v, &["witness_quorum"]);
    // A flag overrides it, with a warning.
    let mut c = f.cmd();
    c.args(["verify", "--quorum", "0"]);
    let r = run(c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("overrides the archive's own policy (configuration record"),
        "{}",
        r.stderr
    );
    // A partner's bundle that no witness cosigned is refused by default.
    let g = Fixture::new_as("guardian");
    let gv = fs::read_to_string(g.vkey()).unwrap();
    let gp = f.path().join("guardian.policy");
    fs::write(
        &gp,
        format!("log {}\nwitness mag {}\nquorum mag\n", gv.trim(), wv.trim()),
    )
    .unwrap();
    f.json(&["config", "set", "--partner-policy", gp.to_str().unwrap()]);
    g.ingest_json(&[repo().join("README.md").to_str().unwrap()]);
    let bundle = f.path().join("from-guardian.bundle");
    g.share_to(&INIT_RECORDS.to_string(), &f, &bundle);
    let before = f.snapshot();
    let r = f.run(&[
        "receive",
        bundle.to_str().unwrap(),
        "-i",
        f.identity().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("witness_quorum"), "{}", r.stdout);
    same_files(&f, &before);
    // Overridden on the command line: received, with a warning, and the
    // override is on record in the receive record (FORMAT.md §4.16).
    let r = f.run(&[
        "receive",
        bundle.to_str().unwrap(),
        "-i",
        f.identity().to_str().unwrap(),
        "--trust",
        g.vkey().to_str().unwrap(),
        "--quorum",
        "0",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("overrides the archive's partners' policy (configuration record"),
        "{}",
        r.stderr
    );
    let rec = f.show(&(f.records() - 1).to_string());
    assert_eq!(rec["kind"], "receive", "{rec}");
    assert_eq!(rec["policy"]["source"], "command", "{rec}");
    assert_ne!(
        rec["policy"]["digest"].as_str().unwrap(),
        "0".repeat(64),
        "{rec}"
    );
    let shown = f.run(&["show", &(f.records() - 1).to_string()]);
    assert!(
        shown.stdout.contains("from the command line"),
        "{}",
        shown.stdout
    );
    let (code, v) = f.verify(&["--quorum", "0"]);
    assert_eq!(code, 0, "{v}");
}

/// A document record whose recipients are not the configuration's is a
/// `recipients` finding (a journalist cannot make a copy readable by an
/// outsider and have it verify); after a change of recipients, content
/// already stored is stored again for the new set, not reused.
#[test]
fn document_records_list_exactly_the_configured_recipients() {
    let f = Fixture::with_samples();
    let (jo, _) = add_actor(&f, "jo", "journalist");
    let s = f.show(&DOC.to_string());
    let d = |k: &str| Digest::from_hex(s[k].as_str().unwrap()).unwrap();
    let mut recipients: Vec<Digest> = s["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Digest::from_hex(r.as_str().unwrap()).unwrap())
        .collect();
    recipients.push(Digest::of(b"an outsider's recipient"));
    recipients.sort();
    let at = f.records();
    forge(
        &f,
        &key_of(&jo),
        Payload::Ingest(custody::core::record::Ingest {
            blob: d("blob"),
            blob_size: s["blob_size"].as_u64().unwrap(),
            commitment: d("commitment"),
            meta: d("meta"),
            meta_size: s["meta_size"].as_u64().unwrap(),
            recipients,
        }),
    );
    let (code, v) = f.verify(&[]);
    assert_eq!(code, 1);
    let r = findings_of(&v, "recipients");
    assert_eq!(r.len(), 1, "{v}");
    assert_eq!(r[0]["subject"]["id"], at);
    f.run(&["checkpoint", "--sign"])
        .code(2)
        .error(&["does not verify", "recipients"]);

    // A new recipient set: the same content is encrypted again for it.
    let g = Fixture::with_samples();
    let readme = sample_leak().join("README.txt");
    let first = g.ingest_json(&[readme.to_str().unwrap()]);
    assert_eq!(first[0]["deduplicated"], true, "{first:?}");
    let own = g.keys.join("recipient.txt");
    let other = g.other_keys("guardian").join("recipient.txt");
    g.json(&[
        "config",
        "set",
        "--recipient",
        own.to_str().unwrap(),
        "--recipient",
        other.to_str().unwrap(),
    ]);
    // (--again: the same path and content are recorded already, §7.3.)
    let again = g.ingest_json(&["--again", readme.to_str().unwrap()]);
    assert_eq!(again[0]["deduplicated"], false, "{again:?}");
    assert_ne!(again[0]["blob"], first[0]["blob"]);
    let third = g.ingest_json(&["--again", readme.to_str().unwrap()]);
    assert_eq!(third[0]["deduplicated"], true, "{third:?}");
    assert_eq!(third[0]["blob"], again[0]["blob"]);
    g.assert_verified();
}
