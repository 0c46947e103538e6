//! Issue 15, item 6 (in part): secret key files are checked as ssh checks
//! them. Besides mode 0600: owned by the user (or root), in a directory no
//! other user can write (a sticky one like /tmp excepted) and owned by the
//! user or root. Otherwise exit 2, nothing written, and the message says
//! what to do; `--insecure-key-permissions` still overrides.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ingest` signed by the admin key at `key`: the command loads it.
fn ingest_with(f: &Fixture, key: &Path) -> Run {
    let doc = f.path().join("memo.txt");
    fs::write(&doc, "a memo\n").unwrap();
    f.run(&["--key", s(key), "ingest", s(&doc)])
}

#[test]
fn a_key_in_a_directory_others_can_write_is_refused_unless_sticky() {
    let f = Fixture::new();
    let dir = f.path().join("shared");
    fs::create_dir(&dir).unwrap();
    let key = dir.join("admin.key");
    fs::copy(f.admin_key(), &key).unwrap();
    set_mode(&key, 0o600);
    let before = f.records();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let r = ingest_with(&f, &key);
    r.code(ERROR);
    r.error(&["directory that another user can write"]);
    assert_eq!(f.records(), before);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o775)).unwrap();
    ingest_with(&f, &key).code(ERROR);
    // Sticky, like /tmp: no one else can replace the file.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    ingest_with(&f, &key).ok();
    // The explicit override still works.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let doc = f.path().join("other.txt");
    fs::write(&doc, "another memo\n").unwrap();
    f.run(&[
        "--insecure-key-permissions",
        "--key",
        s(&key),
        "ingest",
        s(&doc),
    ])
    .ok();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_key_owned_by_another_user_is_refused() {
    let f = Fixture::new();
    let key = f.path().join("keys").join("theirs.key");
    fs::copy(f.admin_key(), &key).unwrap();
    set_mode(&key, 0o600);
    // Giving a file away needs root (CI runs the tests as root).
    if std::os::unix::fs::chown(&key, Some(4242), None).is_err() {
        eprintln!("SKIPPED: chown needs root");
        return;
    }
    let before = f.records();
    let r = ingest_with(&f, &key);
    r.code(ERROR);
    r.error(&["owned by another user (uid 4242)"]);
    assert_eq!(f.records(), before);
}
