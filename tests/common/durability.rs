//! Helpers shared by the durability tests (`tests/crash.rs`: commands killed
//! with SIGKILL; `tests/faults.rs`: commands whose writes, fsyncs and renames
//! fail): a seeded generator, running `custody` to completion, and the
//! checks both make of an archive after an interrupted command.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{custody_std, FINDING, OK};

/// Findings an interrupted command may leave: blobs no record names yet
/// (what a cut-short batch leaves) and, when it stopped between its last
/// record and its closing checkpoint, `checkpoint_missing`. After a
/// successful re-run only the first is allowed.
pub const ALLOWED: [&str; 2] = ["blob_unreferenced", "checkpoint_missing"];

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// xorshift64*: a small, seeded, reproducible generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// A finished `custody` run.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Runs `custody ARGS` to completion with extra environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let t = Instant::now();
    let o = custody_std()
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Ran {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        took: t.elapsed(),
    }
}

/// Runs `custody ARGS` to completion; returns (exit code, stdout, duration).
pub fn run_full(args: &[&str]) -> (i32, String, Duration) {
    let r = run_env(args, &[]);
    (r.code, r.stdout, r.took)
}

/// The complete lines of `--json` output: a killed command can cut the last
/// line short, and only complete lines count as reported.
pub fn json_lines(s: &str) -> Vec<Value> {
    let complete = match s.rfind('\n') {
        Some(i) => &s[..=i],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `verify --json` findings (check, reason) of an archive; panics unless it
/// ran (exit 0 or 1).
pub fn findings(dir: &Path) -> Vec<(String, String)> {
    let (code, out, _) = run_full(&["-A", s(dir), "verify", "--json"]);
    assert!(
        code == OK || code == FINDING,
        "verify could not run on {dir:?}: {out}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Asserts that the archive opens and `verify` finds nothing but `allowed`.
#[track_caller]
pub fn assert_only(dir: &Path, allowed: &[&str], what: &str) {
    let bad: Vec<_> = findings(dir)
        .into_iter()
        .filter(|(c, _)| !allowed.contains(&c.as_str()))
        .collect();
    assert!(bad.is_empty(), "{what}: unexpected findings {bad:?}");
}

/// `log --json`: every record.
pub fn log(dir: &Path) -> Vec<Value> {
    let (code, out, _) = run_full(&["-A", s(dir), "log", "--json"]);
    assert_eq!(code, OK, "log of {dir:?}");
    json_lines(&out)
}

/// Blobs named by document records (ingest and receive).
pub fn document_blobs(dir: &Path) -> Vec<String> {
    log(dir)
        .iter()
        .filter(|r| r["kind"] == "ingest" || r["kind"] == "receive")
        .filter_map(|r| r["blob"].as_str().map(String::from))
        .collect()
}

/// Asserts that every record an ingest reported (its `--json` lines with an
/// `index`) is in the log with the leaf hash it reported.
#[track_caller]
pub fn assert_reported_present(dir: &Path, stdout: &str) {
    let records = log(dir);
    for d in json_lines(stdout)
        .iter()
        .filter(|d| d.get("index").is_some())
    {
        let i = d["index"].as_u64().unwrap() as usize;
        assert!(i < records.len(), "reported record {i} is missing");
        assert_eq!(records[i]["leaf_hash"], d["leaf_hash"], "record {i}");
    }
}

/// What a document's plaintext is searched for on disk (as tests/secrets.rs
/// does): its SHA-256 in hex and raw, and its bytes (the whole of a short
/// document; three 48-byte pieces of a longer one, each unique in practice).
#[allow(dead_code)]
pub fn plaintext_needles(plain: &[u8]) -> Vec<(String, Vec<u8>)> {
    let d = custody::core::hash::Digest::of(plain);
    let mut v = vec![
        (
            "plaintext sha256 (hex)".to_string(),
            d.to_hex().into_bytes(),
        ),
        ("plaintext sha256 (raw)".to_string(), d.as_bytes().to_vec()),
    ];
    const PIECE: usize = 48;
    if plain.len() <= 3 * PIECE {
        v.push(("plaintext".to_string(), plain.to_vec()));
    } else {
        for at in [0, plain.len() / 2, plain.len() - PIECE] {
            v.push((
                format!("plaintext bytes {at}.."),
                plain[at..at + PIECE].to_vec(),
            ));
        }
    }
    v
}

fn holds(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return false;
    };
    let last = hay.len().saturating_sub(needle.len());
    let mut i = 0;
    while i <= last && hay.len() >= needle.len() {
        match hay[i..=last].iter().position(|&b| b == first) {
            None => return false,
            Some(p) => {
                let at = i + p;
                if &hay[at + 1..at + needle.len()] == rest {
                    return true;
                }
                i = at + 1;
            }
        }
    }
    false
}

/// Every regular file under `root` (symbolic links not followed), but those
/// `skip` names (a file, or a directory and everything under it).
#[allow(dead_code)]
pub fn files_under(root: &Path, skip: &[&Path]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if skip.contains(&d.as_path()) {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            if d.is_file() {
                out.push(d);
            }
            continue;
        };
        for e in rd.flatten() {
            let (p, t) = (e.path(), e.file_type().unwrap());
            if skip.contains(&p.as_path()) {
                continue;
            }
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// (file, what) for every needle found in a file under `roots` (but `skip`).
#[allow(dead_code)]
pub fn files_holding(
    roots: &[&Path],
    skip: &[&Path],
    needles: &[(String, Vec<u8>)],
) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    for root in roots {
        for f in files_under(root, skip) {
            let Ok(bytes) = std::fs::read(&f) else {
                continue;
            };
            for (what, n) in needles {
                if holds(&bytes, n) {
                    found.push((f.clone(), what.clone()));
                }
            }
        }
    }
    found
}

/// Files under `dir` named as custody's temporary files are
/// (`.custody-….tmp`, FORMAT.md §7.8), or anything ending in `.tmp`.
#[allow(dead_code)]
pub fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    files_under(dir, &[])
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(".custody-") || n.ends_with(".tmp")
        })
        .collect()
}

/// What an archive's `pending/` holds (FORMAT.md §7.8): temporary names
/// recorded and shares not finished.
#[allow(dead_code)]
pub fn pending(archive: &Path) -> Vec<String> {
    match std::fs::read_dir(archive.join("pending")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The `share` records of the document at index `doc` (`log --json`).
#[allow(dead_code)]
pub fn shares_of(dir: &Path, doc: u64) -> usize {
    log(dir)
        .iter()
        .filter(|r| r["kind"] == "share" && r["document"].as_u64() == Some(doc))
        .count()
}
