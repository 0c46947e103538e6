//! `ledger/checkpoint` (FORMAT.md §7.2.3), the archive's side: rewriting it
//! after each new checkpoint and cosignature, repairing it on open, and
//! reporting a mismatch to `verify`. Reading and checking it without an
//! archive open is [`crate::store::files::latest_checkpoint`].

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::core::checkpoint::SignedCheckpoint;
use crate::store::archive::{Archive, LEDGER_DIR};
use crate::store::files::latest_checkpoint::{note_part, CHECKPOINT_FILE, MAX_CHECKPOINT_FILE};
use crate::store::files::outfile::write_durable;
use crate::store::{io_err, StoreError};

impl Archive {
    fn checkpoint_file_path(&self) -> PathBuf {
        self.root().join(LEDGER_DIR).join(CHECKPOINT_FILE)
    }

    /// What `ledger/checkpoint` must hold: the latest checkpoint with its
    /// stored cosignatures, if the archive has a checkpoint.
    fn expected_checkpoint_file(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.latest_cosigned_checkpoint()?.map(|(_, b)| b))
    }

    fn read_checkpoint_file(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let p = self.checkpoint_file_path();
        match fs::metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&p, e)),
            Ok(m) if m.len() > MAX_CHECKPOINT_FILE => return Ok(Some(Vec::new())),
            Ok(_) => {}
        }
        fs::read(&p).map(Some).map_err(|e| io_err(&p, e))
    }

    /// Replaces `ledger/checkpoint` with the latest checkpoint and its
    /// cosignatures, atomically and durably (after the checkpoint or the
    /// cosignatures are committed to `ledger/` and the database).
    pub(crate) fn write_checkpoint_file(&self) -> Result<(), StoreError> {
        match self.expected_checkpoint_file()? {
            Some(bytes) => write_durable(&self.checkpoint_file_path(), &bytes, None),
            None => Ok(()),
        }
    }

    /// On open: rewrites `ledger/checkpoint` if it is missing or holds an
    /// earlier state (a crash after a checkpoint or cosignature was committed
    /// but before the file was replaced): a stored checkpoint with some of
    /// its stored cosignatures.
    ///
    /// Any other content (a damaged or edited file) is rewritten too, since
    /// the file is derived from `ledger/checkpoints` and the database: the
    /// reason is returned for the command's note (FORMAT.md §7.2.5).
    pub(crate) fn repair_checkpoint_file(&self) -> Result<Option<String>, StoreError> {
        let Some(want) = self.expected_checkpoint_file()? else {
            return Ok(None);
        };
        let have = self.read_checkpoint_file()?;
        let (stale, damaged) = match &have {
            None => (true, false),
            Some(h) if *h == want => (false, false),
            Some(h) if self.is_earlier_state(h)? => (true, false),
            Some(_) => (true, true),
        };
        if stale {
            write_durable(&self.checkpoint_file_path(), &want, None)?;
        }
        Ok(damaged.then(|| {
            "ledger/checkpoint was not the latest checkpoint with its stored cosignatures"
                .to_string()
        }))
    }

    /// Is `bytes` a stored checkpoint followed by some of its stored
    /// cosignature lines?
    fn is_earlier_state(&self, bytes: &[u8]) -> Result<bool, StoreError> {
        let (Some(note), Ok(whole)) = (note_part(bytes), SignedCheckpoint::parse(bytes)) else {
            return Ok(false);
        };
        let size = whole.checkpoint().size;
        if self.db().checkpoint(size)?.as_deref() != Some(note) {
            return Ok(false);
        }
        let stored = self.db().cosignatures(size)?;
        Ok(whole.note().signatures()[1..].iter().all(|s| {
            let line = s.to_line();
            stored
                .iter()
                .any(|l| l.as_slice() == line.trim_end_matches('\n').as_bytes())
        }))
    }

    /// For `verify`: why `ledger/checkpoint` is not the latest checkpoint
    /// with its stored cosignatures, if it is not.
    pub(crate) fn checkpoint_file_mismatch(&self) -> Result<Option<String>, StoreError> {
        let want = self.expected_checkpoint_file()?;
        let have = self.read_checkpoint_file()?;
        Ok(match (want, have) {
            (None, None) => None,
            (Some(_), None) => Some("ledger/checkpoint is missing".into()),
            (None, Some(_)) => {
                Some("ledger/checkpoint exists but the archive has no checkpoint".into())
            }
            (Some(w), Some(h)) if w == h => None,
            (Some(_), Some(_)) => Some(
                "ledger/checkpoint is not the latest checkpoint with its stored cosignatures"
                    .into(),
            ),
        })
    }
}
