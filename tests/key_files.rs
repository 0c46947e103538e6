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

/// A passphrase-protected key file whose scrypt stanza asks for more work
/// than custody accepts (FORMAT.md §3.5: at most 20, 1 GiB) is refused before
/// the passphrase is used or any scrypt work done: exit 2 at once, nothing
/// created. (Before, a hostile file could ask scrypt for 8 GiB.)
#[test]
fn a_passphrase_key_asking_too_much_scrypt_work_is_refused_before_any_work() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass.txt");
    fs::write(&pass, "correct horse battery staple\n").unwrap();
    let dir = tmp.path().join("keys");
    let mut c = custody();
    c.args(["keygen", "--name", "hostile.example/log", "-o", s(&dir)])
        .args(["--passphrase", "--passphrase-file", s(&pass)])
        .args(["--scrypt-work-factor", "10"]);
    run(c).ok();
    let skey = dir.join("signing.key");
    let armored = fs::read_to_string(&skey).unwrap();
    let body: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let raw = b64.decode(body).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let stanza = text.lines().find(|l| l.starts_with("-> scrypt ")).unwrap();
    assert!(stanza.ends_with(" 10"), "{stanza}");
    let archive = tmp.path().join("archive");
    for (asked, needle) in [
        ("30", "work factor of 30"),
        ("21", "work factor of 21"),
        (
            "010",
            "not a decimal number up to 255 without sign or leading zeros",
        ),
        ("+9", "not a decimal number"),
    ] {
        let hostile = format!("{} {asked}", &stanza[..stanza.len() - 3]);
        let forged = String::from_utf8_lossy(&raw).replacen(stanza, &hostile, 1);
        let mut bytes = forged.into_bytes();
        // The payload after the header is binary: splice it back unchanged.
        let head_end = text.find("\n---").unwrap();
        let shift = hostile.len() as isize - stanza.len() as isize;
        let tail_at = (head_end as isize + shift) as usize;
        bytes.truncate(tail_at);
        bytes.extend_from_slice(&raw[head_end..]);
        let mut out = String::from("-----BEGIN AGE ENCRYPTED FILE-----\n");
        for chunk in b64.encode(&bytes).as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str("-----END AGE ENCRYPTED FILE-----\n");
        fs::write(&skey, out).unwrap();
        set_mode(&skey, 0o600);
        let started = std::time::Instant::now();
        let mut c = custody();
        c.arg("init")
            .arg(&archive)
            .arg("--signing-key")
            .arg(&skey)
            .arg("--admin-key")
            .arg(dir.join("admin.key"))
            .arg("--recipient")
            .arg(dir.join("recipient.txt"))
            .args(["--passphrase-file", s(&pass)]);
        let r = run(c);
        r.error(&[needle, "age -p"]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(!archive.join("custody.toml").exists());
    }
    // custody itself never writes such a file.
    let mut c = custody();
    c.args([
        "keygen",
        "--name",
        "x.example/log",
        "-o",
        s(&tmp.path().join("k2")),
    ])
    .args(["--passphrase", "--passphrase-file", s(&pass)])
    .args(["--scrypt-work-factor", "21"]);
    let r = run(c);
    r.code(ERROR);
    assert!(r.stderr.contains("21 is not in 1..=20"), "{}", r.stderr);
}
