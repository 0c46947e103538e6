//! Content-addressed ciphertext files: write to a temp file, fsync, rename, fsync the directory.
//!
//! Layout (FORMAT.md §7.1): `blobs/<first two hex digits>/<64 hex digits>`, the
//! name being the SHA-256 of the file's bytes (age ciphertext). The 256 shard
//! directories are created at init so that committing a blob only needs an fsync
//! of its shard directory. Temporary files live in `blobs/tmp/` and hold only
//! ciphertext; leftovers of a crash are removed when a writer opens the archive.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::core::hash::Digest;
use crate::store::{io_err, StoreError};

/// The blob directory of an archive.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
}

/// A blob being written: hashes what passes through, owns its temp file.
/// Dropped without [`BlobStore::commit`], the temp file is removed.
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    hasher: Sha256,
    len: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already closed"))?;
        let n = f.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A blob that is fsynced in its temp file and has its address computed.
pub struct SealedBlob {
    writer: BlobWriter,
    pub digest: Digest,
    pub len: u64,
}

impl BlobStore {
    pub fn new(dir: PathBuf) -> Self {
        BlobStore { dir }
    }

    /// Creates `blobs/`, `blobs/tmp/` and the 256 shard directories (init only).
    pub fn create(dir: &Path) -> Result<BlobStore, StoreError> {
        fs::create_dir(dir).map_err(|e| io_err(dir, e))?;
        for i in 0..=255u8 {
            let d = dir.join(format!("{i:02x}"));
            fs::create_dir(&d).map_err(|e| io_err(&d, e))?;
        }
        let tmp = dir.join("tmp");
        fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
        sync_dir(dir)?;
        Ok(BlobStore::new(dir.to_path_buf()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the blob with this address.
    pub fn path(&self, d: &Digest) -> PathBuf {
        let h = d.to_hex();
        self.dir.join(&h[..2]).join(h)
    }

    pub fn exists(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Removes temp files left by an interrupted writer (caller holds the archive lock).
    pub fn clean_tmp(&self) -> Result<usize, StoreError> {
        let tmp = self.dir.join("tmp");
        let mut n = 0;
        let rd = match fs::read_dir(&tmp) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
                return Ok(0);
            }
            Err(e) => return Err(io_err(&tmp, e)),
        };
        for e in rd {
            let e = e.map_err(|e| io_err(&tmp, e))?;
            fs::remove_file(e.path()).map_err(|err| io_err(&e.path(), err))?;
            n += 1;
        }
        Ok(n)
    }

    /// Starts a new blob in `blobs/tmp/` (created exclusively, mode 0600).
    pub fn begin(&self) -> Result<BlobWriter, StoreError> {
        let mut rnd = [0u8; 16];
        getrandom::fill(&mut rnd)
            .map_err(|e| StoreError::Io(self.dir.clone(), io::Error::other(e.to_string())))?;
        let tmp = self.dir.join("tmp").join(hex::encode(rnd));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let file = o.open(&tmp).map_err(|e| io_err(&tmp, e))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// fsyncs the temp file and computes its address; nothing is visible yet.
    pub fn seal(&self, mut w: BlobWriter) -> Result<SealedBlob, StoreError> {
        if let Some(f) = w.file.as_ref() {
            f.sync_all().map_err(|e| io_err(&w.tmp, e))?;
        }
        let digest = Digest(std::mem::take(&mut w.hasher).finalize().into());
        let len = w.len;
        Ok(SealedBlob {
            writer: w,
            digest,
            len,
        })
    }

    /// Renames a sealed blob to its address. Returns the shard directory that must
    /// be fsynced (batched by [`BlobStore::sync_shards`]) before the blob is referenced.
    pub fn publish(&self, mut s: SealedBlob) -> Result<PathBuf, StoreError> {
        let dest = self.path(&s.digest);
        let shard = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone());
        s.writer.file.take();
        if dest.exists() {
            // Same ciphertext already stored (only possible for a re-published blob).
            let _ = fs::remove_file(&s.writer.tmp);
        } else {
            fs::rename(&s.writer.tmp, &dest).map_err(|e| io_err(&dest, e))?;
        }
        Ok(shard)
    }

    /// Convenience: write a whole small blob durably except for the shard fsync.
    pub fn put_bytes(&self, data: &[u8]) -> Result<(Digest, u64, PathBuf), StoreError> {
        let mut w = self.begin()?;
        w.write_all(data).map_err(|e| io_err(&self.dir, e))?;
        let s = self.seal(w)?;
        let (d, l) = (s.digest, s.len);
        let shard = self.publish(s)?;
        Ok((d, l, shard))
    }

    /// fsyncs each shard directory once.
    pub fn sync_shards(&self, shards: &BTreeSet<PathBuf>) -> Result<(), StoreError> {
        for s in shards {
            sync_dir(s)?;
        }
        Ok(())
    }

    /// Every file in the shard directories: (file name, parsed address if it is one, size).
    pub fn list(&self) -> Result<Vec<(PathBuf, Option<Digest>, u64)>, StoreError> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let mut shards: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        shards.sort_by_key(|e| e.file_name());
        for shard in shards {
            let name = shard.file_name();
            let name = name.to_string_lossy();
            if name == "tmp" || !shard.path().is_dir() {
                continue;
            }
            let rd = fs::read_dir(shard.path()).map_err(|e| io_err(&shard.path(), e))?;
            let mut files: Vec<_> = rd.filter_map(|e| e.ok()).collect();
            files.sort_by_key(|e| e.file_name());
            for f in files {
                let fname = f.file_name().to_string_lossy().to_string();
                let d = Digest::from_hex(&fname).filter(|d| d.to_hex()[..2] == *name);
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((f.path(), d, len));
            }
        }
        Ok(out)
    }
}

/// fsyncs a directory so that renames into it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// SHA-256 and length of a file, streamed.
pub fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((Digest(h.finalize().into()), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_seal_publish_list_and_clean() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::create(&d.path().join("blobs")).unwrap();
        let (digest, len, shard) = store.put_bytes(b"ciphertext").unwrap();
        assert_eq!(digest, Digest::of(b"ciphertext"));
        assert_eq!(len, 10);
        assert_eq!(shard, store.dir().join(&digest.to_hex()[..2]));
        assert!(store.exists(&digest));
        assert_eq!(std::fs::read(store.path(&digest)).unwrap(), b"ciphertext");
        // Publishing the same bytes again keeps one file.
        store.put_bytes(b"ciphertext").unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1, Some(digest));
        // A dropped writer leaves nothing behind; a crashed one is cleaned on open.
        let mut w = store.begin().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(
            std::fs::read_dir(store.dir().join("tmp")).unwrap().count(),
            0
        );
        std::fs::write(store.dir().join("tmp/leftover"), b"x").unwrap();
        assert_eq!(store.clean_tmp().unwrap(), 1);
        // A stray file is listed without an address.
        std::fs::write(store.dir().join("ab/not-a-digest"), b"x").unwrap();
        assert!(store.list().unwrap().iter().any(|(_, d, _)| d.is_none()));
        let (h, l) = hash_file(&store.path(&digest)).unwrap();
        assert_eq!((h, l), (digest, 10));
    }
}
