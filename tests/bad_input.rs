//! Bad input: every case exits 2 with one `error: …; hint` line on stderr and
//! leaves the archive as it was (verify passes, same record count, identical
//! ledger files).

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::*;

/// An archive with the samples, and its state before the bad command.
fn setup() -> (Fixture, Snapshot) {
    let f = Fixture::with_samples();
    let s = f.snapshot();
    assert_eq!(s.count, INIT_RECORDS + 8);
    (f, s)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_path() {
    let (f, before) = setup();
    let missing = f.path().join("no-such-dir");
    let line = f
        .run(&["ingest", s(&missing)])
        .error(&["no-such-dir", "check that"]);
    assert!(line.contains("exists"), "{line}");
    // A missing path after a good one: nothing of the good one is ingested either.
    let good = sample_leak().join("README.txt");
    f.run(&["ingest", s(&good), s(&missing)])
        .error(&["no-such-dir"]);
    f.assert_unchanged(&before);
}

/// The effective user ID of this test process (owner of a file it creates).
fn euid(dir: &Path) -> u32 {
    let p = dir.join(".whoami");
    File::create(&p).unwrap();
    let uid = fs::metadata(&p).unwrap().uid();
    fs::remove_file(&p).unwrap();
    uid
}

fn chown_tree(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
    if fs::symlink_metadata(p).unwrap().is_dir() {
        for e in fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

const NOBODY: u32 = 65534;

/// Runs `custody -A ARCHIVE ARGS…` as a user who cannot read `closed`
/// (mode 000). As root (CI), permissions do not stop reads, so the command
/// runs as nobody (setpriv) with the archive and keys chowned to it, while
/// the closed paths stay root's.
fn without_access(f: &Fixture, closed: &[&Path], args: &[&str]) -> Run {
    for p in closed {
        set_mode(p, 0o000);
    }
    if euid(f.path()) != 0 {
        assert!(
            fs::read(closed[0]).is_err(),
            "this user reads a mode 000 file"
        );
        return f.run(args);
    }
    let setpriv = require_tool("setpriv");
    // nobody must reach the binary: copy it into the temp dir.
    let bin = f.path().join("custody-bin");
    fs::copy(assert_cmd::cargo::cargo_bin("custody"), &bin).unwrap();
    set_mode(&bin, 0o755);
    chown_tree(f.path(), NOBODY, NOBODY);
    for p in closed {
        std::os::unix::fs::chown(p, Some(0), Some(0)).unwrap();
    }
    set_mode(f.path(), 0o755);
    // Sanity: nobody cannot read the first closed path.
    let mut probe = assert_cmd::Command::new(&setpriv);
    probe
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(closed[0]);
    assert_ne!(run(probe).code, 0, "nobody can read {:?}", closed[0]);
    let mut c = assert_cmd::Command::new(setpriv);
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .env("NO_COLOR", "1")
        .env_remove("CUSTODY_ARCHIVE")
        .env_remove("CUSTODY_SIGNING_KEY")
        .arg("-A")
        .arg(&f.dir)
        .args(args);
    run(c)
}

/// Files the command cannot read: one error names every one of them (a
/// file and a directory), and nothing is written; with --skip-unreadable
/// the rest is stored and the skipped are listed (issue 19, item 5).
#[test]
fn unreadable_file() {
    let (f, before) = setup();
    let input = f.path().join("incoming");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a-readable.txt"), b"fine\n").unwrap();
    let secret = input.join("b-unreadable.txt");
    fs::write(&secret, b"you cannot read me\n").unwrap();
    let closed = input.join("c-closed");
    fs::create_dir(&closed).unwrap();
    fs::write(closed.join("inside.txt"), b"inside\n").unwrap();
    let r = without_access(&f, &[&secret, &closed], &["ingest", s(&input)]);
    let line = r.error(&[
        "b-unreadable.txt",
        "Permission denied",
        "check the permissions of",
    ]);
    assert!(
        line.contains("2 path(s) cannot be read") && line.contains("c-closed"),
        "{line}"
    );
    f.assert_unchanged(&before);
    let r = without_access(
        &f,
        &[&secret, &closed],
        &["ingest", s(&input), "--skip-unreadable", "--json"],
    );
    r.ok();
    let v = r.json_lines().pop().unwrap();
    assert_eq!(v["summary"]["files"], 1, "{v}");
    let skipped = v["skipped_unreadable"].to_string();
    assert!(
        skipped.contains("b-unreadable.txt") && skipped.contains("c-closed"),
        "{v}"
    );
    assert!(r.stderr.contains("skipped unreadable"), "{}", r.stderr);
    // And recorded, encrypted: a note about the document stored.
    let note = v["skipped_recorded_in"].as_u64().expect("a note record");
    // (As root, the command ran as nobody: the files go back to root.)
    if euid(f.path()) == 0 {
        chown_tree(f.path(), 0, 0);
    }
    let shown = f.json(&["show", &note.to_string(), "-i", s(&f.identity())]);
    assert_eq!(shown["kind"], "annotate", "{shown}");
    let text = shown["note_text"].as_str().unwrap();
    assert!(
        text.contains("skipped 2 unreadable path(s)")
            && text.contains("b-unreadable.txt")
            && text.contains("c-closed"),
        "{text}"
    );
    f.assert_verified();
}

#[test]
fn symlink_loop_with_follow_symlinks() {
    let (f, before) = setup();
    let input = f.path().join("loopy");
    fs::create_dir_all(input.join("sub")).unwrap();
    fs::write(input.join("sub/doc.txt"), b"doc\n").unwrap();
    std::os::unix::fs::symlink("..", input.join("sub/up")).unwrap();
    f.run(&["ingest", s(&input), "--follow-symlinks"])
        .error(&["symbolic link loop", "--follow-symlinks"]);
    f.assert_unchanged(&before);
    // Without --follow-symlinks the link is skipped with a warning.
    let r = f.run(&["ingest", s(&input)]);
    r.ok();
    assert!(
        r.stderr.contains("warning: skipped symbolic link"),
        "{}",
        r.stderr
    );
    assert_eq!(f.records(), INIT_RECORDS + 9);
}

#[test]
fn ingest_into_missing_and_foreign_dirs() {
    let f = Fixture::uninit();
    let doc = sample_leak().join("README.txt");
    assert!(!Path::new("/nonexistent").exists());
    let mut c = custody();
    c.args(["-A", "/nonexistent", "ingest", s(&doc)]);
    run(c).error(&["no custody archive", "/nonexistent"]);
    assert!(!Path::new("/nonexistent").exists());

    let missing = f.path().join("missing");
    let mut c = custody();
    c.arg("-A").arg(&missing).args(["ingest", s(&doc)]);
    run(c).error(&["no custody archive", "custody.toml"]);
    assert!(!missing.exists());

    let foreign = f.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), b"mine").unwrap();
    let mut c = custody();
    c.arg("-A")
        .arg(&foreign)
        .args(["ingest", s(&doc), "--signing-key", s(&f.signing_key())]);
    run(c).error(&["no custody archive", "has no custody.toml"]);
    let names: Vec<_> = fs::read_dir(&foreign)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["notes.txt"],
        "nothing was created in the foreign dir"
    );
}

#[test]
fn unsupported_format_version() {
    let (f, before) = setup();
    let toml = f.dir.join("custody.toml");
    let orig = fs::read_to_string(&toml).unwrap();
    assert!(orig.contains("format = 1\n"));
    fs::write(&toml, orig.replace("format = 1\n", "format = 2\n")).unwrap();
    let doc = sample_leak().join("README.txt");
    for args in [vec!["ingest", s(&doc)], vec!["status"], vec!["verify"]] {
        f.run(&args).error(&[
            "archive format version 2 is not supported",
            "upgrade custody",
        ]);
    }
    assert_eq!(
        fs::read_to_string(&toml).unwrap(),
        orig.replace("format = 1\n", "format = 2\n")
    );
    fs::write(&toml, &orig).unwrap();
    f.assert_unchanged(&before);
}

#[test]
fn wrong_identity_for_extract() {
    let (f, before) = setup();
    let guardian = f.other_keys("guardian");
    let out = f.path().join("out.txt");
    let rec = (INIT_RECORDS + 3).to_string();
    f.run(&[
        "extract",
        &rec,
        "-i",
        s(&guardian.join("identity.age")),
        "-o",
        s(&out),
    ])
    .error(&[
        "decryption failed",
        "identity of one of the archive's recipients",
    ]);
    assert!(!out.exists());
    // Nor does it leave a temporary file.
    let tmps = fs::read_dir(f.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(tmps, 0);
    f.assert_unchanged(&before);
}

#[test]
fn missing_identity_file() {
    let (f, before) = setup();
    let out = f.path().join("out.txt");
    let missing = f.path().join("no-identity.age");
    let rec = (INIT_RECORDS + 3).to_string();
    f.run(&["extract", &rec, "-i", s(&missing), "-o", s(&out)])
        .error(&["no-identity.age", "check that"]);
    assert!(!out.exists());
    f.run(&["verify", "--deep", "-i", s(&missing)])
        .error(&["no-identity.age"]);
    f.assert_unchanged(&before);
}

/// The dropsite signing key with its last base64 characters damaged, and cut short.
fn bad_keys(f: &Fixture) -> (PathBuf, PathBuf) {
    let good = fs::read_to_string(f.signing_key()).unwrap();
    let good = good.trim_end();
    let corrupt = f.path().join("corrupt.key");
    let mut c = good[..good.len() - 6].to_string();
    c.push_str("!!@@##");
    fs::write(&corrupt, format!("{c}\n")).unwrap();
    set_mode(&corrupt, 0o600);
    let truncated = f.path().join("truncated.key");
    fs::write(&truncated, &good.as_bytes()[..good.len() / 2]).unwrap();
    set_mode(&truncated, 0o600);
    (corrupt, truncated)
}

#[test]
fn corrupt_and_truncated_signing_key() {
    let (f, before) = setup();
    let (corrupt, truncated) = bad_keys(&f);
    let doc = sample_leak().join("README.txt");
    for key in [&corrupt, &truncated] {
        let name = key.file_name().unwrap().to_str().unwrap();
        let line = f
            .run(&["ingest", s(&doc), "--signing-key", s(key)])
            .error(&[name, "not a valid signing key", "give the right key file"]);
        assert!(
            !line.contains("PRIVATE+KEY+dropsite"),
            "secret echoed: {line}"
        );
        f.run(&["checkpoint", "--sign", "--signing-key", s(key)])
            .error(&[name]);
    }
    // Binary garbage as a key file.
    let garbage = f.path().join("garbage.key");
    fs::write(&garbage, [0xffu8, 0xfe, 0x00, 0x80, 0x81]).unwrap();
    set_mode(&garbage, 0o600);
    f.run(&["ingest", s(&doc), "--signing-key", s(&garbage)])
        .error(&["garbage.key", "not a key file (not UTF-8 text)"]);
    // An empty key file.
    let empty = f.path().join("empty.key");
    fs::write(&empty, b"").unwrap();
    set_mode(&empty, 0o600);
    f.run(&["ingest", s(&doc), "--signing-key", s(&empty)])
        .error(&["empty.key"]);
    f.assert_unchanged(&before);
}

#[test]
fn world_readable_secret_key() {
    let (f, before) = setup();
    let open = f.path().join("open.key");
    fs::copy(f.signing_key(), &open).unwrap();
    set_mode(&open, 0o644);
    let doc = sample_leak().join("README.txt");
    f.run(&["ingest", s(&doc), "--signing-key", s(&open)])
        .error(&[
            "permissions 0644",
            "too open",
            &format!("chmod 600 {}", open.display()),
        ]);
    let open_id = f.path().join("open-identity.age");
    fs::copy(f.identity(), &open_id).unwrap();
    set_mode(&open_id, 0o640);
    let out = f.path().join("out.txt");
    let first_doc = INIT_RECORDS.to_string();
    f.run(&["extract", &first_doc, "-i", s(&open_id), "-o", s(&out)])
        .error(&["permissions 0640", "chmod 600"]);
    assert!(!out.exists());
    f.assert_unchanged(&before);
    // --insecure-key-permissions accepts them.
    let r = f.run(&[
        "ingest",
        s(&doc),
        "--signing-key",
        s(&open),
        "--insecure-key-permissions",
    ]);
    r.ok();
    assert_eq!(f.records(), INIT_RECORDS + 9);
    let new_doc = (INIT_RECORDS + 8).to_string();
    f.run(&[
        "extract",
        &new_doc,
        "-i",
        s(&open_id),
        "-o",
        s(&out),
        "--insecure-key-permissions",
    ])
    .ok();
    assert_eq!(
        fs::read(&out).unwrap(),
        sample_bytes("sample-leak/README.txt")
    );
    f.assert_verified();
}

/// A second writer while the lock is held: refused, naming the holder's PID.
#[test]
fn concurrent_writer_is_refused() {
    let (f, before) = setup();
    let lock_path = f.dir.join("lock");
    let mut lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    lock.set_len(0).unwrap();
    lock.write_all(b"424242\n").unwrap();
    lock.flush().unwrap();
    let doc = sample_leak().join("README.txt");
    f.run(&["ingest", s(&doc)]).error(&[
        "archive is in use by another process (PID 424242)",
        "try again",
    ]);
    f.run(&["checkpoint", "--sign"])
        .error(&["archive is in use by another process (PID 424242)"]);
    f.run(&["reindex"]).error(&["in use"]);
    assert_eq!(fs::read_to_string(&lock_path).unwrap(), "424242\n");
    lock.unlock().unwrap();
    drop(lock);
    f.assert_unchanged(&before);
}

#[test]
fn extract_of_nonexistent_ref() {
    let (f, before) = setup();
    let id = f.identity();
    let out = f.path().join("out.txt");
    let past_end = (INIT_RECORDS + 8).to_string();
    for r in [past_end.as_str(), "99999", "abcdef0123", "ffffeeee"] {
        f.run(&["extract", r, "-i", s(&id), "-o", s(&out)])
            .error(&["no record matches", "custody log"]);
    }
    // Not a REF at all.
    for r in ["xyz!", "ab", "-"] {
        let run_ = f.run(&["extract", r, "-i", s(&id), "-o", s(&out)]);
        assert_eq!(run_.code, ERROR, "{r}: {}", run_.stderr);
        run_.no_panic();
    }
    f.run(&["show", "abc"]).error(&["at least 4 hex digits"]);
    assert!(!out.exists());
    f.assert_unchanged(&before);
}

#[test]
fn ambiguous_digest_prefix() {
    let f = Fixture::new();
    let doc = sample_leak().join("emails/msg-0001.eml");
    let a = f.ingest_json(&[s(&doc)]);
    let b = f.ingest_json(&["--again", s(&doc)]);
    assert_eq!(a[0]["blob"], b[0]["blob"]);
    let before = f.snapshot();
    let blob = a[0]["blob"].as_str().unwrap();
    let out = f.path().join("out.txt");
    let id = f.identity();
    let prefix = &hex_ref(blob, 8);
    f.run(&["extract", prefix, "-i", s(&id), "-o", s(&out)])
        .error(&[&format!("{prefix} matches 2 records"), "more hex digits"]);
    f.run(&["show", prefix]).error(&["matches 2 records"]);
    f.run(&["prove", prefix]).error(&["matches 2 records"]);
    // Even the whole blob address is ambiguous.
    f.run(&["show", blob]).error(&["matches 2 records"]);
    assert!(!out.exists());
    f.assert_unchanged(&before);
}

#[test]
fn init_over_an_existing_archive() {
    let (f, before) = setup();
    let toml = fs::read(f.dir.join("custody.toml")).unwrap();
    let r = f.init_with(&[]);
    r.error(&["already holds a custody archive", "nothing was changed"]);
    // Also with another outlet's keys.
    let g = f.other_keys("guardian");
    let mut c = custody();
    c.arg("init")
        .arg(&f.dir)
        .arg("--signing-key")
        .arg(g.join("signing.key"))
        .arg("--admin-key")
        .arg(g.join("admin.key"))
        .arg("--recipient")
        .arg(g.join("recipient.txt"));
    run(c).error(&["already holds a custody archive"]);
    assert_eq!(fs::read(f.dir.join("custody.toml")).unwrap(), toml);
    f.assert_unchanged(&before);
}

#[test]
fn ingest_with_another_outlets_signing_key() {
    let (f, before) = setup();
    let doc = sample_leak().join("README.txt");
    for outlet in ["guardian", "972mag", "localcall"] {
        let k = f.other_keys(outlet).join("signing.key");
        f.run(&["ingest", s(&doc), "--signing-key", s(&k)]).error(&[
            "is not the archive's log key",
            "dropsite.example/leaks+e28d9b2b",
        ]);
        f.run(&["checkpoint", "--sign", "--signing-key", s(&k)])
            .error(&["is not the archive's log key"]);
    }
    // Nor through the environment.
    let k = f.other_keys("guardian").join("signing.key");
    let mut c = f.cmd();
    c.env("CUSTODY_SIGNING_KEY", &k).args(["ingest", s(&doc)]);
    run(c).error(&["is not the archive's log key"]);
    f.assert_unchanged(&before);
}
