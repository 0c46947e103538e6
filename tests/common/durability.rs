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
