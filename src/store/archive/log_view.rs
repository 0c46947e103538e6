//! A lock-free, read-only view of an archive's log (FORMAT.md §7.2.5): the
//! latest checkpoint, inclusion and consistency proofs, from `custody.toml`,
//! `ledger/checkpoint`, `ledger/checkpoints`, `ledger/records`,
//! `ledger/index` and `ledger/tree` only. It never opens the database and
//! never takes the archive's lock, so it answers in a few reads however long
//! the log, and while another process writes.
//!
//! Consistency with a concurrent writer: the writer appends records, their
//! index entries and nodes (fsynced) before it commits them, and replaces
//! `ledger/checkpoint` (atomically) only after the checkpoint is committed.
//! The view reads `ledger/checkpoint` first and bounds every other read by
//! that checkpoint's tree size, so whatever the writer is appending beyond it
//! is never read; and what lies below it never changes. Every proof is
//! checked against the checkpoint's root before it is returned.
//!
//! Anything the view cannot answer (a digest-prefix REF, an older checkpoint,
//! an archive without `ledger/checkpoint`, damaged files) is an error; the
//! CLI then takes the ordinary, locked path, which has the database.

use std::path::{Path, PathBuf};

use crate::core::checkpoint::SignedCheckpoint;
use crate::core::keys::VerifierKey;
use crate::store::archive::{
    checked_consistency_proof, parse_config_keys, read_config, read_record, ConsistencyProof,
    InclusionProof, CHECKPOINTS_FILE, LEDGER_DIR, RECORDS_FILE,
};
use crate::store::files::flat_index::FlatIndex;
use crate::store::files::latest_checkpoint::{
    open_latest, Latest, CHECKPOINT_FILE, MAX_CHECKPOINT_FILE,
};
use crate::store::files::logfile::{Frame, LogFile};
use crate::store::files::merkle_nodes::checked_inclusion_proof;
use crate::store::{io_err, StoreError};

/// The log as of the checkpoint in `ledger/checkpoint`.
pub struct LogView {
    ledger: PathBuf,
    log_key: VerifierKey,
    latest: Latest,
}

impl LogView {
    /// Reads the configuration and `ledger/checkpoint`, and checks the
    /// checkpoint's log signature and origin.
    pub fn open(root: &Path) -> Result<LogView, StoreError> {
        let config = read_config(root)?;
        let (log_key, _) = parse_config_keys(root, &config)?;
        let ledger = root.join(LEDGER_DIR);
        let p = ledger.join(CHECKPOINT_FILE);
        let len = std::fs::metadata(&p).map_err(|e| io_err(&p, e))?.len();
        if len > MAX_CHECKPOINT_FILE {
            return Err(StoreError::IndexDamaged(format!(
                "{} is {len} bytes",
                p.display()
            )));
        }
        let bytes = std::fs::read(&p).map_err(|e| io_err(&p, e))?;
        let latest = open_latest(bytes, &log_key, &config.origin)
            .map_err(|e| StoreError::IndexDamaged(format!("{}: {e}", p.display())))?;
        Ok(LogView {
            ledger,
            log_key,
            latest,
        })
    }

    /// The archive's `ledger/` directory.
    pub(crate) fn ledger_dir(&self) -> &Path {
        &self.ledger
    }

    /// The archive's log key (whose name is the origin).
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// The checkpoint the view is bounded by.
    pub(crate) fn latest(&self) -> &Latest {
        &self.latest
    }

    /// Tree size of the view's checkpoint.
    pub fn size(&self) -> u64 {
        self.latest.size
    }

    /// The latest checkpoint with its stored cosignatures, as
    /// [`Archive::latest_cosigned_checkpoint`](crate::store::Archive::latest_cosigned_checkpoint).
    pub fn latest_cosigned_checkpoint(&self) -> (u64, &[u8]) {
        (self.latest.size, &self.latest.cosigned)
    }

    /// Inclusion proof of record `index` against the view's checkpoint, as
    /// [`Archive::inclusion_proof`](crate::store::Archive::inclusion_proof)`(index, None)`.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof, StoreError> {
        let size = self.latest.size;
        if index >= size {
            return Err(StoreError::Input(format!(
                "record {index} is not covered by the checkpoint at size {size}"
            )));
        }
        let flat = FlatIndex::open_read(&self.ledger, size)?;
        let records = LogFile::open_read(&self.ledger.join(RECORDS_FILE))?;
        let rec = read_record(&flat, &records, index)?;
        let leaf = rec.leaf_hash();
        let proof = checked_inclusion_proof(&flat, index, size, &leaf, &self.latest.root)?;
        Ok(InclusionProof {
            index,
            size,
            record: rec.bytes().to_vec(),
            leaf_hash: leaf,
            proof,
            checkpoint: self.latest.note.clone(),
        })
    }

    /// Consistency proof from size `old` to the view's checkpoint, as
    /// [`Archive::consistency_proof`](crate::store::Archive::consistency_proof)
    /// when `new` is `None` or the view's size. The older note, if the log
    /// signed one at `old`, is read from `ledger/checkpoints`, up to the
    /// view's checkpoint.
    pub fn consistency_proof(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        let size = self.latest.size;
        if new.is_some_and(|n| n != size) || old > size {
            return Err(StoreError::Input(format!(
                "the view has only the checkpoint at size {size}"
            )));
        }
        let old_note = match self.stored_note(old) {
            Ok(n) => Some(n),
            Err(StoreError::NoCheckpoint(_)) => None,
            Err(e) => return Err(e),
        };
        let flat = FlatIndex::open_read(&self.ledger, size)?;
        checked_consistency_proof(&flat, (old, old_note), (size, self.latest.note.clone()))
    }

    /// The note of the checkpoint at `size` from `ledger/checkpoints`,
    /// reading frames only up to the view's checkpoint (a frame being
    /// appended after it is never reached).
    fn stored_note(&self, size: u64) -> Result<Vec<u8>, StoreError> {
        let lf = LogFile::open_read(&self.ledger.join(CHECKPOINTS_FILE))?;
        for f in lf.scan(0)? {
            let Frame::Complete { body, .. } = f? else {
                break;
            };
            let Ok(c) = SignedCheckpoint::parse(&body) else {
                break;
            };
            let at = c.checkpoint().size;
            if at == size {
                SignedCheckpoint::open(&body, &self.log_key, &[])
                    .map_err(|e| StoreError::Corrupt(format!("checkpoint at size {size}: {e}")))?;
                return Ok(body);
            }
            if at >= self.latest.size {
                break;
            }
        }
        Err(StoreError::NoCheckpoint(size))
    }
}
