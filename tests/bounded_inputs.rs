//! Issue 15 item 5, every input is bounded: each file a command reads from
//! outside the archive (arguments, the trust store, a published log's
//! files) is fed `/dev/zero`, a pipe of zeros (`/dev/stdin`, as `<(…)`
//! gives `/dev/fd/N`), a 100 MB regular file (what the argument holds,
//! then NULs), a FIFO with no writer, and a FIFO whose writer never writes
//! (`CUSTODY_INPUT_TIMEOUT=1`). Each run must exit 2 (1 where the input is
//! a published log's tile: a finding) with one error line, within a few
//! seconds, in bounded memory, and write nothing.
//!
//! The peak RSS is the child's `VmHWM` (/proc/PID/status). The child's
//! stderr is a pipe filled up before it starts, so the child stops in its
//! write of the error line (its last act) until the test has read the
//! final `VmHWM`: the peak is measured, not sampled (where the kernel does
//! not show `wchan`, it is sampled every millisecond until exit).
//! `cargo test --test bounded_inputs -- --nocapture` prints each run.
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Far below what reading the inputs whole took (1 to 8 GB in 5 s), above
/// what any of these commands needs (12 to 20 MiB in a debug build).
const RSS_BOUND_KIB: u64 = 64 * 1024;
/// Far more than any refusal takes (a few ms; the stalled FIFO waits 1 s).
const TIME_BOUND: Duration = Duration::from_secs(5);
/// The size of the regular files given.
const BIG: u64 = 100_000_000;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What a command is fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feed {
    DevZero,
    /// A pipe of zeros on stdin, given as /dev/stdin.
    Pipe,
    /// The argument's usual content (if any), then NULs up to 100 MB.
    Big,
    /// A FIFO that no process opens for writing.
    Fifo,
    /// A FIFO held open for writing that never gets a byte.
    Stalled,
}

const FEEDS: [Feed; 5] = [
    Feed::DevZero,
    Feed::Pipe,
    Feed::Big,
    Feed::Fifo,
    Feed::Stalled,
];

/// What the child did.
struct Outcome {
    code: i32,
    stderr: String,
    peak_kib: u64,
    took: Duration,
}

/// The child's high-water RSS in KiB, while it has one.
fn vm_hwm(pid: u32) -> Option<u64> {
    let st = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = st.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// Does /proc/PID/wchan name the kernel function a process sleeps in?
/// (Probed once with `cat` waiting on an empty pipe.)
fn wchan_works() -> bool {
    static W: OnceLock<bool> = OnceLock::new();
    *W.get_or_init(|| {
        let Ok(mut c) = std::process::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
        else {
            return false;
        };
        let t = Instant::now();
        let mut seen = false;
        while t.elapsed() < Duration::from_secs(2) && !seen {
            seen = fs::read_to_string(format!("/proc/{}/wchan", c.id()))
                .is_ok_and(|w| w.contains("pipe_read"));
            thread::sleep(Duration::from_millis(2));
        }
        drop(c.stdin.take());
        let _ = c.wait();
        seen
    })
}

/// Is the child stopped writing to its stderr (fd 2), a full pipe?
fn stalled_on_stderr(pid: u32) -> bool {
    let Ok(w) = fs::read_to_string(format!("/proc/{pid}/wchan")) else {
        return false;
    };
    if !w.contains("pipe_write") {
        return false;
    }
    // `NR fd …`: when the kernel shows it, the fd written must be the
    // stderr pipe (fd 2, or a copy of it).
    let Ok(sc) = fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return true;
    };
    let Some(fd) = sc
        .split_whitespace()
        .nth(1)
        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
    else {
        return false;
    };
    let target = |n: u64| fs::read_link(format!("/proc/{pid}/fd/{n}")).ok();
    target(fd).is_some() && target(fd) == target(2)
}

/// Fills a pipe to its capacity; returns the bytes written.
fn fill(w: &std::io::PipeWriter) -> usize {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(w.as_fd()).unwrap();
    fcntl_setfl(w.as_fd(), flags | OFlags::NONBLOCK).unwrap();
    let chunk = [b'.'; 4096];
    let mut n = 0;
    loop {
        match (&*w).write(&chunk) {
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    fcntl_setfl(w.as_fd(), flags).unwrap();
    n
}

/// Runs `c` to the end, measuring its peak RSS and how long it took to
/// reach its error line (or its exit).
fn measure(mut c: std::process::Command, stdin: Stdio) -> Outcome {
    let (err_r, err_w) = std::io::pipe().unwrap();
    let stall = wchan_works();
    let filled = if stall { fill(&err_w) } else { 0 };
    c.stdin(stdin).stdout(Stdio::null()).stderr(err_w);
    let t0 = Instant::now();
    let mut child = c.spawn().unwrap();
    // The parent's copy of the pipe's write end goes with the command.
    drop(c);
    let pid = child.id();
    let drain = |r: std::io::PipeReader| {
        thread::spawn(move || {
            let mut v = Vec::new();
            (&r).read_to_end(&mut v).unwrap();
            v
        })
    };
    let mut peak = 0;
    let mut reader = None;
    let took = loop {
        if let Some(k) = vm_hwm(pid) {
            peak = peak.max(k);
        }
        if stall && stalled_on_stderr(pid) {
            // The error line is the last thing it does: this is its peak.
            if let Some(k) = vm_hwm(pid) {
                peak = peak.max(k);
            }
            break t0.elapsed();
        }
        if !stall && reader.is_none() {
            reader = Some(drain(err_r.try_clone().unwrap()));
        }
        if child.try_wait().unwrap().is_some() {
            break t0.elapsed();
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("still running after 60 s");
        }
        thread::sleep(Duration::from_millis(1));
    };
    let reader = reader.unwrap_or_else(|| drain(err_r));
    let status = child.wait().unwrap();
    let mut err = reader.join().unwrap();
    err.drain(..filled.min(err.len()));
    Outcome {
        code: status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        peak_kib: peak,
        took,
    }
}

/// Which archive a case runs in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    Nothing,
    /// dropsite, with the samples.
    Dropsite,
    /// guardian: witnesses dropsite's log, mirrors its published log.
    Guardian,
}

/// Where the input goes.
#[derive(Clone)]
enum Slot {
    /// `{IN}` in the arguments; the regular file starts with `prefix`.
    Arg { prefix: Vec<u8> },
    /// `CUSTODY_TRUST_STORE`.
    TrustStore,
    /// A file of a copy of dropsite's published log, `{SRC}` in the arguments.
    Published(&'static str),
}

struct Case {
    name: &'static str,
    on: On,
    args: Vec<String>,
    slot: Slot,
    /// Read from a regular file only (refused otherwise, whatever it holds).
    regular_only: bool,
}

/// What the shared fixtures hold.
struct World {
    base: Fixture,
    /// dropsite's published log.
    published: PathBuf,
    cp: PathBuf,
    vkey: PathBuf,
    recipient: PathBuf,
}

fn cases(w: &World) -> Vec<Case> {
    let v = s(&w.vkey).to_string();
    let cp = s(&w.cp).to_string();
    let vkey_text = fs::read(&w.vkey).unwrap();
    let cp_text = fs::read(&w.cp).unwrap();
    let arg = |p: &[u8]| Slot::Arg { prefix: p.to_vec() };
    let a = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let c = |name, on, args: Vec<String>, slot, regular_only| Case {
        name,
        on,
        args,
        slot,
        regular_only,
    };
    vec![
        c(
            "verify-proof FILE",
            On::Nothing,
            a(&["verify-proof", "{IN}", "--trust", &v]),
            arg(b""),
            false,
        ),
        c(
            "verify-proof --trust",
            On::Nothing,
            a(&["verify-proof", "/nonexistent", "--trust", "{IN}"]),
            arg(&vkey_text),
            false,
        ),
        c(
            "verify-evidence FILE",
            On::Nothing,
            a(&["verify-evidence", "{IN}"]),
            arg(b""),
            false,
        ),
        c(
            "trust add NAME VKEY",
            On::Nothing,
            a(&["trust", "add", "x", "{IN}"]),
            arg(&vkey_text),
            false,
        ),
        c(
            "trust list (trust store)",
            On::Nothing,
            a(&["trust", "list"]),
            Slot::TrustStore,
            false,
        ),
        c(
            "init --recipient",
            On::Nothing,
            a(&[
                "init",
                "{OUT}/new-archive",
                "--signing-key",
                s(&w.base.signing_key()),
                "--admin-key",
                s(&w.base.admin_key()),
                "--recipient",
                "{IN}",
            ]),
            arg(&fs::read(&w.recipient).unwrap()),
            false,
        ),
        c(
            "keygen --passphrase-file",
            On::Nothing,
            a(&[
                "--passphrase-file",
                "{IN}",
                "keygen",
                "--name",
                "x.example/k",
                "-o",
                "{OUT}/new-keys",
                "--passphrase",
            ]),
            arg(b"passphrase\n"),
            false,
        ),
        c(
            "actor add NAME VKEY",
            On::Dropsite,
            a(&["actor", "add", "bob", "{IN}", "--role", "journalist"]),
            arg(&vkey_text),
            false,
        ),
        c(
            "checkpoint add-cosignature",
            On::Dropsite,
            a(&["checkpoint", "add-cosignature", "{IN}"]),
            arg(b""),
            false,
        ),
        c(
            "verify --policy",
            On::Dropsite,
            a(&["verify", "--policy", "{IN}"]),
            arg(b"log "),
            false,
        ),
        c(
            "verify --since-checkpoint",
            On::Dropsite,
            a(&["verify", "--since-checkpoint", "{IN}"]),
            arg(&cp_text),
            false,
        ),
        c(
            "config set --partner-policy",
            On::Dropsite,
            a(&["config", "set", "--partner-policy", "{IN}"]),
            arg(b"log "),
            false,
        ),
        c(
            "witness add-log ORIGIN VKEY",
            On::Guardian,
            a(&[
                "witness",
                "add-log",
                "other.example/log",
                "{IN}",
                "--witness-key",
                "{KEYS}/witness.key",
            ]),
            arg(&vkey_text),
            false,
        ),
        c(
            "witness cosign CHECKPOINT",
            On::Guardian,
            a(&["witness", "cosign", "{IN}"]),
            arg(&cp_text),
            false,
        ),
        c(
            "witness cosign --proof",
            On::Guardian,
            a(&["witness", "cosign", &cp, "--proof", "{IN}"]),
            arg(b"old 1\n"),
            false,
        ),
        c(
            "witness reset-log --to",
            On::Guardian,
            a(&[
                "witness",
                "reset-log",
                "dropsite.example/leaks",
                "--to",
                "{IN}",
                "--reason",
                "r",
            ]),
            arg(&cp_text),
            false,
        ),
        c(
            "witness reset-log --evidence",
            On::Guardian,
            a(&[
                "witness",
                "reset-log",
                "dropsite.example/leaks",
                "--to",
                &cp,
                "--reason",
                "r",
                "--evidence",
                "{IN}",
            ]),
            arg(b""),
            false,
        ),
        c(
            "verify-bundle FILE",
            On::Nothing,
            a(&["verify-bundle", "{IN}", "--trust", &v]),
            arg(b""),
            true,
        ),
        c(
            "receive FILE",
            On::Dropsite,
            a(&[
                "receive",
                "{IN}",
                "-i",
                "{KEYS}/identity.age",
                "--trust",
                &v,
            ]),
            arg(b""),
            true,
        ),
        c(
            "refresh-bundle FILE",
            On::Dropsite,
            a(&["refresh-bundle", "{IN}", "-o", "{OUT}/refreshed.bundle"]),
            arg(b""),
            true,
        ),
        c(
            "audit --file",
            On::Dropsite,
            a(&["audit", "--file", "{IN}"]),
            arg(b""),
            true,
        ),
        c(
            "mirror: checkpoint",
            On::Guardian,
            a(&["mirror", "{SRC}", "--vkey", &v]),
            Slot::Published("checkpoint"),
            true,
        ),
        c(
            "mirror: entry bundle",
            On::Guardian,
            a(&["mirror", "{SRC}", "--vkey", &v]),
            Slot::Published(ENTRY_BUNDLE),
            true,
        ),
        c(
            "witness cosign --from: checkpoint",
            On::Guardian,
            a(&["witness", "cosign", "--from", "{SRC}"]),
            Slot::Published("checkpoint"),
            true,
        ),
    ]
}

/// The entry bundle of dropsite's published log: the samples and the two
/// records of `init` (FORMAT.md §13.1).
const ENTRY_BUNDLE: &str = "tile/entries/000.p/10";

/// Makes `path` what `feed` gives; returns the stdin for the child and a
/// writer that must stay open while it runs.
fn feed_at(path: &Path, feed: Feed, prefix: &[u8]) -> (Stdio, Option<fs::File>) {
    let _ = fs::remove_file(path);
    match feed {
        Feed::DevZero => {
            std::os::unix::fs::symlink("/dev/zero", path).unwrap();
            (Stdio::null(), None)
        }
        Feed::Pipe => {
            std::os::unix::fs::symlink("/dev/stdin", path).unwrap();
            (zeros_pipe(), None)
        }
        Feed::Big => {
            fs::write(path, prefix).unwrap();
            fs::OpenOptions::new()
                .write(true)
                .open(path)
                .unwrap()
                .set_len(BIG)
                .unwrap();
            (Stdio::null(), None)
        }
        Feed::Fifo | Feed::Stalled => {
            rustix::fs::mkfifoat(
                rustix::fs::CWD,
                path,
                rustix::fs::Mode::from_raw_mode(0o600),
            )
            .unwrap();
            // Read and write: a writer that never writes, and this open
            // does not wait for a reader (Linux).
            let held = (feed == Feed::Stalled).then(|| {
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .unwrap()
            });
            (Stdio::null(), held)
        }
    }
}

/// A pipe fed zeros by a thread (up to 3 GiB, until the reader closes).
fn zeros_pipe() -> Stdio {
    let (r, mut w) = std::io::pipe().unwrap();
    thread::spawn(move || {
        let buf = vec![0u8; 64 << 10];
        let mut sent = 0u64;
        while sent < 3 << 30 {
            match w.write(&buf) {
                Ok(n) => sent += n as u64,
                Err(_) => return,
            }
        }
    });
    r.into()
}

/// The fixtures a feed's cases run in (each feed has its own).
struct Place {
    dropsite: Fixture,
    guardian: Fixture,
    out: PathBuf,
    trust: PathBuf,
}

fn place(w: &World, feed: Feed, part: usize) -> Place {
    let dropsite = w.base.duplicate();
    let guardian = Fixture::new_as("guardian");
    let wkey = guardian.keys.join("witness.key");
    guardian
        .run(&[
            "witness",
            "add-log",
            "dropsite.example/leaks",
            s(&w.vkey),
            "--witness-key",
            s(&wkey),
        ])
        .ok();
    let out = dropsite.path().join(format!("out-{feed:?}-{part}"));
    fs::create_dir_all(&out).unwrap();
    let trust = out.join("trust.toml");
    Place {
        dropsite,
        guardian,
        out,
        trust,
    }
}

/// Every file under `dir` with its bytes (lock files left out).
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p);
            } else if m.is_file() && p.file_name().unwrap() != "lock" {
                out.push((p.clone(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The evidence and state of an archive that no refusal may change.
fn state(f: &Fixture) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = tree(&f.dir.join("ledger"));
    v.extend(tree(&f.dir.join("witness")));
    v.extend(tree(&f.dir.join("mirrors")).into_iter().filter(|(p, _)| {
        // A mirror run stopped by an error keeps what it fetched for the
        // next run (src/store/ops/mirror.rs); nothing else may appear.
        !p.components().any(|c| c.as_os_str() == "staging")
    }));
    v.push((
        "custody.toml".into(),
        fs::read(f.dir.join("custody.toml")).unwrap(),
    ));
    v
}

/// Runs every `parts`-th case from `part` on with one feed, in fixtures of
/// its own; returns the lines to print, with each peak RSS.
fn run_feed(w: &World, feed: Feed, part: usize, parts: usize) -> Vec<(String, u64)> {
    let p = place(w, feed, part);
    fs::create_dir_all(p.guardian.dir.join("mirrors")).unwrap();
    let before = (state(&p.dropsite), state(&p.guardian));
    let mut lines = Vec::new();
    for (i, case) in cases(w).into_iter().enumerate().skip(part).step_by(parts) {
        let input = p.out.join(format!("in-{i}"));
        let src = p.out.join(format!("src-{i}"));
        let (keys, fixture) = match case.on {
            On::Nothing => (&p.dropsite.keys, None),
            On::Dropsite => (&p.dropsite.keys, Some(&p.dropsite)),
            On::Guardian => (&p.guardian.keys, Some(&p.guardian)),
        };
        let (stdin, held, named) = match &case.slot {
            Slot::Arg { prefix } => {
                let (i, h) = feed_at(&input, feed, prefix);
                (i, h, input.clone())
            }
            Slot::TrustStore => {
                let (i, h) = feed_at(&input, feed, b"");
                (i, h, input.clone())
            }
            Slot::Published(rel) => {
                copy_dir(&w.published, &src);
                let at = src.join(rel);
                let (i, h) = feed_at(&at, feed, &fs::read(w.published.join(rel)).unwrap());
                (i, h, at)
            }
        };
        let mut c = custody_std();
        if let Some(f) = fixture {
            c.arg("-A").arg(&f.dir);
        }
        for a in &case.args {
            c.arg(
                a.replace("{IN}", s(&input))
                    .replace("{SRC}", s(&src))
                    .replace("{OUT}", s(&p.out))
                    .replace("{KEYS}", s(keys)),
            );
        }
        match case.slot {
            Slot::TrustStore => c.env("CUSTODY_TRUST_STORE", &input),
            _ => c.env("CUSTODY_TRUST_STORE", &p.trust),
        };
        if feed == Feed::Stalled {
            c.env("CUSTODY_INPUT_TIMEOUT", "1");
        }
        let o = measure(c, stdin);
        drop(held);
        let what = format!("{} <- {feed:?}", case.name);
        let line = format!(
            "{what:50} exit {} in {:>5} ms, peak RSS {:>6} KiB",
            o.code,
            o.took.as_millis(),
            o.peak_kib
        );
        // A published tile too large, or not a regular file, is a `tile`
        // finding (exit 1), like a missing one.
        let want = if matches!(case.slot, Slot::Published(ENTRY_BUNDLE)) {
            FINDING
        } else {
            ERROR
        };
        let err_lines: Vec<&str> = o.stderr.lines().collect();
        assert_eq!(o.code, want, "{line}\n{}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{line}\n{}", o.stderr);
        assert!(o.took < TIME_BOUND, "{line}");
        assert!(o.peak_kib > 0, "{line}: no VmHWM read");
        assert!(o.peak_kib < RSS_BOUND_KIB, "{line}");
        if want == ERROR {
            assert_eq!(err_lines.len(), 1, "{line}\n{}", o.stderr);
            let l = err_lines[0];
            assert!(l.starts_with("error: ") && l.contains("; "), "{line}\n{l}");
            // The file is named as given (a link to /dev/stdin too).
            let name = named.file_name().unwrap().to_str().unwrap();
            let needle = match (feed, case.regular_only) {
                (Feed::Big, true) => "",
                (Feed::DevZero, true) => "character device",
                (Feed::Pipe | Feed::Fifo | Feed::Stalled, true) => "pipe or FIFO",
                (Feed::DevZero | Feed::Pipe | Feed::Big, false) => "too large",
                (Feed::Fifo, false) => "gave no data",
                (Feed::Stalled, false) => "did not end within 1 s",
            };
            assert!(l.contains(needle), "{line}\nwanted {needle:?} in {l}");
            if !needle.is_empty() {
                assert!(l.contains(name), "{line}\nwanted {name:?} in {l}");
            }
        }
        lines.push((line, o.peak_kib));
    }
    // Nothing written: no archive, keys or trust store made, no evidence changed.
    assert!(!p.out.join("new-archive").exists());
    assert!(!p.out.join("new-keys").exists());
    assert!(!p.out.join("refreshed.bundle").exists());
    assert!(!p.trust.exists());
    assert_eq!(state(&p.dropsite), before.0, "{feed:?}: dropsite changed");
    assert_eq!(state(&p.guardian), before.1, "{feed:?}: guardian changed");
    assert!(
        !p.guardian
            .dir
            .join("mirrors/dropsite.example_leaks/checkpoint")
            .exists(),
        "{feed:?}: a mirror was kept"
    );
    lines
}

fn world() -> World {
    let base = Fixture::with_samples();
    let published = base.path().join("published");
    base.run(&["publish", s(&published)]).ok();
    assert!(published.join(ENTRY_BUNDLE).is_file());
    let cp = base.path().join("cp");
    fs::write(&cp, &base.run(&["checkpoint"]).ok().stdout_bytes).unwrap();
    let vkey = base.vkey();
    let recipient = base.keys.join("recipient.txt");
    World {
        base,
        published,
        cp,
        vkey,
        recipient,
    }
}

/// Every command and argument above, with each feed (one thread per feed).
#[test]
fn every_input_is_bounded() {
    let w = world();
    let t = Instant::now();
    let lines: Vec<Vec<(String, u64)>> = thread::scope(|sc| {
        // The stalled FIFO waits its 1 s in every run: spread over threads.
        let hs: Vec<_> = FEEDS
            .iter()
            .flat_map(|&feed| {
                let parts = if feed == Feed::Stalled { 4 } else { 1 };
                (0..parts).map(move |part| (feed, part, parts))
            })
            .map(|(feed, part, parts)| {
                let w = &w;
                sc.spawn(move || run_feed(w, feed, part, parts))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&(String, u64)> = lines.iter().flatten().collect();
    for (l, _) in &all {
        println!("{l}");
    }
    println!(
        "{} runs in {:?}; largest peak RSS {} KiB (bound {RSS_BOUND_KIB} KiB); peak {}",
        all.len(),
        t.elapsed(),
        all.iter().map(|(_, k)| *k).max().unwrap_or(0),
        if wchan_works() {
            "measured at the error line"
        } else {
            "sampled every millisecond (no wchan here)"
        }
    );
}

/// The measurement sees memory: a shell holding a 48 MB string peaks
/// above it (a control for the bound above).
#[test]
fn the_peak_rss_measurement_sees_a_large_allocation() {
    if std::process::Command::new("bash")
        .arg("-c")
        .arg("true")
        .status()
        .is_err()
    {
        eprintln!("skipped: no bash");
        return;
    }
    let mut c = std::process::Command::new("bash");
    c.arg("-c")
        .arg("x=$(head -c 48000000 /dev/zero | tr '\\0' a); echo \"error: ${#x}\" >&2; exit 2");
    let o = measure(c, Stdio::null());
    println!("control: peak RSS {} KiB in {:?}", o.peak_kib, o.took);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert_eq!(o.stderr.trim(), "error: 48000000");
    assert!(o.peak_kib > 48_000, "{} KiB", o.peak_kib);
}

/// Pipes are read, not refused: a vkey through `/dev/stdin` is trusted, a
/// tlog-proof through it verifies, and the issue's own command (`<(cat
/// /dev/zero)`, through bash) stops at the cap.
#[test]
fn pipes_are_read_with_the_cap() {
    let f = Fixture::with_samples();
    let vkey = fs::read(f.vkey()).unwrap();
    let trust = f.path().join("trust.toml");
    let mut c = custody();
    c.env("CUSTODY_TRUST_STORE", &trust)
        .args(["trust", "add", "dropsite", "/dev/stdin"])
        .write_stdin(vkey);
    run(c).ok();
    assert!(fs::read_to_string(&trust)
        .unwrap()
        .contains("dropsite.example/leaks"));

    let proof = f.run(&["prove", "3"]).ok().stdout_bytes.clone();
    let mut c = custody();
    c.args(["verify-proof", "/dev/stdin", "--trust", s(&f.vkey())])
        .write_stdin(proof);
    run(c).ok();

    if std::process::Command::new("bash")
        .arg("-c")
        .arg("true")
        .status()
        .is_err()
    {
        eprintln!("skipped the process substitution: no bash");
        return;
    }
    let mut c = std::process::Command::new("bash");
    c.arg("-c")
        .arg(format!(
            "exec '{}' verify-proof <(cat /dev/zero) --trust '{}'",
            assert_cmd::cargo::cargo_bin("custody").display(),
            f.vkey().display()
        ))
        .env("NO_COLOR", "1");
    let o = measure(c, Stdio::null());
    println!(
        "verify-proof <(cat /dev/zero): exit {} in {:?}, peak RSS {} KiB",
        o.code, o.took, o.peak_kib
    );
    assert_eq!(o.code, ERROR, "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(o.stderr.contains("/dev/fd/") && o.stderr.contains("too large for a tlog-proof"));
    assert!(o.took < TIME_BOUND && o.peak_kib < RSS_BOUND_KIB);
}

/// `mirror`'s `staging/`: a FIFO planted as an entry bundle of the source
/// is refused at once, a `tile` finding (exit 1), and `staging/` emptied; once the source is whole the next run
/// completes and leaves no `staging/`. What a killed run left in
/// `staging/` is removed by the next run that ends, here one that finds
/// nothing new.
#[test]
fn a_mirror_never_waits_and_staging_does_not_stay() {
    let f = Fixture::with_samples();
    let published = f.path().join("published");
    f.run(&["publish", s(&published)]).ok();
    let src = f.path().join("src");
    copy_dir(&published, &src);
    let bundle = src.join(ENTRY_BUNDLE);
    fs::remove_file(&bundle).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &bundle,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let m = Fixture::new_as("guardian");
    let mirror = |m: &Fixture| {
        let mut c = m.cmd();
        c.args(["mirror", s(&src), "--vkey", s(&f.vkey())]);
        c.timeout(Duration::from_secs(20));
        run(c)
    };
    let t = Instant::now();
    // A finding (exit 1) like a missing tile; before, an error (exit 2)
    // that left staging/ behind.
    let r = mirror(&m);
    r.code(FINDING);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("pipe or FIFO") && said.contains("tile"),
        "{said}"
    );
    assert!(t.elapsed() < TIME_BOUND, "{:?}", t.elapsed());
    let dir = m.dir.join("mirrors/dropsite.example_leaks");
    assert!(!dir.join("checkpoint").exists());
    assert!(!dir.join("staging").exists(), "staging/ stayed");

    fs::remove_file(&bundle).unwrap();
    fs::copy(published.join(ENTRY_BUNDLE), &bundle).unwrap();
    mirror(&m).ok();
    assert!(dir.join("checkpoint").is_file());
    assert!(!dir.join("staging").exists());

    // A killed run's leftovers, then a run that finds the log unchanged.
    fs::create_dir_all(dir.join("staging/tile/0")).unwrap();
    fs::write(dir.join("staging/tile/0/001"), b"left by a killed run").unwrap();
    mirror(&m).ok();
    assert!(!dir.join("staging").exists(), "staging/ stayed");
}
