//! Path safety (issue 6): names that come from outside can never make
//! `custody` write outside the output chosen.
//!
//! * A bundle's share envelope names the document. A hostile sender (here: a
//!   Drop Site whose test keys are public) signs a share record over an
//!   envelope naming `../x`, an absolute path, `..`, a name with a NUL or a
//!   newline, …: `receive` and `verify-bundle` refuse it with one clear line,
//!   the receiving archive is unchanged and no file appears anywhere.
//! * A file name that is legal on disk but not a safe name (a newline, a
//!   backslash) is sanitised when shared: the partner gets `document`.
//! * `extract` writes only the file given with `-o`: never into the archive
//!   (also through a symbolic link, or `..`), never through a link planted at
//!   the output (a link is replaced, not followed), never onto a directory;
//!   and a refused target is refused before the `access` record is written.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::*;
use custody::core::bundle::{read_head, write_head, BundleHead};
use custody::core::crypto::{self, Identities, RecipientKey};
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::record::{Payload, Record};
use custody::core::tlog_proof::TlogProof;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every path under `root` except those under `skip` (a tree's listing).
fn files_under(root: &Path, skip: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.starts_with(skip) {
                continue;
            }
            if p.is_dir() && !p.is_symlink() {
                todo.push(p.clone());
            }
            out.insert(p);
        }
    }
    out
}

fn load(path: &Path) -> (BundleHead, Vec<u8>) {
    let bytes = fs::read(path).unwrap();
    let mut r = &bytes[..];
    let head = read_head(&mut r).unwrap();
    (head, r.to_vec())
}

fn save(path: &Path, head: &BundleHead, payload: &[u8]) {
    let mut out = Vec::new();
    write_head(&mut out, head).unwrap();
    out.extend_from_slice(payload);
    fs::write(path, out).unwrap();
}

/// Drop Site, a hostile sender, and the Guardian, who receives.
struct World {
    ds: Fixture,
    gu: Fixture,
    /// A genuine bundle of the seventh sample document (record
    /// `INIT_RECORDS + 6`) for the Guardian.
    genuine: PathBuf,
}

impl World {
    fn new() -> World {
        let ds = Fixture::with_samples();
        let gu = Fixture::new_as("guardian");
        let genuine = ds.path().join("genuine.bundle");
        ds.share_to(&(INIT_RECORDS + 6).to_string(), &gu, &genuine);
        World { ds, gu, genuine }
    }

    /// A bundle whose envelope names `name`, signed by Drop Site's admin key
    /// like a genuine one: the share record (appended to Drop Site's log)
    /// commits to that envelope, and `refresh-bundle` proves it.
    fn forge(&self, name: &str, out: &Path) {
        let (mut head, payload) = load(&self.genuine);
        let ids = Identities::parse(&fs::read(self.gu.identity()).unwrap()).unwrap();
        let plain = crypto::decrypt_bytes(&ids, &head.envelope, 1 << 20).unwrap();
        let mut env: Value = serde_json::from_slice(&plain).unwrap();
        env["name"] = Value::String(name.to_string());
        let to = RecipientKey::parse(
            fs::read_to_string(self.gu.keys.join("recipient.txt"))
                .unwrap()
                .trim(),
        )
        .unwrap();
        head.envelope = crypto::encrypt_bytes(&[to], &serde_json::to_vec(&env).unwrap()).unwrap();
        // The share record, again, over the new envelope.
        let hop = head.evidence.hops.last_mut().unwrap();
        let k = hop
            .entries
            .iter()
            .position(|e| {
                let p = TlogProof::parse(e).unwrap();
                let r = Record::decode(p.extra().unwrap()).unwrap();
                matches!(r.body.payload, Payload::Share(_))
            })
            .unwrap();
        let old = TlogProof::parse(&hop.entries[k]).unwrap();
        let mut body = Record::decode(old.extra().unwrap()).unwrap().body;
        let Payload::Share(share) = &mut body.payload else {
            unreachable!()
        };
        share.envelope = Digest::of(&head.envelope);
        body.index = self.ds.records();
        // Signed by Drop Site's admin, who signed the genuine one: after the
        // configuration record the log key signs only checkpoints.
        let key =
            SignerKey::parse(fs::read_to_string(self.ds.admin_key()).unwrap().trim()).unwrap();
        let rec = body.sign(&key).unwrap();
        self.ds.append_record(&rec);
        self.ds.run(&["checkpoint", "--sign"]).ok();
        hop.entries[k] = TlogProof::new(
            rec.body.index,
            Vec::new(),
            Some(rec.bytes().to_vec()),
            old.checkpoint_note(),
        )
        .unwrap()
        .encode()
        .into_bytes();
        save(out, &head, &payload);
        self.ds.run(&["refresh-bundle", s(out)]).ok();
    }
}

/// Hostile names for a share envelope, with what each tries.
fn hostile_names(abs: &Path) -> Vec<(String, &'static str)> {
    vec![
        ("../x".into(), "parent directory"),
        ("../../../../../../tmp/x".into(), "many parents"),
        (s(abs).to_string(), "absolute path"),
        ("/etc/x".into(), "absolute path"),
        ("a/../../x".into(), "a path through a parent"),
        ("a/b".into(), "a subdirectory"),
        ("..".into(), "the parent itself"),
        (".".into(), "the directory itself"),
        (String::new(), "empty"),
        ("x\0.txt".into(), "a NUL byte"),
        ("..\\x".into(), "a backslash parent"),
        ("a\\..\\..\\x".into(), "backslash separators"),
        ("C:\\x".into(), "a drive letter"),
        ("x".repeat(256), "longer than a file name may be"),
        ("memo\n.txt".into(), "a newline"),
        ("memo\r.txt".into(), "a carriage return"),
    ]
}

#[test]
fn hostile_names_in_a_signed_bundle_are_refused_and_write_nothing() {
    let w = World::new();
    let escape = w.gu.path().join("escaped");
    // The forged bundle verifies as signed evidence (its share record commits
    // to the envelope), so the name check is what refuses it.
    let probe = w.ds.path().join("probe.bundle");
    w.forge("../x", &probe);
    let r = {
        let mut c = custody();
        c.args(["verify-bundle", s(&probe), "--trust", s(&w.ds.vkey())]);
        run(c)
    };
    r.ok();
    let gu_before = w.gu.snapshot();
    let cwd = w.gu.path().join("work/inner");
    fs::create_dir_all(&cwd).unwrap();
    let mut tried = 0;
    for (i, (name, what)) in hostile_names(&escape).into_iter().enumerate() {
        let bundle = w.ds.path().join(format!("hostile-{i}.bundle"));
        w.forge(&name, &bundle);
        let before = files_under(w.gu.path(), &w.gu.dir);
        // verify-bundle with the identity decrypts the envelope: refused.
        let mut c = custody();
        c.current_dir(&cwd).args([
            "verify-bundle",
            s(&bundle),
            "--trust",
            s(&w.ds.vkey()),
            "-i",
            s(&w.gu.identity()),
        ]);
        let r = run(c);
        r.no_panic();
        assert_ne!(r.code, OK, "{what}: verify-bundle accepted {name:?}");
        // receive: refused (exit 1: the envelope the share record signed
        // does not parse, a `commitment` finding, FORMAT.md §10.3), nothing
        // stored.
        let mut c = w.gu.cmd();
        c.current_dir(&cwd).args([
            "receive",
            s(&bundle),
            "-i",
            s(&w.gu.identity()),
            "--trust",
            s(&w.ds.vkey()),
        ]);
        let r = run(c);
        r.code(FINDING);
        assert!(
            r.stdout.contains("commitment") && r.stdout.contains("unsafe file name"),
            "{what}: {}",
            r.stdout
        );
        assert!(!r.stdout.contains('\0'), "{what}: {:?}", r.stdout);
        assert!(
            r.stderr.contains("nothing was stored"),
            "{what}: {}",
            r.stderr
        );
        w.gu.assert_unchanged(&gu_before);
        assert_eq!(
            files_under(w.gu.path(), &w.gu.dir),
            before,
            "{what}: a file appeared"
        );
        assert!(!escape.exists() && !Path::new("/etc/x").exists());
        tried += 1;
    }
    // The genuine bundle is still received (the refusals changed nothing).
    let r = w.gu.json(&[
        "receive",
        s(&w.genuine),
        "-i",
        s(&w.gu.identity()),
        "--trust",
        s(&w.ds.vkey()),
    ]);
    assert_eq!(r["name"], "2026-03-14-board-memo.txt");
    assert_eq!(
        SAMPLE_FILES[6],
        "sample-leak/memos/2026-03-14-board-memo.txt"
    );
    eprintln!("path safety: {tried} hostile envelope names refused");
}

#[test]
fn names_legal_on_disk_but_unsafe_are_sanitised_when_shared() {
    let ds = Fixture::new();
    let gu = Fixture::new_as("guardian");
    let dir = ds.path().join("leak");
    fs::create_dir(&dir).unwrap();
    let names = ["memo\nsecond line.txt", "back\\slash.txt", "tab\there.txt"];
    for (i, n) in names.iter().enumerate() {
        fs::write(dir.join(n), format!("document {i}\n")).unwrap();
    }
    let done = ds.ingest_json(&[s(&dir)]);
    assert_eq!(done.len(), names.len());
    for d in &done {
        let i = d["index"].to_string();
        let bundle = ds.path().join(format!("b{i}.bundle"));
        ds.json(&[
            "share",
            &i,
            "--to",
            s(&gu.keys.join("recipient.txt")),
            "-i",
            s(&ds.identity()),
            "-o",
            s(&bundle),
        ]);
        let got = gu.json(&[
            "receive",
            s(&bundle),
            "-i",
            s(&gu.identity()),
            "--trust",
            s(&ds.vkey()),
        ]);
        assert_eq!(got["name"], "document", "{d}");
    }
    gu.assert_verified();
}

/// Extract targets that are refused, each before an `access` record is written.
#[test]
fn extract_never_writes_into_the_archive_or_through_a_planted_link() {
    let f = Fixture::with_samples();
    let id = f.identity();
    let out = f.path().join("out");
    fs::create_dir(&out).unwrap();
    let victim = f.path().join("victim.txt");
    fs::write(&victim, b"not to be touched\n").unwrap();
    // A directory that is a link into the archive, and one into blobs/.
    symlink(&f.dir, out.join("into-archive")).unwrap();
    symlink(f.dir.join("blobs/ab"), out.join("into-shard")).unwrap();
    // Links planted at the output name: to a file outside, and dangling.
    symlink(&victim, out.join("to-victim")).unwrap();
    symlink(f.path().join("nowhere.txt"), out.join("dangling")).unwrap();
    let before = f.snapshot();
    let through_dots = out.join("../archive/plain.txt");
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (
            out.join("into-archive/plain.txt"),
            vec![],
            "inside the archive",
        ),
        (
            out.join("into-shard/plain.txt"),
            vec![],
            "inside the archive",
        ),
        (through_dots.clone(), vec![], "inside the archive"),
        (
            out.join("into-archive/plain.txt"),
            vec!["--force"],
            "inside the archive",
        ),
        (out.join("to-victim"), vec![], "already exists"),
        (out.join("dangling"), vec![], "already exists"),
        (out.clone(), vec![], "is a directory"),
        (out.clone(), vec!["--force"], "is a directory"),
    ];
    // The fourth sample document.
    let doc = (INIT_RECORDS + 3).to_string();
    for (target, extra, needle) in &cases {
        let mut args = vec!["extract", &doc, "-i", s(&id), "-o", s(target)];
        args.extend(extra);
        f.run(&args).error(&[needle]);
        f.assert_unchanged(&before);
    }
    assert_eq!(fs::read(&victim).unwrap(), b"not to be touched\n");
    assert!(!f.path().join("nowhere.txt").exists());
    assert!(!f.dir.join("plain.txt").exists());
    // With --force a planted link is replaced by the file, never followed.
    let r = f.json(&[
        "extract",
        &doc,
        "-i",
        s(&id),
        "-o",
        s(&out.join("to-victim")),
        "--force",
    ]);
    assert_eq!(r["index"], INIT_RECORDS + 3);
    assert!(!out.join("to-victim").is_symlink());
    assert_eq!(
        fs::read(out.join("to-victim")).unwrap(),
        sample_bytes(SAMPLE_FILES[3])
    );
    assert_eq!(fs::read(&victim).unwrap(), b"not to be touched\n");
    f.json(&[
        "extract",
        &doc,
        "-i",
        s(&id),
        "-o",
        s(&out.join("dangling")),
        "--force",
    ]);
    assert!(!f.path().join("nowhere.txt").exists());
    // Two extracts, two access records, nothing else.
    assert_eq!(f.records(), before.count + 2);
    f.assert_verified();
}

/// Issue 6 regression: `extract` refused because the output's directory is
/// a link into the archive used to append its `access` record first.
#[test]
fn regression_extract_refused_inside_the_archive_records_no_access() {
    let f = Fixture::with_samples();
    let link = f.path().join("looks-outside");
    symlink(f.dir.join("ledger"), &link).unwrap();
    let before = f.records();
    f.run(&[
        "extract",
        &(INIT_RECORDS + 3).to_string(),
        "-i",
        s(&f.identity()),
        "-o",
        s(&link.join("plain.txt")),
        "--reason",
        "check",
    ])
    .error(&["inside the archive"]);
    assert_eq!(f.records(), before, "an access record was written");
    assert!(!f.dir.join("ledger/plain.txt").exists());
}
