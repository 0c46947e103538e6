//! Issue 16, item 5: the smaller defects an independent implementer found,
//! one test each (docs/TESTING.md, "Reliability").
//!
//! 1. a record about no document (actor, config) given where a document is
//!    needed: one line naming the record, exit 2, nothing written (was
//!    "internal error … please report this as a bug"); a record about a
//!    document (annotate…) names that document (a derive of an annotate
//!    record named the annotate record as its parent, and the archive no
//!    longer verified);
//! 2. `keygen --passphrase-file F` without `--passphrase` protects the keys
//!    (was: unprotected keys, silently);
//! 3. `checkpoint_missing` says `record N` or `records N..=M` (was the
//!    half-open `records 22..23` for record 22 alone);
//! 4. a directory given as a bundle says it is a directory;
//! 5. a key file that is not UTF-8 says it is not a key file, never quoting it;
//! 6. `verify-bundle` reads `CUSTODY_IDENTITY` as every other command does;
//! 7. a trust store that is not UTF-8 (or not its TOML) is named as the
//!    trust store, with what to do about it (was "archive configuration …;
//!    fix or restore custody.toml from a backup", the wrong file).

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Point 1: every command that takes a document refuses an actor or config
/// record in one line (exit 2, no "internal error", nothing written), and a
/// record about a document stands for that document.
#[test]
fn non_document_record_given_as_document() {
    let f = Fixture::with_samples();
    let doc = INIT_RECORDS; // the first sample document
    let noted = f.json(&["annotate", &doc.to_string(), "checked"]);
    let note_rec = noted["index"].as_u64().unwrap();
    assert_eq!(f.show(&note_rec.to_string())["kind"], "annotate");
    let derived = f.path().join("derived.txt");
    fs::write(&derived, b"a translation\n").unwrap();
    let out = f.path().join("out.txt");
    let bundle = f.path().join("b.bundle");
    let (id, to) = (s(&f.identity()).to_string(), f.keys.join("recipient.txt"));
    let ds = doc.to_string();
    for (r, kind) in [("0", "an actor"), ("1", "a config")] {
        let cases: Vec<Vec<&str>> = vec![
            vec!["derive", r, s(&derived), "--relation", "translation"],
            vec![
                "derive",
                &ds,
                s(&derived),
                "--relation",
                "ocr",
                "--parent",
                r,
            ],
            vec!["share", r, "--to", s(&to), "-i", &id, "-o", s(&bundle)],
            vec!["extract", r, "-i", &id, "-o", s(&out)],
            vec!["annotate", r, "a note"],
            vec!["approve", r],
            vec!["grant", r, "#0"],
            vec!["audit", r],
            vec!["trace", r],
        ];
        for args in cases {
            let before = f.snapshot();
            let l = f.run(&args).error(&[
                &format!("record {r} is {kind} record, not a document"),
                "custody log",
            ]);
            assert!(
                !l.contains("internal error") && !l.contains("bug"),
                "{args:?}: {l}"
            );
            f.assert_unchanged(&before);
            assert!(!out.exists() && !bundle.exists(), "{args:?} wrote a file");
        }
        // `show` shows any record, with -i too.
        f.run(&["show", r, "-i", &id]).ok();
    }
    // A record about a document stands for it: the derived document's
    // parent is the annotated document, and the archive still verifies.
    let d = f.json(&[
        "derive",
        &note_rec.to_string(),
        s(&derived),
        "--relation",
        "translation",
    ]);
    let new = d["index"].as_u64().unwrap();
    let shown = f.show(&new.to_string());
    assert_eq!(shown["parents"][0]["document"], doc, "{shown}");
    f.assert_verified();
    let t = f.run(&["trace", &note_rec.to_string(), "--json"]);
    t.ok();
    assert_eq!(t.json()["trace"]["document"], doc);
}

/// Point 2: `--passphrase-file` (or `CUSTODY_PASSPHRASE_FILE`) implies
/// `--passphrase`: the keys are protected with the file's first line.
#[test]
fn keygen_passphrase_file_implies_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass.txt");
    fs::write(&pass, "correct horse battery staple\n").unwrap();
    let secrets = ["signing.key", "identity.age", "witness.key", "admin.key"];
    let protected = |dir: &Path| {
        secrets.iter().all(|f| {
            fs::read_to_string(dir.join(f))
                .unwrap()
                .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
        })
    };
    // The option, and the environment variable.
    for (n, by_env) in [(1, false), (2, true)] {
        let dir = tmp.path().join(format!("keys{n}"));
        let mut c = custody();
        if by_env {
            c.env("CUSTODY_PASSPHRASE_FILE", &pass);
        } else {
            c.arg("--passphrase-file").arg(&pass);
        }
        c.args(["keygen", "--name", "x.example/k", "-o", s(&dir), "--json"])
            .args(["--scrypt-work-factor", "2"]);
        let r = run(c);
        r.ok();
        assert_eq!(r.json()["passphrase_protected"], true, "{}", r.stdout);
        assert!(protected(&dir), "keys{n} were written unprotected");
        // And they open with that passphrase.
        let mut c = custody();
        c.arg("--passphrase-file").arg(&pass);
        c.args(["init", s(&tmp.path().join(format!("a{n}")))])
            .args(["--signing-key", s(&dir.join("signing.key"))])
            .args(["--admin-key", s(&dir.join("admin.key"))])
            .args(["--recipient", s(&dir.join("recipient.txt"))]);
        run(c).ok();
    }
    // Without a passphrase, unprotected as before.
    let dir = tmp.path().join("plain");
    let mut c = custody();
    c.args(["keygen", "--name", "x.example/k", "-o", s(&dir), "--json"]);
    let r = run(c);
    r.ok();
    assert_eq!(r.json()["passphrase_protected"], false);
    assert!(fs::read_to_string(dir.join("signing.key"))
        .unwrap()
        .starts_with("PRIVATE+KEY+"));
    // The help says so.
    let mut c = custody();
    c.args(["keygen", "--help"]);
    let h = run(c);
    h.ok();
    assert!(h.stdout.contains("implies --passphrase"), "{}", h.stdout);
}

/// Point 3: records no checkpoint covers are named as `record N` (one) or
/// `records N..=M` (an inclusive range), never a half-open `N..M+1`.
#[test]
fn checkpoint_missing_names_inclusive_range() {
    let f = Fixture::with_samples();
    let first = INIT_RECORDS + 8;
    for (files, want) in [
        (1, format!("record {first} is not covered")),
        (
            2,
            format!("records {first}..={} are not covered", first + 1),
        ),
    ] {
        // Records appended by `f`, copied without their checkpoint into a
        // copy made before, as an interrupted command leaves them.
        let old = f.duplicate();
        let g = f.duplicate();
        for n in 0..files {
            let p = g.path().join(format!("new{n}.txt"));
            fs::write(&p, format!("uncovered document {n}\n")).unwrap();
            g.ingest_json(&[s(&p)]);
        }
        fs::copy(g.ledger("records"), old.ledger("records")).unwrap();
        fs::remove_dir_all(old.dir.join("blobs")).unwrap();
        copy_dir(&g.dir.join("blobs"), &old.dir.join("blobs"));
        assert_eq!(old.records(), first + files);
        let (code, v) = old.verify(&[]);
        assert_eq!(code, FINDING, "{v}");
        assert_eq!(checks(&v), ["checkpoint_missing"], "{v}");
        let reason = findings_of(&v, "checkpoint_missing")[0]["reason"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(reason.starts_with(&want), "{reason} (wanted {want})");
        // The text output says the same.
        let t = old.run(&["verify"]);
        assert_eq!(t.code, FINDING);
        assert!(t.stdout.contains(&want), "{}", t.stdout);
    }
}

/// Point 4: a directory given where a bundle is read is named as a
/// directory, in one line (exit 2).
#[test]
fn directory_given_as_bundle() {
    let f = Fixture::with_samples();
    let dir = f.path().join("a-directory");
    fs::create_dir(&dir).unwrap();
    let vkey = f.vkey();
    let id = f.identity();
    for args in [
        vec!["verify-bundle", s(&dir), "--trust", s(&vkey)],
        vec!["receive", s(&dir), "--trust", s(&vkey), "-i", s(&id)],
        vec!["refresh-bundle", s(&dir)],
    ] {
        let before = f.snapshot();
        let l = f.run(&args).error(&["is a directory", "not a directory"]);
        assert!(!l.contains("not a custody bundle"), "{args:?}: {l}");
        f.assert_unchanged(&before);
    }
}

/// Point 5: a key file (secret or public, or what a passphrase opens) that
/// is not UTF-8 is "not a key file (not UTF-8 text)", one line, exit 2; its
/// content is never quoted.
#[test]
fn key_file_not_utf8() {
    let f = Fixture::with_samples();
    const MARK: &str = "zqxmarkerzqx";
    let bytes = [&b"\xff\xfe\x00\x80 "[..], MARK.as_bytes(), b"\n"].concat();
    let bad = f.path().join("keys").join("bad-key");
    fs::write(&bad, &bytes).unwrap();
    set_mode(&bad, 0o600);
    // A passphrase-protected file whose content is not UTF-8.
    let pass = f.path().join("pass.txt");
    fs::write(&pass, "pw\n").unwrap();
    let protected = f.path().join("keys").join("protected-key");
    let enc = custody::core::crypto::passphrase_encrypt(
        &bytes,
        age::secrecy::SecretString::from("pw".to_string()),
        Some(2),
    )
    .unwrap();
    fs::write(&protected, enc).unwrap();
    set_mode(&protected, 0o600);
    let doc = INIT_RECORDS.to_string();
    let b = s(&bad);
    let p = s(&protected);
    let pf = s(&pass);
    let cases: Vec<Vec<&str>> = vec![
        vec!["--key", b, "annotate", &doc, "x"],
        vec!["annotate", &doc, "x", "--signing-key", b],
        vec!["log", "-i", b],
        vec!["show", &doc, "-i", b],
        vec!["actor", "add", "bob", b, "--role", "editor"],
        vec!["trust", "add", "bob", b],
        vec!["--passphrase-file", pf, "--key", p, "annotate", &doc, "x"],
        vec!["--passphrase-file", pf, "log", "-i", p],
    ];
    for args in cases {
        let before = f.snapshot();
        let r = f.run(&args);
        let l = r.error(&["not a key file (not UTF-8 text)"]);
        assert!(
            l.contains("bad-key") || l.contains("protected-key"),
            "{args:?}: the file is not named: {l}"
        );
        assert!(
            !r.stderr.contains(MARK) && !r.stdout.contains(MARK),
            "{args:?}: the content was quoted: {l}"
        );
        assert!(!l.contains("free disk space"), "{args:?}: {l}");
        f.assert_unchanged(&before);
    }
}

/// Point 6: `verify-bundle` decrypts and checks the document with
/// `CUSTODY_IDENTITY` when no -i is given, as every other command does.
#[test]
fn verify_bundle_reads_custody_identity() {
    let f = Fixture::with_samples();
    let g = Fixture::new_as("guardian");
    let bundle = f.path().join("memo.bundle");
    f.share_to(&INIT_RECORDS.to_string(), &g, &bundle);
    let verify = |env: Option<&Path>| {
        let mut c = custody();
        c.current_dir(f.path()).args([
            "verify-bundle",
            s(&bundle),
            "--json",
            "--trust",
            s(&f.vkey()),
        ]);
        if let Some(id) = env {
            c.env("CUSTODY_IDENTITY", id);
        }
        run(c)
    };
    // Without an identity: everything but the document.
    let r = verify(None);
    r.ok();
    assert_eq!(r.json()["report"]["decrypted"], false, "{}", r.stdout);
    // With the recipient's identity in the environment: the document too.
    let r = verify(Some(&g.identity()));
    r.ok();
    let v = r.json();
    assert_eq!(v["report"]["decrypted"], true, "{v}");
    assert_eq!(
        v["report"]["sha256"].as_str().unwrap().len(),
        64,
        "no document digest in {v}"
    );
    // An identity the bundle was not shared with is an error, as with -i,
    // whose hint names the variable.
    verify(Some(&f.identity())).error(&["CUSTODY_IDENTITY"]);
}

/// Point 7: a damaged trust store (FORMAT.md §11.5) is reported as the
/// trust store, in one line naming the file and what to do (exit 2), never
/// as the archive's configuration; moved aside, it reads as empty.
#[test]
fn trust_store_not_utf8_names_the_trust_store() {
    let f = Fixture::new();
    let store = f.path().join("trust.toml");
    let trust = |args: &[&str]| {
        let mut c = f.cmd();
        c.env("CUSTODY_TRUST_STORE", &store).args(args);
        run(c)
    };
    for bad in [
        &b"[[key]]\nname = \"a\xff\"\n"[..],
        &b"[[key]\nname = 1\n"[..],
    ] {
        fs::write(&store, bad).unwrap();
        let vkey = f.vkey();
        let vkey = s(&vkey);
        let junk = f.path().join("junk");
        fs::write(&junk, "not evidence\n").unwrap();
        let junk = s(&junk);
        for args in [
            &["trust", "list"][..],
            &["verify-proof", "/nonexistent", "--trust", "x"],
            // These read it too, and no longer take a damaged one as empty.
            &["witness", "add-log", "dropsite.example/leaks", vkey],
            &["verify-evidence", junk, "--trust", "x"],
            &["mirror", s(f.path())],
        ] {
            let r = trust(args);
            let l = r.error(&["trust store", s(&store), "restore it from a backup"]);
            assert!(!l.contains("archive configuration"), "{l}");
            assert!(!l.contains("custody.toml"), "{l}");
        }
    }
    fs::write(&store, b"[[key]]\nname = \"a\xff\"\n").unwrap();
    assert!(trust(&["trust", "list"])
        .error(&[])
        .contains("is not UTF-8 text"));
    fs::remove_file(&store).unwrap();
    trust(&["trust", "list"]).ok();
}

/// `--json` asks every reporting command for JSON: `audit --json` printed
/// the text report (only `--format json` gave JSON).
#[test]
fn audit_takes_the_global_json_flag() {
    let f = Fixture::with_samples();
    let doc = (INIT_RECORDS + 1).to_string();
    let r = f.run(&["--json", "audit", &doc]);
    r.no_panic();
    assert!(r.code == OK || r.code == FINDING, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("audit --json prints JSON");
    let same = f.run(&["audit", &doc, "--format", "json"]);
    let w: serde_json::Value = serde_json::from_str(&same.stdout).unwrap();
    assert_eq!(v["findings"], w["findings"]);
}

/// A secret key given as a key name is refused before anything is written:
/// the name is public (it goes into every .vkey file) and was printed and
/// written whole.
#[test]
fn keygen_refuses_a_secret_key_as_a_name() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    for flag in ["--name", "--witness-name", "--admin-name"] {
        let out = tmp.path().join(flag.trim_start_matches('-'));
        let mut c = custody();
        c.arg("keygen").arg("-o").arg(&out);
        if flag != "--name" {
            c.args(["--name", "dropsite.example/leaks"]);
        }
        c.args([flag, secret]);
        let r = run(c);
        let line = r.error(&[flag, "looks like a secret key"]);
        assert!(!line.contains("QQQQQQQQQ"), "{line}");
        assert!(!r.stdout.contains("QQQQQQQQQ"));
        assert!(!out.exists(), "{flag}: keys were written");
    }
}
