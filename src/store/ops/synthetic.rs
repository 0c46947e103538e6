//! Synthetic ledgers for benchmarks (BENCHMARKS.md, "Verify at 10^6 records"):
//! many really-signed `access` records (FORMAT.md §4.8) about the documents
//! already in an archive, appended through the normal store path.
//!
//! `access` records name no blob, so a ledger of 10^6 of them costs signing,
//! appending and indexing only; `custody verify` must accept the result with
//! no finding.

use crate::core::keys::SignerKey;
use crate::core::record::{Access, DocRef, Payload};
use crate::store::archive::Archive;
use crate::store::StoreError;

/// How to append a synthetic ledger.
#[derive(Clone, Debug)]
pub struct SyntheticOptions {
    /// Records to append.
    pub records: u64,
    /// Records per commit (one record-file fsync, one sled transaction).
    pub batch: usize,
    /// Sign a checkpoint every this many records (and always at the end).
    pub checkpoint_every: u64,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            records: 1_000_000,
            batch: 20_000,
            checkpoint_every: 100_000,
        }
    }
}

impl Archive {
    /// The documents of this log (ingest, receive and derive records), as references.
    pub fn document_refs(&self) -> Result<Vec<DocRef>, StoreError> {
        let mut out = Vec::new();
        for i in 0..self.size()? {
            let r = self.record(i)?;
            if let (Some(_), Some(c)) = (r.document(), r.commitment()) {
                out.push(DocRef {
                    document: i,
                    commitment: *c,
                });
            }
        }
        Ok(out)
    }

    /// Appends `opts.records` `access` records, signed by the current actor, about
    /// the archive's documents in turn; `progress` gets the count after each
    /// durable batch. Needs at least one document.
    pub fn append_synthetic(
        &mut self,
        opts: &SyntheticOptions,
        log: &SignerKey,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), StoreError> {
        self.check_signer(log)?;
        let docs = self.document_refs()?;
        if docs.is_empty() {
            return Err(StoreError::Input(
                "the archive holds no document to record accesses to; ingest one first".into(),
            ));
        }
        let batch = opts.batch.max(1) as u64;
        let every = opts.checkpoint_every.max(1);
        let mut done = 0u64;
        let mut since_checkpoint = 0u64;
        while done < opts.records {
            let n = batch.min(opts.records - done);
            let bodies = (done..done + n)
                .map(|k| {
                    self.new_record(Payload::Access(Access {
                        about: docs[(k % docs.len() as u64) as usize],
                        reason: format!("synthetic access {k} (benchmark ledger)"),
                        sealed: None,
                    }))
                })
                .collect();
            self.commit_records(bodies, Vec::new(), Vec::new(), log)?;
            done += n;
            since_checkpoint += n;
            if since_checkpoint >= every {
                self.sign_checkpoint(log)?;
                since_checkpoint = 0;
            }
            progress(done);
        }
        self.sign_checkpoint(log)?;
        Ok(())
    }
}
