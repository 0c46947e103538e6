//! Issue 14, item 6: what the ledger reveals. A whole journey between two
//! outlets (actors added, a decryption with a reason, a grant, a revocation
//! with a reason, a share to a partner, the partner's receive and its own
//! people) and then a byte scan of both archives' ledger files and both
//! published logs for every actor name, key name, reason, and the partner's
//! recipient and its fingerprint, the name the sender gives the partner and
//! the share's note: none may appear (FORMAT.md §4.16, §5).
//! With the identity, the same names and reasons are all readable.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{ActorAction, ActorChange, Payload, RecordBody, Role};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A personal key named `outlet/name`, made with `custody keygen`.
fn person(f: &Fixture, outlet: &str, name: &str) -> (PathBuf, PathBuf) {
    let dir = f.path().join("people").join(name);
    custody()
        .args(["keygen", "--name", &format!("{outlet}/{name}"), "-o"])
        .arg(&dir)
        .assert()
        .success();
    (dir.join("signing.key"), dir.join("signing.vkey"))
}

fn add(f: &Fixture, outlet: &str, name: &str, role: &str) -> PathBuf {
    let (key, vkey) = person(f, outlet, name);
    f.run(&["actor", "add", name, s(&vkey), "--role", role])
        .ok();
    key
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
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
        for f in files(d) {
            let data = fs::read(&f).unwrap();
            for (what, n) in needles {
                if data.windows(n.len()).any(|w| w == &n[..]) {
                    hits.push(format!("{what} in {}", f.display()));
                }
            }
        }
    }
    hits
}

fn text(what: &str, t: &str) -> (String, Vec<u8>) {
    (format!("{what} {t:?}"), t.as_bytes().to_vec())
}

/// The partner's recipient as text, its fingerprint (FORMAT.md §5.3) in hex
/// and as raw bytes.
fn recipient_needles(recipient: &str) -> Vec<(String, Vec<u8>)> {
    let fp = Digest::of(&[b"custody/v1/recipient\n".as_slice(), recipient.as_bytes()].concat());
    vec![
        text("partner recipient", recipient),
        text("partner fingerprint (hex)", &fp.to_hex()),
        ("partner fingerprint (bytes)".into(), fp.0.to_vec()),
    ]
}

#[test]
fn a_whole_journey_leaves_no_name_reason_or_partner_in_the_ledger_or_the_published_log() {
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let alice = add(&ds, "dropsite.example", "alice-nakamura", "journalist");
    let ed = add(&ds, "dropsite.example", "edward-okafor", "editor");
    add(&ds, "dropsite.example", "carol-mendes", "journalist");
    let memo = repo().join("examples").join(SAMPLE_FILES[6]);
    ds.run(&["--key", s(&alice), "ingest", s(&memo)]).ok();
    let doc = INIT_RECORDS + 3;
    let out = ds.path().join("memo.out");
    ds.run(&[
        "--key",
        s(&alice),
        "extract",
        &doc.to_string(),
        "-i",
        s(&ds.identity()),
        "-o",
        s(&out),
        "--reason",
        "translation-for-the-partner-desk",
    ])
    .ok();
    ds.run(&[
        "--key",
        s(&ed),
        "grant",
        &doc.to_string(),
        "carol-mendes",
        "-i",
        s(&ds.identity()),
    ])
    .ok();
    ds.run(&[
        "actor",
        "revoke",
        "carol-mendes",
        "-i",
        s(&ds.identity()),
        "--reason",
        "left-after-source-concerns",
    ])
    .ok();
    let bundle = ds.path().join("memo.bundle");
    let partner = fs::read_to_string(gu.keys.join("recipient.txt"))
        .unwrap()
        .trim()
        .to_string();
    ds.run(&[
        "--key",
        s(&alice),
        "share",
        &doc.to_string(),
        "--to",
        &partner,
        "-i",
        s(&ds.identity()),
        "-o",
        s(&bundle),
        "--partner",
        "guardian-investigations-desk",
        "--note",
        "handed-over-for-the-joint-story",
    ])
    .ok();
    // The bundle carries every actor and config record before its share,
    // carol's revocation included, though she signed nothing in it.
    let share_at = ds.records() - 1;
    let state: Vec<u64> = ds
        .json_lines(&["log"])
        .iter()
        .filter(|r| matches!(r["kind"].as_str(), Some("actor" | "config")))
        .map(|r| r["index"].as_u64().unwrap())
        .filter(|&i| i < share_at)
        .collect();
    assert_eq!(state.len(), 6, "{state:?}"); // the admin, config, 3 actors, a revocation
    let vb = ds
        .run(&["verify-bundle", s(&bundle), "--trust", s(&ds.vkey())])
        .ok()
        .stdout
        .clone();
    for i in &state {
        assert!(
            vb.lines()
                .any(|l| l.trim_start().starts_with(&format!("{i} "))),
            "record {i} missing from the bundle:\n{vb}"
        );
    }
    assert!(vb.contains("revoke #"), "{vb}");
    let gwen = add(&gu, "theguardian.example", "gwen-abernathy", "journalist");
    gu.run(&[
        "--key",
        s(&gwen),
        "receive",
        s(&bundle),
        "-i",
        s(&gu.identity()),
        "--trust",
        s(&ds.vkey()),
    ])
    .ok();
    let received = INIT_RECORDS + 1;
    gu.run(&[
        "--key",
        s(&gwen),
        "extract",
        &received.to_string(),
        "-i",
        s(&gu.identity()),
        "-o",
        s(&gu.path().join("memo.out")),
        "--reason",
        "subbing-the-story",
    ])
    .ok();
    let (ds_pub, gu_pub) = (ds.path().join("published"), gu.path().join("published"));
    ds.json(&["publish", s(&ds_pub)]);
    gu.json(&["publish", s(&gu_pub)]);

    // Everything any of them named, in clear, anywhere in a ledger or a published log.
    let mut people: Vec<(String, Vec<u8>)> = Vec::new();
    for (outlet, name) in [
        ("dropsite.example", "alice-nakamura"),
        ("dropsite.example", "edward-okafor"),
        ("dropsite.example", "carol-mendes"),
        ("dropsite.example", "admin"),
        ("theguardian.example", "gwen-abernathy"),
    ] {
        if name != "admin" {
            people.push(text("actor name", name));
        }
        people.push(text("key name", &format!("{outlet}/{name}")));
    }
    // Each actor key's ID under its own (personal) name would let anyone test
    // a guessed name against the key (FORMAT.md §4.16): it appears nowhere.
    for dir in files(&ds.path().join("people"))
        .into_iter()
        .chain(files(&gu.path().join("people")))
        .filter(|p| p.ends_with("signing.vkey"))
    {
        let v = custody::core::keys::VerifierKey::parse(fs::read_to_string(&dir).unwrap().trim())
            .unwrap();
        people.push((
            format!("key ID of {} under its own name", v.name()),
            v.key_id().to_be_bytes().to_vec(),
        ));
    }
    for r in [
        "translation-for-the-partner-desk",
        "left-after-source-concerns",
        "subbing-the-story",
    ] {
        people.push(text("reason", r));
    }
    // The name this archive gives the partner, and the share's note
    // (sealed share details, FORMAT.md §5.4).
    people.push(text("partner name", "guardian-investigations-desk"));
    people.push(text("share note", "handed-over-for-the-joint-story"));
    let ledgers = vec![
        ds.dir.join("ledger"),
        gu.dir.join("ledger"),
        ds_pub.clone(),
        gu_pub.clone(),
    ];
    assert!(files(&ds.dir.join("ledger")).len() > 3);
    assert!(files(&ds_pub).iter().any(|p| p.ends_with("checkpoint")));
    let hits = found(&ledgers, &people);
    assert!(hits.is_empty(), "the ledger names people: {hits:#?}");
    // The partner is named nowhere in the sender's archive but in sealed blobs.
    let hits = found(
        &[ds.dir.join("ledger"), ds_pub.clone()],
        &recipient_needles(&partner),
    );
    assert!(
        hits.is_empty(),
        "the sender's log names the partner: {hits:#?}"
    );
    let hits = found(&[ds.dir.join("db")], &recipient_needles(&partner));
    assert!(
        hits.is_empty(),
        "the sender's index names the partner: {hits:#?}"
    );
    let label = [
        text("partner name", "guardian-investigations-desk"),
        text("share note", "handed-over-for-the-joint-story"),
    ];
    let hits = found(&[ds.dir.join("db"), gu.dir.join("db")], &label);
    assert!(hits.is_empty(), "an index names the partner: {hits:#?}");
    // The partner never learns the sender's name for it.
    let hits = found(std::slice::from_ref(&gu.dir), &label[..1]);
    assert!(hits.is_empty(), "the partner holds its name: {hits:#?}");

    // Control: the scan sees what is there (the partner's own log lists its
    // own recipients' fingerprints in its configuration record).
    let own = recipient_needles(&partner);
    assert!(!found(&[gu.dir.join("ledger")], &own[1..]).is_empty());

    // With the identity everything sealed reads back, and deep verification
    // checks every sealed blob.
    let list = ds.run(&["actor", "list", "-i", s(&ds.identity())]);
    let list = list.ok().stdout.clone();
    for n in ["alice-nakamura", "edward-okafor", "carol-mendes", "admin"] {
        assert!(list.contains(n), "{list}");
    }
    let anon = ds.run(&["actor", "list"]).ok().stdout.clone();
    assert!(!anon.contains("alice-nakamura"), "{anon}");
    assert!(anon.contains("(name sealed)"), "{anon}");
    let log = ds
        .run(&["log", "-i", s(&ds.identity())])
        .ok()
        .stdout
        .clone();
    for t in [
        "translation-for-the-partner-desk",
        "left-after-source-concerns",
        "to partner guardian-investigations-desk",
        "handed-over-for-the-joint-story",
    ] {
        assert!(log.contains(t), "{t} missing from:\n{log}");
    }
    let shares = ds
        .run(&["shares", "-i", s(&ds.identity())])
        .ok()
        .stdout
        .clone();
    assert!(
        shares.contains("to guardian-investigations-desk ["),
        "{shares}"
    );
    let (code, v) = ds.verify(&["--deep", "-i", s(&ds.identity())]);
    assert_eq!(code, OK, "{v}");
    let (code, v) = gu.verify(&["--deep", "-i", s(&gu.identity())]);
    assert_eq!(code, OK, "{v}");
}

/// The scan is not vacuous: version 1 actor records (what archives made
/// before this format carry) put the name and the reason into the ledger,
/// and the same scan finds them. (Only a revocation has a reason, FORMAT.md
/// §4.7: the name comes with the add, the reason with the revoke.)
#[test]
fn a_version_1_actor_record_names_its_actor_and_the_scan_finds_it() {
    let f = Fixture::new();
    let (_, vkey) = person(&f, "dropsite.example", "dmitri-volkov");
    let v =
        custody::core::keys::VerifierKey::parse(fs::read_to_string(&vkey).unwrap().trim()).unwrap();
    let admin = SignerKey::parse(fs::read_to_string(f.admin_key()).unwrap().trim()).unwrap();
    for (k, (action, reason)) in [
        (ActorAction::Add, ""),
        (ActorAction::Revoke, "hired-for-the-leak"),
    ]
    .into_iter()
    .enumerate()
    {
        let rec = RecordBody {
            index: f.records() + k as u64,
            time_ms: 1_900_000_000_000,
            origin: "dropsite.example/leaks".into(),
            signer: admin.key_id(),
            payload: Payload::Actor(ActorChange {
                action,
                name: "dmitri-volkov".into(),
                role: Role::Journalist,
                key_name: v.name().into(),
                key: v.public_bytes(),
                reason: reason.into(),
                sealed: None,
            }),
        }
        .sign(&admin)
        .unwrap();
        f.append_record(&rec);
    }
    let hits = found(
        &[f.dir.join("ledger")],
        &[
            text("actor name", "dmitri-volkov"),
            text("reason", "hired-for-the-leak"),
        ],
    );
    assert_eq!(hits.len(), 2, "{hits:#?}");
}

/// What a reader of the sealed details would refuse is refused before it is
/// sealed: a reason over 1,024 bytes or with a control character (exit 2,
/// nothing written), so `verify --deep` never meets it (FORMAT.md §5.4).
#[test]
fn a_reason_no_reader_would_accept_is_refused_before_sealing() {
    let f = Fixture::with_samples();
    let before = f.records();
    let out = f.path().join("out.txt");
    for reason in ["x".repeat(2000), "a\u{1b}[2Jb".to_string()] {
        let r = f.run(&[
            "extract",
            &INIT_RECORDS.to_string(),
            "-i",
            s(&f.identity()),
            "-o",
            s(&out),
            "--reason",
            &reason,
        ]);
        r.code(ERROR);
        assert!(r.stderr.contains("nothing was written"), "{}", r.stderr);
        assert!(!out.exists());
    }
    assert_eq!(f.records(), before);
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "{v}");
}

/// The deep check of sealed details names what is wrong (FORMAT.md §5.4):
/// an access record whose sealed digest points at the configuration's
/// sealed blob (a real blob of the archive, of another kind) passes plain
/// `verify` (the blob exists and hashes right) and is a `sealed` finding of
/// `verify --deep`, naming the record.
#[test]
fn sealed_details_of_another_kind_are_a_sealed_finding() {
    use custody::core::record::{Access, DocRef, Sealed};
    let f = Fixture::with_samples();
    let cfg = f.show("1");
    let digest = cfg["sealed"]["digest"].as_str().unwrap();
    let sealed = Sealed {
        digest: Digest::from_hex(digest).unwrap(),
        size: cfg["sealed"]["size"].as_u64().unwrap(),
    };
    let doc = f.show(&INIT_RECORDS.to_string());
    let admin = SignerKey::parse(fs::read_to_string(f.admin_key()).unwrap().trim()).unwrap();
    let index = f.records();
    let rec = RecordBody {
        index,
        time_ms: 1_900_000_000_000,
        origin: "dropsite.example/leaks".into(),
        signer: f.record_signer(&admin),
        payload: Payload::Access(Access {
            about: DocRef {
                document: INIT_RECORDS,
                commitment: Digest::from_hex(doc["commitment"].as_str().unwrap()).unwrap(),
            },
            reason: String::new(),
            sealed: Some(sealed),
        }),
    }
    .sign(&admin)
    .unwrap();
    f.append_record(&rec);
    let (_, v) = f.verify(&[]);
    let checks: Vec<&str> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["checkpoint_missing"], "{v}");
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, FINDING, "{v}");
    let sealed: Vec<&serde_json::Value> = v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["check"] == "sealed")
        .collect();
    assert_eq!(sealed.len(), 1, "{v}");
    assert_eq!(sealed[0]["subject"]["id"], index, "{v}");
    assert!(
        sealed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("sealed details are config, not access"),
        "{v}"
    );
}
