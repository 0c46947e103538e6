//! The flat files of the index: `ledger/index`, where each record's frame
//! is (FORMAT.md §7.2.1), and `ledger/tree`, every stored Merkle node in
//! post-order (§7.2.2). Fixed-width entries, appended, read at computed offsets: a
//! lookup is one positioned read and opening costs nothing, however long the
//! log.
//!
//! Like the sled database they are derived from `ledger/records` and rebuilt
//! by `reindex`. They are written and fsynced *before* the database
//! transaction of the same batch, so they always hold at least the records
//! the database counts; entries beyond that count are leftovers of a crash
//! and are cut back on open ([`FlatIndex::reconcile`], §7.2.5). Every read is bounded
//! by a tree size (the database's, or a checkpoint's for the lock-free
//! [`LogView`](crate::store::archive::log_view::LogView)), so a reader never looks at
//! entries a concurrent writer is still appending.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::core::hash::Digest;
use crate::core::merkle;
use crate::store::files::db::Batch;
use crate::store::files::logfile::read_exact_at;
use crate::store::{io_err, StoreError};

/// `ledger/index`: record `i`'s frame offset and body length at `12·i`.
pub const INDEX_FILE: &str = "index";
/// `ledger/tree`: node `(l, i)` at `32·position(l, i)` (post-order).
pub const TREE_FILE: &str = "tree";
/// Bytes per `ledger/index` entry: u64 frame offset ‖ u32 body length.
pub const INDEX_ENTRY: u64 = 12;
/// Bytes per `ledger/tree` entry: one SHA-256 node hash.
pub const NODE_ENTRY: u64 = 32;

/// Length of `ledger/index` for a log of `size` records.
pub fn index_len(size: u64) -> Result<u64, StoreError> {
    size.checked_mul(INDEX_ENTRY)
        .ok_or_else(|| StoreError::Internal(format!("{size} records do not fit ledger/index")))
}

/// Length of `ledger/tree` for a log of `size` records.
pub fn tree_len(size: u64) -> Result<u64, StoreError> {
    u64::try_from(merkle::stored_nodes(size) * u128::from(NODE_ENTRY))
        .map_err(|_| StoreError::Internal(format!("{size} records do not fit ledger/tree")))
}

fn damaged(what: String) -> StoreError {
    StoreError::IndexDamaged(what)
}

/// The two files, and the number of records whose entries may be read.
///
/// Invariant (for an archive's own instance): both files hold at least the
/// entries of `size` records, all durable; `size` equals the database's
/// record count between batches.
pub struct FlatIndex {
    index: File,
    index_path: PathBuf,
    tree: File,
    tree_path: PathBuf,
    size: u64,
}

fn open_file(path: &Path, write: bool, create: bool) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .create(create)
        .truncate(create)
        .open(path)
        .map_err(|e| io_err(path, e))
}

impl FlatIndex {
    /// Opens `ledger/index` and `ledger/tree` of the archive's `ledger`
    /// directory for reading and writing, bounded to no record until
    /// [`FlatIndex::reconcile`] sets the bound.
    pub fn open(ledger: &Path) -> Result<FlatIndex, StoreError> {
        let (ip, tp) = (ledger.join(INDEX_FILE), ledger.join(TREE_FILE));
        for p in [&ip, &tp] {
            if !p.is_file() {
                return Err(damaged(format!("{} is missing", p.display())));
            }
        }
        Ok(FlatIndex {
            index: open_file(&ip, true, false)?,
            tree: open_file(&tp, true, false)?,
            index_path: ip,
            tree_path: tp,
            size: 0,
        })
    }

    /// Creates both files empty (truncating any) at `index_path` and
    /// `tree_path`: a new archive, or the files `reindex` builds aside.
    pub fn create(index_path: PathBuf, tree_path: PathBuf) -> Result<FlatIndex, StoreError> {
        Ok(FlatIndex {
            index: open_file(&index_path, true, true)?,
            tree: open_file(&tree_path, true, true)?,
            index_path,
            tree_path,
            size: 0,
        })
    }

    /// Opens both files read-only, bounded to the `size` records of a
    /// checkpoint (the lock-free view). Fails if they are shorter than that.
    pub fn open_read(ledger: &Path, size: u64) -> Result<FlatIndex, StoreError> {
        let (ip, tp) = (ledger.join(INDEX_FILE), ledger.join(TREE_FILE));
        let f = FlatIndex {
            index: open_file(&ip, false, false)?,
            tree: open_file(&tp, false, false)?,
            index_path: ip,
            tree_path: tp,
            size,
        };
        if let Err(reason) = f.check_covers(size)? {
            return Err(damaged(reason));
        }
        Ok(f)
    }

    /// Number of records whose entries this instance reads.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn lens(&self) -> Result<(u64, u64), StoreError> {
        let len = |f: &File, p: &Path| f.metadata().map(|m| m.len()).map_err(|e| io_err(p, e));
        Ok((
            len(&self.index, &self.index_path)?,
            len(&self.tree, &self.tree_path)?,
        ))
    }

    /// `Err(reason)` if either file is too short for `size` records.
    fn check_covers(&self, size: u64) -> Result<Result<(), String>, StoreError> {
        let (il, tl) = self.lens()?;
        let (iw, tw) = (index_len(size)?, tree_len(size)?);
        if il < iw {
            return Ok(Err(format!(
                "ledger/index holds {} record locations but {size} records are indexed",
                il / INDEX_ENTRY
            )));
        }
        if tl < tw {
            return Ok(Err(format!(
                "ledger/tree holds {} Merkle nodes but {size} records need {}",
                tl / NODE_ENTRY,
                tw / NODE_ENTRY
            )));
        }
        Ok(Ok(()))
    }

    /// Sets the bound to the database's `size` on open: cuts entries beyond
    /// it (written before a crash kept the database from committing them)
    /// and fsyncs. Files too short for `size` are damage, returned as
    /// `Err(reason)` and not touched.
    pub fn reconcile(&mut self, size: u64) -> Result<Result<(), String>, StoreError> {
        if let Err(reason) = self.check_covers(size)? {
            return Ok(Err(format!("{reason}; run `custody reindex`")));
        }
        let (il, tl) = self.lens()?;
        let (iw, tw) = (index_len(size)?, tree_len(size)?);
        for (f, p, have, want) in [
            (&self.index, &self.index_path, il, iw),
            (&self.tree, &self.tree_path, tl, tw),
        ] {
            if have > want {
                f.set_len(want)
                    .and_then(|_| crate::store::files::fault::sync_all(f, p))
                    .map_err(|e| io_err(p, e))?;
            }
        }
        self.size = size;
        Ok(Ok(()))
    }

    /// Writes the locations and nodes of `batch` (records `size..batch.size`)
    /// at their fixed offsets and fsyncs both files. The bound does not move:
    /// call [`FlatIndex::set_size`] once the database has committed the
    /// batch too. Anything beyond the bound (a batch whose database commit
    /// failed) is overwritten. FORMAT.md §7.2.5.
    pub fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        let start = self.size;
        let end = batch.size;
        let bad = |what: &str| StoreError::Internal(format!("index batch: {what}"));
        if end < start || batch.records.len() as u64 != end - start {
            return Err(bad("record count does not match the new size"));
        }
        let mut ibuf = Vec::with_capacity(batch.records.len() * INDEX_ENTRY as usize);
        for (k, (i, off, len)) in batch.records.iter().enumerate() {
            if *i != start + k as u64 {
                return Err(bad("records out of order"));
            }
            ibuf.extend_from_slice(&off.to_be_bytes());
            ibuf.extend_from_slice(&len.to_be_bytes());
        }
        let first = merkle::stored_nodes(start);
        let mut nodes: Vec<(u128, &Digest)> = Vec::with_capacity(batch.nodes.len());
        for (l, i, h) in &batch.nodes {
            let pos = merkle::node_position(*l, *i).ok_or_else(|| bad("node out of range"))?;
            nodes.push((pos, h));
        }
        nodes.sort_unstable_by_key(|(p, _)| *p);
        if nodes.len() as u128 != merkle::stored_nodes(end) - first
            || nodes
                .iter()
                .enumerate()
                .any(|(k, (p, _))| *p != first + k as u128)
        {
            return Err(bad(
                "the nodes are not exactly those the new records complete",
            ));
        }
        let mut tbuf = Vec::with_capacity(nodes.len() * NODE_ENTRY as usize);
        for (_, h) in nodes {
            tbuf.extend_from_slice(h.as_bytes());
        }
        for (f, p, at, buf) in [
            (&self.index, &self.index_path, index_len(start)?, &ibuf),
            (&self.tree, &self.tree_path, tree_len(start)?, &tbuf),
        ] {
            let write = || -> io::Result<()> {
                // A failed earlier batch may have left bytes past the bound.
                if f.metadata()?.len() != at {
                    f.set_len(at)?;
                }
                crate::store::files::fault::write_all_at(f, buf, at, p)?;
                crate::store::files::fault::sync_data(f, p)
            };
            write().map_err(|e| io_err(p, e))?;
        }
        Ok(())
    }

    /// Moves the bound to `size` records (after the database committed them).
    pub fn set_size(&mut self, size: u64) {
        self.size = size;
    }

    /// Frame offset and body length of record `index` (`index < size`).
    pub fn location(&self, index: u64) -> Result<(u64, u32), StoreError> {
        if index >= self.size {
            return Err(StoreError::NotFound(format!("record {index}")));
        }
        let mut e = [0u8; INDEX_ENTRY as usize];
        read_exact_at(&self.index, &mut e, index * INDEX_ENTRY)
            .map_err(|err| self.short_read(&self.index_path, err))?;
        let (off, len) = e.split_at(8);
        Ok((
            u64::from_be_bytes(off.try_into().expect("8 bytes")),
            u32::from_be_bytes(len.try_into().expect("4 bytes")),
        ))
    }

    fn short_read(&self, p: &Path, e: io::Error) -> StoreError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            damaged(format!(
                "{} is shorter than the {} records it must cover",
                p.display(),
                self.size
            ))
        } else {
            io_err(p, e)
        }
    }

    /// Renames both files to `ledger/index` and `ledger/tree` in `ledger`
    /// (after `reindex` built them aside) and fsyncs the directory. Open
    /// handles stay valid.
    pub fn persist_in(&mut self, ledger: &Path) -> Result<(), StoreError> {
        for (f, p) in [
            (&self.index, &self.index_path),
            (&self.tree, &self.tree_path),
        ] {
            crate::store::files::fault::sync_all(f, p).map_err(|e| io_err(p, e))?;
        }
        let (ip, tp) = (ledger.join(INDEX_FILE), ledger.join(TREE_FILE));
        crate::store::files::fault::rename(&self.index_path, &ip).map_err(|e| io_err(&ip, e))?;
        crate::store::files::fault::rename(&self.tree_path, &tp).map_err(|e| io_err(&tp, e))?;
        self.index_path = ip;
        self.tree_path = tp;
        crate::store::files::blobs::sync_dir(ledger)
    }

    /// Node `(level, index)` from `ledger/tree`, if it belongs to the
    /// first `size` records (FORMAT.md §9.4); see [`crate::store::files::merkle_nodes`].
    pub(crate) fn read_node(&self, level: u8, index: u64) -> Result<Digest, StoreError> {
        let pos = merkle::node_position(level, index)
            .filter(|p| *p < merkle::stored_nodes(self.size))
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "Merkle node (level {level}, index {index}) is not in a tree of {} records",
                    self.size
                ))
            })?;
        let mut h = [0u8; NODE_ENTRY as usize];
        // pos < stored_nodes(size), whose byte length fits in u64 (tree_len).
        read_exact_at(&self.tree, &mut h, pos as u64 * NODE_ENTRY)
            .map_err(|e| self.short_read(&self.tree_path, e))?;
        Ok(Digest(h))
    }

    /// Sequential readers of both files from their start (for `verify`).
    pub(crate) fn sequential(&self) -> Result<(Sequential, Sequential), StoreError> {
        let open = |p: &Path| -> Result<Sequential, StoreError> {
            let f = File::open(p).map_err(|e| io_err(p, e))?;
            Ok(Sequential {
                r: BufReader::with_capacity(1 << 16, f),
                path: p.to_path_buf(),
            })
        };
        Ok((open(&self.index_path)?, open(&self.tree_path)?))
    }
}

/// A buffered front-to-back reader of one of the files.
pub(crate) struct Sequential {
    r: BufReader<File>,
    path: PathBuf,
}

impl Sequential {
    /// The next `N` bytes, or `None` at (or within `N` bytes of) the end.
    fn next<const N: usize>(&mut self) -> Result<Option<[u8; N]>, StoreError> {
        let mut b = [0u8; N];
        match self.r.read_exact(&mut b) {
            Ok(()) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io_err(&self.path, e)),
        }
    }

    /// The next `ledger/index` entry.
    pub(crate) fn next_location(&mut self) -> Result<Option<(u64, u32)>, StoreError> {
        Ok(self.next::<12>()?.map(|e| {
            let (off, len) = e.split_at(8);
            (
                u64::from_be_bytes(off.try_into().expect("8 bytes")),
                u32::from_be_bytes(len.try_into().expect("4 bytes")),
            )
        }))
    }

    /// The next `ledger/tree` entry.
    pub(crate) fn next_node(&mut self) -> Result<Option<Digest>, StoreError> {
        Ok(self.next::<32>()?.map(Digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle::{MemoryTree, NodeSource, Overlay, TreeSize};

    fn batch_for(f: &FlatIndex, leaves: &[Digest]) -> Batch {
        let start = f.size();
        let mut ov = Overlay::new(f, TreeSize(start));
        let mut b = Batch::default();
        for (k, l) in leaves.iter().enumerate() {
            ov.push(*l).unwrap();
            b.records
                .push((start + k as u64, 1000 * (start + k as u64), 7));
        }
        b.nodes = ov.into_nodes();
        b.size = start + leaves.len() as u64;
        b
    }

    fn leaf(i: u64) -> Digest {
        merkle::leaf_hash(&i.to_be_bytes())
    }

    #[test]
    fn append_read_reconcile() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = FlatIndex::create(dir.path().join("index"), dir.path().join("tree")).unwrap();
        let mut mem = MemoryTree::new();
        for chunk in [1u64, 2, 5, 0, 13, 1, 40] {
            let leaves: Vec<Digest> = (f.size()..f.size() + chunk).map(leaf).collect();
            let b = batch_for(&f, &leaves);
            f.append(&b).unwrap();
            f.set_size(b.size);
            for l in leaves {
                mem.push(l);
            }
            assert_eq!(
                merkle::root(&f, TreeSize(f.size())).unwrap(),
                mem.root(),
                "size {}",
                f.size()
            );
        }
        let n = f.size();
        assert_eq!(f.location(5).unwrap(), (5000, 7));
        assert!(matches!(f.location(n), Err(StoreError::NotFound(_))));
        assert!(f.node(0, n).is_err());
        let (il, tl) = f.lens().unwrap();
        assert_eq!((il, tl), (index_len(n).unwrap(), tree_len(n).unwrap()));

        // A batch written but not committed (database failed): cut on reconcile.
        let b = batch_for(&f, &[leaf(n), leaf(n + 1)]);
        f.append(&b).unwrap();
        assert!(f.lens().unwrap().0 > il);
        let mut g = FlatIndex::open(dir.path()).unwrap();
        g.reconcile(n).unwrap().unwrap();
        assert_eq!(g.lens().unwrap(), (il, tl));
        // Too short for the database is damage, and nothing is cut.
        assert!(g.reconcile(n + 1).unwrap().is_err());
        assert_eq!(g.lens().unwrap(), (il, tl));
        // The read-only view is bounded by the size it is opened with.
        let v = FlatIndex::open_read(dir.path(), 3).unwrap();
        assert!(v.location(3).is_err());
        assert!(v.node(0, 3).is_err());
        assert_eq!(v.node(1, 0).unwrap(), mem.node(1, 0).unwrap());
        assert!(v.node(1, 1).is_err());
        assert!(matches!(
            FlatIndex::open_read(dir.path(), n + 1),
            Err(StoreError::IndexDamaged(_))
        ));
    }

    #[test]
    fn append_rejects_a_wrong_batch_and_overwrites_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = FlatIndex::create(dir.path().join("index"), dir.path().join("tree")).unwrap();
        let mut b = batch_for(&f, &[leaf(0), leaf(1), leaf(2)]);
        b.nodes.pop();
        assert!(matches!(f.append(&b), Err(StoreError::Internal(_))));
        let mut b = batch_for(&f, &[leaf(0), leaf(1), leaf(2)]);
        b.records.swap(0, 1);
        assert!(matches!(f.append(&b), Err(StoreError::Internal(_))));
        // A batch whose commit failed, then a different one at the same place.
        let b = batch_for(&f, &[leaf(9), leaf(8), leaf(7), leaf(6)]);
        f.append(&b).unwrap();
        let b = batch_for(&f, &[leaf(0)]);
        f.append(&b).unwrap();
        f.set_size(1);
        assert_eq!(f.lens().unwrap(), (12, 32));
        assert_eq!(f.node(0, 0).unwrap(), leaf(0));
    }
}
