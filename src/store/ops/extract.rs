//! Reading documents back: decrypt a record's metadata envelope (checking the
//! commitment it opens) and extract a document atomically (FORMAT.md §5, §6).

use std::fs;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::core::crypto::{self, Identities};
use crate::core::hash::Digest;
use crate::core::meta::{self, Metadata};
use crate::core::record::Record;
use crate::store::archive::Archive;
use crate::store::files::blobs;
use crate::store::files::outfile::{self, OutFile};
use crate::store::files::remote::RemoteError;
use crate::store::{files::fault, io_err, is_output_error, unmarked, OutputSide, StoreError};

/// The last metadata envelope decrypted (its address and plaintext), wiped on drop.
#[derive(Default)]
pub struct EnvelopeCache(Option<(Digest, zeroize::Zeroizing<Vec<u8>>)>);

/// Result of a successful `extract`.
#[derive(Clone, Debug, Serialize)]
pub struct Extracted {
    pub index: u64,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: Digest,
    pub original_path: String,
}

impl Archive {
    /// Decrypts a record's metadata envelope and returns the entry that opens
    /// the record's commitment (FORMAT.md §5.2).
    pub fn metadata(&self, rec: &Record, ids: &Identities) -> Result<Metadata, StoreError> {
        self.metadata_cached(rec, ids, &mut EnvelopeCache::default())
    }

    /// [`Archive::metadata`], keeping the last envelope opened in `cache`: the
    /// documents of one ingest batch share an envelope, and a pass over them
    /// (`verify --deep`) then decrypts it once, not once per document.
    pub fn metadata_cached(
        &self,
        rec: &Record,
        ids: &Identities,
        cache: &mut EnvelopeCache,
    ) -> Result<Metadata, StoreError> {
        let ing = rec.document().ok_or_else(|| {
            StoreError::Input(format!("record {} has no document", rec.body.index))
        })?;
        if cache.0.as_ref().map(|(d, _)| d) != Some(&ing.meta) {
            cache.0 = None;
            let plain = self.envelope_plaintext(ing, rec.body.index, ids)?;
            cache.0 = Some((ing.meta, plain));
        }
        let plain = cache.0.as_ref().map(|(_, p)| &p[..]).unwrap_or_default();
        meta::open_envelope(plain, &ing.commitment).map_err(|e| match e {
            meta::MetaError::NoEntry => StoreError::ContentMismatch(format!(
                "the metadata of record {} does not open its content commitment",
                rec.body.index
            )),
            // Two entries opening one commitment: which is the document's is
            // not decided by the commitment (`commitment`, FORMAT.md §5.2).
            meta::MetaError::TwoEntries => StoreError::ContentMismatch(format!(
                "two entries of the metadata of record {} open its content commitment",
                rec.body.index
            )),
            e => StoreError::Corrupt(format!("metadata of record {}: {e}", rec.body.index)),
        })
    }

    /// The plaintext of the metadata envelope that `ing` (of record `index`)
    /// names, as a rekey left it (FORMAT.md §4.17), its address checked.
    pub(crate) fn envelope_plaintext(
        &self,
        ing: &crate::core::record::Ingest,
        index: u64,
        ids: &Identities,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        let (current, _) = self.current_blob(ing.meta, ing.meta_size)?;
        let path = self.blobs.path(&current);
        let data = fs::read(&path).map_err(|e| io_err(&path, e))?;
        if Digest::of(&data) != current {
            return Err(StoreError::Corrupt(format!(
                "metadata envelope of record {index} does not match its digest"
            )));
        }
        crypto::decrypt_bytes(ids, &data, meta::MAX_META_LEN).map_err(|e| StoreError::Decrypt {
            what: format!("the metadata of record {index}"),
            source: e,
        })
    }

    /// Refuses an extract target before anything is recorded or decrypted, and
    /// returns the directory the plaintext goes to. Refused: an existing `out`
    /// (unless `force`), a symbolic link there counting as existing even when
    /// dangling; a directory; a target whose directory is inside the archive,
    /// also through symbolic links. With `force` a link at `out` is replaced,
    /// never followed (the plaintext is renamed onto the name).
    ///
    /// Without `force`, a file that appears at `out` meanwhile is not
    /// replaced either: the plaintext is linked to the name, which fails if taken.
    pub fn check_extract_target(&self, out: &Path, force: bool) -> Result<PathBuf, StoreError> {
        if out.as_os_str().is_empty() {
            return Err(StoreError::Input("the output path is empty".into()));
        }
        match fs::symlink_metadata(out) {
            Ok(m) if m.is_dir() => {
                return Err(StoreError::Input(format!(
                    "{} is a directory; give the path of the file to write",
                    out.display()
                )))
            }
            Ok(_) if !force => return Err(StoreError::OutputExists(out.to_path_buf())),
            _ => {}
        }
        if out.file_name().is_none() {
            return Err(StoreError::Input(format!(
                "{} does not end in a file name",
                out.display()
            )));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parent_abs = fs::canonicalize(&parent).map_err(|e| io_err(&parent, e))?;
        let root_abs = fs::canonicalize(&self.root).map_err(|e| io_err(&self.root, e))?;
        if parent_abs.starts_with(&root_abs) {
            return Err(StoreError::Input(format!(
                "{} is inside the archive; plaintext must never be written there",
                out.display()
            )));
        }
        Ok(parent)
    }

    /// Decrypts record `index`'s document to `out`, atomically: plaintext goes to an
    /// unnamed file in `out`'s directory, named `out` only after the
    /// ciphertext matched its address and the plaintext matched the commitment
    /// (FORMAT.md §7.8; `OutFile`).
    pub fn extract(
        &self,
        index: u64,
        ids: &Identities,
        out: &Path,
        force: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Extracted, StoreError> {
        self.check_extract_target(out, force)?;
        let rec = self.record(index)?;
        let m = self.metadata(&rec, ids)?;
        let ing = rec
            .document()
            .ok_or_else(|| StoreError::Internal("no document".into()))?;
        // Streamed from where the blob is kept: `blobs/` or the object store
        // (FORMAT.md §7.7), as a rekey left it (§4.17).
        let (blob_digest, _) = self.current_blob(ing.blob, ing.blob_size)?;
        let blob_path = PathBuf::from(self.docs.label()).join(blobs::object_name(&blob_digest));
        let blob = self.docs.open(&blob_digest)?;
        // Unnamed until complete and checked (FORMAT.md §7.8): a run killed
        // before the link leaves no file; a temporary name (replacing a file,
        // or no O_TMPFILE) is recorded in the archive and removed by the next
        // command if not by this one.
        let mut tmp = OutFile::create(out, outfile::PLAINTEXT_PREFIX, Some(&self.root))?;
        let label = tmp.label().to_path_buf();
        let mut hashing = HashingReader::new(blob);
        let (w, sha, len) = crypto::decrypt_all(
            ids,
            BufReader::with_capacity(1 << 20, &mut hashing),
            BufWriter::with_capacity(
                1 << 20,
                OutputSide(fault::Writer::new(tmp.file_mut(), &label)),
            ),
            progress,
        )
        .map_err(|e| match e {
            // Writing the output failed: that disk, not the archive.
            crypto::CryptoError::Io(io) if is_output_error(&io) => io_err(&label, unmarked(io)),
            // Reading from the object store failed: the store, not the document.
            e => match &e {
                crypto::CryptoError::Io(io) => RemoteError::from_io(io).map(StoreError::Remote),
                _ => None,
            }
            .unwrap_or_else(|| StoreError::Decrypt {
                what: format!("the document of record {index}"),
                source: e,
            }),
        })?;
        w.into_inner()
            .map_err(|e| io_err(&label, unmarked(e.into_error())))?;
        // Drain anything after the final chunk so the ciphertext hash covers the file.
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| io_err(&blob_path, e))?;
        if hashing.digest() != blob_digest {
            return Err(StoreError::ContentMismatch(format!(
                "blob {blob_digest} of record {index} does not hash to its address"
            )));
        }
        if sha != m.sha256 || len != m.size || meta::commitment(&m.salt, &sha) != ing.commitment {
            return Err(StoreError::ContentMismatch(format!(
                "the decrypted document of record {index} does not match its commitment"
            )));
        }
        tmp.commit(force)?;
        Ok(Extracted {
            index,
            path: out.to_path_buf(),
            size: len,
            sha256: sha,
            original_path: m.path,
        })
    }
}

/// A reader that hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
        }
    }
    pub fn digest(&self) -> Digest {
        Digest(sha2::Digest::finalize(self.hasher.clone()).into())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
}
