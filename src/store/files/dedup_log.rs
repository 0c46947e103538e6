//! `ledger/dedup`: the deduplication entries, kept where a crash or a
//! `reindex` cannot lose them (FORMAT.md §7.3.1).
//!
//! The tag of an entry is keyed with the log key (§7.3), so the database's
//! deduplication tree cannot be rebuilt from the records alone. Each batch's
//! entries are therefore appended and fsynced here *before* its records; the
//! database indexes them with the batch, and catches up from this file after a
//! crash, or rebuilds from it on `reindex`. An entry counts only if the record
//! it names exists and stores that blob: entries of a batch whose records never
//! reached `ledger/records` are ignored.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::core::hash::Digest;
use crate::store::{files::fault, io_err, StoreError};

/// File name in `ledger/`.
pub const DEDUP_FILE: &str = "dedup";
/// Bytes per entry: u64 record index ‖ 32-byte tag ‖ 32-byte blob address.
pub const ENTRY: u64 = 72;
/// Entries read at a time when catching up.
const CHUNK: usize = 8192;

/// One entry: the record that stored the blob, the keyed tag of its plaintext, the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    pub tag: Digest,
    pub blob: Digest,
}

/// The open file (created on first use: archives made before it have none).
pub struct DedupLog {
    path: PathBuf,
    file: File,
}

impl DedupLog {
    pub fn open(ledger: &Path) -> Result<DedupLog, StoreError> {
        let path = ledger.join(DEDUP_FILE);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        Ok(DedupLog { path, file })
    }

    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| io_err(&self.path, e))?
            .len())
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Appends entries and fsyncs; returns the new length.
    pub fn append(&mut self, entries: &[Entry]) -> Result<u64, StoreError> {
        let len = self.len()?;
        if len % ENTRY != 0 {
            // A torn entry the opener has not cut yet: never write after it.
            self.cut_torn_tail()?;
        }
        if !entries.is_empty() {
            let mut buf = Vec::with_capacity(entries.len() * ENTRY as usize);
            for e in entries {
                buf.extend_from_slice(&e.index.to_be_bytes());
                buf.extend_from_slice(e.tag.as_bytes());
                buf.extend_from_slice(e.blob.as_bytes());
            }
            fault::write_all(&mut self.file, &buf, &self.path)
                .and_then(|_| fault::sync_data(&self.file, &self.path))
                .map_err(|e| io_err(&self.path, e))?;
        }
        self.len()
    }

    /// Cuts a partial last entry (a crash mid-append); returns the new length.
    pub fn cut_torn_tail(&mut self) -> Result<u64, StoreError> {
        let len = self.len()?;
        let whole = len - len % ENTRY;
        if whole != len {
            self.file
                .set_len(whole)
                .and_then(|_| fault::sync_all(&self.file, &self.path))
                .map_err(|e| io_err(&self.path, e))?;
        }
        Ok(whole)
    }

    /// Calls `f` with the entries from byte `from` (a multiple of [`ENTRY`])
    /// to the last whole entry, a bounded chunk at a time, each with the file
    /// offset just past it.
    pub fn scan(
        &self,
        from: u64,
        mut f: impl FnMut(&[Entry], u64) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let end = self.len()? / ENTRY * ENTRY;
        if !from.is_multiple_of(ENTRY) || from > end {
            return Err(StoreError::Corrupt(format!(
                "{}: the index covers {from} bytes of a file of {end}",
                self.path.display()
            )));
        }
        let mut r = &self.file;
        r.seek(SeekFrom::Start(from))
            .map_err(|e| io_err(&self.path, e))?;
        let mut at = from;
        let mut buf = vec![0u8; CHUNK * ENTRY as usize];
        while at < end {
            let n = ((end - at) as usize).min(buf.len());
            r.read_exact(&mut buf[..n])
                .map_err(|e| io_err(&self.path, e))?;
            let entries: Vec<Entry> = buf[..n]
                .chunks_exact(ENTRY as usize)
                .map(|c| {
                    let (mut index, mut tag, mut blob) = ([0u8; 8], [0u8; 32], [0u8; 32]);
                    index.copy_from_slice(&c[..8]);
                    tag.copy_from_slice(&c[8..40]);
                    blob.copy_from_slice(&c[40..]);
                    Entry {
                        index: u64::from_be_bytes(index),
                        tag: Digest(tag),
                        blob: Digest(blob),
                    }
                })
                .collect();
            at += n as u64;
            f(&entries, at)?;
        }
        Ok(())
    }
}

/// The deduplication key of one process (FORMAT.md §7.3).
pub(crate) struct DedupKey {
    pub key: zeroize::Zeroizing<[u8; 32]>,
    /// Entries tagged with it are kept in `ledger/dedup`. `false`: no given
    /// identity opens the archive's secret, and this is a random key of this
    /// process only (it deduplicates within the run, and its entries are
    /// dropped).
    pub keep: bool,
}

/// The deduplication key of archives whose configuration seals no secret
/// (FORMAT.md §7.3): derived from the log key.
pub(crate) fn legacy_dedup_key(
    signer: &crate::core::keys::SignerKey,
) -> zeroize::Zeroizing<[u8; 32]> {
    let sig = zeroize::Zeroizing::new(signer.sign(crate::core::domain_tags::DEDUP_KEY));
    zeroize::Zeroizing::new(crate::core::hash::Digest::of(&sig[..]).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn e(i: u64) -> Entry {
        Entry {
            index: i,
            tag: Digest([i as u8; 32]),
            blob: Digest([(i + 100) as u8; 32]),
        }
    }

    #[test]
    fn append_scan_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = DedupLog::open(dir.path()).unwrap();
        assert_eq!(d.append(&[e(0), e(1)]).unwrap(), 144);
        assert_eq!(d.append(&[]).unwrap(), 144);
        assert_eq!(d.append(&[e(5)]).unwrap(), 216);
        let mut seen = Vec::new();
        d.scan(72, |c, end| {
            assert_eq!(end, 216);
            seen.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [e(1), e(5)]);
        // A torn append: cut back, and the next append starts after the whole entries.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(DEDUP_FILE))
            .unwrap()
            .write_all(&[1, 2, 3])
            .unwrap();
        assert_eq!(d.append(&[e(6)]).unwrap(), 288);
        let mut all = Vec::new();
        d.scan(0, |c, _| {
            all.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(all, [e(0), e(1), e(5), e(6)]);
        assert!(d.scan(7, |_, _| Ok(())).is_err());
        assert!(d.scan(360, |_, _| Ok(())).is_err());
    }
}
