//! The `age` CLI as an independent reader and writer of the archive's files,
//! and people's keys made by `custody keygen` (tests of rekey, people and
//! compartments).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{custody, require_tool, run, Fixture};

/// `custody keygen --x25519` for a person of the example outlet (whose keys
/// are X25519): their signing key and age identity in `people/NAME`.
pub fn person(f: &Fixture, name: &str) -> PathBuf {
    let dir = f.path().join("people").join(name);
    let mut c = custody();
    c.args([
        "keygen",
        "--x25519",
        "--name",
        &format!("dropsite.example/{name}"),
        "-o",
    ])
    .arg(&dir);
    run(c).ok();
    dir
}

/// Whether `age -d -i identity file` succeeds.
pub fn age_opens(identity: &Path, file: &Path) -> bool {
    age_open(identity, file).is_some()
}

/// `age -d -i identity file`'s plaintext, if it opens.
pub fn age_open(identity: &Path, file: &Path) -> Option<Vec<u8>> {
    let o = Command::new(require_tool("age"))
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    o.status.success().then_some(o.stdout)
}

/// `age -d -i identity file`'s plaintext; it must open.
pub fn age_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    age_open(identity, file).unwrap_or_else(|| panic!("age does not open {file:?}"))
}

/// `age -R recipient_file` of `plain` (the age CLI's file: what a rogue
/// tool writes).
pub fn age_encrypt(recipient_file: &Path, plain: &[u8]) -> Vec<u8> {
    let mut c = Command::new(require_tool("age"))
        .arg("-R")
        .arg(recipient_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(plain).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    o.stdout
}

/// Every file named by a digest under `root` (`blobs/` or a store directory).
pub fn digest_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(root) else {
        return out;
    };
    for d in rd {
        let d = d.unwrap().path();
        if !d.is_dir() || d.file_name().unwrap().len() != 2 {
            continue;
        }
        for f in fs::read_dir(&d).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

/// Every file of an archive's `blobs/`.
pub fn blob_files(archive: &Path) -> Vec<PathBuf> {
    digest_files(&archive.join("blobs"))
}
