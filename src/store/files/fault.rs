//! Fault injection for tests: every durable write, fsync and rename of the
//! archive goes through this module, so that a test can make one of them
//! fail with `EIO` and check what the archive looks like afterwards
//! (issue 6; `tests/faults.rs`).
//!
//! Only debug builds (`cfg(debug_assertions)`) read the environment; in a
//! release build every function here is the plain operation, inlined.
//!
//! `CUSTODY_FAULT` chooses the point:
//!
//! * `fsync:N`, `rename:N`, `write:N`: the N-th (1-based, counted from the
//!   start of the process) durable operation of that kind fails with `EIO`;
//! * `torn:N`: the N-th write writes the first half of its bytes, then fails;
//! * `kill-write:N`, `kill-fsync:N`, `kill-rename:N`: just before the N-th
//!   operation of that kind the process kills itself with SIGKILL (a crash
//!   at that exact point: no destructor runs, nothing is cleaned up);
//! * `kill-report:N`: the same before the N-th result a command reports
//!   (prints) once its writes are durable, and before which it has not
//!   yet tidied what a re-run needs (a pending share's marker);
//! * `count`: nothing fails (with `CUSTODY_FAULT_TRACE`, the operations are listed).
//!
//! A `rename` is any operation that gives a file its name: `rename(2)`, and
//! `linkat(2)` of an unnamed temporary file (src/store/files/outfile.rs).
//!
//! Any other value makes every durable operation fail: a mistyped plan must
//! not pass silently for a run without faults. `CUSTODY_FAULT_TRACE=FILE`
//! appends one line per operation: `KIND N PATH` (the path relative to the
//! archive, when it is inside it), with ` FAIL`, ` TORN` or ` KILL` when it
//! was the one.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// What a hook decided for one write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) enum WriteFate {
    /// Write everything.
    Whole,
    /// Write the first half, then fail with `EIO`.
    Torn,
}

#[cfg(debug_assertions)]
mod inject {
    use std::fs::OpenOptions;
    use std::io::{self, Write};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock};

    use super::WriteFate;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Kind {
        Write,
        Fsync,
        Rename,
        /// A result reported once durable (never fails, only kills).
        Report,
    }

    impl Kind {
        fn name(self) -> &'static str {
            match self {
                Kind::Write => "write",
                Kind::Fsync => "fsync",
                Kind::Rename => "rename",
                Kind::Report => "report",
            }
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Plan {
        None,
        Count,
        Fail(Kind, u64),
        Torn(u64),
        /// The process kills itself before that operation.
        Kill(Kind, u64),
        /// Unparseable: every durable operation fails.
        Invalid,
    }

    fn parse(v: Option<&str>) -> Plan {
        let Some(v) = v else { return Plan::None };
        let v = v.trim();
        if v == "count" {
            return Plan::Count;
        }
        let Some((k, n)) = v.split_once(':') else {
            return Plan::Invalid;
        };
        let n = match n.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => return Plan::Invalid,
        };
        match k {
            "write" => Plan::Fail(Kind::Write, n),
            "fsync" => Plan::Fail(Kind::Fsync, n),
            "rename" => Plan::Fail(Kind::Rename, n),
            "torn" => Plan::Torn(n),
            "kill-write" => Plan::Kill(Kind::Write, n),
            "kill-fsync" => Plan::Kill(Kind::Fsync, n),
            "kill-rename" => Plan::Kill(Kind::Rename, n),
            "kill-report" => Plan::Kill(Kind::Report, n),
            _ => Plan::Invalid,
        }
    }

    struct State {
        plan: Plan,
        counts: [AtomicU64; 4],
        trace: Option<Mutex<std::fs::File>>,
        root: Mutex<Option<PathBuf>>,
    }

    fn state() -> &'static State {
        static S: OnceLock<State> = OnceLock::new();
        S.get_or_init(|| {
            let plan = parse(std::env::var("CUSTODY_FAULT").ok().as_deref());
            let trace = std::env::var_os("CUSTODY_FAULT_TRACE")
                .filter(|_| plan != Plan::None)
                .and_then(|p| OpenOptions::new().create(true).append(true).open(p).ok())
                .map(Mutex::new);
            State {
                plan,
                counts: Default::default(),
                trace,
                root: Mutex::new(None),
            }
        })
    }

    /// Paths in the trace are shown relative to this directory.
    pub(crate) fn set_root(root: &Path) {
        let s = state();
        if s.plan != Plan::None {
            if let Ok(mut r) = s.root.lock() {
                *r = Some(root.to_path_buf());
            }
        }
    }

    /// Counts one operation of `kind` on `what` and decides its fate.
    pub(crate) fn hit(kind: Kind, what: &Path) -> io::Result<WriteFate> {
        let s = state();
        if s.plan == Plan::None {
            return Ok(WriteFate::Whole);
        }
        let n = s.counts[kind as usize].fetch_add(1, Ordering::SeqCst) + 1;
        let kill = matches!(s.plan, Plan::Kill(k, at) if k == kind && at == n);
        let fate = match s.plan {
            Plan::Invalid => Err(()),
            Plan::Fail(k, at) if k == kind && at == n => Err(()),
            Plan::Torn(at) if kind == Kind::Write && at == n => Ok(WriteFate::Torn),
            _ => Ok(WriteFate::Whole),
        };
        if let Some(t) = &s.trace {
            let root = s.root.lock().ok().and_then(|r| r.clone());
            let shown = root
                .as_deref()
                .and_then(|r| what.strip_prefix(r).ok())
                .unwrap_or(what);
            let mark = match fate {
                _ if kill => " KILL",
                Err(()) => " FAIL",
                Ok(WriteFate::Torn) => " TORN",
                Ok(WriteFate::Whole) => "",
            };
            if let Ok(mut f) = t.lock() {
                let _ = writeln!(f, "{} {n} {}{mark}", kind.name(), shown.display());
            }
        }
        if kill {
            die();
        }
        // A real EIO (os error 5), as a failing disk gives; which operation
        // it was is said only in the trace.
        fate.map_err(|()| super::eio())
    }

    /// Ends the process as a crash would: SIGKILL, no destructor, no cleanup.
    fn die() -> ! {
        #[cfg(target_os = "linux")]
        {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
        std::process::abort()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn plans_parse_and_anything_else_is_invalid() {
            assert_eq!(parse(None), Plan::None);
            assert_eq!(parse(Some("count")), Plan::Count);
            assert_eq!(parse(Some("fsync:3")), Plan::Fail(Kind::Fsync, 3));
            assert_eq!(parse(Some("rename:1")), Plan::Fail(Kind::Rename, 1));
            assert_eq!(parse(Some("write:12")), Plan::Fail(Kind::Write, 12));
            assert_eq!(parse(Some("torn:2")), Plan::Torn(2));
            assert_eq!(parse(Some("kill-rename:2")), Plan::Kill(Kind::Rename, 2));
            assert_eq!(parse(Some("kill-report:1")), Plan::Kill(Kind::Report, 1));
            for bad in [
                "",
                "fsync",
                "fsync:0",
                "fsync:-1",
                "sync:1",
                "write:x",
                "all",
                "kill:1",
                "kill-torn:1",
                "report:1",
            ] {
                assert_eq!(parse(Some(bad)), Plan::Invalid, "{bad:?}");
            }
        }
    }
}

#[cfg(debug_assertions)]
use inject::Kind;

/// Paths in the trace are shown relative to the archive at `root`.
#[inline(always)]
pub(crate) fn set_root(_root: &Path) {
    #[cfg(debug_assertions)]
    inject::set_root(_root);
}

/// Before one `write(2)`-like call on `what`: whether to write it whole or
/// torn, or the injected error.
#[inline(always)]
pub(crate) fn before_write(_what: &Path) -> io::Result<WriteFate> {
    #[cfg(debug_assertions)]
    return inject::hit(Kind::Write, _what);
    #[cfg(not(debug_assertions))]
    Ok(WriteFate::Whole)
}

/// Before one fsync-like operation on `what` (a file, a directory, the
/// database's flush, a `syncfs`).
#[inline(always)]
pub(crate) fn before_sync(_what: &Path) -> io::Result<()> {
    #[cfg(debug_assertions)]
    inject::hit(Kind::Fsync, _what)?;
    Ok(())
}

/// Before a command reports (prints) a result whose writes are durable, and
/// before it tidies what a re-run would need: a test kills the process here
/// (`kill-report:N`) as a kill while printing would.
#[inline(always)]
pub fn before_report() {
    #[cfg(debug_assertions)]
    let _ = inject::hit(Kind::Report, Path::new("(report)"));
}

/// The first half of `buf`, for a torn write.
fn half(buf: &[u8]) -> &[u8] {
    &buf[..buf.len() / 2]
}

/// `EIO`, the error every injected fault returns.
pub(crate) fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

/// `write_all` of `buf` to `w` (the file `what`): one durable write.
pub(crate) fn write_all(w: &mut impl Write, buf: &[u8], what: &Path) -> io::Result<()> {
    match before_write(what)? {
        WriteFate::Whole => w.write_all(buf),
        WriteFate::Torn => {
            w.write_all(half(buf))?;
            Err(eio())
        }
    }
}

/// Positioned `write_all` of `buf` at `at` in `f` (the file `what`).
pub(crate) fn write_all_at(f: &File, buf: &[u8], at: u64, what: &Path) -> io::Result<()> {
    match before_write(what)? {
        WriteFate::Whole => crate::store::files::logfile::write_all_at(f, buf, at),
        WriteFate::Torn => {
            crate::store::files::logfile::write_all_at(f, half(buf), at)?;
            Err(eio())
        }
    }
}

/// `fsync(2)` of `f` (the file or directory `what`).
pub(crate) fn sync_all(f: &File, what: &Path) -> io::Result<()> {
    before_sync(what)?;
    f.sync_all()
}

/// `fdatasync(2)` of `f` (the file `what`).
pub(crate) fn sync_data(f: &File, what: &Path) -> io::Result<()> {
    before_sync(what)?;
    f.sync_data()
}

/// Before one operation that names a file `to`: a `rename(2)`, or the
/// `linkat(2)` of an unnamed temporary file.
#[inline(always)]
pub(crate) fn before_rename(_to: &Path) -> io::Result<()> {
    #[cfg(debug_assertions)]
    inject::hit(Kind::Rename, _to)?;
    Ok(())
}

/// `rename(2)`.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    before_rename(to)?;
    std::fs::rename(from, to)
}

/// A writer whose every `write` call is one durable write of `what` (a
/// bundle, an extracted document: files written by streaming).
pub(crate) struct Writer<W> {
    inner: W,
    #[cfg(debug_assertions)]
    what: std::path::PathBuf,
}

impl<W: Write> Writer<W> {
    pub(crate) fn new(inner: W, _what: &Path) -> Self {
        Writer {
            inner,
            #[cfg(debug_assertions)]
            what: _what.to_path_buf(),
        }
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(debug_assertions)]
        if before_write(&self.what)? == WriteFate::Torn {
            self.inner.write_all(half(buf))?;
            return Err(eio());
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// fsyncs a directory so that renames into it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), crate::store::StoreError> {
    File::open(dir)
        .and_then(|f| sync_all(&f, dir))
        .map_err(|e| crate::store::io_err(dir, e))
}
