//! `custody publish DEST`: the archive's log as static C2SP tlog-tiles
//! (FORMAT.md §13) on a directory or an object store, through [`Remote`].
//!
//! Only ledger records (FORMAT.md §4: digests, commitments, fingerprints,
//! signatures, never names or plaintext digests, §5) and Merkle hashes are
//! written, with the signed checkpoint and its cosignatures.
//!
//! Lock-free: the log is read through a [`LogView`] bounded by
//! `ledger/checkpoint`, so an ingest may run meanwhile; what it appends
//! beyond that checkpoint is not read. Every object is written whole
//! (a directory's through temp file, fsync, rename and directory fsync; an
//! object store's PUT is atomic) and the `checkpoint` object last, so a
//! reader that starts from `checkpoint` always finds every tile it implies.
//! Publishing is incremental: the `checkpoint` already at DEST says which
//! tiles are there; only tiles the new size adds (new full tiles, wider
//! partial tiles) are written, and the partial tiles they replace are removed
//! after the new `checkpoint`.

use std::path::Path;

use serde::Serialize;

use crate::core::hash::Digest;
use crate::core::merkle::{self, NodeSource, TreeSize};
use crate::core::tiles::{self, TileId, TileKind};
use crate::store::archive::log_view::LogView;
use crate::store::archive::RECORDS_FILE;
use crate::store::files::flat_index::FlatIndex;
use crate::store::files::latest_checkpoint::{open_latest, MAX_CHECKPOINT_FILE};
use crate::store::files::logfile::LogFile;
use crate::store::files::merkle_nodes::tree_err;
use crate::store::files::parallel;
use crate::store::files::remote::{Remote, RemoteFailure};
use crate::store::StoreError;

/// The object name of the checkpoint (tlog-tiles).
pub const CHECKPOINT: &str = "checkpoint";

/// What a publish did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    pub destination: String,
    pub origin: String,
    /// Size of the checkpoint published.
    pub size: u64,
    /// Size of the checkpoint DEST held before, if any.
    pub previous_size: Option<u64>,
    /// Hash tiles and entry bundles written.
    pub hash_tiles_written: u64,
    pub bundles_written: u64,
    pub bytes_written: u64,
    /// With `--recheck`: objects already there and found correct, and those
    /// found missing or different and rewritten.
    pub rechecked: u64,
    pub repaired: u64,
    /// Partial tiles removed because wider ones replace them.
    pub partials_removed: u64,
    /// Was the `checkpoint` object (re)written?
    pub checkpoint_written: bool,
    /// A larger checkpoint of this log appeared at DEST while this publish
    /// ran (another publish): it was left in place.
    pub superseded: bool,
}

/// Publishes the archive at `root` to `dest`. `recheck` re-reads every
/// object the checkpoint implies and rewrites the ones that differ.
/// `progress` is called with the number of objects handled.
pub fn publish(
    root: &Path,
    dest: &Remote,
    recheck: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<PublishReport, StoreError> {
    let p = Publishing::open(root, dest, recheck)?;
    let mut rep = PublishReport {
        destination: dest.label().to_string(),
        origin: p.origin.clone(),
        size: p.size,
        ..PublishReport::default()
    };
    let previous = p.held_checkpoint()?;
    rep.previous_size = previous.as_ref().map(|p| p.0);
    let old = previous.as_ref().map_or(0, |p| p.0);
    p.write_tiles(old, &mut rep, progress)?;
    if p.write_checkpoint(previous.as_ref(), &mut rep)? {
        p.remove_partials(old, &mut rep)?;
    }
    Ok(rep)
}

/// One publish: the archive's log as of its latest checkpoint, and DEST.
struct Publishing<'a> {
    dest: &'a Remote,
    view: LogView,
    origin: String,
    /// The size of the latest checkpoint, the one published.
    size: u64,
    flat: FlatIndex,
    records: LogFile,
    recheck: bool,
}

impl<'a> Publishing<'a> {
    /// Opens the log of the archive at `root`, bounded by its latest
    /// checkpoint, to publish it to `dest`.
    fn open(root: &Path, dest: &'a Remote, recheck: bool) -> Result<Publishing<'a>, StoreError> {
        let view = LogView::open(root)?;
        let size = view.latest().size;
        let origin = view.log_key().name().to_string();
        let flat = FlatIndex::open_read(view.ledger_dir(), size)?;
        let records = LogFile::open_read(&view.ledger_dir().join(RECORDS_FILE))?;
        Ok(Publishing {
            dest,
            view,
            origin,
            size,
            flat,
            records,
            recheck,
        })
    }

    /// What DEST holds: a checkpoint of this log no newer than ours, whose
    /// root our tree has at its size (its size and bytes); another is refused.
    fn held_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let dest = self.dest;
        let Some(bytes) = dest.get(CHECKPOINT, MAX_CHECKPOINT_FILE)? else {
            return Ok(None);
        };
        let held = open_latest(bytes.clone(), self.view.log_key(), &self.origin).map_err(|why| {
            StoreError::Input(format!(
                "{}/{CHECKPOINT} is not a checkpoint of this log ({why}); publish to another destination",
                dest.label()
            ))
        })?;
        if held.size > self.size {
            return Err(StoreError::Input(format!(
                "{} holds a checkpoint at size {} but this archive's latest is at size {}; was the archive restored from an older copy?",
                dest.label(),
                held.size,
                self.size
            )));
        }
        let ours = merkle::root(&self.flat, TreeSize(held.size)).map_err(tree_err)?;
        if ours != held.root {
            return Err(StoreError::Input(format!(
                "{} holds a checkpoint at size {} whose root is not this archive's at that size; it is another history of the log, publish to another destination",
                dest.label(),
                held.size
            )));
        }
        Ok(Some((held.size, bytes)))
    }

    /// Writes every tile and bundle the size adds to `old` (with
    /// `--recheck`, every one of the size), several objects in flight.
    fn write_tiles(
        &self,
        old: u64,
        rep: &mut PublishReport,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), StoreError> {
        parallel::for_each(
            tiles::new_tiles_iter(if self.recheck { 0 } else { old }, self.size),
            progress,
            |id| self.write_one(old, id),
            |w| {
                match w {
                    Wrote::Checked => rep.rechecked += 1,
                    Wrote::Put {
                        kind,
                        bytes,
                        repaired,
                    } => {
                        rep.bytes_written += bytes;
                        rep.repaired += u64::from(repaired);
                        match kind {
                            TileKind::Hash(_) => rep.hash_tiles_written += 1,
                            TileKind::Entries => rep.bundles_written += 1,
                        }
                    }
                }
                true
            },
        )
    }

    /// Writes tile or bundle `id`; with `--recheck`, only if DEST does not
    /// hold it byte for byte (a repair if it is part of size `old`).
    fn write_one(&self, old: u64, id: TileId) -> Result<Wrote, StoreError> {
        let bytes = match id.kind {
            TileKind::Hash(_) => tiles::build_hash_tile(&self.flat, id).map_err(tree_err)?,
            TileKind::Entries => bundle_bytes(&self.flat, &self.records, id)?,
        };
        let path = id.path();
        let mut repaired = false;
        if self.recheck {
            let held = match self.dest.get(&path, bytes.len() as u64) {
                Ok(b) => b,
                // Longer than it may be: rewritten below.
                Err(StoreError::Remote(e)) if e.failure == RemoteFailure::TooLarge => None,
                Err(e) => return Err(e),
            };
            if held.as_deref() == Some(&bytes[..]) {
                return Ok(Wrote::Checked);
            }
            repaired = tiles::tile_at(old, id.kind, id.index) == Some(id);
        }
        let n = bytes.len() as u64;
        self.dest.put(&path, bytes)?;
        Ok(Wrote::Put {
            kind: id.kind,
            bytes: n,
            repaired,
        })
    }

    /// FORMAT.md §13.4: the checkpoint last. Another publish may have
    /// finished meanwhile: a larger checkpoint of this log found there now is
    /// kept (and the partial tiles it may still name with it), and `false`
    /// returned (superseded).
    fn write_checkpoint(
        &self,
        previous: Option<&(u64, Vec<u8>)>,
        rep: &mut PublishReport,
    ) -> Result<bool, StoreError> {
        let now = self
            .dest
            .get(CHECKPOINT, MAX_CHECKPOINT_FILE)?
            .and_then(|b| open_latest(b, self.view.log_key(), &self.origin).ok());
        if now.as_ref().is_some_and(|n| n.size > self.size) {
            rep.superseded = true;
            return Ok(false);
        }
        let cosigned = &self.view.latest().cosigned;
        let same = previous.is_some_and(|(s, b)| *s == self.size && b == cosigned);
        if !same {
            self.dest.put(CHECKPOINT, cosigned.clone())?;
            rep.checkpoint_written = true;
            rep.bytes_written += cosigned.len() as u64;
        }
        Ok(true)
    }

    /// Removes the partial tiles of size `old` that wider or full ones
    /// replace.
    fn remove_partials(&self, old: u64, rep: &mut PublishReport) -> Result<(), StoreError> {
        if old < self.size {
            for id in tiles::partial_tiles(old) {
                if tiles::tile_at(self.size, id.kind, id.index) != Some(id) {
                    self.dest.delete(&id.path())?;
                    rep.partials_removed += 1;
                }
            }
        }
        Ok(())
    }
}

/// What publishing one object did.
enum Wrote {
    /// `--recheck`: already there, byte for byte.
    Checked,
    Put {
        kind: TileKind,
        bytes: u64,
        /// It was part of the published size but missing or different.
        repaired: bool,
    },
}

/// Entry bundle `id` from `ledger/records` (FORMAT.md §13.3): each record's
/// bytes, checked against its leaf hash in `ledger/tree` so that the bundles
/// and the hash tiles published never disagree.
fn bundle_bytes(flat: &FlatIndex, records: &LogFile, id: TileId) -> Result<Vec<u8>, StoreError> {
    let mut entries = Vec::with_capacity(usize::from(id.width));
    for i in id.first()..id.first() + u64::from(id.width) {
        let (off, len) = flat.location(i)?;
        let rec = records.read_at(off, len)?;
        let leaf: Digest = merkle::leaf_hash(&rec);
        if flat.node(0, i)? != leaf {
            return Err(StoreError::IndexDamaged(format!(
                "record {i} does not hash to its leaf in ledger/tree; run `custody verify`"
            )));
        }
        entries.push(rec);
    }
    tiles::encode_bundle(&entries).map_err(|e| StoreError::Corrupt(e.to_string()))
}
