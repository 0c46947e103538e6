//! Issue 6, resource limits: input that declares a huge length (a 100 GB
//! payload, u32::MAX evidence, envelope, entry or frame lengths) or nests
//! 100,000 levels deep is refused fast and in bounded memory. A counting
//! global allocator measures the peak heap of the test's own thread while
//! each parser runs, so "bounded" is measured, not assumed.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use custody::core::bundle::{
    read_head, Evidence, ShareEnvelope, BUNDLE_MAGIC, EVIDENCE_MAGIC, MAX_ENTRY_LEN,
    MAX_EVIDENCE_LEN,
};
use custody::core::evidence::SplitViewEvidence;
use custody::core::hash::Digest;
use custody::core::meta::{open_envelope, Metadata};
use custody::store::archive::parse_config;
use custody::store::files::logfile::{Frame, LogFile};
use custody::store::ops::trust::TrustStore;
use custody::store::ops::witness::WitnessConfig;

/// Counts the bytes each thread holds, and the most it held since a reset.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only adds to thread-local counters, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (above).
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Far less than any declared length below (64 MiB to 100 GB); more than
/// the error messages, which quote a line of a 100,000-level input.
const HEAP_BOUND: usize = 4 << 20;
/// Far more than any refusal takes, far less than reading what is declared.
const TIME_BOUND: Duration = Duration::from_millis(250);

/// Runs `f` on this thread and asserts that it returned within
/// [`TIME_BOUND`] holding at most [`HEAP_BOUND`] bytes more than before.
fn bounded<T>(what: &str, f: impl FnOnce() -> T) -> T {
    bounded_by(what, HEAP_BOUND, f)
}

/// As [`bounded`], with a heap bound of `heap_bound` bytes.
fn bounded_by<T>(what: &str, heap_bound: usize, f: impl FnOnce() -> T) -> T {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let t = thread_time();
    let out = f();
    let took = thread_time().saturating_sub(t);
    let peak = (PEAK.with(Cell::get) - base).max(0) as usize;
    assert!(took < TIME_BOUND, "{what}: took {took:?} of CPU");
    assert!(peak <= heap_bound, "{what}: peak heap {peak} bytes");
    out
}

/// This thread's CPU time (user and system), so that a loaded machine (CI,
/// the tests running beside) cannot stretch a bound meant for work done.
#[cfg(target_os = "linux")]
fn thread_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Wall time since the first call, where the OS has no thread clock here.
#[cfg(not(target_os = "linux"))]
fn thread_time() -> Duration {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    T0.get_or_init(Instant::now).elapsed()
}

fn nested(prefix: &str, open: &str, depth: usize) -> String {
    format!("{prefix}{}", open.repeat(depth))
}

/// A structurally valid one-hop evidence section (its content is not checked
/// by the reader).
fn small_evidence() -> Vec<u8> {
    let mut e = EVIDENCE_MAGIC.to_vec();
    e.push(1);
    e.extend_from_slice(&1u16.to_be_bytes());
    e.push(b'k');
    e.extend_from_slice(&1u16.to_be_bytes());
    e.extend_from_slice(&1u32.to_be_bytes());
    e.push(b'e');
    e
}

fn bundle_with(evidence_len: u32, evidence: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut b = BUNDLE_MAGIC.to_vec();
    b.extend_from_slice(&evidence_len.to_be_bytes());
    b.extend_from_slice(evidence);
    b.extend_from_slice(rest);
    b
}

#[test]
fn bundle_lengths() {
    let ev = small_evidence();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("evidence length u32::MAX", bundle_with(u32::MAX, &[], &[])),
        (
            "evidence length at the 64 MiB limit, 0 bytes present",
            bundle_with(MAX_EVIDENCE_LEN as u32, &[], &[]),
        ),
        (
            "envelope length u32::MAX",
            bundle_with(ev.len() as u32, &ev, &u32::MAX.to_be_bytes()),
        ),
    ];
    for (what, b) in cases {
        let r = bounded(what, || read_head(&mut &b[..]));
        assert!(r.is_err(), "{what}");
    }
    let mut entry = EVIDENCE_MAGIC.to_vec();
    entry.extend_from_slice(&[1, 0, 1, b'k', 0x10, 0]);
    for len in [u32::MAX, MAX_ENTRY_LEN as u32] {
        let mut e = entry.clone();
        e.extend_from_slice(&len.to_be_bytes());
        let r = bounded("entry length", || Evidence::parse(&e));
        assert!(r.is_err(), "entry length {len}");
    }
}

/// `custody verify-bundle` on a bundle that declares a 100 GB payload: exit
/// 2 at once, "truncated", nothing read beyond the head.
#[test]
fn bundle_declaring_a_100_gb_payload() {
    let dir = tempfile::tempdir().unwrap();
    let ev = small_evidence();
    let mut rest = 0u32.to_be_bytes().to_vec();
    rest.extend_from_slice(&100_000_000_000u64.to_be_bytes());
    rest.extend_from_slice(b"a few payload bytes");
    let p = dir.path().join("huge.bundle");
    std::fs::write(&p, bundle_with(ev.len() as u32, &ev, &rest)).unwrap();
    let vkey = repo_key("dropsite", "signing.vkey");
    let t = Instant::now();
    let r = run({
        let mut c = custody();
        c.args(["verify-bundle", p.to_str().unwrap(), "--trust"])
            .arg(&vkey);
        c
    });
    r.code(ERROR);
    r.error(&["truncated"]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn record_frames() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("records");
    std::fs::File::create(&p)
        .unwrap()
        .write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .unwrap();
    let lf = LogFile::open(&p, false).unwrap();
    let frames: Vec<_> = bounded("scan of a u32::MAX frame", || {
        lf.scan(0).unwrap().collect::<Vec<_>>()
    });
    assert!(matches!(
        frames.as_slice(),
        [Ok(Frame::Oversized {
            offset: 0,
            len: u32::MAX
        })]
    ));
    // The database's index names the frame and its length: a damaged or
    // hostile index that agrees with a damaged length prefix.
    let r = bounded("read_at of a u32::MAX frame", || lf.read_at(0, u32::MAX));
    assert!(r.is_err());
}

#[test]
fn split_view_evidence_sections() {
    let vkey = std::fs::read_to_string(repo_key("dropsite", "signing.vkey")).unwrap();
    for len in ["100000000000", "18446744073709551615"] {
        let b = format!(
            "custody split-view evidence v1\nlog {}\ncosigned {len}\nabc",
            vkey.trim()
        );
        let r = bounded("split-view section length", || {
            SplitViewEvidence::parse(b.as_bytes())
        });
        assert!(r.is_err(), "{len}");
    }
}

#[test]
fn json_nesting() {
    let c = Digest([0; 32]);
    for bad in [
        nested("", "[", 100_000),
        nested(r#"{"v":1,"note":"#, "[", 100_000),
        nested(r#"{"name":"#, r#"{"a":"#, 100_000),
    ] {
        let b = bad.as_bytes();
        assert!(bounded("share envelope", || ShareEnvelope::from_json(b)).is_err());
        assert!(bounded("metadata entry", || Metadata::from_json(b)).is_err());
        assert!(bounded("metadata envelope", || open_envelope(b, &c)).is_err());
    }
}

/// The toml crate keeps an event per token of the whole document before it
/// builds anything (measured: about 80 bytes per input byte, whatever the
/// nesting), so TOML memory is linear in the text, which every reader caps
/// at 1 MiB: bounded, at worst about 100 MiB.
const TOML_BYTES_PER_INPUT_BYTE: usize = 128;

#[test]
fn toml_nesting() {
    const DEPTH: usize = 100_000;
    let p = Path::new("x.toml");
    for bad in [
        nested("format = 1\nkey = ", "[", DEPTH),
        nested("format = 1\nkey = ", "{ a = ", DEPTH),
        format!("format = 1\n{}a = 1\n", nested("", "a.", DEPTH)),
        format!("format = 1\n{}a]\n", nested("[", "a.", DEPTH)),
        format!("format = 1\n{}a]]\n", nested("[[", "a.", DEPTH)),
    ] {
        let bound = TOML_BYTES_PER_INPUT_BYTE * bad.len();
        assert!(bounded_by("custody.toml", bound, || parse_config(p, &bad)).is_err());
        assert!(bounded_by("trust store", bound, || TrustStore::parse(p, &bad)).is_err());
        assert!(bounded_by("witness config", bound, || WitnessConfig::parse(p, &bad)).is_err());
    }
    // Over the cap: refused unparsed.
    let huge = nested("format = 1\n#", " ", 1 << 20);
    assert!(bounded("custody.toml", || parse_config(p, &huge)).is_err());
    assert!(bounded("trust store", || TrustStore::parse(p, &huge)).is_err());
    assert!(bounded("witness config", || WitnessConfig::parse(p, &huge)).is_err());
}

/// A file of `len` bytes that takes no disk space (a hole).
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// A 100 GB tlog-proof handed to `verify-proof`: refused from its size
/// (it used to be read whole).
#[test]
fn verify_proof_of_100_gb() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.tlog-proof");
    sparse(&p, 100_000_000_000);
    let t = Instant::now();
    let r = run({
        let mut c = custody();
        c.arg("verify-proof")
            .arg(&p)
            .arg("--trust")
            .arg(repo_key("dropsite", "signing.vkey"));
        c
    });
    r.code(ERROR);
    r.error(&["too large"]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

/// An archive whose `custody.toml` was made 100 GB long: every command
/// refuses it at once (it used to be read whole).
#[test]
fn custody_toml_of_100_gb() {
    let f = Fixture::new();
    let config = f.dir.join("custody.toml");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&config)
        .unwrap()
        .set_len(100_000_000_000)
        .unwrap();
    let t = Instant::now();
    f.run(&["status"])
        .code(ERROR)
        .error(&["custody.toml", "larger than"]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}
