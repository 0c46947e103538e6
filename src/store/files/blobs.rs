//! Content-addressed ciphertext files: write to a temp file, fsync, rename, fsync the directory.
//!
//! Layout (FORMAT.md §7.1): `blobs/<first two hex digits>/<64 hex digits>`, the
//! name being the SHA-256 of the file's bytes (age ciphertext). The 256 shard
//! directories are created at init so that committing a blob only needs an fsync
//! of its shard directory. Temporary files live in `blobs/tmp/` and hold only
//! ciphertext; leftovers of a crash are removed when a writer opens the archive.
//!
//! Document blobs may instead live on an object store ([`Blobs`], FORMAT.md
//! §7.7): the same names under `s3://bucket/prefix/`, uploaded to
//! `incoming/<random>` as a streaming multipart upload and renamed (server-side
//! copy) to their address before any record names them. Metadata envelopes
//! and notes always stay in the local `blobs/`.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

use sha2::{Digest as _, Sha256};

use crate::core::hash::Digest;
use crate::store::files::remote::{Remote, RemoteWriter};
use crate::store::{files::fault, io_err, mark_output, StoreError};

/// The blob directory of an archive.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
}

/// Writes of a large blob start the disk's writeback early, every this many bytes,
/// on a helper thread, so that the final fsync has little left to do. 16 MiB
/// was faster than 64 MiB for a 1 GiB ingest, and than no early sync at all
/// (BENCHMARKS.md, "Where the time goes").
const EARLY_SYNC_EVERY: u64 = 16 << 20;
/// Uploads renamed to their addresses at once ([`BlobStore::publish_all`]).
const PUBLISH_THREADS: usize = 16;
/// From this many files or directories on, one `syncfs(2)` is cheaper than one
/// `fsync(2)` each (Linux only; elsewhere each is fsynced).
const SYNCFS_MIN: usize = 8;

/// A blob being written: hashes what passes through, owns its temp file (or
/// its upload). Dropped without [`BlobStore::seal`] ([`Blobs::seal`]), the temp
/// file is removed (the upload aborted).
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    /// On an object store: the upload to `incoming/<random>` and its name.
    upload: Option<(RemoteWriter, String, Arc<Remote>)>,
    hasher: Sha256,
    len: u64,
    next_sync: u64,
    early: Option<EarlySync>,
}

/// A helper thread that fdatasyncs a clone of the blob's file descriptor when kicked.
struct EarlySync {
    tx: mpsc::SyncSender<()>,
    handle: std::thread::JoinHandle<io::Result<()>>,
}

impl EarlySync {
    fn start(f: &File, path: &Path) -> io::Result<EarlySync> {
        let f = f.try_clone()?;
        let path = path.to_path_buf();
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let handle = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                fault::sync_data(&f, &path)?;
            }
            Ok(())
        });
        Ok(EarlySync { tx, handle })
    }

    fn kick(&self) {
        // A kick while a sync is running coalesces with it.
        let _ = self.tx.try_send(());
    }

    fn finish(self) -> io::Result<()> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("early-sync thread panicked")))
    }
}

impl BlobWriter {
    /// Hashes the first `n` bytes of `bufs` (what the file just accepted) and
    /// starts the disk's writeback early for large blobs.
    fn wrote(&mut self, bufs: &[IoSlice<'_>], n: usize) -> io::Result<()> {
        let mut left = n;
        for b in bufs {
            let k = left.min(b.len());
            self.hasher.update(&b[..k]);
            left -= k;
            if left == 0 {
                break;
            }
        }
        self.len += n as u64;
        if self.len >= self.next_sync {
            self.next_sync = self.len + EARLY_SYNC_EVERY;
            if self.early.is_none() {
                if let Some(f) = &self.file {
                    self.early = Some(EarlySync::start(f, &self.tmp)?);
                }
            }
            if let Some(e) = &self.early {
                e.kick();
            }
        }
        Ok(())
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already closed"))
    }

    /// Hashes and counts what went to an upload (no early sync there).
    fn uploaded(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        let mut n = 0;
        for b in bufs {
            self.hasher.update(&b[..]);
            n += b.len();
        }
        self.len += n as u64;
        n
    }
}

impl BlobWriter {
    /// One durable write, a fault-injection point (src/store/files/fault.rs): `Ok`
    /// to go ahead; an injected error, after writing the first half of
    /// `first` if the write is to be torn.
    fn write_point(&mut self, first: &[u8]) -> io::Result<()> {
        match fault::before_write(&self.tmp)? {
            fault::WriteFate::Whole => Ok(()),
            fault::WriteFate::Torn => {
                let half = &first[..first.len() / 2];
                self.file()?.write_all(half)?;
                Err(fault::eio())
            }
        }
    }
}

/// Every byte written is hashed (the blob's address) as the file accepts it.
/// Errors are marked as the output's (`mark_output`): a copy from an input
/// file into the blob store names the blob store when the disk fails, not the input.
impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some((up, _, _)) = &mut self.upload {
            // An upload's errors carry their RemoteError (RemoteError::from_io).
            up.write_all(buf)?;
            return Ok(self.uploaded(&[IoSlice::new(buf)]));
        }
        (|| {
            self.write_point(buf)?;
            let n = self.file()?.write(buf)?;
            self.wrote(&[IoSlice::new(buf)], n)?;
            Ok(n)
        })()
        .map_err(mark_output)
    }
    /// One `writev(2)`: the encryptor hands over several sealed chunks at once.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let Some((up, _, _)) = &mut self.upload {
            for b in bufs {
                up.write_all(b)?;
            }
            return Ok(self.uploaded(bufs));
        }
        (|| {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            self.write_point(first)?;
            let n = self.file()?.write_vectored(bufs)?;
            self.wrote(bufs, n)?;
            Ok(n)
        })()
        .map_err(mark_output)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(e) = self.early.take() {
            let _ = e.finish();
        }
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A complete blob with its address, still in `blobs/tmp/` (not visible). It
/// must be made durable ([`BlobStore::seal`] with `durable`, or
/// [`BlobStore::sync_sealed`]) before [`BlobStore::publish`] accepts it; dropped
/// unpublished, its temp file is removed. A blob for an object store is a
/// complete object under `incoming/` (durable once the upload completed);
/// dropped unpublished, that object is deleted.
pub struct SealedBlob {
    tmp: PathBuf,
    incoming: Option<(String, Arc<Remote>)>,
    pub digest: Digest,
    pub len: u64,
    durable: bool,
    published: bool,
}

impl Drop for SealedBlob {
    fn drop(&mut self) {
        if !self.published {
            match &self.incoming {
                Some((name, remote)) => {
                    let _ = remote.delete(name);
                }
                None => {
                    let _ = fs::remove_file(&self.tmp);
                }
            }
        }
    }
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

    /// Removes temp files left by an interrupted writer (caller holds the
    /// archive lock), and makes again any of the 256 shard directories that
    /// a copy dropped (tools such as git keep no empty directory).
    pub fn clean_tmp(&self) -> Result<usize, StoreError> {
        for i in 0..=255u8 {
            let d = self.dir.join(format!("{i:02x}"));
            if !d.is_dir() {
                match fs::create_dir(&d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(&d, e)),
                }
            }
        }
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
            upload: None,
            hasher: Sha256::new(),
            len: 0,
            next_sync: EARLY_SYNC_EVERY,
            early: None,
        })
    }

    /// Closes the temp file and computes its address; nothing is visible yet.
    /// With `durable`, the file is fsynced now (large blobs); otherwise the caller
    /// makes a whole batch durable at once with [`BlobStore::sync_sealed`].
    pub fn seal(&self, mut w: BlobWriter, durable: bool) -> Result<SealedBlob, StoreError> {
        if let Some(e) = w.early.take() {
            e.finish().map_err(|e| io_err(&w.tmp, e))?;
        }
        let file = w
            .file
            .take()
            .ok_or_else(|| StoreError::Internal("blob sealed twice".into()))?;
        let sealed = SealedBlob {
            tmp: std::mem::take(&mut w.tmp),
            incoming: None,
            digest: Digest(std::mem::take(&mut w.hasher).finalize().into()),
            len: w.len,
            durable: false,
            published: false,
        };
        let mut sealed = sealed;
        if durable {
            fault::sync_all(&file, &sealed.tmp).map_err(|e| io_err(&sealed.tmp, e))?;
            sealed.durable = true;
        }
        Ok(sealed)
    }

    /// Makes the contents of sealed blobs durable: one `syncfs(2)` for many, one
    /// `fsync(2)` each for a few.
    pub fn sync_sealed(&self, blobs: &mut [&mut SealedBlob]) -> Result<(), StoreError> {
        let todo: Vec<&mut &mut SealedBlob> = blobs.iter_mut().filter(|b| !b.durable).collect();
        if todo.is_empty() {
            return Ok(());
        }
        let whole_fs = todo.len() >= SYNCFS_MIN && self.syncfs()?;
        if !whole_fs {
            for b in &todo {
                File::open(&b.tmp)
                    .and_then(|f| fault::sync_all(&f, &b.tmp))
                    .map_err(|e| io_err(&b.tmp, e))?;
            }
        }
        for b in todo {
            b.durable = true;
        }
        Ok(())
    }

    /// `syncfs(2)` on the blob store's file system; false where it is unavailable.
    fn syncfs(&self) -> Result<bool, StoreError> {
        #[cfg(target_os = "linux")]
        {
            let d = File::open(&self.dir).map_err(|e| io_err(&self.dir, e))?;
            fault::before_sync(&self.dir).map_err(|e| io_err(&self.dir, e))?;
            rustix::fs::syncfs(&d).map_err(|e| io_err(&self.dir, e.into()))?;
            Ok(true)
        }
        #[cfg(not(target_os = "linux"))]
        Ok(false)
    }

    /// Renames a durable sealed blob to its address. Returns the shard directory,
    /// which must be fsynced ([`BlobStore::sync_shards`]) before the blob is referenced.
    pub fn publish(&self, mut s: SealedBlob) -> Result<PathBuf, StoreError> {
        if let Some((name, remote)) = &s.incoming {
            publish_object(remote, name, &s.digest)?;
            s.published = true;
            return Ok(self.dir.clone());
        }
        if !s.durable {
            return Err(StoreError::Internal(
                "a blob was published before it was durable".into(),
            ));
        }
        let dest = self.path(&s.digest);
        let shard = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone());
        if dest.exists() {
            // Same ciphertext already stored: keep the existing file.
            let _ = fs::remove_file(&s.tmp);
        } else {
            fault::rename(&s.tmp, &dest).map_err(|e| io_err(&dest, e))?;
        }
        s.published = true;
        Ok(shard)
    }

    /// Publishes a batch of sealed blobs and makes them durable at their
    /// addresses before returning (FORMAT.md §7.1). For many small blobs: rename
    /// each into place, then one `syncfs(2)`, which makes their contents and the
    /// renames durable together. A crash before that sync can leave a blob at its
    /// address whose contents were not all written; no record names it yet (records
    /// are appended only after this returns), so it is an unreferenced blob, which
    /// `verify` reports. For a few blobs: `fsync` each, rename, `fsync` the shards.
    pub fn publish_all(&self, sealed: Vec<SealedBlob>) -> Result<(), StoreError> {
        // Uploaded blobs first: renamed to their address on the object store
        // (FORMAT.md §7.7), also before any record names them.
        let (objects, mut sealed): (Vec<SealedBlob>, Vec<SealedBlob>) =
            sealed.into_iter().partition(|b| b.incoming.is_some());
        self.publish_objects(objects)?;
        if sealed.is_empty() {
            return Ok(());
        }
        let many =
            cfg!(target_os = "linux") && sealed.iter().filter(|b| !b.durable).count() >= SYNCFS_MIN;
        if many {
            for b in &mut sealed {
                b.durable = true; // by the syncfs below, before anything names it
            }
            for b in sealed {
                self.publish(b)?;
            }
            if !self.syncfs()? {
                return Err(StoreError::Internal("syncfs is unavailable".into()));
            }
            return Ok(());
        }
        self.sync_sealed(&mut sealed.iter_mut().collect::<Vec<_>>())?;
        let mut shards = BTreeSet::new();
        for b in sealed {
            shards.insert(self.publish(b)?);
        }
        self.sync_shards(&shards)
    }

    /// Renames uploads to their addresses, several at a time (each is a few
    /// round trips: HEAD, copy, DELETE); returns after all are done.
    fn publish_objects(&self, objects: Vec<SealedBlob>) -> Result<(), StoreError> {
        if objects.len() <= 1 {
            return objects
                .into_iter()
                .try_for_each(|b| self.publish(b).map(drop));
        }
        let per = objects.len().div_ceil(PUBLISH_THREADS);
        let mut parts: Vec<Vec<SealedBlob>> = Vec::new();
        let mut it = objects.into_iter().peekable();
        while it.peek().is_some() {
            parts.push(it.by_ref().take(per).collect());
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    s.spawn(move || part.into_iter().try_for_each(|b| self.publish(b).map(drop)))
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Internal("a publishing thread panicked".into()))
                })
            })
        })
    }

    /// Writes a whole small blob into a sealed (not yet durable) temp file.
    pub fn put_bytes(&self, data: &[u8]) -> Result<SealedBlob, StoreError> {
        let mut w = self.begin()?;
        w.write_all(data)
            .map_err(|e| io_err(&self.dir, crate::store::unmarked(e)))?;
        self.seal(w, false)
    }

    /// fsyncs each shard directory once (or the whole file system once for many).
    pub fn sync_shards(&self, shards: &BTreeSet<PathBuf>) -> Result<(), StoreError> {
        if shards.len() >= SYNCFS_MIN && self.syncfs()? {
            return Ok(());
        }
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

/// The name of a blob on an object store, relative to the store's prefix:
/// `<h[0..2]>/<h>` as under the local `blobs/` (FORMAT.md §7.7).
pub fn object_name(d: &Digest) -> String {
    let h = d.to_hex();
    format!("{}/{h}", &h[..2])
}

/// Where uploads in progress are kept on an object store (FORMAT.md §7.7).
pub const INCOMING: &str = "incoming";

/// The digest an object name is the address of, if it is one.
pub fn parse_object_name(name: &str) -> Option<Digest> {
    let (shard, h) = name.split_once('/')?;
    Digest::from_hex(h).filter(|d| d.to_hex() == h && h[..2] == *shard)
}

/// Renames the complete upload `incoming` to the address `d`, or deletes it
/// when an object is already there (the same ciphertext; FORMAT.md §7.7).
fn publish_object(remote: &Remote, incoming: &str, d: &Digest) -> Result<(), StoreError> {
    let name = object_name(d);
    if remote.head(&name)?.is_some() {
        remote.delete(incoming)
    } else {
        remote.rename(incoming, &name)
    }
}

/// One object of a blob store as listed: its name (relative to `blobs/` or
/// to the store's prefix), the address it is named by if any, and its size.
#[derive(Clone, Debug)]
pub struct Listed {
    pub name: String,
    pub digest: Option<Digest>,
    pub len: u64,
}

/// Where an archive keeps its document blobs (FORMAT.md §7.7): the local
/// `blobs/` directory (the default) or an object store (`[blobs] url` in
/// `custody.toml`). Both hold the same age files under the same names.
#[derive(Clone)]
pub enum Blobs {
    Local(BlobStore),
    Object(Arc<Remote>),
}

impl Blobs {
    /// Where the blobs are, for messages (`blobs/` or `s3://bucket/prefix`).
    pub fn label(&self) -> String {
        match self {
            Blobs::Local(b) => b.dir().display().to_string(),
            Blobs::Object(r) => r.label().to_string(),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Blobs::Local(_))
    }

    /// Starts a new blob: a temp file in `blobs/tmp/`, or a streaming
    /// multipart upload to `incoming/<random>` on an object store.
    pub fn begin(&self) -> Result<BlobWriter, StoreError> {
        match self {
            Blobs::Local(b) => b.begin(),
            Blobs::Object(r) => {
                let mut rnd = [0u8; 16];
                getrandom::fill(&mut rnd).map_err(|e| StoreError::Internal(e.to_string()))?;
                let name = format!("{INCOMING}/{}", hex::encode(rnd));
                let up = r.writer(&name)?;
                Ok(BlobWriter {
                    file: None,
                    tmp: PathBuf::new(),
                    upload: Some((up, name, r.clone())),
                    hasher: Sha256::new(),
                    len: 0,
                    next_sync: u64::MAX,
                    early: None,
                })
            }
        }
    }

    /// Completes a blob ([`BlobStore::seal`]); on an object store, completes
    /// the upload, so the blob is durable under `incoming/`, not yet at its address.
    pub fn seal(&self, mut w: BlobWriter, durable: bool) -> Result<SealedBlob, StoreError> {
        match w.upload.take() {
            None => match self {
                Blobs::Local(b) => b.seal(w, durable),
                Blobs::Object(_) => Err(StoreError::Internal(
                    "a local blob sealed into an object store".into(),
                )),
            },
            Some((up, name, remote)) => {
                up.finish()?;
                Ok(SealedBlob {
                    tmp: PathBuf::new(),
                    incoming: Some((name, remote)),
                    digest: Digest(std::mem::take(&mut w.hasher).finalize().into()),
                    len: w.len,
                    durable: true,
                    published: false,
                })
            }
        }
    }

    /// The size of the blob at address `d`, `None` if there is none.
    pub fn size(&self, d: &Digest) -> Result<Option<u64>, StoreError> {
        match self {
            Blobs::Local(b) => {
                let p = b.path(d);
                match fs::metadata(&p) {
                    Ok(m) if m.is_file() => Ok(Some(m.len())),
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io_err(&p, e)),
                }
            }
            Blobs::Object(r) => r.head(&object_name(d)),
        }
    }

    pub fn exists(&self, d: &Digest) -> Result<bool, StoreError> {
        Ok(self.size(d)?.is_some())
    }

    /// A streaming reader of the blob at address `d` (an error if it is missing).
    pub fn open(&self, d: &Digest) -> Result<Box<dyn io::Read + Send>, StoreError> {
        match self {
            Blobs::Local(b) => {
                let p = b.path(d);
                Ok(Box::new(File::open(&p).map_err(|e| io_err(&p, e))?))
            }
            Blobs::Object(r) => match r.reader(&object_name(d))? {
                Some(rd) => Ok(Box::new(rd)),
                None => Err(StoreError::Corrupt(format!(
                    "blob {d} is missing from {}",
                    r.label()
                ))),
            },
        }
    }

    /// Every object of the store, sorted by name: on an object store also
    /// what `incoming/` holds (never named by a digest).
    pub fn list(&self) -> Result<Vec<Listed>, StoreError> {
        match self {
            Blobs::Local(b) => Ok(b
                .list()?
                .into_iter()
                .map(|(p, digest, len)| {
                    let name = p
                        .strip_prefix(b.dir())
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned();
                    Listed { name, digest, len }
                })
                .collect()),
            Blobs::Object(r) => {
                // On a directory, also what a killed upload left under incoming/.
                let temps = r.list_temps(INCOMING)?;
                let mut all: Vec<Listed> = r
                    .list("")?
                    .into_iter()
                    .chain(temps)
                    .map(|(name, len)| Listed {
                        digest: parse_object_name(&name),
                        name,
                        len,
                    })
                    .collect();
                all.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(all)
            }
        }
    }

    /// Removes the object `name` as [`Blobs::list`] gave it.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        crate::store::files::remote::check_rel(name)?;
        match self {
            Blobs::Local(b) => {
                let p = b.dir().join(name);
                match fs::remove_file(&p) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io_err(&p, e)),
                }
            }
            Blobs::Object(r) => r.delete(name),
        }
    }
}

pub use crate::store::files::fault::sync_dir;

/// SHA-256 and length of a file, streamed.
pub fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    hash_read(File::open(path)?)
}

/// SHA-256 and length of everything `f` yields, streamed.
pub fn hash_read(mut f: impl io::Read) -> io::Result<(Digest, u64)> {
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
    use crate::store::files::remote::{Location, S3Settings};
    use std::io::Read;

    #[test]
    fn object_names_are_the_local_names() {
        let d = Digest::of(b"x");
        let h = d.to_hex();
        assert_eq!(object_name(&d), format!("{}/{h}", &h[..2]));
        assert_eq!(parse_object_name(&object_name(&d)), Some(d));
        for bad in [
            format!("{}/{h}", "00"),
            format!("incoming/{h}"),
            h.clone(),
            format!("{}/{}", &h[..2], h.to_uppercase()),
            format!("{}/{h}/x", &h[..2]),
        ] {
            assert_eq!(parse_object_name(&bad), None, "{bad}");
        }
    }

    #[test]
    fn uploads_go_to_incoming_then_to_their_address() {
        let d = tempfile::tempdir().unwrap();
        let local = BlobStore::create(&d.path().join("blobs")).unwrap();
        let remote = Remote::open(
            &Location::Dir(d.path().join("store")),
            &S3Settings::default(),
        )
        .unwrap();
        let store = Blobs::Object(Arc::new(remote));
        let mut w = store.begin().unwrap();
        w.write_all(b"ciphertext").unwrap();
        let sealed = store.seal(w, false).unwrap();
        let digest = sealed.digest;
        assert_eq!(digest, Digest::of(b"ciphertext"));
        let names: Vec<String> = store.list().unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with("incoming/"), "{names:?}");
        // Published (with local blobs, in one call): renamed to its address.
        let env = local.put_bytes(b"envelope").unwrap();
        local.publish_all(vec![sealed, env]).unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].digest, Some(digest));
        assert_eq!(store.size(&digest).unwrap(), Some(10));
        let mut back = Vec::new();
        store.open(&digest).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, b"ciphertext");
        assert!(local.exists(&Digest::of(b"envelope")));
        assert!(!local.exists(&digest));
        // Dropped before publishing: the upload is deleted; dropped while
        // writing: nothing is left.
        let mut w = store.begin().unwrap();
        w.write_all(b"other").unwrap();
        drop(store.seal(w, false).unwrap());
        let mut w = store.begin().unwrap();
        w.write_all(b"cut short").unwrap();
        drop(w);
        assert_eq!(store.list().unwrap().len(), 1);
        // A writer killed mid-way leaves a temporary file: listed, removable.
        let left = d.path().join("store/incoming/.0123.4567.tmp");
        std::fs::write(&left, b"cut").unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].name, "incoming/.0123.4567.tmp");
        assert_eq!(listed[1].digest, None);
        store.remove(&listed[1].name).unwrap();
        assert!(!left.exists());
        store.remove(&object_name(&digest)).unwrap();
        assert!(!store.exists(&digest).unwrap());
        assert!(store.open(&digest).is_err());
    }

    #[test]
    fn write_seal_publish_list_and_clean() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::create(&d.path().join("blobs")).unwrap();
        let mut sealed = store.put_bytes(b"ciphertext").unwrap();
        let (digest, len) = (sealed.digest, sealed.len);
        assert!(matches!(
            store.publish(store.put_bytes(b"other").unwrap()),
            Err(StoreError::Internal(_))
        ));
        store.sync_sealed(&mut [&mut sealed]).unwrap();
        let shard = store.publish(sealed).unwrap();
        assert_eq!(digest, Digest::of(b"ciphertext"));
        assert_eq!(len, 10);
        assert_eq!(shard, store.dir().join(&digest.to_hex()[..2]));
        assert!(store.exists(&digest));
        assert_eq!(std::fs::read(store.path(&digest)).unwrap(), b"ciphertext");
        // Publishing the same bytes again keeps one file.
        let again = store.seal(store.begin().unwrap(), true).unwrap();
        drop(again);
        let mut again = store.put_bytes(b"ciphertext").unwrap();
        store.sync_sealed(&mut [&mut again]).unwrap();
        store.publish(again).unwrap();
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
