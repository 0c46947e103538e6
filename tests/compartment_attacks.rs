//! Adversarial tests of compartments (FORMAT.md §4.18, §5.4, §7.4;
//! SECURITY.md "Compartments"): what an archive recipient outside a
//! compartment (bo) can open after every operation on its documents, forged
//! compartment records, a tampered custody.toml cache, sealed names, mixed
//! recipient types and a `compartment set` killed half way. Each test states
//! the attack and the promise that holds.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::age_cli::*;
use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Compartment, Payload, RecordBody, Rekey, Sealed};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `age -d -i DIR/identity.age FILE`'s plaintext, if it opens.
fn person_open(person: &Path, file: &Path) -> Option<Vec<u8>> {
    age_open(&person.join("identity.age"), file)
}

fn opens(person: &Path, file: &Path) -> bool {
    person_open(person, file).is_some()
}

/// Every regular file under `root`.
fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(root) else {
        return out;
    };
    for e in rd {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(all_files(&e.path()));
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The files under `roots` that show one of `secrets` to `who`: in clear, or
/// once `who`'s identity decrypts them (age files only).
fn shown_to(who: &Path, roots: &[&Path], secrets: &[&str]) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for root in roots {
        for file in all_files(root) {
            let raw = fs::read(&file).unwrap();
            let plain = if raw.starts_with(b"age-encryption.org/") {
                person_open(who, &file).unwrap_or_default()
            } else {
                raw
            };
            for sec in secrets {
                if contains(&plain, sec.as_bytes()) {
                    out.push((file.clone(), sec.to_string()));
                }
            }
        }
    }
    out
}

/// `log --json`, one value per record.
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

/// A document's files (blob and envelope), as they are now.
fn files_of(f: &Fixture, index: &str) -> Vec<PathBuf> {
    let v = f.json(&["show", index]);
    vec![
        current(f, v["blob"].as_str().unwrap()),
        current(f, v["meta"].as_str().unwrap()),
    ]
}

/// The latest record of `kind` in the log.
fn last_of(f: &Fixture, kind: &str) -> Value {
    log(f).into_iter().rfind(|r| r["kind"] == kind).unwrap()
}

/// The payload of record `index`, decoded from ledger/records.
fn payload_of(f: &Fixture, index: usize) -> Payload {
    let bytes = fs::read(f.ledger("records")).unwrap();
    let (off, len) = frames(&bytes)[index];
    custody::core::record::Record::decode(&bytes[off + 4..off + 4 + len])
        .unwrap()
        .body
        .payload
}

fn key(path: &Path) -> SignerKey {
    SignerKey::parse(fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn digest(v: &Value) -> Digest {
    Digest::from_hex(v.as_str().unwrap()).unwrap()
}

fn body(f: &Fixture, signer: &SignerKey, payload: Payload) -> RecordBody {
    RecordBody {
        index: f.records(),
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(signer),
        payload,
    }
}

/// A record signed at the next index by `key`, appended as a rogue tool would.
fn forge(f: &Fixture, signer: &SignerKey, payload: Payload) {
    let rec = body(f, signer, payload).sign(signer).unwrap();
    f.append_record(&rec);
}

/// Appends `body` (bytes of a record body, perhaps no longer canonical)
/// signed by `signer`, as a rogue tool would.
fn forge_raw(f: &Fixture, signer: &SignerKey, body: Vec<u8>) {
    use std::io::Write;
    let sig = signer.sign(&RecordBody::signed_message(&body));
    let mut bytes = body;
    bytes.extend_from_slice(&sig);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(f.ledger("records"))
        .unwrap();
    file.write_all(&(bytes.len() as u32).to_be_bytes()).unwrap();
    file.write_all(&bytes).unwrap();
    file.sync_all().unwrap();
}

/// An archive whose configuration is the escrow (the fixture's keys) and bo,
/// with compartment c-17 (#1) of the escrow and jo. Returns (f, jo, bo).
fn setup() -> (Fixture, PathBuf, PathBuf) {
    require_tool("age");
    let f = Fixture::new();
    let (jo, bo) = (person(&f, "jo"), person(&f, "bo"));
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&bo.join("recipient.txt")),
    ])
    .ok();
    set_c17(&f, &[&f.keys, &jo]).ok();
    (f, jo, bo)
}

/// `compartment set c-17` with these people's recipients, -i the escrow.
fn set_c17(f: &Fixture, members: &[&Path]) -> Run {
    let mut args = vec!["compartment".to_string(), "set".into(), "c-17".into()];
    for m in members {
        args.push("--recipient".into());
        args.push(s(&m.join("recipient.txt")).into());
    }
    args.push("-i".into());
    args.push(s(&f.identity()).into());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    f.run(&a)
}

/// Ingests a new file `name` holding `text`, with `extra` arguments; returns its index.
fn ingest(f: &Fixture, name: &str, text: &str, extra: &[&str]) -> String {
    let p = f.path().join(name);
    fs::write(&p, text).unwrap();
    let mut args = vec![s(&p)];
    args.extend_from_slice(extra);
    f.ingest_json(&args)[0]["index"]
        .as_u64()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------
// 1. Leaks to an archive recipient outside the compartment
// ---------------------------------------------------------------------------

/// bo is one of the archive's recipients but not in c-17. After an ingest,
/// a note, a derived document, an extract, a share, a rekey after a config
/// change, a rekey after a compartment change and a migrate, no file of the
/// archive (or of the object store) shows bo the content, the file name, the
/// note or the derived text, in clear or decrypted.
#[test]
fn no_file_of_the_archive_shows_a_compartments_content_to_an_outsider() {
    let (f, jo, bo) = setup();
    let secrets = [
        "SECRET-CONTENT-7f3a",
        "SECRETNAME",
        "SECRET-NOTE-91c",
        "SECRET-DERIVED-44e",
    ];
    let check = |step: &str, store: Option<&Path>| {
        let mut roots = vec![f.dir.as_path()];
        roots.extend(store);
        let leaks = shown_to(&bo, &roots, &secrets);
        assert!(leaks.is_empty(), "after {step}, bo reads {leaks:?}");
        // The helper does see them, with a member's identity.
        let seen = shown_to(&jo, &roots, &secrets);
        assert!(
            seen.iter().any(|(_, s)| s == "SECRET-CONTENT-7f3a"),
            "after {step}: jo reads nothing: {seen:?}"
        );
    };
    let doc = ingest(
        &f,
        "SECRETNAME-source.txt",
        "SECRET-CONTENT-7f3a, what the source said",
        &["--compartment", "#1"],
    );
    check("ingest", None);
    f.run(&["annotate", &doc, "SECRET-NOTE-91c"]).ok();
    check("annotate", None);
    let tr = f.path().join("SECRETNAME-en.txt");
    fs::write(&tr, "SECRET-DERIVED-44e").unwrap();
    f.run(&["derive", &doc, s(&tr), "--relation", "translation"])
        .ok();
    check("derive", None);
    let out = f.path().join("extracted.txt");
    f.run(&[
        "extract",
        &doc,
        "-i",
        s(&f.identity()),
        "-o",
        s(&out),
        "--reason",
        "fact check",
    ])
    .ok();
    check("extract", None);
    let gu = f.other_keys("guardian");
    f.run(&[
        "share",
        &doc,
        "--to",
        s(&gu.join("recipient.txt")),
        "-i",
        s(&f.identity()),
        "-o",
        s(&f.path().join("out.bundle")),
        "--note",
        "SECRET-NOTE-91c",
    ])
    .ok();
    check("share", None);
    // A config change (cy joins the archive's recipients) and a rekey.
    let cy = person(&f, "cy");
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&bo.join("recipient.txt")),
        "--recipient",
        s(&cy.join("recipient.txt")),
    ])
    .ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    check("config set and rekey", None);
    assert!(
        shown_to(&cy, &[&f.dir], &secrets).is_empty(),
        "cy, new to the configuration, reads the compartment"
    );
    // A compartment change (al joins) and a rekey.
    let al = person(&f, "al");
    set_c17(&f, &[&f.keys, &jo, &al]).ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    check("compartment set and rekey", None);
    let store = f.path().join("store");
    f.run(&["migrate", "--to", s(&store)]).ok();
    check("migrate", Some(&store));
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "{v}");
}

/// `compartment set` changes c-17's members (al joins, jo stays) and
/// nobody has run `rekey` yet. A translation derived from a c-17 document
/// and a note about it must stay in c-17 (FORMAT.md §4.18: "A document
/// derived from one in a compartment goes into it").
// A document's compartment is the one whose recipients its file was last
// written to, as they were then (Archive::document_compartment), so a
// derive or a note after a member change stays in the compartment.
#[test]
fn derive_and_annotate_after_a_member_change_before_rekey_stay_in_the_compartment() {
    let (f, jo, bo) = setup();
    let doc = ingest(&f, "a.txt", "SECRET-A", &["--compartment", "#1"]);
    let al = person(&f, "al");
    set_c17(&f, &[&f.keys, &jo, &al]).ok();
    // No rekey yet.
    let tr = f.path().join("a-en.txt");
    fs::write(&tr, "SECRET-A in English").unwrap();
    f.run(&["derive", &doc, s(&tr), "--relation", "translation"])
        .ok();
    let derived = last_of(&f, "derive")["index"].as_u64().unwrap().to_string();
    f.run(&["annotate", &doc, "SECRET-NOTE"]).ok();
    let note = last_of(&f, "annotate")["note"]
        .as_str()
        .unwrap()
        .to_string();
    let leaked = |f: &Fixture| -> Vec<PathBuf> {
        files_of(f, &derived)
            .into_iter()
            .chain([current(f, &note)])
            .filter(|file| opens(&bo, file))
            .collect()
    };
    let before_rekey = leaked(&f);
    // The rekey that follows does not repair it either (for the derived document).
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let after_rekey = leaked(&f);
    assert!(
        before_rekey.is_empty() && after_rekey.is_empty(),
        "bo, outside c-17, opens the derived document's or the note's files: \
         before the rekey {before_rekey:?}, after it {after_rekey:?}"
    );
}

/// An admin makes a compartment that starts with the escrow alone, which
/// is also the whole configuration (a plausible first step: members are
/// added later). Documents ingested meanwhile *without* `--compartment`
/// are the configuration's. When jo is added to the compartment, `rekey`
/// must leave them to the configuration, not hand them to jo.
// `compartment set` refuses the configuration's own recipients (and another
// compartment's), and rekey's replay prefers the configuration on a tie
// (src/store/ops/rekey.rs replay_blobs).
#[test]
fn rekey_does_not_move_general_documents_into_a_compartment_of_the_same_recipients() {
    require_tool("age");
    let f = Fixture::new();
    let jo = person(&f, "jo");
    set_c17(&f, &[&f.keys]).error(&["archive's own recipients"]);
    let general = ingest(&f, "general.txt", "for the whole desk", &[]);
    set_c17(&f, &[&f.keys, &jo]).ok();
    f.run(&["rekey", "-i", s(&f.identity())]).ok();
    let opened: Vec<PathBuf> = files_of(&f, &general)
        .into_iter()
        .filter(|p| opens(&jo, p))
        .collect();
    assert!(
        opened.is_empty(),
        "jo, only in c-17, opens a document ingested outside it: {opened:?}"
    );
}

/// Deduplication in both directions: a compartment ingest of content the
/// archive already holds for everyone does not reuse the general blob (bo
/// would open it), and a general ingest of a compartment's content does not
/// reuse the compartment's blob (the configuration could not open it).
#[test]
fn deduplication_never_crosses_a_compartments_boundary() {
    let (f, jo, bo) = setup();
    let general = ingest(&f, "g.txt", "same words", &[]);
    let comp = ingest(&f, "c.txt", "same words", &["--compartment", "#1"]);
    let (g, c) = (files_of(&f, &general), files_of(&f, &comp));
    assert_ne!(
        g[0], c[0],
        "the compartment document reuses the general blob"
    );
    for file in &c {
        assert!(!opens(&bo, file), "bo opens compartment file {file:?}");
        assert!(opens(&jo, file));
    }
    let comp2 = ingest(&f, "c2.txt", "other words", &["--compartment", "#1"]);
    let general2 = ingest(&f, "g2.txt", "other words", &[]);
    let (c2, g2) = (files_of(&f, &comp2), files_of(&f, &general2));
    assert_ne!(
        c2[0], g2[0],
        "the general document reuses the compartment blob"
    );
    assert!(opens(&bo, &g2[0]) && !opens(&bo, &c2[0]));
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "{v}");
}

/// FORMAT.md §7.3: "only a holder of one of the archive's age identities,
/// who can decrypt every document anyway, can compute k and test whether a
/// given plaintext is in the archive". With compartments, bo holds such an
/// identity but may not read c-17: the deduplication index must not let
/// him confirm a guess of a c-17 document's content.
// A compartment's documents get no deduplication entry (a fresh key of the
// process, not kept: Archive::set_write_recipients), so the index tells the
// configuration's recipients nothing of them.
#[test]
fn the_deduplication_index_does_not_confirm_a_compartments_content_to_an_outsider() {
    use hmac::{KeyInit, Mac};
    use sha2::Digest as _;
    let (f, _jo, bo) = setup();
    let guess = "the minister's phone number is 555-0199";
    let doc = ingest(&f, "c.txt", guess, &["--compartment", "#1"]);
    // bo opens the latest configuration's sealed details.
    let cfg = last_of(&f, "config");
    let sealed = f.blob_path(cfg["sealed"]["digest"].as_str().unwrap());
    let details = person_open(&bo, &sealed).expect("bo is a configuration recipient");
    let details: Value = serde_json::from_slice(details.trim_ascii_end()).unwrap();
    let k = hex::decode(details["dedup_key"].as_str().unwrap()).unwrap();
    let sha = sha2::Sha256::digest(guess.as_bytes());
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&k).unwrap();
    mac.update(&sha);
    let tag = mac.finalize().into_bytes();
    let entries = fs::read(f.ledger("dedup")).unwrap_or_default();
    let hit = entries
        .chunks(72)
        .find(|e| e.len() == 72 && e[8..40] == tag[..])
        .map(|e| u64::from_be_bytes(e[..8].try_into().unwrap()));
    assert_eq!(
        hit, None,
        "bo confirms that record {doc} of c-17 holds his guess"
    );
}

// ---------------------------------------------------------------------------
// 2. Forged records
// ---------------------------------------------------------------------------

/// Compartment records an attacker appends: signed by a journalist (with
/// the journalist's own recipient, and custody.toml edited to match), with
/// number 0, with unsorted members, with a version 1 header, and signed by
/// the admin with sealed details naming other recipients. None changes
/// which compartments are in force; verify names each (exit 1), never
/// panics.
#[test]
fn forged_compartment_records_change_nothing_and_verify_names_them() {
    let (f, jo, _bo) = setup();
    f.run(&[
        "actor",
        "add",
        "jo",
        s(&jo.join("signing.vkey")),
        "--role",
        "journalist",
    ])
    .ok();
    let admin = key(&f.admin_key());
    let members = |f: &Fixture| -> Vec<Digest> {
        let c = f.json(&["compartment", "list"]);
        c[0]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(digest)
            .collect()
    };
    let c17 = members(&f);
    // A sealed blob of the right kind: c-17's own details.
    let rec = last_of(&f, "compartment");
    let sealed = Sealed {
        digest: digest(&rec["sealed"]["digest"]),
        size: rec["sealed"]["size"].as_u64().unwrap(),
    };
    let verify_finds = |g: &Fixture, want: &str| {
        let (code, v) = g.verify(&[]);
        assert_eq!(code, FINDING, "{want}: {v}");
        assert_checks(&v, &[want]);
    };

    // Signed by jo, a journalist: #1 becomes jo alone (bo not there either).
    let g = f.duplicate();
    forge(
        &g,
        &key(&jo.join("signing.key")),
        Payload::Compartment(Compartment {
            id: 1,
            members: vec![c17[0]],
            sealed,
        }),
    );
    let toml = g.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let jo_r = fs::read_to_string(jo.join("recipient.txt")).unwrap();
    let jo_r = jo_r.lines().find(|l| l.starts_with("age1")).unwrap();
    let cut = text.find("[[compartments]]").unwrap();
    fs::write(
        &toml,
        format!(
            "{}[[compartments]]\nid = 1\nrecipients = [\"{jo_r}\"]\n",
            &text[..cut]
        ),
    )
    .unwrap();
    assert_eq!(members(&g), c17, "an unauthorized record changed #1");
    let p = g.path().join("x.txt");
    fs::write(&p, "x").unwrap();
    // Refused: by the cache check, or because the log no longer verifies.
    g.run(&["ingest", s(&p), "--compartment", "#1"]).error(&[]);
    verify_finds(&g, "actor_role");

    // Number 0, unsorted members, version 1 header: the decoder refuses them.
    let canonical = body(
        &f,
        &admin,
        Payload::Compartment(Compartment {
            id: 2,
            members: c17.clone(),
            sealed,
        }),
    )
    .encode();
    // Offsets: version, kind, index (8), time (8), origin (1 + n), signer (4).
    let at = 2 + 8 + 8 + 1 + "dropsite.example/leaks".len() + 4;
    let mut zero = canonical.clone();
    zero[at..at + 2].copy_from_slice(&0u16.to_be_bytes());
    let mut unsorted = canonical.clone();
    let m = at + 2 + 1;
    let (a, b) = (
        unsorted[m..m + 32].to_vec(),
        unsorted[m + 32..m + 64].to_vec(),
    );
    unsorted[m..m + 32].copy_from_slice(&b);
    unsorted[m + 32..m + 64].copy_from_slice(&a);
    let mut v1 = canonical.clone();
    v1[0] = 1;
    for (what, bytes) in [
        ("number 0", zero),
        ("unsorted", unsorted),
        ("version 1", v1),
    ] {
        let g = f.duplicate();
        forge_raw(&g, &admin, bytes);
        let (code, v) = g.verify(&[]);
        assert_eq!(code, FINDING, "{what}: {v}");
        assert_checks(&v, &["record_decode"]);
        let l = g.run(&["compartment", "list", "--json"]);
        l.no_panic();
        if l.code == OK {
            assert_eq!(
                l.json().as_array().unwrap().len(),
                1,
                "{what}: {}",
                l.stdout
            );
        }
    }

    // Signed by the admin, its sealed details (c-17's) naming escrow and
    // jo while the record says escrow and bo: verify --deep finds it.
    let g = f.duplicate();
    let bo_fp = {
        let cfg = g.json(&["config", "show"])["recipients"].clone();
        let all: Vec<Digest> = cfg.as_array().unwrap().iter().map(digest).collect();
        let mut m: Vec<Digest> = all.into_iter().collect();
        m.sort();
        m
    };
    forge(
        &g,
        &admin,
        Payload::Compartment(Compartment {
            id: 1,
            members: bo_fp,
            sealed,
        }),
    );
    g.run(&["checkpoint", "--sign"]).no_panic();
    let (code, v) = g.verify(&["--deep", "-i", s(&g.identity())]);
    assert_eq!(code, FINDING, "{v}");
    assert_checks(&v, &["sealed"]);
}

/// An ingest record listing c-17's *previous* members, appended after
/// `compartment set` changed them, is a `recipients` finding (order
/// matters: "its latest record before it").
#[test]
fn an_ingest_to_a_compartments_former_members_is_a_recipients_finding() {
    let (f, jo, _bo) = setup();
    let doc = ingest(&f, "a.txt", "aaa", &["--compartment", "#1"]);
    let al = person(&f, "al");
    set_c17(&f, &[&f.keys, &al]).ok();
    let _ = jo;
    forge(
        &f,
        &key(&f.admin_key()),
        payload_of(&f, doc.parse().unwrap()),
    );
    f.run(&["checkpoint", "--sign"]).no_panic();
    let (code, v) = f.verify(&[]);
    assert_eq!(code, FINDING, "{v}");
    let n = f.records() - 1;
    assert!(
        findings_of(&v, "recipients")
            .iter()
            .any(|x| x["subject"]["id"].as_u64() == Some(n)),
        "no recipients finding on record {n}: {v}"
    );
}

/// An admin may move a compartment document out with a rekey to the
/// configuration's recipients (an admin's power, SECURITY.md); it is then
/// at least visible: verify accepts it, `log` shows the rekey, and `show`
/// names bo's recipient among the document's readers.
#[test]
fn a_rekey_moving_a_document_out_of_a_compartment_is_visible() {
    let (f, _jo, bo) = setup();
    let doc = ingest(&f, "a.txt", "SECRET-A", &["--compartment", "#1"]);
    let rec = f.show(&doc);
    let old = digest(&rec["blob"]);
    let plain = person_open(&f.keys, &f.blob_path(&old.to_string())).unwrap();
    // Encrypted by a rogue tool to the configuration: escrow and bo.
    let both = f.path().join("both.txt");
    fs::write(
        &both,
        format!(
            "{}\n{}\n",
            fs::read_to_string(f.keys.join("recipient.txt"))
                .unwrap()
                .trim(),
            fs::read_to_string(bo.join("recipient.txt")).unwrap().trim()
        ),
    )
    .unwrap();
    let out = Command::new(require_tool("age"))
        .arg("-R")
        .arg(&both)
        .arg("-o")
        .arg(f.path().join("new.age"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&plain)?;
            c.wait()
        })
        .unwrap();
    assert!(out.success());
    let new_file = fs::read(f.path().join("new.age")).unwrap();
    let new = Digest::of(&new_file);
    let p = f.blob_path(&new.to_string());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, &new_file).unwrap();
    let mut cfg: Vec<Digest> = f.json(&["config", "show"])["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(digest)
        .collect();
    cfg.sort();
    forge(
        &f,
        &key(&f.admin_key()),
        Payload::Rekey(Rekey {
            old,
            new,
            new_size: new_file.len() as u64,
            recipients: cfg.clone(),
        }),
    );
    fs::remove_file(f.blob_path(&old.to_string())).unwrap();
    f.run(&["checkpoint", "--sign"]).ok();
    assert!(opens(&bo, &files_of(&f, &doc)[0]));
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "allowed by design: {v}");
    let k = last_of(&f, "rekey");
    assert_eq!(k["old"], old.to_string());
    let shown = f.show(&doc).to_string();
    let bo_fp = cfg
        .iter()
        .map(|d| d.to_string())
        .find(|d| shown.contains(d.as_str()))
        .is_some();
    assert!(bo_fp, "show does not name the new readers: {shown}");
    let audit = f.run(&["audit", &doc, "-i", s(&f.identity())]);
    audit.no_panic();
    assert!(
        audit.stdout.contains("rekey") || audit.stdout.contains("re-encrypt"),
        "{}",
        audit.stdout
    );
}

// ---------------------------------------------------------------------------
// 3. custody.toml tampering
// ---------------------------------------------------------------------------

/// The local cache of a compartment's recipients, edited: an extra
/// recipient (the attacker's), a duplicate entry for #1 put first, an
/// unknown key, a missing entry. Writing to #1 is refused (exit 2, one
/// line, nothing written) or uses exactly the ledger's members; the
/// attacker's identity never opens what is written.
#[test]
fn a_tampered_compartment_cache_is_never_used_to_encrypt() {
    let (f, jo, _bo) = setup();
    let eve = person(&f, "eve");
    let eve_r = fs::read_to_string(eve.join("recipient.txt")).unwrap();
    let eve_r = eve_r
        .lines()
        .find(|l| l.starts_with("age1"))
        .unwrap()
        .to_string();
    let toml = f.dir.join("custody.toml");
    let good = fs::read_to_string(&toml).unwrap();
    let cut = good.find("[[compartments]]").unwrap();
    let entry = &good[cut..];
    let rs_at = entry.find("recipients = [").unwrap() + "recipients = [".len();
    let extra = format!("{}\n    \"{eve_r}\",{}", &entry[..rs_at], &entry[rs_at..]);
    let eve_only = format!("[[compartments]]\nid = 1\nrecipients = [\"{eve_r}\"]\n\n");
    let unknown = entry.replacen("id = 1", "id = 1\nname = \"c-17\"", 1);
    let cases = [
        ("an extra recipient", format!("{}{extra}", &good[..cut])),
        (
            "a duplicate entry first",
            format!("{}{eve_only}{entry}", &good[..cut]),
        ),
        (
            "a duplicate entry last",
            format!("{}{entry}\n{eve_only}", &good[..cut]),
        ),
        ("an unknown key", format!("{}{unknown}", &good[..cut])),
        ("no entry", good[..cut].to_string()),
    ];
    let p = f.path().join("x.txt");
    fs::write(&p, "SECRET-X").unwrap();
    for (what, text) in cases {
        let before = f.snapshot();
        fs::write(&toml, &text).unwrap();
        let r = f.run(&["ingest", s(&p), "--compartment", "#1", "--json"]);
        r.no_panic();
        if r.code == OK {
            let index = r.json_lines()[0]["index"].as_u64().unwrap().to_string();
            for file in files_of(&f, &index) {
                assert!(!opens(&eve, &file), "{what}: eve opens {file:?}");
                assert!(opens(&jo, &file), "{what}: jo does not open {file:?}");
            }
        } else {
            let line = r.error(&[]);
            assert!(!line.contains(&eve_r[10..]), "{what}: {line}");
            fs::write(&toml, &good).unwrap();
            f.assert_unchanged(&before);
        }
        fs::write(&toml, &good).unwrap();
    }
    f.assert_verified();
}

// ---------------------------------------------------------------------------
// 4. Names
// ---------------------------------------------------------------------------

/// c-17's name is in no file of ledger/, db/, custody.toml, nor in the
/// published tiles, nor in the output of log/show/list/verify/status
/// without an identity; a name with control characters is refused with one
/// line that does not echo them.
#[test]
fn a_compartments_name_is_never_written_in_clear() {
    let (f, _jo, _bo) = setup();
    let name = "c-17";
    ingest(&f, "a.txt", "aaa", &["--compartment", "#1"]);
    let publ = f.path().join("published");
    f.run(&["publish", s(&publ)]).ok();
    for root in [f.dir.as_path(), publ.as_path()] {
        for file in all_files(root) {
            let raw = fs::read(&file).unwrap();
            assert!(!contains(&raw, name.as_bytes()), "{file:?} holds the name");
        }
    }
    // Without an identity: custody.toml's `identity` is a default; drop it.
    let toml = f.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let no_id: String = text
        .lines()
        .filter(|l| !l.starts_with("identity ="))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&toml, no_id).unwrap();
    for args in [
        &["log"][..],
        &["log", "--json"],
        &["show", "2"],
        &["show", "2", "--json"],
        &["compartment", "list"],
        &["compartment", "list", "--json"],
        &["status"],
        &["verify"],
    ] {
        let r = f.run(args);
        r.no_panic();
        assert!(
            !r.stdout.contains(name) && !r.stderr.contains(name),
            "{args:?} shows the name:\n{}{}",
            r.stdout,
            r.stderr
        );
    }
    fs::write(&toml, text).unwrap();
    let before = f.snapshot();
    for bad in ["c-17\u{1b}[2J", "c\n17", "C-17", ""] {
        let r = f.run(&[
            "compartment",
            "set",
            bad,
            "--recipient",
            s(&f.keys.join("recipient.txt")),
            "-i",
            s(&f.identity()),
        ]);
        let line = r.error(&["compartment"]);
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
    f.assert_unchanged(&before);
}

/// `compartment set c-17` run by an admin whose identity opens no
/// compartment (bo's) cannot find the existing c-17: it must not silently
/// make a second compartment of the same name.
// `compartment set` refuses when a compartment's name does not open with
// the identity given, and a name shared by two is refused as ambiguous.
#[test]
fn set_with_an_identity_that_opens_no_compartment_does_not_duplicate_its_name() {
    let (f, _jo, bo) = setup();
    let r = f.run(&[
        "compartment",
        "set",
        "c-17",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&bo.join("recipient.txt")),
        "-i",
        s(&bo.join("identity.age")),
    ]);
    r.no_panic();
    let listed = f.json(&["compartment", "list", "-i", s(&f.identity())]);
    let named: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "c-17")
        .collect();
    assert_eq!(
        named.len(),
        1,
        "two compartments named c-17 (set exited {}): {listed}",
        r.code
    );
}

// ---------------------------------------------------------------------------
// 5. Post-quantum and classic recipients
// ---------------------------------------------------------------------------

/// A compartment of a post-quantum recipient and an X25519 one would let a
/// future quantum adversary read what the post-quantum one protects: refused
/// with one line, nothing written (ledger, blobs, custody.toml).
#[test]
fn mixing_post_quantum_and_classic_members_is_refused() {
    let f = Fixture::new();
    let pq = f.path().join("people").join("pq");
    let mut c = custody();
    c.args(["keygen", "--name", "dropsite.example/pq", "-o"])
        .arg(&pq);
    run(c).ok();
    let before = f.snapshot();
    let toml = fs::read(f.dir.join("custody.toml")).unwrap();
    let blobs = all_files(&f.dir.join("blobs"));
    f.run(&[
        "compartment",
        "set",
        "c-17",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&pq.join("recipient.txt")),
        "-i",
        s(&f.identity()),
    ])
    .error(&[]);
    f.assert_unchanged(&before);
    assert_eq!(fs::read(f.dir.join("custody.toml")).unwrap(), toml);
    assert_eq!(all_files(&f.dir.join("blobs")), blobs);
    assert_eq!(
        f.json(&["compartment", "list"]).as_array().unwrap().len(),
        0
    );
}

// ---------------------------------------------------------------------------
// 6. Crash safety
// ---------------------------------------------------------------------------

/// `compartment set` killed at each durable step (between its record and
/// custody.toml among them): a re-run leaves exactly one compartment record,
/// a usable compartment, and a verified archive.
#[test]
fn compartment_set_killed_at_any_point_recovers_on_rerun() {
    require_tool("age");
    let base = Fixture::new();
    let jo = person(&base, "jo");
    let set_args = |f: &Fixture| -> Vec<String> {
        vec![
            "-A".into(),
            s(&f.dir).into(),
            "compartment".into(),
            "set".into(),
            "c-17".into(),
            "--recipient".into(),
            s(&f.keys.join("recipient.txt")).into(),
            "--recipient".into(),
            s(&jo.join("recipient.txt")).into(),
            "-i".into(),
            s(&f.identity()).into(),
        ]
    };
    // Count the points.
    let g = base.duplicate();
    let trace = g.path().join("trace");
    let o = custody_std()
        .args(set_args(&g))
        .env("CUSTODY_FAULT", "count")
        .env("CUSTODY_FAULT_TRACE", &trace)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = fs::read_to_string(&trace).unwrap();
    let count = |kind: &str| text.lines().filter(|l| l.starts_with(kind)).count();
    let mut points = Vec::new();
    for kind in ["write", "rename", "fsync"] {
        for n in 1..=count(kind) {
            points.push(format!("kill-{kind}:{n}"));
        }
    }
    assert!(points.len() > 3, "trace:\n{text}");
    for point in points {
        let g = base.duplicate();
        let o = custody_std()
            .args(set_args(&g))
            .env("CUSTODY_FAULT", &point)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{point}: {err}");
        let r = Run::from_output(custody_std().args(set_args(&g)).output().unwrap());
        r.ok();
        let comps = log(&g)
            .into_iter()
            .filter(|r| r["kind"] == "compartment")
            .count();
        assert_eq!(comps, 1, "{point}: {comps} compartment records");
        let listed = g.json(&["compartment", "list"]);
        assert_eq!(listed[0]["cached"], true, "{point}: {listed}");
        let p = g.path().join("x.txt");
        fs::write(&p, "x").unwrap();
        let i = g.ingest_json(&[s(&p), "--compartment", "#1"])[0]["index"]
            .as_u64()
            .unwrap()
            .to_string();
        assert!(opens(&jo, &files_of(&g, &i)[0]), "{point}");
        // What an interrupted command may leave (tests/common/durability.rs):
        // a sealed blob no record names.
        let (_, v) = g.verify(&["--deep", "-i", s(&g.identity())]);
        let found = checks(&v);
        assert!(
            found.iter().all(|c| c == "blob_unreferenced"),
            "{point}: {v}"
        );
    }
}
