//! The archive facade: init, open (lock, recover), ingest, checkpoints, proofs,
//! lookups, extract and reindex. Layout and formats: `docs/FORMAT.md` §7.

pub mod actors;
pub mod checkpoint_file;
pub mod cosignatures;
pub mod document_events;
pub mod log_view;
pub mod sealed;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::crypto::RecipientKey;
use crate::core::hash::Digest;
use crate::core::keys::{SignerKey, VerifierKey};
use crate::core::merkle::{self, Overlay, TreeSize};
use crate::core::record::Record;
use crate::core::time;
use crate::store::files::blobs::{self, BlobStore, Blobs};
use crate::store::files::db::{Batch, Db, DigestKind, CACHE_BYTES, SCAN_CACHE_BYTES};
use crate::store::files::dedup_log::{self, DedupLog};
use crate::store::files::flat_index::{FlatIndex, INDEX_FILE, TREE_FILE};
use crate::store::files::latest_checkpoint::Floor;
use crate::store::files::logfile::{Frame, LogFile};
use crate::store::files::merkle_nodes::{checked_inclusion_proof, tree_err};
use crate::store::files::outfile;
use crate::store::files::remote::{Location, Remote, S3Settings};
use crate::store::{files::fault, io_err, StoreError};

/// The archive format version this code reads and writes (FORMAT.md §7).
pub const FORMAT_VERSION: u32 = 1;
/// Name of the configuration file that marks a directory as an archive.
pub const CONFIG_FILE: &str = "custody.toml";
const LOCK_FILE: &str = "lock";
const DB_DIR: &str = "db";
const BLOB_DIR: &str = "blobs";
/// The most rekeys followed from a blob a record names to the file that holds
/// it now ([`Archive::current_blob`]).
const MAX_REKEY_HOPS: usize = 4096;
pub(crate) const LEDGER_DIR: &str = "ledger";
pub(crate) const RECORDS_FILE: &str = "records";
pub(crate) const CHECKPOINTS_FILE: &str = "checkpoints";
/// Where `reindex` builds the flat files before renaming them into place.
const REINDEX_INDEX: &str = ".index.reindex";
const REINDEX_TREE: &str = ".tree.reindex";
/// Present while the index is being rebuilt (`reindex`, or a rebuild custody
/// starts by itself); an open that finds it rebuilds the index again
/// (FORMAT.md §7.2.5).
const REBUILD_MARKER: &str = "reindex.pending";
/// Records indexed per batch when catching up with the record file (on open
/// and by `reindex`): bounds the memory of indexing a long log.
const CATCH_UP_BATCH: usize = 65_536;

/// `custody.toml` (FORMAT.md §7.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Archive format version; must equal [`FORMAT_VERSION`].
    pub format: u32,
    /// Log origin: the first line of every checkpoint.
    pub origin: String,
    /// The log's C2SP verifier key (vkey).
    pub log_key: String,
    /// age recipients every blob is encrypted to.
    pub recipients: Vec<String>,
    /// Default signing key file for commands that sign (may be overridden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<PathBuf>,
    /// Default personal (actor) key file that signs records (`--key`,
    /// `CUSTODY_KEY` override it); set by `init --admin-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Default age identity file that opens the deduplication secret for
    /// writing commands (FORMAT.md §7.3; `-i`, `CUSTODY_IDENTITY` override
    /// it); set by `init --identity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    /// When the archive was created (RFC 3339, UTC).
    pub created: String,
    /// Roles whose approval a document needs before publication (audit).
    #[serde(default = "default_approvals")]
    pub publication_approvals: Vec<String>,
    /// Where document blobs are kept when not in `blobs/` (FORMAT.md §7.4, §7.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<BlobsConfig>,
    /// The members' recipients of each compartment, by number (FORMAT.md
    /// §4.18, §7.4): a cache of the `compartment` records, never a name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compartments: Vec<CompartmentConfig>,
}

/// A `[[compartments]]` table of `custody.toml` (FORMAT.md §7.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompartmentConfig {
    /// The compartment's number (FORMAT.md §4.18).
    pub id: u16,
    /// Its members' own age recipients, as the record's sealed details name them.
    pub recipients: Vec<String>,
}

/// The `[blobs]` table of `custody.toml` (FORMAT.md §7.4): where document
/// blobs are kept, never credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    /// `s3://bucket/prefix`, or a directory (`file:///srv/blobs`).
    pub url: String,
    /// The S3 endpoint (`http://127.0.0.1:3900`); unset: `AWS_ENDPOINT_URL`, the profile, AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The S3 region; unset: `AWS_REGION`, the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl BlobsConfig {
    /// The location and its settings; an http(s) URL is refused (read only).
    pub fn location(&self) -> Result<(Location, S3Settings), String> {
        let loc = Location::parse(&self.url).map_err(|e| e.to_string())?;
        if matches!(loc, Location::Http { .. }) {
            return Err(format!(
                "[blobs] url {:?}: blobs need a writable store (s3://bucket/prefix or a directory)",
                self.url
            ));
        }
        Ok((
            loc,
            S3Settings {
                endpoint: self.endpoint.clone(),
                region: self.region.clone(),
            },
        ))
    }
}

/// Keys of `[blobs]` that look like credentials: refused with a clear error
/// (credentials come from the AWS environment or a profile, never the archive).
fn looks_like_credential(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "key",
        "secret",
        "token",
        "password",
        "credential",
        "session",
    ]
    .iter()
    .any(|w| k.contains(w))
}

fn default_approvals() -> Vec<String> {
    vec!["editor".into(), "legal".into()]
}

/// The first administrator of a new archive (FORMAT.md §4.14).
pub struct InitAdmin {
    /// Their personal signing key (not the log key).
    pub key: SignerKey,
    /// Their actor name.
    pub name: String,
    /// Where the key file is, remembered in `custody.toml` as `key`.
    pub path: Option<PathBuf>,
    /// An age identity file of the archive, remembered in `custody.toml` as
    /// `identity`: writing commands open the deduplication secret with it
    /// (FORMAT.md §7.3).
    pub identity: Option<PathBuf>,
}

/// A signed checkpoint and what it says.
#[derive(Clone, Debug)]
pub struct CheckpointInfo {
    pub size: u64,
    pub root: Digest,
    pub note: Vec<u8>,
    /// False when the latest checkpoint already covered the log and none was signed.
    pub new: bool,
}

/// Everything needed to print an inclusion proof (FORMAT.md §8.1).
#[derive(Clone, Debug)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    pub record: Vec<u8>,
    pub leaf_hash: Digest,
    pub proof: Vec<Digest>,
    pub checkpoint: Vec<u8>,
}

/// Everything needed to print a consistency proof (FORMAT.md §8.2).
#[derive(Clone, Debug)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: Digest,
    pub proof: Vec<Digest>,
    /// The checkpoint the log signed at `old_size`, if it signed one there
    /// (FORMAT.md §8.2: a proof may start at any size).
    pub old_checkpoint: Option<Vec<u8>>,
    pub checkpoint: Vec<u8>,
}

/// What `status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub path: PathBuf,
    pub format: u32,
    pub origin: String,
    pub log_key: String,
    pub recipients: Vec<String>,
    pub records: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub checkpoints: u64,
    pub latest_checkpoint: Option<String>,
    pub created: String,
    /// Where document blobs are kept when not in `blobs/` (FORMAT.md §7.7);
    /// `blobs` and `blob_bytes` then count what `blobs/` holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_store: Option<String>,
}

/// Result of `reindex`.
#[derive(Clone, Debug, Serialize)]
pub struct Reindexed {
    pub records: u64,
    pub checkpoints: u64,
    pub root: Digest,
    /// The deduplication index was kept from the previous database (FORMAT.md §7.3).
    pub dedup_kept: bool,
}

/// An open archive. Holds the process-exclusive lock until dropped.
pub struct Archive {
    pub(crate) root: PathBuf,
    pub(crate) config: Config,
    pub(crate) log_key: VerifierKey,
    pub(crate) recipients: Vec<RecipientKey>,
    /// The sled part of the index: record count, lookups, checkpoints, cosignatures.
    pub(crate) db: Db,
    /// The flat part of the index: record locations and Merkle nodes (§7.2.1, §7.2.2).
    pub(crate) flat: FlatIndex,
    pub(crate) records: LogFile,
    pub(crate) checkpoints: LogFile,
    /// The deduplication entries, kept beside the records (FORMAT.md §7.3.1).
    pub(crate) dedup_log: DedupLog,
    pub(crate) blobs: BlobStore,
    /// Where document blobs are kept: `blobs` itself, or an object store (FORMAT.md §7.7).
    pub(crate) docs: Blobs,
    pub(crate) damaged: Option<String>,
    /// `damaged` is about the index alone (the flat files or the database
    /// disagree with each other), which a rebuild from the ledger files repairs.
    pub(crate) index_damaged: bool,
    /// Why this process rebuilt the index from the ledger files, if it did
    /// (FORMAT.md §7.2.5): the CLI says so in a note.
    pub(crate) rebuilt: Option<String>,
    /// Set once [`Archive::check_before_write`] passed in this process.
    pub(crate) write_checked: bool,
    /// The actor whose key signs new records (FORMAT.md §4.14); `None`: the log key.
    /// With the key ID its records carry (the ledger's, FORMAT.md §4.16).
    pub(crate) actor: Option<(
        SignerKey,
        crate::core::actors::Signer,
        crate::core::keys::KeyId,
    )>,
    /// Identities that open the deduplication secret (FORMAT.md §7.3).
    pub(crate) dedup_ids: Option<crate::core::crypto::Identities>,
    /// The witness policy `receive` applies, recorded in its record
    /// (FORMAT.md §4.16); `None`: not stated (a version 1 record).
    pub(crate) receive_policy: Option<crate::core::record::ReceivePolicy>,
    /// The deduplication key of this process, once decided.
    pub(crate) dedup: Option<crate::store::files::dedup_log::DedupKey>,
    /// The compartment this process writes documents to (FORMAT.md §4.18).
    pub(crate) compartment: Option<u16>,
    _lock: File,
}

/// How an archive is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Any command.
    Normal,
    /// A pass that reads the whole log once (`verify`): a small database cache.
    Scan,
    /// `reindex`: a new database, and flat files built aside then renamed;
    /// a ledger shorter than the floor is refused before anything is
    /// written (FORMAT.md §7.2.6).
    Reindex(Option<Floor>),
}

/// Removes what an interrupted write left in `ledger/`: temporary files of
/// `ledger/checkpoint` (`write_durable`) and flat files of a `reindex`.
fn clean_ledger_tmp(ledger: &Path) -> Result<(), StoreError> {
    let entries = fs::read_dir(ledger).map_err(|e| io_err(ledger, e))?;
    for e in entries {
        let e = e.map_err(|e| io_err(ledger, e))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        let leftover = (name.starts_with(".custody-") && name.ends_with(".tmp"))
            || name == REINDEX_INDEX
            || name == REINDEX_TREE;
        if leftover {
            fs::remove_file(e.path()).map_err(|err| io_err(&e.path(), err))?;
        }
    }
    Ok(())
}

/// Writes a batch to the flat files (fsynced), then to the database (one
/// transaction, flushed), then moves the flat files' bound (FORMAT.md §7.2.5).
fn commit_index(flat: &mut FlatIndex, db: &Db, batch: &Batch) -> Result<(), StoreError> {
    flat.append(batch)?;
    db.commit(batch)?;
    flat.set_size(batch.size);
    Ok(())
}

/// Reads and decodes record `index` (below the bound of `flat`).
pub(crate) fn read_record(
    flat: &FlatIndex,
    records: &LogFile,
    index: u64,
) -> Result<Record, StoreError> {
    let (off, len) = flat.location(index)?;
    let bytes = records.read_at(off, len)?;
    let rec = Record::decode(&bytes)
        .map_err(|e| StoreError::Corrupt(format!("record {index} does not decode: {e}")))?;
    if rec.body.index != index {
        return Err(StoreError::IndexDamaged(format!(
            "ledger/index locates record {index} where record {} is",
            rec.body.index
        )));
    }
    Ok(rec)
}

/// The root of the checkpoint `note` at tree size `size`.
pub(crate) fn checkpoint_root(note: &[u8], size: u64) -> Result<Digest, StoreError> {
    let c = SignedCheckpoint::parse(note)
        .map_err(|e| StoreError::Corrupt(format!("checkpoint at size {size}: {e}")))?;
    if c.checkpoint().size != size {
        return Err(StoreError::Corrupt(format!(
            "the checkpoint stored for size {size} says size {}",
            c.checkpoint().size
        )));
    }
    Ok(c.checkpoint().root)
}

/// The consistency proof from size `old` (with the note the log signed
/// there, if any) to the checkpoint (size, note), from the stored nodes,
/// checked before it is returned: against the new checkpoint's root, which
/// authenticates the old root the nodes give (RFC 9162 §2.1.4.2), and
/// against the old checkpoint's root when there is one (FORMAT.md §8.2).
pub(crate) fn checked_consistency_proof(
    flat: &FlatIndex,
    (old, old_note): (u64, Option<Vec<u8>>),
    (new_size, note): (u64, Vec<u8>),
) -> Result<ConsistencyProof, StoreError> {
    if old > new_size {
        return Err(StoreError::Input(format!(
            "old size {old} is larger than new size {new_size}"
        )));
    }
    let old_root = merkle::root(flat, TreeSize(old)).map_err(tree_err)?;
    let proof =
        merkle::consistency_proof(flat, TreeSize(old), TreeSize(new_size)).map_err(tree_err)?;
    let want_old = match &old_note {
        Some(n) => checkpoint_root(n, old)?,
        None => old_root,
    };
    let want_new = checkpoint_root(&note, new_size)?;
    if old_root != want_old
        || merkle::verify_consistency(
            TreeSize(old),
            TreeSize(new_size),
            &want_old,
            &want_new,
            &proof,
        )
        .is_err()
    {
        return Err(StoreError::IndexDamaged(format!(
            "the stored Merkle nodes do not prove the checkpoint at size {old} consistent with the one at size {new_size}"
        )));
    }
    Ok(ConsistencyProof {
        old_size: old,
        new_size,
        old_root,
        proof,
        old_checkpoint: old_note,
        checkpoint: note,
    })
}

/// Is `dir` the root of an archive?
pub fn is_archive(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file()
}

/// Finds the archive like git finds `.git`: an explicit directory, else the
/// `CUSTODY_ARCHIVE` value, else the nearest ancestor of `cwd` holding one.
pub fn discover(
    explicit: Option<&Path>,
    env: Option<&Path>,
    cwd: &Path,
) -> Result<PathBuf, StoreError> {
    for (given, how) in [(explicit, "--archive"), (env, "CUSTODY_ARCHIVE")] {
        if let Some(d) = given {
            if is_archive(d) {
                return Ok(d.to_path_buf());
            }
            return Err(StoreError::NotAnArchive(format!(
                "{how} {} has no {CONFIG_FILE}",
                crate::core::redact::path(d)
            )));
        }
    }
    let mut cur = Some(cwd);
    while let Some(d) = cur {
        if is_archive(d) {
            return Ok(d.to_path_buf());
        }
        cur = d.parent();
    }
    Err(StoreError::NotAnArchive(format!(
        "not in {} or any parent directory",
        cwd.display()
    )))
}

/// Largest `custody.toml` accepted (a real one is well under 4 KiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

pub(crate) fn read_config(root: &Path) -> Result<Config, StoreError> {
    let path = root.join(CONFIG_FILE);
    let text = crate::store::read_toml_text(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotAnArchive(format!(
            "{} has no {CONFIG_FILE}",
            crate::core::redact::path(root)
        )),
        io::ErrorKind::InvalidData => StoreError::Config(path.clone(), "is not UTF-8 text".into()),
        _ => io_err(&path, e),
    })?;
    parse_config(&path, &text)
}

/// Parses the text of `custody.toml` (FORMAT.md §7.4); `path` only names the
/// file in errors. The version is read first, so that a newer archive is
/// refused as such rather than as a configuration with unknown fields.
pub fn parse_config(path: &Path, text: &str) -> Result<Config, StoreError> {
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(StoreError::Config(
            path.to_path_buf(),
            format!("is larger than {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    let v: toml::Value = toml::from_str(text)
        .map_err(|e| StoreError::Config(path.to_path_buf(), crate::store::toml_error(text, &e)))?;
    let found = v
        .get("format")
        .and_then(|f| f.as_integer())
        .ok_or_else(|| {
            StoreError::Config(path.to_path_buf(), "has no integer `format` version".into())
        })?;
    if found != FORMAT_VERSION as i64 {
        return Err(StoreError::UnknownFormat {
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        });
    }
    if let Some(t) = v.get("blobs").and_then(|b| b.as_table()) {
        if let Some(k) = t.keys().find(|k| looks_like_credential(k)) {
            return Err(StoreError::Config(
                path.to_path_buf(),
                format!(
                    "[blobs] holds `{k}`, which looks like a credential; remove it: credentials come only from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile, never from the archive"
                ),
            ));
        }
    }
    let c: Config = toml::from_str(text)
        .map_err(|e| StoreError::Config(path.to_path_buf(), crate::store::toml_error(text, &e)))?;
    if let Some(b) = &c.blobs {
        b.location()
            .map_err(|e| StoreError::Config(path.to_path_buf(), e))?;
    }
    Ok(c)
}

/// The store of document blobs `config` names (FORMAT.md §7.7); nothing is contacted yet.
pub(crate) fn open_docs(
    root: &Path,
    config: &Config,
    local: &BlobStore,
) -> Result<Blobs, StoreError> {
    match &config.blobs {
        None => Ok(Blobs::Local(local.clone())),
        Some(b) => {
            let cfg_err = |e: String| StoreError::Config(root.join(CONFIG_FILE), e);
            let (mut loc, settings) = b.location().map_err(cfg_err)?;
            if let Location::Dir(d) = &mut loc {
                // A relative directory is relative to the archive, and may not
                // be inside it (gc would see the archive's own files).
                if d.is_relative() {
                    *d = root.join(&*d);
                }
                let abs = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                if abs(d).starts_with(abs(root)) {
                    return Err(cfg_err(format!(
                        "[blobs] url {:?} is inside the archive; give a directory outside it",
                        b.url
                    )));
                }
            }
            Ok(Blobs::Object(std::sync::Arc::new(Remote::open(
                &loc, &settings,
            )?)))
        }
    }
}

pub(crate) fn parse_config_keys(
    root: &Path,
    c: &Config,
) -> Result<(VerifierKey, Vec<RecipientKey>), StoreError> {
    let path = root.join(CONFIG_FILE);
    let log_key = VerifierKey::parse(&c.log_key)
        .map_err(|e| StoreError::Config(path.clone(), format!("bad log_key: {e}")))?;
    let mut recipients = Vec::new();
    for r in &c.recipients {
        recipients.push(
            RecipientKey::parse(r).map_err(|e| StoreError::Config(path.clone(), e.to_string()))?,
        );
    }
    if recipients.is_empty() {
        return Err(StoreError::Config(path, "lists no recipients".into()));
    }
    Ok((log_key, recipients))
}

/// Creates `reindex.pending` durably (FORMAT.md §7.2.5).
fn write_marker(p: &Path) -> Result<(), StoreError> {
    let f = File::create(p).map_err(|e| io_err(p, e))?;
    fault::sync_all(&f, p).map_err(|e| io_err(p, e))?;
    crate::store::files::blobs::sync_dir(p.parent().unwrap_or(Path::new(".")))
}

/// Removes `reindex.pending` durably, once the rebuilt index is.
fn remove_marker(p: &Path) -> Result<(), StoreError> {
    fs::remove_file(p).map_err(|e| io_err(p, e))?;
    crate::store::files::blobs::sync_dir(p.parent().unwrap_or(Path::new(".")))
}

/// Takes the archive's exclusive lock, recording our PID in the lock file.
fn lock(root: &Path) -> Result<File, StoreError> {
    let path = root.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut s = String::new();
            let _ = f.read_to_string(&mut s);
            return Err(StoreError::Locked {
                pid: s.trim().parse().ok(),
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
    }
    f.set_len(0)
        .and_then(|_| f.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .map_err(|e| io_err(&path, e))?;
    Ok(f)
}

impl Archive {
    /// Creates a new archive in `dir` (which may exist but must not hold an
    /// archive or any of its files): the log key adds `admin` as the first
    /// administrator, who signs the archive's first `config` record, and the
    /// log key signs the checkpoint of those two records (FORMAT.md §4.14).
    pub fn init(
        dir: &Path,
        origin: &str,
        signer: &SignerKey,
        recipients: &[RecipientKey],
        signing_key_path: Option<PathBuf>,
        admin: InitAdmin,
    ) -> Result<(Archive, CheckpointInfo), StoreError> {
        if is_archive(dir) {
            return Err(StoreError::AlreadyExists(dir.to_path_buf()));
        }
        for name in [DB_DIR, BLOB_DIR, LEDGER_DIR] {
            if dir.join(name).exists() {
                return Err(StoreError::Input(format!(
                    "{} already exists; init into an empty directory",
                    dir.join(name).display()
                )));
            }
        }
        if recipients.is_empty() {
            return Err(StoreError::Input(
                "at least one --recipient is needed".into(),
            ));
        }
        if origin != signer.name() {
            return Err(StoreError::Input(format!(
                "the origin {origin:?} differs from the log key's name {:?}; C2SP checkpoints are signed with key name = origin, so create the key with `custody keygen --name {origin}`",
                signer.name()
            )));
        }
        if origin.len() > 255 {
            return Err(StoreError::Input("origin is longer than 255 bytes".into()));
        }
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        fault::set_root(dir);
        let lock = lock(dir)?;
        // Everything, up to the first signed checkpoint, is undone on failure
        // (a full disk, say): no half-made archive is left behind.
        let result = (|| -> Result<(Archive, CheckpointInfo), StoreError> {
            BlobStore::create(&dir.join(BLOB_DIR))?;
            let ledger = dir.join(LEDGER_DIR);
            fs::create_dir(&ledger).map_err(|e| io_err(&ledger, e))?;
            LogFile::open(&ledger.join(RECORDS_FILE), true)?;
            LogFile::open(&ledger.join(CHECKPOINTS_FILE), true)?;
            FlatIndex::create(ledger.join(INDEX_FILE), ledger.join(TREE_FILE))?;
            blobs::sync_dir(&ledger)?;
            // The database is created by the one open below, under the lock
            // (opening it twice raced with sled releasing its own file lock).
            let db = dir.join(DB_DIR);
            fs::create_dir(&db).map_err(|e| io_err(&db, e))?;
            let config = Config {
                format: FORMAT_VERSION,
                origin: origin.to_string(),
                log_key: signer.verifier().encode(),
                recipients: recipients.iter().map(RecipientKey::canonical).collect(),
                signing_key: signing_key_path,
                key: admin.path.clone(),
                identity: admin.identity.clone(),
                created: time::rfc3339(time::now_ms()),
                publication_approvals: default_approvals(),
                blobs: None,
                compartments: Vec::new(),
            };
            let text =
                toml::to_string_pretty(&config).map_err(|e| StoreError::Internal(e.to_string()))?;
            let tmp = dir.join(".custody.toml.tmp");
            File::create(&tmp)
                .and_then(|mut f| {
                    fault::write_all(&mut f, text.as_bytes(), &tmp)?;
                    fault::sync_all(&f, &tmp)
                })
                .map_err(|e| io_err(&tmp, e))?;
            fault::rename(&tmp, &dir.join(CONFIG_FILE)).map_err(|e| io_err(dir, e))?;
            blobs::sync_dir(dir)?;
            let (log_key, recipients) = parse_config_keys(dir, &config)?;
            let mut a = Self::open_locked(dir, config, log_key, recipients, lock, Mode::Normal)?;
            if admin.key.verifier().public_bytes() == signer.verifier().public_bytes() {
                return Err(StoreError::Input(
                    "the admin key is the log key; give a personal key (admin.key from `custody keygen`): the log key signs only checkpoints".into(),
                ));
            }
            a.configure(signer, admin.key, &admin.name)?;
            let cp = a.sign_checkpoint(signer)?;
            Ok((a, cp))
        })();
        if result.is_err() {
            for name in [DB_DIR, BLOB_DIR, LEDGER_DIR] {
                let _ = fs::remove_dir_all(dir.join(name));
            }
            let _ = fs::remove_file(dir.join(CONFIG_FILE));
            let _ = fs::remove_file(dir.join(".custody.toml.tmp"));
            let _ = fs::remove_file(dir.join(LOCK_FILE));
        }
        result
    }

    /// Opens an archive: checks the format, takes the lock, opens the database,
    /// cuts a torn tail off the ledger files, catches the index up with them and
    /// removes leftover temporary blobs. An index that cannot be opened or
    /// does not agree with itself is rebuilt from the ledger files first, as
    /// `reindex` does ([`Archive::take_rebuilt`] says why; FORMAT.md §7.2.5).
    pub fn open(root: &Path) -> Result<Archive, StoreError> {
        Self::open_mode(root, Mode::Normal)
    }

    /// [`Archive::open`] for a pass that reads the whole log once
    /// ([`Archive::verify`]): a small database cache keeps memory flat.
    pub fn open_for_scan(root: &Path) -> Result<Archive, StoreError> {
        Self::open_mode(root, Mode::Scan)
    }

    fn open_mode(root: &Path, mode: Mode) -> Result<Archive, StoreError> {
        let config = read_config(root)?;
        let (log_key, recipients) = parse_config_keys(root, &config)?;
        let lock = lock(root)?;
        let why = if root.join(REBUILD_MARKER).exists() {
            "a rebuild of the index was interrupted".to_string()
        } else {
            let first = lock
                .try_clone()
                .map_err(|e| io_err(&root.join(LOCK_FILE), e))?;
            let opened = Self::open_locked(
                root,
                config.clone(),
                log_key.clone(),
                recipients.clone(),
                first,
                mode,
            );
            match opened {
                Ok(a) if !a.index_damaged => return Ok(a),
                Ok(a) => a
                    .damaged
                    .clone()
                    .unwrap_or_default()
                    .replace("; run `custody reindex`", ""),
                Err(e) if e.is_index_damage() => e.to_string(),
                Err(e) => return Err(e),
            }
        };
        Self::reindex_locked(
            root,
            config.clone(),
            log_key.clone(),
            recipients.clone(),
            &lock,
        )?;
        let mut a = Self::open_locked(root, config, log_key, recipients, lock, mode)?;
        a.rebuilt = Some(why);
        Ok(a)
    }

    /// Finishes or undoes what interrupted runs left (FORMAT.md §7.8), on
    /// every open under the lock: temporary files
    /// ([`outfile::settle_temp_files`]), then interrupted shares whose record
    /// was never appended (undone: [`Archive::settle_pending_shares`]).
    pub(crate) fn settle_pending(&self) -> Result<(), StoreError> {
        outfile::settle_temp_files(&self.root)?;
        let pending = self.root.join(crate::store::files::layout::PENDING_DIR);
        if !pending.is_dir() {
            return Ok(());
        }
        self.settle_pending_shares()?;
        // Left only when something is pending (a share to complete).
        let _ = fs::remove_dir(&pending);
        Ok(())
    }

    /// Why this process rebuilt the index from the ledger files (an index that
    /// could not be opened, disagreed with itself or with the ledger, or an
    /// interrupted rebuild), if it did.
    /// (Taken once: the CLI says it in one note.)
    pub fn take_rebuilt(&mut self) -> Option<String> {
        self.rebuilt.take()
    }

    fn open_locked(
        root: &Path,
        config: Config,
        log_key: VerifierKey,
        recipients: Vec<RecipientKey>,
        lock: File,
        mode: Mode,
    ) -> Result<Archive, StoreError> {
        fault::set_root(root);
        let ledger = root.join(LEDGER_DIR);
        let open_log = |name: &str| {
            let p = ledger.join(name);
            if !p.is_file() {
                return Err(StoreError::Corrupt(format!("{} is missing", p.display())));
            }
            LogFile::open(&p, false)
        };
        let records = open_log(RECORDS_FILE)?;
        let checkpoints = open_log(CHECKPOINTS_FILE)?;
        let db_path = root.join(DB_DIR);
        if !matches!(mode, Mode::Reindex(_)) && !db_path.is_dir() {
            return Err(StoreError::DatabaseCorrupt(format!(
                "{} is missing",
                db_path.display()
            )));
        }
        let cache_bytes = match mode {
            Mode::Scan => SCAN_CACHE_BYTES,
            Mode::Normal | Mode::Reindex(_) => CACHE_BYTES,
        };
        let db = Db::open_with_cache(&db_path, cache_bytes)?;
        let flat = match mode {
            Mode::Reindex(_) => {
                FlatIndex::create(ledger.join(REINDEX_INDEX), ledger.join(REINDEX_TREE))?
            }
            Mode::Normal | Mode::Scan => FlatIndex::open(&ledger)?,
        };
        let blobs = BlobStore::new(root.join(BLOB_DIR));
        let docs = open_docs(root, &config, &blobs)?;
        let dedup_log = DedupLog::open(&ledger)?;
        let mut a = Archive {
            root: root.to_path_buf(),
            config,
            log_key,
            recipients,
            db,
            flat,
            records,
            checkpoints,
            dedup_log,
            blobs,
            docs,
            damaged: None,
            index_damaged: false,
            rebuilt: None,
            write_checked: false,
            dedup_ids: None,
            receive_policy: None,
            dedup: None,
            compartment: None,
            actor: None,
            _lock: lock,
        };
        a.catch_up()?;
        if let Mode::Reindex(floor) = mode {
            if a.damaged.is_none() {
                if let Some(f) = floor {
                    let size = a.size()?;
                    f.check(size, |at| {
                        merkle::root(&a.flat, TreeSize(at)).map_err(tree_err)
                    })?;
                }
            }
            a.flat.persist_in(&ledger)?;
        }
        if a.damaged.is_none() {
            if let Some(why) = a.repair_checkpoint_file()? {
                a.rebuilt = Some(why);
            }
            if !matches!(mode, Mode::Reindex(_)) {
                a.settle_config_next()?;
            }
        }
        clean_ledger_tmp(&ledger)?;
        a.blobs.clean_tmp()?;
        // Temporary names and interrupted shares (FORMAT.md §7.8).
        a.settle_pending()?;
        Ok(a)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }
    pub fn recipients(&self) -> &[RecipientKey] {
        &self.recipients
    }
    pub fn blob_store(&self) -> &BlobStore {
        &self.blobs
    }
    /// Where document blobs are kept (FORMAT.md §7.7).
    pub fn doc_store(&self) -> &Blobs {
        &self.docs
    }
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
    /// The stored Merkle nodes (and record locations) of the indexed records.
    pub(crate) fn flat(&self) -> &FlatIndex {
        &self.flat
    }
    pub(crate) fn record_file(&self) -> &LogFile {
        &self.records
    }
    pub(crate) fn checkpoint_file(&self) -> &LogFile {
        &self.checkpoints
    }

    /// Number of records in the log.
    pub fn size(&self) -> Result<u64, StoreError> {
        self.db.size()
    }

    /// Refuses a signing key other than the archive's log key.
    pub fn check_signer(&self, signer: &SignerKey) -> Result<(), StoreError> {
        let v = signer.verifier();
        if v.key_id() != self.log_key.key_id()
            || v.public_bytes() != self.log_key.public_bytes()
            || v.name() != self.log_key.name()
        {
            return Err(StoreError::WrongSigningKey {
                got: v.encode(),
                want: self.log_key.encode(),
            });
        }
        Ok(())
    }

    /// Cuts the flat files back to what the database committed, then indexes
    /// records, checkpoints and cosignatures that are in the files but not in
    /// the index (a crash between the file fsync and the database flush),
    /// after cutting back a torn final frame (FORMAT.md §7.2.5). Damage that
    /// is not a torn tail (a file shorter than the index, a frame that does
    /// not decode) is not repaired: the archive is marked damaged, stays
    /// readable for `verify`, and refuses writes.
    pub(crate) fn catch_up(&mut self) -> Result<(), StoreError> {
        if let Err(reason) = self.flat.reconcile(self.db.size()?)? {
            self.damaged = Some(reason);
            self.index_damaged = true;
            return Ok(());
        }
        if let Err(reason) = self.catch_up_records()? {
            self.damaged = Some(reason);
            return Ok(());
        }
        self.catch_up_dedup()?;
        if let Err(reason) = self.catch_up_checkpoints()? {
            self.damaged = Some(reason);
            return Ok(());
        }
        if let Err(reason) = self.catch_up_cosignatures()? {
            self.damaged = Some(reason);
        }
        Ok(())
    }

    /// Indexes the entries of `ledger/dedup` the database does not cover (a
    /// crash between that file and the database commit, or a `reindex`),
    /// keeping only those whose record exists and stores that blob
    /// (FORMAT.md §7.3.1). A file shorter than what was indexed (damaged or
    /// replaced) is indexed again from its start.
    fn catch_up_dedup(&mut self) -> Result<(), StoreError> {
        let whole = self.dedup_log.cut_torn_tail()?;
        let mut from = self.db.dedup_len()?;
        if whole < from || !from.is_multiple_of(dedup_log::ENTRY) {
            from = 0;
        }
        if whole == from {
            return Ok(());
        }
        let size = self.db.size()?;
        let (flat, records, db) = (&self.flat, &self.records, &self.db);
        self.dedup_log.scan(from, |entries, end| {
            let mut keep = Vec::with_capacity(entries.len());
            for e in entries.iter().filter(|e| e.index < size) {
                let rec = read_record(flat, records, e.index)?;
                if rec.document().is_some_and(|d| d.blob == e.blob) {
                    keep.push((e.tag, e.blob));
                }
            }
            db.put_dedup_from_log(&keep, end)
        })
    }

    /// Writes the index's part of a batch: the flat files first (fsynced),
    /// then the database transaction (flushed). A crash in between leaves
    /// flat entries beyond the database's count, cut back on the next open.
    pub(crate) fn commit_index(&mut self, batch: &Batch) -> Result<(), StoreError> {
        commit_index(&mut self.flat, &self.db, batch)
    }

    fn catch_up_records(&mut self) -> Result<Result<(), String>, StoreError> {
        let indexed = self.db.records_len()?;
        let flen = self.records.len()?;
        if flen < indexed {
            return Ok(Err(format!(
                "ledger/records is {flen} bytes but the index covers {indexed}"
            )));
        }
        if flen == indexed {
            return Ok(Ok(()));
        }
        let mut size = self.db.size()?;
        let mut records_len = indexed;
        let mut torn = None;
        let mut frames = self.records.scan(indexed)?;
        let mut done = false;
        while !done {
            let mut batch = Batch::default();
            let mut overlay = Overlay::new(&self.flat, TreeSize(size));
            while batch.records.len() < CATCH_UP_BATCH {
                let Some(f) = frames.next() else {
                    done = true;
                    break;
                };
                match f? {
                    Frame::Complete { offset, body } => {
                        let rec = match Record::decode(&body) {
                            Ok(r) => r,
                            Err(_) if self.records.zeros_from(offset)? => {
                                torn = Some(offset);
                                done = true;
                                break;
                            }
                            Err(e) => {
                                return Ok(Err(format!(
                                    "record at offset {offset} of ledger/records: {e}"
                                )))
                            }
                        };
                        if rec.body.index != size {
                            return Ok(Err(format!(
                                "record at offset {offset} of ledger/records has index {} where {size} was expected",
                                rec.body.index
                            )));
                        }
                        index_record(&mut batch, &mut overlay, &rec, offset).map_err(tree_err)?;
                        size += 1;
                        records_len = offset + 4 + body.len() as u64;
                    }
                    Frame::Torn { offset } => {
                        torn = Some(offset);
                        done = true;
                        break;
                    }
                    Frame::Oversized { offset, .. } if self.records.zeros_from(offset)? => {
                        torn = Some(offset);
                        done = true;
                        break;
                    }
                    Frame::Oversized { offset, len } => {
                        return Ok(Err(format!(
                            "ledger/records frame at offset {offset} claims {len} bytes"
                        )))
                    }
                }
            }
            batch.nodes = overlay.into_nodes();
            batch.size = size;
            batch.records_len = records_len;
            if !batch.records.is_empty() {
                commit_index(&mut self.flat, &self.db, &batch)?;
            }
        }
        drop(frames);
        if let Some(off) = torn {
            self.records.truncate(off)?;
        }
        Ok(Ok(()))
    }

    fn catch_up_checkpoints(&mut self) -> Result<Result<(), String>, StoreError> {
        let indexed = self.db.checkpoints_len()?;
        let flen = self.checkpoints.len()?;
        if flen < indexed {
            return Ok(Err(format!(
                "ledger/checkpoints is {flen} bytes but the index covers {indexed}"
            )));
        }
        if flen == indexed {
            return Ok(Ok(()));
        }
        let mut torn = None;
        let mut found = Vec::new();
        for f in self.checkpoints.scan(indexed)? {
            match f? {
                Frame::Complete { offset, body } => {
                    match SignedCheckpoint::open(&body, &self.log_key, &[]) {
                        Ok(o) => found.push((o.checkpoint.size, body, offset)),
                        Err(_) if self.checkpoints.zeros_from(offset)? => {
                            torn = Some(offset);
                            break;
                        }
                        Err(e) => {
                            return Ok(Err(format!(
                                "checkpoint at offset {offset} of ledger/checkpoints: {e}"
                            )))
                        }
                    }
                }
                Frame::Torn { offset } => torn = Some(offset),
                Frame::Oversized { offset, .. } if self.checkpoints.zeros_from(offset)? => {
                    torn = Some(offset);
                    break;
                }
                Frame::Oversized { offset, len } => {
                    return Ok(Err(format!(
                        "ledger/checkpoints frame at offset {offset} claims {len} bytes"
                    )))
                }
            }
        }
        if let Some(off) = torn {
            self.checkpoints.truncate(off)?;
        }
        for (size, body, offset) in found {
            self.db
                .put_checkpoint(size, &body, offset + 4 + body.len() as u64)?;
        }
        Ok(Ok(()))
    }

    pub(crate) fn ensure_writable(&self) -> Result<(), StoreError> {
        match &self.damaged {
            None => Ok(()),
            Some(r) => Err(StoreError::Corrupt(format!(
                "{r}; writing is refused so that no evidence is overwritten"
            ))),
        }
    }

    /// Signs a checkpoint of the current log unless the latest one already
    /// covers it. Refuses to sign if the stored nodes disagree with the previous
    /// checkpoint (a log must never sign two inconsistent checkpoints).
    /// Signs a checkpoint if the latest one does not cover every record (an
    /// interrupted command's leftovers) and the archive takes writes; `None`
    /// when there was nothing to cover.
    pub fn cover_interrupted(
        &mut self,
        signer: &SignerKey,
    ) -> Result<Option<CheckpointInfo>, StoreError> {
        if self.damaged.is_some() {
            return Ok(None);
        }
        let covered = self.db.latest_checkpoint()?.map_or(0, |(s, _)| s);
        if covered >= self.db.size()? {
            return Ok(None);
        }
        self.sign_checkpoint(signer).map(Some)
    }

    pub fn sign_checkpoint(&mut self, signer: &SignerKey) -> Result<CheckpointInfo, StoreError> {
        self.ensure_writable()?;
        self.check_signer(signer)?;
        let size = self.db.size()?;
        let root = merkle::root(&self.flat, TreeSize(size)).map_err(tree_err)?;
        if let Some((psize, pnote)) = self.db.latest_checkpoint()? {
            let prev = SignedCheckpoint::open(&pnote, &self.log_key, &[])
                .map_err(|e| StoreError::Corrupt(format!("latest checkpoint: {e}")))?;
            if psize > size {
                return Err(StoreError::Corrupt(format!(
                    "the latest checkpoint is at size {psize} but the log has {size} records"
                )));
            }
            let then = merkle::root(&self.flat, TreeSize(psize)).map_err(tree_err)?;
            if then != prev.checkpoint.root {
                return Err(StoreError::Corrupt(format!(
                    "the records no longer match the checkpoint at size {psize}; refusing to sign a new one (run custody verify)"
                )));
            }
            if psize == size {
                return Ok(CheckpointInfo {
                    size,
                    root,
                    note: pnote,
                    new: false,
                });
            }
        }
        let cp = Checkpoint {
            origin: self.config.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = SignedCheckpoint::sign(&cp, signer)
            .map_err(|e| StoreError::Internal(e.to_string()))?
            .encode()
            .into_bytes();
        self.checkpoints.append(&[&note])?;
        let flen = self.checkpoints.len()?;
        self.db.put_checkpoint(size, &note, flen)?;
        self.write_checkpoint_file()?;
        Ok(CheckpointInfo {
            size,
            root,
            note,
            new: true,
        })
    }

    /// The latest checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.db.latest_checkpoint()
    }

    /// All checkpoints by ascending size.
    pub fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.db.checkpoints()
    }

    /// Reads and decodes record `index` from the record file.
    pub fn record(&self, index: u64) -> Result<Record, StoreError> {
        read_record(&self.flat, &self.records, index)
    }

    /// The blob that now holds what a record named as `d` (of `size` bytes):
    /// `d` itself, or the file that `rekey` records put in its place, with
    /// its size (FORMAT.md §4.17).
    pub fn current_blob(&self, d: Digest, size: u64) -> Result<(Digest, u64), StoreError> {
        Ok(match self.rekey_chain(d)?.last() {
            Some((_, k)) => (k.new, k.new_size),
            None => (d, size),
        })
    }

    /// Who could decrypt the document `rec` stores, at each point of the
    /// log: its record's recipients, then each rekey's (FORMAT.md §4.17),
    /// each fingerprint with the people of `people` whose recipient it is
    /// ([`Archive::people_by_recipient`]). Empty for a record that stores
    /// no document.
    pub fn readers(
        &self,
        rec: &Record,
        people: &std::collections::BTreeMap<Digest, Vec<String>>,
    ) -> Result<Vec<crate::core::audit::ReadersView>, StoreError> {
        use crate::core::audit::{ReaderView, ReadersView};
        let Some(doc) = rec.document() else {
            return Ok(Vec::new());
        };
        let named = |fps: &[Digest]| {
            fps.iter()
                .map(|f| ReaderView {
                    fingerprint: *f,
                    people: people.get(f).cloned().unwrap_or_default(),
                })
                .collect()
        };
        let mut out = vec![ReadersView {
            record: rec.body.index,
            kind: rec.body.payload.kind().as_str(),
            blob: doc.blob,
            recipients: named(&doc.recipients),
        }];
        for (i, k) in self.rekey_chain(doc.blob)? {
            out.push(ReadersView {
                record: i,
                kind: self.record(i)?.body.payload.kind().as_str(),
                blob: k.new,
                recipients: named(&k.recipients),
            });
        }
        Ok(out)
    }

    /// The rekey records that replaced blob `d`, then its replacement, and
    /// so on (FORMAT.md §4.17), in log order, with their indexes.
    pub fn rekey_chain(
        &self,
        d: Digest,
    ) -> Result<Vec<(u64, crate::core::record::Rekey)>, StoreError> {
        let mut out: Vec<(u64, crate::core::record::Rekey)> = Vec::new();
        let mut at = d;
        // Each hop is one rekey of the blob; `verify` refuses a cycle, which
        // the bound stops anyway.
        for _ in 0..MAX_REKEY_HOPS {
            let Some(&i) = self.db.records_with(&at, DigestKind::Rekeyed)?.first() else {
                return Ok(out);
            };
            match self.record(i)?.rekey() {
                Some(k) if k.old == at => {
                    at = k.new;
                    out.push((i, k.clone()));
                }
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "the index lists record {i} as replacing blob {at}, which it does not"
                    )))
                }
            }
        }
        Err(StoreError::Corrupt(format!(
            "blob {d} was replaced more than {MAX_REKEY_HOPS} times"
        )))
    }

    /// Resolves a REF: a decimal record index, or a hex prefix (at least 4
    /// digits) of a record's leaf hash, blob address or envelope address.
    pub fn resolve(&self, r: &str) -> Result<u64, StoreError> {
        let size = self.db.size()?;
        if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(i) = r.parse::<u64>() {
                if i < size {
                    return Ok(i);
                }
            }
            // Not an index of this log: it may be a digest prefix made of digits only.
            if r.len() >= 4 {
                match self.resolve_prefix(r) {
                    Ok(found) => return Ok(found),
                    Err(e @ StoreError::Ambiguous { .. }) => return Err(e),
                    Err(_) => {}
                }
            }
            return Err(StoreError::NotFound(format!(
                "record {r} (the log has {size} records, 0 to {})",
                size.saturating_sub(1)
            )));
        }
        self.resolve_prefix(r)
    }

    fn resolve_prefix(&self, r: &str) -> Result<u64, StoreError> {
        let lower = r.to_ascii_lowercase();
        if lower.len() < 4 || lower.len() > 64 || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(format!(
                "{r} (a REF is a record index or at least 4 hex digits of a digest)"
            )));
        }
        let even = &lower[..lower.len() / 2 * 2];
        let bytes = hex::decode(even).map_err(|_| StoreError::NotFound(r.to_string()))?;
        let mut hits: Vec<u64> = self
            .db
            .digests_with_prefix(&bytes)?
            .into_iter()
            .filter(|(_, _, k)| matches!(k, DigestKind::Blob | DigestKind::Meta | DigestKind::Leaf))
            .filter(|(d, _, _)| d.to_hex().starts_with(&lower))
            .map(|(_, i, _)| i)
            .collect();
        hits.sort_unstable();
        hits.dedup();
        match hits.len() {
            0 => Err(StoreError::NotFound(r.to_string())),
            1 => Ok(hits[0]),
            n => Err(StoreError::Ambiguous {
                prefix: r.to_string(),
                count: n,
            }),
        }
    }

    /// Picks a checkpoint: the latest, or the one at exactly `size`.
    fn checkpoint_at(&self, size: Option<u64>) -> Result<(u64, Vec<u8>), StoreError> {
        match size {
            None => self
                .db
                .latest_checkpoint()?
                .ok_or(StoreError::NoCheckpoint(0)),
            Some(s) => self
                .db
                .checkpoint(s)?
                .map(|n| (s, n))
                .ok_or(StoreError::NoCheckpoint(s)),
        }
    }

    /// Inclusion proof of record `index` against the latest (or given) checkpoint.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, StoreError> {
        let (size, note) = self.checkpoint_at(size)?;
        if index >= size {
            return Err(StoreError::Input(format!(
                "record {index} is not covered by the checkpoint at size {size}; run `custody checkpoint --sign` or pick a later --size"
            )));
        }
        let rec = self.record(index)?;
        let root = checkpoint_root(&note, size)?;
        let proof = checked_inclusion_proof(&self.flat, index, size, &rec.leaf_hash(), &root)?;
        Ok(InclusionProof {
            index,
            size,
            leaf_hash: rec.leaf_hash(),
            record: rec.bytes().to_vec(),
            proof,
            checkpoint: note,
        })
    }

    /// Consistency proof from any size `old` to a checkpointed size (`new`
    /// defaults to the latest); FORMAT.md §8.2.
    pub fn consistency_proof(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        let (new_size, note) = self.checkpoint_at(new)?;
        let old_note = self.db.checkpoint(old)?;
        checked_consistency_proof(&self.flat, (old, old_note), (new_size, note))
    }

    /// A summary of the archive.
    pub fn status(&self) -> Result<Status, StoreError> {
        let list = self.blobs.list()?;
        Ok(Status {
            path: self.root.clone(),
            format: self.config.format,
            origin: self.config.origin.clone(),
            log_key: self.config.log_key.clone(),
            recipients: self.config.recipients.clone(),
            records: self.db.size()?,
            blobs: list.len() as u64,
            blob_bytes: list.iter().map(|(_, _, l)| l).sum(),
            checkpoints: self.db.checkpoints()?.len() as u64,
            latest_checkpoint: self
                .db
                .latest_checkpoint()?
                .map(|(_, n)| String::from_utf8_lossy(&n).into_owned()),
            created: self.config.created.clone(),
            document_store: self.config.blobs.as_ref().map(|b| b.url.clone()),
        })
    }

    /// Rebuilds the index (the sled database, `ledger/index`, `ledger/tree`,
    /// `ledger/checkpoint`) from the append-only files, from any earlier
    /// layout. The old database directory is moved aside first and deleted
    /// only after the rebuild succeeded; the flat files are built aside and
    /// renamed into place. The deduplication index cannot be rebuilt without
    /// keys: it is kept if the old database opens and indexes the same
    /// records, and starts empty otherwise.
    pub fn reindex(root: &Path) -> Result<Reindexed, StoreError> {
        let config = read_config(root)?;
        let (log_key, recipients) = parse_config_keys(root, &config)?;
        let lock = lock(root)?;
        Self::reindex_locked(root, config, log_key, recipients, &lock)
    }

    /// Rebuilds the index from the ledger files in this open archive, as
    /// `reindex` does, when a writer's check found it disagreeing with them
    /// (`why`, said in a note): the database is emptied, the flat files are
    /// built aside and renamed into place, `reindex.pending` covers a kill
    /// meanwhile (FORMAT.md §7.2.5). Damage to the ledger files themselves
    /// is not repaired: the archive stays read-only.
    pub(crate) fn rebuild_index(&mut self, why: String) -> Result<(), StoreError> {
        let marker = self.root.join(REBUILD_MARKER);
        let ledger = self.root.join(LEDGER_DIR);
        let floor = Floor::find(
            &ledger,
            &self.log_key,
            &self.config.origin,
            self.db
                .latest_checkpoint()
                .ok()
                .flatten()
                .map(|(_, note)| note)
                .into_iter()
                .collect(),
        );
        write_marker(&marker)?;
        self.db.clear_index(self.dedup_log.is_empty()?)?;
        self.flat = FlatIndex::create(ledger.join(REINDEX_INDEX), ledger.join(REINDEX_TREE))?;
        self.damaged = None;
        self.index_damaged = false;
        self.write_checked = false;
        self.catch_up()?;
        if let Some(reason) = &self.damaged {
            return Err(StoreError::Corrupt(format!(
                "{reason}; writing is refused so that no evidence is overwritten"
            )));
        }
        if let Some(f) = floor {
            let size = self.size()?;
            f.check(size, |at| {
                merkle::root(&self.flat, TreeSize(at)).map_err(tree_err)
            })?;
        }
        self.flat.persist_in(&ledger)?;
        self.write_checkpoint_file()?;
        self.db.flush()?;
        remove_marker(&marker)?;
        self.rebuilt = Some(why);
        Ok(())
    }

    /// [`Archive::reindex`] under the lock the caller holds. While it runs,
    /// `reindex.pending` says the index is incomplete: a kill leaves it, and
    /// the next open rebuilds again (FORMAT.md §7.2.5).
    fn reindex_locked(
        root: &Path,
        config: Config,
        log_key: VerifierKey,
        recipients: Vec<RecipientKey>,
        lock: &File,
    ) -> Result<Reindexed, StoreError> {
        let marker = root.join(REBUILD_MARKER);
        write_marker(&marker)?;
        let lock = lock
            .try_clone()
            .map_err(|e| io_err(&root.join(LOCK_FILE), e))?;
        let db_path = root.join(DB_DIR);
        let aside = root.join("db.reindex-old");
        let floor = Floor::find(
            &root.join(LEDGER_DIR),
            &log_key,
            &config.origin,
            [&db_path, &aside]
                .into_iter()
                .filter_map(|p| Db::previous_latest_checkpoint(p))
                .collect(),
        );
        if aside.exists() {
            fs::remove_dir_all(&aside).map_err(|e| io_err(&aside, e))?;
        }
        if db_path.exists() {
            fault::rename(&db_path, &aside).map_err(|e| io_err(&db_path, e))?;
        }
        let opened = Self::open_locked(
            root,
            config,
            log_key,
            recipients,
            lock,
            Mode::Reindex(floor),
        )
        .and_then(|a| a.write_checkpoint_file().map(|()| a));
        let a = match opened {
            Ok(a) => a,
            Err(e) => {
                let _ = fs::remove_dir_all(&db_path);
                if aside.exists() {
                    let _ = fs::rename(&aside, &db_path);
                }
                let ledger = root.join(LEDGER_DIR);
                for name in [REINDEX_INDEX, REINDEX_TREE] {
                    let _ = fs::remove_file(ledger.join(name));
                }
                return Err(e);
            }
        };
        let size = a.size()?;
        // Rebuilt from ledger/dedup by the open above (§7.3.1); archives made
        // before that file existed keep their old database's entries.
        let mut dedup_kept = !a.dedup_log.is_empty()?;
        if aside.exists() {
            // The deduplication index cannot be rebuilt without the log key;
            // keep the old one if it indexes exactly these records (§7.3).
            if let Some(old) = Db::previous_dedup(&aside, size, a.db.records_len()?) {
                let kept: Vec<_> = old
                    .into_iter()
                    // Kept unless the blob is known to be gone (a store that
                    // cannot be reached now does not empty the index).
                    .filter(|(_, blob)| !matches!(a.docs.exists(blob), Ok(false)))
                    .collect();
                a.db.put_dedup(&kept)?;
                dedup_kept = true;
            }
            fs::remove_dir_all(&aside).map_err(|e| io_err(&aside, e))?;
        }
        a.db.flush()?;
        remove_marker(&marker)?;
        Ok(Reindexed {
            records: size,
            checkpoints: a.checkpoints()?.len() as u64,
            root: merkle::root(&a.flat, TreeSize(size)).map_err(tree_err)?,
            dedup_kept,
        })
    }
}

/// Adds a record's location, Merkle nodes and digest lookups to a batch.
pub(crate) fn index_record(
    batch: &mut Batch,
    overlay: &mut Overlay<'_, FlatIndex>,
    rec: &Record,
    offset: u64,
) -> Result<(), merkle::TreeError<StoreError>> {
    let i = rec.body.index;
    batch.records.push((i, offset, rec.bytes().len() as u32));
    let leaf = rec.leaf_hash();
    overlay.push(leaf)?;
    batch.digests.push((leaf, i, DigestKind::Leaf));
    if let Some(ing) = rec.document() {
        batch.digests.push((ing.blob, i, DigestKind::Blob));
        batch.digests.push((ing.meta, i, DigestKind::Meta));
    }
    if let Some(c) = rec.commitment() {
        batch.digests.push((*c, i, DigestKind::Commitment));
    }
    if let crate::core::record::Payload::Derive(d) = &rec.body.payload {
        for p in &d.parents {
            batch.digests.push((p.commitment, i, DigestKind::Parent));
        }
    }
    if crate::core::actors::changes_state(rec) {
        batch.digests.push((
            crate::store::files::db::actor_index_tag(),
            i,
            DigestKind::Actor,
        ));
    }
    if let Some(r) = rec.receive() {
        batch
            .digests
            .push((r.from.leaf_hash, i, DigestKind::Received));
    }
    if let Some(k) = rec.rekey() {
        batch.digests.push((k.old, i, DigestKind::Rekeyed));
    }
    Ok(())
}
