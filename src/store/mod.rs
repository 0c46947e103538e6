//! The archive on disk, in three layers, each importing only from those
//! below it (and from `core`):
//!
//! - [`files`]: files and stores that know nothing of an archive (durable
//!   writes, bounded input, append-only frames, the flat index, the sled
//!   database, blob stores, key files);
//! - [`archive`]: the [`Archive`] itself (open, lock, recover, the write
//!   path) and what belongs to it (actors, checkpoints and cosignatures,
//!   sealed details, document events, the lock-free log view);
//! - [`ops`]: the operations, one file each (ingest, extract, share,
//!   receive, verify, audit, gc, publish, mirror, witness, trust).
//!
//! Dependency direction: `cli -> store -> core`. Only [`files::db`] names
//! sled; only [`files::remote`] names `object_store`.

pub mod archive;
pub mod files;
pub mod ops;

use std::io;
use std::path::{Path, PathBuf};

pub use archive::{Archive, Config};
pub use ops::ingest::{IngestObserver, IngestOptions, IngestSummary, Ingested, NoObserver};

/// Everything that can stop an archive operation. Verification findings are
/// not errors (see [`crate::core::findings`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("no custody archive found ({0})")]
    NotAnArchive(String),
    #[error("{} already holds a custody archive", crate::core::redact::path(.0))]
    AlreadyExists(PathBuf),
    #[error(
        "archive format version {found} is not supported by this custody (supports {supported})"
    )]
    UnknownFormat { found: u32, supported: u32 },
    #[error("archive is in use by another process{}", .pid.map(|p| format!(" (PID {p})")).unwrap_or_default())]
    Locked { pid: Option<u32> },
    #[error("archive configuration {}: {}", crate::core::redact::path(.0), .1)]
    Config(PathBuf, String),
    /// The per-user trust store (FORMAT.md §11.5) is damaged: not UTF-8,
    /// not the TOML of §11.5, or an entry breaks its rules.
    #[error("trust store {}: {}", crate::core::redact::path(.0), .1)]
    TrustStore(PathBuf, String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the archive database is damaged: {0}")]
    DatabaseCorrupt(String),
    /// The database was written by an older custody (FORMAT.md §7.2.4).
    #[error("the archive database has layout {found}, this custody reads layout {supported}")]
    OldDatabaseLayout { found: u64, supported: u64 },
    /// `ledger/index`, `ledger/tree` or `ledger/checkpoint` (derived files,
    /// FORMAT.md §7.2.1 to §7.2.3) disagree with what they must hold.
    #[error("the archive's index files are damaged: {0}")]
    IndexDamaged(String),
    #[error("archive files are inconsistent: {0}")]
    Corrupt(String),
    /// The ledger holds fewer records than a checkpoint the log key signed,
    /// kept beside it, says it had: records were cut off (FORMAT.md §7.2.6).
    #[error("the ledger holds {size} records, but {found_in} is signed by the log key at size {signed}: records were cut off from the ledger (a rollback or a truncated copy)")]
    RolledBack {
        size: u64,
        signed: u64,
        found_in: &'static str,
    },
    /// The ledger's tree at the size of a checkpoint the log key signed,
    /// kept beside it, has another root: another history (FORMAT.md §7.2.6).
    #[error("the ledger's tree at size {signed} is not the one {found_in} commits to (signed by the log key): these ledger files are another history than the log's (a fork, or another archive's files)")]
    OtherHistory { signed: u64, found_in: &'static str },
    /// A read-only command met a wrong index entry after it had printed: the
    /// index is rebuilt now, and the command must run again (FORMAT.md §7.2.5).
    #[error("{0}; the index is rebuilt now")]
    RunAgain(String),
    /// The ledger does not verify, or custody.toml disagrees with it: every
    /// writing command refuses (FORMAT.md §4.14).
    #[error("the archive does not verify ({findings} finding(s); first: {first}); writing is refused so that nothing unchecked is signed")]
    NotVerified {
        findings: usize,
        first: String,
        /// The first finding is custody.toml disagreeing with the ledger.
        config: bool,
    },
    #[error("no record matches {0}")]
    NotFound(String),
    /// A record given where a document is needed that is about no
    /// document: an `actor` or `config` record.
    #[error(
        "record {index} is {} {kind} record, not a document",
        if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
    )]
    NotADocument { index: u64, kind: &'static str },
    #[error("{prefix} matches {count} records")]
    Ambiguous { prefix: String, count: usize },
    /// What needs names, paths or notes, which only an identity opens
    /// (FORMAT.md §5.2): a REF that is a document's name or path, `find`.
    #[error("{0} needs an identity: names, paths and notes are stored encrypted")]
    NeedsIdentity(String),
    /// A name or path REF that names several documents. `what` is
    /// `named NAME` or `at path PATH`.
    #[error("ambiguous: {} documents {what} (records {})", .records.len(), crate::core::find::index_list(.records))]
    AmbiguousName {
        what: String,
        records: Vec<u64>,
        by_path: bool,
    },
    /// A name or path REF that names no document the identity opens;
    /// `unreadable` documents could not be read with it.
    #[error("no document {what}{}", match .unreadable { 0 => String::new(), 1 => " among those this identity opens (it cannot read 1 other document)".into(), n => format!(" among those this identity opens (it cannot read {n} other documents)") })]
    NoSuchName { what: String, unreadable: u64 },
    #[error("no checkpoint at tree size {0}")]
    NoCheckpoint(u64),
    #[error("{}: {}", crate::core::redact::path(.0), .1)]
    Io(PathBuf, #[source] io::Error),
    #[error("key file {}: {}", crate::core::redact::path(.0), .1)]
    Key(PathBuf, String),
    #[error("permissions {mode:04o} on secret key file {} are too open", crate::core::redact::path(.path))]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("no identity given")]
    NoIdentity,
    #[error("this signing key ({got}) is not the archive's log key ({want})")]
    WrongSigningKey { got: String, want: String },
    #[error("decryption failed for {what}: {source}")]
    Decrypt {
        what: String,
        #[source]
        source: crate::core::crypto::CryptoError,
    },
    #[error("{0}")]
    Crypto(#[from] crate::core::crypto::CryptoError),
    #[error("{path} is a symbolic link loop")]
    SymlinkLoop { path: PathBuf },
    #[error("{0}")]
    Input(String),
    /// A file given from outside the archive that is not read as given: too
    /// large, not a regular file where one is needed, or a pipe that gave
    /// nothing in time (src/store/files/input.rs, FORMAT.md §1.1). `hint` is the
    /// next step.
    #[error("{} {problem}", crate::core::redact::path(.path))]
    InputFile {
        path: PathBuf,
        problem: String,
        hint: String,
    },
    #[error("content check failed: {0}")]
    ContentMismatch(String),
    #[error("{} already exists", crate::core::redact::path(.0))]
    OutputExists(PathBuf),
    #[error("{0}")]
    Bundle(#[from] crate::core::bundle::BundleError),
    /// The signer may not make this record (role, revoked or unknown actor).
    #[error("not authorized: {0}")]
    NotAuthorized(String),
    /// An operation refused for a reason that is a verification result, not a fault (exit 1).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Policy(#[from] crate::core::policy::PolicyError),
    /// An object store or web server failed or refused (src/store/files/remote/mod.rs).
    #[error("{0}")]
    Remote(#[from] files::remote::RemoteError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// An I/O error with the path it happened on.
pub fn io_err(path: &Path, e: io::Error) -> StoreError {
    StoreError::Io(path.to_path_buf(), e)
}

/// An I/O error of the writing side of a copy (input → output), marked so
/// that the code running the copy names the file that failed: an error
/// while writing a blob must name the archive's `blobs/`, not the file
/// being ingested or the bundle being received.
#[derive(Debug)]
struct OutputError(io::Error);

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Marks `e` as an error of the output side of a copy (see [`output_error`]).
pub(crate) fn mark_output(e: io::Error) -> io::Error {
    if is_output_error(&e) {
        return e;
    }
    io::Error::new(e.kind(), OutputError(e))
}

impl StoreError {
    /// The index (the database or the flat files, FORMAT.md §7.2) cannot be
    /// opened or disagrees with itself: rebuilt from the ledger files.
    pub(crate) fn is_index_damage(&self) -> bool {
        matches!(
            self,
            StoreError::DatabaseCorrupt(_)
                | StoreError::OldDatabaseLayout { .. }
                | StoreError::IndexDamaged(_)
        )
    }
}

/// Was `e` marked by [`mark_output`]?
pub(crate) fn is_output_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|r| r.is::<OutputError>())
}

/// `Ok(the original error)` if `e` was marked by [`mark_output`], else `Err(e)`.
pub(crate) fn output_error(e: io::Error) -> Result<io::Error, io::Error> {
    if !is_output_error(&e) {
        return Err(e);
    }
    match e.into_inner().map(|b| b.downcast::<OutputError>()) {
        Some(Ok(o)) => Ok(o.0),
        Some(Err(other)) => Err(io::Error::other(other)),
        None => Err(io::Error::other("an output error without its cause")),
    }
}

/// `e` without its mark, if it has one.
pub(crate) fn unmarked(e: io::Error) -> io::Error {
    output_error(e).unwrap_or_else(|e| e)
}

/// A writer whose errors are marked as the output side's ([`mark_output`]).
pub(crate) struct OutputSide<W>(pub W);

impl<W: io::Write> io::Write for OutputSide<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark_output)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs).map_err(mark_output)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark_output)
    }
}

/// A TOML file's text, for a [`StoreError::Config`] about `path`: bytes that
/// are not UTF-8 are a configuration error (a damaged file), not an I/O one.
pub(crate) fn read_toml_text(path: &Path) -> Result<String, io::Error> {
    // Bounded: the parsers refuse anything over 1 MiB, so one byte more is enough.
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(archive::MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A TOML parse error in one line (`line L, column C: message`), for
/// [`StoreError::Config`]; the parser's own display spans several lines.
pub(crate) fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = before.len()
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1)
                + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}
