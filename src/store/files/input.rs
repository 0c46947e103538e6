//! Files given from outside the archive (command-line arguments, the trust
//! store, the files of a published log): every one is read with a size cap
//! that holds for pipes and devices too, and none can block forever
//! (FORMAT.md §1.1).
//!
//! A file is opened with `O_NONBLOCK`, so that opening a FIFO never waits
//! for a writer, and what was opened is decided from `fstat` of that open
//! file, not from the path (which may change in between):
//!
//! * a regular file is read normally, and refused from its size alone when
//!   it is larger than the cap;
//! * a pipe, FIFO or device (`<(…)` gives `/dev/fd/N`, a pipe) is read
//!   without blocking, to at most the cap plus one byte, within an overall
//!   deadline ([`stream_timeout`]); a pipe or FIFO that ends before giving
//!   any byte (a FIFO with no writer reads as ended) is refused;
//! * a directory is refused.
//!
//! Inputs that must be seekable or may be large (bundles, the published
//! log's files, the document of `audit --file`) are opened with
//! [`open_regular`], which refuses anything but a regular file. Every
//! refusal is one line that names the file (never its content, which may
//! be a secret key) and says what to do ([`StoreError::InputFile`]).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::store::{io_err, StoreError};

/// The environment variable that sets [`stream_timeout`] in whole seconds.
pub const TIMEOUT_ENV: &str = "CUSTODY_INPUT_TIMEOUT";

/// How long reading a pipe, FIFO or device may take in all, unless
/// [`TIMEOUT_ENV`] says otherwise.
pub const DEFAULT_STREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest [`TIMEOUT_ENV`] accepted (a day); larger or unparsable values
/// are ignored.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// How long reading a pipe, FIFO or device may take in all:
/// `$CUSTODY_INPUT_TIMEOUT` seconds (1 to 86,400), else 30 s.
pub fn stream_timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| (1..=MAX_TIMEOUT_SECS).contains(s))
        .map_or(DEFAULT_STREAM_TIMEOUT, Duration::from_secs)
}

/// What an opened input is, from `fstat` of the open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Regular,
    Directory,
    /// A pipe or a FIFO (`<(…)` and `/dev/stdin` are usually pipes).
    Pipe,
    CharDevice,
    BlockDevice,
    Socket,
    Other,
}

impl InputKind {
    fn of(meta: &fs::Metadata) -> InputKind {
        let t = meta.file_type();
        if t.is_file() {
            return InputKind::Regular;
        }
        if t.is_dir() {
            return InputKind::Directory;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return InputKind::Pipe;
            }
            if t.is_char_device() {
                return InputKind::CharDevice;
            }
            if t.is_block_device() {
                return InputKind::BlockDevice;
            }
            if t.is_socket() {
                return InputKind::Socket;
            }
        }
        InputKind::Other
    }

    /// "a pipe or FIFO", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            InputKind::Regular => "a regular file",
            InputKind::Directory => "a directory",
            InputKind::Pipe => "a pipe or FIFO",
            InputKind::CharDevice => "a character device",
            InputKind::BlockDevice => "a block device",
            InputKind::Socket => "a socket",
            InputKind::Other => "a special file",
        }
    }
}

/// A file given from outside, opened without blocking.
pub struct Input {
    path: PathBuf,
    file: File,
    meta: fs::Metadata,
    kind: InputKind,
}

impl Input {
    /// Opens `path` for reading without waiting for a FIFO's writer (and
    /// without making a terminal the controlling one). The error is the
    /// open's, so that callers can treat a missing file as they need.
    pub fn open(path: &Path) -> io::Result<Input> {
        let file = open_nonblocking(path)?;
        let meta = file.metadata()?;
        let kind = InputKind::of(&meta);
        if matches!(kind, InputKind::Regular | InputKind::BlockDevice) {
            // Reads of these never wait for a writer: back to the usual mode.
            set_blocking(&file)?;
        }
        Ok(Input {
            path: path.to_path_buf(),
            file,
            meta,
            kind,
        })
    }

    /// `fstat` of the opened file (not of the path).
    pub fn meta(&self) -> &fs::Metadata {
        &self.meta
    }

    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// The open file if it is a regular file; anything else is refused
    /// (`what`, with its article, names the expected content: "a bundle").
    pub fn into_regular(self, what: &str) -> Result<File, StoreError> {
        if self.kind == InputKind::Regular {
            return Ok(self.file);
        }
        Err(self.not_regular(what, "a regular file"))
    }

    /// The refusal of what is not `wanted` ("a regular file").
    fn not_regular(&self, what: &str, wanted: &str) -> StoreError {
        self.refuse(
            format!("is {}: {what} is read from {wanted}", self.kind.describe()),
            if self.kind == InputKind::Directory {
                format!("give the path of {what}, not a directory")
            } else {
                "save it to a file first and give that file's path; nothing was changed".into()
            },
        )
    }

    /// The whole content, at most `cap` bytes; more is refused, having read
    /// at most `cap + 1` bytes.
    pub fn read(self, cap: u64, what: &str) -> Result<Vec<u8>, StoreError> {
        let mut buf = Vec::new();
        self.read_into(&mut buf, cap, what, false)?;
        Ok(buf)
    }

    /// As [`Input::read`], into one buffer allocated up front (`cap + 1`
    /// bytes) that is wiped on drop: no copy of a secret is left behind by
    /// a buffer growing.
    pub fn read_secret(self, cap: u64, what: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut buf = Zeroizing::new(Vec::with_capacity(cap_len(cap)?.saturating_add(1)));
        self.read_into(&mut buf, cap, what, true)?;
        Ok(buf)
    }

    fn read_into(
        self,
        buf: &mut Vec<u8>,
        cap: u64,
        what: &str,
        fixed: bool,
    ) -> Result<(), StoreError> {
        match self.kind {
            InputKind::Directory | InputKind::Socket | InputKind::Other => {
                return Err(self.not_regular(what, "a file or a pipe"));
            }
            InputKind::Regular if self.meta.len() > cap => return Err(self.too_large(cap, what)),
            _ => {}
        }
        let limit = cap_len(cap)?.saturating_add(1);
        let deadline = Instant::now() + stream_timeout();
        let mut pause = Duration::from_millis(1);
        let mut f = &self.file;
        loop {
            if buf.len() >= limit {
                return Err(self.too_large(cap, what));
            }
            let len = buf.len();
            // Read straight into the buffer, in steps of at most 64 KiB; a
            // fixed buffer was allocated with room for `limit` bytes.
            let step = (limit - len).min(64 << 10);
            if !fixed {
                buf.reserve(step);
            }
            buf.resize(len + step, 0);
            let got = f.read(&mut buf[len..]);
            buf.truncate(len + *got.as_ref().unwrap_or(&0));
            match got {
                Ok(0) => break,
                Ok(_) => pause = Duration::from_millis(1),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // A pipe whose writer has given nothing more yet.
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(self.timed_out(buf.len()));
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(io_err(&self.path, e)),
            }
        }
        // A FIFO that no writer has opened reads as ended, so an empty pipe
        // is refused (a device such as /dev/null may be empty).
        if buf.is_empty() && self.kind == InputKind::Pipe {
            return Err(self.refuse(
                format!(
                    "is {} that gave no data (a FIFO reads as ended while no writer has it open)",
                    self.kind.describe()
                ),
                format!("start the FIFO's writer before custody, or give {what} as a regular file"),
            ));
        }
        Ok(())
    }

    fn refuse(&self, problem: String, hint: String) -> StoreError {
        StoreError::InputFile {
            path: self.path.clone(),
            problem,
            hint,
        }
    }

    fn too_large(&self, cap: u64, what: &str) -> StoreError {
        self.refuse(
            format!("is larger than {cap} bytes: too large for {what}"),
            format!("check that it is {what} (FORMAT.md gives the limit); nothing was changed"),
        )
    }

    fn timed_out(&self, got: usize) -> StoreError {
        let t = stream_timeout().as_secs();
        self.refuse(
            format!(
                "is {} that did not end within {t} s ({got} bytes read)",
                self.kind.describe()
            ),
            format!(
                "check that its writer finishes, save it to a file first, or allow more time with {TIMEOUT_ENV}=SECONDS"
            ),
        )
    }
}

/// `cap` as a buffer length (caps are small; a cap that does not fit
/// memory is a bug of the caller).
fn cap_len(cap: u64) -> Result<usize, StoreError> {
    usize::try_from(cap)
        .ok()
        .filter(|c| *c < usize::MAX)
        .ok_or_else(|| StoreError::Internal(format!("input cap {cap} too large")))
}

/// The content of the file at `path`, at most `cap` bytes, whatever it is
/// (regular file, pipe, FIFO, device): see the module documentation.
/// `what` names the expected content with its article ("a tlog-proof").
pub fn read_input(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, StoreError> {
    Input::open(path)
        .map_err(|e| io_err(path, e))?
        .read(cap, what)
}

/// As [`read_input`], for secrets (a passphrase file): one buffer, wiped
/// on drop.
pub fn read_secret_input(
    path: &Path,
    cap: u64,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    Input::open(path)
        .map_err(|e| io_err(path, e))?
        .read_secret(cap, what)
}

/// As [`read_input`], and `None` when `path` does not exist.
pub fn read_input_opt(path: &Path, cap: u64, what: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match Input::open(path) {
        Ok(i) => i.read(cap, what).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// The regular file at `path`, opened for reading (never blocking on a
/// FIFO), with `fstat` of it; anything but a regular file is refused.
pub fn open_regular(path: &Path, what: &str) -> Result<(File, fs::Metadata), StoreError> {
    let i = Input::open(path).map_err(|e| io_err(path, e))?;
    let meta = i.meta.clone();
    Ok((i.into_regular(what)?, meta))
}

/// As [`open_regular`], and `None` when `path` does not exist.
pub fn open_regular_opt(path: &Path, what: &str) -> Result<Option<File>, StoreError> {
    match Input::open(path) {
        Ok(i) => i.into_regular(what).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// `O_NONBLOCK` (a FIFO with no writer does not block the open) and
/// `O_NOCTTY`, on every Unix.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
        .open(path)
}

#[cfg(unix)]
fn set_blocking(f: &File) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let flags = fcntl_getfl(f)?;
    fcntl_setfl(f, flags - OFlags::NONBLOCK)?;
    Ok(())
}

/// Elsewhere (no FIFOs to block on), a plain open.
#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(not(unix))]
fn set_blocking(_: &File) -> io::Result<()> {
    Ok(())
}

// The tests make FIFOs with mkfifoat, which rustix offers on Linux.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn regular_files_pipes_devices_and_fifos() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"hello").unwrap();
        assert_eq!(read_input(&p, 5, "a test").unwrap(), b"hello");
        assert!(matches!(
            read_input(&p, 4, "a test"),
            Err(StoreError::InputFile { .. })
        ));
        assert_eq!(&read_secret_input(&p, 5, "a test").unwrap()[..], b"hello");
        // A device that never ends: refused at the cap.
        let e = read_input(Path::new("/dev/zero"), 1 << 16, "a test").unwrap_err();
        assert!(e.to_string().contains("too large for a test"), "{e}");
        // A device that ends at once: empty.
        assert!(read_input(Path::new("/dev/null"), 10, "a test")
            .unwrap()
            .is_empty());
        // A FIFO with no writer: never blocks.
        let fifo = d.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let e = read_input(&fifo, 10, "a test").unwrap_err();
        assert!(e.to_string().contains("gave no data"), "{e}");
        assert!(open_regular(&fifo, "a test").is_err());
        assert!(read_input(d.path(), 10, "a test").is_err());
        assert_eq!(
            read_input_opt(&d.path().join("none"), 1, "a test").unwrap(),
            None
        );
    }
}
