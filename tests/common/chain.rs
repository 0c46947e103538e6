//! Helpers of the tests of custody between outlets, lineage and exports:
//! trust arguments, bundles read and written whole, and verify.py run with
//! python3 alone on PATH.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use custody::core::bundle::{read_head, write_head, BundleHead, BUNDLE_MAGIC};

use super::{Fixture, Run};

/// `--trust VKEY` for each outlet's log key.
pub fn trust_args(fs: &[&Fixture]) -> Vec<String> {
    fs.iter()
        .flat_map(|f| {
            [
                "--trust".to_string(),
                f.vkey().to_str().unwrap().to_string(),
            ]
        })
        .collect()
}

/// `a` followed by `more`, as one argument list.
pub fn args<'a>(a: &'a [&'a str], more: &'a [String]) -> Vec<&'a str> {
    a.iter()
        .copied()
        .chain(more.iter().map(String::as_str))
        .collect()
}

/// A bundle file's head and payload.
pub fn load(path: &Path) -> (BundleHead, Vec<u8>) {
    let bytes = fs::read(path).unwrap();
    let mut r = &bytes[..];
    let head = read_head(&mut r).unwrap();
    (head, r.to_vec())
}

/// Writes a bundle (its evidence validated as custody writes it).
pub fn save(path: &Path, head: &BundleHead, payload: &[u8]) {
    let mut out = Vec::new();
    write_head(&mut out, head).unwrap();
    out.extend_from_slice(payload);
    fs::write(path, out).unwrap();
}

/// A bundle file made of raw evidence bytes (not re-encoded, not validated).
pub fn save_raw(path: &Path, evidence: &[u8], head: &BundleHead, payload: &[u8]) {
    let mut out = BUNDLE_MAGIC.to_vec();
    out.extend_from_slice(&(evidence.len() as u32).to_be_bytes());
    out.extend_from_slice(evidence);
    out.extend_from_slice(&(head.envelope.len() as u32).to_be_bytes());
    out.extend_from_slice(&head.envelope);
    out.extend_from_slice(&head.payload_len.to_be_bytes());
    out.extend_from_slice(payload);
    fs::write(path, out).unwrap();
}

/// python3 (not a pyenv shim), or `None` (skipped) unless CUSTODY_REQUIRE_PYTHON.
pub fn python() -> Option<PathBuf> {
    let py = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if py.is_none() {
        assert!(
            std::env::var_os("CUSTODY_REQUIRE_PYTHON").is_none(),
            "python3 is required (CUSTODY_REQUIRE_PYTHON)"
        );
        eprintln!("skipped: no python3");
    }
    py
}

/// Runs python3 with `args`, python3 alone on PATH and no other
/// environment: exit code and output (stdout then stderr).
pub fn run_python(args: &[&str]) -> Option<(i32, String)> {
    let py = python()?;
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&py, bin.path().join("python3")).unwrap();
    let o = Command::new(bin.path().join("python3"))
        .args(args)
        .env_clear()
        .env("PATH", bin.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    Some((o.status.code().unwrap_or(-1), text))
}

/// `python3 DIR/verify.py`, no custody on PATH: exit code and output.
pub fn run_script(dir: &Path) -> Option<(i32, String)> {
    run_python(&[dir.join("verify.py").to_str().unwrap()])
}

/// The findings of a `verify-bundle --json` report: (check, reason) each.
pub fn report_findings(r: &Run) -> Vec<(String, String)> {
    r.json()["report"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {}", r.stdout))
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
