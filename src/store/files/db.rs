//! The only module that names sled: trees, one transaction per batch, flush.
//!
//! sled holds only what can be rebuilt from the append-only files (FORMAT.md
//! §7.2.4): the record count, digest lookups, the deduplication index, a copy
//! of every checkpoint and the stored witness cosignatures (§11.3). Record
//! locations and Merkle nodes live in the flat files of
//! [`crate::store::files::flat_index`], which the lock-free reader can open without sled.
//! `reindex` rebuilds both from the files.

use std::path::Path;

use crate::core::hash::Digest;
use crate::store::StoreError;

/// Version of the sled layout below; stored under `meta/"layout"`. Layout 1
/// (before the flat files) also held record locations and Merkle nodes;
/// `reindex` rebuilds such a database as layout 2.
pub const DB_LAYOUT: u64 = 2;

const K_LAYOUT: &[u8] = b"layout";
const K_SIZE: &[u8] = b"size";
const K_RECORDS_LEN: &[u8] = b"records_len";
const K_CHECKPOINTS_LEN: &[u8] = b"checkpoints_len";
const K_COSIGNATURES_LEN: &[u8] = b"cosignatures_len";
const K_DEDUP_LEN: &[u8] = b"dedup_len";
/// Records below this size had every signature and role checked by a
/// writer's pre-write check (FORMAT.md §4.14); an optimisation only.
const K_SIGNATURES_CHECKED: &[u8] = b"signatures_checked";

/// sled's page cache for ordinary use.
pub const CACHE_BYTES: u64 = 64 << 20;
/// sled's page cache for a pass that reads every record's entries once
/// (`verify`): a larger one only fills with pages that are not read again.
pub const SCAN_CACHE_BYTES: u64 = 8 << 20;

/// The fixed digest under which the database lists `actor` records (FORMAT.md §7.2).
pub fn actor_index_tag() -> Digest {
    Digest::of(crate::core::domain_tags::ACTOR_INDEX)
}

/// What a digest in the lookup tree names (FORMAT.md §7.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestKind {
    /// The ciphertext blob of a document.
    Blob = 1,
    /// The encrypted metadata envelope.
    Meta = 2,
    /// The RFC 6962 leaf hash of a record.
    Leaf = 3,
    /// The content commitment of the document a record is about (FORMAT.md §7.2.4).
    Commitment = 4,
    /// The leaf hash of the other log's `share` record a `receive` came with.
    Received = 5,
    /// A fixed tag under which every `actor` record is listed (FORMAT.md §7.2.4).
    Actor = 6,
    /// A parent's commitment, listing the `derive` records made from it.
    Parent = 7,
    /// A blob a `rekey` record replaced, listing that record (FORMAT.md §4.17).
    Rekeyed = 8,
}

impl DigestKind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(DigestKind::Blob),
            2 => Some(DigestKind::Meta),
            3 => Some(DigestKind::Leaf),
            4 => Some(DigestKind::Commitment),
            5 => Some(DigestKind::Received),
            6 => Some(DigestKind::Actor),
            7 => Some(DigestKind::Parent),
            8 => Some(DigestKind::Rekeyed),
            _ => None,
        }
    }
}

/// Everything one batch of appended records changes in the index: `records`
/// and `nodes` go to the flat files ([`crate::store::files::flat_index::FlatIndex::append`],
/// fsynced first), the rest to sled in one transaction ([`Db::commit`]).
#[derive(Default)]
pub struct Batch {
    /// (index, file offset, length) of each new record.
    pub records: Vec<(u64, u64, u32)>,
    /// New Merkle nodes (level, index, hash): exactly those the new records complete.
    pub nodes: Vec<(u8, u64, Digest)>,
    /// New digest lookups.
    pub digests: Vec<(Digest, u64, DigestKind)>,
    /// New deduplication entries (keyed tag -> blob address).
    pub dedup: Vec<(Digest, Digest)>,
    /// Length of `ledger/dedup` covered after the batch, if the batch wrote to
    /// it (FORMAT.md §7.3.1).
    pub dedup_len: Option<u64>,
    /// Tree size after the batch.
    pub size: u64,
    /// Length of the record file covered after the batch.
    pub records_len: u64,
}

/// The archive's sled database.
pub struct Db {
    db: sled::Db,
    /// The database directory (names the flush in fault-injection traces).
    path: std::path::PathBuf,
    meta: sled::Tree,
    digests: sled::Tree,
    dedup: sled::Tree,
    cps: sled::Tree,
    cosigs: sled::Tree,
}

fn db_err(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { .. } => StoreError::DatabaseCorrupt(e.to_string()),
        sled::Error::Unsupported(s) => StoreError::DatabaseCorrupt(s),
        sled::Error::ReportableBug(s) => StoreError::DatabaseCorrupt(s),
        other => StoreError::Database(other.to_string()),
    }
}

/// sled's flush: a durable point (fault injection, src/store/files/fault.rs).
fn flush_sled(db: &sled::Db, path: &Path) -> Result<(), StoreError> {
    crate::store::files::fault::before_sync(path).map_err(|e| db_err(sled::Error::Io(e)))?;
    db.flush().map_err(db_err)?;
    Ok(())
}

fn tx_err(e: sled::transaction::TransactionError<()>) -> StoreError {
    match e {
        sled::transaction::TransactionError::Storage(s) => db_err(s),
        sled::transaction::TransactionError::Abort(()) => {
            StoreError::Database("transaction aborted".into())
        }
    }
}

fn u64_of(v: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::DatabaseCorrupt("bad integer value".into()))
}

/// `cosignatures` key: u64 tree size || u32 key ID || key name.
fn cosig_key(size: u64, key_id: [u8; 4], name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + name.len());
    k.extend_from_slice(&size.to_be_bytes());
    k.extend_from_slice(&key_id);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Removes the snapshot files sled left half-written (`snap.*.generating`):
/// sled writes a snapshot under that name and renames it when complete, so
/// such a file is only ever the leftover of a process killed (or a disk
/// filled) while writing one, and sled refuses to open beside it (FORMAT.md
/// §7.2.5). Called under the archive lock, before sled opens.
fn clean_snapshot_leftovers(path: &Path) -> Result<(), StoreError> {
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(crate::store::io_err(path, e)),
    };
    let mut removed = false;
    for e in entries {
        let e = e.map_err(|err| crate::store::io_err(path, err))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(e.path()).map_err(|err| crate::store::io_err(&e.path(), err))?;
            removed = true;
        }
    }
    if removed {
        crate::store::files::blobs::sync_dir(path)?;
    }
    Ok(())
}

/// Opens sled in `path`; a panic inside sled (a damaged database) is caught
/// and reported as corruption.
fn open_sled(path: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    clean_snapshot_leftovers(path)?;
    let cfg = sled::Config::new()
        .path(path)
        .mode(sled::Mode::LowSpace)
        .cache_capacity(cache_bytes)
        .flush_every_ms(None);
    // sled locks its file with flock(2). A database this process opened and
    // dropped a moment ago (an index rebuild reopens it) can still be held
    // by sled's background threads finishing their work; under the archive
    // lock no other process can hold it, so the lock is waited for, briefly.
    let started = std::time::Instant::now();
    loop {
        match quietly(|| cfg.open()) {
            // sled reports it as ErrorKind::Other with this text (config.rs).
            Some(Err(sled::Error::Io(e)))
                if e.to_string().starts_with("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Some(r) => return r.map_err(db_err),
            None => {
                return Err(StoreError::DatabaseCorrupt(
                    "the database panicked while opening".into(),
                ))
            }
        }
    }
}

/// How long [`open_sled`] waits for sled's own file lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `f`, catching a panic (sled panics on some damaged databases)
/// without printing it.
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r.ok()
}

impl Db {
    /// Opens (or creates) the database in `path`. sled's own errors are mapped;
    /// a panic inside sled while opening a damaged database is caught and
    /// reported as corruption rather than crashing the process.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        Self::open_with_cache(path, CACHE_BYTES)
    }

    /// [`Db::open`] with a page cache of `cache_bytes` (sled's estimate).
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Db, StoreError> {
        let db = open_sled(path, cache_bytes)?;
        let t = |n: &str| db.open_tree(n).map_err(db_err);
        // The layout first, so an older database is refused before anything
        // in it changes.
        let meta = t("meta")?;
        match meta.get(K_LAYOUT).map_err(db_err)? {
            None => {
                meta.insert(K_LAYOUT, &DB_LAYOUT.to_be_bytes())
                    .map_err(db_err)?;
                flush_sled(&db, path)?;
            }
            Some(v) if u64_of(&v)? == DB_LAYOUT => {}
            Some(v) if u64_of(&v)? < DB_LAYOUT => {
                return Err(StoreError::OldDatabaseLayout {
                    found: u64_of(&v)?,
                    supported: DB_LAYOUT,
                })
            }
            Some(v) => {
                return Err(StoreError::DatabaseCorrupt(format!(
                    "unknown database layout {}",
                    u64_of(&v)?
                )))
            }
        }
        Ok(Db {
            meta,
            digests: t("digests")?,
            dedup: t("dedup")?,
            cps: t("checkpoints")?,
            cosigs: t("cosignatures")?,
            db,
            path: path.to_path_buf(),
        })
    }

    /// The deduplication index of an earlier database in `path` (layout 1 or
    /// this one), if it opens and indexes exactly `size` records and
    /// `records_len` bytes of `ledger/records`: what `reindex` keeps, since it
    /// cannot be rebuilt without the log key (FORMAT.md §7.3). `None` when
    /// the database does not open or indexes something else.
    pub fn previous_dedup(
        path: &Path,
        size: u64,
        records_len: u64,
    ) -> Option<Vec<(Digest, Digest)>> {
        let db = open_sled(path, SCAN_CACHE_BYTES).ok()?;
        quietly(|| Self::read_dedup(&db, size, records_len)).flatten()
    }

    /// The latest checkpoint note of the database in `path` (one being
    /// replaced by a rebuild), if it opens and has one: the floor a rebuilt
    /// ledger may not fall below (FORMAT.md §7.2.6).
    pub fn previous_latest_checkpoint(path: &Path) -> Option<Vec<u8>> {
        if !path.is_dir() {
            return None;
        }
        let db = open_sled(path, SCAN_CACHE_BYTES).ok()?;
        quietly(|| {
            let (_, v) = db.open_tree("checkpoints").ok()?.last().ok()??;
            Some(v.to_vec())
        })
        .flatten()
    }

    fn read_dedup(db: &sled::Db, size: u64, records_len: u64) -> Option<Vec<(Digest, Digest)>> {
        let meta = db.open_tree("meta").ok()?;
        let get = |k: &[u8]| -> Option<u64> {
            match meta.get(k).ok()? {
                None => Some(0),
                Some(v) => u64_of(&v).ok(),
            }
        };
        let layout = get(K_LAYOUT)?;
        if !(1..=DB_LAYOUT).contains(&layout)
            || get(K_SIZE)? != size
            || get(K_RECORDS_LEN)? != records_len
        {
            return None;
        }
        let mut out = Vec::new();
        for kv in db.open_tree("dedup").ok()?.iter() {
            let (k, v) = kv.ok()?;
            out.push((Digest::from_slice(&k)?, Digest::from_slice(&v)?));
        }
        Some(out)
    }

    /// Adds deduplication entries (tag -> blob address); flushes.
    pub fn put_dedup(&self, entries: &[(Digest, Digest)]) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (tag, blob) in entries {
            b.insert(tag.as_bytes(), blob.as_bytes());
        }
        self.dedup.apply_batch(b).map_err(db_err)?;
        self.flush()
    }

    /// The size below which a writer's check found every signature and role
    /// valid (0 if never, or after `reindex`).
    pub fn signatures_checked(&self) -> Result<u64, StoreError> {
        self.meta_u64(K_SIGNATURES_CHECKED)
    }

    /// Records that size; not flushed on its own (the writer's next commit
    /// flushes it; losing it costs one full check).
    pub fn set_signatures_checked(&self, size: u64) -> Result<(), StoreError> {
        self.meta
            .insert(K_SIGNATURES_CHECKED, &size.to_be_bytes())
            .map_err(db_err)?;
        Ok(())
    }

    /// Bytes of `ledger/dedup` indexed (FORMAT.md §7.3.1).
    pub fn dedup_len(&self) -> Result<u64, StoreError> {
        self.meta_u64(K_DEDUP_LEN)
    }

    /// Indexes deduplication entries read back from `ledger/dedup` and the
    /// length of that file now covered, in one transaction; flushes.
    pub fn put_dedup_from_log(
        &self,
        entries: &[(Digest, Digest)],
        file_len: u64,
    ) -> Result<(), StoreError> {
        use sled::Transactional;
        (&self.meta, &self.dedup)
            .transaction(|(m, x)| {
                for (tag, blob) in entries {
                    x.insert(tag.as_bytes(), blob.as_bytes())?;
                }
                m.insert(K_DEDUP_LEN, &file_len.to_be_bytes())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        self.flush()
    }

    /// Empties the index for a rebuild in place (FORMAT.md §7.2.5): every
    /// tree but the layout, and the deduplication entries unless `keep_dedup`
    /// (an archive whose `ledger/dedup` is empty cannot rebuild them); flushes.
    pub fn clear_index(&self, keep_dedup: bool) -> Result<(), StoreError> {
        for t in [&self.digests, &self.cps, &self.cosigs] {
            t.clear().map_err(db_err)?;
        }
        if !keep_dedup {
            self.dedup.clear().map_err(db_err)?;
        }
        for k in [
            K_SIZE,
            K_RECORDS_LEN,
            K_CHECKPOINTS_LEN,
            K_COSIGNATURES_LEN,
            K_DEDUP_LEN,
            K_SIGNATURES_CHECKED,
        ] {
            self.meta.remove(k).map_err(db_err)?;
        }
        self.flush()
    }

    /// fsyncs everything sled has buffered.
    pub fn flush(&self) -> Result<(), StoreError> {
        flush_sled(&self.db, &self.path)
    }

    fn meta_u64(&self, k: &[u8]) -> Result<u64, StoreError> {
        match self.meta.get(k).map_err(db_err)? {
            None => Ok(0),
            Some(v) => u64_of(&v),
        }
    }

    /// Number of records indexed.
    pub fn size(&self) -> Result<u64, StoreError> {
        self.meta_u64(K_SIZE)
    }

    /// Bytes of the record file that are indexed.
    pub fn records_len(&self) -> Result<u64, StoreError> {
        self.meta_u64(K_RECORDS_LEN)
    }

    /// Bytes of the checkpoint file that are indexed.
    pub fn checkpoints_len(&self) -> Result<u64, StoreError> {
        self.meta_u64(K_CHECKPOINTS_LEN)
    }

    /// Applies the database's part of a batch (digests, dedup, size, record
    /// file length) in one transaction, then flushes (fsync) before
    /// returning. The flat files must already hold `records` and `nodes`.
    pub fn commit(&self, b: &Batch) -> Result<(), StoreError> {
        let mut digests = sled::Batch::default();
        for (d, i, k) in &b.digests {
            let mut key = [0u8; 40];
            key[..32].copy_from_slice(d.as_bytes());
            key[32..].copy_from_slice(&i.to_be_bytes());
            digests.insert(&key[..], &[*k as u8]);
        }
        let mut dedup = sled::Batch::default();
        for (tag, blob) in &b.dedup {
            dedup.insert(tag.as_bytes(), blob.as_bytes());
        }
        let mut meta = sled::Batch::default();
        meta.insert(K_SIZE, &b.size.to_be_bytes());
        meta.insert(K_RECORDS_LEN, &b.records_len.to_be_bytes());
        if let Some(l) = b.dedup_len {
            meta.insert(K_DEDUP_LEN, &l.to_be_bytes());
        }
        use sled::Transactional;
        (&self.meta, &self.digests, &self.dedup)
            .transaction(|(m, d, x)| {
                d.apply_batch(&digests)?;
                x.apply_batch(&dedup)?;
                m.apply_batch(&meta)?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        self.flush()
    }

    /// Records a checkpoint (its signed note) and the new checkpoint-file length; flushes.
    pub fn put_checkpoint(&self, size: u64, note: &[u8], file_len: u64) -> Result<(), StoreError> {
        use sled::Transactional;
        (&self.meta, &self.cps)
            .transaction(|(m, c)| {
                c.insert(&size.to_be_bytes(), note)?;
                m.insert(K_CHECKPOINTS_LEN, &file_len.to_be_bytes())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        self.flush()
    }

    /// The signed checkpoint note stored for tree size `size`.
    pub fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .cps
            .get(size.to_be_bytes())
            .map_err(db_err)?
            .map(|v| v.to_vec()))
    }

    /// The checkpoint with the largest tree size, with that size.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self.cps.last().map_err(db_err)? {
            None => Ok(None),
            Some((k, v)) => Ok(Some((u64_of(&k)?, v.to_vec()))),
        }
    }

    /// All checkpoints, by ascending tree size.
    pub fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.cps.iter() {
            let (k, v) = kv.map_err(db_err)?;
            out.push((u64_of(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    /// Bytes of `ledger/cosignatures` that are indexed.
    pub fn cosignatures_len(&self) -> Result<u64, StoreError> {
        self.meta_u64(K_COSIGNATURES_LEN)
    }

    /// Is a cosignature by (`name`, `key_id`) stored for the checkpoint at `size`?
    pub fn has_cosignature(
        &self,
        size: u64,
        key_id: [u8; 4],
        name: &str,
    ) -> Result<bool, StoreError> {
        self.cosigs
            .contains_key(cosig_key(size, key_id, name))
            .map_err(db_err)
    }

    /// Indexes cosignature lines (tree size, key ID, key name, line) and the
    /// new `ledger/cosignatures` length in one transaction; flushes (FORMAT.md §11.3).
    pub fn put_cosignatures(
        &self,
        entries: &[(u64, [u8; 4], String, Vec<u8>)],
        file_len: u64,
    ) -> Result<(), StoreError> {
        use sled::Transactional;
        (&self.meta, &self.cosigs)
            .transaction(|(m, c)| {
                for (size, id, name, line) in entries {
                    c.insert(cosig_key(*size, *id, name), line.as_slice())?;
                }
                m.insert(K_COSIGNATURES_LEN, &file_len.to_be_bytes())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        self.flush()
    }

    /// The stored cosignature lines of the checkpoint at `size`.
    pub fn cosignatures(&self, size: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for kv in self.cosigs.scan_prefix(size.to_be_bytes()) {
            let (_, v) = kv.map_err(db_err)?;
            out.push(v.to_vec());
        }
        Ok(out)
    }

    /// Every stored cosignature line with its checkpoint size.
    pub fn all_cosignatures(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.cosigs.iter() {
            let (k, v) = kv.map_err(db_err)?;
            let size = k
                .get(..8)
                .ok_or_else(|| StoreError::DatabaseCorrupt("bad cosignature key".into()))
                .and_then(u64_of)?;
            out.push((size, v.to_vec()));
        }
        Ok(out)
    }

    /// Every (digest, record index, kind) whose digest starts with `prefix` bytes.
    pub fn digests_with_prefix(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(Digest, u64, DigestKind)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.digests.scan_prefix(prefix) {
            let (k, v) = kv.map_err(db_err)?;
            let bad = || StoreError::DatabaseCorrupt("bad digest lookup entry".into());
            if k.len() != 40 || v.len() != 1 {
                return Err(bad());
            }
            let d = Digest::from_slice(&k[..32]).ok_or_else(bad)?;
            let i = u64_of(&k[32..])?;
            let kind = DigestKind::from_byte(v[0]).ok_or_else(bad)?;
            out.push((d, i, kind));
            if out.len() > 10_000 {
                break;
            }
        }
        Ok(out)
    }

    /// Indices of the records indexed under exactly `digest` as `kind`, ascending.
    pub fn records_with(&self, digest: &Digest, kind: DigestKind) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for kv in self.digests.scan_prefix(digest.as_bytes()) {
            let (k, v) = kv.map_err(db_err)?;
            if k.len() != 40 || v.len() != 1 {
                return Err(StoreError::DatabaseCorrupt(
                    "bad digest lookup entry".into(),
                ));
            }
            if v[0] == kind as u8 {
                out.push(u64_of(&k[32..])?);
            }
        }
        Ok(out)
    }

    /// The blob already holding the plaintext with this keyed tag, if any.
    pub fn dedup(&self, tag: &Digest) -> Result<Option<Digest>, StoreError> {
        match self.dedup.get(tag.as_bytes()).map_err(db_err)? {
            None => Ok(None),
            Some(v) => Ok(Digest::from_slice(&v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> Digest {
        Digest([b; 32])
    }

    #[test]
    fn older_layout_is_refused_and_its_dedup_kept_only_if_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let db = Db::open(&p).unwrap();
            db.commit(&Batch {
                dedup: vec![(d(1), d(2)), (d(3), d(4))],
                size: 3,
                records_len: 100,
                ..Batch::default()
            })
            .unwrap();
            db.meta.insert(K_LAYOUT, &1u64.to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            Db::open(&p),
            Err(StoreError::OldDatabaseLayout {
                found: 1,
                supported: DB_LAYOUT
            })
        ));
        assert_eq!(
            Db::previous_dedup(&p, 3, 100),
            Some(vec![(d(1), d(2)), (d(3), d(4))])
        );
        assert_eq!(Db::previous_dedup(&p, 4, 100), None);
        assert_eq!(Db::previous_dedup(&p, 3, 99), None);
        // A database without a layout (a new one) is not an earlier one.
        assert_eq!(Db::previous_dedup(&dir.path().join("none"), 0, 0), None);
    }
}
