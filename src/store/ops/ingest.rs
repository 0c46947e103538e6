//! Ingest: read each file once, hash and encrypt it into the blob store, then
//! sign, append and index its record in batches; report a file only once its
//! batch is durable; end with a checkpoint (FORMAT.md §4.4, §5, §7).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc;

use hmac::{KeyInit, Mac};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::core::crypto;
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::merkle::{Overlay, TreeSize};
use crate::core::meta::{self, Metadata};
use crate::core::record::{Ingest, Payload, Record, RecordBody};
use crate::core::time;
use crate::store::archive::{index_record, Archive, CheckpointInfo};
use crate::store::files::blobs::{self, Blobs, SealedBlob};
use crate::store::files::db::Batch;
use crate::store::files::dedup_log;
use crate::store::files::merkle_nodes::tree_err;
use crate::store::files::remote::RemoteError;
use crate::store::files::walk::InputFile;
use crate::store::{io_err, StoreError};

/// Ingest commits a batch when it reaches this many files ...
const BATCH_FILES: usize = 512;
/// ... or this many plaintext bytes ...
const BATCH_BYTES: u64 = 256 << 20;
/// ... or has been open this long.
const BATCH_MILLIS: u128 = 2000;
/// Blobs at least this large are fsynced on their own as soon as they are
/// written; smaller ones are made durable together when their batch commits.
const DURABLE_AT_SEAL: u64 = 16 << 20;

/// Metadata given on the command line for a whole ingest.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    pub source: Option<String>,
    pub case: Option<String>,
    pub note: Option<String>,
    /// Record a file again even when its path and content are already
    /// recorded (FORMAT.md §7.3: path tags).
    pub again: bool,
    /// One metadata envelope per document, as one ingest per file gives,
    /// instead of one per group (FORMAT.md §5.2): for benchmarks of what
    /// reads envelopes (`gen-archive --envelope-per-document`).
    pub envelope_per_document: bool,
}

/// A file an ingest did not record: its path and content are already
/// recorded (FORMAT.md §7.3), reported as soon as it is known.
#[derive(Clone, Debug, Serialize)]
pub struct AlreadyRecorded {
    pub path: String,
    pub size: u64,
    pub sha256: Digest,
    /// The first document record that stores this content.
    pub record: Option<u64>,
}

/// One durably ingested file, reported after its batch is committed.
#[derive(Clone, Debug, Serialize)]
pub struct Ingested {
    pub index: u64,
    pub path: String,
    pub size: u64,
    pub sha256: Digest,
    pub blob: Digest,
    pub deduplicated: bool,
    pub leaf_hash: Digest,
    pub time: String,
}

/// Totals of an ingest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IngestSummary {
    pub files: u64,
    pub bytes: u64,
    pub deduplicated: u64,
    /// Files not recorded again: their path and content already are.
    pub already_recorded: u64,
    pub first_index: Option<u64>,
    pub tree_size: u64,
}

/// Hooks for progress display; all default to doing nothing.
pub trait IngestObserver {
    fn file_started(&mut self, _file: &InputFile) {}
    fn bytes(&mut self, _n: u64) {}
    /// Called only after the batch is durable (files, records, index flushed).
    fn committed(&mut self, _done: &[Ingested]) {}
    /// A file not recorded: its path and content already are.
    fn already_recorded(&mut self, _a: &AlreadyRecorded) {}
}

/// An ingest observer that observes nothing.
pub struct NoObserver;
impl IngestObserver for NoObserver {}

/// Keyed tag of a plaintext digest for the deduplication index (FORMAT.md §7.3):
/// HMAC-SHA-256 keyed with SHA-256 of the log key's signature over a fixed tag.
/// Ed25519 is deterministic and that message is never signed for any other
/// purpose, so only the holder of the log key can compute or test tags.
pub(crate) fn dedup_tag(key: &[u8; 32], plaintext_sha256: &Digest) -> Digest {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length");
    mac.update(plaintext_sha256.as_bytes());
    Digest(mac.finalize().into_bytes().into())
}

/// Keyed tag of a file's path and content (FORMAT.md §7.3, path tags): an
/// ingest records nothing for a file whose path tag is in the index, unless
/// asked to record it again.
pub(crate) fn path_tag(key: &[u8; 32], rel: &str, plaintext_sha256: &Digest) -> Digest {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length");
    mac.update(b"custody/v1/dedup-path\n");
    mac.update(&(rel.len() as u32).to_be_bytes());
    mac.update(rel.as_bytes());
    mac.update(plaintext_sha256.as_bytes());
    Digest(mac.finalize().into_bytes().into())
}

/// Below this many records a batch is signed on the calling thread.
const PARALLEL_SIGN_MIN: usize = 256;

/// Signs `bodies` at indices `start..`: on every core for large batches
/// (Ed25519 signing dominates a batch of small records), in order.
fn sign_at(
    mut bodies: Vec<RecordBody>,
    start: u64,
    key: &SignerKey,
) -> Result<Vec<Record>, StoreError> {
    for (k, b) in bodies.iter_mut().enumerate() {
        b.place(start + k as u64);
    }
    let sign_all = |part: Vec<RecordBody>| -> Result<Vec<Record>, StoreError> {
        part.into_iter()
            .map(|b| b.sign(key).map_err(|e| StoreError::Internal(e.to_string())))
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if bodies.len() < PARALLEL_SIGN_MIN || threads < 2 {
        return sign_all(bodies);
    }
    let per = bodies.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    while !bodies.is_empty() {
        let rest = bodies.split_off(per.min(bodies.len()));
        parts.push(std::mem::replace(&mut bodies, rest));
    }
    let signed: Vec<Result<Vec<Record>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|p| s.spawn(move || sign_all(p)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Internal("a signing thread panicked".into()))
                })
            })
            .collect()
    });
    let mut recs = Vec::with_capacity(signed.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum());
    for part in signed {
        recs.extend(part?);
    }
    Ok(recs)
}

struct Pending {
    /// The record; its `meta` and `meta_size` are filled in when the batch's
    /// envelopes are made ([`Archive::commit_batch`]).
    body: RecordBody,
    /// The document blob, unless its content is already stored.
    blobs: Vec<SealedBlob>,
    /// The document's metadata envelope entry (FORMAT.md §5.2).
    meta: Metadata,
    done: Ingested,
    dedup: Option<(Digest, Digest)>,
    /// The path tag of an ingested file and its blob (FORMAT.md §7.3).
    path_tag: Option<(Digest, Digest)>,
}

/// What became of one file: a record to append, or nothing (already recorded).
enum Finished {
    Record(Box<Pending>),
    Already(AlreadyRecorded),
}

/// Whether a file's path tag is looked up and kept (FORMAT.md §7.3): for
/// files of an ingest (recorded again only with `again`), not for a derive.
#[derive(Clone, Copy)]
enum PathTags {
    None,
    Ingest { again: bool },
}

/// A file hashed and encrypted into the blob store (not yet visible), with
/// its metadata envelope entry: everything that can be done in parallel.
/// `sealed` is `None` when the content was found stored before any upload
/// (`known`: its blob and size; object stores only, [`Archive::stored_already`]).
struct Encoded {
    rel: String,
    sealed: Option<SealedBlob>,
    known: Option<(Digest, u64)>,
    sha256: Digest,
    len: u64,
    commitment: Digest,
    meta: Metadata,
}

/// Reads `f` once, hashing and encrypting it into a sealed blob, and makes its
/// metadata envelope entry (FORMAT.md §5.2). Touches no database: safe on any thread.
fn encode_file(
    blobs: &Blobs,
    recipients: &[crypto::RecipientKey],
    f: &InputFile,
    opts: &IngestOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Encoded, StoreError> {
    // A path swapped for a FIFO after the walk is refused, never waited on.
    let (input, meta) = crate::store::files::input::open_regular(&f.path, "a document")?;
    let size_hint = meta.len();
    // No BufWriter: the encryptor writes whole sealed chunks, several per writev.
    let w = blobs.begin()?;
    let enc =
        crypto::encrypt_all(input, recipients, w, size_hint, progress).map_err(|e| match e {
            crypto::CryptoError::Io(io) => match RemoteError::from_io(&io) {
                // An upload that failed is the store's, not the input's.
                Some(r) => StoreError::Remote(r),
                // A failed write (a full disk, a disk error) is the archive's, not the input's.
                None => match crate::store::output_error(io) {
                    Ok(io) => io_err(std::path::Path::new(&blobs.label()), io),
                    Err(io) if matches!(io.raw_os_error(), Some(28 | 122)) => {
                        io_err(std::path::Path::new(&blobs.label()), io)
                    }
                    Err(io) => io_err(&f.path, io),
                },
            },
            other => StoreError::Crypto(other),
        })?;
    // The header was padded for the length at open (FORMAT.md §6.2): a file
    // that grew or shrank since would be stored unpadded, its size exact.
    if enc.len != size_hint {
        return Err(StoreError::Input(format!(
            "{} changed while it was read ({size_hint} bytes when opened, {} read); nothing was stored: ingest it again once nothing writes to it",
            crate::core::redact::path(&f.path),
            enc.len
        )));
    }
    let sealed = blobs.seal(enc.out, size_hint >= DURABLE_AT_SEAL)?;
    describe(f, opts, Some(sealed), None, enc.sha256, enc.len)
}

/// The metadata envelope entry of `f` (FORMAT.md §5.2), a fresh salt, and
/// what stores its content.
fn describe(
    f: &InputFile,
    opts: &IngestOptions,
    sealed: Option<SealedBlob>,
    known: Option<(Digest, u64)>,
    sha256: Digest,
    len: u64,
) -> Result<Encoded, StoreError> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Internal(e.to_string()))?;
    let name = f.rel.rsplit('/').next().unwrap_or(&f.rel).to_string();
    let m = Metadata {
        v: meta::META_VERSION,
        path: f.rel.clone(),
        media_type: meta::media_type_for(&name).to_string(),
        name,
        size: len,
        sha256,
        salt: Digest(salt),
        source: match &f.provenance {
            Some(p) => Some(p.source.clone()),
            None => opts.source.clone(),
        },
        case: opts.case.clone(),
        note: match (&opts.note, &f.provenance) {
            (Some(n), Some(p)) => Some(format!("{n}\n{}", p.note)),
            (None, Some(p)) => Some(p.note.clone()),
            (n, None) => n.clone(),
        },
    };
    Ok(Encoded {
        rel: f.rel.clone(),
        sealed,
        known,
        sha256,
        len,
        commitment: m.commitment(),
        meta: m,
    })
}

/// Files at most this large are encoded by worker threads, several at a time;
/// larger ones use the pipelined encryptor (both cores) one at a time.
const PARALLEL_MAX: u64 = 4 << 20;
/// Encoding threads with an object store: small files are uploaded by them,
/// each upload mostly waiting on the network (at most 8 MiB buffered each).
const REMOTE_WORKERS: usize = 8;
/// At most this many encoded files wait to be committed (bounds temp files).
const IN_FLIGHT: usize = 512;

/// What an ingest carries from file to file: the batch being filled, the
/// totals, and the first file that failed.
struct IngestRun<'a> {
    signer: &'a SignerKey,
    opts: &'a IngestOptions,
    /// The deduplication key (FORMAT.md §7.3), and the recipients'
    /// fingerprints every record names.
    key: Zeroizing<[u8; 32]>,
    fingerprints: Vec<Digest>,
    summary: IngestSummary,
    /// The batch: its records, their plaintext bytes, when it was opened,
    /// and its new blobs by deduplication tag.
    pending: Vec<Pending>,
    batch_bytes: u64,
    batch_start: std::time::Instant,
    in_batch: HashMap<Digest, (Digest, u64)>,
    failure: Option<StoreError>,
}

impl IngestRun<'_> {
    /// Adds a file's record to the batch.
    fn add(&mut self, p: Pending) {
        self.batch_bytes += p.done.size;
        if let (Some((tag, blob)), Payload::Ingest(i)) = (p.dedup, &p.body.payload) {
            self.in_batch.insert(tag, (blob, i.blob_size));
        }
        self.pending.push(p);
    }

    /// Whether the batch is to be committed: [`BATCH_FILES`] files,
    /// [`BATCH_BYTES`] bytes, or open for [`BATCH_MILLIS`].
    fn batch_full(&self) -> bool {
        self.pending.len() >= BATCH_FILES
            || self.batch_bytes >= BATCH_BYTES
            || self.batch_start.elapsed().as_millis() >= BATCH_MILLIS
    }

    /// Starts a new batch once the last is committed.
    fn new_batch(&mut self) {
        self.in_batch.clear();
        self.batch_bytes = 0;
        self.batch_start = std::time::Instant::now();
    }
}

/// The files of an ingest, as the encoding workers take them.
struct EncodeQueue<'a> {
    files: &'a [InputFile],
    opts: &'a IngestOptions,
    blobs: Blobs,
    recipients: Vec<crypto::RecipientKey>,
    /// The next file a worker takes.
    next: AtomicUsize,
    /// Set when the committing thread is done (or failed).
    stop: AtomicBool,
    /// The file the committing thread is at.
    consumed: AtomicUsize,
}

impl EncodeQueue<'_> {
    /// One encoding worker: takes the next small file, encodes it and sends
    /// it (with its position) to the committing thread, until none is left
    /// or it is told to stop.
    fn encode_ahead(&self, tx: mpsc::SyncSender<(usize, Result<Encoded, StoreError>)>) {
        loop {
            if self.stop.load(Relaxed) {
                break;
            }
            let i = self.next.fetch_add(1, Relaxed);
            let Some(f) = self.files.get(i) else { break };
            if f.size > PARALLEL_MAX {
                continue;
            }
            // Never more than IN_FLIGHT files ahead of the committing
            // thread: memory and temp files stay bounded however many
            // files there are (and behind a large file it encodes itself).
            while i >= self.consumed.load(Relaxed) + IN_FLIGHT && !self.stop.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            let r = encode_file(&self.blobs, &self.recipients, f, self.opts, &mut |_| {});
            if tx.send((i, r)).is_err() {
                break;
            }
        }
    }
}

/// The workers' results, taken in input order.
struct InOrder {
    rx: mpsc::Receiver<(usize, Result<Encoded, StoreError>)>,
    /// Results received ahead of the file the committing thread is at.
    ready: BTreeMap<usize, Result<Encoded, StoreError>>,
}

impl InOrder {
    /// File `i` as a worker encoded it; `None` if the workers stopped first.
    fn take(&mut self, i: usize) -> Option<Result<Encoded, StoreError>> {
        loop {
            if let Some(r) = self.ready.remove(&i) {
                return Some(r);
            }
            let (j, r) = self.rx.recv().ok()?;
            self.ready.insert(j, r);
        }
    }

    /// Drops what was received, then waits for the workers to finish,
    /// dropping what they still send.
    fn drain(self) {
        drop(self.ready);
        for _ in self.rx.iter() {}
    }
}

impl Archive {
    /// A record body of this log, made now, by the log key; its index is
    /// assigned when it is committed ([`Archive::commit_records`]).
    pub(crate) fn new_record(&self, payload: Payload) -> RecordBody {
        RecordBody {
            index: 0,
            time_ms: time::now_ms(),
            origin: self.config.origin.clone(),
            signer: match &self.actor {
                Some((_, _, id)) => *id,
                None => self.log_key.key_id(),
            },
            payload,
        }
    }

    /// Publishes `sealed` blobs durably, then signs `bodies` at the next log
    /// indices, appends them to the record file (fsync) and indexes them with
    /// `dedup` in one sled transaction (flush). Nothing names a blob before the
    /// blob is durable; nothing is returned before the records are.
    pub(crate) fn commit_records(
        &mut self,
        bodies: Vec<RecordBody>,
        sealed: Vec<SealedBlob>,
        dedup: Vec<(usize, Digest, Digest)>,
        signer: &SignerKey,
    ) -> Result<Vec<Record>, StoreError> {
        self.ensure_writable()?;
        let start = self.db.size()?;
        let mut bodies = bodies;
        for (k, b) in bodies.iter_mut().enumerate() {
            b.place(start + k as u64);
        }
        let actors = self.actors_at(start)?;
        for b in &bodies {
            self.authorize_new(&actors, &b.payload)?;
        }
        // 1. Every blob and envelope is durable at its address before any record names it.
        self.blobs.publish_all(sealed)?;
        // 2. Sign the records at their final indices and append them to the record file.
        let key = self.actor.as_ref().map_or(signer, |(k, _, _)| k);
        let recs = sign_at(bodies, start, key)?;
        // Entries tagged with a key of this run only are not kept (§7.3).
        let dedup = if self.deduplicates() == Some(false) {
            Vec::new()
        } else {
            dedup
        };
        // The deduplication entries go to ledger/dedup first (fsync), so that no
        // crash loses them (FORMAT.md §7.3.1): dedup[k].0 is a position in `bodies`.
        let entries: Vec<dedup_log::Entry> = dedup
            .iter()
            .map(|&(k, tag, blob)| dedup_log::Entry {
                index: start + k as u64,
                tag,
                blob,
            })
            .collect();
        let dedup_len = if entries.is_empty() {
            None
        } else {
            Some(self.dedup_log.append(&entries)?)
        };
        let bytes: Vec<&[u8]> = recs.iter().map(Record::bytes).collect();
        let offsets = self.records.append(&bytes)?;
        // 3. Index them: flat files (fsync), then one sled transaction (flush).
        let mut batch = Batch {
            dedup: dedup
                .into_iter()
                .map(|(_, tag, blob)| (tag, blob))
                .collect(),
            dedup_len,
            ..Batch::default()
        };
        let mut overlay = Overlay::new(&self.flat, TreeSize(start));
        for (rec, off) in recs.iter().zip(&offsets) {
            index_record(&mut batch, &mut overlay, rec, *off).map_err(tree_err)?;
        }
        batch.nodes = overlay.into_nodes();
        batch.size = start + recs.len() as u64;
        batch.records_len = self.records.len()?;
        self.commit_index(&batch)?;
        Ok(recs)
    }

    /// Ingests `files` (see [`crate::store::files::walk::collect`]). Blobs and envelopes
    /// are written and fsynced first, then each batch of records is appended to
    /// the record file (fsync) and indexed in one sled transaction (flush); only
    /// then is the batch reported to `obs`. Ends with a signed checkpoint, also
    /// when a file fails midway (the error is returned after the checkpoint).
    pub fn ingest(
        &mut self,
        files: &[InputFile],
        signer: &SignerKey,
        opts: &IngestOptions,
        obs: &mut dyn IngestObserver,
    ) -> Result<(IngestSummary, CheckpointInfo), StoreError> {
        self.ensure_writable()?;
        self.check_signer(signer)?;
        let mut run = IngestRun {
            signer,
            opts,
            key: self.dedup_key(signer)?,
            fingerprints: crypto::fingerprints(&self.recipients),
            summary: IngestSummary::default(),
            pending: Vec::new(),
            batch_bytes: 0,
            batch_start: std::time::Instant::now(),
            in_batch: HashMap::new(),
            failure: None,
        };
        let workers = self.ingest_workers();
        let queue = EncodeQueue {
            files,
            opts,
            blobs: self.docs.clone(),
            recipients: self.recipients.clone(),
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            consumed: AtomicUsize::new(0),
        };
        std::thread::scope(|scope| -> Result<(), StoreError> {
            // Workers encode small files ahead, in any order; this thread takes
            // results in input order, encodes large files itself, decides
            // deduplication and commits batches.
            let (tx, rx) = mpsc::sync_channel::<(usize, Result<Encoded, StoreError>)>(IN_FLIGHT);
            for _ in 0..workers {
                let (tx, queue) = (tx.clone(), &queue);
                scope.spawn(move || queue.encode_ahead(tx));
            }
            drop(tx);
            let mut results = InOrder {
                rx,
                ready: BTreeMap::new(),
            };
            let result = self.ingest_in_order(&queue, &mut results, &mut run, obs);
            // Stop the workers and drop what they made beyond the failure
            // (unpublished temp files are removed when dropped).
            queue.stop.store(true, Relaxed);
            results.drain();
            result
        })?;
        if !run.pending.is_empty() {
            let per_document = opts.envelope_per_document;
            self.commit_batch(run.pending, signer, per_document, &mut run.summary, obs)?;
        }
        let cp = self.sign_checkpoint(signer)?;
        run.summary.tree_size = cp.size;
        match run.failure {
            Some(e) => Err(e),
            None => Ok((run.summary, cp)),
        }
    }

    /// How many threads encode small files: CUSTODY_INGEST_WORKERS (1 to
    /// 16; benchmarks compare 1 and 2, BENCHMARKS.md), else the cores (at
    /// most 4), more with an object store.
    fn ingest_workers(&self) -> usize {
        std::env::var("CUSTODY_INGEST_WORKERS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| (1..=16).contains(n))
            .unwrap_or_else(|| {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
                // Uploads to an object store wait on the network more than on
                // the CPU: more of them at once (FORMAT.md §7.7).
                if self.docs.is_local() {
                    cores
                } else {
                    cores.max(REMOTE_WORKERS)
                }
            })
    }

    /// The committing thread of an ingest: each file in input order, encoded
    /// (large ones here, small ones taken from the workers), its record made
    /// and added to the batch, committed when full. Stops at the first file
    /// that fails (kept in `run.failure`); an error is a failed commit.
    fn ingest_in_order(
        &mut self,
        queue: &EncodeQueue<'_>,
        results: &mut InOrder,
        run: &mut IngestRun<'_>,
        obs: &mut dyn IngestObserver,
    ) -> Result<(), StoreError> {
        for (i, f) in queue.files.iter().enumerate() {
            queue.consumed.store(i, Relaxed);
            obs.file_started(f);
            let encoded = if f.size > PARALLEL_MAX {
                self.encode_large(f, run.opts, &run.key, &run.in_batch, &mut |n| obs.bytes(n))
            } else {
                match results.take(i) {
                    Some(r) => {
                        obs.bytes(f.size);
                        r
                    }
                    None => Err(StoreError::Internal("an ingest worker stopped".into())),
                }
            };
            let tags = PathTags::Ingest {
                again: run.opts.again,
            };
            let r = encoded
                .and_then(|e| self.finish_one(e, &run.key, &run.fingerprints, &run.in_batch, tags));
            match r {
                Ok(Finished::Record(p)) => run.add(*p),
                Ok(Finished::Already(a)) => {
                    run.summary.already_recorded += 1;
                    obs.already_recorded(&a);
                }
                Err(e) => {
                    run.failure = Some(e);
                    break;
                }
            }
            if run.batch_full() {
                let pending = std::mem::take(&mut run.pending);
                let per_document = run.opts.envelope_per_document;
                self.commit_batch(pending, run.signer, per_document, &mut run.summary, obs)?;
                run.new_batch();
            }
        }
        Ok(())
    }

    /// One file, start to finish on this thread (used by `derive`).
    fn ingest_one(
        &self,
        f: &InputFile,
        opts: &IngestOptions,
        key: &[u8; 32],
        fingerprints: &[Digest],
        in_batch: &HashMap<Digest, (Digest, u64)>,
        obs: &mut dyn IngestObserver,
    ) -> Result<Pending, StoreError> {
        let e = self.encode_large(f, opts, key, in_batch, &mut |n| obs.bytes(n))?;
        match self.finish_one(e, key, fingerprints, in_batch, PathTags::None)? {
            Finished::Record(p) => Ok(*p),
            Finished::Already(a) => Err(StoreError::Internal(format!(
                "{} was taken as already recorded where no path tag is looked up",
                a.path
            ))),
        }
    }

    /// Encodes a large file on this thread. On an object store the file is
    /// hashed first: content already stored is not uploaded again (FORMAT.md
    /// §7.7); a local store decides after encoding, as for small files.
    fn encode_large(
        &self,
        f: &InputFile,
        opts: &IngestOptions,
        key: &[u8; 32],
        in_batch: &HashMap<Digest, (Digest, u64)>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Encoded, StoreError> {
        if !self.docs.is_local() {
            let (file, _) = crate::store::files::input::open_regular(&f.path, "a document")?;
            let (sha, len) = blobs::hash_read(file).map_err(|e| io_err(&f.path, e))?;
            if let Some(known) = self.stored_already(&dedup_tag(key, &sha), in_batch)? {
                progress(len);
                return describe(f, opts, None, Some(known), sha, len);
            }
        }
        encode_file(&self.docs, &self.recipients, f, opts, progress)
    }

    /// The blob (and its size) that already stores the content whose
    /// deduplication tag is `tag` (FORMAT.md §7.3): one of this batch, or an
    /// older one that still exists.
    fn stored_already(
        &self,
        tag: &Digest,
        in_batch: &HashMap<Digest, (Digest, u64)>,
    ) -> Result<Option<(Digest, u64)>, StoreError> {
        if let Some(&(b, len)) = in_batch.get(tag) {
            return Ok(Some((b, len)));
        }
        self.reusable_blob(tag)
    }

    /// The stored blob of the content whose deduplication tag is `tag`, if
    /// it still exists and is encrypted to exactly the recipients in force
    /// (FORMAT.md §7.3: after a change of recipients, content is stored
    /// again, so that a removed recipient cannot read a new record's blob).
    pub(crate) fn reusable_blob(&self, tag: &Digest) -> Result<Option<(Digest, u64)>, StoreError> {
        let Some(b) = self.db.dedup(tag)? else {
            return Ok(None);
        };
        let fps = crypto::fingerprints(&self.recipients);
        let mut same = false;
        for i in self
            .db
            .records_with(&b, crate::store::files::db::DigestKind::Blob)?
        {
            if let Some(d) = self.record(i)?.document() {
                if d.blob == b {
                    same = d.recipients == fps;
                    break;
                }
            }
        }
        if !same {
            return Ok(None);
        }
        Ok(self.docs.size(&b)?.map(|len| (b, len)))
    }

    /// Decides, in input order, whether the content is already stored
    /// (deduplication, FORMAT.md §7.3) and makes the record body.
    fn finish_one(
        &self,
        e: Encoded,
        key: &[u8; 32],
        fingerprints: &[Digest],
        in_batch: &HashMap<Digest, (Digest, u64)>,
        tags: PathTags,
    ) -> Result<Finished, StoreError> {
        let Encoded {
            rel,
            sealed,
            known,
            sha256,
            len,
            commitment,
            meta,
        } = e;
        let ptag = match tags {
            PathTags::None => None,
            PathTags::Ingest { again } => {
                let t = path_tag(key, &rel, &sha256);
                if let (false, Some(b)) = (again, self.db.dedup(&t)?) {
                    // Already recorded: the encrypted file is dropped unpublished.
                    drop(sealed);
                    return Ok(Finished::Already(AlreadyRecorded {
                        record: self.first_record_of(&b)?,
                        path: rel,
                        size: len,
                        sha256,
                    }));
                }
                Some(t)
            }
        };
        let mut blobs = Vec::with_capacity(2);
        let tag = dedup_tag(key, &sha256);
        // A blob of this batch is published with the batch; an older one must exist.
        let existing = match known {
            Some(k) => Some(k),
            None => self.stored_already(&tag, in_batch)?,
        };
        let (blob, blob_size, deduplicated, dedup) = match (existing, sealed) {
            (Some((b, len)), sealed) => {
                drop(sealed);
                (b, len, true, None)
            }
            (None, Some(sealed)) => {
                let (d, l) = (sealed.digest, sealed.len);
                blobs.push(sealed);
                (d, l, false, Some((tag, d)))
            }
            (None, None) => {
                return Err(StoreError::Internal(format!(
                    "the stored content of {rel} disappeared during the ingest"
                )))
            }
        };
        let body = self.new_record(Payload::Ingest(Ingest {
            blob,
            blob_size,
            commitment,
            meta: Digest([0; 32]),
            meta_size: 0,
            recipients: fingerprints.to_vec(),
        }));
        let time_ms = body.time_ms;
        Ok(Finished::Record(Box::new(Pending {
            path_tag: ptag.map(|t| (t, blob)),
            body,
            blobs,
            meta,
            done: Ingested {
                index: 0,
                path: rel,
                size: len,
                sha256,
                blob,
                deduplicated,
                leaf_hash: Digest([0; 32]),
                time: time::rfc3339(time_ms),
            },
            dedup,
        })))
    }

    /// The first document record that stores blob `b`.
    fn first_record_of(&self, b: &Digest) -> Result<Option<u64>, StoreError> {
        for i in self
            .db
            .records_with(b, crate::store::files::db::DigestKind::Blob)?
        {
            if self.record(i)?.document().is_some_and(|d| d.blob == *b) {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn commit_batch(
        &mut self,
        mut pending: Vec<Pending>,
        signer: &SignerKey,
        per_document: bool,
        summary: &mut IngestSummary,
        obs: &mut dyn IngestObserver,
    ) -> Result<(), StoreError> {
        let mut sealed: Vec<SealedBlob> = pending
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.blobs))
            .collect();
        // The batch's metadata, in envelopes of about GROUP_TARGET_LEN bytes:
        // one age file (one key exchange, one inode) per group, not per document.
        let metas: Vec<Metadata> = pending.iter().map(|p| p.meta.clone()).collect();
        let groups = if per_document {
            (0..metas.len())
                .map(|k| (k..k + 1, meta::encode_envelope(&metas[k..k + 1])))
                .collect()
        } else {
            meta::group_envelopes(&metas)
        };
        for (range, plain) in groups {
            let envelope = crypto::encrypt_bytes(&self.recipients, &plain)?;
            let blob = self.blobs.put_bytes(&envelope)?;
            for p in &mut pending[range] {
                let stored = match &mut p.body.payload {
                    Payload::Ingest(i) => i,
                    Payload::Derive(d) => &mut d.stored,
                    Payload::Share(_)
                    | Payload::Receive(_)
                    | Payload::Actor(_)
                    | Payload::Access(_)
                    | Payload::Annotate(_)
                    | Payload::Approve(_)
                    | Payload::Grant(_)
                    | Payload::Audit(_)
                    | Payload::Config(_)
                    | Payload::Rekey(_)
                    | Payload::Rewrap(_)
                    | Payload::Compartment(_) => {
                        return Err(StoreError::Internal(
                            "a document record of another kind".into(),
                        ))
                    }
                };
                stored.meta = blob.digest;
                stored.meta_size = blob.len;
            }
            sealed.push(blob);
        }
        // Content tags of new blobs, and path tags of every file ingested
        // (FORMAT.md §7.3): both map to the blob the record names.
        let dedup: Vec<(usize, Digest, Digest)> = pending
            .iter()
            .enumerate()
            .flat_map(|(k, p)| {
                [p.dedup, p.path_tag]
                    .into_iter()
                    .flatten()
                    .map(move |(tag, blob)| (k, tag, blob))
            })
            .collect();
        let (bodies, mut done): (Vec<RecordBody>, Vec<Ingested>) =
            pending.into_iter().map(|p| (p.body, p.done)).unzip();
        let recs = self.commit_records(bodies, sealed, dedup, signer)?;
        for (d, rec) in done.iter_mut().zip(&recs) {
            d.index = rec.body.index;
            d.leaf_hash = rec.leaf_hash();
        }
        // Only now is the batch reported.
        for d in &done {
            summary.files += 1;
            summary.bytes += d.size;
            summary.deduplicated += d.deduplicated as u64;
            summary.first_index.get_or_insert(d.index);
        }
        obs.committed(&done);
        Ok(())
    }

    /// Ingests `file` as a document derived from `parents` (arrival indices
    /// of documents of this log) by `relation` (FORMAT.md §4.9), then signs a
    /// checkpoint.
    pub fn derive(
        &mut self,
        file: &InputFile,
        parents: &[u64],
        relation: crate::core::record::Relation,
        signer: &SignerKey,
        opts: &IngestOptions,
        obs: &mut dyn IngestObserver,
    ) -> Result<(Ingested, CheckpointInfo), StoreError> {
        self.ensure_writable()?;
        self.check_signer(signer)?;
        let mut refs = Vec::with_capacity(parents.len());
        for &p in parents {
            let intro = self.document_of(self.record(p)?)?;
            let commitment = *intro
                .commitment()
                .ok_or_else(|| StoreError::Internal("a document without commitment".into()))?;
            refs.push(crate::core::record::DocRef {
                document: intro.body.index,
                commitment,
            });
        }
        refs.sort_by_key(|r| r.document);
        refs.dedup_by_key(|r| r.document);
        if refs.is_empty() || refs.len() > crate::core::record::MAX_PARENTS {
            return Err(StoreError::Input(format!(
                "a derived document needs 1 to {} parents",
                crate::core::record::MAX_PARENTS
            )));
        }
        let key = self.dedup_key(signer)?;
        let fingerprints = crypto::fingerprints(&self.recipients);
        obs.file_started(file);
        let mut p = self.ingest_one(file, opts, &key, &fingerprints, &HashMap::new(), obs)?;
        let Payload::Ingest(stored) = p.body.payload else {
            return Err(StoreError::Internal("ingest made another kind".into()));
        };
        p.body.payload = Payload::Derive(crate::core::record::Derive {
            stored,
            relation,
            parents: refs,
        });
        let mut summary = IngestSummary::default();
        let mut done = Vec::new();
        struct Keep<'a>(&'a mut Vec<Ingested>);
        impl IngestObserver for Keep<'_> {
            fn committed(&mut self, d: &[Ingested]) {
                self.0.extend_from_slice(d);
            }
        }
        self.commit_batch(vec![p], signer, false, &mut summary, &mut Keep(&mut done))?;
        let cp = self.sign_checkpoint(signer)?;
        let d = done
            .pop()
            .ok_or_else(|| StoreError::Internal("nothing committed".into()))?;
        obs.committed(std::slice::from_ref(&d));
        Ok((d, cp))
    }
}
